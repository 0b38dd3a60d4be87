/* test_state_row: the packed body of a state.db row — exact round trips at the edges of
 * every value, the size of the rows a big estate is made of, and strict reading: every
 * prefix, a byte too many, values out of range, flags that are not ours. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/state.h"
#include "agent/state_row.h"

#define NS 1000000000ull
#define T0 (1764870000ull * NS)

static const struct state_row_ref ref = { 1000, T0 + 900 * NS, T0 };

/* A port closed by a reset three cycles in a row, seen first at the reference time. */
static void
closed_port(struct bl_port *p)
{
	memset(p, 0, sizeof(*p));
	p->known = true;
	p->last = PROBE_CLOSED;
	p->last_reason = PROBE_REASON_RESET;
	p->last_miss = PROBE_CLOSED;
	p->miss_streak = 3;
	p->first_seen = T0;
	p->last_seen = ref.seen_ns;
	p->last_change = T0;
	p->closed_proven = true;
	p->proven_by = PROBE_REASON_RESET;
	p->quiet_cycles = 3;
	p->quiet_since = T0;
}

static void
assert_same(const struct bl_entry *a, const struct bl_entry *b)
{
	struct bl_entry x = *a, y = *b;

	/* the address and the label are the row's key and label id, not the body's */
	x.target = y.target = NULL;
	memset(&x.addr, 0, sizeof(x.addr));
	memset(&y.addr, 0, sizeof(y.addr));
	assert_memory_equal(&x, &y, sizeof(x));
}

static void
round_trip(const struct bl_entry *e, uint64_t label, size_t *len)
{
	uint8_t body[STATE_ROW_BODY_MAX];
	struct bl_entry back;
	uint64_t got = 0;
	char why[200];

	*len = state_row_encode(e, label, &ref, body);
	assert_true(*len <= STATE_ROW_BODY_MAX);
	memset(&back, 0, sizeof(back));
	if (state_row_decode(body, *len, &ref, &back, &got, why, sizeof(why)) != 0)
		fail_msg("decode: %s", why);
	assert_true(got == label);
	assert_same(e, &back);
}

static void
test_sizes(void **state)
{
	struct bl_entry e;
	size_t len;

	(void)state;
	/* closed on both: what most of a big estate is */
	memset(&e, 0, sizeof(e));
	e.last_cycle = ref.cycles;
	closed_port(&e.port[PROBE_SLOT_TCP]);
	closed_port(&e.port[PROBE_SLOT_UDP]);
	e.port[PROBE_SLOT_UDP].last_reason = PROBE_REASON_PORT_UNREACH;
	round_trip(&e, 1, &len);
	print_message("a closed address: %zu bytes of body\n", len);
	assert_true(len <= 18);
	/* silent: proven closed by silence, the quiet count against its first cycle */
	e.port[PROBE_SLOT_UDP].last = PROBE_FILTERED;
	e.port[PROBE_SLOT_UDP].last_reason = PROBE_REASON_NO_RESPONSE;
	e.port[PROBE_SLOT_UDP].proven_by = PROBE_REASON_NO_RESPONSE;
	e.port[PROBE_SLOT_UDP].miss_streak = 400;
	e.port[PROBE_SLOT_UDP].quiet_cycles = 400;
	round_trip(&e, 1, &len);
	assert_true(len <= 20);
	/* never observed: the head and the label */
	memset(&e, 0, sizeof(e));
	e.last_cycle = ref.cycles;
	round_trip(&e, 0, &len);
	assert_int_equal(len, 2);
}

/* Every field away from zero, and the edges: counts saturated, bits that move, times on
 * either side of their references, a last cycle of 0 and of UINT64_MAX. */
static void
test_round_trips(void **state)
{
	static const uint64_t cycles[] = { 0, 1, 15, 16, 1000, (1ull << 47) + 5, UINT64_MAX };
	struct bl_entry e;
	size_t len;

	(void)state;
	for (size_t k = 0; k < sizeof(cycles) / sizeof(cycles[0]); k++) {
		memset(&e, 0, sizeof(e));
		e.expect_open[PROBE_SLOT_UDP] = true;
		e.last_cycle = cycles[k];
		for (int s = 0; s < PROBE_NSLOTS; s++) {
			struct bl_port *p = &e.port[s];
			p->known = p->baseline_open = p->reported_open = true;
			p->flapping = p->open_before_flap = p->streak_verified = s == 0;
			p->closed_proven = s == 1;
			p->last = s == 0 ? PROBE_OPEN : PROBE_FILTERED;
			p->last_reason = s == 0 ? PROBE_REASON_UDP_RESPONSE : PROBE_REASON_ERROR;
			p->last_miss = PROBE_FILTERED;
			p->proven_by = PROBE_REASON_ADMIN_PROHIBITED;
			p->open_streak = s == 0 ? STATE_MAX_STREAK : 1;
			p->miss_streak = 7;
			p->quiet_cycles = 999999;
			p->change_bits = s == 0 ? 0x8001 : 0x0300;
			p->first_seen = s == 0 ? UINT64_MAX : 5;
			p->last_seen = s == 0 ? 0 : UINT64_MAX;
			p->last_change = T0 - 1;
			p->quiet_since = 1;
		}
		e.dns.known = e.dns.aa = e.dns.ra = true;
		e.dns.rcode = STATE_MAX_RCODE;
		e.dns.checks = DNSCHECK_RECURSION | DNSCHECK_VERSION | DNSCHECK_AXFR |
			       DNSCHECK_AMPLIFICATION | DNSCHECK_TCP_DNS;
		e.dns.recursion = e.dns.bogus_known = e.dns.bogus = true;
		e.dns.identity = e.dns.axfr = e.dns.tcp_dns = true;
		memset(e.dns.version, 'v', sizeof(e.dns.version) - 1);
		memset(e.dns.axfr_zones, 'z', sizeof(e.dns.axfr_zones) - 1);
		e.dns.amplification = UINT32_MAX;
		round_trip(&e, UINT64_MAX, &len);
		/* only some checks: the facts of the others are not kept */
		e.dns.checks = DNSCHECK_VERSION;
		e.dns.recursion = e.dns.bogus_known = e.dns.bogus = false;
		e.dns.axfr = e.dns.tcp_dns = false;
		memset(e.dns.axfr_zones, 0, sizeof(e.dns.axfr_zones));
		e.dns.amplification = 0;
		round_trip(&e, 3, &len);
	}
}

