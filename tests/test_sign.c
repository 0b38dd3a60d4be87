/* test_sign: Standard Webhooks key decoding and v1 signatures against known vectors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alerts/sign.h"

struct vector {
	const char *secret;
	const char *key_hex;  /* what the secret decodes to */
	const char *msg_id;
	uint64_t ts;
	const char *body;
	const char *sig;
};

/*
 * The first is the Standard Webhooks spec's own vector (standard-webhooks repository);
 * the others were computed independently with Python's hmac/hashlib/base64:
 *   k = base64.b64decode(secret_without_whsec_ + padding)
 *   "v1," + base64.b64encode(hmac.new(k, f"{id}.{ts}.".encode() + body, sha256).digest())
 */
static const struct vector vectors[] = {
	{ "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	  "31f290f6bf06298aab4f08d43c3f082cf648a362da2da4b0", "msg_p5jXN8AQM9LWM0D4loKWxJek",
	  1614265330, "{\"test\": 2432232314}",
	  "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" },
	/* 32-byte key: one '=' of padding */
	{ "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	  "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", 1795772599,
	  "{\"id\":\"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9\",\"type\":\"opened\"}",
	  "v1,tX+/2kbY/0OUPulmnb/NclsDRDwSJqWYG46NVjJgLmE=" },
	/* 64-byte key (the spec's maximum), no prefix, two '=', empty body, time 0 */
	{ "AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/wYNFBsiKTA3PkVMU1phaG92fYSLkpmgp661vA==",
	  "030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dce3eaf1f8ff060d141b2229"
	  "30373e454c535a61686f767d848b9299a0a7aeb5bc",
	  "msg_2", 0, "", "v1,Yd+YdfQIHfdTuDQAkEnNNxUfHx9uKKPdH1Gz8GihXCk=" },
	/* 25-byte key written without its two '=' of padding; UTF-8 body; the largest
	 * timestamp */
	{ "whsec_d2F0Y2g1My10ZXN0LXNpZ25pbmcta2V5IQ",
	  "776174636835332d746573742d7369676e696e672d6b657921", "msg_3", UINT64_MAX,
	  "{\"text\":\"caf\xc3\xa9 \xe2\x86\x92 ok\"}",
	  "v1,xhQflE5bFoHJdR3znOieUXegbQjzd5XGL2i6buBB+3I=" },
};

static void
hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

static void
test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		uint8_t key[SIGN_KEY_MAX];
		char khex[2 * SIGN_KEY_MAX + 1], sig[SIGN_SIG_LEN];
		size_t keylen = 0;

		assert_int_equal(sign_decode_key(v->secret, key, sizeof(key), &keylen), 0);
		hex(key, keylen, khex);
		assert_string_equal(khex, v->key_hex);
		assert_int_equal(sign_webhook(key, keylen, v->msg_id, v->ts, v->body,
					      strlen(v->body), sig, sizeof(sig)),
				 0);
		assert_string_equal(sig, v->sig);
	}
}

/* The body is signed byte for byte: one byte more, another id or time, another sig. */
static void
test_inputs_matter(void **state)
{
	const struct vector *v = &vectors[0];
	uint8_t key[SIGN_KEY_MAX];
	char sig[SIGN_SIG_LEN];
	size_t keylen;

	(void)state;
	assert_int_equal(sign_decode_key(v->secret, key, sizeof(key), &keylen), 0);
	assert_int_equal(sign_webhook(key, keylen, v->msg_id, v->ts, v->body,
				      strlen(v->body) - 1, sig, sizeof(sig)), 0);
	assert_string_not_equal(sig, v->sig);
	assert_int_equal(sign_webhook(key, keylen, v->msg_id, v->ts + 1, v->body,
				      strlen(v->body), sig, sizeof(sig)), 0);
	assert_string_not_equal(sig, v->sig);
	assert_int_equal(sign_webhook(key, keylen, "msg_p5jXN8AQM9LWM0D4loKWxJeK", v->ts,
				      v->body, strlen(v->body), sig, sizeof(sig)), 0);
	assert_string_not_equal(sig, v->sig);
	key[0] ^= 1;
	assert_int_equal(sign_webhook(key, keylen, v->msg_id, v->ts, v->body,
				      strlen(v->body), sig, sizeof(sig)), 0);
	assert_string_not_equal(sig, v->sig);
}

