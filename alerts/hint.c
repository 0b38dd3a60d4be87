/* hint: remediation lines for an exposure alert, chosen from the event (see hint.h). */
#include "alerts/hint.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* What the dns object says, as far as a hint cares. */
struct dns_says {
	bool recursion_known, recursion, ra, axfr, version;
};

static void
dns_read(const struct alert_event *ev, struct dns_says *d)
{
	memset(d, 0, sizeof(*d));
	d->recursion_known = alert_event_dns_bool(ev, "recursion", &d->recursion) == 1;
	if (alert_event_dns_bool(ev, "ra", &d->ra) != 1)
		d->ra = false;
	if (alert_event_dns_bool(ev, "axfr", &d->axfr) != 1)
		d->axfr = false;
	d->version = alert_event_dns_strlen(ev, "version") > 0;
}

static void
add(struct hint *h, const char *label, const char *cmd)
{
	size_t n = strlen(cmd);

	/* a command is whole or absent: a cut one would do something else */
	if (h->n >= HINT_MAX_LINES || n >= sizeof(h->line[0].cmd))
		return;
	h->line[h->n].label = label;
	memcpy(h->line[h->n].cmd, cmd, n + 1);
	h->n++;
}

/* ufw and nftables rules for the event's address, protocol and port; the address only
 * when it parses as one (it is pasted into a shell). */
static void
add_close(struct hint *h, const struct alert_event *ev)
{
	char addr[sizeof(ev->address)], proto[sizeof(ev->protocol)], ufw[256];
	char nft[256], port[8];
	unsigned char bin[16];
	const char *family = "ip";

	snprintf(addr, sizeof(addr), "%.*s", (int)strnlen(ev->address, sizeof(ev->address)),
		 ev->address);
	snprintf(proto, sizeof(proto), "%.*s", (int)strnlen(ev->protocol, sizeof(ev->protocol)),
		 ev->protocol);
	if (inet_pton(AF_INET, addr, bin) == 1) {
		family = "ip";
	} else if (inet_pton(AF_INET6, addr, bin) == 1) {
		family = "ip6";
	} else {
		snprintf(addr, sizeof(addr), "ADDRESS");
	}
	if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
		proto[0] = '\0';
	snprintf(port, sizeof(port), "%u", ev->port != 0 ? (unsigned)ev->port : 53u);
	if (proto[0] != '\0') {
		snprintf(ufw, sizeof(ufw), "ufw deny proto %s from any to %s port %s", proto, addr,
			 port);
		snprintf(nft, sizeof(nft),
			 "nft insert rule inet filter input %s daddr %s %s dport %s drop", family,
			 addr, proto, port);
	} else {
		snprintf(ufw, sizeof(ufw), "ufw deny from any to %s port %s", addr, port);
		snprintf(nft, sizeof(nft),
			 "nft insert rule inet filter input %s daddr %s meta l4proto { tcp, udp } "
			 "th dport %s drop", family, addr, port);
	}
	add(h, "Close the port to the outside, ufw:", ufw);
	add(h, "or nftables:", nft);
}

size_t
hint_for(const struct alert_event *ev, struct hint *h)
{
	struct dns_says d;
	bool exposure, finding;

	h->n = 0;
	exposure = alert_event_is_exposure(ev);
	finding = ev->type == ALERT_CHANGED && ev->severity >= SEV_MEDIUM;
	if (!exposure && !finding)
		return 0;
	dns_read(ev, &d);
	if ((ev->type == ALERT_EXPOSED || ev->type == ALERT_OPENED) && !ev->expected_open)
		add_close(h, ev);
	if (d.recursion_known ? d.recursion : d.ra) {
		add(h, "Restrict recursion to your own clients, BIND:",
		    "allow-recursion { localhost; localnets; };");
		add(h, "unbound:", "access-control: 0.0.0.0/0 refuse");
		add(h, "dnsmasq:", "local-service");
		add(h, "PowerDNS Recursor:", "allow-from=127.0.0.0/8, ::1/128");
	}
	if (d.axfr) {
		add(h, "Refuse zone transfers (allow only your secondaries), BIND:",
		    "allow-transfer { none; };");
		add(h, "NSD: only your secondaries in", "provide-xfr:");
		add(h, "Knot: only your secondaries in an acl with", "action: transfer");
		add(h, "PowerDNS:", "disable-axfr=yes");
	}
	if (d.version) {
		add(h, "Hide the version, BIND:", "version \"none\";");
		add(h, "unbound and NSD:", "hide-version: yes");
		add(h, "PowerDNS:", "version-string=anonymous");
		add(h, "dnsmasq:", "no-ident");
	}
	return h->n;
}
