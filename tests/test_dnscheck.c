/* test_dnscheck: the check plan, the queries it builds (CHAOS, ANY/DNSKEY, AXFR), the
 * evaluation of replies built here byte by byte, the AXFR stream walk; then the module
 * through the real engine against a UDP and a TCP server this test runs in threads on
 * 127.0.0.1 (a dropped first query, an AXFR in two messages written one octet at a time). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "probes/dns.h"
#include "probes/dnscheck.h"
#include "probes/engine.h"

/* ---- a DNS message writer for the replies the tests need ---- */

struct mb {
	uint8_t b[4096];
	size_t n;
};

static void
put(struct mb *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void
put16(struct mb *m, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(m, b, 2);
}

static void
put_name(struct mb *m, const char *text)
{
	uint8_t w[DNS_MAX_NAME];
	int n = dns_name_from_text(text, w, sizeof(w));

	assert_true(n > 0);
	put(m, w, (size_t)n);
}

static void
mb_header(struct mb *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ar)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, ar);
}

static void
mb_question(struct mb *m, const char *name, uint16_t type, uint16_t cls)
{
	put_name(m, name);
	put16(m, type);
	put16(m, cls);
}

static void
mb_rr(struct mb *m, const char *name, uint16_t type, uint16_t cls, const void *rdata,
      uint16_t rdlen)
{
	put_name(m, name);
	put16(m, type);
	put16(m, cls);
	put16(m, 0);
	put16(m, 300);
	put16(m, rdlen);
	put(m, rdata, rdlen);
}

static void
mb_txt(struct mb *m, const char *name, uint16_t cls, const char *text)
{
	uint8_t rd[256];
	size_t l = strlen(text);

	rd[0] = (uint8_t)l;
	memcpy(rd + 1, text, l);
	mb_rr(m, name, DNS_TYPE_TXT, cls, rd, (uint16_t)(l + 1));
}

/* An OPT record carrying an NSID option. */
static void
mb_opt_nsid(struct mb *m, const void *nsid, uint16_t len)
{
	uint8_t rd[64];

	rd[0] = 0;
	rd[1] = DNS_EDNS_OPT_NSID;
	rd[2] = (uint8_t)(len >> 8);
	rd[3] = (uint8_t)len;
	memcpy(rd + 4, nsid, len);
	mb_rr(m, ".", DNS_TYPE_OPT, 1232, rd, (uint16_t)(4 + len));
}

static void
mb_soa(struct mb *m, const char *zone)
{
	struct mb rd = { .n = 0 };
	static const uint8_t times[20] = { 0, 0, 0, 1, 0, 0, 0x0e, 0x10, 0, 0, 3, 0x84,
					   0, 9, 0x3a, 0x80, 0, 0, 1, 0x2c };

	put_name(&rd, "ns.example.");
	put_name(&rd, "hostmaster.example.");
	put(&rd, times, sizeof(times));
	mb_rr(m, zone, DNS_TYPE_SOA, DNS_CLASS_IN, rd.b, (uint16_t)rd.n);
}

static const uint8_t a_53[4] = { 192, 0, 2, 53 };
static const uint8_t a_54[4] = { 192, 0, 2, 54 };

/* ---- plan ---- */

static const char *const two_zones[] = { "open.test", "closed.test." };

