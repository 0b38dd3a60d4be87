/* test_history: the exposure intervals of a period from history rows, as tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/history.h"

#define S 1000000000ull /* a second in ns; times below are seconds */

struct row_spec {
	uint64_t t;
	const char *type, *severity, *address, *protocol;
};

struct iv_spec {
	uint64_t start, end;
	bool open;
};

struct port_spec {
	const char *address, *protocol;
	uint64_t exposed;
	bool still;
	size_t niv;
	struct iv_spec iv[3];
};

struct exposure_case {
	const char *name;
	uint64_t since, end;
	struct row_spec rows[8];
	size_t nports;
	struct port_spec ports[3];
};

static const struct exposure_case cases[] = {
	{ "exposed then closed", 0, 100,
	  { { 10, "exposed", "high", "127.0.0.1", "tcp" }, { 40, "closed", "info", "127.0.0.1", "tcp" } },
	  1, { { "127.0.0.1", "tcp", 30, false, 1, { { 10, 40, false } } } } },
	{ "opened high, then accepted", 0, 100,
	  { { 5, "opened", "high", "127.0.0.2", "udp" }, { 25, "accepted", "info", "127.0.0.2", "udp" } },
	  1, { { "127.0.0.2", "udp", 20, false, 1, { { 5, 25, false } } } } },
	{ "opened low is no exposure", 0, 100,
	  { { 5, "opened", "low", "127.0.0.2", "udp" }, { 25, "closed", "info", "127.0.0.2", "udp" } },
	  0, { { 0 } } },
	{ "still exposed at the end", 0, 100,
	  { { 70, "exposed", "medium", "127.0.0.3", "tcp" } },
	  1, { { "127.0.0.3", "tcp", 30, true, 1, { { 70, 100, true } } } } },
	{ "several ports, reopened, a second exposed is the same interval", 0, 100,
	  { { 10, "exposed", "high", "127.0.0.1", "udp" }, { 12, "exposed", "high", "127.0.0.1", "tcp" },
	    { 20, "closed", "info", "127.0.0.1", "udp" }, { 50, "opened", "critical", "127.0.0.1", "udp" },
	    { 55, "exposed", "high", "127.0.0.1", "udp" }, { 60, "closed", "info", "127.0.0.1", "udp" },
	    { 90, "changed", "critical", "127.0.0.1", "tcp" } },
	  2, { { "127.0.0.1", "tcp", 88, true, 1, { { 12, 100, true } } },
	       { "127.0.0.1", "udp", 20, false, 2, { { 10, 20, false }, { 50, 60, false } } } } },
	{ "since cuts an exposure begun before it", 50, 100,
	  { { 10, "exposed", "high", "127.0.0.1", "tcp" }, { 70, "closed", "info", "127.0.0.1", "tcp" } },
	  1, { { "127.0.0.1", "tcp", 20, false, 1, { { 50, 70, false } } } } },
	{ "an exposure over before since is left out", 50, 100,
	  { { 10, "exposed", "high", "127.0.0.1", "tcp" }, { 20, "closed", "info", "127.0.0.1", "tcp" } },
	  0, { { 0 } } },
	{ "rows after the end and without an address are ignored", 0, 100,
	  { { 10, "exposed", "high", "", "" }, { 120, "exposed", "high", "127.0.0.1", "tcp" } },
	  0, { { 0 } } },
	{ "closed without an exposure does nothing", 0, 100,
	  { { 10, "closed", "info", "127.0.0.1", "tcp" } },
	  0, { { 0 } } },
};

static void
test_exposure_table(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct exposure_case *k = &cases[c];
		struct state_hist rows[8];
		struct history_exposure *x = NULL;
		size_t n = 0, nx = 99;

		memset(rows, 0, sizeof(rows));
		for (; n < 8 && k->rows[n].type != NULL; n++) {
			rows[n].seq = n + 1;
			rows[n].time_ns = k->rows[n].t * S;
			snprintf(rows[n].type, sizeof(rows[n].type), "%s", k->rows[n].type);
			snprintf(rows[n].severity, sizeof(rows[n].severity), "%s", k->rows[n].severity);
			snprintf(rows[n].address, sizeof(rows[n].address), "%s", k->rows[n].address);
			snprintf(rows[n].protocol, sizeof(rows[n].protocol), "%s", k->rows[n].protocol);
			rows[n].port = 53;
		}
		assert_int_equal(history_exposure(rows, n, k->since * S, k->end * S, &x, &nx), 0);
		if (nx != k->nports)
			fail_msg("%s: %zu ports, wanted %zu", k->name, nx, k->nports);
		for (size_t i = 0; i < nx; i++) {
			const struct port_spec *p = &k->ports[i];
			assert_string_equal(x[i].address, p->address);
			assert_string_equal(x[i].protocol, p->protocol);
			assert_int_equal(x[i].port, 53);
			if (x[i].exposed_ns != p->exposed * S || x[i].still_exposed != p->still ||
			    x[i].niv != p->niv)
				fail_msg("%s: port %zu: %llu ns, still %d, %zu intervals", k->name, i,
					 (unsigned long long)x[i].exposed_ns, x[i].still_exposed,
					 x[i].niv);
			for (size_t j = 0; j < p->niv; j++) {
				assert_true(x[i].iv[j].start_ns == p->iv[j].start * S);
				assert_true(x[i].iv[j].end_ns == p->iv[j].end * S);
				assert_int_equal(x[i].iv[j].open, p->iv[j].open);
			}
		}
		history_exposure_free(x, nx);
	}
}

static void
test_from_event(void **state)
{
	struct alert_event ev;
	struct state_hist r;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.type = ALERT_OPENED;
	ev.severity = SEV_CRITICAL;
	ev.time_ns = 1700000000123000000ull;
	snprintf(ev.id, sizeof(ev.id), "%s", "0b5c8f4e-1111-4222-8333-444455556666");
	snprintf(ev.address, sizeof(ev.address), "%s", "127.53.0.9");
	snprintf(ev.protocol, sizeof(ev.protocol), "%s", "udp");
	ev.port = 53;
	snprintf(ev.summary, sizeof(ev.summary), "%s", "udp/53 opened");
	snprintf(ev.source, sizeof(ev.source), "%s", "passive");
	history_from_event(&ev, &r);
	assert_string_equal(r.type, "opened");
	assert_string_equal(r.severity, "critical");
	assert_string_equal(r.address, "127.53.0.9");
	assert_string_equal(r.protocol, "udp");
	assert_string_equal(r.summary, "udp/53 opened");
	assert_string_equal(r.source, "passive");
	assert_string_equal(r.id, ev.id);
	assert_int_equal(r.port, 53);
	assert_true(r.time_ns == ev.time_ns);
	assert_true(history_starts_exposure(&r));
	ev.severity = SEV_MEDIUM;
	history_from_event(&ev, &r);
	assert_false(history_starts_exposure(&r));
	snprintf(r.type, sizeof(r.type), "%s", HISTORY_ACCEPTED);
	assert_true(history_ends_exposure(&r));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exposure_table),
		cmocka_unit_test(test_from_event),
	};
	return cmocka_run_group_tests_name("history", tests, NULL, NULL);
}
