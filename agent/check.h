/*
 * check: one monitoring cycle — scan the configured targets, compare with the baseline,
 * commit the state with the events it raised (one transaction), move them to the outbox,
 * deliver what is due (bounded in time), write metrics. `watch53 check` runs one for cron; the daemon runs the same function on its
 * schedule (one code path).
 */
#ifndef WATCH53_CHECK_H
#define WATCH53_CHECK_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "agent/judge.h"
#include "alerts/event.h"
#include "common/netaddr.h"
#include "probes/probe.h"

struct check_result {
	struct alert_event *events; /* passive: raised (malloc'd); an active cycle hands its
				     * events to check_opts.event instead */
	size_t nevents;             /* raised */
	uint64_t addresses;
	uint64_t open_ports;        /* ports with evidence of being open this cycle */
	uint64_t unacknowledged;    /* open against expectation, not accepted */
	uint64_t expected_down;     /* expected open, reported closed */
	uint64_t new_exposures;     /* events that are exposures (alert_event_is_exposure) */
	uint64_t new_outages;       /* events that are outages (alert_event_is_outage) */
	uint64_t flapping;
	struct judge_names unack_names, down_names; /* the first few of each, for Nagios */
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

struct syn_io;

/* How the daemon runs a cycle; check_cycle() is check_cycle_opts() with only `deliver` set. */
struct check_opts {
	/* how long to wait for the state lock while another holds it (a `baseline` or
	 * `history` command beside the service); 0: not at all (exit 75) */
	uint64_t lock_wait_ns;
	bool deliver;       /* deliver the outbox after saving (the daemon has a thread for it) */
	bool alertmanager;  /* post the active set to alertmanager sinks after saving (amsync.h:
			     * every cycle, not the daemon's passive merges on its event loop) */
	const size_t *only; /* scan only these cfg->targets indexes (the daemon's per-interval
			     * groups); NULL: every target */
	size_t nonly;
	/* NULL, or a flag another thread sets to abandon the cycle: the scan stops within
	 * ~100 ms and the cycle returns -ECANCELED having saved nothing (no partial state, so
	 * no false `closed`) and spooled nothing */
	const atomic_int *cancel;
	/* raw sockets and capture for probe.tcp_mode "syn", opened by the daemon before it
	 * dropped its privileges (probes/syn.h); NULL: a SYN scan opens its own */
	struct syn_io *syn_io;
	/* NULL, or called with each event of an active cycle once it is committed, in the
	 * order raised (a cycle keeps no list of them: a first run over a million addresses
	 * raises a hundred thousand) */
	void (*event)(void *arg, const struct alert_event *ev);
	void *event_arg;
	/* Without `deliver`: NULL, or what another thread delivered (the daemon's delivery
	 * thread), for the metrics' delivery lines: true with *n, the events delivered since
	 * the last call (the count starts again), or false when nothing delivers (no sinks).
	 * Called from the cycle's thread once a cycle, after the commit. */
	bool (*delivered)(void *arg, uint64_t *n);
	void *delivered_arg;
};

int check_cycle_opts(const struct config *cfg, const struct check_opts *co,
		     struct check_result *res, char *err, size_t errlen);

/* After the state is saved a cycle delivers what is due for at most half its interval,
 * and never longer than this, so cron cycles stay bounded. */
#define CHECK_DELIVERY_BUDGET_NS (20ull * 1000000000ull)

/* Outbox directory of a config: <state_dir>/outbox. */
void check_outbox_dir(const struct config *cfg, char *buf, size_t len);

/* Move the events committed in the state's spool to the outbox (state_spool_move): what a
 * crash between a commit and its move left. Callers hold the lock; a cycle does this
 * itself, `alerts flush` and `baseline reset` before they deliver or set the state aside.
 * 0 or -errno with err; *moved counts the events moved. */
int check_spool_move(const struct config *cfg, size_t *moved, char *err, size_t errlen);

/* ---- passive observations (`watch53 sniff -c`, the daemon's capture) ---- */

struct check_passive_obs {
	struct net_addr addr;
	uint16_t port;
	bool proved[PROBE_NSLOTS];  /* protocols it proved itself a DNS responder on */
	uint64_t first_seen_ns;     /* seeds the ids of its events */
	bool in_targets;            /* set by check_passive_apply */
};

/*
 * Put passive observations through the same state machine and outbox as a cycle. A
 * responder is inside the targets when an address, prefix or range target holds it, or when
 * its baseline entry was recorded under a name target (names are not resolved here: the
 * daemon's loop must not wait on DNS). For each protocol it proved whose port the baseline
 * knows and has not reported open, the observation "open" (tcp: syn-ack, udp: dns-reply)
 * goes through baseline_apply, so confirm.open and flapping count as for a cycle's; its
 * events carry source "passive" and no DNS facts (the responses answered other people's
 * questions, not our probe). A port without a baseline is left to the next cycle, which
 * records one. Events reach the outbox before the state is saved; with co->deliver they
 * are delivered after it (bounded like a cycle's). Uses co->lock_wait_ns and co->deliver.
 * Sets obs[i].in_targets; res->events are the events raised. 0 or -errno with err
 * (-EWOULDBLOCK: another process holds the state_dir lock).
 */
int check_passive_apply(const struct config *cfg, const struct check_opts *co,
			struct check_passive_obs *obs, size_t n, struct check_result *res,
			char *err, size_t errlen);

#endif
