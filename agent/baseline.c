/* baseline: turn one cycle's observation of an address into opened/closed/flapping/changed
 * events against what was accepted and reported before. Pure: no I/O, clock or malloc. */
#include "agent/baseline.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
}

/* ---- the per-slot state machine ---- */

static void
slot_first(struct bl_port *p, const struct probe_outcome *o, uint64_t now)
{
	bool open = o->state == PROBE_OPEN;

	memset(p, 0, sizeof(*p));
	p->known = true;
	p->baseline_open = open;
	p->reported_open = open;
	p->open_before_flap = open;
	p->last = o->state;
	p->last_reason = o->reason;
	p->last_miss = open ? PROBE_STATE_NONE : o->state;
	p->open_streak = open ? 1 : 0;
	p->miss_streak = open ? 0 : 1;
	p->first_seen = now;
	p->last_seen = now;
	p->last_change = now;
}

static enum bl_raise
slot_apply(struct bl_port *p, const struct probe_outcome *o, bool first, bool degraded,
	   const struct bl_policy *pol, uint64_t now)
{
	/* A policy of 0 would report a state without a single observation behind it. */
	unsigned need_open = pol->confirm_open > 0 ? pol->confirm_open : 1;
	unsigned need_closed = pol->confirm_closed > 0 ? pol->confirm_closed : 1;
	bool evidence, was_open, changed = false;

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
	if (first || !p->known) {
		slot_first(p, o, now);
		return RAISE_NONE;
	}

	evidence = o->state == PROBE_OPEN;
	p->last = o->state;
	p->last_reason = o->reason;
	p->last_seen = now;
	if (evidence) {
		inc(&p->open_streak);
		p->miss_streak = 0;
	} else {
		inc(&p->miss_streak);
		p->open_streak = 0;
		p->last_miss = o->state;
	}

	was_open = p->reported_open;
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
	return p->reported_open ? RAISE_OPENED : RAISE_CLOSED;
}

/* ---- events ---- */

static void
ctx_init(struct bl_ctx *c, const struct bl_entry *e, const struct probe_result *obs)
{
	const struct probe_dns_facts *d = &obs->dns;
	int tlen = (int)strnlen(e->target, sizeof(e->target));

	c->e = e;
	c->obs = obs;
	net_addr_str(&e->addr, c->addr, sizeof(c->addr));
	/* The target is shown only when it says more than the address; cut so the sentence
	 * around it still fits in the summary. */
	if (tlen == 0 || strncmp(e->target, c->addr, sizeof(e->target)) == 0)
		snprintf(c->place, sizeof(c->place), "%s", c->addr);
	else
		snprintf(c->place, sizeof(c->place), "%s (%.*s)", c->addr,
			 tlen > PLACE_TARGET_MAX ? PLACE_TARGET_MAX : tlen, e->target);
	c->dns_json[0] = '\0';
	if (d->valid) {
		char rbuf[16];

		snprintf(c->dns_json, sizeof(c->dns_json),
			 "{\"valid\":true,\"rcode\":\"%s\",\"aa\":%s,\"ra\":%s,\"tc\":%s}",
			 dns_rcode_name(d->rcode, rbuf, sizeof(rbuf)), bool_name(d->aa),
			 bool_name(d->ra), bool_name(d->tc));
	}
}

