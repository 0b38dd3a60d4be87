/* route: rtnetlink route and neighbour lookups for packets we build ourselves. */
#define _GNU_SOURCE
#include "probes/route.h"

#include <errno.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NL_BUF 32768
#define NL_MAX_MESSAGES 4096 /* a neighbour dump is read this far at most */

static size_t
alen(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

static int
nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 2, .tv_usec = 0 };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd == -1)
		return -errno;
	/* the kernel answers at once; the timeout only bounds a broken exchange */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static void
add_attr(struct nlmsghdr *n, size_t cap, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));

	if (NLMSG_ALIGN(n->nlmsg_len) + RTA_SPACE(len) > cap)
		return;
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	n->nlmsg_len = (unsigned)(NLMSG_ALIGN(n->nlmsg_len) + RTA_SPACE(len));
}

/* The interface's link type and address. */
static int
if_link(struct route_info *out, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", out->ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) == -1) {
		rc = -errno;
		snprintf(err, errlen, "interface %s: %s", out->ifname, strerror(errno));
	} else {
		out->hatype = ifr.ifr_hwaddr.sa_family;
		memcpy(out->ifmac, ifr.ifr_hwaddr.sa_data, 6);
	}
	close(fd);
	return rc;
}

int
route_interface(const char *ifname, struct route_info *out, char *err, size_t errlen)
{
	unsigned idx = if_nametoindex(ifname);

	if (idx == 0 || strlen(ifname) >= sizeof(out->ifname)) {
		snprintf(err, errlen, "no interface named '%s'", ifname);
		return -ENODEV;
	}
	out->ifindex = (int)idx;
	snprintf(out->ifname, sizeof(out->ifname), "%s", ifname);
	return if_link(out, err, errlen);
}

/* The kernel's own choice of source address: connect() a UDP socket (nothing is sent). */
static int
source_for(const struct net_addr *dst, struct net_addr *src)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(dst->family, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd == -1)
		return -errno;
	len = net_addr_to_sockaddr(dst, 9, &ss);
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		rc = -errno;
	} else {
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
			rc = -errno;
		else if (net_addr_from_sockaddr((struct sockaddr *)&ss, src, NULL) < 0)
			rc = -EAFNOSUPPORT;
	}
	close(fd);
	return rc;
}

int
route_lookup(const struct net_addr *dst, struct route_info *out, char *err, size_t errlen)
{
	struct {
		struct nlmsghdr n;
		struct rtmsg r;
		char attrs[64];
	} req;
	char buf[NL_BUF], abuf[NETADDR_STRLEN];
	struct nlmsghdr *h;
	ssize_t len;
	int fd, rc = -EHOSTUNREACH, oif = 0;

	memset(out, 0, sizeof(*out));
	net_addr_str(dst, abuf, sizeof(abuf));
	fd = nl_open();
	if (fd < 0) {
		snprintf(err, errlen, "netlink: %s", strerror(-fd));
		return fd;
	}
	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.n.nlmsg_type = RTM_GETROUTE;
	req.n.nlmsg_flags = NLM_F_REQUEST;
	req.n.nlmsg_seq = 1;
	req.r.rtm_family = dst->family;
	req.r.rtm_dst_len = (unsigned char)(alen(dst->family) * 8);
	add_attr(&req.n, sizeof(req), RTA_DST, dst->bytes, alen(dst->family));
	if (send(fd, &req, req.n.nlmsg_len, 0) == -1) {
		rc = -errno;
		snprintf(err, errlen, "netlink: %s", strerror(errno));
		goto out;
	}
	len = recv(fd, buf, sizeof(buf), 0);
	if (len < 0) {
		rc = -errno;
		snprintf(err, errlen, "netlink: %s", strerror(errno));
		goto out;
	}
	for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
		struct rtmsg *r;
		struct rtattr *a;
		int alen_left;

		if (h->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(h);
			rc = e->error < 0 ? e->error : -EHOSTUNREACH;
			snprintf(err, errlen, "no route to %s: %s", abuf, strerror(-rc));
			goto out;
		}
		if (h->nlmsg_type != RTM_NEWROUTE)
			continue;
		r = NLMSG_DATA(h);
		if (r->rtm_type == RTN_UNREACHABLE || r->rtm_type == RTN_PROHIBIT ||
		    r->rtm_type == RTN_BLACKHOLE) {
			snprintf(err, errlen, "no route to %s (unreachable, prohibit or blackhole "
				 "route)", abuf);
			rc = -EHOSTUNREACH;
			goto out;
		}
		alen_left = (int)RTM_PAYLOAD(h);
		for (a = RTM_RTA(r); RTA_OK(a, alen_left); a = RTA_NEXT(a, alen_left)) {
			if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= sizeof(int)) {
				memcpy(&oif, RTA_DATA(a), sizeof(int));
			} else if (a->rta_type == RTA_GATEWAY &&
				   RTA_PAYLOAD(a) == alen(dst->family)) {
				out->has_gateway = true;
				out->gateway.family = dst->family;
				memcpy(out->gateway.bytes, RTA_DATA(a), alen(dst->family));
			}
		}
		rc = 0;
		break;
	}
	if (rc < 0 || oif == 0) {
		snprintf(err, errlen, "no route to %s", abuf);
		rc = -EHOSTUNREACH;
		goto out;
	}
	out->ifindex = oif;
	if (if_indextoname((unsigned)oif, out->ifname) == NULL) {
		rc = -errno;
		snprintf(err, errlen, "route to %s: interface %d: %s", abuf, oif, strerror(errno));
		goto out;
	}
	rc = source_for(dst, &out->src);
	if (rc < 0) {
		snprintf(err, errlen, "no source address for %s: %s", abuf, strerror(-rc));
		goto out;
	}
	rc = if_link(out, err, errlen);
