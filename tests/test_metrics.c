/* test_metrics: the Prometheus text exposition of a small state, byte for byte. */
#include <dirent.h>
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

#include "agent/metrics.h"
#include "alerts/event.h"
#include "common/fileio.h"

static void
add_entry(struct state *st, const char *addr, const char *target, bool tcp_open,
	  bool tcp_baseline, bool udp_known, uint64_t cycle)
{
	struct net_addr a;
	bool created;
	struct bl_entry *e;

	assert_int_equal(net_addr_parse(addr, &a), 0);
	e = state_get(st, &a, &created);
	assert_non_null(e);
	e->target = state_label(st, target);
	e->last_cycle = cycle;
	e->port[PROBE_SLOT_TCP].known = true;
	e->port[PROBE_SLOT_TCP].last = tcp_open ? PROBE_OPEN : PROBE_CLOSED;
	e->port[PROBE_SLOT_TCP].reported_open = tcp_open;
	e->port[PROBE_SLOT_TCP].baseline_open = tcp_baseline;
	e->port[PROBE_SLOT_UDP].known = udp_known;
	e->port[PROBE_SLOT_UDP].last = PROBE_FILTERED;
}

/* Every line carries the vantage (escaped like any label value), the port gauges the
 * expectation; an open resolver with an open port is a finding, one with none is not. */
static void
test_render_exact(void **state)
{
	struct state st;
	uint64_t totals[ALERT_NTYPES] = { [ALERT_OPENED] = 2, [ALERT_CLOSED] = 1 };
	struct metrics_cycle mc = {
		.addresses = 2, .duration_ns = 1500000000ull, .wall_ns = 1700000000123000000ull,
		.outbox_backlog = 3, .events_total = totals, .cycle = 7,
	};
	struct net_addr a;
	bool created;
	struct bl_entry *e;
	char *text = NULL;
	size_t len = 0;
	(void)state;

	state_init(&st);
	add_entry(&st, "127.53.0.2", "ns \"one\"", true, false, true, 7);
	add_entry(&st, "127.53.0.9", "old", true, true, false, 6); /* not probed this cycle */
	add_entry(&st, "::1", "lo6", false, false, false, 7);
	/* expected open, and down: the only port of the expected_down family; an open
	 * resolver once, but nothing of it answers now: no finding */
	assert_int_equal(net_addr_parse("::1", &a), 0);
	e = state_get(&st, &a, &created);
	e->expect_open[PROBE_SLOT_TCP] = true;
	e->dns.checks = DNSCHECK_RECURSION;
	e->dns.recursion = true;
	/* open, an open resolver disclosing its version, refusing AXFR */
	assert_int_equal(net_addr_parse("127.53.0.2", &a), 0);
	e = state_get(&st, &a, &created);
	e->dns.checks = DNSCHECK_RECURSION | DNSCHECK_VERSION | DNSCHECK_AXFR;
	e->dns.recursion = true;
	snprintf(e->dns.version, sizeof(e->dns.version), "9.18.1");
	e->dns.axfr = false;
	st.degraded = true;
	assert_int_equal(metrics_render(&st, &mc, "dc \"east\"\\1\n", &text, &len), 0);
#define V ",vantage=\"dc \\\"east\\\"\\\\1\\n\""
	assert_string_equal(text,
		"# HELP watch53_port_open Whether the port gave evidence of being open in the last cycle.\n"
		"# TYPE watch53_port_open gauge\n"
		"watch53_port_open{address=\"127.53.0.2\",protocol=\"tcp\",target=\"ns \\\"one\\\"\",expect=\"closed\"" V "} 1\n"
		"watch53_port_open{address=\"127.53.0.2\",protocol=\"udp\",target=\"ns \\\"one\\\"\",expect=\"closed\"" V "} 0\n"
		"watch53_port_open{address=\"::1\",protocol=\"tcp\",target=\"lo6\",expect=\"open\"" V "} 0\n"
		"# HELP watch53_port_unacknowledged Open against expectation and not accepted into the baseline.\n"
		"# TYPE watch53_port_unacknowledged gauge\n"
		"watch53_port_unacknowledged{address=\"127.53.0.2\",protocol=\"tcp\",target=\"ns \\\"one\\\"\",expect=\"closed\"" V "} 1\n"
		"watch53_port_unacknowledged{address=\"127.53.0.2\",protocol=\"udp\",target=\"ns \\\"one\\\"\",expect=\"closed\"" V "} 0\n"
		"watch53_port_unacknowledged{address=\"::1\",protocol=\"tcp\",target=\"lo6\",expect=\"open\"" V "} 0\n"
		"# HELP watch53_port_expected_down Whether a port its target expects open is reported down (only such ports are listed).\n"
		"# TYPE watch53_port_expected_down gauge\n"
		"watch53_port_expected_down{address=\"::1\",protocol=\"tcp\",target=\"lo6\",expect=\"open\"" V "} 1\n"
		"# HELP watch53_probe_rtt_seconds Round-trip time of the port's probe in the last cycle (only ports that answered).\n"
		"# TYPE watch53_probe_rtt_seconds gauge\n"
		"# HELP watch53_finding A DNS finding of an address with an open port (1 while it stands; the line goes when it does).\n"
		"# TYPE watch53_finding gauge\n"
		"watch53_finding{address=\"127.53.0.2\",protocol=\"udp\",finding=\"open-resolver\",severity=\"critical\",target=\"ns \\\"one\\\"\"" V "} 1\n"
		"watch53_finding{address=\"127.53.0.2\",protocol=\"udp\",finding=\"version-disclosed\",severity=\"medium\",target=\"ns \\\"one\\\"\"" V "} 1\n"
		"# HELP watch53_events_total Events raised, by type.\n"
		"# TYPE watch53_events_total counter\n"
		"watch53_events_total{type=\"opened\"" V "} 2\n"
		"watch53_events_total{type=\"closed\"" V "} 1\n"
		"watch53_events_total{type=\"changed\"" V "} 0\n"
		"watch53_events_total{type=\"flapping\"" V "} 0\n"
		"watch53_events_total{type=\"degraded\"" V "} 0\n"
		"watch53_events_total{type=\"exposed\"" V "} 0\n"
		"watch53_events_total{type=\"recovered\"" V "} 0\n"
		"watch53_events_total{type=\"unresolved\"" V "} 0\n"
		"watch53_events_total{type=\"resolved\"" V "} 0\n"
		"# HELP watch53_last_cycle_timestamp_seconds When the last cycle ended.\n"
		"# TYPE watch53_last_cycle_timestamp_seconds gauge\n"
		"watch53_last_cycle_timestamp_seconds{vantage=\"dc \\\"east\\\"\\\\1\\n\"} 1700000000.123\n"
		"# HELP watch53_cycle_duration_seconds How long the last cycle took.\n"
		"# TYPE watch53_cycle_duration_seconds gauge\n"
		"watch53_cycle_duration_seconds{vantage=\"dc \\\"east\\\"\\\\1\\n\"} 1.500\n"
		"# HELP watch53_addresses_probed Addresses probed in the last cycle.\n"
		"# TYPE watch53_addresses_probed gauge\n"
		"watch53_addresses_probed{vantage=\"dc \\\"east\\\"\\\\1\\n\"} 2\n"
		"# HELP watch53_degraded Whether the last cycle could not probe (1) or could (0).\n"
		"# TYPE watch53_degraded gauge\n"
		"watch53_degraded{vantage=\"dc \\\"east\\\"\\\\1\\n\"} 1\n"
		"# HELP watch53_outbox_backlog Events waiting for delivery.\n"
		"# TYPE watch53_outbox_backlog gauge\n"
		"watch53_outbox_backlog{vantage=\"dc \\\"east\\\"\\\\1\\n\"} 3\n");
#undef V
	assert_int_equal(len, strlen(text));
	free(text);
	state_clear(&st);
}

