/* test_util: number/duration parsing, message and address helpers of common/. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "common/fileio.h"
#include "common/netaddr.h"
#include "common/util.h"

static void
test_durations(void **state)
{
	static const struct {
		const char *text;
		int rc;
		uint64_t ns;
	} cases[] = {
		{ "800ms", 0, 800 * NS_PER_MS }, { "2s", 0, 2 * NS_PER_SEC },
		{ "1.5s", 0, 1500 * NS_PER_MS }, { "5m", 0, 300 * NS_PER_SEC },
		{ "1h", 0, 3600 * NS_PER_SEC },  { "3", -EINVAL, 0 },
		{ "1h30m", 0, 5400 * NS_PER_SEC }, { "3m05s", 0, 185 * NS_PER_SEC },
		{ "1m1.5s", 0, 61500 * NS_PER_MS }, { "1s500ms", 0, 1500 * NS_PER_MS },
		{ "30m1h", -EINVAL, 0 },         { "1s1s", -EINVAL, 0 },
		{ "1h30", -EINVAL, 0 },          { "1e3s", -EINVAL, 0 },
		{ "0x10s", -EINVAL, 0 },         { "1..5s", -EINVAL, 0 },
		{ ".s", -EINVAL, 0 },            { "inf", -EINVAL, 0 },
		{ "1h 30m", -EINVAL, 0 },        { "6d23h59m", 0, (6 * 86400 + 86340) * NS_PER_SEC },
		{ "0ms", 0, 0 },                 { "5x", -EINVAL, 0 },
		{ "", -EINVAL, 0 },              { "-1s", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },             { "1 s", -EINVAL, 0 },
		{ "nan", -EINVAL, 0 },           { "1000h", -ERANGE, 0 },
		{ "2d", 0, 2 * 86400 * NS_PER_SEC }, { "8d", -ERANGE, 0 },
		{ "1dd", -EINVAL, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 12345;
		int rc = util_parse_duration(cases[i].text, &ns);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_int_equal(ns, cases[i].ns);
		else
			assert_int_equal(ns, 12345); /* untouched on error */
	}
}

static void
test_duration_max(void **state)
{
	uint64_t ns = 0;
	(void)state;
	assert_int_equal(util_parse_duration_max("400d", 36500ull * 86400 * NS_PER_SEC, &ns), 0);
	assert_int_equal(ns, 400ull * 86400 * NS_PER_SEC);
	assert_int_equal(util_parse_duration_max("0.5d", 36500ull * 86400 * NS_PER_SEC, &ns), 0);
	assert_int_equal(ns, 43200ull * NS_PER_SEC);
	assert_int_equal(util_parse_duration_max("2h", 3600 * NS_PER_SEC, &ns), -ERANGE);
}

