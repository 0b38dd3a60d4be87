/*
 * syn: the stateless TCP SYN probe (zmap/masscan style) as a probe module. Each attempt is
 * one SYN built here and sent through a packet socket (Ethernet through a gateway: the
 * gateway's link address from the neighbour table, or --router-mac) or a raw IP socket
 * (loopback, on-link targets, links without link addresses: the kernel routes and resolves
 * the neighbour); every answer comes in through one libpcap
 * capture (capture.c) registered with the engine as a shared fd.
 *
 * The sequence number is cookie(src, dst, sport, dport) + attempt (cookie.h, a per-scan
 * secret), so an answer is validated from its own headers: a SYN-ACK or RST whose ack - 1
 * is its 4-tuple's cookie plus an attempt number that was sent, or an ICMP error quoting
 * such a SYN. SYN-ACK -> open (syn-ack; an RST goes back at once), RST -> closed (reset),
 * ICMP unreachable -> filtered with the reason connect mode gives, silence -> filtered
 * (no-response): the same result records as the connect probe (tcp.c).
 *
 * The probe's record is found by the answering address (a table in the scanner, not per
 * probe state in the packet), so duplicates of one address in a target list are all
 * finished by one answer.
 *
 * Privilege: the packet and raw sockets and a live capture need CAP_NET_RAW. syn_io_open
 * opens them (before a daemon drops its privileges); a scanner can use an io opened
 * earlier, or open its own.
 */
#ifndef WATCH53_SYN_H
#define WATCH53_SYN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/netaddr.h"
#include "probes/probe.h"

/* The one-line advice when CAP_NET_RAW is missing. */
#define SYN_EPERM_HINT \
	"SYN mode needs CAP_NET_RAW: run as root, or grant it once with " \
	"'setcap cap_net_raw+ep $(command -v watch53)'"

struct syn_io;

/* Open the privileged handles: a packet socket and raw IPv4/IPv6 sockets for sending, and a
 * live capture on `iface` ("any": every interface), in *out. 0, or a negative errno with a
 * message: -EPERM for lack of CAP_NET_RAW (SYN_EPERM_HINT is then the advice). */
int syn_io_open(const char *iface, struct syn_io **out, char *err, size_t errlen);
void syn_io_close(struct syn_io *io);

struct syn_config {
	uint16_t port;              /* destination port */
	unsigned max_attempts;      /* retries + 1 (the cookie range an answer may carry) */
	unsigned concurrency;       /* sizes the address table */
	/* the address whose route each family's packets follow (the first target of that
	 * family); a family without one is routed at its first probe */
	struct net_addr hint[2];    /* [0] IPv4, [1] IPv6 */
	bool have_hint[2];
	/* overrides (NULL / unset: from the routing table) */
	const char *iface;          /* --interface */
	struct net_addr src[2];     /* --source-ip, per family */
	bool have_src[2];
	uint8_t router_mac[6];      /* --router-mac: send every packet to this link address */
	bool have_router_mac;
};

struct syn_stats {
	uint64_t sent;              /* SYNs */
	uint64_t answers;           /* validated answers (SYN-ACK, RST, ICMP) */
	uint64_t invalid;           /* captured packets that were not answers to us */
	uint64_t rst_sent;
	uint64_t send_errors;
};

struct syn_scanner;

/* A scanner for one scan in *out. io: handles opened earlier (borrowed; its capture gets
 * this scan's filter), or NULL to open its own (on the routes' interface). 0, or a negative
 * errno with a message (-EPERM as for syn_io_open). */
int syn_new(const struct syn_config *cfg, struct syn_io *io, struct syn_scanner **out,
	    char *err, size_t errlen);
void syn_free(struct syn_scanner *s);

/* For engine_config: module_arg of probe_module_syn, and the shared fd (the capture). */
int syn_fd(const struct syn_scanner *s);
void syn_on_readable(void *scanner, uint32_t events);
void syn_get_stats(const struct syn_scanner *s, struct syn_stats *st);
/* How each family leaves ("lo, src 127.0.0.1, link"; "eth0, src 192.0.2.7, via
 * 192.0.2.1 00:11:22:33:44:55"), for -v. */
void syn_describe(const struct syn_scanner *s, int family, char *buf, size_t len);

extern const struct probe_module probe_module_syn;

#endif
