/*
 * udp: a real DNS query over a small pool of shared, unconnected UDP sockets (UDP_POOL per
 * family, each bound to its own random ephemeral port; a probe sends all its attempts
 * through one of them, picked at random). No descriptor per probe: the cost of a UDP probe
 * is its slot, so concurrency is bound by the rate and the timeout, not the open file limit.
 *
 * The kernel no longer drops what does not come from the probed address and port, so
 * udp_flow.c does: a datagram counts only if it came from port 53 (the probed port) of an
 * address probed through the very socket it arrived on. Each attempt carries its own random
 * transaction ID, so a reply tells which attempt it answers (exact RTT), and only a reply
 * with one of the probe's IDs and its question is evidence (open, dns-reply: verified).
 *
 * Nor is any other datagram from there trusted for the state: an off-path host can spray
 * junk "from" the probed address and port to every port of ours. Such a datagram only
 * leaves a provisional "open, udp-response" (unverified) behind; the retransmissions go on
 * to the deadline, and a matching reply or an ICMP error arriving meanwhile still decides.
 *
 * ICMP errors come from each socket's error queue (IP_RECVERR / IPV6_RECVERR): the
 * original destination (msg_name) and the socket pick the probe, the quoted query's ID
 * (when the error quotes that much) the attempt. An ICMP error is trusted no further for a
 * port that answered before (probes/udp.h): it ends the attempt, not the probe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "probes/dns.h"
#include "probes/icmp_err.h"
#include "probes/probe.h"
#include "probes/udp.h"
#include "probes/udp_flow.h"

#define UDP_MAX_ATTEMPTS UDP_FLOW_MAX_IDS
#define UDP_EDNS_SIZE 1232 /* DNS flag day 2020: avoids fragmentation */
#define UDP_BATCH 16       /* datagrams per recvmmsg */
#define UDP_BATCHES_PER_EVENT 8 /* then the loop's other work gets its turn (level-triggered) */
#define UDP_ERRS_PER_EVENT 128
#define UDP_MSG_MAX 65536  /* a datagram is never cut: a cut reply would not parse */
/* A receive buffer deep enough for a burst of replies and ICMP errors (both count against
 * it) at 100,000 packets per second while the loop is busy sending; SO_RCVBUFFORCE when
 * privileged, else as much as net.core.rmem_max allows. */
#define UDP_RCVBUF (8 << 20)
/* Transaction IDs drawn from the kernel per batch: one getrandom() per query was a tenth of
 * a large scan's system calls. They stay as unpredictable, and are used once each. */
#define UDP_ID_BATCH 512

struct udp_shared;

struct udp_sock {
	struct udp_shared *sh;
	int fd;
	unsigned index; /* within its family's pool */
};

struct udp_shared {
	struct udp_sock socks[2][UDP_POOL]; /* [0] IPv4, [1] IPv6 */
	unsigned nsocks[2];
	int fam_err[2];                     /* why a family has no pool (-errno) */
	struct udp_flows flows;
	struct udp_flow_query q;
	uint64_t rng;
	uint8_t *bufs;                      /* UDP_BATCH * UDP_MSG_MAX */
	uint16_t ids[UDP_ID_BATCH];         /* unused transaction IDs: ids[0 .. nids) */
	unsigned nids;
};

struct udp_priv {
	struct udp_flow flow; /* dst, pool socket, the ID of every attempt */
	bool unmatched;       /* a datagram that is no matching reply came: provisional set */
	enum { HISTORY_UNASKED = 0, HISTORY_NONE, HISTORY_ANSWERED } history;
};

/* ---- the pool ---- */

static void
udp_on_readable(void *arg, uint32_t events);

static int
udp_sock_open(struct udp_shared *sh, int family, unsigned index, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct net_addr any = { .family = (uint8_t)family };
	int fd, on = 1, size = UDP_RCVBUF, rc;
	socklen_t sslen;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto bad;
	if ((rc = icmp_err_enable(fd, family)) < 0) {
		errno = -rc;
		goto bad;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	/* port 0: the kernel picks a random free ephemeral port, one per pool socket */
	sslen = net_addr_to_sockaddr(&any, 0, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sslen) == -1)
		goto bad;
	sh->socks[family == AF_INET6][index] = (struct udp_sock){ .sh = sh, .fd = fd,
								  .index = index };
	return 0;
bad:
	rc = -errno;
	snprintf(err, errlen, "udp: IPv%c socket: %s", family == AF_INET6 ? '6' : '4',
		 strerror(errno));
	close(fd);
	return rc;
}

