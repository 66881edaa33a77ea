/*
 * dev_detect: the decisions of development mode (`wharf` or `wharf dev` with no --root and no
 * configuration), from facts the caller gathered. Pure: no I/O; dev.c looks at the directory
 * and the PATH, this module only decides, so every rule is unit-tested on plain structs.
 *   - which application a directory holds (Laravel, Symfony, WordPress, plain PHP, static),
 *     its document root and preset, and the file that decided it (--dev-explain names it);
 *   - which php-fpm binary a `.php-version` file asks for.
 */
#ifndef WHARF_DEV_DETECT_H
#define WHARF_DEV_DETECT_H

#include <stdbool.h>
#include <stddef.h>

enum dev_kind { DEV_LARAVEL, DEV_SYMFONY, DEV_WORDPRESS, DEV_PHP, DEV_STATIC };

/* What dev.c found in the project directory: each field says whether that file exists. */
struct dev_facts {
    bool artisan;          /* artisan */
    bool bin_console;      /* bin/console */
    bool public_index_php; /* public/index.php */
    bool wp_load;          /* wp-load.php */
    bool wp_config;        /* wp-config.php */
    bool index_php;        /* index.php */
};

struct dev_detection {
    enum dev_kind kind;
    const char *root;       /* relative to the project: "." or "public" */
    const char *preset;     /* "laravel", "symfony", "wordpress", "php"; NULL = static */
    const char *decided_by; /* the file that decided ("artisan"); NULL = none matched */
};

/** The first rule that matches, in this order: artisan (laravel, public/), bin/console with
 *  public/index.php (symfony, public/), wp-load.php or wp-config.php (wordpress, .),
 *  index.php (php, .), public/index.php (php, public/), else static (browse on). */
void dev_detect(const struct dev_facts *f, struct dev_detection *out);
/** "Laravel", "Symfony", "WordPress", "PHP", "static files". */
const char *dev_kind_name(enum dev_kind kind);

/**
 * The version a `.php-version` file (text, n bytes) asks for, as MAJOR.MINOR into out (at
 * least 16 bytes): its first line, blanks around it ignored, "8.2", "8.2.7" (the patch level
 * is dropped: Debian installs one php-fpmX.Y per minor) and "php8.2" accepted. 0, or -1 with
 * *why ("expected a version such as 8.2").
 */
int dev_php_version_parse(const char *text, size_t n, char *out, const char **why);

#endif
