/* test_sdnotify: $NOTIFY_SOCKET addresses (path and @abstract), messages as received by a
 * real datagram socket, $WATCHDOG_USEC / $WATCHDOG_PID. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/sdnotify.h"

static void
test_addr(void **state)
{
	struct sockaddr_un sa;
	socklen_t len;
	char longname[200];

	(void)state;
	assert_int_equal(sdnotify_addr("/run/systemd/notify", &sa, &len), 0);
	assert_string_equal(sa.sun_path, "/run/systemd/notify");
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 20);
	/* abstract: leading NUL, length without a terminator */
	assert_int_equal(sdnotify_addr("@w53/notify", &sa, &len), 0);
	assert_int_equal(sa.sun_path[0], '\0');
	assert_memory_equal(sa.sun_path + 1, "w53/notify", 10);
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 11);
	assert_int_equal(sdnotify_addr("relative/sock", &sa, &len), -EINVAL);
	assert_int_equal(sdnotify_addr("", &sa, &len), -EINVAL);
	assert_int_equal(sdnotify_addr("@", &sa, &len), -EINVAL);
	assert_int_equal(sdnotify_addr(NULL, &sa, &len), -EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(sdnotify_addr(longname, &sa, &len), -ENAMETOOLONG);
}

/* Bind a receiver at name, point NOTIFY_SOCKET at it, send, read back. */
static void
roundtrip(const char *name)
{
	struct sockaddr_un sa;
	struct sdnotify n;
	socklen_t len;
	char buf[256], err[256];
	ssize_t r;
	int rx;

	assert_int_equal(sdnotify_addr(name, &sa, &len), 0);
	rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(rx >= 0);
	assert_int_equal(bind(rx, (struct sockaddr *)&sa, len), 0);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(sdnotify_open(&n, err, sizeof(err)), 0);
	assert_true(n.fd >= 0);
	assert_int_equal(sdnotify_send(&n, "READY=1\nSTATUS=started"), 0);
	r = recv(rx, buf, sizeof(buf) - 1, 0);
	assert_int_equal(r, 22);
	buf[r] = '\0';
	assert_string_equal(buf, "READY=1\nSTATUS=started");
	assert_int_equal(sdnotify_sendf(&n, "STATUS=%d cycles", 42), 0);
	r = recv(rx, buf, sizeof(buf) - 1, 0);
	assert_true(r > 0);
	buf[r] = '\0';
	assert_string_equal(buf, "STATUS=42 cycles");
	sdnotify_close(&n);
	assert_int_equal(n.fd, -1);
	close(rx);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_send_path(void **state)
{
	char dir[] = "/tmp/w53-sdnotify.XXXXXX", path[64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	roundtrip(path);
	unlink(path);
	rmdir(dir);
}

static void
test_send_abstract(void **state)
{
	char name[64];

	(void)state;
	snprintf(name, sizeof(name), "@w53-test-notify-%ld", (long)getpid());
	roundtrip(name);
}

static void
test_not_under_systemd(void **state)
{
	struct sdnotify n;
	char err[256];

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(sdnotify_open(&n, err, sizeof(err)), 0);
	assert_int_equal(n.fd, -1);
	assert_int_equal(sdnotify_send(&n, "READY=1"), 0); /* a no-op */
	/* nobody listening there: an error with a message, and no socket kept */
	setenv("NOTIFY_SOCKET", "/nonexistent/w53/notify", 1);
	assert_true(sdnotify_open(&n, err, sizeof(err)) < 0);
	assert_int_equal(n.fd, -1);
	assert_non_null(strstr(err, "/nonexistent/w53/notify"));
	setenv("NOTIFY_SOCKET", "notify", 1);
	assert_int_equal(sdnotify_open(&n, err, sizeof(err)), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_watchdog(void **state)
{
	char pid[32];

	(void)state;
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(sdnotify_watchdog_ns(), 0);
	setenv("WATCHDOG_USEC", "3000000", 1);
	assert_int_equal(sdnotify_watchdog_ns(), 3000000000ull);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(sdnotify_watchdog_ns(), 3000000000ull);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1); /* meant for another process */
	assert_int_equal(sdnotify_watchdog_ns(), 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "soon", 1);
	assert_int_equal(sdnotify_watchdog_ns(), 0);
	setenv("WATCHDOG_USEC", "0", 1);
	assert_int_equal(sdnotify_watchdog_ns(), 0);
	unsetenv("WATCHDOG_USEC");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_send_path),
		cmocka_unit_test(test_send_abstract),
		cmocka_unit_test(test_not_under_systemd),
		cmocka_unit_test(test_watchdog),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
