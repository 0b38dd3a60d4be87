/*
 * probe: what a probe module is, what it reports, and the services the engine offers it.
 * A module is one table entry of callbacks (zmap style); the engine owns the schedule
 * (when each attempt is sent, the rate limit, the deadline) and the event loop, a module
 * owns its sockets and its evidence. Nothing here knows about alerts or baselines.
 */
#ifndef WATCH53_PROBE_H
#define WATCH53_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/netaddr.h"
#include "probes/dns.h"

enum probe_state {
	PROBE_STATE_NONE = 0, /* not probed */
	PROBE_OPEN,
	PROBE_CLOSED,
	PROBE_FILTERED,
};

/* Which evidence decided a state (nmap's vocabulary where it has a word for it). */
enum probe_reason {
	PROBE_REASON_NONE = 0,
	PROBE_REASON_SYN_ACK,          /* tcp: handshake completed */
	PROBE_REASON_RESET,            /* tcp: RST */
	PROBE_REASON_DNS_REPLY,        /* udp: a DNS reply matching our query */
	PROBE_REASON_UDP_RESPONSE,     /* udp: a datagram that is not a matching DNS reply
					* (unverified: see probe_open_verified) */
	PROBE_REASON_PORT_UNREACH,     /* ICMP port unreachable */
	PROBE_REASON_HOST_UNREACH,     /* ICMP host unreachable / no route */
	PROBE_REASON_NET_UNREACH,      /* ICMP network unreachable */
	PROBE_REASON_PROTO_UNREACH,    /* ICMP protocol unreachable */
	PROBE_REASON_ADMIN_PROHIBITED, /* ICMP administratively prohibited */
	PROBE_REASON_NO_RESPONSE,      /* silence until the deadline */
	PROBE_REASON_ERROR,            /* local failure (see log) */
};

enum probe_slot { PROBE_SLOT_TCP = 0, PROBE_SLOT_UDP = 1, PROBE_NSLOTS };

const char *probe_state_name(enum probe_state s);   /* "open", "closed", "filtered", "" */
const char *probe_reason_name(enum probe_reason r); /* "syn-ack", "reset", ... */
const char *probe_slot_name(enum probe_slot s);     /* "tcp", "udp" */

struct probe_outcome {
	enum probe_state state;
	enum probe_reason reason;
	int64_t rtt_us; /* -1: nothing came back */
};

/*
 * Is this an open state backed by evidence an off-path host cannot forge? The reason says
 * it: a completed handshake (syn-ack) or a DNS reply matching our transaction ID and
 * question (dns-reply) is verified; a datagram that merely came from the probed address and
 * port (udp-response) is not, since anyone can put that source on a packet. False for any
 * state but open. The records' "verified" and the 2-cycle rule for unverified openings
 * both ask this, so the word has one owner.
 */
bool probe_open_verified(const struct probe_outcome *o);

/* DNS facts from the UDP probe's reply. valid only for a reply whose ID and question match
 * (or a refusal without a question whose ID matches: then rcode only, aa/ra/tc false). */
struct probe_dns_facts {
	bool present;    /* some datagram was examined */
	bool valid;
	char error[48];  /* why not valid, e.g. "transaction id mismatch" */
	uint16_t rcode;
	bool aa, ra, tc;
};

struct dnscheck_facts; /* probes/dnscheck.h */

/* One record per address: the plain struct that leaves probes/. */
struct probe_result {
	struct net_addr addr;
	uint32_t target_index; /* which target produced the address (caller's numbering) */
	uint64_t seq;          /* order in which the address came out of the target stream */
	uint16_t port;
	struct probe_outcome out[PROBE_NSLOTS];
	struct probe_dns_facts dns;
	/* Facts of the DNS follow-up checks (probes/dnscheck.h), or NULL when they did not run
	 * on this address. Owned by whoever ran them (the scan's collection), not the record:
	 * copies of the record share it. */
	const struct dnscheck_facts *checks;
};

/* Options shared by all modules of one scan; owned by the engine config. */
struct probe_options {
	uint16_t port;
	uint8_t qname[DNS_MAX_NAME]; /* UDP probe query, wire form */
	size_t qname_len;
	uint16_t qtype;
	bool rd;
	/* The module's own context for this scan, owned by the caller (the dnscheck module
	 * finds its plan of queries and the facts to fill here); NULL for tcp and udp. */
	void *ctx;
};

struct probe; /* one probe in flight: opaque, reached through the functions below */
struct probe_module_ctx; /* the engine while a module sets up what its probes share */

