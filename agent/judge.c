/* judge: the decision of a cycle, pure (see judge.h). */
#include "agent/judge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
judge_out_clear(struct judge_out *o)
{
	free(o->events);
	memset(o, 0, sizeof(*o));
}

bool
judge_first_run(const struct state *st, const char *const *labels, size_t nlabels)
{
	if (st->cycles == 0)
		return true;
	if (labels == NULL)
		return false;
	/* a label is kept once an entry carries it: asking the labels does not need the
	 * entries in memory */
	for (size_t k = 0; k < nlabels; k++)
		if (state_label_known(st, labels[k]))
			return false;
	return true;
}

/* Time, agent and an id derived from the seed: what the event is about and the cycle (or
 * the passive sighting) it belongs to. */
static void
stamp(const struct judge_ctx *c, struct alert_event *ev, const char *seed)
{
	ev->time_ns = c->now;
	snprintf(ev->agent, sizeof(ev->agent), "%s", c->agent ? c->agent : "");
	snprintf(ev->vantage, sizeof(ev->vantage), "%s", c->vantage ? c->vantage : "");
	if (alert_event_derive_id(ev, seed, strlen(seed)) < 0)
		ev->id[0] = '\0';
}

static int
push(struct judge_out *o, const struct alert_event *ev)
{
	struct alert_event *n = realloc(o->events, (o->nevents + 1) * sizeof(*n));

	if (n == NULL)
		return -ENOMEM;
	o->events = n;
	o->events[o->nevents++] = *ev;
	if (alert_event_is_exposure(ev))
		o->new_exposures++;
	if (alert_event_is_outage(ev))
		o->new_outages++;
	return 0;
}

int
judge_address(const struct judge_ctx *c, struct state *st, uint64_t cycle, bool hold,
	      struct bl_entry *e, bool created, const struct probe_result *r,
	      const struct judge_target *t, struct judge_out *o)
{
	struct alert_event evs[BL_MAX_EVENTS];
	size_t nev;

	/* the same address from two targets is one port, decided once a cycle */
	if (!created && e->last_cycle == cycle)
		return 0;
	if (e->target == NULL || strcmp(e->target, t->label) != 0) {
		const char *label = state_label(st, t->label);
		if (label == NULL)
			return -ENOMEM;
		e->target = label;
	}
	for (int s = 0; s < PROBE_NSLOTS; s++)
		e->expect_open[s] = t->expect_open[s];
	e->last_cycle = cycle;
	nev = baseline_apply(e, r, created, hold, &c->pol, c->now, evs);
	for (size_t k = 0; k < nev; k++) {
		char seed[512];
		snprintf(seed, sizeof(seed), "%s|%llu|%s|%s|%s", st->instance,
			 (unsigned long long)cycle, evs[k].address, evs[k].protocol,
			 alert_type_name(evs[k].type));
		stamp(c, &evs[k], seed);
		if (push(o, &evs[k]) < 0)
			return -ENOMEM;
	}
	return 0;
}

int
judge_passive(const struct judge_ctx *c, const char *instance, struct bl_entry *e,
	      uint16_t port, const bool proved[PROBE_NSLOTS], uint64_t first_seen_ns,
	      struct judge_out *o, bool *judged)
{
	struct alert_event evs[BL_MAX_EVENTS];
	struct probe_result r;
	size_t nev;

