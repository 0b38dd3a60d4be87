/* event: the alert event's names, its creation (id, time, agent) and its JSON form. */
#include "alerts/event.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "common/util.h"

/* Nesting allowed in an outbox file: the dns object is at depth 2; the slack is for keys a
 * newer writer may add. json-c's default (32) would let hostile input recurse deeper. */
#define EVENT_JSON_DEPTH 16

const char *const alert_type_names[ALERT_NTYPES] = {
	[ALERT_OPENED] = "opened",
	[ALERT_CLOSED] = "closed",
	[ALERT_CHANGED] = "changed",
	[ALERT_FLAPPING] = "flapping",
	[ALERT_DEGRADED] = "degraded",
	[ALERT_EXPOSED] = "exposed",
	[ALERT_RECOVERED] = "recovered",
	[ALERT_UNRESOLVED] = "unresolved",
	[ALERT_RESOLVED] = "resolved",
	[ALERT_TEST] = "test",
};

const char *const alert_severity_names[ALERT_NSEVERITIES] = {
	[SEV_INFO] = "info",
	[SEV_LOW] = "low",
	[SEV_MEDIUM] = "medium",
	[SEV_HIGH] = "high",
	[SEV_CRITICAL] = "critical",
};

const char *
alert_type_name(enum alert_type t)
{
	/* The enum may hold anything read from a file: compare as unsigned. */
	if ((unsigned)t >= ALERT_NTYPES)
		return "";
	return alert_type_names[t];
}

int
alert_type_parse(const char *text, enum alert_type *out)
{
	if (text == NULL)
		return -EINVAL;
	for (unsigned i = 0; i < ALERT_NTYPES; i++) {
		if (strcmp(text, alert_type_names[i]) == 0) {
			*out = (enum alert_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
alert_severity_name(enum alert_severity s)
{
	if ((unsigned)s >= ALERT_NSEVERITIES)
		return "";
	return alert_severity_names[s];
}

int
alert_severity_parse(const char *text, enum alert_severity *out)
{
	if (text == NULL)
		return -EINVAL;
	for (unsigned i = 0; i < ALERT_NSEVERITIES; i++) {
		if (strcmp(text, alert_severity_names[i]) == 0) {
			*out = (enum alert_severity)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- UTF-8 ---- */

size_t
alert_utf8_next(const char *s, size_t n, uint32_t *cp, bool *valid)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need;
	uint32_t c;

	*valid = false;
	*cp = 0xfffd;
	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*valid = true;
		*cp = p[0];
		return 1;
	}
	/* The second byte's range carries the rules (Unicode Table 3-7): E0 A0.. (no
	 * overlong), ED ..9F (no surrogates), F0 90.. (no overlong), F4 ..8F (<= U+10FFFF). */
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 1;
		c = p[0] & 0x1fu;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 2;
		c = p[0] & 0x0fu;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 3;
		c = p[0] & 0x07u;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 1; /* a continuation byte, C0, C1 or F5..FF: never valid */
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= n || p[i] < lo || p[i] > hi)
			return i; /* the lead and what could still have completed it */
		c = c << 6 | (p[i] & 0x3fu);
		lo = 0x80;
		hi = 0xbf;
	}
	*valid = true;
	*cp = c;
	return need + 1;
}

size_t
alert_utf8_check(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		bool ok;
		size_t k = alert_utf8_next(s + i, n - i, &cp, &ok);

		if (!ok)
			break;
		i += k;
	}
	return i;
}

void
alert_copy_text(char *dst, size_t len, const char *src)
{
	size_t l = alert_utf8_cut(src, strlen(src), len - 1);

	memcpy(dst, src, l);
	dst[l] = '\0';
}

size_t
alert_utf16_len(const char *s, size_t n)
{
	size_t units = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c & 0xc0) != 0x80)
			units += c >= 0xf0 ? 2 : 1;
	}
	return units;
}

