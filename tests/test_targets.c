/* test_targets: target syntax, lazy expansion, exclusions, the host cap, files and names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "agent/targets.h"

/* Fake resolver: never touches DNS, records what it was asked. */
static int resolver_calls;
static char resolver_last[300];

static void
set_addr(struct net_addr *a, const char *text)
{
	assert_int_equal(net_addr_parse(text, a), 0);
}

static int
fake_resolve(const char *name, struct net_addr *out, size_t max, size_t *count,
	     char *err, size_t errlen)
{
	resolver_calls++;
	snprintf(resolver_last, sizeof(resolver_last), "%s", name);
	*count = 0;
	if (strcmp(name, "gone.example.test") == 0) {
		snprintf(err, errlen, "Name or service not known");
		return -ENOENT;
	}
	if (strcmp(name, "empty.example.test") == 0)
		return 0;
	if (strcmp(name, "weird.example.test") == 0) {
		memset(&out[0], 0, sizeof(out[0]));
		out[0].family = 99;
		*count = 1;
		return 0;
	}
	if (strcmp(name, "ns1.example.test") == 0) {
		assert_true(max >= 3);
		set_addr(&out[0], "127.53.0.9");
		set_addr(&out[1], "127.53.0.10");
		set_addr(&out[2], "fd53::9");
		*count = 3;
		return 0;
	}
	set_addr(&out[0], "127.53.0.99");
	*count = 1;
	return 0;
}

static struct target_set *
new_set(void)
{
	struct target_set *ts = targets_new();

	assert_non_null(ts);
	targets_set_resolver(ts, fake_resolve);
	resolver_calls = 0;
	resolver_last[0] = '\0';
	return ts;
}

static const char *
str(const struct net_addr *a, char *buf)
{
	return net_addr_str(a, buf, NETADDR_STRLEN);
}

/* Iterate everything, checking each address against the expected list (NULL-terminated). */
static void
expect_stream(const struct target_set *ts, const char *const *want, const uint32_t *idx)
{
	struct target_iter it;
	struct net_addr a;
	uint32_t ti = 12345;
	char buf[NETADDR_STRLEN];
	size_t n = 0;

	targets_iter_init(&it, ts);
	while (targets_iter_next(&it, &a, &ti)) {
		assert_non_null(want[n]);
		assert_string_equal(str(&a, buf), want[n]);
		if (idx != NULL)
			assert_int_equal(ti, idx[n]);
		n++;
	}
	assert_null(want[n]);
	assert_int_equal(targets_total(ts), n);
	/* the end is sticky */
	assert_int_equal(targets_iter_next(&it, &a, &ti), 0);
}

/* Count the stream, checking it ascends inside each entry and avoids `avoid` (may be NULL). */
static uint64_t
count_stream(const struct target_set *ts, int (*avoid)(const struct net_addr *))
{
	struct target_iter it;
	struct net_addr a, prev;
	uint32_t ti, prev_ti = UINT32_MAX;
	uint64_t n = 0;

	targets_iter_init(&it, ts);
	while (targets_iter_next(&it, &a, &ti)) {
		if (prev_ti == ti)
			assert_true(net_addr_cmp(&prev, &a) < 0);
		if (avoid != NULL)
			assert_false(avoid(&a));
		prev = a;
		prev_ti = ti;
		n++;
	}
	return n;
}

struct parse_case {
	const char *text;
	int rc;
	const char *err;	/* substring of the message, NULL for success */
	size_t entries;
	uint64_t total;
	int resolves;		/* times the resolver must have been called */
};

