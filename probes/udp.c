/*
 * udp: a real DNS query over a connected UDP socket. Connecting makes the kernel drop
 * datagrams from anyone but the probed address and port, and deliver that flow's ICMP
 * errors to us. Each attempt carries its own random transaction ID, so a reply tells
 * which attempt it answers (exact RTT) and no reply is trusted by source alone for facts.
 *
 * Nor is a datagram trusted by source alone for the state: an off-path host can spray
 * junk "from" the probed address and port to every ephemeral port of ours. Such a datagram
 * only leaves a provisional "open, udp-response" (unverified) behind; the retransmissions
 * go on to the deadline, and a matching reply (open, dns-reply: verified) or an ICMP error
 * arriving meanwhile still decides. An ICMP error is trusted no further for a port that
 * answered before (probes/udp.h): it ends the attempt, not the probe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "probes/dns.h"
#include "probes/icmp_err.h"
#include "probes/probe.h"
#include "probes/udp.h"

#define UDP_MAX_ATTEMPTS 16
#define UDP_EDNS_SIZE 1232 /* DNS flag day 2020: avoids fragmentation */
#define UDP_READS_PER_EVENT 8

struct udp_priv {
	int fd;
	bool have_fd; /* priv starts zeroed, and 0 is a valid fd */
	uint16_t ids[UDP_MAX_ATTEMPTS];
	unsigned nids;
	uint8_t query[DNS_HEADER_LEN + DNS_MAX_NAME + 4 + 16];
	int query_len;
	bool unmatched; /* a datagram that is no matching reply came: provisional verdict set */
	enum { HISTORY_UNASKED = 0, HISTORY_NONE, HISTORY_ANSWERED } history;
};

enum udp_icmp { UDP_ICMP_NONE, UDP_ICMP_ATTEMPT, UDP_ICMP_PROBE };

/* Did this port answer before (asked once per probe)? */
static bool
udp_answered_before(struct probe *p)
{
	struct udp_priv *up = probe_priv(p);
	const struct udp_module_arg *ma = probe_module_arg(p);

	if (up->history == HISTORY_UNASKED)
		up->history = ma != NULL && ma->answered_before != NULL &&
				      ma->answered_before(ma->arg, probe_addr(p))
			? HISTORY_ANSWERED : HISTORY_NONE;
	return up->history == HISTORY_ANSWERED;
}

/*
 * An ICMP error for our flow, from the error queue, or only the errno (ECONNREFUSED) the
 * kernel left when the queue was already read. It ends the probe, or for a port that
 * answered before only this attempt (a provisional verdict the deadline makes final).
 * Which of the three it was: none (no ICMP error: errno is something else), the attempt,
 * the probe.
 */
static enum udp_icmp
udp_icmp(struct probe *p, int fd, int err, int attempt)
{
	enum probe_state st = PROBE_CLOSED;
	enum probe_reason why = PROBE_REASON_PORT_UNREACH;

	if (icmp_err_read(fd, &st, &why) != 1 && err != ECONNREFUSED)
		return UDP_ICMP_NONE;
	if (udp_answered_before(p)) {
		probe_provisional(p, st, why, attempt);
		return UDP_ICMP_ATTEMPT;
	}
	probe_finish(p, st, why, attempt);
	return UDP_ICMP_PROBE;
}

