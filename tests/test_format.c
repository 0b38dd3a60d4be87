/*
 * test_format: every sink's message, byte for byte against reviewed golden files (one per
 * sink per event type), digests of 50 events checked against each service's limits, and
 * the details: signatures, escaping, ntfy headers, Telegram URLs, 429 bodies, the table.
 *
 * W53_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing (then review them).
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "alerts/alertmanager.h"
#include "alerts/event.h"
#include "alerts/hint.h"
#include "alerts/sign.h"
#include "alerts/sink.h"

#define KIND_NAME(o) sink_kind_name((o)->kind)
#include "common/util.h"

#ifndef TESTS_DATA_DIR
#define TESTS_DATA_DIR "tests/data"
#endif

/* 2026-11-27T09:43:14.123Z, and the formatter's clock five seconds later */
#define T_NS (1795772594ull * NS_PER_SEC + 123 * NS_PER_MS)
#define NOW_NS (T_NS + 5 * NS_PER_SEC)

#define ACK "watch53 baseline accept -c /etc/watch53/watch53.json"
#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/* Fake endpoints and secrets only: nothing here is sent anywhere. */
static const struct sink_settings settings[SINK_KIND_N] = {
	[SINK_KIND_WEBHOOK] = { .kind = SINK_KIND_WEBHOOK, .name = "hook",
				.url = "https://hooks.example.test/watch53", .secret = SECRET,
				.agent_cmd = ACK },
	[SINK_KIND_SLACK] = { .kind = SINK_KIND_SLACK, .name = "slack",
			      .url = "https://hooks.slack.com/services/T00000000/B00000000/"
				     "XXXXXXXXXXXXXXXXXXXXXXXX",
			      .agent_cmd = ACK },
	[SINK_KIND_MATTERMOST] = { .kind = SINK_KIND_MATTERMOST, .name = "mm",
				   .url = "https://mattermost.example.test/hooks/testtesttesttest",
				   .agent_cmd = ACK },
	[SINK_KIND_DISCORD] = { .kind = SINK_KIND_DISCORD, .name = "discord",
				.url = "https://discord.com/api/webhooks/000000000000000000/"
				       "TESTTOKEN",
				.agent_cmd = ACK },
	[SINK_KIND_TEAMS] = { .kind = SINK_KIND_TEAMS, .name = "teams",
			      .url = "https://prod-00.westeurope.logic.azure.com:443/workflows/"
				     "0000/triggers/manual/paths/invoke?api-version=2016-06-01"
				     "&sig=TESTSIG",
			      .agent_cmd = ACK },
	[SINK_KIND_GOOGLECHAT] = { .kind = SINK_KIND_GOOGLECHAT, .name = "gchat",
				   .url = "https://chat.googleapis.com/v1/spaces/AAAA/messages"
					  "?key=TESTKEY&token=TESTTOKEN",
				   .agent_cmd = ACK },
	[SINK_KIND_TELEGRAM] = { .kind = SINK_KIND_TELEGRAM, .name = "tg",
				 .token = "123:TESTTOKEN", .chat_id = "-1001234567890",
				 .agent_cmd = ACK },
	[SINK_KIND_NTFY] = { .kind = SINK_KIND_NTFY, .name = "ntfy",
			     .url = "https://ntfy.example.test/watch53-alerts",
			     .token = "tk_TESTTOKEN", .agent_cmd = ACK },
	[SINK_KIND_ALERTMANAGER] = { .kind = SINK_KIND_ALERTMANAGER, .name = "am",
				     .url = "http://am1.example.test:9093/", .token = "am_TESTTOKEN",
				     .agent_cmd = ACK, .hold_ns = 180 * NS_PER_SEC },
};

/* On-call settings: a runbook on the event, a mention on every sink that has one (ntfy:
 * the priority), for events rated high and up. */
#define RUNBOOK "https://wiki.example.test/runbooks/dns?id=53&team=ops"
#define RUNBOOK_HTML "https://wiki.example.test/runbooks/dns?id=53&amp;team=ops"

static const struct {
	const char *mention, *name;
} oncall_mentions[SINK_KIND_N] = {
	[SINK_KIND_SLACK] = { "<@U0123ABCD>", NULL },
	[SINK_KIND_MATTERMOST] = { "@oncall", NULL },
	[SINK_KIND_DISCORD] = { "<@&123456789012345678>", NULL },
	[SINK_KIND_TEAMS] = { "alice@example.com", "Alice Doe" },
	[SINK_KIND_GOOGLECHAT] = { "<users/123456789>", NULL },
	[SINK_KIND_TELEGRAM] = { "987654321", "On call" },
};

static struct sink_settings
oncall_settings(enum sink_kind k)
{
	struct sink_settings s = settings[k];

	s.mention_on = k != SINK_KIND_WEBHOOK && k != SINK_KIND_ALERTMANAGER;
	s.mention = oncall_mentions[k].mention;
	s.mention_name = oncall_mentions[k].name;
	s.mention_min_severity = SEV_HIGH;
	return s;
}

static const char why_resolver[] =
	"It answers recursive queries from here: an open resolver is abused for amplification "
	"DDoS and cache poisoning, and leaks what its clients look up.";
static const char why_down[] = "Clients relying on this DNS server cannot resolve names.";
static const char why_back_up[] = "This port is expected open and is reachable again.";
static const char why_ra_on[] =
	"Recursion is now offered to whoever can reach this server: an open resolver is abused "
	"for amplification DDoS and cache poisoning.";
static const char why_flapping[] =
	"A port that keeps opening and closing points to an unstable service, a firewall rule "
	"being toggled or an overloaded server; its alerts are held back to avoid noise.";
static const char dns_recursive[] =
	"{\"valid\":true,\"rcode\":\"NOERROR\",\"aa\":false,\"ra\":true,\"tc\":false}";

static void
ev_set(struct alert_event *ev, enum alert_type type, const char *id, const char *target,
       const char *address, const char *proto, const char *prev, const char *cur,
       const char *reason, enum alert_severity sev, const char *summary, const char *why,
       const char *dns)
{
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->id, sizeof(ev->id), "%s", id);
	ev->type = type;
	ev->time_ns = T_NS;
	snprintf(ev->agent, sizeof(ev->agent), "mon1");
	snprintf(ev->vantage, sizeof(ev->vantage), "dc-east");
	snprintf(ev->target, sizeof(ev->target), "%s", target);
	snprintf(ev->address, sizeof(ev->address), "%s", address);
	snprintf(ev->protocol, sizeof(ev->protocol), "%s", proto);
	ev->port = proto[0] != '\0' ? 53 : 0;
	snprintf(ev->previous, sizeof(ev->previous), "%s", prev);
	snprintf(ev->current, sizeof(ev->current), "%s", cur);
	snprintf(ev->reason, sizeof(ev->reason), "%s", reason);
	ev->severity = sev;
	snprintf(ev->summary, sizeof(ev->summary), "%s", summary);
	snprintf(ev->why, sizeof(ev->why), "%s", why);
	snprintf(ev->dns_json, sizeof(ev->dns_json), "%s", dns);
	snprintf(ev->source, sizeof(ev->source), "active");
}

/* One event of each type, shaped like what baseline.c raises. The closed one's name has
 * the characters every format must escape. */
static void
fixed_event(enum alert_type t, struct alert_event *ev)
{
	switch (t) {
	case ALERT_OPENED:
		ev_set(ev, t, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", "primary dns", "127.53.0.5",
		       "udp", "filtered", "open", "dns-reply", SEV_CRITICAL,
		       "UDP port 53 on 127.53.0.5 (primary dns) is now open (dns-reply) and offers "
		       "recursion; it was filtered.",
		       why_resolver, dns_recursive);
		break;
	case ALERT_CLOSED:
		ev_set(ev, t, "1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d", "ns2 <backup> & co",
		       "127.53.0.9", "tcp", "open", "filtered", "timeout", SEV_HIGH,
		       "TCP port 53 on 127.53.0.9 (ns2 <backup> & co) is now filtered (timeout), "
		       "3 cycles in a row; it was open.",
		       why_down, "");
		ev->expected_open = true;
		break;
	case ALERT_CHANGED:
		ev_set(ev, t, "2b3c4d5e-6f70-4b1c-8d2e-3f4a5b6c7d8e", "127.53.0.7", "127.53.0.7",
		       "udp", "ra=false", "ra=true", "dns-reply", SEV_MEDIUM,
		       "DNS on 127.53.0.7 changed: ra false -> true.", why_ra_on, dns_recursive);
		break;
	case ALERT_RECOVERED:
		ev_set(ev, t, "5e6f7081-92a3-4e4f-8a5b-6c7d8e9fa0b1", "primary dns", "127.53.0.6",
		       "tcp", "filtered", "open", "syn-ack", SEV_INFO,
		       "TCP port 53 on 127.53.0.6 (primary dns) is back up (syn-ack); it was "
		       "filtered for 3 cycles since 2026-11-27 09:28:14 UTC (no answer).",
		       why_back_up, "");
		ev->expected_open = true;
		break;
	case ALERT_FLAPPING:
		ev_set(ev, t, "3c4d5e6f-7081-4c2d-9e3f-4a5b6c7d8e9f", "r\xc3\xa9solveur-2",
		       "127.53.0.8", "udp", "open", "filtered", "timeout", SEV_MEDIUM,
		       "UDP port 53 on 127.53.0.8 (r\xc3\xa9solveur-2) is flapping: 4 changes in "
		       "the last 8 cycles; its alerts pause until it is stable for 8 cycles.",
		       why_flapping, "");
		break;
	default:
		ev_set(ev, ALERT_DEGRADED, "4d5e6f70-8192-4d3e-8f4a-5b6c7d8e9fa0", "", "", "", "",
		       "", "", SEV_HIGH,
		       "watch53 could not probe: no port gave any evidence this cycle, so it does "
		       "not count towards closing anything.",
		       "While the monitor cannot see the hosts, new exposures go unnoticed.", "");
		break;
	}
}

/*
 * The hostile strings of issue 13. A DNS server chose its version.bind; a config named a
 * target with every mention and link syntax of the services, a bidi override and a tail
 * of "€" longer than the fields, cut by bytes as agent/baseline.c cuts it (the target at
 * 255 bytes, the name in the summary at 64): both cuts fall inside a "€". The agent's host
 * name and the other DNS facts carry markup too.
 */
#define HOSTILE_VERSION "W53X @channel @here <!channel> @everyone [x](http://e.test)"
#define HOSTILE_NAME "<!here> @all <users/all> [n](https://evil.test/n) "
#define RLO "\xe2\x80\xae" /* U+202E RIGHT-TO-LEFT OVERRIDE */
#define EURO "\xe2\x82\xac"

