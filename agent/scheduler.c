/* scheduler: per-interval groups of targets and when each group's next cycle starts. */
#include "agent/scheduler.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void
sched_init(struct scheduler *s)
{
	memset(s, 0, sizeof(*s));
}

void
sched_clear(struct scheduler *s)
{
	for (size_t g = 0; g < s->ngroups; g++)
		free(s->groups[g].targets);
	free(s->groups);
	sched_init(s);
}

int
sched_build(struct scheduler *s, const uint64_t *interval_ns, size_t n, uint64_t global_ns,
	    uint64_t now)
{
	size_t *count = NULL;
	int rc = -ENOMEM;

	sched_clear(s);
	if (n == 0)
		return -EINVAL;
	/* at most n groups: one pass assigns groups, a second fills their target lists */
	s->groups = calloc(n, sizeof(*s->groups));
	count = calloc(n, sizeof(*count));
	if (s->groups == NULL || count == NULL)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		uint64_t iv = interval_ns[i] ? interval_ns[i] : global_ns;
		size_t g;

		if (iv == 0) {
			rc = -EINVAL; /* a zero interval would be a busy loop */
			goto bad;
		}
		for (g = 0; g < s->ngroups && s->groups[g].interval_ns != iv; g++)
			;
		if (g == s->ngroups) {
			s->groups[g].interval_ns = iv;
			s->groups[g].next_ns = now;
			s->ngroups++;
		}
		count[g]++;
	}
	for (size_t g = 0; g < s->ngroups; g++) {
		s->groups[g].targets = malloc(count[g] * sizeof(size_t));
		if (s->groups[g].targets == NULL)
			goto bad;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t iv = interval_ns[i] ? interval_ns[i] : global_ns;
		for (size_t g = 0; g < s->ngroups; g++)
			if (s->groups[g].interval_ns == iv) {
				struct sched_group *gr = &s->groups[g];
				gr->targets[gr->ntargets++] = i;
				break;
			}
	}
	free(count);
	return 0;
bad:
	free(count);
	sched_clear(s);
	return rc;
}

void
sched_carry(struct scheduler *s, const struct scheduler *old)
{
	for (size_t g = 0; g < s->ngroups; g++)
		for (size_t k = 0; k < old->ngroups; k++)
			if (old->groups[k].interval_ns == s->groups[g].interval_ns) {
				s->groups[g].next_ns = old->groups[k].next_ns;
				s->groups[g].cycles = old->groups[k].cycles;
				break;
			}
}

uint64_t
sched_jitter(uint64_t interval_ns, uint32_t rnd)
{
	/* 201 steps of 0.1 % from -10 % to +10 %; per mille, so a week's interval
	 * (6e14 ns) times 1100 stays far below 2^64 */
	long step = (long)(rnd % (2 * SCHED_JITTER_PERCENT * 10 + 1)) - SCHED_JITTER_PERCENT * 10;
	uint64_t base = interval_ns / 1000, rest = interval_ns % 1000;

	return (uint64_t)((int64_t)(base * 1000) + (int64_t)base * step) + rest;
}

long
sched_due(const struct scheduler *s, uint64_t now)
{
	long best = -1;

	if (s->running)
		return -1;
	for (size_t g = 0; g < s->ngroups; g++) {
		const struct sched_group *gr = &s->groups[g];
		if (gr->next_ns > now)
			continue;
		if (best < 0 || gr->next_ns < s->groups[best].next_ns)
			best = (long)g;
	}
	return best;
}

void
sched_start(struct scheduler *s, size_t g)
{
	if (g >= s->ngroups)
		return;
	s->groups[g].running = true;
	s->groups[g].again = false;
	s->running = true;
}

void
sched_done(struct scheduler *s, size_t g, uint64_t end, uint32_t rnd)
{
	struct sched_group *gr;

	if (g >= s->ngroups)
		return;
	gr = &s->groups[g];
	gr->running = false;
	gr->cycles++;
	s->running = false;
	gr->next_ns = gr->again ? end : end + sched_jitter(gr->interval_ns, rnd);
	gr->again = false;
}

void
sched_trigger(struct scheduler *s, uint64_t now)
{
	for (size_t g = 0; g < s->ngroups; g++) {
		if (s->groups[g].running)
			s->groups[g].again = true;
		else if (s->groups[g].next_ns > now)
			s->groups[g].next_ns = now;
	}
}

uint64_t
sched_next_wake(const struct scheduler *s)
{
	uint64_t w = SCHED_NONE;

	if (s->running)
		return SCHED_NONE;
	for (size_t g = 0; g < s->ngroups; g++)
		if (s->groups[g].next_ns < w)
			w = s->groups[g].next_ns;
	return w;
}
