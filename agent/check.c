/* check: one monitoring cycle, shared by `watch53 check` and the daemon. */
#define _GNU_SOURCE
#include "agent/check.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/amsync.h"
#include "agent/baseline.h"
#include "agent/history.h"
#include "agent/judge.h"
#include "agent/metrics.h"
#include "agent/obs.h"
#include "agent/scan.h"
#include "agent/shard.h"
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

/* "cannot resolve 'ns2.lab': Name or service not known" -> "Name or service not known":
 * the name is the event's own field. */
static const char *
resolver_reason(const char *msg)
{
	const char *colon = strstr(msg, "': ");

	return colon != NULL ? colon + 3 : msg;
}

/* A config target whose name did not resolve this cycle, and why. */
struct name_failure {
	size_t cfg;
	char why[200];
};

/* Which config target produced each target-set entry (names expand to several). */
struct cycle_targets {
	struct target_set *ts;
	size_t *cfg_index;
	size_t n;
	bool *tried;                 /* per config target: in this cycle's selection */
	struct name_failure *failed; /* the targets that did not resolve */
	size_t nfailed;
};

static void
cycle_targets_clear(struct cycle_targets *ct)
{
	targets_free(ct->ts);
	free(ct->cfg_index);
	free(ct->tried);
	free(ct->failed);
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
	ct->tried = calloc(cfg->ntargets + 1, sizeof(*ct->tried));
	ct->failed = calloc(nsel + 1, sizeof(*ct->failed));
	if (ct->ts == NULL || ct->tried == NULL || ct->failed == NULL)
		return -ENOMEM;
	targets_set_max_hosts(ct->ts, cfg->max_hosts);
	for (size_t sel = 0; sel < nsel; sel++) {
		size_t i = co->only ? co->only[sel] : sel;
		if (i >= cfg->ntargets)
			continue;
		size_t before = targets_count(ct->ts);
		int rc = targets_add(ct->ts, cfg->targets[i].target, NULL, msg, sizeof(msg));
		ct->tried[i] = true;
		if (rc < 0) {
			/* the config was validated: only a name fails here (unresolved) */
			log_warnx("%s: targets[%zu]: %s", cfg->path, i, msg);
			(*name_failures)++;
			ct->failed[ct->nfailed].cfg = i;
			snprintf(ct->failed[ct->nfailed++].why, sizeof(ct->failed[0].why), "%.*s",
				 (int)sizeof(ct->failed[0].why) - 1, resolver_reason(msg));
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
	/* a value in the file is the user's: warn if the open file limit lowers it */
	o->concurrency_set = cfg->probe.concurrency != SCAN_DEFAULT_CONCURRENCY;
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

/* The spool to the outbox through the pass that holds the database. */
static int
pass_spool_move(const struct config *cfg, struct state_pass *p, size_t *moved, char *err,
		size_t errlen)
{
	char dir[PATH_MAX];

	check_outbox_dir(cfg, dir, sizeof(dir));
	return state_pass_spool_move(p, spool_put, dir, moved, err, errlen);
}

/* Events a crash left in the spool after their commit go out before anything new. */
static void
move_leftovers(const struct config *cfg, struct state_pass *p)
{
	char merr[512];
	size_t moved = 0;

	if (pass_spool_move(cfg, p, &moved, merr, sizeof(merr)) < 0)
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
	int sendfd;

	*known = false;
	if (cfg->nsinks == 0)
		return 0;
	/* one sender at a time (an `alerts flush` may be at it): the events wait for the
	 * next cycle, or that flush delivers them */
	if ((sendfd = state_lock_take(cfg->state_dir, STATE_LOCK_SEND, 0, NULL, err,
				      sizeof(err))) < 0) {
		log_info("alert delivery: %s; events stay queued", err);
		return 0;
	}
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
	state_unlock(sendfd);
	return n;
}

/* ---- the cycle, in phases ---- */

/* Staged addresses a recheck or a round of DNS checks takes at a time: what the cycle
 * holds of its observations at once. */
#define CYCLE_PAGE 65536
#define CYCLE_CHECK_PAGE 4096

/* One cycle's working set, from begin to end: never the whole estate (the observations are
 * staged in the pass, the entries read a row at a time). */
struct cycle {
	const struct config *cfg;
	const struct check_opts *co;
	struct state st;            /* the head: everything but the entries */
	struct state_pass *pass;
	int lockfd;
	uint64_t t0;
	char agent[64];
	char vantage[ALERT_VANTAGE_LEN]; /* config_vantage: events and metric lines */
	struct cycle_targets ct;
	struct judge_target *targets; /* by config target */
	struct judge_ctx jc;
	struct judge_sum sum;
	struct judge_out out;       /* the counters; events leave it as they are raised */
	bool hold;
	uint64_t nevents;
	struct metrics_writer *mw;
	struct obs *ob;             /* one decoded observation */
	struct state_spool *spool;  /* an event's spool rows: one per sink at most */
	struct state_silence *silences; /* in force this cycle (baseline silence) */
	size_t nsilences;
	char err[512];              /* of a failure inside a callback */
};

/* Did this address's UDP port answer with verified DNS replies last cycle (probes/udp.h)?
 * Its stored row says: the last observation open by a reply matching our query. A row that
 * does not read says no: the ICMP error then decides, as for a port without a history. */
static bool
cycle_udp_answered(void *arg, const struct net_addr *a)
{
	struct cycle *c = arg;
	struct bl_entry e;
	bool found;
	char err[256];

	if (state_pass_get(c->pass, a, &e, &found, err, sizeof(err)) < 0 || !found)
		return false;
	return e.port[PROBE_SLOT_UDP].last == PROBE_OPEN &&
	       e.port[PROBE_SLOT_UDP].last_reason == PROBE_REASON_DNS_REPLY;
}

/* The scan options of this cycle: the config's, and what the state knows of UDP ports. */
static void
cycle_scan_opts(struct cycle *c, struct scan_opts *o)
{
	opts_from_config(c->cfg, c->co, o);
	o->udp_history.answered_before = cycle_udp_answered;
	o->udp_history.arg = c;
}

/* begin: the state lock (waiting co->lock_wait_ns for another holder), what a crash left
 * in the spool, the state (its head; the entries stay in the database), and the instance
 * (seeds event ids). */
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
	if ((c->lockfd = state_lock_take(cfg->state_dir, STATE_LOCK_STATE, co->lock_wait_ns,
					 co->cancel, err, errlen)) < 0) {
		rc = c->lockfd;
		c->lockfd = -1;
		return rc;
	}
	if ((rc = state_pass_open(cfg->state_dir, &c->st, &c->pass, err, errlen)) < 0)
		return rc;
	move_leftovers(cfg, c->pass);
	c->spool = calloc(cfg->nsinks + 1, sizeof(*c->spool));
	if ((c->ob = malloc(sizeof(*c->ob))) == NULL || c->spool == NULL) {
		util_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (c->st.instance[0] == '\0') {
		struct alert_event tmp;
		alert_event_stamp(&tmp);
		memcpy(c->st.instance, tmp.id, sizeof(c->st.instance));
	}
	/* the events' agent field is display text: a host name that cannot be had is "" */
	if (gethostname(c->agent, sizeof(c->agent)) != 0)
		c->agent[0] = '\0';
	c->agent[alert_utf8_cut(c->agent, strnlen(c->agent, sizeof(c->agent)),
				sizeof(c->agent) - 1)] = '\0';
	c->jc.pol.confirm_open = cfg->confirm_open;
	c->jc.pol.confirm_closed = cfg->confirm_closed;
	c->jc.agent = c->agent;
	c->jc.vantage = config_vantage(cfg, c->vantage, sizeof(c->vantage));
	return 0;
}

static void
cycle_end(struct cycle *c)
{
	state_pass_free(c->pass);
	metrics_writer_free(c->mw);
	free(c->ob);
	free(c->spool);
	free(c->silences);
	free(c->targets);
	cycle_targets_clear(&c->ct);
	judge_out_clear(&c->out);
	state_clear(&c->st);
	state_unlock(c->lockfd);
}

/* A scan record: staged, and counted for the cycle as a whole. */
static int
stage_record(void *arg, const struct probe_result *r)
{
	struct cycle *c = arg;
	uint8_t buf[OBS_MAX];

	judge_observe(r, &c->sum, &c->out);
	return state_pass_stage(c->pass, &r->addr, r->seq, buf, obs_encode(r, buf), c->err,
				sizeof(c->err));
}

/* A page of staged observations collects the records whose `slot` needs a recheck (before
 * the DNS checks: the records are small then). */
struct recheck_page {
	struct cycle *c;
	enum probe_slot slot;
	struct net_addr *a;          /* the page's silent ports */
	struct probe_result *recs;   /* their records */
	bool *open;                  /* found open by a recheck pass */
	size_t n;
	struct addr_list l;          /* a pass's stream: the ports still silent */
	size_t *pos;                 /* their position in the page */
};

static int
recheck_collect(void *arg, const struct net_addr *a, const void *obs, size_t len,
		const struct bl_entry *e)
{
	struct recheck_page *rp = arg;

	if (obs_decode(obs, len, a, rp->c->ob) < 0)
		return -EIO;
	if (needs_recheck(e, rp->slot, &rp->c->ob->rec)) {
		rp->recs[rp->n] = rp->c->ob->rec;
		rp->open[rp->n] = false;
		rp->a[rp->n++] = *a;
	}
	return 0;
}

/* A recheck answer: evidence replaces the silent outcome of the staged observation. */
static int
recheck_merge(struct cycle *c, struct recheck_page *rp, const struct probe_result *n,
	      char *err, size_t errlen)
{
	enum probe_slot slot = rp->slot;
	struct probe_result *r;
	uint8_t buf[OBS_MAX];
	size_t i;

	if (n->out[slot].state != PROBE_OPEN || n->target_index >= rp->l.n)
		return 0;
	i = rp->pos[n->target_index];
	r = &rp->recs[i];
	rp->open[i] = true;
	r->out[slot] = n->out[slot];
	if (slot == PROBE_SLOT_UDP)
		r->dns = n->dns;
	/* a port found open after all is evidence of the cycle */
	c->sum.any_evidence = true;
	c->out.open_ports++;
	return state_pass_restage(c->pass, &r->addr, buf, obs_encode(r, buf), err, errlen);
}

/* The recheck passes over one page's silent ports; the ports still silent go again. */
static int
recheck_passes(struct cycle *c, struct recheck_page *rp, char *err, size_t errlen)
{
	const struct config *cfg = c->cfg;

	for (unsigned pass = 0; pass < cfg->probe.recheck; pass++) {
		struct scan_collect again = { 0 };
		struct scan_summary sum;
		struct scan_opts o;
		int rc;

		/* numbered by position in the stream, which says where in the page */
		rp->l.n = rp->l.pos = 0;
		for (size_t i = 0; i < rp->n; i++)
			if (!rp->open[i]) {
				rp->pos[rp->l.n] = i;
				rp->l.a[rp->l.n++] = rp->a[i];
			}
		if (rp->l.n == 0)
			break;
		log_info("recheck pass %u: %zu %s ports silent, open before or not yet proven "
			 "closed", pass + 1, rp->l.n, probe_slot_name(rp->slot));
		cycle_scan_opts(c, &o);
		o.tcp = rp->slot == PROBE_SLOT_TCP;
		o.udp = rp->slot == PROBE_SLOT_UDP;
		if (o.syn.on)
			scan_syn_hints_array(&o.syn, rp->l.a, rp->l.n);
		rc = scan_execute(&o, next_from_list, &rp->l, rp->l.n, &again, &sum, err, errlen);
		for (size_t k = 0; rc == 0 && k < again.n; k++)
			rc = recheck_merge(c, rp, &again.recs[k], err, errlen);
		scan_collect_clear(&again);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * A port that was open (or is not yet proven closed: needs_recheck) but gave no evidence
 * this pass is probed again, up to probe.recheck more passes, before the cycle counts as a
 * miss: under 30% loss each way one pass of 3 attempts misses with p = 0.51^3 = 0.13, three
 * passes with 0.51^9 = 0.0024, and closing needs confirm.closed (3) such cycles in a row:
 * 1.4e-8 per cycle. A page of staged addresses at a time.
 */
static int
recheck(struct cycle *c, char *err, size_t errlen)
{
	const struct config *cfg = c->cfg;
	struct recheck_page rp = { .c = c };
	int rc = 0;

	if (cfg->probe.recheck == 0 || c->sum.nobs == 0)
		return 0;
	rp.a = malloc(CYCLE_PAGE * sizeof(*rp.a));
	rp.recs = malloc(CYCLE_PAGE * sizeof(*rp.recs));
	rp.open = malloc(CYCLE_PAGE * sizeof(*rp.open));
	rp.l.a = malloc(CYCLE_PAGE * sizeof(*rp.l.a));
	rp.pos = malloc(CYCLE_PAGE * sizeof(*rp.pos));
	if (rp.a == NULL || rp.recs == NULL || rp.open == NULL || rp.l.a == NULL ||
	    rp.pos == NULL) {
		util_errf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (int slot = 0; slot < PROBE_NSLOTS && rc == 0; slot++) {
		struct net_addr last;
		bool first = true;

		if ((slot == PROBE_SLOT_TCP && !cfg->probe.tcp) ||
		    (slot == PROBE_SLOT_UDP && !cfg->probe.udp))
			continue;
		rp.slot = (enum probe_slot)slot;
		for (;;) {
			rp.n = 0;
			rc = state_pass_page(c->pass, first ? NULL : &last, CYCLE_PAGE,
					     recheck_collect, &rp, &last, err, errlen);
			if (rc <= 0)
				break;
			first = false;
			if ((rc = recheck_passes(c, &rp, err, errlen)) < 0)
				break;
		}
	}
out:
	free(rp.a);
	free(rp.recs);
	free(rp.open);
	free(rp.l.a);
	free(rp.pos);
	return rc < 0 ? rc : 0;
}

/* A page of staged observations collects the records with an open port for the checks. */
struct checks_page {
	struct cycle *c;
	struct scan_collect col;
};

static int
checks_collect(void *arg, const struct net_addr *a, const void *obs, size_t len,
	       const struct bl_entry *e)
{
	struct checks_page *cp = arg;
	const struct probe_result *r = &cp->c->ob->rec;

	(void)e;
	if (obs_decode(obs, len, a, cp->c->ob) < 0)
		return -EIO;
	if (r->out[PROBE_SLOT_TCP].state == PROBE_OPEN || r->out[PROBE_SLOT_UDP].state == PROBE_OPEN)
		cp->col.recs[cp->col.n++] = *r;
	return 0;
}

/* The DNS checks on what is open, a page at a time; their facts go into the staged
 * observations. */
static int
run_checks(struct cycle *c, struct scan_opts *o, char *err, size_t errlen)
{
	struct cycle_zones cz = { c->cfg, &c->ct };
	struct checks_page cp = { .c = c };
	struct net_addr last;
	bool first = true;
	int rc;

	if (c->cfg->probe.checks == 0)
		return 0;
	o->zones = cycle_zones;
	o->zones_arg = &cz;
	if ((cp.col.recs = malloc(CYCLE_CHECK_PAGE * sizeof(*cp.col.recs))) == NULL) {
		util_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	cp.col.cap = CYCLE_CHECK_PAGE;
	for (;;) {
		struct scan_summary sum;

		cp.col.n = 0;
		rc = state_pass_page(c->pass, first ? NULL : &last, CYCLE_CHECK_PAGE,
				     checks_collect, &cp, &last, err, errlen);
		if (rc <= 0)
			break;
		first = false;
		if (cp.col.n == 0)
			continue;
		memset(&sum, 0, sizeof(sum));
		if ((rc = scan_checks(o, &cp.col, &sum, err, errlen)) < 0)
			break;
		for (size_t i = 0; i < cp.col.n && rc >= 0; i++) {
			uint8_t buf[OBS_MAX];
			if (cp.col.recs[i].checks == NULL)
				continue;
			rc = state_pass_restage(c->pass, &cp.col.recs[i].addr, buf,
						obs_encode(&cp.col.recs[i], buf), err, errlen);
		}
		if (cp.col.plan != NULL) {
			dnscheck_plan_clear(cp.col.plan);
			free(cp.col.plan);
			cp.col.plan = NULL;
		}
		if (rc < 0)
			break;
	}
	scan_collect_clear(&cp.col);
	return rc < 0 ? rc : 0;
}

static struct target_set *passive_targets(const struct config *cfg);

/* "shard": this agent's part of the whole config's targets. Numbered over every target of
 * the config (the daemon's per-interval groups split the same way as one cycle over all),
 * names left out: shard.h says how their addresses are placed. 0 or -errno. */
static int
cycle_shard(const struct config *cfg, struct shard **sh, char *err, size_t errlen)
{
	struct target_set *all = passive_targets(cfg);
	char msg[256];
	int rc;

	if (all == NULL) {
		util_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((rc = shard_new(all, &cfg->shard, sh, msg, sizeof(msg))) < 0)
		util_errf(err, errlen, "%s: %s", cfg->path, msg);
	targets_free(all);
	return rc;
}

/* observe: resolve the targets, scan them (each record staged as it completes), recheck
 * the silent ports that need it, run the DNS checks on what is open. With a shard, only
 * this agent's addresses are scanned; the rechecks and checks follow the state, which
 * holds no other. */
static int
cycle_observe(struct cycle *c, int *name_failures, char *err, size_t errlen)
{
	const struct config *cfg = c->cfg;
	struct scan_summary sum;
	struct target_iter it;
	struct scan_opts o;
	struct shard *sh = NULL;
	struct shard_filter sf = { .next = next_from_iter, .next_arg = &it };
	engine_next_fn next = next_from_iter;
	void *next_arg = &it;
	uint64_t total;
	int rc;

	rc = cycle_targets_build(cfg, c->co, &c->ct, name_failures, err, errlen);
	if (rc < 0)
		goto out;
	total = targets_total(c->ct.ts);
	if (cfg->shard.count > 0) {
		if ((rc = cycle_shard(cfg, &sh, err, errlen)) < 0)
			goto out;
		sf.sh = sh;
		next = shard_filter_next;
		next_arg = &sf;
		total = shard_estimate(sh, total);
	}
	if ((rc = state_pass_expect(c->pass, total, err, errlen)) < 0)
		goto out;
	cycle_scan_opts(c, &o);
	targets_iter_init(&it, c->ct.ts);
	if (o.syn.on)
		scan_syn_hints(&o.syn, &it);
	rc = scan_stream(&o, next, next_arg, total, stage_record, c, &sum, err, errlen);
	if (rc < 0 && c->err[0] != '\0')
		util_errf(err, errlen, "%s", c->err);
	if (rc < 0)
		goto out;
	if ((rc = recheck(c, err, errlen)) < 0)
		goto out;
	/* after the rechecks, so a port they found open gets its checks too */
	rc = run_checks(c, &o, err, errlen);
out:
	shard_free(sh);
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

/* The silences in force this cycle; one that has ended goes, and says so once. In the
 * commit's transaction. */
static int
silence_keep(void *arg, const struct state_silence *s)
{
	struct cycle *c = arg;
	struct state_silence *n;

	if ((n = realloc(c->silences, (c->nsilences + 1) * sizeof(*n))) == NULL)
		return -ENOMEM;
	c->silences = n;
	c->silences[c->nsilences++] = *s;
	return 0;
}

static int
cycle_silences(struct cycle *c, char *err, size_t errlen)
{
	size_t keep = 0;
	int rc = state_pass_silences(c->pass, silence_keep, c, err, errlen);

	for (size_t i = 0; i < c->nsilences && rc == 0; i++) {
		const struct state_silence *s = &c->silences[i];
		char addr[NETADDR_STRLEN], when[32];

		if (s->until_ns > c->jc.now) {
			c->silences[keep++] = *s;
			continue;
		}
		net_addr_str(&s->addr, addr, sizeof(addr));
		log_warnx("the silence on %s%s%s ended at %s: its events are sent again", addr,
			  s->protocol[0] ? " " : "", s->protocol,
			  util_fmt_utc_ms(s->until_ns, when, sizeof(when)));
		rc = state_pass_silence_put(c->pass, s, true, err, errlen);
	}
	c->nsilences = keep;
	return rc;
}

/* Is ev about an address (and protocol) under a silence in force? */
static bool
cycle_silenced(const struct cycle *c, const struct alert_event *ev)
{
	struct net_addr a;

	if (c->nsilences == 0 || net_addr_parse(ev->address, &a) < 0)
		return false;
	for (size_t i = 0; i < c->nsilences; i++)
		if (net_addr_cmp(&c->silences[i].addr, &a) == 0 &&
		    (c->silences[i].protocol[0] == '\0' ||
		     strcmp(c->silences[i].protocol, ev->protocol) == 0))
			return true;
	return false;
}

/*
 * An event raised in the commit's transaction: in the history, in the spool for each sink
 * that wants it, and kept by the pass for the caller (state_pass_events). The events of a
 * cycle and the state that raised them commit together (all or nothing); an event reaches
 * the outbox only once that commit is done (state_spool_move), so what is delivered never
 * contradicts the state.
 */
static int
cycle_event(struct cycle *c, const struct alert_event *raised, char *err, size_t errlen)
{
	const struct config *cfg = c->cfg;
	struct state_spool *spool = c->spool;
	struct alert_event evb = *raised, *ev = &evb;
	const char *runbook = config_runbook_for(cfg, ev->target);
	struct state_hist hist;
	char json[ALERT_JSON_MAX + 1];
	bool silenced = cycle_silenced(c, ev);
	size_t nspool = 0;
	int len;

	/* what to do about it: the target's runbook, else the config's */
	if (runbook != NULL)
		snprintf(ev->runbook_url, sizeof(ev->runbook_url), "%s", runbook);
	history_from_event(ev, &hist);
	if ((len = alert_event_to_json(ev, json, sizeof(json))) < 0) {
		util_errf(err, errlen, "event %s does not serialize: %s", ev->id, strerror(-len));
		return len;
	}
	/* a maintenance window: recorded (history, output, totals), not sent */
	for (size_t s = 0; s < cfg->nsinks && !silenced; s++) {
		if (!sink_wants(&cfg->sinks[s], ev))
			continue;
		spool[nspool].sink = cfg->sinks[s].name;
		memcpy(spool[nspool].id, ev->id, sizeof(spool[nspool].id));
		spool[nspool].json = json;
		spool[nspool].len = (size_t)len;
		nspool++;
	}
	c->st.events_total[ev->type]++;
	c->nevents++;
	return state_pass_event(c->pass, &hist, spool, nspool, json, (size_t)len, err, errlen);
}

/* The events the judge raised so far go to the transaction; the judge keeps none. */
static int
cycle_events_out(struct cycle *c, char *err, size_t errlen)
{
	int rc = 0;

	for (size_t k = 0; k < c->out.nevents && rc == 0; k++)
		rc = cycle_event(c, &c->out.events[k], err, errlen);
	c->out.nevents = 0;
	return rc;
}

/* One staged address with its entry: judged (judge.h), counted, its port lines into the
 * metrics, its events into the transaction. 1: leave the entry as it is. */
static int
judge_one(void *arg, const void *obs, size_t len, struct bl_entry *e, bool created)
{
	struct cycle *c = arg;
	const struct probe_result *r = &c->ob->rec;
	uint64_t cycle = c->st.cycles + 1;
	int rc;

	if (obs_decode(obs, len, &e->addr, c->ob) < 0) {
		util_errf(c->err, sizeof(c->err), "a staged observation does not read");
		return -EIO;
	}
	if (r->target_index >= c->ct.n || c->ct.cfg_index[r->target_index] >= c->cfg->ntargets)
		return 1; /* no target to judge it under: never from a scan of ours */
	rc = judge_address(&c->jc, &c->st, cycle, c->hold, e, created, r,
			   &c->targets[c->ct.cfg_index[r->target_index]], &c->out);
	if (rc < 0) {
		util_errf(c->err, sizeof(c->err), "out of memory");
		return rc;
	}
	judge_count(cycle, e, &c->out);
	if (c->mw != NULL && e->last_cycle == cycle && metrics_writer_entry(c->mw, e, r) < 0) {
		/* metrics are a view: losing them does not fail the cycle */
		log_warnx("%s: cannot write; no metrics this cycle", c->cfg->metrics_file);
		metrics_writer_free(c->mw);
		c->mw = NULL;
	}
	return cycle_events_out(c, c->err, sizeof(c->err));
}

/* The names the state records as unresolved, read before any changes. */
struct name_list {
	struct state_name *v;
	size_t n, cap;
};

static int
name_keep(void *arg, const struct state_name *n)
{
	struct name_list *l = arg;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 8;
		struct state_name *nv = realloc(l->v, ncap * sizeof(*nv));
		if (nv == NULL)
			return -ENOMEM;
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = *n;
	return 0;
}

/* Is text the target of a config target this cycle tried, and did it fail? */
static bool
name_tried(const struct cycle *c, const char *text, bool *failed)
{
	*failed = false;
	for (size_t k = 0; k < c->ct.nfailed; k++)
		if (strcmp(c->cfg->targets[c->ct.failed[k].cfg].target, text) == 0)
			return *failed = true;
	for (size_t i = 0; i < c->cfg->ntargets; i++)
		if (c->ct.tried[i] && strcmp(c->cfg->targets[i].target, text) == 0)
			return true;
	return false;
}

/*
 * The names that did not resolve this cycle against those the state records: a new failure
 * raises `unresolved` once (recorded with since when and why), a recorded name that
 * resolved this cycle raises `resolved` (and its row goes), a recorded name no longer in
 * the config goes silently. A name of another schedule group is left as it is. In the
 * commit's transaction: the record and the events commit together.
 */
static int
cycle_names(struct cycle *c, char *err, size_t errlen)
{
	uint64_t cycle = c->st.cycles + 1;
	struct name_list l = { 0 };
	int rc = state_pass_names(c->pass, name_keep, &l, err, errlen);

	for (size_t k = 0; k < c->ct.nfailed && rc == 0; k++) {
		const struct name_failure *f = &c->ct.failed[k];
		const char *name = c->cfg->targets[f->cfg].target;
		struct state_name n = { .since_ns = c->jc.now, .since_cycle = cycle };
		struct alert_event ev;
		bool known = false;

		for (size_t i = 0; i < l.n && !known; i++)
			known = strcmp(l.v[i].name, name) == 0;
		if (known)
			continue; /* told already: one event an episode */
		snprintf(n.name, sizeof(n.name), "%s", name);
		snprintf(n.reason, sizeof(n.reason), "%s", f->why);
		rc = state_pass_name_put(c->pass, &n, err, errlen);
		baseline_name_event(&ev, name, f->why, 0, 0);
		if (rc == 0 && judge_monitor_event(&c->jc, c->st.instance, cycle, &ev, &c->out) < 0)
			rc = -ENOMEM;
	}
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		const struct state_name *n = &l.v[i];
		struct alert_event ev;
		bool failed, in_config = false;

		for (size_t t = 0; t < c->cfg->ntargets && !in_config; t++)
			in_config = strcmp(c->cfg->targets[t].target, n->name) == 0;
		if (in_config && (!name_tried(c, n->name, &failed) || failed))
			continue; /* not this cycle's, or still failing */
		rc = state_pass_name_drop(c->pass, n->name, err, errlen);
		if (rc < 0 || !in_config)
			continue;
		baseline_name_event(&ev, n->name, NULL, n->since_ns,
				    cycle > n->since_cycle ? cycle - n->since_cycle : 1);
		if (judge_monitor_event(&c->jc, c->st.instance, cycle, &ev, &c->out) < 0)
			rc = -ENOMEM;
	}
	free(l.v);
	if (rc == -ENOMEM)
		util_errf(err, errlen, "out of memory");
	return rc;
}

/* judge: the cycle as a whole (degraded? first run?), then each staged address against
 * its entry inside the commit's transaction. */
static int
cycle_judge(struct cycle *c, struct check_result *res, char *err, size_t errlen)
{
	const struct config *cfg = c->cfg;
	char merr[512];
	int rc;

	if (cfg->ntargets > 0 && (c->targets = calloc(cfg->ntargets, sizeof(*c->targets))) == NULL)
		goto nomem;
	for (size_t i = 0; i < cfg->ntargets; i++) {
		const struct config_target *t = &cfg->targets[i];
		c->targets[i].label = t->name ? t->name : t->target;
		memcpy(c->targets[i].expect_open, t->expect_open,
		       sizeof(c->targets[i].expect_open));
	}
	/* "first_run": "adopt" applies to the first run of a state only: an address that
	 * appears later is news either way */
	if (cfg->first_run_adopt) {
		size_t nlabels = 0;
		const char **labels = cycle_labels(cfg, c->co, &nlabels);
		if (c->co->only != NULL && labels == NULL)
			goto nomem;
		c->jc.pol.adopt = judge_first_run(&c->st, labels, nlabels);
		free(labels);
	}
	c->jc.now = util_wall_ns();
	c->sum.ntargets = cfg->ntargets;
	c->sum.name_failures = res->name_failures;
	/* asked only when it matters: a cycle without any answer */
	if (!c->sum.any_evidence && c->sum.nobs > 0 &&
	    (rc = state_pass_any_open(c->pass, &c->sum.any_open_before, err, errlen)) < 0)
		return rc;
	rc = judge_cycle_start(&c->sum, &c->out, &c->hold);
	res->degraded = c->out.degraded;
	if (rc == -EHOSTUNREACH) {
		snprintf(err, errlen, "nothing could be probed: no target resolved to an address");
		return rc;
	}
	if (cfg->metrics_file && metrics_writer_new(cfg->metrics_file, c->vantage, &c->mw, merr,
						    sizeof(merr)) < 0)
		log_warnx("%s", merr);
	if ((rc = state_pass_begin(c->pass, err, errlen)) < 0 ||
	    (rc = cycle_silences(c, err, errlen)) < 0)
		return rc;
	c->err[0] = '\0';
	rc = state_pass_judge(c->pass, c->st.cycles + 1, c->jc.now, judge_one, c, err, errlen);
	if (rc < 0) {
		if (c->err[0] != '\0')
			util_errf(err, errlen, "%s", c->err);
		return rc;
	}
	if (judge_cycle_finish(&c->jc, &c->st, &c->sum, &c->out) < 0)
		goto nomem;
	if ((rc = cycle_names(c, err, errlen)) < 0)
		return rc;
	return cycle_events_out(c, err, errlen);
nomem:
	util_errf(err, errlen, "out of memory");
	return -ENOMEM;
}

/* The counters of the judge phase go to the caller's result. */
static void
cycle_result(struct cycle *c, struct check_result *res)
{
	res->nevents = c->nevents;
	res->new_exposures = c->out.new_exposures;
	res->new_outages = c->out.new_outages;
	res->addresses = c->out.addresses;
	res->open_ports = c->out.open_ports;
	res->unacknowledged = c->out.unacknowledged;
	res->expected_down = c->out.expected_down;
	res->flapping = c->out.flapping;
	res->unack_names = c->out.unack_names;
	res->down_names = c->out.down_names;
}

/* An event of the committed cycle to the caller (check_opts.event). */
static int
replay_event(void *arg, const char *json, size_t len)
{
	const struct check_opts *co = arg;
	struct alert_event ev;
	char perr[256];

	if (alert_event_from_json(json, len, &ev, perr, sizeof(perr)) < 0) {
		log_warnx("an event of this cycle does not read back: %s", perr);
		return 0;
	}
	co->event(co->event_arg, &ev);
	return 0;
}

/*
 * commit: the state with the events it raised (already in the transaction) commits; the
 * caller hears of the events; the spool moves to the outbox, and the database is let go.
 * A move that fails after the commit does not fail the cycle: the events are safe in the
 * spool and the next move (next cycle, `alerts flush`) takes them.
 */
static int
cycle_commit(struct cycle *c, char *err, size_t errlen)
{
	char merr[512];
	size_t moved;
	int rc;

	test_kill_point("commit");
	if ((rc = state_pass_commit(c->pass, &c->st, c->cfg->history_retention_ns, err,
				    errlen)) < 0)
		return rc;
	if (c->co->event != NULL &&
	    state_pass_events(c->pass, replay_event, (void *)c->co, merr, sizeof(merr)) < 0)
		log_warnx("%s", merr);
	test_kill_point("spool");
	if (pass_spool_move(c->cfg, c->pass, &moved, merr, sizeof(merr)) < 0)
		log_warnx("outbox: %s; the events stay in the state's spool for the next cycle",
			  merr);
	/* the database is let go before delivery, which can take a while */
	state_pass_free(c->pass);
	c->pass = NULL;
	return 0;
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
	else if (c->co->delivered != NULL)
		alerts_known = c->co->delivered(c->co->delivered_arg, &delivered);
	if (c->co->alertmanager)
		amsync_cycle(cfg, c->vantage);
	if (c->mw != NULL) {
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
		if (metrics_writer_finish(c->mw, c->st.degraded, &mc, merr, sizeof(merr)) < 0)
			log_warnx("%s", merr);
		c->mw = NULL;
	}
}

int
check_cycle(const struct config *cfg, struct check_result *res, char *err, size_t errlen)
{
	const struct check_opts co = { .deliver = true, .alertmanager = true };

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
	    (rc = cycle_judge(&c, res, err, errlen)) < 0) {
		/* a signal stops the scan before anything is judged: say so, and that the
		 * state is as the last cycle left it */
		if (rc == -EINTR) {
			char why[64];
			snprintf(why, sizeof(why), "%s", err[0] != '\0' ? err : "interrupted");
			util_errf(err, errlen, "%s; nothing was saved", why);
		}
		goto out;
	}
	cycle_result(&c, res);
	c.st.cycles++;
	c.st.last_cycle_wall = util_wall_ns();
	c.st.last_duration_ns = util_now_ns() - c.t0;
	if ((rc = cycle_commit(&c, err, errlen)) < 0)
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
	struct target_set *ts = NULL;
	struct alert_event *kept = NULL;
	struct cycle c;
	bool changed = false, known = false;
	int rc;

	memset(res, 0, sizeof(*res));
	if ((ts = passive_targets(cfg)) == NULL)
		return -ENOMEM;
	if ((rc = cycle_begin(&c, cfg, co, err, errlen)) < 0)
		goto out;
	c.jc.now = util_wall_ns();
	if ((rc = state_pass_begin(c.pass, err, errlen)) < 0 ||
	    (rc = cycle_silences(&c, err, errlen)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct check_passive_obs *ob = &obs[i];
		struct bl_entry e;
		bool found, judged;
		size_t first = c.out.nevents;

		if ((rc = state_pass_get(c.pass, &ob->addr, &e, &found, err, errlen)) < 0)
			goto out;
		ob->in_targets = targets_contains(ts, &ob->addr, NULL) ||
				 (found && entry_of_name_target(cfg, &e));
		if (!ob->in_targets || !found || ob->port != cfg->probe.port)
			continue;
		if (judge_passive(&c.jc, c.st.instance, &e, ob->port, ob->proved, ob->first_seen_ns,
				  &c.out, &judged) < 0) {
			util_errf(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto out;
		}
		if (!judged)
			continue;
		changed = true;
		if ((rc = state_pass_put(c.pass, &e, err, errlen)) < 0)
			goto out;
		for (size_t k = first; k < c.out.nevents; k++)
			if ((rc = cycle_event(&c, &c.out.events[k], err, errlen)) < 0)
				goto out;
	}
	rc = 0;
	if (!changed)
		goto out;
	/* the events stay with the caller (few: one sighting's) */
	kept = c.out.events;
	res->nevents = c.out.nevents;
	res->new_exposures = c.out.new_exposures;
	res->new_outages = c.out.new_outages;
	c.out.events = NULL;
	c.out.nevents = 0;
	if ((rc = cycle_commit(&c, err, errlen)) < 0)
		goto out;
	res->events = kept;
	kept = NULL;
	if (co->deliver && res->nevents > 0)
		(void)deliver(cfg, &known);
out:
	free(kept);
	targets_free(ts);
	cycle_end(&c);
	return rc;
}
