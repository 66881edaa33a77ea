/*
 * fcgi_record: the FastCGI record codec, client side (FastCGI spec 1.0). Encoders for what
 * a web server sends (BEGIN_REQUEST, PARAMS/STDIN/DATA streams, ABORT_REQUEST, GET_VALUES,
 * name-value pairs) and a resumable decoder for what an application sends back (STDOUT,
 * STDERR, END_REQUEST, GET_VALUES_RESULT, UNKNOWN_TYPE). Pure: no I/O, no locks, no clock.
 *
 * Wire constants and layouts come from libfcgi's <fastcgi.h> (FCGI_STDOUT, FCGI_KEEP_CONN,
 * FCGI_Header ...), which this header includes for its callers; they are never redefined.
 */
#ifndef WHARF_FCGI_RECORD_H
#define WHARF_FCGI_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fastcgi.h>

#include "buf.h"

/** Largest GET_VALUES_RESULT body the decoder buffers; a bigger one is a decode error. */
#define FCGI_DEC_VALUES_MAX 4096

/*
 * Encoders append complete records (or, for fcgi_record_pair, one pair body) to out and
 * return 0, or -1 when out's ceiling would be exceeded; out is then left exactly as it was.
 * Padding bytes are zero. All are thread-safe (no state of their own).
 */

/** BEGIN_REQUEST for request id with the given role (FCGI_RESPONDER ...); FCGI_KEEP_CONN if
 * keep_conn, so the application leaves the connection open after END_REQUEST. */
int fcgi_record_begin(struct buf *out, uint16_t id, uint16_t role, bool keep_conn);

/**
 * One name-value pair body (spec 3.4), NOT a record: each length takes 1 byte below 128 and
 * 4 bytes (high bit set) from 128 on. Wrap the result with fcgi_record_stream(FCGI_PARAMS).
 * -1 also when a length is over 0x7fffffff (the most 31 bits can say); nothing is read then.
 */
int fcgi_record_pair(struct buf *out, const char *name, size_t nlen, const char *value,
                     size_t vlen);

/**
 * Stream content of type FCGI_PARAMS, FCGI_STDIN or FCGI_DATA for request id, split into
 * records of at most FCGI_MAX_LENGTH (65535) content bytes, each padded to a multiple of 8.
 * len 0 emits the empty record that ends the stream; len > 0 never does, so a stream is
 * closed by one final call with len 0. data may be NULL when len is 0.
 */
int fcgi_record_stream(struct buf *out, uint8_t type, uint16_t id, const void *data, size_t len);

/** ABORT_REQUEST for request id (an empty record). */
int fcgi_record_abort(struct buf *out, uint16_t id);

/**
 * One GET_VALUES management record (id 0) asking for the n NUL-terminated names (usually
 * FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS), each with an empty value. -1 also when
 * the body would not fit one record (65535 bytes). n 0 gives an empty query.
 */
int fcgi_record_get_values(struct buf *out, const char *const *names, size_t n);

/*
 * Decoder. Feed it the application's bytes in pieces of any size; it never needs a whole
 * record in one piece and copies stream content nowhere.
 */

enum fcgi_dec_status {
    FCGI_DEC_NEED_MORE, /* every byte given was consumed; call again with more */
    FCGI_DEC_EVENT,     /* *ev is filled in; bytes past *consumed are still to be fed */
    FCGI_DEC_ERROR,     /* the stream is broken; sticky until fcgi_dec_init */
};

struct fcgi_dec_event {
    uint8_t type;            /* FCGI_STDOUT, FCGI_STDERR, FCGI_END_REQUEST, FCGI_GET_VALUES_RESULT,
                                FCGI_UNKNOWN_TYPE */
    uint16_t id;             /* the record's request id (0 for the management types) */
    const uint8_t *data;     /* see fcgi_dec_feed for where this points; never padding */
    size_t len;              /* 0 for STDOUT/STDERR = that stream's end */
    uint32_t app_status;     /* END_REQUEST only, else 0 */
    uint8_t protocol_status; /* END_REQUEST only (FCGI_REQUEST_COMPLETE ...), else 0 */
};

