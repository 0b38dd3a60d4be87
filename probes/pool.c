/*
 * pool: several engines, one stream (see pool.h). One mutex guards the rings and flags; it is
 * taken a few times per address, far below what a probe costs in system calls.
 */
#define _GNU_SOURCE
#include "probes/pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

#define IN_CAP 1024       /* addresses queued per worker: a few of the engine's admit passes */
#define OUT_CAP 4096      /* records waiting for the caller's thread */
#define LOCAL_CAP 64      /* addresses and records a worker moves per trip through the lock */
#define WORKER_TICK_NS (100 * NS_PER_MS) /* how soon a worker sees pool_stop() */
/* The caller's thread drains at least this often; a worker wakes it sooner only when the
 * records pile up, a worker runs dry or ends: a wake per record would cost a futex call
 * per record. */
#define MAIN_POLL_NS (20 * NS_PER_MS)

struct item {
	struct net_addr addr;
	uint32_t target_index;
	uint64_t seq;
};

struct worker {
	struct pool *pool;
	pthread_t thread;
	bool thread_started;
	struct engine *e;     /* used by its own thread only */
	int wakefd;           /* eventfd: the feeder wakes a worker whose ring ran dry */
	/* the worker's own: addresses taken and records not yet handed over */
	struct item take[LOCAL_CAP];
	unsigned take_pos, take_len;
	struct probe_result give[LOCAL_CAP];
	unsigned give_len;
	/* under pool.mu */
	struct item in[IN_CAP];
	unsigned in_head, in_len;
	bool in_closed;       /* the stream ended: once the ring is empty, next() says 0 */
	bool starved;         /* said ENGINE_NEXT_LATER and waits for a wake */
	bool init_done, done;
	int init_rc, rc;
	struct engine_stats st;
	char err[256];
};

struct pool {
	struct engine_config cfg;
	unsigned n;
	struct engine *solo;  /* n == 1: the engine on the caller's thread */
	struct worker *w;
	pthread_mutex_t mu;
	pthread_cond_t main_cv; /* the caller's thread waits for records or hungry workers */
	pthread_cond_t out_cv;  /* workers wait for room in out */
	pthread_cond_t go_cv;   /* workers wait for pool_run */
	bool go;
	bool main_waiting;
	struct probe_result out[OUT_CAP];
	unsigned out_head, out_len;
	volatile sig_atomic_t stop;
	/* the caller's thread only */
	uint64_t seq, finished, open, start_ns;
	struct item feed_batch[IN_CAP];
	struct probe_result drain_batch[256];
};

static void
lock(struct pool *pl)
{
	pthread_mutex_lock(&pl->mu);
}

static void
unlock(struct pool *pl)
{
	pthread_mutex_unlock(&pl->mu);
}

static void
wake_worker(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->wakefd, &one, sizeof(one)) < 0) {
		/* the counter is full: the worker has a wake pending anyway */
	}
}

/* ---- worker side ---- */

