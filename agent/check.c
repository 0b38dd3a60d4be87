/* check: one monitoring cycle, shared by `watch53 check` and the daemon. */
#define _GNU_SOURCE
#include "agent/check.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/baseline.h"
#include "agent/history.h"
#include "agent/metrics.h"
#include "agent/scan.h"
#include "agent/sinks.h"
#include "agent/state.h"
#include "agent/targets.h"
#include "alerts/outbox.h"
#include "common/log.h"
#include "common/util.h"

void
check_result_clear(struct check_result *r)
{
	free(r->events);
	memset(r, 0, sizeof(*r));
}

void
check_outbox_dir(const struct config *cfg, char *buf, size_t len)
{
	snprintf(buf, len, "%s/outbox", cfg->state_dir);
}

/* Which config target produced each target-set entry (names expand to several). */
struct cycle_targets {
	struct target_set *ts;
	size_t *cfg_index;
	size_t n;
};

static void
cycle_targets_clear(struct cycle_targets *ct)
{
	targets_free(ct->ts);
	free(ct->cfg_index);
	memset(ct, 0, sizeof(*ct));
}

/* Names are resolved now, every cycle: a new address behind a name is checked like any
 * other. A name that does not resolve is counted (the resolver may be down) but does not
 * stop the cycle for the other targets. co->only limits the cycle to some targets (the
 * daemon's per-interval groups). */
static int
cycle_targets_build(const struct config *cfg, const struct check_opts *co,
		    struct cycle_targets *ct, int *name_failures, char *err, size_t errlen)
{
	size_t nsel = co->only ? co->nonly : cfg->ntargets;
	char msg[512];

