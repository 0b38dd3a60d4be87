/*
 * tcp: connect() probe. Each attempt is its own non-blocking socket, so a retransmission
 * inside the timeout window does not wait for the kernel's 1 s SYN retry timer. The
 * socket is closed with an RST (linger 0) right after the handshake: no data is sent and
 * no TIME_WAIT is left behind on a large scan.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probes/icmp_err.h"
#include "probes/probe.h"

#define TCP_MAX_SOCKETS 16

struct tcp_priv {
	int fds[TCP_MAX_SOCKETS];
	unsigned nfds;
	bool connected; /* a handshake completed: close with a reset */
};

/* Only a connected socket leaves anything behind when closed (a FIN, then TIME_WAIT), so
 * only a probe that saw a handshake pays the extra system call for linger 0; a socket still
 * in SYN_SENT or refused just goes. */
static void
tcp_close_fd(int fd, bool connected)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (connected)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static int
attempt_of(const struct tcp_priv *tp, int fd)
{
	for (unsigned i = 0; i < tp->nfds; i++)
		if (tp->fds[i] == fd)
			return (int)i;
	return -1;
}

/* Decide from a connect() result (0 or an errno). Returns true if the probe finished. */
static bool
tcp_verdict(struct probe *p, int fd, int attempt, int soerr)
{
	enum probe_state st;
	enum probe_reason why;

	switch (soerr) {
	case 0:
		((struct tcp_priv *)probe_priv(p))->connected = true;
		probe_finish(p, PROBE_OPEN, PROBE_REASON_SYN_ACK, attempt);
		return true;
	case ECONNREFUSED:
		/* an RST and an ICMP port unreachable both end up as ECONNREFUSED; only the
		 * error queue tells them apart, and ICMP means a firewall said no */
		if (icmp_err_read(fd, &st, &why) == 1) {
			probe_finish(p, PROBE_FILTERED, why, attempt);
			return true;
		}
		probe_finish(p, PROBE_CLOSED, PROBE_REASON_RESET, attempt);
		return true;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EACCES:
	case EPERM:
	case EHOSTDOWN:
	case ENONET:
	case ENOPROTOOPT:
		if (icmp_err_read(fd, &st, &why) != 1)
			why = soerr == ENETUNREACH ? PROBE_REASON_NET_UNREACH
			    : (soerr == EACCES || soerr == EPERM) ? PROBE_REASON_ADMIN_PROHIBITED
								   : PROBE_REASON_HOST_UNREACH;
		if (why == PROBE_REASON_PORT_UNREACH)
			why = PROBE_REASON_HOST_UNREACH;
		probe_finish(p, PROBE_FILTERED, why, attempt);
		return true;
	default:
		/* ETIMEDOUT and friends: keep waiting for other attempts or the deadline */
		return false;
	}
}

static int
tcp_send(struct probe *p, unsigned attempt)
{
	struct tcp_priv *tp = probe_priv(p);
	const struct net_addr *a = probe_addr(p);
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd, rc;

	if (attempt == 0) {
		tp->nfds = 0;
		tp->connected = false;
	}
	if (tp->nfds >= TCP_MAX_SOCKETS)
		return 0;
	fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	tp->fds[tp->nfds++] = fd;
	icmp_err_enable(fd, a->family);
	sslen = net_addr_to_sockaddr(a, probe_opts(p)->port, &ss);
	if (connect(fd, (struct sockaddr *)&ss, sslen) == 0) {
		tp->connected = true;
		probe_finish(p, PROBE_OPEN, PROBE_REASON_SYN_ACK, (int)attempt);
		return 0;
	}
	if (errno != EINPROGRESS) {
		if (tcp_verdict(p, fd, (int)attempt, errno))
			return 0;
		return -errno;
	}
	rc = probe_watch(p, fd, EPOLLOUT);
	return rc;
}

static void
tcp_on_event(struct probe *p, int fd, uint32_t events)
{
	struct tcp_priv *tp = probe_priv(p);
	int attempt = attempt_of(tp, fd);
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	(void)events;
	if (attempt < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		soerr = errno;
	if (!tcp_verdict(p, fd, attempt, soerr))
		probe_unwatch(p, fd);
}

static void
tcp_release(struct probe *p)
{
	struct tcp_priv *tp = probe_priv(p);

	for (unsigned i = 0; i < tp->nfds; i++)
		if (tp->fds[i] != -1)
			tcp_close_fd(tp->fds[i], tp->connected);
	tp->nfds = 0;
}

const struct probe_module probe_module_tcp = {
	.name = "tcp",
	.slot = PROBE_SLOT_TCP,
	.priv_size = sizeof(struct tcp_priv),
	.send = tcp_send,
	.on_event = tcp_on_event,
	.on_timeout = NULL,
	.release = tcp_release,
};
