/* test_passive: the frame decoder (every link type, hostile and cut frames), the passive
 * responder table, pcap files written and read back through capture.c, and the SYN cookie. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probes/capture.h"
#include "probes/cookie.h"
#include "probes/dns.h"
#include "probes/packet.h"
#include "probes/passive.h"

#define T0 1764236594000000000ull /* 2025-11-27T09:43:14Z in ns */

/* ---- a small frame builder ---- */

struct fb {
	uint8_t b[2048];
	size_t len;
};

static void
put(struct fb *f, const void *p, size_t n)
{
	assert_true(f->len + n <= sizeof(f->b));
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void
put8(struct fb *f, unsigned v)
{
	uint8_t x = (uint8_t)v;
	put(f, &x, 1);
}

static void
put16(struct fb *f, unsigned v)
{
	put8(f, v >> 8);
	put8(f, v);
}

static void
put32(struct fb *f, uint32_t v)
{
	put16(f, v >> 16);
	put16(f, v & 0xffff);
}

static struct net_addr
A(const char *text)
{
	struct net_addr a;

	assert_int_equal(net_addr_parse(text, &a), 0);
	return a;
}

struct l4 {
	uint8_t proto;     /* 6 or 17 */
	uint16_t sport, dport;
	uint8_t flags;
	uint32_t seq, ack;
	const uint8_t *payload;
	size_t plen;
};

/* The IP packet (v4 or v6 by the address family) carrying one UDP datagram or TCP segment. */
static void
ip_packet(struct fb *f, const struct net_addr *src, const struct net_addr *dst,
	  const struct l4 *l)
{
	size_t l4len = (l->proto == 17 ? 8 : 20) + l->plen;

	if (src->family == AF_INET) {
		put8(f, 0x45);
		put8(f, 0);
		put16(f, (unsigned)(20 + l4len));
		put16(f, 1);
		put16(f, 0x4000);
		put8(f, 64);
		put8(f, l->proto);
		put16(f, 0);
		put(f, src->bytes, 4);
		put(f, dst->bytes, 4);
	} else {
		put32(f, 0x60000000);
		put16(f, (unsigned)l4len);
		put8(f, l->proto);
		put8(f, 64);
		put(f, src->bytes, 16);
		put(f, dst->bytes, 16);
	}
	put16(f, l->sport);
	put16(f, l->dport);
	if (l->proto == 17) {
		put16(f, (unsigned)l4len);
		put16(f, 0);
	} else {
		put32(f, l->seq);
		put32(f, l->ack);
		put8(f, 5 << 4);
		put8(f, l->flags);
		put16(f, 65535);
		put32(f, 0);
	}
	if (l->plen)
		put(f, l->payload, l->plen);
}

static void
ether_head(struct fb *f, unsigned type)
{
	put(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	put16(f, type);
}

/* One frame of link type `link` around the packet. */
static void
frame(struct fb *f, enum pkt_link link, const struct net_addr *src, const struct net_addr *dst,
      const struct l4 *l)
{
	unsigned type = src->family == AF_INET ? 0x0800 : 0x86dd;

	f->len = 0;
	switch (link) {
	case PKT_LINK_ETHERNET:
		ether_head(f, type);
		break;
	case PKT_LINK_SLL:
		put(f, "\x00\x00\x03\x04\x00\x06\x02\x00\x00\x00\x00\x01\x00\x00", 14);
		put16(f, type);
		break;
	case PKT_LINK_SLL2:
		put16(f, type);
		put(f, "\x00\x00\x00\x00\x00\x01\x03\x04\x00\x06\x02\x00\x00\x00\x00\x01\x00\x00",
		    18);
		break;
	case PKT_LINK_NULL: /* little-endian host */
		put8(f, src->family == AF_INET ? 2 : 10);
		put(f, "\x00\x00\x00", 3);
		break;
	case PKT_LINK_LOOP:
		put32(f, src->family == AF_INET ? 2 : 24);
		break;
	default:
		break;
	}
	ip_packet(f, src, dst, l);
}

/* A well-formed DNS response: a query with QR (and RA when ra) set. */
static size_t
dns_response(uint8_t *buf, size_t cap, bool ra, uint16_t rcode)
{
	uint8_t qname[DNS_MAX_NAME];
	int qlen = dns_name_from_text("www.example.test.", qname, sizeof(qname));
	struct dns_query_params q = { .qname = qname, .qname_len = (size_t)qlen,
				      .qtype = DNS_TYPE_A, .qclass = DNS_CLASS_IN, .id = 0x1234,
				      .rd = true };
	int n = dns_build_query(buf, cap, &q);

	assert_true(n > 12);
	buf[2] |= 0x80; /* QR */
	if (ra)
		buf[3] |= 0x80;
	buf[3] = (uint8_t)((buf[3] & 0xf0) | rcode);
	return (size_t)n;
}

/* ---- the decoder ---- */

static void
test_decode_every_link(void **state)
{
	static const enum pkt_link links[] = { PKT_LINK_ETHERNET, PKT_LINK_SLL, PKT_LINK_SLL2,
						PKT_LINK_NULL, PKT_LINK_LOOP, PKT_LINK_RAW };
	uint8_t dns[256];
	size_t dlen = dns_response(dns, sizeof(dns), true, 0);
	struct net_addr s4 = A("192.0.2.53"), d4 = A("192.0.2.7");
	struct net_addr s6 = A("2001:db8::53"), d6 = A("2001:db8::7");
	struct l4 l = { .proto = 17, .sport = 53, .dport = 40000, .payload = dns, .plen = dlen };
	struct fb f;
	struct pkt_info pi;
	char buf[NETADDR_STRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		for (int v6 = 0; v6 < 2; v6++) {
			frame(&f, links[i], v6 ? &s6 : &s4, v6 ? &d6 : &d4, &l);
			assert_int_equal(pkt_decode(links[i], f.b, f.len, &pi), PKT_OK);
			assert_int_equal(pi.proto, PKT_PROTO_UDP);
			assert_string_equal(net_addr_str(&pi.src, buf, sizeof(buf)),
					    v6 ? "2001:db8::53" : "192.0.2.53");
			assert_int_equal(pi.sport, 53);
			assert_int_equal(pi.dport, 40000);
			assert_int_equal(pi.payload_len, dlen);
			assert_int_equal(pi.payload_wire, dlen);
			assert_memory_equal(pi.payload, dns, dlen);
			assert_int_equal(pi.ttl, 64);
		}
	}
	/* the IPV4 / IPV6 link types carry no header at all */
	frame(&f, PKT_LINK_RAW, &s4, &d4, &l);
	assert_int_equal(pkt_decode(PKT_LINK_IPV4, f.b, f.len, &pi), PKT_OK);
	assert_int_equal(pkt_decode(PKT_LINK_IPV6, f.b, f.len, &pi), PKT_E_MALFORMED);
	/* BSD loopback in the other byte order (a big-endian capturer) */
	frame(&f, PKT_LINK_LOOP, &s4, &d4, &l);
	assert_int_equal(pkt_decode(PKT_LINK_NULL, f.b, f.len, &pi), PKT_OK);
	assert_int_equal(pkt_decode(PKT_LINK_UNKNOWN, f.b, f.len, &pi), PKT_E_UNSUPPORTED);
}

static void
test_decode_vlan_and_ext_headers(void **state)
{
	uint8_t dns[256];
	size_t dlen = dns_response(dns, sizeof(dns), false, 0);
	struct net_addr s6 = A("2001:db8::53"), d6 = A("2001:db8::7"), s4 = A("192.0.2.53");
	struct l4 l = { .proto = 17, .sport = 53, .dport = 999, .payload = dns, .plen = dlen };
	struct fb f, ip;
	struct pkt_info pi;

	(void)state;
	/* two VLAN tags (802.1ad + 802.1Q) decode; a third is refused */
	ip.len = 0;
	ip_packet(&ip, &s4, &d6, &l);
	for (int tags = 0; tags <= 3; tags++) {
		f.len = 0;
		put(&f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
		for (int t = 0; t < tags; t++) {
			put16(&f, t == 0 ? 0x88a8 : 0x8100);
			put16(&f, 100 + (unsigned)t);
		}
		put16(&f, 0x0800);
		put(&f, ip.b, ip.len);
		assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len, &pi),
				 tags <= PKT_MAX_VLAN ? PKT_OK : PKT_E_UNSUPPORTED);
	}
	/* IPv6: hop-by-hop, destination options and a first fragment before UDP */
	for (int next = 0; next <= PKT_MAX_EXT + 1; next += PKT_MAX_EXT + 1) {
		size_t nexts = next == 0 ? 3 : (size_t)next;

		f.len = 0;
		ether_head(&f, 0x86dd);
		put32(&f, 0x60000000);
		put16(&f, (unsigned)(nexts * 8 + 8 + dlen));
		put8(&f, 0); /* hop-by-hop */
		put8(&f, 64);
		put(&f, s6.bytes, 16);
		put(&f, d6.bytes, 16);
		for (size_t e = 0; e < nexts; e++) {
			bool last = e + 1 == nexts;
			bool frag = next == 0 && last;

			put8(&f, last ? 17 : (e + 2 == nexts && next == 0 ? 44 : 60));
			if (frag) {
				put8(&f, 0);
				put16(&f, 0x0001); /* offset 0, more fragments */
				put32(&f, 42);
			} else {
				put8(&f, 0);
				put(&f, "\x01\x04\x00\x00\x00\x00", 6); /* PadN */
			}
		}
		put16(&f, 53);
		put16(&f, 999);
		put16(&f, (unsigned)(8 + dlen));
		put16(&f, 0);
		put(&f, dns, dlen);
		if (next == 0) {
			assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len, &pi), PKT_OK);
			assert_int_equal(pi.proto, PKT_PROTO_UDP);
			assert_true(pi.fragmented);
			assert_int_equal(pi.payload_len, dlen);
		} else {
			/* a chain longer than PKT_MAX_EXT is an attack, not traffic */
			assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len, &pi),
					 PKT_E_UNSUPPORTED);
		}
	}
}

