/*
 * real_ip: the client's address behind trusted proxies (trusted_proxies, real_ip_header).
 * Pure: no I/O, no locks.
 *
 * A proxy appends the address it received the request from to X-Forwarded-For (a comma
 * list) or adds a Forwarded element (RFC 7239: `for=192.0.2.60;proto=https`, IPv6 as
 * `for="[2001:db8::17]:4711"`). Only the right end of that list can be believed: each hop
 * we trust vouches for the address to its left, and anything further left was written by
 * the client. So the walk starts at the connection's peer and goes right to left while the
 * current hop is trusted; the first untrusted address is the client. If every address is
 * trusted, the leftmost is used. An entry that is not an address (garbage, "unknown", an
 * obfuscated RFC 7239 identifier) stops the walk: the hop that wrote it is the client as
 * far as anyone can tell. A peer that is not trusted is the client whatever the header says.
 */
#ifndef WHARF_REAL_IP_H
#define WHARF_REAL_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

enum real_ip_header {
    REAL_IP_X_FORWARDED_FOR = 0,
    REAL_IP_FORWARDED,
};

/**
 * The client address into out (16-byte form, cidr.h): peer when it is not inside trusted,
 * else the result of the right-to-left walk over value[0..len) (the header's field lines
 * joined with ','; NULL/0 when absent). Returns true when out differs from peer.
 */
bool real_ip_resolve(enum real_ip_header kind, const char *value, size_t len,
                     const struct cidr *trusted, size_t n_trusted, const uint8_t peer[16],
                     uint8_t out[16]);

/** One X-Forwarded-For entry ("192.0.2.1", "2001:db8::1", "[2001:db8::1]:80",
 *  "192.0.2.1:80"; blanks around it allowed) into out; false if it is not an address. */
bool real_ip_parse_xff_entry(const char *s, size_t n, uint8_t out[16]);

/** One Forwarded element ("for=192.0.2.60;proto=http", `For="[2001:db8::17]:4711"`): the
 *  address of its for= parameter into out; false when there is none or it is not an address
 *  ("unknown", "_hidden", a malformed element). */
bool real_ip_parse_forwarded_element(const char *s, size_t n, uint8_t out[16]);

#endif
