/* test_dns: table-driven tests of the DNS wire codec, including hostile replies. */
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "probes/dns.h"

/*
 * Message pieces. Hex escapes are split from following text ("\x07" "example")
 * because C hex escapes are greedy and would swallow the letters a-f.
 */
#define Q_EXAMPLE "\x07" "example" "\x04" "test" "\x00" /* at offset 12, 14 octets */
#define Q_EXAMPLE_A Q_EXAMPLE "\x00\x01\x00\x01"       /* ends at offset 30 */
#define Q_EXAMPLE_AAAA Q_EXAMPLE "\x00\x1c\x00\x01"
#define HDR(flags, qd, an, ns, ar) "\x12\x34" flags "\x00" qd "\x00" an "\x00" ns "\x00" ar
#define RESP "\x81\x80" /* QR RD RA, NOERROR */
/* owner -> qname (offset 12), A IN, TTL 300, 192.0.2.1: 16 octets */
#define AN_A "\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x01"

#define MSG(s) .bytes = (const uint8_t *)(s), .len = sizeof(s) - 1

/* A tiny message builder for cases too long to write out as literals. */
struct mb {
	uint8_t *buf;
	size_t cap;
	size_t len;
};

static void
mb_put(struct mb *m, const void *p, size_t n)
{
	assert_true(m->cap - m->len >= n);
	memcpy(m->buf + m->len, p, n);
	m->len += n;
}

static void
mb_u8(struct mb *m, uint8_t v)
{
	mb_put(m, &v, 1);
}

static void
mb_u16(struct mb *m, uint16_t v)
{
	mb_u8(m, (uint8_t)(v >> 8));
	mb_u8(m, (uint8_t)v);
}

static void
mb_header(struct mb *m, uint16_t an, uint16_t ar)
{
	mb_put(m, "\x12\x34\x81\x80\x00\x01", 6);
	mb_u16(m, an);
	mb_u16(m, 0);
	mb_u16(m, ar);
}

static void
mb_label(struct mb *m, size_t n, uint8_t fill)
{
	mb_u8(m, (uint8_t)n);
	for (size_t i = 0; i < n; i++)
		mb_u8(m, fill);
}

/* RR tail after the owner: A IN TTL 60 with one address. */
static void
mb_a_tail(struct mb *m)
{
	mb_put(m, "\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x07", 14);
}

/* qname of labels 63, 63, 63, last (uncompressed): 64*3 + last + 2 octets. */
static void
mb_long_qname(struct mb *m, size_t last)
{
	mb_label(m, 63, 'a');
	mb_label(m, 63, 'b');
	mb_label(m, 63, 'c');
	if (last > 0)
		mb_label(m, last, 'd');
	mb_u8(m, 0);
	mb_put(m, "\x00\x01\x00\x01", 4);
}

static size_t
build_name255_flat(uint8_t *buf, size_t cap)
{
	struct mb m = { buf, cap, 0 };

	mb_header(&m, 0, 0);
	mb_long_qname(&m, 61); /* 64*3 + 62 + 1 = 255 */
	return m.len;
}

static size_t
build_name256_flat(uint8_t *buf, size_t cap)
{
	struct mb m = { buf, cap, 0 };

	mb_header(&m, 0, 0);
	mb_long_qname(&m, 62); /* 256 */
	return m.len;
}

/* qname is 63.63.63 (193 octets); the answer owner adds one label and points at it. */
static size_t
build_name_compressed(uint8_t *buf, size_t cap, size_t extra)
{
	struct mb m = { buf, cap, 0 };

	mb_header(&m, 1, 0);
	mb_long_qname(&m, 0);
	mb_label(&m, extra, 'e');
	mb_put(&m, "\xc0\x0c", 2);
	mb_a_tail(&m);
	return m.len;
}

static size_t
build_name255_compressed(uint8_t *buf, size_t cap)
{
	return build_name_compressed(buf, cap, 61); /* 62 + 193 = 255 */
}

static size_t
build_name256_compressed(uint8_t *buf, size_t cap)
{
	return build_name_compressed(buf, cap, 62); /* 63 + 193 = 256 */
}

/*
 * A chain of backwards pointers: an opaque RR's RDATA holds `chain` pointers,
 * each to the one before, the first to the qname; a second RR's owner points
 * at the last. Reading that owner takes chain + 1 hops.
 */
static size_t
build_hops(uint8_t *buf, size_t cap, unsigned chain)
{
	struct mb m = { buf, cap, 0 };
	size_t base;

	mb_header(&m, 2, 0);
	mb_put(&m, "\x01" "a" "\x00\x00\x01\x00\x01", 7);
	mb_put(&m, "\xc0\x0c\xff\x00\x00\x01\x00\x00\x00\x00", 10); /* TYPE65280 IN */
	mb_u16(&m, (uint16_t)(2 * chain));
	base = m.len;
	for (unsigned i = 0; i < chain; i++)
		mb_u16(&m, (uint16_t)(0xc000 | (i == 0 ? 12 : base + 2 * (i - 1))));
	mb_u16(&m, (uint16_t)(0xc000 | (base + 2 * (chain - 1))));
	mb_a_tail(&m);
	return m.len;
}

static size_t
build_hops64(uint8_t *buf, size_t cap)
{
	return build_hops(buf, cap, 63);
}

static size_t
build_hops65(uint8_t *buf, size_t cap)
{
	return build_hops(buf, cap, 64);
}

static size_t
build_label64(uint8_t *buf, size_t cap)
{
	struct mb m = { buf, cap, 0 };

	mb_header(&m, 0, 0);
	mb_label(&m, 64, 'x'); /* length octet 0x40: the extended label type */
	mb_u8(&m, 0);
	mb_put(&m, "\x00\x01\x00\x01", 4);
	return m.len;
}

struct reply_case {
	const char *name;
	const uint8_t *bytes;
	size_t len;
	size_t (*build)(uint8_t *buf, size_t cap);
	int rc;
	/* checked when rc == 0 */
	const char *qname;
	uint16_t qtype, qclass;
	unsigned rcode;
	uint16_t ancount, nscount, arcount;
	bool edns;
	uint16_t udp;
	uint8_t version;
	bool do_bit;
	const char *nsid;
	size_t trailing; /* octets after the last RR */
	bool no_question; /* a refusal without its question: matched by ID alone */
};

