/* syn: stateless SYN probes — packets built here, answers validated by their cookie. */
#define _GNU_SOURCE
#include "probes/syn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "probes/capture.h"
#include "probes/cookie.h"
#include "probes/icmp_err.h"
#include "probes/packet.h"
#include "probes/route.h"

#define SYN_TTL 64
#define SYN_WINDOW 64240
#define SYN_MSS 1460
#define NEIGH_WAIT_MS 2000
#define DISPATCH_BATCH 512
#define DISPATCH_ROUNDS 16  /* per readiness: then the timers get their turn */
#define PKT_MAX 80          /* IPv6 + TCP with the MSS option */

struct syn_io {
	int pkt_fd;              /* AF_PACKET, SOCK_DGRAM: the kernel adds the link header */
	int raw_fd[2];           /* raw IPv4 / IPv6, header included: the kernel routes */
	struct capture *cap;
	char iface[IF_NAMESIZE];
};

/* How packets of one family leave. */
struct fam {
	bool ready, failed;
	struct route_info rt;
	bool l2;                 /* packet socket to next_mac; else raw IP socket */
	uint8_t next_mac[6];
	struct net_addr src;
};

struct syn_scanner {
	struct syn_config cfg;
	struct syn_io *io;
	bool own_io;
	struct cookie *ck;
	uint16_t sport;
	int reserve_fd;          /* keeps sport bound, so no local socket gets it meanwhile */
	struct fam fam[2];
	struct probe **table;    /* by target address: chains through syn_priv.next */
	size_t mask;
	struct syn_stats st;
};

struct syn_priv {
	struct probe *next;
	bool linked;
};

static int
fam_index(int family)
{
	return family == AF_INET6 ? 1 : 0;
}

static size_t
addr_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

static bool
same_addr(const struct net_addr *a, const struct net_addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, addr_len(a->family)) == 0;
}

/* ---- the privileged handles ---- */

int
syn_io_open(const char *iface, struct syn_io **out, char *err, size_t errlen)
{
	struct syn_io *io = calloc(1, sizeof(*io));
	struct capture_live_opts co = { .iface = iface, .inbound_only = true };
	int rc;

	*out = NULL;
	if (io == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	io->pkt_fd = io->raw_fd[0] = io->raw_fd[1] = -1;
	snprintf(io->iface, sizeof(io->iface), "%s", iface);
	/* protocol 0: this socket only sends, the capture does the hearing */
	io->pkt_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (io->pkt_fd == -1)
		goto sockfail;
	io->raw_fd[0] = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_RAW);
	if (io->raw_fd[0] == -1)
		goto sockfail;
	/* a host without IPv6 simply has no IPv6 raw socket; its targets then fail alone */
	io->raw_fd[1] = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_RAW);
	rc = capture_open_live(&co, &io->cap, err, errlen);
	if (rc < 0)
		goto bad;
	*out = io;
	return 0;
sockfail:
	rc = errno == EPERM || errno == EACCES ? -EPERM : -errno;
	snprintf(err, errlen, "raw socket: %s", strerror(errno));
bad:
	syn_io_close(io);
	return rc;
}

void
syn_io_close(struct syn_io *io)
{
	if (io == NULL)
		return;
	if (io->pkt_fd != -1)
		close(io->pkt_fd);
	for (int i = 0; i < 2; i++)
		if (io->raw_fd[i] != -1)
			close(io->raw_fd[i]);
	capture_close(io->cap);
	free(io);
}

/* ---- routes ---- */

