/*
 * fcgi_exchange: one FastCGI request/response exchange on one connection, from BEGIN_REQUEST
 * to END_REQUEST, as a state machine that does no socket I/O (FastCGI spec 1.0, responder
 * role, one request at a time: php-fpm does not multiplex). Each request on a connection
 * takes the next request id (1, 2, ... 65535, 1, ...), so records a broken backend sends
 * after an END_REQUEST are refused as another request's, never read as the next one's.
 *
 * Sending: fcgi_exchange_start encodes BEGIN_REQUEST (FCGI_KEEP_CONN) + PARAMS + the empty
 * PARAMS (+ the empty STDIN for a request without a body, so a GET is one write); then STDIN
 * from memory or the body file in FCGI_EXCHANGE_STDIN_CHUNK pieces, then the empty STDIN. The
 * caller asks what to write (fcgi_exchange_to_send), writes what it can and says how much
 * (fcgi_exchange_sent); the next piece is encoded as soon as the previous one is all written,
 * so a caller that writes until the socket is full never waits for an EPOLLOUT with nothing
 * queued. The one I/O it does: pread() of the request-body file (the fd stays the caller's).
 *
 * Receiving: the caller hands in the bytes it read (fcgi_exchange_recv), split anywhere. They
 * are decoded (fcgi_record), STDOUT goes into the CGI head parser (cgi_response) and, once the
 * head is complete, to the sink as body bytes (dropped for HEAD); STDERR lines go to the sink,
 * at most FCGI_EXCHANGE_STDERR_LOG_MAX bytes of them per request, each cut at
 * FCGI_EXCHANGE_STDERR_LINE_MAX. END_REQUEST ends it: complete after a complete head, refused
 * (FCGI_OVERLOADED: overloaded; FCGI_CANT_MPX_CONN, FCGI_UNKNOWN_ROLE: broken), or early (no
 * complete head: broken). Malformed records, a malformed or oversized head, and a connection
 * that ends before END_REQUEST (fcgi_exchange_eof) are broken too.
 *
 * Not its business: sockets, deadlines, retries, locks, or where body bytes go (the sink).
 * One exchange lives in one connection and serves its requests one after another; not
 * thread-safe (the connection's thread drives it).
 */
#ifndef WHARF_FCGI_EXCHANGE_H
#define WHARF_FCGI_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cgi_response.h"
#include "fcgi_record.h"

#define FCGI_EXCHANGE_STDIN_CHUNK (32u * 1024)    /* body bytes encoded per STDIN record */
#define FCGI_EXCHANGE_STDERR_LOG_MAX (64u * 1024) /* per request; the rest is dropped */
#define FCGI_EXCHANGE_STDERR_LINE_MAX 2000        /* bytes kept of one STDERR line */

/* Where the application's output goes. ctx is fcgi_exchange_input.ctx. */
struct fcgi_exchange_sink {
    /** Response body bytes (after the head; never for HEAD), len > 0. data points into the
     *  bytes given to fcgi_exchange_recv and is only valid during the call. */
    void (*body)(void *ctx, const uint8_t *data, size_t len);
    /** One STDERR line, without its newline, NUL-terminated, at most
     *  FCGI_EXCHANGE_STDERR_LINE_MAX bytes (the rest of a longer line is dropped); empty lines
     *  are not passed (a NUL inside a line ends it as a C string, as it does for the log). */
    void (*stderr_line)(void *ctx, const char *line);
};

/* One request to send; everything is borrowed and must outlive the exchange (until
 * fcgi_exchange_finish). */
struct fcgi_exchange_input {
    const void *params; /* PARAMS content: name-value pairs (fcgi_record_pair) */
    size_t params_len;
    const void *body_mem;         /* the request body in memory, when body_fd < 0 */
    int body_fd;                  /* else the file holding it, read with pread from offset 0 */
    uint64_t body_len;            /* bytes of request body; 0 = none */
    bool is_head;                 /* a HEAD request: body bytes are not passed to the sink */
    struct cgi_head_parser *head; /* the caller's, fed STDOUT until the head is complete */
    const struct fcgi_exchange_sink *sink;
    void *ctx;
};