static void
test_uints(void **state)
{
	uint64_t v = 0;
	(void)state;
	assert_int_equal(util_parse_uint("53", 1, 65535, &v), 0);
	assert_int_equal(v, 53);
	assert_int_equal(util_parse_uint("0", 1, 65535, &v), -ERANGE);
	assert_int_equal(util_parse_uint("65536", 1, 65535, &v), -ERANGE);
	assert_int_equal(util_parse_uint("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(util_parse_uint("-1", 0, 10, &v), -EINVAL);
	assert_int_equal(util_parse_uint("+1", 0, 10, &v), -EINVAL);
	assert_int_equal(util_parse_uint("12a", 0, 100, &v), -EINVAL);
	assert_int_equal(util_parse_uint("", 0, 100, &v), -EINVAL);
	assert_int_equal(util_parse_uint(" 1", 0, 100, &v), -EINVAL);
}

static void
test_netaddr(void **state)
{
	struct net_addr a, b;
	struct sockaddr_storage ss;
	char buf[NETADDR_STRLEN];
	uint16_t port = 0;
	(void)state;

	assert_int_equal(net_addr_parse("127.53.0.9", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_string_equal(net_addr_str(&a, buf, sizeof(buf)), "127.53.0.9");
	assert_true(net_addr_is_loopback(&a));
	assert_int_equal(net_addr_parse("fd53::2", &b), 0);
	assert_int_equal(b.family, AF_INET6);
	assert_false(net_addr_is_loopback(&b));
	assert_true(net_addr_cmp(&a, &b) < 0);
	assert_int_equal(net_addr_parse("::1", &b), 0);
	assert_true(net_addr_is_loopback(&b));
	assert_int_equal(net_addr_parse("::ffff:127.0.0.53", &b), 0);
	assert_true(net_addr_is_loopback(&b));
	assert_int_equal(net_addr_parse("0.0.0.0", &b), 0);
	assert_true(net_addr_is_any(&b));
	assert_int_equal(net_addr_parse("::", &b), 0);
	assert_true(net_addr_is_any(&b));
	assert_int_equal(net_addr_parse("127.0.0.256", &b), -EINVAL);
	assert_int_equal(net_addr_parse("example.test", &b), -EINVAL);

	socklen_t len = net_addr_to_sockaddr(&a, 53, &ss);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(net_addr_from_sockaddr((struct sockaddr *)&ss, &b, &port), 0);
	assert_int_equal(port, 53);
	assert_int_equal(net_addr_cmp(&a, &b), 0);
}

static void
test_format_duration(void **state)
{
	char buf[32];
	(void)state;
	assert_string_equal(util_fmt_duration(850 * NS_PER_MS, buf, sizeof(buf)), "850ms");
	assert_string_equal(util_fmt_duration(1200 * NS_PER_MS, buf, sizeof(buf)), "1.2s");
	assert_string_equal(util_fmt_duration(185 * NS_PER_SEC, buf, sizeof(buf)), "3m05s");
}

static void
test_random_differs(void **state)
{
	uint8_t a[16], b[16];
	(void)state;
	assert_int_equal(util_random(a, sizeof(a)), 0);
	assert_int_equal(util_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
}

static void
test_file_read_and_atomic_write(void **state)
{
	char dir[] = "/tmp/w53fileioXXXXXX", path[64], tmp[80];
	char *buf = NULL;
	size_t len = 0;
	struct stat sb;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(file_write_atomic(path, "0123456789", 10, 0600), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	assert_int_equal(access(tmp, F_OK), -1); /* no temp file left behind */
	/* exactly the cap is fine, one byte more is not */
	assert_int_equal(file_read_all(path, 10, &buf, &len), 0);
	assert_int_equal(len, 10);
	assert_string_equal(buf, "0123456789");
	free(buf);
	assert_int_equal(file_read_all(path, 9, &buf, &len), -EFBIG);
	/* replacing keeps the new content whole */
	assert_int_equal(file_write_atomic(path, "ab", 2, 0600), 0);
	assert_int_equal(file_read_all(path, 10, &buf, &len), 0);
	assert_int_equal(len, 2);
	assert_string_equal(buf, "ab");
	free(buf);
	assert_int_equal(file_read_all(dir, 10, &buf, &len), -EISDIR);
	assert_int_equal(file_read_all("/nonexistent-w53", 10, &buf, &len), -ENOENT);
	unlink(path);
	/* a FIFO with no writer: refused at once, where a blocking open() would wait forever */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(file_read_all(path, 10, &buf, &len), -EINVAL);
	unlink(path);
	rmdir(dir);
}

/* The dirfd forms follow nothing at the name: a link is refused for reading and replaced
 * (not written through) for writing; a leftover temp file of our pid, even a link, is
 * removed, never written through. */
static void
test_file_at_variants(void **state)
{
	char dir[] = "/tmp/w53fileatXXXXXX", other[] = "/tmp/w53fileat_otherXXXXXX";
	char p[128], tmp[64], *buf = NULL;
	size_t len = 0;
	struct stat sb, before;
	int dfd;
	(void)state;

	assert_non_null(mkdtemp(dir));
	assert_non_null(mkdtemp(other));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(file_write_atomic_at(dfd, "f", "0123456789", 10, 0600), 0);
	assert_int_equal(fstatat(dfd, "f", &sb, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "f.tmp.%ld", (long)getpid());
	assert_int_equal(faccessat(dfd, tmp, F_OK, AT_SYMLINK_NOFOLLOW), -1);
	/* the same cap rule as file_read_all */
	assert_int_equal(file_read_at(dfd, "f", 10, &buf, &len), 0);
	assert_int_equal(len, 10);
	assert_string_equal(buf, "0123456789");
	free(buf);
	assert_int_equal(file_read_at(dfd, "f", 9, &buf, &len), -EFBIG);
	assert_int_equal(file_read_at(dfd, "none", 9, &buf, &len), -ENOENT);

	/* a link to a file elsewhere: not read, and a write replaces the link itself */
	snprintf(p, sizeof(p), "%s/target", other);
	assert_int_equal(file_write_atomic(p, "outside", 7, 0600), 0);
	assert_int_equal(stat(p, &before), 0);
	assert_int_equal(symlinkat(p, dfd, "l"), 0);
	assert_int_equal(file_read_at(dfd, "l", 100, &buf, &len), -ELOOP);
	assert_int_equal(file_write_atomic_at(dfd, "l", "inside", 6, 0600), 0);
	assert_int_equal(fstatat(dfd, "l", &sb, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(file_read_all(p, 100, &buf, &len), 0);
	assert_string_equal(buf, "outside");
	free(buf);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_ino, before.st_ino);

	/* a leftover temp file of our pid that is a link: removed, the target untouched */
	snprintf(tmp, sizeof(tmp), "g.tmp.%ld", (long)getpid());
	assert_int_equal(symlinkat(p, dfd, tmp), 0);
	assert_int_equal(file_write_atomic_at(dfd, "g", "new", 3, 0600), 0);
	assert_int_equal(file_read_at(dfd, "g", 100, &buf, &len), 0);
	assert_string_equal(buf, "new");
	free(buf);
	assert_int_equal(faccessat(dfd, tmp, F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(file_read_all(p, 100, &buf, &len), 0);
	assert_string_equal(buf, "outside");
	free(buf);

	/* nothing but a regular file, and nothing but one name of dfd itself */
	assert_int_equal(mkdirat(dfd, "d", 0700), 0);
	assert_int_equal(file_read_at(dfd, "d", 100, &buf, &len), -EISDIR);
	assert_int_equal(mkfifoat(dfd, "p", 0600), 0);
	assert_int_equal(file_read_at(dfd, "p", 100, &buf, &len), -EINVAL);
	assert_int_equal(file_read_at(dfd, "d/../f", 100, &buf, &len), -EINVAL);
	assert_int_equal(file_read_at(dfd, "..", 100, &buf, &len), -EINVAL);
	assert_int_equal(file_write_atomic_at(dfd, "d/x", "x", 1, 0600), -EINVAL);
	assert_int_equal(file_write_atomic_at(dfd, "", "x", 1, 0600), -EINVAL);
	assert_int_equal(faccessat(dfd, "d/x", F_OK, AT_SYMLINK_NOFOLLOW), -1);

	unlinkat(dfd, "p", 0);
	unlinkat(dfd, "d", AT_REMOVEDIR);
	unlinkat(dfd, "g", 0);
	unlinkat(dfd, "l", 0);
	unlinkat(dfd, "f", 0);
	close(dfd);
	unlink(p);
	rmdir(other);
	rmdir(dir);
}

static void
test_errf(void **state)
{
	char e[8] = "zz";
	(void)state;

	util_errf(e, 0, "%s", "not written");
	assert_string_equal(e, "zz");
	util_errf(NULL, 16, "%s", "nowhere"); /* no buffer: nothing to do, no crash */
	util_errf(e, sizeof(e), "%s-%d", "ab", 42);
	assert_string_equal(e, "ab-42");
	util_errf(e, 4, "%s", "abcdef"); /* cut to fit, still terminated */
	assert_string_equal(e, "abc");
}

static void
test_printable(void **state)
{
	static const struct {
		const char *text;
		unsigned flags;
		const char *want; /* in an 8-byte buffer: 7 bytes fit, a cut keeps 4 */
	} cases[] = {
		{ "abc", 0, "abc" },
		{ "", 0, "" },
		{ "a\tb\x7f\n", 0, "a?b??" },
		{ "1234567", 0, "1234567" }, /* exactly fits: not cut */
		{ "12345678", 0, "1234..." },
		{ "caf\xc3\xa9", 0, "caf\xc3\xa9" }, /* UTF-8 passes */
		{ "caf\xc3\xa9", UTIL_PRINT_ASCII, "caf??" },
		/* never cut inside a character, unless every byte >= 0x80 is a '?' anyway */
		{ "abc\xc3\xa9" "defg", 0, "abc..." },
		{ "ab\xe2\x82\xacxyz", 0, "ab..." },
		{ "abc\xc3\xa9" "defg", UTIL_PRINT_ASCII, "abc?..." },
	};
	char buf[8], small[4];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'X', sizeof(buf));
		assert_ptr_equal(util_printable(cases[i].text, buf, sizeof(buf), cases[i].flags),
				 buf);
		assert_string_equal(buf, cases[i].want);
	}
	assert_string_equal(util_printable("abc", small, sizeof(small), 0), "abc");
	assert_string_equal(util_printable("abcd", small, sizeof(small), 0), "...");
	assert_string_equal(util_printable("abc", small, 3, 0), ""); /* no room for "..." */
	assert_string_equal(util_printable("ab", small, 3, 0), "ab");
	small[0] = 'Z';
	assert_string_equal(util_printable("ab", small, 0, 0), "");
	assert_int_equal(small[0], 'Z');
}

/* The one UTC time format of events, sniff records and history. */
static void
test_format_utc_ms(void **state)
{
	char buf[40];

	(void)state;
	assert_string_equal(util_fmt_utc_ms(0, buf, sizeof(buf)), "1970-01-01T00:00:00.000Z");
	/* 2026-11-27T09:43:14.123999999Z: milliseconds are truncated, not rounded */
	assert_string_equal(util_fmt_utc_ms(1795772594123999999ull, buf, sizeof(buf)),
			    "2026-11-27T09:43:14.123Z");
	/* cut to fit, NUL-terminated */
	assert_string_equal(util_fmt_utc_ms(0, buf, 11), "1970-01-01");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_duration_max),
		cmocka_unit_test(test_uints),
		cmocka_unit_test(test_netaddr),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_format_utc_ms),
		cmocka_unit_test(test_random_differs),
		cmocka_unit_test(test_file_read_and_atomic_write),
		cmocka_unit_test(test_file_at_variants),
		cmocka_unit_test(test_errf),
		cmocka_unit_test(test_printable),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