static const struct reply_case replies[] = {
	{ "A answer, compressed owner",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x00") Q_EXAMPLE_A AN_A),
	  .qname = "example.test.", .qtype = 1, .qclass = 1, .ancount = 1 },
	{ "NOERROR/NODATA with SOA in authority",
	  MSG(HDR(RESP, "\x01", "\x00", "\x01", "\x00") Q_EXAMPLE_A
	      "\xc0\x0c\x00\x06\x00\x01\x00\x00\x0e\x10\x00\x27"
	      "\x03" "ns1" "\xc0\x0c"
	      "\x0a" "hostmaster" "\xc0\x0c"
	      "\x00\x00\x00\x01\x00\x00\x1c\x20\x00\x00\x0e\x10\x00\x12\x75\x00\x00\x00\x01\x2c"),
	  .qname = "example.test.", .qtype = 1, .qclass = 1, .nscount = 1 },
	{ "CH TXT version.bind, two strings",
	  MSG(HDR("\x84\x00", "\x01", "\x01", "\x00", "\x00")
	      "\x07" "version" "\x04" "bind" "\x00\x00\x10\x00\x03"
	      "\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00\x00\x08" "\x04" "9.18" "\x02" ".1"),
	  .qname = "version.bind.", .qtype = 16, .qclass = 3, .ancount = 1 },
	{ "AAAA answer",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x00") Q_EXAMPLE_AAAA
	      "\xc0\x0c\x00\x1c\x00\x01\x00\x00\x01\x2c\x00\x10"
	      "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"),
	  .qname = "example.test.", .qtype = 28, .qclass = 1, .ancount = 1 },
	{ "CNAME then A",
	  MSG(HDR(RESP, "\x01", "\x02", "\x00", "\x00") Q_EXAMPLE_A
	      "\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x06" "\x03" "www" "\xc0\x0c"
	      "\xc0\x2a\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x02"),
	  .qname = "example.test.", .qtype = 1, .qclass = 1, .ancount = 2 },
	{ "A with OPT: DO, udp 1232, NSID",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x01") Q_EXAMPLE_A AN_A
	      "\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x08\x00\x03\x00\x04" "ns-1"),
	  .qname = "example.test.", .qtype = 1, .qclass = 1, .ancount = 1, .arcount = 1,
	  .edns = true, .udp = 1232, .do_bit = true, .nsid = "ns-1" },
	{ "REFUSED, empty sections",
	  MSG(HDR("\x81\x05", "\x01", "\x00", "\x00", "\x00") Q_EXAMPLE_A),
	  .qname = "example.test.", .qtype = 1, .qclass = 1, .rcode = 5 },
	{ "BADVERS via extended rcode",
	  MSG(HDR("\x81\x00", "\x01", "\x00", "\x00", "\x01") Q_EXAMPLE_A
	      "\x00\x00\x29\x02\x00\x01\x00\x00\x00\x00\x00"),
	  .qname = "example.test.", .qtype = 1, .qclass = 1, .rcode = 16, .arcount = 1,
	  .edns = true, .udp = 512 },
	/* unbound's "access-control: ... refuse": a bare header, the question left out; the
	 * other rcodes of a server that would not look at the question likewise */
	{ "REFUSED without a question (RD RA set, not believed)",
	  MSG(HDR("\x81\x85", "\x00", "\x00", "\x00", "\x00")), .rcode = 5, .no_question = true },
	{ "FORMERR without a question",
	  MSG(HDR("\x80\x01", "\x00", "\x00", "\x00", "\x00")), .rcode = 1, .no_question = true },
	{ "SERVFAIL without a question",
	  MSG(HDR("\x81\x82", "\x00", "\x00", "\x00", "\x00")), .rcode = 2, .no_question = true },
	{ "NOTIMP without a question",
	  MSG(HDR("\x80\x04", "\x00", "\x00", "\x00", "\x00")), .rcode = 4, .no_question = true },
	{ "REFUSED without a question, with OPT",
	  MSG(HDR("\x81\x05", "\x00", "\x00", "\x00", "\x01")
	      "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"),
	  .rcode = 5, .arcount = 1, .edns = true, .udp = 1232, .no_question = true },
	{ "unknown type, opaque RDATA",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x00") Q_EXAMPLE_A
	      "\xc0\x0c\xff\x00\x00\x01\x00\x00\x00\x00\x00\x03\xc0\xff\x40"),
	  .qname = "example.test.", .qtype = 1, .qclass = 1, .ancount = 1 },
	{ "trailing octets after the last RR",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x00") Q_EXAMPLE_A AN_A "\xde\xad\xbe"),
	  .qname = "example.test.", .qtype = 1, .qclass = 1, .ancount = 1, .trailing = 3 },
	{ "255-octet qname", .build = build_name255_flat, .qtype = 1, .qclass = 1 },
	{ "255-octet owner from compressed pieces", .build = build_name255_compressed,
	  .qtype = 1, .qclass = 1, .ancount = 1 },
	{ "64 compression hops", .build = build_hops64, .qname = "a.", .qtype = 1,
	  .qclass = 1, .ancount = 2 },

	/* hostile or broken */
	{ "pointer to itself",
	  MSG(HDR(RESP, "\x01", "\x00", "\x00", "\x00") "\xc0\x0c\x00\x01\x00\x01"),
	  .rc = DNS_E_PTR_LOOP },
	{ "two-pointer cycle",
	  MSG(HDR(RESP, "\x01", "\x02", "\x00", "\x00") Q_EXAMPLE_A
	      "\xc0\x0c\xff\x00\x00\x01\x00\x00\x00\x00\x00\x02\xc0\x2c" /* RDATA@42 -> 44 */
	      "\xc0\x2a\x00\x01\x00\x01\x00\x00\x00\x00\x00\x04\x01\x02\x03\x04"), /* @44 -> 42 */
	  .rc = DNS_E_PTR_LOOP },
	{ "forward pointer",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x00") Q_EXAMPLE_A
	      "\xc0\x2a\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x03" "\x01" "a" "\x00"),
	  .rc = DNS_E_PTR_FORWARD },
	{ "forward pointer in qname",
	  MSG(HDR(RESP, "\x01", "\x00", "\x00", "\x00") "\xc0\x0e\x01" "a" "\x00\x00\x01\x00\x01"),
	  .rc = DNS_E_PTR_FORWARD },
	{ "65 compression hops", .build = build_hops65, .rc = DNS_E_PTR_LOOP },
	{ "64-octet label (0x40 label type)", .build = build_label64, .rc = DNS_E_LABEL_TYPE },
	{ "0x80 label type",
	  MSG(HDR(RESP, "\x01", "\x00", "\x00", "\x00") "\x80\x00\x00\x01\x00\x01"),
	  .rc = DNS_E_LABEL_TYPE },
	{ "256-octet qname", .build = build_name256_flat, .rc = DNS_E_NAME_TOO_LONG },
	{ "256-octet owner from compressed pieces", .build = build_name256_compressed,
	  .rc = DNS_E_NAME_TOO_LONG },
	{ "RDLENGTH past the end",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x00") Q_EXAMPLE_A
	      "\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x08\xc0\x00\x02\x01"),
	  .rc = DNS_E_RDLENGTH },
	{ "A with RDLENGTH 5",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x00") Q_EXAMPLE_A
	      "\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x05\xc0\x00\x02\x01\x09"),
	  .rc = DNS_E_RDATA },
	{ "AAAA with RDLENGTH 4",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x00") Q_EXAMPLE_AAAA
	      "\xc0\x0c\x00\x1c\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x01"),
	  .rc = DNS_E_RDATA },
	{ "ancount 5 with one RR",
	  MSG(HDR(RESP, "\x01", "\x05", "\x00", "\x00") Q_EXAMPLE_A AN_A), .rc = DNS_E_SHORT },
	{ "arcount 1 with nothing there",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x01") Q_EXAMPLE_A AN_A), .rc = DNS_E_SHORT },
	{ "QR clear",
	  MSG(HDR("\x01\x00", "\x01", "\x01", "\x00", "\x00") Q_EXAMPLE_A AN_A),
	  .rc = DNS_E_NOT_RESPONSE },
	{ "qdcount 0", MSG(HDR(RESP, "\x00", "\x00", "\x00", "\x00")), .rc = DNS_E_QDCOUNT },
	{ "qdcount 0, NXDOMAIN: an answer to no question",
	  MSG(HDR("\x81\x83", "\x00", "\x00", "\x00", "\x00")), .rc = DNS_E_QDCOUNT },
	{ "qdcount 0, NOERROR with an answer",
	  MSG(HDR(RESP, "\x00", "\x01", "\x00", "\x00")
	      "\x07" "example" "\x04" "test" "\x00\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04"
	      "\xc0\x00\x02\x01"),
	  .rc = DNS_E_QDCOUNT },
	{ "qdcount 0, NOTAUTH", MSG(HDR("\x80\x09", "\x00", "\x00", "\x00", "\x00")),
	  .rc = DNS_E_QDCOUNT },
	{ "qdcount 0, REFUSED, arcount 1 with nothing there",
	  MSG(HDR("\x81\x05", "\x00", "\x00", "\x00", "\x01")), .rc = DNS_E_SHORT },
	{ "qdcount 0, REFUSED, a query (QR clear)",
	  MSG(HDR("\x01\x05", "\x00", "\x00", "\x00", "\x00")), .rc = DNS_E_NOT_RESPONSE },
	{ "qdcount 2",
	  MSG(HDR(RESP, "\x02", "\x00", "\x00", "\x00") Q_EXAMPLE_A Q_EXAMPLE_A),
	  .rc = DNS_E_QDCOUNT },
	{ "header cut short", MSG("\x12\x34\x81\x80\x00"), .rc = DNS_E_SHORT },
	{ "CNAME RDATA longer than its name",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x00") Q_EXAMPLE_A
	      "\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x07" "\x03" "www" "\xc0\x0c" "\x00"),
	  .rc = DNS_E_RDATA },
	{ "NS RDATA shorter than its name",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x00") Q_EXAMPLE_A
	      "\xc0\x0c\x00\x02\x00\x01\x00\x00\x00\x3c\x00\x02" "\x03" "www" "\xc0\x0c"),
	  .rc = DNS_E_RDATA },
	{ "SOA with a 19-octet tail",
	  MSG(HDR(RESP, "\x01", "\x00", "\x01", "\x00") Q_EXAMPLE_A
	      "\xc0\x0c\x00\x06\x00\x01\x00\x00\x0e\x10\x00\x17" "\xc0\x0c\xc0\x0c"
	      "\x00\x00\x00\x01\x00\x00\x1c\x20\x00\x00\x0e\x10\x00\x12\x75\x00\x00\x00\x01"),
	  .rc = DNS_E_RDATA },
	{ "TXT string overruns RDATA",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x00") Q_EXAMPLE_A
	      "\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x00\x00\x03\x05" "ab" "\xc0\x0c\x00\x01"),
	  .rc = DNS_E_RDATA },
	{ "TXT with empty RDATA",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x00") Q_EXAMPLE_A
	      "\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x00\x00\x00"),
	  .rc = DNS_E_RDATA },
	{ "OPT in the answer section",
	  MSG(HDR(RESP, "\x01", "\x01", "\x00", "\x00") Q_EXAMPLE_A
	      "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"),
	  .rc = DNS_E_OPT },
	{ "two OPT records",
	  MSG(HDR(RESP, "\x01", "\x00", "\x00", "\x02") Q_EXAMPLE_A
	      "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
	      "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"),
	  .rc = DNS_E_OPT },
	{ "OPT owner not root",
	  MSG(HDR(RESP, "\x01", "\x00", "\x00", "\x01") Q_EXAMPLE_A
	      "\xc0\x0c\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"),
	  .rc = DNS_E_OPT },
	{ "OPT option overruns RDATA",
	  MSG(HDR(RESP, "\x01", "\x00", "\x00", "\x01") Q_EXAMPLE_A
	      "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x06\x00\x03\x00\x04" "ns"),
	  .rc = DNS_E_OPT },
	{ "OPT option header cut by RDLENGTH",
	  MSG(HDR(RESP, "\x01", "\x00", "\x00", "\x01") Q_EXAMPLE_A
	      "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x03\x00\x03\x00"),
	  .rc = DNS_E_OPT },
};