/* The bits a row keeps while they move along with the cycles: the body stays the same. */
static void
test_stable(void **state)
{
	uint8_t a[STATE_ROW_BODY_MAX], b[STATE_ROW_BODY_MAX];
	struct state_row_ref r2 = ref;
	struct bl_entry e;
	size_t la, lb;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.last_cycle = ref.cycles;
	closed_port(&e.port[PROBE_SLOT_TCP]);
	e.port[PROBE_SLOT_TCP].change_bits = 0x4;
	la = state_row_encode(&e, 1, &ref, a);
	/* the next cycle: the count and the bits move, the reference too */
	e.last_cycle++;
	e.port[PROBE_SLOT_TCP].miss_streak++;
	e.port[PROBE_SLOT_TCP].quiet_cycles++;
	e.port[PROBE_SLOT_TCP].change_bits <<= 1;
	e.port[PROBE_SLOT_TCP].last_seen += 300 * NS;
	r2.cycles++;
	r2.seen_ns += 300 * NS;
	lb = state_row_encode(&e, 1, &r2, b);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
}

static int
decode(const uint8_t *body, size_t len, char *why, size_t whylen)
{
	struct bl_entry e;
	uint64_t label;

	memset(&e, 0, sizeof(e));
	return state_row_decode(body, len, &ref, &e, &label, why, whylen);
}

/* Every prefix of a good body fails, and so does a byte too many. */
static void
test_prefixes(void **state)
{
	uint8_t body[STATE_ROW_BODY_MAX + 1];
	struct bl_entry e;
	char why[200];
	size_t len;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.last_cycle = 7;
	closed_port(&e.port[PROBE_SLOT_TCP]);
	closed_port(&e.port[PROBE_SLOT_UDP]);
	e.port[PROBE_SLOT_UDP].change_bits = 3;
	e.dns.checks = DNSCHECK_VERSION | DNSCHECK_AMPLIFICATION;
	snprintf(e.dns.version, sizeof(e.dns.version), "9.18.19");
	e.dns.amplification = 4321;
	len = state_row_encode(&e, 300, &ref, body);
	assert_int_equal(decode(body, len, why, sizeof(why)), 0);
	for (size_t k = 0; k < len; k++)
		if (decode(body, k, why, sizeof(why)) != -EBADMSG)
			fail_msg("a body cut to %zu of %zu bytes was read", k, len);
	body[len] = 0;
	assert_int_equal(decode(body, len + 1, why, sizeof(why)), -EBADMSG);
	assert_string_equal(why, "bytes after the last field");
}

