/* packet: bounds-checked decoding of captured frames (link, IP, transport, ICMP quotes). */
#include "probes/packet.h"

#include <string.h>
#include <sys/socket.h>

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8

#define IPPROTO_NUM_ICMP 1
#define IPPROTO_NUM_TCP 6
#define IPPROTO_NUM_UDP 17
#define IPPROTO_NUM_ICMPV6 58

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

const char *
pkt_strerror(int err)
{
	switch (err) {
	case PKT_OK: return "ok";
	case PKT_E_TRUNCATED: return "truncated";
	case PKT_E_MALFORMED: return "malformed";
	case PKT_E_UNSUPPORTED: return "unsupported";
	case PKT_E_FRAGMENT: return "fragment";
	default: return "unknown error";
	}
}

/* The network layer of one packet: where it starts and which IP version the link said. */
struct l3 {
	const uint8_t *p;
	size_t len;
	int version; /* 4, 6, or 0: read the version nibble */
};

static int
link_ethertype(uint16_t type, int *version)
{
	if (type == ETHERTYPE_IPV4)
		*version = 4;
	else if (type == ETHERTYPE_IPV6)
		*version = 6;
	else
		return PKT_E_UNSUPPORTED;
	return PKT_OK;
}

static int
decode_link(enum pkt_link link, const uint8_t *f, size_t caplen, struct l3 *out)
{
	size_t off;
	uint16_t type;
	uint32_t af_le, af_be;

	switch (link) {
	case PKT_LINK_ETHERNET:
		off = 12;
		if (caplen < off + 2)
			return PKT_E_TRUNCATED;
		type = rd16(f + off);
		/* tags are bounded: a frame of nothing but tags is not looped over */
		for (int tags = 0; type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ; tags++) {
			if (tags == PKT_MAX_VLAN)
				return PKT_E_UNSUPPORTED;
			off += 4;
			if (caplen < off + 2)
				return PKT_E_TRUNCATED;
			type = rd16(f + off);
		}
		off += 2;
		break;
	case PKT_LINK_SLL:
		off = 16;
		if (caplen < off)
			return PKT_E_TRUNCATED;
		type = rd16(f + 14);
		break;
	case PKT_LINK_SLL2:
		off = 20;
		if (caplen < off)
			return PKT_E_TRUNCATED;
		type = rd16(f);
		break;
	case PKT_LINK_NULL:
	case PKT_LINK_LOOP:
		off = 4;
		if (caplen < off)
			return PKT_E_TRUNCATED;
		/* NULL is in the capturing host's order, which the file does not say: take
		 * whichever order gives a known family (LOOP is always big-endian) */
		af_be = rd32(f);
		af_le = (uint32_t)f[0] | ((uint32_t)f[1] << 8) | ((uint32_t)f[2] << 16) |
			((uint32_t)f[3] << 24);
		out->p = f + off;
		out->len = caplen - off;
		if (af_be == 2 || (link == PKT_LINK_NULL && af_le == 2))
			out->version = 4;
		else if (af_be == 10 || af_be == 24 || af_be == 28 || af_be == 30 ||
			 (link == PKT_LINK_NULL &&
			  (af_le == 10 || af_le == 24 || af_le == 28 || af_le == 30)))
			out->version = 6;
		else
			return PKT_E_UNSUPPORTED;
		return PKT_OK;
	case PKT_LINK_RAW:
		out->p = f;
		out->len = caplen;
		out->version = 0;
		return PKT_OK;
	case PKT_LINK_IPV4:
	case PKT_LINK_IPV6:
		out->p = f;
		out->len = caplen;
		out->version = link == PKT_LINK_IPV4 ? 4 : 6;
		return PKT_OK;
	case PKT_LINK_UNKNOWN:
	default:
		return PKT_E_UNSUPPORTED;
	}
	out->p = f + off;
	out->len = caplen - off;
	return link_ethertype(type, &out->version);
}

/* The IP header(s) of a packet: addresses, protocol, where the transport header starts,
 * how much of it was captured and how long it is on the wire. */
struct ip_hdr {
	struct net_addr src, dst;
	uint8_t ttl;
	uint8_t proto;
	bool first_fragment;
	const uint8_t *l4;
	size_t l4_len;  /* captured */
	size_t l4_wire; /* by the IP header's length field */
};