static int
fam_setup(struct syn_scanner *s, const struct net_addr *dst, char *err, size_t errlen)
{
	struct fam *f = &s->fam[fam_index(dst->family)];
	int fi = fam_index(dst->family), rc;

	rc = route_lookup(dst, &f->rt, err, errlen);
	if (rc < 0)
		goto bad;
	if (s->cfg.iface != NULL && strcmp(s->cfg.iface, f->rt.ifname) != 0) {
		/* leaving by another interface than the route says: no gateway is known there,
		 * so the targets count as on-link unless --router-mac names a next hop */
		struct net_addr keep = f->rt.src;

		rc = route_interface(s->cfg.iface, &f->rt, err, errlen);
		if (rc < 0)
			goto bad;
		f->rt.src = keep;
		f->rt.has_gateway = false;
	}
	f->src = s->cfg.have_src[fi] ? s->cfg.src[fi] : f->rt.src;
	if (s->cfg.have_router_mac) {
		f->l2 = true;
		memcpy(f->next_mac, s->cfg.router_mac, 6);
	} else if (f->rt.hatype == ARPHRD_ETHER && f->rt.has_gateway) {
		rc = route_neighbor(f->rt.ifindex, &f->rt.gateway, NEIGH_WAIT_MS, f->next_mac, err,
				    errlen);
		if (rc < 0)
			goto bad;
		f->l2 = true;
	} else {
		/* loopback (a frame injected there carries no route, and the kernel drops one
		 * to 127.0.0.0/8 as martian), on-link Ethernet (every target its own
		 * neighbour), links without link addresses: the raw IP socket, and the kernel
		 * routes and resolves neighbours */
		f->l2 = false;
	}
	if (!f->l2 && s->io->raw_fd[fi] == -1) {
		snprintf(err, errlen, "no raw IPv%c socket on this host", fi ? '6' : '4');
		rc = -EAFNOSUPPORT;
		goto bad;
	}
	if (strcmp(s->io->iface, "any") != 0 && strcmp(s->io->iface, f->rt.ifname) != 0) {
		snprintf(err, errlen, "IPv%c targets leave through %s, but the capture listens on "
			 "%s", fi ? '6' : '4', f->rt.ifname, s->io->iface);
		rc = -EXDEV;
		goto bad;
	}
	f->ready = true;
	return 0;
bad:
	f->failed = true;
	return rc;
}

void
syn_describe(const struct syn_scanner *s, int family, char *buf, size_t len)
{
	const struct fam *f = &s->fam[fam_index(family)];
	char src[NETADDR_STRLEN], gw[NETADDR_STRLEN];
	const uint8_t *m = f->next_mac;

	if (!f->ready) {
		snprintf(buf, len, "not routed");
		return;
	}
	net_addr_str(&f->src, src, sizeof(src));
	if (f->rt.has_gateway)
		net_addr_str(&f->rt.gateway, gw, sizeof(gw));
	else
		snprintf(gw, sizeof(gw), "on-link");
	if (f->l2)
		snprintf(buf, len, "%s, src %s, via %s %02x:%02x:%02x:%02x:%02x:%02x, port %u",
			 f->rt.ifname, src, gw, m[0], m[1], m[2], m[3], m[4], m[5],
			 (unsigned)s->sport);
	else
		snprintf(buf, len, "%s, src %s, %s (raw IP: the kernel resolves neighbours), "
			 "port %u", f->rt.ifname, src, gw, (unsigned)s->sport);
}

/* ---- the scanner ---- */

/* One local port for the whole scan, held by a socket that never listens: the kernel keeps
 * it from other sockets, and answers the SYN-ACKs itself with RSTs (no socket wants them). */
static int
reserve_port(struct syn_scanner *s, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int off = 0, fd;

	memset(&ss, 0, sizeof(ss));
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd != -1) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		a->sin6_family = AF_INET6;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		a->sin_family = AF_INET;
		len = sizeof(*a);
	}
	if (fd == -1 || bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(err, errlen, "reserving a source port: %s", strerror(errno));
		if (fd != -1)
			close(fd);
		return -errno;
	}
	s->reserve_fd = fd;
	s->sport = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						  : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

