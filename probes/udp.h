/*
 * udp: the UDP DNS probe module (probe_module_udp) and the argument it takes
 * (engine_config.module_arg): what the caller knows of an address from earlier cycles.
 *
 * Its probes share UDP_POOL unconnected sockets per family (opened in the module's init,
 * each on its own random ephemeral port): a UDP probe costs no file descriptor. What the
 * kernel's 5-tuple filter of a connected socket did, probes/udp_flow.h does.
 *
 * An ICMP error is as easy to forge as a datagram: an off-path host that guesses the
 * 5-tuple can send "port unreachable" for our query before the real reply arrives. For a
 * port with no history the error decides (closed or filtered), as nmap's does. For a port
 * that gave verified DNS replies last cycle it ends only the attempt it answers: the
 * verdict is provisional, the retransmissions go on, and a matching reply before the
 * deadline wins; at the deadline the error stands.
 */
#ifndef WATCH53_UDP_H
#define WATCH53_UDP_H

#include <stdbool.h>

#include "common/netaddr.h"

/* Sockets per family. A probe's port is still one random ephemeral port an off-path
 * spoofer must guess along with the 16-bit ID of an attempt; only a spray aimed at all
 * probes at once gains, by a factor UDP_POOL, and it still needs the ID and question. */
#define UDP_POOL 8

struct udp_module_arg {
	/* Did this address's UDP port give verified DNS replies last cycle? Asked at most
	 * once per probe, and only when an ICMP error comes for it; on the engine thread, so
	 * it may read the caller's state but must not block on the network. NULL: never. */
	bool (*answered_before)(void *arg, const struct net_addr *a);
	void *arg;
};

#endif