static void
test_plan_init(void **state)
{
	struct dnscheck_plan pl;
	char err[128];

	(void)state;
	assert_int_equal(dnscheck_plan_init(&pl, NULL, NULL, ".", DNS_TYPE_NS, false, err,
					    sizeof(err)), 0);
	assert_int_equal(pl.canary_len, 1); /* ". NS" */
	assert_int_equal(pl.canary_qtype, DNS_TYPE_NS);
	assert_false(pl.canary_has_addr);
	dnscheck_plan_clear(&pl);

	assert_int_equal(dnscheck_plan_init(&pl, "canary.example", "192.0.2.53", ".",
					    DNS_TYPE_NS, false, err, sizeof(err)), 0);
	assert_int_equal(pl.canary_qtype, DNS_TYPE_A);
	assert_true(pl.canary_has_addr);
	assert_memory_equal(pl.canary_addr.bytes, a_53, 4);
	dnscheck_plan_clear(&pl);

	assert_int_equal(dnscheck_plan_init(&pl, "canary.example", "2001:db8::53", ".",
					    DNS_TYPE_NS, false, err, sizeof(err)), 0);
	assert_int_equal(pl.canary_qtype, DNS_TYPE_AAAA);
	dnscheck_plan_clear(&pl);

	assert_int_equal(dnscheck_plan_init(&pl, "canary.example", NULL, ".", DNS_TYPE_NS, false,
					    err, sizeof(err)), 0);
	assert_int_equal(pl.canary_qtype, DNS_TYPE_A);
	dnscheck_plan_clear(&pl);

	assert_int_equal(dnscheck_plan_init(&pl, "bad..name", NULL, ".", DNS_TYPE_NS, false, err,
					    sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad..name"));
	assert_int_equal(dnscheck_plan_init(&pl, "canary.example", "192.0.2.999", ".",
					    DNS_TYPE_NS, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "192.0.2.999"));
	assert_int_equal(dnscheck_plan_init(&pl, "", "192.0.2.1", ".", DNS_TYPE_NS, false, err,
					    sizeof(err)), -EINVAL);
}

static void
test_plan_steps(void **state)
{
	static const uint8_t want[] = {
		DNSCHECK_STEP_RECURSION, DNSCHECK_STEP_RECURSION_TCP, DNSCHECK_STEP_VERSION_BIND,
		DNSCHECK_STEP_VERSION_SERVER, DNSCHECK_STEP_HOSTNAME_BIND,
		DNSCHECK_STEP_ID_SERVER, DNSCHECK_STEP_AMP_ANY, DNSCHECK_STEP_AMP_DNSKEY,
		DNSCHECK_STEP_AMP_ANY, DNSCHECK_STEP_AMP_DNSKEY, DNSCHECK_STEP_TCP_DNS,
		DNSCHECK_STEP_AXFR, DNSCHECK_STEP_AXFR,
	};
	const char *dup[] = { "Open.Test", "open.test.", "closed.test" };
	const char *many[DNSCHECK_MAX_ZONES + 3];
	char names[DNSCHECK_MAX_ZONES + 3][16];
	const char *bad[] = { "ok.test", "no..zone" };
	struct dnscheck_plan pl;
	char err[128];
	size_t f, before;

	(void)state;
	assert_int_equal(dnscheck_plan_init(&pl, NULL, NULL, ".", DNS_TYPE_NS, false, err,
					    sizeof(err)), 0);
	/* everything, both protocols open, two zones */
	assert_int_equal(dnscheck_plan_add(&pl, DNSCHECK_ALL, true, true, two_zones, 2, &f, err,
					   sizeof(err)), 0);
	assert_int_equal(f, 0);
	assert_int_equal(pl.nsteps, sizeof(want));
	for (size_t i = 0; i < sizeof(want); i++) {
		assert_int_equal(pl.steps[i].kind, want[i]);
		assert_int_equal(pl.steps[i].fact, 0);
	}
	assert_int_equal(pl.steps[6].zone, 0);
	assert_int_equal(pl.steps[8].zone, 1);
	assert_int_equal(pl.steps[12].axfr, 1);
	/* the recursion question goes over both: the second one is a TCP step */
	assert_false(dnscheck_step_tcp(DNSCHECK_STEP_RECURSION));
	assert_true(dnscheck_step_tcp(DNSCHECK_STEP_RECURSION_TCP));
	assert_int_equal(pl.facts[0].ran, DNSCHECK_ALL);
	assert_int_equal(pl.facts[0].known, 0);
	assert_int_equal(pl.facts[0].naxfr, 2);
	assert_string_equal(pl.facts[0].axfr[0].zone, "open.test.");
	assert_string_equal(pl.facts[0].axfr[1].zone, "closed.test.");
	assert_int_equal(pl.nzones, 2);

	/* UDP only: no TCP steps; no zones: amplification asks the root, axfr does not run */
	assert_int_equal(dnscheck_plan_add(&pl, DNSCHECK_ALL, true, false, NULL, 0, &f, err,
					   sizeof(err)), 0);
	assert_int_equal(f, 1);
	assert_int_equal(pl.nsteps, sizeof(want) + 7);
	for (size_t i = sizeof(want); i < pl.nsteps; i++)
		assert_false(dnscheck_step_tcp((enum dnscheck_step_kind)pl.steps[i].kind));
	assert_string_equal(pl.zones[pl.steps[pl.nsteps - 1].zone].text, ".");
	assert_int_equal(pl.facts[1].ran, DNSCHECK_UDP);

	/* TCP only without zones: the recursion question over TCP and tcp-dns */
	before = pl.nsteps;
	assert_int_equal(dnscheck_plan_add(&pl, DNSCHECK_ALL, false, true, NULL, 0, &f, err,
					   sizeof(err)), 0);
	assert_int_equal(pl.facts[2].ran, DNSCHECK_RECURSION | DNSCHECK_TCP_DNS);
	assert_int_equal(pl.nsteps - before, 2);
	assert_int_equal(pl.steps[pl.nsteps - 2].kind, DNSCHECK_STEP_RECURSION_TCP);
	assert_int_equal(pl.steps[pl.nsteps - 1].kind, DNSCHECK_STEP_TCP_DNS);

	/* a zone given twice (any case, with or without the dot) is asked once; zones are
	 * shared by all addresses of the plan */
	size_t nz = pl.nzones;
	before = pl.nsteps;
	assert_int_equal(dnscheck_plan_add(&pl, DNSCHECK_AXFR, true, true, dup, 3, &f, err,
					   sizeof(err)), 0);
	assert_int_equal(pl.nsteps - before, 2);
	assert_int_equal(pl.facts[3].naxfr, 2);
	assert_int_equal(pl.nzones, nz);

	/* at most DNSCHECK_MAX_ZONES per address */
	for (int i = 0; i < DNSCHECK_MAX_ZONES + 3; i++) {
		snprintf(names[i], sizeof(names[i]), "z%d.test", i);
		many[i] = names[i];
	}
	before = pl.nsteps;
	assert_int_equal(dnscheck_plan_add(&pl, DNSCHECK_AXFR, false, true, many,
					   DNSCHECK_MAX_ZONES + 3, &f, err, sizeof(err)), 0);
	assert_int_equal(pl.nsteps - before, DNSCHECK_MAX_ZONES);
	assert_int_equal(pl.facts[4].naxfr, DNSCHECK_MAX_ZONES);

	/* a bad zone is an error naming it */
	assert_int_equal(dnscheck_plan_add(&pl, DNSCHECK_AXFR, true, true, bad, 2, &f, err,
					   sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no..zone"));
	dnscheck_plan_clear(&pl);
	assert_null(pl.steps);
}

/* ---- queries ---- */

static struct dnscheck_plan qpl;

static int
qpl_setup(void **state)
{
	char err[128];
	size_t f;

	(void)state;
	if (dnscheck_plan_init(&qpl, "canary.example.", "192.0.2.53", "example.test", DNS_TYPE_SOA,
			       true, err, sizeof(err)) < 0 ||
	    dnscheck_plan_add(&qpl, DNSCHECK_ALL, true, true, two_zones, 2, &f, err,
			      sizeof(err)) < 0)
		return -1;
	return 0;
}

static int
qpl_teardown(void **state)
{
	(void)state;
	dnscheck_plan_clear(&qpl);
	return 0;
}

/* The step of a kind in qpl (the first one). */
static const struct dnscheck_step *
step_of(enum dnscheck_step_kind k)
{
	for (size_t i = 0; i < qpl.nsteps; i++)
		if (qpl.steps[i].kind == k)
			return &qpl.steps[i];
	fail_msg("no step of kind %d", (int)k);
	return NULL;
}

struct parsed_query {
	uint16_t id, flags, arcount;
	char qname[DNS_MAX_TEXT_NAME];
	uint16_t qtype, qclass;
	uint16_t edns_size;
	bool edns_do, nsid;
	int len;
};

static void
build(enum dnscheck_step_kind k, struct parsed_query *pq)
{
	uint8_t buf[DNSCHECK_QUERY_MAX], name[DNS_MAX_NAME];
	struct dnscheck_question q;
	size_t pos = DNS_HEADER_LEN, nlen;

	memset(pq, 0, sizeof(*pq));
	pq->len = dnscheck_build_query(&qpl, step_of(k), 0x1234, buf, sizeof(buf), &q);
	assert_true(pq->len > DNS_HEADER_LEN);
	pq->id = (uint16_t)(buf[0] << 8 | buf[1]);
	pq->flags = (uint16_t)(buf[2] << 8 | buf[3]);
	pq->arcount = (uint16_t)(buf[10] << 8 | buf[11]);
	assert_int_equal(dns_read_name(buf, (size_t)pq->len, &pos, name, &nlen), 0);
	assert_true(dns_name_to_text(name, nlen, pq->qname, sizeof(pq->qname)) > 0);
	pq->qtype = (uint16_t)(buf[pos] << 8 | buf[pos + 1]);
	pq->qclass = (uint16_t)(buf[pos + 2] << 8 | buf[pos + 3]);
	/* the question handed back for matching is the one in the message */
	assert_true(dns_name_equal(q.qname, q.qname_len, name, nlen));
	assert_int_equal(q.qtype, pq->qtype);
	assert_int_equal(q.qclass, pq->qclass);
	pos += 4;
	if (pq->arcount == 1) {
		/* OPT: root owner, type 41, class = size, ttl (DO bit), rdlen, options */
		assert_int_equal(buf[pos], 0);
		assert_int_equal(buf[pos + 1] << 8 | buf[pos + 2], DNS_TYPE_OPT);
		pq->edns_size = (uint16_t)(buf[pos + 3] << 8 | buf[pos + 4]);
		pq->edns_do = (buf[pos + 7] & 0x80) != 0;
		pq->nsid = (buf[pos + 9] << 8 | buf[pos + 10]) == 4 &&
			   (buf[pos + 11] << 8 | buf[pos + 12]) == DNS_EDNS_OPT_NSID;
	}
}

static void
test_queries(void **state)
{
	struct parsed_query pq;

	(void)state;
	build(DNSCHECK_STEP_RECURSION, &pq);
	assert_int_equal(pq.id, 0x1234);
	assert_true(pq.flags & DNS_FLAG_RD);
	assert_string_equal(pq.qname, "canary.example.");
	assert_int_equal(pq.qtype, DNS_TYPE_A);
	assert_int_equal(pq.qclass, DNS_CLASS_IN);
	assert_int_equal(pq.edns_size, DNSCHECK_EDNS_SIZE);
	assert_false(pq.nsid);

	/* over TCP: the very same question */
	build(DNSCHECK_STEP_RECURSION_TCP, &pq);
	assert_true(pq.flags & DNS_FLAG_RD);
	assert_string_equal(pq.qname, "canary.example.");
	assert_int_equal(pq.qtype, DNS_TYPE_A);
	assert_int_equal(pq.qclass, DNS_CLASS_IN);

	build(DNSCHECK_STEP_VERSION_BIND, &pq);
	assert_false(pq.flags & DNS_FLAG_RD);
	assert_string_equal(pq.qname, "version.bind.");
	assert_int_equal(pq.qtype, DNS_TYPE_TXT);
	assert_int_equal(pq.qclass, DNS_CLASS_CH);
	assert_true(pq.nsid); /* NSID rides on version.bind */
	assert_int_equal(pq.len, 12 + 14 + 4 + 11 + 4);

	build(DNSCHECK_STEP_VERSION_SERVER, &pq);
	assert_string_equal(pq.qname, "version.server.");
	assert_int_equal(pq.qclass, DNS_CLASS_CH);
	assert_false(pq.nsid);
	build(DNSCHECK_STEP_HOSTNAME_BIND, &pq);
	assert_string_equal(pq.qname, "hostname.bind.");
	assert_int_equal(pq.qtype, DNS_TYPE_TXT);
	build(DNSCHECK_STEP_ID_SERVER, &pq);
	assert_string_equal(pq.qname, "id.server.");
	assert_int_equal(pq.qclass, DNS_CLASS_CH);

	build(DNSCHECK_STEP_AMP_ANY, &pq);
	assert_string_equal(pq.qname, "open.test.");
	assert_int_equal(pq.qtype, DNS_TYPE_ANY);
	assert_int_equal(pq.edns_size, 4096);
	assert_true(pq.edns_do);
	assert_false(pq.flags & DNS_FLAG_RD);
	assert_int_equal(pq.len, 12 + 11 + 4 + 11); /* what the factor is divided by */
	build(DNSCHECK_STEP_AMP_DNSKEY, &pq);
	assert_int_equal(pq.qtype, DNS_TYPE_DNSKEY);
	assert_true(pq.edns_do);

	build(DNSCHECK_STEP_AXFR, &pq);
	assert_string_equal(pq.qname, "open.test.");
	assert_int_equal(pq.qtype, DNS_TYPE_AXFR);
	assert_int_equal(pq.qclass, DNS_CLASS_IN);
	assert_int_equal(pq.arcount, 0); /* no EDNS on a transfer */

	build(DNSCHECK_STEP_TCP_DNS, &pq);
	assert_string_equal(pq.qname, "example.test.");
	assert_int_equal(pq.qtype, DNS_TYPE_SOA);
	assert_true(pq.flags & DNS_FLAG_RD); /* as the UDP probe was told */
}

/* ---- evaluation ---- */

/* Parse m and evaluate it as the reply to step kind k (query of qlen octets). */
static void
eval(enum dnscheck_step_kind k, const struct mb *m, size_t qlen, struct dnscheck_facts *f)
{
	struct dns_reply r;

	assert_int_equal(dns_parse_reply(m->b, m->n, &r), 0);
	dnscheck_eval(&qpl, step_of(k), m->b, m->n, &r, qlen, f);
}

static void
recursion_reply(struct mb *m, uint16_t flags, const uint8_t *addr, uint16_t type)
{
	mb_header(m, 1, (uint16_t)(DNS_FLAG_QR | flags), 1, addr ? 1 : 0, 0);
	mb_question(m, "canary.example.", DNS_TYPE_A, DNS_CLASS_IN);
	if (addr)
		mb_rr(m, "canary.example.", type, DNS_CLASS_IN, addr, 4);
}

static void
test_eval_recursion(void **state)
{
	static const struct {
		const char *what;
		uint16_t flags;     /* RA, AA, rcode */
		const uint8_t *addr;
		uint16_t type;
		bool recursion, bogus;
	} cases[] = {
		{ "resolved to the expected address", DNS_FLAG_RA, a_53, DNS_TYPE_A, true, false },
		{ "resolved elsewhere: bogus", DNS_FLAG_RA, a_54, DNS_TYPE_A, true, true },
		{ "local data (AA) counts", DNS_FLAG_RA | DNS_FLAG_AA, a_53, DNS_TYPE_A, true, false },
		{ "no RA: not offered", 0, a_53, DNS_TYPE_A, false, false },
		{ "REFUSED with RA (access control)", DNS_FLAG_RA | 5, NULL, 0, false, false },
		{ "SERVFAIL proves nothing", DNS_FLAG_RA | 2, NULL, 0, false, false },
		{ "NOERROR, no answer (referral)", DNS_FLAG_RA, NULL, 0, false, false },
		{ "answer of another type", DNS_FLAG_RA, a_53, 99, false, false },
		{ "NXDOMAIN from upstream (AA clear)", DNS_FLAG_RA | 3, NULL, 0, true, true },
		{ "NXDOMAIN of its own zone (AA)", DNS_FLAG_RA | DNS_FLAG_AA | 3, NULL, 0, false,
		  false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dnscheck_facts f = { 0 };
		struct mb m;

		recursion_reply(&m, cases[i].flags, cases[i].addr, cases[i].type);
		eval(DNSCHECK_STEP_RECURSION, &m, 40, &f);
		if (f.recursion != cases[i].recursion || f.bogus != cases[i].bogus)
			fail_msg("%s: recursion %d bogus %d", cases[i].what, f.recursion, f.bogus);
		assert_int_equal(f.known, DNSCHECK_RECURSION);
		assert_true(f.bogus_known);
		assert_int_equal(f.rec_rcode, cases[i].flags & 0xf);
		assert_int_equal(f.rec_ra, (cases[i].flags & DNS_FLAG_RA) != 0);
	}
}

/* UDP always wins, whatever the arrival order; TCP stands in only while UDP has nothing. */
static void
test_eval_recursion_tcp(void **state)
{
	struct dnscheck_facts f = { 0 };
	struct mb yes, no;

	(void)state;
	recursion_reply(&yes, DNS_FLAG_RA, a_53, DNS_TYPE_A);
	recursion_reply(&no, DNS_FLAG_RA | 5, NULL, 0);

	/* TCP alone: its answer is the verdict, marked as coming from TCP */
	eval(DNSCHECK_STEP_RECURSION_TCP, &yes, 40, &f);
	assert_int_equal(f.known, DNSCHECK_RECURSION);
	assert_true(f.recursion);
	assert_true(f.rec_tcp);
	/* UDP arrives later and says otherwise: UDP wins */
	eval(DNSCHECK_STEP_RECURSION, &no, 40, &f);
	assert_false(f.recursion);
	assert_false(f.rec_tcp);
	assert_int_equal(f.rec_rcode, 5);

	/* UDP first, TCP later: the TCP answer is ignored */
	struct dnscheck_facts g = { 0 };
	eval(DNSCHECK_STEP_RECURSION, &no, 40, &g);
	eval(DNSCHECK_STEP_RECURSION_TCP, &yes, 40, &g);
	assert_int_equal(g.known, DNSCHECK_RECURSION);
	assert_false(g.recursion);
	assert_false(g.rec_tcp);
	assert_int_equal(g.rec_rcode, 5);

	/* the other way round as well: UDP says yes, a TCP no does not undo it */
	struct dnscheck_facts h = { 0 };
	eval(DNSCHECK_STEP_RECURSION, &yes, 40, &h);
	eval(DNSCHECK_STEP_RECURSION_TCP, &no, 40, &h);
	assert_true(h.recursion);
	assert_false(h.rec_tcp);
	assert_int_equal(h.rec_rcode, 0);
}

static void
chaos_reply(struct mb *m, const char *qname, unsigned rcode, const char *text, bool nsid)
{
	mb_header(m, 1, (uint16_t)(DNS_FLAG_QR | DNS_FLAG_AA | rcode), 1, text ? 1 : 0,
		  nsid ? 1 : 0);
	mb_question(m, qname, DNS_TYPE_TXT, DNS_CLASS_CH);
	if (text)
		mb_txt(m, qname, DNS_CLASS_CH, text);
	if (nsid)
		mb_opt_nsid(m, "ns-7", 4);
}

static void
test_eval_version(void **state)
{
	struct dnscheck_facts f = { 0 };
	struct mb m;

	(void)state;
	/* version.server first, then version.bind: the BIND name wins whatever the order */
	chaos_reply(&m, "version.server.", 0, "srv-1", false);
	eval(DNSCHECK_STEP_VERSION_SERVER, &m, 40, &f);
	assert_int_equal(f.known, DNSCHECK_VERSION);
	assert_string_equal(f.version, "srv-1");
	chaos_reply(&m, "version.bind.", 0, "9.18.1", true);
	eval(DNSCHECK_STEP_VERSION_BIND, &m, 40, &f);
	assert_string_equal(f.version, "9.18.1");
	assert_string_equal(f.nsid, "ns-7");
	chaos_reply(&m, "version.server.", 0, "srv-2", false);
	eval(DNSCHECK_STEP_VERSION_SERVER, &m, 40, &f);
	assert_string_equal(f.version, "9.18.1");

	/* identity: id.server fills in until hostname.bind answers */
	chaos_reply(&m, "id.server.", 0, "id-1", false);
	eval(DNSCHECK_STEP_ID_SERVER, &m, 40, &f);
	assert_string_equal(f.hostname, "id-1");
	chaos_reply(&m, "hostname.bind.", 0, "host-1", false);
	eval(DNSCHECK_STEP_HOSTNAME_BIND, &m, 40, &f);
	assert_string_equal(f.hostname, "host-1");

	/* hidden: REFUSED, or NOERROR without TXT, discloses nothing but is an answer */
	struct dnscheck_facts h = { 0 };
	chaos_reply(&m, "version.bind.", 5, NULL, false);
	eval(DNSCHECK_STEP_VERSION_BIND, &m, 40, &h);
	chaos_reply(&m, "version.server.", 0, NULL, false);
	eval(DNSCHECK_STEP_VERSION_SERVER, &m, 40, &h);
	assert_int_equal(h.known, DNSCHECK_VERSION);
	assert_string_equal(h.version, "");
	assert_string_equal(h.nsid, "");

	/* a TXT with control bytes and an error rcode carrying one anyway */
	struct dnscheck_facts c = { 0 };
	chaos_reply(&m, "version.bind.", 0, "a\033[2Jb\x7f", false);
	eval(DNSCHECK_STEP_VERSION_BIND, &m, 40, &c);
	assert_string_equal(c.version, "a?[2Jb?");
	struct dnscheck_facts e = { 0 };
	chaos_reply(&m, "version.bind.", 5, "leaked", false);
	eval(DNSCHECK_STEP_VERSION_BIND, &m, 40, &e);
	assert_string_equal(e.version, "");

	/* a TXT in class IN or for another name is not the answer */
	struct dnscheck_facts o = { 0 };
	mb_header(&m, 1, DNS_FLAG_QR, 1, 2, 0);
	mb_question(&m, "version.bind.", DNS_TYPE_TXT, DNS_CLASS_CH);
	mb_txt(&m, "version.bind.", DNS_CLASS_IN, "in-class");
	mb_txt(&m, "other.bind.", DNS_CLASS_CH, "other");
	eval(DNSCHECK_STEP_VERSION_BIND, &m, 40, &o);
	assert_string_equal(o.version, "");

	/* binary NSID in hex; a long version is cut */
	struct dnscheck_facts b = { 0 };
	char longv[200];
	memset(longv, 'v', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	mb_header(&m, 1, DNS_FLAG_QR, 1, 1, 1);
	mb_question(&m, "version.bind.", DNS_TYPE_TXT, DNS_CLASS_CH);
	mb_txt(&m, "version.bind.", DNS_CLASS_CH, longv);
	mb_opt_nsid(&m, "\x01\xab\x00", 3);
	eval(DNSCHECK_STEP_VERSION_BIND, &m, 40, &b);
	assert_string_equal(b.nsid, "01ab00");
	assert_int_equal(strlen(b.version), DNSCHECK_TEXT_MAX - 1);
}

static void
test_eval_amplification_tcp(void **state)
{
	struct dnscheck_facts f = { 0 };
	struct mb m;
	uint8_t key[300];

	(void)state;
	memset(key, 7, sizeof(key));
	assert_int_equal(dnscheck_amp_x100(&f), 0);
	/* ANY: 38 -> small reply */
	mb_header(&m, 1, DNS_FLAG_QR | 5, 1, 0, 0);
	mb_question(&m, "open.test.", DNS_TYPE_ANY, DNS_CLASS_IN);
	eval(DNSCHECK_STEP_AMP_ANY, &m, 38, &f);
	assert_int_equal(f.known, DNSCHECK_AMPLIFICATION);
	assert_int_equal(f.amp_reply_bytes, m.n);
	assert_int_equal(f.amp_qtype, DNS_TYPE_ANY);
	/* DNSKEY: the larger factor replaces it */
	mb_header(&m, 1, DNS_FLAG_QR | DNS_FLAG_AA, 1, 1, 0);
	mb_question(&m, "open.test.", DNS_TYPE_DNSKEY, DNS_CLASS_IN);
	mb_rr(&m, "open.test.", DNS_TYPE_DNSKEY, DNS_CLASS_IN, key, sizeof(key));
	eval(DNSCHECK_STEP_AMP_DNSKEY, &m, 38, &f);
	assert_int_equal(f.amp_qtype, DNS_TYPE_DNSKEY);
	assert_int_equal(f.amp_query_bytes, 38);
	assert_int_equal(f.amp_reply_bytes, m.n);
	assert_string_equal(f.amp_zone, "open.test.");
	/* 348 / 38 = 9.1578... -> 916 */
	assert_int_equal(m.n, 12 + 15 + 11 + 10 + 300);
	assert_int_equal(dnscheck_amp_x100(&f), 916);
	/* a smaller one later does not replace it */
	mb_header(&m, 1, DNS_FLAG_QR | 5, 1, 0, 0);
	mb_question(&m, "open.test.", DNS_TYPE_ANY, DNS_CLASS_IN);
	eval(DNSCHECK_STEP_AMP_ANY, &m, 38, &f);
	assert_int_equal(f.amp_qtype, DNS_TYPE_DNSKEY);

	/* tcp-dns: an answer is all it takes */
	struct dnscheck_facts t = { 0 };
	mb_header(&m, 1, DNS_FLAG_QR | 5, 1, 0, 0);
	mb_question(&m, "example.test.", DNS_TYPE_SOA, DNS_CLASS_IN);
	eval(DNSCHECK_STEP_TCP_DNS, &m, 40, &t);
	assert_int_equal(t.known, DNSCHECK_TCP_DNS);
	assert_true(t.tcp_dns);
}

/* A refusal without its question (unbound's access-control refuse): each check takes its
 * rcode and nothing else. */
static void
test_eval_no_question(void **state)
{
	struct dnscheck_facts f = { 0 };
	struct dns_reply r;
	struct mb m;

	(void)state;
	/* QDCOUNT 0, REFUSED with RA and AA set, and an OPT record carrying an NSID */
	mb_header(&m, 1, DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_RA | 5, 0, 0, 1);
	mb_opt_nsid(&m, "ns-7", 4);
	assert_int_equal(dns_parse_reply(m.b, m.n, &r), 0);
	assert_true(r.no_question);

	/* recursion: known, no (the RA bit is not read) */
	eval(DNSCHECK_STEP_RECURSION, &m, 40, &f);
	assert_int_equal(f.known, DNSCHECK_RECURSION);
	assert_false(f.recursion);
	assert_false(f.rec_ra);
	assert_false(f.bogus);
	assert_int_equal(f.rec_rcode, 5);
	/* the same over TCP, UDP having said nothing */
	struct dnscheck_facts t = { 0 };
	eval(DNSCHECK_STEP_RECURSION_TCP, &m, 40, &t);
	assert_int_equal(t.known, DNSCHECK_RECURSION);
	assert_false(t.recursion);
	assert_true(t.rec_tcp);

	/* version: an answer that discloses nothing, not even the NSID it carries */
	eval(DNSCHECK_STEP_VERSION_BIND, &m, 40, &f);
	assert_true(f.known & DNSCHECK_VERSION);
	assert_string_equal(f.version, "");
	assert_string_equal(f.nsid, "");

	/* tcp-dns: answered over TCP */
	eval(DNSCHECK_STEP_TCP_DNS, &m, 40, &f);
	assert_true(f.known & DNSCHECK_TCP_DNS);
	assert_true(f.tcp_dns);

	/* amplification: measured by its size */
	eval(DNSCHECK_STEP_AMP_ANY, &m, 38, &f);
	assert_true(f.known & DNSCHECK_AMPLIFICATION);
	assert_int_equal(f.amp_reply_bytes, m.n);
}

static void
test_axfr_any(void **state)
{
	struct dnscheck_facts f = { 0 };
	bool known;

	(void)state;
	f.naxfr = 3;
	assert_false(dnscheck_axfr_any(&f, &known));
	assert_false(known); /* no zone answered */
	f.axfr[1].state = DNSCHECK_AXFR_REFUSED;
	assert_false(dnscheck_axfr_any(&f, &known));
	assert_true(known);
	f.axfr[2].state = DNSCHECK_AXFR_ALLOWED;
	assert_true(dnscheck_axfr_any(&f, &known));
	assert_true(known);
}

/* ---- the AXFR stream ---- */

static uint8_t zone_wire[DNS_MAX_NAME];

static void
walk_init(struct dnscheck_axfr_walk *w, uint16_t id)
{
	int n = dns_name_from_text("open.test.", zone_wire, sizeof(zone_wire));

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->zone = zone_wire;
	w->zone_len = (size_t)n;
}

static void
axfr_msg(struct mb *m, uint16_t id, bool question, unsigned rcode, const char *records)
{
	uint16_t an = (uint16_t)strlen(records);

	mb_header(m, id, (uint16_t)(DNS_FLAG_QR | DNS_FLAG_AA | rcode), question ? 1 : 0, an, 0);
	if (question)
		mb_question(m, "open.test.", DNS_TYPE_AXFR, DNS_CLASS_IN);
	/* S: the apex SOA, A: an address record, s: another zone's SOA */
	for (const char *r = records; *r; r++) {
		if (*r == 'S')
			mb_soa(m, "open.test.");
		else if (*r == 's')
			mb_soa(m, "other.test.");
		else
			mb_rr(m, "www.open.test.", DNS_TYPE_A, DNS_CLASS_IN, a_53, 4);
	}
}

static void
test_axfr_feed(void **state)
{
	struct dnscheck_axfr_walk w;
	struct mb m;

	(void)state;
	/* one message: SOA ... SOA */
	walk_init(&w, 7);
	axfr_msg(&m, 7, true, 0, "SAAS");
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNSCHECK_AXFR_DONE);
	assert_int_equal(w.records, 4);
	assert_int_equal(w.messages, 1);

	/* three messages, the later ones without the question (RFC 5936 allows both) */
	walk_init(&w, 7);
	axfr_msg(&m, 7, true, 0, "SA");
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNSCHECK_AXFR_MORE);
	axfr_msg(&m, 7, false, 0, "AA");
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNSCHECK_AXFR_MORE);
	axfr_msg(&m, 7, true, 0, "AS");
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNSCHECK_AXFR_DONE);
	assert_int_equal(w.records, 6);
	assert_int_equal(w.messages, 3);

	/* refusals */
	walk_init(&w, 7);
	axfr_msg(&m, 7, true, 9 /* NOTAUTH */, "");
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNSCHECK_AXFR_NO);
	assert_int_equal(w.rcode, 9);
	assert_int_equal(w.records, 0);
	walk_init(&w, 7);
	axfr_msg(&m, 7, true, 0, "");
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNSCHECK_AXFR_NO);
	assert_int_equal(w.rcode, 0);
	walk_init(&w, 7);
	axfr_msg(&m, 7, true, 0, "AS");
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNSCHECK_AXFR_NO);
	walk_init(&w, 7);
	axfr_msg(&m, 7, true, 0, "sAs");
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNSCHECK_AXFR_NO);

	/* a refusal without the question is a refusal, with its rcode */
	walk_init(&w, 7);
	axfr_msg(&m, 7, false, 5 /* REFUSED */, "");
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNSCHECK_AXFR_NO);
	assert_int_equal(w.rcode, 5);
	assert_int_equal(w.records, 0);
	assert_int_equal(w.messages, 1);
	walk_init(&w, 7);
	axfr_msg(&m, 8, false, 5, "");
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNS_E_ID_MISMATCH);
	axfr_msg(&m, 7, false, 3 /* NXDOMAIN */, "");
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNS_E_QDCOUNT);
	assert_int_equal(w.messages, 0);

	/* not ours: wrong id, wrong question, no question in the first message */
	walk_init(&w, 7);
	axfr_msg(&m, 8, true, 0, "SAS");
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNS_E_ID_MISMATCH);
	mb_header(&m, 7, DNS_FLAG_QR, 1, 0, 0);
	mb_question(&m, "open.test.", DNS_TYPE_SOA, DNS_CLASS_IN);
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNS_E_QUESTION_MISMATCH);
	axfr_msg(&m, 7, false, 0, "SAS");
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNS_E_QDCOUNT);
	assert_int_equal(w.messages, 0);
	/* a query is no reply */
	axfr_msg(&m, 7, true, 0, "SAS");
	m.b[2] &= 0x7f;
	assert_int_equal(dnscheck_axfr_feed(&w, m.b, m.n), DNS_E_NOT_RESPONSE);

	/* every prefix of a good message fails and counts nothing */
	axfr_msg(&m, 7, true, 0, "SAAS");
	for (size_t len = 0; len < m.n; len++) {
		walk_init(&w, 7);
		if (dnscheck_axfr_feed(&w, m.b, len) >= 0)
			fail_msg("prefix of %zu octets accepted", len);
		assert_int_equal(w.records, 0);
	}
}