#define NREPLIES (sizeof(replies) / sizeof(replies[0]))

/* Every case as its own exact-size heap copy, so ASan sees any read past the end. */
static uint8_t *
case_bytes(const struct reply_case *c, size_t *len)
{
	uint8_t tmp[2048];
	uint8_t *copy;

	if (c->build != NULL) {
		*len = c->build(tmp, sizeof(tmp));
	} else {
		assert_true(c->len <= sizeof(tmp));
		memcpy(tmp, c->bytes, c->len);
		*len = c->len;
	}
	copy = malloc(*len ? *len : 1);
	assert_non_null(copy);
	memcpy(copy, tmp, *len);
	return copy;
}

static void
test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < NREPLIES; i++) {
		const struct reply_case *c = &replies[i];
		struct dns_reply r;
		size_t len;
		uint8_t *msg = case_bytes(c, &len);
		int rc = dns_parse_reply(msg, len, &r);

		if (rc != c->rc)
			fail_msg("%s: rc %d (%s), want %d (%s)", c->name, rc, dns_strerror(rc),
				 c->rc, dns_strerror(c->rc));
		if (rc == 0) {
			char text[DNS_MAX_TEXT_NAME];

			assert_int_equal(r.hdr.id, 0x1234);
			assert_true(r.hdr.flags & DNS_FLAG_QR);
			assert_int_equal(r.qtype, c->qtype);
			assert_int_equal(r.qclass, c->qclass);
			assert_int_equal(r.rcode, c->rcode);
			assert_int_equal(r.hdr.ancount, c->ancount);
			assert_int_equal(r.hdr.nscount, c->nscount);
			assert_int_equal(r.hdr.arcount, c->arcount);
			assert_int_equal(r.has_edns, c->edns);
			assert_int_equal(r.edns_udp_size, c->udp);
			assert_int_equal(r.edns_version, c->version);
			assert_int_equal(r.edns_do, c->do_bit);
			assert_int_equal(r.msg_len, len - c->trailing);
			if (r.no_question != c->no_question)
				fail_msg("%s: no_question %d", c->name, r.no_question);
			if (c->no_question) {
				static const uint8_t other[] = "\x05" "other" "\x00";

				/* nothing to compare but the ID: any question matches it */
				assert_int_equal(r.qname_len, 0);
				assert_int_equal(dns_reply_matches(&r, 0x1234, other, sizeof(other) - 1,
								   DNS_TYPE_AAAA, DNS_CLASS_CH), 0);
				assert_int_equal(dns_reply_matches(&r, 0x1234, (const uint8_t *)"", 1,
								   DNS_TYPE_NS, DNS_CLASS_IN), 0);
				assert_int_equal(dns_reply_matches(&r, 0x4321, (const uint8_t *)"", 1,
								   DNS_TYPE_NS, DNS_CLASS_IN),
						 DNS_E_ID_MISMATCH);
			} else {
				assert_true(dns_name_to_text(r.qname, r.qname_len, text,
							     sizeof(text)) > 0);
				if (c->qname != NULL)
					assert_string_equal(text, c->qname);
			}
			if (c->nsid != NULL) {
				assert_int_equal(r.nsid_len, strlen(c->nsid));
				assert_memory_equal(msg + r.nsid_off, c->nsid, r.nsid_len);
			} else {
				assert_int_equal(r.nsid_len, 0);
			}
		}
		free(msg);
	}
}

