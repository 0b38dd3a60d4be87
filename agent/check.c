/* check: one monitoring cycle, shared by `watch53 check` and the daemon. */
#define _GNU_SOURCE
#include "agent/check.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/baseline.h"
#include "agent/history.h"
#include "agent/judge.h"
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

static bool
sink_wants(const struct config_sink *s, const struct alert_event *ev)
{
	return (s->events & (1u << ev->type)) && ev->severity >= s->min_severity;
}

/* Put one committed event into the outbox (state_spool_move's put). */
static int
spool_put(void *arg, uint64_t seq, const char *sink, const char *id, const char *json,
	  size_t len, char *err, size_t errlen)
{
	return outbox_put_json(arg, sink, seq, id, json, len, err, errlen);
}

int
check_spool_move(const struct config *cfg, size_t *moved, char *err, size_t errlen)
{
	char dir[PATH_MAX];

	check_outbox_dir(cfg, dir, sizeof(dir));
	return state_spool_move(cfg->state_dir, spool_put, dir, moved, err, errlen);
}

/* Events a crash left in the spool after their commit go out before anything new. */
static void
move_leftovers(const struct config *cfg)
{
	char merr[512];
	size_t moved = 0;

	if (check_spool_move(cfg, &moved, merr, sizeof(merr)) < 0)
		log_warnx("outbox: %s; the events stay in the state's spool", merr);
	else if (moved > 0)
		log_info("outbox: %zu event%s committed before a crash moved to the outbox", moved,
			 moved == 1 ? "" : "s");
}

/*
 * Fault injection for the tests (tests/integration/check_commit.int): with
 * W53_TEST_KILL_AT=<point> in the environment the process kills itself at that point of
 * the commit, as a crash or kill -9 there would.
 */
static void
test_kill_point(const char *point)
{
	const char *at = getenv("W53_TEST_KILL_AT");

	if (at != NULL && strcmp(at, point) == 0)
		(void)raise(SIGKILL);
}

/* The cycle's events as the spool and the history keep them: a JSON text for each event,
 * a spool row for each sink that wants it, a history row for each. */
struct commit_rows {
	char **json;
	struct state_spool *spool;
	size_t nspool;
	struct state_hist *hist;
};

static void
commit_rows_clear(struct commit_rows *c, size_t nevents)
{
	for (size_t i = 0; c->json != NULL && i < nevents; i++)
		free(c->json[i]);
	free(c->json);
	free(c->spool);
	free(c->hist);
	memset(c, 0, sizeof(*c));
}

static int
commit_rows_build(const struct config *cfg, const struct check_result *res,
		  struct commit_rows *c, char *err, size_t errlen)
{
	size_t n = res->nevents;

	memset(c, 0, sizeof(*c));
	if (n == 0)
		return 0;
	c->json = calloc(n, sizeof(*c->json));
	c->hist = calloc(n, sizeof(*c->hist));
	c->spool = calloc(n * (cfg->nsinks ? cfg->nsinks : 1), sizeof(*c->spool));
	if (c->json == NULL || c->hist == NULL || c->spool == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		const struct alert_event *ev = &res->events[i];
		char buf[ALERT_JSON_MAX + 1];
		int len;

		history_from_event(ev, &c->hist[i]);
		len = alert_event_to_json(ev, buf, sizeof(buf));
		if (len < 0) {
			util_errf(err, errlen, "event %s does not serialize: %s", ev->id,
				  strerror(-len));
			return len;
		}
		if ((c->json[i] = strndup(buf, (size_t)len)) == NULL)
			goto nomem;
		for (size_t s = 0; s < cfg->nsinks; s++) {
			struct state_spool *r;
			if (!sink_wants(&cfg->sinks[s], ev))
				continue;
			r = &c->spool[c->nspool++];
			r->sink = cfg->sinks[s].name;
			memcpy(r->id, ev->id, sizeof(r->id));
			r->json = c->json[i];
			r->len = (size_t)len;
		}
	}
	return 0;
nomem:
	util_errf(err, errlen, "out of memory for the %zu events of this cycle", n);
	return -ENOMEM;
}

