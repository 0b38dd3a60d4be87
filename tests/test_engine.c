/* test_engine: the scheduler, concurrency bound, rate limit and verdict plumbing of the
 * engine, driven by fake probe modules injected through the callback struct. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "probes/engine.h"

/* Module table entries the engine's translation unit does not need. */
const struct probe_module probe_module_tcp, probe_module_udp;

#define MAX_RECS 512

static struct {
	unsigned active, max_active;
	unsigned sends[MAX_RECS][16];
	uint64_t send_ns[MAX_RECS][16];
	unsigned nsend[MAX_RECS];
	struct probe_result recs[MAX_RECS];
	unsigned nrecs;
	unsigned released;
	int answer_attempt; /* fake_pipe: answer this attempt */
	struct engine *eng;
	unsigned stop_after;
} T;

struct fake_priv {
	int idx;
	int rfd, wfd;
	int have_pipe;
	int started; /* release also comes for probes abandoned before their first send */
};

static int
addr_index(const struct net_addr *a)
{
	return a->bytes[2] * 256 + a->bytes[3];
}

static int
fake_send_common(struct probe *p, unsigned attempt)
{
	struct fake_priv *fp = probe_priv(p);
	int i = addr_index(probe_addr(p));

	if (attempt == 0) {
		fp->idx = i;
		fp->started = 1;
		T.active++;
		if (T.active > T.max_active)
			T.max_active = T.active;
	}
	T.send_ns[i][T.nsend[i]] = util_now_ns();
	T.sends[i][T.nsend[i]++] = attempt;
	return 0;
}

static void
fake_release(struct probe *p)
{
	struct fake_priv *fp = probe_priv(p);

	if (fp->have_pipe) {
		close(fp->rfd);
		close(fp->wfd);
	}
	if (fp->started)
		T.active--;
	T.released++;
}

/* never answers: every address ends filtered/no-response */
static const struct probe_module fake_silent = {
	.name = "silent", .slot = PROBE_SLOT_UDP, .priv_size = sizeof(struct fake_priv),
	.send = fake_send_common, .release = fake_release,
};

/* answers at once from send() */
static int
instant_send(struct probe *p, unsigned attempt)
{
	fake_send_common(p, attempt);
	probe_finish(p, PROBE_OPEN, PROBE_REASON_SYN_ACK, (int)attempt);
	return 0;
}
static const struct probe_module fake_instant = {
	.name = "instant", .slot = PROBE_SLOT_TCP, .priv_size = sizeof(struct fake_priv),
	.send = instant_send, .release = fake_release,
};

/* answers through the event loop, only to attempt T.answer_attempt */
static int
pipe_send(struct probe *p, unsigned attempt)
{
	struct fake_priv *fp = probe_priv(p);
	int fds[2];

	fake_send_common(p, attempt);
	if (attempt == 0) {
		if (pipe(fds) == -1)
			return -errno;
		fp->rfd = fds[0];
		fp->wfd = fds[1];
		fp->have_pipe = 1;
		int rc = probe_watch(p, fp->rfd, EPOLLIN);
		if (rc < 0)
			return rc;
	}
	if ((int)attempt == T.answer_attempt) {
		char b = (char)attempt;
		if (write(fp->wfd, &b, 1) != 1)
			return -EIO;
	}
	return 0;
}
static void
pipe_event(struct probe *p, int fd, uint32_t events)
{
	char b;
	(void)events;
	if (read(fd, &b, 1) == 1)
		probe_finish(p, PROBE_OPEN, PROBE_REASON_DNS_REPLY, b);
}
static const struct probe_module fake_pipe = {
	.name = "pipe", .slot = PROBE_SLOT_UDP, .priv_size = sizeof(struct fake_priv),
	.send = pipe_send, .on_event = pipe_event, .release = fake_release,
};