/* Every proper prefix of every good reply must fail cleanly. */
static void
test_parse_prefixes(void **state)
{
	(void)state;
	for (size_t i = 0; i < NREPLIES; i++) {
		const struct reply_case *c = &replies[i];
		size_t len, checked = 0;
		uint8_t *msg;

		if (c->rc != 0)
			continue;
		msg = case_bytes(c, &len);
		for (size_t n = 0; n < len - c->trailing; n++) {
			struct dns_reply r;
			uint8_t *pre = malloc(n ? n : 1);
			int rc;

			assert_non_null(pre);
			memcpy(pre, msg, n);
			rc = dns_parse_reply(pre, n, &r);
			if (rc >= 0)
				fail_msg("%s: prefix of %zu octets parsed", c->name, n);
			free(pre);
			checked++;
		}
		assert_int_equal(checked, len - c->trailing);
		free(msg);
	}
}

static const uint8_t *
case_by_name(const char *name, size_t *len)
{
	*len = 0; /* fail_msg is not known to be noreturn */
	for (size_t i = 0; i < NREPLIES; i++) {
		if (strcmp(replies[i].name, name) == 0) {
			*len = replies[i].len;
			return replies[i].bytes;
		}
	}
	fail_msg("no case %s", name);
	return NULL;
}

static void
test_reply_matches(void **state)
{
	static const uint8_t qname[] = Q_EXAMPLE;
	static const uint8_t upper[] = "\x07" "EXAMPLE" "\x04" "TeSt" "\x00";
	static const uint8_t other[] = "\x07" "example" "\x03" "net" "\x00";
	struct dns_reply r;
	size_t len;
	const uint8_t *msg = case_by_name("A answer, compressed owner", &len);

	(void)state;
	assert_int_equal(dns_parse_reply(msg, len, &r), 0);
	assert_int_equal(dns_reply_matches(&r, 0x1234, qname, sizeof(qname) - 1, 1, 1), 0);
	assert_int_equal(dns_reply_matches(&r, 0x1234, upper, sizeof(upper) - 1, 1, 1), 0);
	assert_int_equal(dns_reply_matches(&r, 0x1235, qname, sizeof(qname) - 1, 1, 1),
			 DNS_E_ID_MISMATCH);
	assert_int_equal(dns_reply_matches(&r, 0x1234, qname, sizeof(qname) - 1, 28, 1),
			 DNS_E_QUESTION_MISMATCH);
	assert_int_equal(dns_reply_matches(&r, 0x1234, qname, sizeof(qname) - 1, 1, 3),
			 DNS_E_QUESTION_MISMATCH);
	assert_int_equal(dns_reply_matches(&r, 0x1234, other, sizeof(other) - 1, 1, 1),
			 DNS_E_QUESTION_MISMATCH);
	/* a prefix of the name is not the name */
	assert_int_equal(dns_reply_matches(&r, 0x1234, (const uint8_t *)"\x04" "test" "\x00",
					   6, 1, 1),
			 DNS_E_QUESTION_MISMATCH);
}