/*
 * commit: the state, the cycle's events in its history and in the spool, in one
 * transaction (all or nothing); then the spool moves to the outbox. An event reaches the
 * outbox only when the state that raised it is committed, so what is delivered never
 * contradicts the state. A move that fails after the commit does not fail the cycle: the
 * events are safe in the spool and the next move (next cycle, `alerts flush`) takes them.
 */
static int
commit(const struct config *cfg, struct state *st, const struct check_result *res, char *err,
       size_t errlen)
{
	struct commit_rows c;
	char merr[512];
	size_t moved;
	int rc;

	if ((rc = commit_rows_build(cfg, res, &c, err, errlen)) < 0)
		goto out;
	for (size_t k = 0; k < res->nevents; k++)
		st->events_total[res->events[k].type]++;
	st->history_add = c.hist;
	st->nhistory_add = res->nevents;
	st->history_retention_ns = cfg->history_retention_ns;
	st->spool_add = c.spool;
	st->nspool_add = c.nspool;
	test_kill_point("commit");
	rc = state_save(cfg->state_dir, st, err, errlen);
	st->history_add = NULL;
	st->nhistory_add = 0;
	st->spool_add = NULL;
	st->nspool_add = 0;
	if (rc < 0)
		goto out;
	test_kill_point("spool");
	if (check_spool_move(cfg, &moved, merr, sizeof(merr)) < 0)
		log_warnx("outbox: %s; the events stay in the state's spool for the next cycle",
			  merr);
out:
	commit_rows_clear(&c, res->nevents);
	return rc;
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

/* ---- the cycle, in phases ---- */

/* One cycle's working set, from begin to end. */
struct cycle {
	const struct config *cfg;
	const struct check_opts *co;
	struct state st;
	int lockfd;
	uint64_t t0;
	char agent[64];
	struct cycle_targets ct;
	struct scan_collect col;
	struct judge_out out;
};

/* begin: the lock (unless the caller holds it), the state, what a crash left in the
 * spool, and the state's instance (seeds event ids). */
static int
cycle_begin(struct cycle *c, const struct config *cfg, const struct check_opts *co, char *err,
	    size_t errlen)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->co = co;
	c->t0 = util_now_ns();
	state_init(&c->st);
	c->lockfd = -1;
	if (!co->lock_held && (c->lockfd = state_lock(cfg->state_dir, err, errlen)) < 0) {
		rc = c->lockfd;
		c->lockfd = -1;
		return rc;
	}
	if ((rc = state_load(cfg->state_dir, &c->st, err, errlen)) < 0)
		return rc;
	move_leftovers(cfg);
	if (c->st.instance[0] == '\0') {
		struct alert_event tmp;
		alert_event_stamp(&tmp);
		memcpy(c->st.instance, tmp.id, sizeof(c->st.instance));
	}
	/* the events' agent field is display text: a host name that cannot be had is "" */
	if (gethostname(c->agent, sizeof(c->agent)) != 0)
		c->agent[0] = '\0';
	c->agent[sizeof(c->agent) - 1] = '\0';
	return 0;
}

static void
cycle_end(struct cycle *c)
{
	scan_collect_clear(&c->col);
	cycle_targets_clear(&c->ct);
	judge_out_clear(&c->out);
	state_clear(&c->st);
	state_unlock(c->lockfd);
}

/* observe: resolve the targets, scan them, recheck the silent ports that need it, run the
 * DNS checks on what is open. The observations end in c->col. */
static int
cycle_observe(struct cycle *c, int *name_failures, char *err, size_t errlen)
{
	const struct config *cfg = c->cfg;
	struct scan_summary sum;
	struct target_iter it;
	struct scan_opts o;
	int rc;

	rc = cycle_targets_build(cfg, c->co, &c->ct, name_failures, err, errlen);
	if (rc < 0)
		return rc;
	opts_from_config(cfg, c->co, &o);
	targets_iter_init(&it, c->ct.ts);
	if (o.syn.on)
		scan_syn_hints(&o.syn, &it);
	rc = scan_execute(&o, next_from_iter, &it, targets_total(c->ct.ts), &c->col, &sum, err,
			  errlen);
	if (rc < 0)
		return rc;
	rc = recheck(cfg, c->co, &c->st, &c->col, err, errlen);
	if (rc < 0)
		return rc;
	/* after the rechecks, so a port they found open gets its checks too */
	if (cfg->probe.checks != 0) {
		struct cycle_zones cz = { cfg, &c->ct };
		o.zones = cycle_zones;
		o.zones_arg = &cz;
		rc = scan_checks(&o, &c->col, &sum, err, errlen);
	}
	return rc;
}