static const struct parse_case parse_cases[] = {
	{ "127.53.0.1", 0, NULL, 1, 1, 0 },
	{ "::1", 0, NULL, 1, 1, 0 },
	{ "::ffff:127.53.0.1", 0, NULL, 1, 1, 0 },
	{ "127.53.0.0/30", 0, NULL, 1, 4, 0 },
	{ "127.53.0.7/30", 0, NULL, 1, 4, 0 },
	{ "127.53.0.5/32", 0, NULL, 1, 1, 0 },
	{ "10.0.0.0/8", 0, NULL, 1, 16777216, 0 },
	{ "0.0.0.0/0", 0, NULL, 1, 4294967296ull, 0 },
	{ "127.53.0.1-127.53.0.40", 0, NULL, 1, 40, 0 },
	{ "127.53.0.1-40", 0, NULL, 1, 40, 0 },
	{ "127.53.0.7-127.53.0.7", 0, NULL, 1, 1, 0 },
	{ "fd53::1-fd53::3", 0, NULL, 1, 3, 0 },
	{ "fd53::/126", 0, NULL, 1, 4, 0 },
	{ "fd53::/128", 0, NULL, 1, 1, 0 },
	{ "::/65", 0, NULL, 1, 1ull << 63, 0 },
	{ "::/64", 0, NULL, 1, UINT64_MAX, 0 },	/* 2^64 saturates */
	{ "::-1::", 0, NULL, 1, UINT64_MAX, 0 },	/* 2^112 + 1, low 64 bits of the span 0 */
	{ "ns1.example.test", 0, NULL, 3, 3, 1 },
	{ "ns1.example.test.", 0, NULL, 1, 1, 1 },
	{ "my_host-1.example.test", 0, NULL, 1, 1, 1 },
	{ "ns-1.example.test", 0, NULL, 1, 1, 1 },
	{ "10-20.example.test", 0, NULL, 1, 1, 1 },
	{ "localhost", 0, NULL, 1, 1, 1 },

	{ "", -EINVAL, "empty target", 0, 0, 0 },
	{ "10.0.0.300", -EINVAL, "bad address '10.0.0.300'", 0, 0, 0 },
	{ "256.1.1.1", -EINVAL, "bad address '256.1.1.1'", 0, 0, 0 },
	{ "1.2.3", -EINVAL, "bad address '1.2.3'", 0, 0, 0 },
	{ "1.2.3.4.5", -EINVAL, "bad address", 0, 0, 0 },
	{ "127.1", -EINVAL, "bad address '127.1'", 0, 0, 0 },
	{ "0x7f000001", -EINVAL, "bad address", 0, 0, 0 },
	{ "010.0.0.1", -EINVAL, "bad address", 0, 0, 0 },
	{ "12345", -EINVAL, "bad address", 0, 0, 0 },
	{ "host.123", -EINVAL, "its last label is numeric", 0, 0, 0 },
	{ "fd53:::1", -EINVAL, "bad address 'fd53:::1'", 0, 0, 0 },
	{ "fe80::1%eth0", -EINVAL, "zone ids are not supported", 0, 0, 0 },
	{ "127.0.0.2:53", -EINVAL, "bad target '127.0.0.2:53': a target takes no port", 0, 0, 0 },
	{ "ns1.example.test:53", -EINVAL, "a target takes no port (the port probed is --port", 0, 0, 0 },
	{ "[fd53::1]:53", -EINVAL, "bad target '[fd53::1]:53': a target takes no port", 0, 0, 0 },
	{ "127.0.0.2:", -EINVAL, "bad address '127.0.0.2:'", 0, 0, 0 },
	{ "10.0.0.0/33", -EINVAL, "bad prefix '10.0.0.0/33': length must be 0-32", 0, 0, 0 },
	{ "fd53::/129", -EINVAL, "length must be 0-128", 0, 0, 0 },
	{ "10.0.0.0/", -EINVAL, "bad prefix '10.0.0.0/'", 0, 0, 0 },
	{ "10.0.0.0/-1", -EINVAL, "bad prefix", 0, 0, 0 },
	{ "10.0.0.0/+8", -EINVAL, "bad prefix", 0, 0, 0 },
	{ "10.0.0.0/0008", -EINVAL, "bad prefix", 0, 0, 0 },
	{ "foo/24", -EINVAL, "bad prefix 'foo/24'", 0, 0, 0 },
	{ "10.0.0.256/24", -EINVAL, "bad prefix", 0, 0, 0 },
	{ "10.0.0.5-10.0.0.1", -EINVAL, "bad range '10.0.0.5-10.0.0.1': start is after end", 0, 0, 0 },
	{ "10.0.0.9-5", -EINVAL, "start is after end", 0, 0, 0 },
	{ "fd53::5-fd53::1", -EINVAL, "start is after end", 0, 0, 0 },
	{ "10.0.0.1-::1", -EINVAL, "mixed IPv4 and IPv6", 0, 0, 0 },
	{ "10.0.0.1-10.0.0.300", -EINVAL, "bad range", 0, 0, 0 },
	{ "10.0.0.300-10.0.0.1", -EINVAL, "bad range", 0, 0, 0 },
	{ "10.0.0.1-256", -EINVAL, "last octet must be 0-255", 0, 0, 0 },
	{ "10.0.0.1-", -EINVAL, "missing end", 0, 0, 0 },
	{ "-10.0.0.1", -EINVAL, "missing start", 0, 0, 0 },
	{ "fd53::1-40", -EINVAL, "bad range", 0, 0, 0 },
	{ "bad name.example", -EINVAL, "bad target 'bad name.example'", 0, 0, 0 },
	{ "a..b", -EINVAL, "empty label", 0, 0, 0 },
	{ "-x", -EINVAL, "cannot start with '-'", 0, 0, 0 },
	{ "host!", -EINVAL, "invalid character", 0, 0, 0 },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test", -EINVAL,
	  "longer than 63", 0, 0, 0 },
	{ "gone.example.test", -ENOENT, "cannot resolve 'gone.example.test': Name or service not known",
	  0, 0, 1 },
	{ "empty.example.test", -ENOENT, "cannot resolve 'empty.example.test': no addresses", 0, 0, 1 },
	{ "weird.example.test", -EINVAL, "neither IPv4 nor IPv6", 0, 0, 1 },
	{ "@", -EINVAL, "missing file name", 0, 0, 0 },
	{ "@/nonexistent/watch53-none.txt", -ENOENT,
	  "cannot read '/nonexistent/watch53-none.txt': No such file or directory", 0, 0, 0 },
};

