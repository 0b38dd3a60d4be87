/*
 * scan_syn: SYN mode for a scan (`scan --syn`, probe.tcp_mode "syn"): the options, and
 * the set-up that puts probes/syn.c's module in place of the connect probe in an engine
 * config. Kept apart from scan.c so the connect path stays as it is.
 */
#ifndef WATCH53_SCAN_SYN_H
#define WATCH53_SCAN_SYN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/targets.h"
#include "common/netaddr.h"
#include "probes/engine.h"
#include "probes/syn.h"

struct scan_syn {
	bool on;                   /* TCP by SYN probes instead of connect() */
	const char *iface;         /* --interface, or NULL: the routing table decides */
	struct net_addr src[2];    /* --source-ip per family ([0] IPv4, [1] IPv6) */
	bool have_src[2];
	uint8_t router_mac[6];     /* --router-mac */
	bool have_router_mac;
	/* the first target address of each family: its route is every target's (set by
	 * scan_syn_hints; a family without one is routed at its first probe) */
	struct net_addr hint[2];
	bool have_hint[2];
	struct syn_io *io;         /* handles opened before privileges were dropped (the
				    * daemon), or NULL: the scan opens its own */
};

/* The CLI options: --syn, --interface IFACE, --source-ip ADDR, --router-mac MAC. Returns 0
 * when `name` is one of them and its argument is good, -EINVAL with a message (the option
 * named) when the argument is bad, -ENOENT when `name` is none of them. */
int scan_syn_option(struct scan_syn *s, const char *name, const char *arg, char *err,
		    size_t errlen);

/* Find the first address of each family in a target stream (walking a copy of it: the
 * caller's iterator does not move). Stops as soon as both are found. */
void scan_syn_hints(struct scan_syn *s, const struct target_iter *it);
/* The same from an array of addresses. */
void scan_syn_hints_array(struct scan_syn *s, const struct net_addr *a, size_t n);

/*
 * Put SYN mode into an engine config that already has its concurrency, retries, port and
 * the "syn" module (picked by name in place of "tcp"): the scanner becomes that module's
 * module_arg and its capture a shared fd. 0 and *out (syn_free it after the engine), or -EPERM (no
 * CAP_NET_RAW: err is the one-line advice) / other -errno with a message.
 */
int scan_syn_setup(const struct scan_syn *s, struct engine_config *ec,
		   struct syn_scanner **out, char *err, size_t errlen);

/* After the run: say (log_info) how packets left and anything worth knowing (packets the
 * kernel refused to queue). */
void scan_syn_report(const struct syn_scanner *sc);

#endif
