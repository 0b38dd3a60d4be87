/* dnscheck_probe: the "dnscheck" probe module — one query of the check plan per probe, over
 * a connected UDP socket or a TCP connection (see dnscheck.h). A reply counts only when it
 * matches its query (dns_reply_matches: ID and question, or the ID alone for a refusal
 * without a question); dnscheck_eval decides what such a reply may say. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "probes/dnscheck.h"
#include "probes/icmp_err.h"
#include "probes/probe.h"

#define DC_MAX_IDS 16          /* UDP attempts remembered for matching (engine: <= 16) */
#define DC_MAX_SOCKETS 4       /* TCP connection attempts per step, one per engine attempt */
#define DC_READS_PER_EVENT 16  /* bounded work per wake-up; epoll is level-triggered */

struct dc_priv {
	int fds[DC_MAX_SOCKETS];
	unsigned nfds;           /* priv starts zeroed: only fds[0..nfds) are ours */
	bool connected;          /* TCP: fds[conn] completed its handshake */
	unsigned conn;
	uint16_t ids[DC_MAX_IDS];
	unsigned nids;
	size_t qlen;
	/* TCP: one message at a time behind its two-octet length */
	uint8_t lenbuf[2];
	size_t lenhave;
	uint8_t *msg;
	size_t msgcap, msglen, msghave;
	uint64_t bytes;
	struct dnscheck_axfr_walk walk;
	bool done;               /* probe_finish() was called: stop reading */
};

struct dc_ctx {
	struct dnscheck_plan *pl;
	const struct dnscheck_step *s;
	struct dnscheck_facts *f;
};

static int
dc_ctx(struct probe *p, struct dc_ctx *c)
{
	uint32_t i = probe_target_index(p);

	c->pl = probe_opts(p)->ctx;
	if (c->pl == NULL || i >= c->pl->nsteps)
		return -EINVAL;
	c->s = &c->pl->steps[i];
	if (c->s->fact >= c->pl->nfacts)
		return -EINVAL;
	c->f = &c->pl->facts[c->s->fact];
	return 0;
}

static void
dc_finish(struct probe *p, enum probe_state st, enum probe_reason why, int attempt)
{
	struct dc_priv *dp = probe_priv(p);

	dp->done = true;
	probe_finish(p, st, why, attempt);
}

static void
dc_close(int fd, bool tcp)
{
	/* RST instead of FIN: a scan must not leave TIME_WAIT behind on every server */
	if (tcp) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(fd);
}

static int
dc_udp_send(struct probe *p, const struct dc_ctx *c, unsigned attempt)
{
	struct dc_priv *dp = probe_priv(p);
	const struct net_addr *a = probe_addr(p);
	struct dnscheck_question q;
	struct sockaddr_storage ss;
	uint8_t query[DNSCHECK_QUERY_MAX];
	uint16_t id;
	socklen_t sslen;
	int n, rc;

	if (attempt == 0) {
		int fd = socket(a->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1)
			return -errno;
		dp->fds[dp->nfds++] = fd;
		icmp_err_enable(fd, a->family);
		sslen = net_addr_to_sockaddr(a, probe_opts(p)->port, &ss);
		if (connect(fd, (struct sockaddr *)&ss, sslen) == -1) {
			dc_finish(p, PROBE_FILTERED, PROBE_REASON_HOST_UNREACH, -1);
			return 0;
		}
		if ((rc = probe_watch(p, fd, EPOLLIN)) < 0)
			return rc;
	}
	if (attempt >= DC_MAX_IDS || dp->nfds == 0)
		return 0;
	if ((rc = util_random(&id, sizeof(id))) < 0)
		return rc;
	n = dnscheck_build_query(c->pl, c->s, id, query, sizeof(query), &q);
	if (n < 0)
		return -EINVAL;
	dp->ids[attempt] = id;
	dp->nids = attempt + 1;
	dp->qlen = (size_t)n;
	if (send(dp->fds[0], query, (size_t)n, 0) == -1) {
		enum probe_state st;
		enum probe_reason why;
		/* ICMP for an earlier attempt: the port went away since the first pass */
		if (icmp_err_read(dp->fds[0], &st, &why) == 1)
			dc_finish(p, st, why, (int)attempt - 1);
		else
			dc_finish(p, PROBE_CLOSED, PROBE_REASON_PORT_UNREACH, (int)attempt - 1);
	}
	return 0;
}

