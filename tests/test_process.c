/* test_process: the pid file (content, lock, refusal naming the holder, removal), user
 * lookup, reading the capability sets. (Dropping privileges is tested as root, end to end,
 * in tests/integration/daemon.int.) */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/process.h"

static void
test_pidfile(void **state)
{
	char dir[] = "/tmp/w53-process.XXXXXX", path[64], buf[64], want[32], err[256];
	FILE *f;
	int fd, fd2;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/w53.pid", dir);
	/* a stale file from a crash (nobody holds its lock) is no obstacle */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("99999999\n", f);
	fclose(f);

	fd = process_pidfile_open(path, err, sizeof(err));
	assert_true(fd >= 0);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	assert_string_equal(buf, want);

	/* a second instance: refused, and told who runs (the flock is per open file, so
	 * this process's second open conflicts like another process would) */
	fd2 = process_pidfile_open(path, err, sizeof(err));
	assert_int_equal(fd2, -EWOULDBLOCK);
	snprintf(want, sizeof(want), "pid %ld", (long)getpid());
	assert_non_null(strstr(err, "another watch53 is running"));
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, path));

	process_pidfile_close(path, fd);
	assert_int_equal(access(path, F_OK), -1);
	/* free again */
	fd = process_pidfile_open(path, err, sizeof(err));
	assert_true(fd >= 0);
	process_pidfile_close(path, fd);
	process_pidfile_close(path, -1); /* a no-op */

	snprintf(path, sizeof(path), "%s/missing/w53.pid", dir);
	assert_int_equal(process_pidfile_open(path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	rmdir(dir);
}

static void
test_user_lookup(void **state)
{
	struct process_user u;
	char err[256];

	(void)state;
	assert_int_equal(process_user_lookup("root", &u, err, sizeof(err)), 0);
	assert_int_equal(u.uid, 0);
	assert_int_equal(u.gid, 0);
	assert_string_equal(u.name, "root");
	assert_int_equal(process_user_lookup("no-such-user-w53", &u, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no-such-user-w53"));
}

static void
test_caps(void **state)
{
	uint64_t eff = 42, prm = 42;

	(void)state;
	assert_int_equal(process_caps(&eff, &prm), 0);
	/* whoever runs the test: the effective set is within the permitted one */
	assert_int_equal(eff & ~prm, 0);
	assert_true(eff != 42 || prm != 42); /* both were read */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pidfile),
		cmocka_unit_test(test_user_lookup),
		cmocka_unit_test(test_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
