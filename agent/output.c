/* output: scan results as a table for people, json/jsonl/csv for programs; the progress line. */
#include "agent/output.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "agent/grade.h"
#include "agent/jsonw.h"
#include "common/util.h"
#include "probes/dnscheck.h"

/* Above this many records the table shows only open hosts and counts the rest. */
#define TABLE_MAX_ROWS 50
#define TABLE_SEP "  "
#define LABEL_MAX 256

static const char advice[] =
	"From this host, traffic to its own addresses runs over lo and bypasses the firewall; "
	"check what the outside sees from another host: watch53 scan <public address>";

int
output_format_parse(const char *text, enum output_format *out)
{
	static const struct {
		const char *name;
		enum output_format fmt;
	} names[] = {
		{ "table", OUTPUT_TABLE },
		{ "json", OUTPUT_JSON },
		{ "jsonl", OUTPUT_JSONL },
		{ "csv", OUTPUT_CSV },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(text, names[i].name) == 0) {
			*out = names[i].fmt;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- shared helpers ---- */

static const char *
record_label(const struct output_data *d, const struct probe_result *r, char *abuf, size_t alen)
{
	const char *l = d->label != NULL ? d->label(d->label_arg, r->target_index) : NULL;

	return l != NULL ? l : net_addr_str(&r->addr, abuf, alen);
}

/* units / per_unit with two decimals, rounded half up in integers: 215 us is always
 * "0.22" ms, where %.2f of a double could go either way. */
static void
fmt_hundredths(uint64_t units, uint64_t per_unit, char *buf, size_t len)
{
	uint64_t h = (units + per_unit / 200) / (per_unit / 100);

	snprintf(buf, len, "%" PRIu64 ".%02" PRIu64, h / 100, h % 100);
}

static void
fmt_rtt(int64_t rtt_us, char *buf, size_t len)
{
	fmt_hundredths((uint64_t)rtt_us, 1000, buf, len);
}

static bool
record_open(const struct probe_result *r)
{
	return r->out[PROBE_SLOT_TCP].state == PROBE_OPEN ||
	       r->out[PROBE_SLOT_UDP].state == PROBE_OPEN;
}

/* The dns object is shown only when the UDP probe looked at a reply. */
static bool
dns_shown(const struct probe_result *r)
{
	return r->out[PROBE_SLOT_UDP].state != PROBE_STATE_NONE && r->dns.present;
}

static const char *
rcode_text(const struct probe_dns_facts *dns, char *buf, size_t len)
{
	return dns_rcode_name(dns->rcode, buf, len);
}

static int
seq_cmp(const void *pa, const void *pb)
{
	const struct probe_result *a = *(const struct probe_result *const *)pa;
	const struct probe_result *b = *(const struct probe_result *const *)pb;

	return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Open hosts first, each group in address order (seq breaks ties). */
static int
table_cmp(const void *pa, const void *pb)
{
	const struct probe_result *a = *(const struct probe_result *const *)pa;
	const struct probe_result *b = *(const struct probe_result *const *)pb;
	int c;

	if (record_open(a) != record_open(b))
		return record_open(a) ? -1 : 1;
	c = net_addr_cmp(&a->addr, &b->addr);
	if (c != 0)
		return c;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Records arrive in completion order from the engine; files want a stable order. */
static const struct probe_result **
sorted_records(const struct output_data *d, int (*cmp)(const void *, const void *))
{
	const struct probe_result **v = calloc(d->nrecords ? d->nrecords : 1, sizeof(*v));

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < d->nrecords; i++)
		v[i] = &d->records[i];
	qsort(v, d->nrecords, sizeof(*v), cmp);
	return v;
}

/* ---- json / jsonl ---- */

static void
jput_fixed2(struct json_object *o, const char *key, const char *text, bool *ok)
{
	jsonw_put(o, key, json_object_new_double_s(strtod(text, NULL), text), ok);
}

/* The udp object says whether an open state is verified (probe_open_verified): a reply
 * that matched our query, or only a datagram anyone could have sent. */
static struct json_object *
outcome_json(const struct probe_outcome *o, enum probe_slot slot, bool *ok)
{
	struct json_object *j = json_object_new_object();
	char buf[32];

	if (j == NULL) {
		*ok = false;
		return NULL;
	}
	jsonw_put(j, "state", json_object_new_string(probe_state_name(o->state)), ok);
	jsonw_put(j, "reason", json_object_new_string(probe_reason_name(o->reason)), ok);
	if (o->rtt_us < 0) {
		jsonw_put_null(j, "rtt_ms", ok);
	} else {
		fmt_rtt(o->rtt_us, buf, sizeof(buf));
		jput_fixed2(j, "rtt_ms", buf, ok);
	}
	if (slot == PROBE_SLOT_UDP && o->state == PROBE_OPEN)
		jsonw_put(j, "verified", json_object_new_boolean(probe_open_verified(o)), ok);
	return j;
}

/* A fact of a check: absent when the check did not run, null when it got no answer. */
static void
jput_bool_fact(struct json_object *o, const char *key, bool known, bool v, bool *ok)
{
	if (known)
		jsonw_put(o, key, json_object_new_boolean(v), ok);
	else
		jsonw_put_null(o, key, ok);
}

static void
jput_text_fact(struct json_object *o, const char *key, bool known, const char *v, bool *ok)
{
	if (known)
		jsonw_put(o, key, json_object_new_string_len(v, (int)strnlen(v, DNSCHECK_TEXT_MAX)), ok);
	else
		jsonw_put_null(o, key, ok);
}

/* The amplification factor with two decimals ("31.50"). */
static void
fmt_x100(uint32_t x100, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%02u", x100 / 100, x100 % 100);
}

static struct json_object *
axfr_zone_json(const struct dnscheck_axfr *ax, bool *ok)
{
	struct json_object *j = json_object_new_object();
	char buf[32];

	if (j == NULL) {
		*ok = false;
		return NULL;
	}
	jsonw_put(j, "zone", json_object_new_string(ax->zone ? ax->zone : ""), ok);
	switch (ax->state) {
	case DNSCHECK_AXFR_ALLOWED:
		jsonw_put(j, "allowed", json_object_new_boolean(true), ok);
		jsonw_put(j, "records", json_object_new_int64(ax->records), ok);
		jsonw_put(j, "complete", json_object_new_boolean(ax->complete), ok);
		break;
	case DNSCHECK_AXFR_REFUSED:
		jsonw_put(j, "allowed", json_object_new_boolean(false), ok);
		if (ax->closed)
			jsonw_put(j, "closed", json_object_new_boolean(true), ok);
		else
			jsonw_put(j, "rcode", json_object_new_string(dns_rcode_name(ax->rcode, buf,
									      sizeof(buf))), ok);
		break;
	default:
		jsonw_put_null(j, "allowed", ok);
		break;
	}
	return j;
}

/* The facts of the follow-up checks, into the dns object (CONTRACT.md names). */
static void
checks_json(struct json_object *j, const struct dnscheck_facts *c, bool *ok)
{
	char buf[32];

	if (c->ran & DNSCHECK_RECURSION) {
		bool k = (c->known & DNSCHECK_RECURSION) != 0;
		jput_bool_fact(j, "recursion", k, c->recursion, ok);
		if (c->bogus_known)
			jput_bool_fact(j, "bogus", k, c->bogus, ok);
	}
	if (c->ran & DNSCHECK_VERSION) {
		bool k = (c->known & DNSCHECK_VERSION) != 0;
		jput_text_fact(j, "version", k, c->version, ok);
		jput_text_fact(j, "hostname", k, c->hostname, ok);
		jput_text_fact(j, "nsid", k, c->nsid, ok);
	}
	if (c->ran & DNSCHECK_AXFR) {
		struct json_object *zones = json_object_new_array();
		bool known, any = dnscheck_axfr_any(c, &known);

		jput_bool_fact(j, "axfr", known, any, ok);
		jsonw_put(j, "axfr_zones", zones, ok);
		for (unsigned i = 0; zones != NULL && i < c->naxfr && i < DNSCHECK_MAX_ZONES; i++) {
			struct json_object *z = axfr_zone_json(&c->axfr[i], ok);
			if (z == NULL || json_object_array_add(zones, z) != 0) {
				json_object_put(z);
				*ok = false;
			}
		}
	}
	if (c->ran & DNSCHECK_AMPLIFICATION) {
		uint32_t x = dnscheck_amp_x100(c);

		if ((c->known & DNSCHECK_AMPLIFICATION) && x > 0) {
			struct json_object *q = json_object_new_object();
			char tb[16];

			fmt_x100(x, buf, sizeof(buf));
			jput_fixed2(j, "amplification", buf, ok);
			jsonw_put(q, "qname", json_object_new_string(c->amp_zone ? c->amp_zone : ""), ok);
			jsonw_put(q, "qtype", json_object_new_string(dns_type_name(c->amp_qtype, tb,
									       sizeof(tb))), ok);
			jsonw_put(q, "query_bytes", json_object_new_int64(c->amp_query_bytes), ok);
			jsonw_put(q, "response_bytes", json_object_new_int64(c->amp_reply_bytes), ok);
			jsonw_put(j, "amplification_query", q, ok);
		} else {
			jsonw_put_null(j, "amplification", ok);
		}
	}
	if (c->ran & DNSCHECK_TCP_DNS)
		jput_bool_fact(j, "tcp_dns", (c->known & DNSCHECK_TCP_DNS) != 0, c->tcp_dns, ok);
}

static struct json_object *
dns_json(const struct probe_result *r, bool *ok)
{
	const struct probe_dns_facts *dns = &r->dns;
	struct json_object *j = json_object_new_object();
	char buf[32];

	if (j == NULL) {
		*ok = false;
		return NULL;
	}
	jsonw_put(j, "valid", json_object_new_boolean(dns_shown(r) && dns->valid), ok);
	if (!dns_shown(r)) {
		/* checks ran over TCP on a host that gave no DNS reply over UDP */
		jsonw_put(j, "error", json_object_new_string("no dns reply over udp"), ok);
	} else if (dns->valid) {
		jsonw_put(j, "rcode", json_object_new_string(rcode_text(dns, buf, sizeof(buf))), ok);
		jsonw_put(j, "aa", json_object_new_boolean(dns->aa), ok);
		jsonw_put(j, "ra", json_object_new_boolean(dns->ra), ok);
		jsonw_put(j, "tc", json_object_new_boolean(dns->tc), ok);
	} else {
		jsonw_put(j, "error", json_object_new_string_len(dns->error,
			(int)strnlen(dns->error, sizeof(dns->error))), ok);
	}
	if (r->checks != NULL)
		checks_json(j, r->checks, ok);
	return j;
}

static void passive_fields(struct json_object *j, const struct output_passive *p, bool *ok);
static struct json_object *sniff_json(const struct output_sniff *s, bool *ok);
static void csv_passive(FILE *f, const struct output_passive *p);
static void write_sniff_line(FILE *f, const struct output_sniff *s);

static struct json_object *
record_json(const struct output_data *d, const struct probe_result *r)
{
	struct json_object *j = json_object_new_object();
	char abuf[NETADDR_STRLEN];
	bool ok = true;

	if (j == NULL)
		return NULL;
	jsonw_put(j, "target", json_object_new_string(record_label(d, r, abuf, sizeof(abuf))), &ok);
	jsonw_put(j, "address", json_object_new_string(net_addr_str(&r->addr, abuf, sizeof(abuf))),
	     &ok);
	jsonw_put(j, "family", json_object_new_int(r->addr.family == AF_INET6 ? 6 : 4), &ok);
	jsonw_put(j, "port", json_object_new_int(r->port), &ok);
	for (int s = 0; s < PROBE_NSLOTS; s++)
		if (r->out[s].state != PROBE_STATE_NONE)
			jsonw_put(j, probe_slot_name((enum probe_slot)s),
			     outcome_json(&r->out[s], (enum probe_slot)s, &ok), &ok);
	if (dns_shown(r) || r->checks != NULL)
		jsonw_put(j, "dns", dns_json(r, &ok), &ok);
	else
		jsonw_put_null(j, "dns", &ok);
	if (r->checks != NULL) {
		/* the severity model (README "Severity"): only where the checks ran */
		struct json_object *fa = json_object_new_array();
		struct grade g;

		grade_facts(r->checks, &g);
		jsonw_put(j, "severity", json_object_new_string(alert_severity_name(g.severity)),
			  &ok);
		jsonw_put(j, "findings", fa, &ok);
		for (unsigned b = 1; fa != NULL && b < (1u << GRADE_NFINDINGS); b <<= 1)
			if (g.findings & b)
				jsonw_push(fa, json_object_new_string(grade_finding_name(b)), &ok);
	}
	if (d->passive != NULL)
		passive_fields(j, &d->passive[r - d->records], &ok);
	if (!ok) {
		json_object_put(j);
		return NULL;
	}
	return j;
}

static int64_t
clamp64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

static struct json_object *
summary_json(const struct scan_summary *s, bool *ok)
{
	struct json_object *j = json_object_new_object();
	time_t secs = (time_t)(s->started_wall_ns / NS_PER_SEC);
	struct tm tm;
	char buf[64];

	if (j == NULL) {
		*ok = false;
		return NULL;
	}
	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
	jsonw_put(j, "started", json_object_new_string(buf), ok);
	fmt_hundredths(s->elapsed_ns, NS_PER_SEC, buf, sizeof(buf));
	jput_fixed2(j, "elapsed_s", buf, ok);
	jsonw_put(j, "mode", json_object_new_string(s->audit ? "audit" : "scan"), ok);
	jsonw_put(j, "port", json_object_new_int(s->port), ok);
	jsonw_put(j, "tcp", json_object_new_boolean(s->tcp), ok);
	jsonw_put(j, "udp", json_object_new_boolean(s->udp), ok);
	jsonw_put(j, "timeout_ms", json_object_new_int64(clamp64(s->timeout_ns / NS_PER_MS)), ok);
	jsonw_put(j, "retries", json_object_new_int64(s->retries), ok);
	jsonw_put(j, "rate", json_object_new_int64(s->rate_pps), ok);
	jsonw_put(j, "concurrency", json_object_new_int64(s->concurrency), ok);
	jsonw_put(j, "addresses", json_object_new_int64(clamp64(s->addresses)), ok);
	jsonw_put(j, "hosts_open", json_object_new_int64(clamp64(s->hosts_open)), ok);
	jsonw_put(j, "tcp_open", json_object_new_int64(clamp64(s->tcp_open)), ok);
	jsonw_put(j, "udp_open", json_object_new_int64(clamp64(s->udp_open)), ok);
	jsonw_put(j, "interrupted", json_object_new_boolean(s->interrupted), ok);
	if (s->checks != 0) {
		struct json_object *a = json_object_new_array();

		jsonw_put(j, "checks", a, ok);
		for (unsigned b = 1; a != NULL && b <= DNSCHECK_ALL; b <<= 1)
			if (s->checks & b)
				jsonw_push(a, json_object_new_string(dnscheck_check_name(b)), ok);
		jsonw_put(j, "checked", json_object_new_int64(clamp64(s->checked)), ok);
	}
	return j;
}

static const char *
exposure_name(enum audit_exposure e)
{
	switch (e) {
	case AUDIT_LOOPBACK_ONLY: return "loopback-only";
	case AUDIT_WILDCARD: return "wildcard";
	case AUDIT_NON_LOOPBACK: return "non-loopback";
	}
	return "";
}

static struct json_object *
listener_json(const struct audit_listener *l, bool *ok)
{
	struct json_object *j = json_object_new_object();
	char abuf[NETADDR_STRLEN];

	if (j == NULL) {
		*ok = false;
		return NULL;
	}
	jsonw_put(j, "protocol", json_object_new_string(l->tcp ? "tcp" : "udp"), ok);
	jsonw_put(j, "address", json_object_new_string(net_addr_str(&l->addr, abuf, sizeof(abuf))), ok);
	jsonw_put(j, "port", json_object_new_int(l->port), ok);
	jsonw_put(j, "exposure", json_object_new_string(exposure_name(l->exposure)), ok);
	jsonw_put(j, "reachable_unless_firewalled",
	     json_object_new_boolean(l->exposure != AUDIT_LOOPBACK_ONLY), ok);
	if (l->pid >= 0)
		jsonw_put(j, "pid", json_object_new_int(l->pid), ok);
	else
		jsonw_put_null(j, "pid", ok);
	if (l->process[0] != '\0')
		jsonw_put(j, "process", json_object_new_string_len(l->process,
			(int)strnlen(l->process, sizeof(l->process))), ok);
	else
		jsonw_put_null(j, "process", ok);
	return j;
}

static int
emit_json(FILE *f, struct json_object *j)
{
	const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE);

	if (text == NULL)
		return -ENOMEM;
	if (fputs(text, f) == EOF || fputc('\n', f) == EOF)
		return -EIO;
	return 0;
}

static int
write_jsonl(FILE *f, const struct output_data *d, const struct probe_result **v)
{
	for (size_t i = 0; i < d->nrecords; i++) {
		struct json_object *j = record_json(d, v[i]);
		int rc;

		if (j == NULL)
			return -ENOMEM;
		rc = emit_json(f, j);
		json_object_put(j);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
write_json(FILE *f, const struct output_data *d, const struct probe_result **v)
{
	struct json_object *root = json_object_new_object();
	struct json_object *results = NULL, *listeners = NULL;
	bool ok = true;
	int rc = -ENOMEM;

	if (root == NULL)
		return -ENOMEM;
	if (d->summary != NULL)
		jsonw_put(root, "scan", summary_json(d->summary, &ok), &ok);
	if (d->sniff != NULL)
		jsonw_put(root, "sniff", sniff_json(d->sniff, &ok), &ok);
	results = json_object_new_array();
	jsonw_put(root, "results", results, &ok);
	for (size_t i = 0; ok && i < d->nrecords; i++)
		jsonw_push(results, record_json(d, v[i]), &ok);
	if (d->summary != NULL && d->summary->audit) {
		listeners = json_object_new_array();
		jsonw_put(root, "listeners", listeners, &ok);
		for (size_t i = 0; ok && i < d->nlisteners; i++)
			jsonw_push(listeners, listener_json(&d->listeners[i], &ok), &ok);
	}
	if (!ok)
		goto out;
	rc = emit_json(f, root);
out:
	json_object_put(root);
	return rc;
}

/* ---- csv ---- */

static void
csv_field(FILE *f, const char *s, bool first)
{
	if (!first)
		fputc(',', f);
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static const char *
tf(bool b)
{
	return b ? "true" : "false";
}

/* The check columns: empty where a check did not run or got no answer. */
static void
csv_checks(FILE *f, const struct dnscheck_facts *c)
{
	char buf[GRADE_NFINDINGS * 24], x[32];
	struct grade g;
	bool known, any;

	if (c == NULL) {
		for (int i = 0; i < 7; i++)
			csv_field(f, "", false);
		return;
	}
	grade_facts(c, &g);
	csv_field(f, alert_severity_name(g.severity), false);
	csv_field(f, grade_findings_text(g.findings, buf, sizeof(buf)), false);
	csv_field(f, (c->known & DNSCHECK_RECURSION) ? tf(c->recursion) : "", false);
	csv_field(f, (c->known & DNSCHECK_VERSION) ? c->version : "", false);
	any = dnscheck_axfr_any(c, &known);
	csv_field(f, (c->ran & DNSCHECK_AXFR) && known ? tf(any) : "", false);
	x[0] = '\0';
	if ((c->known & DNSCHECK_AMPLIFICATION) && dnscheck_amp_x100(c) > 0)
		fmt_x100(dnscheck_amp_x100(c), x, sizeof(x));
	csv_field(f, x, false);
	csv_field(f, (c->known & DNSCHECK_TCP_DNS) ? tf(c->tcp_dns) : "", false);
}

static int
write_csv(FILE *f, const struct output_data *d, const struct probe_result **v)
{
	bool checks = d->summary != NULL && d->summary->checks != 0;

	fputs("target,address,family,port,tcp_state,tcp_reason,tcp_rtt_ms,udp_state,udp_reason,"
	      "udp_rtt_ms,udp_verified,dns_valid,dns_rcode,dns_aa,dns_ra,dns_tc,dns_error", f);
	/* the check columns come only when checks were asked for: a plain scan's CSV keeps
	 * its shape */
	if (checks)
		fputs(",severity,findings,recursion,version,axfr,amplification,tcp_dns", f);
	if (d->passive != NULL)
		fputs(",source,first_seen,last_seen,packets,responses,ra_responses,protocols,"
		      "in_targets", f);
	fputc('\n', f);
	for (size_t i = 0; i < d->nrecords; i++) {
		const struct probe_result *r = v[i];
		char abuf[NETADDR_STRLEN], buf[32];
		bool dv = dns_shown(r) && r->dns.valid;

		csv_field(f, record_label(d, r, abuf, sizeof(abuf)), true);
		csv_field(f, net_addr_str(&r->addr, abuf, sizeof(abuf)), false);
		csv_field(f, r->addr.family == AF_INET6 ? "6" : "4", false);
		snprintf(buf, sizeof(buf), "%u", (unsigned)r->port);
		csv_field(f, buf, false);
		for (int s = 0; s < PROBE_NSLOTS; s++) {
			const struct probe_outcome *o = &r->out[s];
			bool probed = o->state != PROBE_STATE_NONE;

			csv_field(f, probed ? probe_state_name(o->state) : "", false);
			csv_field(f, probed ? probe_reason_name(o->reason) : "", false);
			buf[0] = '\0';
			if (probed && o->rtt_us >= 0)
				fmt_rtt(o->rtt_us, buf, sizeof(buf));
			csv_field(f, buf, false);
		}
		/* empty unless udp is open: only an open state can be verified or not */
		csv_field(f, r->out[PROBE_SLOT_UDP].state == PROBE_OPEN
				     ? tf(probe_open_verified(&r->out[PROBE_SLOT_UDP])) : "", false);
		csv_field(f, dns_shown(r) ? (r->dns.valid ? "true" : "false") : "", false);
		csv_field(f, dv ? rcode_text(&r->dns, buf, sizeof(buf)) : "", false);
		csv_field(f, dv ? (r->dns.aa ? "true" : "false") : "", false);
		csv_field(f, dv ? (r->dns.ra ? "true" : "false") : "", false);
		csv_field(f, dv ? (r->dns.tc ? "true" : "false") : "", false);
		if (dns_shown(r) && !r->dns.valid) {
			char e[sizeof(r->dns.error) + 1];

			snprintf(e, sizeof(e), "%.*s", (int)sizeof(r->dns.error), r->dns.error);
			csv_field(f, e, false);
		} else {
			csv_field(f, "", false);
		}
		if (checks)
			csv_checks(f, r->checks);
		if (d->passive != NULL)
			csv_passive(f, &d->passive[r - d->records]);
		fputc('\n', f);
	}
	return 0;
}

/* ---- table ---- */

enum { COL_ADDR, COL_TARGET, COL_TCP, COL_UDP, COL_DNS, COL_CHECKS, NCOLS };

static const char *const col_titles[NCOLS] = { "ADDRESS", "TARGET", "TCP", "UDP", "DNS",
					       "CHECKS" };

struct table_row {
	char cell[NCOLS][LABEL_MAX];
};

/* Labels and process names reach a terminal: keep control sequences out of it. */
static void
copy_printable(char *dst, size_t dstlen, const char *src, size_t srcmax)
{
	size_t k = 0;

	for (size_t i = 0; i < srcmax && src[i] != '\0' && k + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[k++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[k] = '\0';
}

/* The table's mark for an open state that is not verified, and the note explaining it. */
#define UNVERIFIED_MARK "?"
static const char unverified_note[] =
	"open? = unverified: a datagram came back from the port, but no DNS reply matching the "
	"query (its source may be forged)";

/* "open dns-reply", "open? udp-response", "filtered no-response", "-". */
static void
outcome_cell(const struct probe_outcome *o, char *buf, size_t len)
{
	if (o->state == PROBE_STATE_NONE)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%s%s %s", probe_state_name(o->state),
			 o->state == PROBE_OPEN && !probe_open_verified(o) ? UNVERIFIED_MARK : "",
			 probe_reason_name(o->reason));
}

static void
dns_cell(const struct probe_result *r, char *buf, size_t len)
{
	char rc[32], err[sizeof(r->dns.error) + 1];

	if (!dns_shown(r)) {
		snprintf(buf, len, "-");
	} else if (!r->dns.valid) {
		copy_printable(err, sizeof(err), r->dns.error, sizeof(r->dns.error));
		snprintf(buf, len, "invalid: %s", err);
	} else {
		snprintf(buf, len, "%s%s%s%s", rcode_text(&r->dns, rc, sizeof(rc)),
			 r->dns.aa ? " aa" : "", r->dns.tc ? " tc" : "", r->dns.ra ? " ra" : "");
	}
}

/* "critical: open-resolver, amplifier 31.50x, version-disclosed \"9.18.1\"", or "-". */
static void
checks_cell(const struct probe_result *r, char *buf, size_t len)
{
	const struct dnscheck_facts *c = r->checks;
	struct grade g;
	size_t off;

	if (c == NULL) {
		snprintf(buf, len, "-");
		return;
	}
	grade_facts(c, &g);
	off = (size_t)snprintf(buf, len, "%s", alert_severity_name(g.severity));
	for (unsigned b = 1; b < (1u << GRADE_NFINDINGS) && off < len; b <<= 1) {
		char detail[DNSCHECK_TEXT_MAX + 16], text[DNSCHECK_TEXT_MAX];

		if (!(g.findings & b))
			continue;
		detail[0] = '\0';
		if (b == GRADE_AMPLIFIER) {
			char x[32];
			fmt_x100(dnscheck_amp_x100(c), x, sizeof(x));
			snprintf(detail, sizeof(detail), " %sx", x);
		} else if (b == GRADE_VERSION) {
			/* the server's own words reach a terminal: keep control bytes out */
			copy_printable(text, sizeof(text), c->version, sizeof(c->version));
			snprintf(detail, sizeof(detail), " \"%s\"", text);
		}
		off += (size_t)snprintf(buf + off, len - off, "%s%s%s",
					off > 0 && !strchr(buf, ':') ? ": " : ", ",
					grade_finding_name(b), detail);
	}
}

static void
table_print_line(FILE *f, const char *const cells[NCOLS], const bool show[NCOLS],
		 const size_t width[NCOLS])
{
	int last = -1;
	bool first = true;

	for (int c = 0; c < NCOLS; c++)
		if (show[c])
			last = c;
	for (int c = 0; c < NCOLS; c++) {
		if (!show[c])
			continue;
		if (!first)
			fputs(TABLE_SEP, f);
		first = false;
		/* No padding after the last column: no trailing blanks. */
		if (c == last)
			fputs(cells[c], f);
		else
			fprintf(f, "%-*s", (int)width[c], cells[c]);
	}
	fputc('\n', f);
}

static const char *
host_state(const struct probe_result *r)
{
	static const enum probe_state order[] = { PROBE_OPEN, PROBE_CLOSED, PROBE_FILTERED };

	/* A host that refused on one protocol is up: call it closed, not filtered. */
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (r->out[PROBE_SLOT_TCP].state == order[i] ||
		    r->out[PROBE_SLOT_UDP].state == order[i])
			return probe_state_name(order[i]);
	return "not probed";
}

static void
print_hidden_summary(FILE *f, const struct probe_result **v, size_t from, size_t n)
{
	static const char *const kinds[] = { "closed", "filtered", "not probed" };
	uint64_t count[3] = { 0 };
	bool first = true;

	for (size_t i = from; i < n; i++)
		for (size_t k = 0; k < 3; k++)
			if (strcmp(host_state(v[i]), kinds[k]) == 0)
				count[k]++;
	fprintf(f, "... %zu %s not shown:", n - from, n - from == 1 ? "address" : "addresses");
	for (size_t k = 0; k < 3; k++) {
		if (count[k] == 0)
			continue;
		fprintf(f, "%s %" PRIu64 " %s", first ? "" : ",", count[k], kinds[k]);
		first = false;
	}
	fputs(" (use --format jsonl for all)\n", f);
}

static int
write_table_rows(FILE *f, const struct output_data *d, const struct probe_result **v,
		 const struct scan_summary *s)
{
	struct table_row *rows = NULL;
	size_t nshow = d->nrecords, nopen = 0, width[NCOLS] = { 0 };
	bool show[NCOLS] = { [COL_ADDR] = true }, unverified = false;
	const char *cells[NCOLS];

	while (nopen < d->nrecords && record_open(v[nopen]))
		nopen++;
	if (d->nrecords > TABLE_MAX_ROWS || d->quiet)
		nshow = nopen;
	show[COL_TCP] = s == NULL || s->tcp;
	show[COL_UDP] = s == NULL || s->udp;
	if (nshow > 0) {
		rows = calloc(nshow, sizeof(*rows));
		if (rows == NULL)
			return -ENOMEM;
	}
	for (size_t i = 0; i < nshow; i++) {
		const struct probe_result *r = v[i];
		char abuf[NETADDR_STRLEN];
		const char *label = record_label(d, r, abuf, sizeof(abuf));

		net_addr_str(&r->addr, rows[i].cell[COL_ADDR], LABEL_MAX);
		copy_printable(rows[i].cell[COL_TARGET], LABEL_MAX, label, strlen(label));
		if (strcmp(rows[i].cell[COL_TARGET], rows[i].cell[COL_ADDR]) != 0)
			show[COL_TARGET] = true;
		outcome_cell(&r->out[PROBE_SLOT_TCP], rows[i].cell[COL_TCP], LABEL_MAX);
		outcome_cell(&r->out[PROBE_SLOT_UDP], rows[i].cell[COL_UDP], LABEL_MAX);
		dns_cell(r, rows[i].cell[COL_DNS], LABEL_MAX);
		checks_cell(r, rows[i].cell[COL_CHECKS], LABEL_MAX);
		if (r->out[PROBE_SLOT_TCP].state != PROBE_STATE_NONE)
			show[COL_TCP] = true;
		if (r->out[PROBE_SLOT_UDP].state != PROBE_STATE_NONE)
			show[COL_UDP] = true;
		for (int sl = 0; sl < PROBE_NSLOTS; sl++)
			unverified |= r->out[sl].state == PROBE_OPEN &&
				      !probe_open_verified(&r->out[sl]);
	}
	show[COL_DNS] = show[COL_UDP];
	show[COL_CHECKS] = s != NULL && s->checks != 0;
	if (nshow > 0) {
		for (int c = 0; c < NCOLS; c++) {
			width[c] = strlen(col_titles[c]);
			for (size_t i = 0; i < nshow; i++)
				if (strlen(rows[i].cell[c]) > width[c])
					width[c] = strlen(rows[i].cell[c]);
		}
		table_print_line(f, col_titles, show, width);
	}
	for (size_t i = 0; i < nshow; i++) {
		for (int c = 0; c < NCOLS; c++)
			cells[c] = rows[i].cell[c];
		table_print_line(f, cells, show, width);
	}
	if (nshow < d->nrecords)
		print_hidden_summary(f, v, nshow, d->nrecords);
	if (unverified)
		fprintf(f, "%s\n", unverified_note);
	free(rows);
	return 0;
}

static void
write_summary_line(FILE *f, const struct scan_summary *s)
{
	char dur[32];

	fprintf(f, "Scanned %" PRIu64 " %s (port %u) in %s: %" PRIu64 " open",
		s->addresses, s->addresses == 1 ? "address" : "addresses", (unsigned)s->port,
		util_fmt_duration(s->elapsed_ns, dur, sizeof(dur)), s->hosts_open);
	if (s->tcp && s->udp)
		fprintf(f, " (tcp %" PRIu64 ", udp %" PRIu64 ")", s->tcp_open, s->udp_open);
	else if (s->tcp)
		fprintf(f, " (tcp %" PRIu64 ")", s->tcp_open);
	else if (s->udp)
		fprintf(f, " (udp %" PRIu64 ")", s->udp_open);
	fputs(".", f);
	if (s->checks != 0)
		fprintf(f, " DNS checks ran on %" PRIu64 " %s.", s->checked,
			s->checked == 1 ? "address" : "addresses");
	if (s->interrupted)
		fputs(" Interrupted: the results are partial.", f);
	fputc('\n', f);
}

static int
write_listeners(FILE *f, const struct output_data *d, uint16_t port)
{
	enum { L_PROTO, L_ADDR, L_OWNER, L_EXPOSURE, NL };
	char (*cell)[NL][LABEL_MAX];
	size_t width[NL] = { 0 };

	fputc('\n', f);
	if (d->nlisteners == 0) {
		fprintf(f, "No socket is bound to port %u on this host.\n", (unsigned)port);
		return 0;
	}
	cell = calloc(d->nlisteners, sizeof(*cell));
	if (cell == NULL)
		return -ENOMEM;
	fprintf(f, "Sockets bound to port %u on this host:\n", (unsigned)port);
	for (size_t i = 0; i < d->nlisteners; i++) {
		const struct audit_listener *l = &d->listeners[i];
		char abuf[NETADDR_STRLEN], comm[sizeof(l->process) + 1];

		snprintf(cell[i][L_PROTO], LABEL_MAX, "%s", l->tcp ? "tcp" : "udp");
		net_addr_str(&l->addr, abuf, sizeof(abuf));
		snprintf(cell[i][L_ADDR], LABEL_MAX,
			 l->addr.family == AF_INET6 ? "[%s]:%u" : "%s:%u", abuf, (unsigned)l->port);
		copy_printable(comm, sizeof(comm), l->process, sizeof(l->process));
		if (l->pid >= 0)
			snprintf(cell[i][L_OWNER], LABEL_MAX, "%s[%d]", comm[0] ? comm : "?",
				 l->pid);
		else
			snprintf(cell[i][L_OWNER], LABEL_MAX, "%s", comm[0] ? comm : "?");
		if (l->exposure == AUDIT_LOOPBACK_ONLY)
			snprintf(cell[i][L_EXPOSURE], LABEL_MAX, "%s",
				 audit_exposure_text(l->exposure));
		else
			snprintf(cell[i][L_EXPOSURE], LABEL_MAX, "%s: reachable unless firewalled",
				 audit_exposure_text(l->exposure));
		for (int c = 0; c < NL; c++)
			if (strlen(cell[i][c]) > width[c])
				width[c] = strlen(cell[i][c]);
	}
	for (size_t i = 0; i < d->nlisteners; i++)
		fprintf(f, "  %-*s  %-*s  %-*s  %s\n", (int)width[L_PROTO], cell[i][L_PROTO],
			(int)width[L_ADDR], cell[i][L_ADDR], (int)width[L_OWNER], cell[i][L_OWNER],
			cell[i][L_EXPOSURE]);
	free(cell);
	fprintf(f, "%s\n", advice);
	return 0;
}

static int
write_table(FILE *f, const struct output_data *d)
{
	const struct probe_result **v = sorted_records(d, table_cmp);
	const struct scan_summary *s = d->summary;
	int rc;

	if (v == NULL)
		return -ENOMEM;
	rc = write_table_rows(f, d, v, s);
	free(v);
	if (rc != 0)
		return rc;
	if (s != NULL)
		write_summary_line(f, s);
	if (d->sniff != NULL)
		write_sniff_line(f, d->sniff);
	if (s != NULL && s->audit)
		return write_listeners(f, d, s->port);
	return 0;
}

int
output_write(FILE *f, enum output_format fmt, const struct output_data *d)
{
	const struct probe_result **v = NULL;
	int rc;

	if (fmt == OUTPUT_TABLE) {
		rc = write_table(f, d);
		goto out;
	}
	v = sorted_records(d, seq_cmp);
	if (v == NULL)
		return -ENOMEM;
	switch (fmt) {
	case OUTPUT_JSON: rc = write_json(f, d, v); break;
	case OUTPUT_JSONL: rc = write_jsonl(f, d, v); break;
	case OUTPUT_CSV: rc = write_csv(f, d, v); break;
	default: rc = -EINVAL; break;
	}
out:
	free(v);
	/* Short writes surface here: stdio keeps the error flag until clearerr(). */
	if (rc == 0 && (fflush(f) == EOF || ferror(f)))
		rc = -EIO;
	return rc;
}

/* ---- progress ---- */

static void
fmt_eta(uint64_t secs, char *buf, size_t len)
{
	if (secs < 60)
		snprintf(buf, len, "%" PRIu64 "s", secs);
	else if (secs < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", secs / 60, secs % 60);
	else
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", secs / 3600, secs / 60 % 60);
}

void
output_progress(FILE *tty, const struct engine_stats *st, uint64_t total)
{
	double secs = (double)st->elapsed_ns / 1e9;
	uint64_t pps = secs > 0 ? (uint64_t)((double)st->packets / secs + 0.5) : 0;

	fprintf(tty, "\r[watch53] %" PRIu64 "/%" PRIu64 " addresses  %" PRIu64 " open  %" PRIu64
		" pkt/s", st->finished, total, st->open, pps);
	/* The finish rate so far predicts the rest; with nothing finished there is no rate. */
	if (st->finished > 0 && st->finished < total) {
		double eta = secs * (double)(total - st->finished) / (double)st->finished;
		char buf[32];

		fmt_eta((uint64_t)(eta + 0.5), buf, sizeof(buf));
		fprintf(tty, "  ETA %s", buf);
	}
	fputs("\033[K", tty);
	fflush(tty);
}

void
output_progress_clear(FILE *tty)
{
	fputs("\r\033[K", tty);
	fflush(tty);
}

/* ---- sniff: the passive fields and the run's summary ---- */

static void
passive_fields(struct json_object *j, const struct output_passive *p, bool *ok)
{
	struct json_object *protos = json_object_new_array();
	char buf[48];

	jsonw_put(j, "source", json_object_new_string("passive"), ok);
	jsonw_put(j, "first_seen", json_object_new_string(util_fmt_utc_ms(p->first_seen_ns, buf,
								 sizeof(buf))), ok);
	jsonw_put(j, "last_seen", json_object_new_string(util_fmt_utc_ms(p->last_seen_ns, buf,
								sizeof(buf))), ok);
	jsonw_put(j, "packets", json_object_new_int64(clamp64(p->packets)), ok);
	jsonw_put(j, "responses", json_object_new_int64(clamp64(p->responses)), ok);
	jsonw_put(j, "ra_responses", json_object_new_int64(clamp64(p->ra_responses)), ok);
	jsonw_put(j, "recursion_available", json_object_new_boolean(p->ra_responses > 0), ok);
	jsonw_put(j, "protocols", protos, ok);
	if (protos != NULL && p->udp)
		jsonw_push(protos, json_object_new_string("udp"), ok);
	if (protos != NULL && p->tcp)
		jsonw_push(protos, json_object_new_string("tcp"), ok);
	if (p->in_targets >= 0)
		jsonw_put(j, "in_targets", json_object_new_boolean(p->in_targets > 0), ok);
}

static struct json_object *
sniff_json(const struct output_sniff *s, bool *ok)
{
	struct json_object *j = json_object_new_object();
	char buf[64];

	if (j == NULL) {
		*ok = false;
		return NULL;
	}
	jsonw_put(j, s->live ? "interface" : "file", json_object_new_string(s->source), ok);
	jsonw_put(j, "started", json_object_new_string(util_fmt_utc_ms(s->started_wall_ns, buf,
							      sizeof(buf))), ok);
	fmt_hundredths(s->elapsed_ns, NS_PER_SEC, buf, sizeof(buf));
	jput_fixed2(j, "elapsed_s", buf, ok);
	jsonw_put(j, "packets", json_object_new_int64(clamp64(s->packets)), ok);
	jsonw_put(j, "decoded", json_object_new_int64(clamp64(s->decoded)), ok);
	jsonw_put(j, "truncated", json_object_new_int64(clamp64(s->truncated)), ok);
	jsonw_put(j, "malformed", json_object_new_int64(clamp64(s->malformed)), ok);
	jsonw_put(j, "unsupported", json_object_new_int64(clamp64(s->unsupported)), ok);
	jsonw_put(j, "fragments", json_object_new_int64(clamp64(s->fragments)), ok);
	jsonw_put(j, "dns_malformed", json_object_new_int64(clamp64(s->dns_malformed)), ok);
	jsonw_put(j, "table_full", json_object_new_int64(clamp64(s->table_full)), ok);
	if (s->live)
		jsonw_put(j, "kernel_dropped", json_object_new_int64(clamp64(s->kernel_dropped)), ok);
	jsonw_put(j, "responders", json_object_new_int64(clamp64(s->responders)), ok);
	jsonw_put(j, "unknown_not_reported", json_object_new_int64(clamp64(s->unknown)), ok);
	jsonw_put(j, "events", json_object_new_int64(clamp64(s->events)), ok);
	jsonw_put(j, "interrupted", json_object_new_boolean(s->interrupted), ok);
	if (s->file_error != NULL)
		jsonw_put(j, "file_error", json_object_new_string(s->file_error), ok);
	else
		jsonw_put_null(j, "file_error", ok);
	return j;
}

static void
csv_passive(FILE *f, const struct output_passive *p)
{
	char buf[48];

	csv_field(f, "passive", false);
	csv_field(f, util_fmt_utc_ms(p->first_seen_ns, buf, sizeof(buf)), false);
	csv_field(f, util_fmt_utc_ms(p->last_seen_ns, buf, sizeof(buf)), false);
	snprintf(buf, sizeof(buf), "%" PRIu64, p->packets);
	csv_field(f, buf, false);
	snprintf(buf, sizeof(buf), "%" PRIu64, p->responses);
	csv_field(f, buf, false);
	snprintf(buf, sizeof(buf), "%" PRIu64, p->ra_responses);
	csv_field(f, buf, false);
	csv_field(f, p->udp && p->tcp ? "udp tcp" : p->udp ? "udp" : p->tcp ? "tcp" : "", false);
	csv_field(f, p->in_targets < 0 ? "" : p->in_targets ? "true" : "false", false);
}

static void
write_sniff_line(FILE *f, const struct output_sniff *s)
{
	char dur[32], src[128];

	copy_printable(src, sizeof(src), s->source, strlen(s->source));
	fprintf(f, "Sniffed %" PRIu64 " packet%s on %s in %s: %" PRIu64 " DNS responder%s",
		s->packets, s->packets == 1 ? "" : "s", src,
		util_fmt_duration(s->elapsed_ns, dur, sizeof(dur)), s->responders,
		s->responders == 1 ? "" : "s");
	if (s->unknown > 0)
		fprintf(f, " (%" PRIu64 " outside the targets not shown)", s->unknown);
	if (s->truncated + s->malformed + s->unsupported + s->dns_malformed > 0)
		fprintf(f, "; skipped %" PRIu64 " truncated, %" PRIu64 " malformed, %" PRIu64
			" not IP, %" PRIu64 " bad DNS", s->truncated, s->malformed, s->unsupported,
			s->dns_malformed);
	fputs(".", f);
	if (s->interrupted)
		fputs(" Interrupted.", f);
	fputc('\n', f);
}