static void
test_bad_keys(void **state)
{
	static const struct {
		const char *secret;
		int rc;
	} cases[] = {
		{ "", -EINVAL },
		{ "whsec_", -EINVAL },
		{ "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", -EINVAL },  /* not the alphabet */
		{ "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS-", -EINVAL },  /* base64url */
		{ "whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw", -EINVAL }, /* space */
		{ "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", -EINVAL }, /* newline */
		{ "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=", -EINVAL }, /* padding not needed */
		{ "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS==", -EINVAL }, /* wrong padding */
		{ "whsec_MfKQ9r8G=KYqrTwjUPD8ILPZIo2LaLaSw", -EINVAL }, /* '=' inside */
		{ "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaL", -EINVAL },    /* 4n+1 digits */
		{ "whsec_d2F0Y2g1My10ZXN0LWtleSE===", -EINVAL },       /* three '=' */
		{ "whsec_whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", -EINVAL }, /* '_' */
		{ "whsec_AAAAAAAAAAAAAAAAAAAA", -ERANGE },             /* 15 bytes: too short */
		/* 23 bytes: one less than the spec's minimum (the old floor was 16) */
		{ "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRY=", -ERANGE },
		{ "whsec_d2F0Y2g1My10ZXN0LWtleSE", -ERANGE },           /* 17 bytes */
		/* 65 bytes: one more than the spec allows */
		{ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		  -ERANGE },
		/* far too long */
		{ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  -ERANGE },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t key[SIGN_KEY_MAX];
		size_t keylen = 12345;

		memset(key, 0xa5, sizeof(key));
		print_message("case %zu\n", i);
		assert_int_equal(sign_decode_key(cases[i].secret, key, sizeof(key), &keylen),
				 cases[i].rc);
		assert_int_equal(keylen, 12345); /* untouched */
		for (size_t j = 0; j < sizeof(key); j++)
			assert_int_equal(key[j], 0); /* wiped */
	}
}

/* The caller's buffer is the limit too: a 32-byte key does not go into 24 bytes. */
static void
test_keymax(void **state)
{
	uint8_t key[32];
	size_t keylen = 0;

	(void)state;
	assert_int_equal(sign_decode_key(vectors[1].secret, key, 24, &keylen), -ERANGE);
	assert_int_equal(sign_decode_key(vectors[1].secret, key, 32, &keylen), 0);
	assert_int_equal(keylen, 32);
	assert_int_equal(sign_decode_key(NULL, key, sizeof(key), &keylen), -EINVAL);
	/* the spec's floor, exactly: 24 bytes */
	assert_int_equal(sign_decode_key("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", key, sizeof(key),
					 &keylen),
			 0);
	assert_int_equal(keylen, 24);
}

static void
test_small_output(void **state)
{
	const struct vector *v = &vectors[0];
	uint8_t key[SIGN_KEY_MAX];
	char sig[SIGN_SIG_LEN];
	size_t keylen;

	(void)state;
	assert_int_equal(sign_decode_key(v->secret, key, sizeof(key), &keylen), 0);
	memset(sig, 'x', sizeof(sig));
	assert_int_equal(sign_webhook(key, keylen, v->msg_id, v->ts, v->body, strlen(v->body),
				      sig, SIGN_SIG_LEN - 1),
			 -ENOSPC);
	assert_string_equal(sig, "");
	/* exactly SIGN_SIG_LEN is enough: 3 + 44 + NUL */
	assert_int_equal(sign_webhook(key, keylen, v->msg_id, v->ts, v->body, strlen(v->body),
				      sig, SIGN_SIG_LEN),
			 0);
	assert_int_equal(strlen(sig), SIGN_SIG_LEN - 1);
	assert_int_equal(sign_webhook(key, keylen, "", v->ts, v->body, strlen(v->body), sig,
				      sizeof(sig)),
			 -EINVAL);
	assert_int_equal(sign_webhook(key, 0, v->msg_id, v->ts, v->body, strlen(v->body), sig,
				      sizeof(sig)),
			 -EINVAL);
	assert_int_equal(sign_webhook(key, keylen, v->msg_id, v->ts, NULL, 5, sig, sizeof(sig)),
			 -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_inputs_matter),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_keymax),
		cmocka_unit_test(test_small_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
