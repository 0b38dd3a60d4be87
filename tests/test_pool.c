/* test_pool: several engines on one stream — every address once, numbered in stream order,
 * each worker with a descriptor table of its own, the rate split, errors and stops reaching
 * the caller — with fake probe modules injected through the callback struct. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "probes/pool.h"

/* Module table entries the engine's translation unit does not need. */
const struct probe_module probe_module_tcp, probe_module_udp;

#define N_ADDR 3000
#define HIGH_FD 900 /* above anything the test process holds */

static struct {
	pthread_mutex_t mu;
	pthread_t caller;
	unsigned seen[N_ADDR];       /* records per address */
	uint64_t seq_of[N_ADDR];
	unsigned nrecs;
	unsigned sends_off_caller;   /* sends on a thread other than the caller's */
	int init_fd[POOL_MAX_WORKERS];
	unsigned ninit;
	unsigned max_rate_seen;
	struct pool *pl;
	unsigned stop_after;
	unsigned result_off_caller;
} T = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
reset(void)
{
	pthread_mutex_t mu = T.mu;

	memset(&T, 0, sizeof(T));
	T.mu = mu;
	T.caller = pthread_self();
}

static unsigned
addr_index(const struct net_addr *a)
{
	return a->bytes[2] * 256u + a->bytes[3];
}

/* Each engine's init takes a descriptor at HIGH_FD or above: in tables of their own every
 * worker gets HIGH_FD itself, in one shared table they would get HIGH_FD, HIGH_FD + 1, ... */
static int
fdprobe_init(struct probe_module_ctx *c, void **state, char *err, size_t errlen)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, HIGH_FD);

	(void)c;
	if (fd < 0) {
		snprintf(err, errlen, "F_DUPFD: %s", strerror(errno));
		return -errno;
	}
	pthread_mutex_lock(&T.mu);
	if (T.ninit < POOL_MAX_WORKERS)
		T.init_fd[T.ninit++] = fd;
	pthread_mutex_unlock(&T.mu);
	*state = (void *)(intptr_t)fd;
	return 0;
}

static void
fdprobe_fini(void *state)
{
	close((int)(intptr_t)state);
}

/* even addresses answer at once, odd ones never (they end at the deadline) */
static int
fdprobe_send(struct probe *p, unsigned attempt)
{
	unsigned i = addr_index(probe_addr(p));

	(void)attempt;
	if (!pthread_equal(pthread_self(), T.caller)) {
		pthread_mutex_lock(&T.mu);
		T.sends_off_caller++;
		pthread_mutex_unlock(&T.mu);
	}
	if (i % 2 == 0)
		probe_finish(p, PROBE_OPEN, PROBE_REASON_SYN_ACK, (int)attempt);
	return 0;
}

static const struct probe_module fake_fdprobe = {
	.name = "fdprobe", .slot = PROBE_SLOT_TCP, .priv_size = 16,
	.send = fdprobe_send, .init = fdprobe_init, .fini = fdprobe_fini,
};

struct stream {
	unsigned n, pos;
	int fail_at; /* -1: never */
};

static int
next_addr(void *arg, struct net_addr *a, uint32_t *tidx)
{
	struct stream *s = arg;

	if (!pthread_equal(pthread_self(), T.caller))
		return -EPERM; /* the stream is the caller's thread's only */
	if ((int)s->pos == s->fail_at)
		return -EIO;
	if (s->pos >= s->n)
		return 0;
	memset(a, 0, sizeof(*a));
	a->family = 2; /* AF_INET */
	a->bytes[0] = 127;
	a->bytes[2] = (uint8_t)(s->pos / 256);
	a->bytes[3] = (uint8_t)(s->pos % 256);
	*tidx = 5;
	s->pos++;
	return 1;
}

static void
on_result(void *arg, const struct probe_result *r)
{
	unsigned i = addr_index(&r->addr);

	(void)arg;
	if (!pthread_equal(pthread_self(), T.caller))
		T.result_off_caller++;
	assert_true(i < N_ADDR);
	T.seen[i]++;
	T.seq_of[i] = r->seq;
	T.nrecs++;
	assert_int_equal(r->target_index, 5);
	assert_int_equal(r->out[PROBE_SLOT_TCP].state, i % 2 == 0 ? PROBE_OPEN : PROBE_FILTERED);
	if (T.stop_after && T.nrecs == T.stop_after)
		pool_stop(T.pl);
}

static void
make_config(struct engine_config *cfg, unsigned conc, unsigned rate)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->concurrency = conc;
	cfg->rate_pps = rate;
	cfg->timeout_ns = 30 * NS_PER_MS;
	cfg->retries = 1;
	cfg->opts.port = 53;
	cfg->modules[cfg->nmodules++] = &fake_fdprobe;
}

static void
test_every_address_once_in_stream_order(void **state)
{
	struct engine_config cfg;
	struct stream s = { .n = N_ADDR, .fail_at = -1 };
	struct engine_stats st;
	char err[256];
	(void)state;

	reset();
	make_config(&cfg, 64, 0);
	T.pl = pool_new(&cfg, 3, err, sizeof(err));
	assert_non_null(T.pl);
	assert_int_equal(pool_workers(T.pl), 3);
	assert_int_equal(pool_run(T.pl, next_addr, on_result, NULL, &s), 0);
	assert_int_equal(T.nrecs, N_ADDR);
	for (unsigned i = 0; i < N_ADDR; i++) {
		assert_int_equal(T.seen[i], 1);
		assert_int_equal(T.seq_of[i], i); /* the stream's numbering, not a worker's */
	}
	/* the probes ran on the workers, the stream and the records on this thread */
	assert_int_equal(T.sends_off_caller, N_ADDR + N_ADDR / 2); /* odd ones: a retry */
	assert_int_equal(T.result_off_caller, 0);
	pool_get_stats(T.pl, &st);
	assert_int_equal(st.started, N_ADDR);
	assert_int_equal(st.finished, N_ADDR);
	assert_int_equal(st.open, N_ADDR / 2);
	assert_int_equal(st.packets, N_ADDR + N_ADDR / 2);
	assert_int_equal(st.in_flight, 0);
	pool_free(T.pl);
}