static void
test_read_name(void **state)
{
	uint8_t name[DNS_MAX_NAME];
	size_t len, nlen, pos;
	const uint8_t *msg = case_by_name("A answer, compressed owner", &len);

	(void)state;
	pos = 12;
	assert_int_equal(dns_read_name(msg, len, &pos, name, &nlen), 0);
	assert_int_equal(pos, 26);
	assert_int_equal(nlen, 14);
	assert_memory_equal(name, Q_EXAMPLE, 14);
	/* a pointer: the position moves past the pointer, not past its target */
	pos = 30;
	assert_int_equal(dns_read_name(msg, len, &pos, name, &nlen), 0);
	assert_int_equal(pos, 32);
	assert_int_equal(nlen, 14);
	assert_memory_equal(name, Q_EXAMPLE, 14);
	/* failure leaves the position alone */
	pos = 13;
	assert_int_equal(dns_read_name(msg, len, &pos, name, &nlen), DNS_E_LABEL_TYPE);
	assert_int_equal(pos, 13);
	pos = len;
	assert_int_equal(dns_read_name(msg, len, &pos, name, &nlen), DNS_E_SHORT);

	/* the cycle read from its other end: 42 -> 44 is forward */
	msg = case_by_name("two-pointer cycle", &len);
	pos = 42;
	assert_int_equal(dns_read_name(msg, len, &pos, name, &nlen), DNS_E_PTR_FORWARD);
	pos = 44;
	assert_int_equal(dns_read_name(msg, len, &pos, name, &nlen), DNS_E_PTR_LOOP);
	/* a pointer whose second octet is missing */
	pos = 0;
	assert_int_equal(dns_read_name((const uint8_t *)"\xc0", 1, &pos, name, &nlen),
			 DNS_E_SHORT);
	/* a pointer into the middle of its own run (lands on a label length octet) */
	pos = 2;
	assert_int_equal(dns_read_name((const uint8_t *)"\x00\x00\x01" "a" "\xc0\x03", 6, &pos,
				       name, &nlen),
			 DNS_E_PTR_LOOP);
}

static void
test_rr_iter(void **state)
{
	struct dns_rr_iter it;
	struct dns_rr rr;
	uint8_t name[DNS_MAX_NAME];
	char text[DNS_MAX_TEXT_NAME], txt[64];
	size_t len, nlen;
	const uint8_t *msg;

	(void)state;
	/* SOA in authority: mname via dns_rdata_name */
	msg = case_by_name("NOERROR/NODATA with SOA in authority", &len);
	assert_int_equal(dns_rr_iter_init(&it, msg, len), 0);
	assert_int_equal(dns_rr_next(&it, &rr), 1);
	assert_int_equal(rr.section, DNS_SECTION_AUTHORITY);
	assert_int_equal(rr.type, DNS_TYPE_SOA);
	assert_int_equal(rr.rclass, DNS_CLASS_IN);
	assert_int_equal(rr.ttl, 3600);
	assert_int_equal(rr.rdlength, 39);
	assert_int_equal(rr.rdata_off, 42);
	assert_int_equal(rr.name_len, 14);
	assert_int_equal(dns_rdata_name(msg, len, &rr, name, &nlen), 0);
	assert_int_equal(dns_name_to_text(name, nlen, text, sizeof(text)), 17);
	assert_string_equal(text, "ns1.example.test.");
	assert_int_equal(dns_rr_next(&it, &rr), 0);
	assert_int_equal(dns_rr_next(&it, &rr), 0);

	/* CNAME then A at the CNAME target */
	msg = case_by_name("CNAME then A", &len);
	assert_int_equal(dns_rr_iter_init(&it, msg, len), 0);
	assert_int_equal(dns_rr_next(&it, &rr), 1);
	assert_int_equal(rr.type, DNS_TYPE_CNAME);
	assert_int_equal(dns_rdata_name(msg, len, &rr, name, &nlen), 0);
	assert_int_equal(dns_name_to_text(name, nlen, text, sizeof(text)), 17);
	assert_string_equal(text, "www.example.test.");
	assert_int_equal(dns_rr_next(&it, &rr), 1);
	assert_int_equal(rr.section, DNS_SECTION_ANSWER);
	assert_int_equal(rr.type, DNS_TYPE_A);
	assert_true(dns_name_equal(rr.name, rr.name_len, name, nlen));
	assert_int_equal(rr.rdlength, 4);
	assert_memory_equal(msg + rr.rdata_off, "\xc0\x00\x02\x02", 4);
	assert_int_equal(dns_rdata_name(msg, len, &rr, name, &nlen), DNS_E_INVALID);
	assert_int_equal(dns_rdata_txt(msg, len, &rr, txt, sizeof(txt)), DNS_E_INVALID);
	assert_int_equal(dns_rr_next(&it, &rr), 0);

	/* TXT: strings concatenated, truncated to the buffer */
	msg = case_by_name("CH TXT version.bind, two strings", &len);
	assert_int_equal(dns_rr_iter_init(&it, msg, len), 0);
	assert_int_equal(dns_rr_next(&it, &rr), 1);
	assert_int_equal(rr.rclass, DNS_CLASS_CH);
	assert_int_equal(dns_rdata_txt(msg, len, &rr, txt, sizeof(txt)), 0);
	assert_string_equal(txt, "9.18.1");
	assert_int_equal(dns_rdata_txt(msg, len, &rr, txt, 4), 0);
	assert_string_equal(txt, "9.1");
	assert_int_equal(dns_rdata_txt(msg, len, &rr, txt, 1), 0);
	assert_string_equal(txt, "");
	assert_int_equal(dns_rdata_txt(msg, len, &rr, txt, 0), DNS_E_INVALID);
	/* an rr that does not lie inside this message */
	assert_int_equal(dns_rdata_txt(msg, rr.rdata_off + 3, &rr, txt, sizeof(txt)),
			 DNS_E_RDLENGTH);

	/* answer then the OPT in additional */
	msg = case_by_name("A with OPT: DO, udp 1232, NSID", &len);
	assert_int_equal(dns_rr_iter_init(&it, msg, len), 0);
	assert_int_equal(dns_rr_next(&it, &rr), 1);
	assert_int_equal(rr.section, DNS_SECTION_ANSWER);
	assert_int_equal(rr.ttl, 300);
	assert_int_equal(dns_rr_next(&it, &rr), 1);
	assert_int_equal(rr.section, DNS_SECTION_ADDITIONAL);
	assert_int_equal(rr.type, DNS_TYPE_OPT);
	assert_int_equal(rr.rclass, 1232);
	assert_int_equal(rr.name_len, 1);
	assert_int_equal(dns_rr_next(&it, &rr), 0);

	/* a lying count surfaces as an error from the iterator too */
	msg = case_by_name("ancount 5 with one RR", &len);
	assert_int_equal(dns_rr_iter_init(&it, msg, len), 0);
	assert_int_equal(dns_rr_next(&it, &rr), 1);
	assert_int_equal(dns_rr_next(&it, &rr), DNS_E_SHORT);
}

