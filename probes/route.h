/*
 * route: where a packet to an address leaves this host, asked from the kernel (rtnetlink
 * RTM_GETROUTE, the same lookup `ip route get` makes): the interface, the source address
 * the kernel would pick, the gateway if there is one, the interface's link type and
 * address, and the next hop's link address from the neighbour table (RTM_GETNEIGH).
 * Used by the SYN scanner, which builds its packets itself. No privilege needed.
 */
#ifndef WATCH53_ROUTE_H
#define WATCH53_ROUTE_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/netaddr.h"

struct route_info {
	int ifindex;
	char ifname[IF_NAMESIZE];
	unsigned short hatype;    /* ARPHRD_ETHER, ARPHRD_LOOPBACK, ARPHRD_NONE, ... */
	uint8_t ifmac[6];         /* the interface's own address (Ethernet-like links) */
	struct net_addr src;      /* the source address the kernel would use */
	bool has_gateway;
	struct net_addr gateway;  /* the next hop when has_gateway; else the target is on-link */
};

/* Look up the route to dst. 0, or -errno with a one-line message ("no route to ..."). */
int route_lookup(const struct net_addr *dst, struct route_info *out, char *err, size_t errlen);

/* The route's interface given by name instead (--interface): its index, link type and
 * address; src and gateway are left alone. 0 or -errno with a message. */
int route_interface(const char *ifname, struct route_info *out, char *err, size_t errlen);

/*
 * The link address of `next` on interface ifindex, from the kernel's neighbour table.
 * When it is not there, the kernel is made to resolve it (one empty UDP datagram to next's
 * discard port, port 9, from an ordinary socket) and asked again, every 100 ms for at most
 * wait_ms. 0 and mac filled, or -EHOSTUNREACH / -errno with a message.
 */
int route_neighbor(int ifindex, const struct net_addr *next, unsigned wait_ms, uint8_t mac[6],
		   char *err, size_t errlen);

/* "00:11:22:33:44:55" (':' or '-') to octets. 0 or -EINVAL. */
int route_parse_mac(const char *text, uint8_t mac[6]);

#endif