static void
dc_udp_event(struct probe *p, const struct dc_ctx *c, int fd, uint32_t events)
{
	struct dc_priv *dp = probe_priv(p);
	struct dnscheck_question q;
	uint8_t buf[65536];

	if (events & EPOLLERR) {
		enum probe_state st;
		enum probe_reason why;
		if (icmp_err_read(fd, &st, &why) == 1) {
			dc_finish(p, st, why, (int)dp->nids - 1);
			return;
		}
	}
	if (dnscheck_step_question(c->pl, c->s, &q) < 0)
		return;
	for (int i = 0; i < DC_READS_PER_EVENT; i++) {
		struct dns_reply r;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == ECONNREFUSED)
				dc_finish(p, PROBE_CLOSED, PROBE_REASON_PORT_UNREACH,
					     (int)dp->nids - 1);
			return;
		}
		/* anything that is not the answer to one of our attempts is ignored: facts come
		 * from matching replies only, and the retransmissions go on */
		if (dns_parse_reply(buf, (size_t)n, &r) < 0)
			continue;
		for (unsigned k = 0; k < dp->nids; k++) {
			if (dns_reply_matches(&r, dp->ids[k], q.qname, q.qname_len, q.qtype,
					      q.qclass) != 0)
				continue;
			dnscheck_eval(c->pl, c->s, buf, (size_t)n, &r, dp->qlen, c->f);
			dc_finish(p, PROBE_OPEN, PROBE_REASON_DNS_REPLY, (int)k);
			return;
		}
	}
}

/* A TCP connection attempt; several may be in flight, the first to connect wins. */
static int
dc_tcp_connect(struct probe *p, unsigned attempt)
{
	struct dc_priv *dp = probe_priv(p);
	const struct net_addr *a = probe_addr(p);
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd;

	if (dp->connected || dp->nfds >= DC_MAX_SOCKETS)
		return 0;
	fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	dp->fds[dp->nfds++] = fd;
	sslen = net_addr_to_sockaddr(a, probe_opts(p)->port, &ss);
	if (connect(fd, (struct sockaddr *)&ss, sslen) == 0 || errno == EINPROGRESS)
		return probe_watch(p, fd, EPOLLOUT);
	/* the port answered the first pass a moment ago; now it does not */
	dc_finish(p, errno == ECONNREFUSED ? PROBE_CLOSED : PROBE_FILTERED,
		     errno == ECONNREFUSED ? PROBE_REASON_RESET : PROBE_REASON_HOST_UNREACH,
		     (int)attempt);
	return 0;
}

static void
dc_axfr_fact(struct probe *p, const struct dc_ctx *c, bool complete)
{
	struct dc_priv *dp = probe_priv(p);
	struct dnscheck_axfr *ax = &c->f->axfr[c->s->axfr];

	c->f->known |= DNSCHECK_AXFR;
	ax->state = DNSCHECK_AXFR_ALLOWED;
	ax->records = dp->walk.records;
	ax->complete = complete;
}

/* The connection is up: send the query and listen for the answer. */
static void
dc_tcp_connected(struct probe *p, const struct dc_ctx *c, unsigned idx)
{
	struct dc_priv *dp = probe_priv(p);
	struct dnscheck_question q;
	uint8_t query[2 + DNSCHECK_QUERY_MAX];
	uint16_t id;
	int n, fd = dp->fds[idx];

	/* the other attempts are not needed any more */
	for (unsigned i = 0; i < dp->nfds; i++)
		if (i != idx && dp->fds[i] != -1) {
			probe_unwatch(p, dp->fds[i]);
			dc_close(dp->fds[i], true);
			dp->fds[i] = -1;
		}
	dp->connected = true;
	dp->conn = idx;
	probe_stop_retries(p);
	probe_unwatch(p, fd);
	if (c->s->kind == DNSCHECK_STEP_TCP_DNS) {
		/* a connection is what the check needs to have a verdict: from here on, no
		 * answer means "not answered over TCP" */
		c->f->known |= DNSCHECK_TCP_DNS;
		c->f->tcp_dns = false;
	}
	if (util_random(&id, sizeof(id)) < 0)
		goto bad;
	n = dnscheck_build_query(c->pl, c->s, id, query + 2, sizeof(query) - 2, &q);
	if (n < 0)
		goto bad;
	query[0] = (uint8_t)(n >> 8);
	query[1] = (uint8_t)n;
	dp->ids[0] = id;
	dp->nids = 1;
	dp->walk.id = id;
	dp->walk.zone = q.qname;
	dp->walk.zone_len = q.qname_len;
	/* a fresh connection's send buffer takes a few hundred octets whole; a short write
	 * here would mean a broken connection, treated as one */
	if (send(fd, query, (size_t)n + 2, MSG_NOSIGNAL) != n + 2)
		goto bad;
	if (probe_watch(p, fd, EPOLLIN) < 0)
		goto bad;
	return;
bad:
	dc_finish(p, PROBE_OPEN, PROBE_REASON_SYN_ACK, -1);
}

