/* baseline: turn one cycle's observation of an address into opened/closed/flapping/changed
 * events against what was accepted and reported before. Pure: no I/O, clock or malloc. */
#include "agent/baseline.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/grade.h"
#include "probes/dns.h"

_Static_assert(BL_FLAP_WINDOW >= 1 && BL_FLAP_WINDOW <= 16, "change_bits has 16 bits");
_Static_assert(BL_FLAP_CHANGES >= 1 && BL_FLAP_CHANGES <= BL_FLAP_WINDOW,
	       "flapping must be reachable within the window");

#define FLAP_MASK ((uint16_t)((1u << BL_FLAP_WINDOW) - 1u))
/* How much of a target name a summary quotes: with the address and the longest sentence
 * around it, the summary still fits its 255 bytes. */
#define PLACE_TARGET_MAX 64

/* What one slot's observation asks for. */
enum bl_raise {
	RAISE_NONE = 0,
	RAISE_OPENED,
	RAISE_EXPOSED,
	RAISE_CLOSED,
	RAISE_FLAPPING,
};

/* The per-address facts every event of the cycle shares. */
struct bl_ctx {
	const struct bl_entry *e;
	const struct probe_result *obs;
	char addr[NETADDR_STRLEN];
	char place[NETADDR_STRLEN + 4 + PLACE_TARGET_MAX]; /* "127.53.0.5 (primary dns)" */
	char dns_json[sizeof(((struct alert_event *)0)->dns_json)];
};

static unsigned
popcount16(uint16_t v)
{
	unsigned n = 0;

	for (; v != 0; v &= (uint16_t)(v - 1))
		n++;
	return n;
}

/* Streaks saturate: a port open for 2^32 cycles must not look freshly closed. */
static void
inc(unsigned *v)
{
	if (*v < UINT_MAX)
		(*v)++;
}

static bool
observed(enum probe_state s)
{
	return s == PROBE_OPEN || s == PROBE_CLOSED || s == PROBE_FILTERED;
}

static const char *
miss_name(const struct bl_port *p)
{
	/* "closed" when no miss was ever seen (e.g. a state file from before last_miss). */
	return p->last_miss == PROBE_FILTERED ? "filtered" : "closed";
}

static const char *
bool_name(bool b)
{
	return b ? "true" : "false";
}

/* Human text into a fixed field. The sentences are sized to fit (PLACE_TARGET_MAX); should
 * one still not, a cut sentence beats none. */
__attribute__((format(printf, 3, 4))) static void
text(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
	/* a cut ends between two characters (the text quotes names and DNS answers) */
	dst[alert_utf8_cut(dst, strlen(dst), len - 1)] = '\0';
}

/* ---- the per-slot state machine ---- */

/* First sight: nothing known of the past; nothing reported, nothing proven. */
static void
slot_first(struct bl_port *p, uint64_t now)
{
	memset(p, 0, sizeof(*p));
	p->known = true;
	p->last_miss = PROBE_STATE_NONE;
	p->first_seen = now;
	p->last_change = now;
}

/* First sight of a port that is taken as it is (open as expected, or adopted). */
static void
slot_adopt(struct bl_port *p, const struct probe_outcome *o, uint64_t now)
{
	p->baseline_open = true;
	p->reported_open = true;
	p->open_before_flap = true;
	p->last = o->state;
	p->last_reason = o->reason;
	p->open_streak = 1;
	p->streak_verified = probe_open_verified(o);
	p->last_seen = now;
}

/* A cycle without evidence: count it, and see whether it establishes the closed state. */
static void
note_miss(struct bl_port *p, const struct probe_outcome *o, unsigned need_closed, uint64_t now)
{
	/* a port reported open judges each run of misses on its own: an earlier run that
	 * ended in evidence proves nothing about this one */
	if (p->reported_open && p->miss_streak == 1) {
		p->quiet_cycles = 0;
		p->closed_proven = false;
		p->proven_by = PROBE_REASON_NONE;
	}
	if (p->quiet_cycles == 0)
		p->quiet_since = now;
	inc(&p->quiet_cycles);
	if (o->state == PROBE_CLOSED) {
		/* the host itself said no (a reset, ICMP port unreachable) */
		p->closed_proven = true;
		p->proven_by = o->reason;
	} else if (!p->closed_proven && p->miss_streak >= need_closed) {
		p->closed_proven = true;
		p->proven_by = PROBE_REASON_NO_RESPONSE;
	}
}

/* The port is reported open from now on: what proved it closed is spent. */
static void
note_reported_open(struct bl_port *p)
{
	p->closed_proven = false;
	p->proven_by = PROBE_REASON_NONE;
	p->quiet_cycles = 0;
	p->quiet_since = 0;
}