static void
test_printable(void **state)
{
	char out[8];

	(void)state;
	dnscheck_printable((const uint8_t *)"ab\ncd\x80", 6, out, sizeof(out));
	assert_string_equal(out, "ab?cd?");
	dnscheck_printable((const uint8_t *)"0123456789", 10, out, sizeof(out));
	assert_string_equal(out, "0123456");
	assert_string_equal(dnscheck_check_name(DNSCHECK_TCP_DNS), "tcp-dns");
	assert_null(dnscheck_check_name(DNSCHECK_ALL));
}

/* ---- the module through the engine ---- */

enum srv_udp_mode {
	SRV_UDP_OK = 0,
	SRV_UDP_WRONG_ID,    /* every reply with a garbled transaction ID */
	SRV_UDP_REFUSE_RD,   /* the canary: REFUSED with RA (no recursion for us) */
	SRV_UDP_NO_QUESTION, /* every reply a bare REFUSED header (unbound's refuse) */
};
enum srv_tcp_mode {
	SRV_TCP_OK = 0,
	SRV_TCP_NO_QUESTION, /* every reply, AXFR included, a bare REFUSED header */
};

struct server {
	int udp, tcp;
	uint16_t port;
	int udp_queries, tcp_queries;
	int drop_first;    /* UDP: say nothing to the first query (a retransmission must come) */
	int drop_canary;   /* UDP: say nothing to the first this many canary queries */
	int canary_seen;
	enum srv_udp_mode udp_mode;
	enum srv_tcp_mode tcp_mode;
	int tcp_delay_ms;  /* TCP: wait this long before answering */
	uint64_t udp_canary_ns, tcp_canary_ns; /* when the canary's answer went out */
	pthread_t ut, tt;
};

