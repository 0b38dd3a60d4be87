/* test_judge: a cycle's decision without any I/O — sequences of cycles over several
 * addresses as a table (events, degraded, counters), then ids, first runs and passive
 * observations. The per-port rules have their own table in test_baseline. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/judge.h"
#include "agent/state.h"

#define NS 1000000000ull
#define T0 (1800000000ull * NS)

/* The targets of the table: observation tokens name one by its letter. */
static const struct judge_target targets[] = {
	{ "lab", { false, false } },          /* a: expect closed */
	{ "primary dns", { true, true } },    /* b: expect open */
};
static const size_t index_of[] = { 0, 1 };

/*
 * One cycle: observations "ADDR/T:XY ..." (ADDR the last octet of 127.53.0.ADDR, T the target
 * a or b, X the TCP and Y the UDP observation: O open, C closed, F filtered, N not probed),
 * the names that failed, and what must come out: the events, sorted, as
 * "TYPE:ADDR:PROTO/SEVERITY" ("degraded" alone for the monitor's own), "-" for none;
 * then D (degraded) or "-", and the counters unacknowledged / expected down.
 */
struct step {
	const char *obs;
	int name_failures;
	const char *events;
	bool degraded;
	unsigned unack, down;
};

struct jcase {
	const char *name;
	unsigned confirm_open, confirm_closed;
	bool adopt;
	struct step steps[6];
	size_t nsteps;
};

static const struct jcase cases[] = {
	{ "first cycle: exposures of what is open against expectation", 1, 3, false,
	  { { "2/a:OO 5/a:CC 6/b:OO", 0, "exposed:2:tcp/high exposed:2:udp/high", false, 2, 0 },
	    { "2/a:OO 5/a:CC 6/b:OO", 0, "-", false, 2, 0 } }, 2 },
	{ "first cycle adopted: nothing", 1, 3, true,
	  { { "2/a:OO 5/a:CC", 0, "-", false, 0, 0 } }, 1 },
	{ "degraded: nothing answers, nothing closes, one event an episode", 1, 1, false,
	  { { "2/a:OO 5/a:CC", 0, "exposed:2:tcp/high exposed:2:udp/high", false, 2, 0 },
	    { "2/a:FF 5/a:FF", 0, "degraded", true, 2, 0 },
	    { "2/a:FF 5/a:FF", 0, "-", true, 2, 0 },
	    { "2/a:OO 5/a:CC", 0, "-", false, 2, 0 },
	    { "2/a:FF 5/a:FF", 0, "degraded", true, 2, 0 } }, 5 },
	{ "a failed name is not the monitor's failure: what answered is judged", 1, 1, false,
	  { { "2/a:OO 5/a:CC", 0, "exposed:2:tcp/high exposed:2:udp/high", false, 2, 0 },
	    { "2/a:FF 5/a:CC", 1, "closed:2:tcp/info closed:2:udp/info", false, 0, 0 },
	    { "2/a:FF 5/a:CC", 0, "-", false, 0, 0 } }, 3 },
	{ "nothing open before: silence is not degraded", 1, 3, false,
	  { { "5/a:CC", 0, "-", false, 0, 0 },
	    { "5/a:FF", 0, "-", false, 0, 0 } }, 2 },
	{ "the same address from two targets is judged once, under the first", 1, 3, false,
	  { { "2/a:OO 2/b:OO", 0, "exposed:2:tcp/high exposed:2:udp/high", false, 2, 0 } }, 1 },
	{ "an expected-open server goes down and comes back", 1, 1, false,
	  { { "6/b:OO", 0, "-", false, 0, 0 },
	    { "6/b:CC", 0, "closed:6:tcp/high closed:6:udp/high", false, 0, 2 },
	    { "6/b:OO", 0, "recovered:6:tcp/info recovered:6:udp/info", false, 0, 0 } }, 3 },
	{ "established closed, then opened", 1, 3, false,
	  { { "5/a:CC", 0, "-", false, 0, 0 },
	    { "5/a:ON", 0, "opened:5:tcp/high", false, 1, 0 } }, 2 },
};

