/*
 * cookie: the keyed hash a stateless SYN probe carries in its sequence number (zmap and
 * masscan's idea): SipHash-2-4 of the 4-tuple under a random per-scan secret, through
 * OpenSSL's EVP_MAC "SIPHASH" rather than a hand-written SipHash. An answer is ours when its
 * acknowledgement (minus one) is the cookie of its own 4-tuple, plus at most the attempt
 * number: nothing per probe is remembered, and a spoofed answer has to guess 32 bits.
 * The same keyed hash over any bytes (cookie_hash) is how the state database tells a
 * changed row from an unchanged one. The only file in probes/ that includes OpenSSL
 * headers.
 */
#ifndef WATCH53_COOKIE_H
#define WATCH53_COOKIE_H

#include <stddef.h>
#include <stdint.h>

#include "common/netaddr.h"

struct cookie;

/* A fresh random secret. NULL with a message (no SIPHASH in this OpenSSL, no randomness). */
struct cookie *cookie_new(char *err, size_t errlen);
/* The same with a given 16-octet key (tests). */
struct cookie *cookie_new_key(const uint8_t key[16], char *err, size_t errlen);
void cookie_free(struct cookie *c);

/* The 32-bit cookie of (src, dst, sport, dport); src and dst of one family. */
uint32_t cookie_of(struct cookie *c, const struct net_addr *src, const struct net_addr *dst,
		   uint16_t sport, uint16_t dport);

/* The 64-bit SipHash of any len bytes under the same secret (the state database tells a
 * changed row from an unchanged one by it: keyed, so a server cannot pick DNS facts that
 * collide). 0 only if libcrypto fails. */
uint64_t cookie_hash(struct cookie *c, const void *data, size_t len);

#endif
