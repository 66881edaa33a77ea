/*
 * dir_listing: renders a directory index as HTML or JSON from entries the caller read. Pure: no
 * readdir, no clock, no locale (gmtime_r and http_date, never strftime).
 * Invariants: names starting with '.' (and empty names or names containing '/') are never
 * emitted; every name is HTML-escaped as text and percent-encoded as an href, and hrefs are
 * relative so a name can never become a scheme or an absolute URL. Entries are emitted in the
 * order given: call dir_listing_sort() first. JSON strings are always valid UTF-8 (invalid
 * bytes become U+FFFD) so a strict parser never rejects a listing because of one odd name.
 */
#include "dir_listing.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_date.h"

static int cmp_entry(const void *pa, const void *pb)
{
    const struct dir_entry *a = pa, *b = pb;

    if (a->is_dir != b->is_dir)
        return a->is_dir ? -1 : 1;
    return strcmp(a->name, b->name); /* note: strcmp compares as unsigned char: byte order */
}

void dir_listing_sort(struct dir_entry *e, size_t n)
{
    if (n > 1)
        qsort(e, n, sizeof *e, cmp_entry);
}

static bool is_listed(const struct dir_entry *e)
{
    return e->name[0] != '\0' && e->name[0] != '.' && !strchr(e->name, '/');
}

void dir_listing_human_size(uint64_t size, char out[16])
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    unsigned u = 0;

    if (size < 1024) {
        snprintf(out, 16, "%" PRIu64 " B", size);
        return;
    }
    while (u + 1 < 7 && size >> (10 * (u + 1)) >= 1024)
        u++;
    u++;
    for (;;) {
        /* Integer tenths, rounded half up; rem * 10 cannot overflow since rem < 2^60. */
        uint64_t div = (uint64_t)1 << (10 * u);
        uint64_t tenths = size / div * 10 + ((size % div) * 10 + div / 2) / div;
        /* 1048575 bytes must read "1.0 MiB", not "1024.0 KiB". */
        if (tenths >= 10240 && u + 1 < 7) {
            u++;
            continue;
        }
        snprintf(out, 16, "%u.%u %s", (unsigned)(tenths / 10 % 10000), (unsigned)(tenths % 10),
                 unit[u]);
        return;
    }
}

/* JSON string contents; file names are arbitrary bytes, JSON must be UTF-8. */
static int append_json_text(struct buf *b, const char *s)
{
    size_t n = strlen(s), start = 0, i = 0;

    /* note: a listing replaces invalid UTF-8 with U+FFFD where buf_append_json would keep the
     * byte as \u00XX: a file name is shown to people, not parsed by log tools */
    while (i < n) {
        size_t k = buf_utf8_len(s + i, n - i);
        if (k) {
            i += k;
            continue;
        }
        if (buf_append_json(b, s + start, i - start) != 0 || buf_puts(b, "\\ufffd") != 0)
            return -1;
        start = ++i;
    }
    return buf_append_json(b, s + start, n - start);
}

static const char html_head[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
    "<title>Index of ";
static const char html_style[] =
    "</title>\n"
    "<style>\n"
    "body{font:15px/1.5 system-ui,sans-serif;max-width:56em;margin:0 auto;padding:1em}\n"
    "h1{font-size:1.3em;overflow-wrap:anywhere}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "th,td{padding:.3em .6em;text-align:left;border-bottom:1px solid #ddd}\n"
    "td+td,th+th{text-align:right;white-space:nowrap}\n"
    "a{overflow-wrap:anywhere}\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<h1>Index of ";
static const char html_table[] = "</h1>\n"
                                 "<table>\n"
                                 "<tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n";
static const char html_tail[] = "</table>\n"
                                "</body>\n"
                                "</html>\n";

static int html_row(struct buf *b, const struct dir_entry *e)
{
    const char *slash = e->is_dir ? "/" : "";
    size_t n = strlen(e->name);
    char size[16] = "-", date[64] = "-";
    struct tm tm;

    if (!e->is_dir)
        dir_listing_human_size(e->size, size);
    if (gmtime_r(&e->mtime, &tm) && tm.tm_year + 1900 >= 0 && tm.tm_year + 1900 <= 9999)
        snprintf(date, sizeof date, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min);
    if (buf_puts(b, "<tr><td><a href=\"") != 0 || buf_append_url(b, e->name, n) != 0 ||
        buf_printf(b, "%s\">", slash) != 0 || buf_append_html(b, e->name, n) != 0 ||
        buf_printf(b, "%s</a></td><td>%s</td><td>%s</td></tr>\n", slash, size, date) != 0)
        return -1;
    return 0;
}

int dir_listing_html(struct buf *b, const char *url_path, const struct dir_entry *e, size_t n)
{
    size_t plen = strlen(url_path);

    if (buf_puts(b, html_head) != 0 || buf_append_html(b, url_path, plen) != 0 ||
        buf_puts(b, html_style) != 0 || buf_append_html(b, url_path, plen) != 0 ||
        buf_puts(b, html_table) != 0)
        return -1;
    if (strcmp(url_path, "/") != 0 &&
        buf_puts(b, "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n") != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (is_listed(&e[i]) && html_row(b, &e[i]) != 0)
            return -1;
    }
    return buf_puts(b, html_tail);
}

int dir_listing_json(struct buf *b, const char *url_path, const struct dir_entry *e, size_t n)
{
    bool first = true;

    if (buf_puts(b, "{\"path\":\"") != 0 || append_json_text(b, url_path) != 0 ||
        buf_puts(b, "\",\"entries\":[") != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char date[HTTP_DATE_LEN + 1];

        if (!is_listed(&e[i]))
            continue;
        if (buf_puts(b, first ? "{\"name\":\"" : ",{\"name\":\"") != 0 ||
            append_json_text(b, e[i].name) != 0)
            return -1;
        first = false;
        if (e[i].is_dir ? buf_puts(b, "\",\"type\":\"directory\"")
                        : buf_printf(b, "\",\"type\":\"file\",\"size\":%" PRIu64, e[i].size))
            return -1;
        http_date_format(e[i].mtime, date);
        if (buf_printf(b, ",\"mtime\":\"%s\"}", date) != 0)
            return -1;
    }
    return buf_puts(b, "]}");
}
