/*
 * output: scan results for people and programs — table (aligned, open ports first),
 * json (one document), jsonl (one record a line), csv — and the live progress line.
 * Field names and values follow docs/CONTRACT.md's result record.
 */
#ifndef WATCH53_OUTPUT_H
#define WATCH53_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/audit.h"
#include "probes/engine.h"
#include "probes/probe.h"

enum output_format { OUTPUT_TABLE = 0, OUTPUT_JSON, OUTPUT_JSONL, OUTPUT_CSV };

/* "table", "json", "jsonl", "csv". 0 or -EINVAL. */
int output_format_parse(const char *text, enum output_format *out);

struct scan_summary {
	bool audit;           /* local audit (no target given) */
	uint64_t started_wall_ns;
	uint64_t elapsed_ns;
	uint64_t addresses;   /* records */
	uint64_t tcp_open, udp_open, hosts_open;
	uint16_t port;
	uint64_t timeout_ns;
	unsigned retries, rate_pps, concurrency;
	bool tcp, udp;
	bool interrupted;     /* stopped by a signal: records are partial */
	unsigned checks;      /* DNS follow-up checks asked for (DNSCHECK_* bits) */
	uint64_t checked;     /* addresses they ran on */
	uint64_t checks_elapsed_ns; /* their pass (included in elapsed_ns) */
};

/* What `watch53 sniff` adds to each record (one per record, same index). */
struct output_passive {
	uint64_t first_seen_ns, last_seen_ns; /* packet times, wall clock */
	uint64_t packets;     /* packets from its DNS port */
	uint64_t responses;   /* well-formed DNS responses */
	uint64_t ra_responses; /* of those, offering recursion (RA) */
	bool udp, tcp;        /* protocols it proved itself a responder on */
	int in_targets;       /* 1/0 with a config, -1 without one */
};

/* The sniff run, in place of scan_summary. */
struct output_sniff {
	const char *source;   /* interface or file name */
	bool live;
	uint64_t started_wall_ns, elapsed_ns;
	uint64_t packets, decoded, truncated, malformed, unsupported, fragments;
	uint64_t dns_malformed, table_full;
	uint64_t kernel_dropped; /* live: packets the capture ring lost */
	uint64_t responders;  /* reported */
	uint64_t unknown;     /* outside the targets, not reported (passive.report_unknown) */
	uint64_t events;      /* events raised (with a config) */
	bool interrupted;     /* stopped by a signal */
	const char *file_error; /* a file cut short or corrupt: why reading stopped; or NULL */
};

/* Labels for the "target" field: the text of target number i. */
typedef const char *(*output_label_fn)(void *arg, uint32_t target_index);

struct output_data {
	const struct scan_summary *summary;
	const struct probe_result *records; /* any order: json/jsonl/csv are written by seq,
					     * the table open hosts first, then by address */
	size_t nrecords;
	output_label_fn label;
	void *label_arg;
	const struct audit_listener *listeners; /* audit only; NULL otherwise */
	size_t nlisteners;
	bool quiet; /* table: only hosts with an open port, then the counts and summary */
	/* sniff: the passive fields of each record (NULL for a scan; "source":"passive",
	 * first_seen, last_seen, packets, responses, ra_responses, protocols, in_targets) and
	 * the run's summary ("sniff" in json, a last line in the table) */
	const struct output_passive *passive;
	const struct output_sniff *sniff;
};

/* Write everything in the chosen format. Records with PROBE_STATE_NONE in a slot had
 * that protocol disabled: the slot is absent from the record. label may be NULL (the
 * target is then the address text). The table shows every record up to 50, beyond that
 * only open hosts and a count of the rest. 0, -ENOMEM or -EIO. */
int output_write(FILE *f, enum output_format fmt, const struct output_data *d);

/* Progress line on a terminal: redraws one line on `tty` ("\r...\033[K"):
 * done/total, open found, packets/s, ETA. output_progress_clear erases it. */
void output_progress(FILE *tty, const struct engine_stats *st, uint64_t total);
void output_progress_clear(FILE *tty);

#endif
