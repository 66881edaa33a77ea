/*
 * service: see include/service.h. A thin layer over sd_notify and sd_listen_fds; the address
 * comparison is kept here (pure) so that it can be unit-tested without a service manager.
 */
#include "service.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>

void service_notify_ready(void)
{
    sd_notify(0, "READY=1\nSTATUS=serving");
}

void service_notify_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char msg[96];
    snprintf(msg, sizeof msg, "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%" PRIu64,
             (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
    sd_notify(0, msg);
}

void service_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1\nSTATUS=draining");
}

int service_listen_fds(int *out, size_t max, const char **why)
{
    int n = sd_listen_fds(1); /* 1: unset LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES */
    if (n < 0) {
        *why = strerror(-n);
        return -1;
    }
    if ((size_t)n > max) {
        *why = "too many sockets passed";
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
            *why = "a passed descriptor is not a listening stream socket";
            return -1;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        out[i] = fd;
    }
    return n;
}

/* An AF_INET6 address that is IPv4-mapped becomes the AF_INET one. */
static void normalize(const struct sockaddr *sa, struct sockaddr_in6 *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        out->sin6_family = AF_INET;
        out->sin6_port = in->sin_port;
        memcpy(&out->sin6_addr, &in->sin_addr, sizeof in->sin_addr);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        out->sin6_port = in6->sin6_port;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            out->sin6_family = AF_INET;
            memcpy(&out->sin6_addr, &in6->sin6_addr.s6_addr[12], 4);
        } else {
            out->sin6_family = AF_INET6;
            out->sin6_addr = in6->sin6_addr;
        }
    } else {
        out->sin6_family = sa->sa_family;
    }
}

bool service_same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
    struct sockaddr_in6 x, y;
    normalize(a, &x);
    normalize(b, &y);
    if (x.sin6_family != y.sin6_family || (x.sin6_family != AF_INET && x.sin6_family != AF_INET6))
        return false;
    return x.sin6_port == y.sin6_port &&
           memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
}

void service_format_addr(const struct sockaddr *sa, char *buf, size_t n)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(buf, n, "%s:%u", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(buf, n, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else if (sa->sa_family == AF_UNIX) {
        snprintf(buf, n, "unix:%s", ((const struct sockaddr_un *)sa)->sun_path);
    } else {
        snprintf(buf, n, "(address family %d)", sa->sa_family);
    }
}
