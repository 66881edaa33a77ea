/* real_ip: the client address behind trusted proxies. See real_ip.h. */
#include "real_ip.h"

#include <stddef.h>
#include <string.h>

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *n)
{
    while (*n && is_blank(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_blank((*s)[*n - 1]))
        (*n)--;
}

/* "ADDR", "[V6]", "[V6]:PORT" or "V4:PORT". */
static bool parse_node(const char *s, size_t n, uint8_t out[16])
{
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return false;
        size_t rest = n - (size_t)(close + 1 - s);
        if (rest && close[1] != ':')
            return false;
        return cidr_parse_addr(s + 1, (size_t)(close - s - 1), out);
    }
    if (cidr_parse_addr(s, n, out))
        return true;
    const char *colon = memchr(s, ':', n);
    if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)))
        return cidr_parse_addr(s, (size_t)(colon - s), out) && out[10] == 0xff && out[11] == 0xff;
    return false;
}

bool real_ip_parse_xff_entry(const char *s, size_t n, uint8_t out[16])
{
    trim(&s, &n);
    return parse_node(s, n, out);
}

static bool name_is_for(const char *s, size_t n)
{
    return n == 3 && (s[0] | 0x20) == 'f' && (s[1] | 0x20) == 'o' && (s[2] | 0x20) == 'r';
}

bool real_ip_parse_forwarded_element(const char *s, size_t n, uint8_t out[16])
{
    const char *end = s + n;
    while (s < end) {
        /* one pair: token "=" ( token / quoted-string ), pairs separated by ';' */
        while (s < end && (is_blank(*s) || *s == ';'))
            s++;
        const char *name = s;
        while (s < end && *s != '=' && *s != ';')
            s++;
        if (s == end || *s != '=')
            return false;
        size_t name_len = (size_t)(s - name);
        while (name_len && is_blank(name[name_len - 1]))
            name_len--;
        s++;
        char value[64];
        size_t vn = 0;
        if (s < end && *s == '"') {
            for (s++; s < end && *s != '"'; s++) {
                if (*s == '\\' && s + 1 < end)
                    s++;
                if (vn == sizeof value)
                    return false;
                value[vn++] = *s;
            }
            if (s == end)
                return false; /* unterminated quoted-string */
            s++;
        } else {
            for (; s < end && *s != ';' && !is_blank(*s); s++) {
                if (vn == sizeof value)
                    return false;
                value[vn++] = *s;
            }
        }
        if (name_is_for(name, name_len))
            return parse_node(value, vn, out);
    }
    return false;
}

/* The start of the list entry that ends at end (exclusive): just after the previous
 * top-level ',' (one inside a quoted-string does not count), scanning right to left so the
 * whole walk stays linear. A '"' preceded by an odd number of '\\' is escaped. */
static const char *entry_start(const char *begin, const char *end)
{
    bool quoted = false;
    for (const char *p = end; p > begin; p--) {
        char c = p[-1];
        if (c == '"') {
            size_t slashes = 0;
            while (p - 1 - slashes > begin && p[-2 - (ptrdiff_t)slashes] == '\\')
                slashes++;
            if (slashes % 2 == 0)
                quoted = !quoted;
        } else if (c == ',' && !quoted) {
            return p;
        }
    }
    return begin;
}

bool real_ip_resolve(enum real_ip_header kind, const char *value, size_t len,
                     const struct cidr *trusted, size_t n_trusted, const uint8_t peer[16],
                     uint8_t out[16])
{
    memcpy(out, peer, 16);
    if (!value || !cidr_any(trusted, n_trusted, peer))
        return false;
    const char *end = value + len;
    while (end > value) {
        const char *start = entry_start(value, end);
        const char *s = start;
        size_t n = (size_t)(end - start);
        trim(&s, &n);
        end = start > value ? start - 1 : value;
        if (n == 0)
            continue; /* "a, , b": an empty entry is no hop */
        uint8_t hop[16];
        bool ok = kind == REAL_IP_FORWARDED ? real_ip_parse_forwarded_element(s, n, hop)
                                            : real_ip_parse_xff_entry(s, n, hop);
        if (!ok)
            break; /* the hop we stand on wrote it: it is the client as far as we know */
        memcpy(out, hop, 16);
        if (!cidr_any(trusted, n_trusted, hop))
            break;
    }
    return memcmp(out, peer, 16) != 0;
}