static enum bl_raise
slot_apply(struct bl_port *p, const struct probe_outcome *o, bool first, bool expect_open,
	   bool degraded, const struct bl_policy *pol, uint64_t now)
{
	/* A policy of 0 would report a state without a single observation behind it. */
	unsigned need_open = pol->confirm_open > 0 ? pol->confirm_open : 1;
	unsigned need_closed = pol->confirm_closed > 0 ? pol->confirm_closed : 1;
	bool evidence, was_open, proven, changed = false;

	if (!observed(o->state))
		return RAISE_NONE; /* not probed this cycle: nothing learned */
	if (degraded) {
		/* The monitor's own failure says nothing about the host: remember what was
		 * seen, decide nothing (a never-seen slot waits for a real first look). */
		p->last = o->state;
		p->last_reason = o->reason;
		p->last_seen = now;
		return RAISE_NONE;
	}
	evidence = o->state == PROBE_OPEN;
	if (first || !p->known) {
		slot_first(p, now);
		if (evidence && (expect_open || pol->adopt)) {
			slot_adopt(p, o, now);
			return RAISE_NONE;
		}
	}

	p->last = o->state;
	p->last_reason = o->reason;
	p->last_seen = now;
	if (evidence) {
		if (p->open_streak == 0)
			p->streak_verified = false;
		p->streak_verified |= probe_open_verified(o);
		inc(&p->open_streak);
		p->miss_streak = 0;
	} else {
		inc(&p->miss_streak);
		p->open_streak = 0;
		p->last_miss = o->state;
		note_miss(p, o, need_closed, now);
	}
	/* only unverified datagrams so far: one more cycle before anyone is told */
	if (!p->streak_verified && need_open < BL_UNVERIFIED_CYCLES)
		need_open = BL_UNVERIFIED_CYCLES;

	was_open = p->reported_open;
	proven = p->closed_proven;
	if (!was_open && evidence && p->open_streak >= need_open)
		changed = true;
	else if (was_open && !evidence && p->miss_streak >= need_closed)
		changed = true;

	p->change_bits = (uint16_t)((p->change_bits << 1) & FLAP_MASK);
	if (changed) {
		/* No other change in the window: a new sequence starts here, and this is the
		 * state the settled one is compared with if it turns into flapping. */
		if (p->change_bits == 0 && !p->flapping)
			p->open_before_flap = was_open;
		p->change_bits |= 1;
		p->reported_open = !was_open;
		p->last_change = now;
		if (p->reported_open)
			note_reported_open(p);
	}

	if (!p->flapping && popcount16(p->change_bits) >= BL_FLAP_CHANGES) {
		p->flapping = true;
		return RAISE_FLAPPING;
	}
	if (p->flapping) {
		if (p->change_bits != 0)
			return RAISE_NONE; /* quiet until it settles */
		p->flapping = false;
		/* Settled where it was before: users already believe the right thing. */
		if (p->reported_open == p->open_before_flap)
			return RAISE_NONE;
		return p->reported_open ? RAISE_OPENED : RAISE_CLOSED;
	}
	if (!changed)
		return RAISE_NONE;
	if (!p->reported_open)
		return RAISE_CLOSED;
	if (proven)
		return RAISE_OPENED;
	/* open without proof it was ever closed: as expected is no news, else an exposure */
	return expect_open ? RAISE_NONE : RAISE_EXPOSED;
}

/* ---- the facts of the follow-up checks ---- */

void
baseline_dns_from_checks(const struct dnscheck_facts *f, struct bl_dns *d)
{
	bool known;

	d->checks = 0;
	if (f->known & DNSCHECK_RECURSION) {
		d->checks |= DNSCHECK_RECURSION;
		d->recursion = f->recursion;
		d->bogus_known = f->bogus_known;
		d->bogus = f->bogus_known && f->bogus;
	}
	if (f->known & DNSCHECK_VERSION) {
		d->checks |= DNSCHECK_VERSION;
		snprintf(d->version, sizeof(d->version), "%.*s", (int)(sizeof(d->version) - 1),
			 f->version);
		d->identity = f->hostname[0] != '\0' || f->nsid[0] != '\0';
	}
	d->axfr = dnscheck_axfr_any(f, &known);
	if ((f->known & DNSCHECK_AXFR) && known) {
		size_t off = 0;

		d->checks |= DNSCHECK_AXFR;
		d->axfr_zones[0] = '\0';
		for (unsigned i = 0; i < f->naxfr && i < DNSCHECK_MAX_ZONES; i++) {
			int w;

			if (f->axfr[i].state != DNSCHECK_AXFR_ALLOWED || f->axfr[i].zone == NULL)
				continue;
			w = snprintf(d->axfr_zones + off, sizeof(d->axfr_zones) - off, "%s%s",
				     off ? "," : "", f->axfr[i].zone);
			if (w < 0 || (size_t)w >= sizeof(d->axfr_zones) - off)
				break; /* cut: a list this long changes anyway when a zone does */
			off += (size_t)w;
		}
	}
	if ((f->known & DNSCHECK_AMPLIFICATION) && dnscheck_amp_x100(f) > 0) {
		d->checks |= DNSCHECK_AMPLIFICATION;
		d->amplification = dnscheck_amp_x100(f);
	}
	if (f->known & DNSCHECK_TCP_DNS) {
		d->checks |= DNSCHECK_TCP_DNS;
		d->tcp_dns = f->tcp_dns;
	}
}

/* Append ,"key":value to a JSON object text in buf (which ends in '}'); false if it does
 * not fit (buf is then left as it was). */