	memset(ct, 0, sizeof(*ct));
	ct->ts = targets_new();
	if (ct->ts == NULL)
		return -ENOMEM;
	targets_set_max_hosts(ct->ts, cfg->max_hosts);
	for (size_t sel = 0; sel < nsel; sel++) {
		size_t i = co->only ? co->only[sel] : sel;
		if (i >= cfg->ntargets)
			continue;
		size_t before = targets_count(ct->ts);
		int rc = targets_add(ct->ts, cfg->targets[i].target, NULL, msg, sizeof(msg));
		if (rc < 0) {
			log_warnx("%s: targets[%zu]: %s", cfg->path, i, msg);
			(*name_failures)++;
			continue;
		}
		size_t after = targets_count(ct->ts);
		size_t *ni = realloc(ct->cfg_index, after * sizeof(*ni));
		if (ni == NULL)
			return -ENOMEM;
		ct->cfg_index = ni;
		for (size_t k = before; k < after; k++)
			ct->cfg_index[k] = i;
		ct->n = after;
	}
	for (size_t i = 0; i < cfg->nexclude; i++)
		if (targets_exclude(ct->ts, cfg->exclude[i], msg, sizeof(msg)) < 0) {
			log_warnx("%s: exclude[%zu]: %s", cfg->path, i, msg);
			(*name_failures)++;
		}
	if (targets_finish(ct->ts, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s: %s", cfg->path, msg);
		return -E2BIG;
	}
	return 0;
}

static void
opts_from_config(const struct config *cfg, const struct check_opts *co, struct scan_opts *o)
{
	scan_opts_init(o);
	o->cancel = co->cancel;
	o->syn.io = co->syn_io;
	o->syn.on = cfg->probe.tcp_syn;
	o->tcp = cfg->probe.tcp;
	o->udp = cfg->probe.udp;
	o->port = cfg->probe.port;
	o->timeout_ns = cfg->probe.timeout_ns;
	o->retries = cfg->probe.retries;
	o->rate_pps = cfg->probe.rate_pps;
	o->concurrency = cfg->probe.concurrency;
	if (cfg->probe.qname)
		snprintf(o->qname, sizeof(o->qname), "%s", cfg->probe.qname);
	o->qtype = cfg->probe.qtype;
	o->progress = false;
	o->checks = cfg->probe.checks;
	if (cfg->canary)
		snprintf(o->canary, sizeof(o->canary), "%s", cfg->canary);
	if (cfg->canary_address)
		snprintf(o->canary_addr, sizeof(o->canary_addr), "%s", cfg->canary_address);
}

/* The DNS checks ask for the zones of the config target an address came from. */
struct cycle_zones {
	const struct config *cfg;
	const struct cycle_targets *ct;
};

static const char *const *
cycle_zones(void *arg, uint32_t target_index, size_t *n)
{
	const struct cycle_zones *cz = arg;

	*n = 0;
	if (target_index >= cz->ct->n)
		return NULL;
	return (const char *const *)config_target_zones(
		cz->cfg, &cz->cfg->targets[cz->ct->cfg_index[target_index]], n);
}

static int
next_from_iter(void *arg, struct net_addr *a, uint32_t *tidx)
{
	return targets_iter_next(arg, a, tidx);
}

struct addr_list {
	struct net_addr *a;
	size_t n, pos;
};

static int
next_from_list(void *arg, struct net_addr *a, uint32_t *tidx)
{
	struct addr_list *l = arg;

	if (l->pos >= l->n)
		return 0;
	*tidx = (uint32_t)l->pos;
	*a = l->a[l->pos++];
	return 1;
}

static int
by_addr(const void *x, const void *y)
{
	return net_addr_cmp(&((const struct probe_result *)x)->addr,
			    &((const struct probe_result *)y)->addr);
}

/* Does this silent port get the recheck passes? One reported open (a miss counts towards
 * closing it), and one whose closed state is not established yet (a miss counts towards
 * proving it closed, and a port proven closed by silence that opens raises `opened`, a
 * claim of change): a new address, a port first seen silent. A reset or ICMP port
 * unreachable is an answer and needs no second look. */
static bool
needs_recheck(const struct bl_entry *e, enum probe_slot s, const struct probe_result *r)
{
	if (r->out[s].state == PROBE_OPEN || r->out[s].state == PROBE_STATE_NONE)
		return false;
	if (e == NULL || !e->port[s].known)
		return r->out[s].state == PROBE_FILTERED;
	if (e->port[s].reported_open)
		return true;
	return !e->port[s].closed_proven && r->out[s].state == PROBE_FILTERED;
}

/*
 * A port that was open (or is not yet proven closed: needs_recheck) but gave no evidence
 * this pass is probed again, up to probe.recheck more passes, before the cycle counts as a
 * miss: under 30% loss each way
 * one pass of 3 attempts misses with p = 0.51^3 = 0.13, three passes with 0.51^9 = 0.0024,
 * and closing needs confirm.closed (3) such cycles in a row: 1.4e-8 per cycle.
 */
static int
recheck(const struct config *cfg, const struct check_opts *co, struct state *st,
	struct scan_collect *col, char *err, size_t errlen)
{
	struct addr_list l = { 0 };
	int rc = 0;