static int
bind_loopback(int type, uint16_t port, uint16_t *out)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t len = sizeof(sin);
	int one = 1, fd = socket(AF_INET, type, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*out = ntohs(sin.sin_port);
	return fd;
}

static bool
is_canary(const uint8_t *q, size_t qlen)
{
	static const uint8_t canary[] = "\006canary\007example";

	return qlen >= DNS_HEADER_LEN + sizeof(canary) &&
	       memcmp(q + DNS_HEADER_LEN, canary, sizeof(canary)) == 0;
}

/* A bare header: QR, the query's ID, REFUSED, no question, AA and RA set to be ignored. */
static void
answer_no_question(const uint8_t *q, size_t qlen, struct mb *m)
{
	m->n = 0;
	if (qlen < DNS_HEADER_LEN)
		return;
	mb_header(m, (uint16_t)(q[0] << 8 | q[1]),
		  DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_RA | 5, 0, 0, 0);
}

/* The reply to a query: its header and question echoed, with what the name asks for. */
static void
answer(const uint8_t *q, size_t qlen, struct mb *m)
{
	struct dns_header h;
	size_t pos = DNS_HEADER_LEN, nlen;
	uint8_t name[DNS_MAX_NAME];
	char text[DNS_MAX_TEXT_NAME];
	uint16_t qtype;

	m->n = 0;
	if (dns_parse_header(q, qlen, &h) < 0 || dns_read_name(q, qlen, &pos, name, &nlen) < 0 ||
	    qlen < pos + 4)
		return;
	qtype = (uint16_t)(q[pos] << 8 | q[pos + 1]);
	dns_name_to_text(name, nlen, text, sizeof(text));
	if (strcmp(text, "version.bind.") == 0) {
		chaos_reply(m, text, 0, "test-9.9", true);
	} else if (strcmp(text, "canary.example.") == 0) {
		recursion_reply(m, DNS_FLAG_RA, a_53, DNS_TYPE_A);
	} else {
		mb_header(m, 1, DNS_FLAG_QR | 5, 1, 0, 0);
		mb_question(m, text, qtype, (uint16_t)(q[pos + 2] << 8 | q[pos + 3]));
	}
	m->b[0] = (uint8_t)(h.id >> 8);
	m->b[1] = (uint8_t)h.id;
}

