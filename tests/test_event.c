/* test_event: the alert event's names, ids and JSON form, incl. hostile outbox input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "alerts/event.h"
#include "common/util.h"

/* 2026-11-27T09:43:14.123Z */
#define T_SECS 1795772594ull
#define T_NS (T_SECS * NS_PER_SEC + 123 * NS_PER_MS)

static void
sample(struct alert_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->id, sizeof(ev->id), "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9");
	ev->type = ALERT_OPENED;
	ev->time_ns = T_NS + 999999; /* sub-millisecond part is truncated, not rounded */
	snprintf(ev->agent, sizeof(ev->agent), "mon1");
	snprintf(ev->vantage, sizeof(ev->vantage), "dc-east");
	snprintf(ev->target, sizeof(ev->target), "primary dns");
	snprintf(ev->address, sizeof(ev->address), "127.53.0.5");
	snprintf(ev->protocol, sizeof(ev->protocol), "udp");
	ev->port = 53;
	snprintf(ev->previous, sizeof(ev->previous), "filtered");
	snprintf(ev->current, sizeof(ev->current), "open");
	snprintf(ev->reason, sizeof(ev->reason), "dns-reply");
	ev->severity = SEV_CRITICAL;
	snprintf(ev->summary, sizeof(ev->summary), "UDP port 53 on 127.53.0.5 is now \"open\"");
	snprintf(ev->why, sizeof(ev->why), "open resolver/amplification");
	snprintf(ev->dns_json, sizeof(ev->dns_json),
		 "{\"valid\":true,\"rcode\":\"NOERROR\",\"aa\":false,\"ra\":true,\"tc\":false}");
	snprintf(ev->source, sizeof(ev->source), "active");
	ev->expected_open = false;
}

static const char sample_json[] =
	"{\"id\":\"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9\",\"type\":\"opened\","
	"\"time\":\"2026-11-27T09:43:14.123Z\",\"agent\":\"mon1\",\"vantage\":\"dc-east\","
	"\"target\":\"primary dns\","
	"\"address\":\"127.53.0.5\",\"protocol\":\"udp\",\"port\":53,\"previous\":\"filtered\","
	"\"current\":\"open\",\"reason\":\"dns-reply\",\"severity\":\"critical\","
	"\"summary\":\"UDP port 53 on 127.53.0.5 is now \\\"open\\\"\","
	"\"why\":\"open resolver/amplification\","
	"\"dns\":{\"valid\":true,\"rcode\":\"NOERROR\",\"aa\":false,\"ra\":true,\"tc\":false},"
	"\"source\":\"active\",\"expected_open\":false}";

static void
test_exact_json(void **state)
{
	struct alert_event ev;
	char buf[ALERT_JSON_MAX];
	int n;

	(void)state;
	sample(&ev);
	n = alert_event_to_json(&ev, buf, sizeof(buf));
	assert_string_equal(buf, sample_json);
	assert_int_equal(n, (int)strlen(sample_json));

	/* exactly enough room vs one byte short */
	assert_int_equal(alert_event_to_json(&ev, buf, strlen(sample_json) + 1), n);
	assert_int_equal(alert_event_to_json(&ev, buf, strlen(sample_json)), -ENOSPC);
	ev.type = ALERT_NTYPES;
	assert_int_equal(alert_event_to_json(&ev, buf, sizeof(buf)), -EINVAL);
}

