/* scan: the scan driver — a stream of addresses through the engine pool to records, and the
 * DNS follow-up checks on them; `watch53 scan` (cmd_scan.c), check and run share it. */
#define _GNU_SOURCE
#include "agent/scan.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/log.h"
#include "common/util.h"
#include "probes/dns.h"
#include "probes/pool.h"

static struct pool *volatile scan_pool;
static volatile sig_atomic_t scan_signal; /* the signal that stopped the scan */

static void
scan_on_signal(int sig)
{
	scan_signal = sig;
	if (scan_pool)
		pool_stop(scan_pool);
}

void
scan_opts_init(struct scan_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->tcp = o->udp = true;
	o->port = 53;
	o->timeout_ns = SCAN_DEFAULT_TIMEOUT_NS;
	o->retries = SCAN_DEFAULT_RETRIES;
	o->rate_pps = SCAN_DEFAULT_RATE;
	o->concurrency = SCAN_DEFAULT_CONCURRENCY;
	/* ". NS" without recursion: every server answers it (an authoritative-only one with
	 * REFUSED), and no resolver is made to send a query anywhere on our behalf */
	snprintf(o->qname, sizeof(o->qname), ".");
	o->qtype = DNS_TYPE_NS;
	o->rd = false;
}

struct collect_ctx {
	engine_next_fn next; /* the caller's stream, behind the engine's single argument */
	void *next_arg;
	struct scan_collect *c;
	scan_record_fn rec;  /* or each record to the caller (scan_stream) */
	void *rec_arg;
	struct scan_summary *sum;
	uint64_t total;
	bool progress;
	bool drawn;
	int err;
	const atomic_int *cancel;
	bool cancelled;
	struct pool *pool;
};

static int
collect_next(void *arg, struct net_addr *addr, uint32_t *target_index)
{
	struct collect_ctx *cx = arg;
	return cx->next(cx->next_arg, addr, target_index);
}

static void
collect_result(void *arg, const struct probe_result *r)
{
	struct collect_ctx *cx = arg;
	struct scan_collect *c = cx->c;
	bool t = r->out[PROBE_SLOT_TCP].state == PROBE_OPEN;
	bool u = r->out[PROBE_SLOT_UDP].state == PROBE_OPEN;

	if (cx->err < 0)
		return;
	if (cx->sum != NULL) {
		cx->sum->addresses++;
		cx->sum->tcp_open += t;
		cx->sum->udp_open += u;
		cx->sum->hosts_open += t || u;
	}
	if (cx->rec != NULL) {
		int rc = cx->rec(cx->rec_arg, r);
		if (rc < 0) {
			cx->err = rc;
			pool_stop(cx->pool);
		}
		return;
	}
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 256;
		struct probe_result *n = realloc(c->recs, ncap * sizeof(*n));
		if (n == NULL) {
			cx->err = -ENOMEM;
			return;
		}
		c->recs = n;
		c->cap = ncap;
	}
	c->recs[c->n++] = *r;
}

/* The progress line waits a second: short scans should not flicker. */
static void
collect_tick(void *arg, const struct engine_stats *st)
{
	struct collect_ctx *cx = arg;

	if (cx->cancel && *cx->cancel && !cx->cancelled) {
		cx->cancelled = true;
		pool_stop(cx->pool);
		return;
	}
	if (!cx->progress || st->elapsed_ns < NS_PER_SEC)
		return;
	output_progress(stderr, st, cx->total);
	cx->drawn = true;
}