enum fcgi_exchange_status {
    FCGI_EXCHANGE_MORE,       /* all bytes taken; the response goes on */
    FCGI_EXCHANGE_END,        /* END_REQUEST, complete, after a complete head */
    FCGI_EXCHANGE_OVERLOADED, /* END_REQUEST with FCGI_OVERLOADED: the application is busy */
    FCGI_EXCHANGE_BROKEN,     /* anything else that ends it early: see fcgi_exchange_error */
};

/* Transparent so it can live inside a connection; fields are private to fcgi_exchange.c. */
struct fcgi_exchange {
    struct fcgi_exchange_input in;
    bool active;        /* started and not finished */
    uint8_t *stdin_buf; /* FCGI_EXCHANGE_STDIN_CHUNK bytes for pread, shared (see init) */
    struct buf out;     /* encoded records being written: the head records, then one STDIN piece */
    size_t out_off;     /* bytes of out written */
    uint64_t body_off;  /* request body bytes encoded so far */
    bool stdin_done;    /* the empty STDIN record is encoded */
    bool head_done;     /* the head parser finished */
    enum fcgi_exchange_status status;
    uint16_t request_id; /* the current request's id; 0 before the first */
    bool trailing;       /* bytes came after the END_REQUEST */
    const char *why;     /* the reason, once status is OVERLOADED or BROKEN */
    struct fcgi_dec dec;
    struct buf stderr_line; /* the STDERR line being collected */
    uint64_t stderr_logged; /* STDERR bytes passed or skipped past, newlines counted */
};

/** Prepare x for a connection. stdin_buf (FCGI_EXCHANGE_STDIN_CHUNK bytes) is scratch space
 *  for reading the body file; exchanges driven by one thread may share one. Allocates
 *  nothing. */
void fcgi_exchange_init(struct fcgi_exchange *x, uint8_t *stdin_buf);

/** Free what x holds (the connection is gone). Does not call the sink. */
void fcgi_exchange_dispose(struct fcgi_exchange *x);

/** Begin the request *in (copied; what it points to is borrowed) on x, which is not active:
 *  encode BEGIN_REQUEST + PARAMS and reset the decoder for the answer. */
void fcgi_exchange_start(struct fcgi_exchange *x, const struct fcgi_exchange_input *in);

/** The bytes to write next: *data, *len. *len 0 when everything is written (the request is
 *  complete; only reading is left). -1 when the body file cannot be read (errno; a short
 *  file counts as EIO); x cannot go on then. */
int fcgi_exchange_to_send(struct fcgi_exchange *x, const uint8_t **data, size_t *len);

/** n of the bytes fcgi_exchange_to_send offered were written. */
void fcgi_exchange_sent(struct fcgi_exchange *x, size_t n);

/** Take n bytes the application sent. Sets *head_now (left alone otherwise) when the CGI head
 *  was completed by these bytes. Returns MORE, or how the exchange ended (then sticky: later
 *  calls take nothing and return the same). Bytes after END_REQUEST are ignored, and noted
 *  (fcgi_exchange_trailing). */
enum fcgi_exchange_status fcgi_exchange_recv(struct fcgi_exchange *x, const uint8_t *data, size_t n,
                                             bool *head_now);

/** The connection ended (EOF) while the exchange was not over: a truncated response.
 *  Returns the status (BROKEN, or how it had ended already). */
enum fcgi_exchange_status fcgi_exchange_eof(struct fcgi_exchange *x);

/** A cgi_env_build callback (cgi_env.h) that appends one param to ctx, a struct buf, as a
 *  FastCGI name-value pair: how the MHD side collects what fcgi_exchange_input.params holds.
 *  -1 when the buf's ceiling would be exceeded. */
int fcgi_exchange_param(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen);

/** The request id of the current (or last) request: what its records carry. */
uint16_t fcgi_exchange_request_id(const struct fcgi_exchange *x);

/** Whether bytes followed END_REQUEST in what fcgi_exchange_recv was given: the backend
 *  writes more than one answer, so its connection must not carry another request. */
bool fcgi_exchange_trailing(const struct fcgi_exchange *x);

/** Why the exchange ended early ("upstream overloaded" ...); NULL while it has not. */
const char *fcgi_exchange_error(const struct fcgi_exchange *x);

/** The request leaves x (ended, failed or abandoned): a last STDERR line without its newline
 *  goes to the sink, and x forgets the input. Nothing if x is not active. The connection may
 *  then carry the next request (fcgi_exchange_start). */
void fcgi_exchange_finish(struct fcgi_exchange *x);

#endif
