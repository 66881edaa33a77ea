/*
 * dev_console: see include/dev_console.h. Colours are the 8 basic ANSI ones every terminal
 * has; a status class picks one (2xx green, 3xx cyan, 4xx yellow, 5xx red).
 */
#include "dev_console.h"

#include <string.h>
#include <time.h>

#define C_RESET "\033[0m"
#define C_DIM "\033[2m"
#define C_BOLD "\033[1m"
#define C_LOC "\033[1;35m" /* file:line in a PHP message */

static const char *status_color(unsigned status)
{
    if (status >= 500)
        return "\033[1;31m";
    if (status >= 400)
        return "\033[33m";
    if (status >= 300)
        return "\033[36m";
    return "\033[32m";
}

/* s as text a terminal cannot take as a command: control bytes and DEL become \xHH */
static int put_safe(struct buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int rc = ch < 0x20 || ch == 0x7f ? buf_printf(b, "\\x%02X", ch) : buf_putc(b, (char)ch);
        if (rc)
            return -1;
    }
    return 0;
}

static int put_ms(struct buf *b, uint64_t us)
{
    if (us < 10000)
        return buf_printf(b, "%.1f ms", (double)us / 1000.0);
    if (us < 10000000)
        return buf_printf(b, "%llu ms", (unsigned long long)(us / 1000));
    return buf_printf(b, "%.1f s", (double)us / 1e6);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* At p (n bytes left): ".php" then ":DIGITS" or " on line DIGITS"; the length, or 0. */
static size_t location_tail(const char *p, size_t n)
{
    if (n < 5 || memcmp(p, ".php", 4) != 0)
        return 0;
    size_t i = 4;
    static const char on_line[] = " on line ";
    if (p[i] == ':')
        i++;
    else if (n - i > sizeof on_line - 1 && memcmp(p + i, on_line, sizeof on_line - 1) == 0)
        i += sizeof on_line - 1;
    else
        return 0;
    size_t d = i;
    while (i < n && is_digit(p[i]))
        i++;
    return i > d ? i : 0;
}

bool dev_console_find_location(const char *line, size_t n, size_t *at, size_t *len)
{
    for (size_t i = 0; i < n; i++) {
        size_t tail = location_tail(line + i, n - i);
        if (!tail)
            continue;
        size_t start = i; /* back to the start of the path: a blank, or a quote/paren */
        while (start > 0 && !strchr(" \t'\"(", line[start - 1]))
            start--;
        if (start == i) /* ".php:3" with no name before it */
            continue;
        *at = start;
        *len = i - start + tail;
        return true;
    }
    return false;
}

static int put_stderr_line(struct buf *b, const char *line, size_t n, bool color)
{
    size_t at, len;
    if (buf_puts(b, color ? "    " C_DIM "|" C_RESET " " : "    | ") != 0)
        return -1;
    if (!color || !dev_console_find_location(line, n, &at, &len))
        return put_safe(b, line, n) || buf_putc(b, '\n');
    return put_safe(b, line, at) || buf_puts(b, C_LOC) || put_safe(b, line + at, len) ||
           buf_puts(b, C_RESET) || put_safe(b, line + at + len, n - at - len) || buf_putc(b, '\n');
}

int dev_console_format(struct buf *b, const struct dev_console_entry *e, bool color)
{
    size_t start = b->len;
    time_t t = (time_t)(e->time_ms / 1000);
    struct tm tm;
    char hms[16] = "--:--:--";
    if (localtime_r(&t, &tm))
        strftime(hms, sizeof hms, "%H:%M:%S", &tm);
    const char *dim = color ? C_DIM : "", *bold = color ? C_BOLD : "",
               *reset = color ? C_RESET : "", *sc = color ? status_color(e->status) : "";
    int rc = buf_printf(b, "%s%s%s %s%-6s%s ", dim, hms, reset, bold, e->method, reset) ||
             put_safe(b, e->target, strlen(e->target)) ||
             buf_printf(b, " %s%u%s %s", sc, e->status, reset, dim) || put_ms(b, e->duration_us);
    if (!rc && e->php_us)
        rc = buf_puts(b, " (php ") || put_ms(b, e->php_us) || buf_putc(b, ')');
    rc = rc || buf_puts(b, reset) || buf_putc(b, '\n');
    for (size_t i = 0; !rc && e->stderr_text && i < e->stderr_len;) {
        const char *nl = memchr(e->stderr_text + i, '\n', e->stderr_len - i);
        size_t end = nl ? (size_t)(nl - e->stderr_text) : e->stderr_len;
        rc = put_stderr_line(b, e->stderr_text + i, end - i, color);
        i = end + 1;
    }
    if (rc) {
        buf_truncate(b, start);
        return -1;
    }
    return 0;
}

int dev_console_error_page(struct buf *b, const char *method, const char *target,
                           const char *stderr_text, size_t stderr_len)
{
    size_t start = b->len;
    int rc = buf_puts(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                         "<title>500 PHP error</title><style>"
                         "body{font:15px/1.5 system-ui,sans-serif;margin:2em;color:#222}"
                         "h1{color:#b00020;font-size:1.4em}"
                         "pre{background:#f6f6f6;padding:1em;white-space:pre-wrap}"
                         "mark{background:#ffe08a}small{color:#666}"
                         "</style></head><body>\n<h1>500: PHP stopped with an error</h1>\n<p>") ||
             buf_append_html(b, method, strlen(method)) || buf_putc(b, ' ') ||
             buf_append_html(b, target, strlen(target)) || buf_puts(b, "</p>\n<pre>");
    for (size_t i = 0; !rc && i < stderr_len;) {
        const char *nl = memchr(stderr_text + i, '\n', stderr_len - i);
        size_t end = nl ? (size_t)(nl - stderr_text) : stderr_len, at, len;
        const char *line = stderr_text + i;
        if (dev_console_find_location(line, end - i, &at, &len))
            rc = buf_append_html(b, line, at) || buf_puts(b, "<mark>") ||
                 buf_append_html(b, line + at, len) || buf_puts(b, "</mark>") ||
                 buf_append_html(b, line + at + len, end - i - at - len);
        else
            rc = buf_append_html(b, line, end - i);
        rc = rc || buf_putc(b, '\n');
        i = end + 1;
    }
    rc = rc || buf_puts(b, "</pre>\n<p><small>php-fpm's stderr for this request, shown by wharf's "
                           "development mode only; a production server sends the empty 500."
                           "</small></p>\n</body></html>\n");
    if (rc) {
        buf_truncate(b, start);
        return -1;
    }
    return 0;
}