int
syn_new(const struct syn_config *cfg, struct syn_io *io, struct syn_scanner **out, char *err,
	size_t errlen)
{
	struct syn_scanner *s = calloc(1, sizeof(*s));
	char filter[256], msg[256];
	const char *cap_iface = cfg->iface;
	size_t tsize = 64;
	int rc = -EINVAL;

	*out = NULL;
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->cfg = *cfg;
	s->reserve_fd = -1;
	if (cfg->max_attempts == 0 || cfg->max_attempts > 64) {
		snprintf(err, errlen, "SYN mode: 1 to 64 attempts");
		goto bad;
	}
	while (tsize < 2 * (size_t)cfg->concurrency)
		tsize *= 2;
	s->table = calloc(tsize, sizeof(*s->table));
	s->mask = tsize - 1;
	if (s->table == NULL) {
		snprintf(err, errlen, "out of memory");
		goto bad;
	}
	s->ck = cookie_new(err, errlen);
	if (s->ck == NULL || reserve_port(s, err, errlen) < 0)
		goto bad;
	if (io == NULL) {
		/* listen where the routes lead: one interface, or all of them when the two
		 * families leave by different ones */
		struct route_info ri[2];
		bool have[2] = { false, false };

		for (int fi = 0; fi < 2 && cap_iface == NULL; fi++)
			if (cfg->have_hint[fi] &&
			    route_lookup(&cfg->hint[fi], &ri[fi], msg, sizeof(msg)) == 0)
				have[fi] = true;
		if (cap_iface == NULL) {
			if (have[0] && have[1] && strcmp(ri[0].ifname, ri[1].ifname) != 0)
				cap_iface = "any";
			else if (have[0] || have[1])
				cap_iface = have[0] ? ri[0].ifname : ri[1].ifname;
			else
				cap_iface = "any";
		}
		rc = syn_io_open(cap_iface, &s->io, err, errlen);
		if (rc < 0)
			goto bad;
		s->own_io = true;
	} else {
		s->io = io;
	}
	/* only what can answer this scan reaches us: from the probed port to ours, and ICMP
	 * unreachables (their quotes are checked against the cookie like everything else) */
	snprintf(filter, sizeof(filter),
		 "(tcp src port %u and tcp dst port %u) or (icmp and icmp[icmptype] == "
		 "icmp-unreach) or (icmp6 and ip6[40] == 1)", (unsigned)cfg->port,
		 (unsigned)s->sport);
	if (capture_set_filter(s->io->cap, filter, err, errlen) < 0)
		goto bad;
	for (int fi = 0; fi < 2; fi++)
		if (cfg->have_hint[fi] && fam_setup(s, &cfg->hint[fi], err, errlen) < 0)
			goto bad;
	*out = s;
	return 0;
bad:
	syn_free(s);
	return rc < 0 ? rc : -EINVAL;
}

void
syn_free(struct syn_scanner *s)
{
	if (s == NULL)
		return;
	if (s->own_io)
		syn_io_close(s->io);
	if (s->reserve_fd != -1)
		close(s->reserve_fd);
	cookie_free(s->ck);
	free(s->table);
	free(s);
}

int syn_fd(const struct syn_scanner *s) { return capture_fd(s->io->cap); }
void syn_get_stats(const struct syn_scanner *s, struct syn_stats *st) { *st = s->st; }

static size_t
bucket(const struct syn_scanner *s, const struct net_addr *a)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < addr_len(a->family); i++) {
		h ^= a->bytes[i];
		h *= 16777619u;
	}
	return h & s->mask;
}

/* ---- packets ---- */

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* An IP packet holding one TCP segment without payload: a SYN (with an MSS option, as
 * every real stack sends) or an RST. Returns its length. */
static size_t
build_tcp(uint8_t *buf, const struct net_addr *src, const struct net_addr *dst, uint16_t sport,
	  uint16_t dport, uint32_t seq, uint8_t flags, uint16_t ipid)
{
	bool v6 = src->family == AF_INET6;
	size_t al = addr_len(src->family), ipl = v6 ? 40 : 20;
	size_t tl = (flags & PKT_TCP_SYN) ? 24 : 20;
	uint8_t *t = buf + ipl;
	uint8_t pseudo[40];
	uint32_t sum;

	memset(buf, 0, ipl + tl);
	if (v6) {
		buf[0] = 0x60;
		put16(buf + 4, (uint16_t)tl);
		buf[6] = IPPROTO_TCP;
		buf[7] = SYN_TTL;
		memcpy(buf + 8, src->bytes, 16);
		memcpy(buf + 24, dst->bytes, 16);
	} else {
		buf[0] = 0x45;
		put16(buf + 2, (uint16_t)(ipl + tl));
		put16(buf + 4, ipid);
		put16(buf + 6, 0x4000); /* DF */
		buf[8] = SYN_TTL;
		buf[9] = IPPROTO_TCP;
		memcpy(buf + 12, src->bytes, 4);
		memcpy(buf + 16, dst->bytes, 4);
		put16(buf + 10, (uint16_t)~pkt_csum_fold(pkt_csum_add(0, buf, 20)));
	}
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	t[12] = (uint8_t)((tl / 4) << 4);
	t[13] = flags;
	put16(t + 14, (flags & PKT_TCP_SYN) ? SYN_WINDOW : 0);
	if (flags & PKT_TCP_SYN) {
		t[20] = 2; /* MSS */
		t[21] = 4;
		put16(t + 22, SYN_MSS);
	}
	/* the pseudo-header: addresses, protocol, segment length */
	memcpy(pseudo, src->bytes, al);
	memcpy(pseudo + al, dst->bytes, al);
	sum = pkt_csum_add(0, pseudo, 2 * al);
	sum += IPPROTO_TCP + (uint32_t)tl;
	sum = pkt_csum_add(sum, t, tl);
	put16(t + 16, (uint16_t)~pkt_csum_fold(sum));
	return ipl + tl;
}

