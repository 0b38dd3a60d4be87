/*
 * audit: the local audit's view of this host — every socket bound to TCP/UDP port 53
 * (from /proc/net/{tcp,tcp6,udp,udp6}, owning process from /proc/PID/fd) and the loopback
 * addresses worth probing. It never yields a non-loopback address to probe: from this host
 * such traffic runs over lo and bypasses the firewall, so it would lie about exposure.
 */
#ifndef WATCH53_AUDIT_H
#define WATCH53_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/netaddr.h"

enum audit_exposure {
	AUDIT_LOOPBACK_ONLY = 0, /* bound to a loopback address */
	AUDIT_WILDCARD,          /* 0.0.0.0 or [::]: reachable on every address unless firewalled */
	AUDIT_NON_LOOPBACK,      /* a specific non-loopback address: reachable unless firewalled */
};

struct audit_listener {
	struct net_addr addr;
	uint16_t port;
	bool tcp; /* false: udp */
	bool v6only_unknown; /* [::] listener that may also accept IPv4 */
	enum audit_exposure exposure;
	int pid;            /* -1 if unknown (other user's process without privileges) */
	char process[32];   /* comm of the owner, "" if unknown */
	unsigned long inode;
};

/* "loopback only", "wildcard", "non-loopback" */
const char *audit_exposure_text(enum audit_exposure e);

/* Read listeners on `port` below procroot ("/proc" normally; tests pass a fixture dir).
 * TCP: LISTEN sockets; UDP: unconnected sockets. IPv4-mapped IPv6 addresses are reported
 * as IPv4; entries with the same (protocol, address, port) (SO_REUSEPORT) are merged.
 * *out is malloc'd (free with free()); sorted by family, address, then tcp before udp.
 * Missing tcp6/udp6 (IPv6 disabled) is fine. 0 or -errno with a one-line message. */
int audit_list_listeners(const char *procroot, uint16_t port, struct audit_listener **out,
			 size_t *count, char *err, size_t errlen);

/* Addresses the audit probes: 127.0.0.1, ::1, then every loopback listener address not
 * already listed (in order). Writes at most max; returns the number written. */
size_t audit_probe_addresses(const struct audit_listener *ls, size_t n, struct net_addr *out,
			     size_t max);

#endif
