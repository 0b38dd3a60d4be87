/* test_state: the state file (round trip, strict parsing, moving bad files aside), the
 * state_dir lock and the sorted entry array. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/state.h"
#include "common/fileio.h"

/* ---- helpers ---- */

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup_dir(void **state)
{
	char tmpl[] = "/tmp/w53-state-XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return -1;
	*state = strdup(tmpl);
	return *state != NULL ? 0 : -1;
}

static int
teardown_dir(void **state)
{
	nftw(*state, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(*state);
	return 0;
}

static void
path_in(char *buf, size_t len, const char *dir, const char *name)
{
	assert_true((size_t)snprintf(buf, len, "%s/%s", dir, name) < len);
}

static void
write_bytes(const char *dir, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	path_in(path, sizeof(path), dir, STATE_FILE);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Names in dir starting with prefix; the last one found goes to name. */
static unsigned
count_prefix(const char *dir, const char *prefix, char *name, size_t namelen)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			n++;
			if (name != NULL)
				snprintf(name, namelen, "%s", de->d_name);
		}
	closedir(d);
	return n;
}

static bool
exists(const char *dir, const char *name)
{
	char path[512];
	struct stat sb;

	path_in(path, sizeof(path), dir, name);
	return lstat(path, &sb) == 0;
}

/*
 * A bad file must give -EBADMSG naming the reason, leave st alone, and end up as the one
 * state.json.corrupt-* beside an absent state.json, byte for byte. The corrupt file is
 * removed afterwards so the next case can count again. data NULL: the file is in place.
 */
static void
expect_corrupt(const char *dir, const void *data, size_t len, const char *reason)
{
	char err[1024], name[256], path[512];
	struct state st;
	char *back = NULL;
	size_t backlen = 0;
	struct stat sb;

	if (data != NULL) /* NULL: the caller prepared the file */
		write_bytes(dir, data, len);
	state_init(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EBADMSG);
	assert_int_equal(st.n, 0);
	assert_null(st.entries);
	assert_non_null(strstr(err, "moved it to"));
	assert_non_null(strstr(err, "watch53 baseline reset"));
	if (reason != NULL && strstr(err, reason) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err, reason);
	assert_false(exists(dir, STATE_FILE));
	assert_int_equal(count_prefix(dir, STATE_FILE ".corrupt-", name, sizeof(name)), 1);
	path_in(path, sizeof(path), dir, name);
	assert_non_null(strstr(err, path)); /* says where it went */
	assert_int_equal(lstat(path, &sb), 0);
	assert_int_equal((size_t)sb.st_size, len);
	if (data != NULL) {
		assert_int_equal(file_read_all(path, STATE_MAX_BYTES, &back, &backlen), 0);
		assert_int_equal(backlen, len);
		assert_memory_equal(back, data, len);
		free(back);
	}
	assert_int_equal(unlink(path), 0);
}

static struct net_addr
addr(const char *text)
{
	struct net_addr a;

	assert_int_equal(net_addr_parse(text, &a), 0);
	return a;
}