/* One whole message arrived over TCP. */
static void
dc_tcp_message(struct probe *p, const struct dc_ctx *c, const uint8_t *msg, size_t len)
{
	struct dc_priv *dp = probe_priv(p);
	struct dns_reply r;
	struct dnscheck_question q;
	int rc;

	/* one question, one answer: tcp-dns and the recursion question */
	if (c->s->kind != DNSCHECK_STEP_AXFR) {
		if (dns_parse_reply(msg, len, &r) < 0 ||
		    dnscheck_step_question(c->pl, c->s, &q) < 0 ||
		    dns_reply_matches(&r, dp->ids[0], q.qname, q.qname_len, q.qtype, q.qclass) != 0)
			return; /* not the answer: wait for it until the deadline */
		dnscheck_eval(c->pl, c->s, msg, len, &r, dp->qlen, c->f);
		dc_finish(p, PROBE_OPEN, PROBE_REASON_DNS_REPLY, 0);
		return;
	}
	rc = dnscheck_axfr_feed(&dp->walk, msg, len);
	if (rc < 0) {
		/* before the transfer began, a stray message is ignored; in the middle of one it
		 * ends the count: what was counted stands, incomplete */
		if (dp->walk.messages > 0)
			dc_finish(p, PROBE_OPEN, PROBE_REASON_DNS_REPLY, 0);
		return;
	}
	if (rc == DNSCHECK_AXFR_NO && dp->walk.records == 0) {
		struct dnscheck_axfr *ax = &c->f->axfr[c->s->axfr];
		c->f->known |= DNSCHECK_AXFR;
		ax->state = DNSCHECK_AXFR_REFUSED;
		ax->rcode = dp->walk.rcode;
		dc_finish(p, PROBE_OPEN, PROBE_REASON_DNS_REPLY, 0);
		return;
	}
	dc_axfr_fact(p, c, rc == DNSCHECK_AXFR_DONE);
	if (rc != DNSCHECK_AXFR_MORE)
		dc_finish(p, PROBE_OPEN, PROBE_REASON_DNS_REPLY, 0);
}

/* The server closed the connection (or reset it). */
static void
dc_tcp_eof(struct probe *p, const struct dc_ctx *c)
{
	struct dc_priv *dp = probe_priv(p);

	if (c->s->kind == DNSCHECK_STEP_AXFR && dp->walk.messages == 0) {
		/* some servers refuse a transfer by hanging up */
		struct dnscheck_axfr *ax = &c->f->axfr[c->s->axfr];
		c->f->known |= DNSCHECK_AXFR;
		ax->state = DNSCHECK_AXFR_REFUSED;
		ax->closed = true;
	}
	dc_finish(p, PROBE_OPEN, PROBE_REASON_SYN_ACK, -1);
}

