/* test_udp_flow: the shared-socket UDP table and its judges, as tables of datagrams and
 * ICMP errors against a few flows: only the right address, source port, pool socket, ID and
 * question make a reply; an ICMP error ends only the flow it is about. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "probes/dns.h"
#include "probes/udp_flow.h"

static uint8_t root[1] = { 0 };
static const struct udp_flow_query Q = { .port = 53, .qname = root, .qname_len = 1,
					 .qtype = DNS_TYPE_NS };

static struct net_addr
addr(const char *s)
{
	struct net_addr a;

	assert_int_equal(net_addr_parse(s, &a), 0);
	return a;
}

/* A reply to ". NS" (or the type given) with this ID: header, root, type, class IN. */
static size_t
reply(uint8_t *b, uint16_t id, uint16_t qtype)
{
	memset(b, 0, DNS_HEADER_LEN);
	b[0] = (uint8_t)(id >> 8);
	b[1] = (uint8_t)id;
	b[2] = 0x84; /* QR, AA */
	b[3] = 0x05; /* REFUSED */
	b[5] = 1;    /* qdcount */
	b[12] = 0;
	b[13] = (uint8_t)(qtype >> 8);
	b[14] = (uint8_t)qtype;
	b[15] = 0;
	b[16] = DNS_CLASS_IN;
	return 17;
}

struct fixture {
	struct udp_flows t;
	struct udp_flow a, a_other_sock, b;
	int owner_a, owner_a2, owner_b;
};

static void
setup_flows(struct fixture *x)
{
	memset(x, 0, sizeof(*x));
	assert_int_equal(udp_flows_init(&x->t, 8, 0x5353), 0);
	/* 127.0.0.1 through pool socket 2 (attempts 0x1111, 0x2222) and through socket 5
	 * (0x3333: a duplicate of the address in the target list); 127.0.0.2 through 2 */
	x->a = (struct udp_flow){ .owner = &x->owner_a, .dst = addr("127.0.0.1"), .sock = 2,
				  .ids = { 0x1111, 0x2222 }, .nids = 2 };
	x->a_other_sock = (struct udp_flow){ .owner = &x->owner_a2, .dst = addr("127.0.0.1"),
					     .sock = 5, .ids = { 0x3333 }, .nids = 1 };
	x->b = (struct udp_flow){ .owner = &x->owner_b, .dst = addr("127.0.0.2"), .sock = 2,
				  .ids = { 0x4444 }, .nids = 1 };
	udp_flows_add(&x->t, &x->a);
	udp_flows_add(&x->t, &x->a_other_sock);
	udp_flows_add(&x->t, &x->b);
}

static void
test_datagrams(void **state)
{
	static const struct {
		const char *what;
		const char *src;
		uint16_t sport;
		unsigned sock;
		uint16_t id;
		uint16_t qtype;
		int garbage;
		enum udp_flow_verdict want;
		int want_flow; /* 0 none, 1 a, 2 a_other_sock, 3 b */
		int want_attempt;
	} cases[] = {
		{ "reply to attempt 0", "127.0.0.1", 53, 2, 0x1111, DNS_TYPE_NS, 0, UDP_FLOW_REPLY, 1, 0 },
		{ "reply to attempt 1", "127.0.0.1", 53, 2, 0x2222, DNS_TYPE_NS, 0, UDP_FLOW_REPLY, 1, 1 },
		{ "wrong txid", "127.0.0.1", 53, 2, 0x1112, DNS_TYPE_NS, 0, UDP_FLOW_UNVERIFIED, 1, -1 },
		{ "wrong question", "127.0.0.1", 53, 2, 0x1111, DNS_TYPE_A, 0, UDP_FLOW_UNVERIFIED, 1, -1 },
		{ "garbage", "127.0.0.1", 53, 2, 0, 0, 1, UDP_FLOW_UNVERIFIED, 1, -1 },
		{ "wrong source port", "127.0.0.1", 5353, 2, 0x1111, DNS_TYPE_NS, 0, UDP_FLOW_STRAY, 0, -1 },
		/* right ID and question, but on a pool socket that probe does not use */
		{ "another pool socket", "127.0.0.1", 53, 3, 0x1111, DNS_TYPE_NS, 0, UDP_FLOW_STRAY, 0, -1 },
		{ "the other socket's ID there", "127.0.0.1", 53, 2, 0x3333, DNS_TYPE_NS, 0, UDP_FLOW_UNVERIFIED, 1, -1 },
		{ "the duplicate's own socket", "127.0.0.1", 53, 5, 0x3333, DNS_TYPE_NS, 0, UDP_FLOW_REPLY, 2, 0 },
		/* b's ID from a's address: each address answers only for itself */
		{ "another address's ID", "127.0.0.1", 53, 2, 0x4444, DNS_TYPE_NS, 0, UDP_FLOW_UNVERIFIED, 1, -1 },
		{ "an address not probed", "127.0.0.3", 53, 2, 0x1111, DNS_TYPE_NS, 0, UDP_FLOW_STRAY, 0, -1 },
		{ "other family", "::1", 53, 2, 0x1111, DNS_TYPE_NS, 0, UDP_FLOW_STRAY, 0, -1 },
		{ "b's reply", "127.0.0.2", 53, 2, 0x4444, DNS_TYPE_NS, 0, UDP_FLOW_REPLY, 3, 0 },
	};
	struct fixture x;
	(void)state;

	setup_flows(&x);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[64];
		size_t len = cases[i].garbage ? 5 : reply(buf, cases[i].id, cases[i].qtype);
		struct net_addr src = addr(cases[i].src);
		struct dns_reply r;
		struct udp_flow *f;
		struct udp_flow *want[] = { NULL, &x.a, &x.a_other_sock, &x.b };
		int attempt, why;
		enum udp_flow_verdict v;

		if (cases[i].garbage)
			memcpy(buf, "\x00\x01hel", 5);
		v = udp_flow_judge(&x.t, &Q, cases[i].sock, &src, cases[i].sport, buf, len, &r,
				   &f, &attempt, &why);
		print_message("case: %s\n", cases[i].what);
		assert_int_equal(v, cases[i].want);
		assert_ptr_equal(f, want[cases[i].want_flow]);
		assert_int_equal(attempt, cases[i].want_attempt);
		if (v == UDP_FLOW_UNVERIFIED)
			assert_true(why < 0);
	}
	/* a finished probe's flow is unlinked: its reply is stray from then on */
	udp_flows_del(&x.t, &x.a);
	{
		uint8_t buf[64];
		size_t len = reply(buf, 0x1111, DNS_TYPE_NS);
		struct net_addr src = addr("127.0.0.1");
		struct dns_reply r;
		struct udp_flow *f;
		int attempt, why;

		assert_int_equal(udp_flow_judge(&x.t, &Q, 2, &src, 53, buf, len, &r, &f, &attempt,
						 &why), UDP_FLOW_STRAY);
	}
	udp_flows_del(&x.t, &x.a); /* idempotent */
	udp_flows_clear(&x.t);
}

