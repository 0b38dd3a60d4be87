/*
 * passive: who answers DNS, judged from captured packets instead of probes. Pure: frames
 * come in (from a live capture or a file, see capture.h), a table of responders comes out;
 * no I/O, no clock (packet time stamps are the only time), no logging.
 *
 * A host counts as a responder on its DNS port (53 unless told otherwise) when it
 *  - sends a well-formed DNS response over UDP from that port (dns_parse_reply accepts it:
 *    QR set, one question (or none, in a FORMERR/SERVFAIL/NOTIMP/REFUSED reply: then only
 *    its rcode is taken), every record inside the message), or
 *  - completes a TCP handshake on that port: its SYN-ACK is followed by the client's ACK of
 *    it (the pair is remembered in a fixed-size table, PASSIVE_MAX_PENDING slots, the
 *    oldest overwritten), or
 *  - sends DNS data over TCP from that port: a segment holding one whole, well-formed,
 *    length-prefixed DNS response.
 * Everything else is counted and skipped: frames cut inside a header, headers that lie,
 * non-IP frames, fragments, datagrams from the port that are not well-formed DNS.
 * Memory is bounded: at most max_responders responders are tracked; more are counted.
 */
#ifndef WATCH53_PASSIVE_H
#define WATCH53_PASSIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/netaddr.h"
#include "probes/packet.h"

#define PASSIVE_MAX_RESPONDERS 65536
#define PASSIVE_MAX_PENDING 4096

#define PASSIVE_UDP 0x1u
#define PASSIVE_TCP 0x2u

struct passive_responder {
	struct net_addr addr;
	uint16_t port;
	uint64_t first_seen_ns;   /* packet time of the first proof (wall clock, ns) */
	uint64_t last_seen_ns;    /* packet time of the last packet from addr:port */
	uint64_t packets;         /* packets from addr:port, the proving one included */
	uint64_t responses;       /* well-formed DNS responses (UDP and TCP) */
	uint64_t ra_responses;    /* of those, with RA (recursion available) set */
	unsigned protocols;       /* PASSIVE_UDP | PASSIVE_TCP: where it proved itself */
	bool tcp_handshake;       /* completed a TCP handshake */
	bool tcp_dns;             /* sent a whole DNS response over TCP */
	/* the last well-formed response */
	bool has_facts;
	uint16_t rcode;
	bool aa, ra, tc;
};

struct passive_stats {
	uint64_t packets;       /* frames handed in */
	uint64_t decoded;       /* decoded down to the transport header */
	uint64_t truncated;     /* the capture ends inside a header, or inside a DNS message */
	uint64_t malformed;     /* a header contradicts itself */
	uint64_t unsupported;   /* not IP, an unknown link type, an endless header chain */
	uint64_t fragments;     /* IP fragments (a DNS message split by IP is not judged) */
	uint64_t dns_malformed; /* from the DNS port, but not a well-formed DNS response */
	uint64_t table_full;    /* proofs from responders beyond max_responders */
};

struct passive_opts {
	uint16_t port;          /* 0: 53 */
	size_t max_responders;  /* 0: PASSIVE_MAX_RESPONDERS */
};

struct passive;

/* NULL when out of memory. */
struct passive *passive_new(const struct passive_opts *o);
void passive_free(struct passive *pv);

/* Judge one frame captured at ts_ns. Returns 1 when it proved a new responder or a new
 * protocol of a known one, 0 otherwise, or a negative pkt_error for a frame that did not
 * decode (counted in the stats either way). */
int passive_packet(struct passive *pv, enum pkt_link link, uint64_t ts_ns,
		   const uint8_t *frame, size_t caplen);

/* Responders in the order they were first proven; the pointer stays valid until the next
 * passive_packet or passive_free. */
size_t passive_count(const struct passive *pv);
const struct passive_responder *passive_get(const struct passive *pv, size_t i);
void passive_get_stats(const struct passive *pv, struct passive_stats *st);

#endif