static void *
udp_main(void *arg)
{
	struct server *s = arg;
	uint8_t buf[1500];

	for (;;) {
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		struct mb m;
		ssize_t n = recvfrom(s->udp, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);

		if (n <= 0)
			break;
		if (s->udp_queries++ < s->drop_first)
			continue;
		if (is_canary(buf, (size_t)n) && s->canary_seen++ < s->drop_canary)
			continue;
		if (s->udp_mode == SRV_UDP_NO_QUESTION) {
			answer_no_question(buf, (size_t)n, &m);
		} else if (s->udp_mode == SRV_UDP_REFUSE_RD && is_canary(buf, (size_t)n)) {
			recursion_reply(&m, DNS_FLAG_RA | 5, NULL, 0);
			m.b[0] = buf[0];
			m.b[1] = buf[1];
		} else {
			answer(buf, (size_t)n, &m);
		}
		if (m.n == 0)
			continue;
		if (s->udp_mode == SRV_UDP_WRONG_ID)
			m.b[1] ^= 0x5a;
		if (is_canary(buf, (size_t)n))
			s->udp_canary_ns = util_now_ns();
		sendto(s->udp, m.b, m.n, 0, (struct sockaddr *)&from, flen);
	}
	return NULL;
}

/* Send len octets one at a time: the client must put messages together across reads. */
static void
dribble(int fd, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (send(fd, p + i, 1, MSG_NOSIGNAL) != 1)
			return;
}