/* Every prefix of a good frame decodes or fails cleanly, and a prefix that ends inside the
 * headers is always "truncated". */
static void
test_decode_every_prefix(void **state)
{
	uint8_t dns[256];
	size_t dlen = dns_response(dns, sizeof(dns), true, 0);
	struct net_addr s4 = A("192.0.2.53"), d4 = A("192.0.2.7");
	struct net_addr s6 = A("2001:db8::53"), d6 = A("2001:db8::7");
	struct l4 lu = { .proto = 17, .sport = 53, .dport = 1, .payload = dns, .plen = dlen };
	struct l4 lt = { .proto = 6, .sport = 53, .dport = 1, .flags = 0x12, .seq = 7, .ack = 8 };
	struct fb f;
	struct pkt_info pi;

	(void)state;
	for (int k = 0; k < 4; k++) {
		const struct l4 *l = k & 1 ? &lt : &lu;
		size_t hdrs = 14 + (k & 2 ? 40 : 20) + (k & 1 ? 20 : 8);

		frame(&f, PKT_LINK_ETHERNET, k & 2 ? &s6 : &s4, k & 2 ? &d6 : &d4, l);
		for (size_t n = 0; n <= f.len; n++) {
			uint8_t *copy = malloc(n ? n : 1);
			int rc;

			memcpy(copy, f.b, n);
			rc = pkt_decode(PKT_LINK_ETHERNET, copy, n, &pi);
			if (n < hdrs) {
				assert_int_equal(rc, PKT_E_TRUNCATED);
			} else {
				assert_int_equal(rc, PKT_OK);
				assert_int_equal(pi.payload_len, n - hdrs);
				assert_true(pi.payload_len <= pi.payload_wire);
			}
			free(copy);
		}
	}
	assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, NULL, 0, &pi), PKT_E_TRUNCATED);
}

