/*
 * baseline: the decision — per address and protocol, compare this cycle's observation with
 * what was accepted and reported before, and raise events. Pure: no I/O, no clock (time is
 * passed in), unit-tested as a table of observation sequences.
 *
 * Rules (documented for users in README "How watch53 decides"):
 *  - First sight of an address (the first cycle, a new address behind a name, a target
 *    added to the config): nothing is known about its past. A port found open against its
 *    expectation is `exposed` (one event, the severity `opened` would have); a port open
 *    as expected, or any open port under policy `adopt` (config "first_run": "adopt", on
 *    the state's first cycle), is taken into the baseline silently.
 *  - Opening is proven: an observation counts as open only with positive evidence
 *    (handshake or datagram). A port not reported open turns open after confirm_open
 *    consecutive open cycles — 2 at least when every one of them had only unverified
 *    evidence (a UDP datagram that did not match the query: a broken server, or a
 *    spoofer). It is `opened` only when its closed state was established since it was
 *    last reported open (a reset or ICMP port unreachable, or confirm_closed silent
 *    cycles in a row); otherwise `exposed` (nothing proves it was ever closed).
 *  - Closing is inferred: `closed` only after confirm_closed consecutive cycles without
 *    evidence (closed or filtered). Silence never opens anything and loss alone can
 *    close only after confirm_closed cycles in a row.
 *  - Flapping: when the reported state changed BL_FLAP_CHANGES times within the last
 *    BL_FLAP_WINDOW cycles, one `flapping` event; opened/closed are then suppressed until
 *    BL_FLAP_WINDOW cycles pass without a change; on settling, an event reports the settled
 *    state if it differs from what was reported before the flapping started.
 *  - expect: with "open" expected, a closing port is the problem (severity high) and an
 *    opening one a recovery (info); with "closed" (the default) the other way round.
 *  - Degraded: if no port of the cycle gave any evidence while the baseline has open ports,
 *    the cycle is the monitor's problem, not the hosts': one `degraded` event, and the
 *    cycle does not count towards closing.
 *
 * Refinements (baseline_apply):
 *  - Per protocol slot: PROBE_OPEN is evidence (verified unless its reason is
 *    udp-response); PROBE_CLOSED and PROBE_FILTERED are not; PROBE_STATE_NONE (not probed
 *    this cycle) leaves the slot entirely untouched. A slot is "first" when `first` is set
 *    or it was never observed (a protocol enabled later is first-seen too).
 *  - The reported state turns open after confirm_open (unverified only: max(2, ...))
 *    consecutive open observations, and closed after confirm_closed consecutive
 *    observations without evidence; each such change is one `opened`/`exposed`/`closed`
 *    event unless flapping (below). An expected-open port turning open without an
 *    established closed state raises nothing (it is as expected).
 *  - Established closed state (closed_proven): set by a PROBE_CLOSED observation (reset,
 *    port unreachable) or the confirm_closed-th miss in a row while the port is not
 *    reported open; a run of misses of a reported-open port starts afresh; cleared when
 *    the port is reported open. quiet_cycles/quiet_since count the cycles without
 *    evidence behind it (for the summaries).
 *  - Flapping: change_bits shifts once per observed (non-degraded) cycle; bit 0 is set
 *    when the reported state changed in this cycle. A change with no other change in the
 *    window starts a change sequence and records the reported state before it in
 *    open_before_flap. When BL_FLAP_CHANGES bits are set: flapping, one `flapping` event
 *    (instead of that change's opened/closed). While flapping the reported state still
 *    follows the confirm rules but raises nothing. When change_bits is 0 again (no
 *    change for BL_FLAP_WINDOW cycles): not flapping; if the reported state differs from
 *    open_before_flap, one opened/closed event for the settled state.
 *  - Degraded cycle: last, last_reason and last_seen are recorded; streaks, reported
 *    state, change_bits, DNS facts are not touched and nothing is raised. A never
 *    observed slot stays unknown (the next real observation becomes its baseline).
 *  - `changed`: DNS facts (rcode, aa, ra) are kept from valid replies only, the facts of
 *    the follow-up checks (recursion, bogus, version, identity, axfr, amplification,
 *    tcp_dns) from checks that got an answer; when a fact known before is known again
 *    with another value, one `changed` event listing every changed fact (protocol udp;
 *    none on the entry's first cycle or a degraded one). A reply that is not valid, or a
 *    check without an answer, never changes the facts. Amplification counts as changed
 *    only when it crosses the amplifier threshold (grade.h): the factor itself moves with
 *    cache contents and answer rotation.
 *  - Severity (exposed takes the severity opened would have): opened on an
 *    expected-closed UDP port whose valid reply has ra, when the recursion check did not
 *    answer → critical (likely open resolver; with an answer, the check decides); other
 *    opened on expected-closed → high; opened on
 *    expected-open → info (recovery); closed on expected-open → high; closed on
 *    expected-closed → info (back to the safe state); flapping → medium; degraded → high.
 *    An unexpected opened whose checks found something graded above high (grade.h: an
 *    open resolver, AXFR allowed) takes that severity and reason.
 *    changed: the highest of its facts — recursion or bogus turned on, a zone newly
 *    allowing AXFR → critical; amplification crossing the threshold upwards → high; ra
 *    turned on, a version newly disclosed → medium; everything else (a different version
 *    string, a fact turning off, rcode, aa, identity, tcp_dns) → low.
 *  - previous/current: opened: last observation without evidence ("closed"/"filtered",
 *    "closed" if none) → "open"; exposed: "unknown" → "open"; closed: "open" → the
 *    observed "closed"/"filtered";
 *    flapping: the state before the sequence → this observation; changed: the most
 *    severe changed fact, ties in the order recursion, bogus, axfr, amplification, ra,
 *    rcode, version, identity, tcp_dns, aa ("ra=false" → "ra=true"); the summary lists
 *    every changed fact.
 */
