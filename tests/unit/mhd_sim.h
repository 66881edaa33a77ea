/*
 * mhd_sim.h: splits a raw request head in place the way libmicrohttpd 0.9.75 does
 * (connection.c: get_next_header_line, parse_initial_message_line, process_header_line,
 * process_broken_line), so the unit test and the fuzz target hand http_head_check() the same
 * mangled buffer and pointers that http_front gets from MHD. Test-only, header-only.
 * What MHD itself rejects (no space or colon, a version other than HTTP/d.d) gives -1.
 */
#ifndef WHARF_MHD_SIM_H
#define WHARF_MHD_SIM_H

#include <stdlib.h>
#include <string.h>

#include "http_head.h"

#define MHD_SIM_MAX_FIELDS 64

struct mhd_sim {
    struct http_head h;
    struct http_head_field f[MHD_SIM_MAX_FIELDS];
    char *moved[MHD_SIM_MAX_FIELDS]; /* folded names MHD moved out of the buffer */
    size_t n_moved;
};

static void mhd_sim_free(struct mhd_sim *s)
{
    for (size_t i = 0; i < s->n_moved; i++)
        free(s->moved[i]);
    s->n_moved = 0;
}

/* Next line of buf[*pos..len): CRLF -> two NULs, bare LF -> one NUL. NULL: no line end. */
static char *mhd_sim_line(char *buf, size_t len, size_t *pos, size_t *line_len)
{
    char *line = buf + *pos;
    for (size_t i = *pos; i < len; i++) {
        if (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n') {
            *line_len = i - *pos;
            buf[i] = buf[i + 1] = '\0';
            *pos = i + 2;
            return line;
        }
        if (buf[i] == '\n') {
            *line_len = i - *pos;
            buf[i] = '\0';
            *pos = i + 1;
            return line;
        }
    }
    return NULL;
}

/* Split buf[0..len) (which it modifies). 0 = complete head in s; -1 = MHD's own error or no
 * complete head. Call mhd_sim_free() afterwards in both cases. */
static int mhd_sim_split(char *buf, size_t len, struct mhd_sim *s)
{
    size_t pos = 0, ll, start;
    char *line, *last = NULL, *colon = NULL;

    memset(s, 0, sizeof *s);
    s->h.fields = s->f;
    do { /* empty lines before the request line are skipped */
        start = pos;
        line = mhd_sim_line(buf, len, &pos, &ll);
        if (!line)
            return -1;
    } while (ll == 0);
    char *sp = memchr(line, ' ', ll);
    if (!sp || sp == line)
        return -1;
    *sp = '\0';
    char *uri = sp + 1;
    while (*uri == ' ' && (size_t)(uri - line) < ll)
        uri++;
    if ((size_t)(uri - line) == ll)
        return -1; /* no target: MHD answers with its own 400 */
    char *hv = line + ll - 1;
    while (*hv == ' ' && hv > uri)
        hv--;
    while (*hv != ' ' && hv > uri)
        hv--;
    if (hv <= uri)
        return -1;
    *hv = '\0';
    char *version = hv + 1;
    size_t version_len = ll - (size_t)(version - line);
    if (version_len != 8 || memcmp(version, "HTTP/", 5) != 0 || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9' ||
        version[5] != '1')
        return -1;
    s->h.raw = line;
    s->h.method = line;
    s->h.method_len = strlen(line);
    s->h.target = uri;
    s->h.target_len = strlen(uri); /* what the URI log callback sees */
    s->h.target_at = uri;
    s->h.version = version;
    s->h.version_len = version_len;
    for (;;) {
        line = mhd_sim_line(buf, len, &pos, &ll);
        if (!line)
            return -1;
        if (last && (line[0] == ' ' || line[0] == '\t')) {
            /* obs-fold: MHD appends the continuation to the *name* in a new block */
            char *t = line;
            if (s->n_moved == MHD_SIM_MAX_FIELDS)
                return -1; /* MHD would run out of pool memory: its own 431 */
            while (*t == ' ' || *t == '\t')
                t++;
            size_t a = strlen(last), b = strlen(t);
            char *moved = malloc(a + b + 1);
            memcpy(moved, last, a);
            memcpy(moved + a, t, b + 1);
            memset(last, 0, a + 1);
            s->moved[s->n_moved++] = moved;
            last = moved;
            continue;
        }
        if (last) {
            if (s->h.n_fields == MHD_SIM_MAX_FIELDS)
                return -1;
            struct http_head_field *f = &s->f[s->h.n_fields++];
            f->name = last;
            f->name_len = strlen(last);
            f->value = colon;
            f->value_len = strlen(colon);
            last = NULL;
        }
        if (ll == 0)
            break;
        colon = strchr(line, ':'); /* note: stops at a NUL, as MHD's does */
        if (!colon)
            return -1;
        *colon++ = '\0';
        while (*colon == ' ' || *colon == '\t')
            colon++;
        last = line;
    }
    s->h.raw_len = pos - (size_t)(s->h.raw - buf);
    (void)start;
    return 0;
}

#endif
