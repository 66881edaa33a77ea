/*
 * dir_listing: a directory index page as HTML or JSON from an array of entries. Pure: the
 * readdir() wrapper lives in static_file.c. Dotfiles are skipped here too, so a caller that
 * forgets cannot leak them.
 */
#ifndef WHARF_DIR_LISTING_H
#define WHARF_DIR_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

struct dir_entry {
    char *name; /* file name, no slash */
    bool is_dir;
    uint64_t size; /* bytes; ignored for directories */
    time_t mtime;
};

/** Sort entries in place: directories first, then by name (byte order). */
void dir_listing_sort(struct dir_entry *e, size_t n);
/** HTML page for url_path (the decoded, normalised request path ending in '/'): title, a
 *  parent link unless at "/", one row per entry with an escaped link (percent-encoded href,
 *  HTML-escaped text; directories end in '/'), human size (e.g. "1.5 KiB", "-" for dirs)
 *  and date ("2024-01-31 12:00" UTC). Returns -1 if b's cap was hit. */
int dir_listing_html(struct buf *b, const char *url_path, const struct dir_entry *e, size_t n);
/** JSON: {"path":"/x/","entries":[{"name":"a","type":"file","size":12,"mtime":"<IMF date>"},
 *  {"name":"d","type":"directory","mtime":...}]} */
int dir_listing_json(struct buf *b, const char *url_path, const struct dir_entry *e, size_t n);
/** Human-readable size: "512 B", "1.5 KiB", "10.0 MiB" ... into out (16 bytes). */
void dir_listing_human_size(uint64_t size, char out[16]);

#endif
