/*
 * peers: git_peers fan-out. When a replica accepts a verified push webhook it tells its peers
 * (the other pods behind a headless Service), so every replica fetches at once instead of at
 * its next poll. Each NAME:PORT is resolved at each use (a headless Service's name gives one
 * address per pod, as pods come and go); the replica's own addresses are skipped. The
 * notification is a POST to the peer's git_hook path with X-Wharf-Event: peer, signed with the
 * site's secret (X-Wharf-Signature-256); a peer deploys on it and never passes it on.
 * Resolution runs on a thread of its own (getaddrinfo blocks); delivery is notify's (retried).
 */
#ifndef WHARF_PEERS_H
#define WHARF_PEERS_H

#include "config.h"

#define PEERS_QUEUE_MAX 16 /* fan-outs waiting for resolution; beyond, the oldest is dropped */

/** Queue a fan-out of site's push of ref to its git_peers. Copies what it needs (the site may
 *  be reloaded away); never blocks on DNS or the network. Starts the thread on first use. */
void peers_notify(const struct site_conf *site, const char *ref);
/** Stop the thread; queued fan-outs are dropped. */
void peers_stop(void);

#endif