static void
test_nulls(void **state)
{
	struct alert_event ev;
	char buf[ALERT_JSON_MAX];

	(void)state;
	sample(&ev);
	ev.type = ALERT_DEGRADED;
	ev.address[0] = '\0';
	ev.protocol[0] = '\0';
	ev.port = 0;
	ev.time_ns = T_SECS * NS_PER_SEC; /* whole second: still .000 */
	ev.expected_open = true;
	assert_true(alert_event_to_json(&ev, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"time\":\"2026-11-27T09:43:14.000Z\""));
	assert_non_null(strstr(buf, "\"address\":null,\"protocol\":null,\"port\":0,"));
	assert_non_null(strstr(buf, "\"expected_open\":true}"));

	/* dns: empty, not JSON, and JSON that is not an object all become null */
	static const char *const bad_dns[] = { "", "{\"valid\":", "[1,2]", "true", "{}x" };
	for (size_t i = 0; i < sizeof(bad_dns) / sizeof(bad_dns[0]); i++) {
		snprintf(ev.dns_json, sizeof(ev.dns_json), "%s", bad_dns[i]);
		assert_true(alert_event_to_json(&ev, buf, sizeof(buf)) > 0);
		assert_non_null(strstr(buf, ",\"dns\":null,"));
	}
}

static void
assert_same(const struct alert_event *a, const struct alert_event *b)
{
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->time_ns, b->time_ns);
	assert_string_equal(a->agent, b->agent);
	assert_string_equal(a->vantage, b->vantage);
	assert_string_equal(a->target, b->target);
	assert_string_equal(a->address, b->address);
	assert_string_equal(a->protocol, b->protocol);
	assert_int_equal(a->port, b->port);
	assert_string_equal(a->previous, b->previous);
	assert_string_equal(a->current, b->current);
	assert_string_equal(a->reason, b->reason);
	assert_int_equal(a->severity, b->severity);
	assert_string_equal(a->summary, b->summary);
	assert_string_equal(a->why, b->why);
	assert_string_equal(a->dns_json, b->dns_json);
	assert_string_equal(a->source, b->source);
	assert_int_equal(a->expected_open, b->expected_open);
}