static void
test_each_worker_has_its_own_descriptor_table(void **state)
{
	struct engine_config cfg;
	char err[256];
	(void)state;

	reset();
	make_config(&cfg, 16, 0);
	T.pl = pool_new(&cfg, 4, err, sizeof(err));
	assert_non_null(T.pl);
	/* the workers have initialised by now: all four got the same number */
	assert_int_equal(T.ninit, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(T.init_fd[i], HIGH_FD);
	/* and none of them is in the caller's table */
	assert_int_equal(fcntl(HIGH_FD, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	pool_free(T.pl);
}

static void
test_one_worker_runs_on_the_callers_thread(void **state)
{
	struct engine_config cfg;
	struct stream s = { .n = 200, .fail_at = -1 };
	char err[256];
	(void)state;

	reset();
	make_config(&cfg, 16, 0);
	T.pl = pool_new(&cfg, 1, err, sizeof(err));
	assert_non_null(T.pl);
	assert_int_equal(pool_workers(T.pl), 1);
	assert_int_equal(T.init_fd[0], HIGH_FD); /* in the caller's table */
	assert_true(fcntl(HIGH_FD, F_GETFD) >= 0);
	assert_int_equal(pool_run(T.pl, next_addr, on_result, NULL, &s), 0);
	assert_int_equal(T.nrecs, 200);
	assert_int_equal(T.sends_off_caller, 0);
	pool_free(T.pl);
	assert_int_equal(fcntl(HIGH_FD, F_GETFD), -1); /* fini closed it */
}

static void
test_rate_holds_across_workers_and_workers_capped(void **state)
{
	struct engine_config cfg;
	struct stream s = { .n = 40, .fail_at = -1 };
	char err[256];
	uint64_t t0, dt;
	(void)state;

	reset();
	/* 400 packets a second over 4 workers: 60 packets (40 first, 20 retries) take at
	 * least (60 - 4 bursts of 1) / 400 s however the addresses are dealt out */
	make_config(&cfg, 64, 400);
	T.pl = pool_new(&cfg, 4, err, sizeof(err));
	assert_non_null(T.pl);
	t0 = util_now_ns();
	assert_int_equal(pool_run(T.pl, next_addr, on_result, NULL, &s), 0);
	dt = util_now_ns() - t0;
	assert_int_equal(T.nrecs, 40);
	assert_true(dt >= 120 * NS_PER_MS);
	pool_free(T.pl);

	/* fewer packets a second than workers: a worker per packet a second */
	make_config(&cfg, 64, 2);
	T.pl = pool_new(&cfg, 4, err, sizeof(err));
	assert_non_null(T.pl);
	assert_int_equal(pool_workers(T.pl), 2);
	pool_free(T.pl);
	make_config(&cfg, 64, 0);
	T.pl = pool_new(&cfg, 99, err, sizeof(err));
	assert_non_null(T.pl);
	assert_int_equal(pool_workers(T.pl), POOL_MAX_WORKERS);
	pool_free(T.pl);
}

static void
test_stream_error_and_stop_reach_the_caller(void **state)
{
	struct engine_config cfg;
	struct stream s = { .n = N_ADDR, .fail_at = 1500 };
	char err[256];
	(void)state;

	reset();
	make_config(&cfg, 32, 0);
	T.pl = pool_new(&cfg, 3, err, sizeof(err));
	assert_non_null(T.pl);
	assert_int_equal(pool_run(T.pl, next_addr, on_result, NULL, &s), -EIO);
	assert_true(T.nrecs < N_ADDR);
	pool_free(T.pl);

	reset();
	s = (struct stream){ .n = N_ADDR, .fail_at = -1 };
	T.stop_after = 100;
	T.pl = pool_new(&cfg, 3, err, sizeof(err));
	assert_non_null(T.pl);
	assert_int_equal(pool_run(T.pl, next_addr, on_result, NULL, &s), -EINTR);
	assert_true(T.nrecs >= 100 && T.nrecs < N_ADDR);
	pool_free(T.pl);
}

static void
test_config_errors(void **state)
{
	struct engine_config cfg;
	char err[256];
	(void)state;

	reset();
	make_config(&cfg, 16, 0);
	cfg.shared[cfg.nshared++] = (struct engine_shared_fd){ .fd = 0, .events = 1 };
	assert_null(pool_new(&cfg, 2, err, sizeof(err)));
	assert_non_null(strstr(err, "one worker"));
	/* an engine that cannot start: its message, and no thread left behind */
	make_config(&cfg, 16, 0);
	cfg.timeout_ns = 0;
	assert_null(pool_new(&cfg, 3, err, sizeof(err)));
	assert_non_null(strstr(err, "timeout"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_address_once_in_stream_order),
		cmocka_unit_test(test_each_worker_has_its_own_descriptor_table),
		cmocka_unit_test(test_one_worker_runs_on_the_callers_thread),
		cmocka_unit_test(test_rate_holds_across_workers_and_workers_capped),
		cmocka_unit_test(test_stream_error_and_stop_reach_the_caller),
		cmocka_unit_test(test_config_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