static void
parse_obs(const char *text, struct probe_result *obs, size_t *n)
{
	char buf[256], *save = NULL;

	*n = 0;
	snprintf(buf, sizeof(buf), "%s", text);
	for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		struct probe_result *r = &obs[(*n)++];
		char addr[32];
		unsigned octet;
		char t, x[2];

		assert_int_equal(sscanf(tok, "%u/%c:%c%c", &octet, &t, &x[0], &x[1]), 4);
		memset(r, 0, sizeof(*r));
		snprintf(addr, sizeof(addr), "127.53.0.%u", octet);
		assert_int_equal(net_addr_parse(addr, &r->addr), 0);
		r->port = 53;
		r->target_index = (uint32_t)(t - 'a');
		for (int s = 0; s < PROBE_NSLOTS; s++) {
			r->out[s].rtt_us = -1;
			switch (x[s]) {
			case 'O':
				r->out[s].state = PROBE_OPEN;
				r->out[s].reason = s == PROBE_SLOT_TCP ? PROBE_REASON_SYN_ACK
								       : PROBE_REASON_DNS_REPLY;
				break;
			case 'C':
				r->out[s].state = PROBE_CLOSED;
				r->out[s].reason = s == PROBE_SLOT_TCP ? PROBE_REASON_RESET
								       : PROBE_REASON_PORT_UNREACH;
				break;
			case 'F':
				r->out[s].state = PROBE_FILTERED;
				r->out[s].reason = PROBE_REASON_NO_RESPONSE;
				break;
			default:
				r->out[s].state = PROBE_STATE_NONE;
			}
		}
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "exposed:2:tcp/high ..." sorted, or "-" */
static void
describe(const struct judge_out *o, char *buf, size_t len)
{
	char *items[32], store[32][64];
	size_t n = 0, off = 0;

	for (size_t i = 0; i < o->nevents && n < 32; i++) {
		const struct alert_event *ev = &o->events[i];
		const char *dot = strrchr(ev->address, '.');
		if (ev->type == ALERT_DEGRADED)
			snprintf(store[n], sizeof(store[n]), "degraded");
		else
			snprintf(store[n], sizeof(store[n]), "%s:%s:%s/%s", alert_type_name(ev->type),
				 dot ? dot + 1 : ev->address, ev->protocol,
				 alert_severity_name(ev->severity));
		items[n] = store[n];
		n++;
	}
	qsort(items, n, sizeof(*items), cmp_str);
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " " : "", items[i]);
	if (n == 0)
		snprintf(buf, len, "-");
}

static void
test_cycles(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct jcase *k = &cases[c];
		struct state st;

		state_init(&st);
		snprintf(st.instance, sizeof(st.instance), "%s", "00000000-0000-4000-8000-00000000cafe");
		for (size_t i = 0; i < k->nsteps; i++) {
			const struct step *sp = &k->steps[i];
			struct probe_result obs[16];
			struct judge_cycle_in in = { 0 };
			struct judge_ctx jc = { 0 };
			struct judge_out o = { 0 };
			char got[512];
			size_t nobs;

			parse_obs(sp->obs, obs, &nobs);
			in.obs = obs;
			in.nobs = nobs;
			in.targets = targets;
			in.ntargets = 2;
			in.index = index_of;
			in.nindex = 2;
			in.name_failures = sp->name_failures;
			jc.pol.confirm_open = k->confirm_open;
			jc.pol.confirm_closed = k->confirm_closed;
			jc.pol.adopt = k->adopt && judge_first_run(&st, NULL, 0);
			jc.now = T0 + st.cycles * 300 * NS;
			jc.agent = "w53-test";
			jc.vantage = "dc-east";
			assert_int_equal(judge_cycle(&st, &in, &jc, &o), 0);
			describe(&o, got, sizeof(got));
			if (strcmp(got, sp->events) != 0 || o.degraded != sp->degraded ||
			    o.unacknowledged != sp->unack || o.expected_down != sp->down)
				fail_msg("%s, cycle %zu: expected [%s]%s unack %u down %u, got [%s]%s "
					 "unack %llu down %llu", k->name, i + 1, sp->events,
					 sp->degraded ? " degraded" : "", sp->unack, sp->down, got,
					 o.degraded ? " degraded" : "",
					 (unsigned long long)o.unacknowledged,
					 (unsigned long long)o.expected_down);
			/* what the cycle reports besides */
			assert_int_equal(o.addresses, nobs);
			{
				/* an outage is a closed of an expected-open port: counted as such,
				 * and the ports down are named (the first few) */
				uint64_t outages = 0;
				for (size_t e = 0; e < o.nevents; e++)
					outages += o.events[e].type == ALERT_CLOSED &&
						   o.events[e].expected_open;
				assert_int_equal(o.new_outages, outages);
				assert_int_equal(o.down_names.n,
						 o.expected_down < JUDGE_NAMES_MAX ? o.expected_down
										   : JUDGE_NAMES_MAX);
				assert_int_equal(o.unack_names.n,
						 o.unacknowledged < JUDGE_NAMES_MAX ? o.unacknowledged
										    : JUDGE_NAMES_MAX);
				if (strcmp(k->name, "an expected-open server goes down and comes back") == 0 &&
				    i == 1) {
					assert_int_equal(o.new_outages, 2);
					assert_string_equal(o.down_names.v[0], "127.53.0.6/tcp");
					assert_string_equal(o.down_names.v[1], "127.53.0.6/udp");
				}
			}
			for (size_t e = 0; e < o.nevents; e++) {
				assert_true(o.events[e].time_ns == jc.now);
				assert_string_equal(o.events[e].agent, "w53-test");
				assert_string_equal(o.events[e].vantage, "dc-east");
				assert_true(alert_id_valid(o.events[e].id));
			}
			st.cycles++;
			judge_out_clear(&o);
		}
		state_clear(&st);
	}
}

