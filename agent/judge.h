/*
 * judge: the decision of a cycle — what the cycle observed and the state kept from the
 * cycles before in, the events it raises and the cycle's counters out. Pure: no I/O, no
 * clock, no randomness. The time, the agent's name and the state's instance come in, so
 * the same input raises the same events with the same ids (derived from the instance, the
 * cycle and the subject: a cycle repeated after a crash raises the ids it raised before).
 *
 * The monitoring cycle (check.c) runs in phases: begin (lock, load), observe (scan,
 * rechecks, checks; or passive observations), judge (this), commit (the state with its
 * events in one transaction), report (deliver, metrics). The per-port rules are
 * baseline.h's; this module adds what concerns the cycle as a whole: which addresses are
 * judged once, the degraded cycle, first-run adoption, event ids and the counters.
 */
#ifndef WATCH53_JUDGE_H
#define WATCH53_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/baseline.h"
#include "agent/state.h"
#include "alerts/event.h"
#include "probes/probe.h"

/* What a judge needs besides the observations. */
struct judge_ctx {
	struct bl_policy pol;     /* adopt: judge_first_run, and config "first_run": "adopt" */
	uint64_t now;             /* wall ns: the events' time */
	const char *agent;        /* host name for the events */
	const char *vantage;      /* config_vantage() for the events */
};

/* The first few ports of a kind, "ADDRESS/PROTO", for a status line that names them
 * (Nagios): the count says how many there are in all. */
#define JUDGE_NAMES_MAX 5
struct judge_names {
	char v[JUDGE_NAMES_MAX][NETADDR_STRLEN + 4];
	size_t n;
};

/* The events a judge raised and the counters of the cycle. */
struct judge_out {
	struct alert_event *events; /* malloc'd, in the order raised */
	size_t nevents;
	uint64_t new_exposures;     /* events that are exposures (alert_event_is_exposure) */
	uint64_t new_outages;       /* events that are outages (alert_event_is_outage) */
	bool degraded;              /* the cycle is degraded (see judge_cycle) */
	uint64_t addresses;         /* observed */
	uint64_t open_ports;        /* ports with evidence of being open this cycle */
	/* of the entries judged in this cycle */
	uint64_t unacknowledged;    /* open against expectation, not accepted */
	uint64_t expected_down;     /* expected open, reported closed */
	uint64_t flapping;
	struct judge_names unack_names, down_names; /* the first of each */
};

void judge_out_clear(struct judge_out *o);

/* Is this the state's first run for the targets with these labels (a target's name, or its
 * text)? The first cycle of the state; with labels (the daemon's interval groups), also
 * the first cycle of a group: then the state knows none of its labels (no entry carried
 * one yet). labels NULL: the whole config. Needs st's labels, not its entries. */
bool judge_first_run(const struct state *st, const char *const *labels, size_t nlabels);

/* A configured target as the judge sees it: the label its addresses are recorded under
 * (its name, or its text) and what it expects. */
struct judge_target {
	const char *label;
	bool expect_open[PROBE_NSLOTS];
};

/* One active cycle's observations: obs[i] came from targets[index[obs[i].target_index]]. */
struct judge_cycle_in {
	const struct probe_result *obs;
	size_t nobs;
	const struct judge_target *targets;
	size_t ntargets;              /* configured targets of the cycle */
	const size_t *index;          /* by target_index */
	size_t nindex;
	int name_failures;            /* target names that did not resolve */
};

/*
 * An active cycle a piece at a time, for a caller that streams the observations and the
 * entries (check.c): judge_observe each observation (the summary and the counters of the
 * whole cycle), judge_cycle_start (is it degraded; hold: judge nothing closed), then
 * judge_address each address once with its entry (the first observation of an address in
 * stream order; created: the state had none) and judge_count it, then judge_cycle_finish.
 * judge_cycle below is these steps over a state in memory.
 */
struct judge_sum {
	size_t nobs;               /* observations (records) */
	size_t ntargets;           /* configured targets of the cycle */
	int name_failures;         /* target names that did not resolve */
	bool any_evidence;         /* a port answered: open, or closed by a reset or ICMP */
	bool any_open_before;      /* the state reported a port open (needed only when
				    * nothing answered) */
};

void judge_observe(const struct probe_result *r, struct judge_sum *sum, struct judge_out *o);
/* Sets o->degraded and *hold. 0, or -EHOSTUNREACH when there were targets and nothing to
 * judge. */
int judge_cycle_start(const struct judge_sum *sum, struct judge_out *o, bool *hold);
/* One address of cycle `cycle` (the state's cycles + 1) under target t: e takes t's label
 * (interned in st) and expectations and goes through baseline_apply; its events, stamped
 * and with derived ids, are appended to o. An address already judged in this cycle is
 * left alone. 0 or -ENOMEM. */
int judge_address(const struct judge_ctx *c, struct state *st, uint64_t cycle, bool hold,
		  struct bl_entry *e, bool created, const struct probe_result *r,
		  const struct judge_target *t, struct judge_out *o);
/* The counters of an entry judged in `cycle` (others add nothing). */
void judge_count(uint64_t cycle, const struct bl_entry *e, struct judge_out *o);
/* A monitor-level event the caller filled (baseline_name_event: a target name's), stamped
 * as the judge stamps its own (c->now, c->agent, an id derived from instance, the cycle,
 * the event's target and type: a repeated cycle repeats it) and added to o. 0/-ENOMEM. */
int judge_monitor_event(const struct judge_ctx *c, const char *instance, uint64_t cycle,
			struct alert_event *ev, struct judge_out *o);
/* The `degraded` event (first degraded cycle of an episode) and st->degraded. 0/-ENOMEM. */
int judge_cycle_finish(const struct judge_ctx *c, struct state *st, const struct judge_sum *sum,
		       struct judge_out *o);

/*
 * Judge an active cycle (the state's cycles + 1) in st: each observed address once (the
 * same address from two targets is decided once, under the first), taking the label and
 * expectations of its target, through baseline_apply. The cycle is degraded when nothing
 * at all answered (no handshake, datagram, reset or ICMP port unreachable) although a port
 * was reported open before, or when there were targets and no address (no name resolved):
 * then observations without any evidence are recorded but nothing closes,
 * and the first degraded cycle of an episode raises one `degraded` event (st->degraded
 * keeps the episode). Events are stamped with c->now, c->agent and ids derived from
 * st->instance, the cycle and the subject. The counters of o are set. 0, -ENOMEM, or
 * -EHOSTUNREACH when there were targets and no address to judge (o->degraded set).
 */
int judge_cycle(struct state *st, const struct judge_cycle_in *in, const struct judge_ctx *c,
		struct judge_out *o);

/*
 * Judge a passive observation of e's address on `port`: each protocol it proved (tcp: a
 * handshake, udp: a DNS reply seen on the wire) whose port the baseline knows and has not
 * reported open is observed "open" and goes through baseline_apply (so confirm.open and
 * flapping count as for a cycle's); the others are left alone. Events carry source
 * "passive" and no DNS facts, with ids seeded by first_seen_ns. 0 (*judged false when
 * nothing was judged) or -ENOMEM.
 */
int judge_passive(const struct judge_ctx *c, const char *instance, struct bl_entry *e,
		  uint16_t port, const bool proved[PROBE_NSLOTS], uint64_t first_seen_ns,
		  struct judge_out *o, bool *judged);

#endif