/* a provisional verdict that must become final at the deadline */
static int
prov_send(struct probe *p, unsigned attempt)
{
	fake_send_common(p, attempt);
	probe_provisional(p, PROBE_OPEN, PROBE_REASON_UDP_RESPONSE, (int)attempt);
	probe_stop_retries(p);
	return 0;
}
static const struct probe_module fake_prov = {
	.name = "prov", .slot = PROBE_SLOT_UDP, .priv_size = sizeof(struct fake_priv),
	.send = prov_send, .release = fake_release,
};

static int
failing_send(struct probe *p, unsigned attempt)
{
	fake_send_common(p, attempt);
	return -EMFILE;
}
static const struct probe_module fake_failing = {
	.name = "failing", .slot = PROBE_SLOT_TCP, .priv_size = sizeof(struct fake_priv),
	.send = failing_send, .release = fake_release,
};

struct stream {
	unsigned n, pos;
	int fail_at; /* -1: never */
	unsigned max_live_jobs;
};

static int
next_addr(void *arg, struct net_addr *a, uint32_t *tidx)
{
	struct stream *s = arg;

	if ((int)s->pos == s->fail_at)
		return -EIO;
	if (s->pos >= s->n)
		return 0;
	memset(a, 0, sizeof(*a));
	a->family = 2; /* AF_INET */
	a->bytes[0] = 127;
	a->bytes[2] = (uint8_t)(s->pos / 256);
	a->bytes[3] = (uint8_t)(s->pos % 256);
	*tidx = 7;
	s->pos++;
	return 1;
}

static void
on_result(void *arg, const struct probe_result *r)
{
	(void)arg;
	assert_true(T.nrecs < MAX_RECS);
	T.recs[T.nrecs++] = *r;
	if (T.stop_after && T.nrecs == T.stop_after)
		engine_stop(T.eng);
}

static struct engine *
make_engine(const struct probe_module *m1, const struct probe_module *m2, unsigned conc,
	    unsigned rate, uint64_t timeout_ns, unsigned retries)
{
	struct engine_config c;
	char err[128];

	memset(&T, 0, sizeof(T));
	T.answer_attempt = -1;
	memset(&c, 0, sizeof(c));
	c.concurrency = conc;
	c.rate_pps = rate;
	c.timeout_ns = timeout_ns;
	c.retries = retries;
	c.opts.port = 53;
	c.modules[c.nmodules++] = m1;
	if (m2)
		c.modules[c.nmodules++] = m2;
	struct engine *e = engine_new(&c, err, sizeof(err));
	assert_non_null(e);
	T.eng = e;
	return e;
}

static void
test_every_address_once_within_concurrency(void **state)
{
	struct engine *e = make_engine(&fake_silent, NULL, 8, 0, 20 * NS_PER_MS, 0);
	struct stream s = { .n = 100, .fail_at = -1 };
	(void)state;

	assert_int_equal(engine_run(e, next_addr, on_result, NULL, &s), 0);
	assert_int_equal(T.nrecs, 100);
	assert_int_equal(T.max_active, 8);
	assert_int_equal(T.released, 100);
	int seen[100] = { 0 };
	for (unsigned i = 0; i < T.nrecs; i++) {
		const struct probe_result *r = &T.recs[i];
		int idx = addr_index(&r->addr);
		assert_in_range(idx, 0, 99);
		seen[idx]++;
		assert_int_equal(r->seq, (uint64_t)idx);
		assert_int_equal(r->target_index, 7);
		assert_int_equal(r->port, 53);
		assert_int_equal(r->out[PROBE_SLOT_UDP].state, PROBE_FILTERED);
		assert_int_equal(r->out[PROBE_SLOT_UDP].reason, PROBE_REASON_NO_RESPONSE);
		assert_true(r->out[PROBE_SLOT_UDP].rtt_us < 0);
		assert_int_equal(r->out[PROBE_SLOT_TCP].state, PROBE_STATE_NONE);
	}
	for (int i = 0; i < 100; i++)
		assert_int_equal(seen[i], 1);
	engine_free(e);
}