/* A label cut inside a character (a long target name) or bytes that are no UTF-8 get
 * U+FFFD: Prometheus refuses a file that is not UTF-8. */
static void
test_label_utf8(void **state)
{
	struct state st;
	struct metrics_cycle mc = { .outbox_backlog = -1, .cycle = 1 };
	char *text = NULL;
	size_t len = 0;
	(void)state;

	state_init(&st);
	add_entry(&st, "127.53.0.1", "caf\xc3\xa9 \xe2\x82", true, false, false, 1);
	assert_int_equal(metrics_render(&st, &mc, "b\xffr", &text, &len), 0);
	assert_non_null(strstr(text, "target=\"caf\xc3\xa9 \xef\xbf\xbd\",expect=\"closed\","
				     "vantage=\"b\xef\xbf\xbdr\"} 1\n"));
	assert_int_equal(alert_utf8_check(text, len), len);
	free(text);
	state_clear(&st);
}

/* The cycle's observation gives the round-trip times (ports that answered only), in
 * seconds. */
static void
test_rtt_lines(void **state)
{
	char dir[] = "/tmp/w53metricsXXXXXX", path[64], err[256];
	struct metrics_cycle mc = { .outbox_backlog = -1, .cycle = 1 };
	struct probe_result obs = { .port = 53 };
	struct metrics_writer *w = NULL;
	struct state st;
	char *text = NULL;
	size_t len = 0;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/watch53.prom", dir);
	state_init(&st);
	add_entry(&st, "127.53.0.1", "a", true, false, true, 1);
	obs.out[PROBE_SLOT_TCP] = (struct probe_outcome){ PROBE_OPEN, PROBE_REASON_SYN_ACK, 210 };
	obs.out[PROBE_SLOT_UDP] = (struct probe_outcome){ PROBE_FILTERED,
							  PROBE_REASON_NO_RESPONSE, -1 };
	assert_int_equal(metrics_writer_new(path, "v1", &w, err, sizeof(err)), 0);
	assert_int_equal(metrics_writer_entry(w, &st.entries[0], &obs), 0);
	assert_int_equal(metrics_writer_finish(w, false, &mc, err, sizeof(err)), 0);
	assert_int_equal(file_read_all(path, 1 << 20, &text, &len), 0);
	assert_non_null(strstr(text, "# TYPE watch53_probe_rtt_seconds gauge\n"
				     "watch53_probe_rtt_seconds{address=\"127.53.0.1\",protocol=\"tcp\","
				     "target=\"a\",vantage=\"v1\"} 0.000210\n"
				     "# HELP watch53_finding "));
	free(text);
	unlink(path);
	rmdir(dir);
	state_clear(&st);
}