static void
test_decode_lies(void **state)
{
	struct net_addr s4 = A("192.0.2.53"), d4 = A("192.0.2.7");
	struct l4 lu = { .proto = 17, .sport = 53, .dport = 1 };
	struct l4 lt = { .proto = 6, .sport = 53, .dport = 1, .flags = 0x12 };
	struct fb f;
	struct pkt_info pi;

	(void)state;
	frame(&f, PKT_LINK_ETHERNET, &s4, &d4, &lu);
	f.b[14] = 0x44; /* IHL 4 */
	assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len, &pi), PKT_E_MALFORMED);
	frame(&f, PKT_LINK_ETHERNET, &s4, &d4, &lu);
	f.b[14] = 0x65; /* IPv6 nibble behind the IPv4 ethertype */
	assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len, &pi), PKT_E_MALFORMED);
	frame(&f, PKT_LINK_ETHERNET, &s4, &d4, &lu);
	f.b[17] = 10; /* total length below the header */
	assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len, &pi), PKT_E_MALFORMED);
	frame(&f, PKT_LINK_ETHERNET, &s4, &d4, &lu);
	f.b[14 + 20 + 5] = 4; /* UDP length 4 */
	assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len, &pi), PKT_E_MALFORMED);
	frame(&f, PKT_LINK_ETHERNET, &s4, &d4, &lu);
	f.b[14 + 20 + 5] = 200; /* UDP longer than its datagram */
	assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len, &pi), PKT_E_MALFORMED);
	frame(&f, PKT_LINK_ETHERNET, &s4, &d4, &lt);
	f.b[14 + 20 + 12] = 0x40; /* TCP data offset 4 */
	assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len, &pi), PKT_E_MALFORMED);
	frame(&f, PKT_LINK_ETHERNET, &s4, &d4, &lt);
	f.b[14 + 20 + 12] = 0xf0; /* TCP header of 60 octets in a 20-octet segment */
	assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len, &pi), PKT_E_MALFORMED);
	frame(&f, PKT_LINK_ETHERNET, &s4, &d4, &lu);
	f.b[14 + 6] = 0x00;
	f.b[14 + 7] = 0x10; /* fragment at offset 128 */
	assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len, &pi), PKT_E_FRAGMENT);
	frame(&f, PKT_LINK_ETHERNET, &s4, &d4, &lu);
	f.b[12] = 0x08;
	f.b[13] = 0x06; /* ARP */
	assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len, &pi), PKT_E_UNSUPPORTED);
	/* Ethernet padding after a short datagram is not payload */
	frame(&f, PKT_LINK_ETHERNET, &s4, &d4, &lu);
	put(&f, "\0\0\0\0\0\0", 6);
	assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len, &pi), PKT_OK);
	assert_int_equal(pi.payload_len, 0);
}