out:
	close(fd);
	return rc;
}

/* One neighbour dump: 1 and mac when next is there in a usable state, 0 if not. */
static int
neigh_find(int ifindex, const struct net_addr *next, uint8_t mac[6])
{
	struct {
		struct nlmsghdr n;
		struct ndmsg m;
	} req;
	char buf[NL_BUF];
	int fd = nl_open(), found = 0, msgs = 0;

	if (fd < 0)
		return fd;
	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg));
	req.n.nlmsg_type = RTM_GETNEIGH;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.n.nlmsg_seq = 2;
	req.m.ndm_family = next->family;
	if (send(fd, &req, req.n.nlmsg_len, 0) == -1) {
		found = -errno;
		goto out;
	}
	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (len <= 0) {
			found = len < 0 ? -errno : found;
			goto out;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			struct ndmsg *m;
			struct rtattr *a;
			int left;
			bool dst_ok = false, mac_ok = false;
			uint8_t m6[6];

			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR ||
			    ++msgs > NL_MAX_MESSAGES)
				goto out;
			if (h->nlmsg_type != RTM_NEWNEIGH)
				continue;
			m = NLMSG_DATA(h);
			if (m->ndm_ifindex != ifindex ||
			    (m->ndm_state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NONE)) ||
			    m->ndm_state == 0)
				continue;
			left = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
			for (a = (struct rtattr *)((char *)m + NLMSG_ALIGN(sizeof(*m)));
			     RTA_OK(a, left); a = RTA_NEXT(a, left)) {
				if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == alen(next->family) &&
				    memcmp(RTA_DATA(a), next->bytes, alen(next->family)) == 0)
					dst_ok = true;
				else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
					memcpy(m6, RTA_DATA(a), 6);
					mac_ok = true;
				}
			}
			if (dst_ok && mac_ok) {
				memcpy(mac, m6, 6);
				found = 1;
			}
		}
	}
out:
	close(fd);
	return found;
}

/* Make the kernel resolve next: an empty datagram to its discard port. */
static void
neigh_poke(const struct net_addr *next)
{
	struct sockaddr_storage ss;
	socklen_t len = net_addr_to_sockaddr(next, 9, &ss);
	int fd = socket(next->family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd == -1)
		return;
	if (sendto(fd, "", 0, 0, (struct sockaddr *)&ss, len) == -1) {
		/* nothing to do: the lookup that follows says whether it worked */
	}
	close(fd);
}

int
route_neighbor(int ifindex, const struct net_addr *next, unsigned wait_ms, uint8_t mac[6],
	       char *err, size_t errlen)
{
	char abuf[NETADDR_STRLEN];
	unsigned tries = wait_ms / 100 + 1;

	for (unsigned i = 0; i < tries; i++) {
		int rc = neigh_find(ifindex, next, mac);

		if (rc == 1)
			return 0;
		if (rc < 0) {
			snprintf(err, errlen, "neighbour table: %s", strerror(-rc));
			return rc;
		}
		if (i + 1 == tries)
			break;
		if (i == 0)
			neigh_poke(next);
		nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
	}
	snprintf(err, errlen, "the next hop %s has no link address in the neighbour table "
		 "(it did not answer ARP/ND); pass --router-mac", net_addr_str(next, abuf,
									  sizeof(abuf)));
	return -EHOSTUNREACH;
}

int
route_parse_mac(const char *text, uint8_t mac[6])
{
	unsigned v[6];
	char sep[5], tail;

	if (strlen(text) != 17 ||
	    sscanf(text, "%2x%c%2x%c%2x%c%2x%c%2x%c%2x%c", &v[0], &sep[0], &v[1], &sep[1], &v[2],
		   &sep[2], &v[3], &sep[3], &v[4], &sep[4], &v[5], &tail) != 11)
		return -EINVAL;
	for (int i = 0; i < 5; i++)
		if (sep[i] != ':' && sep[i] != '-')
			return -EINVAL;
	for (int i = 0; i < 17; i++)
		if (i % 3 != 2 && !((text[i] >= '0' && text[i] <= '9') ||
				    (text[i] >= 'a' && text[i] <= 'f') ||
				    (text[i] >= 'A' && text[i] <= 'F')))
			return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}