static const uint8_t want_query[] =
	"\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01" Q_EXAMPLE_A
	"\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x04\x00\x03\x00\x00";

static void
test_build_query(void **state)
{
	static const uint8_t qname[] = Q_EXAMPLE;
	struct dns_query_params q = {
		.qname = qname, .qname_len = sizeof(qname) - 1, .qtype = DNS_TYPE_A,
		.qclass = DNS_CLASS_IN, .id = 0xbeef, .rd = true, .edns_udp_size = 1232,
		.edns_do = true, .edns_nsid = true,
	};
	uint8_t buf[512];
	struct dns_header h;
	struct dns_reply r;
	struct dns_rr_iter it;
	struct dns_rr rr;
	int n;

	(void)state;
	n = dns_build_query(buf, sizeof(buf), &q);
	assert_int_equal(n, sizeof(want_query) - 1);
	assert_memory_equal(buf, want_query, (size_t)n);

	assert_int_equal(dns_parse_header(buf, (size_t)n, &h), 0);
	assert_int_equal(h.id, 0xbeef);
	assert_int_equal(h.flags, DNS_FLAG_RD);
	assert_int_equal(h.qdcount, 1);
	assert_int_equal(h.ancount, 0);
	assert_int_equal(h.nscount, 0);
	assert_int_equal(h.arcount, 1);
	assert_int_equal(dns_header_opcode(&h), 0);
	assert_int_equal(dns_header_rcode(&h), 0);
	assert_int_equal(dns_parse_header(buf, DNS_HEADER_LEN - 1, &h), DNS_E_SHORT);
	assert_int_equal(dns_parse_header(NULL, 0, &h), DNS_E_SHORT);
	assert_int_equal(dns_parse_reply(NULL, 0, &r), DNS_E_SHORT);
	/* a query is not a reply ... */
	assert_int_equal(dns_parse_reply(buf, (size_t)n, &r), DNS_E_NOT_RESPONSE);
	/* ... but the iterator walks it, and with QR set the whole thing parses back */
	assert_int_equal(dns_rr_iter_init(&it, buf, (size_t)n), 0);
	assert_int_equal(dns_rr_next(&it, &rr), 1);
	assert_int_equal(rr.type, DNS_TYPE_OPT);
	assert_int_equal(dns_rr_next(&it, &rr), 0);
	buf[2] |= 0x80;
	assert_int_equal(dns_parse_reply(buf, (size_t)n, &r), 0);
	assert_int_equal(dns_reply_matches(&r, 0xbeef, qname, sizeof(qname) - 1, 1, 1), 0);
	assert_true(r.has_edns);
	assert_int_equal(r.edns_udp_size, 1232);
	assert_true(r.edns_do);
	assert_int_equal(r.nsid_len, 0);
	assert_int_equal(r.nsid_off, (size_t)n);
	assert_int_equal(r.msg_len, (size_t)n);

	/* every short buffer is refused */
	for (size_t cap = 0; cap < (size_t)n; cap++)
		assert_int_equal(dns_build_query(buf, cap, &q), DNS_E_BUFFER);

	/* no EDNS, no RD */
	q.edns_udp_size = 0;
	q.rd = false;
	q.qtype = DNS_TYPE_TXT;
	n = dns_build_query(buf, sizeof(buf), &q);
	assert_int_equal(n, 30);
	assert_memory_equal(buf, "\xbe\xef\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
	assert_memory_equal(buf + 12, qname, sizeof(qname) - 1);
	assert_memory_equal(buf + 26, "\x00\x10\x00\x01", 4);

	/* EDNS without DO or NSID */
	q.edns_udp_size = 512;
	q.edns_do = false;
	q.edns_nsid = false;
	n = dns_build_query(buf, sizeof(buf), &q);
	assert_int_equal(n, 41);
	assert_memory_equal(buf + 30, "\x00\x00\x29\x02\x00\x00\x00\x00\x00\x00\x00", 11);

	/* the qname must be one uncompressed name of exactly qname_len octets */
	q.qname_len = sizeof(qname) - 2;
	assert_int_equal(dns_build_query(buf, sizeof(buf), &q), DNS_E_INVALID);
	q.qname_len = sizeof(qname);
	assert_int_equal(dns_build_query(buf, sizeof(buf), &q), DNS_E_INVALID);
	q.qname = (const uint8_t *)"\xc0\x0c";
	q.qname_len = 2;
	assert_int_equal(dns_build_query(buf, sizeof(buf), &q), DNS_E_INVALID);
	assert_int_equal(dns_build_query(buf, sizeof(buf), NULL), DNS_E_INVALID);
}

struct name_case {
	const char *text;
	int rc;             /* wire length or error */
	const char *wire;
	const char *back;   /* dns_name_to_text of the wire */
};

static const struct name_case names[] = {
	{ "example.test", 14, Q_EXAMPLE, "example.test." },
	{ "example.test.", 14, Q_EXAMPLE, "example.test." },
	{ "EXAMPLE.Test", 14, "\x07" "EXAMPLE" "\x04" "Test", "EXAMPLE.Test." },
	{ ".", 1, "", "." },
	{ "a", 3, "\x01" "a", "a." },
	{ "a\\.b.test", 10, "\x03" "a.b" "\x04" "test", "a\\.b.test." },
	{ "\\065bc.test", 10, "\x03" "Abc" "\x04" "test", "Abc.test." },
	{ "a\\000b", 5, "\x03" "a" "\x00" "b", "a\\000b." },
	{ "sp\\032ace", 8, "\x06" "sp ace", "sp\\032ace." },
	{ "\\\\x", 4, "\x02" "\\x", "\\\\x." },
	{ "\\255", 3, "\x01\xff", "\\255." },
	{ "q\\\"\\;\\(\\)\\@\\$", 9, "\x07" "q\";()@$", "q\\\"\\;\\(\\)\\@\\$." },
	{ "", DNS_E_INVALID, NULL, NULL },
	{ "a..b", DNS_E_INVALID, NULL, NULL },
	{ ".a", DNS_E_INVALID, NULL, NULL },
	{ "..", DNS_E_INVALID, NULL, NULL },
	{ "a..", DNS_E_INVALID, NULL, NULL },
	{ "a\\", DNS_E_INVALID, NULL, NULL },
	{ "\\256", DNS_E_INVALID, NULL, NULL },
	{ "\\12", DNS_E_INVALID, NULL, NULL },
	{ "\\1x3", DNS_E_INVALID, NULL, NULL },
};

static void
test_name_text_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct name_case *c = &names[i];
		uint8_t wire[DNS_MAX_NAME];
		char text[DNS_MAX_TEXT_NAME];
		int rc = dns_name_from_text(c->text, wire, sizeof(wire));

		if (rc != c->rc)
			fail_msg("\"%s\": rc %d, want %d", c->text, rc, c->rc);
		if (rc < 0)
			continue;
		/* the table's wire strings leave the root octet to the literal's NUL */
		assert_memory_equal(wire, c->wire, (size_t)rc);
		assert_int_equal(dns_name_to_text(wire, (size_t)rc, text, sizeof(text)),
				 strlen(c->back));
		assert_string_equal(text, c->back);
		/* and the presentation form reads back to the same wire */
		{
			uint8_t again[DNS_MAX_NAME];

			assert_int_equal(dns_name_from_text(text, again, sizeof(again)), rc);
			assert_memory_equal(again, wire, (size_t)rc);
		}
	}
}