static void
test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct target_set *ts = new_set();
		char err[256] = "";
		int rc;

		rc = targets_add(ts, c->text, NULL, err, sizeof(err));
		if (rc != c->rc || (c->err && strstr(err, c->err) == NULL))
			fail_msg("'%s': rc %d (want %d), err \"%s\" (want \"%s\")", c->text, rc,
				 c->rc, err, c->err ? c->err : "");
		assert_int_equal(targets_count(ts), c->entries);
		assert_int_equal(targets_total(ts), c->total);
		if (resolver_calls != c->resolves)
			fail_msg("'%s': resolver called %d times, want %d", c->text,
				 resolver_calls, c->resolves);
		if (rc == 0)
			assert_string_equal(targets_label(ts, 0), c->text);
		else
			assert_null(strchr(err, '\n'));
		targets_free(ts);
	}
}

static void
test_cidr_iteration(void **state)
{
	static const char *const want[] = { "127.53.0.0", "127.53.0.1", "127.53.0.2",
					    "127.53.0.3", NULL };
	static const char *const masked[] = { "127.53.0.4", "127.53.0.5", "127.53.0.6",
					      "127.53.0.7", NULL };
	static const uint32_t idx[] = { 0, 0, 0, 0 };
	struct target_set *ts = new_set();
	char err[256];

	(void)state;
	assert_int_equal(targets_add(ts, "127.53.0.0/30", NULL, err, sizeof(err)), 0);
	expect_stream(ts, want, idx);
	targets_free(ts);

	ts = new_set();
	assert_int_equal(targets_add(ts, "127.53.0.6/30", NULL, err, sizeof(err)), 0);
	expect_stream(ts, masked, idx);
	assert_string_equal(targets_label(ts, 0), "127.53.0.6/30");
	assert_null(targets_label(ts, 1));
	targets_free(ts);
}

static void
test_range_iteration(void **state)
{
	static const char *const want[] = { "127.53.0.254", "127.53.0.255", "127.53.1.0",
					    "127.53.1.1", "127.53.1.2", NULL };
	static const char *const shortf[] = { "127.53.0.38", "127.53.0.39", "127.53.0.40", NULL };
	static const char *const edge[] = { "255.255.255.254", "255.255.255.255", NULL };
	struct target_set *ts = new_set();
	char err[256];

	(void)state;
	assert_int_equal(targets_add(ts, "127.53.0.254-127.53.1.2", NULL, err, sizeof(err)), 0);
	expect_stream(ts, want, NULL);
	targets_free(ts);

	ts = new_set();
	assert_int_equal(targets_add(ts, "127.53.0.38-40", NULL, err, sizeof(err)), 0);
	expect_stream(ts, shortf, NULL);
	targets_free(ts);

	/* the top of the space must end the entry, not wrap to 0.0.0.0 */
	ts = new_set();
	assert_int_equal(targets_add(ts, "255.255.255.254/31", NULL, err, sizeof(err)), 0);
	expect_stream(ts, edge, NULL);
	targets_free(ts);
}

