/* test_scheduler: grouping by interval, next-start computation, jitter bounds, no catch-up
 * burst after a clock jump or a suspend, SIGUSR1 triggers, reload carry-over. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "agent/scheduler.h"

#define S (1000000000ull)
#define MIN (60 * S)

static void
test_groups(void **state)
{
	/* targets 0, 2, 4 use the global 5 min, 1 and 3 their own 1 min, 5 its own 5 min
	 * (the same as the global: one group) */
	const uint64_t iv[] = { 0, MIN, 0, MIN, 0, 5 * MIN };
	struct scheduler s;

	(void)state;
	sched_init(&s);
	assert_int_equal(sched_build(&s, iv, 6, 5 * MIN, 1000), 0);
	assert_int_equal(s.ngroups, 2);
	assert_int_equal(s.groups[0].interval_ns, 5 * MIN);
	assert_int_equal(s.groups[0].ntargets, 4);
	assert_int_equal(s.groups[0].targets[0], 0);
	assert_int_equal(s.groups[0].targets[1], 2);
	assert_int_equal(s.groups[0].targets[2], 4);
	assert_int_equal(s.groups[0].targets[3], 5);
	assert_int_equal(s.groups[1].interval_ns, MIN);
	assert_int_equal(s.groups[1].ntargets, 2);
	assert_int_equal(s.groups[1].targets[0], 1);
	assert_int_equal(s.groups[1].targets[1], 3);
	/* every group is due at start */
	assert_int_equal(s.groups[0].next_ns, 1000);
	assert_int_equal(s.groups[1].next_ns, 1000);
	sched_clear(&s);
	assert_int_equal(s.ngroups, 0);

	assert_int_equal(sched_build(&s, iv, 0, 5 * MIN, 0), -EINVAL);
	assert_int_equal(sched_build(&s, iv, 1, 0, 0), -EINVAL); /* zero global interval */
	assert_int_equal(s.ngroups, 0);
	sched_clear(&s);
}

static void
test_jitter_bounds(void **state)
{
	const uint64_t ivs[] = { 1 * S, 300 * S, 7 * 24 * 3600 * S, 1234567891ull };
	uint64_t lo_seen = UINT64_MAX, hi_seen = 0;

	(void)state;
	for (size_t k = 0; k < sizeof(ivs) / sizeof(ivs[0]); k++) {
		uint64_t iv = ivs[k], lo = iv - iv / 10 - 1000, hi = iv + iv / 10 + 1000;
		assert_int_equal(sched_jitter(iv, 100), iv); /* the middle step: no jitter */
		assert_true(sched_jitter(iv, 0) >= lo && sched_jitter(iv, 0) < iv);
		assert_true(sched_jitter(iv, 200) <= hi && sched_jitter(iv, 200) > iv);
		for (uint32_t r = 0; r < 5000; r++) {
			uint32_t rnd = r * 2654435761u; /* spread over the whole 32-bit range */
			uint64_t j = sched_jitter(iv, rnd);
			assert_true(j >= lo);
			assert_true(j <= hi);
			if (iv == S) {
				lo_seen = j < lo_seen ? j : lo_seen;
				hi_seen = j > hi_seen ? j : hi_seen;
			}
		}
	}
	/* the spread is used, not collapsed onto one value: +-10 % of 1 s */
	assert_true(lo_seen <= 905 * S / 1000);
	assert_true(hi_seen >= 1095 * S / 1000);
}

/* The next start counts from the END of the cycle, plus the jittered interval. */
static void
test_next_from_end(void **state)
{
	const uint64_t iv[] = { 0 };
	struct scheduler s;
	uint64_t t = 50 * S;

	(void)state;
	sched_init(&s);
	assert_int_equal(sched_build(&s, iv, 1, 10 * S, t), 0);
	assert_int_equal(sched_due(&s, t), 0);
	sched_start(&s, 0);
	/* while it runs nothing is due and the loop waits for the cycle's end */
	assert_int_equal(sched_due(&s, t + 100 * S), -1);
	assert_int_equal(sched_next_wake(&s), SCHED_NONE);
	/* a cycle that took 3 s: next start 10 s after its end (rnd 100 = no jitter) */
	sched_done(&s, 0, t + 3 * S, 100);
	assert_int_equal(s.groups[0].next_ns, t + 13 * S);
	assert_int_equal(sched_next_wake(&s), t + 13 * S);
	assert_int_equal(sched_due(&s, t + 13 * S - 1), -1);
	assert_int_equal(sched_due(&s, t + 13 * S), 0);
	/* with jitter: within +-10 % */
	sched_start(&s, 0);
	sched_done(&s, 0, t + 20 * S, 0);
	assert_int_equal(s.groups[0].next_ns, t + 20 * S + 9 * S);
	sched_start(&s, 0);
	sched_done(&s, 0, t + 40 * S, 200);
	assert_int_equal(s.groups[0].next_ns, t + 40 * S + 11 * S);
	/* a cycle longer than the interval: the next one still waits a full interval after
	 * its end (never overlapping, never back to back) */
	sched_start(&s, 0);
	sched_done(&s, 0, t + 100 * S, 100);
	assert_int_equal(s.groups[0].next_ns, t + 110 * S);
	assert_int_equal(s.groups[0].cycles, 4);
	sched_clear(&s);
}

/*
 * A suspend (or a clock jump, or a stalled process): the loop looks again 100 intervals
 * late. Exactly one cycle is due; once it ran, the next is one interval after its end: no
 * burst of the 100 missed ones.
 */