static void
test_name_text_limits(void **state)
{
	char text[DNS_MAX_TEXT_NAME], back[DNS_MAX_TEXT_NAME];
	uint8_t wire[DNS_MAX_NAME], again[DNS_MAX_NAME];
	int n;

	(void)state;
	/* 63-octet label fits, 64 does not */
	memset(text, 'a', 63);
	text[63] = '\0';
	assert_int_equal(dns_name_from_text(text, wire, sizeof(wire)), 65);
	memset(text, 'a', 64);
	text[64] = '\0';
	assert_int_equal(dns_name_from_text(text, wire, sizeof(wire)), DNS_E_LABEL_TOO_LONG);
	/* an escaped octet counts once */
	memset(text, 'a', 62);
	strcpy(text + 62, "\\046");
	assert_int_equal(dns_name_from_text(text, wire, sizeof(wire)), 65);
	strcpy(text + 62, "\\046b");
	assert_int_equal(dns_name_from_text(text, wire, sizeof(wire)), DNS_E_LABEL_TOO_LONG);

	/* 63.63.63.61 is 255 octets on the wire; 63.63.63.62 is 256 */
	memset(text, 'x', sizeof(text));
	text[63] = text[127] = text[191] = '.';
	text[253] = '\0';
	assert_int_equal(dns_name_from_text(text, wire, sizeof(wire)), 255);
	text[253] = '.';
	text[254] = '\0';
	assert_int_equal(dns_name_from_text(text, wire, sizeof(wire)), 255);
	text[253] = 'x';
	assert_int_equal(dns_name_from_text(text, wire, sizeof(wire)), DNS_E_NAME_TOO_LONG);
	/* 127 one-octet labels: 255; 128: 257 */
	for (int i = 0; i < 128; i++) {
		text[2 * i] = 'z';
		text[2 * i + 1] = '.';
	}
	text[254] = '\0';
	assert_int_equal(dns_name_from_text(text, wire, sizeof(wire)), 255);
	text[254] = 'z';
	text[256] = '\0';
	assert_int_equal(dns_name_from_text(text, wire, sizeof(wire)), DNS_E_NAME_TOO_LONG);

	/* too small an output buffer */
	assert_int_equal(dns_name_from_text("example.test", wire, 13), DNS_E_BUFFER);
	assert_int_equal(dns_name_from_text("example.test", wire, 14), 14);
	assert_int_equal(dns_name_from_text(".", wire, 0), DNS_E_BUFFER);
	assert_int_equal(dns_name_from_text(NULL, wire, sizeof(wire)), DNS_E_INVALID);

	/* the longest presentation form: 255 octets of 0xff, each \255 */
	memset(wire, 0xff, sizeof(wire));
	wire[0] = wire[64] = wire[128] = 63;
	wire[192] = 61;
	wire[254] = 0;
	n = dns_name_to_text(wire, 255, back, sizeof(back));
	assert_int_equal(n, 250 * 4 + 4);
	assert_int_equal(dns_name_from_text(back, again, sizeof(again)), 255);
	assert_memory_equal(again, wire, 255);
	/* every buffer too short for the text plus NUL fails */
	for (size_t cap = 1; cap <= (size_t)n; cap++)
		assert_int_equal(dns_name_to_text(wire, 255, back, cap), DNS_E_BUFFER);
	assert_int_equal(dns_name_to_text(wire, 255, back, (size_t)n + 1), n);
	assert_int_equal(dns_name_to_text((const uint8_t *)"", 1, back, 1), DNS_E_BUFFER);

	/* malformed wire handed to dns_name_to_text */
	assert_int_equal(dns_name_to_text((const uint8_t *)"\x05" "ab", 3, back, sizeof(back)),
			 DNS_E_SHORT);
	assert_int_equal(dns_name_to_text((const uint8_t *)"\x01" "a", 2, back, sizeof(back)),
			 DNS_E_SHORT);
	assert_int_equal(dns_name_to_text((const uint8_t *)"\x41" "a", 3, back, sizeof(back)),
			 DNS_E_LABEL_TYPE);
	assert_int_equal(dns_name_to_text((const uint8_t *)"\xc0\x0c", 2, back, sizeof(back)),
			 DNS_E_INVALID);
	assert_int_equal(dns_name_to_text(wire, 0, back, sizeof(back)), DNS_E_SHORT);
}

static void
test_name_equal(void **state)
{
	static const uint8_t a[] = "\x03" "WwW" "\x07" "Example" "\x04" "test";
	static const uint8_t b[] = "\x03" "www" "\x07" "example" "\x04" "TEST";
	static const uint8_t c[] = "\x03" "www" "\x07" "example" "\x04" "tesu";
	/* same octets as a+1, but as a whole not one valid name */
	static const uint8_t bad[] = "\x03" "www" "\x07" "example" "\x04" "te";

	(void)state;
	assert_true(dns_name_equal(a, sizeof(a), b, sizeof(b)));
	assert_false(dns_name_equal(a, sizeof(a), c, sizeof(c)));
	assert_false(dns_name_equal(a, sizeof(a), b, 5));
	assert_false(dns_name_equal(bad, sizeof(bad), bad, sizeof(bad)));
	assert_true(dns_name_equal((const uint8_t *)"", 1, (const uint8_t *)"", 1));
	/* '@' (0x40) and '`' (0x60) differ by the case bit but are not letters */
	assert_false(dns_name_equal((const uint8_t *)"\x01@", 3, (const uint8_t *)"\x01`", 3));
}