static void
test_ipv6_iteration(void **state)
{
	static const char *const want[] = { "fd53::", "fd53::1", "fd53::2", "fd53::3", NULL };
	static const char *const carry[] = { "fd53::ff", "fd53::100", "fd53::101", NULL };
	static const char *const top[] = { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
					   "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL };
	struct target_set *ts = new_set();
	char err[256];

	(void)state;
	assert_int_equal(targets_add(ts, "fd53::/126", NULL, err, sizeof(err)), 0);
	expect_stream(ts, want, NULL);
	targets_free(ts);

	ts = new_set();
	assert_int_equal(targets_add(ts, "fd53::ff-fd53::101", NULL, err, sizeof(err)), 0);
	expect_stream(ts, carry, NULL);
	targets_free(ts);

	ts = new_set();
	assert_int_equal(targets_add(ts, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/127", NULL,
				     err, sizeof(err)), 0);
	expect_stream(ts, top, NULL);
	targets_free(ts);
}

static void
test_entries_in_order(void **state)
{
	static const char *const want[] = { "fd53::1", "127.53.0.2", "127.53.0.3", "127.53.0.1",
					     "127.53.0.1", NULL };
	static const char *const want_once[] = { "fd53::1", "127.53.0.2", "127.53.0.3",
						  "127.53.0.1", NULL };
	static const uint32_t idx[] = { 0, 1, 1, 2, 3 };
	struct target_set *ts = new_set();
	char err[256];

	(void)state;
	assert_int_equal(targets_add(ts, "fd53::1", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_add(ts, "127.53.0.2/31", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_add(ts, "127.53.0.1", NULL, err, sizeof(err)), 0);
	/* entries are kept, not merged; until targets_finish each streams all it holds */
	assert_int_equal(targets_add(ts, "127.53.0.1", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_count(ts), 4);
	assert_string_equal(targets_label(ts, 1), "127.53.0.2/31");
	expect_stream(ts, want, idx);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), 0);
	/* then the duplicate comes once, under the entry given first */
	expect_stream(ts, want_once, idx);
	targets_free(ts);
}

struct pairs {
	char text[512];
};

static int
note_pair(void *arg, size_t winner, size_t loser, uint64_t n)
{
	struct pairs *p = arg;
	size_t off = strlen(p->text);

	snprintf(p->text + off, sizeof(p->text) - off, "%zu>%zu:%llu ", winner, loser,
		 (unsigned long long)n);
	return 0;
}

/* Overlapping entries: each address once, under its most specific entry (a host over its
 * prefix, a narrower prefix over a wider one, the first among equals), also with
 * exclusions inside what an entry loses; targets_contains names the same entry, and
 * targets_overlaps says who won what. */
static void
test_overlaps(void **state)
{
	static const char *const want[] = {
		"127.53.0.0", "127.53.0.1", "127.53.0.3", "127.53.0.8", "127.53.0.9", /* /28 */
		"127.53.0.10", "127.53.0.11", "127.53.0.15",
		"127.53.0.2",                                                         /* host */
		"127.53.0.4", "127.53.0.6", "127.53.0.7",                             /* /30 */
		"127.53.0.12", "127.53.0.13",                                         /* range */
		"127.53.0.14",                                                        /* host */
		NULL };
	static const uint32_t idx[] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 4, 4, 5 };
	struct target_set *ts = new_set();
	struct pairs p = { "" };
	struct net_addr a;
	uint32_t ti = 99;
	char err[256];

	(void)state;
	assert_int_equal(targets_add(ts, "127.53.0.0/28", NULL, err, sizeof(err)), 0);   /* 0 */
	assert_int_equal(targets_add(ts, "127.53.0.2", NULL, err, sizeof(err)), 0);      /* 1 */
	assert_int_equal(targets_add(ts, "127.53.0.4/30", NULL, err, sizeof(err)), 0);   /* 2 */
	assert_int_equal(targets_add(ts, "127.53.0.2", NULL, err, sizeof(err)), 0);      /* 3 */
	assert_int_equal(targets_add(ts, "127.53.0.12-14", NULL, err, sizeof(err)), 0);  /* 4 */
	assert_int_equal(targets_add(ts, "127.53.0.14", NULL, err, sizeof(err)), 0);     /* 5 */
	assert_int_equal(targets_exclude(ts, "127.53.0.5", err, sizeof(err)), 0);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), 0);
	expect_stream(ts, want, idx);
	assert_int_equal(targets_total(ts), 15);
	assert_int_equal(net_addr_parse("127.53.0.2", &a), 0);
	assert_int_equal(targets_contains(ts, &a, &ti), 1);
	assert_int_equal(ti, 1);
	assert_int_equal(net_addr_parse("127.53.0.13", &a), 0);
	assert_int_equal(targets_contains(ts, &a, &ti), 1);
	assert_int_equal(ti, 4);
	assert_int_equal(net_addr_parse("127.53.0.5", &a), 0);
	assert_int_equal(targets_contains(ts, &a, &ti), 0);
	assert_int_equal(targets_overlaps(ts, note_pair, &p), 0);
	assert_string_equal(p.text, "1>0:1 3>0:1 1>3:1 2>0:4 4>0:3 5>0:1 5>4:1 ");
	targets_free(ts);
}

