/*
 * cidr: IP addresses and CIDR blocks for the per-path IP rules (allow_ip, deny_ip) and
 * trusted_proxies. Pure: no I/O, no locks, no clock.
 *
 * Every address is kept as 16 bytes: an IPv6 address as it is, an IPv4 address as its
 * v4-mapped IPv6 form (::ffff:a.b.c.d), so "10.0.0.0/8" is ::ffff:10.0.0.0/104 and one
 * matcher serves both families; a client connecting over IPv6 with a v4-mapped address
 * (a dual-stack listener) matches the IPv4 rules, as it should.
 */
#ifndef WHARF_CIDR_H
#define WHARF_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CIDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

struct cidr {
    uint8_t addr[16]; /* the network, host bits cleared */
    unsigned bits;    /* 0..128, on the 16-byte form (an IPv4 /8 is 104) */
};

/**
 * Parses an address literal in text[0..len) ("192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1")
 * into its 16-byte form. No brackets, no port, no zone. Returns false if it is not one.
 */
bool cidr_parse_addr(const char *text, size_t len, uint8_t out[16]);

/**
 * Parses "ADDR", "ADDR/BITS" (BITS 0..32 for IPv4, 0..128 for IPv6; a lone address is a
 * /32 or /128) into *out. Returns NULL, or a static message saying what is wrong, for a
 * config error. Host bits set below the prefix ("10.1.2.3/8") are an error: it is almost
 * always a typo for a narrower block.
 */
const char *cidr_parse(const char *text, size_t len, struct cidr *out);

/** Whether addr (16-byte form) is inside c. */
bool cidr_contains(const struct cidr *c, const uint8_t addr[16]);

/** Whether addr is inside any of v[0..n). */
bool cidr_any(const struct cidr *v, size_t n, const uint8_t addr[16]);

/** The 16-byte form of a socket address (AF_INET or AF_INET6); false for other families. */
bool cidr_addr_of(const struct sockaddr *sa, uint8_t out[16]);

/** The address as text: dotted quad for a v4-mapped one, else RFC 5952 IPv6. out holds at
 *  least CIDR_TEXT_MAX bytes. */
void cidr_format_addr(const uint8_t addr[16], char *out, size_t n);

/** A socket address's host as text, as cidr_format_addr writes it, and its port in *port
 *  (0 when there is none); "-" for NULL or a family other than AF_INET/AF_INET6. out holds
 *  at least CIDR_TEXT_MAX bytes. Per request (CGI params, access log): IPv4 is written
 *  without printf, which glibc's inet_ntop uses. */
void cidr_format_sockaddr(const struct sockaddr *sa, char *out, size_t n, unsigned *port);

#endif