/*
 * A probe module. All callbacks run on the engine thread and must not block.
 * send:       transmit attempt number `attempt` (0 = first). Attempt 0 opens what the
 *             module needs; later attempts are retransmissions, spread by the engine
 *             inside the timeout window. Return 0, or a negative errno for a local
 *             failure (the engine then finishes the probe with PROBE_REASON_ERROR).
 *             A module may instead call probe_finish() from here (e.g. immediate refusal).
 * on_event:   an fd registered with probe_watch() is ready (epoll events).
 * on_timeout: the deadline passed without probe_finish(). NULL means filtered/no-response.
 *             It must call probe_finish().
 * release:    close everything; called exactly once per probe, also for a probe abandoned
 *             (engine_stop) before its first send: priv is zeroed, so check before closing.
 * init:       optional; once per engine (engine_new), before any probe: open what every
 *             probe of the module shares (a pool of sockets, a lookup table), register its
 *             fds with probe_ctx_watch() and set *state (probe_module_state() gives it to
 *             the probes). 0, or a negative errno with a one-line message in err.
 * fini:       optional; once, in engine_free, after every probe was released: close and
 *             free what init made. Called only if init succeeded.
 */
struct probe_module {
	const char *name;
	enum probe_slot slot;
	size_t priv_size; /* zeroed per probe; reached with probe_priv() */
	int (*send)(struct probe *p, unsigned attempt);
	void (*on_event)(struct probe *p, int fd, uint32_t events);
	void (*on_timeout)(struct probe *p);
	void (*release)(struct probe *p);
	int (*init)(struct probe_module_ctx *c, void **state, char *err, size_t errlen);
	void (*fini)(void *state);
};

/* The module table; lookup by name ("tcp", "udp"). NULL if unknown. */
extern const struct probe_module *const probe_modules[];
const struct probe_module *probe_module_find(const char *name);
extern const struct probe_module probe_module_tcp;
extern const struct probe_module probe_module_udp;
extern const struct probe_module probe_module_dnscheck;

/* Engine services for a module's init. */
void *probe_ctx_module_arg(const struct probe_module_ctx *c);
/* Probe slots of the engine: the most probes of this module in flight at once. */
unsigned probe_ctx_concurrency(const struct probe_module_ctx *c);
const struct probe_options *probe_ctx_opts(const struct probe_module_ctx *c);
/* Watch a shared fd for the engine's lifetime (the module closes it in fini, the engine
 * unregisters nothing). on_event runs on the engine thread when it is ready, level-
 * triggered, and may finish any probe of the module. 0 or -errno (-ENOSPC: too many). */
int probe_ctx_watch(struct probe_module_ctx *c, int fd, uint32_t events,
		    void (*on_event)(void *arg, uint32_t events), void *arg);

/* Engine services for modules. */
void *probe_priv(struct probe *p);
/* What the module's init set as *state; NULL without init. */
void *probe_module_state(const struct probe *p);
/* Has this probe its verdict? A shared fd's handler may still find a finished probe in its
 * tables until release; it must not take evidence for it any more. */
bool probe_done(const struct probe *p);
/* The argument the engine's caller gave this module (engine_config.module_arg): where a
 * module keeps what all its probes share (a raw socket, a capture, a lookup table).
 * NULL when none was given. */
void *probe_module_arg(const struct probe *p);
const struct net_addr *probe_addr(const struct probe *p);
const struct probe_options *probe_opts(const struct probe *p);
/* The caller's number for this probe's address (engine_next_fn's target_index): a module
 * whose work differs per stream entry (dnscheck: one query of its plan each) looks it up. */
uint32_t probe_target_index(const struct probe *p);
/* Register/unregister an fd with the loop. 0 or -errno. */
int probe_watch(struct probe *p, int fd, uint32_t epoll_events);
void probe_unwatch(struct probe *p, int fd);
/* Report the verdict. `attempt` is the attempt the evidence answers, for the RTT;
 * -1 when nothing came back. Later calls for a finished probe are ignored. */
void probe_finish(struct probe *p, enum probe_state state, enum probe_reason reason, int attempt);
/* Record an intermediate verdict (e.g. a datagram that is no matching reply: open,
 * unverified) that becomes final at the deadline unless probe_finish() comes first. It does
 * not stop the retransmissions; a later call replaces it. */
void probe_provisional(struct probe *p, enum probe_state state, enum probe_reason reason,
		       int attempt);
/* Stop further retransmissions (evidence arrived, but the probe waits for something better). */
void probe_stop_retries(struct probe *p);
/* The DNS facts of this probe's result record, for the module to fill. */
struct probe_dns_facts *probe_dns(struct probe *p);

#endif
