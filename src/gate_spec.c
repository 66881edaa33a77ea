/* gate_spec: see include/gate_spec.h. */
#include "gate_spec.h"

#include <stdio.h>
#include <string.h>

int gate_spec_parse(const char *text, char *path, size_t n, unsigned *status, const char **why)
{
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '/') {
        *why = "a URL path starting with '/'";
        return -1;
    }
    size_t len = 0;
    while (p[len] && p[len] != ' ' && p[len] != '\t') {
        unsigned char ch = (unsigned char)p[len];
        if (ch < 0x21 || ch > 0x7e) {
            *why = "a URL path without control characters or non-ASCII bytes (percent-encode them)";
            return -1;
        }
        len++;
    }
    if (len >= n || len >= GATE_SPEC_PATH_MAX) {
        *why = "a shorter URL path";
        return -1;
    }
    memcpy(path, p, len);
    path[len] = '\0';
    p += len;
    while (*p == ' ' || *p == '\t')
        p++;
    *status = 0;
    if (!*p)
        return 0;
    unsigned v = 0;
    size_t digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
        v = v * 10 + (unsigned)(*p - '0');
    while (*p == ' ' || *p == '\t')
        p++;
    if (digits != 3 || *p || v < 100 || v > 599) {
        *why = "an HTTP status 100..599 after the path";
        return -1;
    }
    *status = v;
    return 0;
}

bool gate_spec_status_ok(unsigned want, long got)
{
    return want ? got == (long)want : got >= 200 && got <= 299;
}

/* Append s[0..len) printable, with '"' and '\\' and anything else escaped. */
static void append_escaped(struct buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        char tmp[8];
        if (ch == '\n')
            buf_append(out, "\\n", 2);
        else if (ch == '"' || ch == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)ch;
            buf_append(out, tmp, 2);
        } else if (ch < 0x20 || ch > 0x7e) {
            snprintf(tmp, sizeof tmp, "\\x%02x", ch);
            buf_append(out, tmp, 4);
        } else {
            buf_append(out, (const char *)&ch, 1);
        }
    }
}

void gate_spec_describe(const char *path, unsigned want, const struct gate_spec_result *res,
                        struct buf *out)
{
    char line[64];
    buf_append(out, "GET ", 4);
    append_escaped(out, path, strlen(path));
    if (res->status == 0) {
        buf_append(out, ": no response (", 15);
        const char *e = res->error ? res->error : "unknown error";
        append_escaped(out, e, strlen(e));
        buf_append(out, ")", 1);
    } else {
        if (want)
            snprintf(line, sizeof line, ": status %ld, expected %u", res->status, want);
        else
            snprintf(line, sizeof line, ": status %ld, expected 2xx", res->status);
        buf_append(out, line, strlen(line));
        buf_append(out, "; body: \"", 9);
        size_t shown = res->body_len < GATE_SPEC_BODY_SHOWN ? res->body_len : GATE_SPEC_BODY_SHOWN;
        append_escaped(out, res->body ? res->body : "", shown);
        buf_append(out, shown < res->body_len ? "\"..." : "\"", shown < res->body_len ? 4 : 1);
    }
    if (res->stderr_text && *res->stderr_text) {
        buf_append(out, "; stderr: ", 10);
        append_escaped(out, res->stderr_text, strlen(res->stderr_text));
    }
}