/* Partial overlaps: the shorter range takes the shared stretch. */
static void
test_overlaps_partial(void **state)
{
	static const char *const want[] = { "127.53.0.11", "127.53.0.12", "127.53.0.13",
					     "127.53.0.14", "127.53.0.15", "127.53.0.16",
					     "127.53.0.1", "127.53.0.2", "127.53.0.3",
					     "127.53.0.4", "127.53.0.5", "127.53.0.6",
					     "127.53.0.7", "127.53.0.8", "127.53.0.9",
					     "127.53.0.10", NULL };
	static const uint32_t idx[] = { 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	struct target_set *ts = new_set();
	char err[256];

	(void)state;
	assert_int_equal(targets_add(ts, "127.53.0.5-16", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_add(ts, "127.53.0.1-10", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), 0);
	expect_stream(ts, want, idx);
	targets_free(ts);
}

static void
test_exclude_single(void **state)
{
	static const char *const want[] = { "127.53.0.0", "127.53.0.2", "127.53.0.3", NULL };
	struct target_set *ts = new_set();
	char err[256];

	(void)state;
	assert_int_equal(targets_add(ts, "127.53.0.0/30", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_exclude(ts, "127.53.0.1", err, sizeof(err)), 0);
	/* an IPv6 exclusion must not touch IPv4 targets */
	assert_int_equal(targets_exclude(ts, "::/0", err, sizeof(err)), 0);
	expect_stream(ts, want, NULL);
	targets_free(ts);
}

static int
in_excluded(const struct net_addr *a)
{
	/* 127.53.0.128/25, 127.53.0.200-127.53.1.10, 127.53.2.0/29 */
	if (a->family != AF_INET || a->bytes[0] != 127 || a->bytes[1] != 53)
		return 0;
	if (a->bytes[2] == 0)
		return a->bytes[3] >= 128;
	if (a->bytes[2] == 1)
		return a->bytes[3] <= 10;
	if (a->bytes[2] == 2)
		return a->bytes[3] <= 8;
	return 0;
}

static void
test_exclude_overlapping(void **state)
{
	struct target_set *ts = new_set();
	char err[256];

	(void)state;
	/* one exclusion before the targets: order must not matter */
	assert_int_equal(targets_exclude(ts, "127.53.0.128/25", err, sizeof(err)), 0);
	assert_int_equal(targets_add(ts, "127.53.0.0/24", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_add(ts, "127.53.1.0/24", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_add(ts, "127.53.2.0/28", NULL, err, sizeof(err)), 0);
	/* overlaps the first exclusion and spans two entries */
	assert_int_equal(targets_exclude(ts, "127.53.0.200-127.53.1.10", err, sizeof(err)), 0);
	assert_int_equal(targets_exclude(ts, "127.53.2.0/29", err, sizeof(err)), 0);
	/* adjacent to the one above: merged into one range */
	assert_int_equal(targets_exclude(ts, "127.53.2.8", err, sizeof(err)), 0);
	/* 128 + (256 - 11) + (16 - 9) */
	assert_int_equal(targets_total(ts), 380);
	assert_int_equal(count_stream(ts, in_excluded), 380);
	assert_int_equal(targets_count(ts), 3);
	targets_free(ts);
}

static void
test_exclude_name_and_file(void **state)
{
	struct target_set *ts = new_set();
	char path[] = "/tmp/test_targets_XXXXXX";
	char err[512];
	FILE *fp;
	int fd;

	(void)state;
	assert_int_equal(targets_add(ts, "127.53.0.0/28", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_exclude(ts, "ns1.example.test", err, sizeof(err)), 0);
	assert_int_equal(resolver_calls, 1);
	assert_int_equal(targets_total(ts), 14);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	fputs("# not these\n127.53.0.0\n127.53.0.14-127.53.0.15\n", fp);
	assert_int_equal(fclose(fp), 0);
	char arg[64];
	snprintf(arg, sizeof(arg), "@%s", path);
	assert_int_equal(targets_exclude(ts, arg, err, sizeof(err)), 0);
	assert_int_equal(targets_total(ts), 11);
	assert_int_equal(count_stream(ts, NULL), 11);

	assert_int_equal(targets_exclude(ts, "-", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "stdin"));
	assert_int_equal(targets_exclude(ts, "10.0.0.0/40", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad prefix"));
	assert_int_equal(targets_total(ts), 11);
	unlink(path);
	targets_free(ts);
}

static int
every_64th(const struct net_addr *a)
{
	return a->family == AF_INET && a->bytes[3] % 64 == 0;
}

/* A /16 with a thousand excludes given one by one: exact and quick. */
static void
test_exclude_many(void **state)
{
	struct target_set *ts = new_set();
	char err[256], text[32];

	(void)state;
	assert_int_equal(targets_add(ts, "127.54.0.0/16", NULL, err, sizeof(err)), 0);
	/* added out of order, and each one twice */
	for (int round = 0; round < 2; round++)
		for (int hi = 255; hi >= 0; hi--)
			for (int lo = 0; lo < 256; lo += 64) {
				snprintf(text, sizeof(text), "127.54.%d.%d", hi, lo);
				assert_int_equal(targets_exclude(ts, text, err, sizeof(err)), 0);
			}
	assert_int_equal(targets_total(ts), 65536 - 1024);
	assert_int_equal(count_stream(ts, every_64th), 65536 - 1024);
	targets_free(ts);
}

static void
test_cap(void **state)
{
	struct target_set *ts = new_set();
	char err[256] = "";

	(void)state;
	assert_int_equal(targets_add(ts, "10.0.0.0/8", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "targets cover 16777216 addresses, more than the cap of 1048576; "
			    "narrow them or raise it with --max-hosts");
	targets_set_max_hosts(ts, 1u << 24);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), 0);
	assert_int_equal(targets_total(ts), 16777216);
	/* the cap is before exclusion: excluding most of it does not help */
	targets_set_max_hosts(ts, TARGETS_DEFAULT_MAX_HOSTS);
	assert_int_equal(targets_exclude(ts, "10.0.0.0/9", err, sizeof(err)), 0);
	assert_int_equal(targets_total(ts), 8388608);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), -E2BIG);
	targets_free(ts);

	/* exactly the default cap is allowed */
	ts = new_set();
	assert_int_equal(targets_add(ts, "10.0.0.0/13", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_add(ts, "10.8.0.0/13", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), 0);
	assert_int_equal(targets_add(ts, "10.16.0.0", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "1048577 addresses"));
	targets_free(ts);

	ts = new_set();
	assert_int_equal(targets_add(ts, "fd53::/112", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), 0);
	assert_int_equal(targets_add(ts, "fd54::/104", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "16842752 addresses"));
	targets_set_max_hosts(ts, 0);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), 0);
	targets_free(ts);
}

static void
test_saturation(void **state)
{
	static const char *const first[] = { "::", "::1", "::2" };
	struct target_set *ts = new_set();
	struct target_iter it;
	struct net_addr a;
	char err[256] = "", buf[NETADDR_STRLEN];

	(void)state;
	assert_int_equal(targets_add(ts, "::/0", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_total(ts), UINT64_MAX);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "at least 18446744073709551615 addresses"));
	targets_set_max_hosts(ts, UINT64_MAX);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), 0);
	targets_iter_init(&it, ts);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(targets_iter_next(&it, &a, NULL), 1);
		assert_string_equal(str(&a, buf), first[i]);
	}
	/* a hole in the middle leaves two gaps of 2^127 - 1: the sum must not wrap */
	assert_int_equal(targets_exclude(ts, "8000::", err, sizeof(err)), 0);
	assert_int_equal(targets_total(ts), UINT64_MAX);
	/* with the last address gone too, nothing after the gaps saturates the sum for us */
	assert_int_equal(targets_exclude(ts, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", err,
					 sizeof(err)), 0);
	assert_int_equal(targets_total(ts), UINT64_MAX);
	/* 2^64 does not fit either; two /1 exclusions take everything */
	assert_int_equal(targets_add(ts, "::/64", NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_total(ts), UINT64_MAX);
	assert_int_equal(targets_exclude(ts, "8000::/1", err, sizeof(err)), 0);
	assert_int_equal(targets_total(ts), UINT64_MAX);
	assert_int_equal(targets_exclude(ts, "::/1", err, sizeof(err)), 0);
	assert_int_equal(targets_total(ts), 0);
	targets_iter_init(&it, ts);
	assert_int_equal(targets_iter_next(&it, &a, NULL), 0);
	targets_free(ts);
}

static void
write_file(char *path, const char *content)
{
	int fd = mkstemp(path);
	FILE *fp;

	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_true(fputs(content, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static void
test_file(void **state)
{
	static const char *const want[] = { "127.53.0.1", "127.53.0.2", "127.53.0.3", "fd53::1",
					    "127.53.0.9", "127.53.0.10", "fd53::9", NULL };
	static const uint32_t idx[] = { 0, 1, 1, 2, 3, 4, 5 };
	struct target_set *ts = new_set();
	char path[] = "/tmp/test_targets_XXXXXX", arg[64], err[512];

	(void)state;
	write_file(path, "# scan list\n"
			 "127.53.0.1\n"
			 "\n"
			 "   127.53.0.2/31   # two of them\r\n"
			 "\t\n"
			 "fd53::1\n"
			 "ns1.example.test");  /* no final newline */
	snprintf(arg, sizeof(arg), "@%s", path);
	assert_int_equal(targets_add(ts, arg, NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_count(ts), 6);
	assert_string_equal(targets_label(ts, 1), "127.53.0.2/31");
	assert_string_equal(targets_label(ts, 3), "ns1.example.test");
	assert_string_equal(targets_label(ts, 5), "ns1.example.test");
	expect_stream(ts, want, idx);
	unlink(path);
	targets_free(ts);
}

static void
test_file_errors(void **state)
{
	struct target_set *ts = new_set();
	char path[] = "/tmp/test_targets_XXXXXX", arg[64], err[512], want[128];

	(void)state;
	assert_int_equal(targets_add(ts, "127.53.0.100", NULL, err, sizeof(err)), 0);
	write_file(path, "127.53.0.1\n# fine\n10.0.0.0/33\n127.53.0.2\n");
	snprintf(arg, sizeof(arg), "@%s", path);
	assert_int_equal(targets_add(ts, arg, NULL, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: bad prefix '10.0.0.0/33'", path);
	assert_non_null(strstr(err, want));
	/* nothing of the bad file is kept */
	assert_int_equal(targets_count(ts), 1);
	assert_string_equal(targets_label(ts, 0), "127.53.0.100");
	assert_int_equal(targets_total(ts), 1);
	unlink(path);

	strcpy(path, "/tmp/test_targets_XXXXXX");
	write_file(path, "127.53.0.1\n@/etc/hosts\n");
	snprintf(arg, sizeof(arg), "@%s", path);
	assert_int_equal(targets_add(ts, arg, NULL, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: '@/etc/hosts': a target file cannot include another",
		 path);
	assert_string_equal(err, want);
	unlink(path);

	strcpy(path, "/tmp/test_targets_XXXXXX");
	write_file(path, "gone.example.test\n");
	snprintf(arg, sizeof(arg), "@%s", path);
	assert_int_equal(targets_add(ts, arg, NULL, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s:1: cannot resolve 'gone.example.test'", path);
	assert_non_null(strstr(err, want));
	unlink(path);

	/* a directory, or a FIFO (which would block an open without O_NONBLOCK): refused
	 * before a byte is read */
	assert_int_equal(targets_add(ts, "@/tmp", NULL, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "cannot read '/tmp': not a regular file");
	strcpy(path, "/tmp/test_targets_XXXXXX");
	assert_non_null(mkdtemp(path));
	snprintf(arg, sizeof(arg), "%s/fifo", path);
	assert_int_equal(mkfifo(arg, 0600), 0);
	snprintf(want, sizeof(want), "cannot read '%s': not a regular file", arg);
	snprintf(arg, sizeof(arg), "@%s/fifo", path);
	assert_int_equal(targets_add(ts, arg, NULL, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, want);
	snprintf(arg, sizeof(arg), "%s/fifo", path);
	unlink(arg);
	rmdir(path);
	assert_int_equal(targets_count(ts), 1);
	targets_free(ts);
}

/* A list without line breaks, or larger than the cap, is an error, not memory. */
static void
test_stream_caps(void **state)
{
	struct target_set *ts = new_set();
	size_t big = TARGETS_STREAM_MAX + 2;
	char *buf = malloc(big), err[256];
	FILE *in;

	(void)state;
	assert_non_null(buf);
	/* one line of TARGETS_LINE_MAX + 1 bytes */
	memset(buf, 'a', TARGETS_LINE_MAX + 1);
	in = fmemopen(buf, TARGETS_LINE_MAX + 1, "r");
	assert_int_equal(targets_add(ts, "-", in, err, sizeof(err)), -E2BIG);
	fclose(in);
	assert_string_equal(err, "<stdin>:1: line longer than 1024 bytes");
	/* short lines, more than the stream may hold */
	for (size_t i = 0; i < big; i++)
		buf[i] = i % 2 ? '\n' : '#';
	in = fmemopen(buf, big, "r");
	assert_int_equal(targets_add(ts, "-", in, err, sizeof(err)), -E2BIG);
	fclose(in);
	assert_string_equal(err, "<stdin>: more than 64 MiB of targets");
	assert_int_equal(targets_count(ts), 0);
	free(buf);
	targets_free(ts);
}

static void
test_stdin(void **state)
{
	static const char *const want[] = { "127.53.0.1", "127.53.0.2", "127.53.0.3", NULL };
	char good[] = "127.53.0.1\n# comment\n\n  127.53.0.2/31  # two\n";
	char bad[] = "127.53.0.1\n-\n";
	char nul[] = "127.53.0.1\n127.53\0.0.2\n";
	struct target_set *ts = new_set();
	char err[256];
	FILE *in;

	(void)state;
	in = fmemopen(good, strlen(good), "r");
	assert_non_null(in);
	assert_int_equal(targets_add(ts, "-", in, err, sizeof(err)), 0);
	fclose(in);
	assert_int_equal(targets_count(ts), 2);
	assert_string_equal(targets_label(ts, 1), "127.53.0.2/31");
	expect_stream(ts, want, NULL);

	in = fmemopen(bad, strlen(bad), "r");
	assert_non_null(in);
	assert_int_equal(targets_add(ts, "-", in, err, sizeof(err)), -EINVAL);
	fclose(in);
	assert_string_equal(err, "<stdin>:2: '-': a target file cannot include another");

	in = fmemopen(nul, sizeof(nul) - 1, "r");
	assert_non_null(in);
	assert_int_equal(targets_add(ts, "-", in, err, sizeof(err)), -EINVAL);
	fclose(in);
	assert_string_equal(err, "<stdin>:2: line contains a NUL byte");
	assert_int_equal(targets_count(ts), 2);
	targets_free(ts);
}

static void
test_names(void **state)
{
	static const char *const want[] = { "127.53.0.9", "127.53.0.10", "fd53::9", NULL };
	static const uint32_t idx[] = { 0, 1, 2 };
	struct target_set *ts = new_set();
	struct target_iter it;
	struct net_addr a;
	char err[256];

	(void)state;
	assert_int_equal(targets_add(ts, "ns1.example.test", NULL, err, sizeof(err)), 0);
	assert_int_equal(resolver_calls, 1);
	assert_string_equal(resolver_last, "ns1.example.test");
	assert_int_equal(targets_count(ts), 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(targets_label(ts, i), "ns1.example.test");
	expect_stream(ts, want, idx);
	targets_iter_init(&it, ts);
	assert_int_equal(targets_iter_next(&it, &a, NULL), 1);
	assert_int_equal(a.family, AF_INET);

	assert_int_equal(targets_add(ts, "gone.example.test", NULL, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "cannot resolve 'gone.example.test': Name or service not known");
	assert_int_equal(targets_count(ts), 3);
	targets_free(ts);
}

/* The one test that uses the system resolver, and only for "localhost". */
static void
test_system_localhost(void **state)
{
	struct target_set *ts = targets_new();
	struct target_iter it;
	struct net_addr a;
	char err[256] = "";
	uint64_t n = 0;

	(void)state;
	assert_non_null(ts);
	assert_int_equal(targets_add(ts, "localhost", NULL, err, sizeof(err)), 0);
	assert_true(targets_count(ts) >= 1);
	targets_iter_init(&it, ts);
	while (targets_iter_next(&it, &a, NULL)) {
		assert_true(net_addr_is_loopback(&a));
		n++;
	}
	assert_int_equal(n, targets_count(ts));
	targets_free(ts);
}

static void
test_messages_one_line(void **state)
{
	struct target_set *ts = new_set();
	char err[256], big[2048];

	(void)state;
	assert_int_equal(targets_add(ts, "10.0.0.1\nrm -rf", NULL, err, sizeof(err)), -EINVAL);
	assert_null(strchr(err, '\n'));
	assert_non_null(strstr(err, "'10.0.0.1?rm -rf'"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(targets_add(ts, big, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "...'"));
	assert_non_null(strstr(err, "longer than 253"));
	assert_int_equal(targets_add(ts, NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "empty target");
	assert_int_equal(targets_count(ts), 0);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), 0);
	assert_int_equal(targets_total(ts), 0);
	assert_int_equal(resolver_calls, 0);
	targets_free(ts);
}

/* targets_cover: the literal space as maximal runs, ascending, whatever the order given. */
struct cover_log {
	char text[512];
};

static int
cover_add(void *arg, const struct net_addr *first, const struct net_addr *last)
{
	struct cover_log *l = arg;
	char a[NETADDR_STRLEN], b[NETADDR_STRLEN];
	size_t n = strlen(l->text);

	snprintf(l->text + n, sizeof(l->text) - n, "%s-%s ", str(first, a), str(last, b));
	return 0;
}

static int
cover_stop(void *arg, const struct net_addr *first, const struct net_addr *last)
{
	(void)arg;
	(void)first;
	(void)last;
	return -EINTR;
}

static void
test_cover(void **state)
{
	static const char *const t[] = { "fd53::8/126", "127.53.0.10-127.53.0.20", "127.53.0.5",
					 "127.53.0.0/29", "ns1.example.test", "127.53.0.21",
					 "fd53::4/126", "127.53.0.15", "fd53::20" };
	struct target_set *ts = new_set();
	struct cover_log l = { "" };
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(targets_add(ts, t[i], NULL, err, sizeof(err)), 0);
	assert_int_equal(targets_exclude(ts, "127.53.0.12", err, sizeof(err)), 0);
	assert_int_equal(targets_finish(ts, err, sizeof(err)), 0);
	/* overlaps and neighbours merge (0/29 and .5; .10-.20 and .21, .15 inside), the
	 * name's addresses (127.53.0.9, .10, fd53::9) do not count, nor does the exclusion */
	assert_int_equal(targets_cover(ts, cover_add, &l), 0);
	assert_string_equal(l.text, "127.53.0.0-127.53.0.7 127.53.0.10-127.53.0.21 "
				    "fd53::4-fd53::b fd53::20-fd53::20 ");
	assert_int_equal(targets_cover(ts, cover_stop, NULL), -EINTR);
	targets_free(ts);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_cidr_iteration),
		cmocka_unit_test(test_range_iteration),
		cmocka_unit_test(test_ipv6_iteration),
		cmocka_unit_test(test_entries_in_order),
		cmocka_unit_test(test_overlaps),
		cmocka_unit_test(test_overlaps_partial),
		cmocka_unit_test(test_exclude_single),
		cmocka_unit_test(test_exclude_overlapping),
		cmocka_unit_test(test_exclude_name_and_file),
		cmocka_unit_test(test_exclude_many),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_saturation),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_stream_caps),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_system_localhost),
		cmocka_unit_test(test_messages_one_line),
		cmocka_unit_test(test_cover),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
