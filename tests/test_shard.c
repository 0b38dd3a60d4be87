/* test_shard: N shards of real target sets are disjoint, cover the set and are balanced. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "agent/shard.h"
#include "agent/targets.h"

/* ---- helpers ---- */

static void
set_addr(struct net_addr *a, const char *text)
{
	assert_int_equal(net_addr_parse(text, a), 0);
}

/* The fake resolver: names never touch DNS. */
static int
fake_resolve(const char *name, struct net_addr *out, size_t max, size_t *count, char *err,
	     size_t errlen)
{
	(void)err;
	(void)errlen;
	assert_true(max >= 3);
	*count = 0;
	if (strcmp(name, "ns.example.test") == 0) {
		set_addr(&out[0], "127.70.0.1");   /* outside every prefix: hashed */
		set_addr(&out[1], "fd53::7001");  /* outside too */
		set_addr(&out[2], "127.60.0.5");  /* inside 127.60.0.0/22: ranked */
		*count = 3;
		return 0;
	}
	return -ENOENT;
}

/* A finished target set from a NULL-terminated list (one with excludes after "!"). */
static struct target_set *
set_of(const char *const *texts)
{
	struct target_set *ts = targets_new();
	char err[512];
	int excl = 0;

	assert_non_null(ts);
	targets_set_resolver(ts, fake_resolve);
	targets_set_max_hosts(ts, 0);
	for (; *texts != NULL; texts++) {
		if (strcmp(*texts, "!") == 0) {
			excl = 1;
			continue;
		}
		if (excl)
			assert_int_equal(targets_exclude(ts, *texts, err, sizeof(err)), 0);
		else
			assert_int_equal(targets_add(ts, *texts, NULL, err, sizeof(err)), 0);
	}
	assert_int_equal(targets_finish(ts, err, sizeof(err)), 0);
	return ts;
}

struct addrs {
	struct net_addr *v;
	size_t n, cap;
};

static void
addrs_push(struct addrs *l, const struct net_addr *a)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	l->v[l->n++] = *a;
}

static int
cmp_addr(const void *a, const void *b)
{
	return net_addr_cmp(a, b);
}

static int
next_iter(void *arg, struct net_addr *a, uint32_t *tidx)
{
	return targets_iter_next(arg, a, tidx);
}

/* What one agent probes: the set's stream through its shard's filter, as scan does. */
static void
stream_shard(const struct target_set *ts, uint32_t i, uint32_t n, uint64_t seed,
	     struct addrs *out)
{
	struct shard_spec spec = { .index = i, .count = n, .seed = seed };
	struct shard *sh = NULL;
	struct target_iter it;
	struct shard_filter f;
	struct net_addr a;
	uint32_t tidx;
	char err[256];
	int rc;

	assert_int_equal(shard_new(ts, &spec, &sh, err, sizeof(err)), 0);
	targets_iter_init(&it, ts);
	f = (struct shard_filter){ .sh = sh, .next = next_iter, .next_arg = &it };
	while ((rc = shard_filter_next(&f, &a, &tidx)) == 1)
		addrs_push(out, &a);
	assert_int_equal(rc, 0);
	shard_free(sh);
}

static void
stream_all(const struct target_set *ts, struct addrs *out)
{
	struct target_iter it;
	struct net_addr a;

	targets_iter_init(&it, ts);
	while (targets_iter_next(&it, &a, NULL) == 1)
		addrs_push(out, &a);
}

/*
 * Shards 1..n of ts: their union, sorted, is the full stream sorted, element by element
 * (exactly the set, no address twice); sizes[] gets each shard's size. Returns the total.
 */
static size_t
check_split(const struct target_set *ts, uint32_t n, uint64_t seed, size_t *sizes)
{
	struct addrs all = { 0 }, uni = { 0 };

	stream_all(ts, &all);
	for (uint32_t i = 1; i <= n; i++) {
		size_t before = uni.n;
		stream_shard(ts, i, n, seed, &uni);
		sizes[i - 1] = uni.n - before;
	}
	qsort(all.v, all.n, sizeof(*all.v), cmp_addr);
	qsort(uni.v, uni.n, sizeof(*uni.v), cmp_addr);
	for (size_t k = 1; k < all.n; k++)
		assert_true(net_addr_cmp(&all.v[k - 1], &all.v[k]) < 0); /* the stream: once each */
	assert_int_equal(uni.n, all.n);
	for (size_t k = 0; k < all.n; k++)
		assert_int_equal(net_addr_cmp(&all.v[k], &uni.v[k]), 0);
	free(all.v);
	free(uni.v);
	return all.n;
}

