/* scan: the one-shot `watch53 scan` command and the engine driver it shares. */
#define _GNU_SOURCE
#include "agent/scan.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agent/audit.h"
#include "agent/cli.h"
#include "agent/config.h"
#include "agent/shard.h"
#include "agent/targets.h"
#include "common/log.h"
#include "common/util.h"
#include "probes/dns.h"
#include "probes/pool.h"

#define AUDIT_MAX_ADDRESSES 64

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
					 (unsigned long long)(per * w), (unsigned long long)rl.rlim_cur,
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
	struct sigaction sa, old_int, old_term;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = scan_on_signal;
	sigemptyset(&sa.sa_mask);
	scan_signal = 0;
	scan_pool = pl;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = pool_run(pl, next, result, collect_tick, cx);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
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
	if (o->tcp)
		ec.modules[ec.nmodules++] = &probe_module_tcp;
	if (o->udp)
		ec.modules[ec.nmodules++] = &probe_module_udp;
	if (o->cancel && *o->cancel) {
		snprintf(err, errlen, "scan cancelled");
		return -ECANCELED;
	}
	if (o->syn.on && (rc = scan_syn_setup(&o->syn, &ec, &syn, err, errlen)) < 0)
		return rc;
	for (unsigned m = 0; m < ec.nmodules; m++)
		if (ec.modules[m] == &probe_module_udp)
			ec.module_arg[m] = &udp_history;
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
		ec.modules[ec.nmodules++] = &probe_module_dnscheck;
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

/* ---- the scan command ---- */

enum {
	OPT_TCP = 256, OPT_NO_TCP, OPT_UDP, OPT_NO_UDP, OPT_PORT, OPT_TIMEOUT, OPT_RETRIES,
	OPT_RATE, OPT_CONCURRENCY, OPT_EXCLUDE, OPT_FORMAT, OPT_MAX_HOSTS, OPT_QNAME,
	OPT_QTYPE, OPT_RD, OPT_NO_PROGRESS, OPT_CHECKS, OPT_ZONE, OPT_CANARY,
	OPT_SYN, OPT_INTERFACE, OPT_SOURCE_IP, OPT_ROUTER_MAC, OPT_SHARD, OPT_SHARD_SEED,
};