static void
send_framed(int fd, const struct mb *m)
{
	uint8_t l[2] = { (uint8_t)(m->n >> 8), (uint8_t)m->n };

	dribble(fd, l, 2);
	dribble(fd, m->b, m->n);
}

static void *
tcp_main(void *arg)
{
	struct server *s = arg;

	for (;;) {
		uint8_t buf[1024], l[2];
		struct dns_header h;
		struct mb m;
		size_t n = 0, want;
		int c = accept(s->tcp, NULL, NULL);

		if (c < 0)
			break;
		if (recv(c, l, 2, MSG_WAITALL) != 2)
			goto next;
		want = (size_t)l[0] << 8 | l[1];
		if (want > sizeof(buf) || recv(c, buf, want, MSG_WAITALL) != (ssize_t)want)
			goto next;
		n = want;
		s->tcp_queries++;
		if (dns_parse_header(buf, n, &h) < 0)
			goto next;
		if (s->tcp_delay_ms > 0)
			usleep((useconds_t)s->tcp_delay_ms * 1000);
		if (s->tcp_mode == SRV_TCP_NO_QUESTION) {
			answer_no_question(buf, n, &m);
			send_framed(c, &m);
		} else if (buf[n - 4] == 0 && buf[n - 3] == DNS_TYPE_AXFR) {
			/* open.test.: 2 messages, 5 records; closed.test.: NOTAUTH */
			if (memcmp(buf + DNS_HEADER_LEN, "\004open", 5) == 0) {
				axfr_msg(&m, h.id, true, 0, "SAA");
				send_framed(c, &m);
				axfr_msg(&m, h.id, false, 0, "AS");
				send_framed(c, &m);
			} else {
				mb_header(&m, h.id, DNS_FLAG_QR | 9, 1, 0, 0);
				mb_question(&m, "closed.test.", DNS_TYPE_AXFR, DNS_CLASS_IN);
				send_framed(c, &m);
			}
		} else {
			answer(buf, n, &m);
			send_framed(c, &m);
		}
		if (is_canary(buf, n))
			s->tcp_canary_ns = util_now_ns();
next:
		close(c);
	}
	return NULL;
}