static void
hostile_event(struct alert_event *ev)
{
	char name[400];
	size_t off = (size_t)snprintf(name, sizeof(name), "%s" RLO, HOSTILE_NAME);

	while (off + 3 < sizeof(name)) {
		memcpy(name + off, EURO, 3);
		off += 3;
	}
	name[off] = '\0';
	ev_set(ev, ALERT_CHANGED, "5e6f7081-92a3-4b4c-8d5e-6f708192a3b4", "", "127.53.0.66",
	       "udp", "version=9.18.1", "version=W53X @c", "dns-reply", SEV_MEDIUM, "",
	       "Another version string usually means an upgrade, a downgrade or another server "
	       "answering.",
	       "{\"valid\":true,\"rcode\":\"NOERROR\",\"aa\":false,\"ra\":true,\"tc\":false,"
	       "\"version\":\"" HOSTILE_VERSION "\",\"hostname\":\"<@U0123> *b* _i_ ~s~ `c` ||x|| "
	       "#h\",\"nsid\":\"ns1\"}");
	memcpy(ev->target, name, 255); /* baseline.c: "%.*s" of BL_TARGET_MAX bytes */
	ev->target[255] = '\0';
	snprintf(ev->summary, sizeof(ev->summary),
		 "DNS on 127.53.0.66 (%.64s) changed: version 9.18.1 -> " HOSTILE_VERSION ".",
		 name);
	snprintf(ev->agent, sizeof(ev->agent), "mon_1*@here");
	/* the vantage is config text, shown in every title: rendered like the rest */
	snprintf(ev->vantage, sizeof(ev->vantage), "<!here> *dc*_`1`");
	/* the fixture is what the issue says: both cuts inside a character */
	assert_int_equal((unsigned char)ev->target[254], 0xe2);
	assert_non_null(strstr(ev->summary, EURO "\xe2\x82) changed"));
}

/* An exposure with every finding (open resolver, AXFR, version) and a runbook. */
static void
oncall_event(struct alert_event *ev)
{
	ev_set(ev, ALERT_EXPOSED, "6f708192-a3b4-4c5d-8e6f-708192a3b4c5", "ns3", "127.53.0.10",
	       "tcp", "", "open", "syn-ack", SEV_CRITICAL,
	       "TCP port 53 on 127.53.0.10 (ns3) is open (syn-ack) and offers recursion.",
	       why_resolver,
	       "{\"valid\":true,\"rcode\":\"NOERROR\",\"aa\":true,\"ra\":true,\"tc\":false,"
	       "\"recursion\":true,\"version\":\"9.18.1\",\"axfr\":true}");
	snprintf(ev->runbook_url, sizeof(ev->runbook_url), "%s", RUNBOOK);
}

/* A low event: delivered quietly where the service can, and never with the mention. */
static void
quiet_event(struct alert_event *ev)
{
	ev_set(ev, ALERT_CHANGED, "708192a3-b4c5-4d6e-8f70-8192a3b4c5d6", "127.53.0.7", "127.53.0.7",
	       "udp", "rcode=NOERROR", "rcode=REFUSED", "dns-reply", SEV_LOW,
	       "DNS on 127.53.0.7 changed: rcode NOERROR -> REFUSED.",
	       "A different answer code usually means a configuration change.",
	       "{\"valid\":true,\"rcode\":\"REFUSED\",\"aa\":false,\"ra\":false,\"tc\":false}");
	snprintf(ev->runbook_url, sizeof(ev->runbook_url), "%s", RUNBOOK);
}

/* ---- helpers ---- */

/* URL, headers, a blank line, the body and a newline: what the golden files hold. */
static char *
show(const struct sink_message *m)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	fprintf(f, "%s\n", m->url);
	for (size_t i = 0; i < m->nheaders; i++)
		fprintf(f, "%s\n", m->headers[i]);
	fprintf(f, "\n");
	fwrite(m->body, 1, m->body_len, f);
	fprintf(f, "\n");
	assert_int_equal(fclose(f), 0);
	return out;
}

static const char *
data_dir(void)
{
	const char *d = getenv("TESTS_DATA_DIR");

	return d != NULL && d[0] != '\0' ? d : TESTS_DATA_DIR;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static struct json_object *
parse_json(const char *body, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	assert_non_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, body, (int)len);
	assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
	assert_int_equal(json_tokener_get_parse_end(tok), len);
	json_tokener_free(tok);
	assert_non_null(o);
	return o;
}

static struct json_object *
jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

/* Counted here independently of format.c: UTF-16 units. */
static size_t
u16(const char *s)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p & 0xc0) == 0x80)
			continue;
		n += *p >= 0xf0 ? 2 : 1;
	}
	return n;
}

/* Telegram's count: text with the HTML tags removed and entities decoded. */
static size_t
telegram_visible(const char *html)
{
	char *plain = malloc(strlen(html) + 1);
	size_t o = 0, n;

	assert_non_null(plain);
	for (const char *p = html; *p != '\0'; p++) {
		if (*p == '<') {
			p = strchr(p, '>');
			assert_non_null(p);
		} else if (*p == '&') {
			const char *semi = strchr(p, ';');

			assert_non_null(semi);
			assert_true(strncmp(p, "&lt;", 4) == 0 || strncmp(p, "&gt;", 4) == 0 ||
				    strncmp(p, "&amp;", 5) == 0);
			plain[o++] = p[1] == 'a' ? '&' : p[1] == 'l' ? '<' : '>';
			p = semi;
		} else {
			plain[o++] = *p;
		}
	}
	plain[o] = '\0';
	n = u16(plain);
	free(plain);
	return n;
}

static const struct sink_ops *
ops(enum sink_kind k)
{
	const struct sink_ops *o = sink_find(k);

	assert_non_null(o);
	assert_int_equal(o->kind, k);
	return o;
}

/* ---- golden payloads ---- */

/* got against tests/data/golden/<name>.txt (W53_UPDATE_GOLDEN=1 writes it first). */
static void
golden_compare(const char *name, const char *got)
{
	const bool update = getenv("W53_UPDATE_GOLDEN") != NULL &&
			    strcmp(getenv("W53_UPDATE_GOLDEN"), "1") == 0;
	char *path, *want;
	size_t wlen;

	assert_true(asprintf(&path, "%s/golden/%s.txt", data_dir(), name) > 0);
	if (update) {
		FILE *f = fopen(path, "wb");

		assert_non_null(f);
		fputs(got, f);
		assert_int_equal(fclose(f), 0);
	}
	want = read_file(path, &wlen);
	if (want == NULL)
		fail_msg("%s: missing (W53_UPDATE_GOLDEN=1 writes it)", path);
	if (strcmp(got, want) != 0) {
		print_error("%s differs; got:\n%s\n", path, got);
		fail();
	}
	free(want);
	free(path);
}

static void
test_golden(void **state)
{
	const bool update = getenv("W53_UPDATE_GOLDEN") != NULL &&
			    strcmp(getenv("W53_UPDATE_GOLDEN"), "1") == 0;
	/* one event of each type, then the hostile one (file "<sink>-hostile.txt") */
	static const enum alert_type types[] = { ALERT_OPENED, ALERT_CLOSED, ALERT_CHANGED,
						 ALERT_FLAPPING, ALERT_DEGRADED, ALERT_RECOVERED,
						 ALERT_NTYPES };
	size_t checked = 0;

	(void)state;
	for (unsigned k = 0; k < SINK_KIND_N; k++) {
		const struct sink_ops *o = ops((enum sink_kind)k);

		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			struct alert_event ev;
			struct sink_message m;
			char *path, *got, *want;
			size_t wlen;

			if (types[t] == ALERT_NTYPES)
				hostile_event(&ev);
			else
				fixed_event(types[t], &ev);
			assert_int_equal(o->format(&settings[k], &ev, 1, NOW_NS, &m), 0);
			assert_int_equal(m.nevents, 1);
			got = show(&m);
			assert_true(asprintf(&path, "%s/golden/%s-%s.txt", data_dir(), KIND_NAME(o),
					     types[t] == ALERT_NTYPES ? "hostile"
					     : alert_type_name(types[t])) > 0);
			if (update) {
				FILE *f = fopen(path, "wb");

				assert_non_null(f);
				fputs(got, f);
				assert_int_equal(fclose(f), 0);
			}
			want = read_file(path, &wlen);
			if (want == NULL)
				fail_msg("%s: missing (W53_UPDATE_GOLDEN=1 writes it)", path);
			if (strcmp(got, want) != 0) {
				print_error("%s differs; got:\n%s\n", path, got);
				fail();
			}
			/* What is sent as JSON is JSON, and the shape each service wants. */
			if (k != SINK_KIND_NTFY) {
				struct json_object *j = parse_json(m.body, m.body_len);

				json_object_put(j);
			}
			free(want);
			free(got);
			free(path);
			sink_message_clear(&m);
			checked++;
		}
	}
	assert_int_equal(checked, 63); /* 9 sinks x (6 types + the hostile event) */
}

/* ---- digests ---- */

#define NDIGEST 50

static void
digest_events(struct alert_event *evs)
{
	static const enum alert_severity sevs[] = { SEV_CRITICAL, SEV_HIGH, SEV_MEDIUM, SEV_LOW,
						    SEV_INFO, SEV_HIGH, SEV_CRITICAL };
	static const char *const whys[] = {
		"It answers recursive queries from here: an open resolver is abused for "
		"amplification DDoS and cache poisoning, and leaks what its clients look up.",
		"An open DNS port reachable where it should not be can hand out whole zones by zone "
		"transfer (AXFR), leak versions, and serve as an open resolver.",
		"Clients relying on this DNS server cannot resolve names.",
	};

	for (size_t i = 0; i < NDIGEST; i++) {
		struct alert_event *ev = &evs[i];
		enum alert_type t = (enum alert_type)(i % 5);
		char id[ALERT_ID_LEN], addr[46], target[64], summary[512];

		snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012zu", i);
		snprintf(addr, sizeof(addr), "127.53.1.%zu", i + 1);
		/* every fifth name is not ASCII: counting must be in characters */
		snprintf(target, sizeof(target), "%s-%02zu.digest.example.test",
			 i % 5 == 3 ? "r\xc3\xa9solveur\xe2\x86\x92\xf0\x9f\x94\x8d" : "ns", i);
		/* long and unique: "(no. 07)" appears in no other summary, and nothing in it
		 * is markup in any service (so it is found as it is in every body) */
		snprintf(summary, sizeof(summary),
			 "UDP port 53 on %s (%s) is now open (dns-reply) and offers recursion to "
			 "anyone who can reach it; it was filtered in every cycle of the baseline "
			 "before this one (no. %02zu).",
			 addr, target, i);
		assert_true(strlen(summary) < sizeof(ev->summary));
		ev_set(ev, t, id, target, addr,
		       i % 2 ? "tcp" : "udp", "filtered", "open", "dns-reply",
		       sevs[i % (sizeof(sevs) / sizeof(sevs[0]))], summary,
		       whys[i % (sizeof(whys) / sizeof(whys[0]))], i % 3 == 0 ? dns_recursive : "");
		ev->time_ns = T_NS + i * NS_PER_SEC;
	}
}

/* Everything checked about one message of one service's digest; returns the measure the
 * service limits (bytes or characters) for the fullness check. */