size_t
alert_utf8_cut(const char *s, size_t n, size_t max)
{
	size_t k = max;

	if (n <= max)
		return n;
	/* back to the first byte of the character byte `max` belongs to */
	while (k > 0 && max - k < 3 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	return ((unsigned char)s[k] & 0xc0) == 0x80 ? max : k; /* ill-formed anyway */
}

/* ---- creation ---- */

static void format_uuid(const uint8_t b[16], char out[ALERT_ID_LEN]);

static int
uuid4(char out[ALERT_ID_LEN])
{
	uint8_t b[16];
	int rc;

	rc = util_random(b, sizeof(b));
	if (rc < 0)
		return rc;
	/* RFC 9562: version 4 in the high nibble of byte 6, variant 10 in byte 8. */
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	format_uuid(b, out);
	return 0;
}

static void
format_uuid(const uint8_t b[16], char out[ALERT_ID_LEN])
{
	snprintf(out, ALERT_ID_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

int
alert_event_derive_id(struct alert_event *ev, const void *seed, size_t len)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (EVP_Digest(seed, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16)
		return -EIO;
	/* RFC 9562 UUIDv8 (custom): the first 128 bits of SHA-256 of the seed */
	md[6] = (uint8_t)((md[6] & 0x0f) | 0x80);
	md[8] = (uint8_t)((md[8] & 0x3f) | 0x80);
	format_uuid(md, ev->id);
	return 0;
}

int
alert_event_stamp(struct alert_event *ev)
{
	/* HOST_NAME_MAX is 64 on Linux: a larger buffer so gethostname never fails on length;
	 * the agent field is display text, so cutting it to fit is fine there. */
	char host[256] = "";
	size_t len;
	int rc;

	/* Cleared first so a failure never leaves a stale id behind: a receiver would drop
	 * the event as a duplicate of the one that id came from. */
	ev->id[0] = '\0';
	ev->agent[0] = '\0';
	ev->time_ns = util_wall_ns();
	rc = uuid4(ev->id);
	if (rc < 0)
		return rc;
	if (gethostname(host, sizeof(host)) != 0)
		return -errno;
	host[sizeof(host) - 1] = '\0';
	/* never half a character at the end: the name is shown in every message */
	len = alert_utf8_cut(host, strlen(host), sizeof(ev->agent) - 1);
	memset(ev->agent, 0, sizeof(ev->agent));
	memcpy(ev->agent, host, len);
	return 0;
}

int
alert_event_init(struct alert_event *ev, enum alert_type type)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	snprintf(ev->source, sizeof(ev->source), "active");
	return alert_event_stamp(ev);
}

/* ---- to JSON ---- */

/* "2026-11-27T09:43:14.123Z"; milliseconds are truncated, never rounded up into the next
 * second. */
static int
fmt_time(uint64_t ns, char *buf, size_t len)
{
	time_t secs = (time_t)(ns / NS_PER_SEC);
	unsigned ms = (unsigned)((ns % NS_PER_SEC) / NS_PER_MS);
	struct tm tm;
	int n;

	if (gmtime_r(&secs, &tm) == NULL)
		return -EINVAL;
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	if (n < 0 || (size_t)n >= len)
		return -EINVAL;
	return 0;
}

int
alert_json_add(struct json_object *o, const char *key, struct json_object *val)
{
	if (val == NULL)
		return -ENOMEM;
	if (json_object_object_add(o, key, val) != 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

int
alert_json_push(struct json_object *a, struct json_object *val)
{
	if (val == NULL)
		return -ENOMEM;
	if (json_object_array_add(a, val) != 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

/* Longest string field of the event (summary, why, target), NUL included. */
#define FIELD_MAX 256
_Static_assert(sizeof(((struct alert_event *)0)->target) <= FIELD_MAX &&
		       sizeof(((struct alert_event *)0)->summary) <= FIELD_MAX &&
		       sizeof(((struct alert_event *)0)->why) <= FIELD_MAX,
	       "a string field is longer than jstr's buffer");

/*
 * A fixed-size field as a JSON string; strnlen because the struct may come from anywhere.
 * The text is made valid UTF-8 without growing: a character cut short (a lead byte and
 * what came of its continuation bytes, then the end or a byte that continues nothing) is
 * dropped, any other ill-formed byte becomes '?'. Receivers reject a whole body over one
 * bad byte.
 */
static struct json_object *
jstr(const char *s, size_t size)
{
	char tmp[FIELD_MAX];
	size_t n = strnlen(s, size < sizeof(tmp) ? size : sizeof(tmp)), o = 0;

	for (size_t i = 0; i < n;) {
		unsigned char lead = (unsigned char)s[i];
		uint32_t cp;
		bool ok;
		size_t k = alert_utf8_next(s + i, n - i, &cp, &ok);

		if (ok) {
			memcpy(tmp + o, s + i, k);
			o += k;
		} else if (lead < 0xc2 || lead > 0xf4 ||
			   (i + k < n && ((unsigned char)s[i + k] & 0xc0) == 0x80)) {
			tmp[o++] = '?'; /* not a character cut short: a wrong byte */
		}
		i += k;
	}
	return json_object_new_string_len(tmp, (int)o);
}

static int
jadd_str(struct json_object *o, const char *key, const char *s, size_t size, bool empty_null)
{
	if (empty_null && strnlen(s, size) == 0)
		return json_object_object_add(o, key, NULL) == 0 ? 0 : -ENOMEM;
	return alert_json_add(o, key, jstr(s, size));
}

#define JADD_STR(o, ev, field, empty_null) \
	jadd_str((o), #field, (ev)->field, sizeof((ev)->field), (empty_null))

/* The dns text as an object, NULL (JSON null) for "", text that does not parse, or
 * anything but an object: receivers are promised an object or null. */
static struct json_object *
dns_object(const struct alert_event *ev)
{
	size_t len = strnlen(ev->dns_json, sizeof(ev->dns_json));
	struct json_tokener *tok;
	struct json_object *o;

	if (len == 0)
		return NULL;
	tok = json_tokener_new_ex(EVENT_JSON_DEPTH);
	if (tok == NULL)
		return NULL;
	/* strings in it are copied through as they are: only valid UTF-8 may pass */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, ev->dns_json, (int)len);
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
			  json_tokener_get_parse_end(tok) != len ||
			  !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int
alert_event_to_json(const struct alert_event *ev, char *buf, size_t buflen)
{
	struct json_object *o = NULL;
	const char *text;
	char when[40];
	size_t len;
	int rc;

	if ((unsigned)ev->type >= ALERT_NTYPES || (unsigned)ev->severity >= ALERT_NSEVERITIES ||
	    fmt_time(ev->time_ns, when, sizeof(when)) < 0) {
		rc = -EINVAL;
		goto out;
	}
	o = json_object_new_object();
	if (o == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = JADD_STR(o, ev, id, false)) < 0 ||
	    (rc = alert_json_add(o, "type", json_object_new_string(alert_type_name(ev->type)))) < 0 ||
	    (rc = alert_json_add(o, "time", json_object_new_string(when))) < 0 ||
	    (rc = JADD_STR(o, ev, agent, false)) < 0 ||
	    (rc = JADD_STR(o, ev, vantage, false)) < 0 ||
	    (rc = JADD_STR(o, ev, target, false)) < 0 ||
	    (rc = JADD_STR(o, ev, address, true)) < 0 ||
	    (rc = JADD_STR(o, ev, protocol, true)) < 0 ||
	    (rc = alert_json_add(o, "port", json_object_new_int(ev->port))) < 0 ||
	    (rc = JADD_STR(o, ev, previous, false)) < 0 ||
	    (rc = JADD_STR(o, ev, current, false)) < 0 ||
	    (rc = JADD_STR(o, ev, reason, false)) < 0 ||
	    (rc = alert_json_add(o, "severity",
		       json_object_new_string(alert_severity_name(ev->severity)))) < 0 ||
	    (rc = JADD_STR(o, ev, summary, false)) < 0 ||
	    (rc = JADD_STR(o, ev, why, false)) < 0)
		goto out;
	/* A NULL child is JSON null, which is what an empty or broken dns text becomes. */
	if (json_object_object_add(o, "dns", dns_object(ev)) != 0) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = JADD_STR(o, ev, source, false)) < 0 ||
	    (rc = alert_json_add(o, "expected_open", json_object_new_boolean(ev->expected_open))) < 0)
		goto out;
	/* optional: bodies without a runbook stay what they were */
	if (strnlen(ev->runbook_url, sizeof(ev->runbook_url)) > 0 &&
	    (rc = JADD_STR(o, ev, runbook_url, false)) < 0)
		goto out;
	text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
						    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (len >= buflen || len > INT_MAX) {
		rc = -ENOSPC;
		goto out;
	}
	memcpy(buf, text, len + 1);
	rc = (int)len;
out:
	if (o != NULL)
		json_object_put(o);
	return rc;
}

/* ---- from JSON ---- */

__attribute__((format(printf, 3, 4))) static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool
is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static unsigned
num(const char *s, size_t n)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	return v;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil): no timegm, which is neither standard nor free of time_t limits. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static unsigned
days_in_month(unsigned y, unsigned m)
{
	static const unsigned dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z", UTC only, nothing around it. 0 or -EINVAL/-ERANGE. */
static int
parse_time(const char *s, size_t len, uint64_t *out)
{
	unsigned y, mo, d, h, mi, sec;
	uint64_t frac = 0, secs;
	size_t i = 19;
	int64_t days;

	if (len < 20 || !is_digits(s, 4) || s[4] != '-' || !is_digits(s + 5, 2) ||
	    s[7] != '-' || !is_digits(s + 8, 2) || s[10] != 'T' || !is_digits(s + 11, 2) ||
	    s[13] != ':' || !is_digits(s + 14, 2) || s[16] != ':' || !is_digits(s + 17, 2))
		return -EINVAL;
	if (s[i] == '.') {
		size_t nd = 0;

		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nd++) {
			if (nd == 9)
				return -EINVAL; /* finer than ns */
			frac = frac * 10 + (uint64_t)(s[i] - '0');
		}
		if (nd == 0)
			return -EINVAL;
		for (; nd < 9; nd++)
			frac *= 10;
	}
	if (i + 1 != len || s[i] != 'Z')
		return -EINVAL;
	y = num(s, 4);
	mo = num(s + 5, 2);
	d = num(s + 8, 2);
	h = num(s + 11, 2);
	mi = num(s + 14, 2);
	sec = num(s + 17, 2);
	/* Leap seconds (:60) are refused: our writer never produces them. */
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 59)
		return -EINVAL;
	if (y < 1970)
		return -ERANGE;
	days = days_from_civil(y, mo, d);
	secs = (uint64_t)days * 86400 + h * 3600u + mi * 60u + sec;
	/* uint64 nanoseconds end in 2554. */
	if (secs > (UINT64_MAX - frac) / NS_PER_SEC)
		return -ERANGE;
	*out = secs * NS_PER_SEC + frac;
	return 0;
}

/* 8-4-4-4-12 hex digits, either case (any version: the id is only compared). */
bool
alert_event_is_exposure(const struct alert_event *ev)
{
	/* exposed is one by definition; opened counts when it is against expectation and
	 * not accepted before (high and up), changed when a fact made an open port
	 * dangerous (an open resolver, AXFR allowed) */
	return ev->type == ALERT_EXPOSED ||
	       ((ev->type == ALERT_OPENED || ev->type == ALERT_CHANGED) &&
		ev->severity >= SEV_HIGH);
}

bool
alert_event_is_outage(const struct alert_event *ev)
{
	return ev->type == ALERT_CLOSED && ev->expected_open;
}

bool
alert_id_valid(const char *s)
{
	for (size_t i = 0; i < ALERT_ID_LEN - 1; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return s[ALERT_ID_LEN - 1] == '\0';
}

/*
 * Look up key. Returns 1 with *v set when present and not null, 0 when absent or null
 * (required keys turn that into an error), -EINVAL otherwise.
 */
static int
get(struct json_object *root, const char *key, bool required, struct json_object **v,
    char *err, size_t errlen)
{
	if (!json_object_object_get_ex(root, key, v) || *v == NULL) {
		if (required)
			return fail(err, errlen, "%s: missing", key);
		return 0;
	}
	return 1;
}

/* Copy a string value into dst[size]: type-checked, never truncated, no embedded NUL. */
static int
get_str(struct json_object *root, const char *key, bool required, char *dst, size_t size,
	char *err, size_t errlen)
{
	struct json_object *v;
	const char *s;
	int rc, len;

	rc = get(root, key, required, &v, err, errlen);
	if (rc <= 0) {
		dst[0] = '\0';
		return rc;
	}
	if (!json_object_is_type(v, json_type_string))
		return fail(err, errlen, "%s: expected a string", key);
	s = json_object_get_string(v);
	len = json_object_get_string_len(v);
	if (len < 0 || (size_t)len >= size)
		return fail(err, errlen, "%s: longer than %zu bytes", key, size - 1);
	if (strlen(s) != (size_t)len)
		return fail(err, errlen, "%s: contains a NUL byte", key);
	memcpy(dst, s, (size_t)len + 1);
	return 0;
}

#define GET_STR(root, ev, field, required, err, errlen) \
	get_str((root), #field, (required), (ev)->field, sizeof((ev)->field), (err), (errlen))

static int
get_fields(struct json_object *root, struct alert_event *ev, char *err, size_t errlen)
{
	struct json_object *v;
	char text[64], q[64];
	int rc;

	if ((rc = GET_STR(root, ev, id, true, err, errlen)) < 0)
		return rc;
	if (!alert_id_valid(ev->id))
		return fail(err, errlen, "id: not a UUID");

	if ((rc = get_str(root, "type", true, text, sizeof(text), err, errlen)) < 0)
		return rc;
	/* the file's text is quoted in a log line: no control character gets through */
	if (alert_type_parse(text, &ev->type) < 0)
		return fail(err, errlen, "type: unknown event type \"%s\"",
			    util_printable(text, q, sizeof(q), 0));

	if ((rc = get_str(root, "time", true, text, sizeof(text), err, errlen)) < 0)
		return rc;
	rc = parse_time(text, strlen(text), &ev->time_ns);
	if (rc == -ERANGE)
		return fail(err, errlen, "time: out of range (1970..2554)");
	if (rc < 0)
		return fail(err, errlen, "time: not an ISO-8601 UTC time like "
			    "\"2026-11-27T09:43:14.123Z\"");

	if ((rc = GET_STR(root, ev, agent, false, err, errlen)) < 0 ||
	    (rc = GET_STR(root, ev, vantage, false, err, errlen)) < 0 ||
	    (rc = GET_STR(root, ev, target, false, err, errlen)) < 0 ||
	    (rc = GET_STR(root, ev, address, false, err, errlen)) < 0 ||
	    (rc = GET_STR(root, ev, protocol, false, err, errlen)) < 0)
		return rc;

	rc = get(root, "port", false, &v, err, errlen);
	if (rc > 0) {
		int64_t port;

		/* json_type_int only: 53.0 or "53" are not what we write. */
		if (!json_object_is_type(v, json_type_int))
			return fail(err, errlen, "port: expected an integer");
		errno = 0;
		port = json_object_get_int64(v);
		if (errno != 0 || port < 0 || port > 65535)
			return fail(err, errlen, "port: not in 0..65535");
		ev->port = (uint16_t)port;
	}

	if ((rc = GET_STR(root, ev, previous, false, err, errlen)) < 0 ||
	    (rc = GET_STR(root, ev, current, false, err, errlen)) < 0 ||
	    (rc = GET_STR(root, ev, reason, false, err, errlen)) < 0)
		return rc;

	if ((rc = get_str(root, "severity", false, text, sizeof(text), err, errlen)) < 0)
		return rc;
	if (text[0] != '\0' && alert_severity_parse(text, &ev->severity) < 0)
		return fail(err, errlen, "severity: unknown severity \"%s\"",
			    util_printable(text, q, sizeof(q), 0));

	if ((rc = GET_STR(root, ev, summary, false, err, errlen)) < 0 ||
	    (rc = GET_STR(root, ev, why, false, err, errlen)) < 0)
		return rc;

	rc = get(root, "dns", false, &v, err, errlen);
	if (rc > 0) {
		const char *t;
		size_t len;

		if (!json_object_is_type(v, json_type_object))
			return fail(err, errlen, "dns: expected an object or null");
		t = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE, &len);
		if (t == NULL)
			return fail(err, errlen, "dns: out of memory");
		if (len >= sizeof(ev->dns_json))
			return fail(err, errlen, "dns: longer than %zu bytes",
				    sizeof(ev->dns_json) - 1);
		memcpy(ev->dns_json, t, len + 1);
	}

	if ((rc = GET_STR(root, ev, source, false, err, errlen)) < 0)
		return rc;

	rc = get(root, "expected_open", false, &v, err, errlen);
	if (rc > 0) {
		if (!json_object_is_type(v, json_type_boolean))
			return fail(err, errlen, "expected_open: expected true or false");
		ev->expected_open = json_object_get_boolean(v);
	}

	if ((rc = GET_STR(root, ev, runbook_url, false, err, errlen)) < 0)
		return rc;
	if (ev->runbook_url[0] != '\0' && !alert_url_ok(ev->runbook_url))
		return fail(err, errlen, "runbook_url: not an http or https URL a chat service can "
			    "link to");
	return 0;
}

int
alert_event_dns_bool(const struct alert_event *ev, const char *key, bool *out)
{
	struct json_object *o = dns_object(ev), *v;
	int rc = 0;

	if (o != NULL && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_boolean)) {
		*out = json_object_get_boolean(v);
		rc = 1;
	}
	json_object_put(o);
	return rc;
}

size_t
alert_event_dns_strlen(const struct alert_event *ev, const char *key)
{
	struct json_object *o = dns_object(ev), *v;
	size_t n = 0;

	if (o != NULL && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string))
		n = (size_t)json_object_get_string_len(v);
	json_object_put(o);
	return n;
}

bool
alert_url_ok(const char *s)
{
	size_t n, skip;
	const char *host;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n >= ALERT_URL_MAX)
		return false;
	if (strncasecmp(s, "https://", 8) == 0)
		skip = 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		skip = 7;
	else
		return false;
	host = s + skip;
	if (*host == '\0' || *host == '/' || *host == '?' || *host == '#' || *host == ':')
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("\"<>\\^`{|}@", *p) != NULL)
			return false;
	return true;
}