/* Every field away from its zero value, different per k. */
static void
fill_entry(struct bl_entry *e, unsigned k)
{
	snprintf(e->target, sizeof(e->target), "ns%u.example.test \"q\" \\ \t\xc3\xa4", k);
	e->expect_open[PROBE_SLOT_TCP] = k % 2 == 0;
	e->expect_open[PROBE_SLOT_UDP] = k % 2 == 1;
	e->last_cycle = 1000 + k;
	for (int s = 0; s < PROBE_NSLOTS; s++) {
		struct bl_port *p = &e->port[s];
		p->known = true;
		p->baseline_open = (k + (unsigned)s) % 2 == 0;
		p->reported_open = !p->baseline_open;
		p->last = (enum probe_state)(1 + (k + (unsigned)s) % 3);
		p->last_reason = (enum probe_reason)(1 + (k * 3 + (unsigned)s) % 11);
		p->open_streak = 1000000 - k;
		p->miss_streak = 7 + k + (unsigned)s;
		p->change_bits = (uint16_t)(0xffff - k);
		p->flapping = true;
		p->open_before_flap = s == 1;
		p->last_miss = s == 0 ? PROBE_FILTERED : PROBE_CLOSED;
		p->first_seen = 1700000000000000000ull + k;
		p->last_seen = k == 0 ? UINT64_MAX : 1700000000500000000ull + k;
		p->last_change = 1700000000400000000ull + k + (unsigned)s;
		p->closed_proven = (k + (unsigned)s) % 2 == 1;
		p->proven_by = p->closed_proven ? (s == 0 ? PROBE_REASON_RESET
							   : PROBE_REASON_NO_RESPONSE)
						: PROBE_REASON_NONE;
		p->quiet_cycles = 3 + k;
		p->quiet_since = 1700000000300000000ull + k;
		p->streak_verified = s == 0;
	}
	e->dns.known = true;
	e->dns.rcode = (uint16_t)(4095 - k);
	e->dns.aa = true;
	e->dns.ra = k % 2 == 0;
	/* the facts of the checks on every other entry: the others have none, as in a file
	 * from before the checks */
	if (k % 2 == 0) {
		e->dns.checks = DNSCHECK_ALL;
		e->dns.recursion = true;
		e->dns.bogus_known = k % 4 == 0;
		e->dns.bogus = k % 4 == 0;
		snprintf(e->dns.version, sizeof(e->dns.version), "9.18.%u \"x\"", k);
		e->dns.identity = true;
		e->dns.axfr = true;
		snprintf(e->dns.axfr_zones, sizeof(e->dns.axfr_zones), "a%u.test.,b.test.", k);
		e->dns.amplification = 3150 + k;
		e->dns.tcp_dns = k % 4 == 2;
	}
}

static void
assert_entry_equal(const struct bl_entry *a, const struct bl_entry *b)
{
	assert_int_equal(net_addr_cmp(&a->addr, &b->addr), 0);
	assert_string_equal(a->target, b->target);
	assert_memory_equal(a->expect_open, b->expect_open, sizeof(a->expect_open));
	assert_int_equal(a->last_cycle, b->last_cycle);
	for (int s = 0; s < PROBE_NSLOTS; s++) {
		const struct bl_port *p = &a->port[s], *q = &b->port[s];
		assert_int_equal(p->known, q->known);
		assert_int_equal(p->baseline_open, q->baseline_open);
		assert_int_equal(p->reported_open, q->reported_open);
		assert_int_equal(p->last, q->last);
		assert_int_equal(p->last_reason, q->last_reason);
		assert_int_equal(p->open_streak, q->open_streak);
		assert_int_equal(p->miss_streak, q->miss_streak);
		assert_int_equal(p->change_bits, q->change_bits);
		assert_int_equal(p->flapping, q->flapping);
		assert_int_equal(p->open_before_flap, q->open_before_flap);
		assert_true(p->first_seen == q->first_seen);
		assert_true(p->last_seen == q->last_seen);
		assert_true(p->last_change == q->last_change);
	}
	assert_int_equal(a->dns.known, b->dns.known);
	assert_int_equal(a->dns.rcode, b->dns.rcode);
	assert_int_equal(a->dns.aa, b->dns.aa);
	assert_int_equal(a->dns.ra, b->dns.ra);
	/* new entries are zeroed and the loader zeroes too: nothing else may differ */
	assert_memory_equal(a, b, sizeof(*a));
}

static const char *const sample_addrs[] = {
	"127.53.0.2", "2001:db8::53", "127.53.0.10", "::1", "10.0.0.1", "ffff::ffff",
};
#define NSAMPLE (sizeof(sample_addrs) / sizeof(sample_addrs[0]))

static void
sample_state(struct state *st)
{
	state_init(st);
	st->cycles = 123456789;
	st->last_cycle_wall = 1700000001234567891ull;
	st->last_duration_ns = 987654321;
	st->degraded = true;
	snprintf(st->instance, sizeof(st->instance), "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9");
	for (int t = 0; t < ALERT_NTYPES; t++)
		if (t != ALERT_TEST)
			st->events_total[t] = 1000 + (uint64_t)t;
	for (unsigned k = 0; k < NSAMPLE; k++) {
		struct net_addr a = addr(sample_addrs[k]);
		bool created;
		struct bl_entry *e = state_get(st, &a, &created);
		assert_non_null(e);
		assert_true(created);
		fill_entry(e, k);
	}
}