/* Sizes differ by at most one: floor(total/n) or ceil(total/n). */
static void
assert_exact_balance(const size_t *sizes, uint32_t n, size_t total)
{
	for (uint32_t i = 0; i < n; i++) {
		assert_true(sizes[i] >= total / n);
		assert_true(sizes[i] <= total / n + (total % n != 0));
	}
}

/* A target file of 1,000 lines: a path in a fresh temporary directory. */
static void
write_file(char *path, size_t len, void (*line)(FILE *f, int i))
{
	char dir[] = "/tmp/test_shard.XXXXXX";
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, len, "%s/targets.txt", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "# 1,000 targets\n");
	for (int i = 0; i < 1000; i++)
		line(f, i);
	assert_int_equal(fclose(f), 0);
}

static void
remove_file(const char *path)
{
	char dir[256];

	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	unlink(path);
	rmdir(dir);
}

/* ---- tests ---- */

static void
test_parse(void **state)
{
	static const struct {
		const char *text;
		int rc;
		uint32_t i, n;
		const char *msg; /* part of the message */
	} cases[] = {
		{ "1/3", 0, 1, 3, NULL },
		{ "3/3", 0, 3, 3, NULL },
		{ "1/1", 0, 1, 1, NULL },
		{ "65535/65535", 0, 65535, 65535, NULL },
		{ "0/3", -EINVAL, 0, 0, "'0/3': I must be from 1 to 3" },
		{ "4/3", -EINVAL, 0, 0, "'4/3': I must be from 1 to 3" },
		{ "1/0", -EINVAL, 0, 0, "'1/0': N must be from 1 to 65535" },
		{ "1/65536", -EINVAL, 0, 0, "N must be from 1 to 65535" },
		{ "junk", -EINVAL, 0, 0, "'junk' is not I/N" },
		{ "", -EINVAL, 0, 0, "is not I/N" },
		{ "1/", -EINVAL, 0, 0, "is not I/N" },
		{ "/3", -EINVAL, 0, 0, "is not I/N" },
		{ "1/3x", -EINVAL, 0, 0, "is not I/N" },
		{ "-1/3", -EINVAL, 0, 0, "is not I/N" },
		{ "1/+3", -EINVAL, 0, 0, "is not I/N" },
		{ " 1/3", -EINVAL, 0, 0, "is not I/N" },
		{ "1/3/5", -EINVAL, 0, 0, "is not I/N" },
		{ "1.5/3", -EINVAL, 0, 0, "is not I/N" },
	};
	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct shard_spec s = { .index = 99, .count = 99, .seed = 7 };
		char err[256] = "";
		int rc = shard_parse(cases[k].text, &s, err, sizeof(err));

		if (rc != cases[k].rc)
			fail_msg("'%s': rc %d, want %d (%s)", cases[k].text, rc, cases[k].rc, err);
		assert_int_equal(s.seed, 7);
		if (rc == 0) {
			assert_int_equal(s.index, cases[k].i);
			assert_int_equal(s.count, cases[k].n);
			continue;
		}
		if (strstr(err, cases[k].msg) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'", cases[k].text, err, cases[k].msg);
		assert_null(strchr(err, '\n'));
	}
}

/* The case: a /22 over 3 agents; and over other counts. */
static void
test_slash22(void **state)
{
	static const char *const t[] = { "127.60.0.0/22", NULL };
	struct target_set *ts = set_of(t);
	size_t sizes[7];

	(void)state;
	assert_int_equal(check_split(ts, 3, 0, sizes), 1024);
	assert_exact_balance(sizes, 3, 1024); /* 341, 341, 342 in some order */
	for (uint32_t n = 2; n <= 7; n++) {
		assert_int_equal(check_split(ts, n, 12345, sizes), 1024);
		assert_exact_balance(sizes, n, 1024);
	}
	targets_free(ts);
}

static void
line_singles(FILE *f, int i)
{
	if (i % 2 == 0)
		fprintf(f, "127.63.%d.%d\n", i / 200, i % 200 + 1);
	else
		fprintf(f, "fd53:2::%x   # host %d\n", i, i);
}