static int
xmit(struct syn_scanner *s, const struct fam *f, const struct net_addr *dst, const uint8_t *pkt,
     size_t len)
{
	ssize_t n;

	if (f->l2) {
		struct sockaddr_ll sll;

		memset(&sll, 0, sizeof(sll));
		sll.sll_family = AF_PACKET;
		sll.sll_protocol = htons(dst->family == AF_INET6 ? ETH_P_IPV6 : ETH_P_IP);
		sll.sll_ifindex = f->rt.ifindex;
		sll.sll_halen = 6;
		memcpy(sll.sll_addr, f->next_mac, 6);
		n = sendto(s->io->pkt_fd, pkt, len, 0, (struct sockaddr *)&sll, sizeof(sll));
	} else {
		struct sockaddr_storage ss;
		socklen_t sl = net_addr_to_sockaddr(dst, 0, &ss);

		n = sendto(s->io->raw_fd[fam_index(dst->family)], pkt, len, 0,
			   (struct sockaddr *)&ss, sl);
	}
	if (n == (ssize_t)len)
		return 0;
	s->st.send_errors++;
	/* a full queue loses this packet like the network would: the retransmissions inside
	 * the timeout window are there for that */
	if (n == -1 && (errno == EAGAIN || errno == ENOBUFS || errno == EWOULDBLOCK))
		return 0;
	return n == -1 ? -errno : -EIO;
}

/* ---- the module ---- */

static int
syn_send(struct probe *p, unsigned attempt)
{
	struct syn_scanner *s = probe_module_arg(p);
	struct syn_priv *sp = probe_priv(p);
	const struct net_addr *dst = probe_addr(p);
	struct fam *f = &s->fam[fam_index(dst->family)];
	uint8_t pkt[PKT_MAX];
	size_t len;

	if (!f->ready) {
		char msg[256];

		if (f->failed)
			return -EHOSTUNREACH;
		/* a family no hint announced: routed now, once (this may wait for ARP) */
		if (fam_setup(s, dst, msg, sizeof(msg)) < 0) {
			log_warnx("SYN mode: %s", msg);
			return -EHOSTUNREACH;
		}
	}
	if (attempt == 0 && !sp->linked) {
		size_t b = bucket(s, dst);

		sp->next = s->table[b];
		s->table[b] = p;
		sp->linked = true;
	}
	len = build_tcp(pkt, &f->src, dst, s->sport, s->cfg.port,
			cookie_of(s->ck, &f->src, dst, s->sport, s->cfg.port) + attempt,
			PKT_TCP_SYN, (uint16_t)(s->st.sent * 2654435761u >> 16));
	s->st.sent++;
	return xmit(s, f, dst, pkt, len);
}

static void
syn_release(struct probe *p)
{
	struct syn_scanner *s = probe_module_arg(p);
	struct syn_priv *sp = probe_priv(p);
	struct probe **pp;

	if (!sp->linked)
		return;
	for (pp = &s->table[bucket(s, probe_addr(p))]; *pp != NULL;
	     pp = &((struct syn_priv *)probe_priv(*pp))->next)
		if (*pp == p) {
			*pp = sp->next;
			break;
		}
	sp->linked = false;
}