static void
assert_state_equal(const struct state *a, const struct state *b)
{
	assert_true(a->cycles == b->cycles);
	assert_true(a->last_cycle_wall == b->last_cycle_wall);
	assert_true(a->last_duration_ns == b->last_duration_ns);
	assert_int_equal(a->degraded, b->degraded);
	assert_memory_equal(a->events_total, b->events_total, sizeof(a->events_total));
	assert_string_equal(a->instance, b->instance);
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		assert_entry_equal(&a->entries[i], &b->entries[i]);
}

/* The saved form of the sample state, read back as bytes. */
static char *
saved_sample(const char *dir, size_t *len)
{
	struct state st;
	char err[512], path[512], *text = NULL;

	sample_state(&st);
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	state_clear(&st);
	path_in(path, sizeof(path), dir, STATE_FILE);
	assert_int_equal(file_read_all(path, STATE_MAX_BYTES, &text, len), 0);
	assert_int_equal(unlink(path), 0);
	return text;
}

/* ---- round trip ---- */

static void
test_round_trip(void **state)
{
	const char *dir = *state;
	struct state st, back;
	char err[512], path[512], *text;
	size_t len;
	struct stat sb;

	sample_state(&st);
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	/* overwriting an existing file goes through the same atomic path */
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);

	path_in(path, sizeof(path), dir, STATE_FILE);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	/* the temp file was renamed, nothing else is left behind */
	assert_int_equal(count_prefix(dir, "", NULL, 0), 3); /* ".", "..", state.json */

	state_init(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_state_equal(&st, &back);
	for (size_t i = 1; i < back.n; i++)
		assert_true(net_addr_cmp(&back.entries[i - 1].addr, &back.entries[i].addr) < 0);

	/* one entry a line, and the file parses to the same thing from memory */
	assert_int_equal(file_read_all(path, STATE_MAX_BYTES, &text, &len), 0);
	assert_non_null(strstr(text, "\"version\":1,"));
	assert_non_null(strstr(text, "\"last_cycle\":\"2023-11-14T22:13:21Z\""));
	assert_non_null(strstr(text, "\n{\"address\":\"127.53.0.2\","));
	assert_non_null(strstr(text, "\"last_seen\":18446744073709551615"));
	state_clear(&back);
	assert_int_equal(state_parse(text, len, &back, err, sizeof(err)), 0);
	assert_state_equal(&st, &back);
	free(text);

	state_clear(&back);
	state_clear(&st);
	assert_int_equal(count_prefix(dir, STATE_FILE ".corrupt", NULL, 0), 0);
}

static void
test_empty_state_round_trip(void **state)
{
	const char *dir = *state;
	struct state st, back;
	char err[512];

	state_init(&st);
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	sample_state(&back); /* load must replace what was there */
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, 0);
	assert_true(back.cycles == 0);
	assert_false(back.degraded);
	state_clear(&back);
}

