/*
 * engine: one epoll loop, a fixed table of probe slots (the concurrency), a min-heap of
 * slot wake-up times and a token bucket for the packet rate. Addresses are pulled from
 * the caller only when a whole address (all its modules) fits in the free slots.
 */
#define _GNU_SOURCE
#include "probes/engine.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

#define MAX_ATTEMPTS 16
#define EVENT_BATCH 256
#define ADMIT_BATCH 256 /* addresses started per loop pass */
#define TIMER_SLACK_NS (500 * 1000) /* see engine_run */
#define SHARED_TAG UINT32_MAX /* epoll data of a shared fd: tag << 32 | its number */

struct job {
	struct probe_result rec;
	unsigned pending; /* modules not finished */
	unsigned refs;    /* slots pointing here */
};

struct probe {
	struct engine *eng;
	const struct probe_module *mod;
	unsigned mod_index;  /* into cfg.modules */
	struct job *job;
	void *priv;
	unsigned index;      /* slot number */
	bool active;
	bool finished;
	bool retries_stopped;
	unsigned attempts;   /* sent so far */
	uint64_t t0;         /* first transmission */
	uint64_t sent_at[MAX_ATTEMPTS];
	uint64_t deadline;
	uint64_t wake;       /* heap key */
	unsigned heap_pos;   /* index in heap, or UINT32_MAX */
	bool queued;         /* waiting for a rate token */
	unsigned q_prev, q_next;
	struct probe_outcome prov; /* provisional verdict */
};

struct engine {
	struct engine_config cfg;
	int epfd;
	struct probe *slots;
	unsigned nslots;
	unsigned *free_list;
	unsigned nfree;
	unsigned *heap;
	unsigned heap_len;
	/* slots finished but not yet freed: a shared fd's callback can finish any probe, and
	 * those are freed after the batch (at most one entry per slot between two drains) */
	unsigned *reap_list;
	unsigned nreap;
	uint8_t *priv_area;
	size_t priv_stride;
	/* probes whose transmission is due but no token is there, oldest first: a FIFO
	 * instead of the heap, so a tight rate costs O(1) per packet, not a heap pass */
	unsigned q_head, q_tail;
	/* token bucket */
	double tokens;
	double burst;
	uint64_t tokens_at;
	struct engine_stats st;
	uint64_t seq;
	uint64_t start_ns;
	volatile sig_atomic_t stop;
	engine_result_fn result_cb;
	void *cb_arg;
	/* the config's shared fds, then those the modules registered in init */
	struct engine_shared_fd shared[ENGINE_MAX_SHARED_ALL];
	unsigned nshared;
	void *mod_state[ENGINE_MAX_MODULES];
	bool mod_inited[ENGINE_MAX_MODULES];
};

struct probe_module_ctx {
	struct engine *eng;
	unsigned mod_index;
};

/* ---- heap of slots keyed by wake time ---- */

static bool
heap_less(struct engine *e, unsigned a, unsigned b)
{
	return e->slots[e->heap[a]].wake < e->slots[e->heap[b]].wake;
}

static void
heap_swap(struct engine *e, unsigned a, unsigned b)
{
	unsigned t = e->heap[a];
	e->heap[a] = e->heap[b];
	e->heap[b] = t;
	e->slots[e->heap[a]].heap_pos = a;
	e->slots[e->heap[b]].heap_pos = b;
}

static void
heap_up(struct engine *e, unsigned i)
{
	while (i > 0) {
		unsigned parent = (i - 1) / 2;
		if (!heap_less(e, i, parent))
			break;
		heap_swap(e, i, parent);
		i = parent;
	}
}

static void
heap_down(struct engine *e, unsigned i)
{
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, m = i;
		if (l < e->heap_len && heap_less(e, l, m))
			m = l;
		if (r < e->heap_len && heap_less(e, r, m))
			m = r;
		if (m == i)
			break;
		heap_swap(e, i, m);
		i = m;
	}
}

static void
heap_remove(struct engine *e, struct probe *p)
{
	unsigned i = p->heap_pos;

	if (i == UINT32_MAX)
		return;
	e->heap_len--;
	if (i != e->heap_len) {
		heap_swap(e, i, e->heap_len);
		heap_down(e, i);
		heap_up(e, i);
	}
	p->heap_pos = UINT32_MAX;
}