/* An ICMP port unreachable quoting a SYN: what the SYN scanner matches its cookie with. */
static void
test_decode_icmp_quote(void **state)
{
	struct net_addr me = A("192.0.2.7"), tgt = A("192.0.2.53"), rtr = A("192.0.2.1");
	struct l4 syn = { .proto = 6, .sport = 40000, .dport = 53, .flags = 0x02,
			  .seq = 0xdeadbeef };
	struct fb q, f;
	struct pkt_info pi;
	char buf[NETADDR_STRLEN];

	(void)state;
	q.len = 0;
	ip_packet(&q, &me, &tgt, &syn);
	f.len = 0;
	ether_head(&f, 0x0800);
	put8(&f, 0x45);
	put8(&f, 0);
	put16(&f, (unsigned)(20 + 8 + 28));
	put16(&f, 0);
	put16(&f, 0);
	put8(&f, 64);
	put8(&f, 1);
	put16(&f, 0);
	put(&f, rtr.bytes, 4);
	put(&f, me.bytes, 4);
	put8(&f, 3); /* unreachable */
	put8(&f, 13); /* administratively prohibited */
	put16(&f, 0);
	put32(&f, 0);
	put(&f, q.b, 28); /* the quote: IP header and 8 octets of TCP */
	assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len, &pi), PKT_OK);
	assert_int_equal(pi.proto, PKT_PROTO_ICMP);
	assert_int_equal(pi.icmp_type, 3);
	assert_int_equal(pi.icmp_code, 13);
	assert_true(pi.quote.present);
	assert_int_equal(pi.quote.proto, 6);
	assert_string_equal(net_addr_str(&pi.quote.dst, buf, sizeof(buf)), "192.0.2.53");
	assert_int_equal(pi.quote.sport, 40000);
	assert_int_equal(pi.quote.dport, 53);
	assert_int_equal(pi.quote.seq, 0xdeadbeef);
	/* a quote cut short: the error still decodes, without a quote */
	assert_int_equal(pkt_decode(PKT_LINK_ETHERNET, f.b, f.len - 4, &pi), PKT_OK);
	assert_false(pi.quote.present);
}

/* ---- the responder table ---- */

static int
feed(struct passive *pv, enum pkt_link link, uint64_t ts, const char *src, uint16_t sport,
     const char *dst, uint16_t dport, const struct l4 *tmpl)
{
	struct net_addr s = A(src), d = A(dst);
	struct l4 l = *tmpl;
	struct fb f;

	l.sport = sport;
	l.dport = dport;
	frame(&f, link, &s, &d, &l);
	return passive_packet(pv, link, ts, f.b, f.len);
}