/* The labels and counters of the table's duplicates case, and what exposures count. */
static void
test_labels_and_counts(void **state)
{
	struct probe_result obs[4];
	struct judge_cycle_in in = { 0 };
	struct judge_ctx jc = { { 1, 3, false }, T0, "h", "v" };
	struct judge_out o = { 0 };
	struct state st;
	size_t nobs;

	(void)state;
	state_init(&st);
	parse_obs("2/b:ON 2/a:OO 7/a:CF", obs, &nobs);
	in = (struct judge_cycle_in){ obs, nobs, targets, 2, index_of, 2, 0 };
	assert_int_equal(judge_cycle(&st, &in, &jc, &o), 0);
	assert_int_equal(st.n, 2);
	/* under the first target it came from: expected open, so no exposure on tcp */
	assert_string_equal(st.entries[0].target, "primary dns");
	assert_true(st.entries[0].expect_open[PROBE_SLOT_TCP]);
	assert_string_equal(st.entries[1].target, "lab");
	assert_int_equal(o.nevents, 0);
	assert_int_equal(o.new_exposures, 0);
	assert_int_equal(o.open_ports, 3); /* as observed, duplicates included */
	judge_out_clear(&o);
	state_clear(&st);

	/* no address for the targets: an error, and a degraded cycle */
	state_init(&st);
	in = (struct judge_cycle_in){ NULL, 0, targets, 2, index_of, 2, 1 };
	assert_int_equal(judge_cycle(&st, &in, &jc, &o), -EHOSTUNREACH);
	assert_true(o.degraded);
	assert_int_equal(o.nevents, 0);
	judge_out_clear(&o);
	state_clear(&st);
}

/* Ids: the same instance, cycle and subject give the same id; any other, another. */
static void
test_ids(void **state)
{
	struct probe_result obs[4];
	struct judge_cycle_in in;
	struct judge_ctx jc = { { 1, 3, false }, T0, "h", "v" };
	struct judge_out o[3] = { { 0 } };
	struct state st[3];
	size_t nobs;

	(void)state;
	parse_obs("2/a:OO", obs, &nobs);
	in = (struct judge_cycle_in){ obs, nobs, targets, 2, index_of, 2, 0 };
	for (int i = 0; i < 3; i++) {
		state_init(&st[i]);
		snprintf(st[i].instance, sizeof(st[i].instance), "%s",
			 i < 2 ? "instance-one" : "instance-two");
		assert_int_equal(judge_cycle(&st[i], &in, &jc, &o[i]), 0);
		assert_int_equal(o[i].nevents, 2);
		assert_int_equal(o[i].new_exposures, 2);
	}
	assert_string_equal(o[0].events[0].id, o[1].events[0].id);
	assert_string_equal(o[0].events[1].id, o[1].events[1].id);
	assert_string_not_equal(o[0].events[0].id, o[0].events[1].id);
	assert_string_not_equal(o[0].events[0].id, o[2].events[0].id);
	/* the same subject in another cycle: another id */
	for (int i = 0; i < 3; i++)
		judge_out_clear(&o[i]);
	st[0].cycles = 5;
	st[1].cycles = 6;
	/* another address answers: the cycles are not degraded */
	parse_obs("2/a:FF 5/a:CC", obs, &nobs);
	in.nobs = nobs;
	for (int c = 0; c < 3; c++)
		for (int i = 0; i < 2; i++) {
			st[i].cycles++;
			judge_out_clear(&o[i]);
			assert_int_equal(judge_cycle(&st[i], &in, &jc, &o[i]), 0);
		}
	assert_int_equal(o[0].nevents, 2); /* closed after 3 silent cycles */
	assert_int_equal(o[1].nevents, 2);
	assert_string_not_equal(o[0].events[0].id, o[1].events[0].id);
	for (int i = 0; i < 3; i++) {
		judge_out_clear(&o[i]);
		state_clear(&st[i]);
	}
}

