/* metrics: Prometheus textfile exposition of the last cycle. */
#define _GNU_SOURCE
#include "agent/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

/* Label values escape backslash, quote and newline (text format 0.0.4). */
static void
put_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void
port_lines(FILE *f, const struct state *st, const char *metric, int kind, uint64_t cycle)
{
	for (size_t i = 0; i < st->n; i++) {
		const struct bl_entry *e = &st->entries[i];
		char addr[NETADDR_STRLEN];

		if (e->last_cycle != cycle)
			continue;
		net_addr_str(&e->addr, addr, sizeof(addr));
		for (int s = 0; s < PROBE_NSLOTS; s++) {
			const struct bl_port *p = &e->port[s];
			int v;

			if (!p->known)
				continue;
			if (kind == 0)
				v = p->last == PROBE_OPEN;
			else
				v = baseline_unacknowledged(e, (enum probe_slot)s);
			fprintf(f, "%s{address=\"%s\",protocol=\"%s\",target=\"", metric, addr,
				probe_slot_name((enum probe_slot)s));
			put_label(f, e->target ? e->target : "");
			fprintf(f, "\"} %d\n", v);
		}
	}
}

int
metrics_render(const struct state *st, const struct metrics_cycle *mc, char **out, size_t *len)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&buf, &blen);

	if (f == NULL)
		return -ENOMEM;
	fputs("# HELP watch53_port_open Whether the port gave evidence of being open in the last cycle.\n"
	      "# TYPE watch53_port_open gauge\n", f);
	port_lines(f, st, "watch53_port_open", 0, mc->cycle);
	fputs("# HELP watch53_port_unacknowledged Open against expectation and not accepted into the baseline.\n"
	      "# TYPE watch53_port_unacknowledged gauge\n", f);
	port_lines(f, st, "watch53_port_unacknowledged", 1, mc->cycle);
	fputs("# HELP watch53_events_total Events raised, by type.\n"
	      "# TYPE watch53_events_total counter\n", f);
	for (int t = 0; t < ALERT_NTYPES; t++)
		if (t != ALERT_TEST)
			fprintf(f, "watch53_events_total{type=\"%s\"} %" PRIu64 "\n",
				alert_type_name((enum alert_type)t),
				mc->events_total ? mc->events_total[t] : 0);
	fprintf(f, "# HELP watch53_last_cycle_timestamp_seconds When the last cycle ended.\n"
		   "# TYPE watch53_last_cycle_timestamp_seconds gauge\n"
		   "watch53_last_cycle_timestamp_seconds %.3f\n"
		   "# HELP watch53_cycle_duration_seconds How long the last cycle took.\n"
		   "# TYPE watch53_cycle_duration_seconds gauge\n"
		   "watch53_cycle_duration_seconds %.3f\n"
		   "# HELP watch53_addresses_probed Addresses probed in the last cycle.\n"
		   "# TYPE watch53_addresses_probed gauge\n"
		   "watch53_addresses_probed %" PRIu64 "\n"
		   "# HELP watch53_degraded Whether the last cycle could not probe (1) or could (0).\n"
		   "# TYPE watch53_degraded gauge\n"
		   "watch53_degraded %d\n",
		(double)mc->wall_ns / 1e9, (double)mc->duration_ns / 1e9, mc->addresses,
		st->degraded ? 1 : 0);
	if (mc->outbox_backlog >= 0)
		fprintf(f, "# HELP watch53_outbox_backlog Events waiting for delivery.\n"
			   "# TYPE watch53_outbox_backlog gauge\n"
			   "watch53_outbox_backlog %ld\n", mc->outbox_backlog);
	/* dead letters are a gauge of files (people remove them), not a counter: no _total */
	if (mc->alerts_known)
		fprintf(f, "# HELP watch53_alerts_delivered_last_cycle Events delivered to sinks in the last cycle.\n"
			   "# TYPE watch53_alerts_delivered_last_cycle gauge\n"
			   "watch53_alerts_delivered_last_cycle %" PRIu64 "\n"
			   "# HELP watch53_alerts_dead_letter Events given up on after max_age, waiting in dead-letter folders.\n"
			   "# TYPE watch53_alerts_dead_letter gauge\n"
			   "watch53_alerts_dead_letter %" PRIu64 "\n"
			   "# HELP watch53_alerts_quarantined Outbox files that did not parse, set aside in quarantine folders.\n"
			   "# TYPE watch53_alerts_quarantined gauge\n"
			   "watch53_alerts_quarantined %" PRIu64 "\n",
			mc->alerts_delivered, mc->alerts_dead, mc->alerts_quarantined);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*len = blen;
	return 0;
}

int
metrics_write(const char *path, const struct state *st, const struct metrics_cycle *mc,
	      char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc = metrics_render(st, mc, &text, &len);

	if (rc == 0)
		rc = file_write_atomic(path, text, len, 0644);
	if (rc < 0)
		snprintf(err, errlen, "metrics_file %s: %s", path, strerror(-rc));
	free(text);
	return rc;
}