static void
test_rcode_names(void **state)
{
	static const char *const want[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
	};
	char buf[16];

	(void)state;
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(dns_rcode_name(i, buf, sizeof(buf)), want[i]);
	assert_string_equal(dns_rcode_name(16, buf, sizeof(buf)), "BADVERS");
	assert_ptr_equal(dns_rcode_name(11, buf, sizeof(buf)), buf);
	assert_string_equal(buf, "RCODE11");
	assert_string_equal(dns_rcode_name(4095, buf, sizeof(buf)), "RCODE4095");
	assert_string_equal(dns_rcode_name(17, NULL, 0), "RCODE?");
	/* the rcodes a reply may carry without its question */
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(dns_rcode_refuses(i), i == 1 || i == 2 || i == 4 || i == 5);
}

static void
test_type_names(void **state)
{
	static const struct {
		uint16_t type;
		const char *name;
	} t[] = {
		{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" }, { 12, "PTR" },
		{ 15, "MX" }, { 16, "TXT" }, { 28, "AAAA" }, { 33, "SRV" }, { 41, "OPT" },
		{ 43, "DS" }, { 46, "RRSIG" }, { 47, "NSEC" }, { 48, "DNSKEY" }, { 50, "NSEC3" },
		{ 252, "AXFR" }, { 255, "ANY" }, { 257, "CAA" },
	};
	char buf[16];
	uint16_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char lower[16];

		assert_string_equal(dns_type_name(t[i].type, buf, sizeof(buf)), t[i].name);
		v = 0;
		assert_int_equal(dns_type_from_text(t[i].name, &v), 0);
		assert_int_equal(v, t[i].type);
		for (size_t k = 0; k <= strlen(t[i].name); k++)
			lower[k] = (char)(t[i].name[k] >= 'A' && t[i].name[k] <= 'Z'
						  ? t[i].name[k] + 32 : t[i].name[k]);
		v = 0;
		assert_int_equal(dns_type_from_text(lower, &v), 0);
		assert_int_equal(v, t[i].type);
	}
	assert_string_equal(dns_type_name(65, buf, sizeof(buf)), "TYPE65");
	assert_string_equal(dns_type_name(65535, buf, sizeof(buf)), "TYPE65535");
	assert_string_equal(dns_type_name(0, buf, sizeof(buf)), "TYPE0");
	assert_int_equal(dns_type_from_text("TYPE65", &v), 0);
	assert_int_equal(v, 65);
	assert_int_equal(dns_type_from_text("type65535", &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(dns_type_from_text("Type1", &v), 0);
	assert_int_equal(v, 1);
	v = 7;
	assert_int_equal(dns_type_from_text("TYPE65536", &v), DNS_E_INVALID);
	assert_int_equal(dns_type_from_text("TYPE", &v), DNS_E_INVALID);
	assert_int_equal(dns_type_from_text("TYPE-1", &v), DNS_E_INVALID);
	assert_int_equal(dns_type_from_text("TYPE 1", &v), DNS_E_INVALID);
	assert_int_equal(dns_type_from_text("TYPE1x", &v), DNS_E_INVALID);
	assert_int_equal(dns_type_from_text("TYP", &v), DNS_E_INVALID);
	assert_int_equal(dns_type_from_text("AA", &v), DNS_E_INVALID);
	assert_int_equal(dns_type_from_text("", &v), DNS_E_INVALID);
	assert_int_equal(dns_type_from_text(NULL, &v), DNS_E_INVALID);
	assert_int_equal(v, 7); /* untouched on failure */
}

static void
test_strerror(void **state)
{
	(void)state;
	assert_string_equal(dns_strerror(DNS_E_SHORT), "truncated message");
	assert_string_equal(dns_strerror(DNS_E_LABEL_TOO_LONG), "label longer than 63 octets");
	assert_string_equal(dns_strerror(DNS_E_NAME_TOO_LONG), "name longer than 255 octets");
	assert_string_equal(dns_strerror(DNS_E_PTR_FORWARD), "forward compression pointer");
	assert_string_equal(dns_strerror(DNS_E_PTR_LOOP), "compression pointer loop");
	assert_string_equal(dns_strerror(DNS_E_ID_MISMATCH), "transaction id mismatch");
	assert_string_equal(dns_strerror(DNS_E_QUESTION_MISMATCH), "question mismatch");
	assert_string_equal(dns_strerror(DNS_E_NOT_RESPONSE), "not a response");
	assert_string_equal(dns_strerror(-99), "unknown error");
	/* every code has its text, and none of them is an errno: -ENOMEM is not "buffer too
	 * small", and strerror() of a dns code names no system error */
	for (int e = DNS_E_SHORT; e >= DNS_E_RDATA; e--) {
		assert_true(e < -DNS_E_BASE);
		assert_string_not_equal(dns_strerror(e), "unknown error");
	}
	assert_string_equal(dns_strerror(-ENOMEM), "unknown error");
	assert_string_not_equal(strerror(-DNS_E_BUFFER), strerror(ENOMEM));
	/* every code has its own short lowercase reason */
	for (int e = DNS_E_RDATA; e <= DNS_OK; e = e == DNS_E_SHORT ? DNS_OK : e + 1) {
		const char *s = dns_strerror(e);

		assert_true(strlen(s) > 0 && strlen(s) < 40);
		assert_string_not_equal(s, "unknown error");
		for (const char *p = s; *p; p++)
			assert_false(*p >= 'A' && *p <= 'Z');
		for (int f = DNS_E_RDATA; f < e; f++)
			assert_string_not_equal(s, dns_strerror(f));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_prefixes),
		cmocka_unit_test(test_reply_matches),
		cmocka_unit_test(test_read_name),
		cmocka_unit_test(test_rr_iter),
		cmocka_unit_test(test_build_query),
		cmocka_unit_test(test_name_text_table),
		cmocka_unit_test(test_name_text_limits),
		cmocka_unit_test(test_name_equal),
		cmocka_unit_test(test_rcode_names),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests_name("dns", tests, NULL, NULL);
}