static int
decode_ipv4(const uint8_t *p, size_t len, struct ip_hdr *h)
{
	size_t ihl, tot;
	uint16_t frag;

	if (len < 20)
		return PKT_E_TRUNCATED;
	if ((p[0] >> 4) != 4)
		return PKT_E_MALFORMED;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < 20)
		return PKT_E_MALFORMED; /* IHL below 5 */
	if (len < ihl)
		return PKT_E_TRUNCATED;
	tot = rd16(p + 2);
	/* 0 appears in captures of segmentation-offloaded packets: the length is the
	 * capture's; anything else below the header is a lie */
	if (tot == 0)
		tot = len;
	if (tot < ihl)
		return PKT_E_MALFORMED;
	frag = rd16(p + 6);
	if ((frag & 0x1fff) != 0)
		return PKT_E_FRAGMENT;
	h->first_fragment = (frag & 0x2000) != 0;
	h->ttl = p[8];
	h->proto = p[9];
	memset(&h->src, 0, sizeof(h->src));
	memset(&h->dst, 0, sizeof(h->dst));
	h->src.family = h->dst.family = AF_INET;
	memcpy(h->src.bytes, p + 12, 4);
	memcpy(h->dst.bytes, p + 16, 4);
	h->l4 = p + ihl;
	/* Ethernet pads short frames: the datagram ends where its header says */
	h->l4_len = (len < tot ? len : tot) - ihl;
	h->l4_wire = tot - ihl;
	return PKT_OK;
}

static bool
ipv6_ext(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60;
}

static int
decode_ipv6(const uint8_t *p, size_t len, struct ip_hdr *h)
{
	size_t plen, off = 40, wire;
	uint8_t nh;

	if (len < 40)
		return PKT_E_TRUNCATED;
	if ((p[0] >> 4) != 6)
		return PKT_E_MALFORMED;
	plen = rd16(p + 4);
	/* 0 is a jumbogram (or an offloaded capture): the captured length it is */
	wire = plen == 0 ? len : 40 + plen;
	if (len > wire)
		len = wire;
	nh = p[6];
	h->ttl = p[7];
	h->first_fragment = false;
	memset(&h->src, 0, sizeof(h->src));
	memset(&h->dst, 0, sizeof(h->dst));
	h->src.family = h->dst.family = AF_INET6;
	memcpy(h->src.bytes, p + 8, 16);
	memcpy(h->dst.bytes, p + 24, 16);
	for (int n = 0; ipv6_ext(nh); n++) {
		size_t elen;

		if (n == PKT_MAX_EXT)
			return PKT_E_UNSUPPORTED; /* a chain this long is an attack, not traffic */
		if (len < off + 8)
			return PKT_E_TRUNCATED;
		if (nh == 44) {
			uint16_t fo = rd16(p + off + 2);

			if ((fo & 0xfff8) != 0)
				return PKT_E_FRAGMENT;
			h->first_fragment = (fo & 1) != 0;
			elen = 8;
		} else if (nh == 51) {
			elen = ((size_t)p[off + 1] + 2) * 4; /* AH counts 4-octet units */
		} else {
			elen = ((size_t)p[off + 1] + 1) * 8;
		}
		nh = p[off];
		if (wire < off + elen)
			return PKT_E_MALFORMED;
		off += elen;
		if (len < off)
			return PKT_E_TRUNCATED;
	}
	h->proto = nh;
	h->l4 = p + off;
	h->l4_len = len - off;
	h->l4_wire = wire - off;
	return PKT_OK;
}

static int
decode_ip(const uint8_t *p, size_t len, int version, struct ip_hdr *h)
{
	if (version == 0) {
		if (len < 1)
			return PKT_E_TRUNCATED;
		version = p[0] >> 4;
	}
	if (version == 4)
		return decode_ipv4(p, len, h);
	if (version == 6)
		return decode_ipv6(p, len, h);
	return PKT_E_UNSUPPORTED;
}

/* The packet an ICMP error quotes: its IP header and the first 8 octets after it. A quote
 * cut short is simply absent: the error itself was still decoded. */