static void
udp_fini(void *state)
{
	struct udp_shared *sh = state;

	if (sh == NULL)
		return;
	for (int fi = 0; fi < 2; fi++)
		for (unsigned i = 0; i < sh->nsocks[fi]; i++)
			close(sh->socks[fi][i].fd);
	udp_flows_clear(&sh->flows);
	free(sh->bufs);
	free(sh);
}

static int
udp_init(struct probe_module_ctx *c, void **state, char *err, size_t errlen)
{
	const struct probe_options *o = probe_ctx_opts(c);
	struct udp_shared *sh = calloc(1, sizeof(*sh));
	uint64_t seed[2];
	int rc = -ENOMEM;

	if (sh == NULL)
		goto bad;
	sh->bufs = malloc((size_t)UDP_BATCH * UDP_MSG_MAX);
	if (sh->bufs == NULL)
		goto bad;
	if ((rc = util_random(seed, sizeof(seed))) < 0)
		goto bad;
	sh->rng = seed[0] | 1;
	if ((rc = udp_flows_init(&sh->flows, probe_ctx_concurrency(c), seed[1])) < 0)
		goto bad;
	sh->q = (struct udp_flow_query){ .port = o->port, .qname = o->qname,
					 .qname_len = o->qname_len, .qtype = o->qtype };
	for (int fi = 0; fi < 2; fi++) {
		int family = fi ? AF_INET6 : AF_INET;

		for (unsigned i = 0; i < UDP_POOL; i++) {
			rc = udp_sock_open(sh, family, i, err, errlen);
			if (rc < 0)
				break;
			sh->nsocks[fi]++;
			rc = probe_ctx_watch(c, sh->socks[fi][i].fd, EPOLLIN, udp_on_readable,
					     &sh->socks[fi][i]);
			if (rc < 0) {
				snprintf(err, errlen, "udp: cannot watch its sockets: %s",
					 strerror(-rc));
				goto bad;
			}
		}
		/* a host without IPv6 (or IPv4) still scans the other family; a probe of
		 * the missing one fails with the reason (PROBE_REASON_ERROR) */
		if (sh->nsocks[fi] == 0)
			sh->fam_err[fi] = rc;
	}
	if (sh->nsocks[0] == 0 && sh->nsocks[1] == 0)
		goto bad;
	*state = sh;
	return 0;
bad:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "udp: out of memory");
	udp_fini(sh);
	return rc;
}

/* xorshift64: which pool socket a probe uses; not a secret (the port is on the wire) */
static unsigned
udp_pick(struct udp_shared *sh, unsigned n)
{
	sh->rng ^= sh->rng << 13;
	sh->rng ^= sh->rng >> 7;
	sh->rng ^= sh->rng << 17;
	return (unsigned)(sh->rng % n);
}

/* A fresh transaction ID from the batch, refilled from the kernel when it runs out. */
static int
udp_next_id(struct udp_shared *sh, uint16_t *id)
{
	if (sh->nids == 0) {
		int rc = util_random(sh->ids, sizeof(sh->ids));
		if (rc < 0)
			return rc;
		sh->nids = UDP_ID_BATCH;
	}
	*id = sh->ids[--sh->nids];
	return 0;
}

/* ---- evidence ---- */

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

/* An ICMP error for this probe's attempt: it ends the probe, or for a port that answered
 * before only the attempt (a provisional verdict the deadline makes final). */
static void
udp_icmp(struct probe *p, enum probe_state st, enum probe_reason why, int attempt)
{
	if (udp_answered_before(p))
		probe_provisional(p, st, why, attempt);
	else
		probe_finish(p, st, why, attempt);
}

static void
udp_reply(struct probe *p, const struct dns_reply *r, int attempt)
{
	struct probe_dns_facts *f = probe_dns(p);

	f->present = true;
	f->valid = true;
	f->error[0] = '\0';
	f->rcode = (uint16_t)r->rcode;
	/* a refusal without its question says its rcode and nothing more */
	f->aa = !r->no_question && (r->hdr.flags & DNS_FLAG_AA) != 0;
	f->ra = !r->no_question && (r->hdr.flags & DNS_FLAG_RA) != 0;
	f->tc = !r->no_question && (r->hdr.flags & DNS_FLAG_TC) != 0;
	probe_finish(p, PROBE_OPEN, PROBE_REASON_DNS_REPLY, attempt);
}

/*
 * Anyone can send this datagram with the probed address and port as its source, so it
 * decides nothing: no finish, and the retransmissions go on (one forged packet must not
 * cost us the retries that could still draw the matching reply or an ICMP error). Only if
 * no better evidence comes by the deadline is the port open on its strength, unverified.
 * The first such datagram sets that verdict and its RTT.
 */
