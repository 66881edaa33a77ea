/*
 * listen_queue: how many connections wait in a local listening socket's accept queue, as
 * `ss -lx` shows it (Recv-Q of a listener), asked of the kernel through NETLINK_SOCK_DIAG.
 * fcgi_pool uses it to see requests sitting in php-fpm's listen queue for want of a child.
 * Linux only; elsewhere the answer is always "unknown".
 */
#ifndef WHARF_LISTEN_QUEUE_H
#define WHARF_LISTEN_QUEUE_H

/** Connections not yet accepted on the listening unix socket bound at path, or -1 when that
 *  is unknown (no such listener, no sock_diag). One netlink dump of the listening unix
 *  sockets: blocking, but local and short. Thread-safe. */
int listen_queue_unix(const char *path);

#endif