	if (cfg->probe.recheck == 0 || col->n == 0)
		return 0;
	l.a = malloc(col->n * sizeof(*l.a));
	if (l.a == NULL)
		return -ENOMEM;
	/* by address, so each recheck answer finds its record by binary search */
	qsort(col->recs, col->n, sizeof(*col->recs), by_addr);
	for (int slot = 0; slot < PROBE_NSLOTS; slot++) {
		if ((slot == PROBE_SLOT_TCP && !cfg->probe.tcp) ||
		    (slot == PROBE_SLOT_UDP && !cfg->probe.udp))
			continue;
		for (unsigned pass = 0; pass < cfg->probe.recheck; pass++) {
			struct scan_opts o;
			struct scan_collect again = { 0 };
			struct scan_summary sum;

			l.n = l.pos = 0;
			for (size_t i = 0; i < col->n; i++) {
				struct probe_result *r = &col->recs[i];
				if (needs_recheck(state_find(st, &r->addr), (enum probe_slot)slot, r))
					l.a[l.n++] = r->addr;
			}
			if (l.n == 0)
				break;
			log_info("recheck pass %u: %zu %s ports silent, open before or not yet "
				 "proven closed", pass + 1,
				 l.n, probe_slot_name((enum probe_slot)slot));
			opts_from_config(cfg, co, &o);
			o.tcp = slot == PROBE_SLOT_TCP;
			o.udp = slot == PROBE_SLOT_UDP;
			if (o.syn.on)
				scan_syn_hints_array(&o.syn, l.a, l.n);
			rc = scan_execute(&o, next_from_list, &l, l.n, &again, &sum, err, errlen);
			if (rc < 0) {
				scan_collect_clear(&again);
				goto out;
			}
			/* merge: evidence from a recheck replaces the silent outcome */
			for (size_t k = 0; k < again.n; k++) {
				const struct probe_result *n = &again.recs[k];
				struct probe_result *r;
				if (n->out[slot].state != PROBE_OPEN)
					continue;
				r = bsearch(n, col->recs, col->n, sizeof(*r), by_addr);
				if (r == NULL)
					continue;
				r->out[slot] = n->out[slot];
				if (slot == PROBE_SLOT_UDP)
					r->dns = n->dns;
			}
			scan_collect_clear(&again);
		}
	}
out:
	free(l.a);
	return rc;
}

bool
check_event_is_exposure(const struct alert_event *ev)
{
	/* exposed is one by definition; opened counts when it is against expectation and
	 * not accepted before (high and up), changed when a fact made an open port
	 * dangerous (an open resolver, AXFR allowed) */
	return ev->type == ALERT_EXPOSED ||
	       ((ev->type == ALERT_OPENED || ev->type == ALERT_CHANGED) &&
		ev->severity >= SEV_HIGH);
}

static bool
sink_wants(const struct config_sink *s, const struct alert_event *ev)
{
	return (s->events & (1u << ev->type)) && ev->severity >= s->min_severity;
}

static int
push_event(struct check_result *res, const struct alert_event *ev)
{
	struct alert_event *n = realloc(res->events, (res->nevents + 1) * sizeof(*n));

	if (n == NULL)
		return -ENOMEM;
	res->events = n;
	res->events[res->nevents++] = *ev;
	return 0;
}

static int
spool(const struct config *cfg, struct check_result *res, char *err, size_t errlen)
{
	char dir[PATH_MAX];

	check_outbox_dir(cfg, dir, sizeof(dir));
	for (size_t i = 0; i < res->nevents; i++)
		for (size_t s = 0; s < cfg->nsinks; s++) {
			if (!sink_wants(&cfg->sinks[s], &res->events[i]))
				continue;
			int rc = outbox_put(dir, cfg->sinks[s].name, &res->events[i], err, errlen);
			if (rc < 0)
				return rc;
		}
	return 0;
}

/* Commit the state with the cycle's events in its history: both or neither. */
static int
save(const struct config *cfg, struct state *st, const struct check_result *res, char *err,
     size_t errlen)
{
	struct state_hist *rows = NULL;
	int rc;

	if (res->nevents > 0 && (rows = calloc(res->nevents, sizeof(*rows))) == NULL) {
		util_errf(err, errlen, "out of memory for the history of %zu events", res->nevents);
		return -ENOMEM;
	}
	for (size_t i = 0; i < res->nevents; i++)
		history_from_event(&res->events[i], &rows[i]);
	st->history_add = rows;
	st->nhistory_add = res->nevents;
	st->history_retention_ns = cfg->history_retention_ns;
	rc = state_save(cfg->state_dir, st, err, errlen);
	st->history_add = NULL;
	st->nhistory_add = 0;
	free(rows);
	return rc;
}

/* Time, agent and an id derived from what the event is about and the cycle it belongs to:
 * a cycle repeated after a crash (outbox written, state not saved) raises the same ids. */
static void
stamp(const struct state *st, struct alert_event *ev)
{
	char seed[512];
	int n;

	alert_event_stamp(ev);
	n = snprintf(seed, sizeof(seed), "%s|%llu|%s|%s|%s", st->instance,
		     (unsigned long long)(st->cycles + 1), ev->address, ev->protocol,
		     alert_type_name(ev->type));
	if (n > 0 && (size_t)n < sizeof(seed))
		alert_event_derive_id(ev, seed, (size_t)n);
}

/*
 * Deliver what is due, bounded so a cron cycle stays short: half the interval, at most
 * CHECK_DELIVERY_BUDGET_NS. Returns the events delivered; *known says whether delivery
 * ran (there are sinks and the outbox could be read).
 */
static uint64_t
deliver(const struct config *cfg, bool *known)
{
	struct sink_settings *ss = NULL;
	struct outbox_report rep = { 0 };
	uint64_t budget = cfg->interval_ns / 2, n = 0;
	char dir[PATH_MAX], err[512];
	size_t nss = 0;

	*known = false;
	if (cfg->nsinks == 0)
		return 0;
	if (budget == 0 || budget > CHECK_DELIVERY_BUDGET_NS)
		budget = CHECK_DELIVERY_BUDGET_NS;
	if (sinks_from_config(cfg, cfg->path, &ss, &nss) < 0) {
		log_warnx("alert delivery: out of memory; events stay queued");
		return 0;
	}
	check_outbox_dir(cfg, dir, sizeof(dir));
	if (outbox_deliver(dir, ss, nss, util_wall_ns(), false, budget, &rep, err,
			   sizeof(err)) < 0) {
		log_warnx("alert delivery: %s; events stay queued", err);
		goto out;
	}
	/* per-failure lines came from the outbox; say once what is left behind */
	if (rep.out_of_budget)
		log_warnx("alert delivery: time budget of this cycle spent; %zu event%s wait for "
			  "the next cycle", rep.remaining, rep.remaining == 1 ? "" : "s");
	for (size_t i = 0; i < rep.nunknown; i++)
		log_info("outbox: %s/%s belongs to no configured sink: left alone", dir,
			 rep.unknown[i]);
	log_info("alert delivery: %zu delivered in %zu messages, %zu queued, %zu dead letter",
		 rep.delivered, rep.messages, rep.remaining, rep.dead);
	n = rep.delivered;
	*known = true;
out:
	outbox_report_clear(&rep);
	sinks_free(ss, nss);
	return n;
}

/* Is this cycle the state's first run for its targets? The first cycle of the state; in
 * the daemon with several intervals, also the first cycle of each group, which runs
 * after the first group's: then no entry carries the label of one of its targets yet. */
static bool
first_run(const struct config *cfg, const struct check_opts *co, const struct state *st)
{
	if (st->cycles == 0)
		return true;
	if (co->only == NULL)
		return false;
	for (size_t i = 0; i < st->n; i++)
		for (size_t k = 0; k < co->nonly; k++) {
			const struct config_target *t;

			if (co->only[k] >= cfg->ntargets)
				continue;
			t = &cfg->targets[co->only[k]];
			if (strncmp(st->entries[i].target, t->name ? t->name : t->target,
				    sizeof(st->entries[i].target)) == 0)
				return false;
		}
	return true;
}

int
check_cycle(const struct config *cfg, struct check_result *res, char *err, size_t errlen)
{
	const struct check_opts co = { .deliver = true };

	return check_cycle_opts(cfg, &co, res, err, errlen);
}

int
check_cycle_opts(const struct config *cfg, const struct check_opts *co,
		 struct check_result *res, char *err, size_t errlen)
{
	struct cycle_targets ct = { 0 };
	struct scan_collect col = { 0 };
	struct scan_summary sum;
	struct scan_opts o;
	struct state st;
	struct target_iter it;
	struct bl_policy pol = { cfg->confirm_open, cfg->confirm_closed, false };
	uint64_t t0 = util_now_ns(), now_wall, delivered = 0;
	bool any_evidence = false, any_open_before = false, alerts_known = false;
	int lockfd, rc;

