/* metrics: the Prometheus text-format file for node_exporter's textfile collector,
 * written atomically after every cycle. */
#ifndef WATCH53_METRICS_H
#define WATCH53_METRICS_H

#include <stdbool.h>
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
	 * outbox could not be read, leaves them out rather than claim zeros). The service
	 * delivers in a thread of its own: alerts_delivered is then what it delivered since
	 * the cycle before. */
	bool alerts_known;
	uint64_t alerts_delivered;  /* events accepted by sinks in this cycle */
	uint64_t alerts_dead;       /* events in the outbox's dead-letter folders */
	uint64_t alerts_quarantined;/* files in the outbox's quarantine folders */
};

/* Streaming: a cycle over many addresses writes them as they pass instead of holding them.
 * Each metric family stays contiguous in the file (the text format requires it). */
struct metrics_writer;
/* Begin the file at path (a temp file beside it, mode 0644): the port lines go in as the
 * cycle's entries pass by, so memory does not grow with them. vantage (config_vantage;
 * NULL: "") is the `vantage` label of every line and must outlive w. 0 or -errno with err. */
int metrics_writer_new(const char *path, const char *vantage, struct metrics_writer **out,
		       char *err, size_t errlen);
/* An entry judged in this cycle (the caller filters: last_cycle == the cycle): its known
 * ports' watch53_port_open, _unacknowledged and _expected_down lines (with the labels
 * expect and vantage), its findings (watch53_finding, grade.h, while a port is open), and
 * with obs (this cycle's observation of it; NULL: none) the watch53_probe_rtt_seconds of
 * each port that answered: the state keeps no round-trip times. 0 or -errno. */
int metrics_writer_entry(struct metrics_writer *w, const struct bl_entry *e,
			 const struct probe_result *obs);
/* The rest (events totals, cycle gauges, degraded, outbox, alerts from mc), then fsync and
 * rename over path. Frees w whatever happens. 0 or -errno with err. */
int metrics_writer_finish(struct metrics_writer *w, bool degraded, const struct metrics_cycle *mc,
			  char *err, size_t errlen);
/* Abandon an unfinished file (its temp file is removed). NULL is fine. */
void metrics_writer_free(struct metrics_writer *w);

/* Render to a malloc'd string (st's entries with last_cycle == mc->cycle; no round-trip
 * times: there is no observation). 0 or -errno. */
int metrics_render(const struct state *st, const struct metrics_cycle *mc, const char *vantage,
		   char **out, size_t *len);
/* Render and replace path atomically (mode 0644: node_exporter reads it), through a
 * metrics_writer. 0 or -errno with err. */
int metrics_write(const char *path, const struct state *st, const struct metrics_cycle *mc,
		  const char *vantage, char *err, size_t errlen);

#endif
