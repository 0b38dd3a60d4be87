/*
 * hint: what to do about an exposure — the remediation lines every sink shows under an
 * exposure alert, chosen from the event alone (its type, severity, address, protocol,
 * port and DNS facts), so every service says the same thing. The one owner of that text.
 *
 * An event gets a hint when it is an exposure (exposed; opened or changed rated high or
 * critical) or a DNS-check finding (changed, rated medium and up). Which lines:
 * - closing the port (ufw, nftables): exposed and opened events whose port is not
 *   expected open;
 * - restricting recursion (BIND, unbound, dnsmasq, PowerDNS Recursor): the dns facts say
 *   "recursion":true, or, where the recursion check did not run, "ra":true;
 * - refusing zone transfers (BIND, NSD, Knot, PowerDNS): "axfr":true;
 * - hiding the version (BIND, unbound/NSD, PowerDNS, dnsmasq): a non-empty "version".
 * Labels and commands are constant text; the only data in a command is the address, the
 * protocol and the port, and only when they are what they claim (an IP address, "tcp" or
 * "udp", a number): an outbox file is untrusted, and a command is meant to be pasted into
 * a root shell. Otherwise the line names ADDRESS as a placeholder.
 * Pure: no allocation, no I/O. Formatters still render every line for their medium.
 */
#ifndef WATCH53_HINT_H
#define WATCH53_HINT_H

#include <stddef.h>

#include "alerts/event.h"

#define HINT_MAX_LINES 16
#define HINT_CMD_MAX 192

struct hint_line {
	const char *label;        /* "Restrict recursion, BIND:" — ours, constant */
	char cmd[HINT_CMD_MAX];   /* "allow-recursion { localhost; localnets; };" */
};

struct hint {
	size_t n;
	struct hint_line line[HINT_MAX_LINES];
};

/* Fill *h with the lines for ev (h->n == 0: no hint). Returns h->n. */
size_t hint_for(const struct alert_event *ev, struct hint *h);

#endif
