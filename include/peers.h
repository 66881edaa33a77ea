/*
 * peers: git_peers fan-out. When a replica accepts a verified push webhook it tells its peers
 * (the other pods behind a headless Service), so every replica fetches at once instead of at
 * its next poll. Each NAME:PORT is resolved at each use (a headless Service's name gives one
 * address per pod, as pods come and go); the replica's own addresses are skipped. The
 * notification is a POST to the peer's git_hook path with X-Wharf-Event: peer, signed with the
 * site's secret (X-Wharf-Signature-256), whose body names the event and the time it was sent
 * (webhook_peer_body()): a peer refuses one older than WEBHOOK_PEER_MAX_AGE_S, so a captured
 * notification cannot be replayed for ever; it deploys on a fresh one and never passes it on.
 * Resolution runs on a thread of its own (getaddrinfo blocks); delivery is notify's (retried).
 */
#ifndef WHARF_PEERS_H
#define WHARF_PEERS_H

#include "config.h"

#include "webhook.h"

#define PEERS_QUEUE_MAX 16 /* fan-outs waiting for resolution; beyond, the oldest is dropped */
/* ms a failing delivery is retried: a minute short of the age at which peers refuse it (clock
 * skew, the last attempt's own time); polling covers a peer that missed it */
#define PEERS_RETRY_FOR_MS ((uint64_t)(WEBHOOK_PEER_MAX_AGE_S - 60) * 1000)

/** Queue a fan-out of site's push of ref to its git_peers. Copies what it needs (the site may
 *  be reloaded away); never blocks on DNS or the network. Starts the thread on first use. */
void peers_notify(const struct site_conf *site, const char *ref);
/** Stop the thread; queued fan-outs are dropped. */
void peers_stop(void);

#endif
