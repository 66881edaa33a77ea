/* service: the pure parts (address comparison and formatting used to match sockets passed by
 * socket activation to listen / tls_listen). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "service.h"
#include "tap.h"

static struct sockaddr_in v4(const char *a, unsigned port)
{
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, a, &s.sin_addr);
    return s;
}

static struct sockaddr_in6 v6(const char *a, unsigned port)
{
    struct sockaddr_in6 s = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    inet_pton(AF_INET6, a, &s.sin6_addr);
    return s;
}

#define SA(x) ((const struct sockaddr *)&(x))

int main(void)
{
    struct sockaddr_in a = v4("127.0.0.1", 8080), b = v4("127.0.0.1", 8080);
    struct sockaddr_in c = v4("127.0.0.1", 8081), d = v4("127.0.0.2", 8080);
    ok(service_same_addr(SA(a), SA(b)), "same IPv4 address and port");
    ok(!service_same_addr(SA(a), SA(c)), "another port differs");
    ok(!service_same_addr(SA(a), SA(d)), "another address differs");
    struct sockaddr_in6 any6 = v6("::", 80), any6b = v6("::", 80), lo6 = v6("::1", 80);
    struct sockaddr_in any4 = v4("0.0.0.0", 80);
    ok(service_same_addr(SA(any6), SA(any6b)), "[::]:80 is [::]:80");
    ok(!service_same_addr(SA(any6), SA(lo6)), "[::]:80 is not [::1]:80");
    ok(!service_same_addr(SA(any6), SA(any4)), "[::]:80 is not 0.0.0.0:80");
    struct sockaddr_in6 mapped = v6("::ffff:127.0.0.1", 8080);
    ok(service_same_addr(SA(mapped), SA(a)), "an IPv4-mapped address equals its IPv4 address");
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    strcpy(un.sun_path, "/run/x.sock");
    ok(!service_same_addr(SA(un), SA(un)), "unix sockets never match a listen address");

    char buf[128];
    service_format_addr(SA(a), buf, sizeof buf);
    is_str(buf, "127.0.0.1:8080", "format IPv4");
    service_format_addr(SA(lo6), buf, sizeof buf);
    is_str(buf, "[::1]:80", "format IPv6");
    service_format_addr(SA(un), buf, sizeof buf);
    is_str(buf, "unix:/run/x.sock", "format unix");
    return done_testing();
}