static void
test_no_catch_up_burst(void **state)
{
	const uint64_t iv[] = { 0, 2 * S };
	struct scheduler s;
	uint64_t t = 1000 * S;
	unsigned started = 0;

	(void)state;
	sched_init(&s);
	assert_int_equal(sched_build(&s, iv, 2, S, t), 0);
	assert_int_equal(s.ngroups, 2);
	/* run both first cycles, 100 ms each */
	for (int k = 0; k < 2; k++) {
		long g = sched_due(&s, t);
		assert_true(g >= 0);
		sched_start(&s, (size_t)g);
		t += S / 10;
		sched_done(&s, (size_t)g, t, 100);
	}
	/* 100 s pass unseen */
	t += 100 * S;
	/* drive the loop as the daemon does, with cycles of 100 ms, for 5 s of clock */
	uint64_t until = t + 5 * S;
	uint64_t first_after = 0;
	while (t < until) {
		long g = sched_due(&s, t);
		if (g < 0) {
			uint64_t w = sched_next_wake(&s);
			assert_true(w != SCHED_NONE && w > t);
			t = w;
			continue;
		}
		started++;
		if (first_after == 0)
			first_after = t;
		sched_start(&s, (size_t)g);
		t += S / 10;
		sched_done(&s, (size_t)g, t, 100);
	}
	/* one cycle of each group at once (2), then the 1 s group every 1.1 s (cycle +
	 * interval) and the 2 s group every 2.1 s: 2 + 4 + 2 in 5 s. A catch-up would be ~150. */
	assert_true(started >= 6);
	assert_true(started <= 9);
	assert_int_equal(first_after, 1000 * S + 2 * S / 10 + 100 * S);
	sched_clear(&s);
}

/* Several groups due: the one due first runs first; they never run at the same time. */
static void
test_group_order(void **state)
{
	const uint64_t iv[] = { 10 * S, 3 * S };
	struct scheduler s;

	(void)state;
	sched_init(&s);
	assert_int_equal(sched_build(&s, iv, 2, 60 * S, 0), 0);
	s.groups[0].next_ns = 5 * S;
	s.groups[1].next_ns = 4 * S;
	assert_int_equal(sched_due(&s, 3 * S), -1);
	assert_int_equal(sched_next_wake(&s), 4 * S);
	assert_int_equal(sched_due(&s, 6 * S), 1);
	sched_start(&s, 1);
	assert_int_equal(sched_due(&s, 6 * S), -1); /* group 0 is due but waits */
	sched_done(&s, 1, 7 * S, 100);
	assert_int_equal(sched_due(&s, 7 * S), 0);  /* right after the other ends */
	assert_int_equal(s.groups[1].next_ns, 10 * S);
	/* equal due times: the lower index */
	s.groups[0].next_ns = s.groups[1].next_ns = 20 * S;
	assert_int_equal(sched_due(&s, 20 * S), 0);
	sched_clear(&s);
}

/* SIGUSR1: due now; while a cycle runs, again as soon as it ends (not an interval later). */
static void
test_trigger(void **state)
{
	const uint64_t iv[] = { 0, 7200 * S };
	struct scheduler s;

	(void)state;
	sched_init(&s);
	assert_int_equal(sched_build(&s, iv, 2, 3600 * S, 0), 0);
	s.groups[0].next_ns = 3600 * S;
	s.groups[1].next_ns = 7200 * S;
	sched_trigger(&s, 10 * S);
	assert_int_equal(s.groups[0].next_ns, 10 * S);
	assert_int_equal(s.groups[1].next_ns, 10 * S);
	assert_int_equal(sched_due(&s, 10 * S), 0);
	sched_start(&s, 0);
	sched_trigger(&s, 11 * S);
	assert_true(s.groups[0].again);
	sched_done(&s, 0, 12 * S, 100);
	assert_int_equal(s.groups[0].next_ns, 12 * S); /* again, at once */
	assert_false(s.groups[0].again);
	/* a trigger never postpones a group that is already due */
	s.groups[1].next_ns = 5 * S;
	sched_trigger(&s, 13 * S);
	assert_int_equal(s.groups[1].next_ns, 5 * S);
	sched_clear(&s);
}

/* A reload keeps the timing of intervals that still exist; new ones are due at once. */
static void
test_carry(void **state)
{
	const uint64_t iv_old[] = { 0, 30 * S }, iv_new[] = { 0, 0, 45 * S };
	struct scheduler old, s;

	(void)state;
	sched_init(&old);
	sched_init(&s);
	assert_int_equal(sched_build(&old, iv_old, 2, 60 * S, 0), 0);
	old.groups[0].next_ns = 100 * S;
	old.groups[0].cycles = 7;
	old.groups[1].next_ns = 50 * S;
	assert_int_equal(sched_build(&s, iv_new, 3, 60 * S, 90 * S), 0);
	sched_carry(&s, &old);
	assert_int_equal(s.ngroups, 2);
	assert_int_equal(s.groups[0].interval_ns, 60 * S);
	assert_int_equal(s.groups[0].next_ns, 100 * S);
	assert_int_equal(s.groups[0].cycles, 7);
	assert_int_equal(s.groups[1].interval_ns, 45 * S);
	assert_int_equal(s.groups[1].next_ns, 90 * S);
	sched_clear(&old);
	sched_clear(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_jitter_bounds),
		cmocka_unit_test(test_next_from_end),
		cmocka_unit_test(test_no_catch_up_burst),
		cmocka_unit_test(test_group_order),
		cmocka_unit_test(test_trigger),
		cmocka_unit_test(test_carry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
