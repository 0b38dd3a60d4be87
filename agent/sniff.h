/*
 * sniff: passive detection — a capture (live or a file) feeding probes/passive.c's responder
 * table, and the hand-over of new responders to the state machine (check_passive_apply).
 * `watch53 sniff` runs one; the daemon runs one inside its event loop (passive.interface):
 * sniffer_fd() goes into its poll set, sniffer_dispatch() never waits, sniffer_apply()
 * runs between cycles.
 */
#ifndef WATCH53_SNIFF_H
#define WATCH53_SNIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/check.h"
#include "agent/config.h"
#include "agent/output.h"

#define SNIFF_DISPATCH_BATCH 1024

struct sniffer_opts {
	const char *iface;      /* live capture on this interface, or */
	const char *file;       /* read this pcap/pcapng file */
	const char *filter;     /* extra BPF expression, ANDed with the port's; NULL: none */
	uint16_t port;          /* the DNS port (0: 53) */
	bool promisc;
};

struct sniffer;

/* The sniffer in *out. 0, or a negative errno with a one-line message: -EPERM when a live
 * capture lacked CAP_NET_RAW. A live capture gets the filter "(udp or tcp) and port PORT"
 * (VLAN-tagged too); a file is read whole (the decoder judges and counts every frame)
 * unless a filter was given. */
int sniffer_open(const struct sniffer_opts *o, struct sniffer **out, char *err, size_t errlen);
void sniffer_free(struct sniffer *s);

/* Live: the fd to poll (readable when packets wait). -1 for a file. */
int sniffer_fd(const struct sniffer *s);
/* Judge at most max packets. Returns how many (0: none waiting now / end of the file),
 * -EINTR after sniffer_breakloop, -EIO with a message (a file cut short or corrupt: the
 * packets before the damage were judged). */
int sniffer_dispatch(struct sniffer *s, int max, char *err, size_t errlen);
/* Async-signal-safe: the running or next sniffer_dispatch returns -EINTR. */
void sniffer_breakloop(struct sniffer *s);
/* A live capture (-i), not a file (-r)? */
bool sniffer_live(const struct sniffer *s);
/* Packets read so far. */
uint64_t sniffer_packets(const struct sniffer *s);

/* Responders proved (or proved on another protocol) since the last sniffer_apply. */
bool sniffer_pending(const struct sniffer *s);
/* Hand those to check_passive_apply (with co's lock_wait_ns and deliver). 0 or -errno with
 * err; on -EWOULDBLOCK (the state_dir is locked) they stay pending for the next call. */
int sniffer_apply(struct sniffer *s, const struct config *cfg, const struct check_opts *co,
		  struct check_result *res, char *err, size_t errlen);

/* The responders: records and passive fields for output.c (arrays of n, malloc'd:
 * free() both). With cfg (may be NULL), responders outside the targets are left out unless
 * passive.report_unknown; *unknown counts those. 0 or -ENOMEM. */
int sniffer_records(struct sniffer *s, const struct config *cfg, struct probe_result **recs,
		    struct output_passive **pas, size_t *n, uint64_t *unknown);
/* Fill the counters of an output_sniff (source, live, packets...). */
void sniffer_summary(struct sniffer *s, struct output_sniff *out);

#endif