static void
udp_unverified(struct probe *p, int why)
{
	struct udp_priv *up = probe_priv(p);
	struct probe_dns_facts *f = probe_dns(p);

	f->present = true;
	snprintf(f->error, sizeof(f->error), "%s", dns_strerror(why));
	if (!up->unmatched) {
		up->unmatched = true;
		probe_provisional(p, PROBE_OPEN, PROBE_REASON_UDP_RESPONSE, (int)up->flow.nids - 1);
	}
}

static void
udp_datagram(struct udp_sock *s, const struct sockaddr_storage *from, const uint8_t *buf,
	     size_t len)
{
	struct udp_shared *sh = s->sh;
	struct net_addr src;
	uint16_t sport;
	struct dns_reply r;
	struct udp_flow *f;
	int attempt, why;

	if (net_addr_from_sockaddr((const struct sockaddr *)from, &src, &sport) < 0)
		return;
	switch (udp_flow_judge(&sh->flows, &sh->q, s->index, &src, sport, buf, len, &r, &f,
			       &attempt, &why)) {
	case UDP_FLOW_STRAY:
		return;
	case UDP_FLOW_REPLY:
		if (!probe_done(f->owner))
			udp_reply(f->owner, &r, attempt);
		return;
	case UDP_FLOW_UNVERIFIED:
		/* every probe of that address through this socket got it, as each connected
		 * socket of old would have */
		for (; f != NULL; f = udp_flows_find_next(f))
			if (!probe_done(f->owner))
				udp_unverified(f->owner, why);
		return;
	}
}

