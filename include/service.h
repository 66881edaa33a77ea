/*
 * service: what wharf tells its service manager and takes from it, through libsystemd.
 * Notifications (sd_notify) are no-ops when NOTIFY_SOCKET is not set, so wharf runs the same
 * from a shell. Sockets passed by socket activation (sd_listen_fds: LISTEN_FDS/LISTEN_PID)
 * are taken once at start-up; http_front matches them to listen / tls_listen by address.
 */
#ifndef WHARF_SERVICE_H
#define WHARF_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define SERVICE_MAX_FDS 64

/** READY=1: start-up is done, the listeners are open (also after a reload). */
void service_notify_ready(void);
/** RELOADING=1 with MONOTONIC_USEC: a reload has begun; service_notify_ready() ends it. */
void service_notify_reloading(void);
/** STOPPING=1: draining, then exit. */
void service_notify_stopping(void);

/**
 * Take the listening sockets the service manager passed (first call only; later calls give
 * 0). They are made close-on-exec and LISTEN_* is removed from the environment, so php-fpm and
 * git inherit neither. Returns how many (at most max, in out), or -1 with a reason in *why.
 */
int service_listen_fds(int *out, size_t max, const char **why);

/** Whether two socket addresses are the same (family, address and port; IPv4-mapped IPv6
 *  addresses equal their IPv4 address). Pure. */
bool service_same_addr(const struct sockaddr *a, const struct sockaddr *b);

/** "127.0.0.1:80", "[::]:443" or "unix:/path" for messages. Pure. */
void service_format_addr(const struct sockaddr *sa, char *buf, size_t n);

#endif
