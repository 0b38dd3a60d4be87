/*
 * engine: the one event loop (epoll) running many probes at once. Addresses are pulled
 * from the caller one at a time as capacity frees up, so memory is bounded by the
 * concurrency, not by the size of the target set. Timing uses the monotonic clock.
 *
 * Schedule of one probe: attempt 0 at start, attempts 1..retries spread evenly inside
 * the timeout window (at k * timeout / (retries + 1)), the deadline at start + timeout.
 * Every transmission takes a token from one global packet rate limiter. To keep system
 * calls per packet low at high rates, timers due within 0.5 ms share a wake-up (a deadline
 * is judged at most that late) and a waiting queue is served when half the bucket (half a
 * millisecond of packets) has refilled. Several engines on one stream: probes/pool.h.
 */
#ifndef WATCH53_ENGINE_H
#define WATCH53_ENGINE_H

#include <stdint.h>

#include "probes/probe.h"

#define ENGINE_MAX_MODULES 4
#define ENGINE_MAX_SHARED 4 /* in engine_config.shared */
/* all shared fds, the config's and those modules register in init (probe_ctx_watch) */
#define ENGINE_MAX_SHARED_ALL 64

/*
 * A shared fd: one socket or capture that serves every probe of a module (the SYN scanner
 * sends through one raw socket and hears every answer on one capture), registered once
 * per engine instead of per probe. When it is ready, on_event(arg, epoll events) runs on
 * the engine thread; it must not block, and it may finish any probe in flight (it finds
 * them itself, e.g. by address, and calls probe_finish()). Such probes are freed after the
 * whole epoll batch, like those finished from a per-probe event. Level-triggered: what
 * on_event leaves unread wakes it again on the next pass, before any deadline is judged.
 */
struct engine_shared_fd {
	int fd;
	uint32_t events;
	void (*on_event)(void *arg, uint32_t events);
	void *arg;
};

struct engine_config {
	unsigned concurrency;    /* probes in flight (each module of each address counts one) */
	unsigned rate_pps;       /* transmissions per second; 0 = unlimited */
	uint64_t timeout_ns;     /* wait per probe, retries included */
	unsigned retries;        /* extra transmissions inside the timeout window */
	uint64_t tick_ns;        /* period of the tick callback; 0 = never */
	struct probe_options opts;
	const struct probe_module *modules[ENGINE_MAX_MODULES];
	void *module_arg[ENGINE_MAX_MODULES]; /* per module, for probe_module_arg() */
	unsigned nmodules;
	struct engine_shared_fd shared[ENGINE_MAX_SHARED];
	unsigned nshared;
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
 * (the run stops and returns it), or ENGINE_NEXT_LATER: nothing yet, ask again after the
 * next event on a shared fd or timer (a pool's worker whose feed ran dry; the feeder wakes
 * it through a shared fd). */
#define ENGINE_NEXT_LATER 2
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
/* The record of the address the next engine_next_fn call returns gets `seq` (then the
 * count goes on from there). Without it records count from 0 in stream order; a pool that
 * feeds several engines from one stream numbers them itself, from inside its next_fn. */
void engine_set_next_seq(struct engine *e, uint64_t seq);
void engine_free(struct engine *e);

#endif
