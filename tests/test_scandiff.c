/* test_scandiff: the changes between two scans, as tables of {old file, new file, the
 * changes expected} (curl's unit1650 style): opened, closed, a fact changed, the order of
 * findings, added and removed addresses, identical scans, both file forms, and input that
 * is not a scan. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/scandiff.h"

/* Records as `scan --format jsonl` writes them (rtt_ms differs between scans on purpose). */
#define CLOSED5 "{\"target\":\"t\",\"address\":\"192.0.2.5\",\"family\":4,\"port\":53," \
	"\"tcp\":{\"state\":\"closed\",\"reason\":\"reset\",\"rtt_ms\":0.38}," \
	"\"udp\":{\"state\":\"closed\",\"reason\":\"port-unreach\",\"rtt_ms\":0.42},\"dns\":null}"
#define OPEN5 "{\"target\":\"t\",\"address\":\"192.0.2.5\",\"family\":4,\"port\":53," \
	"\"tcp\":{\"state\":\"closed\",\"reason\":\"reset\",\"rtt_ms\":0.51}," \
	"\"udp\":{\"state\":\"open\",\"reason\":\"dns-reply\",\"rtt_ms\":0.9,\"verified\":true}," \
	"\"dns\":{\"valid\":true,\"rcode\":\"REFUSED\",\"aa\":false,\"ra\":false,\"tc\":false}," \
	"\"severity\":\"high\",\"findings\":[\"udp-open\"]}"
#define RESOLVER5 "{\"target\":\"t\",\"address\":\"192.0.2.5\",\"family\":4,\"port\":53," \
	"\"tcp\":{\"state\":\"closed\",\"reason\":\"reset\",\"rtt_ms\":0.5}," \
	"\"udp\":{\"state\":\"open\",\"reason\":\"dns-reply\",\"rtt_ms\":1.2,\"verified\":true}," \
	"\"dns\":{\"valid\":true,\"rcode\":\"NOERROR\",\"aa\":false,\"ra\":true,\"tc\":false," \
	"\"recursion\":true},\"severity\":\"critical\",\"findings\":[\"udp-open\",\"open-resolver\"]}"
#define RESOLVER5_REORDERED "{\"address\":\"192.0.2.5\",\"port\":53," \
	"\"udp\":{\"verified\":true,\"state\":\"open\",\"reason\":\"dns-reply\",\"rtt_ms\":7}," \
	"\"tcp\":{\"state\":\"closed\",\"reason\":\"reset\",\"rtt_ms\":3}," \
	"\"dns\":{\"recursion\":true,\"ra\":true,\"valid\":true,\"rcode\":\"NOERROR\",\"aa\":false," \
	"\"tc\":false},\"severity\":\"critical\",\"findings\":[\"open-resolver\",\"udp-open\"]}"
#define FILTERED9 "{\"target\":\"t\",\"address\":\"192.0.2.9\",\"family\":4,\"port\":53," \
	"\"tcp\":{\"state\":\"filtered\",\"reason\":\"no-response\",\"rtt_ms\":null}," \
	"\"udp\":{\"state\":\"filtered\",\"reason\":\"no-response\",\"rtt_ms\":null},\"dns\":null}"
#define CLOSED9 "{\"target\":\"t\",\"address\":\"192.0.2.9\",\"family\":4,\"port\":53," \
	"\"tcp\":{\"state\":\"closed\",\"reason\":\"reset\",\"rtt_ms\":0.2}," \
	"\"udp\":{\"state\":\"filtered\",\"reason\":\"no-response\",\"rtt_ms\":null},\"dns\":null}"
#define V6 "{\"address\":\"2001:db8::53\",\"port\":53,\"tcp\":{\"state\":\"open\"," \
	"\"reason\":\"syn-ack\",\"rtt_ms\":1},\"udp\":null,\"dns\":null}"

struct dcase {
	const char *name;
	const char *old, *new;
	long n;
	const char *changes; /* "kind address field previous>current;" each */
};

