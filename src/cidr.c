/* cidr: addresses and CIDR blocks on one 16-byte form. See cidr.h. */
#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool is_v4_mapped(const uint8_t a[16])
{
    return memcmp(a, v4_mapped_prefix, 12) == 0;
}

/* note: inet_pton is pure (no resolver, no I/O) and strict: AF_INET takes only the dotted
 * quad with decimal parts (no "10.1", no octal, no hex), so "010.0.0.1" is refused, not read
 * as 8.0.0.1 the way inet_aton would. */
static bool parse_addr(const char *text, size_t len, uint8_t out[16], bool *is_v4)
{
    char buf[CIDR_TEXT_MAX];
    if (len == 0 || len >= sizeof buf || memchr(text, '\0', len))
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        memcpy(out, v4_mapped_prefix, 12);
        memcpy(out + 12, &a4, 4);
        *is_v4 = true;
        return true;
    }
    *is_v4 = false;
    return inet_pton(AF_INET6, buf, out) == 1;
}

bool cidr_parse_addr(const char *text, size_t len, uint8_t out[16])
{
    bool is_v4;
    return parse_addr(text, len, out, &is_v4);
}

const char *cidr_parse(const char *text, size_t len, struct cidr *out)
{
    memset(out, 0, sizeof *out);
    const char *slash = memchr(text, '/', len);
    size_t addr_len = slash ? (size_t)(slash - text) : len;
    bool is_v4;
    if (!parse_addr(text, addr_len, out->addr, &is_v4))
        return "an IPv4 or IPv6 address or CIDR block (\"10.0.0.0/8\", \"2001:db8::/32\")";
    unsigned max = is_v4 ? 32 : 128, bits = max;
    if (slash) {
        const char *p = slash + 1, *end = text + len;
        if (p == end || end - p > 3)
            return "a prefix length after '/'";
        bits = 0;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9')
                return "a prefix length after '/'";
            bits = bits * 10 + (unsigned)(*p - '0');
        }
        if (bits > max)
            return is_v4 ? "an IPv4 prefix length of 0 to 32" : "an IPv6 prefix length of 0 to 128";
    }
    out->bits = is_v4 ? bits + 96 : bits;
    for (unsigned i = out->bits; i < 128; i++)
        if (out->addr[i / 8] & (0x80u >> (i % 8))) {
            memset(out, 0, sizeof *out);
            return "a network address without host bits set (\"10.0.0.0/8\", not \"10.1.2.3/8\")";
        }
    return NULL;
}

bool cidr_contains(const struct cidr *c, const uint8_t addr[16])
{
    unsigned whole = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, addr, whole) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (addr[whole] & mask) == c->addr[whole];
}

bool cidr_any(const struct cidr *v, size_t n, const uint8_t addr[16])
{
    for (size_t i = 0; i < n; i++)
        if (cidr_contains(&v[i], addr))
            return true;
    return false;
}

bool cidr_addr_of(const struct sockaddr *sa, uint8_t out[16])
{
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        memcpy(out, v4_mapped_prefix, 12);
        memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

/* a.b.c.d into out (n >= 16 bytes: "255.255.255.255" and its NUL) */
static void format_v4(const uint8_t a[4], char *out)
{
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (v >= 100)
            *out++ = (char)('0' + v / 100);
        if (v >= 10)
            *out++ = (char)('0' + v / 10 % 10);
        *out++ = (char)('0' + v % 10);
        *out++ = i < 3 ? '.' : '\0';
    }
}

void cidr_format_addr(const uint8_t addr[16], char *out, size_t n)
{
    if (n == 0)
        return;
    out[0] = '\0';
    if (is_v4_mapped(addr)) {
        if (n >= 16)
            format_v4(addr + 12, out);
    } else {
        inet_ntop(AF_INET6, addr, out, (socklen_t)n);
    }
}

void cidr_format_sockaddr(const struct sockaddr *sa, char *out, size_t n, unsigned *port)
{
    uint8_t addr[16];
    *port = 0;
    if (!cidr_addr_of(sa, addr)) {
        if (n >= 2)
            memcpy(out, "-", 2);
        return;
    }
    cidr_format_addr(addr, out, n);
    *port = ntohs(sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                           : ((const struct sockaddr_in6 *)sa)->sin6_port);
}