__attribute__((format(printf, 3, 4))) static bool
json_append(char *buf, size_t len, const char *fmt, ...)
{
	size_t end = strlen(buf);
	char tmp[256];
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (end == 0 || buf[end - 1] != '}' || w < 0 || (size_t)w >= sizeof(tmp) ||
	    end + (size_t)w + 2 > len)
		return false;
	snprintf(buf + end - 1, len - end + 1, "%s%s}", end > 2 ? "," : "", tmp);
	return true;
}

/* JSON string body for text that is printable ASCII already (dnscheck_printable). */
static const char *
json_escaped(const char *in, char *out, size_t outlen)
{
	size_t k = 0;

	for (; *in != '\0' && k + 2 < outlen; in++) {
		if (*in == '"' || *in == '\\')
			out[k++] = '\\';
		out[k++] = *in;
	}
	out[k] = '\0';
	return out;
}

/* The check facts an alert carries in its dns object (as in the result record). */
static void
checks_json(char *buf, size_t len, const struct dnscheck_facts *f)
{
	char esc[2 * DNSCHECK_TEXT_MAX];
	bool known, any;
	uint32_t x;

	if (buf[0] == '\0')
		snprintf(buf, len, "{\"valid\":false}");
	if (f->known & DNSCHECK_RECURSION) {
		json_append(buf, len, "\"recursion\":%s", bool_name(f->recursion));
		if (f->bogus_known)
			json_append(buf, len, "\"bogus\":%s", bool_name(f->bogus));
	}
	if (f->known & DNSCHECK_VERSION)
		json_append(buf, len, "\"version\":\"%s\"",
			    json_escaped(f->version, esc, sizeof(esc)));
	any = dnscheck_axfr_any(f, &known);
	if ((f->known & DNSCHECK_AXFR) && known)
		json_append(buf, len, "\"axfr\":%s", bool_name(any));
	x = dnscheck_amp_x100(f);
	if ((f->known & DNSCHECK_AMPLIFICATION) && x > 0)
		json_append(buf, len, "\"amplification\":%u.%02u", x / 100, x % 100);
	if (f->known & DNSCHECK_TCP_DNS)
		json_append(buf, len, "\"tcp_dns\":%s", bool_name(f->tcp_dns));
}

/* ---- events ---- */

static void
ctx_init(struct bl_ctx *c, const struct bl_entry *e, const struct probe_result *obs)
{
	const struct probe_dns_facts *d = &obs->dns;
	const char *target = e->target ? e->target : "";
	int tlen = (int)strnlen(target, BL_TARGET_MAX);

	c->e = e;
	c->obs = obs;
	net_addr_str(&e->addr, c->addr, sizeof(c->addr));
	/* The target is shown only when it says more than the address; cut so the sentence
	 * around it still fits in the summary. */
	if (tlen == 0 || strncmp(target, c->addr, BL_TARGET_MAX) == 0)
		snprintf(c->place, sizeof(c->place), "%s", c->addr);
	else
		snprintf(c->place, sizeof(c->place), "%s (%.*s)", c->addr,
			 (int)alert_utf8_cut(target, tlen, PLACE_TARGET_MAX), target);
	c->dns_json[0] = '\0';
	if (d->valid) {
		char rbuf[16];

		snprintf(c->dns_json, sizeof(c->dns_json),
			 "{\"valid\":true,\"rcode\":\"%s\",\"aa\":%s,\"ra\":%s,\"tc\":%s}",
			 dns_rcode_name(d->rcode, rbuf, sizeof(rbuf)), bool_name(d->aa),
			 bool_name(d->ra), bool_name(d->tc));
	}
	if (obs->checks != NULL)
		checks_json(c->dns_json, sizeof(c->dns_json), obs->checks);
}

/* Everything but id/time/agent, which belong to the caller (alert_event_stamp). */
static void
event_common(struct alert_event *ev, const struct bl_ctx *c, enum alert_type type,
	     enum probe_slot s)
{
	char id[sizeof(ev->id)], agent[sizeof(ev->agent)];
	uint64_t time_ns = ev->time_ns;

	/* the first thing written to the event: a field nobody sets is empty, not the
	 * caller's stack; id, time and agent stay the caller's */
	memcpy(id, ev->id, sizeof(id));
	memcpy(agent, ev->agent, sizeof(agent));
	memset(ev, 0, sizeof(*ev));
	memcpy(ev->id, id, sizeof(id));
	memcpy(ev->agent, agent, sizeof(agent));
	ev->time_ns = time_ns;
	ev->type = type;
	snprintf(ev->target, sizeof(ev->target), "%.*s",
		 (int)strnlen(c->e->target ? c->e->target : "", BL_TARGET_MAX),
		 c->e->target ? c->e->target : "");
	snprintf(ev->address, sizeof(ev->address), "%s", c->addr);
	snprintf(ev->protocol, sizeof(ev->protocol), "%s", probe_slot_name(s));
	ev->port = c->obs->port;
	ev->previous[0] = '\0';
	ev->current[0] = '\0';
	snprintf(ev->reason, sizeof(ev->reason), "%s", probe_reason_name(c->obs->out[s].reason));
	ev->severity = SEV_INFO;
	ev->summary[0] = '\0';
	ev->why[0] = '\0';
	snprintf(ev->dns_json, sizeof(ev->dns_json), "%s", c->dns_json);
	snprintf(ev->source, sizeof(ev->source), "active");
	ev->expected_open = c->e->expect_open[s];
}

