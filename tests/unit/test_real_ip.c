/* real_ip: X-Forwarded-For and Forwarded (RFC 7239), walked right to left over trusted hops. */
#include <string.h>

#include "real_ip.h"
#include "tap.h"

static struct cidr trusted[2];

static const char *resolve(enum real_ip_header kind, const char *peer, const char *value)
{
    static char text[CIDR_TEXT_MAX];
    uint8_t p[16], out[16];
    cidr_parse_addr(peer, strlen(peer), p);
    real_ip_resolve(kind, value, value ? strlen(value) : 0, trusted, 2, p, out);
    cidr_format_addr(out, text, sizeof text);
    return text;
}

#define XFF REAL_IP_X_FORWARDED_FOR
#define FWD REAL_IP_FORWARDED

int main(void)
{
    cidr_parse("10.0.0.0/8", 10, &trusted[0]);
    cidr_parse("2001:db8:1::/48", 15, &trusted[1]);

    /* X-Forwarded-For */
    is_str(resolve(XFF, "10.0.0.1", "203.0.113.5"), "203.0.113.5", "one trusted hop");
    is_str(resolve(XFF, "198.51.100.1", "203.0.113.5"), "198.51.100.1",
           "an untrusted peer's header is ignored");
    is_str(resolve(XFF, "10.0.0.1", NULL), "10.0.0.1", "no header: the peer");
    is_str(resolve(XFF, "10.0.0.1", "1.1.1.1, 203.0.113.5, 10.0.0.2"), "203.0.113.5",
           "trusted hops are skipped from the right; the client's own claims to the left are not "
           "believed");
    is_str(resolve(XFF, "10.0.0.1", "10.0.0.3,10.0.0.2"), "10.0.0.3", "all trusted: the leftmost");
    is_str(resolve(XFF, "10.0.0.1", "203.0.113.5, garbage"), "10.0.0.1",
           "garbage in the trusted hop's place stops the walk at that hop");
    is_str(resolve(XFF, "10.0.0.1", "203.0.113.5, ,10.0.0.9"), "203.0.113.5",
           "empty entries are no hop");
    is_str(resolve(XFF, "10.0.0.1", "[2001:db8::7]:4711"), "2001:db8::7", "bracketed IPv6 + port");
    is_str(resolve(XFF, "10.0.0.1", "203.0.113.5:8080"), "203.0.113.5", "IPv4 with a port");
    is_str(resolve(XFF, "2001:db8:1::2", "2001:db8::9"), "2001:db8::9", "an IPv6 proxy");
    is_str(resolve(XFF, "::ffff:10.0.0.1", "203.0.113.5"), "203.0.113.5",
           "a v4-mapped peer is trusted by an IPv4 block");

    /* Forwarded */
    is_str(resolve(FWD, "10.0.0.1", "for=192.0.2.60;proto=http;by=203.0.113.43"), "192.0.2.60",
           "RFC 7239 example");
    is_str(resolve(FWD, "10.0.0.1", "For=\"[2001:db8:cafe::17]:4711\""), "2001:db8:cafe::17",
           "quoted IPv6 with port, case-insensitive name");
    is_str(resolve(FWD, "10.0.0.1", "for=192.0.2.43, for=198.51.100.17"), "198.51.100.17",
           "rightmost untrusted element");
    is_str(resolve(FWD, "10.0.0.1", "for=192.0.2.43, for=10.0.0.7;by=x"), "192.0.2.43",
           "a trusted element is skipped");
    is_str(resolve(FWD, "10.0.0.1", "for=unknown"), "10.0.0.1", "unknown: the peer");
    is_str(resolve(FWD, "10.0.0.1", "for=_hidden, for=10.0.0.7"), "10.0.0.7",
           "an obfuscated identifier stops the walk at the hop that wrote it");
    is_str(resolve(FWD, "10.0.0.1", "proto=https;by=\"a,b\";for=192.0.2.1"), "192.0.2.1",
           "a ',' inside a quoted-string does not split elements");
    is_str(resolve(FWD, "10.0.0.1", "for=\"192.0.2.1"), "10.0.0.1", "unterminated quote: refused");
    is_str(resolve(FWD, "10.0.0.1", "by=10.0.0.1"), "10.0.0.1", "no for=: the peer");

    uint8_t a[16];
    ok(real_ip_parse_xff_entry(" 192.0.2.1 ", 11, a), "blanks around an entry");
    ok(!real_ip_parse_xff_entry("[::1", 4, a), "unclosed bracket");
    ok(!real_ip_parse_xff_entry("[::1]x", 6, a), "junk after a bracket");
    return done_testing();
}