static const struct option scan_longopts[] = {
	{ "tcp", no_argument, NULL, OPT_TCP },
	{ "no-tcp", no_argument, NULL, OPT_NO_TCP },
	{ "udp", no_argument, NULL, OPT_UDP },
	{ "no-udp", no_argument, NULL, OPT_NO_UDP },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
	{ "exclude", required_argument, NULL, OPT_EXCLUDE },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "max-hosts", required_argument, NULL, OPT_MAX_HOSTS },
	{ "qname", required_argument, NULL, OPT_QNAME },
	{ "qtype", required_argument, NULL, OPT_QTYPE },
	{ "rd", no_argument, NULL, OPT_RD },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "checks", required_argument, NULL, OPT_CHECKS },
	{ "zone", required_argument, NULL, OPT_ZONE },
	{ "canary", required_argument, NULL, OPT_CANARY },
	{ "syn", no_argument, NULL, OPT_SYN },
	{ "interface", required_argument, NULL, OPT_INTERFACE },
	{ "source-ip", required_argument, NULL, OPT_SOURCE_IP },
	{ "router-mac", required_argument, NULL, OPT_ROUTER_MAC },
	{ "shard", required_argument, NULL, OPT_SHARD },
	{ "shard-seed", required_argument, NULL, OPT_SHARD_SEED },
	{ "output", required_argument, NULL, 'o' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void
cmd_scan_help(FILE *f)
{
	fprintf(f,
"usage: watch53 scan [options] [TARGET...]\n"
"\n"
"Probe TCP and UDP port 53 of every target address once and print the results.\n"
"Writes no state. With no TARGET: the local audit (loopback probes only, plus a\n"
"list of every socket bound to port 53 on this host).\n"
"\n"
"TARGET: an IPv4/IPv6 address, a CIDR prefix (127.53.0.0/24), a range\n"
"(127.53.0.1-127.53.0.40), a host name (all its A and AAAA), @FILE (one target a\n"
"line, # comments) or - (targets from stdin).\n"
"\n"
"Options:\n"
"  --tcp, --no-tcp        probe TCP (default: on)\n"
"  --udp, --no-udp        probe UDP with a DNS query (default: on)\n"
"  --port N               port to probe (default: 53)\n"
"  --timeout DUR          wait per probe, retries included: 800ms, 2s (default: 1s)\n"
"  --retries N            retransmissions spread inside the timeout (default: %d)\n"
"  --rate PPS             global packet rate limit, 0 = unlimited (default: %d)\n"
"  --concurrency N        probes in flight at once (default: %d, lowered to what the\n"
"                         open file limit allows TCP probes; -v says which)\n"
"  --exclude TARGET       skip these addresses (repeatable; same syntax as TARGET)\n"
"  --max-hosts N          refuse target sets larger than N addresses (default: %llu)\n"
"  --shard I/N            probe only shard I of N (1/3, 2/3, 3/3): N agents given the\n"
"                         same targets and seed split them into disjoint, equal parts\n"
"  --shard-seed S         the split's key, the same on every agent (default: 0)\n"
"  --qname NAME           name asked by the UDP probe (default: .)\n"
"  --qtype TYPE           type asked by the UDP probe (default: NS)\n"
"  --rd                   set RD (recursion desired) in the UDP probe (default: off)\n"
"  --checks LIST          DNS follow-up checks on open ports, comma-separated:\n"
"                         recursion, version, axfr, amplification, tcp-dns; all, none\n"
"                         (default: none)\n"
"  --zone NAME            a zone to try AXFR and amplification with (repeatable, up to %d)\n"
"  --canary NAME[=ADDR]   the name the recursion check asks for, and the address it must\n"
"                         resolve to (default: . NS, no address)\n"
"  --syn                  TCP by stateless SYN probes from a raw socket, answers read\n"
"                         with libpcap (needs CAP_NET_RAW; same states as connect)\n"
"  --interface IFACE      SYN mode: send and listen on IFACE (default: the route's)\n"
"  --source-ip ADDR       SYN mode: source address (one per family; default: the\n"
"                         route's)\n"
"  --router-mac MAC       SYN mode: link address of the next hop (default: from the\n"
"                         neighbour table)\n"
"  --format FMT           table, json, jsonl or csv (default: table)\n"
"  -o, --output FILE      write results to FILE instead of stdout\n"
"  --no-progress          no progress line on a terminal\n"
"  -q, --quiet            table format: print only open ports and the summary\n"
"  -v, --verbose          more diagnostics on stderr (repeat for debug)\n"
"  -h, --help             this help\n"
"\n"
"Exit status: 0 no port open, 1 at least one port open, 2 usage error,\n"
"3 runtime failure (or interrupted).\n"
"\n"
"Examples:\n"
"  watch53 scan                                  # audit this host (loopback only)\n"
"  watch53 scan 192.0.2.0/24 --format jsonl      # from another host\n"
"  watch53 scan @hosts.txt --exclude 192.0.2.5 -o results.csv --format csv\n"
"  watch53 scan 192.0.2.0/22 --shard 2/3 --shard-seed 7   # one of three agents\n",
		SCAN_DEFAULT_RETRIES, SCAN_DEFAULT_RATE, SCAN_DEFAULT_CONCURRENCY,
		(unsigned long long)TARGETS_DEFAULT_MAX_HOSTS, DNSCHECK_MAX_ZONES);
}

struct target_stream {
	struct target_iter it;
};

static int
next_target(void *arg, struct net_addr *addr, uint32_t *tidx)
{
	struct target_stream *s = arg;
	return targets_iter_next(&s->it, addr, tidx);
}

struct addr_stream {
	const struct net_addr *addrs;
	size_t n, pos;
};

static int
next_addr(void *arg, struct net_addr *addr, uint32_t *tidx)
{
	struct addr_stream *s = arg;

	if (s->pos >= s->n)
		return 0;
	*tidx = (uint32_t)s->pos;
	*addr = s->addrs[s->pos++];
	return 1;
}

struct zone_list {
	const char *names[DNSCHECK_MAX_ZONES];
	size_t n;
};

/* --zone applies to every target. */
static const char *const *
cli_zones(void *arg, uint32_t target_index, size_t *n)
{
	struct zone_list *z = arg;

	(void)target_index;
	*n = z->n;
	return z->names;
}

static const char *
label_target(void *arg, uint32_t i)
{
	return targets_label(arg, i);
}

struct audit_labels {
	char text[AUDIT_MAX_ADDRESSES][NETADDR_STRLEN];
};

static const char *
label_audit(void *arg, uint32_t i)
{
	struct audit_labels *l = arg;
	return i < AUDIT_MAX_ADDRESSES ? l->text[i] : "";
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "watch53 scan: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static int
parse_num_opt(const char *name, const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	if (util_parse_uint(text, min, max, out) < 0) {
		fprintf(stderr, "watch53 scan: --%s: '%s' is not a number from %llu to %llu\n", name,
			text, (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	return 0;
}

int
cmd_scan(int argc, char **argv)
{
	struct scan_opts o;
	enum output_format fmt = OUTPUT_TABLE;
	const char *outfile = NULL;
	struct target_set *ts = NULL;
	struct scan_collect col = { 0 };
	struct scan_summary sum;
	struct audit_listener *ls = NULL;
	size_t nls = 0;
	char err[512];
	uint64_t v, max_hosts = TARGETS_DEFAULT_MAX_HOSTS;
	int quiet = 0, verbose = 0, no_progress = 0, ch, rc, status = EXIT_RUNTIME;
	FILE *out = stdout;
	const char **excludes = NULL;
	size_t nexcl = 0;
	struct zone_list zl = { .n = 0 };
	struct shard_spec shs = { .count = 0 };
	struct shard *sh = NULL;
	bool have_seed = false;

	scan_opts_init(&o);
	o.zones = cli_zones;
	o.zones_arg = &zl;
	excludes = calloc((size_t)argc, sizeof(*excludes));
	if (excludes == NULL)
		return EXIT_RUNTIME;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "ho:qv", scan_longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_TCP: o.tcp = true; break;
		case OPT_NO_TCP: o.tcp = false; break;
		case OPT_UDP: o.udp = true; break;
		case OPT_NO_UDP: o.udp = false; break;
		case OPT_PORT:
			if (parse_num_opt("port", optarg, 1, 65535, &v) < 0)
				goto usage;
			o.port = (uint16_t)v;
			break;
		case OPT_TIMEOUT:
			if (util_parse_duration(optarg, &o.timeout_ns) < 0 || o.timeout_ns == 0 ||
			    o.timeout_ns > 60 * NS_PER_SEC) {
				fprintf(stderr, "watch53 scan: --timeout: '%s' is not a duration "
						"from 1ms to 60s (e.g. 800ms, 2s)\n", optarg);
				goto usage;
			}
			break;
		case OPT_RETRIES:
			if (parse_num_opt("retries", optarg, 0, 10, &v) < 0)
				goto usage;
			o.retries = (unsigned)v;
			break;
		case OPT_RATE:
			if (parse_num_opt("rate", optarg, 0, 10000000, &v) < 0)
				goto usage;
			o.rate_pps = (unsigned)v;
			break;
		case OPT_CONCURRENCY:
			if (parse_num_opt("concurrency", optarg, 1, 65536, &v) < 0)
				goto usage;
			o.concurrency = (unsigned)v;
			o.concurrency_set = true;
			break;
		case OPT_MAX_HOSTS:
			if (parse_num_opt("max-hosts", optarg, 1, UINT64_MAX, &max_hosts) < 0)
				goto usage;
			break;
		case OPT_EXCLUDE:
			excludes[nexcl++] = optarg;
			break;
		case OPT_FORMAT:
			if (output_format_parse(optarg, &fmt) < 0) {
				usage_error("--format: '%s' is not one of table, json, jsonl, csv",
					    optarg);
				goto usage;
			}
			break;
		case OPT_QNAME: {
			uint8_t wire[DNS_MAX_NAME];
			if (dns_name_from_text(optarg, wire, sizeof(wire)) < 0 ||
			    strlen(optarg) >= sizeof(o.qname)) {
				usage_error("--qname: '%s' is not a valid DNS name", optarg);
				goto usage;
			}
			snprintf(o.qname, sizeof(o.qname), "%s", optarg);
			break;
		}
		case OPT_QTYPE:
			if (dns_type_from_text(optarg, &o.qtype) < 0) {
				usage_error("--qtype: '%s' is not a DNS type (A, NS, SOA, TYPE65...)",
					    optarg);
				goto usage;
			}
			break;
		case OPT_RD: o.rd = true; break;
		case OPT_CHECKS:
			if (scan_parse_checks(optarg, &o.checks, err, sizeof(err)) < 0) {
				usage_error("--checks: %s", err);
				goto usage;
			}
			break;
		case OPT_ZONE: {
			uint8_t wire[DNS_MAX_NAME];
			if (dns_name_from_text(optarg, wire, sizeof(wire)) < 0) {
				usage_error("--zone: '%s' is not a valid DNS name", optarg);
				goto usage;
			}
			if (zl.n >= DNSCHECK_MAX_ZONES) {
				usage_error("--zone: at most %d zones", DNSCHECK_MAX_ZONES);
				goto usage;
			}
			zl.names[zl.n++] = optarg;
			break;
		}
		case OPT_CANARY: {
			uint8_t wire[DNS_MAX_NAME];
			struct net_addr na;
			char *eq = strchr(optarg, '=');
			if (eq != NULL)
				*eq = '\0';
			if (dns_name_from_text(optarg, wire, sizeof(wire)) < 0 ||
			    strlen(optarg) >= sizeof(o.canary)) {
				usage_error("--canary: '%s' is not a valid DNS name", optarg);
				goto usage;
			}
			if (eq != NULL && net_addr_parse(eq + 1, &na) < 0) {
				usage_error("--canary: '%s' is not an IP address", eq + 1);
				goto usage;
			}
			snprintf(o.canary, sizeof(o.canary), "%s", optarg);
			snprintf(o.canary_addr, sizeof(o.canary_addr), "%s", eq ? eq + 1 : "");
			break;
		}
		case OPT_SYN:
		case OPT_INTERFACE:
		case OPT_SOURCE_IP:
		case OPT_ROUTER_MAC: {
			static const char *const syn_names[] = { "syn", "interface", "source-ip",
								 "router-mac" };
			char serr[160];

			if (scan_syn_option(&o.syn, syn_names[ch - OPT_SYN], optarg, serr,
					    sizeof(serr)) < 0) {
				usage_error("%s", serr);
				goto usage;
			}
			break;
		}
		case OPT_SHARD:
			if (shard_parse(optarg, &shs, err, sizeof(err)) < 0) {
				usage_error("--shard: %s", err);
				goto usage;
			}
			break;
		case OPT_SHARD_SEED:
			if (parse_num_opt("shard-seed", optarg, 0, UINT64_MAX, &shs.seed) < 0)
				goto usage;
			have_seed = true;
			break;
		case OPT_NO_PROGRESS: no_progress = 1; break;
		case 'o': outfile = optarg; break;
		case 'q': quiet = 1; break;
		case 'v': verbose++; break;
		case 'h':
			cmd_scan_help(stdout);
			status = EXIT_CLEAN;
			goto done;
		default:
			goto usage;
		}
	}
	if (!o.tcp && !o.udp) {
		fprintf(stderr, "watch53 scan: --no-tcp and --no-udp leave nothing to probe\n");
		goto usage;
	}
	if (!o.syn.on && (o.syn.iface || o.syn.have_src[0] || o.syn.have_src[1] ||
			  o.syn.have_router_mac)) {
		fprintf(stderr, "watch53 scan: --interface, --source-ip and --router-mac apply "
			"to --syn only\n");
		goto usage;
	}
	if (have_seed && shs.count == 0) {
		fprintf(stderr, "watch53 scan: --shard-seed applies to --shard only\n");
		goto usage;
	}
	log_set_level(verbose >= 2 ? LOG_LVL_DEBUG : verbose ? LOG_LVL_INFO : LOG_LVL_WARN);
	o.progress = !no_progress && !quiet && isatty(STDERR_FILENO);

	struct output_data od = { .summary = &sum };
	struct audit_labels *al = NULL;

	if (optind >= argc) {
		/* the local audit: loopback only, whatever is listening */
		struct net_addr addrs[AUDIT_MAX_ADDRESSES];
		struct addr_stream as = { .addrs = addrs };

		if (nexcl > 0 || shs.count > 0) {
			fprintf(stderr, "watch53 scan: %s needs targets\n",
				nexcl > 0 ? "--exclude" : "--shard");
			goto usage;
		}
		if (audit_list_listeners("/proc", o.port, &ls, &nls, err, sizeof(err)) < 0) {
			fprintf(stderr, "watch53 scan: local audit: %s\n", err);
			goto done;
		}
		as.n = audit_probe_addresses(ls, nls, addrs, AUDIT_MAX_ADDRESSES);
		al = calloc(1, sizeof(*al));
		if (al == NULL)
			goto done;
		for (size_t i = 0; i < as.n; i++)
			net_addr_str(&addrs[i], al->text[i], sizeof(al->text[i]));
		if (o.syn.on)
			scan_syn_hints_array(&o.syn, addrs, as.n);
		rc = scan_execute(&o, next_addr, &as, as.n, &col, &sum, err, sizeof(err));
		if (rc == 0 && !sum.interrupted)
			rc = scan_checks(&o, &col, &sum, err, sizeof(err));
		sum.audit = true;
		od.label = label_audit;
		od.label_arg = al;
		od.listeners = ls;
		od.nlisteners = nls;
	} else {
		struct target_stream s;

		ts = targets_new();
		if (ts == NULL)
			goto done;
		targets_set_max_hosts(ts, max_hosts);
		for (int i = optind; i < argc; i++)
			if (targets_add(ts, argv[i], stdin, err, sizeof(err)) < 0) {
				fprintf(stderr, "watch53 scan: %s\n", err);
				status = EXIT_USAGE;
				goto done;
			}
		for (size_t i = 0; i < nexcl; i++)
			if (targets_exclude(ts, excludes[i], err, sizeof(err)) < 0) {
				fprintf(stderr, "watch53 scan: --exclude: %s\n", err);
				status = EXIT_USAGE;
				goto done;
			}
		if (targets_finish(ts, err, sizeof(err)) < 0) {
			fprintf(stderr, "watch53 scan: %s\n", err);
			status = EXIT_USAGE;
			goto done;
		}
		targets_iter_init(&s.it, ts);
		if (o.syn.on)
			scan_syn_hints(&o.syn, &s.it);
		if (shs.count > 0) {
			/* this agent's part: the same stream, the other shards' addresses skipped */
			struct shard_filter sf = { .next = next_target, .next_arg = &s };

			if ((rc = shard_new(ts, &shs, &sh, err, sizeof(err))) < 0) {
				fprintf(stderr, "watch53 scan: --shard: %s\n", err);
				status = rc == -E2BIG ? EXIT_USAGE : EXIT_RUNTIME;
				goto done;
			}
			sf.sh = sh;
			rc = scan_execute(&o, shard_filter_next, &sf,
					  shard_estimate(sh, targets_total(ts)), &col, &sum, err,
					  sizeof(err));
		} else {
			rc = scan_execute(&o, next_target, &s, targets_total(ts), &col, &sum, err,
					  sizeof(err));
		}
		if (rc == 0 && !sum.interrupted)
			rc = scan_checks(&o, &col, &sum, err, sizeof(err));
		od.label = label_target;
		od.label_arg = ts;
	}
	if (rc < 0 && rc != -EINTR) {
		fprintf(stderr, "watch53 scan: %s\n", err);
		status = rc == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
		goto done_audit;
	}
	od.records = col.recs;
	od.nrecords = col.n;
	od.quiet = quiet;
	if (outfile) {
		out = fopen(outfile, "w");
		if (out == NULL) {
			fprintf(stderr, "watch53 scan: -o %s: %s\n", outfile, strerror(errno));
			goto done_audit;
		}
	}
	if (output_write(out, fmt, &od) < 0 || fflush(out) != 0) {
		fprintf(stderr, "watch53 scan: writing results: %s\n", strerror(errno));
		goto done_audit;
	}
	if (sum.interrupted) {
		fprintf(stderr, "watch53 scan: interrupted: results are partial\n");
		status = EXIT_RUNTIME;
	} else {
		status = sum.hosts_open > 0 ? EXIT_FOUND : EXIT_CLEAN;
	}
done_audit:
	free(al);
	goto done;
usage:
	status = cli_usage_error("scan", NULL);
done:
	if (out != stdout && out != NULL && fclose(out) != 0 && status < EXIT_USAGE) {
		fprintf(stderr, "watch53 scan: -o %s: %s\n", outfile, strerror(errno));
		status = EXIT_RUNTIME;
	}
	scan_collect_clear(&col);
	shard_free(sh);
	targets_free(ts);
	free(ls);
	free(excludes);
	return status;
}