static void
test_retries_spread_inside_timeout(void **state)
{
	const uint64_t timeout = 300 * NS_PER_MS;
	struct engine *e = make_engine(&fake_silent, NULL, 4, 0, timeout, 2);
	struct stream s = { .n = 1, .fail_at = -1 };
	struct engine_stats st;
	(void)state;

	assert_int_equal(engine_run(e, next_addr, on_result, NULL, &s), 0);
	assert_int_equal(T.nsend[0], 3);
	for (unsigned k = 0; k < 3; k++)
		assert_int_equal(T.sends[0][k], k);
	/* attempt k goes out at k * timeout / 3, never earlier */
	for (unsigned k = 1; k < 3; k++) {
		uint64_t gap = T.send_ns[0][k] - T.send_ns[0][0];
		assert_true(gap >= k * timeout / 3);
		assert_true(gap < k * timeout / 3 + 150 * NS_PER_MS);
	}
	engine_get_stats(e, &st);
	/* the whole probe waits one timeout, not one per attempt */
	assert_true(st.elapsed_ns >= timeout);
	assert_true(st.elapsed_ns < 2 * timeout);
	assert_int_equal(st.packets, 3);
	engine_free(e);
}

static void
test_answer_to_retransmission_gives_its_rtt(void **state)
{
	struct engine *e = make_engine(&fake_pipe, NULL, 4, 0, 300 * NS_PER_MS, 2);
	struct stream s = { .n = 3, .fail_at = -1 };
	(void)state;

	T.answer_attempt = 1;
	assert_int_equal(engine_run(e, next_addr, on_result, NULL, &s), 0);
	assert_int_equal(T.nrecs, 3);
	for (unsigned i = 0; i < 3; i++) {
		const struct probe_outcome *o = &T.recs[i].out[PROBE_SLOT_UDP];
		assert_int_equal(o->state, PROBE_OPEN);
		assert_int_equal(o->reason, PROBE_REASON_DNS_REPLY);
		/* measured from attempt 1, which went out ~100 ms after attempt 0 */
		assert_true(o->rtt_us >= 0);
		assert_true(o->rtt_us < 50000);
		/* no third transmission after the answer */
		assert_int_equal(T.nsend[addr_index(&T.recs[i].addr)], 2);
	}
	engine_free(e);
}

static void
test_two_modules_make_one_record(void **state)
{
	struct engine *e = make_engine(&fake_instant, &fake_silent, 4, 0, 30 * NS_PER_MS, 0);
	struct stream s = { .n = 10, .fail_at = -1 };
	struct engine_stats st;
	(void)state;

	assert_int_equal(engine_run(e, next_addr, on_result, NULL, &s), 0);
	assert_int_equal(T.nrecs, 10);
	assert_true(T.max_active <= 4);
	for (unsigned i = 0; i < T.nrecs; i++) {
		assert_int_equal(T.recs[i].out[PROBE_SLOT_TCP].state, PROBE_OPEN);
		assert_int_equal(T.recs[i].out[PROBE_SLOT_TCP].reason, PROBE_REASON_SYN_ACK);
		assert_true(T.recs[i].out[PROBE_SLOT_TCP].rtt_us >= 0);
		assert_int_equal(T.recs[i].out[PROBE_SLOT_UDP].state, PROBE_FILTERED);
	}
	engine_get_stats(e, &st);
	assert_int_equal(st.finished, 10);
	assert_int_equal(st.open, 10);
	engine_free(e);
}

static void
test_rate_limit_is_never_exceeded(void **state)
{
	/* 200 pps with a burst of 1: 41 packets need at least 200 ms */
	struct engine *e = make_engine(&fake_instant, NULL, 64, 200, 50 * NS_PER_MS, 0);
	struct stream s = { .n = 41, .fail_at = -1 };
	struct engine_stats st;
	(void)state;

	assert_int_equal(engine_run(e, next_addr, on_result, NULL, &s), 0);
	engine_get_stats(e, &st);
	assert_int_equal(st.packets, 41);
	assert_true(st.elapsed_ns >= 195 * NS_PER_MS);
	/* consecutive sends are at least 1/rate apart (after the single-token burst) */
	for (unsigned i = 2; i < 41; i++)
		assert_true(T.send_ns[i][0] - T.send_ns[i - 1][0] >= 4 * NS_PER_MS);
	engine_free(e);
}

