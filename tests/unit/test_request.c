/*
 * request: request_local_addr, the server address a handler reads for SERVER_ADDR/PORT from
 * the connection's context (request_conn) instead of asking the front: the socket's own end,
 * asked of the kernel once per connection and kept; NULL without a connection or socket.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "request.h"
#include "tap.h"

/* A listening TCP socket on 127.0.0.1 (any port); its port in *port. */
static int listener(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

int main(void)
{
    struct request r;
    memset(&r, 0, sizeof r);
    ok(request_local_addr(&r) == NULL, "no connection: NULL");

    struct request_conn conn = {.fd = -1};
    r.conn = &conn;
    ok(request_local_addr(&r) == NULL, "no socket: NULL");

    unsigned port1 = 0, port2 = 0;
    int l1 = listener(&port1), l2 = listener(&port2);
    ok(l1 >= 0 && l2 >= 0 && port1 != port2, "two listeners on 127.0.0.1");
    conn.fd = l1;
    const struct sockaddr *sa = request_local_addr(&r);
    ok(sa && sa->sa_family == AF_INET, "an IPv4 socket: its address");
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        is_int(ntohs(in->sin_port), port1, "... with the socket's port");
        is_int(ntohl(in->sin_addr.s_addr), INADDR_LOOPBACK, "... and address");
    }
    /* asked once per connection: a second request on it gets the kept answer */
    conn.fd = l2;
    struct request r2;
    memset(&r2, 0, sizeof r2);
    r2.conn = &conn;
    const struct sockaddr *sa2 = request_local_addr(&r2);
    ok(sa2 == sa, "the same connection: the kept address, not asked again");
    if (sa2 && sa2->sa_family == AF_INET)
        is_int(ntohs(((const struct sockaddr_in *)sa2)->sin_port), port1,
               "... still the first answer");
    close(l1);
    close(l2);
    return done_testing();
}