/* Everything but id/time/agent, which belong to the caller (alert_event_stamp). */
static void
event_common(struct alert_event *ev, const struct bl_ctx *c, enum alert_type type,
	     enum probe_slot s)
{
	ev->type = type;
	snprintf(ev->target, sizeof(ev->target), "%.*s",
		 (int)strnlen(c->e->target, sizeof(c->e->target)), c->e->target);
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
static const char why_down[] = "Clients relying on this DNS server cannot resolve names.";
static const char why_back_closed[] =
	"The port is back to its expected closed state: DNS is no longer exposed here.";
static const char why_flapping[] =
	"A port that keeps opening and closing points to an unstable service, a firewall rule "
	"being toggled or an overloaded server; its alerts are held back to avoid noise.";

static void
event_opened(struct alert_event *ev, const struct bl_ctx *c, enum probe_slot s, bool settled)
{
	const struct bl_port *p = &c->e->port[s];
	const struct probe_dns_facts *d = &c->obs->dns;
	const char *pname = s == PROBE_SLOT_TCP ? "TCP" : "UDP";
	const char *reason = probe_reason_name(c->obs->out[s].reason);

	event_common(ev, c, ALERT_OPENED, s);
	snprintf(ev->previous, sizeof(ev->previous), "%s", miss_name(p));
	snprintf(ev->current, sizeof(ev->current), "open");
	if (c->e->expect_open[s]) {
		ev->severity = SEV_INFO; /* recovery */
		snprintf(ev->why, sizeof(ev->why), "%s", why_back_up);
	} else if (s == PROBE_SLOT_UDP && d->valid && d->ra) {
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
	if (settled)
		text(ev->summary, sizeof(ev->summary),
			 "%s port %u on %s settled open (%s) after flapping; it was %s before.",
			 pname, c->obs->port, c->place, reason, ev->previous);
	else
		text(ev->summary, sizeof(ev->summary),
			 "%s port %u on %s is now open (%s)%s; it was %s.", pname, c->obs->port,
			 c->place, reason,
			 ev->severity == SEV_CRITICAL ? " and offers recursion" : "", ev->previous);
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

/* "rcode=REFUSED" where it fits the field, else the bare name. */
static void
fact_rcode(char *dst, size_t len, unsigned rcode)
{
	char rbuf[16], tmp[32];
	const char *name = dns_rcode_name(rcode, rbuf, sizeof(rbuf));

	snprintf(tmp, sizeof(tmp), "rcode=%s", name);
	text(dst, len, "%s", strlen(tmp) < len ? tmp : name);
}

/* The changed event, or false when the facts are the same. */
static bool
event_changed(struct alert_event *ev, const struct bl_ctx *c, const struct bl_dns *old)
{
	const struct probe_dns_facts *d = &c->obs->dns;
	char list[160], o_rc[16], n_rc[16];
	size_t off = 0;
	bool ra = old->ra != d->ra, rc = old->rcode != d->rcode, aa = old->aa != d->aa;

	if (!ra && !rc && !aa)
		return false;
	event_common(ev, c, ALERT_CHANGED, PROBE_SLOT_UDP);
	/* previous/current hold one fact (the fields are short): the one that matters most. */
	if (ra) {
		snprintf(ev->previous, sizeof(ev->previous), "ra=%s", bool_name(old->ra));
		snprintf(ev->current, sizeof(ev->current), "ra=%s", bool_name(d->ra));
	} else if (rc) {
		fact_rcode(ev->previous, sizeof(ev->previous), old->rcode);
		fact_rcode(ev->current, sizeof(ev->current), d->rcode);
	} else {
		snprintf(ev->previous, sizeof(ev->previous), "aa=%s", bool_name(old->aa));
		snprintf(ev->current, sizeof(ev->current), "aa=%s", bool_name(d->aa));
	}
	list[0] = '\0';
	if (ra)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "ra %s -> %s",
					bool_name(old->ra), bool_name(d->ra));
	if (rc && off < sizeof(list))
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%srcode %s -> %s",
					off > 0 ? ", " : "",
					dns_rcode_name(old->rcode, o_rc, sizeof(o_rc)),
					dns_rcode_name(d->rcode, n_rc, sizeof(n_rc)));
	if (aa && off < sizeof(list))
		snprintf(list + off, sizeof(list) - off, "%saa %s -> %s", off > 0 ? ", " : "",
			 bool_name(old->aa), bool_name(d->aa));
	text(ev->summary, sizeof(ev->summary), "DNS on %s changed: %s.", c->place, list);
	if (ra && d->ra) {
		ev->severity = SEV_MEDIUM;
		snprintf(ev->why, sizeof(ev->why), "%s",
			 "Recursion is now offered to whoever can reach this server: an open "
			 "resolver is abused for amplification DDoS and cache poisoning.");
	} else if (ra) {
		ev->severity = SEV_LOW;
		snprintf(ev->why, sizeof(ev->why), "%s",
			 "Recursion is no longer offered here: clients that used this server as "
			 "their resolver cannot resolve names through it.");
	} else {
		ev->severity = SEV_LOW;
		snprintf(ev->why, sizeof(ev->why), "%s",
			 "A different answer can mean a configuration change, a broken or removed "
			 "zone, or another server answering on this address.");
	}
	return true;
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
		bool was_flapping = e->port[s].flapping;
		enum bl_raise r = slot_apply(&e->port[s], &obs->out[s], first, degraded, pol, now);

		/* An opened/closed raised as flapping ends reports the settled state. */
		bool settled = was_flapping && !e->port[s].flapping;

		switch (r) {
		case RAISE_OPENED:
			event_opened(&events[n++], &c, s, settled);
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
	/* Facts come from valid replies only; a degraded cycle has none worth trusting. */
	if (!degraded && obs->dns.valid) {
		struct bl_dns old = e->dns;

		e->dns.known = true;
		e->dns.rcode = obs->dns.rcode;
		e->dns.aa = obs->dns.aa;
		e->dns.ra = obs->dns.ra;
		if (old.known && !first && event_changed(&events[n], &c, &old))
			n++;
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