static void
test_passive_udp(void **state)
{
	struct passive_opts po = { 0 };
	struct passive *pv = passive_new(&po);
	uint8_t dns[256], junk[40];
	size_t dlen = dns_response(dns, sizeof(dns), true, 5 /* REFUSED */);
	struct l4 ok = { .proto = 17, .payload = dns, .plen = dlen };
	struct l4 bad = { .proto = 17, .payload = junk, .plen = sizeof(junk) };
	const struct passive_responder *r;
	struct passive_stats st;
	char buf[NETADDR_STRLEN];

	(void)state;
	memset(junk, 0xab, sizeof(junk));
	assert_non_null(pv);
	/* a query to the port is no evidence; a response from it is */
	assert_int_equal(feed(pv, PKT_LINK_ETHERNET, T0, "192.0.2.7", 4000, "192.0.2.53", 53, &ok),
			 0);
	assert_int_equal(passive_count(pv), 0);
	assert_int_equal(feed(pv, PKT_LINK_ETHERNET, T0 + 1000, "192.0.2.53", 53, "192.0.2.7",
			      4000, &ok), 1);
	assert_int_equal(feed(pv, PKT_LINK_SLL2, T0 + 5000, "192.0.2.53", 53, "192.0.2.8", 4001,
			      &ok), 0);
	/* garbage from the DNS port of another host proves nothing */
	assert_int_equal(feed(pv, PKT_LINK_ETHERNET, T0, "192.0.2.66", 53, "192.0.2.7", 4000,
			      &bad), 0);
	/* so does garbage from a known responder, but it still counts as its packet */
	assert_int_equal(feed(pv, PKT_LINK_ETHERNET, T0 + 9000, "192.0.2.53", 53, "192.0.2.7",
			      4000, &bad), 0);
	assert_int_equal(passive_count(pv), 1);
	r = passive_get(pv, 0);
	assert_string_equal(net_addr_str(&r->addr, buf, sizeof(buf)), "192.0.2.53");
	assert_int_equal(r->port, 53);
	assert_int_equal(r->protocols, PASSIVE_UDP);
	assert_int_equal(r->packets, 3);
	assert_int_equal(r->responses, 2);
	assert_int_equal(r->ra_responses, 2);
	assert_true(r->has_facts);
	assert_int_equal(r->rcode, 5);
	assert_true(r->ra);
	assert_false(r->aa);
	assert_int_equal(r->first_seen_ns, T0 + 1000);
	assert_int_equal(r->last_seen_ns, T0 + 9000);
	assert_null(passive_get(pv, 1));
	passive_get_stats(pv, &st);
	assert_int_equal(st.packets, 5);
	assert_int_equal(st.decoded, 5);
	assert_int_equal(st.dns_malformed, 2);
	passive_free(pv);
}

static void
test_passive_cut_frames(void **state)
{
	struct passive_opts po = { 0 };
	struct passive *pv = passive_new(&po);
	uint8_t dns[256];
	size_t dlen = dns_response(dns, sizeof(dns), false, 0);
	struct net_addr s = A("2001:db8::53"), d = A("2001:db8::7");
	struct l4 l = { .proto = 17, .sport = 53, .dport = 4000, .payload = dns, .plen = dlen };
	struct passive_stats st;
	struct fb f;

	(void)state;
	frame(&f, PKT_LINK_ETHERNET, &s, &d, &l);
	/* snaplen cut the DNS message: not judged, counted */
	assert_int_equal(passive_packet(pv, PKT_LINK_ETHERNET, T0, f.b, f.len - 3), 0);
	/* cut inside the IPv6 header */
	assert_int_equal(passive_packet(pv, PKT_LINK_ETHERNET, T0, f.b, 30), PKT_E_TRUNCATED);
	assert_int_equal(passive_packet(pv, PKT_LINK_ETHERNET, T0, f.b, 0), PKT_E_TRUNCATED);
	passive_get_stats(pv, &st);
	assert_int_equal(st.truncated, 3);
	assert_int_equal(passive_count(pv), 0);
	passive_free(pv);
}