static size_t
check_limits(enum sink_kind k, const struct sink_message *m)
{
	struct json_object *j = NULL, *a;
	size_t measure = m->body_len, total = 0;

	if (k != SINK_KIND_NTFY)
		j = parse_json(m->body, m->body_len);
	switch (k) {
	case SINK_KIND_WEBHOOK:
		assert_int_equal(m->nevents, 1);
		break;
	case SINK_KIND_SLACK:
		a = jget(j, "blocks");
		assert_true(json_object_array_length(a) <= 50);
		assert_int_equal(json_object_array_length(a), m->nevents + 2);
		assert_true(u16(json_object_get_string(jget(jget(json_object_array_get_idx(a, 0),
								 "text"), "text"))) <= 150);
		for (size_t i = 1; i <= m->nevents; i++) {
			struct json_object *b = json_object_array_get_idx(a, i);

			assert_string_equal(json_object_get_string(jget(b, "type")), "section");
			assert_true(u16(json_object_get_string(jget(jget(b, "text"), "text"))) <=
				    3000);
		}
		assert_true(u16(json_object_get_string(jget(j, "text"))) <= 40000);
		measure = json_object_array_length(a);
		break;
	case SINK_KIND_DISCORD:
		a = jget(j, "embeds");
		assert_true(json_object_array_length(a) <= 10);
		assert_int_equal(json_object_array_length(a), m->nevents);
		assert_true(u16(json_object_get_string(jget(j, "content"))) <= 2000);
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			struct json_object *e = json_object_array_get_idx(a, i);
			size_t tl = u16(json_object_get_string(jget(e, "title")));
			size_t dl = u16(json_object_get_string(jget(e, "description")));

			assert_true(tl <= 256);
			assert_true(dl <= 4096);
			total += tl + dl;
		}
		assert_true(total <= 6000);
		measure = total;
		break;
	case SINK_KIND_MATTERMOST:
		assert_true(m->body_len <= 16383);
		assert_int_equal(json_object_array_length(jget(j, "attachments")), m->nevents);
		break;
	case SINK_KIND_TEAMS:
		assert_true(m->body_len <= 20000);
		assert_string_equal(json_object_get_string(jget(j, "type")), "message");
		break;
	case SINK_KIND_GOOGLECHAT:
		assert_true(m->body_len <= 32000);
		break;
	case SINK_KIND_TELEGRAM:
		measure = telegram_visible(json_object_get_string(jget(j, "text")));
		assert_true(measure <= 4096);
		break;
	case SINK_KIND_NTFY:
		assert_true(m->body_len <= 4096);
		break;
	case SINK_KIND_ALERTMANAGER:
		/* an array of alerts, one an event */
		assert_true(json_object_is_type(j, json_type_array));
		assert_int_equal(json_object_array_length(j), m->nevents);
		break;
	default:
		fail();
	}
	json_object_put(j);
	return measure;
}

static void
test_digest(void **state)
{
	static struct alert_event evs[NDIGEST];
	/* the limit check_limits' measure is compared with, and the expected message count
	 * where the count alone decides it */
	static const struct {
		size_t limit;
		size_t nmsgs; /* 0: decided by size */
	} want[SINK_KIND_N] = {
		[SINK_KIND_WEBHOOK] = { 0, 50 },     [SINK_KIND_SLACK] = { 50, 2 },
		[SINK_KIND_MATTERMOST] = { 16383, 0 }, [SINK_KIND_DISCORD] = { 6000, 5 },
		[SINK_KIND_TEAMS] = { 20000, 0 },    [SINK_KIND_GOOGLECHAT] = { 32000, 0 },
		[SINK_KIND_TELEGRAM] = { 4096, 0 },  [SINK_KIND_NTFY] = { 4096, 0 },
	};

	(void)state;
	digest_events(evs);
	for (unsigned k = 0; k < SINK_KIND_N; k++) {
		const struct sink_ops *o = ops((enum sink_kind)k);
		struct sink_message msgs[NDIGEST];
		size_t measures[NDIGEST], nmsgs = 0, done = 0, single_max = 0;

		/* the largest one event makes alone: a message short of the limit by more
		 * than that could have taken the next event */
		for (size_t i = 0; i < NDIGEST; i++) {
			struct sink_message m;

			assert_int_equal(o->format(&settings[k], &evs[i], 1, NOW_NS, &m), 0);
			measures[0] = check_limits((enum sink_kind)k, &m);
			if (measures[0] > single_max)
				single_max = measures[0];
			sink_message_clear(&m);
		}
		while (done < NDIGEST) {
			struct sink_message *m = &msgs[nmsgs];

			assert_int_equal(o->format(&settings[k], evs + done, NDIGEST - done, NOW_NS, m),
					 0);
			assert_true(m->nevents >= 1 && m->nevents <= NDIGEST - done);
			assert_true(m->nevents <= o->limits.max_events);
			measures[nmsgs] = check_limits((enum sink_kind)k, m);
			done += m->nevents;
			nmsgs++;
		}
		print_message("%-10s %zu messages\n", KIND_NAME(o), nmsgs);
		if (want[k].nmsgs != 0)
			assert_int_equal(nmsgs, want[k].nmsgs);
		/* as few messages as the limits allow: every message but the last is full */
		for (size_t i = 0; i + 1 < nmsgs; i++) {
			if (msgs[i].nevents == o->limits.max_events)
				continue;
			if (k == SINK_KIND_SLACK || k == SINK_KIND_DISCORD)
				fail_msg("%s message %zu: %zu events, room for %zu", KIND_NAME(o),
					 i, msgs[i].nevents, o->limits.max_events);
			assert_true(measures[i] + single_max > want[k].limit);
		}
		/* nothing lost, nothing twice: each summary in exactly one message */
		for (size_t e = 0; e < NDIGEST; e++) {
			size_t found = 0;

			for (size_t i = 0; i < nmsgs; i++)
				if (memmem(msgs[i].body, msgs[i].body_len, evs[e].summary,
					   strlen(evs[e].summary)) != NULL)
					found++;
			if (found != 1)
				fail_msg("%s: event %zu in %zu messages", KIND_NAME(o), e, found);
		}
		for (size_t i = 0; i < nmsgs; i++)
			sink_message_clear(&msgs[i]);
	}
}

/* ---- details ---- */

static const char *
header(const struct sink_message *m, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < m->nheaders; i++)
		if (strncmp(m->headers[i], name, n) == 0 && m->headers[i][n] == ':')
			return m->headers[i] + n + 2;
	return NULL;
}

static void
test_webhook(void **state)
{
	const struct sink_ops *o = ops(SINK_KIND_WEBHOOK);
	struct sink_settings s = settings[SINK_KIND_WEBHOOK];
	struct alert_event evs[3];
	struct sink_message m;
	char json[ALERT_JSON_MAX], sig[SIGN_SIG_LEN];
	uint8_t key[SIGN_KEY_MAX];
	size_t keylen;
	int n;

	(void)state;
	fixed_event(ALERT_OPENED, &evs[0]);
	fixed_event(ALERT_CLOSED, &evs[1]);
	fixed_event(ALERT_CHANGED, &evs[2]);
	/* one event a request, whatever is offered */
	assert_int_equal(o->format(&s, evs, 3, NOW_NS, &m), 0);
	assert_int_equal(m.nevents, 1);
	/* the body is the contract's event JSON */
	n = alert_event_to_json(&evs[0], json, sizeof(json));
	assert_true(n > 0);
	/* ... and, an exposure, what to do as data, its last key */
	assert_true(m.body_len > (size_t)n);
	assert_memory_equal(m.body, json, (size_t)n - 1);
	assert_true(strncmp(m.body + n - 1, ",\"remediation\":[{\"label\":\"Close the port to the "
				"outside, ufw:\",\"command\":\"ufw deny proto udp from any to 127.53.0.5 "
				"port 53\"},", 110) == 0);
	assert_int_equal(m.body[m.body_len - 1], '}');
	/* a closed port gets none: the body is the event JSON as it is */
	{
		struct sink_message m2;
		char j2[ALERT_JSON_MAX];
		int n2 = alert_event_to_json(&evs[1], j2, sizeof(j2));

		assert_int_equal(o->format(&s, &evs[1], 1, NOW_NS, &m2), 0);
		assert_int_equal(m2.body_len, (size_t)n2);
		assert_memory_equal(m2.body, j2, (size_t)n2);
		sink_message_clear(&m2);
	}
	memcpy(json, m.body, m.body_len);
	n = (int)m.body_len;
	assert_string_equal(header(&m, "webhook-id"), evs[0].id);
	assert_string_equal(header(&m, "webhook-timestamp"), "1795772599");
	/* what a receiver checks: id.timestamp.body under the shared key */
	assert_int_equal(sign_decode_key(SECRET, key, sizeof(key), &keylen), 0);
	assert_int_equal(sign_webhook(key, keylen, evs[0].id, 1795772599, json, (size_t)n, sig,
				      sizeof(sig)),
			 0);
	assert_string_equal(header(&m, "webhook-signature"), sig);
	sink_message_clear(&m);

	/* no secret, no signature header */
	s.secret = NULL;
	assert_int_equal(o->format(&s, evs, 1, NOW_NS, &m), 0);
	assert_null(header(&m, "webhook-signature"));
	assert_int_equal(m.nheaders, 3);
	sink_message_clear(&m);

	/* a broken secret is an error, not an unsigned request */
	s.secret = "whsec_not base64";
	assert_int_equal(o->format(&s, evs, 1, NOW_NS, &m), -EINVAL);
	assert_null(m.url);
	assert_null(m.body);
	s.secret = SECRET;
	s.url = NULL;
	assert_int_equal(o->format(&s, evs, 1, NOW_NS, &m), -EINVAL);
}

static void
test_escaping(void **state)
{
	struct alert_event ev;
	struct sink_message m;

	(void)state;
	fixed_event(ALERT_CLOSED, &ev);
	/* Slack mrkdwn: a name like "<!channel>" stays text */
	snprintf(ev.target, sizeof(ev.target), "<!channel> & co");
	snprintf(ev.summary, sizeof(ev.summary), "TCP port 53 on 127.53.0.9 (<!channel> & co).");
	assert_int_equal(ops(SINK_KIND_SLACK)->format(&settings[SINK_KIND_SLACK], &ev, 1, NOW_NS,
						      &m),
			 0);
	assert_null(strstr(m.body, "<!channel>"));
	assert_non_null(strstr(m.body, "(&lt;!channel&gt; &amp; co)."));
	sink_message_clear(&m);

	/* Telegram HTML */
	assert_int_equal(ops(SINK_KIND_TELEGRAM)->format(&settings[SINK_KIND_TELEGRAM], &ev, 1,
							 NOW_NS, &m),
			 0);
	assert_null(strstr(m.body, "<!channel>"));
	assert_non_null(strstr(m.body, "(&lt;!channel&gt; &amp; co)."));
	sink_message_clear(&m);

	/* Google Chat has no escape: the mention syntax loses its '<' to a look-alike */
	snprintf(ev.summary, sizeof(ev.summary), "TCP port 53 on 127.53.0.9 (<users/all>).");
	assert_int_equal(ops(SINK_KIND_GOOGLECHAT)->format(&settings[SINK_KIND_GOOGLECHAT], &ev,
							   1, NOW_NS, &m),
			 0);
	assert_null(strstr(m.body, "<users/all>"));
	assert_non_null(strstr(m.body, "(\u2039users/all>)."));
	sink_message_clear(&m);

	/* Discord: no mention is ever parsed */
	assert_int_equal(ops(SINK_KIND_DISCORD)->format(&settings[SINK_KIND_DISCORD], &ev, 1,
							NOW_NS, &m),
			 0);
	assert_non_null(strstr(m.body, "\"allowed_mentions\":{\"parse\":[]}"));
	sink_message_clear(&m);

	/* invalid UTF-8 and control characters never reach a body: shown as U+FFFD */
	snprintf(ev.summary, sizeof(ev.summary), "bad \xff\xfe byte\nand a newline");
	for (unsigned k = 0; k < SINK_KIND_N; k++) {
		if (k == SINK_KIND_WEBHOOK)
			continue; /* the contract's JSON is event.c's (test_webhook_utf8) */
		assert_int_equal(ops((enum sink_kind)k)->format(&settings[k], &ev, 1, NOW_NS, &m),
				 0);
		if (k != SINK_KIND_NTFY)
			json_object_put(parse_json(m.body, m.body_len));
		assert_non_null(strstr(m.body, "bad \ufffd\ufffd byte\ufffdand a newline"));
		sink_message_clear(&m);
	}
}

