/* test_audit: procfs socket tables and fd links in a fixture tree, decoded into listeners. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include <errno.h>
#include <ftw.h>
#include <limits.h>
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

#include "agent/audit.h"

#define TCP_HEADER \
	"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     \n"
#define UDP_HEADER \
	"   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            \n"
#define UDP6_HEADER \
	"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"

/* Rows in the kernel's layout; addresses are per-word host-order hex (little endian here). */
static const char tcp_rows[] =
	TCP_HEADER
	/* 127.0.0.1:53 LISTEN */
	"   0: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0                     \n"
	/* 0.0.0.0:53 LISTEN */
	"   1: 00000000:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 100 0 0 10 0                     \n"
	/* 127.53.0.9:53 LISTEN */
	"   2: 0900357F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 1003 1 0000000000000000 100 0 0 10 0                     \n"
	/* 192.0.2.10:53 LISTEN, owner unknown */
	"   3: 0A0200C0:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1004 1 0000000000000000 100 0 0 10 0                     \n"
	/* 127.0.0.1:53 <- 127.0.0.1:54321 ESTABLISHED: not a listener */
	"   4: 0100007F:0035 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1005 1 0000000000000000 20 4 30 10 -1                    \n"
	/* 127.0.0.1:8080 LISTEN: other port */
	"   5: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1006 1 0000000000000000 100 0 0 10 0                     \n"
	/* 127.0.0.1:53 LISTEN again (SO_REUSEPORT), other worker: merged into row 0 */
	"   6: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1007 1 0000000000000000 100 0 0 10 0                     \n"
	/* 127.0.0.53:53 TIME_WAIT, inode 0 */
	"   7: 3500007F:0035 0100007F:C350 06 00000000:00000000 03:00000B2B 00000000     0        0 0 3 0000000000000000                                      \n"
	/* 192.0.2.10:53 again; this worker's owner is known and fills in row 3's */
	"   8: 0A0200C0:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1009 1 0000000000000000 100 0 0 10 0                     \n";

static const char udp_rows[] =
	UDP_HEADER
	/* 127.0.0.53:53 unconnected */
	"  565: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 2001 2 0000000000000000 0         \n"
	/* 127.0.0.1:53 connected to 127.0.0.1:58020: a client, not a server */
	"  566: 0100007F:0035 0100007F:E2A4 01 00000000:00000000 00:00000000 00000000     0        0 2002 2 0000000000000000 0         \n"
	/* 0.0.0.0:5353 */
	"  600: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2003 2 0000000000000000 0         \n";

static const char udp6_rows[] =
	UDP6_HEADER
	/* [::]:53 */
	"  100: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3001 2 0000000000000000 0\n"
	/* [::1]:53 */
	"  101: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3002 2 0000000000000000 0\n"
	/* [::ffff:127.0.0.2]:53 -> 127.0.0.2 */
	"  102: 0000000000000000FFFF00000200007F:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3003 2 0000000000000000 0\n"
	/* [2001:db8::53]:53 */
	"  103: B80D0120000000000000000053000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3004 2 0000000000000000 0\n"
	/* [::]:5353 */
	"  104: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3005 2 0000000000000000 0\n";

struct fixture {
	char root[64];
};

static void
write_file(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
make_dir(const char *root, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void
make_link(const char *root, const char *rel, const char *target)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(symlink(target, path), 0);
}

static void
make_process(const char *root, int pid, const char *comm)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "%d", pid);
	make_dir(root, rel);
	snprintf(rel, sizeof(rel), "%d/fd", pid);
	make_dir(root, rel);
	if (comm != NULL) {
		char text[64];

		snprintf(rel, sizeof(rel), "%d/comm", pid);
		snprintf(text, sizeof(text), "%s\n", comm);
		write_file(root, rel, text);
	}
	snprintf(rel, sizeof(rel), "%d/fd/0", pid);
	make_link(root, rel, "/dev/null");
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	strcpy(fx->root, "/tmp/test_audit.XXXXXX");
	assert_non_null(mkdtemp(fx->root));
	make_dir(fx->root, "net");
	write_file(fx->root, "net/tcp", tcp_rows);
	write_file(fx->root, "net/udp", udp_rows);
	write_file(fx->root, "net/udp6", udp6_rows); /* no tcp6: must be tolerated */

	make_process(fx->root, 100, "dnsmasq");
	make_link(fx->root, "100/fd/3", "socket:[1001]");
	make_link(fx->root, "100/fd/4", "socket:[2001]");
	make_link(fx->root, "100/fd/5", "socket:[3004]");
	make_link(fx->root, "100/fd/6", "pipe:[777]");
	make_process(fx->root, 200, "named");
	make_link(fx->root, "200/fd/7", "socket:[1002]");
	make_link(fx->root, "200/fd/8", "socket:[3001]");
	make_link(fx->root, "200/fd/9", "socket:[3002]");
	make_process(fx->root, 300, "worker");
	make_link(fx->root, "300/fd/5", "socket:[1007]");
	make_link(fx->root, "300/fd/6", "socket:[1009]");
	make_process(fx->root, 400, NULL); /* comm unreadable: pid known, name not */
	make_link(fx->root, "400/fd/3", "socket:[1003]");
	make_dir(fx->root, "500"); /* exited between readdir and opendir: no fd dir */
	make_dir(fx->root, "sys");  /* not a pid */
	*state = fx;
	return 0;
}

