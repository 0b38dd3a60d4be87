/*
 * engine: the one event loop (epoll) running many probes at once. Addresses are pulled
 * from the caller one at a time as capacity frees up, so memory is bounded by the
 * concurrency, not by the size of the target set. Timing uses the monotonic clock.
 *
 * Schedule of one probe: attempt 0 at start, attempts 1..retries spread evenly inside
 * the timeout window (at k * timeout / (retries + 1)), the deadline at start + timeout.
 * Every transmission takes a token from one global packet rate limiter.
 */
#ifndef WATCH53_ENGINE_H
#define WATCH53_ENGINE_H

#include <stdint.h>

#include "probes/probe.h"

#define ENGINE_MAX_MODULES 4

struct engine_config {
	unsigned concurrency;    /* probes in flight (each module of each address counts one) */
	unsigned rate_pps;       /* transmissions per second; 0 = unlimited */
	uint64_t timeout_ns;     /* wait per probe, retries included */
	unsigned retries;        /* extra transmissions inside the timeout window */
	uint64_t tick_ns;        /* period of the tick callback; 0 = never */
	struct probe_options opts;
	const struct probe_module *modules[ENGINE_MAX_MODULES];
	unsigned nmodules;
};

struct engine_stats {
	uint64_t started;   /* addresses taken from the stream */
	uint64_t finished;  /* addresses whose record is complete */
	uint64_t open;      /* finished addresses with at least one open port */
	uint64_t packets;   /* transmissions */
	uint64_t elapsed_ns;
	unsigned in_flight; /* probes */
};

/* Return 1 with *addr and *target_index set, 0 when the stream ends, negative on error
 * (the run stops and returns it). */
typedef int (*engine_next_fn)(void *arg, struct net_addr *addr, uint32_t *target_index);
/* A complete record; the pointer is valid only during the call. */
typedef void (*engine_result_fn)(void *arg, const struct probe_result *r);
typedef void (*engine_tick_fn)(void *arg, const struct engine_stats *st);

struct engine;

struct engine *engine_new(const struct engine_config *cfg, char *err, size_t errlen);
/* Run until the stream is exhausted and every probe finished, or engine_stop().
 * 0, or a negative errno (epoll failure, stream error). */
int engine_run(struct engine *e, engine_next_fn next, engine_result_fn result,
	       engine_tick_fn tick, void *arg);
/* Async-signal-safe: no new probes start, probes in flight are abandoned without a
 * record, and engine_run() returns -EINTR. */
void engine_stop(struct engine *e);
void engine_get_stats(const struct engine *e, struct engine_stats *st);
void engine_free(struct engine *e);

#endif
