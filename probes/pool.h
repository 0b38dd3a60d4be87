/*
 * pool: one scan on several engines at once, each on a thread of its own with a descriptor
 * table of its own. A connect-mode TCP probe holds a socket per attempt for up to the whole
 * timeout, and the open file limit caps the descriptors of one table, not of a process: a
 * thread that unshares its table (unshare(CLONE_FILES), no privilege needed) brings a whole
 * budget of its own, and a core of its own where there is one.
 *
 * The caller's thread keeps the stream and the records: next(), result() and tick() run
 * only there, so nothing the caller owns (the files its stream opens, its database) is
 * touched from a worker or lands in a worker's table. Workers take addresses from a small
 * ring each and hand complete records back through one ring; memory stays bounded by the
 * rings and the workers' slots, not by the target set.
 *
 * With one worker there is no thread: the engine runs on the caller's thread, exactly as
 * engine_run() (SYN mode and module callbacks that read the caller's state need that).
 */
#ifndef WATCH53_POOL_H
#define WATCH53_POOL_H

#include <stddef.h>

#include "probes/engine.h"

#define POOL_MAX_WORKERS 8

struct pool;

/*
 * cfg->concurrency is each worker's slot count (what one descriptor table holds; a worker
 * that cannot unshare its table shares the caller's and takes its 1/workers part of it);
 * cfg->rate_pps is the whole pool's, split evenly; cfg->tick_ns is the period of the
 * caller's tick. With workers > 1 the modules run on the workers: every module_arg they
 * call must be safe on any thread, and cfg->shared must be empty (a shared fd serves one
 * engine). NULL with a one-line reason in err.
 */
struct pool *pool_new(const struct engine_config *cfg, unsigned workers, char *err,
		      size_t errlen);
/* engine_run()'s contract, for the whole pool: records arrive in completion order with the
 * stream's numbering in seq. 0, -EINTR after pool_stop(), or the first negative error. */
int pool_run(struct pool *pl, engine_next_fn next, engine_result_fn result, engine_tick_fn tick,
	     void *arg);
/* Async-signal-safe, as engine_stop(): the workers see it within their tick (100 ms). */
void pool_stop(struct pool *pl);
unsigned pool_workers(const struct pool *pl);
/* Sums over the workers (their figures are at most a tick old while they run). */
void pool_get_stats(struct pool *pl, struct engine_stats *st);
void pool_free(struct pool *pl);

#endif