/* Streaks beyond what the loader accepts are saturated, never written as corruption. */
static void
test_streak_saturates(void **state)
{
	const char *dir = *state;
	struct state st, back;
	struct net_addr a = addr("127.0.0.1");
	char err[512];

	state_init(&st);
	state_get(&st, &a, NULL)->port[PROBE_SLOT_TCP].open_streak = 5000000;
	state_get(&st, &a, NULL)->port[PROBE_SLOT_UDP].miss_streak = UINT32_MAX;
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	state_init(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_int_equal(back.entries[0].port[PROBE_SLOT_TCP].open_streak, 1000000);
	assert_int_equal(back.entries[0].port[PROBE_SLOT_UDP].miss_streak, 1000000);
	state_clear(&back);
	state_clear(&st);
}

/* ---- first run ---- */

static void
test_missing(void **state)
{
	const char *dir = *state;
	char sub[512], deeper[600], err[512], path[700];
	struct state st;
	struct stat sb;

	/* no file in an existing directory */
	sample_state(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(st.n, 0);
	state_clear(&st);

	/* no directory at all */
	path_in(sub, sizeof(sub), dir, "not-yet");
	assert_int_equal(state_load(sub, &st, err, sizeof(err)), 0);
	assert_int_equal(st.n, 0);
	assert_false(exists(dir, "not-yet")); /* loading creates nothing */

	/* saving creates the directory, private */
	sample_state(&st);
	assert_int_equal(state_save(sub, &st, err, sizeof(err)), 0);
	assert_int_equal(stat(sub, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0700);
	path_in(path, sizeof(path), sub, STATE_FILE);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	/* but only its last component */
	snprintf(deeper, sizeof(deeper), "%s/a/b", dir);
	assert_int_equal(state_save(deeper, &st, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "parent directory does not exist"));
	assert_non_null(strstr(err, deeper));
	state_clear(&st);
}

/* Something that is not a file is not "corrupt": report it, move nothing. */
static void
test_not_a_file(void **state)
{
	const char *dir = *state;
	char path[512], err[512];
	struct state st;

	path_in(path, sizeof(path), dir, STATE_FILE);
	assert_int_equal(mkdir(path, 0700), 0);
	state_init(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	assert_true(exists(dir, STATE_FILE));
	assert_int_equal(count_prefix(dir, STATE_FILE ".corrupt", NULL, 0), 0);
	assert_int_equal(rmdir(path), 0);
}

/* ---- bad files ---- */

#define PORT(ms) \
	"{\"known\":true,\"baseline\":\"closed\",\"reported\":\"open\",\"last\":\"open\"," \
	"\"last_reason\":\"syn-ack\",\"open_streak\":2,\"miss_streak\":" ms "," \
	"\"change_bits\":1," \
	"\"flapping\":false,\"open_before_flap\":false,\"first_seen\":1,\"last_seen\":2," \
	"\"last_change\":2}"
#define ENTRY(a) \
	"{\"address\":\"" a "\",\"target\":\"t\"," \
	"\"expect\":{\"tcp\":\"closed\",\"udp\":\"open\"}," \
	"\"last_cycle\":1,\"tcp\":" PORT("0") ",\"udp\":" PORT("7") "," \
	"\"dns\":{\"known\":true,\"rcode\":0,\"aa\":false,\"ra\":true}}"
#define HEAD \
	"{\"version\":1,\"cycles\":1,\"last_cycle\":\"\",\"last_cycle_ns\":5," \
	"\"last_duration_ns\":6,\"degraded\":false,\"entries\":["
#define GOOD HEAD ENTRY("127.53.0.2") "]}\n"

/* GOOD with the first `from` replaced by `to`. */
static char *
mutate(const char *from, const char *to, size_t *len)
{
	const char *at = strstr(GOOD, from);
	char *out;

	assert_non_null(at);
	*len = strlen(GOOD) - strlen(from) + strlen(to);
	out = malloc(*len + 1);
	assert_non_null(out);
	snprintf(out, *len + 1, "%.*s%s%s", (int)(at - GOOD), GOOD, to, at + strlen(from));
	return out;
}

#define LONG64 "0123456789012345678901234567890123456789012345678901234567890123"

static void
test_parse_messages(void **state)
{
	static const struct {
		const char *from, *to, *msg;
	} cases[] = {
		{ "\"miss_streak\":0", "\"miss_streak\":1000001",
		  "state.json: entries[0].tcp.miss_streak: expected an integer from 0 to 1000000" },
		{ "\"miss_streak\":7", "\"miss_streak\":-1",
		  "state.json: entries[0].udp.miss_streak: expected an integer from 0 to 1000000" },
		{ "\"miss_streak\":0", "\"miss_streak\":1.5",
		  "state.json: entries[0].tcp.miss_streak: expected an integer from 0 to 1000000" },
		{ "\"miss_streak\":0", "\"miss_streak\":\"0\"",
		  "state.json: entries[0].tcp.miss_streak: expected an integer from 0 to 1000000" },
		{ "\"change_bits\":1", "\"change_bits\":65536",
		  "state.json: entries[0].tcp.change_bits: expected an integer from 0 to 65535" },
		{ "\"first_seen\":1", "\"first_seen\":-5",
		  "state.json: entries[0].tcp.first_seen: expected a non-negative integer" },
		{ "\"last_reason\":\"syn-ack\"", "\"last_reason\":\"syn-ack-ish\"",
		  "state.json: entries[0].tcp.last_reason: expected a probe reason (\"syn-ack\", "
		  "\"reset\", ... or \"none\")" },
		{ "\"baseline\":\"closed\"", "\"baseline\":\"filtered\"",
		  "state.json: entries[0].tcp.baseline: expected \"open\" or \"closed\"" },
		{ "\"last\":\"open\"", "\"last\":\"opened\"",
		  "state.json: entries[0].tcp.last: expected \"open\", \"closed\", \"filtered\" or "
		  "\"none\"" },
		{ "\"flapping\":false,", "",
		  "state.json: entries[0].tcp.flapping: missing" },
		{ "\"flapping\":false", "\"flapping\":0",
		  "state.json: entries[0].tcp.flapping: expected true or false" },
		{ "\"udp\":\"open\"", "\"udp\":\"maybe\"",
		  "state.json: entries[0].expect.udp: expected \"open\" or \"closed\"" },
		{ "\"rcode\":0", "\"rcode\":4096",
		  "state.json: entries[0].dns.rcode: expected an integer from 0 to 4095" },
		{ "\"dns\":{", "\"dns\":{\"x\":1,",
		  "state.json: entries[0].dns: unknown key \"x\"" },
		{ "\"dns\":{", "\"dns\":{\"recursion\":1,",
		  "state.json: entries[0].dns.recursion: expected true or false" },
		{ "\"dns\":{", "\"dns\":{\"amplification_x100\":-1,",
		  "state.json: entries[0].dns.amplification_x100: expected an integer from 0 to "
		  "4294967295" },
		{ "\"dns\":{", "\"dns\":{\"version\":\"" LONG64 "\",",
		  "state.json: entries[0].dns.version: expected a string of at most 63 bytes" },
		{ "\"dns\":{", "\"dns\":{\"recursion\":true,\"version\":\"\",\"tcp_dns\":false,",
		  NULL /* the facts of the checks: optional keys */ },
		{ "\"address\":\"127.53.0.2\"", "\"address\":\"127.53.0.300\"",
		  "state.json: entries[0].address: \"127.53.0.300\" is not an IP address" },
		{ "\"address\":\"127.53.0.2\"", "\"address\":53",
		  "state.json: entries[0].address: expected a string of at most 45 bytes" },
		{ "\"target\":\"t\"", "\"target\":\"a\\u0000b\"",
		  "state.json: entries[0].target: contains a NUL character" },
		{ "\"tcp\":{", "\"tcp\":[{",
		  "state.json: not valid JSON at line 1, column" },
		{ "\"udp\":{\"known\"", "\"udp\":7,\"x\":{\"known\"",
		  "state.json: entries[0]: unknown key \"x\"" },
		{ "\"entries\":[", "\"entries\":[1,",
		  "state.json: entries[0]: expected an object" },
		{ "\"entries\":[", "\"entries\":{\"a\":",
		  "state.json: not valid JSON" },
		{ "\"entries\":[{", "\"entries\":[" ENTRY("127.53.0.2") ",{",
		  "state.json: entries: address 127.53.0.2 appears more than once" },
		{ "\"entries\":[{", "\"entries\":[" ENTRY("::ffff:7f35:2") ",{",
		  NULL /* a mapped address is another address: accepted */ },
		{ "\"version\":1", "\"version\":7",
		  "state.json: version 7 is not supported (expected 1)" },
		{ "\"version\":1", "\"version\":18446744073709551615",
		  "state.json: version 18446744073709551615 is not supported (expected 1)" },
		{ "\"version\":1", "\"version\":\"1\"",
		  "state.json: version: expected an integer" },
		{ "\"version\":1,", "",
		  "state.json: version: missing" },
		{ "\"degraded\":false", "\"degraded\":null",
		  "state.json: degraded: expected true or false" },
		{ "\"cycles\":1", "\"cycles\":1,\"extra\":\"\\n\"",
		  "state.json: unknown key \"extra\"" },
		{ "\"cycles\":1", "\"cycles\":1,\"a\\u0001b\":1",
		  "state.json: unknown key \"a?b\"" },
		{ "\"last_cycle\":\"\"", "\"last_cycle\":5",
		  "state.json: last_cycle: expected a string of at most 31 bytes" },
		{ "\"last_cycle\":\"\",", "", NULL /* informational: may be absent */ },
		{ "]}\n", "]}x",
		  "state.json: unexpected data after the document at line 1, column" },
		{ "]}\n", "]} {}",
		  "state.json: unexpected data after the document" },
		{ "]}\n", "]",
		  "state.json: truncated: the document ends at line 1 before it is complete" },
		{ "\"cycles\":1", "\"cycles\":1,\"deep\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]",
		  "state.json: nested deeper than 16 levels at line 1, column" },
		{ "{\"version\"", "[{\"version\"",
		  "state.json: not a state document (it does not start with '{')" },
		{ "\"cycles\":1,", "\"cycles\":1,,",
		  "state.json: not valid JSON at line 1, column 25 (quoted object property name "
		  "expected)" },
	};
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct state st;
		size_t len;
		char *doc = mutate(cases[i].from, cases[i].to, &len);
		int rc;

		state_init(&st);
		err[0] = '\0';
		rc = state_parse(doc, len, &st, err, sizeof(err));
		if (cases[i].msg == NULL) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, err);
			assert_true(st.n >= 1);
		} else {
			if (rc != -EBADMSG || strncmp(err, cases[i].msg, strlen(cases[i].msg)) != 0)
				fail_msg("case %zu: rc %d, \"%s\", wanted \"%s\"", i, rc, err,
					 cases[i].msg);
			assert_int_equal(st.n, 0);
		}
		state_clear(&st);
		free(doc);
	}
}

/* The good document really is good, and NUL bytes or a prefix make it bad. */
static void
test_parse_good_and_nul(void **state)
{
	static const char with_nul[] = GOOD "\0{}";
	struct state st;
	char err[512], *mapped;
	size_t len;

	(void)state;
	state_init(&st);
	assert_int_equal(state_parse(GOOD, strlen(GOOD), &st, err, sizeof(err)), 0);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.entries[0].port[PROBE_SLOT_UDP].miss_streak, 7);
	assert_true(st.entries[0].expect_open[PROBE_SLOT_UDP]);
	assert_int_equal(st.entries[0].port[PROBE_SLOT_TCP].last_reason, PROBE_REASON_SYN_ACK);
	/* a file from before the proof keys: reported open, an open streak (verified) */
	assert_false(st.entries[0].port[PROBE_SLOT_TCP].closed_proven);
	assert_true(st.entries[0].port[PROBE_SLOT_TCP].streak_verified);
	assert_int_equal(state_parse(with_nul, sizeof(with_nul) - 1, &st, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "unexpected data after the document"));
	assert_int_equal(st.n, 1); /* a failed parse leaves the old state */

	/* a v4-mapped v6 address is another address than the v4 one: two entries, v4 first */
	mapped = mutate("\"entries\":[{", "\"entries\":[" ENTRY("::ffff:7f35:2") ",{", &len);
	assert_int_equal(state_parse(mapped, len, &st, err, sizeof(err)), 0);
	assert_int_equal(st.n, 2);
	assert_int_equal(st.entries[0].addr.family, AF_INET);
	assert_int_equal(st.entries[1].addr.family, AF_INET6);
	free(mapped);
	state_clear(&st);
}

