/*
 * udp_flow: which UDP probe a datagram or an ICMP error on a shared socket belongs to. The
 * UDP module sends every query through a small pool of unconnected sockets per family, so
 * the kernel no longer filters by 5-tuple for us: this table does, and no weaker. Pure: no
 * I/O, no allocation after udp_flows_init, no logging.
 *
 * A flow is one probe: the address it probes, the pool socket it sends through (index
 * within its family's pool) and the transaction ID of each attempt. It lives in the probe's
 * own memory (the module's priv); the table only links it.
 */
#ifndef WATCH53_UDP_FLOW_H
#define WATCH53_UDP_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/netaddr.h"
#include "probes/dns.h"

#define UDP_FLOW_MAX_IDS 16

struct udp_flow {
	struct udp_flow *next; /* chain: owned by the table while linked */
	bool linked;
	void *owner;           /* the caller's (the probe) */
	struct net_addr dst;
	uint8_t sock;          /* pool socket, within dst's family */
	uint16_t ids[UDP_FLOW_MAX_IDS]; /* per attempt */
	unsigned nids;
};

struct udp_flows {
	struct udp_flow **buckets;
	size_t mask;
	uint64_t seed; /* keyed hash: the buckets of our targets are not the sender's choice */
};

/* What each flow's queries asked, and the port they went to. */
struct udp_flow_query {
	uint16_t port;
	const uint8_t *qname; /* wire form */
	size_t qname_len;
	uint16_t qtype;
};

/* Room for `capacity` flows at a low load. 0 or -ENOMEM. */
int udp_flows_init(struct udp_flows *t, unsigned capacity, uint64_t seed);
void udp_flows_clear(struct udp_flows *t);
/* Link f (dst and sock set); idempotent. Unlink: a no-op for a flow not linked. */
void udp_flows_add(struct udp_flows *t, struct udp_flow *f);
void udp_flows_del(struct udp_flows *t, struct udp_flow *f);
/* The flows probing `a` through pool socket `sock`: the first, and the one after f. */
struct udp_flow *udp_flows_find(const struct udp_flows *t, unsigned sock,
				const struct net_addr *a);
struct udp_flow *udp_flows_find_next(const struct udp_flow *f);

enum udp_flow_verdict {
	UDP_FLOW_STRAY = 0,  /* no flow of ours sends there: drop it */
	UDP_FLOW_UNVERIFIED, /* from a probed address and port to the socket its probe uses, but
			      * no reply with one of its IDs and its question (*why says why) */
	UDP_FLOW_REPLY,      /* a reply to *attempt of *f: same ID and question (dns.h) */
};

/*
 * A datagram that arrived on pool socket `sock` from src:sport. For REPLY, *f and *attempt
 * say whose and *r holds the parsed reply; for UNVERIFIED *f is the first flow of that
 * address and socket (udp_flows_find_next for the others) and *why a dns_error. A datagram
 * from any port but q->port is STRAY: with a connected socket the kernel dropped it.
 */
enum udp_flow_verdict udp_flow_judge(const struct udp_flows *t, const struct udp_flow_query *q,
				     unsigned sock, const struct net_addr *src, uint16_t sport,
				     const uint8_t *buf, size_t len, struct dns_reply *r,
				     struct udp_flow **f, int *attempt, int *why);

/*
 * An ICMP error from the error queue of pool socket `sock` about a datagram we sent to
 * dst:dport; `quoted` is what the error quotes of that datagram's payload (the DNS query:
 * often only its first octets, or nothing). Returns the flow it ends and sets *attempt, or
 * NULL. A quote long enough to hold the transaction ID must carry one of the flow's IDs
 * (*attempt is then that attempt); without one, the latest attempt (the kernel matched the
 * 5-tuple, as it did for a connected socket).
 */
struct udp_flow *udp_flow_judge_error(const struct udp_flows *t, const struct udp_flow_query *q,
				      unsigned sock, const struct net_addr *dst, uint16_t dport,
				      const uint8_t *quoted, size_t quoted_len, int *attempt);

#endif