/* Start the servers as *cfg says (ports and counters are filled in here). */
static void
server_start_as(struct server *s, const struct server *cfg)
{
	*s = *cfg;
	/* one port for both protocols: try a few until both bind */
	for (int i = 0; i < 20; i++) {
		s->udp = bind_loopback(SOCK_DGRAM, 0, &s->port);
		uint16_t p2;
		s->tcp = bind_loopback(SOCK_STREAM, s->port, &p2);
		if (s->tcp >= 0)
			break;
		close(s->udp);
	}
	assert_true(s->tcp >= 0);
	assert_int_equal(listen(s->tcp, 16), 0);
	assert_int_equal(pthread_create(&s->ut, NULL, udp_main, s), 0);
	assert_int_equal(pthread_create(&s->tt, NULL, tcp_main, s), 0);
}

static void
server_start(struct server *s, int drop_first)
{
	struct server cfg = { .drop_first = drop_first };

	server_start_as(s, &cfg);
}

static void
server_stop(struct server *s)
{
	shutdown(s->udp, SHUT_RDWR);
	shutdown(s->tcp, SHUT_RDWR);
	pthread_join(s->ut, NULL);
	pthread_join(s->tt, NULL);
	close(s->udp);
	close(s->tcp);
}

struct steps_stream {
	const struct dnscheck_plan *pl;
	size_t pos;
};

static int
next_step(void *arg, struct net_addr *a, uint32_t *tidx)
{
	struct steps_stream *s = arg;

	if (s->pos >= s->pl->nsteps)
		return 0;
	*tidx = (uint32_t)s->pos++;
	return net_addr_parse("127.0.0.1", a) == 0 ? 1 : -EINVAL;
}

static void
ignore(void *arg, const struct probe_result *r)
{
	(void)arg;
	(void)r;
}

/* Every step of the plan through the real engine and module, to 127.0.0.1:port; 900 ms
 * timeout, 2 retries (attempts at 0, 300 and 600 ms). */
static void
run_plan(struct dnscheck_plan *pl, uint16_t port)
{
	struct steps_stream ss = { pl, 0 };
	struct engine_config c;
	char err[128];

	memset(&c, 0, sizeof(c));
	c.concurrency = 64;
	c.rate_pps = 1000;
	c.timeout_ns = 900 * NS_PER_MS;
	c.retries = 2;
	c.opts.port = port;
	c.opts.ctx = pl;
	c.modules[c.nmodules++] = &probe_module_dnscheck;
	struct engine *e = engine_new(&c, err, sizeof(err));
	assert_non_null(e);
	assert_int_equal(engine_run(e, next_step, ignore, NULL, &ss), 0);
	engine_free(e);
}

static void
test_module_through_engine(void **state)
{
	const char *zones[] = { "open.test", "closed.test" };
	struct dnscheck_plan pl;
	struct server s;
	char err[128];
	size_t fi;

	(void)state;
	server_start(&s, 1);
	assert_int_equal(dnscheck_plan_init(&pl, "canary.example", "192.0.2.53", ".", DNS_TYPE_NS,
					    false, err, sizeof(err)), 0);
	assert_int_equal(dnscheck_plan_add(&pl, DNSCHECK_RECURSION | DNSCHECK_VERSION |
					   DNSCHECK_AXFR | DNSCHECK_TCP_DNS, true, true, zones,
					   2, &fi, err, sizeof(err)), 0);
	run_plan(&pl, s.port);
	server_stop(&s);

	const struct dnscheck_facts *f = &pl.facts[fi];
	assert_int_equal(f->known, f->ran);
	assert_true(f->recursion);
	assert_false(f->bogus);
	assert_string_equal(f->version, "test-9.9");
	assert_string_equal(f->nsid, "ns-7");
	assert_string_equal(f->hostname, "");
	assert_true(f->tcp_dns);
	assert_int_equal(f->axfr[0].state, DNSCHECK_AXFR_ALLOWED);
	assert_int_equal(f->axfr[0].records, 5);
	assert_true(f->axfr[0].complete);
	assert_int_equal(f->axfr[1].state, DNSCHECK_AXFR_REFUSED);
	assert_int_equal(f->axfr[1].rcode, 9);
	assert_false(f->axfr[1].closed);
	/* 5 UDP queries, the first dropped: exactly one retransmission, nothing more */
	assert_int_equal(s.udp_queries, 6);
	/* over TCP: tcp-dns, 2 AXFR and the recursion question; UDP answered recursion too,
	 * so its answer is the one that counts */
	assert_int_equal(s.tcp_queries, 4);
	assert_false(f->rec_tcp);
	dnscheck_plan_clear(&pl);
}