/* A file from before the proof keys: what its other fields imply. */
static void
test_parse_legacy_proof(void **state)
{
	struct state st;
	char err[512], *text;
	size_t len;

	(void)state;
	state_init(&st);
	/* reported closed after 7 misses (udp): proven closed by silence */
	text = mutate("\"udp\":{\"known\":true,\"baseline\":\"closed\",\"reported\":\"open\","
		      "\"last\":\"open\",\"last_reason\":\"syn-ack\",\"open_streak\":2",
		      "\"udp\":{\"known\":true,\"baseline\":\"closed\",\"reported\":\"closed\","
		      "\"last\":\"filtered\",\"last_reason\":\"no-response\",\"open_streak\":0",
		      &len);
	assert_int_equal(state_parse(text, len, &st, err, sizeof(err)), 0);
	assert_true(st.entries[0].port[PROBE_SLOT_UDP].closed_proven);
	assert_int_equal(st.entries[0].port[PROBE_SLOT_UDP].proven_by, PROBE_REASON_NO_RESPONSE);
	assert_int_equal(st.entries[0].port[PROBE_SLOT_UDP].quiet_cycles, 7);
	assert_false(st.entries[0].port[PROBE_SLOT_UDP].streak_verified);
	free(text);

	/* the new keys present but wrong: one line naming the field */
	text = mutate("\"last_change\":2}", "\"last_change\":2,\"closed_proven\":true,"
		      "\"proven_by\":\"maybe\",\"quiet_cycles\":1,\"quiet_since\":0,"
		      "\"streak_verified\":false}", &len);
	assert_int_equal(state_parse(text, len, &st, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "entries[0].tcp.proven_by: expected a probe reason"));
	free(text);
	text = mutate("\"last_change\":2}", "\"last_change\":2,\"closed_proven\":1}", &len);
	assert_int_equal(state_parse(text, len, &st, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "entries[0].tcp.closed_proven"));
	free(text);
	state_clear(&st);
}

