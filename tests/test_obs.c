/* test_obs: a cycle's observation as bytes — exact round trips of the probe record and of
 * the DNS checks' facts with their zone names, and strict reading of every prefix. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/obs.h"

static void
record(struct probe_result *r)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(net_addr_parse("127.53.0.9", &r->addr), 0);
	r->target_index = 7;
	r->seq = 123456789;
	r->port = 53;
	r->out[PROBE_SLOT_TCP] = (struct probe_outcome){ PROBE_OPEN, PROBE_REASON_SYN_ACK, 812 };
	r->out[PROBE_SLOT_UDP] = (struct probe_outcome){ PROBE_FILTERED, PROBE_REASON_NO_RESPONSE,
							 -1 };
	r->dns.present = true;
	r->dns.valid = false;
	r->dns.rcode = 5;
	r->dns.ra = true;
	snprintf(r->dns.error, sizeof(r->dns.error), "transaction id mismatch");
}

static void
test_record_round_trip(void **state)
{
	struct probe_result r;
	struct obs *o = malloc(sizeof(*o));
	uint8_t buf[OBS_MAX];
	size_t n;

	(void)state;
	assert_non_null(o);
	record(&r);
	n = obs_encode(&r, buf);
	assert_true(n < 64); /* what a scratch row of a big estate costs */
	assert_int_equal(obs_decode(buf, n, &r.addr, o), 0);
	assert_memory_equal(&o->rec, &r, sizeof(r));
	assert_null(o->rec.checks);
	/* every prefix and a byte too many are refused */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(obs_decode(buf, k, &r.addr, o), -EBADMSG);
	buf[n] = 0;
	assert_int_equal(obs_decode(buf, n + 1, &r.addr, o), -EBADMSG);
	/* a state outside the enum */
	buf[4 + 8 + 2] = 9;
	assert_int_equal(obs_decode(buf, n, &r.addr, o), -EBADMSG);
	free(o);
}

static void
test_facts_round_trip(void **state)
{
	struct dnscheck_facts f;
	struct probe_result r;
	struct obs *o = malloc(sizeof(*o));
	uint8_t *buf = malloc(OBS_MAX);
	size_t n;

	(void)state;
	assert_non_null(o);
	assert_non_null(buf);
	record(&r);
	memset(&f, 0, sizeof(f));
	f.ran = f.known = DNSCHECK_VERSION | DNSCHECK_AXFR | DNSCHECK_AMPLIFICATION;
	snprintf(f.version, sizeof(f.version), "9.18.24");
	f.amp_query_bytes = 40;
	f.amp_reply_bytes = 1200;
	f.amp_zone = "example.test";
	f.naxfr = 2;
	f.axfr[0] = (struct dnscheck_axfr){ "a.test", DNSCHECK_AXFR_ALLOWED, false, true, 0, 12 };
	f.axfr[1] = (struct dnscheck_axfr){ "b.test", DNSCHECK_AXFR_REFUSED, false, false, 5, 0 };
	r.checks = &f;
	n = obs_encode(&r, buf);
	assert_int_equal(obs_decode(buf, n, &r.addr, o), 0);
	assert_ptr_equal(o->rec.checks, &o->facts);
	assert_string_equal(o->facts.version, "9.18.24");
	assert_string_equal(o->facts.amp_zone, "example.test");
	assert_int_equal(o->facts.naxfr, 2);
	assert_string_equal(o->facts.axfr[0].zone, "a.test");
	assert_string_equal(o->facts.axfr[1].zone, "b.test");
	assert_int_equal(o->facts.axfr[0].records, 12);
	assert_int_equal(o->facts.axfr[1].rcode, 5);
	assert_int_equal(o->facts.amp_reply_bytes, 1200);
	/* a zone the facts do not name stays NULL */
	f.amp_zone = NULL;
	n = obs_encode(&r, buf);
	assert_int_equal(obs_decode(buf, n, &r.addr, o), 0);
	assert_null(o->facts.amp_zone);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(obs_decode(buf, k, &r.addr, o), -EBADMSG);
	free(buf);
	free(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_facts_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