static void
test_first_run(void **state)
{
	const char *lab[] = { "lab" }, *other[] = { "other" };
	struct net_addr a;
	struct state st;
	bool created;
	struct bl_entry *e;

	(void)state;
	state_init(&st);
	assert_true(judge_first_run(&st, NULL, 0));
	assert_true(judge_first_run(&st, lab, 1));
	st.cycles = 3;
	assert_false(judge_first_run(&st, NULL, 0));
	/* an interval group whose label no entry carries runs for the first time */
	assert_int_equal(net_addr_parse("127.53.0.2", &a), 0);
	e = state_get(&st, &a, &created);
	assert_non_null(e);
	e->target = state_label(&st, "lab");
	assert_false(judge_first_run(&st, lab, 1));
	assert_true(judge_first_run(&st, other, 1));
	state_clear(&st);
}

/* Passive: only ports the baseline knows and has not reported open; source passive; ids
 * seeded by the sighting. */
static void
test_passive(void **state)
{
	struct probe_result obs[2];
	struct judge_cycle_in in;
	struct judge_ctx jc = { { 1, 3, false }, T0, "h", "v" };
	struct judge_out o = { 0 }, o2 = { 0 };
	const bool tcp_only[PROBE_NSLOTS] = { true, false }, both[PROBE_NSLOTS] = { true, true };
	struct state st;
	size_t nobs;
	bool judged;

	(void)state;
	state_init(&st);
	snprintf(st.instance, sizeof(st.instance), "%s", "i");
	parse_obs("5/a:CN", obs, &nobs); /* tcp closed by a reset, udp never probed */
	in = (struct judge_cycle_in){ obs, nobs, targets, 2, index_of, 2, 0 };
	assert_int_equal(judge_cycle(&st, &in, &jc, &o), 0);
	judge_out_clear(&o);
	st.cycles++;
	/* udp is unknown: left to the next cycle, tcp opens */
	assert_int_equal(judge_passive(&jc, st.instance, &st.entries[0], 53, both, 42, &o, &judged),
			 0);
	assert_true(judged);
	assert_int_equal(o.nevents, 1);
	assert_int_equal(o.events[0].type, ALERT_OPENED);
	assert_string_equal(o.events[0].protocol, "tcp");
	assert_string_equal(o.events[0].source, "passive");
	assert_string_equal(o.events[0].dns_json, "");
	assert_int_equal(o.new_exposures, 1);
	/* now reported open: a second sighting judges nothing */
	assert_int_equal(judge_passive(&jc, st.instance, &st.entries[0], 53, tcp_only, 43, &o2,
				       &judged), 0);
	assert_false(judged);
	assert_int_equal(o2.nevents, 0);
	judge_out_clear(&o2);
	/* the same sighting judged again (a repeat after a crash) raises the same id */
	state_clear(&st);
	state_init(&st);
	snprintf(st.instance, sizeof(st.instance), "%s", "i");
	assert_int_equal(judge_cycle(&st, &in, &jc, &o2), 0);
	judge_out_clear(&o2);
	assert_int_equal(judge_passive(&jc, st.instance, &st.entries[0], 53, both, 42, &o2, &judged),
			 0);
	assert_int_equal(o2.nevents, 1);
	assert_string_equal(o2.events[0].id, o.events[0].id);
	judge_out_clear(&o2);
	judge_out_clear(&o);
	state_clear(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cycles),
		cmocka_unit_test(test_labels_and_counts),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_first_run),
		cmocka_unit_test(test_passive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
