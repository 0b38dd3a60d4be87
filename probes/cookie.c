/* cookie: SipHash-2-4 of a TCP 4-tuple under a per-scan secret, via OpenSSL EVP_MAC. */
#define _GNU_SOURCE /* explicit_bzero */
#include "probes/cookie.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/util.h"

struct cookie {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx; /* keyed once; every cookie_of re-initializes it with that key */
};

struct cookie *
cookie_new_key(const uint8_t key[16], char *err, size_t errlen)
{
	struct cookie *c = calloc(1, sizeof(*c));
	size_t outlen = 8;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outlen),
		OSSL_PARAM_END,
	};

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	if (c->mac == NULL) {
		snprintf(err, errlen, "this OpenSSL has no SIPHASH MAC (OpenSSL 3 is needed)");
		goto bad;
	}
	c->ctx = EVP_MAC_CTX_new(c->mac);
	if (c->ctx == NULL || EVP_MAC_init(c->ctx, key, 16, params) != 1) {
		snprintf(err, errlen, "cannot key the SIPHASH MAC");
		goto bad;
	}
	return c;
bad:
	cookie_free(c);
	return NULL;
}

struct cookie *
cookie_new(char *err, size_t errlen)
{
	uint8_t key[16];
	struct cookie *c;

	if (util_random(key, sizeof(key)) < 0) {
		snprintf(err, errlen, "no randomness for the scan secret (getrandom failed)");
		return NULL;
	}
	c = cookie_new_key(key, err, errlen);
	explicit_bzero(key, sizeof(key));
	return c;
}

void
cookie_free(struct cookie *c)
{
	if (c == NULL)
		return;
	EVP_MAC_CTX_free(c->ctx);
	EVP_MAC_free(c->mac);
	free(c);
}

uint32_t
cookie_of(struct cookie *c, const struct net_addr *src, const struct net_addr *dst,
	  uint16_t sport, uint16_t dport)
{
	uint8_t in[36], out[8];
	size_t alen = src->family == AF_INET6 ? 16 : 4, n = 0, outlen = 0;

	memcpy(in + n, src->bytes, alen);
	n += alen;
	memcpy(in + n, dst->bytes, alen);
	n += alen;
	in[n++] = (uint8_t)(sport >> 8);
	in[n++] = (uint8_t)sport;
	in[n++] = (uint8_t)(dport >> 8);
	in[n++] = (uint8_t)dport;
	/* re-init with a NULL key keeps the key set at creation (OpenSSL 3 SipHash) */
	if (EVP_MAC_init(c->ctx, NULL, 0, NULL) != 1 || EVP_MAC_update(c->ctx, in, n) != 1 ||
	    EVP_MAC_final(c->ctx, out, &outlen, sizeof(out)) != 1 || outlen < 4)
		return 0; /* cannot happen with a keyed context */
	return ((uint32_t)out[0] << 24) | ((uint32_t)out[1] << 16) | ((uint32_t)out[2] << 8) |
	       out[3];
}

uint64_t
cookie_hash(struct cookie *c, const void *data, size_t len)
{
	uint8_t out[8];
	size_t outlen = 0;
	uint64_t h = 0;

	if (EVP_MAC_init(c->ctx, NULL, 0, NULL) != 1 || EVP_MAC_update(c->ctx, data, len) != 1 ||
	    EVP_MAC_final(c->ctx, out, &outlen, sizeof(out)) != 1 || outlen != sizeof(out))
		return 0;
	for (size_t i = 0; i < sizeof(out); i++)
		h = h << 8 | out[i];
	return h;
}
