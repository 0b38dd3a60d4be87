/* scan: run the probe engine over a stream of addresses and collect the records; the
 * `scan` command on top of it (CLI options, local audit, output). */
#ifndef WATCH53_SCAN_H
#define WATCH53_SCAN_H

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
};

void scan_opts_init(struct scan_opts *o);

struct scan_collect {
	struct probe_result *recs;
	size_t n, cap;
};

/* Probe every address `next` yields; records are appended to *out in completion order
 * and then sorted into stream order. total sizes the progress line (0 = unknown).
 * 0, -EINTR (interrupted: records are partial), or another negative errno. */
int scan_execute(const struct scan_opts *o, engine_next_fn next, void *arg, uint64_t total,
		 struct scan_collect *out, struct scan_summary *sum, char *err, size_t errlen);
void scan_collect_clear(struct scan_collect *c);

#endif