/* Damage at a known place, with the message it must give. */
static void
test_bad(void **state)
{
	static const struct {
		const char *name;
		uint8_t body[24];
		size_t len;
		const char *why;
	} cases[] = {
		{ "head flag", { 0x40, 0 }, 2, "a flag that is not ours" },
		{ "overlong label", { 0, 0x80, 0x00 }, 3, "a number that is not written the shortest way" },
		{ "label of 11 bytes", { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0x81, 0x01 }, 12, "a number longer than 10 bytes" },
		{ "tenth byte too big", { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					  0x02 }, 11, "a number above 2^64 - 1" },
		{ "state flag", { 8, 0, 1, 0, 0x20, 0, 0, 0 }, 8, "tcp: a flag that is not ours" },
		{ "last_miss open", { 16, 0, 1, 0, 0x04, 0, 0, 0 }, 8,
		  "udp: last_miss: not a probe state without evidence" },
		{ "quiet as a miss streak that is not there", { 8, 0, 1, 0x80, 0, 0, 0 }, 7,
		  "tcp: a flag that is not ours" },
		{ "quiet cycles said twice", { 8, 0, 1, 0x86, 0, 0, 0 }, 7,
		  "tcp: a flag that is not ours" },
		{ "quiet_since said twice", { 8, 0, 1, 0x20, 0x10, 0, 0 }, 7,
		  "tcp: a flag that is not ours" },
		{ "last_reason", { 8, 0, 1, 0, 0, 200, 0, 0 }, 8, "tcp: last_reason: not a probe reason" },
		{ "proven_by", { 8, 0, 1, 0, 0, 0, 99, 0 }, 8, "tcp: proven_by: not a probe reason" },
		/* last_cycle 5 stored; an open streak begun at cycle 6 */
		{ "count", { 8 | 4, 0, 5, 1, 1, 0, 0, 0, 6, 0 }, 10,
		  "tcp: open streak: not a cycle a count can have begun at" },
		/* change cycle 6 > last cycle 5 */
		{ "change after", { 8 | 4, 0, 5, 1, 8, 0, 0, 0, 0x81, 0x80, 0x18, 0 }, 12,
		  "tcp: change bits: not the bits of a change within the last 16 cycles" },
		{ "dns flag", { 32, 0, 0, 2, 0, 0 }, 6, "dns: a flag that is not ours" },
		{ "dns checks", { 32, 0, 0, 0, 0x80, 0x01, 0 }, 7, "dns: a flag that is not ours" },
		{ "fact without check", { 32, 0, 8, 0, 0, 0 }, 6,
		  "dns: a fact without its check" },
		{ "rcode", { 32, 0, 0, 0, 0, 0x80, 0x20 }, 7, "dns: rcode: above 4095" },
		{ "version NUL", { 32, 0, 0, 0, 2, 0, 2, 'a', 0 }, 9,
		  "dns: version: contains a NUL character" },
		{ "version long", { 32, 0, 0, 0, 2, 0, 64 }, 7, "dns: version: longer than 63 bytes" },
		{ "version cut", { 32, 0, 0, 0, 2, 0, 5, 'a' }, 8, "dns: the body ends too soon" },
	};
	char why[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = decode(cases[i].body, cases[i].len, why, sizeof(why));
		if (rc != -EBADMSG || strcmp(why, cases[i].why) != 0)
			fail_msg("%s: expected -EBADMSG \"%s\", got %d \"%s\"", cases[i].name,
				 cases[i].why, rc, rc == 0 ? "" : why);
	}
}

/* Random damage to good bodies never crashes and never reads out of the body; what does
 * read encodes back to a body that reads the same. */
static void
test_mutations(void **state)
{
	uint8_t good[STATE_ROW_BODY_MAX], body[STATE_ROW_BODY_MAX], again[STATE_ROW_BODY_MAX];
	unsigned seed = 53;
	struct bl_entry e;
	size_t len;
	char why[200];

	(void)state;
	memset(&e, 0, sizeof(e));
	e.last_cycle = 900;
	closed_port(&e.port[PROBE_SLOT_TCP]);
	closed_port(&e.port[PROBE_SLOT_UDP]);
	e.port[PROBE_SLOT_TCP].change_bits = 0x30;
	e.dns.known = true;
	e.dns.checks = DNSCHECK_AXFR;
	snprintf(e.dns.axfr_zones, sizeof(e.dns.axfr_zones), "example.test");
	len = state_row_encode(&e, 2, &ref, good);
	for (int i = 0; i < 200000; i++) {
		struct bl_entry d, d2;
		uint64_t label, label2;
		size_t l2;

		memcpy(body, good, len);
		for (int k = 0; k < 1 + (int)(rand_r(&seed) % 3); k++)
			body[rand_r(&seed) % len] = (uint8_t)rand_r(&seed);
		memset(&d, 0, sizeof(d));
		if (state_row_decode(body, len, &ref, &d, &label, why, sizeof(why)) != 0)
			continue;
		l2 = state_row_encode(&d, label, &ref, again);
		memset(&d2, 0, sizeof(d2));
		assert_int_equal(state_row_decode(again, l2, &ref, &d2, &label2, why, sizeof(why)), 0);
		assert_true(label2 == label);
		assert_same(&d, &d2);
	}
}

static void
test_keys(void **state)
{
	uint8_t key[STATE_ROW_KEY_MAX];
	struct net_addr a, b;

	(void)state;
	assert_int_equal(net_addr_parse("127.53.0.2", &a), 0);
	assert_int_equal(state_row_key(&a, key), 5);
	assert_int_equal(state_row_key_parse(key, 5, &b), 0);
	assert_int_equal(net_addr_cmp(&a, &b), 0);
	assert_int_equal(net_addr_parse("2001:db8::53", &a), 0);
	assert_int_equal(state_row_key(&a, key), 17);
	assert_int_equal(state_row_key_parse(key, 17, &b), 0);
	assert_int_equal(net_addr_cmp(&a, &b), 0);
	assert_int_equal(state_row_key_parse(key, 16, &b), -EBADMSG);
	key[0] = 4;
	assert_int_equal(state_row_key_parse(key, 17, &b), -EBADMSG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_stable),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
