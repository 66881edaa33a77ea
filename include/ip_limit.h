/*
 * ip_limit: open connections per client address, across every MHD daemon of every worker
 * (MHD's own per-IP limit counts per daemon only). MHD's accept policy callback asks
 * ip_limit_admit(); the connection is counted when it starts and uncounted when it closes.
 * Thread-safe. Connections accepted at the same moment on two workers may both pass the check
 * (at most one extra per other worker); a client never keeps more than that.
 */
#ifndef WHARF_IP_LIMIT_H
#define WHARF_IP_LIMIT_H

#include <stdbool.h>
#include <sys/socket.h>

struct ip_limit;

/** A limit of max connections per address; max 0 = unlimited (connections are still counted,
 *  so that a limit set later sees those already open). Every function below accepts NULL (no
 *  limit, nothing counted). */
struct ip_limit *ip_limit_new(unsigned max);
/** Change the limit (a reload); admissions from now on use it, connections already open stay.
 *  0 = unlimited. Thread-safe. */
void ip_limit_set_max(struct ip_limit *l, unsigned max);
bool ip_limit_admit(struct ip_limit *l, const struct sockaddr *sa);
void ip_limit_add(struct ip_limit *l, const struct sockaddr *sa);
void ip_limit_remove(struct ip_limit *l, const struct sockaddr *sa);
/** Connections counted for sa now. */
unsigned ip_limit_count(struct ip_limit *l, const struct sockaddr *sa);
void ip_limit_free(struct ip_limit *l);

#endif