/* The labels of the targets of this cycle, for judge_first_run (NULL: every target). */
static const char **
cycle_labels(const struct config *cfg, const struct check_opts *co, size_t *n)
{
	const char **labels;

	*n = 0;
	if (co->only == NULL || (labels = calloc(co->nonly + 1, sizeof(*labels))) == NULL)
		return NULL;
	for (size_t k = 0; k < co->nonly; k++) {
		const struct config_target *t;
		if (co->only[k] >= cfg->ntargets)
			continue;
		t = &cfg->targets[co->only[k]];
		labels[(*n)++] = t->name ? t->name : t->target;
	}
	return labels;
}

/* judge: the observations against the state held in memory (judge.h). */
static int
cycle_judge(struct cycle *c, struct check_result *res, char *err, size_t errlen)
{
	const struct config *cfg = c->cfg;
	struct judge_cycle_in in = { 0 };
	struct judge_target *targets = NULL;
	struct judge_ctx jc = { 0 };
	int rc = 0;

	if (cfg->ntargets > 0 && (targets = calloc(cfg->ntargets, sizeof(*targets))) == NULL)
		goto nomem;
	for (size_t i = 0; i < cfg->ntargets; i++) {
		const struct config_target *t = &cfg->targets[i];
		targets[i].label = t->name ? t->name : t->target;
		memcpy(targets[i].expect_open, t->expect_open, sizeof(targets[i].expect_open));
	}
	in.obs = c->col.recs;
	in.nobs = c->col.n;
	in.targets = targets;
	in.ntargets = cfg->ntargets;
	in.index = c->ct.cfg_index;
	in.nindex = c->ct.n;
	in.name_failures = res->name_failures;
	jc.pol.confirm_open = cfg->confirm_open;
	jc.pol.confirm_closed = cfg->confirm_closed;
	/* "first_run": "adopt" applies to the first run of a state only: an address that
	 * appears later is news either way */
	if (cfg->first_run_adopt) {
		size_t nlabels = 0;
		const char **labels = cycle_labels(cfg, c->co, &nlabels);
		if (c->co->only != NULL && labels == NULL)
			goto nomem;
		jc.pol.adopt = judge_first_run(&c->st, labels, nlabels);
		free(labels);
	}
	jc.now = util_wall_ns();
	jc.agent = c->agent;
	rc = judge_cycle(&c->st, &in, &jc, &c->out);
	res->degraded = c->out.degraded;
	if (rc == -EHOSTUNREACH)
		snprintf(err, errlen, "nothing could be probed: no target resolved to an address");
	else if (rc < 0)
		goto nomem;
	free(targets);
	return rc;
nomem:
	free(targets);
	util_errf(err, errlen, "out of memory");
	return -ENOMEM;
}

/* The events and counters of the judge phase go to the caller's result. */
static void
cycle_result(struct cycle *c, struct check_result *res)
{
	res->events = c->out.events;
	res->nevents = c->out.nevents;
	res->new_exposures = c->out.new_exposures;
	res->addresses = c->out.addresses;
	res->open_ports = c->out.open_ports;
	res->unacknowledged = c->out.unacknowledged;
	res->expected_down = c->out.expected_down;
	res->flapping = c->out.flapping;
	c->out.events = NULL;
	c->out.nevents = 0;
}

/* report: deliver what is due (a webhook that is down never fails the cycle; the outbox
 * keeps the events), then the metrics file. */