static void
test_write_atomic_world_readable(void **state)
{
	char dir[] = "/tmp/w53metricsXXXXXX", path[64], err[256];
	struct state st;
	struct metrics_cycle mc = { .outbox_backlog = -1, .cycle = 1 };
	struct stat sb;
	char *text = NULL;
	size_t len = 0;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/watch53.prom", dir);
	state_init(&st);
	assert_int_equal(metrics_write(path, &st, &mc, "dc-east", err, sizeof(err)), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644); /* node_exporter runs as another user */
	assert_int_equal(file_read_all(path, 1 << 20, &text, &len), 0);
	assert_null(strstr(text, "outbox_backlog")); /* unknown backlog is left out */
	assert_non_null(strstr(text, "watch53_addresses_probed{vantage=\"dc-east\"} 0\n"));
	free(text);
	unlink(path);
	/* a directory that does not exist: a clear error naming the file */
	assert_true(metrics_write("/nonexistent-w53/x.prom", &st, &mc, "dc-east", err,
				  sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent-w53/x.prom"));
	rmdir(dir);
	state_clear(&st);
}

/* Delivery figures appear only when the cycle delivered (sinks configured). */
static void
test_alert_lines(void **state)
{
	struct state st;
	struct metrics_cycle mc = { .outbox_backlog = 2, .cycle = 1, .alerts_known = true,
				    .alerts_delivered = 5, .alerts_dead = 1,
				    .alerts_quarantined = 3 };
	char *text = NULL;
	size_t len = 0;
	(void)state;

	state_init(&st);
	assert_int_equal(metrics_render(&st, &mc, "dc-east", &text, &len), 0);
	assert_non_null(strstr(text, "# TYPE watch53_alerts_delivered_last_cycle gauge\n"
				     "watch53_alerts_delivered_last_cycle{vantage=\"dc-east\"} 5\n"));
	assert_non_null(strstr(text, "# TYPE watch53_alerts_dead_letter gauge\n"
				     "watch53_alerts_dead_letter{vantage=\"dc-east\"} 1\n"));
	assert_non_null(strstr(text, "# TYPE watch53_alerts_quarantined gauge\n"
				     "watch53_alerts_quarantined{vantage=\"dc-east\"} 3\n"));
	free(text);
	mc.alerts_known = false;
	assert_int_equal(metrics_render(&st, &mc, "dc-east", &text, &len), 0);
	assert_null(strstr(text, "watch53_alerts_"));
	free(text);
	state_clear(&st);
}

/* Names in dir other than . and .., so a test can see a temp file left behind. */
static int
dir_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* The streaming writer and metrics_render give the same bytes; enough entries that the
 * unacknowledged family outgrows the stdio and copy buffers. */
static void
test_writer_same_bytes(void **state)
{
	char dir[] = "/tmp/w53metricsXXXXXX", path[64], err[256];
	struct state st;
	uint64_t totals[ALERT_NTYPES] = { [ALERT_OPENED] = 4 };
	struct metrics_cycle mc = {
		.addresses = 3, .duration_ns = 2000000, .wall_ns = 1700000000000000000ull,
		.outbox_backlog = 1, .events_total = totals, .cycle = 5, .alerts_known = true,
		.alerts_delivered = 2,
	};
	struct metrics_writer *w = NULL;
	struct stat sb;
	char *want = NULL, *got = NULL;
	size_t wantlen = 0, gotlen = 0;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/watch53.prom", dir);
	state_init(&st);
	add_entry(&st, "127.53.0.1", "a\\b\nc", true, false, true, 5);
	add_entry(&st, "127.53.0.2", "skipped", true, false, true, 4);
	add_entry(&st, "::1", "lo6", true, true, false, 5);
	for (int i = 0; i < 600; i++) {
		char a[32];

		snprintf(a, sizeof(a), "127.54.%d.%d", i / 200, i % 200);
		add_entry(&st, a, "many", i % 3 == 0, i % 2 == 0, true, i % 4 == 0 ? 3 : 5);
	}
	st.degraded = false;
	assert_int_equal(metrics_render(&st, &mc, "dc-east", &want, &wantlen), 0);
	assert_true(wantlen > 3 * 16384);

	assert_int_equal(metrics_writer_new(path, "dc-east", &w, err, sizeof(err)), 0);
	assert_non_null(w);
	for (size_t i = 0; i < st.n; i++)
		if (st.entries[i].last_cycle == mc.cycle)
			assert_int_equal(metrics_writer_entry(w, &st.entries[i], NULL), 0);
	assert_int_equal(metrics_writer_finish(w, st.degraded, &mc, err, sizeof(err)), 0);

	assert_int_equal(file_read_all(path, 1 << 24, &got, &gotlen), 0);
	assert_int_equal(gotlen, wantlen);
	assert_memory_equal(got, want, wantlen);
	assert_null(strstr(got, "skipped"));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_equal(dir_count(dir), 1); /* no temp file beside it */
	free(got);
	got = NULL;

	/* metrics_write goes through the same writer: the same bytes again */
	assert_int_equal(metrics_write(path, &st, &mc, "dc-east", err, sizeof(err)), 0);
	assert_int_equal(file_read_all(path, 1 << 24, &got, &gotlen), 0);
	assert_int_equal(gotlen, wantlen);
	assert_memory_equal(got, want, wantlen);
	assert_int_equal(dir_count(dir), 1);
	free(got);
	free(want);
	unlink(path);
	rmdir(dir);
	state_clear(&st);
}

/* Failures name the file and leave no temp file: at the start (no such directory) and at
 * the end (the rename meets a directory). */
static void
test_writer_errors(void **state)
{
	char dir[] = "/tmp/w53metricsXXXXXX", path[64], err[256];
	struct metrics_cycle mc = { .outbox_backlog = -1, .cycle = 1 };
	struct metrics_writer *w = (struct metrics_writer *)&mc; /* new must clear it */
	(void)state;

	err[0] = '\0';
	assert_int_equal(metrics_writer_new("/nonexistent-w53/x.prom", "dc-east", &w,
					    err, sizeof(err)),
			 -ENOENT);
	assert_null(w);
	assert_non_null(strstr(err, "/nonexistent-w53/x.prom"));
	assert_null(strchr(err, '\n'));

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(metrics_writer_new(path, "dc-east", &w, err, sizeof(err)), 0);
	assert_int_equal(dir_count(dir), 2); /* sub and the temp file */
	err[0] = '\0';
	assert_true(metrics_writer_finish(w, false, &mc, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, path));
	assert_int_equal(dir_count(dir), 1);
	rmdir(path);
	rmdir(dir);
}

/* An abandoned writer removes its temp file and never creates path. */
static void
test_writer_free_unfinished(void **state)
{
	char dir[] = "/tmp/w53metricsXXXXXX", path[64], err[256];
	struct state st;
	struct metrics_writer *w = NULL;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/watch53.prom", dir);
	state_init(&st);
	add_entry(&st, "127.53.0.1", "a", true, false, true, 1);
	assert_int_equal(metrics_writer_new(path, "dc-east", &w, err, sizeof(err)), 0);
	assert_int_equal(metrics_writer_entry(w, &st.entries[0], NULL), 0);
	assert_int_equal(dir_count(dir), 1);
	metrics_writer_free(w);
	assert_int_equal(dir_count(dir), 0);
	assert_int_equal(access(path, F_OK), -1);
	metrics_writer_free(NULL);
	rmdir(dir);
	state_clear(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_exact),
		cmocka_unit_test(test_label_utf8),
		cmocka_unit_test(test_rtt_lines),
		cmocka_unit_test(test_write_atomic_world_readable),
		cmocka_unit_test(test_alert_lines),
		cmocka_unit_test(test_writer_same_bytes),
		cmocka_unit_test(test_writer_errors),
		cmocka_unit_test(test_writer_free_unfinished),
	};
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