static void
test_passive_tcp_handshake(void **state)
{
	struct passive_opts po = { 0 };
	struct passive *pv = passive_new(&po);
	struct l4 synack = { .proto = 6, .flags = 0x12, .seq = 1000, .ack = 501 };
	struct l4 badack = { .proto = 6, .flags = 0x10, .seq = 501, .ack = 1002 };
	struct l4 goodack = { .proto = 6, .flags = 0x10, .seq = 501, .ack = 1001 };
	const struct passive_responder *r;

	(void)state;
	assert_int_equal(feed(pv, PKT_LINK_ETHERNET, T0, "192.0.2.53", 53, "192.0.2.7", 4000,
			      &synack), 0);
	assert_int_equal(passive_count(pv), 0); /* a SYN-ACK alone is half a handshake */
	assert_int_equal(feed(pv, PKT_LINK_ETHERNET, T0 + 1, "192.0.2.7", 4000, "192.0.2.53", 53,
			      &badack), 0);
	assert_int_equal(feed(pv, PKT_LINK_ETHERNET, T0 + 2, "192.0.2.7", 4001, "192.0.2.53", 53,
			      &goodack), 0); /* another connection's ACK */
	assert_int_equal(passive_count(pv), 0);
	assert_int_equal(feed(pv, PKT_LINK_ETHERNET, T0 + 3, "192.0.2.7", 4000, "192.0.2.53", 53,
			      &goodack), 1);
	r = passive_get(pv, 0);
	assert_non_null(r);
	assert_int_equal(r->protocols, PASSIVE_TCP);
	assert_true(r->tcp_handshake);
	assert_false(r->tcp_dns);
	assert_int_equal(r->responses, 0);
	assert_int_equal(r->first_seen_ns, T0 + 3);
	/* the same ACK again proves nothing new */
	assert_int_equal(feed(pv, PKT_LINK_ETHERNET, T0 + 4, "192.0.2.7", 4000, "192.0.2.53", 53,
			      &goodack), 0);
	passive_free(pv);
}

static void
test_passive_tcp_dns(void **state)
{
	struct passive_opts po = { .port = 5353 };
	struct passive *pv = passive_new(&po);
	uint8_t dns[256], seg[300];
	size_t dlen = dns_response(dns, sizeof(dns), false, 0);
	struct l4 whole = { .proto = 6, .flags = 0x18, .payload = seg, .plen = dlen + 2 };
	struct l4 part = { .proto = 6, .flags = 0x18, .payload = seg, .plen = dlen };
	const struct passive_responder *r;

	(void)state;
	seg[0] = (uint8_t)(dlen >> 8);
	seg[1] = (uint8_t)dlen;
	memcpy(seg + 2, dns, dlen);
	/* port 53 is not the DNS port of this table */
	assert_int_equal(feed(pv, PKT_LINK_RAW, T0, "192.0.2.53", 53, "192.0.2.7", 4000, &whole),
			 0);
	/* a message that goes on in the next segment is not judged */
	assert_int_equal(feed(pv, PKT_LINK_RAW, T0, "192.0.2.53", 5353, "192.0.2.7", 4000, &part),
			 0);
	assert_int_equal(passive_count(pv), 0);
	assert_int_equal(feed(pv, PKT_LINK_RAW, T0 + 7, "192.0.2.53", 5353, "192.0.2.7", 4000,
			      &whole), 1);
	r = passive_get(pv, 0);
	assert_int_equal(r->port, 5353);
	assert_int_equal(r->protocols, PASSIVE_TCP);
	assert_true(r->tcp_dns);
	assert_false(r->tcp_handshake);
	assert_int_equal(r->responses, 1);
	assert_int_equal(r->packets, 1);
	passive_free(pv);
}

static void
test_passive_table_bound(void **state)
{
	struct passive_opts po = { .max_responders = 2 };
	struct passive *pv = passive_new(&po);
	uint8_t dns[256];
	size_t dlen = dns_response(dns, sizeof(dns), false, 0);
	struct l4 ok = { .proto = 17, .payload = dns, .plen = dlen };
	struct passive_stats st;

	(void)state;
	assert_int_equal(feed(pv, PKT_LINK_RAW, T0, "192.0.2.1", 53, "192.0.2.7", 1, &ok), 1);
	assert_int_equal(feed(pv, PKT_LINK_RAW, T0, "192.0.2.2", 53, "192.0.2.7", 1, &ok), 1);
	assert_int_equal(feed(pv, PKT_LINK_RAW, T0, "192.0.2.3", 53, "192.0.2.7", 1, &ok), 0);
	assert_int_equal(feed(pv, PKT_LINK_RAW, T0, "192.0.2.1", 53, "192.0.2.7", 1, &ok), 0);
	assert_int_equal(passive_count(pv), 2);
	passive_get_stats(pv, &st);
	assert_int_equal(st.table_full, 1);
	assert_int_equal(passive_get(pv, 0)->responses, 2);
	passive_free(pv);
}

