/*
 * sign: Standard Webhooks signatures (https://www.standardwebhooks.com/) for the generic
 * webhook sink. The receiver verifies
 *   webhook-signature: v1,<base64(HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>"))>
 * with the same key, which it handed out as "whsec_" + base64. Pure: no I/O, no logging.
 */
#ifndef WATCH53_SIGN_H
#define WATCH53_SIGN_H

#include <stddef.h>
#include <stdint.h>

/* Standard Webhooks: a signing key is 24 to 64 bytes once decoded. Shorter or longer is
 * refused, here and in the config check (watch53.json(5)), so one rule holds everywhere. */
#define SIGN_KEY_MIN 24
#define SIGN_KEY_MAX 64

/* "v1," + base64 of a 32-byte MAC (44 characters) + NUL. */
#define SIGN_SIG_LEN 48

/*
 * Decode a secret: an optional "whsec_" prefix, then standard base64 (A-Z a-z 0-9 + /),
 * padding optional but, when present, only at the end and only as much as the length
 * needs. No whitespace. The config check calls this too, so a bad secret is found at load
 * time, not at the first alert.
 * Returns 0 with key[0 .. *keylen) set; -EINVAL when the text is empty or not base64;
 * -ERANGE when it decodes to fewer than SIGN_KEY_MIN or more than keymax bytes.
 * key is wiped on error. The secret is never copied anywhere but key.
 */
int sign_decode_key(const char *secret, uint8_t *key, size_t keymax, size_t *keylen);

/*
 * Write "v1,<base64 HMAC-SHA256(key, msg_id "." timestamp_s "." body)>" into out,
 * timestamp_s in decimal as sent in the webhook-timestamp header.
 * Returns 0; -EINVAL for a NULL/empty key or msg_id; -ENOSPC when outlen is below
 * SIGN_SIG_LEN (out is then ""); -EIO when libcrypto fails.
 */
int sign_webhook(const uint8_t *key, size_t keylen, const char *msg_id, uint64_t timestamp_s,
		 const char *body, size_t body_len, char *out, size_t outlen);

#endif