static void
test_round_trip(void **state)
{
	struct alert_event ev, back;
	char buf[ALERT_JSON_MAX], again[ALERT_JSON_MAX], err[128] = "";
	int n;

	(void)state;
	sample(&ev);
	ev.time_ns = T_NS; /* the text keeps milliseconds */
	n = alert_event_to_json(&ev, buf, sizeof(buf));
	assert_true(n > 0);
	memset(&back, 0x5a, sizeof(back));
	assert_int_equal(alert_event_from_json(buf, (size_t)n, &back, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_same(&ev, &back);
	assert_int_equal(alert_event_to_json(&back, again, sizeof(again)), n);
	assert_string_equal(again, buf);

	/* every field at its maximum length, with characters that need escaping */
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(alert_event_init(&ev, ALERT_CHANGED), 0);
	memset(ev.agent, '"', sizeof(ev.agent) - 1);
	memset(ev.vantage, '\\', sizeof(ev.vantage) - 1);
	memset(ev.target, '\\', sizeof(ev.target) - 1);
	memset(ev.address, 'a', sizeof(ev.address) - 1);
	memset(ev.protocol, 'p', sizeof(ev.protocol) - 1);
	ev.port = 65535;
	memset(ev.previous, '\n', sizeof(ev.previous) - 1);
	memset(ev.current, '\x01', sizeof(ev.current) - 1);
	memset(ev.reason, '/', sizeof(ev.reason) - 1);
	memset(ev.summary, '\t', sizeof(ev.summary) - 1);
	memset(ev.why, 'w', sizeof(ev.why) - 1);
	memset(ev.source, 's', sizeof(ev.source) - 1);
	ev.severity = SEV_LOW;
	ev.time_ns -= ev.time_ns % NS_PER_MS;
	n = alert_event_to_json(&ev, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(alert_event_from_json(buf, (size_t)n, &back, err, sizeof(err)), 0);
	assert_same(&ev, &back);

	/* a trailing newline (outbox files are lines) and unknown keys are fine */
	static const char fwd[] =
		"{\"id\":\"0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9\",\"type\":\"closed\","
		"\"time\":\"2026-11-27T09:43:14Z\",\"future\":{\"x\":[1,2,{\"y\":null}]},"
		"\"address\":null,\"dns\":null,\"port\":853,\"expected_open\":true}\n";
	assert_int_equal(alert_event_from_json(fwd, strlen(fwd), &back, err, sizeof(err)), 0);
	assert_int_equal(back.type, ALERT_CLOSED);
	assert_int_equal(back.time_ns, T_SECS * NS_PER_SEC);
	assert_int_equal(back.port, 853);
	assert_true(back.expected_open);
	assert_string_equal(back.address, "");
	assert_string_equal(back.dns_json, "");
	assert_int_equal(back.severity, SEV_INFO);
	/* an event of a writer before "vantage" (an outbox file from before an upgrade) */
	assert_string_equal(back.vantage, "");
	/* a vantage longer than its field is refused, not cut */
	static const char longv[] =
		"{\"id\":\"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9\",\"type\":\"test\","
		"\"time\":\"2026-11-27T09:43:14Z\",\"vantage\":"
		"\"0123456789012345678901234567890123456789012345678901234567890123\"}";
	assert_int_equal(alert_event_from_json(longv, strlen(longv), &back, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "vantage"));

	/* nanosecond precision in, nanoseconds out */
	static const char ns[] = "{\"id\":\"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9\","
				 "\"type\":\"test\",\"time\":\"2000-02-29T23:59:59.000000001Z\"}";
	assert_int_equal(alert_event_from_json(ns, strlen(ns), &back, err, sizeof(err)), 0);
	assert_int_equal(back.time_ns, 951868799ull * NS_PER_SEC + 1);
}

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void
test_ids(void **state)
{
	static struct alert_event ev[64];
	uint64_t before = util_wall_ns();

	(void)state;
	for (size_t i = 0; i < 64; i++) {
		memset(&ev[i], 0x77, sizeof(ev[i]));
		assert_int_equal(alert_event_init(&ev[i], ALERT_OPENED), 0);
		const char *id = ev[i].id;

		assert_int_equal(strlen(id), 36);
		for (size_t k = 0; k < 36; k++) {
			if (k == 8 || k == 13 || k == 18 || k == 23)
				assert_int_equal(id[k], '-');
			else
				assert_true(is_hex(id[k]));
		}
		assert_int_equal(id[14], '4');                  /* version */
		assert_non_null(strchr("89ab", id[19]));        /* variant 10 */
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(ev[j].id, id);
		/* init zeroes the rest and stamps time and agent */
		assert_int_equal(ev[i].type, ALERT_OPENED);
		assert_true(ev[i].time_ns >= before && ev[i].time_ns <= util_wall_ns());
		assert_true(strlen(ev[i].agent) > 0 && strlen(ev[i].agent) < sizeof(ev[i].agent));
		assert_string_equal(ev[i].target, "");
		assert_string_equal(ev[i].source, "active");
		assert_int_equal(ev[i].port, 0);
	}

	/* stamp leaves the other fields alone and gives a new id */
	struct alert_event s = ev[0];
	char old[ALERT_ID_LEN];

	memcpy(old, s.id, sizeof(old));
	snprintf(s.target, sizeof(s.target), "kept");
	s.type = ALERT_CLOSED;
	assert_int_equal(alert_event_stamp(&s), 0);
	assert_string_equal(s.target, "kept");
	assert_int_equal(s.type, ALERT_CLOSED);
	assert_string_not_equal(s.id, old);
}

/* A good event with one key replaced (or removed when value is NULL). */
static void
build(char *buf, size_t len, const char *key, const char *value)
{
	static const struct {
		const char *key, *value;
	} base[] = {
		{ "id", "\"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9\"" },
		{ "type", "\"opened\"" },
		{ "time", "\"2026-11-27T09:43:14.123Z\"" },
		{ "target", "\"t\"" },
		{ "port", "53" },
		{ "severity", "\"high\"" },
		{ "dns", "{\"valid\":true}" },
		{ "expected_open", "false" },
	};
	size_t off = 0;
	bool replaced = false;

	off += (size_t)snprintf(buf + off, len - off, "{");
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		const char *v = base[i].value;

		if (strcmp(base[i].key, key) == 0) {
			replaced = true;
			if (value == NULL)
				continue;
			v = value;
		}
		off += (size_t)snprintf(buf + off, len - off, "%s\"%s\":%s", off > 1 ? "," : "",
					base[i].key, v);
	}
	if (!replaced && value != NULL)
		off += (size_t)snprintf(buf + off, len - off, ",\"%s\":%s", key, value);
	snprintf(buf + off, len - off, "}");
	assert_true(off + 2 < len);
}

static void
test_rejects(void **state)
{
	static char longstr[600];
	static const struct {
		const char *key, *value; /* key == NULL: value is the whole text */
		const char *err;         /* expected message prefix */
	} cases[] = {
		/* not JSON / not an object */
		{ NULL, "", "event: empty" },
		{ NULL, "hello", "event: not JSON" },
		{ NULL, "{\"id\":", "event: not JSON" },
		{ NULL, "{\"id\":\"x\"", "event: not JSON" },
		{ NULL, "{'id':'x'}", "event: not JSON" },
		{ NULL, "{/*c*/}", "event: not JSON" },
		{ NULL, "[]", "event: not a JSON object" },
		{ NULL, "53", "event: not" },
		/* json-c's strict mode or our own check after it: either way about the event */
		{ NULL, "{} {}", "event: " },
		{ NULL, "{}x", "event: " },
		/* missing required keys */
		{ NULL, "{}", "id: missing" },
		{ "id", NULL, "id: missing" },
		{ "id", "null", "id: missing" },
		{ "type", NULL, "type: missing" },
		{ "time", NULL, "time: missing" },
		/* wrong types */
		{ "id", "123", "id: expected a string" },
		{ "id", "\"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0fZ\"", "id: not a UUID" },
		{ "id", "\"0f1e2d3c4b5a-4978-8695-a4b3c2d1e0f9-\"", "id: not a UUID" },
		{ "id", "\"0f1e2d3c\"", "id: not a UUID" },
		{ "type", "5", "type: expected a string" },
		{ "type", "\"exploded\"", "type: unknown event type" },
		{ "type", "\"Opened\"", "type: unknown event type" },
		{ "time", "1795772594", "time: expected a string" },
		{ "time", "\"2026-11-27 09:43:14.123Z\"", "time: not an ISO-8601" },
		{ "time", "\"2026-11-27T09:43:14.123\"", "time: not an ISO-8601" },
		{ "time", "\"2026-11-27T09:43:14.123+01:00\"", "time: not an ISO-8601" },
		{ "time", "\"2026-11-27T09:43:14.Z\"", "time: not an ISO-8601" },
		{ "time", "\"2026-13-27T09:43:14.123Z\"", "time: not an ISO-8601" },
		{ "time", "\"2026-02-29T09:43:14.123Z\"", "time: not an ISO-8601" },
		{ "time", "\"2026-11-27T24:00:00.000Z\"", "time: not an ISO-8601" },
		{ "time", "\"2026-11-27T09:43:60.000Z\"", "time: not an ISO-8601" },
		{ "time", "\"2026-11-27T09:43:14.1234567890Z\"", "time: not an ISO-8601" },
		{ "time", "\"1969-12-31T23:59:59.999Z\"", "time: out of range" },
		{ "time", "\"2600-01-01T00:00:00.000Z\"", "time: out of range" },
		{ "port", "\"53\"", "port: expected an integer" },
		{ "port", "53.0", "port: expected an integer" },
		{ "port", "-1", "port: not in 0..65535" },
		{ "port", "65536", "port: not in 0..65535" },
		{ "port", "99999999999999999999999", "port: " },
		{ "severity", "3", "severity: expected a string" },
		{ "severity", "\"severe\"", "severity: unknown severity" },
		{ "expected_open", "\"true\"", "expected_open: expected true or false" },
		{ "expected_open", "1", "expected_open: expected true or false" },
		{ "dns", "\"{}\"", "dns: expected an object or null" },
		{ "dns", "[]", "dns: expected an object or null" },
		{ "target", "[\"t\"]", "target: expected a string" },
		{ "address", "false", "address: expected a string" },
		{ "target", "\"a\\u0000b\"", "target: contains a NUL byte" },
		/* oversize strings: an error, never a silent cut */
		{ "address", "\"1111:2222:3333:4444:5555:6666:255.255.255.255x\"",
		  "address: longer than 45 bytes" },
		{ "protocol", "\"tcpx\"", "protocol: longer than 3 bytes" },
		{ "previous", "\"0123456789abcdef\"", "previous: longer than 15 bytes" },
		{ "source", "\"passive!\"", "source: longer than 7 bytes" },
		{ "target", longstr, "target: longer than 255 bytes" },
		{ "dns", NULL /* filled below */, "dns: longer than 511 bytes" },
	};
	static char dns_big[700];
	char text[4096], err[160];
	struct alert_event ev, untouched;

	(void)state;
	/* a 256-byte target: one more than the field holds */
	longstr[0] = '"';
	memset(longstr + 1, 'x', 256);
	longstr[257] = '"';
	snprintf(dns_big, sizeof(dns_big), "{\"k\":\"%0*d\"}", 520, 0);

	memset(&untouched, 0x33, sizeof(untouched));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *value = cases[i].value;

		if (cases[i].key == NULL)
			snprintf(text, sizeof(text), "%s", value);
		else if (strcmp(cases[i].err, "dns: longer than 511 bytes") == 0)
			build(text, sizeof(text), "dns", dns_big);
		else
			build(text, sizeof(text), cases[i].key, value);
		memcpy(&ev, &untouched, sizeof(ev));
		err[0] = '\0';
		int rc = alert_event_from_json(text, strlen(text), &ev, err, sizeof(err));
		if (rc != -EINVAL || strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
			fail_msg("case %zu: %s -> rc %d, \"%s\" (want \"%s...\")", i, text, rc, err,
				 cases[i].err);
		assert_memory_equal(&ev, &untouched, sizeof(ev)); /* untouched on error */
	}

	/* the base text itself is fine, so each case failed for its own reason */
	build(text, sizeof(text), "", NULL);
	assert_int_equal(alert_event_from_json(text, strlen(text), &ev, err, sizeof(err)), 0);

	/* an embedded NUL byte, input over the size cap, nesting deeper than the cap */
	static const char nul[] = "{}\0{\"id\":1}";
	assert_int_equal(alert_event_from_json(nul, sizeof(nul) - 1, &ev, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "event: contains a NUL byte");
	static char huge[ALERT_JSON_MAX + 2];
	memset(huge, ' ', sizeof(huge) - 1);
	huge[0] = '{';
	huge[sizeof(huge) - 2] = '}';
	assert_int_equal(alert_event_from_json(huge, strlen(huge), &ev, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "event: longer than 16384 bytes");
	char deep[200];
	size_t d = 0;
	d += (size_t)snprintf(deep, sizeof(deep), "{\"x\":");
	for (int k = 0; k < 40; k++)
		deep[d++] = '[';
	for (int k = 0; k < 40; k++)
		deep[d++] = ']';
	deep[d++] = '}';
	deep[d] = '\0';
	assert_int_equal(alert_event_from_json(deep, d, &ev, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "event: not JSON"));
	/* err may be NULL */
	assert_int_equal(alert_event_from_json("[]", 2, &ev, NULL, 0), -EINVAL);
	/* the message goes into a log line: the file's control characters do not */
	build(text, sizeof(text), "type", "\"x\\nwarning: forged\\u001b[2J\"");
	assert_int_equal(alert_event_from_json(text, strlen(text), &ev, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "type: unknown event type \"x?warning: forged?[2J\"");
}

static void
test_names(void **state)
{
	static const char *const types[] = { "opened", "closed", "changed", "flapping",
					     "degraded", "exposed", "recovered", "unresolved",
					     "resolved", "test" };
	static const char *const sevs[] = { "info", "low", "medium", "high", "critical" };
	enum alert_type t;
	enum alert_severity s;

	(void)state;
	assert_int_equal(sizeof(types) / sizeof(types[0]), ALERT_NTYPES);
	for (unsigned i = 0; i < ALERT_NTYPES; i++) {
		assert_string_equal(alert_type_name((enum alert_type)i), types[i]);
		assert_int_equal(alert_type_parse(types[i], &t), 0);
		assert_int_equal(t, i);
	}
	for (unsigned i = 0; i < 5; i++) {
		assert_string_equal(alert_severity_name((enum alert_severity)i), sevs[i]);
		assert_int_equal(alert_severity_parse(sevs[i], &s), 0);
		assert_int_equal(s, i);
	}
	assert_true(SEV_INFO < SEV_LOW && SEV_LOW < SEV_MEDIUM && SEV_MEDIUM < SEV_HIGH &&
		    SEV_HIGH < SEV_CRITICAL);
	t = ALERT_TEST;
	assert_int_equal(alert_type_parse("OPENED", &t), -EINVAL);
	assert_int_equal(alert_type_parse("", &t), -EINVAL);
	assert_int_equal(alert_type_parse(NULL, &t), -EINVAL);
	assert_int_equal(t, ALERT_TEST);
	s = SEV_LOW;
	assert_int_equal(alert_severity_parse("warning", &s), -EINVAL);
	assert_int_equal(s, SEV_LOW);
	assert_string_equal(alert_type_name(ALERT_NTYPES), "");
	assert_string_equal(alert_type_name((enum alert_type)-1), "");
	assert_string_equal(alert_severity_name((enum alert_severity)(SEV_CRITICAL + 1)), "");
}

/* What counts as new (exit code 1): exposures, and outages of expected-open ports. */
static void
test_exposure_and_outage(void **state)
{
	struct alert_event ev;
	(void)state;

	memset(&ev, 0, sizeof(ev));
	ev.type = ALERT_EXPOSED;
	assert_true(alert_event_is_exposure(&ev));
	assert_false(alert_event_is_outage(&ev));
	ev.type = ALERT_OPENED;
	ev.severity = SEV_MEDIUM;
	assert_false(alert_event_is_exposure(&ev));
	ev.severity = SEV_HIGH;
	assert_true(alert_event_is_exposure(&ev));
	ev.type = ALERT_CLOSED;
	assert_false(alert_event_is_exposure(&ev));
	assert_false(alert_event_is_outage(&ev)); /* back to the safe state */
	ev.expected_open = true;
	assert_true(alert_event_is_outage(&ev));  /* a server expected up went down */
	ev.type = ALERT_RECOVERED;
	ev.severity = SEV_INFO;
	assert_false(alert_event_is_exposure(&ev));
	assert_false(alert_event_is_outage(&ev));
}

/* Derived ids: the same seed gives the same id (a repeated cycle replaces its outbox
 * file), another seed another id; the shape is a UUIDv8. */
static void
test_derived_ids(void **state)
{
	struct alert_event a, b;
	(void)state;

	assert_int_equal(alert_event_init(&a, ALERT_OPENED), 0);
	assert_int_equal(alert_event_init(&b, ALERT_OPENED), 0);
	assert_string_not_equal(a.id, b.id);
	assert_int_equal(alert_event_derive_id(&a, "inst|7|127.53.0.5|tcp|opened", 28), 0);
	assert_int_equal(alert_event_derive_id(&b, "inst|7|127.53.0.5|tcp|opened", 28), 0);
	assert_string_equal(a.id, b.id);
	assert_int_equal(strlen(a.id), ALERT_ID_LEN - 1);
	assert_int_equal(a.id[14], '8');
	assert_true(strchr("89ab", a.id[19]) != NULL);
	assert_int_equal(alert_event_derive_id(&b, "inst|8|127.53.0.5|tcp|opened", 28), 0);
	assert_string_not_equal(a.id, b.id);
	/* SHA-256("abc") starts ba7816bf 8f01cfea 414140de: the id is its first 128 bits */
	assert_int_equal(alert_event_derive_id(&a, "abc", 3), 0);
	assert_string_equal(a.id, "ba7816bf-8f01-8fea-8141-40de5dae2223");
}

/* Whatever bytes the fields hold (a name cut by bytes in the agent, an outbox file), the
 * JSON is valid UTF-8, every string fits its field when read back, and only what a cut
 * left (half a character) is dropped; any other ill-formed byte becomes '?'. */
static void
test_json_utf8(void **state)
{
	struct alert_event ev, back;
	struct json_tokener *tok;
	struct json_object *o, *v;
	char buf[ALERT_JSON_MAX], err[256], name[400];
	size_t off = 0;
	int n;

	(void)state;
	sample(&ev);
	while (off + 3 < sizeof(name)) {
		memcpy(name + off, "\xe2\x82\xac", 3); /* € */
		off += 3;
	}
	name[off] = '\0';
	/* cut by bytes as baseline.c cuts (%.*s): "ns", 84 whole "€" and the lead byte of one
	 * more */
	snprintf(ev.target, sizeof(ev.target), "ns%.253s", name);
	snprintf(ev.summary, sizeof(ev.summary), "on 127.53.0.5 (%.64s) is open", name);
	snprintf(ev.why, sizeof(ev.why), "x\xffy\xc0\xafz \xed\xa0\x80.");
	snprintf(ev.agent, sizeof(ev.agent), "h\xc3");
	snprintf(ev.dns_json, sizeof(ev.dns_json), "{\"valid\":true,\"version\":\"9\xe2\x82\"}");
	n = alert_event_to_json(&ev, buf, sizeof(buf));
	assert_true(n > 0);

	tok = json_tokener_new();
	assert_non_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, n);
	assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
	json_tokener_free(tok);
	assert_true(json_object_object_get_ex(o, "target", &v));
	assert_int_equal(strncmp(json_object_get_string(v), "ns\xe2\x82\xac", 5), 0);
	assert_int_equal(json_object_get_string_len(v), 2 + 84 * 3);
	assert_true(json_object_object_get_ex(o, "summary", &v));
	/* 64 bytes: 21 whole "€" and one byte of the 22nd */
	assert_int_equal(json_object_get_string_len(v),
			 (int)strlen("on 127.53.0.5 () is open") + 63);
	assert_non_null(strstr(json_object_get_string(v), "\xe2\x82\xac) is open"));
	assert_true(json_object_object_get_ex(o, "why", &v));
	assert_string_equal(json_object_get_string(v), "x?y??z ???.");
	assert_true(json_object_object_get_ex(o, "agent", &v));
	assert_string_equal(json_object_get_string(v), "h");
	/* a dns text that is not UTF-8 is no object to pass on */
	assert_true(json_object_object_get_ex(o, "dns", &v));
	assert_null(v);
	json_object_put(o);

	/* and it reads back, every string within its field */
	assert_int_equal(alert_event_from_json(buf, (size_t)n, &back, err, sizeof(err)), 0);
	assert_string_equal(back.why, "x?y??z ???.");
	assert_int_equal(strlen(back.target), 2 + 84 * 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_json),
		cmocka_unit_test(test_nulls),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_exposure_and_outage),
		cmocka_unit_test(test_derived_ids),
		cmocka_unit_test(test_json_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