static void
test_corrupt_files(void **state)
{
	static const unsigned char binary[] = {
		0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0xff, 0xfe, 0x00, 0x01, '{', '}', 0x80,
	};
	static const unsigned char brace_binary[] = { '{', 0x00, 0xff, 0x13, '"', 0xc3 };
	const char *dir = *state;

	expect_corrupt(dir, "", 0, "(the file is empty)");
	expect_corrupt(dir, " \n\t\n", 4, "(the file is empty)");
	expect_corrupt(dir, "hello, world\n", 13, "it does not start with '{'");
	expect_corrupt(dir, binary, sizeof(binary), "it does not start with '{'");
	expect_corrupt(dir, brace_binary, sizeof(brace_binary), "(not valid JSON at line 1");
	expect_corrupt(dir, "{\"version\":7,\"entries\":[]}", 26,
		       "(version 7 is not supported (expected 1))");
	expect_corrupt(dir, GOOD "garbage", strlen(GOOD) + 7, "unexpected data after the document");
	expect_corrupt(dir, "{\"version\":1,\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 50,
		       "nested deeper than 16 levels");
}

/* Every 97th prefix of a real saved file: all truncated, all set aside. */
static void
test_truncated(void **state)
{
	const char *dir = *state;
	size_t len, last, cuts = 0;
	char *text = saved_sample(dir, &len);

	/* cutting only the final newline leaves a complete document */
	last = len;
	while (last > 0 && text[last - 1] != '}')
		last--;
	assert_true(last > 1000);
	for (size_t cut = 0; cut < last; cut += 97, cuts++)
		expect_corrupt(dir, text, cut, cut == 0 ? "the file is empty" : "truncated");
	expect_corrupt(dir, text, last - 1, "truncated");
	assert_true(cuts > 10);
	free(text);
}