static int
by_seq(const void *a, const void *b)
{
	const struct probe_result *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void
scan_collect_clear(struct scan_collect *c)
{
	free(c->recs);
	if (c->plan != NULL) {
		dnscheck_plan_clear(c->plan);
		free(c->plan);
	}
	memset(c, 0, sizeof(*c));
}

/*
 * The open file limit is the TCP probes' budget: a connect-mode TCP probe holds a socket
 * per attempt until it ends, while UDP probes share their module's few sockets and SYN
 * probes one capture. Raise the soft limit to the hard one, then fit the slots: c slots
 * hold c / nmod addresses, each needing fds_per_addr descriptors, in one descriptor table.
 * The limit is per table, not per process: where the scan wants more slots than one table
 * holds, it runs on several workers (probes/pool.h), each with a table of its own, up to
 * SCAN_MAX_WORKERS. The default (SCAN_DEFAULT_CONCURRENCY) is the memory cap; the budget
 * lowers it where it must, and -v says which of the two decided. A --concurrency the
 * budget cannot hold is lowered with a warning. Each message is said once per process and
 * value: every pass of every cycle would say it again (a reload that changes it says the
 * new one). Returns each worker's slots; *workers is 1 unless may_split.
 */
static unsigned
fit_slots(const struct scan_opts *o, unsigned nmod, uint64_t fds_per_addr, uint64_t total,
	  bool may_split, unsigned *workers)
{
	static unsigned said_from, said_to;
	struct rlimit rl;
	unsigned c = o->concurrency, w = 1;
	uint64_t fit = UINT64_MAX, usable = 0, want = c, per;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (nmod > 0 && fds_per_addr > 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY) {
		/* 64 for everything else: the epoll fd, the UDP pool, logs, the database */
		usable = rl.rlim_cur > 64 ? rl.rlim_cur - 64 : 1;
		fit = usable * nmod / fds_per_addr;
		if (fit < nmod)
			fit = nmod;
	}
	/* a small target set needs no more slots than it has probes */
	if (total > 0 && total * nmod < want)
		want = total * nmod;
	if (may_split && want > fit)
		w = (unsigned)((want + fit - 1) / fit);
	if (w > SCAN_MAX_WORKERS)
		w = SCAN_MAX_WORKERS;
	*workers = w;
	per = ((uint64_t)c + w - 1) / w;
	if (per > fit)
		per = fit;
	if (per * w < c) {
		if (said_from != c || said_to != (unsigned)(per * w)) {
			if (o->concurrency_set)
				log_warnx("--concurrency %u is more than the open file limit (%llu) "
					  "allows, TCP probes holding up to %llu sockets each: "
					  "using %llu", c, (unsigned long long)rl.rlim_cur,
					  (unsigned long long)(fds_per_addr),
					  (unsigned long long)(per * w));
			else
				log_info("concurrency %llu, derived from the open file limit (%llu "
					 "descriptors, TCP probes of up to %llu sockets each)",
					 (unsigned long long)(per * w),
					 (unsigned long long)rl.rlim_cur,
					 (unsigned long long)fds_per_addr);
		}
	} else if (!o->concurrency_set && (said_from != c || said_to != c)) {
		if (fit == UINT64_MAX)
			log_info("concurrency %u (the default: no probe here costs a descriptor "
				 "of its own)", c);
		else
			log_info("concurrency %u (the default; the open file limit %llu allows "
				 "%llu a descriptor table)", c, (unsigned long long)rl.rlim_cur,
				 (unsigned long long)fit);
	}
	if (w > 1 && (said_from != c || said_to != (unsigned)(per * w)))
		log_info("%u scan threads of %llu slots, each with a descriptor table of its own",
			 w, (unsigned long long)per);
	said_from = c;
	said_to = (unsigned)(per * w);
	return (unsigned)per;
}

/* Only connect-mode TCP costs descriptors per probe: one per attempt. Several workers only
 * where the modules read nothing of the caller's on their thread: SYN mode shares one
 * capture, and the UDP history of check and run is read from the caller's database. */
static unsigned
fit_concurrency(const struct scan_opts *o, uint64_t total, unsigned *workers)
{
	bool connect_tcp = o->tcp && !o->syn.on;

	return fit_slots(o, (unsigned)o->tcp + (unsigned)o->udp, connect_tcp ? o->retries + 1 : 0,
			 total, connect_tcp && o->udp_history.answered_before == NULL, workers);
}

/* One pool run with SIGINT/SIGTERM stopping it (partial results, -EINTR). */
static int
run_pool(struct pool *pl, engine_next_fn next, engine_result_fn result, struct collect_ctx *cx)
{
	struct util_sigsaved saved;
	int rc;

	scan_signal = 0;
	scan_pool = pl;
	util_stop_signals_catch(scan_on_signal, &saved);
	rc = pool_run(pl, next, result, collect_tick, cx);
	util_stop_signals_restore(&saved);
	scan_pool = NULL;
	return rc;
}

static int scan_run(const struct scan_opts *o, struct collect_ctx *cx,
		    struct scan_summary *sum, char *err, size_t errlen);

int
scan_execute(const struct scan_opts *o, engine_next_fn next, void *arg, uint64_t total,
	     struct scan_collect *out, struct scan_summary *sum, char *err, size_t errlen)
{
	struct collect_ctx cx = { .next = next, .next_arg = arg, .c = out, .total = total,
				  .progress = o->progress, .cancel = o->cancel, .sum = sum };
	int rc = scan_run(o, &cx, sum, err, errlen);

	if (rc == 0 || rc == -EINTR)
		qsort(out->recs, out->n, sizeof(*out->recs), by_seq);
	return rc;
}

int
scan_stream(const struct scan_opts *o, engine_next_fn next, void *arg, uint64_t total,
	    scan_record_fn rec, void *rec_arg, struct scan_summary *sum, char *err,
	    size_t errlen)
{
	struct collect_ctx cx = { .next = next, .next_arg = arg, .rec = rec, .rec_arg = rec_arg,
				  .total = total, .progress = o->progress, .cancel = o->cancel,
				  .sum = sum };

	return scan_run(o, &cx, sum, err, errlen);
}

/* The engine over cx's stream: the records to cx (collected or handed on). */
static int
scan_run(const struct scan_opts *o, struct collect_ctx *cxp, struct scan_summary *sum,
	 char *err, size_t errlen)
{
	struct engine_config ec;
	struct pool *pl = NULL;
	struct collect_ctx cx = *cxp;
	struct engine_stats st;
	struct syn_scanner *syn = NULL;
	struct udp_module_arg udp_history = o->udp_history;
	unsigned workers;
	int rc, qlen;

	memset(&ec, 0, sizeof(ec));
	ec.concurrency = fit_concurrency(o, cx.total, &workers);
	ec.rate_pps = o->rate_pps;
	ec.timeout_ns = o->timeout_ns;
	ec.retries = o->retries;
	ec.tick_ns = o->progress ? 250 * NS_PER_MS : 0;
	/* the tick is where a cancel request is seen: the engine wakes for it at least this
	 * often, whatever its probes' timers say */
	if (o->cancel && ec.tick_ns == 0)
		ec.tick_ns = 100 * NS_PER_MS;
	ec.opts.port = o->port;
	ec.opts.qtype = o->qtype;
	ec.opts.rd = o->rd;
	qlen = dns_name_from_text(o->qname, ec.opts.qname, sizeof(ec.opts.qname));
	if (qlen < 0) {
		snprintf(err, errlen, "query name '%s': %s", o->qname, dns_strerror(qlen));
		return -EINVAL;
	}
	ec.opts.qname_len = (size_t)qlen;
	/* the modules by name from the probe table (probes/probe_table.c); in SYN mode TCP is
	 * the stateless SYN module, its scanner set up below */
	if (o->tcp)
		ec.modules[ec.nmodules++] = probe_module_find(o->syn.on ? "syn" : "tcp");
	if (o->udp) {
		ec.module_arg[ec.nmodules] = &udp_history;
		ec.modules[ec.nmodules++] = probe_module_find("udp");
	}
	if (o->cancel && *o->cancel) {
		snprintf(err, errlen, "scan cancelled");
		return -ECANCELED;
	}
	if (o->syn.on && (rc = scan_syn_setup(&o->syn, &ec, &syn, err, errlen)) < 0)
		return rc;
	pl = pool_new(&ec, workers, err, errlen);
	if (pl == NULL) {
		syn_free(syn);
		return -EINVAL;
	}
	cx.pool = pl;

	memset(sum, 0, sizeof(*sum));
	sum->started_wall_ns = util_wall_ns();
	sum->port = o->port;
	sum->timeout_ns = o->timeout_ns;
	sum->retries = o->retries;
	sum->rate_pps = o->rate_pps;
	sum->concurrency = ec.concurrency * pool_workers(pl);
	sum->tcp = o->tcp;
	sum->udp = o->udp;

	rc = run_pool(pl, collect_next, collect_result, &cx);
	if (cx.drawn)
		output_progress_clear(stderr);
	pool_get_stats(pl, &st);
	pool_free(pl);
	scan_syn_report(syn);
	syn_free(syn);
	if (rc == 0 && cx.err < 0)
		rc = cx.err;
	if (cx.cancelled) {
		snprintf(err, errlen, "scan cancelled");
		return -ECANCELED;
	}
	if (rc < 0 && rc != -EINTR) {
		snprintf(err, errlen, "scan failed: %s", strerror(-rc));
		return rc;
	}
	sum->elapsed_ns = st.elapsed_ns;
	sum->interrupted = rc == -EINTR;
	if (rc == -EINTR)
		snprintf(err, errlen, "interrupted by %s",
			 scan_signal == SIGTERM ? "SIGTERM" : "SIGINT");
	return rc;
}

/* ---- the DNS follow-up checks ---- */

struct check_stream {
	const struct dnscheck_plan *pl;
	const struct net_addr *addrs; /* per fact: the address it is about */
	size_t pos;
};

/* One entry per query of the plan: the address it goes to, the step as target_index. */
static int
check_next(void *arg, struct net_addr *addr, uint32_t *target_index)
{
	struct check_stream *cs = arg;

	if (cs->pos >= cs->pl->nsteps)
		return 0;
	*addr = cs->addrs[cs->pl->steps[cs->pos].fact];
	*target_index = (uint32_t)cs->pos++;
	return 1;
}

static int
check_next_ctx(void *arg, struct net_addr *addr, uint32_t *target_index)
{
	struct collect_ctx *cx = arg;

	return cx->next(cx->next_arg, addr, target_index);
}

/* The module wrote its facts into the plan; the per-query records say nothing more. */
static void
check_result(void *arg, const struct probe_result *r)
{
	(void)arg;
	(void)r;
}

int
scan_parse_checks(const char *list, unsigned *bits, char *err, size_t errlen)
{
	char buf[256];
	char *save = NULL, *tok;
	unsigned all = 0;

	if (strlen(list) >= sizeof(buf)) {
		snprintf(err, errlen, "'%.32s...' is too long", list);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		unsigned b;

		if (dnscheck_check_parse(tok, &b) < 0) {
			char names[128] = "";

			for (unsigned i = 0; i < DNSCHECK_NCHECKS; i++)
				snprintf(names + strlen(names), sizeof(names) - strlen(names),
					 "%s, ", dnscheck_check_names[i]);
			snprintf(err, errlen, "'%s' is not one of %sall, none", tok, names);
			return -EINVAL;
		}
		/* "none" clears what came before it, so "--checks all,none" means none */
		all = strcmp(tok, "none") == 0 ? 0 : all | b;
	}
	*bits = all;
	return 0;
}

int
scan_checks(const struct scan_opts *o, struct scan_collect *col, struct scan_summary *sum,
	    char *err, size_t errlen)
{
	struct dnscheck_plan *pl = NULL;
	struct net_addr *addrs = NULL;
	size_t *fact_of = NULL, checked = 0;
	struct engine_config ec;
	struct pool *epl = NULL; /* pl is the plan */
	unsigned one;
	struct check_stream cs = { 0 };
	struct collect_ctx cx = { .next = check_next, .next_arg = &cs, .cancel = o->cancel };
	struct engine_stats st;
	uint64_t t0;
	int rc;

	sum->checks = o->checks;
	if (o->checks == 0 || col->n == 0)
		return 0;
	if (o->cancel && *o->cancel) {
		snprintf(err, errlen, "scan cancelled");
		return -ECANCELED;
	}
	t0 = util_now_ns();
	pl = calloc(1, sizeof(*pl));
	addrs = calloc(col->n, sizeof(*addrs));
	fact_of = calloc(col->n, sizeof(*fact_of));
	if (pl == NULL || addrs == NULL || fact_of == NULL) {
		free(pl);
		pl = NULL;
		rc = -ENOMEM;
		goto nomem;
	}
	rc = dnscheck_plan_init(pl, o->canary, o->canary_addr, o->qname, o->qtype, o->rd, err,
				errlen);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < col->n; i++) {
		const struct probe_result *r = &col->recs[i];
		bool udp = r->out[PROBE_SLOT_UDP].state == PROBE_OPEN;
		bool tcp = r->out[PROBE_SLOT_TCP].state == PROBE_OPEN;
		const char *const *zones = NULL;
		size_t nz = 0;

		fact_of[i] = SIZE_MAX;
		if (!udp && !tcp)
			continue; /* checks run only where port 53 answered */
		if (o->zones != NULL)
			zones = o->zones(o->zones_arg, r->target_index, &nz);
		rc = dnscheck_plan_add(pl, o->checks, udp, tcp, zones, zones ? nz : 0, &fact_of[i],
				       err, errlen);
		if (rc < 0)
			goto out;
		addrs[fact_of[i]] = r->addr;
	}

	if (pl->nsteps > 0) {
		memset(&ec, 0, sizeof(ec));
		/* a TCP step may hold one socket per attempt, a UDP step one (the dnscheck
		 * module connects a socket per query) */
		ec.concurrency = fit_slots(o, 1, o->retries + 1, 0, false, &one);
		ec.rate_pps = o->rate_pps;
		ec.timeout_ns = o->timeout_ns;
		ec.retries = o->retries;
		ec.tick_ns = o->cancel ? 100 * NS_PER_MS : 0;
		ec.opts.port = o->port;
		ec.opts.ctx = pl;
		ec.modules[ec.nmodules++] = probe_module_find("dnscheck");
		epl = pool_new(&ec, one, err, errlen);
		if (epl == NULL) {
			rc = -EINVAL;
			goto out;
		}
		cs.pl = pl;
		cs.addrs = addrs;
		cx.pool = epl;
		log_info("dns checks: %zu queries to %zu addresses", pl->nsteps, pl->nfacts);
		rc = run_pool(epl, check_next_ctx, check_result, &cx);
		pool_get_stats(epl, &st);
		pool_free(epl);
		if (cx.cancelled) {
			snprintf(err, errlen, "scan cancelled");
			rc = -ECANCELED;
			goto out;
		}
		if (rc < 0 && rc != -EINTR) {
			snprintf(err, errlen, "dns checks failed: %s", strerror(-rc));
			goto out;
		}
		if (rc == -EINTR)
			sum->interrupted = true;
		rc = 0;
	}
	/* the plan's facts array is final now: records may point into it */
	for (size_t i = 0; i < col->n; i++) {
		if (fact_of[i] == SIZE_MAX || pl->facts[fact_of[i]].ran == 0)
			continue;
		col->recs[i].checks = &pl->facts[fact_of[i]];
		checked++;
	}
	if (col->plan != NULL) {
		dnscheck_plan_clear(col->plan);
		free(col->plan);
	}
	col->plan = pl;
	pl = NULL;
	sum->checked = checked;
	sum->checks_elapsed_ns = util_now_ns() - t0;
	sum->elapsed_ns += sum->checks_elapsed_ns;
out:
	if (pl != NULL) {
		dnscheck_plan_clear(pl);
		free(pl);
	}
nomem:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "dns checks: out of memory");
	free(addrs);
	free(fact_of);
	return rc;
}