static void
test_provisional_becomes_final_at_deadline(void **state)
{
	struct engine *e = make_engine(&fake_prov, NULL, 4, 0, 60 * NS_PER_MS, 3);
	struct stream s = { .n = 2, .fail_at = -1 };
	(void)state;

	assert_int_equal(engine_run(e, next_addr, on_result, NULL, &s), 0);
	assert_int_equal(T.nrecs, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(T.recs[i].out[PROBE_SLOT_UDP].state, PROBE_OPEN);
		assert_int_equal(T.recs[i].out[PROBE_SLOT_UDP].reason, PROBE_REASON_UDP_RESPONSE);
		/* the RTT of the provisional evidence survives into the final verdict */
		assert_true(T.recs[i].out[PROBE_SLOT_UDP].rtt_us >= 0);
		assert_true(T.recs[i].out[PROBE_SLOT_UDP].rtt_us < 60000);
		assert_int_equal(T.nsend[i], 1); /* retries stopped */
	}
	engine_free(e);
}

static void
test_send_failure_is_an_error_verdict(void **state)
{
	struct engine *e = make_engine(&fake_failing, NULL, 4, 0, 60 * NS_PER_MS, 2);
	struct stream s = { .n = 3, .fail_at = -1 };
	(void)state;

	assert_int_equal(engine_run(e, next_addr, on_result, NULL, &s), 0);
	assert_int_equal(T.nrecs, 3);
	assert_int_equal(T.recs[0].out[PROBE_SLOT_TCP].state, PROBE_FILTERED);
	assert_int_equal(T.recs[0].out[PROBE_SLOT_TCP].reason, PROBE_REASON_ERROR);
	assert_int_equal(T.released, 3);
	engine_free(e);
}

static void
test_stop_and_stream_error(void **state)
{
	struct engine *e = make_engine(&fake_instant, NULL, 2, 0, 60 * NS_PER_MS, 0);
	struct stream s = { .n = 50, .fail_at = -1 };
	(void)state;

	T.stop_after = 5;
	assert_int_equal(engine_run(e, next_addr, on_result, NULL, &s), -EINTR);
	assert_true(T.nrecs >= 5 && T.nrecs < 50);
	engine_free(e);
	assert_int_equal(T.active, 0); /* abandoned probes were released */

	e = make_engine(&fake_silent, NULL, 4, 0, 60 * NS_PER_MS, 0);
	struct stream s2 = { .n = 50, .fail_at = 3 };
	assert_int_equal(engine_run(e, next_addr, on_result, NULL, &s2), -EIO);
	engine_free(e);
	assert_int_equal(T.active, 0);
}

/* A module whose answers come in on one shared fd (as the SYN scanner's capture does): send
 * writes the address index into a pipe, the shared callback reads them and finishes the
 * probes it looks up itself; the module reaches its table through probe_module_arg. */
struct shared_ctx {
	int rfd, wfd;
	struct probe *by_index[MAX_RECS];
	unsigned callbacks;
	unsigned args_ok;
};

static int
shared_send(struct probe *p, unsigned attempt)
{
	struct shared_ctx *c = probe_module_arg(p);
	uint16_t i = (uint16_t)addr_index(probe_addr(p));

	fake_send_common(p, attempt);
	c->args_ok++;
	c->by_index[i] = p;
	assert_int_equal(write(c->wfd, &i, sizeof(i)), (ssize_t)sizeof(i));
	return 0;
}

static void
shared_release(struct probe *p)
{
	struct shared_ctx *c = probe_module_arg(p);
	struct fake_priv *fp = probe_priv(p);

	if (fp->started)
		c->by_index[fp->idx] = NULL;
	fake_release(p);
}

