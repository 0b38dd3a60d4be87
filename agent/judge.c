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
judge_is_exposure(const struct alert_event *ev)
{
	/* exposed is one by definition; opened counts when it is against expectation and
	 * not accepted before (high and up), changed when a fact made an open port
	 * dangerous (an open resolver, AXFR allowed) */
	return ev->type == ALERT_EXPOSED ||
	       ((ev->type == ALERT_OPENED || ev->type == ALERT_CHANGED) &&
		ev->severity >= SEV_HIGH);
}

bool
judge_first_run(const struct state *st, const char *const *labels, size_t nlabels)
{
	if (st->cycles == 0)
		return true;
	if (labels == NULL)
		return false;
	for (size_t i = 0; i < st->n; i++)
		for (size_t k = 0; k < nlabels; k++)
			if (st->entries[i].target != NULL &&
			    strncmp(st->entries[i].target, labels[k], BL_TARGET_MAX) == 0)
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
	if (judge_is_exposure(ev))
		o->new_exposures++;
	return 0;
}

/* One address of an active cycle (see judge_cycle); hold: record, close nothing. */
static int
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

/* An entry judged in this cycle adds to the counters. */
static void
judge_count(uint64_t cycle, const struct bl_entry *e, struct judge_out *o)
{
	if (e->last_cycle != cycle)
		return;
	for (int s = 0; s < PROBE_NSLOTS; s++) {
		o->unacknowledged += baseline_unacknowledged(e, (enum probe_slot)s);
		o->expected_down += e->port[s].known && e->expect_open[s] &&
				    !e->port[s].reported_open;
		o->flapping += e->port[s].flapping;
	}
}

int
judge_cycle(struct state *st, const struct judge_cycle_in *in, const struct judge_ctx *c,
	    struct judge_out *o)
{
	uint64_t cycle = st->cycles + 1;
	bool any_evidence = false, any_open_before = false, hold;

	for (size_t i = 0; i < in->nobs; i++)
		for (int s = 0; s < PROBE_NSLOTS; s++) {
			enum probe_state ps = in->obs[i].out[s].state;
			any_evidence |= ps == PROBE_OPEN || ps == PROBE_CLOSED;
			o->open_ports += ps == PROBE_OPEN;
		}
	for (size_t i = 0; i < st->n; i++)
		for (int s = 0; s < PROBE_NSLOTS; s++)
			any_open_before |= st->entries[i].port[s].reported_open;
	o->addresses = in->nobs;
	o->degraded = (!any_evidence && any_open_before && in->nobs > 0) ||
		      in->name_failures > 0 || (in->nobs == 0 && in->ntargets > 0);
	if (in->nobs == 0 && in->ntargets > 0)
		return -EHOSTUNREACH;
	/* a degraded cycle that still had evidence (a name failed, the rest answered) is
	 * judged as usual */
	hold = o->degraded && !any_evidence;
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
	/* one degraded event an episode */
	if (o->degraded && !st->degraded &&
	    judge_degraded_event(c, st->instance, cycle, in->name_failures > 0
		? "some target names did not resolve: the resolver may be down"
		: "no address answered at all: the monitor's own network may be down", o) < 0)
		return -ENOMEM;
	st->degraded = o->degraded;
	for (size_t i = 0; i < st->n; i++)
		judge_count(cycle, &st->entries[i], o);
	return 0;
}