	memset(res, 0, sizeof(*res));
	state_init(&st);
	lockfd = co->lock_held ? -1 : state_lock(cfg->state_dir, err, errlen);
	if (!co->lock_held && lockfd < 0)
		return lockfd;
	rc = state_load(cfg->state_dir, &st, err, errlen);
	if (rc < 0)
		goto out;
	res->first_cycle = st.cycles == 0;
	/* "first_run": "adopt" applies to the first run of a state only: an address that
	 * appears later is news either way */
	pol.adopt = cfg->first_run_adopt && first_run(cfg, co, &st);
	if (st.instance[0] == '\0') {
		struct alert_event tmp;
		alert_event_stamp(&tmp);
		memcpy(st.instance, tmp.id, sizeof(st.instance));
	}

	rc = cycle_targets_build(cfg, co, &ct, &res->name_failures, err, errlen);
	if (rc < 0)
		goto out;
	opts_from_config(cfg, co, &o);
	targets_iter_init(&it, ct.ts);
	if (o.syn.on)
		scan_syn_hints(&o.syn, &it);
	rc = scan_execute(&o, next_from_iter, &it, targets_total(ct.ts), &col, &sum, err, errlen);
	if (rc < 0)
		goto out;
	rc = recheck(cfg, co, &st, &col, err, errlen);
	if (rc < 0)
		goto out;
	/* after the rechecks, so a port they found open gets its checks too */
	if (cfg->probe.checks != 0) {
		struct cycle_zones cz = { cfg, &ct };
		o.zones = cycle_zones;
		o.zones_arg = &cz;
		rc = scan_checks(&o, &col, &sum, err, errlen);
		if (rc < 0)
			goto out;
	}

