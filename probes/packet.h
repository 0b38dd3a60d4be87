/*
 * packet: decode one captured frame down to its transport header. Pure: no I/O, no malloc,
 * no logging, no globals. Every read is bounds-checked against the captured length; nothing
 * in a header (lengths, counts, offsets) is trusted beyond what was captured. Used by the
 * passive sniffer (any traffic, hostile included) and by the SYN scanner (its answers).
 *
 * Link types: Ethernet (with up to PKT_MAX_VLAN 802.1Q/802.1ad tags), Linux cooked v1 (SLL)
 * and v2 (SLL2, what the "any" device gives), BSD loopback (NULL: address family in host
 * byte order of the capturing machine, so both orders are accepted; LOOP: network order),
 * and raw IP (RAW, IPV4, IPV6).
 * Network: IPv4 (options skipped; fragments other than the first are not decoded) and IPv6
 * (at most PKT_MAX_EXT extension headers: hop-by-hop, routing, destination options,
 * fragment). Transport: UDP, TCP (options skipped), ICMP and ICMPv6 (for errors, the quoted
 * IP header and the first 8 octets of its transport header are decoded too).
 */
#ifndef WATCH53_PACKET_H
#define WATCH53_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/netaddr.h"

#define PKT_MAX_VLAN 2
#define PKT_MAX_EXT 8

/* What the frame starts with (capture.c maps libpcap's DLT_* values to these). */
enum pkt_link {
	PKT_LINK_UNKNOWN = 0,
	PKT_LINK_ETHERNET,
	PKT_LINK_SLL,
	PKT_LINK_SLL2,
	PKT_LINK_NULL,
	PKT_LINK_LOOP,
	PKT_LINK_RAW,
	PKT_LINK_IPV4,
	PKT_LINK_IPV6,
};

/* Return codes: decoding stops at the first problem and says which kind it was. */
enum pkt_error {
	PKT_OK = 0,
	PKT_E_TRUNCATED = -1,  /* the capture ends inside a header (snaplen, cut file) */
	PKT_E_MALFORMED = -2,  /* a header contradicts itself (IHL < 5, length < header...) */
	PKT_E_UNSUPPORTED = -3, /* not IP, an unknown link type, too many extension headers */
	PKT_E_FRAGMENT = -4,   /* a non-first fragment: no transport header in it */
};

enum pkt_proto { PKT_PROTO_OTHER = 0, PKT_PROTO_UDP, PKT_PROTO_TCP, PKT_PROTO_ICMP };

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10

/* The transport header quoted inside an ICMP error: enough to find the probe it answers. */
struct pkt_quote {
	bool present;
	struct net_addr src, dst;
	uint8_t proto;       /* IP protocol number of the quoted packet (6 = TCP, 17 = UDP) */
	uint16_t sport, dport;
	uint32_t seq;        /* TCP only: the quoted sequence number */
};

struct pkt_info {
	struct net_addr src, dst;
	uint8_t ttl;         /* IPv4 TTL or IPv6 hop limit */
	enum pkt_proto proto;
	uint8_t ipproto;     /* the IP protocol number actually found */
	bool fragmented;     /* the first fragment of a larger datagram: payload incomplete */
	uint16_t sport, dport;
	/* TCP */
	uint8_t tcp_flags;
	uint32_t seq, ack;
	/* ICMP / ICMPv6 */
	uint8_t icmp_type, icmp_code;
	struct pkt_quote quote;
	/* UDP/TCP payload inside the captured bytes; payload_len is what was captured of it,
	 * payload_wire what the headers say it should be (larger when the capture was cut) */
	const uint8_t *payload;
	size_t payload_len;
	size_t payload_wire;
};

/* Decode one frame of `caplen` captured octets. 0 and *out filled, or a negative
 * pkt_error (*out then holds what was decoded so far; do not rely on it). */
int pkt_decode(enum pkt_link link, const uint8_t *frame, size_t caplen, struct pkt_info *out);

/* Short lowercase text for a pkt_error ("truncated", ...). */
const char *pkt_strerror(int err);

/* The Internet checksum (RFC 1071) of a buffer, folded, not complemented; `sum` carries a
 * partial sum (e.g. a pseudo-header) in. For building probes. */
uint32_t pkt_csum_add(uint32_t sum, const void *data, size_t len);
uint16_t pkt_csum_fold(uint32_t sum);

#endif