/* A second failure in the same second gets a name of its own, keeping the first. */
static void
test_corrupt_twice(void **state)
{
	const char *dir = *state;
	struct state st;
	char err[1024];

	state_init(&st);
	write_bytes(dir, "junk", 4);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EBADMSG);
	write_bytes(dir, "junk", 4);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EBADMSG);
	assert_int_equal(count_prefix(dir, STATE_FILE ".corrupt-", NULL, 0), 2);
	assert_false(exists(dir, STATE_FILE));
	/* the file is gone, but this is no first run: the next cycle keeps failing (and
	 * says how to recover) instead of silently recording a new baseline */
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "baseline reset"));
	assert_non_null(strstr(err, STATE_FILE ".corrupt-"));
	/* what `baseline reset` does: an empty state, after which cycles run again */
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(st.cycles, 0);
	assert_int_equal(st.n, 0);
}

static void
test_huge(void **state)
{
	const char *dir = *state;
	const size_t big = 11u << 20;
	const char *head, *tail;
	char path[512], *buf;
	size_t len;
	int fd;

	/* over the cap: refused by size, without reading 64 MiB */
	path_in(path, sizeof(path), dir, STATE_FILE);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)STATE_MAX_BYTES + 1), 0);
	close(fd);
	expect_corrupt(dir, NULL, (size_t)STATE_MAX_BYTES + 1, "(larger than 64 MiB)");

	/* 11 MB of nesting: the tokenizer stops at level 17 */
	buf = malloc(big);
	assert_non_null(buf);
	len = (size_t)snprintf(buf, big, "{\"version\":1,\"entries\":");
	memset(buf + len, '[', big - len);
	expect_corrupt(dir, buf, big, "nested deeper than 16 levels");

	/* 11 MB in one string where 255 bytes fit */
	free(buf);
	head = strstr(GOOD, "\"target\":\"") + strlen("\"target\":\"");
	tail = strstr(GOOD, "\",\"expect\"");
	len = (size_t)(head - GOOD) + big + strlen(tail);
	buf = malloc(len);
	assert_non_null(buf);
	memcpy(buf, GOOD, (size_t)(head - GOOD));
	memset(buf + (head - GOOD), 'a', big);
	memcpy(buf + (head - GOOD) + big, tail, strlen(tail));
	expect_corrupt(dir, buf, len,
		       "(entries[0].target: expected a string of at most 255 bytes)");
	free(buf);
}