	/* degraded: nothing at all answered (no handshake, no RST, no datagram, no ICMP
	 * port unreachable) although something was open before, or names did not resolve */
	for (size_t i = 0; i < col.n; i++)
		for (int s = 0; s < PROBE_NSLOTS; s++)
			if (col.recs[i].out[s].state == PROBE_OPEN ||
			    col.recs[i].out[s].state == PROBE_CLOSED)
				any_evidence = true;
	for (size_t i = 0; i < st.n; i++)
		for (int s = 0; s < PROBE_NSLOTS; s++)
			if (st.entries[i].port[s].reported_open)
				any_open_before = true;
	res->degraded = (!any_evidence && any_open_before && col.n > 0) || res->name_failures > 0 ||
			(col.n == 0 && cfg->ntargets > 0);
	if (col.n == 0 && cfg->ntargets > 0) {
		snprintf(err, errlen, "nothing could be probed: no target resolved to an address");
		rc = -EHOSTUNREACH;
		goto out;
	}

	now_wall = util_wall_ns();
	for (size_t i = 0; i < col.n; i++) {
		const struct probe_result *r = &col.recs[i];
		const struct config_target *t = &cfg->targets[ct.cfg_index[r->target_index]];
		struct alert_event evs[BL_MAX_EVENTS];
		bool created = false;
		struct bl_entry *e = state_get(&st, &r->addr, &created);
		size_t nev;

		if (e == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		/* the same address from two targets is one port, decided once a cycle */
		if (!created && e->last_cycle == st.cycles + 1)
			continue;
		snprintf(e->target, sizeof(e->target), "%s", t->name ? t->name : t->target);
		for (int s = 0; s < PROBE_NSLOTS; s++)
			e->expect_open[s] = t->expect_open[s];
		e->last_cycle = st.cycles + 1;
		nev = baseline_apply(e, r, created, res->degraded && !any_evidence, &pol, now_wall,
				     evs);
		for (size_t k = 0; k < nev; k++) {
			stamp(&st, &evs[k]);
			if ((rc = push_event(res, &evs[k])) < 0)
				goto out;
			if (check_event_is_exposure(&evs[k]))
				res->new_exposures++;
		}
	}
	if (res->degraded && !st.degraded) {
		struct alert_event ev;
		baseline_degraded_event(&ev, res->name_failures > 0
			? "some target names did not resolve: the resolver may be down"
			: "no address answered at all: the monitor's own network may be down");
		stamp(&st, &ev);
		if ((rc = push_event(res, &ev)) < 0)
			goto out;
	}
	st.degraded = res->degraded;

	/* events reach the disk before the state that raised them is committed */
	rc = spool(cfg, res, err, errlen);
	if (rc < 0)
		goto out;
	for (size_t k = 0; k < res->nevents; k++)
		st.events_total[res->events[k].type]++;
	st.cycles++;
	st.last_cycle_wall = util_wall_ns();
	st.last_duration_ns = util_now_ns() - t0;
	rc = save(cfg, &st, res, err, errlen);
	if (rc < 0)
		goto out;

	res->addresses = col.n;
	res->duration_ns = st.last_duration_ns;
	for (size_t i = 0; i < col.n; i++)
		for (int s = 0; s < PROBE_NSLOTS; s++)
			res->open_ports += col.recs[i].out[s].state == PROBE_OPEN;
	for (size_t i = 0; i < st.n; i++)
		for (int s = 0; s < PROBE_NSLOTS; s++) {
			const struct bl_entry *e = &st.entries[i];
			if (e->last_cycle != st.cycles)
				continue;
			res->unacknowledged += baseline_unacknowledged(e, (enum probe_slot)s);
			res->expected_down += e->port[s].known && e->expect_open[s] &&
					      !e->port[s].reported_open;
			res->flapping += e->port[s].flapping;
		}
	/* the state is committed: now try to deliver (a webhook that is down never fails
	 * the cycle; the outbox keeps the events) */
	if (co->deliver)
		delivered = deliver(cfg, &alerts_known);
	if (cfg->metrics_file) {
		char dir[PATH_MAX], merr[512];
		struct outbox_stats ost;
		struct metrics_cycle mc = {
			.addresses = col.n, .duration_ns = st.last_duration_ns,
			.wall_ns = st.last_cycle_wall, .events_total = st.events_total,
			.cycle = st.cycles,
		};
		check_outbox_dir(cfg, dir, sizeof(dir));
		/* after delivery: the backlog is what is still waiting */
		mc.outbox_backlog = outbox_count(dir);
		if (alerts_known && outbox_stats_all(dir, &ost) == 0) {
			mc.alerts_known = true;
			mc.alerts_delivered = delivered;
			mc.alerts_dead = ost.dead;
			mc.alerts_quarantined = ost.quarantined;
		}
		/* metrics are a view: failing to write them does not fail the cycle */
		if (metrics_write(cfg->metrics_file, &st, &mc, merr, sizeof(merr)) < 0)
			log_warnx("%s", merr);
	}
	rc = 0;
out:
	scan_collect_clear(&col);
	cycle_targets_clear(&ct);
	state_clear(&st);
	state_unlock(lockfd);
	return rc;
}

/* ---- passive observations ---- */

/* Names are left out of the passive target set: resolving them could block the daemon. */
static int
resolve_refuse(const char *name, struct net_addr *out, size_t max, size_t *count, char *err,
	       size_t errlen)
{
	(void)name;
	(void)out;
	(void)max;
	*count = 0;
	snprintf(err, errlen, "not resolved for passive detection");
	return -ENOENT;
}

/* Was this baseline entry recorded under a target that is a name (label or display name)? */
static bool
entry_of_name_target(const struct config *cfg, const struct bl_entry *e)
{
	struct net_addr a;

	for (size_t i = 0; i < cfg->ntargets; i++) {
		const struct config_target *t = &cfg->targets[i];
		const char *label = t->name ? t->name : t->target;

		if (strncmp(e->target, label, sizeof(e->target)) != 0)
			continue;
		/* an address, prefix or range target was answered by targets_contains */
		if (net_addr_parse(t->target, &a) < 0 && strchr(t->target, '/') == NULL)
			return true;
	}
	return false;
}

/* Ids derived from what was seen and when it was first seen: a repeat after a crash (outbox
 * written, state not saved) raises the same ids. */
static void
stamp_passive(const struct state *st, struct alert_event *ev, uint64_t first_seen)
{
	char seed[512];
	int n;

	alert_event_stamp(ev);
	n = snprintf(seed, sizeof(seed), "%s|passive|%llu|%s|%s|%s", st->instance,
		     (unsigned long long)first_seen, ev->address, ev->protocol,
		     alert_type_name(ev->type));
	if (n > 0 && (size_t)n < sizeof(seed))
		alert_event_derive_id(ev, seed, (size_t)n);
}

int
check_passive_apply(const struct config *cfg, const struct check_opts *co,
		    struct check_passive_obs *obs, size_t n, struct check_result *res, char *err,
		    size_t errlen)
{
	struct bl_policy pol = { cfg->confirm_open, cfg->confirm_closed, false };
	struct target_set *ts = NULL;
	struct state st;
	char msg[512];
	uint64_t now = util_wall_ns();
	bool changed = false, known = false;
	int lockfd = -1, rc;

	memset(res, 0, sizeof(*res));
	state_init(&st);
	ts = targets_new();
	if (ts == NULL)
		return -ENOMEM;
	targets_set_resolver(ts, resolve_refuse);
	targets_set_max_hosts(ts, 0);
	for (size_t i = 0; i < cfg->ntargets; i++)
		(void)targets_add(ts, cfg->targets[i].target, NULL, msg, sizeof(msg));
	for (size_t i = 0; i < cfg->nexclude; i++)
		(void)targets_exclude(ts, cfg->exclude[i], msg, sizeof(msg));
	if (!co->lock_held) {
		lockfd = state_lock(cfg->state_dir, err, errlen);
		if (lockfd < 0) {
			rc = lockfd;
			goto out;
		}
	}
	rc = state_load(cfg->state_dir, &st, err, errlen);
	if (rc < 0)
		goto out;
	if (st.instance[0] == '\0') {
		struct alert_event tmp;
		alert_event_stamp(&tmp);
		memcpy(st.instance, tmp.id, sizeof(st.instance));
	}
	for (size_t i = 0; i < n; i++) {
		struct check_passive_obs *ob = &obs[i];
		struct bl_entry *e = state_find(&st, &ob->addr);
		struct alert_event evs[BL_MAX_EVENTS];
		struct probe_result r;
		bool any = false;
		size_t nev;

		ob->in_targets = targets_contains(ts, &ob->addr, NULL) ||
				 (e != NULL && entry_of_name_target(cfg, e));
		if (!ob->in_targets || e == NULL || ob->port != cfg->probe.port)
			continue;
		memset(&r, 0, sizeof(r));
		r.addr = ob->addr;
		r.port = ob->port;
		for (int s = 0; s < PROBE_NSLOTS; s++) {
			r.out[s].rtt_us = -1;
			if (!ob->proved[s] || !e->port[s].known || e->port[s].reported_open)
				continue;
			r.out[s].state = PROBE_OPEN;
			r.out[s].reason = s == PROBE_SLOT_TCP ? PROBE_REASON_SYN_ACK
							      : PROBE_REASON_DNS_REPLY;
			any = true;
		}
		if (!any)
			continue;
		changed = true;
		nev = baseline_apply(e, &r, false, false, &pol, now, evs);
		for (size_t k = 0; k < nev; k++) {
			snprintf(evs[k].source, sizeof(evs[k].source), "passive");
			stamp_passive(&st, &evs[k], ob->first_seen_ns);
			if ((rc = push_event(res, &evs[k])) < 0)
				goto out;
			if (check_event_is_exposure(&evs[k]))
				res->new_exposures++;
		}
	}
	if (!changed) {
		rc = 0;
		goto out;
	}
	/* events reach the disk before the state that raised them is committed */
	rc = spool(cfg, res, err, errlen);
	if (rc < 0)
		goto out;
	for (size_t k = 0; k < res->nevents; k++)
		st.events_total[res->events[k].type]++;
	rc = save(cfg, &st, res, err, errlen);
	if (rc < 0)
		goto out;
	if (co->deliver && res->nevents > 0)
		(void)deliver(cfg, &known);
	rc = 0;
out:
	targets_free(ts);
	state_clear(&st);
	state_unlock(lockfd);
	return rc;
}
