/* metrics: the Prometheus text-format file for node_exporter's textfile collector,
 * written atomically after every cycle. */
#ifndef WATCH53_METRICS_H
#define WATCH53_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "agent/state.h"

struct metrics_cycle {
	uint64_t addresses;   /* probed this cycle */
	uint64_t duration_ns;
	uint64_t wall_ns;     /* when the cycle ended */
	long outbox_backlog;  /* -1 if unknown */
	const uint64_t *events_total; /* ALERT_NTYPES cumulative counters */
	uint64_t cycle;       /* entries with last_cycle == cycle were probed now */
	/* Alert delivery, written only when alerts_known (a cycle without sinks, or whose
	 * outbox could not be read, leaves them out rather than claim zeros). */
	bool alerts_known;
	uint64_t alerts_delivered;  /* events accepted by sinks in this cycle */
	uint64_t alerts_dead;       /* events in the outbox's dead-letter folders */
	uint64_t alerts_quarantined;/* files in the outbox's quarantine folders */
};

/* Render to a malloc'd string. 0 or -ENOMEM. */
int metrics_render(const struct state *st, const struct metrics_cycle *mc, char **out,
		   size_t *len);
/* Render and replace path atomically (mode 0644: node_exporter reads it). */
int metrics_write(const char *path, const struct state *st, const struct metrics_cycle *mc,
		  char *err, size_t errlen);

#endif