/* ---- the lock ---- */

static void
test_lock(void **state)
{
	const char *dir = *state;
	char err[512], sub[512], lockpath[600], deeper[600];
	struct stat sb;
	pid_t pid;
	int fd1, fd2, fd3, status;

	path_in(sub, sizeof(sub), dir, "fresh");
	fd1 = state_lock(sub, err, sizeof(err));
	assert_true(fd1 >= 0);
	/* created for the first run: private directory, private lock file */
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	path_in(lockpath, sizeof(lockpath), sub, STATE_LOCK);
	assert_int_equal(stat(lockpath, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	/* flock belongs to the open file description: a second open in this process
	 * conflicts just as another process would */
	err[0] = '\0';
	fd2 = state_lock(sub, err, sizeof(err));
	assert_int_equal(fd2, -EWOULDBLOCK);
	assert_non_null(strstr(err, "another watch53 cycle holds the lock on"));
	assert_non_null(strstr(err, sub));

	/* and another process */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char cerr[512];
		_exit(state_lock(sub, cerr, sizeof(cerr)) == -EWOULDBLOCK ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	state_unlock(fd1);
	fd3 = state_lock(sub, err, sizeof(err));
	assert_true(fd3 >= 0);
	state_unlock(fd3);
	state_unlock(-1); /* harmless */

	snprintf(deeper, sizeof(deeper), "%s/no/such", dir);
	assert_int_equal(state_lock(deeper, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "parent directory does not exist"));
}

/* ---- the sorted array ---- */

static void
test_get_keeps_order(void **state)
{
	struct state st;
	struct net_addr a;
	bool created;

	(void)state;
	state_init(&st);
	assert_null(state_find(&st, &(struct net_addr){ .family = AF_INET }));
	/* 1000 distinct addresses (v4 and v6) in scrambled order: 7919 is prime, so
	 * i * 7919 mod 1000 visits every i once */
	for (unsigned i = 0; i < 1000; i++) {
		unsigned k = i * 7919 % 1000;
		struct bl_entry *e;
		memset(&a, 0, sizeof(a));
		a.family = k % 3 == 0 ? AF_INET6 : AF_INET;
		a.bytes[0] = a.family == AF_INET ? 127 : 0x20;
		a.bytes[2] = (uint8_t)(k >> 8);
		a.bytes[3] = (uint8_t)k;
		e = state_get(&st, &a, &created);
		assert_non_null(e);
		assert_true(created);
		assert_int_equal(net_addr_cmp(&e->addr, &a), 0);
		assert_int_equal(e->port[0].known, false);
		assert_int_equal(e->target[0], '\0');
		e->last_cycle = k; /* survives the memmoves of later inserts */
	}
	assert_int_equal(st.n, 1000);
	assert_true(st.cap >= 1000);
	for (size_t i = 1; i < st.n; i++)
		assert_true(net_addr_cmp(&st.entries[i - 1].addr, &st.entries[i].addr) < 0);
	for (unsigned k = 0; k < 1000; k++) {
		struct bl_entry *e, *again;
		memset(&a, 0, sizeof(a));
		a.family = k % 3 == 0 ? AF_INET6 : AF_INET;
		a.bytes[0] = a.family == AF_INET ? 127 : 0x20;
		a.bytes[2] = (uint8_t)(k >> 8);
		a.bytes[3] = (uint8_t)k;
		e = state_find(&st, &a);
		assert_non_null(e);
		assert_int_equal(e->last_cycle, k);
		again = state_get(&st, &a, &created);
		assert_ptr_equal(again, e);
		assert_false(created);
	}
	a = addr("127.99.99.99");
	assert_null(state_find(&st, &a));
	assert_int_equal(st.n, 1000);
	state_clear(&st);
	assert_int_equal(st.n, 0);
	assert_null(st.entries);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_empty_state_round_trip, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_streak_saturates, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_missing, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_not_a_file, setup_dir, teardown_dir),
		cmocka_unit_test(test_parse_messages),
		cmocka_unit_test(test_parse_good_and_nul),
		cmocka_unit_test(test_parse_legacy_proof),
		cmocka_unit_test_setup_teardown(test_corrupt_files, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_truncated, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_corrupt_twice, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_huge, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_lock, setup_dir, teardown_dir),
		cmocka_unit_test(test_get_keeps_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
