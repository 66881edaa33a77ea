/*
 * notify: outbound deploy events (git_notify). Each event is POSTed as JSON to every URL,
 * signed like an inbound webhook (X-Wharf-Signature-256: sha256=<hex HMAC-SHA256 of the body>),
 * by libcurl on a thread of its own: queueing never waits for the network, so a slow or dead
 * receiver never delays a deploy, and deliveries run concurrently (a multi handle), so it
 * never holds back the other receivers either. A delivery that fails (no connection, a timeout, a
 * status that is not 2xx) is retried with a doubling delay (1 s, 2 s, 4 s ... at most 60 s apart)
 * until NOTIFY_RETRY_FOR_MS (or the caller's shorter bound) after it was queued, then dropped
 * with an error in the log. At most
 * NOTIFY_QUEUE_MAX deliveries wait; beyond that the oldest is dropped.
 */
#ifndef WHARF_NOTIFY_H
#define WHARF_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define NOTIFY_RETRY_FOR_MS (10 * 60 * 1000) /* a delivery is given up after this */
#define NOTIFY_QUEUE_MAX 256
#define NOTIFY_TIMEOUT_MS 10000 /* one attempt, connection included */

/** Queue one POST of body (len bytes of JSON) to each of urls, signed with secret (NULL or
 *  empty: unsigned), with X-Wharf-Event: event. ca_file: a PEM CA bundle for https (NULL =
 *  the system's). retry_for_ms: how long a failing delivery is retried (0 or more than
 *  NOTIFY_RETRY_FOR_MS: NOTIFY_RETRY_FOR_MS). tag names the site in the log. Copies
 *  everything; starts the delivery thread on first use. Thread-safe; never blocks on the
 *  network. */
void notify_post(const struct str_list *urls, const char *secret, const char *ca_file,
                 const char *event, const char *body, size_t len, uint64_t retry_for_ms,
                 const char *tag);
/** Wait until every queued delivery is done (or given up), at most ms (the command line,
 *  before it exits). */
void notify_flush(uint64_t ms);
/** Stop the thread; what is still queued is dropped (logged). It starts again on the next
 *  notify_post. */
void notify_stop(void);

#endif
