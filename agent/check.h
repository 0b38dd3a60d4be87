/*
 * check: one monitoring cycle — scan the configured targets, compare with the baseline,
 * spool events to the outbox, save the state, write metrics. `watch53 check` runs one for
 * cron; the daemon runs the same function on its schedule (one code path).
 */
#ifndef WATCH53_CHECK_H
#define WATCH53_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "alerts/event.h"

struct check_result {
	struct alert_event *events; /* raised this cycle (malloc'd) */
	size_t nevents;
	uint64_t addresses;
	uint64_t open_ports;        /* ports with evidence of being open this cycle */
	uint64_t unacknowledged;    /* open against expectation, not accepted */
	uint64_t expected_down;     /* expected open, reported closed */
	uint64_t new_exposures;     /* opened events on expected-closed ports */
	uint64_t flapping;
	bool degraded;
	bool first_cycle;
	uint64_t duration_ns;
	int name_failures;          /* targets whose names did not resolve */
};

void check_result_clear(struct check_result *r);

/*
 * Run one cycle with an already validated config. The caller holds no lock: this takes it.
 * 0 on success, -EWOULDBLOCK when another cycle holds the lock, -EBADMSG for a corrupt
 * state (moved aside), other negative errno for runtime failures; err says why.
 */
int check_cycle(const struct config *cfg, struct check_result *res, char *err, size_t errlen);

/* Outbox directory of a config: <state_dir>/outbox. */
void check_outbox_dir(const struct config *cfg, char *buf, size_t len);

#endif