/* Transparent so it can live inside a connection; its fields are private to fcgi_record.c. */
struct fcgi_dec {
    uint16_t request_id;   /* the one non-zero id accepted; 0 = management records only */
    uint8_t state;         /* where in a record the next byte belongs */
    uint8_t hdr_len;       /* header bytes gathered so far */
    FCGI_Header hdr;       /* the current record's header */
    uint16_t content_left; /* content bytes of the current record still to come */
    uint16_t body_len;     /* bytes gathered in body/values */
    uint8_t pad_left;      /* padding bytes still to skip */
    union {
        FCGI_EndRequestBody end;
        FCGI_UnknownTypeBody unknown;
        uint8_t raw[8];
    } body;                              /* END_REQUEST / UNKNOWN_TYPE content */
    uint8_t values[FCGI_DEC_VALUES_MAX]; /* GET_VALUES_RESULT content */
    char why[96];                        /* the error, once state is the error state */
};

/**
 * Start (or restart, for the next request on a kept connection) decoding the replies to
 * request_id. STDOUT/STDERR/END_REQUEST for any other id, and for id 0, are errors. Cheap:
 * it does not clear the 4 KiB values buffer.
 */
void fcgi_dec_init(struct fcgi_dec *d, uint16_t request_id);

/**
 * Consume bytes from in[0..n) and return at most one event; *consumed is always set to the
 * number of bytes used. Call again with the rest after an EVENT. An EVENT consumes at least
 * one byte and NEED_MORE consumes all n, so a loop over the input always ends.
 *
 * STDOUT/STDERR content is emitted as it arrives, zero-copy: ev->data points into in and
 * stays valid as long as in does. One record may come as several events when the input is
 * split; an empty record gives one event with len 0. END_REQUEST (8-byte body) is emitted
 * once its padding is consumed too, so the next byte belongs to whatever follows it;
 * ev->data is its raw body (len 8) and app_status/protocol_status are decoded. After it the
 * decoder expects nothing until fcgi_dec_init: more bytes are an error. GET_VALUES_RESULT
 * (id 0, at most FCGI_DEC_VALUES_MAX bytes) is emitted whole, ev->data pointing into d
 * (valid until the next feed); parse it with fcgi_parse_pairs. UNKNOWN_TYPE (id 0, 8-byte
 * body) carries the type the application did not understand in ev->data[0].
 *
 * Errors: version other than FCGI_VERSION_1; a type an application never sends
 * (BEGIN_REQUEST, ABORT_REQUEST, PARAMS, STDIN, DATA, GET_VALUES) or an unknown one; an
 * application record whose id is 0 or not request_id; a management record whose id is not
 * 0; END_REQUEST or UNKNOWN_TYPE whose body is not 8 bytes; GET_VALUES_RESULT over
 * FCGI_DEC_VALUES_MAX; any byte after END_REQUEST. On ERROR *consumed counts the bytes read
 * up to and including the one that showed the error; later calls consume nothing. ev is
 * written only on EVENT. Not thread-safe per decoder.
 */
enum fcgi_dec_status fcgi_dec_feed(struct fcgi_dec *d, const uint8_t *in, size_t n,
                                   size_t *consumed, struct fcgi_dec_event *ev);

/** Why the decoder failed, for the log ("unexpected STDIN record" ...); NULL if it has not. */
const char *fcgi_dec_error(const struct fcgi_dec *d);

/* One name-value pair; return 0 to go on. */
typedef int (*fcgi_pair_cb)(void *ctx, const char *name, size_t nlen, const char *value,
                            size_t vlen);

/**
 * Walk the name-value pairs in p[0..n) (a GET_VALUES_RESULT body), calling cb for each.
 * name and value point into p and are not NUL-terminated. A non-zero return from cb stops
 * the walk and is returned. Returns 0 when all pairs were walked, -1 if the body is
 * malformed (a length or a name/value running past n); pairs before the fault were passed
 * to cb already.
 */
int fcgi_parse_pairs(const uint8_t *p, size_t n, fcgi_pair_cb cb, void *ctx);

#endif