/* ---- capture files ---- */

struct got {
	size_t n;
	uint64_t ts[8];
	size_t caplen[8], wirelen[8];
	struct passive *pv;
};

static void
on_pkt(void *arg, const struct capture_packet *p)
{
	struct got *g = arg;

	if (g->n < 8) {
		g->ts[g->n] = p->ts_ns;
		g->caplen[g->n] = p->caplen;
		g->wirelen[g->n] = p->wirelen;
	}
	g->n++;
	if (g->pv != NULL)
		passive_packet(g->pv, PKT_LINK_ETHERNET, p->ts_ns, p->data, p->caplen);
}

static void
write_fixture(const char *path)
{
	uint8_t dns[256];
	size_t dlen = dns_response(dns, sizeof(dns), true, 0);
	struct net_addr s = A("192.0.2.53"), d = A("192.0.2.7");
	struct l4 l = { .proto = 17, .sport = 53, .dport = 4000, .payload = dns, .plen = dlen };
	struct capture_writer *w;
	char err[256];
	struct fb f;

	w = capture_writer_open(path, PKT_LINK_ETHERNET, 0, err, sizeof(err));
	assert_non_null(w);
	frame(&f, PKT_LINK_ETHERNET, &s, &d, &l);
	assert_int_equal(capture_writer_write(w, T0 + 123456789, f.b, f.len, f.len), 0);
	/* the same frame cut by a snaplen of 60 */
	assert_int_equal(capture_writer_write(w, T0 + 223456789, f.b, 60, f.len), 0);
	s = A("192.0.2.54");
	frame(&f, PKT_LINK_ETHERNET, &s, &d, &l);
	assert_int_equal(capture_writer_write(w, T0 + 323456789, f.b, f.len, f.len), 0);
	assert_int_equal(capture_writer_close(w), 0);
}