static void
cycle_report(struct cycle *c, const struct check_result *res)
{
	const struct config *cfg = c->cfg;
	uint64_t delivered = 0;
	bool alerts_known = false;

	if (c->co->deliver)
		delivered = deliver(cfg, &alerts_known);
	if (cfg->metrics_file) {
		char dir[PATH_MAX], merr[512];
		struct outbox_stats ost;
		struct metrics_cycle mc = {
			.addresses = res->addresses, .duration_ns = c->st.last_duration_ns,
			.wall_ns = c->st.last_cycle_wall, .events_total = c->st.events_total,
			.cycle = c->st.cycles,
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
		if (metrics_write(cfg->metrics_file, &c->st, &mc, merr, sizeof(merr)) < 0)
			log_warnx("%s", merr);
	}
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
	struct cycle c;
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = cycle_begin(&c, cfg, co, err, errlen)) < 0)
		goto out;
	res->first_cycle = c.st.cycles == 0;
	if ((rc = cycle_observe(&c, &res->name_failures, err, errlen)) < 0 ||
	    (rc = cycle_judge(&c, res, err, errlen)) < 0)
		goto out;
	cycle_result(&c, res);
	c.st.cycles++;
	c.st.last_cycle_wall = util_wall_ns();
	c.st.last_duration_ns = util_now_ns() - c.t0;
	if ((rc = commit(cfg, &c.st, res, err, errlen)) < 0)
		goto out;
	res->duration_ns = c.st.last_duration_ns;
	cycle_report(&c, res);
out:
	cycle_end(&c);
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

		if (e->target == NULL || strncmp(e->target, label, BL_TARGET_MAX) != 0)
			continue;
		/* an address, prefix or range target was answered by targets_contains */
		if (net_addr_parse(t->target, &a) < 0 && strchr(t->target, '/') == NULL)
			return true;
	}
	return false;
}

/* The passive target set: every address, prefix and range target, less the excludes. */
static struct target_set *
passive_targets(const struct config *cfg)
{
	struct target_set *ts = targets_new();
	char msg[512];

	if (ts == NULL)
		return NULL;
	targets_set_resolver(ts, resolve_refuse);
	targets_set_max_hosts(ts, 0);
	for (size_t i = 0; i < cfg->ntargets; i++)
		(void)targets_add(ts, cfg->targets[i].target, NULL, msg, sizeof(msg));
	for (size_t i = 0; i < cfg->nexclude; i++)
		(void)targets_exclude(ts, cfg->exclude[i], msg, sizeof(msg));
	return ts;
}

int
check_passive_apply(const struct config *cfg, const struct check_opts *co,
		    struct check_passive_obs *obs, size_t n, struct check_result *res, char *err,
		    size_t errlen)
{
	struct judge_ctx jc = { 0 };
	struct target_set *ts = NULL;
	struct cycle c;
	bool changed = false, known = false;
	int rc;

	memset(res, 0, sizeof(*res));
	if ((ts = passive_targets(cfg)) == NULL)
		return -ENOMEM;
	if ((rc = cycle_begin(&c, cfg, co, err, errlen)) < 0)
		goto out;
	jc.pol.confirm_open = cfg->confirm_open;
	jc.pol.confirm_closed = cfg->confirm_closed;
	jc.now = util_wall_ns();
	jc.agent = c.agent;
	for (size_t i = 0; i < n; i++) {
		struct check_passive_obs *ob = &obs[i];
		struct bl_entry *e = state_find(&c.st, &ob->addr);
		bool judged;

		ob->in_targets = targets_contains(ts, &ob->addr, NULL) ||
				 (e != NULL && entry_of_name_target(cfg, e));
		if (!ob->in_targets || e == NULL || ob->port != cfg->probe.port)
			continue;
		if (judge_passive(&jc, c.st.instance, e, ob->port, ob->proved, ob->first_seen_ns,
				  &c.out, &judged) < 0) {
			util_errf(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto out;
		}
		changed |= judged;
	}
	rc = 0;
	if (!changed)
		goto out;
	cycle_result(&c, res);
	if ((rc = commit(cfg, &c.st, res, err, errlen)) < 0)
		goto out;
	if (co->deliver && res->nevents > 0)
		(void)deliver(cfg, &known);
out:
	targets_free(ts);
	cycle_end(&c);
	return rc;
}