static void
test_icmp_errors(void **state)
{
	static const struct {
		const char *what;
		const char *dst;
		uint16_t dport;
		unsigned sock;
		int quote; /* -1: nothing quoted, else the quoted ID */
		int want_flow;
		int want_attempt;
	} cases[] = {
		{ "no quote: the latest attempt", "127.0.0.1", 53, 2, -1, 1, 1 },
		{ "quote names attempt 0", "127.0.0.1", 53, 2, 0x1111, 1, 0 },
		{ "quote with a foreign ID", "127.0.0.1", 53, 2, 0x9999, 0, -1 },
		{ "the duplicate on socket 5", "127.0.0.1", 53, 5, 0x3333, 2, 0 },
		{ "a's ID on socket 5", "127.0.0.1", 53, 5, 0x1111, 0, -1 },
		{ "another pool socket", "127.0.0.1", 53, 3, -1, 0, -1 },
		{ "about another port", "127.0.0.1", 54, 2, -1, 0, -1 },
		{ "about another address", "127.0.0.9", 53, 2, -1, 0, -1 },
		{ "b only", "127.0.0.2", 53, 2, 0x4444, 3, 0 },
	};
	struct fixture x;
	(void)state;

	setup_flows(&x);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct net_addr dst = addr(cases[i].dst);
		struct udp_flow *want[] = { NULL, &x.a, &x.a_other_sock, &x.b };
		uint8_t q[2] = { (uint8_t)(cases[i].quote >> 8), (uint8_t)cases[i].quote };
		int attempt;
		struct udp_flow *f = udp_flow_judge_error(&x.t, &Q, cases[i].sock, &dst,
							  cases[i].dport, q,
							  cases[i].quote < 0 ? 0 : 2, &attempt);

		print_message("case: %s\n", cases[i].what);
		assert_ptr_equal(f, want[cases[i].want_flow]);
		assert_int_equal(attempt, cases[i].want_attempt);
	}
	udp_flows_clear(&x.t);
}

/* Many flows, many removed: every one left is found, none removed is. */
static void
test_table_churn(void **state)
{
	enum { N = 2000 };
	static struct udp_flow fl[N];
	struct udp_flows t;
	(void)state;

	assert_int_equal(udp_flows_init(&t, N, 1), 0);
	for (unsigned i = 0; i < N; i++) {
		memset(&fl[i], 0, sizeof(fl[i]));
		fl[i].dst.family = AF_INET;
		fl[i].dst.bytes[0] = 10;
		fl[i].dst.bytes[2] = (uint8_t)(i >> 8);
		fl[i].dst.bytes[3] = (uint8_t)i;
		fl[i].sock = (uint8_t)(i % 8);
		udp_flows_add(&t, &fl[i]);
	}
	for (unsigned i = 0; i < N; i += 2)
		udp_flows_del(&t, &fl[i]);
	for (unsigned i = 0; i < N; i++) {
		struct udp_flow *f = udp_flows_find(&t, fl[i].sock, &fl[i].dst);
		assert_ptr_equal(f, i % 2 ? &fl[i] : NULL);
		assert_null(udp_flows_find(&t, (fl[i].sock + 1) % 8, &fl[i].dst));
	}
	udp_flows_clear(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_datagrams),
		cmocka_unit_test(test_icmp_errors),
		cmocka_unit_test(test_table_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