static void
schedule(struct engine *e, struct probe *p, uint64_t when)
{
	p->wake = when;
	if (p->heap_pos == UINT32_MAX) {
		p->heap_pos = e->heap_len;
		e->heap[e->heap_len++] = p->index;
		heap_up(e, p->heap_pos);
	} else {
		heap_down(e, p->heap_pos);
		heap_up(e, p->heap_pos);
	}
}

/* ---- send queue (intrusive doubly linked list of slots) ---- */

#define Q_NONE UINT32_MAX

static void
queue_push(struct engine *e, struct probe *p)
{
	if (p->queued)
		return;
	p->queued = true;
	p->q_next = Q_NONE;
	p->q_prev = e->q_tail;
	if (e->q_tail != Q_NONE)
		e->slots[e->q_tail].q_next = p->index;
	else
		e->q_head = p->index;
	e->q_tail = p->index;
}

static void
queue_unlink(struct engine *e, struct probe *p)
{
	if (!p->queued)
		return;
	if (p->q_prev != Q_NONE)
		e->slots[p->q_prev].q_next = p->q_next;
	else
		e->q_head = p->q_next;
	if (p->q_next != Q_NONE)
		e->slots[p->q_next].q_prev = p->q_prev;
	else
		e->q_tail = p->q_prev;
	p->queued = false;
}

/* ---- rate limiter ---- */

static void
tokens_refill(struct engine *e, uint64_t now)
{
	if (e->cfg.rate_pps == 0)
		return;
	e->tokens += (double)(now - e->tokens_at) * e->cfg.rate_pps / 1e9;
	if (e->tokens > e->burst)
		e->tokens = e->burst;
	e->tokens_at = now;
}

static bool
token_take(struct engine *e, uint64_t now)
{
	if (e->cfg.rate_pps == 0)
		return true;
	tokens_refill(e, now);
	if (e->tokens < 1.0)
		return false;
	e->tokens -= 1.0;
	return true;
}

/* When the queue should be served again: once half the bucket has refilled, not at every
 * single token. Waking for each token costs a system call per packet at high rates; half
 * a bucket (half a millisecond of packets) sends them as one batch, no later than the rate
 * allows on average. */
static uint64_t
token_ready_at(struct engine *e, uint64_t now)
{
	double want = e->burst / 2 > 1.0 ? e->burst / 2 : 1.0;

	if (e->cfg.rate_pps == 0 || e->tokens >= want)
		return now;
	return now + (uint64_t)((want - e->tokens) * 1e9 / e->cfg.rate_pps) + 1;
}

/* ---- module services ---- */

void *
probe_ctx_module_arg(const struct probe_module_ctx *c)
{
	return c->eng->cfg.module_arg[c->mod_index];
}

unsigned probe_ctx_concurrency(const struct probe_module_ctx *c) { return c->eng->nslots; }
const struct probe_options *probe_ctx_opts(const struct probe_module_ctx *c) { return &c->eng->cfg.opts; }

static int
shared_add(struct engine *e, const struct engine_shared_fd *sh)
{
	struct epoll_event ev = { .events = sh->events };

	if (e->nshared >= ENGINE_MAX_SHARED_ALL)
		return -ENOSPC;
	ev.data.u64 = ((uint64_t)SHARED_TAG << 32) | e->nshared;
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, sh->fd, &ev) == -1)
		return -errno;
	e->shared[e->nshared++] = *sh;
	return 0;
}

int
probe_ctx_watch(struct probe_module_ctx *c, int fd, uint32_t events,
		void (*on_event)(void *arg, uint32_t events), void *arg)
{
	struct engine_shared_fd sh = { .fd = fd, .events = events, .on_event = on_event,
				       .arg = arg };

	return shared_add(c->eng, &sh);
}

void *probe_module_state(const struct probe *p) { return p->eng->mod_state[p->mod_index]; }
bool probe_done(const struct probe *p) { return !p->active || p->finished; }

void *probe_priv(struct probe *p) { return p->priv; }
void *probe_module_arg(const struct probe *p) { return p->eng->cfg.module_arg[p->mod_index]; }
const struct net_addr *probe_addr(const struct probe *p) { return &p->job->rec.addr; }
const struct probe_options *probe_opts(const struct probe *p) { return &p->eng->cfg.opts; }
uint32_t probe_target_index(const struct probe *p) { return p->job->rec.target_index; }
struct probe_dns_facts *probe_dns(struct probe *p) { return &p->job->rec.dns; }