int
alert_event_from_json(const char *text, size_t len, struct alert_event *ev, char *err,
		      size_t errlen)
{
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL;
	struct alert_event tmp;
	enum json_tokener_error jerr;
	int rc;

	if (text == NULL || len == 0) {
		rc = fail(err, errlen, "event: empty");
		goto out;
	}
	if (len > ALERT_JSON_MAX) {
		rc = fail(err, errlen, "event: longer than %d bytes", ALERT_JSON_MAX);
		goto out;
	}
	/* json-c would stop at a NUL and call the rest a success or an error depending on
	 * where it falls; refuse it outright. */
	if (memchr(text, '\0', len) != NULL) {
		rc = fail(err, errlen, "event: contains a NUL byte");
		goto out;
	}
	tok = json_tokener_new_ex(EVENT_JSON_DEPTH);
	if (tok == NULL) {
		rc = fail(err, errlen, "event: out of memory");
		goto out;
	}
	/* Standard JSON only: no comments, single quotes or other json-c leniencies, so what
	 * we accept is what any receiver of the same text would. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	/* The root must be an object, which completes at its '}': still wanting input means
	 * the text was cut short. */
	if (jerr == json_tokener_continue)
		jerr = json_tokener_error_parse_eof;
	if (jerr != json_tokener_success || root == NULL) {
		rc = fail(err, errlen, "event: not JSON (%s)", json_tokener_error_desc(jerr));
		goto out;
	}
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r') {
			rc = fail(err, errlen, "event: trailing data after the JSON object");
			goto out;
		}
	}
	if (!json_object_is_type(root, json_type_object)) {
		rc = fail(err, errlen, "event: not a JSON object");
		goto out;
	}
	memset(&tmp, 0, sizeof(tmp));
	rc = get_fields(root, &tmp, err, errlen);
	if (rc < 0)
		goto out;
	*ev = tmp;
	rc = 0;
out:
	if (root != NULL)
		json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}