	*judged = false;
	memset(&r, 0, sizeof(r));
	r.addr = e->addr;
	r.port = port;
	for (int s = 0; s < PROBE_NSLOTS; s++) {
		r.out[s].rtt_us = -1;
		if (!proved[s] || !e->port[s].known || e->port[s].reported_open)
			continue;
		r.out[s].state = PROBE_OPEN;
		r.out[s].reason = s == PROBE_SLOT_TCP ? PROBE_REASON_SYN_ACK : PROBE_REASON_DNS_REPLY;
		*judged = true;
	}
	if (!*judged)
		return 0;
	nev = baseline_apply(e, &r, false, false, &c->pol, c->now, evs);
	for (size_t k = 0; k < nev; k++) {
		char seed[512];
		snprintf(evs[k].source, sizeof(evs[k].source), "passive");
		/* seeded by what was seen and when it was first seen: a repeat after a crash
		 * raises the same ids */
		snprintf(seed, sizeof(seed), "%s|passive|%llu|%s|%s|%s", instance,
			 (unsigned long long)first_seen_ns, evs[k].address, evs[k].protocol,
			 alert_type_name(evs[k].type));
		stamp(c, &evs[k], seed);
		if (push(o, &evs[k]) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The `degraded` event of a cycle (why: the reason told to people). */
static int
judge_degraded_event(const struct judge_ctx *c, const char *instance, uint64_t cycle,
		     const char *why, struct judge_out *o)
{
	struct alert_event ev;
	char seed[512];

	memset(&ev, 0, sizeof(ev));
	baseline_degraded_event(&ev, why);
	snprintf(seed, sizeof(seed), "%s|%llu|%s|%s|%s", instance, (unsigned long long)cycle,
		 ev.address, ev.protocol, alert_type_name(ev.type));
	stamp(c, &ev, seed);
	return push(o, &ev);
}

int
judge_monitor_event(const struct judge_ctx *c, const char *instance, uint64_t cycle,
		    struct alert_event *ev, struct judge_out *o)
{
	char seed[512];

	snprintf(seed, sizeof(seed), "%s|%llu|%s|%s", instance, (unsigned long long)cycle,
		 ev->target, alert_type_name(ev->type));
	stamp(c, ev, seed);
	return push(o, ev);
}

static void
name_port(struct judge_names *nm, const struct bl_entry *e, enum probe_slot s)
{
	char addr[NETADDR_STRLEN];

	if (nm->n == JUDGE_NAMES_MAX)
		return;
	net_addr_str(&e->addr, addr, sizeof(addr));
	snprintf(nm->v[nm->n++], sizeof(nm->v[0]), "%s/%s", addr, probe_slot_name(s));
}

void
judge_count(uint64_t cycle, const struct bl_entry *e, struct judge_out *o)
{
	if (e->last_cycle != cycle)
		return;
	for (int i = 0; i < PROBE_NSLOTS; i++) {
		enum probe_slot s = (enum probe_slot)i;

		if (baseline_unacknowledged(e, s)) {
			o->unacknowledged++;
			name_port(&o->unack_names, e, s);
		}
		if (e->port[s].known && e->expect_open[s] && !e->port[s].reported_open) {
			o->expected_down++;
			name_port(&o->down_names, e, s);
		}
		o->flapping += e->port[s].flapping;
	}
}

void
judge_observe(const struct probe_result *r, struct judge_sum *sum, struct judge_out *o)
{
	for (int s = 0; s < PROBE_NSLOTS; s++) {
		enum probe_state ps = r->out[s].state;
		sum->any_evidence |= ps == PROBE_OPEN || ps == PROBE_CLOSED;
		o->open_ports += ps == PROBE_OPEN;
	}
	sum->nobs++;
	o->addresses++;
}

int
judge_cycle_start(const struct judge_sum *sum, struct judge_out *o, bool *hold)
{
	/* a name that did not resolve is its own event (unresolved), not the monitor's:
	 * it degrades the cycle only when it leaves nothing to probe */
	o->degraded = (!sum->any_evidence && sum->any_open_before && sum->nobs > 0) ||
		      (sum->nobs == 0 && sum->ntargets > 0);
	/* a degraded cycle that still had evidence is judged as usual */
	*hold = o->degraded && !sum->any_evidence;
	return sum->nobs == 0 && sum->ntargets > 0 ? -EHOSTUNREACH : 0;
}

int
judge_cycle_finish(const struct judge_ctx *c, struct state *st, const struct judge_sum *sum,
		   struct judge_out *o)
{
	/* one degraded event an episode */
	if (o->degraded && !st->degraded &&
	    judge_degraded_event(c, st->instance, st->cycles + 1, sum->nobs == 0 &&
		sum->name_failures > 0
		? "no target name resolved: the resolver may be down"
		: "no address answered at all: the monitor's own network may be down", o) < 0)
		return -ENOMEM;
	st->degraded = o->degraded;
	return 0;
}

int
judge_cycle(struct state *st, const struct judge_cycle_in *in, const struct judge_ctx *c,
	    struct judge_out *o)
{
	struct judge_sum sum = { .ntargets = in->ntargets, .name_failures = in->name_failures };
	uint64_t cycle = st->cycles + 1;
	bool hold;
	int rc;

	for (size_t i = 0; i < in->nobs; i++)
		judge_observe(&in->obs[i], &sum, o);
	/* asked only when it matters: a cycle without any answer */
	for (size_t i = 0; !sum.any_evidence && i < st->n; i++)
		for (int s = 0; s < PROBE_NSLOTS; s++)
			sum.any_open_before |= st->entries[i].port[s].reported_open;
	if ((rc = judge_cycle_start(&sum, o, &hold)) < 0)
		return rc;
	for (size_t i = 0; i < in->nobs; i++) {
		const struct probe_result *r = &in->obs[i];
		bool created = false;
		struct bl_entry *e;

		if (r->target_index >= in->nindex || in->index[r->target_index] >= in->ntargets)
			continue; /* no target to judge it under: never from a scan of ours */
		e = state_get(st, &r->addr, &created);
		if (e == NULL ||
		    judge_address(c, st, cycle, hold, e, created, r,
				  &in->targets[in->index[r->target_index]], o) < 0)
			return -ENOMEM;
	}
	if (judge_cycle_finish(c, st, &sum, o) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < st->n; i++)
		judge_count(cycle, &st->entries[i], o);
	return 0;
}