static void
decode_quote(const uint8_t *p, size_t len, int version, struct pkt_quote *q)
{
	struct ip_hdr h;

	memset(q, 0, sizeof(*q));
	if (decode_ip(p, len, version, &h) != PKT_OK || h.l4_len < 8)
		return;
	q->present = true;
	q->src = h.src;
	q->dst = h.dst;
	q->proto = h.proto;
	q->sport = rd16(h.l4);
	q->dport = rd16(h.l4 + 2);
	if (h.proto == IPPROTO_NUM_TCP)
		q->seq = rd32(h.l4 + 4);
}

static bool
icmp4_error(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

static bool
icmp6_error(uint8_t type)
{
	return type >= 1 && type <= 4;
}

int
pkt_decode(enum pkt_link link, const uint8_t *frame, size_t caplen, struct pkt_info *out)
{
	struct l3 l3;
	struct ip_hdr h;
	size_t hl;
	int rc;

	memset(out, 0, sizeof(*out));
	if (frame == NULL)
		return PKT_E_TRUNCATED;
	rc = decode_link(link, frame, caplen, &l3);
	if (rc != PKT_OK)
		return rc;
	rc = decode_ip(l3.p, l3.len, l3.version, &h);
	if (rc != PKT_OK)
		return rc;
	out->src = h.src;
	out->dst = h.dst;
	out->ttl = h.ttl;
	out->ipproto = h.proto;
	out->fragmented = h.first_fragment;
	switch (h.proto) {
	case IPPROTO_NUM_UDP:
		if (h.l4_len < 8)
			return PKT_E_TRUNCATED;
		hl = rd16(h.l4 + 4);
		if (hl < 8)
			return PKT_E_MALFORMED;
		/* a UDP length beyond the IP datagram is a lie (unless it is a fragment) */
		if (hl > h.l4_wire && !h.first_fragment)
			return PKT_E_MALFORMED;
		out->proto = PKT_PROTO_UDP;
		out->sport = rd16(h.l4);
		out->dport = rd16(h.l4 + 2);
		out->payload = h.l4 + 8;
		out->payload_wire = hl - 8;
		out->payload_len = h.l4_len - 8 < hl - 8 ? h.l4_len - 8 : hl - 8;
		return PKT_OK;
	case IPPROTO_NUM_TCP:
		if (h.l4_len < 20)
			return PKT_E_TRUNCATED;
		hl = (size_t)(h.l4[12] >> 4) * 4;
		if (hl < 20 || hl > h.l4_wire)
			return PKT_E_MALFORMED;
		if (h.l4_len < hl)
			return PKT_E_TRUNCATED;
		out->proto = PKT_PROTO_TCP;
		out->sport = rd16(h.l4);
		out->dport = rd16(h.l4 + 2);
		out->seq = rd32(h.l4 + 4);
		out->ack = rd32(h.l4 + 8);
		out->tcp_flags = h.l4[13];
		out->payload = h.l4 + hl;
		out->payload_len = h.l4_len - hl;
		out->payload_wire = h.l4_wire - hl;
		return PKT_OK;
	case IPPROTO_NUM_ICMP:
	case IPPROTO_NUM_ICMPV6:
		/* ICMP belongs to its own IP version only */
		if ((h.proto == IPPROTO_NUM_ICMP) != (h.src.family == AF_INET)) {
			out->proto = PKT_PROTO_OTHER;
			return PKT_OK;
		}
		if (h.l4_len < 8)
			return PKT_E_TRUNCATED;
		out->proto = PKT_PROTO_ICMP;
		out->icmp_type = h.l4[0];
		out->icmp_code = h.l4[1];
		if (h.proto == IPPROTO_NUM_ICMP ? icmp4_error(out->icmp_type)
						: icmp6_error(out->icmp_type))
			decode_quote(h.l4 + 8, h.l4_len - 8, h.proto == IPPROTO_NUM_ICMP ? 4 : 6,
				     &out->quote);
		out->payload = h.l4 + 8;
		out->payload_len = h.l4_len - 8;
		out->payload_wire = h.l4_wire >= 8 ? h.l4_wire - 8 : 0;
		return PKT_OK;
	default:
		out->proto = PKT_PROTO_OTHER;
		return PKT_OK;
	}
}

uint32_t
pkt_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 1) {
		sum += (uint32_t)((p[0] << 8) | p[1]);
		p += 2;
		len -= 2;
	}
	if (len == 1)
		sum += (uint32_t)(p[0] << 8);
	return sum;
}

uint16_t
pkt_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}