static const struct dcase cases[] = {
	{ "identical but for round-trip times", CLOSED5 "\n" FILTERED9 "\n",
	  CLOSED5 "\n\n" FILTERED9 "\n", 0, "" },
	{ "key order and the order of findings are no change", RESOLVER5 "\n",
	  RESOLVER5_REORDERED "\n", 0, "" },
	{ "udp opened: the state, its facts, severity and findings",
	  CLOSED5 "\n", OPEN5 "\n", 8,
	  "opened 192.0.2.5 udp closed>open;"
	  "changed 192.0.2.5 dns.aa ->false;"
	  "changed 192.0.2.5 dns.ra ->false;"
	  "changed 192.0.2.5 dns.rcode ->\"REFUSED\";"
	  "changed 192.0.2.5 dns.tc ->false;"
	  "changed 192.0.2.5 dns.valid ->true;"
	  "changed 192.0.2.5 severity ->high;"
	  "changed 192.0.2.5 findings ->udp-open;" },
	{ "udp closed", OPEN5 "\n", CLOSED5 "\n", 8,
	  "closed 192.0.2.5 udp open>closed;"
	  "changed 192.0.2.5 dns.aa false>-;"
	  "changed 192.0.2.5 dns.ra false>-;"
	  "changed 192.0.2.5 dns.rcode \"REFUSED\">-;"
	  "changed 192.0.2.5 dns.tc false>-;"
	  "changed 192.0.2.5 dns.valid true>-;"
	  "changed 192.0.2.5 severity high>-;"
	  "changed 192.0.2.5 findings udp-open>-;" },
	{ "a fact changed: recursion turned on", OPEN5 "\n", RESOLVER5 "\n", 5,
	  "changed 192.0.2.5 dns.ra false>true;"
	  "changed 192.0.2.5 dns.rcode \"REFUSED\">\"NOERROR\";"
	  "changed 192.0.2.5 dns.recursion ->true;"
	  "changed 192.0.2.5 severity high>critical;"
	  "changed 192.0.2.5 findings udp-open>open-resolver,udp-open;" },
	{ "filtered to closed is a change, not an opening", FILTERED9 "\n", CLOSED9 "\n", 1,
	  "changed 192.0.2.9 tcp filtered>closed;" },
	{ "added and removed, in address order (v4 before v6)", CLOSED5 "\n" V6 "\n",
	  FILTERED9 "\n" CLOSED5 "\n", 2,
	  "added 192.0.2.9 - ->tcp=filtered udp=filtered;"
	  "removed 2001:db8::53 - tcp=open udp=->-;" },
	{ "the json document against JSON lines",
	  "{\"scan\":{\"port\":53},\"results\":[" CLOSED5 "," FILTERED9 "]}", FILTERED9 "\n" CLOSED5,
	  0, "" },
};

/* "kind address field previous>current;" ("-" for an absent side or field). */
static int
collect(void *arg, const struct scandiff_change *c)
{
	char *buf = arg;
	size_t off = strlen(buf);

	snprintf(buf + off, 4096 - off, "%s %s %s %s>%s;", scandiff_kind_name(c->kind), c->address,
		 c->field[0] ? c->field : "-", c->previous, c->current);
	return 0;
}

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dcase *k = &cases[i];
		struct scandiff_set *a = NULL, *b = NULL;
		char err[256], got[4096] = "";
		long n;

		if (scandiff_parse(k->old, strlen(k->old), "old", &a, err, sizeof(err)) < 0 ||
		    scandiff_parse(k->new, strlen(k->new), "new", &b, err, sizeof(err)) < 0)
			fail_msg("%s: %s", k->name, err);
		n = scandiff_compare(a, b, collect, got);
		if (n != k->n || strcmp(got, k->changes) != 0)
			fail_msg("%s: expected %ld [%s], got %ld [%s]", k->name, k->n, k->changes, n,
				 got);
		scandiff_set_free(a);
		scandiff_set_free(b);
	}
}

/* What is not a scan: one line naming the file (and line), never a crash. */
static void
test_not_a_scan(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "{\"x\":1}\n", "f:1: no \"address\" that is an IP address: not a scan record" },
		{ CLOSED5 "\nnot json\n", "f:2: not a JSON object" },
		{ CLOSED5 " trailing\n", "f:1: not a JSON object" },
		{ "[1,2]\n", "f:1: not a JSON object" },
		{ "{\"address\":\"192.0.2.1\",\"port\":70000}\n", "f:1: \"port\" is not a port number" },
		{ "{\"address\":\"192.0.2.1\",\"tcp\":\"open\"}\n",
		  "f:1: \"tcp\" or \"udp\" is not an object with a \"state\"" },
		{ "{\"address\":\"192.0.2.1\",\"findings\":[1]}\n",
		  "f:1: \"findings\" is not an array of strings" },
		{ "{\"scan\":{},\"results\":[{\"address\":\"x\"}]}",
		  "f: results[0]: no \"address\" that is an IP address: not a scan record" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct scandiff_set *s = NULL;
		char err[256] = "";

		assert_int_equal(scandiff_parse(bad[i].text, strlen(bad[i].text), "f", &s, err,
						sizeof(err)), -EINVAL);
		assert_null(s);
		assert_string_equal(err, bad[i].err);
	}
}

/* An empty file is an empty scan: everything in the other one is added. */
static void
test_empty(void **state)
{
	struct scandiff_set *a = NULL, *b = NULL;
	char err[256], got[4096] = "";
	(void)state;

	assert_int_equal(scandiff_parse("", 0, "a", &a, err, sizeof(err)), 0);
	assert_int_equal(scandiff_parse(CLOSED5, strlen(CLOSED5), "b", &b, err, sizeof(err)), 0);
	assert_int_equal(scandiff_count(a), 0);
	assert_int_equal(scandiff_compare(a, b, collect, got), 1);
	assert_string_equal(got, "added 192.0.2.5 - ->tcp=closed udp=closed;");
	scandiff_set_free(a);
	scandiff_set_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_not_a_scan),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests_name("scandiff", tests, NULL, NULL);
}
