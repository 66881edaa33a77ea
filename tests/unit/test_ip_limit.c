#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "ip_limit.h"
#include "tap.h"

static struct sockaddr_in v4(const char *text)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(1234)};
    inet_pton(AF_INET, text, &sa.sin_addr);
    return sa;
}

static struct sockaddr_in6 v6(const char *text)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(1234)};
    inet_pton(AF_INET6, text, &sa.sin6_addr);
    return sa;
}

#define SA(x) ((const struct sockaddr *)&(x))

int main(void)
{
    struct sockaddr_in a = v4("192.0.2.1");
    /* limit 0 = unlimited, but counted: a reload that sets a limit sees the open ones */
    struct ip_limit *u = ip_limit_new(0);
    for (int i = 0; i < 3; i++) {
        ok(ip_limit_admit(u, SA(a)), "unlimited: admitted");
        ip_limit_add(u, SA(a));
    }
    is_int(ip_limit_count(u, SA(a)), 3, "unlimited: still counted");
    ip_limit_set_max(u, 3);
    ok(!ip_limit_admit(u, SA(a)), "a limit set later counts the connections already open");
    ip_limit_set_max(u, 4);
    ok(ip_limit_admit(u, SA(a)), "raised: admitted again");
    ip_limit_set_max(u, 2);
    ip_limit_remove(u, SA(a));
    ok(!ip_limit_admit(u, SA(a)), "lowered below the open ones: refused until enough close");
    ip_limit_remove(u, SA(a));
    ok(ip_limit_admit(u, SA(a)), "... then admitted");
    ip_limit_set_max(u, 0);
    ip_limit_add(u, SA(a));
    ip_limit_add(u, SA(a));
    ok(ip_limit_admit(u, SA(a)), "set back to 0: unlimited");
    ip_limit_free(u);

    ok(ip_limit_admit(NULL, SA(a)), "no table admits everything");
    ip_limit_add(NULL, SA(a)); /* must not crash */
    ip_limit_remove(NULL, SA(a));

    struct ip_limit *l = ip_limit_new(2);
    struct sockaddr_in b = v4("192.0.2.2");
    ok(ip_limit_admit(l, SA(a)), "first connection admitted");
    ip_limit_add(l, SA(a));
    ok(ip_limit_admit(l, SA(a)), "second connection admitted");
    ip_limit_add(l, SA(a));
    is_int(ip_limit_count(l, SA(a)), 2, "two counted");
    ok(!ip_limit_admit(l, SA(a)), "third connection from the same address refused");
    ok(ip_limit_admit(l, SA(b)), "another address is unaffected");
    ip_limit_remove(l, SA(a));
    ok(ip_limit_admit(l, SA(a)), "after one closes, a new one is admitted");
    ip_limit_remove(l, SA(a));
    is_int(ip_limit_count(l, SA(a)), 0, "all closed: nothing counted");
    ip_limit_remove(l, SA(a)); /* an extra remove must not underflow */
    is_int(ip_limit_count(l, SA(a)), 0, "an extra remove keeps the count at 0");

    /* a port does not make a different client; an IPv4-mapped IPv6 address is the same client */
    struct sockaddr_in a2 = v4("192.0.2.1");
    a2.sin_port = htons(999);
    struct sockaddr_in6 mapped = v6("::ffff:192.0.2.1");
    ip_limit_add(l, SA(a2));
    ip_limit_add(l, SA(mapped));
    ok(!ip_limit_admit(l, SA(a)), "IPv4 and IPv4-mapped IPv6 count as one address, ports ignored");
    struct sockaddr_in6 c = v6("2001:db8::1"), d = v6("2001:db8::2");
    ip_limit_add(l, SA(c));
    ip_limit_add(l, SA(c));
    ok(!ip_limit_admit(l, SA(c)), "IPv6 addresses are limited");
    ok(ip_limit_admit(l, SA(d)), "a neighbouring IPv6 address is separate");

    struct sockaddr sun = {.sa_family = AF_UNIX};
    ip_limit_add(l, &sun);
    ip_limit_add(l, &sun);
    ip_limit_add(l, &sun);
    ok(ip_limit_admit(l, &sun), "addresses without an IP (unix sockets) are not limited");

    /* many addresses in the table at once, then all gone again */
    char text[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(text, sizeof text, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
        struct sockaddr_in x = v4(text);
        ip_limit_add(l, SA(x));
    }
    struct sockaddr_in probe = v4("10.0.19.135"); /* i = 4999, the last one added */
    is_int(ip_limit_count(l, SA(probe)), 1, "5000 addresses: each counted once");
    for (int i = 0; i < 5000; i++) {
        snprintf(text, sizeof text, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
        struct sockaddr_in x = v4(text);
        ip_limit_remove(l, SA(x));
    }
    is_int(ip_limit_count(l, SA(probe)), 0, "and uncounted when they close");
    ip_limit_free(l);
    return done_testing();
}