/* Drain the error queue: each message is one ICMP error about one datagram we sent. */
static void
udp_errqueue(struct udp_sock *s)
{
	struct udp_shared *sh = s->sh;
	int got = 0;

	for (int i = 0; i < UDP_ERRS_PER_EVENT; i++) {
		char cbuf[512];
		uint8_t quoted[16];
		struct sockaddr_storage dst_ss;
		struct iovec iov = { quoted, sizeof(quoted) };
		struct msghdr msg = { .msg_name = &dst_ss, .msg_namelen = sizeof(dst_ss),
				      .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		enum probe_state st;
		enum probe_reason why;
		struct net_addr dst;
		uint16_t dport;
		struct udp_flow *f;
		int attempt;
		ssize_t n;

		n = recvmsg(s->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got++;
		if (icmp_err_parse(&msg, &st, &why) != 1 || msg.msg_namelen == 0 ||
		    net_addr_from_sockaddr((struct sockaddr *)&dst_ss, &dst, &dport) < 0)
			continue;
		f = udp_flow_judge_error(&sh->flows, &sh->q, s->index, &dst, dport, quoted,
					 (size_t)n < sizeof(quoted) ? (size_t)n : sizeof(quoted),
					 &attempt);
		if (f != NULL && !probe_done(f->owner))
			udp_icmp(f->owner, st, why, attempt);
	}
	/* An error the queue had no room for still set the socket's pending error: clear it,
	 * or it would wake the loop again and again (and fail the next send). Dequeuing sets
	 * it to the next entry's error, so after a read it can only be such a lost one, and
	 * that wakes us again with the queue empty: clear it then, not after every read (a
	 * system call per ICMP error on a large scan). */
	if (got == 0) {
		int e = 0;
		socklen_t elen = sizeof(e);
		(void)getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &elen);
	}
}

static void
udp_on_readable(void *arg, uint32_t events)
{
	struct udp_sock *s = arg;
	struct udp_shared *sh = s->sh;
	struct mmsghdr mm[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage from[UDP_BATCH];

	if (events & EPOLLERR)
		udp_errqueue(s);
	if (!(events & EPOLLIN))
		return;
	for (int b = 0; b < UDP_BATCHES_PER_EVENT; b++) {
		int n;

		for (int i = 0; i < UDP_BATCH; i++) {
			iov[i] = (struct iovec){ sh->bufs + (size_t)i * UDP_MSG_MAX, UDP_MSG_MAX };
			mm[i].msg_hdr = (struct msghdr){ .msg_name = &from[i],
							 .msg_namelen = sizeof(from[i]),
							 .msg_iov = &iov[i], .msg_iovlen = 1 };
			mm[i].msg_len = 0;
		}
		n = recvmmsg(s->fd, mm, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			/* a pending ICMP error is reported (and cleared) by a read: its queue
			 * entry is still there for udp_errqueue on the next pass */
			if (errno == EINTR || errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			    errno == ENETUNREACH)
				continue;
			return;
		}
		for (int i = 0; i < n; i++)
			if (!(mm[i].msg_hdr.msg_flags & MSG_TRUNC))
				udp_datagram(s, &from[i], iov[i].iov_base, mm[i].msg_len);
		if (n < UDP_BATCH)
			return;
	}
}

/* ---- the probe ---- */

/* A send fails with the socket's pending error when another probe's ICMP error came in
 * meanwhile (it is cleared by being reported): that is not about this address. */
static bool
udp_pending_error(int e)
{
	return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EHOSTDOWN ||
	       e == ENOPROTOOPT || e == EPROTO || e == EMSGSIZE || e == EOPNOTSUPP ||
	       e == ENONET || e == EACCES; /* EACCES: ICMP admin-prohibited (v4 codes 9,
						* 10; v6 codes 1, 5, 6) */
}

static int
udp_send(struct probe *p, unsigned attempt)
{
	struct udp_priv *up = probe_priv(p);
	struct udp_shared *sh = probe_module_state(p);
	const struct probe_options *o = probe_opts(p);
	const struct net_addr *a = probe_addr(p);
	struct dns_query_params q = {
		.qname = o->qname, .qname_len = o->qname_len, .qtype = o->qtype,
		.qclass = DNS_CLASS_IN, .rd = o->rd, .edns_udp_size = UDP_EDNS_SIZE,
	};
	uint8_t query[DNS_HEADER_LEN + DNS_MAX_NAME + 4 + 16];
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fi = a->family == AF_INET6, fd, len, rc, e = 0;

	if (sh == NULL)
		return -EINVAL;
	if (attempt == 0) {
		if (sh->nsocks[fi] == 0)
			return sh->fam_err[fi] < 0 ? sh->fam_err[fi] : -EAFNOSUPPORT;
		up->flow.owner = p;
		up->flow.dst = *a;
		up->flow.sock = (uint8_t)udp_pick(sh, sh->nsocks[fi]);
		udp_flows_add(&sh->flows, &up->flow);
	}
	if (attempt >= UDP_MAX_ATTEMPTS)
		return 0;
	rc = udp_next_id(sh, &q.id);
	if (rc < 0)
		return rc;
	up->flow.ids[attempt] = q.id;
	up->flow.nids = attempt + 1;
	len = dns_build_query(query, sizeof(query), &q);
	if (len < 0)
		return -EINVAL;
	fd = sh->socks[fi][up->flow.sock].fd;
	sslen = net_addr_to_sockaddr(a, o->port, &ss);
	/* bounded: each failure with a pending error clears it */
	for (int tries = 0; tries < 4; tries++) {
		if (sendto(fd, query, (size_t)len, 0, (struct sockaddr *)&ss, sslen) >= 0)
			return 0;
		e = errno;
		if (e == EINTR)
			continue;
		if (e == EAGAIN || e == ENOBUFS)
			return 0; /* lost on our side, like on the wire: the retries cover it */
		if (!udp_pending_error(e))
			return -e;
	}
	/* the same unreachable every time: it is this address's route */
	if (e == ENETUNREACH || e == EHOSTUNREACH) {
		probe_finish(p, PROBE_FILTERED,
			     e == ENETUNREACH ? PROBE_REASON_NET_UNREACH : PROBE_REASON_HOST_UNREACH,
			     -1);
		return 0;
	}
	/* refused every time: our side will not send there (a broadcast address) */
	if (e == EACCES)
		return -e;
	/* Errors of other datagrams kept arriving between the tries (ICMP for the pool's
	 * earlier queries, on a loaded machine): nothing says this address is at fault, so
	 * this datagram is lost on our side, like on the wire, and the retries cover it. An
	 * error verdict here would be a probe failure the target did not cause. */
	return 0;
}

/* Everything arrives on the pool's sockets (udp_on_readable): a probe watches no fd. */
static void
udp_on_event(struct probe *p, int fd, uint32_t events)
{
	(void)p;
	(void)fd;
	(void)events;
}

static void
udp_release(struct probe *p)
{
	struct udp_priv *up = probe_priv(p);
	struct udp_shared *sh = probe_module_state(p);

	if (sh != NULL)
		udp_flows_del(&sh->flows, &up->flow);
}

const struct probe_module probe_module_udp = {
	.name = "udp",
	.slot = PROBE_SLOT_UDP,
	.priv_size = sizeof(struct udp_priv),
	.send = udp_send,
	.on_event = udp_on_event,
	.on_timeout = NULL,
	.release = udp_release,
	.init = udp_init,
	.fini = udp_fini,
};