static void
shared_on_event(void *arg, uint32_t events)
{
	struct shared_ctx *c = arg;
	uint16_t idx[64];
	ssize_t n;

	assert_true(events & EPOLLIN);
	c->callbacks++;
	n = read(c->rfd, idx, sizeof(idx));
	for (ssize_t k = 0; k < n / (ssize_t)sizeof(idx[0]); k++) {
		struct probe *p = c->by_index[idx[k]];

		assert_non_null(p); /* not released before its answer came */
		probe_finish(p, PROBE_OPEN, PROBE_REASON_SYN_ACK, 0);
		probe_finish(p, PROBE_CLOSED, PROBE_REASON_RESET, 0); /* later calls: ignored */
	}
}

static const struct probe_module fake_shared = {
	.name = "fake-shared", .slot = PROBE_SLOT_TCP, .priv_size = sizeof(struct fake_priv),
	.send = shared_send, .release = shared_release,
};

static void
test_shared_fd_finishes_probes(void **state)
{
	struct shared_ctx *c = calloc(1, sizeof(*c));
	struct stream s = { .n = 300, .fail_at = -1 };
	struct engine_config cfg;
	struct engine *e;
	char err[128];
	int fds[2];
	(void)state;

	assert_non_null(c);
	assert_int_equal(pipe(fds), 0);
	c->rfd = fds[0];
	c->wfd = fds[1];
	memset(&T, 0, sizeof(T));
	memset(&cfg, 0, sizeof(cfg));
	cfg.concurrency = 16;
	cfg.timeout_ns = 2 * NS_PER_SEC;
	cfg.retries = 1;
	cfg.opts.port = 53;
	cfg.modules[cfg.nmodules] = &fake_shared;
	cfg.module_arg[cfg.nmodules++] = c;
	cfg.shared[cfg.nshared++] = (struct engine_shared_fd){
		.fd = c->rfd, .events = EPOLLIN, .on_event = shared_on_event, .arg = c,
	};
	e = engine_new(&cfg, err, sizeof(err));
	assert_non_null(e);
	T.eng = e;
	uint64_t t0 = util_now_ns();
	assert_int_equal(engine_run(e, next_addr, on_result, NULL, &s), 0);
	/* every answer came through the shared fd, long before any deadline */
	assert_true(util_now_ns() - t0 < NS_PER_SEC);
	assert_int_equal(T.nrecs, 300);
	assert_int_equal(T.released, 300);
	assert_true(T.max_active <= 16);
	assert_true(c->callbacks >= 1);
	assert_int_equal(c->args_ok, 300); /* one send each: answered before any retry */
	for (unsigned i = 0; i < T.nrecs; i++) {
		assert_int_equal(T.recs[i].out[PROBE_SLOT_TCP].state, PROBE_OPEN);
		assert_int_equal(T.recs[i].out[PROBE_SLOT_TCP].reason, PROBE_REASON_SYN_ACK);
		assert_true(T.recs[i].out[PROBE_SLOT_TCP].rtt_us >= 0);
	}
	for (unsigned i = 0; i < 300; i++)
		assert_null(c->by_index[i]);
	engine_free(e);
	close(fds[0]);
	close(fds[1]);
	free(c);
}

/* A stream that says ENGINE_NEXT_LATER until its eventfd (a shared fd) has been read:
 * the engine must sleep on its fds, not spin, and go on once woken; the stream numbers the
 * records itself. */
struct later_stream {
	struct stream s;
	struct engine *e;
	int efd;
	unsigned laters, wakes;
	int ready;
};

static void
later_on_event(void *arg, uint32_t events)
{
	struct later_stream *ls = arg;
	uint64_t v;

	(void)events;
	if (read(ls->efd, &v, sizeof(v)) == sizeof(v)) {
		ls->wakes++;
		ls->ready = 1;
	}
}

static int
later_next(void *arg, struct net_addr *a, uint32_t *tidx)
{
	struct later_stream *ls = arg;
	int rc;

	if (!ls->ready) {
		ls->laters++;
		return ENGINE_NEXT_LATER;
	}
	engine_set_next_seq(ls->e, 1000 + 10 * ls->s.pos);
	rc = next_addr(&ls->s, a, tidx);
	/* every fifth address: run dry again until the next wake */
	if (rc == 1 && ls->s.pos % 5 == 0)
		ls->ready = 0;
	return rc;
}

