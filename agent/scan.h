/* scan: run the probe engine over a stream of addresses and collect the records; the
 * `scan` command on top of it (CLI options, local audit, output). */
#ifndef WATCH53_SCAN_H
#define WATCH53_SCAN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/output.h"
#include "probes/engine.h"

#define SCAN_DEFAULT_TIMEOUT_NS (1000ull * 1000 * 1000)
#define SCAN_DEFAULT_RETRIES 2
#define SCAN_DEFAULT_RATE 30000
#define SCAN_DEFAULT_CONCURRENCY 8192

struct scan_opts {
	bool tcp, udp;
	uint16_t port;
	uint64_t timeout_ns;
	unsigned retries;
	unsigned rate_pps;
	unsigned concurrency;
	char qname[DNS_MAX_TEXT_NAME];
	uint16_t qtype;
	bool rd;
	bool progress; /* draw the progress line on stderr */
	/* NULL, or a flag another thread (the daemon's loop) sets to abandon the scan: checked
	 * before it starts and every 100 ms while it runs; scan_execute then returns
	 * -ECANCELED and the records are to be thrown away (probes in flight have none). */
	const volatile sig_atomic_t *cancel;
};

void scan_opts_init(struct scan_opts *o);

struct scan_collect {
	struct probe_result *recs;
	size_t n, cap;
};

/* Probe every address `next` yields; records are appended to *out in completion order
 * and then sorted into stream order. total sizes the progress line (0 = unknown).
 * 0 (also when SIGINT/SIGTERM interrupted it: sum->interrupted, records are partial),
 * -ECANCELED (o->cancel was set), or another negative errno. */
int scan_execute(const struct scan_opts *o, engine_next_fn next, void *arg, uint64_t total,
		 struct scan_collect *out, struct scan_summary *sum, char *err, size_t errlen);
void scan_collect_clear(struct scan_collect *c);

#endif