/* 1,000 lines of distinct v4 and v6 addresses: 333/333/334, as the issue says. */
static void
test_file_1000(void **state)
{
	char path[256], arg[260];
	const char *t[] = { arg, NULL };
	struct target_set *ts;
	size_t sizes[3], k, ones = 0, threes = 0;

	(void)state;
	write_file(path, sizeof(path), line_singles);
	snprintf(arg, sizeof(arg), "@%s", path);
	ts = set_of(t);
	assert_int_equal(check_split(ts, 3, 0, sizes), 1000);
	for (k = 0; k < 3; k++) {
		ones += sizes[k] == 333;
		threes += sizes[k] == 334;
	}
	assert_int_equal(ones, 2);
	assert_int_equal(threes, 1);
	targets_free(ts);
	remove_file(path);
}

/* 250 v4 addresses (25 of them inside a v4 prefix below), 250 v6 addresses, 250 v4 /30s
 * and 250 v6 /126s: 2,475 addresses, the overlaps once. */
static void
line_mixed(FILE *f, int i)
{
	int j = i / 4;

	switch (i % 4) {
	case 0:
		if (j % 10 == 0)
			fprintf(f, "127.62.%d.%d\n", j / 64, (j % 64) * 4 + 1);
		else
			fprintf(f, "127.61.%d.%d\n", j / 200, j % 200 + 1);
		break;
	case 1:
		fprintf(f, "fd53::%x\n", 0x1000 + j);
		break;
	case 2:
		fprintf(f, "127.62.%d.%d/30\n", j / 64, (j % 64) * 4);
		break;
	default:
		fprintf(f, "fd53:1::%x/126\n", j * 4);
		break;
	}
}

static void
test_file_mixed(void **state)
{
	char path[256], arg[260];
	const char *t[] = { arg, NULL };
	struct target_set *ts;
	size_t sizes[5];

	(void)state;
	write_file(path, sizeof(path), line_mixed);
	snprintf(arg, sizeof(arg), "@%s", path);
	ts = set_of(t);
	assert_int_equal(check_split(ts, 3, 99, sizes), 2475);
	assert_exact_balance(sizes, 3, 2475); /* 825 each */
	assert_int_equal(check_split(ts, 5, 99, sizes), 2475);
	assert_exact_balance(sizes, 5, 2475);
	targets_free(ts);
	remove_file(path);
}

/* Everything from one set's owners, for comparing assignments. */
static uint32_t *
owners(const struct target_set *ts, uint32_t n, uint64_t seed, const struct addrs *a)
{
	struct shard_spec spec = { .index = 1, .count = n, .seed = seed };
	struct shard *sh = NULL;
	uint32_t *o = calloc(a->n + 1, sizeof(*o));
	char err[256];

	assert_non_null(o);
	assert_int_equal(shard_new(ts, &spec, &sh, err, sizeof(err)), 0);
	for (size_t k = 0; k < a->n; k++) {
		o[k] = shard_owner(sh, &a->v[k]);
		assert_true(o[k] >= 1 && o[k] <= n);
	}
	shard_free(sh);
	return o;
}

/* The same seed and targets: the same split, whatever order the targets come in (agents'
 * configs may list them differently); another seed: another split. */
static void
test_deterministic(void **state)
{
	static const char *const fwd[] = { "127.60.0.0/22", "fd53::/118", "127.60.4.7",
					   "127.60.1.0/24", NULL };
	static const char *const rev[] = { "127.60.1.0/24", "127.60.4.7", "fd53::/118",
					   "127.60.0.0/22", NULL };
	struct target_set *a = set_of(fwd), *b = set_of(rev);
	struct addrs all = { 0 };
	uint32_t *o1, *o2, *o3, *o4;
	size_t differ = 0;

	(void)state;
	stream_all(a, &all);
	assert_int_equal(all.n, 1024 + 1024 + 1);
	o1 = owners(a, 3, 42, &all);
	o2 = owners(a, 3, 42, &all);
	o3 = owners(b, 3, 42, &all);
	o4 = owners(a, 3, 43, &all);
	assert_memory_equal(o1, o2, all.n * sizeof(*o1));
	assert_memory_equal(o1, o3, all.n * sizeof(*o1));
	for (size_t k = 0; k < all.n; k++)
		differ += o1[k] != o4[k];
	/* an unrelated split of 3 moves about two thirds of the addresses */
	assert_true(differ > all.n / 2);
	/* and it is no plain stripe: neighbours do not simply take turns */
	differ = 0;
	for (size_t k = 1; k < 1024; k++)
		differ += o1[k] == (o1[k - 1] % 3) + 1;
	assert_true(differ < 1024 / 2);
	free(o1);
	free(o2);
	free(o3);
	free(o4);
	free(all.v);
	targets_free(a);
	targets_free(b);
}