static void
worker_on_wake(void *arg, uint32_t events)
{
	struct worker *w = arg;
	uint64_t v;

	(void)events;
	if (read(w->wakefd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already drained */
	}
	if (w->pool->stop)
		engine_stop(w->e);
}

/* Hand the worker's records over; with `ending`, wake the caller's thread whatever the
 * count. Waits for room while the caller's thread catches up. */
static void
give_records(struct worker *w, bool ending)
{
	struct pool *pl = w->pool;
	unsigned k = 0;

	lock(pl);
	while (k < w->give_len && !pl->stop) {
		while (pl->out_len == OUT_CAP && !pl->stop)
			pthread_cond_wait(&pl->out_cv, &pl->mu);
		for (; k < w->give_len && pl->out_len < OUT_CAP; k++)
			pl->out[(pl->out_head + pl->out_len++) % OUT_CAP] = w->give[k];
	}
	/* stopped: the rest is dropped, as engine_stop() abandons probes in flight */
	w->give_len = 0;
	if (pl->main_waiting && (ending || pl->out_len >= OUT_CAP / 4))
		pthread_cond_signal(&pl->main_cv);
	unlock(pl);
}

static int
worker_next(void *arg, struct net_addr *addr, uint32_t *target_index)
{
	struct worker *w = arg;
	struct pool *pl = w->pool;
	struct item *it;

	if (pl->stop) {
		engine_stop(w->e);
		return ENGINE_NEXT_LATER;
	}
	if (w->give_len > 0)
		give_records(w, false);
	if (w->take_pos == w->take_len) {
		bool closed, hungry;

		lock(pl);
		w->take_pos = 0;
		w->take_len = w->in_len < LOCAL_CAP ? w->in_len : LOCAL_CAP;
		for (unsigned k = 0; k < w->take_len; k++)
			w->take[k] = w->in[(w->in_head + k) % IN_CAP];
		w->in_head = (w->in_head + w->take_len) % IN_CAP;
		w->in_len -= w->take_len;
		closed = w->in_closed;
		w->starved = w->take_len == 0 && !closed;
		hungry = w->in_len <= IN_CAP / 2 && !closed;
		if (pl->main_waiting && hungry)
			pthread_cond_signal(&pl->main_cv);
		unlock(pl);
		if (w->take_len == 0)
			return closed ? 0 : ENGINE_NEXT_LATER;
	}
	it = &w->take[w->take_pos++];
	*addr = it->addr;
	*target_index = it->target_index;
	engine_set_next_seq(w->e, it->seq);
	return 1;
}

static void
worker_result(void *arg, const struct probe_result *r)
{
	struct worker *w = arg;

	w->give[w->give_len++] = *r;
	if (w->give_len == LOCAL_CAP)
		give_records(w, false);
}

static void
worker_tick(void *arg, const struct engine_stats *st)
{
	struct worker *w = arg;

	if (w->pool->stop)
		engine_stop(w->e);
	if (w->give_len > 0)
		give_records(w, false);
	lock(w->pool);
	w->st = *st;
	unlock(w->pool);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *pl = w->pool;
	struct engine_config cfg = pl->cfg;
	unsigned i = (unsigned)(w - pl->w);
	struct engine_stats st;
	struct engine *e;
	int rc;

	/* A table of our own: the caller's descriptors are copied in, and ours stay ours. If
	 * that is refused (a seccomp filter), the caller's table and its budget are shared. */
	if (unshare(CLONE_FILES) != 0)
		cfg.concurrency /= pl->n;
	if (cfg.concurrency < cfg.nmodules)
		cfg.concurrency = cfg.nmodules;
	if (cfg.rate_pps)
		cfg.rate_pps = pl->cfg.rate_pps / pl->n + (i < pl->cfg.rate_pps % pl->n);
	cfg.tick_ns = WORKER_TICK_NS;
	cfg.shared[cfg.nshared++] = (struct engine_shared_fd){
		.fd = w->wakefd, .events = EPOLLIN, .on_event = worker_on_wake, .arg = w };
	e = engine_new(&cfg, w->err, sizeof(w->err));

	lock(pl);
	w->e = e;
	w->init_rc = e != NULL ? 0 : -EINVAL;
	w->init_done = true;
	pthread_cond_broadcast(&pl->main_cv);
	while (!pl->go && !pl->stop)
		pthread_cond_wait(&pl->go_cv, &pl->mu);
	unlock(pl);
	if (e == NULL)
		return NULL;

	rc = pl->stop ? -EINTR : engine_run(e, worker_next, worker_result, worker_tick, w);
	give_records(w, true);
	engine_get_stats(e, &st);
	engine_free(e); /* closes what it opened, in our table */

	lock(pl);
	w->st = st;
	w->rc = rc;
	w->done = true;
	pthread_cond_signal(&pl->main_cv);
	unlock(pl);
	return NULL;
}

/* ---- the caller's side ---- */

static void
stop_workers(struct pool *pl)
{
	pl->stop = 1;
	lock(pl);
	pthread_cond_broadcast(&pl->out_cv);
	pthread_cond_broadcast(&pl->go_cv);
	unlock(pl);
	for (unsigned i = 0; i < pl->n; i++)
		if (pl->w[i].thread_started)
			wake_worker(&pl->w[i]);
}

static void
join_workers(struct pool *pl)
{
	for (unsigned i = 0; i < pl->n; i++)
		if (pl->w[i].thread_started) {
			pthread_join(pl->w[i].thread, NULL);
			pl->w[i].thread_started = false;
		}
}

/* Start the threads with every signal blocked: signals stay the caller's thread's. */
static int
start_workers(struct pool *pl, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < pl->n && rc == 0; i++) {
		int prc = pthread_create(&pl->w[i].thread, NULL, worker_main, &pl->w[i]);
		if (prc != 0) {
			snprintf(err, errlen, "cannot start scan thread: %s", strerror(prc));
			rc = -prc;
		} else {
			pl->w[i].thread_started = true;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		return rc;
	lock(pl);
	for (unsigned i = 0; i < pl->n; i++) {
		while (!pl->w[i].init_done)
			pthread_cond_wait(&pl->main_cv, &pl->mu);
		if (pl->w[i].init_rc < 0 && rc == 0) {
			snprintf(err, errlen, "%s", pl->w[i].err);
			rc = pl->w[i].init_rc;
		}
	}
	unlock(pl);
	return rc;
}

struct pool *
pool_new(const struct engine_config *cfg, unsigned workers, char *err, size_t errlen)
{
	struct pool *pl;

	if (workers == 0)
		workers = 1;
	if (workers > POOL_MAX_WORKERS)
		workers = POOL_MAX_WORKERS;
	if (cfg->rate_pps && workers > cfg->rate_pps)
		workers = cfg->rate_pps; /* a token a second at least for each */
	if (workers > 1 && cfg->nshared > 0) {
		snprintf(err, errlen, "a shared fd serves one engine: one worker only");
		return NULL;
	}
	if (workers > 1 && cfg->nshared >= ENGINE_MAX_SHARED) {
		snprintf(err, errlen, "no room for the worker's wake fd");
		return NULL;
	}
	pl = calloc(1, sizeof(*pl));
	if (pl == NULL) {
		snprintf(err, errlen, "out of memory for the scan pool");
		return NULL;
	}
	pl->cfg = *cfg;
	pl->n = workers;
	if (workers == 1) {
		pl->solo = engine_new(cfg, err, errlen);
		if (pl->solo == NULL) {
			free(pl);
			return NULL;
		}
		return pl;
	}
	pthread_condattr_t ca;

	pthread_mutex_init(&pl->mu, NULL);
	/* timed waits on the clock util_now_ns() reads (CLOCK_MONOTONIC) */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pl->main_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&pl->out_cv, NULL);
	pthread_cond_init(&pl->go_cv, NULL);
	pl->w = calloc(workers, sizeof(*pl->w));
	if (pl->w == NULL) {
		snprintf(err, errlen, "out of memory for the scan pool");
		goto fail;
	}
	for (unsigned i = 0; i < workers; i++) {
		pl->w[i].pool = pl;
		pl->w[i].wakefd = -1;
	}
	for (unsigned i = 0; i < workers; i++) {
		pl->w[i].wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (pl->w[i].wakefd == -1) {
			snprintf(err, errlen, "eventfd: %s", strerror(errno));
			goto fail;
		}
	}
	if (start_workers(pl, err, errlen) < 0)
		goto fail;
	return pl;
fail:
	pool_free(pl);
	return NULL;
}

/* Fill every worker's ring from the stream. Returns 1 when the stream ended, 0 while it
 * goes on, negative on a stream error. */
static int
feed(struct pool *pl, engine_next_fn next, void *arg)
{
	struct item *batch = pl->feed_batch;

	for (unsigned i = 0; i < pl->n; i++) {
		struct worker *w = &pl->w[i];
		unsigned room, k = 0;
		bool wake = false;
		int r = 1;

		lock(pl);
		room = IN_CAP - w->in_len;
		unlock(pl);
		if (room < IN_CAP / 2)
			continue; /* refill in halves: fewer trips through the lock */
		while (k < room && (r = next(arg, &batch[k].addr, &batch[k].target_index)) == 1)
			batch[k++].seq = pl->seq++;
		lock(pl);
		for (unsigned j = 0; j < k; j++)
			w->in[(w->in_head + w->in_len + j) % IN_CAP] = batch[j];
		w->in_len += k;
		if (w->starved && k > 0) {
			w->starved = false;
			wake = true;
		}
		unlock(pl);
		if (wake)
			wake_worker(w);
		if (r < 0)
			return r;
		if (r == 0)
			return 1;
	}
	return 0;
}

static void
close_streams(struct pool *pl)
{
	for (unsigned i = 0; i < pl->n; i++) {
		lock(pl);
		pl->w[i].in_closed = true;
		pl->w[i].starved = false;
		unlock(pl);
		wake_worker(&pl->w[i]);
	}
}

/* Hand the waiting records to the caller; true if every worker is done and none is left. */
static bool
drain(struct pool *pl, engine_result_fn result, void *arg)
{
	struct probe_result *batch = pl->drain_batch;
	unsigned k;
	bool all_done = true;

	lock(pl);
	k = pl->out_len < 256 ? pl->out_len : 256;
	for (unsigned j = 0; j < k; j++)
		batch[j] = pl->out[(pl->out_head + j) % OUT_CAP];
	pl->out_head = (pl->out_head + k) % OUT_CAP;
	pl->out_len -= k;
	if (k > 0)
		pthread_cond_broadcast(&pl->out_cv);
	for (unsigned i = 0; i < pl->n; i++)
		all_done = all_done && pl->w[i].done;
	all_done = all_done && pl->out_len == 0;
	unlock(pl);
	for (unsigned j = 0; j < k; j++) {
		pl->finished++;
		for (unsigned s = 0; s < PROBE_NSLOTS; s++)
			if (batch[j].out[s].state == PROBE_OPEN) {
				pl->open++;
				break;
			}
		if (result != NULL)
			result(arg, &batch[j]);
	}
	return all_done;
}

/* Sleep until a record comes, a worker wants addresses, or `until`. */
static void
wait_for_work(struct pool *pl, bool stream_done, uint64_t until)
{
	struct timespec ts = { (time_t)(until / NS_PER_SEC), (long)(until % NS_PER_SEC) };
	bool hungry = false;

	lock(pl);
	for (unsigned i = 0; i < pl->n && !stream_done; i++)
		hungry = hungry || pl->w[i].in_len <= IN_CAP / 2;
	if (pl->out_len == 0 && !hungry && !pl->stop) {
		bool all_done = true;
		for (unsigned i = 0; i < pl->n; i++)
			all_done = all_done && pl->w[i].done;
		if (!all_done) {
			pl->main_waiting = true;
			pthread_cond_timedwait(&pl->main_cv, &pl->mu, &ts);
			pl->main_waiting = false;
		}
	}
	unlock(pl);
}

int
pool_run(struct pool *pl, engine_next_fn next, engine_result_fn result, engine_tick_fn tick,
	 void *arg)
{
	struct engine_stats st;
	bool stream_done = false;
	uint64_t next_tick;
	int rc = 0;

	if (pl->solo != NULL)
		return engine_run(pl->solo, next, result, tick, arg);
	pl->start_ns = util_now_ns();
	next_tick = pl->start_ns + pl->cfg.tick_ns;
	lock(pl);
	pl->go = true;
	pthread_cond_broadcast(&pl->go_cv);
	unlock(pl);
	for (;;) {
		uint64_t now, until;

		if (pl->stop) {
			rc = -EINTR;
			break;
		}
		if (!stream_done) {
			int r = feed(pl, next, arg);
			if (r < 0) {
				rc = r;
				break;
			}
			if (r == 1) {
				stream_done = true;
				close_streams(pl);
			}
		}
		if (drain(pl, result, arg))
			break;
		now = util_now_ns();
		if (pl->cfg.tick_ns && tick != NULL && now >= next_tick) {
			pool_get_stats(pl, &st);
			tick(arg, &st);
			next_tick = now + pl->cfg.tick_ns;
		}
		until = now + MAIN_POLL_NS;
		if (pl->cfg.tick_ns && tick != NULL && next_tick < until)
			until = next_tick;
		wait_for_work(pl, stream_done, until);
	}
	if (rc < 0)
		stop_workers(pl);
	join_workers(pl);
	for (unsigned i = 0; i < pl->n && rc == 0; i++)
		if (pl->w[i].rc < 0)
			rc = pl->w[i].rc;
	return rc;
}

void
pool_stop(struct pool *pl)
{
	pl->stop = 1;
	if (pl->solo != NULL)
		engine_stop(pl->solo);
}

unsigned pool_workers(const struct pool *pl) { return pl->n; }

void
pool_get_stats(struct pool *pl, struct engine_stats *st)
{
	if (pl->solo != NULL) {
		engine_get_stats(pl->solo, st);
		return;
	}
	memset(st, 0, sizeof(*st));
	lock(pl);
	for (unsigned i = 0; i < pl->n; i++) {
		st->started += pl->w[i].st.started;
		st->packets += pl->w[i].st.packets;
		st->in_flight += pl->w[i].st.in_flight;
	}
	unlock(pl);
	st->finished = pl->finished;
	st->open = pl->open;
	st->elapsed_ns = pl->start_ns ? util_now_ns() - pl->start_ns : 0;
}

void
pool_free(struct pool *pl)
{
	if (pl == NULL)
		return;
	if (pl->solo != NULL) {
		engine_free(pl->solo);
		free(pl);
		return;
	}
	if (pl->w != NULL) {
		stop_workers(pl);
		join_workers(pl);
		for (unsigned i = 0; i < pl->n; i++)
			if (pl->w[i].wakefd != -1)
				close(pl->w[i].wakefd);
		free(pl->w);
	}
	pthread_mutex_destroy(&pl->mu);
	pthread_cond_destroy(&pl->main_cv);
	pthread_cond_destroy(&pl->out_cv);
	pthread_cond_destroy(&pl->go_cv);
	free(pl);
}