#ifndef WATCH53_BASELINE_H
#define WATCH53_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts/event.h"
#include "common/netaddr.h"
#include "probes/dnscheck.h"
#include "probes/probe.h"

#define BL_FLAP_WINDOW 10
#define BL_FLAP_CHANGES 4

/* What one protocol of one address looks like across cycles. */
struct bl_port {
	bool known;               /* observed at least once */
	bool baseline_open;       /* the accepted state (first cycle, or `baseline accept`) */
	bool reported_open;       /* what the last event (or the baseline) told users */
	enum probe_state last;    /* last observation */
	enum probe_reason last_reason;
	enum probe_state last_miss; /* last observation without evidence (closed/filtered;
				     * NONE = none yet): `previous` of an opened event */
	unsigned open_streak;     /* consecutive cycles with evidence */
	unsigned miss_streak;     /* consecutive cycles without evidence */
	uint16_t change_bits;     /* bit i: reported state changed i cycles ago */
	bool flapping;
	bool open_before_flap;    /* reported state before the current change sequence began
				   * (compared with the settled state when flapping ends) */
	uint64_t first_seen;      /* wall ns */
	uint64_t last_seen;       /* last observation */
	uint64_t last_change;     /* last change of the reported state */
	/* the closed state and how it was established (see "Established closed state") */
	bool closed_proven;
	enum probe_reason proven_by; /* reset / port-unreach, or no-response: silence */
	unsigned quiet_cycles;    /* cycles without evidence since quiet_since */
	uint64_t quiet_since;     /* wall ns of the first of them; 0 = none */
	bool streak_verified;     /* the current open streak had verified evidence */
};

#define BL_AXFR_ZONES_MAX 128
#define BL_TARGET_MAX 255

