/*
 * dev_detect: see include/dev_detect.h. The rules are ordered from the most specific marker to
 * the least: a Laravel tree also has public/index.php, a WordPress tree has index.php.
 */
#include "dev_detect.h"

#include <string.h>

void dev_detect(const struct dev_facts *f, struct dev_detection *out)
{
    static const struct dev_detection none = {DEV_STATIC, ".", NULL, NULL};
    *out = none;
    if (f->artisan)
        *out = (struct dev_detection){DEV_LARAVEL, "public", "laravel", "artisan"};
    else if (f->bin_console && f->public_index_php)
        *out = (struct dev_detection){DEV_SYMFONY, "public", "symfony", "bin/console"};
    else if (f->wp_load)
        *out = (struct dev_detection){DEV_WORDPRESS, ".", "wordpress", "wp-load.php"};
    else if (f->wp_config)
        *out = (struct dev_detection){DEV_WORDPRESS, ".", "wordpress", "wp-config.php"};
    else if (f->index_php)
        *out = (struct dev_detection){DEV_PHP, ".", "php", "index.php"};
    else if (f->public_index_php)
        *out = (struct dev_detection){DEV_PHP, "public", "php", "public/index.php"};
}

const char *dev_kind_name(enum dev_kind kind)
{
    switch (kind) {
    case DEV_LARAVEL:
        return "Laravel";
    case DEV_SYMFONY:
        return "Symfony";
    case DEV_WORDPRESS:
        return "WordPress";
    case DEV_PHP:
        return "PHP";
    case DEV_STATIC:
        break;
    }
    return "static files";
}

static bool digits(const char *s, size_t n, size_t *len)
{
    size_t i = 0;
    while (i < n && i < 4 && s[i] >= '0' && s[i] <= '9')
        i++;
    *len = i;
    return i > 0 && (i == n || s[i] < '0' || s[i] > '9');
}

int dev_php_version_parse(const char *text, size_t n, char *out, const char **why)
{
    size_t a = 0, b;
    while (a < n && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r' || text[a] == '\n'))
        a++;
    for (b = a; b < n && text[b] != '\n' && text[b] != '\r';)
        b++;
    while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t'))
        b--;
    const char *s = text + a;
    size_t len = b - a, maj, min, patch;
    if (len > 3 && memcmp(s, "php", 3) == 0) {
        s += 3;
        len -= 3;
    }
    *why = "expected a version such as 8.2";
    if (!digits(s, len, &maj) || maj >= len || s[maj] != '.' ||
        !digits(s + maj + 1, len - maj - 1, &min))
        return -1;
    size_t used = maj + 1 + min;
    if (used < len) { /* a patch level: ".N" and nothing after it */
        if (s[used] != '.' || !digits(s + used + 1, len - used - 1, &patch) ||
            used + 1 + patch != len)
            return -1;
    }
    memcpy(out, s, maj + 1 + min);
    out[maj + 1 + min] = '\0';
    return 0;
}
