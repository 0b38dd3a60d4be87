/* test_grade: the severity model — which known facts are findings, how severe each is, the
 * highest wins, and facts of checks without an answer count for nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/baseline.h"
#include "agent/grade.h"

struct grade_case {
	const char *what;
	void (*set)(struct dnscheck_facts *f);
	enum alert_severity severity;
	const char *findings;
};

static void none(struct dnscheck_facts *f) { (void)f; }

static void
open_resolver(struct dnscheck_facts *f)
{
	f->known = DNSCHECK_RECURSION;
	f->recursion = true;
}

static void
resolver_unknown(struct dnscheck_facts *f)
{
	/* the check ran but got no answer: whatever the fields say means nothing */
	f->ran = DNSCHECK_RECURSION;
	f->recursion = true;
}

static void
bogus(struct dnscheck_facts *f)
{
	open_resolver(f);
	f->bogus_known = true;
	f->bogus = true;
}

static void
axfr(struct dnscheck_facts *f)
{
	f->known = DNSCHECK_AXFR;
	f->naxfr = 2;
	f->axfr[0].state = DNSCHECK_AXFR_REFUSED;
	f->axfr[1].state = DNSCHECK_AXFR_ALLOWED;
}

static void
axfr_refused(struct dnscheck_facts *f)
{
	f->known = DNSCHECK_AXFR;
	f->naxfr = 1;
	f->axfr[0].state = DNSCHECK_AXFR_REFUSED;
}

static void
amp(struct dnscheck_facts *f, uint32_t q, uint32_t r)
{
	f->known |= DNSCHECK_AMPLIFICATION;
	f->amp_query_bytes = q;
	f->amp_reply_bytes = r;
}

static void amp_10(struct dnscheck_facts *f) { amp(f, 40, 400); }     /* exactly 10.00 */
static void amp_9_99(struct dnscheck_facts *f) { amp(f, 1000, 9994); } /* rounds to 9.99 */

static void
version(struct dnscheck_facts *f)
{
	f->known = DNSCHECK_VERSION;
	strcpy(f->version, "9.18.1");
}

static void
identity(struct dnscheck_facts *f)
{
	f->known = DNSCHECK_VERSION;
	strcpy(f->nsid, "ns1");
}

static void
hidden(struct dnscheck_facts *f)
{
	f->known = DNSCHECK_VERSION | DNSCHECK_TCP_DNS | DNSCHECK_RECURSION;
	f->tcp_dns = true;
}

static void
no_tcp(struct dnscheck_facts *f)
{
	f->known = DNSCHECK_TCP_DNS;
	f->tcp_dns = false;
}

static void
everything(struct dnscheck_facts *f)
{
	bogus(f);
	f->known |= DNSCHECK_AXFR | DNSCHECK_VERSION | DNSCHECK_TCP_DNS;
	f->naxfr = 1;
	f->axfr[0].state = DNSCHECK_AXFR_ALLOWED;
	amp(f, 10, 500);
	strcpy(f->version, "x");
	strcpy(f->hostname, "h");
}

static void
amp_and_version(struct dnscheck_facts *f)
{
	version(f);
	amp_10(f);
}

static const struct grade_case cases[] = {
	{ "nothing known", none, SEV_INFO, "" },
	{ "authoritative only, nothing disclosed", hidden, SEV_INFO, "" },
	{ "open resolver", open_resolver, SEV_CRITICAL, "open-resolver" },
	{ "no answer is no finding", resolver_unknown, SEV_INFO, "" },
	{ "bogus resolver", bogus, SEV_CRITICAL, "open-resolver,bogus-answer" },
	{ "axfr allowed for one zone", axfr, SEV_CRITICAL, "axfr-allowed" },
	{ "axfr refused", axfr_refused, SEV_INFO, "" },
	{ "amplifier at exactly 10x", amp_10, SEV_HIGH, "amplifier" },
	{ "9.99x is not an amplifier", amp_9_99, SEV_INFO, "" },
	{ "version disclosed", version, SEV_MEDIUM, "version-disclosed" },
	{ "identity only", identity, SEV_LOW, "identity-disclosed" },
	{ "no tcp", no_tcp, SEV_LOW, "no-tcp" },
	{ "the highest wins", amp_and_version, SEV_HIGH, "amplifier,version-disclosed" },
	{ "everything", everything, SEV_CRITICAL,
	  "open-resolver,bogus-answer,axfr-allowed,amplifier,version-disclosed,identity-disclosed,"
	  "no-tcp" },
};