static void
finish_all(struct syn_scanner *s, const struct net_addr *target, enum probe_state st,
	   enum probe_reason why, int attempt)
{
	for (struct probe *p = s->table[bucket(s, target)]; p != NULL;
	     p = ((struct syn_priv *)probe_priv(p))->next)
		if (same_addr(probe_addr(p), target))
			probe_finish(p, st, why, attempt);
}

/* ack - 1 (or the quoted seq) minus the cookie: the attempt it answers, or -1. */
static int
attempt_of(struct syn_scanner *s, const struct net_addr *src, const struct net_addr *dst,
	   uint32_t seq)
{
	uint32_t d = seq - cookie_of(s->ck, src, dst, s->sport, s->cfg.port);

	return d < s->cfg.max_attempts ? (int)d : -1;
}

static void
on_frame(void *arg, const struct capture_packet *cp)
{
	struct syn_scanner *s = arg;
	struct pkt_info pi;
	const struct fam *f;
	int att;

	if (pkt_decode(capture_link(s->io->cap), cp->data, cp->caplen, &pi) != PKT_OK)
		goto invalid;
	if (pi.proto == PKT_PROTO_TCP) {
		uint8_t pkt[PKT_MAX];

		f = &s->fam[fam_index(pi.src.family)];
		if (!f->ready || pi.sport != s->cfg.port || pi.dport != s->sport ||
		    !same_addr(&pi.dst, &f->src) || !(pi.tcp_flags & PKT_TCP_ACK))
			goto invalid;
		att = attempt_of(s, &f->src, &pi.src, pi.ack - 1);
		if (att < 0)
			goto invalid;
		s->st.answers++;
		if ((pi.tcp_flags & (PKT_TCP_SYN | PKT_TCP_RST)) == PKT_TCP_SYN) {
			/* tear the half-open connection down at once, as the kernel would */
			size_t len = build_tcp(pkt, &f->src, &pi.src, s->sport, s->cfg.port, pi.ack,
					       PKT_TCP_RST, 0);
			if (xmit(s, f, &pi.src, pkt, len) == 0)
				s->st.rst_sent++;
			finish_all(s, &pi.src, PROBE_OPEN, PROBE_REASON_SYN_ACK, att);
		} else if (pi.tcp_flags & PKT_TCP_RST) {
			finish_all(s, &pi.src, PROBE_CLOSED, PROBE_REASON_RESET, att);
		}
		return;
	}
	if (pi.proto == PKT_PROTO_ICMP && pi.quote.present && pi.quote.proto == IPPROTO_TCP) {
		enum probe_state st;
		enum probe_reason why;

		f = &s->fam[fam_index(pi.quote.src.family)];
		if (!f->ready || pi.quote.sport != s->sport || pi.quote.dport != s->cfg.port ||
		    !same_addr(&pi.quote.src, &f->src))
			goto invalid;
		att = attempt_of(s, &f->src, &pi.quote.dst, pi.quote.seq);
		if (att < 0)
			goto invalid;
		s->st.answers++;
		icmp_err_classify(pi.quote.src.family, pi.icmp_type, pi.icmp_code, &st, &why);
		/* for TCP every unreachable is a firewall's or router's word: filtered (a port
		 * unreachable included, as the connect probe reports it) */
		finish_all(s, &pi.quote.dst, PROBE_FILTERED, why, att);
		return;
	}
invalid:
	s->st.invalid++;
}

void
syn_on_readable(void *scanner, uint32_t events)
{
	struct syn_scanner *s = scanner;

	(void)events;
	for (int round = 0; round < DISPATCH_ROUNDS; round++) {
		int n = capture_dispatch(s->io->cap, DISPATCH_BATCH, on_frame, s);

		if (n < 0) {
			log_warnx("SYN mode: capture: %s", capture_error(s->io->cap));
			return;
		}
		if (n < DISPATCH_BATCH)
			return;
	}
}

const struct probe_module probe_module_syn = {
	.name = "syn",
	.slot = PROBE_SLOT_TCP,
	.priv_size = sizeof(struct syn_priv),
	.send = syn_send,
	.on_event = NULL,
	.on_timeout = NULL,
	.release = syn_release,
};