/* A plan of `checks` for one address (both protocols open unless told otherwise) against
 * servers configured as *cfg; the facts in *out. */
static void
run_checks(const struct server *cfg, unsigned checks, bool udp_open, bool tcp_open,
	   const char *const *zones, size_t nzones, struct server *s,
	   struct dnscheck_facts *out)
{
	struct dnscheck_plan pl;
	char err[128];
	size_t fi;

	server_start_as(s, cfg);
	assert_int_equal(dnscheck_plan_init(&pl, "canary.example", "192.0.2.53", ".", DNS_TYPE_NS,
					    false, err, sizeof(err)), 0);
	assert_int_equal(dnscheck_plan_add(&pl, checks, udp_open, tcp_open, zones, nzones, &fi,
					   err, sizeof(err)), 0);
	run_plan(&pl, s->port);
	server_stop(s);
	*out = pl.facts[fi];
	dnscheck_plan_clear(&pl);
}

/* The resolver garbles every UDP reply (wrong transaction ID) but resolves over TCP: found
 * recursive through the TCP question. */
static void
test_recursion_over_tcp_when_udp_garbled(void **state)
{
	struct server cfg = { .udp_mode = SRV_UDP_WRONG_ID }, s;
	struct dnscheck_facts f;

	(void)state;
	run_checks(&cfg, DNSCHECK_RECURSION, true, true, NULL, 0, &s, &f);
	assert_int_equal(f.ran, DNSCHECK_RECURSION);
	assert_int_equal(f.known, DNSCHECK_RECURSION);
	assert_true(f.recursion);
	assert_true(f.rec_ra);
	assert_false(f.bogus);
	assert_true(f.rec_tcp);
	/* the garbled UDP replies matched nothing: every attempt went out */
	assert_int_equal(s.udp_queries, 3);
	assert_int_equal(s.tcp_queries, 1);
}

/* UDP answers (REFUSED: no recursion) only to its retransmission, long after the TCP
 * answer (it resolves) came in: the UDP answer still wins. */
static void
test_recursion_udp_wins_arriving_last(void **state)
{
	struct server cfg = { .udp_mode = SRV_UDP_REFUSE_RD, .drop_canary = 1 }, s;
	struct dnscheck_facts f;

	(void)state;
	run_checks(&cfg, DNSCHECK_RECURSION, true, true, NULL, 0, &s, &f);
	assert_true(s.tcp_canary_ns != 0 && s.udp_canary_ns != 0);
	assert_true(s.tcp_canary_ns < s.udp_canary_ns); /* the order this case is about */
	assert_int_equal(f.known, DNSCHECK_RECURSION);
	assert_false(f.recursion);
	assert_false(f.rec_tcp);
	assert_int_equal(f.rec_rcode, 5);
	assert_int_equal(s.udp_queries, 2);
}

/* UDP answers at once, TCP 200 ms later: the late TCP answer changes nothing. */
static void
test_recursion_udp_wins_arriving_first(void **state)
{
	struct server cfg = { .udp_mode = SRV_UDP_REFUSE_RD, .tcp_delay_ms = 200 }, s;
	struct dnscheck_facts f;

	(void)state;
	run_checks(&cfg, DNSCHECK_RECURSION, true, true, NULL, 0, &s, &f);
	assert_true(s.tcp_canary_ns != 0 && s.udp_canary_ns != 0);
	assert_true(s.udp_canary_ns < s.tcp_canary_ns);
	assert_false(f.recursion);
	assert_false(f.rec_tcp);
	assert_int_equal(f.rec_rcode, 5);
	assert_int_equal(s.tcp_queries, 1);
}

/* UDP not open: the recursion check runs over TCP alone. */
static void
test_recursion_tcp_only(void **state)
{
	struct server cfg = { 0 }, s;
	struct dnscheck_facts f;

	(void)state;
	run_checks(&cfg, DNSCHECK_RECURSION, false, true, NULL, 0, &s, &f);
	assert_int_equal(f.ran, DNSCHECK_RECURSION);
	assert_int_equal(f.known, DNSCHECK_RECURSION);
	assert_true(f.recursion);
	assert_true(f.rec_tcp);
	assert_int_equal(s.udp_queries, 0);
	assert_int_equal(s.tcp_queries, 1);
}

/* A server answering everything, over both protocols, with a bare REFUSED header (what
 * unbound's access-control refuse sends): every check has its answer, from the rcode. */
static void
test_module_no_question_server(void **state)
{
	const char *zones[] = { "open.test" };
	struct server cfg = { .udp_mode = SRV_UDP_NO_QUESTION, .tcp_mode = SRV_TCP_NO_QUESTION };
	struct server s;
	struct dnscheck_facts f;

	(void)state;
	run_checks(&cfg, DNSCHECK_ALL, true, true, zones, 1, &s, &f);
	assert_int_equal(f.ran, DNSCHECK_ALL);
	assert_int_equal(f.known, f.ran);
	assert_false(f.recursion);
	assert_false(f.rec_ra);
	assert_false(f.rec_tcp);
	assert_int_equal(f.rec_rcode, 5);
	assert_string_equal(f.version, "");
	assert_string_equal(f.hostname, "");
	assert_string_equal(f.nsid, "");
	assert_true(f.tcp_dns); /* answered over TCP: no "no-tcp" */
	assert_int_equal(f.axfr[0].state, DNSCHECK_AXFR_REFUSED);
	assert_int_equal(f.axfr[0].rcode, 5);
	assert_false(f.axfr[0].closed);
	assert_int_equal(f.amp_reply_bytes, DNS_HEADER_LEN);
	/* each query answered at once: 1 recursion + 4 CHAOS + 2 amplification over UDP,
	 * recursion + tcp-dns + AXFR over TCP */
	assert_int_equal(s.udp_queries, 7);
	assert_int_equal(s.tcp_queries, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_init),
		cmocka_unit_test(test_plan_steps),
		cmocka_unit_test(test_queries),
		cmocka_unit_test(test_eval_recursion),
		cmocka_unit_test(test_eval_recursion_tcp),
		cmocka_unit_test(test_eval_no_question),
		cmocka_unit_test(test_eval_version),
		cmocka_unit_test(test_eval_amplification_tcp),
		cmocka_unit_test(test_axfr_any),
		cmocka_unit_test(test_axfr_feed),
		cmocka_unit_test(test_printable),
		cmocka_unit_test(test_module_through_engine),
		cmocka_unit_test(test_recursion_over_tcp_when_udp_garbled),
		cmocka_unit_test(test_recursion_udp_wins_arriving_last),
		cmocka_unit_test(test_recursion_udp_wins_arriving_first),
		cmocka_unit_test(test_recursion_tcp_only),
		cmocka_unit_test(test_module_no_question_server),
	};

	return cmocka_run_group_tests(tests, qpl_setup, qpl_teardown);
}