int
probe_watch(struct probe *p, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events };

	ev.data.u64 = ((uint64_t)p->index << 32) | (uint32_t)fd;
	if (epoll_ctl(p->eng->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		return -errno;
	return 0;
}

void
probe_unwatch(struct probe *p, int fd)
{
	epoll_ctl(p->eng->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static int64_t
rtt_for(const struct probe *p, int attempt)
{
	if (attempt < 0 || (unsigned)attempt >= p->attempts)
		return -1;
	return (int64_t)((util_now_ns() - p->sent_at[attempt]) / 1000);
}

void
probe_provisional(struct probe *p, enum probe_state state, enum probe_reason reason, int attempt)
{
	p->prov.state = state;
	p->prov.reason = reason;
	p->prov.rtt_us = rtt_for(p, attempt);
}

void
probe_stop_retries(struct probe *p)
{
	p->retries_stopped = true;
	if (!p->finished)
		schedule(p->eng, p, p->deadline);
}

static void
job_release(struct engine *e, struct job *j)
{
	if (--j->refs == 0)
		free(j);
	(void)e;
}

static void
slot_release(struct engine *e, struct probe *p)
{
	heap_remove(e, p);
	queue_unlink(e, p);
	if (p->mod->release)
		p->mod->release(p);
	p->active = false;
	job_release(e, p->job);
	p->job = NULL;
	e->free_list[e->nfree++] = p->index;
	e->st.in_flight--;
}

/* Record the verdict of one module; the address's record is complete when all are in. */
static void
finish_with(struct probe *p, const struct probe_outcome *verdict)
{
	struct engine *e = p->eng;
	struct job *j = p->job;

	if (p->finished)
		return;
	p->finished = true;
	j->rec.out[p->mod->slot] = *verdict;
	if (--j->pending == 0) {
		e->st.finished++;
		for (unsigned s = 0; s < PROBE_NSLOTS; s++)
			if (j->rec.out[s].state == PROBE_OPEN) {
				e->st.open++;
				break;
			}
		if (e->result_cb)
			e->result_cb(e->cb_arg, &j->rec);
	}
	/* the slot itself is freed by the loop after the callback returns (see reap) */
	heap_remove(e, p);
	queue_unlink(e, p);
	if (e->nreap < e->nslots)
		e->reap_list[e->nreap++] = p->index;
}

void
probe_finish(struct probe *p, enum probe_state state, enum probe_reason reason, int attempt)
{
	struct probe_outcome o = { state, reason, rtt_for(p, attempt) };

	finish_with(p, &o);
}

/* ---- the loop ---- */

static void
reap(struct engine *e, struct probe *p)
{
	if (p->active && p->finished)
		slot_release(e, p);
}

/* Free every slot finished since the last drain (reap() is idempotent: a slot freed on
 * another path is inactive, or not finished yet if it was taken again). */
static void
reap_all(struct engine *e)
{
	for (unsigned i = 0; i < e->nreap; i++)
		reap(e, &e->slots[e->reap_list[i]]);
	e->nreap = 0;
}

static uint64_t
attempt_time(const struct engine *e, const struct probe *p, unsigned k)
{
	return p->t0 + e->cfg.timeout_ns * k / (e->cfg.retries + 1);
}

/* Transmit the next attempt if it is due and a token is there; then pick the next wake. */
static void
service(struct engine *e, struct probe *p, uint64_t now)
{
	unsigned max_attempts = e->cfg.retries + 1;

	if (!p->retries_stopped && p->attempts < max_attempts &&
	    (p->attempts == 0 || now >= attempt_time(e, p, p->attempts))) {
		if (!token_take(e, now)) {
			queue_push(e, p);
			return;
		}
		unsigned k = p->attempts++;
		p->sent_at[k] = now;
		if (k == 0)
			p->t0 = now;
		/* the window is measured from the first send; a late (rate-limited)
		 * retransmission still gets its share of the window to be answered */
		uint64_t share = e->cfg.timeout_ns / max_attempts;
		p->deadline = p->t0 + e->cfg.timeout_ns;
		if (p->deadline < now + share)
			p->deadline = now + share;
		e->st.packets++;
		int rc = p->mod->send(p, k);
		if (rc < 0) {
			probe_finish(p, PROBE_FILTERED, PROBE_REASON_ERROR, -1);
			return;
		}
		if (p->finished)
			return;
	}
	if (!p->retries_stopped && p->attempts < max_attempts) {
		uint64_t next = attempt_time(e, p, p->attempts);
		schedule(e, p, next < p->deadline ? next : p->deadline);
		return;
	}
	if (now >= p->deadline) {
		if (p->prov.state != PROBE_STATE_NONE)
			finish_with(p, &p->prov);
		else if (p->mod->on_timeout)
			p->mod->on_timeout(p);
		else
			probe_finish(p, PROBE_FILTERED, PROBE_REASON_NO_RESPONSE, -1);
		if (!p->finished) /* module broke its contract; do not spin */
			probe_finish(p, PROBE_FILTERED, PROBE_REASON_NO_RESPONSE, -1);
		return;
	}
	schedule(e, p, p->deadline);
}

/* Transmissions waiting for a token, oldest first, while there are tokens. */
static void
send_queued(struct engine *e, uint64_t now)
{
	while (e->q_head != Q_NONE) {
		struct probe *p = &e->slots[e->q_head];
		if (e->cfg.rate_pps) {
			tokens_refill(e, now);
			if (e->tokens < 1.0)
				break;
		}
		queue_unlink(e, p);
		service(e, p, now);
		reap(e, p);
	}
}

/*
 * May another address start? It needs a free slot per module, and under a rate limit an
 * empty send queue: a new probe's first packet must not queue ahead of the retransmissions
 * of probes in flight (they would slip out of their timeout window, and a silent probe would
 * hold its slot longer), so with many slots the rate, not the slot count, paces admission.
 */
static bool
admit_ok(const struct engine *e)
{
	return e->nfree >= e->cfg.nmodules && (e->cfg.rate_pps == 0 || e->q_head == Q_NONE);
}

static int
start_address(struct engine *e, engine_next_fn next, void *arg)
{
	struct net_addr addr;
	uint32_t tidx = 0;
	struct job *j;
	int rc;

	rc = next(arg, &addr, &tidx);
	if (rc <= 0 || rc == ENGINE_NEXT_LATER)
		return rc;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM;
	j->rec.addr = addr;
	j->rec.target_index = tidx;
	j->rec.seq = e->seq++;
	j->rec.port = e->cfg.opts.port;
	for (unsigned s = 0; s < PROBE_NSLOTS; s++)
		j->rec.out[s].rtt_us = -1;
	j->pending = e->cfg.nmodules;
	j->refs = e->cfg.nmodules;
	e->st.started++;
	for (unsigned m = 0; m < e->cfg.nmodules; m++) {
		unsigned idx = e->free_list[--e->nfree];
		struct probe *p = &e->slots[idx];
		p->mod = e->cfg.modules[m];
		p->mod_index = m;
		p->job = j;
		p->active = true;
		p->finished = false;
		p->retries_stopped = false;
		p->attempts = 0;
		p->prov.state = PROBE_STATE_NONE;
		p->prov.reason = PROBE_REASON_NONE;
		memset(p->priv, 0, e->priv_stride);
		e->st.in_flight++;
		/* first transmission waits for a token like every other */
		queue_push(e, p);
	}
	return 1;
}

struct engine *
engine_new(const struct engine_config *cfg, char *err, size_t errlen)
{
	struct engine *e = NULL;
	size_t stride = 0;

	if (cfg->nmodules == 0 || cfg->nmodules > ENGINE_MAX_MODULES) {
		snprintf(err, errlen, "no probe selected (enable tcp or udp)");
		return NULL;
	}
	for (unsigned m = 0; m < cfg->nmodules; m++)
		if (cfg->modules[m] == NULL) {
			/* a name the probe table does not know (probe_module_find) */
			snprintf(err, errlen, "unknown probe module");
			return NULL;
		}
	if (cfg->retries + 1 > MAX_ATTEMPTS) {
		snprintf(err, errlen, "retries: at most %d", MAX_ATTEMPTS - 1);
		return NULL;
	}
	if (cfg->timeout_ns == 0) {
		snprintf(err, errlen, "timeout must be greater than zero");
		return NULL;
	}
	if (cfg->nshared > ENGINE_MAX_SHARED) {
		snprintf(err, errlen, "at most %d shared fds", ENGINE_MAX_SHARED);
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		goto nomem;
	e->cfg = *cfg;
	e->epfd = -1;
	/* a whole address must fit, so never fewer slots than modules */
	e->nslots = cfg->concurrency < cfg->nmodules ? cfg->nmodules : cfg->concurrency;
	for (unsigned m = 0; m < cfg->nmodules; m++)
		if (cfg->modules[m]->priv_size > stride)
			stride = cfg->modules[m]->priv_size;
	stride = (stride + 15) & ~(size_t)15;
	if (stride == 0)
		stride = 16;
	e->priv_stride = stride;
	e->slots = calloc(e->nslots, sizeof(*e->slots));
	e->free_list = calloc(e->nslots, sizeof(*e->free_list));
	e->heap = calloc(e->nslots, sizeof(*e->heap));
	e->reap_list = calloc(e->nslots, sizeof(*e->reap_list));
	e->priv_area = calloc(e->nslots, stride);
	if (!e->slots || !e->free_list || !e->heap || !e->reap_list || !e->priv_area)
		goto nomem;
	for (unsigned i = 0; i < e->nslots; i++) {
		struct probe *p = &e->slots[i];
		p->eng = e;
		p->index = i;
		p->heap_pos = UINT32_MAX;
		p->priv = e->priv_area + (size_t)i * stride;
		e->free_list[e->nfree++] = e->nslots - 1 - i;
	}
	/* a burst of 1 ms worth of packets keeps the rate smooth but cheap to service */
	e->q_head = e->q_tail = Q_NONE;
	e->burst = cfg->rate_pps / 1000.0;
	if (e->burst < 1.0)
		e->burst = 1.0;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd == -1) {
		snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
		engine_free(e);
		return NULL;
	}
	for (unsigned k = 0; k < cfg->nshared; k++) {
		int rc = shared_add(e, &cfg->shared[k]);
		if (rc < 0) {
			snprintf(err, errlen, "epoll_ctl (shared fd %d): %s", cfg->shared[k].fd,
				 strerror(-rc));
			engine_free(e);
			return NULL;
		}
	}
	for (unsigned m = 0; m < cfg->nmodules; m++) {
		struct probe_module_ctx c = { .eng = e, .mod_index = m };

		if (cfg->modules[m]->init == NULL)
			continue;
		if (cfg->modules[m]->init(&c, &e->mod_state[m], err, errlen) < 0) {
			engine_free(e);
			return NULL;
		}
		e->mod_inited[m] = true;
	}
	return e;
nomem:
	snprintf(err, errlen, "out of memory for %u probe slots", cfg->concurrency);
	engine_free(e);
	return NULL;
}

void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	if (e->slots)
		for (unsigned i = 0; i < e->nslots; i++)
			if (e->slots[i].active) {
				e->slots[i].finished = true;
				slot_release(e, &e->slots[i]);
			}
	/* the probes are gone: now what they shared */
	for (unsigned m = 0; m < e->cfg.nmodules; m++)
		if (e->mod_inited[m] && e->cfg.modules[m]->fini != NULL)
			e->cfg.modules[m]->fini(e->mod_state[m]);
	if (e->epfd != -1)
		close(e->epfd);
	free(e->slots);
	free(e->free_list);
	free(e->heap);
	free(e->reap_list);
	free(e->priv_area);
	free(e);
}

void engine_stop(struct engine *e) { e->stop = 1; }
void engine_set_next_seq(struct engine *e, uint64_t seq) { e->seq = seq; }

void
engine_get_stats(const struct engine *e, struct engine_stats *st)
{
	*st = e->st;
	st->elapsed_ns = util_now_ns() - e->start_ns;
}

/* Dispatch one epoll batch. Finished slots are freed only after the whole batch, so no
 * stale event can hit a slot that was reused (with a recycled fd number) inside it. */
static void
dispatch(struct engine *e, const struct epoll_event *evs, int n)
{
	for (int i = 0; i < n; i++) {
		unsigned idx = (unsigned)(evs[i].data.u64 >> 32);
		int fd = (int)(uint32_t)evs[i].data.u64;
		struct probe *p;

		if (idx == SHARED_TAG) {
			unsigned k = (unsigned)(uint32_t)evs[i].data.u64;
			if (k < e->nshared)
				e->shared[k].on_event(e->shared[k].arg, evs[i].events);
			continue;
		}
		if (idx >= e->nslots)
			continue;
		p = &e->slots[idx];
		/* a probe finished earlier in this batch: its fds are closed */
		if (!p->active || p->finished)
			continue;
		p->mod->on_event(p, fd, evs[i].events);
	}
	for (int i = 0; i < n; i++) {
		unsigned idx = (unsigned)(evs[i].data.u64 >> 32);
		if (idx < e->nslots)
			reap(e, &e->slots[idx]);
	}
	reap_all(e);
}

/* Wait up to `ts` for the first batch, then take whatever else is ready without waiting:
 * a deadline must only be declared after every reply already waiting has been read. */
static int
drain_events(struct engine *e, struct epoll_event *evs, const struct timespec *ts)
{
	static const struct timespec zero = { 0, 0 };
	const struct timespec *wait = ts;

	/* bounded: EVENT_BATCH * 64 events per call, then the timers get their turn */
	for (int round = 0; round < 64; round++) {
		int n = epoll_pwait2(e->epfd, evs, EVENT_BATCH, wait, NULL);
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		dispatch(e, evs, n);
		if (n < EVENT_BATCH)
			break;
		wait = &zero;
	}
	return 0;
}

int
engine_run(struct engine *e, engine_next_fn next, engine_result_fn result, engine_tick_fn tick,
	   void *arg)
{
	static const struct timespec zero = { 0, 0 };
	struct epoll_event evs[EVENT_BATCH];
	bool stream_done = false;
	bool starved; /* the stream said ENGINE_NEXT_LATER in this pass */
	uint64_t next_tick;
	int rc = 0;

	e->result_cb = result;
	e->cb_arg = arg;
	e->start_ns = util_now_ns();
	e->tokens_at = e->start_ns;
	e->tokens = e->burst;
	next_tick = e->start_ns + e->cfg.tick_ns;

	for (;;) {
		uint64_t now = util_now_ns();

		if (e->stop) {
			rc = -EINTR;
			break;
		}
		reap_all(e);
		/* admit new addresses while whole addresses fit, a bounded number per pass so
		 * that replies to the first ones are read while later ones are still sent */
		starved = false;
		for (unsigned k = 0; k < ADMIT_BATCH && admit_ok(e) && !stream_done && !e->stop;
		     k++) {
			int r = start_address(e, next, arg);
			if (r < 0) {
				rc = r;
				goto out;
			}
			if (r == 0)
				stream_done = true;
			if (r == ENGINE_NEXT_LATER) {
				starved = true;
				break;
			}
			/* its first packets go now if there are tokens: the queue is empty again
			 * and the next address may start in this pass, not one address a pass */
			send_queued(e, now);
		}
		if (stream_done && e->st.in_flight == 0)
			break;
		send_queued(e, now);
		/* read every reply already there before any deadline is judged (or a retransmission
		 * sent that a reply makes needless); with no timer due nothing is judged in this
		 * pass, and the wait below reads them: a system call per pass saved at high rates */
		now = util_now_ns();
		if (e->heap_len > 0 && e->slots[e->heap[0]].wake <= now) {
			rc = drain_events(e, evs, &zero);
			if (rc < 0)
				break;
			now = util_now_ns();
		}
		/* due timers: retransmissions, deadlines */
		while (e->heap_len > 0) {
			struct probe *p = &e->slots[e->heap[0]];
			if (p->wake > now)
				break;
			heap_remove(e, p);
			service(e, p, now);
			reap(e, p);
		}
		reap_all(e);
		if (stream_done && e->st.in_flight == 0)
			break;

		if (e->cfg.tick_ns && tick && now >= next_tick) {
			engine_get_stats(e, &e->st);
			tick(arg, &e->st);
			next_tick = now + e->cfg.tick_ns;
		}

		/* timers due within the slack share one wake-up: at high rates a wake-up per
		 * retransmission or deadline is a system call per probe */
		uint64_t wake = e->heap_len > 0 ? e->slots[e->heap[0]].wake + TIMER_SLACK_NS
						: now + NS_PER_SEC;
		if (e->q_head != Q_NONE && token_ready_at(e, now) < wake)
			wake = token_ready_at(e, now);
		if (!stream_done && !starved && admit_ok(e))
			wake = now; /* more addresses to admit: do not sleep */
		if (e->cfg.tick_ns && tick && wake > next_tick)
			wake = next_tick;
		struct timespec ts = { 0, 0 };
		if (wake > now) {
			uint64_t d = wake - now;
			ts.tv_sec = (time_t)(d / NS_PER_SEC);
			ts.tv_nsec = (long)(d % NS_PER_SEC);
		}
		rc = drain_events(e, evs, &ts);
		if (rc < 0)
			break;
	}
out:
	engine_get_stats(e, &e->st);
	return rc;
}
