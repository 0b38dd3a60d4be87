/* sign: Standard Webhooks key decoding and v1 (HMAC-SHA256) signatures, via libcrypto. */
#include "alerts/sign.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define SECRET_PREFIX "whsec_"
/* Base64 text of the largest key we accept, padded: 4 * ceil(64 / 3) = 88. */
#define B64_MAX (4 * ((SIGN_KEY_MAX + 2) / 3))
#define MAC_LEN 32 /* SHA-256 */

static bool
is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

int
sign_decode_key(const char *secret, uint8_t *key, size_t keymax, size_t *keylen)
{
	char padded[B64_MAX + 1];
	uint8_t tmp[B64_MAX / 4 * 3];
	size_t len, data, pad, out;
	int n, rc;

	if (secret == NULL || key == NULL || keylen == NULL)
		return -EINVAL;
	if (strncmp(secret, SECRET_PREFIX, strlen(SECRET_PREFIX)) == 0)
		secret += strlen(SECRET_PREFIX);
	len = strlen(secret);
	/* The digits, then at most two '=' that must complete a 4-character group. */
	for (data = 0; data < len && is_b64(secret[data]); data++)
		;
	pad = len - data;
	if (data == 0 || pad > 2 || (pad > 0 && len % 4 != 0) || data % 4 == 1) {
		rc = -EINVAL;
		goto bad;
	}
	for (size_t i = data; i < len; i++) {
		if (secret[i] != '=') {
			rc = -EINVAL;
			goto bad;
		}
	}
	/* Each 4 characters carry 3 bytes; a final group of 2 or 3 carries 1 or 2. */
	out = data / 4 * 3 + (data % 4 == 0 ? 0 : data % 4 - 1);
	if (out < SIGN_KEY_MIN || out > keymax || data > B64_MAX) {
		rc = -ERANGE;
		goto bad;
	}
	/* EVP_DecodeBlock wants whole groups and counts padding as zero bytes: pad it here,
	 * and take the length from our own count rather than from its return value. */
	memcpy(padded, secret, data);
	while (data % 4 != 0)
		padded[data++] = '=';
	padded[data] = '\0';
	n = EVP_DecodeBlock(tmp, (const unsigned char *)padded, (int)data);
	if (n < 0 || (size_t)n < out) {
		rc = -EINVAL;
		goto bad;
	}
	memcpy(key, tmp, out);
	*keylen = out;
	rc = 0;
	goto done;
bad:
	if (keymax > 0)
		OPENSSL_cleanse(key, keymax);
done:
	OPENSSL_cleanse(padded, sizeof(padded));
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return rc;
}

int
sign_webhook(const uint8_t *key, size_t keylen, const char *msg_id, uint64_t timestamp_s,
	     const char *body, size_t body_len, char *out, size_t outlen)
{
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *ctx = NULL;
	unsigned char mac[MAC_LEN];
	size_t maclen = sizeof(mac);
	char ts[24];
	int rc;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (key == NULL || keylen == 0 || msg_id == NULL || msg_id[0] == '\0' ||
	    (body == NULL && body_len > 0) || out == NULL)
		return -EINVAL;
	if (outlen < SIGN_SIG_LEN)
		return -ENOSPC;
	snprintf(ts, sizeof(ts), "%" PRIu64, timestamp_s);

	/* EVP_PKEY HMAC + DigestSign streams the three parts without copying the body and is
	 * neither deprecated in OpenSSL 3 nor missing in 1.1.1 (EVP_MAC is 3.0 only). */
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_HMAC, NULL, key, keylen);
	ctx = EVP_MD_CTX_new();
	if (pkey == NULL || ctx == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestSignUpdate(ctx, msg_id, strlen(msg_id)) != 1 ||
	    EVP_DigestSignUpdate(ctx, ".", 1) != 1 ||
	    EVP_DigestSignUpdate(ctx, ts, strlen(ts)) != 1 ||
	    EVP_DigestSignUpdate(ctx, ".", 1) != 1 ||
	    (body_len > 0 && EVP_DigestSignUpdate(ctx, body, body_len) != 1) ||
	    EVP_DigestSignFinal(ctx, mac, &maclen) != 1 || maclen != MAC_LEN) {
		rc = -EIO;
		goto out;
	}
	memcpy(out, "v1,", 3);
	/* 44 characters and a NUL: fits, SIGN_SIG_LEN was checked above. */
	EVP_EncodeBlock((unsigned char *)out + 3, mac, MAC_LEN);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}
