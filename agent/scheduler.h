/*
 * scheduler: when the daemon's scan cycles start. Pure: no clock, no I/O, no randomness of
 * its own; the caller passes the time (ns of one monotonic clock: the daemon uses
 * CLOCK_BOOTTIME, see daemon.c) and random numbers, so the tests drive it step by step.
 *
 * Targets are grouped by interval (a target's own "interval", else the global one); each
 * group is its own schedule. A group's next start is computed from the END of its previous
 * cycle, end + interval +- 10 % (jitter, so agents started together drift apart instead of
 * probing in lock-step), never by adding intervals to a fixed origin. So:
 *  - a cycle never overlaps the previous one of its group;
 *  - however far the clock moves between two looks (a suspend, a stopped or starved
 *    process), each group has at most one cycle due: nothing accumulates, there is no
 *    burst of catch-up cycles; the schedule resumes one interval after that cycle.
 * Groups run one at a time (the daemon has one cycle thread): when several are due, the one
 * due first runs first (then the lower index), a late group starts right after the running
 * one ends. A long cycle of one group therefore delays the others; it never skips them.
 */
#ifndef WATCH53_SCHEDULER_H
#define WATCH53_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCHED_JITTER_PERCENT 10
#define SCHED_NONE UINT64_MAX      /* "never" for sched_next_wake */

struct sched_group {
	uint64_t interval_ns;
	size_t *targets;    /* config target indexes, ascending */
	size_t ntargets;
	uint64_t next_ns;   /* when the next cycle is due */
	bool running;
	bool again;         /* sched_trigger() while running: due again as soon as it ends */
	uint64_t cycles;    /* cycles ended (done or failed) */
};

struct scheduler {
	struct sched_group *groups; /* by first appearance of their interval in the targets */
	size_t ngroups;
	bool running;       /* some group's cycle is running */
};

void sched_init(struct scheduler *s);
void sched_clear(struct scheduler *s);

/*
 * Group n targets: target i's interval is interval_ns[i], or global_ns when that is 0.
 * Every group is due at `now` (the daemon's first cycle runs at start). *s must be
 * sched_init()ed or sched_clear()ed; on error it is left empty. 0, -EINVAL (no target, a
 * zero interval) or -ENOMEM.
 */
int sched_build(struct scheduler *s, const uint64_t *interval_ns, size_t n, uint64_t global_ns,
		uint64_t now);

/* After a reload: a group of s whose interval a group of old also had keeps old's next
 * start (a reload does not make every group due at once); the others stay due at once. */
void sched_carry(struct scheduler *s, const struct scheduler *old);

/* interval * (1 + j) with j uniform in [-10 %, +10 %] in steps of 0.1 %, chosen by rnd (any
 * 32-bit value; rnd % 201 == 100 gives exactly the interval). */
uint64_t sched_jitter(uint64_t interval_ns, uint32_t rnd);

/* The group to start at `now`: none while a cycle runs; else the due group (next_ns <= now)
 * due first, then the lowest index. Its index, or -1. */
long sched_due(const struct scheduler *s, uint64_t now);

/* Group g starts now. */
void sched_start(struct scheduler *s, size_t g);

/* Group g's cycle ended at `end` (successfully or not): its next start is
 * end + sched_jitter(interval, rnd), or `end` if sched_trigger() asked for one meanwhile. */
void sched_done(struct scheduler *s, size_t g, uint64_t end, uint32_t rnd);

/* Every group due at `now` (SIGUSR1); a running one again as soon as it ends. */
void sched_trigger(struct scheduler *s, uint64_t now);

/* When the loop must look again: the earliest next_ns, or SCHED_NONE while a cycle runs
 * (its end wakes the loop) or when there is no group. */
uint64_t sched_next_wake(const struct scheduler *s);

#endif
