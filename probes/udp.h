/*
 * udp: the UDP DNS probe module (probe_module_udp) and the argument it takes
 * (engine_config.module_arg): what the caller knows of an address from earlier cycles.
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

struct udp_module_arg {
	/* Did this address's UDP port give verified DNS replies last cycle? Asked at most
	 * once per probe, and only when an ICMP error comes for it; on the engine thread, so
	 * it may read the caller's state but must not block on the network. NULL: never. */
	bool (*answered_before)(void *arg, const struct net_addr *a);
	void *arg;
};

#endif
