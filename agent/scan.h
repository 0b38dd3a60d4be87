/* scan: run the probe engine over a stream of addresses and collect the records; the
 * `scan` command on top of it (CLI options, local audit, output). */
#ifndef WATCH53_SCAN_H
#define WATCH53_SCAN_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/output.h"
#include "agent/scan_syn.h"
#include "common/netaddr.h"
#include "probes/dnscheck.h"
#include "probes/engine.h"
#include "probes/udp.h"

#define SCAN_DEFAULT_TIMEOUT_NS (1000ull * 1000 * 1000)
#define SCAN_DEFAULT_RETRIES 2
#define SCAN_DEFAULT_RATE 30000
/* A UDP probe costs no descriptor and a probe slot a few hundred bytes: the default is a
 * memory cap (65536 slots: ~25 MB at most), which the open file limit lowers for TCP. It is
 * 2.5x what --rate 100000 with the default timeout keeps in flight on a mostly silent /16. */
#define SCAN_DEFAULT_CONCURRENCY 65536
/* descriptor tables (threads) a connect-mode scan may spread its TCP sockets over */
#define SCAN_MAX_WORKERS 4

/* The zones listed for the target a record came from (axfr, amplification): *n names, or
 * NULL with *n = 0. The strings must outlive the scan_collect the checks fill. */
typedef const char *const *(*scan_zones_fn)(void *arg, uint32_t target_index, size_t *n);

struct scan_opts {
	bool tcp, udp;
	uint16_t port;
	uint64_t timeout_ns;
	unsigned retries;
	unsigned rate_pps;
	unsigned concurrency;
	bool concurrency_set; /* by the user: a warning when the open file limit lowers it */
	char qname[DNS_MAX_TEXT_NAME];
	uint16_t qtype;
	bool rd;
	bool progress; /* draw the progress line on stderr */
	/* NULL, or a flag another thread (the daemon's loop) sets to abandon the scan: checked
	 * before it starts and every 100 ms while it runs; scan_execute then returns
	 * -ECANCELED and the records are to be thrown away (probes in flight have none). */
	const atomic_int *cancel;
	/* DNS follow-up checks (scan_checks): DNSCHECK_* bits (0: none), the canary name
	 * ("" = ". NS") and the address it must resolve to ("" = none), the zones per target */
	unsigned checks;
	char canary[DNS_MAX_TEXT_NAME];
	char canary_addr[NETADDR_STRLEN];
	scan_zones_fn zones;
	void *zones_arg;
	/* TCP by stateless SYN probes instead of connect() (scan_syn.h) */
	struct scan_syn syn;
	/* what earlier cycles know of each address's UDP port (a check cycle's state; none
	 * for `scan`): an ICMP error ends only an attempt of a port that answered before */
	struct udp_module_arg udp_history;
};

void scan_opts_init(struct scan_opts *o);

struct scan_collect {
	struct probe_result *recs;
	size_t n, cap;
	struct dnscheck_plan *plan; /* scan_checks: owns the facts the records point to */
};

/* Probe every address `next` yields; records are appended to *out in completion order
 * and then sorted into stream order. total sizes the progress line (0 = unknown).
 * 0 (also when SIGINT/SIGTERM interrupted it: sum->interrupted, records are partial),
 * -ECANCELED (o->cancel was set), or another negative errno. */
int scan_execute(const struct scan_opts *o, engine_next_fn next, void *arg, uint64_t total,
		 struct scan_collect *out, struct scan_summary *sum, char *err, size_t errlen);
void scan_collect_clear(struct scan_collect *c);

/* The same, each record handed to rec as it completes (completion order) instead of
 * collected: memory stays that of the probes in flight. rec returns 0, or -errno to stop
 * the scan (returned). */
typedef int (*scan_record_fn)(void *arg, const struct probe_result *r);
int scan_stream(const struct scan_opts *o, engine_next_fn next, void *arg, uint64_t total,
		scan_record_fn rec, void *rec_arg, struct scan_summary *sum, char *err,
		size_t errlen);

/*
 * The DNS follow-up checks (o->checks) on every record of *col with an open port: the UDP
 * checks where UDP is open, the TCP ones where TCP is open. A second engine pass with the
 * "dnscheck" module over one stream entry per query (probes/dnscheck.h), under the same
 * rate limit, timeout and retries as the scan. Sets each checked record's `checks` (the
 * facts live in col->plan) and the summary's check fields. Nothing to do without checks.
 * 0 (also when interrupted: sum->interrupted, facts are partial), -ECANCELED, -EINVAL (a
 * bad canary or zone: err says which) or another negative errno.
 */
int scan_checks(const struct scan_opts *o, struct scan_collect *col, struct scan_summary *sum,
		char *err, size_t errlen);

/* "recursion,version" (names as in probe.checks; "all", "none") to DNSCHECK_* bits.
 * 0 or -EINVAL with the offending name in err. */
int scan_parse_checks(const char *list, unsigned *bits, char *err, size_t errlen);

#endif
