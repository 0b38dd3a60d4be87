/* icmp_err: ICMP/ICMPv6 errors from the socket error queue, mapped the way nmap maps them. */
#define _GNU_SOURCE
#include "probes/icmp_err.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <string.h>
#include <sys/socket.h>

int
icmp_err_enable(int fd, int family)
{
	int on = 1;
	int rc;

	if (family == AF_INET6)
		rc = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on));
	else
		rc = setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on));
	return rc == -1 ? -errno : 0;
}

static void
classify_v4(uint8_t type, uint8_t code, enum probe_state *state, enum probe_reason *reason)
{
	*state = PROBE_FILTERED;
	if (type != ICMP_DEST_UNREACH) {
		*reason = PROBE_REASON_HOST_UNREACH;
		return;
	}
	switch (code) {
	case ICMP_PORT_UNREACH:
		*state = PROBE_CLOSED;
		*reason = PROBE_REASON_PORT_UNREACH;
		break;
	case ICMP_NET_UNREACH:
	case ICMP_NET_UNKNOWN:
	case ICMP_NET_ANO:
	case ICMP_NET_UNR_TOS:
		*reason = PROBE_REASON_NET_UNREACH;
		break;
	case ICMP_PROT_UNREACH:
		*reason = PROBE_REASON_PROTO_UNREACH;
		break;
	case ICMP_HOST_ANO:
	case ICMP_PKT_FILTERED:
		*reason = PROBE_REASON_ADMIN_PROHIBITED;
		break;
	default:
		*reason = PROBE_REASON_HOST_UNREACH;
		break;
	}
}

static void
classify_v6(uint8_t type, uint8_t code, enum probe_state *state, enum probe_reason *reason)
{
	*state = PROBE_FILTERED;
	if (type != ICMP6_DST_UNREACH) {
		*reason = PROBE_REASON_HOST_UNREACH;
		return;
	}
	switch (code) {
	case ICMP6_DST_UNREACH_NOPORT:
		*state = PROBE_CLOSED;
		*reason = PROBE_REASON_PORT_UNREACH;
		break;
	case ICMP6_DST_UNREACH_NOROUTE:
		*reason = PROBE_REASON_NET_UNREACH;
		break;
	case ICMP6_DST_UNREACH_ADMIN:
	case 5: /* source address failed ingress/egress policy */
	case 6: /* reject route to destination */
		*reason = PROBE_REASON_ADMIN_PROHIBITED;
		break;
	default:
		*reason = PROBE_REASON_HOST_UNREACH;
		break;
	}
}

void
icmp_err_classify(int family, uint8_t type, uint8_t code, enum probe_state *state,
		  enum probe_reason *reason)
{
	if (family == AF_INET6)
		classify_v6(type, code, state, reason);
	else
		classify_v4(type, code, state, reason);
}

int
icmp_err_parse(const struct msghdr *msg, enum probe_state *state, enum probe_reason *reason)
{
	int found = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
		struct sock_extended_err ee;
		enum probe_state s;
		enum probe_reason r;

		if (!((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
		      (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)))
			continue;
		if (c->cmsg_len < CMSG_LEN(sizeof(ee)))
			continue;
		memcpy(&ee, CMSG_DATA(c), sizeof(ee));
		if (ee.ee_origin == SO_EE_ORIGIN_ICMP)
			classify_v4(ee.ee_type, ee.ee_code, &s, &r);
		else if (ee.ee_origin == SO_EE_ORIGIN_ICMP6)
			classify_v6(ee.ee_type, ee.ee_code, &s, &r);
		else
			continue;
		/* a port unreachable is the most specific answer; keep it if seen */
		if (!found || s == PROBE_CLOSED) {
			*state = s;
			*reason = r;
		}
		found = 1;
	}
	return found;
}

int
icmp_err_read(int fd, enum probe_state *state, enum probe_reason *reason)
{
	int found = 0;

	/* bounded: the queue holds at most a few errors per probe */
	for (int i = 0; i < 8; i++) {
		char cbuf[512];
		char dbuf[64];
		struct iovec iov = { dbuf, sizeof(dbuf) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		enum probe_state s;
		enum probe_reason r;

		if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return found ? found : -errno;
		}
		if (icmp_err_parse(&msg, &s, &r) != 1)
			continue;
		if (!found || s == PROBE_CLOSED) {
			*state = s;
			*reason = r;
		}
		found = 1;
	}
	return found;
}