static void
test_stream_later_and_own_numbering(void **state)
{
	struct later_stream ls = { .s = { .n = 20, .fail_at = -1 } };
	struct engine_config cfg;
	char err[128];
	uint64_t one = 1, t0;
	(void)state;

	memset(&T, 0, sizeof(T));
	memset(&cfg, 0, sizeof(cfg));
	ls.efd = eventfd(0, EFD_NONBLOCK);
	assert_true(ls.efd >= 0);
	cfg.concurrency = 8;
	cfg.timeout_ns = NS_PER_SEC;
	cfg.opts.port = 53;
	cfg.tick_ns = 0;
	cfg.modules[cfg.nmodules++] = &fake_instant;
	cfg.shared[cfg.nshared++] = (struct engine_shared_fd){
		.fd = ls.efd, .events = EPOLLIN, .on_event = later_on_event, .arg = &ls };
	ls.e = engine_new(&cfg, err, sizeof(err));
	assert_non_null(ls.e);
	T.eng = ls.e;
	/* wakes written in advance would be read as one: a child writes four more, 20 ms
	 * apart, so the engine must sleep between them */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (int k = 0; k < 4; k++) {
			usleep(20000);
			if (write(ls.efd, &one, sizeof(one)) != sizeof(one))
				_exit(1);
		}
		_exit(0);
	}
	t0 = util_now_ns();
	assert_int_equal(write(ls.efd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(engine_run(ls.e, later_next, on_result, NULL, &ls), 0);
	waitpid(pid, NULL, 0);
	assert_int_equal(T.nrecs, 20);
	/* five addresses a wake: ours, then the child's at 20, 40, 60 ms; the end of the
	 * stream is only said after the one at 80 ms */
	assert_true(util_now_ns() - t0 >= 75 * NS_PER_MS);
	assert_int_equal(ls.wakes, 5);
	/* a sleeping engine asks again only after an event: a handful of times, not a spin */
	assert_true(ls.laters >= 5 && ls.laters <= 40);
	for (unsigned i = 0; i < T.nrecs; i++) {
		unsigned idx = T.recs[i].addr.bytes[2] * 256u + T.recs[i].addr.bytes[3];
		assert_int_equal(T.recs[i].seq, 1000 + 10 * idx);
	}
	engine_free(ls.e);
	close(ls.efd);
}

static void
test_config_errors(void **state)
{
	struct engine_config c;
	char err[128];
	(void)state;

	memset(&c, 0, sizeof(c));
	c.concurrency = 4;
	c.timeout_ns = NS_PER_SEC;
	assert_null(engine_new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "no probe"));
	c.modules[c.nmodules++] = &fake_silent;
	c.retries = 99;
	assert_null(engine_new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "retries"));
	c.retries = 1;
	c.timeout_ns = 0;
	assert_null(engine_new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "timeout"));
	c.timeout_ns = NS_PER_SEC;
	c.modules[c.nmodules++] = NULL; /* a name the table did not know */
	assert_null(engine_new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown probe module"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_address_once_within_concurrency),
		cmocka_unit_test(test_retries_spread_inside_timeout),
		cmocka_unit_test(test_answer_to_retransmission_gives_its_rtt),
		cmocka_unit_test(test_two_modules_make_one_record),
		cmocka_unit_test(test_rate_limit_is_never_exceeded),
		cmocka_unit_test(test_provisional_becomes_final_at_deadline),
		cmocka_unit_test(test_send_failure_is_an_error_verdict),
		cmocka_unit_test(test_stop_and_stream_error),
		cmocka_unit_test(test_shared_fd_finishes_probes),
		cmocka_unit_test(test_stream_later_and_own_numbering),
		cmocka_unit_test(test_config_errors),
	};
	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
