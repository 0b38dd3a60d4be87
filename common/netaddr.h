/* netaddr: one IPv4 or IPv6 address as a plain value, shared by targets, probes and output. */
#ifndef WATCH53_NETADDR_H
#define WATCH53_NETADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NETADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

struct net_addr {
	uint8_t family;    /* AF_INET or AF_INET6 */
	uint8_t bytes[16]; /* network order; IPv4 uses the first 4 */
};

/* Parse a literal address (no brackets, no scope). 0 or -EINVAL. */
int net_addr_parse(const char *text, struct net_addr *out);
/* Format into buf (>= NETADDR_STRLEN). Returns buf. */
const char *net_addr_str(const struct net_addr *a, char *buf, size_t buflen);
/* Fill a sockaddr for addr:port; returns its length. */
socklen_t net_addr_to_sockaddr(const struct net_addr *a, uint16_t port, struct sockaddr_storage *ss);
/* 0 or -EAFNOSUPPORT. */
int net_addr_from_sockaddr(const struct sockaddr *sa, struct net_addr *out, uint16_t *port);
/* memcmp-like total order: IPv4 before IPv6, then numerically. */
int net_addr_cmp(const struct net_addr *a, const struct net_addr *b);
/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
int net_addr_is_loopback(const struct net_addr *a);
/* 0.0.0.0 or :: */
int net_addr_is_any(const struct net_addr *a);

#endif