/* One event too big for a Slack section (3000 characters once escaped) loses its DNS
 * facts, not its what/where/severity/why. */
static void
test_oversize_event(void **state)
{
	struct alert_event ev;
	struct sink_message m;
	char big[400];

	(void)state;
	fixed_event(ALERT_OPENED, &ev);
	memset(ev.summary, '&', sizeof(ev.summary) - 1);
	ev.summary[sizeof(ev.summary) - 1] = '\0';
	memset(ev.why, '<', sizeof(ev.why) - 1);
	ev.why[sizeof(ev.why) - 1] = '\0';
	memset(big, '&', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(ev.dns_json, sizeof(ev.dns_json), "{\"valid\":true,\"version\":\"%s\"}", big);
	assert_int_equal(ops(SINK_KIND_SLACK)->format(&settings[SINK_KIND_SLACK], &ev, 1, NOW_NS,
						      &m),
			 0);
	assert_int_equal(m.nevents, 1);
	assert_null(strstr(m.body, "DNS:"));
	assert_non_null(strstr(m.body, "Why it matters:"));
	assert_non_null(strstr(m.body, "CRITICAL"));
	assert_non_null(strstr(m.body, "127.53.0.5 (primary dns) udp/53"));
	sink_message_clear(&m);
	/* where it fits, nothing is dropped */
	assert_int_equal(ops(SINK_KIND_TEAMS)->format(&settings[SINK_KIND_TEAMS], &ev, 1, NOW_NS,
						      &m),
			 0);
	assert_non_null(strstr(m.body, "\"title\":\"DNS\""));
	sink_message_clear(&m);
}

static void
test_ntfy(void **state)
{
	const struct sink_ops *o = ops(SINK_KIND_NTFY);
	struct sink_settings s = settings[SINK_KIND_NTFY];
	struct alert_event evs[3];
	struct sink_message m;

	(void)state;
	fixed_event(ALERT_CHANGED, &evs[0]);  /* medium */
	fixed_event(ALERT_DEGRADED, &evs[1]); /* high */
	fixed_event(ALERT_OPENED, &evs[2]);   /* critical */
	assert_int_equal(o->format(&s, evs, 3, NOW_NS, &m), 0);
	assert_int_equal(m.nevents, 3);
	assert_string_equal(header(&m, "Title"),
			    "watch53 on mon1 from dc-east: 3 events (1 critical, 1 high, 1 medium)");
	assert_string_equal(header(&m, "Priority"), "urgent");
	assert_string_equal(header(&m, "Tags"), "rotating_light,watch53");
	assert_string_equal(header(&m, "Authorization"), "Bearer tk_TESTTOKEN");
	sink_message_clear(&m);

	/* priority from the severity, or as configured */
	assert_int_equal(o->format(&s, evs, 1, NOW_NS, &m), 0);
	assert_string_equal(header(&m, "Priority"), "default");
	sink_message_clear(&m);
	s.priority = "max";
	assert_int_equal(o->format(&s, evs, 1, NOW_NS, &m), 0);
	assert_string_equal(header(&m, "Priority"), "max");
	sink_message_clear(&m);
	s.priority = "loud";
	assert_int_equal(o->format(&s, evs, 1, NOW_NS, &m), -EINVAL);
	s.priority = NULL;

	/* no token, no Authorization; a token that would break the header is refused */
	s.token = NULL;
	assert_int_equal(o->format(&s, evs, 1, NOW_NS, &m), 0);
	assert_null(header(&m, "Authorization"));
	sink_message_clear(&m);
	s.token = "tk_x\r\nX-Evil: 1";
	assert_int_equal(o->format(&s, evs, 1, NOW_NS, &m), -EINVAL);

	/* a header value stays printable ASCII whatever the agent's name is */
	s.token = NULL;
	snprintf(evs[0].agent, sizeof(evs[0].agent), "h\xc3\xb4te\r\n");
	snprintf(evs[0].vantage, sizeof(evs[0].vantage), "d\xc3\xa9" "c\n");
	assert_int_equal(o->format(&s, evs, 1, NOW_NS, &m), 0);
	/* one '?' a character */
	assert_string_equal(header(&m, "Title"),
			    "watch53 on h?te?" "? from d?c?: 1 event (1 medium)");
	sink_message_clear(&m);
	/* the default vantage is the host name: said once */
	snprintf(evs[0].agent, sizeof(evs[0].agent), "mon1");
	snprintf(evs[0].vantage, sizeof(evs[0].vantage), "mon1");
	assert_int_equal(o->format(&s, evs, 1, NOW_NS, &m), 0);
	assert_string_equal(header(&m, "Title"), "watch53 on mon1: 1 event (1 medium)");
	sink_message_clear(&m);
}

static void
test_telegram(void **state)
{
	const struct sink_ops *o = ops(SINK_KIND_TELEGRAM);
	struct sink_settings s = settings[SINK_KIND_TELEGRAM];
	struct alert_event ev;
	struct sink_message m;
	struct json_object *j;

	(void)state;
	fixed_event(ALERT_OPENED, &ev);
	assert_int_equal(o->format(&s, &ev, 1, NOW_NS, &m), 0);
	assert_string_equal(m.url, "https://api.telegram.org/bot123:TESTTOKEN/sendMessage");
	j = parse_json(m.body, m.body_len);
	assert_string_equal(json_object_get_string(jget(j, "chat_id")), "-1001234567890");
	assert_string_equal(json_object_get_string(jget(j, "parse_mode")), "HTML");
	json_object_put(j);
	sink_message_clear(&m);

	/* a self-hosted Bot API server, with or without a trailing slash */
	s.url = "http://127.0.0.1:8081/";
	assert_int_equal(o->format(&s, &ev, 1, NOW_NS, &m), 0);
	assert_string_equal(m.url, "http://127.0.0.1:8081/bot123:TESTTOKEN/sendMessage");
	sink_message_clear(&m);

	s.token = "123:TEST/../x";
	assert_int_equal(o->format(&s, &ev, 1, NOW_NS, &m), -EINVAL);
	s.token = "123:TESTTOKEN";
	s.chat_id = NULL;
	assert_int_equal(o->format(&s, &ev, 1, NOW_NS, &m), -EINVAL);
}

static void
test_retry_after(void **state)
{
	static const struct {
		enum sink_kind kind;
		const char *body;
		int rc;
		uint64_t ns;
	} cases[] = {
		{ SINK_KIND_DISCORD,
		  "{\"message\": \"You are being rate limited.\", \"retry_after\": 1.234, "
		  "\"global\": false}",
		  0, 1234000000ull },
		{ SINK_KIND_DISCORD, "{\"retry_after\": 3}", 0, 3 * NS_PER_SEC },
		{ SINK_KIND_DISCORD, "{\"retry_after\": \"3\"}", -ENOENT, 0 },
		{ SINK_KIND_DISCORD, "{\"retry_after\": -1}", -ENOENT, 0 },
		{ SINK_KIND_DISCORD, "{\"retry_after\": 1e300}", -ENOENT, 0 },
		{ SINK_KIND_DISCORD, "{\"message\": \"no\"}", -ENOENT, 0 },
		{ SINK_KIND_DISCORD, "<html>429</html>", -ENOENT, 0 },
		{ SINK_KIND_DISCORD, "", -ENOENT, 0 },
		{ SINK_KIND_TELEGRAM,
		  "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry "
		  "after 5\",\"parameters\":{\"retry_after\":5}}",
		  0, 5 * NS_PER_SEC },
		{ SINK_KIND_TELEGRAM, "{\"ok\":false,\"retry_after\":5}", -ENOENT, 0 },
		{ SINK_KIND_TELEGRAM, "{\"ok\":false,\"parameters\":5}", -ENOENT, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 42;

		assert_int_equal(ops(cases[i].kind)->retry_after(cases[i].body,
								  strlen(cases[i].body), &ns),
				 cases[i].rc);
		assert_int_equal(ns, cases[i].rc == 0 ? cases[i].ns : 42);
	}
	/* only the length given is read: no NUL needed */
	{
		uint64_t ns = 0;
		const char body[] = "{\"retry_after\": 2}garbage";

		assert_int_equal(ops(SINK_KIND_DISCORD)->retry_after(body, 18, &ns), 0);
		assert_int_equal(ns, 2 * NS_PER_SEC);
	}
	assert_null(ops(SINK_KIND_SLACK)->retry_after);
	assert_null(ops(SINK_KIND_WEBHOOK)->retry_after);
	assert_null(ops(SINK_KIND_NTFY)->retry_after);
}

static void
test_table(void **state)
{
	static const char *const names[SINK_KIND_N] = { "webhook", "slack", "mattermost",
							"discord", "teams", "googlechat",
							"telegram", "ntfy", "alertmanager" };

	(void)state;
	for (unsigned k = 0; k < SINK_KIND_N; k++) {
		const struct sink_ops *o = ops((enum sink_kind)k);

		assert_int_equal(o->kind, (int)k);
		assert_string_equal(KIND_NAME(o), names[k]);
		assert_ptr_equal(sink_find_name(names[k]), o);
		assert_non_null(o->format);
		assert_true(o->limits.max_events >= 1);
	}
	assert_null(sink_find(SINK_KIND_N));
	assert_null(sink_find((enum sink_kind)-1));
	assert_null(sink_find_name("Slack"));
	assert_null(sink_find_name(NULL));
}

static void
test_bad_input(void **state)
{
	struct alert_event ev;
	struct sink_message m;

	(void)state;
	fixed_event(ALERT_OPENED, &ev);
	for (unsigned k = 0; k < SINK_KIND_N; k++) {
		const struct sink_ops *o = ops((enum sink_kind)k);

		memset(&m, 0x5a, sizeof(m));
		assert_int_equal(o->format(&settings[k], &ev, 0, NOW_NS, &m), -EINVAL);
		assert_null(m.url); /* zeroed: safe to clear */
		sink_message_clear(&m);
		ev.severity = (enum alert_severity)9;
		assert_int_equal(o->format(&settings[k], &ev, 1, NOW_NS, &m), -EINVAL);
		ev.severity = SEV_CRITICAL;
		ev.type = ALERT_NTYPES;
		assert_int_equal(o->format(&settings[k], &ev, 1, NOW_NS, &m), -EINVAL);
		ev.type = ALERT_OPENED;
	}
	sink_message_clear(NULL);
}

/* ---- what a service would act on: every string of every payload ---- */

/* How a service reads one string of its payload (this test's own model of each service's
 * markup, independent of render.c). */
enum syntax {
	SYN_DATA,        /* the generic webhook: data; only valid UTF-8 is asked */
	SYN_PLAIN,       /* plain text (ntfy, Slack plain_text, Mattermost fallback) */
	SYN_CODE,        /* shown exactly (Teams monospace TextRun) */
	SYN_SLACK,       /* mrkdwn */
	SYN_MATTERMOST,  /* Markdown; the server reads <!channel> and @channel in the raw text */
	SYN_DISCORD,     /* Markdown with backslash escapes */
	SYN_TEAMS,       /* Adaptive Card TextBlock and FactSet Markdown */
	SYN_GCHAT,       /* Google Chat text */
	SYN_HTML,        /* Telegram parse_mode HTML */
};

/* Returns the code point and advances *p, or -1 on anything ill-formed. */
static long
decode_utf8(const unsigned char **p, const unsigned char *end)
{
	const unsigned char *c = *p;
	unsigned long cp;
	int n;

	if (c[0] < 0x80) {
		*p = c + 1;
		return c[0];
	}
	if ((c[0] & 0xe0) == 0xc0)
		n = 1, cp = c[0] & 0x1f;
	else if ((c[0] & 0xf0) == 0xe0)
		n = 2, cp = c[0] & 0x0f;
	else if ((c[0] & 0xf8) == 0xf0)
		n = 3, cp = c[0] & 0x07;
	else
		return -1;
	if (end - c <= n)
		return -1;
	for (int i = 1; i <= n; i++) {
		if ((c[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (c[i] & 0x3f);
	}
	if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*p = c + n + 1;
	return (long)cp;
}

/* Controls (a line break is the formatter's own), bidi controls, invisible characters. */
static bool
control_char(long c)
{
	return (c < 0x20 && c != '\n') || (c >= 0x7f && c <= 0x9f) || c == 0x61c ||
	       (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
	       (c >= 0x2060 && c <= 0x2064) || (c >= 0x2066 && c <= 0x2069) || c == 0xfeff;
}

static bool
word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* What we put into a message on purpose: the configured mention (and the Teams entity's
 * id, the Telegram link), the runbook link where the service's text carries it. The
 * walker lets exactly these strings through, nothing like them. */
#define OURS_MAX 4
static const char *walk_ours[OURS_MAX];
static const char *walk_url; /* the value every "url"/"title_link" must have */

static void
walk_allow(enum sink_kind k, bool on)
{
	memset(walk_ours, 0, sizeof(walk_ours));
	walk_url = NULL;
	if (!on)
		return;
	walk_url = RUNBOOK;
	switch (k) {
	case SINK_KIND_SLACK:
	case SINK_KIND_MATTERMOST:
	case SINK_KIND_DISCORD:
		walk_ours[0] = oncall_mentions[k].mention;
		break;
	case SINK_KIND_TEAMS:
		walk_ours[0] = "<at>Alice Doe</at>";
		walk_ours[1] = "alice@example.com";
		break;
	case SINK_KIND_GOOGLECHAT:
		walk_ours[0] = oncall_mentions[k].mention;
		walk_ours[1] = "<" RUNBOOK "|open>";
		break;
	case SINK_KIND_TELEGRAM:
		walk_ours[0] = "<a href=\"tg://user?id=987654321\">On call</a>";
		walk_ours[1] = "<a href=\"" RUNBOOK_HTML "\">open</a>";
		break;
	default:
		break;
	}
}

/* One of ours at s[*i]: *i moves to its last byte. */
static bool
ours_at(const char *s, size_t *i)
{
	for (size_t k = 0; k < OURS_MAX && walk_ours[k] != NULL; k++) {
		size_t n = strlen(walk_ours[k]);

		if (strncmp(s + *i, walk_ours[k], n) == 0) {
			*i += n - 1;
			return true;
		}
	}
	return false;
}

/* Is s[i] behind an odd run of backslashes (escaped in Markdown)? */
static bool
escaped(const char *s, size_t i)
{
	size_t n = 0;

	while (i > n && s[i - n - 1] == '\\')
		n++;
	return n % 2 == 1;
}

/*
 * Why a string would act in its service, or NULL when it would not: ill-formed UTF-8, a
 * control or bidi character, an active mention ('@' before a word, or a '<' that starts
 * <!…>, <@…>, <users/…>, <url|…>) or a link (Markdown [..](..), an HTML tag) outside a code
 * span, an unescaped '&', or emphasis from the text that breaks a bold title or label.
 */
static const char *
active(enum syntax syn, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	bool md = syn == SYN_MATTERMOST || syn == SYN_DISCORD, code = false;
	size_t line = 0, stars = 0, lows = 0, tildes = 0;

	while (p < end) {
		long c = decode_utf8(&p, end);

		if (c < 0)
			return "ill-formed UTF-8";
		if (syn != SYN_DATA && control_char(c))
			return "a control, bidi or invisible character";
	}
	if (syn == SYN_DATA || syn == SYN_CODE)
		return NULL;
	for (size_t i = 0;; i++) {
		char c = s[i];

		if (c == '\0' || c == '\n') {
			const char *l = s + line;

			/* our markup: a bold title or label opens the line; nothing else */
			if (syn == SYN_SLACK || syn == SYN_GCHAT) {
				if (stars != 0 && !(stars == 2 && l[0] == '*'))
					return "'*' from the text";
				if (lows != 0 && !(syn == SYN_GCHAT && lows == 2 && l[0] == '_'))
					return "'_' from the text";
			} else if (md) {
				if (stars != 0 && !(stars == 4 && l[0] == '*' && l[1] == '*'))
					return "'*' from the text";
				if (lows != 0)
					return "'_' from the text";
			} else if (syn == SYN_TEAMS && (stars != 0 || lows != 0)) {
				return "emphasis from the text";
			}
			if (tildes != 0 && syn != SYN_PLAIN && syn != SYN_HTML)
				return "'~' from the text";
			if (c == '\0')
				break;
			line = i + 1;
			stars = lows = tildes = 0;
			continue;
		}
		/* code spans: what is inside is shown as it is */
		if (syn == SYN_HTML) {
			if (strncmp(s + i, "<code>", 6) == 0 || strncmp(s + i, "</code>", 7) == 0) {
				code = s[i + 1] != '/';
				i = (size_t)(strchr(s + i, '>') - s);
				continue;
			}
		} else if (c == '`' && syn != SYN_PLAIN && syn != SYN_TEAMS &&
			   !(md && escaped(s, i))) {
			code = !code;
			continue;
		}
		if (code)
			continue;
		if (ours_at(s, &i))
			continue;
		if (c == '@' && word_char(s[i + 1]))
			return "a mention";
		if (c == '<') {
			if (syn == SYN_HTML) {
				static const char *const tags[] = { "<b>", "</b>", "<i>", "</i>" };
				bool ours = false;

				for (size_t t = 0; t < 4; t++)
					ours = ours ||
					       strncmp(s + i, tags[t], strlen(tags[t])) == 0;
				if (!ours)
					return "a tag";
			} else if (syn != SYN_PLAIN && !(syn == SYN_DISCORD && escaped(s, i))) {
				return "a '<' that is read (<!…>, <@…>, <url|…>)";
			}
		}
		if (c == '&' && (syn == SYN_SLACK || syn == SYN_MATTERMOST || syn == SYN_HTML) &&
		    strncmp(s + i, "&amp;", 5) != 0 && strncmp(s + i, "&lt;", 4) != 0 &&
		    strncmp(s + i, "&gt;", 4) != 0)
			return "an unescaped '&'";
		if ((c == '[' || c == ']') && (syn == SYN_TEAMS || syn == SYN_GCHAT ||
					       (md && !escaped(s, i))))
			return "a link's bracket";
		if ((c == '|' || c == '#') && md && !escaped(s, i))
			return "an unescaped '|' or '#'";
		if (md && escaped(s, i))
			continue;
		stars += c == '*';
		lows += c == '_';
		tildes += c == '~';
	}
	if (code)
		return "a code span left open";
	return NULL;
}

static void
check_text(enum syntax syn, const char *s, const char *where)
{
	const char *why = active(syn, s);

	if (why != NULL)
		fail_msg("%s: %s in \"%s\"", where, why, s);
}

/* The checker itself can fail: what each service would act on is found. */
static void
test_active_found(void **state)
{
	static const struct {
		enum syntax syn;
		const char *s;
		bool active;
	} cases[] = {
		{ SYN_SLACK, "*title* ok\n*Since:* now `cmd @here <x>`", false },
		{ SYN_SLACK, "hi @channel", true },
		{ SYN_SLACK, "hi <!channel>", true },
		{ SYN_SLACK, "hi &lt;!channel&gt; &amp;", false },
		{ SYN_SLACK, "a & b", true },
		{ SYN_SLACK, "*title with a * inside*", true },
		{ SYN_SLACK, "plain _italic_", true },
		{ SYN_SLACK, "`open code", true },
		{ SYN_SLACK, "bidi \xe2\x80\xae here", true },
		{ SYN_SLACK, "zero\xe2\x80\x8bwidth", true },
		{ SYN_SLACK, "tab\there", true },
		{ SYN_SLACK, "half \xe2\x82", true },
		{ SYN_MATTERMOST, "**title**\n\\[x\\](http://e) &lt;!all&gt;", false },
		{ SYN_MATTERMOST, "[x](http://e)", true },
		{ SYN_MATTERMOST, "\\<!here>", true }, /* the server reads the raw '<' */
		{ SYN_MATTERMOST, "**a \\* b**", false },
		{ SYN_MATTERMOST, "**a * b**", true },
		{ SYN_MATTERMOST, "#hashtag", true },
		{ SYN_DISCORD, "\\<\xef\xbc\xa0" "123\\> \\[x\\](http://e)", false },
		{ SYN_DISCORD, "<@123>", true },
		{ SYN_DISCORD, "\\\\<!here>", true }, /* the backslash is escaped, not the '<' */
		{ SYN_DISCORD, "||spoiler||", true },
		{ SYN_DISCORD, "@everyone", true },
		{ SYN_TEAMS, "[n](https://evil.test/n)", true },
		{ SYN_TEAMS, "**bold**", true },
		{ SYN_TEAMS, "<at>x</at>", true },
		{ SYN_GCHAT, "<users/all>", true },
		{ SYN_GCHAT, "*t*\n_Since:_ x `a <b>`", false },
		{ SYN_HTML, "<b>t</b> &lt;a&gt; <code><x> @here</code>", false },
		{ SYN_HTML, "<a href=\"http://e\">x</a>", true },
		{ SYN_HTML, "@someone", true },
		{ SYN_HTML, "a & b", true },
		{ SYN_PLAIN, "<!here> & *x*", false },
		{ SYN_PLAIN, "@here", true },
		{ SYN_DATA, "@here <!channel> \xe2\x80\xae", false },
		{ SYN_DATA, "\xff", true },
	};

	/* with the on-call mention allowed: that one passes, any other still fails */
	static const struct {
		enum sink_kind k;
		enum syntax syn;
		const char *s;
		bool active;
	} ours[] = {
		{ SINK_KIND_SLACK, SYN_SLACK, "<@U0123ABCD> Acknowledge: `x`", false },
		{ SINK_KIND_SLACK, SYN_SLACK, "<@U0123ABCD> <@U0123ABCE>", true },
		{ SINK_KIND_SLACK, SYN_SLACK, "<@U0123ABC>", true },
		{ SINK_KIND_SLACK, SYN_SLACK, "<!subteam^S0123ABCD>", true },
		{ SINK_KIND_MATTERMOST, SYN_MATTERMOST, "@oncall\n**t**", false },
		{ SINK_KIND_MATTERMOST, SYN_MATTERMOST, "@oncall @all", true },
		{ SINK_KIND_DISCORD, SYN_DISCORD, "<@&123456789012345678> x", false },
		{ SINK_KIND_DISCORD, SYN_DISCORD, "<@123456789012345678>", true },
		{ SINK_KIND_TEAMS, SYN_TEAMS, "<at>Alice Doe</at>", false },
		{ SINK_KIND_TEAMS, SYN_TEAMS, "<at>Bob</at>", true },
		{ SINK_KIND_GOOGLECHAT, SYN_GCHAT, "<users/123456789> <" RUNBOOK "|open>", false },
		{ SINK_KIND_GOOGLECHAT, SYN_GCHAT, "<https://evil.test|open>", true },
		{ SINK_KIND_TELEGRAM, SYN_HTML, "<a href=\"" RUNBOOK_HTML "\">open</a>", false },
		{ SINK_KIND_TELEGRAM, SYN_HTML, "<a href=\"https://evil.test\">open</a>", true },
		{ SINK_KIND_TELEGRAM, SYN_HTML, "<a href=\"tg://user?id=1\">On call</a>", true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = active(cases[i].syn, cases[i].s);

		if ((why != NULL) != cases[i].active)
			fail_msg("case %zu \"%s\": %s", i, cases[i].s,
				 why != NULL ? why : "not found");
	}
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		const char *why;

		walk_allow(ours[i].k, true);
		why = active(ours[i].syn, ours[i].s);
		walk_allow(ours[i].k, false);
		if ((why != NULL) != ours[i].active)
			fail_msg("ours %zu \"%s\": %s", i, ours[i].s,
				 why != NULL ? why : "not found");
	}
}

static const char *
jtype(struct json_object *o)
{
	struct json_object *t;

	if (o != NULL && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "type", &t) && json_object_is_type(t, json_type_string))
		return json_object_get_string(t);
	return "";
}

static enum syntax
syntax_of(enum sink_kind k, const char *key, struct json_object *parent)
{
	switch (k) {
	case SINK_KIND_WEBHOOK:
		return SYN_DATA;
	case SINK_KIND_SLACK:
		return strcmp(jtype(parent), "plain_text") == 0 ? SYN_PLAIN : SYN_SLACK;
	case SINK_KIND_MATTERMOST:
		return strcmp(key, "fallback") == 0 ? SYN_PLAIN : SYN_MATTERMOST;
	case SINK_KIND_DISCORD:
		return SYN_DISCORD;
	case SINK_KIND_TEAMS:
		return strcmp(jtype(parent), "TextRun") == 0 ? SYN_CODE : SYN_TEAMS;
	case SINK_KIND_GOOGLECHAT:
		return SYN_GCHAT;
	case SINK_KIND_TELEGRAM:
		return SYN_HTML;
	default:
		return SYN_PLAIN;
	}
}

/* Every string value, with its key and the object holding it. */
static size_t
walk(enum sink_kind k, struct json_object *o, const char *key, struct json_object *parent)
{
	static const char *const structural[] = { "type", "color", "contentType", "$schema",
						  "version", "width", "weight", "size",
						  "fontType", "timestamp", "chat_id",
						  "parse_mode", "action_id" };
	size_t n = 0;

	switch (json_object_get_type(o)) {
	case json_type_object: {
		json_object_object_foreach(o, kk, v) n += walk(k, v, kk, o);
		break;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			n += walk(k, json_object_array_get_idx(o, i), key, parent);
		break;
	case json_type_string: {
		char where[128];

		for (size_t i = 0; i < sizeof(structural) / sizeof(structural[0]); i++)
			if (strcmp(key, structural[i]) == 0)
				return 0;
		/* a link target is the configured runbook, nothing else */
		if (k != SINK_KIND_WEBHOOK &&
		    (strcmp(key, "url") == 0 || strcmp(key, "title_link") == 0)) {
			if (walk_url == NULL || strcmp(json_object_get_string(o), walk_url) != 0)
				fail_msg("%s \"%s\": a link that is not the runbook: %s",
					 sink_kind_name(k), key, json_object_get_string(o));
			return 1;
		}
		snprintf(where, sizeof(where), "%s \"%s\"", sink_kind_name(k), key);
		check_text(syntax_of(k, key, parent), json_object_get_string(o), where);
		n = 1;
		break;
	}
	default:
		break;
	}
	return n;
}

/* The whole message: URL and headers printable ASCII, the body valid UTF-8 and, string by
 * string, neutral in its service. */
static void
check_message(enum sink_kind k, const struct sink_message *m)
{
	for (size_t i = 0; i < m->nheaders; i++)
		for (const char *h = m->headers[i]; *h != '\0'; h++)
			assert_true(*h >= 0x20 && *h < 0x7f);
	assert_int_equal(strlen(m->body), m->body_len);
	if (k == SINK_KIND_NTFY) {
		check_text(SYN_PLAIN, m->body, "ntfy body");
	} else {
		struct json_object *j = parse_json(m->body, m->body_len); /* validates UTF-8 */

		assert_true(walk(k, j, "", NULL) > 0);
		json_object_put(j);
	}
}

/* The hostile event, alone and in a digest, in every sink: nothing in it acts, all of it
 * is still there to read, and the webhook has the data as data. */
static void
test_hostile_neutral(void **state)
{
	struct alert_event evs[3];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		hostile_event(&evs[i]);
		evs[i].id[0] = (char)('a' + i);
	}
	evs[1].type = ALERT_OPENED;
	evs[1].severity = SEV_CRITICAL;
	evs[2].type = ALERT_EXPOSED;
	for (unsigned k = 0; k < SINK_KIND_N * 2; k++) {
		for (size_t n = 1; n <= 3; n += 2) {
			/* the second round: with the on-call mention and a runbook on each event */
			bool oncall = k >= SINK_KIND_N;
			enum sink_kind kind = (enum sink_kind)(k % SINK_KIND_N);
			const struct sink_ops *o = ops(kind);
			struct sink_settings st = oncall ? oncall_settings(kind) : settings[kind];
			struct sink_message m;

			for (size_t i = 0; i < 3; i++)
				snprintf(evs[i].runbook_url, sizeof(evs[i].runbook_url), "%s",
					 oncall ? RUNBOOK : "");
			walk_allow(kind, oncall);
			assert_int_equal(o->format(&st, evs, n, NOW_NS, &m), 0);
			check_message(kind, &m);
			walk_allow(kind, false);
			/* shown, readable: the version and the name are there in every message */
			assert_non_null(strstr(m.body, "W53X"));
			assert_non_null(strstr(m.body, "users/all"));
			assert_non_null(strstr(m.body, "evil.test/n"));
			assert_non_null(strstr(m.body, EURO EURO EURO));
			if (kind == SINK_KIND_WEBHOOK) {
				/* data as data, the override included; the half "€" is gone */
				assert_non_null(strstr(m.body, "\"target\":\"" HOSTILE_NAME RLO));
				assert_non_null(strstr(m.body, EURO "\"," "\"address\""));
				assert_non_null(strstr(m.body, EURO EURO EURO ") changed: version "
							     "9.18.1 -> " HOSTILE_VERSION "."));
				assert_non_null(strstr(m.body, "\"agent\":\"mon_1*@here\""));
			} else {
				/* the override is shown as what it is, never obeyed */
				assert_null(strstr(m.body, RLO));
				assert_non_null(strstr(m.body, "\xef\xbf\xbd" EURO));
			}
			sink_message_clear(&m);
		}
	}
}

/* A long name in a Discord title is cut to 256 units with "…", never inside an escape;
 * the Slack header is cut to 150 the same way. */
static void
test_cut_titles(void **state)
{
	struct alert_event ev;
	struct sink_message m;
	struct json_object *j, *t;
	const char *title;
	size_t len;

	(void)state;
	fixed_event(ALERT_OPENED, &ev);
	memset(ev.target, '*', sizeof(ev.target) - 1);
	ev.target[sizeof(ev.target) - 1] = '\0';
	assert_int_equal(ops(SINK_KIND_DISCORD)->format(&settings[SINK_KIND_DISCORD], &ev, 1,
							NOW_NS, &m),
			 0);
	j = parse_json(m.body, m.body_len);
	t = jget(json_object_array_get_idx(jget(j, "embeds"), 0), "title");
	title = json_object_get_string(t);
	len = strlen(title);
	assert_true(u16(title) <= 256);
	assert_true(u16(title) >= 254);
	assert_true(len > 3 && strcmp(title + len - 3, "\xe2\x80\xa6") == 0);
	assert_false(escaped(title, len - 3)); /* the last escape is whole */
	check_message(SINK_KIND_DISCORD, &m);
	json_object_put(j);
	sink_message_clear(&m);

	memset(ev.agent, 'h', sizeof(ev.agent) - 1);
	ev.agent[sizeof(ev.agent) - 1] = '\0';
	assert_int_equal(ops(SINK_KIND_SLACK)->format(&settings[SINK_KIND_SLACK], &ev, 1, NOW_NS,
						      &m),
			 0);
	j = parse_json(m.body, m.body_len);
	title = json_object_get_string(
		jget(jget(json_object_array_get_idx(jget(j, "blocks"), 0), "text"), "text"));
	assert_true(u16(title) <= 150);
	json_object_put(j);
	sink_message_clear(&m);
}

/* The webhook body is valid UTF-8 whatever the event's bytes (alert_event_to_json): a name
 * cut inside a character loses the half character, and the signature covers those bytes. */
static void
test_webhook_utf8(void **state)
{
	struct alert_event ev;
	struct sink_message m;
	struct json_object *j;
	uint8_t key[SIGN_KEY_MAX];
	size_t keylen;
	char sig[SIGN_SIG_LEN];

	(void)state;
	hostile_event(&ev);
	ev.agent[2] = '\xff';
	assert_int_equal(ops(SINK_KIND_WEBHOOK)->format(&settings[SINK_KIND_WEBHOOK], &ev, 1,
							NOW_NS, &m),
			 0);
	j = parse_json(m.body, m.body_len); /* strict, UTF-8 validated */
	assert_string_equal(json_object_get_string(jget(j, "agent")), "mo?_1*@here");
	/* 255 bytes cut inside a "€": the lone lead byte is dropped */
	assert_int_equal(strlen(json_object_get_string(jget(j, "target"))), 254);
	json_object_put(j);
	assert_int_equal(sign_decode_key(SECRET, key, sizeof(key), &keylen), 0);
	assert_int_equal(sign_webhook(key, keylen, ev.id, NOW_NS / NS_PER_SEC, m.body, m.body_len,
				      sig, sizeof(sig)),
			 0);
	assert_string_equal(header(&m, "webhook-signature"), sig);
	sink_message_clear(&m);
}

/* ---- on call: hint, runbook, mention, quiet delivery ---- */

/* Every sink's message for the on-call exposure, byte for byte, with each service's native
 * form of the runbook and the mention, every hint line, and the walker still passing. */
static void
test_oncall_golden(void **state)
{
	static const char *const want[SINK_KIND_N][2] = {
		[SINK_KIND_WEBHOOK] = { "\"runbook_url\":\"" RUNBOOK "\"",
					"\"remediation\":[{\"label\":" },
		[SINK_KIND_SLACK] = { "\"accessory\":{\"type\":\"button\",\"text\":{\"type\":"
				      "\"plain_text\",\"text\":\"Runbook\"},\"url\":\"" RUNBOOK "\"",
				      "\"text\":\"<@U0123ABCD> Acknowledge: " },
		[SINK_KIND_MATTERMOST] = { "\"title_link\":\"" RUNBOOK "\"",
					   "\"text\":\"@oncall\\n**watch53" },
		[SINK_KIND_DISCORD] = { "\"url\":\"" RUNBOOK "\"",
					"\"allowed_mentions\":{\"parse\":[],\"roles\":"
					"[\"123456789012345678\"]}" },
		[SINK_KIND_TEAMS] = { "{\"type\":\"ActionSet\",\"actions\":[{\"type\":"
				      "\"Action.OpenUrl\",\"title\":\"Runbook\",\"url\":\"" RUNBOOK "\"}]}",
				      "\"entities\":[{\"type\":\"mention\",\"text\":\"<at>Alice Doe"
				      "</at>\",\"mentioned\":{\"id\":\"alice@example.com\",\"name\":"
				      "\"Alice Doe\"}}]" },
		[SINK_KIND_GOOGLECHAT] = { "\\n_Runbook:_ <" RUNBOOK "|open>",
					   "\"text\":\"<users/123456789>\\n*watch53" },
		[SINK_KIND_TELEGRAM] = { "\\n<i>Runbook:</i> <a href=\\\"" RUNBOOK_HTML "\\\">open</a>",
					 "\"text\":\"<a href=\\\"tg://user?id=987654321\\\">On call"
					 "</a>\\n<b>watch53" },
		[SINK_KIND_NTFY] = { "ufw deny proto tcp from any to 127.53.0.10 port 53",
				     "allow-transfer { none; };" },
		[SINK_KIND_ALERTMANAGER] = { "\"runbook_url\":\"" RUNBOOK "\"",
					     "\"alertname\":\"Watch53Exposed\"" },
	};
	static const char *const hint_cmds[] = {
		"ufw deny proto tcp from any to 127.53.0.10 port 53",
		"nft insert rule inet filter input ip daddr 127.53.0.10 tcp dport 53 drop",
		"allow-recursion { localhost; localnets; };", "access-control: 0.0.0.0/0 refuse",
		"local-service", "allow-from=127.0.0.0/8, ::1/128", "allow-transfer { none; };",
		"provide-xfr:", "action: transfer", "disable-axfr=yes", "hide-version: yes",
		"version-string=anonymous", "no-ident",
	};
	struct alert_event ev;

	(void)state;
	oncall_event(&ev);
	for (unsigned k = 0; k < SINK_KIND_N; k++) {
		const struct sink_ops *o = ops((enum sink_kind)k);
		struct sink_settings st = oncall_settings((enum sink_kind)k);
		struct sink_message m;
		char *got, name[64];

		assert_int_equal(o->format(&st, &ev, 1, NOW_NS, &m), 0);
		got = show(&m);
		snprintf(name, sizeof(name), "%s-oncall", KIND_NAME(o));
		golden_compare(name, got);
		for (size_t i = 0; i < 2; i++)
			if (strstr(m.body, want[k][i]) == NULL)
				fail_msg("%s: no %s in %s", KIND_NAME(o), want[k][i], m.body);
		/* the same lines everywhere, the webhook's as data ("remediation") */
		for (size_t i = 0; i < sizeof(hint_cmds) / sizeof(hint_cmds[0]); i++)
			if (strstr(m.body, hint_cmds[i]) == NULL)
				fail_msg("%s: no hint %s", KIND_NAME(o), hint_cmds[i]);
		if (k == SINK_KIND_NTFY) {
			assert_string_equal(header(&m, "Click"), RUNBOOK);
			assert_string_equal(header(&m, "Priority"), "urgent");
		}
		/* loud: nothing asks for silence */
		assert_null(strstr(m.body, "disable_notification"));
		assert_null(strstr(m.body, "\"flags\""));
		walk_allow((enum sink_kind)k, true);
		check_message((enum sink_kind)k, &m);
		walk_allow((enum sink_kind)k, false);
		free(got);
		sink_message_clear(&m);
	}
}

/* Info and low: Telegram without a sound, Discord with SUPPRESS_NOTIFICATIONS, ntfy at
 * priority low (2); no mention (below mention_min_severity) and no hint. */
static void
test_quiet_golden(void **state)
{
	struct alert_event ev;

	(void)state;
	quiet_event(&ev);
	for (unsigned k = 0; k < SINK_KIND_N; k++) {
		const struct sink_ops *o = ops((enum sink_kind)k);
		struct sink_settings st = oncall_settings((enum sink_kind)k);
		struct sink_message m;
		char *got, name[64];

		assert_int_equal(o->format(&st, &ev, 1, NOW_NS, &m), 0);
		got = show(&m);
		snprintf(name, sizeof(name), "%s-quiet", KIND_NAME(o));
		golden_compare(name, got);
		assert_null(strstr(m.body, "What to do"));
		if (oncall_mentions[k].mention != NULL)
			assert_null(strstr(m.body, k == SINK_KIND_TELEGRAM ? "tg://user"
						   : oncall_mentions[k].mention));
		switch (k) {
		case SINK_KIND_TELEGRAM:
			assert_non_null(strstr(m.body, "\"disable_notification\":true"));
			break;
		case SINK_KIND_DISCORD:
			assert_non_null(strstr(m.body, "\"flags\":4096"));
			break;
		case SINK_KIND_NTFY:
			assert_string_equal(header(&m, "Priority"), "low");
			break;
		default:
			assert_null(strstr(m.body, "disable_notification"));
			assert_null(strstr(m.body, "\"flags\""));
			break;
		}
		walk_allow((enum sink_kind)k, true);
		check_message((enum sink_kind)k, &m);
		walk_allow((enum sink_kind)k, false);
		free(got);
		sink_message_clear(&m);
	}
	/* a test alert (info) is heard: it checks the sink, sound included */
	quiet_event(&ev);
	ev.type = ALERT_TEST;
	ev.severity = SEV_INFO;
	for (unsigned k = SINK_KIND_DISCORD; k <= SINK_KIND_TELEGRAM; k += 3) {
		struct sink_settings st = oncall_settings((enum sink_kind)k);
		struct sink_message m;

		assert_int_equal(ops((enum sink_kind)k)->format(&st, &ev, 1, NOW_NS, &m), 0);
		assert_null(strstr(m.body, "disable_notification"));
		assert_null(strstr(m.body, "\"flags\""));
		sink_message_clear(&m);
	}
}

/* The mention is the configured one only, at or above its severity; a bad one is refused. */
static void
test_mentions(void **state)
{
	static const struct {
		enum sink_kind k;
		const char *mention, *name;
		int rc;
	} cases[] = {
		{ SINK_KIND_SLACK, "<@U0123ABCD>", NULL, 0 },
		{ SINK_KIND_SLACK, "<@W0123ABCD>", NULL, 0 },
		{ SINK_KIND_SLACK, "<!subteam^S0123ABCD>", NULL, 0 },
		{ SINK_KIND_SLACK, "<!channel>", NULL, -EINVAL },
		{ SINK_KIND_SLACK, "<!here>", NULL, -EINVAL },
		{ SINK_KIND_SLACK, "<@U0123|x>", NULL, -EINVAL },
		{ SINK_KIND_SLACK, "U0123ABCD", NULL, -EINVAL },
		{ SINK_KIND_DISCORD, "<@123456789012345678>", NULL, 0 },
		{ SINK_KIND_DISCORD, "<@&123456789012345678>", NULL, 0 },
		{ SINK_KIND_DISCORD, "<@&123>", NULL, -EINVAL },
		{ SINK_KIND_DISCORD, "@everyone", NULL, -EINVAL },
		{ SINK_KIND_DISCORD, "<@!123456789012345678>", NULL, -EINVAL },
		{ SINK_KIND_MATTERMOST, "@oncall", NULL, 0 },
		{ SINK_KIND_MATTERMOST, "@jane.doe-2", NULL, 0 },
		{ SINK_KIND_MATTERMOST, "@channel", NULL, -EINVAL },
		{ SINK_KIND_MATTERMOST, "@all", NULL, -EINVAL },
		{ SINK_KIND_MATTERMOST, "@here", NULL, -EINVAL },
		{ SINK_KIND_MATTERMOST, "@", NULL, -EINVAL },
		{ SINK_KIND_MATTERMOST, "@Bob", NULL, -EINVAL },
		{ SINK_KIND_MATTERMOST, "oncall", NULL, -EINVAL },
		{ SINK_KIND_TEAMS, "alice@example.com", "Alice Doe", 0 },
		{ SINK_KIND_TEAMS, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", NULL, 0 },
		{ SINK_KIND_TEAMS, "alice@example.com", "<b>x</b>", -EINVAL },
		{ SINK_KIND_TEAMS, "alice", NULL, -EINVAL },
		{ SINK_KIND_TEAMS, "a<b>@example.com", NULL, -EINVAL },
		{ SINK_KIND_GOOGLECHAT, "<users/123456789>", NULL, 0 },
		{ SINK_KIND_GOOGLECHAT, "<users/all>", NULL, -EINVAL },
		{ SINK_KIND_TELEGRAM, "987654321", "On call", 0 },
		{ SINK_KIND_TELEGRAM, "@someone", NULL, -EINVAL },
		{ SINK_KIND_TELEGRAM, "987654321", "On \"call", -EINVAL },
		{ SINK_KIND_NTFY, NULL, NULL, 0 },
		{ SINK_KIND_NTFY, "@x", NULL, -EINVAL },
		{ SINK_KIND_WEBHOOK, NULL, NULL, -EINVAL },
		{ SINK_KIND_WEBHOOK, "x", NULL, -EINVAL },
	};
	struct alert_event evs[2];
	struct sink_message m;
	char err[160];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sink_settings st = settings[cases[i].k];
		int rc;

		err[0] = '\0';
		rc = sink_mention_check(cases[i].k, cases[i].mention, cases[i].name, err,
					sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): %d", i, cases[i].mention ? cases[i].mention : "-", rc);
		if (rc < 0)
			assert_non_null(strstr(err, "expected "));
		/* and the formatter refuses what the check refuses */
		st.mention_on = true;
		st.mention = cases[i].mention;
		st.mention_name = cases[i].name;
		fixed_event(ALERT_OPENED, &evs[0]);
		rc = ops(cases[i].k)->format(&st, evs, 1, NOW_NS, &m);
		assert_int_equal(rc, cases[i].rc);
		sink_message_clear(&m);
	}

	/* below mention_min_severity: no mention; one event at it in a digest: mentioned */
	{
		struct sink_settings st = oncall_settings(SINK_KIND_SLACK);

		fixed_event(ALERT_CHANGED, &evs[0]); /* medium */
		assert_int_equal(ops(SINK_KIND_SLACK)->format(&st, evs, 1, NOW_NS, &m), 0);
		assert_null(strstr(m.body, "<@U0123ABCD>"));
		sink_message_clear(&m);
		fixed_event(ALERT_CLOSED, &evs[1]); /* high */
		assert_int_equal(ops(SINK_KIND_SLACK)->format(&st, evs, 2, NOW_NS, &m), 0);
		assert_int_equal(m.nevents, 2);
		assert_non_null(strstr(m.body, "<@U0123ABCD>"));
		sink_message_clear(&m);
		/* mention_on false: never, whatever the severity */
		st.mention_on = false;
		assert_int_equal(ops(SINK_KIND_SLACK)->format(&st, evs, 2, NOW_NS, &m), 0);
		assert_null(strstr(m.body, "<@U0123ABCD>"));
		sink_message_clear(&m);
	}
	/* Discord: a user id goes to allowed_mentions.users, exactly it */
	{
		struct sink_settings st = oncall_settings(SINK_KIND_DISCORD);

		st.mention = "<@123456789012345678>";
		fixed_event(ALERT_OPENED, &evs[0]);
		assert_int_equal(ops(SINK_KIND_DISCORD)->format(&st, evs, 1, NOW_NS, &m), 0);
		assert_non_null(strstr(m.body, "\"content\":\"<@123456789012345678>\\n**"));
		assert_non_null(strstr(m.body, "\"allowed_mentions\":{\"parse\":[],\"users\":"
					       "[\"123456789012345678\"]}"));
		sink_message_clear(&m);
	}
}

/* A runbook URL from an outbox file that is not one we would write never becomes a link;
 * the event JSON carries runbook_url only when set, and reads it back checked. */
static void
test_runbook(void **state)
{
	static const char *const bad[] = {
		"javascript:alert(1)", "https://e.test/\"><b>x</b>", "https://e.test/a|b",
		"https://e.test/<x>", "ftp://e.test/", "https://", "https://user@e.test/",
		"https://e.test/a b", "https://e.test/\xc3\xa9",
	};
	struct alert_event ev, back;
	struct sink_message m;
	char json[ALERT_JSON_MAX], err[128], big[ALERT_URL_MAX + 8];
	int n;

	(void)state;
	assert_true(alert_url_ok(RUNBOOK));
	assert_true(alert_url_ok("HTTP://e.test"));
	memset(big, 'a', sizeof(big));
	memcpy(big, "https://e.test/", 15);
	big[ALERT_URL_MAX] = '\0';
	assert_false(alert_url_ok(big)); /* 512 bytes: one too many */
	big[ALERT_URL_MAX - 1] = '\0';
	assert_true(alert_url_ok(big));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(alert_url_ok(bad[i]));
		oncall_event(&ev);
		snprintf(ev.runbook_url, sizeof(ev.runbook_url), "%s", bad[i]);
		for (unsigned k = 1; k < SINK_KIND_N; k++) {
			struct sink_settings st = oncall_settings((enum sink_kind)k);

			assert_int_equal(ops((enum sink_kind)k)->format(&st, &ev, 1, NOW_NS, &m), 0);
			assert_null(strstr(m.body, "Runbook"));
			assert_null(strstr(m.body, "title_link"));
			assert_null(header(&m, "Click"));
			walk_allow((enum sink_kind)k, true);
			check_message((enum sink_kind)k, &m);
			walk_allow((enum sink_kind)k, false);
			sink_message_clear(&m);
		}
		/* and an outbox file holding it is refused */
		n = snprintf(json, sizeof(json),
			     "{\"id\":\"6f708192-a3b4-4c5d-8e6f-708192a3b4c5\",\"type\":\"exposed\","
			     "\"time\":\"2026-11-27T09:43:14.123Z\",\"runbook_url\":\"%s\"}",
			     strchr(bad[i], '"') ? "x" : bad[i]);
		assert_int_equal(alert_event_from_json(json, (size_t)n, &back, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "runbook_url"));
	}
	/* round trip; absent when empty */
	oncall_event(&ev);
	n = alert_event_to_json(&ev, json, sizeof(json));
	assert_true(n > 0);
	assert_non_null(strstr(json, ",\"runbook_url\":\"" RUNBOOK "\"}"));
	assert_int_equal(alert_event_from_json(json, (size_t)n, &back, err, sizeof(err)), 0);
	assert_string_equal(back.runbook_url, RUNBOOK);
	ev.runbook_url[0] = '\0';
	n = alert_event_to_json(&ev, json, sizeof(json));
	assert_null(strstr(json, "runbook_url"));
	assert_int_equal(alert_event_from_json(json, (size_t)n, &back, err, sizeof(err)), 0);
	assert_string_equal(back.runbook_url, "");
}

/* Alertmanager's pieces: names, the endpoint, the identity an alert is resolved by. */
static void
test_alertmanager(void **state)
{
	struct am_alert a = { .address = "127.53.0.2", .protocol = "udp", .port = 53,
			      .severity = "high", .summary = "x", .starts_ns = T_NS,
			      .ends_ns = T_NS + 60 * NS_PER_SEC };
	char name[AM_NAME_MAX], k1[512], k2[512], *u;

	(void)state;
	am_alertname("open-resolver", name, sizeof(name));
	assert_string_equal(name, "Watch53OpenResolver");
	am_alertname("port_exposed now", name, sizeof(name));
	assert_string_equal(name, "Watch53PortExposedNow");
	am_alertname("<@x>", name, sizeof(name)); /* only letters and digits */
	assert_string_equal(name, "Watch53X");
	am_alertname("open-resolver", name, 12);
	assert_string_equal(name, "Watch53Open");
	u = am_alerts_url("http://am:9093//");
	assert_string_equal(u, "http://am:9093/api/v2/alerts");
	free(u);
	u = am_alerts_url("https://am/prefix/api/v2/alerts");
	assert_string_equal(u, "https://am/prefix/api/v2/alerts");
	free(u);
	/* the key is the labels alone: times and annotations do not change it */
	am_alertname("port-exposed", a.alertname, sizeof(a.alertname));
	assert_true(am_alert_key(&a, k1, sizeof(k1)) > 0);
	a.ends_ns += NS_PER_SEC;
	a.summary = "y";
	assert_true(am_alert_key(&a, k2, sizeof(k2)) > 0);
	assert_string_equal(k1, k2);
	assert_string_equal(k1, "{\"alertname\":\"Watch53PortExposed\",\"address\":\"127.53.0.2\","
				"\"protocol\":\"udp\",\"port\":\"53\",\"severity\":\"high\"}");
	a.severity = "critical";
	assert_true(am_alert_key(&a, k2, sizeof(k2)) > 0);
	assert_string_not_equal(k1, k2);
	assert_int_equal(am_alert_key(&a, k2, 16), -ENOSPC);
}

/* Which hint lines an event gets, and that a command only ever holds a real address. */
static void
test_hint(void **state)
{
	struct alert_event ev;
	struct hint h;

	(void)state;
	oncall_event(&ev);
	assert_int_equal(hint_for(&ev, &h), 14);
	assert_string_equal(h.line[0].cmd, "ufw deny proto tcp from any to 127.53.0.10 port 53");
	/* IPv6, another port */
	snprintf(ev.address, sizeof(ev.address), "fd00::53");
	ev.port = 5353;
	hint_for(&ev, &h);
	assert_string_equal(h.line[1].cmd,
			    "nft insert rule inet filter input ip6 daddr fd00::53 tcp dport 5353 drop");
	/* an address that is not one (an outbox file says so) is never pasted */
	snprintf(ev.address, sizeof(ev.address), "1.2.3.4; rm -rf /");
	snprintf(ev.protocol, sizeof(ev.protocol), "x;");
	hint_for(&ev, &h);
	assert_string_equal(h.line[0].cmd, "ufw deny from any to ADDRESS port 5353");
	assert_null(strstr(h.line[1].cmd, "rm"));
	/* a port expected open: no closing, only the findings */
	oncall_event(&ev);
	ev.expected_open = true;
	hint_for(&ev, &h);
	assert_string_equal(h.line[0].cmd, "allow-recursion { localhost; localnets; };");
	/* recursion known false: the RA bit does not count */
	snprintf(ev.dns_json, sizeof(ev.dns_json), "{\"valid\":true,\"ra\":true,\"recursion\":false}");
	assert_int_equal(hint_for(&ev, &h), 0);
	/* not exposures: closed, flapping, degraded, a low or a medium opening */
	fixed_event(ALERT_CLOSED, &ev);
	assert_int_equal(hint_for(&ev, &h), 0);
	fixed_event(ALERT_FLAPPING, &ev);
	assert_int_equal(hint_for(&ev, &h), 0);
	fixed_event(ALERT_DEGRADED, &ev);
	assert_int_equal(hint_for(&ev, &h), 0);
	fixed_event(ALERT_OPENED, &ev);
	ev.severity = SEV_MEDIUM;
	assert_int_equal(hint_for(&ev, &h), 0);
	/* a DNS finding rated medium (version disclosed) */
	quiet_event(&ev);
	ev.severity = SEV_MEDIUM;
	snprintf(ev.dns_json, sizeof(ev.dns_json), "{\"valid\":true,\"version\":\"9.18.1\"}");
	assert_int_equal(hint_for(&ev, &h), 4);
	assert_string_equal(h.line[0].cmd, "version \"none\";");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_webhook),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_active_found),
		cmocka_unit_test(test_hostile_neutral),
		cmocka_unit_test(test_cut_titles),
		cmocka_unit_test(test_webhook_utf8),
		cmocka_unit_test(test_oversize_event),
		cmocka_unit_test(test_ntfy),
		cmocka_unit_test(test_telegram),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_oncall_golden),
		cmocka_unit_test(test_quiet_golden),
		cmocka_unit_test(test_mentions),
		cmocka_unit_test(test_runbook),
		cmocka_unit_test(test_hint),
		cmocka_unit_test(test_alertmanager),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