/* N=1: one shard, everything in it. */
static void
test_one_shard(void **state)
{
	static const char *const t[] = { "127.60.0.0/22", "fd53::1-fd53::40", "ns.example.test",
					 NULL };
	struct target_set *ts = set_of(t);
	size_t sizes[1];

	(void)state;
	assert_int_equal(check_split(ts, 1, 5, sizes), 1024 + 64 + 2);
	assert_int_equal(sizes[0], 1024 + 64 + 2);
	targets_free(ts);
}

/* A name's addresses: the ones inside a prefix are ranked with it, the others hashed; the
 * split still covers everything once, and each goes to the same shard as without the name
 * (an agent whose resolver answers differently disagrees on nothing else). */
static void
test_names(void **state)
{
	static const char *const with[] = { "127.60.0.0/22", "ns.example.test", NULL };
	static const char *const without[] = { "127.60.0.0/22", NULL };
	struct target_set *a = set_of(with), *b = set_of(without);
	struct addrs all = { 0 };
	uint32_t *oa, *ob;
	size_t sizes[3];

	(void)state;
	assert_int_equal(check_split(a, 3, 8, sizes), 1024 + 2);
	stream_all(a, &all);
	oa = owners(a, 3, 8, &all);
	ob = owners(b, 3, 8, &all);
	assert_memory_equal(oa, ob, all.n * sizeof(*oa));
	free(oa);
	free(ob);
	free(all.v);
	targets_free(a);
	targets_free(b);
}

/* Exclusions come after the split: the rest keeps its owners, and nothing is lost. */
static void
test_exclusions(void **state)
{
	static const char *const with[] = { "127.60.0.0/22", "!", "127.60.2.0/25", NULL };
	static const char *const without[] = { "127.60.0.0/22", NULL };
	struct target_set *a = set_of(with), *b = set_of(without);
	struct addrs all = { 0 };
	uint32_t *oa, *ob;
	size_t sizes[3];

	(void)state;
	assert_int_equal(check_split(a, 3, 1, sizes), 1024 - 128);
	stream_all(a, &all);
	oa = owners(a, 3, 1, &all);
	ob = owners(b, 3, 1, &all);
	assert_memory_equal(oa, ob, all.n * sizeof(*oa));
	free(oa);
	free(ob);
	free(all.v);
	targets_free(a);
	targets_free(b);
}

/* A million addresses (the default host cap): exact balance, and quick. */
static void
test_large(void **state)
{
	static const char *const t[] = { "127.0.0.0/12", NULL };
	struct target_set *ts = set_of(t);
	size_t sizes[7];

	(void)state;
	assert_int_equal(check_split(ts, 7, 2026, sizes), 1u << 20);
	assert_exact_balance(sizes, 7, 1u << 20);
	targets_free(ts);
}

/* An IPv6 /64 alone is 2^64 addresses: too many to number, said so. */
static void
test_too_large(void **state)
{
	static const char *const t[] = { "fd53::/64", NULL };
	static const char *const ok[] = { "fd53::/65", NULL };
	struct shard_spec spec = { .index = 1, .count = 2 };
	struct target_set *ts = set_of(t), *ts2 = set_of(ok);
	struct shard *sh = NULL;
	struct net_addr a;
	char err[256] = "";

	(void)state;
	assert_int_equal(shard_new(ts, &spec, &sh, err, sizeof(err)), -E2BIG);
	assert_null(sh);
	assert_non_null(strstr(err, "2^64"));
	/* 2^63 addresses still work, and ranks near the top permute into range */
	assert_int_equal(shard_new(ts2, &spec, &sh, err, sizeof(err)), 0);
	set_addr(&a, "fd53::7fff:ffff:ffff:ffff");
	assert_true(shard_owner(sh, &a) >= 1 && shard_owner(sh, &a) <= 2);
	shard_free(sh);
	targets_free(ts);
	targets_free(ts2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_slash22),
		cmocka_unit_test(test_file_1000),
		cmocka_unit_test(test_file_mixed),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_one_shard),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_exclusions),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_too_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