static const char why_udp_open[] =
	"An open DNS port reachable where it should not be can be abused as an open resolver "
	"for amplification DDoS, leak versions and zones, and invite cache poisoning.";
static const char why_tcp_open[] =
	"An open DNS port reachable where it should not be can hand out whole zones by zone "
	"transfer (AXFR), leak versions, and serve as an open resolver.";
static const char why_resolver[] =
	"It answers recursive queries from here: an open resolver is abused for amplification "
	"DDoS and cache poisoning, and leaks what its clients look up.";
static const char why_back_up[] =
	"The DNS server is reachable again as expected; clients can resolve names through it.";

const char *
baseline_why_open(enum probe_slot s)
{
	return s == PROBE_SLOT_UDP ? why_udp_open : why_tcp_open;
}
static const char why_down[] = "Clients relying on this DNS server cannot resolve names.";
static const char why_back_closed[] =
	"The port is back to its expected closed state: DNS is no longer exposed here.";
static const char why_flapping[] =
	"A port that keeps opening and closing points to an unstable service, a firewall rule "
	"being toggled or an overloaded server; its alerts are held back to avoid noise.";

static const char why_unverified[] =
	"No reply matched the query (a broken server, or spoofing).";

/* "2026-12-04 18:25 UTC" for a wall time in ns ("an unknown time" for 0). */
static void
fmt_when(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (ns == 0 || gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(buf, len, "an unknown time");
}

/* How the closed state was established, for "it was closed for 12 cycles since ... (...)". */
static const char *
proof_name(enum probe_reason r)
{
	switch (r) {
	case PROBE_REASON_RESET:
		return "answered with a reset";
	case PROBE_REASON_PORT_UNREACH:
		return "answered with ICMP port unreachable";
	default:
		return "no answer";
	}
}

/* The severity and why of a port open against (or as) its expectation: shared by opened
 * and exposed, which take the same severity. */
static void
open_severity(struct alert_event *ev, const struct bl_ctx *c, enum probe_slot s)
{
	const struct bl_port *p = &c->e->port[s];
	const struct probe_dns_facts *d = &c->obs->dns;

	/* RA in the probe's reply only hints at recursion (unbound sets it on REFUSED): when
	 * the recursion check answered, its verdict decides, through the grade below */
	bool ra_hint = d->valid && d->ra &&
		       (c->obs->checks == NULL || !(c->obs->checks->known & DNSCHECK_RECURSION));

	if (c->e->expect_open[s]) {
		ev->severity = SEV_INFO; /* recovery */
		snprintf(ev->why, sizeof(ev->why), "%s", why_back_up);
	} else if (s == PROBE_SLOT_UDP && ra_hint) {
		ev->severity = SEV_CRITICAL;
		snprintf(ev->why, sizeof(ev->why), "%s", why_resolver);
	} else if (p->baseline_open) {
		/* an accepted exposure coming back (e.g. a restart): known, not new */
		ev->severity = SEV_LOW;
		snprintf(ev->why, sizeof(ev->why), "%s",
			 "This port was accepted as open into the baseline; it is back to that state.");
	} else {
		ev->severity = SEV_HIGH;
		snprintf(ev->why, sizeof(ev->why), "%s",
			 s == PROBE_SLOT_UDP ? why_udp_open : why_tcp_open);
	}
	/* an unexpected exposure whose checks found worse: say what was found */
	if (!c->e->expect_open[s] && ev->severity >= SEV_HIGH && c->obs->checks != NULL) {
		struct grade g;
		unsigned mine = s == PROBE_SLOT_UDP
			? GRADE_OPEN_RESOLVER | GRADE_BOGUS_ANSWER | GRADE_AMPLIFIER
			: GRADE_AXFR_ALLOWED;

		grade_facts(c->obs->checks, &g);
		for (unsigned b = 1; b < (1u << GRADE_NFINDINGS); b <<= 1)
			if ((g.findings & mine & b) && grade_finding_severity(b) > ev->severity) {
				ev->severity = grade_finding_severity(b);
				snprintf(ev->why, sizeof(ev->why), "%s", grade_finding_why(b));
			}
	}
	/* only datagrams that did not answer the query: say so first */
	if (!p->streak_verified) {
		char why[sizeof(ev->why)];

		snprintf(why, sizeof(why), "%s", ev->why);
		text(ev->why, sizeof(ev->why), "%s %s", why_unverified, why);
	}
}

/* `prev` is the port as it was before this cycle: what proved it closed. A port expected
 * open comes back `recovered`, any other is `opened`. */
static void
event_opened(struct alert_event *ev, const struct bl_ctx *c, enum probe_slot s, bool settled,
	     const struct bl_port *prev)
{
	const struct bl_port *p = &c->e->port[s];
	const char *pname = s == PROBE_SLOT_TCP ? "TCP" : "UDP";
	const char *reason = probe_reason_name(c->obs->out[s].reason);
	const char *now = c->e->expect_open[s] ? "is back up" : "is now open";
	char when[48];

	event_common(ev, c, c->e->expect_open[s] ? ALERT_RECOVERED : ALERT_OPENED, s);
	snprintf(ev->previous, sizeof(ev->previous), "%s", miss_name(p));
	snprintf(ev->current, sizeof(ev->current), "open");
	open_severity(ev, c, s);
	fmt_when(prev->quiet_since, when, sizeof(when));
	if (settled)
		text(ev->summary, sizeof(ev->summary),
			 "%s port %u on %s settled open (%s) after flapping; it was %s before.",
			 pname, c->obs->port, c->place, reason, ev->previous);
	else if (prev->quiet_cycles > 0)
		text(ev->summary, sizeof(ev->summary),
			 "%s port %u on %s %s (%s)%s; it was %s for %u cycle%s since %s (%s).",
			 pname, c->obs->port, c->place, now, reason,
			 ev->severity == SEV_CRITICAL ? " and offers recursion" : "", ev->previous,
			 prev->quiet_cycles, prev->quiet_cycles == 1 ? "" : "s", when,
			 proof_name(prev->proven_by));
	else
		text(ev->summary, sizeof(ev->summary),
			 "%s port %u on %s %s (%s)%s; it was %s.", pname, c->obs->port,
			 c->place, now, reason,
			 ev->severity == SEV_CRITICAL ? " and offers recursion" : "", ev->previous);
}

/* Open against its expectation with no proof it was ever closed (first sight, or only
 * silent for fewer than confirm.closed cycles). */
static void
event_exposed(struct alert_event *ev, const struct bl_ctx *c, enum probe_slot s,
	      const struct bl_port *prev)
{
	const char *pname = s == PROBE_SLOT_TCP ? "TCP" : "UDP";
	const char *reason = probe_reason_name(c->obs->out[s].reason);
	unsigned quiet = prev->known ? prev->quiet_cycles : 0;

	event_common(ev, c, ALERT_EXPOSED, s);
	snprintf(ev->previous, sizeof(ev->previous), "unknown");
	snprintf(ev->current, sizeof(ev->current), "open");
	open_severity(ev, c, s);
	if (quiet > 0)
		text(ev->summary, sizeof(ev->summary),
			 "%s port %u on %s is open (%s)%s, seen open for the first time; %u earlier "
			 "cycle%s had no answer: no proof it was closed.", pname, c->obs->port,
			 c->place, reason,
			 ev->severity == SEV_CRITICAL ? " and offers recursion" : "", quiet,
			 quiet == 1 ? "" : "s");
	else
		text(ev->summary, sizeof(ev->summary),
			 "%s port %u on %s is open (%s)%s, first seen now: nothing shows it was ever "
			 "closed.", pname, c->obs->port, c->place, reason,
			 ev->severity == SEV_CRITICAL ? " and offers recursion" : "");
}

static void
event_closed(struct alert_event *ev, const struct bl_ctx *c, enum probe_slot s, bool settled)
{
	const struct bl_port *p = &c->e->port[s];
	const char *pname = s == PROBE_SLOT_TCP ? "TCP" : "UDP";
	const char *reason = probe_reason_name(c->obs->out[s].reason);

	event_common(ev, c, ALERT_CLOSED, s);
	snprintf(ev->previous, sizeof(ev->previous), "open");
	snprintf(ev->current, sizeof(ev->current), "%s", probe_state_name(c->obs->out[s].state));
	if (c->e->expect_open[s]) {
		ev->severity = SEV_HIGH;
		snprintf(ev->why, sizeof(ev->why), "%s", why_down);
	} else {
		ev->severity = SEV_INFO; /* back to the safe state */
		snprintf(ev->why, sizeof(ev->why), "%s", why_back_closed);
	}
	if (settled)
		text(ev->summary, sizeof(ev->summary),
			 "%s port %u on %s settled %s (%s) after flapping; it was open before.",
			 pname, c->obs->port, c->place, ev->current, reason);
	else
		text(ev->summary, sizeof(ev->summary),
			 "%s port %u on %s is now %s (%s), %u cycle%s in a row; it was open.",
			 pname, c->obs->port, c->place, ev->current, reason,
			 p->miss_streak, p->miss_streak == 1 ? "" : "s");
}

static void
event_flapping(struct alert_event *ev, const struct bl_ctx *c, enum probe_slot s)
{
	const struct bl_port *p = &c->e->port[s];

	event_common(ev, c, ALERT_FLAPPING, s);
	snprintf(ev->previous, sizeof(ev->previous), "%s",
		 p->open_before_flap ? "open" : miss_name(p));
	snprintf(ev->current, sizeof(ev->current), "%s", probe_state_name(c->obs->out[s].state));
	ev->severity = SEV_MEDIUM;
	snprintf(ev->why, sizeof(ev->why), "%s", why_flapping);
	text(ev->summary, sizeof(ev->summary),
		 "%s port %u on %s is flapping: %u changes in the last %u cycles; its alerts "
		 "pause until it is stable for %u cycles.", s == PROBE_SLOT_TCP ? "TCP" : "UDP",
		 c->obs->port, c->place, popcount16(p->change_bits), BL_FLAP_WINDOW,
		 BL_FLAP_WINDOW);
}

/* One changed fact: how it reads in the summary and in previous/current, how severe. */
struct change {
	const char *name;
	char old[DNSCHECK_TEXT_MAX + 8], cur[DNSCHECK_TEXT_MAX + 8]; /* summary form */
	char old_v[DNSCHECK_TEXT_MAX], cur_v[DNSCHECK_TEXT_MAX];     /* bare values */
	enum alert_severity sev;
	const char *why;
};

#define MAX_CHANGES 10

struct changes {
	struct change c[MAX_CHANGES];
	size_t n;
};

static const char why_changed_other[] =
	"A different answer can mean a configuration change, a broken or removed zone, or "
	"another server answering on this address.";
static const char why_ra_on[] =
	"Recursion is now offered to whoever can reach this server: an open resolver is abused "
	"for amplification DDoS and cache poisoning.";
static const char why_ra_off[] =
	"Recursion is no longer offered here: clients that used this server as their resolver "
	"cannot resolve names through it.";
static const char why_version_changed[] =
	"Another version string usually means an upgrade, a downgrade or another server "
	"behind this address.";
static const char why_fixed[] =
	"An exposure went away: check that it was intended and that clients still work.";

/* Note a change: `quote` puts the summary values in quotes (strings), "" reads (hidden). */
static void
add_change(struct changes *cs, const char *name, const char *old, const char *cur, bool quote,
	   enum alert_severity sev, const char *why)
{
	struct change *ch;

	if (cs->n >= MAX_CHANGES)
		return;
	ch = &cs->c[cs->n++];
	ch->name = name;
	ch->sev = sev;
	ch->why = why;
	snprintf(ch->old_v, sizeof(ch->old_v), "%s", quote && old[0] == '\0' ? "hidden" : old);
	snprintf(ch->cur_v, sizeof(ch->cur_v), "%s", quote && cur[0] == '\0' ? "hidden" : cur);
	if (quote) {
		text(ch->old, sizeof(ch->old), old[0] ? "\"%s\"" : "(hidden)", old);
		text(ch->cur, sizeof(ch->cur), cur[0] ? "\"%s\"" : "(hidden)", cur);
	} else {
		snprintf(ch->old, sizeof(ch->old), "%s", old);
		snprintf(ch->cur, sizeof(ch->cur), "%s", cur);
	}
}

static void
add_bool(struct changes *cs, const char *name, bool old, bool cur, enum alert_severity on,
	 const char *why_on, enum alert_severity off, const char *why_off)
{
	if (old != cur)
		add_change(cs, name, bool_name(old), bool_name(cur), false, cur ? on : off,
			   cur ? why_on : why_off);
}

/* Some zone in `cur` that is not in `old` (comma-separated lists). */
static bool
new_zone(const char *old, const char *cur)
{
	char buf[BL_AXFR_ZONES_MAX], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", cur);
	for (char *z = strtok_r(buf, ",", &save); z != NULL; z = strtok_r(NULL, ",", &save)) {
		size_t zl = strlen(z);
		const char *p = old;
		bool found = false;

		while ((p = strstr(p, z)) != NULL) {
			if ((p == old || p[-1] == ',') && (p[zl] == ',' || p[zl] == '\0')) {
				found = true;
				break;
			}
			p += zl;
		}
		if (!found)
			return true;
	}
	return false;
}

static void
fmt_amp(uint32_t x100, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%02ux", x100 / 100, x100 % 100);
}

/* Every fact known in both `old` and `cur` that differs, most important first. */
static void
collect_changes(const struct bl_dns *old, const struct bl_dns *cur, bool base, unsigned checks,
		struct changes *cs)
{
	unsigned both = old->checks & checks;
	char o_rc[16], n_rc[16];

	cs->n = 0;
	if (both & DNSCHECK_RECURSION) {
		add_bool(cs, "recursion", old->recursion, cur->recursion, SEV_CRITICAL,
			 grade_finding_why(GRADE_OPEN_RESOLVER), SEV_LOW, why_fixed);
		if (old->bogus_known && cur->bogus_known)
			add_bool(cs, "bogus", old->bogus, cur->bogus, SEV_CRITICAL,
				 grade_finding_why(GRADE_BOGUS_ANSWER), SEV_LOW, why_fixed);
	}
	if ((both & DNSCHECK_AXFR) &&
	    (old->axfr != cur->axfr || strcmp(old->axfr_zones, cur->axfr_zones) != 0)) {
		bool worse = (cur->axfr && !old->axfr) || new_zone(old->axfr_zones, cur->axfr_zones);
		char ov[BL_AXFR_ZONES_MAX + 16], cv[BL_AXFR_ZONES_MAX + 16];

		snprintf(ov, sizeof(ov), "%s", old->axfr ? old->axfr_zones : "refused");
		snprintf(cv, sizeof(cv), "%s", cur->axfr ? cur->axfr_zones : "refused");
		add_change(cs, "axfr", ov, cv, false, worse ? SEV_CRITICAL : SEV_LOW,
			   worse ? grade_finding_why(GRADE_AXFR_ALLOWED) : why_fixed);
	}
	if (both & DNSCHECK_AMPLIFICATION) {
		bool was = old->amplification >= GRADE_AMPLIFIER_X100;
		bool is = cur->amplification >= GRADE_AMPLIFIER_X100;

		if (was != is) {
			char ov[24], cv[24];
			fmt_amp(old->amplification, ov, sizeof(ov));
			fmt_amp(cur->amplification, cv, sizeof(cv));
			add_change(cs, "amplification", ov, cv, false, is ? SEV_HIGH : SEV_LOW,
				   is ? grade_finding_why(GRADE_AMPLIFIER) : why_fixed);
		}
	}
	if (base) {
		add_bool(cs, "ra", old->ra, cur->ra, SEV_MEDIUM, why_ra_on, SEV_LOW, why_ra_off);
		if (old->rcode != cur->rcode)
			add_change(cs, "rcode", dns_rcode_name(old->rcode, o_rc, sizeof(o_rc)),
				   dns_rcode_name(cur->rcode, n_rc, sizeof(n_rc)), false, SEV_LOW,
				   why_changed_other);
	}
	if ((both & DNSCHECK_VERSION) && strcmp(old->version, cur->version) != 0) {
		/* newly disclosed is the model's medium; any other change of the string is
		 * rated low: worth knowing, rarely worth waking anyone */
		bool disclosed = old->version[0] == '\0';
		add_change(cs, "version", old->version, cur->version, true,
			   disclosed ? SEV_MEDIUM : SEV_LOW,
			   disclosed ? grade_finding_why(GRADE_VERSION)
			   : cur->version[0] ? why_version_changed : why_fixed);
	}
	if (both & DNSCHECK_VERSION)
		add_bool(cs, "identity", old->identity, cur->identity, SEV_LOW,
			 grade_finding_why(GRADE_IDENTITY), SEV_LOW, why_fixed);
	if (both & DNSCHECK_TCP_DNS)
		add_bool(cs, "tcp_dns", old->tcp_dns, cur->tcp_dns, SEV_LOW, why_fixed, SEV_LOW,
			 grade_finding_why(GRADE_NO_TCP));
	if (base)
		add_bool(cs, "aa", old->aa, cur->aa, SEV_LOW, why_changed_other, SEV_LOW,
			 why_changed_other);
}

/* "name=value" where it fits the 16-byte field, else the value, cut. */
static void
fact_field(char *dst, size_t len, const char *name, const char *value)
{
	char tmp[DNSCHECK_TEXT_MAX + 32];

	snprintf(tmp, sizeof(tmp), "%s=%s", name, value);
	text(dst, len, "%s", strlen(tmp) < len ? tmp : value);
}

/* The changed event, or false when no fact changed. */
static bool
event_changed(struct alert_event *ev, const struct bl_ctx *c, const struct changes *cs)
{
	const struct change *top = NULL;
	char list[256];
	size_t off = 0;

	if (cs->n == 0)
		return false;
	event_common(ev, c, ALERT_CHANGED, PROBE_SLOT_UDP);
	/* the most severe change speaks for the event (ties: the first, most important) */
	for (size_t i = 0; i < cs->n; i++)
		if (top == NULL || cs->c[i].sev > top->sev)
			top = &cs->c[i];
	ev->severity = top->sev;
	snprintf(ev->why, sizeof(ev->why), "%s", top->why);
	/* previous/current hold one fact (the fields are short): the one that matters most */
	fact_field(ev->previous, sizeof(ev->previous), top->name, top->old_v);
	fact_field(ev->current, sizeof(ev->current), top->name, top->cur_v);
	list[0] = '\0';
	for (size_t i = 0; i < cs->n && off < sizeof(list); i++) {
		int w = snprintf(list + off, sizeof(list) - off, "%s%s %s -> %s", off ? ", " : "",
				 cs->c[i].name, cs->c[i].old, cs->c[i].cur);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	text(ev->summary, sizeof(ev->summary), "DNS on %s changed: %s.", c->place, list);
	return true;
}

/* Take the known check facts of this cycle; the others keep their last known value. */
static void
dns_merge_checks(struct bl_dns *d, const struct bl_dns *seen)
{
	if (seen->checks & DNSCHECK_RECURSION) {
		d->recursion = seen->recursion;
		d->bogus_known = seen->bogus_known;
		d->bogus = seen->bogus;
	}
	if (seen->checks & DNSCHECK_VERSION) {
		memcpy(d->version, seen->version, sizeof(d->version));
		d->identity = seen->identity;
	}
	if (seen->checks & DNSCHECK_AXFR) {
		d->axfr = seen->axfr;
		memcpy(d->axfr_zones, seen->axfr_zones, sizeof(d->axfr_zones));
	}
	if (seen->checks & DNSCHECK_AMPLIFICATION)
		d->amplification = seen->amplification;
	if (seen->checks & DNSCHECK_TCP_DNS)
		d->tcp_dns = seen->tcp_dns;
	d->checks |= seen->checks;
}

/* A change rated high or critical is a new exposure (alert_event_is_exposure): an accepted
 * open port that now shows such a finding is unacknowledged again, until `baseline
 * accept` or until it closes, as for any exposure (CONTRACT "Events"), so Nagios, the
 * metrics and the alertmanager sinks keep it in view. Only at the change: a finding
 * accepted afterwards stays accepted. */
static void
unaccept_findings(struct bl_entry *e)
{
	struct grade g;

	grade_dns(&e->dns, &g);
	for (unsigned b = 1; b < (1u << GRADE_NFINDINGS); b <<= 1) {
		enum probe_slot s = grade_finding_slot(b);
		struct bl_port *p = &e->port[s];

		if ((g.findings & b) && grade_finding_severity(b) >= SEV_HIGH && p->known &&
		    p->reported_open && !e->expect_open[s])
			p->baseline_open = false;
	}
}

size_t
baseline_apply(struct bl_entry *e, const struct probe_result *obs, bool first,
	       bool degraded, const struct bl_policy *pol, uint64_t now,
	       struct alert_event *events)
{
	struct bl_ctx c;
	size_t n = 0;

	ctx_init(&c, e, obs);
	for (unsigned i = 0; i < PROBE_NSLOTS; i++) {
		enum probe_slot s = (enum probe_slot)i;
		const struct bl_port prev = e->port[s];
		bool was_flapping = prev.flapping;
		enum bl_raise r = slot_apply(&e->port[s], &obs->out[s], first, e->expect_open[s],
					     degraded, pol, now);

		/* An opened/closed raised as flapping ends reports the settled state. */
		bool settled = was_flapping && !e->port[s].flapping;

		switch (r) {
		case RAISE_OPENED:
			event_opened(&events[n++], &c, s, settled, &prev);
			break;
		case RAISE_EXPOSED:
			event_exposed(&events[n++], &c, s, &prev);
			break;
		case RAISE_CLOSED:
			event_closed(&events[n++], &c, s, settled);
			break;
		case RAISE_FLAPPING:
			event_flapping(&events[n++], &c, s);
			break;
		case RAISE_NONE:
			break;
		}
	}
	/* Facts come from valid replies and answered checks only; a degraded cycle has none
	 * worth trusting. */
	if (!degraded && (obs->dns.valid || obs->checks != NULL)) {
		struct bl_dns old = e->dns, seen;
		struct changes cs;
		bool base = false;

		if (obs->dns.valid) {
			base = old.known;
			e->dns.known = true;
			e->dns.rcode = obs->dns.rcode;
			e->dns.aa = obs->dns.aa;
			e->dns.ra = obs->dns.ra;
		}
		memset(&seen, 0, sizeof(seen));
		if (obs->checks != NULL) {
			baseline_dns_from_checks(obs->checks, &seen);
			dns_merge_checks(&e->dns, &seen);
		}
		collect_changes(&old, &e->dns, base, seen.checks, &cs);
		if (!first && event_changed(&events[n], &c, &cs)) {
			if (alert_event_is_exposure(&events[n]))
				unaccept_findings(e);
			n++;
		}
	}
	return n;
}

size_t
baseline_degraded_event(struct alert_event *ev, const char *why_text)
{
	ev->type = ALERT_DEGRADED;
	ev->target[0] = '\0';
	ev->address[0] = '\0';
	ev->protocol[0] = '\0';
	ev->port = 0;
	ev->previous[0] = '\0';
	ev->current[0] = '\0';
	ev->reason[0] = '\0';
	ev->severity = SEV_HIGH;
	text(ev->summary, sizeof(ev->summary), "%s",
		 "watch53 could not probe: no port gave any evidence this cycle, so it does not "
		 "count towards closing anything.");
	snprintf(ev->why, sizeof(ev->why), "%s",
		 why_text != NULL && why_text[0] != '\0'
			 ? why_text
			 : "While the monitor cannot see the hosts, new exposures go unnoticed.");
	ev->dns_json[0] = '\0';
	snprintf(ev->source, sizeof(ev->source), "active");
	ev->expected_open = false;
	return 1;
}

size_t
baseline_name_event(struct alert_event *ev, const char *name, const char *reason,
		    uint64_t since_ns, uint64_t cycles)
{
	char when[48];

	baseline_degraded_event(ev, NULL);
	text(ev->target, sizeof(ev->target), "%s", name);
	if (reason != NULL) {
		ev->type = ALERT_UNRESOLVED;
		ev->severity = SEV_MEDIUM;
		text(ev->summary, sizeof(ev->summary), "The target name %.128s does not resolve "
		     "(%.80s): its addresses are not probed until it does.", name, reason);
		snprintf(ev->why, sizeof(ev->why), "%s", "A typo or a lost DNS record hides a "
			 "server from the monitor: an exposure there would go unnoticed.");
		return 1;
	}
	ev->type = ALERT_RESOLVED;
	ev->severity = SEV_INFO;
	fmt_when(since_ns, when, sizeof(when));
	text(ev->summary, sizeof(ev->summary), "The target name %.128s resolves again; it had "
	     "no address for %llu cycle%s since %s.", name, (unsigned long long)cycles,
	     cycles == 1 ? "" : "s", when);
	snprintf(ev->why, sizeof(ev->why), "%s", "Its addresses are probed again.");
	return 1;
}

void
baseline_accept(struct bl_entry *e)
{
	for (unsigned s = 0; s < PROBE_NSLOTS; s++) {
		struct bl_port *p = &e->port[s];

		p->baseline_open = p->reported_open;
		/* Accepted: the history that led here no longer counts towards flapping. */
		p->flapping = false;
		p->change_bits = 0;
		p->open_before_flap = p->reported_open;
	}
}

bool
baseline_unacknowledged(const struct bl_entry *e, enum probe_slot s)
{
	const struct bl_port *p;

	if ((unsigned)s >= PROBE_NSLOTS)
		return false;
	p = &e->port[s];
	return p->known && p->reported_open && !p->baseline_open && !e->expect_open[s];
}