static void
dc_tcp_read(struct probe *p, const struct dc_ctx *c, int fd)
{
	struct dc_priv *dp = probe_priv(p);

	for (int i = 0; i < DC_READS_PER_EVENT; i++) {
		ssize_t n;

		if (dp->lenhave < 2) {
			n = recv(fd, dp->lenbuf + dp->lenhave, 2 - dp->lenhave, MSG_DONTWAIT);
		} else {
			if (dp->msgcap < dp->msglen) {
				/* sized per message: a probe slot holds no 64 KiB buffer idle */
				uint8_t *m = realloc(dp->msg, dp->msglen);
				if (m == NULL) {
					dc_finish(p, PROBE_OPEN, PROBE_REASON_ERROR, -1);
					return;
				}
				dp->msg = m;
				dp->msgcap = dp->msglen;
			}
			n = recv(fd, dp->msg + dp->msghave, dp->msglen - dp->msghave, MSG_DONTWAIT);
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			dc_tcp_eof(p, c);
			return;
		}
		dp->bytes += (uint64_t)n;
		if (dp->lenhave < 2) {
			dp->lenhave += (size_t)n;
			if (dp->lenhave == 2) {
				dp->msglen = (size_t)dp->lenbuf[0] << 8 | dp->lenbuf[1];
				dp->msghave = 0;
				if (dp->msglen == 0) { /* an empty message: nothing DNS about it */
					dc_tcp_eof(p, c);
					return;
				}
			}
			continue;
		}
		dp->msghave += (size_t)n;
		if (dp->msghave < dp->msglen)
			continue;
		dp->lenhave = 0;
		dc_tcp_message(p, c, dp->msg, dp->msglen);
		if (dp->done)
			return;
		/* a huge zone is counted up to the cap, then cut: bounded memory and time */
		if (dp->bytes > DNSCHECK_AXFR_MAX_BYTES && dp->walk.messages > 0) {
			dc_finish(p, PROBE_OPEN, PROBE_REASON_DNS_REPLY, 0);
			return;
		}
	}
}

static int
dc_send(struct probe *p, unsigned attempt)
{
	struct dc_ctx c;

	if (dc_ctx(p, &c) < 0)
		return -EINVAL;
	if (dnscheck_step_tcp((enum dnscheck_step_kind)c.s->kind))
		return dc_tcp_connect(p, attempt);
	return dc_udp_send(p, &c, attempt);
}

static void
dc_on_event(struct probe *p, int fd, uint32_t events)
{
	struct dc_priv *dp = probe_priv(p);
	struct dc_ctx c;

	if (dc_ctx(p, &c) < 0)
		return;
	if (!dnscheck_step_tcp((enum dnscheck_step_kind)c.s->kind)) {
		dc_udp_event(p, &c, fd, events);
		return;
	}
	if (dp->connected) {
		if (fd == dp->fds[dp->conn])
			dc_tcp_read(p, &c, fd);
		return;
	}
	for (unsigned i = 0; i < dp->nfds; i++) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (dp->fds[i] != fd)
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
			soerr = errno;
		if (soerr == 0) {
			dc_tcp_connected(p, &c, i);
			return;
		}
		/* this attempt failed; another one may still connect before the deadline */
		probe_unwatch(p, fd);
		dc_close(fd, true);
		dp->fds[i] = -1;
		if (soerr == ECONNREFUSED)
			dc_finish(p, PROBE_CLOSED, PROBE_REASON_RESET, (int)i);
		return;
	}
}

static void
dc_on_timeout(struct probe *p)
{
	struct dc_priv *dp = probe_priv(p);
	struct dc_ctx c;

	/* an AXFR cut by the deadline keeps what it counted (marked incomplete); tcp-dns
	 * already says false; every other step simply has no answer */
	if (dc_ctx(p, &c) == 0 && c.s->kind == DNSCHECK_STEP_AXFR && dp->walk.messages > 0 &&
	    dp->walk.records > 0)
		dc_axfr_fact(p, &c, false);
	dc_finish(p, PROBE_FILTERED, PROBE_REASON_NO_RESPONSE, -1);
}

static void
dc_release(struct probe *p)
{
	struct dc_priv *dp = probe_priv(p);
	struct dc_ctx c;
	bool tcp = dc_ctx(p, &c) == 0 &&
		   dnscheck_step_tcp((enum dnscheck_step_kind)c.s->kind);

	for (unsigned i = 0; i < dp->nfds; i++)
		if (dp->fds[i] != -1)
			dc_close(dp->fds[i], tcp);
	dp->nfds = 0;
	free(dp->msg);
	dp->msg = NULL;
	dp->msgcap = 0;
}

const struct probe_module probe_module_dnscheck = {
	.name = "dnscheck",
	.slot = PROBE_SLOT_UDP,
	.priv_size = sizeof(struct dc_priv),
	.send = dc_send,
	.on_event = dc_on_event,
	.on_timeout = dc_on_timeout,
	.release = dc_release,
};