static int
udp_send(struct probe *p, unsigned attempt)
{
	struct udp_priv *up = probe_priv(p);
	const struct probe_options *o = probe_opts(p);
	const struct net_addr *a = probe_addr(p);
	struct dns_query_params q = {
		.qname = o->qname, .qname_len = o->qname_len, .qtype = o->qtype,
		.qclass = DNS_CLASS_IN, .rd = o->rd, .edns_udp_size = UDP_EDNS_SIZE,
	};
	struct sockaddr_storage ss;
	socklen_t sslen;
	int rc;

	if (attempt == 0) {
		up->fd = socket(a->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (up->fd == -1)
			return -errno;
		up->have_fd = true;
		icmp_err_enable(up->fd, a->family);
		sslen = net_addr_to_sockaddr(a, o->port, &ss);
		/* the kernel picks a random ephemeral source port at connect time */
		if (connect(up->fd, (struct sockaddr *)&ss, sslen) == -1) {
			int e = errno;
			if (e == ENETUNREACH || e == EHOSTUNREACH) {
				probe_finish(p, PROBE_FILTERED,
					     e == ENETUNREACH ? PROBE_REASON_NET_UNREACH
							      : PROBE_REASON_HOST_UNREACH, -1);
				return 0;
			}
			return -e;
		}
		rc = probe_watch(p, up->fd, EPOLLIN);
		if (rc < 0)
			return rc;
	}
	if (attempt >= UDP_MAX_ATTEMPTS)
		return 0;
	rc = util_random(&q.id, sizeof(q.id));
	if (rc < 0)
		return rc;
	up->ids[attempt] = q.id;
	up->nids = attempt + 1;
	up->query_len = dns_build_query(up->query, sizeof(up->query), &q);
	if (up->query_len < 0)
		return -EINVAL;
	/* an ICMP error for an earlier attempt is reported on this send; when it ended only
	 * that attempt, this one still goes out (once more: the error is read now) */
	for (int tries = 0; send(up->fd, up->query, (size_t)up->query_len, 0) == -1; tries++) {
		int e = errno;
		switch (udp_icmp(p, up->fd, e, (int)attempt - 1)) {
		case UDP_ICMP_NONE:
			return -e;
		case UDP_ICMP_PROBE:
			return 0;
		case UDP_ICMP_ATTEMPT:
			if (tries > 0)
				return 0;
			break;
		}
	}
	return 0;
}

/* Which attempt does this reply answer? -1 if none. */
static int
udp_match(const struct udp_priv *up, const struct probe_options *o, const struct dns_reply *r,
	  int *why)
{
	int last = DNS_E_ID_MISMATCH;

	for (unsigned i = 0; i < up->nids; i++) {
		int rc = dns_reply_matches(r, up->ids[i], o->qname, o->qname_len, o->qtype,
					   DNS_CLASS_IN);
		if (rc == 0)
			return (int)i;
		if (rc == DNS_E_QUESTION_MISMATCH)
			last = rc;
	}
	*why = last;
	return -1;
}

static void
udp_datagram(struct probe *p, const uint8_t *buf, size_t len)
{
	struct udp_priv *up = probe_priv(p);
	struct probe_dns_facts *f = probe_dns(p);
	struct dns_reply r;
	int rc, attempt, why = 0;

	f->present = true;
	rc = dns_parse_reply(buf, len, &r);
	if (rc == 0) {
		attempt = udp_match(up, probe_opts(p), &r, &why);
		if (attempt >= 0) {
			f->valid = true;
			f->error[0] = '\0';
			f->rcode = (uint16_t)r.rcode;
			/* a refusal without its question says its rcode and nothing more */
			f->aa = !r.no_question && (r.hdr.flags & DNS_FLAG_AA) != 0;
			f->ra = !r.no_question && (r.hdr.flags & DNS_FLAG_RA) != 0;
			f->tc = !r.no_question && (r.hdr.flags & DNS_FLAG_TC) != 0;
			probe_finish(p, PROBE_OPEN, PROBE_REASON_DNS_REPLY, attempt);
			return;
		}
		rc = why;
	}
	/* Anyone can send this datagram with the probed address and port as its source, so
	 * it decides nothing: no finish, and the retransmissions go on (one forged packet
	 * must not cost us the retries that could still draw the matching reply or an ICMP
	 * error). Only if no better evidence comes by the deadline is the port open on its
	 * strength, unverified. The first such datagram sets that verdict and its RTT. */
	snprintf(f->error, sizeof(f->error), "%s", dns_strerror(rc));
	if (!up->unmatched) {
		up->unmatched = true;
		probe_provisional(p, PROBE_OPEN, PROBE_REASON_UDP_RESPONSE, (int)up->nids - 1);
	}
}

static void
udp_on_event(struct probe *p, int fd, uint32_t events)
{
	struct udp_priv *up = probe_priv(p);
	uint8_t buf[65536];

	if ((events & EPOLLERR) && udp_icmp(p, fd, 0, (int)up->nids - 1) == UDP_ICMP_PROBE)
		return;
	for (int i = 0; i < UDP_READS_PER_EVENT; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			/* an error that ended only an attempt leaves the datagrams behind it */
			if (errno != ECONNREFUSED ||
			    udp_icmp(p, fd, ECONNREFUSED, (int)up->nids - 1) != UDP_ICMP_ATTEMPT)
				return;
			continue;
		}
		udp_datagram(p, buf, (size_t)n);
		if (probe_dns(p)->valid)
			return;
	}
}

static void
udp_release(struct probe *p)
{
	struct udp_priv *up = probe_priv(p);

	if (up->have_fd)
		close(up->fd);
	up->have_fd = false;
}

const struct probe_module probe_module_udp = {
	.name = "udp",
	.slot = PROBE_SLOT_UDP,
	.priv_size = sizeof(struct udp_priv),
	.send = udp_send,
	.on_event = udp_on_event,
	.on_timeout = NULL,
	.release = udp_release,
};