static void
test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dnscheck_facts f;
		struct grade g;
		char buf[256];

		memset(&f, 0, sizeof(f));
		cases[i].set(&f);
		f.ran |= f.known;
		grade_facts(&f, &g);
		grade_findings_text(g.findings, buf, sizeof(buf));
		if (g.severity != cases[i].severity || strcmp(buf, cases[i].findings) != 0)
			fail_msg("%s: got %s [%s], expected %s [%s]", cases[i].what,
				 alert_severity_name(g.severity), buf,
				 alert_severity_name(cases[i].severity), cases[i].findings);
	}
}

/* What the baseline keeps of the facts grades the same as the facts (the metrics' findings
 * come from the state, the events' from the observation). */
static void
test_kept_facts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dnscheck_facts f;
		struct bl_dns d;
		struct grade g, k;

		memset(&f, 0, sizeof(f));
		memset(&d, 0, sizeof(d));
		cases[i].set(&f);
		f.ran |= f.known;
		grade_facts(&f, &g);
		baseline_dns_from_checks(&f, &d);
		grade_dns(&d, &k);
		if (g.severity != k.severity || g.findings != k.findings)
			fail_msg("%s: facts %s/%#x, kept %s/%#x", cases[i].what,
				 alert_severity_name(g.severity), g.findings,
				 alert_severity_name(k.severity), k.findings);
	}
	/* the protocol of the check that finds each */
	assert_int_equal(grade_finding_slot(GRADE_OPEN_RESOLVER), PROBE_SLOT_UDP);
	assert_int_equal(grade_finding_slot(GRADE_AXFR_ALLOWED), PROBE_SLOT_TCP);
	assert_int_equal(grade_finding_slot(GRADE_NO_TCP), PROBE_SLOT_TCP);
	assert_int_equal(grade_finding_slot(GRADE_VERSION), PROBE_SLOT_UDP);
}

static void
test_null_and_names(void **state)
{
	struct grade g = { SEV_HIGH, 1 };
	char small[8], buf[64];

	(void)state;
	grade_facts(NULL, &g);
	assert_int_equal(g.severity, SEV_INFO);
	assert_int_equal(g.findings, 0);
	for (unsigned b = 1; b < (1u << GRADE_NFINDINGS); b <<= 1) {
		assert_non_null(grade_finding_name(b));
		const char *why = grade_finding_why(b);
		/* one sentence: ends with a full stop, no second one inside */
		assert_non_null(why);
		assert_int_equal(why[strlen(why) - 1], '.');
		assert_null(strstr(why, ". "));
		assert_true(strlen(why) < 256); /* fits alert_event.why */
	}
	assert_null(grade_finding_name(1u << GRADE_NFINDINGS));
	assert_int_equal(grade_finding_severity(GRADE_AXFR_ALLOWED), SEV_CRITICAL);
	assert_int_equal(grade_finding_severity(GRADE_AMPLIFIER), SEV_HIGH);
	assert_int_equal(grade_finding_severity(GRADE_VERSION), SEV_MEDIUM);
	assert_int_equal(grade_finding_severity(0), SEV_INFO);
	assert_string_equal(alert_severity_name(SEV_CRITICAL), "critical");
	/* a list that does not fit is cut at a whole name */
	assert_string_equal(grade_findings_text(GRADE_OPEN_RESOLVER | GRADE_NO_TCP, small,
						sizeof(small)), "");
	assert_string_equal(grade_findings_text(GRADE_NO_TCP | GRADE_AMPLIFIER, buf,
						sizeof(buf)), "amplifier,no-tcp");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_kept_facts),
		cmocka_unit_test(test_null_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