/* DNS facts kept per address (compared between cycles for `changed`). */
struct bl_dns {
	bool known;   /* a valid reply was seen */
	uint16_t rcode;
	bool aa, ra;
	/* facts of the follow-up checks: `checks` has the DNSCHECK_* bit of each known one */
	unsigned checks;
	bool recursion;
	bool bogus_known, bogus;          /* bogus: only with a canary address */
	char version[DNSCHECK_TEXT_MAX];  /* version.bind / version.server; "" = hidden */
	bool identity;                    /* hostname.bind, id.server or NSID disclosed */
	bool axfr;                        /* some zone allowed a transfer */
	char axfr_zones[BL_AXFR_ZONES_MAX]; /* the zones that did, comma-separated (cut) */
	uint32_t amplification;           /* factor x100 */
	bool tcp_dns;
};

/* The known facts of one observation's checks in bl_dns form (only the check fields and
 * `checks` are written). */
void baseline_dns_from_checks(const struct dnscheck_facts *f, struct bl_dns *d);

struct bl_entry {
	struct net_addr addr;
	/* target text (or configured name) it came from, at most BL_TARGET_MAX bytes; NULL
	 * = "". Not owned: a state keeps one copy of each label (state_label). */
	const char *target;
	bool expect_open[PROBE_NSLOTS];
	struct bl_port port[PROBE_NSLOTS];
	struct bl_dns dns;
	uint64_t last_cycle;      /* cycle number it was last probed in (the caller's) */
};

struct bl_policy {
	unsigned confirm_open;    /* >= 1 */
	unsigned confirm_closed;  /* >= 1 */
	/* first sight takes what is open into the baseline silently (config "first_run":
	 * "adopt", set by the caller on the state's first cycle only) */
	bool adopt;
};

/* Unverified evidence needs this many consecutive open cycles at least. */
#define BL_UNVERIFIED_CYCLES 2


/* Events raised for one address in one cycle: at most one per protocol plus a changed. */
#define BL_MAX_EVENTS (PROBE_NSLOTS + 1)

/*
 * Apply one cycle's observation of one address. `first` marks an entry just created
 * (first sight: see the rules). `degraded` says the cycle as a whole gave no
 * evidence (see above): observations are recorded but nothing closes. `now` is wall ns.
 * Fills up to BL_MAX_EVENTS events (type, target, address, protocol, port, previous,
 * current, reason, severity, summary, why, dns_json, source, expected_open; id/time/agent
 * are the caller's: alert_event_stamp() each) and returns how many. Order: tcp, udp,
 * changed. The address text comes from e->addr, the port from obs->port.
 */
size_t baseline_apply(struct bl_entry *e, const struct probe_result *obs, bool first,
		      bool degraded, const struct bl_policy *pol, uint64_t now,
		      struct alert_event *events);

/* Fill ev as the `degraded` event of a cycle (type, severity high, summary, why = why_text
 * or a default when NULL, source "active"; target/address/protocol/previous/current/
 * reason/dns empty, port 0). Like baseline_apply it leaves id/time/agent to the caller
 * (alert_event_stamp). Returns 1, the number of events filled. */
size_t baseline_degraded_event(struct alert_event *ev, const char *why_text);

/* Fill ev as the `unresolved` event of a target's host name (severity medium, target the
 * name, why it failed), or, with reason NULL, as its `resolved` event (info), saying since
 * when and for how many cycles it had no address. Address, protocol and port empty; as
 * baseline_degraded_event otherwise. Returns 1. */
size_t baseline_name_event(struct alert_event *ev, const char *name, const char *reason,
			   uint64_t since_ns, uint64_t cycles);

/* `baseline accept`: adopt the reported state as the accepted one, and stop flapping
 * (change history cleared, so the next change starts a new sequence). */
void baseline_accept(struct bl_entry *e);

/* Is this port currently exposed against expectation (reported open, expected closed,
 * baseline closed)? For status lines and metrics. */
bool baseline_unacknowledged(const struct bl_entry *e, enum probe_slot s);
/* Why an unexpected open port on slot s matters, one sentence (the events' "why"). */
const char *baseline_why_open(enum probe_slot s);

#endif
