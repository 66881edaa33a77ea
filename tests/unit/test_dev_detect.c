/*
 * test_dev_detect: development mode's decisions: each framework's marker, their order when a
 * tree has several, the static fallback, and the .php-version forms accepted and refused.
 */
#include "dev_detect.h"
#include "tap.h"

static void check(struct dev_facts f, const char *kind, const char *root, const char *preset,
                  const char *by, const char *name)
{
    struct dev_detection d;
    dev_detect(&f, &d);
    char got[200], want[200];
    snprintf(got, sizeof got, "%s %s %s %s", dev_kind_name(d.kind), d.root,
             d.preset ? d.preset : "-", d.decided_by ? d.decided_by : "-");
    snprintf(want, sizeof want, "%s %s %s %s", kind, root, preset, by);
    is_str(got, want, name);
}

static void version(const char *text, const char *want, const char *name)
{
    char out[16] = "";
    const char *why = NULL;
    int rc = dev_php_version_parse(text, strlen(text), out, &why);
    is_str(rc == 0 ? out : "(error)", want, name);
    if (rc != 0)
        is_str(why, "expected a version such as 8.2", "...the error says what is expected");
}

int main(void)
{
    check((struct dev_facts){.artisan = true, .public_index_php = true, .index_php = false},
          "Laravel", "public", "laravel", "artisan", "artisan: Laravel, root public/");
    check((struct dev_facts){.bin_console = true, .public_index_php = true}, "Symfony", "public",
          "symfony", "bin/console", "bin/console + public/index.php: Symfony");
    check((struct dev_facts){.bin_console = true}, "static files", ".", "-", "-",
          "bin/console without public/index.php: not Symfony");
    check((struct dev_facts){.wp_load = true, .wp_config = true, .index_php = true}, "WordPress",
          ".", "wordpress", "wp-load.php", "wp-load.php: WordPress (before index.php)");
    check((struct dev_facts){.wp_config = true}, "WordPress", ".", "wordpress", "wp-config.php",
          "wp-config.php alone: WordPress");
    check((struct dev_facts){.index_php = true}, "PHP", ".", "php", "index.php",
          "index.php: plain PHP");
    check((struct dev_facts){.public_index_php = true}, "PHP", "public", "php", "public/index.php",
          "public/index.php only: plain PHP in public/");
    check((struct dev_facts){.artisan = true, .bin_console = true, .wp_load = true}, "Laravel",
          "public", "laravel", "artisan", "artisan wins over every other marker");
    check((struct dev_facts){0}, "static files", ".", "-", "-", "nothing: static");

    version("8.2\n", "8.2", ".php-version 8.2");
    version("  8.3  \r\n# comment\n", "8.3", "blanks and CRLF around it");
    version("8.2.7", "8.2", "a patch level is dropped");
    version("php8.1", "8.1", "php8.1");
    version("10.12", "10.12", "two-digit parts");
    version("8", "(error)", "a major alone is refused");
    version("8.x", "(error)", "8.x is refused");
    version("8.2.", "(error)", "a trailing dot is refused");
    version("8.2.1.1", "(error)", "four parts are refused");
    version("8.2;rm -rf", "(error)", "anything after the version is refused");
    version("", "(error)", "an empty file is refused");
    version("../8.2", "(error)", "a path is refused");
    return done_testing();
}