static void
test_capture_roundtrip(void **state)
{
	char path[] = "/tmp/test_passive.XXXXXX", err[256];
	struct passive_opts po = { 0 };
	struct got g = { 0 };
	struct passive_stats st;
	struct capture *c;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	write_fixture(path);
	c = capture_open_file(path, NULL, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(capture_link(c), PKT_LINK_ETHERNET);
	assert_int_equal(capture_fd(c), -1);
	g.pv = passive_new(&po);
	assert_int_equal(capture_dispatch(c, 2, on_pkt, &g), 2);
	assert_int_equal(capture_dispatch(c, 100, on_pkt, &g), 1);
	assert_int_equal(capture_dispatch(c, 100, on_pkt, &g), 0); /* end of file */
	assert_int_equal(g.n, 3);
	/* nanoseconds survive the file */
	assert_int_equal(g.ts[0], T0 + 123456789);
	assert_int_equal(g.ts[2], T0 + 323456789);
	assert_int_equal(g.caplen[1], 60);
	assert_true(g.wirelen[1] > 60);
	assert_int_equal(passive_count(g.pv), 2);
	passive_get_stats(g.pv, &st);
	assert_int_equal(st.truncated, 1);
	capture_close(c);
	/* a filter on a file */
	c = capture_open_file(path, "src host 192.0.2.54", err, sizeof(err));
	assert_non_null(c);
	memset(g.ts, 0, sizeof(g.ts));
	g.n = 0;
	assert_int_equal(capture_dispatch(c, 100, on_pkt, &g), 1);
	assert_int_equal(g.ts[0], T0 + 323456789);
	capture_close(c);
	assert_null(capture_open_file(path, "this is not bpf", err, sizeof(err)));
	assert_non_null(strstr(err, "filter 'this is not bpf'"));
	passive_free(g.pv);
	unlink(path);
}

static void
test_capture_bad_files(void **state)
{
	char path[] = "/tmp/test_passive.XXXXXX", err[256];
	struct got g = { 0 };
	struct capture *c;
	FILE *f;
	long size;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	/* empty */
	assert_null(capture_open_file(path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "empty file"));
	/* not a capture */
	f = fopen(path, "w");
	fputs("GET / HTTP/1.1\r\nHost: example.test\r\n\r\n", f);
	fclose(f);
	assert_null(capture_open_file(path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "not a pcap or pcapng file"));
	/* cut inside the last record: the records before it still come out */
	write_fixture(path);
	f = fopen(path, "r");
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);
	assert_int_equal(truncate(path, size - 10), 0);
	c = capture_open_file(path, NULL, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(capture_dispatch(c, 100, on_pkt, &g), -EIO);
	assert_int_equal(g.n, 2);
	assert_non_null(strstr(capture_error(c), "truncated"));
	capture_close(c);
	/* a record claiming 16 MB: refused, not allocated */
	write_fixture(path);
	f = fopen(path, "r+");
	fseek(f, 24 + 8, SEEK_SET);
	fwrite("\xff\xff\xff\x00", 1, 4, f);
	fclose(f);
	c = capture_open_file(path, NULL, err, sizeof(err));
	assert_non_null(c);
	g.n = 0;
	assert_int_equal(capture_dispatch(c, 100, on_pkt, &g), -EIO);
	assert_int_equal(g.n, 0);
	capture_close(c);
	unlink(path);
}

/* ---- the SYN cookie ---- */

static void
test_cookie(void **state)
{
	static const uint8_t key[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	static const uint8_t key2[16] = { 1 };
	struct net_addr s = A("192.0.2.7"), d = A("192.0.2.53"), d2 = A("192.0.2.54");
	struct net_addr s6 = A("2001:db8::7"), d6 = A("2001:db8::53");
	char err[128];
	struct cookie *c = cookie_new_key(key, err, sizeof(err)), *c2;
	uint32_t x;

	(void)state;
	assert_non_null(c);
	c2 = cookie_new_key(key2, err, sizeof(err));
	assert_non_null(c2);
	x = cookie_of(c, &s, &d, 40000, 53);
	/* a pure function of key and 4-tuple, every field of which counts */
	assert_int_equal(cookie_of(c, &s, &d, 40000, 53), x);
	assert_int_not_equal(cookie_of(c, &s, &d2, 40000, 53), x);
	assert_int_not_equal(cookie_of(c, &s, &d, 40001, 53), x);
	assert_int_not_equal(cookie_of(c, &s, &d, 40000, 54), x);
	assert_int_not_equal(cookie_of(c, &d, &s, 40000, 53), x);
	assert_int_not_equal(cookie_of(c2, &s, &d, 40000, 53), x);
	assert_int_not_equal(cookie_of(c, &s6, &d6, 40000, 53), cookie_of(c, &s6, &s6, 40000, 53));
	/* any bytes (the state database's row hashes): SipHash-2-4 itself, the reference
	 * vector for key 00..0f and no message being 31 0e 0e dd 47 db 6f 72 */
	assert_true(cookie_hash(c, "", 0) == 0x310e0edd47db6f72ull);
	assert_true(cookie_hash(c, "row", 3) == cookie_hash(c, "row", 3));
	assert_true(cookie_hash(c, "row", 3) != cookie_hash(c, "rox", 3));
	assert_true(cookie_hash(c, "row", 3) != cookie_hash(c2, "row", 3));
	cookie_free(c);
	cookie_free(c2);
	c = cookie_new(err, sizeof(err));
	assert_non_null(c);
	cookie_free(c);
}

static void
test_checksum(void **state)
{
	/* RFC 1071's example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 */
	static const uint8_t v[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	(void)state;
	assert_int_equal(pkt_csum_fold(pkt_csum_add(0, v, sizeof(v))), 0xddf2);
	/* an odd length pads with a zero octet */
	assert_int_equal(pkt_csum_fold(pkt_csum_add(0, v, 3)), 0xf201);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_every_link),
		cmocka_unit_test(test_decode_vlan_and_ext_headers),
		cmocka_unit_test(test_decode_every_prefix),
		cmocka_unit_test(test_decode_lies),
		cmocka_unit_test(test_decode_icmp_quote),
		cmocka_unit_test(test_passive_udp),
		cmocka_unit_test(test_passive_cut_frames),
		cmocka_unit_test(test_passive_tcp_handshake),
		cmocka_unit_test(test_passive_tcp_dns),
		cmocka_unit_test(test_passive_table_bound),
		cmocka_unit_test(test_capture_roundtrip),
		cmocka_unit_test(test_capture_bad_files),
		cmocka_unit_test(test_cookie),
		cmocka_unit_test(test_checksum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
