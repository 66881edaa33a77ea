/* cidr: parsing addresses and blocks, matching IPv4, IPv6 and v4-mapped clients. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "cidr.h"
#include "tap.h"

static bool in(const char *block, const char *addr)
{
    struct cidr c;
    uint8_t a[16];
    if (cidr_parse(block, strlen(block), &c) || !cidr_parse_addr(addr, strlen(addr), a))
        return false;
    return cidr_contains(&c, a);
}

int main(void)
{
    struct cidr c;
    uint8_t a[16];

    /* accepted */
    ok(!cidr_parse("10.0.0.0/8", 10, &c) && c.bits == 104, "IPv4 /8 is /104 on the mapped form");
    ok(!cidr_parse("192.0.2.1", 9, &c) && c.bits == 128, "a lone IPv4 address is a /32");
    ok(!cidr_parse("2001:db8::/32", 13, &c) && c.bits == 32, "IPv6 /32");
    ok(!cidr_parse("::1", 3, &c) && c.bits == 128, "a lone IPv6 address is a /128");
    ok(!cidr_parse("0.0.0.0/0", 9, &c) && c.bits == 96, "IPv4 /0 covers every IPv4 address");
    ok(!cidr_parse("::/0", 4, &c) && c.bits == 0, "::/0 covers everything");

    /* refused */
    const char *bad[] = {"",          "10.0.0.0/",   "10.0.0.0/33",  "10.0.0.0/8x",    "10.1.2.3/8",
                         "010.0.0.1", "10.1",        "::1/129",      "2001:db8::1/32", "[::1]",
                         "::1%lo",    "10.0.0.0/-1", "host.example", "10.0.0.0/0008",  "1.2.3.4 "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char name[64];
        snprintf(name, sizeof name, "refused: '%s'", bad[i]);
        ok(cidr_parse(bad[i], strlen(bad[i]), &c) != NULL, name);
    }
    ok(cidr_parse("10.1.2.3/8", 10, &c) && strstr(cidr_parse("10.1.2.3/8", 10, &c), "host bits"),
       "host bits: the message says so");

    /* matching */
    ok(in("10.0.0.0/8", "10.255.1.2"), "10.255.1.2 in 10.0.0.0/8");
    ok(!in("10.0.0.0/8", "11.0.0.1"), "11.0.0.1 not in 10.0.0.0/8");
    ok(in("192.168.1.0/25", "192.168.1.127"), "/25: last address in");
    ok(!in("192.168.1.0/25", "192.168.1.128"), "/25: next address out");
    ok(in("10.0.0.0/8", "::ffff:10.1.1.1"), "a v4-mapped client matches an IPv4 block");
    ok(in("::ffff:10.0.0.0/104", "10.1.1.1"), "a v4-mapped block matches an IPv4 client");
    ok(!in("10.0.0.0/8", "::a01:101"), "an IPv4-compatible (not mapped) address does not");
    ok(in("2001:db8::/32", "2001:db8:ffff::1"), "IPv6 prefix");
    ok(!in("2001:db8::/32", "2001:db9::1"), "IPv6 outside");
    ok(in("0.0.0.0/0", "203.0.113.9"), "IPv4 /0 matches IPv4");
    ok(!in("0.0.0.0/0", "2001:db8::1"), "IPv4 /0 does not match IPv6");
    ok(in("::/0", "203.0.113.9") && in("::/0", "2001:db8::1"), "::/0 matches both");
    ok(in("127.0.0.1", "127.0.0.1") && !in("127.0.0.1", "127.0.0.2"), "/32 is exact");

    /* socket addresses and text */
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    inet_pton(AF_INET, "198.51.100.7", &s4.sin_addr);
    char text[CIDR_TEXT_MAX];
    ok(cidr_addr_of((struct sockaddr *)&s4, a), "sockaddr_in");
    cidr_format_addr(a, text, sizeof text);
    is_str(text, "198.51.100.7", "an IPv4 client prints as a dotted quad");
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8::5", &s6.sin6_addr);
    ok(cidr_addr_of((struct sockaddr *)&s6, a), "sockaddr_in6");
    cidr_format_addr(a, text, sizeof text);
    is_str(text, "2001:db8::5", "IPv6 prints in RFC 5952 form");
    struct sockaddr su = {.sa_family = AF_UNIX};
    ok(!cidr_addr_of(&su, a), "AF_UNIX has no address");

    /* cidr_format_sockaddr: its own IPv4 digits agree with inet_ntop */
    unsigned port = 99;
    cidr_format_sockaddr(NULL, text, sizeof text, &port);
    ok(strcmp(text, "-") == 0 && port == 0, "no address: \"-\", port 0");
    cidr_format_sockaddr(&su, text, sizeof text, &port);
    ok(strcmp(text, "-") == 0 && port == 0, "AF_UNIX: \"-\", port 0");
    s4.sin_port = htons(8080);
    inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
    cidr_format_sockaddr((struct sockaddr *)&s4, text, sizeof text, &port);
    ok(strcmp(text, "127.0.0.1") == 0 && port == 8080, "127.0.0.1:8080");
    s6.sin6_port = htons(443);
    cidr_format_sockaddr((struct sockaddr *)&s6, text, sizeof text, &port);
    ok(strcmp(text, "2001:db8::5") == 0 && port == 443, "[2001:db8::5]:443");
    static const uint32_t edges[] = {0, 0xffffffffu, 0x0a000001u, 0x01020304u, 0x64096309u};
    int wrong = 0;
    char want[INET_ADDRSTRLEN];
    uint32_t v = 12345u;
    for (size_t step = 0; step < 5000; step++) {
        v = v * 2654435761u + 12345u;
        uint32_t host = step < sizeof edges / sizeof edges[0] ? edges[step] : v;
        s4.sin_addr.s_addr = htonl(host);
        inet_ntop(AF_INET, &s4.sin_addr, want, sizeof want);
        cidr_format_sockaddr((struct sockaddr *)&s4, text, sizeof text, &port);
        wrong += strcmp(text, want) != 0;
    }
    is_int(wrong, 0,
           "IPv4 text agrees with inet_ntop on 5000 addresses (0.0.0.0, 255.255.255.255, ...)");
    return done_testing();
}