static int
remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	/* Depth first and without following links: the fd symlinks point at real files. */
	assert_int_equal(nftw(fx->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(fx);
	return 0;
}

struct expect {
	const char *addr;
	bool tcp;
	enum audit_exposure exposure;
	int pid;
	const char *process;
	bool v6only_unknown;
};

static void
test_fixture_listeners(void **state)
{
	static const struct expect want[] = {
		{ "0.0.0.0", true, AUDIT_WILDCARD, 200, "named", false },
		{ "127.0.0.1", true, AUDIT_LOOPBACK_ONLY, 100, "dnsmasq", false },
		{ "127.0.0.2", false, AUDIT_LOOPBACK_ONLY, -1, "", false },
		{ "127.0.0.53", false, AUDIT_LOOPBACK_ONLY, 100, "dnsmasq", false },
		{ "127.53.0.9", true, AUDIT_LOOPBACK_ONLY, 400, "", false },
		{ "192.0.2.10", true, AUDIT_NON_LOOPBACK, 300, "worker", false },
		{ "::", false, AUDIT_WILDCARD, 200, "named", true },
		{ "::1", false, AUDIT_LOOPBACK_ONLY, 200, "named", false },
		{ "2001:db8::53", false, AUDIT_NON_LOOPBACK, 100, "dnsmasq", false },
	};
	struct fixture *fx = *state;
	struct audit_listener *ls = NULL;
	size_t n = 0;
	char err[256] = "";

	assert_int_equal(audit_list_listeners(fx->root, 53, &ls, &n, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		char buf[NETADDR_STRLEN];

		assert_string_equal(net_addr_str(&ls[i].addr, buf, sizeof(buf)), want[i].addr);
		assert_int_equal(ls[i].port, 53);
		assert_int_equal(ls[i].tcp, want[i].tcp);
		assert_int_equal(ls[i].exposure, want[i].exposure);
		assert_int_equal(ls[i].pid, want[i].pid);
		assert_string_equal(ls[i].process, want[i].process);
		assert_int_equal(ls[i].v6only_unknown, want[i].v6only_unknown);
	}
	/* The first REUSEPORT entry stays: its inode, not the duplicate's. */
	assert_int_equal(ls[1].inode, 1001);
	assert_int_equal(ls[5].inode, 1004);
	assert_int_equal(ls[2].addr.family, AF_INET); /* mapped address came out as IPv4 */
	free(ls);
}

static void
test_fixture_other_port(void **state)
{
	struct fixture *fx = *state;
	struct audit_listener *ls = NULL;
	size_t n = 0;
	char err[256] = "";
	char buf[NETADDR_STRLEN];

	assert_int_equal(audit_list_listeners(fx->root, 5353, &ls, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(net_addr_str(&ls[0].addr, buf, sizeof(buf)), "0.0.0.0");
	assert_false(ls[0].tcp);
	assert_int_equal(ls[0].port, 5353);
	assert_int_equal(ls[0].pid, -1);
	assert_string_equal(net_addr_str(&ls[1].addr, buf, sizeof(buf)), "::");
	assert_int_equal(ls[1].exposure, AUDIT_WILDCARD);
	free(ls);

	assert_int_equal(audit_list_listeners(fx->root, 8080, &ls, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_true(ls[0].tcp);
	assert_string_equal(net_addr_str(&ls[0].addr, buf, sizeof(buf)), "127.0.0.1");
	free(ls);

	assert_int_equal(audit_list_listeners(fx->root, 853, &ls, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	free(ls);
}

static void
test_fixture_probe_addresses(void **state)
{
	static const char *const want[] = { "127.0.0.1", "::1", "127.0.0.2", "127.0.0.53",
					    "127.53.0.9" };
	struct fixture *fx = *state;
	struct audit_listener *ls = NULL;
	struct net_addr addrs[16];
	size_t n = 0, k;
	char err[256] = "";
	char buf[NETADDR_STRLEN];

	assert_int_equal(audit_list_listeners(fx->root, 53, &ls, &n, err, sizeof(err)), 0);
	k = audit_probe_addresses(ls, n, addrs, 16);
	assert_int_equal(k, 5);
	for (size_t i = 0; i < k; i++) {
		assert_string_equal(net_addr_str(&addrs[i], buf, sizeof(buf)), want[i]);
		assert_true(net_addr_is_loopback(&addrs[i]));
	}
	/* Bounded by max. */
	k = audit_probe_addresses(ls, n, addrs, 3);
	assert_int_equal(k, 3);
	assert_string_equal(net_addr_str(&addrs[2], buf, sizeof(buf)), "127.0.0.2");
	k = audit_probe_addresses(ls, n, addrs, 1);
	assert_int_equal(k, 1);
	assert_string_equal(net_addr_str(&addrs[0], buf, sizeof(buf)), "127.0.0.1");
	free(ls);
}

static void
test_probe_addresses_no_listeners(void **state)
{
	struct net_addr addrs[4];
	char buf[NETADDR_STRLEN];

	(void)state;
	assert_int_equal(audit_probe_addresses(NULL, 0, addrs, 4), 2);
	assert_string_equal(net_addr_str(&addrs[0], buf, sizeof(buf)), "127.0.0.1");
	assert_string_equal(net_addr_str(&addrs[1], buf, sizeof(buf)), "::1");
	assert_int_equal(audit_probe_addresses(NULL, 0, addrs, 0), 0);
}

static void
test_missing_udp_is_error(void **state)
{
	struct fixture *fx = *state;
	struct audit_listener *ls = (struct audit_listener *)&ls; /* must be reset */
	size_t n = 99;
	char err[256] = "";
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/net/udp", fx->root);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(audit_list_listeners(fx->root, 53, &ls, &n, err, sizeof(err)), -ENOENT);
	assert_null(ls);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err, "/net/udp: "));
	assert_non_null(strstr(err, fx->root));
}

static void
test_malformed_line(void **state)
{
	struct fixture *fx = *state;
	struct audit_listener *ls = NULL;
	size_t n = 0;
	char err[256] = "";
	char want[PATH_MAX + 32];

	write_file(fx->root, "net/tcp6", TCP_HEADER "   0: 0000:0035 garbage\n");
	assert_int_equal(audit_list_listeners(fx->root, 53, &ls, &n, err, sizeof(err)), -EINVAL);
	assert_null(ls);
	snprintf(want, sizeof(want), "%s/net/tcp6:2: unexpected format", fx->root);
	assert_string_equal(err, want);
}

static void
test_tcp6_listeners(void **state)
{
	struct fixture *fx = *state;
	struct audit_listener *ls = NULL;
	size_t n = 0;
	char err[256] = "";
	char buf[NETADDR_STRLEN];

	/* [::1]:53 and [fe80::1]:53 listening; [::1]:53 established. */
	write_file(fx->root, "net/tcp6",
		   "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		   "   0: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4001 1 0000000000000000 100 0 0 10 0\n"
		   "   1: 000080FE000000000000000001000000:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4002 1 0000000000000000 100 0 0 10 0\n"
		   "   2: 00000000000000000000000001000000:0035 00000000000000000000000001000000:C350 01 00000000:00000000 00:00000000 00000000     0        0 4003 1 0000000000000000 20 4 30 10 -1\n");
	assert_int_equal(audit_list_listeners(fx->root, 53, &ls, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 11);
	/* v6 order: ::, ::1 tcp, ::1 udp, 2001:db8::53, fe80::1 */
	assert_string_equal(net_addr_str(&ls[6].addr, buf, sizeof(buf)), "::");
	assert_string_equal(net_addr_str(&ls[7].addr, buf, sizeof(buf)), "::1");
	assert_true(ls[7].tcp);
	assert_int_equal(ls[7].pid, -1);
	assert_string_equal(net_addr_str(&ls[8].addr, buf, sizeof(buf)), "::1");
	assert_false(ls[8].tcp);
	assert_string_equal(net_addr_str(&ls[9].addr, buf, sizeof(buf)), "2001:db8::53");
	assert_string_equal(net_addr_str(&ls[10].addr, buf, sizeof(buf)), "fe80::1");
	assert_true(ls[10].tcp);
	assert_int_equal(ls[10].exposure, AUDIT_NON_LOOPBACK);
	free(ls);
}

static void
test_exposure_text(void **state)
{
	(void)state;
	assert_string_equal(audit_exposure_text(AUDIT_LOOPBACK_ONLY), "loopback only");
	assert_string_equal(audit_exposure_text(AUDIT_WILDCARD), "wildcard");
	assert_string_equal(audit_exposure_text(AUDIT_NON_LOOPBACK), "non-loopback");
}

static void
test_real_proc(void **state)
{
	struct audit_listener *ls = NULL;
	size_t n = 0;
	char err[256] = "";

	(void)state;
	assert_int_equal(audit_list_listeners("/proc", 53, &ls, &n, err, sizeof(err)), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ls[i].port, 53);
	free(ls);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fixture_listeners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixture_other_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixture_probe_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_udp_is_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp6_listeners, setup, teardown),
		cmocka_unit_test(test_probe_addresses_no_listeners),
		cmocka_unit_test(test_exposure_text),
		cmocka_unit_test(test_real_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
