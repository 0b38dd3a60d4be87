/* test_state: the state database (round trip of every field, the schema and its versions,
 * the import of a legacy state.json, damaged and foreign files moved aside, what a quiet
 * save writes), the JSON document's strict parser, the state_dir lock and the sorted
 * entry array. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
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
/* only to make foreign and hand-made databases: the module under test wraps SQLite */
#include <sqlite3.h>

#include "agent/state.h"
#include "common/fileio.h"
#include "common/util.h"

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
write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	path_in(path, sizeof(path), dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* a legacy state.json */
static void
write_bytes(const char *dir, const void *data, size_t len)
{
	write_file(dir, STATE_JSON_FILE, data, len);
}

static char *
read_file(const char *dir, const char *name, size_t *len)
{
	char path[512], *text = NULL;

	path_in(path, sizeof(path), dir, name);
	assert_int_equal(file_read_all(path, 256u << 20, &text, len), 0);
	return text;
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

/* The same, counting a database and its -wal, -shm, -journal once. */
static unsigned
count_main(const char *dir, const char *prefix, char *name, size_t namelen)
{
	static const char *const sidecars[] = { "-wal", "-shm", "-journal" };
	struct dirent *de;
	unsigned n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		bool side = false;
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		for (size_t i = 0; i < 3; i++)
			side |= len > strlen(sidecars[i]) &&
				strcmp(de->d_name + len - strlen(sidecars[i]), sidecars[i]) == 0;
		if (side)
			continue;
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

/* Remove every name in dir starting with prefix. */
static void
remove_prefix(const char *dir, const char *prefix)
{
	char name[256], path[512];

	while (count_prefix(dir, prefix, name, sizeof(name)) > 0) {
		path_in(path, sizeof(path), dir, name);
		assert_int_equal(unlink(path), 0);
	}
}

/*
 * A bad file (state.db or the legacy state.json: `name`) must give -EBADMSG naming the
 * reason, leave st alone, and end up as the one <name>.corrupt-* beside an absent <name>,
 * byte for byte. The corrupt files are removed afterwards so the next case can count
 * again. data NULL: the file is in place (and len its size).
 */
static void
expect_corrupt_as(const char *dir, const char *name, const void *data, size_t len,
		  const char *reason)
{
	char err[1024], aside[256], path[512], prefix[64];
	struct state st;
	char *back = NULL;
	size_t backlen = 0;
	struct stat sb;

	if (data != NULL) /* NULL: the caller prepared the file */
		write_file(dir, name, data, len);
	state_init(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EBADMSG);
	assert_int_equal(st.n, 0);
	assert_null(st.entries);
	assert_non_null(strstr(err, "moved it to"));
	assert_non_null(strstr(err, "watch53 baseline reset"));
	if (reason != NULL && strstr(err, reason) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err, reason);
	assert_false(exists(dir, name));
	assert_false(exists(dir, STATE_DB_FILE)); /* nothing made in its place */
	snprintf(prefix, sizeof(prefix), "%s.corrupt-", name);
	/* SQLite may have made an empty -wal beside a database in WAL mode: it went along */
	assert_int_equal(count_main(dir, prefix, aside, sizeof(aside)), 1);
	path_in(path, sizeof(path), dir, aside);
	assert_non_null(strstr(err, path)); /* says where it went */
	assert_int_equal(lstat(path, &sb), 0);
	assert_int_equal((size_t)sb.st_size, len);
	if (data != NULL) {
		/* set aside as it was found: nothing was written to it */
		assert_int_equal(file_read_all(path, 256u << 20, &back, &backlen), 0);
		assert_int_equal(backlen, len);
		assert_memory_equal(back, data, len);
		free(back);
	}
	/* and it stays a failure: no silent new baseline */
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "baseline reset"));
	remove_prefix(dir, prefix);
}

static void
expect_corrupt(const char *dir, const void *data, size_t len, const char *reason)
{
	expect_corrupt_as(dir, STATE_JSON_FILE, data, len, reason);
}

static void
expect_corrupt_db(const char *dir, const void *data, size_t len, const char *reason)
{
	expect_corrupt_as(dir, STATE_DB_FILE, data, len, reason);
}

/* Bytes written by this process so far (/proc/self/io: wchar counts every write(2) and
 * pwrite(2), whatever the file system; write_bytes what reached a block device). */
static void
io_counters(uint64_t *wchar, uint64_t *write_bytes)
{
	char line[128];
	FILE *f = fopen("/proc/self/io", "r");

	*wchar = *write_bytes = 0;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "wchar: %" SCNu64, wchar);
		sscanf(line, "write_bytes: %" SCNu64, write_bytes);
	}
	fclose(f);
}

/* Run sql on the database at dir/name (created if missing). */
static void
sql_at(const char *dir, const char *name, const char *sql)
{
	char path[512], *msg = NULL;
	sqlite3 *h = NULL;

	path_in(path, sizeof(path), dir, name);
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg != NULL ? msg : "?");
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

static void
sql(const char *dir, const char *stmt)
{
	sql_at(dir, STATE_DB_FILE, stmt);
}

/* The first column of the first row of a query on dir/state.db, as an integer. */
static int64_t
sql_int(const char *dir, const char *query)
{
	char path[512];
	sqlite3 *h = NULL;
	sqlite3_stmt *q = NULL;
	int64_t v;

	path_in(path, sizeof(path), dir, STATE_DB_FILE);
	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(h, query, -1, &q, NULL) != SQLITE_OK)
		fail_msg("%s: %s", query, sqlite3_errmsg(h));
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
	return v;
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
fill_entry(struct state *st, struct bl_entry *e, unsigned k)
{
	char target[64];

	snprintf(target, sizeof(target), "ns%u.example.test \"q\" \\ \t\xc3\xa4", k);
	e->target = state_label(st, target);
	assert_non_null(e->target);
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
	/* new entries are zeroed and the loader zeroes too: nothing else may differ (the
	 * label is a pointer into each state's own copy, compared as text above) */
	{
		struct bl_entry x = *a, y = *b;
		x.target = y.target = NULL;
		assert_memory_equal(&x, &y, sizeof(x));
	}
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
		fill_entry(st, e, k);
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

/* `baseline show --format json`: the silences after the entries, a document the parser
 * still reads (entries only); a "silences" that is not a list is refused. */
static void
test_json_silences(void **state)
{
	struct state st, back;
	struct state_silence s1 = { .protocol = "udp", .until_ns = 1800000000ULL * 1000000000ULL,
				    .set_ns = 1700000000ULL * 1000000000ULL };
	char err[512], *text = NULL, *bad;
	size_t len = 0;
	FILE *f;

	(void)state;
	state_init(&st);
	state_init(&back);
	assert_int_equal(state_parse(GOOD, strlen(GOOD), &st, err, sizeof(err)), 0);
	assert_int_equal(net_addr_parse("127.53.0.20", &s1.addr), 0);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(state_json_begin(&st, f), 0);
	assert_int_equal(state_json_entry(&st.entries[0], true, f), 0);
	assert_int_equal(state_json_silences_begin(st.n, f), 0);
	assert_int_equal(state_json_silence(&s1, true, f), 0);
	assert_int_equal(state_json_silences_end(1, f), 0);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(text, ",\"silences\":[\n{\"address\":\"127.53.0.20\","
				     "\"protocol\":\"udp\",\"until\":\"2027-01-15T08:00:00Z\","));
	assert_int_equal(state_parse(text, len, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, 1);
	bad = mutate("\"entries\":[", "\"silences\":1,\"entries\":[", &len);
	assert_int_equal(state_parse(bad, len, &back, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "silences: expected an array"));
	free(bad);
	free(text);
	state_clear(&back);
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

/* ---- round trip through the database ---- */

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
	/* saving over an existing database: every row afresh (st was not loaded from it) */
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);

	path_in(path, sizeof(path), dir, STATE_DB_FILE);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	/* closed cleanly: the log folded in and gone, no -shm, no state.db.new */
	assert_int_equal(count_prefix(dir, "", NULL, 0), 3); /* ".", "..", state.db */

	state_init(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_state_equal(&st, &back);
	for (size_t i = 1; i < back.n; i++)
		assert_true(net_addr_cmp(&back.entries[i - 1].addr, &back.entries[i].addr) < 0);
	/* loading leaves the files as they were */
	assert_int_equal(count_prefix(dir, "", NULL, 0), 3);

	/* the schema, as sqlite3 sees it: ours, version 5, one row an address, labels once */
	assert_int_equal(sql_int(dir, "PRAGMA application_id"), 0x77353373);
	assert_int_equal(sql_int(dir, "PRAGMA user_version"), 8);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM entries"), NSAMPLE);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM labels WHERE "
				      "text LIKE 'ns3.example.test%'"), 1);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM labels"), NSAMPLE);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM entries WHERE "
				      "addr = x'0600000000000000000000000000000001'"), 1);
	assert_int_equal(sql_int(dir, "SELECT cycles FROM meta"), 123456789);
	assert_int_equal(sql_int(dir, "SELECT total FROM events_total WHERE type = 'exposed'"),
			 1000 + ALERT_EXPOSED);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM events_total"), ALERT_NTYPES - 1);

	/* the JSON document of what was loaded (baseline show --format json): one entry a
	 * line, and it parses to the same thing */
	assert_int_equal(state_format(&back, &text, &len), 0);
	assert_non_null(strstr(text, "\"version\":1,"));
	assert_non_null(strstr(text, "\"last_cycle\":\"2023-11-14T22:13:21Z\""));
	assert_non_null(strstr(text, "\n{\"address\":\"127.53.0.2\","));
	assert_non_null(strstr(text, "\"last_seen\":18446744073709551615"));
	state_clear(&back);
	assert_int_equal(state_parse(text, len, &back, err, sizeof(err)), 0);
	assert_state_equal(&st, &back);
	free(text);

	/* loaded and saved unchanged, loaded again: still the same */
	state_clear(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_int_equal(state_save(dir, &back, err, sizeof(err)), 0);
	state_clear(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_state_equal(&st, &back);

	state_clear(&back);
	state_clear(&st);
	assert_int_equal(count_prefix(dir, STATE_DB_FILE ".corrupt", NULL, 0), 0);
}

/* The columns stored relative to the cycle (last_cycle, last_seen, the counts): every
 * value comes back, whether it is the reference or not. */
static void
test_round_trip_relative(void **state)
{
	const char *dir = *state;
	struct state st, back;
	char err[512];

	sample_state(&st);
	st.cycles = st.entries[1].last_cycle;   /* entry 1 probed in the last cycle */
	for (size_t i = 0; i < 4; i++)           /* a majority of ports seen at one time */
		for (int s = 0; s < PROBE_NSLOTS; s++)
			st.entries[i].port[s].last_seen = 1700000009000000000ull;
	st.entries[2].port[PROBE_SLOT_TCP].open_streak = 0;
	st.entries[2].port[PROBE_SLOT_TCP].miss_streak = 0;
	st.entries[2].port[PROBE_SLOT_TCP].quiet_cycles = 0;
	st.entries[3].port[PROBE_SLOT_UDP].open_streak = 1;
	st.entries[3].port[PROBE_SLOT_UDP].miss_streak = 1000000;
	st.entries[4].last_cycle = 0;
	st.entries[4].port[PROBE_SLOT_TCP].open_streak = 999999; /* began "before" cycle 0 */
	st.entries[5].last_cycle = UINT64_MAX;
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(sql_int(dir, "SELECT seen_ns FROM meta"), 1700000009000000000ll);
	state_init(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_state_equal(&st, &back);
	state_clear(&back);
	state_clear(&st);
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
	/* entries added to a state loaded empty are saved */
	sample_state(&st);
	for (size_t i = 0; i < st.n; i++)
		*state_get(&back, &st.entries[i].addr, NULL) = st.entries[i];
	assert_int_equal(state_save(dir, &back, err, sizeof(err)), 0);
	state_clear(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, NSAMPLE);
	for (size_t i = 0; i < back.n; i++)
		assert_entry_equal(&st.entries[i], &back.entries[i]);
	state_clear(&back);
	state_clear(&st);
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
	state_get(&st, &a, NULL)->port[PROBE_SLOT_UDP].quiet_cycles = UINT32_MAX;
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	state_init(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_int_equal(back.entries[0].port[PROBE_SLOT_TCP].open_streak, 1000000);
	assert_int_equal(back.entries[0].port[PROBE_SLOT_UDP].miss_streak, 1000000);
	assert_int_equal(back.entries[0].port[PROBE_SLOT_UDP].quiet_cycles, 1000000);
	state_clear(&back);
	state_clear(&st);
}

/* A loaded state changed in place and grown in the middle: the row hashes move with the
 * entries, so each row written is the right one and the unchanged are kept. */
static void
test_incremental(void **state)
{
	const char *dir = *state;
	struct state st, back;
	struct net_addr mid = addr("127.53.0.5"), later = addr("127.53.0.10"), v6 = addr("::1");
	struct bl_entry *e;
	char err[512];
	bool created;

	sample_state(&st);
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	state_clear(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	assert_non_null(st.row_hash);
	assert_int_equal(st.stored, NSAMPLE);
	/* between 10.0.0.1 and 127.53.0.10, and ahead of every v6 entry */
	e = state_get(&st, &mid, &created);
	assert_true(created);
	fill_entry(&st, e, 40);
	e = state_find(&st, &later);
	memset(e->dns.version, 0, sizeof(e->dns.version));
	snprintf(e->dns.version, sizeof(e->dns.version), "changed");
	state_find(&st, &v6)->port[PROBE_SLOT_UDP].miss_streak++;
	st.cycles++;
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	state_init(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_state_equal(&st, &back);
	assert_int_equal(back.n, NSAMPLE + 1);
	state_clear(&back);
	state_clear(&st);
}

/* Saving a state that was not loaded from the database replaces all of it. */
static void
test_save_replaces(void **state)
{
	const char *dir = *state;
	struct state st, small, back;
	char err[512];

	sample_state(&st);
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	state_init(&small);
	small.cycles = 7;
	*state_get(&small, &st.entries[2].addr, NULL) = st.entries[2];
	*state_get(&small, &st.entries[4].addr, NULL) = st.entries[4];
	assert_int_equal(state_save(dir, &small, err, sizeof(err)), 0);
	state_init(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_state_equal(&small, &back);
	state_clear(&back);
	state_clear(&small);
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
	assert_int_equal(count_prefix(dir, "", NULL, 0), 2); /* loading creates nothing */
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
	path_in(path, sizeof(path), sub, STATE_DB_FILE);
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
	static const char *const names[] = { STATE_DB_FILE, STATE_JSON_FILE };
	char path[512], err[512];
	struct state st;

	for (size_t i = 0; i < 2; i++) {
		path_in(path, sizeof(path), dir, names[i]);
		assert_int_equal(mkdir(path, 0700), 0);
		state_init(&st);
		assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "not a regular file"));
		assert_non_null(strstr(err, path));
		assert_true(exists(dir, names[i]));
		assert_int_equal(count_prefix(dir, names[i], NULL, 0), 1);
		assert_int_equal(rmdir(path), 0);
	}
	/* and a FIFO is never opened (that would block) */
	path_in(path, sizeof(path), dir, STATE_DB_FILE);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EINVAL);
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), -EINVAL);
	assert_int_equal(unlink(path), 0);
}

/* ---- the schema and its versions ---- */

/* Version 1 as it was first written, frozen here: whatever a later version changes, a
 * database made by 0.1 must still load (through the migrations). */
static const char v1_schema[] =
	"CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), instance TEXT NOT NULL,"
	" cycles INTEGER NOT NULL, last_cycle_ns INTEGER NOT NULL,"
	" last_duration_ns INTEGER NOT NULL, degraded INTEGER NOT NULL, seen_ns INTEGER NOT NULL,"
	" generation INTEGER NOT NULL, imported_from TEXT);"
	"CREATE TABLE events_total (type TEXT PRIMARY KEY NOT NULL, total INTEGER NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE TABLE entries (addr BLOB PRIMARY KEY NOT NULL, address TEXT NOT NULL,"
	" target TEXT NOT NULL, expect_open INTEGER NOT NULL, last_cycle INTEGER,"
#define V1_SLOT(s) \
	" " s "_known INTEGER NOT NULL, " s "_baseline_open INTEGER NOT NULL," \
	" " s "_reported_open INTEGER NOT NULL, " s "_last TEXT NOT NULL," \
	" " s "_last_reason TEXT NOT NULL, " s "_last_miss TEXT NOT NULL," \
	" " s "_open_streak_start INTEGER, " s "_miss_streak_start INTEGER," \
	" " s "_change_bits INTEGER NOT NULL, " s "_flapping INTEGER NOT NULL," \
	" " s "_open_before_flap INTEGER NOT NULL, " s "_first_seen INTEGER NOT NULL," \
	" " s "_last_seen INTEGER, " s "_last_change INTEGER NOT NULL," \
	" " s "_closed_proven INTEGER NOT NULL, " s "_proven_by TEXT NOT NULL," \
	" " s "_quiet_cycles_start INTEGER, " s "_quiet_since INTEGER NOT NULL," \
	" " s "_streak_verified INTEGER NOT NULL,"
	V1_SLOT("tcp") V1_SLOT("udp")
	" dns_known INTEGER NOT NULL, dns_rcode INTEGER NOT NULL, dns_aa INTEGER NOT NULL,"
	" dns_ra INTEGER NOT NULL, dns_recursion INTEGER, dns_bogus INTEGER, dns_version TEXT,"
	" dns_identity INTEGER, dns_axfr INTEGER, dns_axfr_zones TEXT,"
	" dns_amplification_x100 INTEGER, dns_tcp_dns INTEGER) WITHOUT ROWID;"
	"PRAGMA application_id = 1999975283; PRAGMA user_version = 1;";

#define V1_PORT_VALUES(open) \
	"1, 0, " open ", 'open', 'syn-ack', 'filtered', 40, NULL, 1, 0, 0, 100, NULL, 200, 0," \
	" 'none', NULL, 0, 1"

static void
make_v1_db(const char *dir)
{
	sql(dir, v1_schema);
	sql(dir, "INSERT INTO meta VALUES (1, 'a1b2c3d4-0000-4000-8000-000000000001', 42,"
		 " 1700000000000000000, 5000000, 0, 1700000000900000000, 77, NULL);"
		 "INSERT INTO events_total VALUES ('exposed', 3), ('opened', 1);"
		 "INSERT INTO entries VALUES (x'047f350002', '127.53.0.2', 'lab', 2, NULL, "
		 V1_PORT_VALUES("1") ", " V1_PORT_VALUES("0") ","
		 " 1, 0, 0, 1, 1, NULL, '9.18.1', 0, NULL, NULL, 3150, 1);"
		 "INSERT INTO entries VALUES (x'0620010db8000000000000000000000053', '2001:db8::53',"
		 " 'lab6', 0, 40, " V1_PORT_VALUES("1") ", " V1_PORT_VALUES("1") ","
		 " 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);");
}

static void
test_v1_db(void **state)
{
	const char *dir = *state;
	struct state st;
	const struct bl_entry *e;
	const struct bl_port *p;
	char err[512];

	make_v1_db(dir);
	state_init(&st);
	if (state_load(dir, &st, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	/* the loader reads it as it is; the save migrates it */
	assert_int_equal(sql_int(dir, "PRAGMA user_version"), 1);
	assert_int_equal(st.n, 2);
	assert_string_equal(st.instance, "a1b2c3d4-0000-4000-8000-000000000001");
	assert_true(st.cycles == 42);
	assert_true(st.last_cycle_wall == 1700000000000000000ull);
	assert_true(st.events_total[ALERT_EXPOSED] == 3);
	assert_true(st.events_total[ALERT_OPENED] == 1);
	assert_true(st.events_total[ALERT_CLOSED] == 0);
	e = &st.entries[0];
	assert_int_equal(e->addr.family, AF_INET);
	assert_string_equal(e->target, "lab");
	assert_false(e->expect_open[PROBE_SLOT_TCP]);
	assert_true(e->expect_open[PROBE_SLOT_UDP]);
	assert_true(e->last_cycle == 42); /* NULL: meta.cycles */
	p = &e->port[PROBE_SLOT_TCP];
	assert_true(p->known && !p->baseline_open && p->reported_open);
	assert_int_equal(p->last, PROBE_OPEN);
	assert_int_equal(p->last_reason, PROBE_REASON_SYN_ACK);
	assert_int_equal(p->last_miss, PROBE_FILTERED);
	assert_int_equal(p->open_streak, 3); /* began at cycle 40: 40, 41, 42 */
	assert_int_equal(p->miss_streak, 0);
	assert_int_equal(p->change_bits, 1);
	assert_true(p->first_seen == 100 && p->last_change == 200);
	assert_true(p->last_seen == 1700000000900000000ull); /* NULL: meta.seen_ns */
	assert_true(p->streak_verified);
	assert_false(e->port[PROBE_SLOT_UDP].reported_open);
	assert_true(e->dns.known && e->dns.ra && !e->dns.aa && e->dns.rcode == 0);
	assert_int_equal(e->dns.checks, DNSCHECK_RECURSION | DNSCHECK_VERSION |
			 DNSCHECK_AMPLIFICATION | DNSCHECK_TCP_DNS);
	assert_true(e->dns.recursion && !e->dns.bogus_known);
	assert_string_equal(e->dns.version, "9.18.1");
	assert_int_equal(e->dns.amplification, 3150);
	e = &st.entries[1];
	assert_int_equal(e->addr.family, AF_INET6);
	assert_true(e->last_cycle == 40);
	assert_int_equal(e->port[PROBE_SLOT_UDP].open_streak, 1);
	assert_int_equal(e->dns.checks, 0);
	/* saved and loaded by this version: the same */
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	{
		struct state back;
		state_init(&back);
		assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
		assert_state_equal(&st, &back);
		state_clear(&back);
	}
	assert_int_equal(sql_int(dir, "PRAGMA user_version"), 8);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM history"), 0);
	{
		/* and switched to WAL: the header's read and write versions say 2 */
		size_t len;
		char *bytes = read_file(dir, STATE_DB_FILE, &len);
		assert_true(len > 100);
		assert_int_equal(bytes[18], 2);
		assert_int_equal(bytes[19], 2);
		free(bytes);
	}
	state_clear(&st);
}

/* Databases that are SQLite but not ours, or not of a version we read: set aside. */
static void
test_foreign_db(void **state)
{
	const char *dir = *state;
	static const struct {
		const char *sql, *reason;
	} cases[] = {
		{ "CREATE TABLE users (name TEXT, pw TEXT); INSERT INTO users VALUES ('a', 'b');",
		  "an SQLite database, but not a watch53 state (application_id 0, user_version 0)" },
		{ "PRAGMA user_version = 99; CREATE TABLE t (x);",
		  "not a watch53 state (application_id 0, user_version 99)" },
		{ "PRAGMA application_id = 1999975283; PRAGMA user_version = 99; CREATE TABLE t (x);",
		  "schema version 99, from a newer watch53 (this watch53 reads 1 to 8)" },
		{ "PRAGMA application_id = 1999975283; CREATE TABLE t (x);",
		  "schema version 0" },
		{ "PRAGMA application_id = 1999975283; PRAGMA user_version = 1; CREATE TABLE t (x);",
		  "no such table: entries" },
		{ "CREATE TABLE t (x); DROP TABLE t;", "an SQLite database with nothing in it" },
	};
	char path[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *bytes;
		size_t len;
		sql(dir, cases[i].sql);
		bytes = read_file(dir, STATE_DB_FILE, &len);
		path_in(path, sizeof(path), dir, STATE_DB_FILE);
		assert_int_equal(unlink(path), 0);
		expect_corrupt_db(dir, bytes, len, cases[i].reason);
		free(bytes);
	}
	/* ours, of version 1, but a column edited away */
	make_v1_db(dir);
	sql(dir, "ALTER TABLE entries DROP COLUMN dns_tcp_dns");
	path_in(path, sizeof(path), dir, STATE_DB_FILE);
	{
		struct stat sb;
		assert_int_equal(stat(path, &sb), 0);
		expect_corrupt_db(dir, NULL, (size_t)sb.st_size, "no such column: dns_tcp_dns");
	}
}

/* A row of ours with a value no version writes: set aside, the message naming the row
 * and the column. */
static void
test_bad_values(void **state)
{
	const char *dir = *state;
	static const struct {
		const char *sql, *reason;
	} cases[] = {
		{ "UPDATE entries SET tcp_last = 'maybe'",
		  "(entries[127.53.0.2].tcp_last: \"maybe\" is not a probe state)" },
		{ "UPDATE entries SET udp_last_miss = 'open' WHERE address = '127.53.0.2'",
		  "entries[127.53.0.2].udp_last_miss: \"open\" is not a probe state without evidence" },
		{ "UPDATE entries SET tcp_proven_by = 'luck'",
		  "tcp_proven_by: \"luck\" is not a probe reason" },
		{ "UPDATE entries SET tcp_flapping = 2", "tcp_flapping: expected 0 or 1" },
		{ "UPDATE entries SET udp_known = 'yes'", "udp_known: expected 0 or 1" },
		{ "UPDATE entries SET dns_rcode = 4096", "dns_rcode: 4096 is above 4095" },
		{ "UPDATE entries SET tcp_change_bits = 65536", "tcp_change_bits: 65536 is above 65535" },
		{ "UPDATE entries SET expect_open = 4", "expect_open: 4 is above 3" },
		{ "UPDATE entries SET tcp_open_streak_start = 100",
		  "tcp_open_streak_start: not a cycle a count can have begun at" },
		{ "UPDATE entries SET target = x'610062'", "target: expected text" },
		{ "UPDATE entries SET target = 'a' || char(0) || 'b'",
		  "target: contains a NUL character" },
		{ "UPDATE entries SET dns_version = printf('%.64c', 'v')",
		  "dns_version: longer than 63 bytes" },
		{ "UPDATE entries SET address = '127.0.0.1' WHERE address = '127.53.0.2'",
		  "entries[127.53.0.2].address: is not the address of the key" },
		{ "UPDATE entries SET addr = x'0401020304050607' WHERE address = '127.53.0.2'",
		  "entries row 1.addr: expected 4 or 6 and then the address's 4 or 16 bytes" },
		{ "UPDATE entries SET dns_amplification_x100 = 4294967296",
		  "dns_amplification_x100: 4294967296 is above 4294967295" },
		{ "UPDATE entries SET udp_first_seen = 1.5", "udp_first_seen: expected an integer" },
		{ "DELETE FROM meta", "meta: the row is missing" },
		{ "UPDATE meta SET instance = printf('%.40c', 'x')",
		  "meta.instance: expected text of at most 36 bytes" },
		{ "UPDATE meta SET degraded = 3", "meta.degraded: expected 0 or 1" },
		{ "INSERT INTO events_total VALUES ('test', 1)",
		  "events_total: \"test\" is not an event type" },
		{ "INSERT INTO events_total VALUES ('surprise', 1)",
		  "events_total: \"surprise\" is not an event type" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *bytes;
		size_t len;
		make_v1_db(dir);
		sql(dir, cases[i].sql);
		bytes = read_file(dir, STATE_DB_FILE, &len);
		expect_corrupt_db(dir, NULL, len, cases[i].reason);
		free(bytes);
	}
}

/* ---- damaged databases ---- */

/* A good database of n entries, as bytes. */
static char *
good_db(const char *dir, size_t n, size_t *len)
{
	struct state st;
	char err[512], path[512], *bytes;

	state_init(&st);
	for (size_t i = 0; i < n; i++) {
		struct net_addr a = { .family = AF_INET, .bytes = { 10, 1, (uint8_t)(i >> 8),
								   (uint8_t)i } };
		fill_entry(&st, state_get(&st, &a, NULL), (unsigned)i);
	}
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	state_clear(&st);
	bytes = read_file(dir, STATE_DB_FILE, len);
	path_in(path, sizeof(path), dir, STATE_DB_FILE);
	assert_int_equal(unlink(path), 0);
	return bytes;
}

static void
test_corrupt_db(void **state)
{
	const char *dir = *state;
	unsigned char noise[8192];
	size_t len, cuts = 0;
	char *db = good_db(dir, 300, &len);

	srandom(53);
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (unsigned char)random();
	expect_corrupt_db(dir, noise, sizeof(noise), "(file is not a database)");
	expect_corrupt_db(dir, "hello, world\n", 13, "(file is not a database)");
	expect_corrupt_db(dir, "", 0, "(the file is empty)");
	/* a state.json where the database should be */
	expect_corrupt_db(dir, "{\"version\":1}", 13, "(file is not a database)");

	/* truncated: inside the header, at and around every page boundary */
	assert_true(len > 16 * 4096);
	for (size_t cut = 50; cut < len; cut = cut < 4096 ? 4096 : cut + 4096, cuts++) {
		expect_corrupt_db(dir, db, cut, NULL);
		if (cut > 4096)
			expect_corrupt_db(dir, db, cut - 1000, NULL);
	}
	/* the last byte only: SQLite would read the missing zero as there, the size says
	 * otherwise */
	expect_corrupt_db(dir, db, len - 1, "(truncated: ");
	assert_true(cuts > 16);

	/* a page of the table overwritten: the header still says ours */
	memset(db + len - 4096 * 3, 0x5a, 4096);
	expect_corrupt_db(dir, db, len, NULL);
	free(db);
}

/* What SQLite keeps beside a database goes with it, under names that still open together;
 * and a log without its database is not a first run. */
static void
test_corrupt_db_sidecars(void **state)
{
	const char *dir = *state;
	char err[1024], name[256], path[512];
	struct state st;

	write_file(dir, STATE_DB_FILE, "garbage", 7);
	write_file(dir, STATE_DB_FILE "-wal", "wal!", 4);
	write_file(dir, STATE_DB_FILE "-shm", "shm!", 4);
	state_init(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "with its -wal and -shm files"));
	assert_int_equal(count_prefix(dir, STATE_DB_FILE, NULL, 0), 3);
	assert_int_equal(count_prefix(dir, STATE_DB_FILE ".corrupt-", name, sizeof(name)), 3);
	assert_false(exists(dir, STATE_DB_FILE));
	assert_false(exists(dir, STATE_DB_FILE "-wal"));
	assert_int_equal(count_prefix(dir, "", NULL, 0), 5);
	name[strlen(STATE_DB_FILE ".corrupt-") + 16] = '\0'; /* the stamp: 20261204T185846Z */
	snprintf(path, sizeof(path), "%s-wal", name);
	assert_true(exists(dir, path));
	snprintf(path, sizeof(path), "%s-shm", name);
	assert_true(exists(dir, path));
	remove_prefix(dir, STATE_DB_FILE);

	write_file(dir, STATE_DB_FILE "-wal", "wal!", 4);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "it is missing, but its wal file is there"));
	assert_int_equal(count_prefix(dir, STATE_DB_FILE ".corrupt-", NULL, 0), 1);
	assert_false(exists(dir, STATE_DB_FILE "-wal"));
	/* and until it is dealt with, no cycle starts a new baseline */
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "baseline reset"));
	state_clear(&st);
}

/* What `baseline reset` does: the state renamed aside (never deleted), then an empty one
 * that also lets cycles run again after a corrupt state. */
static void
test_set_aside(void **state)
{
	const char *dir = *state;
	char err[512], moved[600], name[256], path[512];
	struct state st;
	size_t len;
	char *db = good_db(dir, 3, &len), *back;

	write_file(dir, STATE_DB_FILE, db, len);
	write_bytes(dir, "{}", 2); /* a legacy state.json never imported: not imported later */
	assert_int_equal(state_set_aside(dir, "reset", moved, sizeof(moved), err, sizeof(err)), 0);
	assert_int_equal(count_prefix(dir, STATE_DB_FILE ".reset-", name, sizeof(name)), 1);
	path_in(path, sizeof(path), dir, name);
	assert_string_equal(moved, path);
	back = read_file(dir, name, &len);
	assert_memory_equal(back, db, len);
	free(back);
	assert_int_equal(count_prefix(dir, STATE_JSON_FILE ".reset-", NULL, 0), 1);
	assert_false(exists(dir, STATE_DB_FILE));
	assert_false(exists(dir, STATE_JSON_FILE));
	/* nothing there: nothing to do */
	assert_int_equal(state_set_aside(dir, "reset", moved, sizeof(moved), err, sizeof(err)), 0);
	assert_string_equal(moved, "");

	/* after a corrupt state */
	write_file(dir, STATE_DB_FILE, "junk", 4);
	state_init(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EBADMSG);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EBADMSG);
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(st.n, 0);
	free(db);
	state_clear(&st);
}

/* ---- the import of a legacy state.json ---- */

static void
test_import(void **state)
{
	const char *dir = *state;
	struct state st, back;
	char err[512], name[256], *text, *kept;
	size_t len, keptlen;

	/* a real v1 state file, by the writer that made them */
	sample_state(&st);
	assert_int_equal(state_format(&st, &text, &len), 0);
	write_bytes(dir, text, len);
	state_init(&back);
	if (state_load(dir, &back, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_state_equal(&st, &back);
	/* state.json renamed, byte for byte, never deleted; the database in its place */
	assert_false(exists(dir, STATE_JSON_FILE));
	assert_int_equal(count_prefix(dir, STATE_JSON_FILE ".imported-", name, sizeof(name)), 1);
	kept = read_file(dir, name, &keptlen);
	assert_int_equal(keptlen, len);
	assert_memory_equal(kept, text, len);
	free(kept);
	assert_true(exists(dir, STATE_DB_FILE));
	assert_int_equal(count_prefix(dir, "", NULL, 0), 4); /* ., .., state.db, the json */
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM entries"), NSAMPLE);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM meta WHERE imported_from LIKE "
				      "'state.json dev % ino %'"), 1);

	/* the cycle that imported saves incrementally, and what it saved is what loads */
	back.cycles++;
	back.entries[3].port[PROBE_SLOT_TCP].miss_streak = 9;
	assert_int_equal(state_save(dir, &back, err, sizeof(err)), 0);
	st.cycles++;
	st.entries[3].port[PROBE_SLOT_TCP].miss_streak = 9;
	state_clear(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_state_equal(&st, &back);
	assert_int_equal(count_prefix(dir, STATE_JSON_FILE ".imported-", NULL, 0), 1);
	free(text);
	state_clear(&back);
	state_clear(&st);
}

/* A crash after the database was committed and before state.json was renamed: the same
 * state.json is recognized and only renamed. Any other state.json beside the database is
 * somebody's doing: refused, and nothing moved. */
static void
test_import_interrupted(void **state)
{
	const char *dir = *state;
	struct state st, back;
	char err[1024], name[256], from[512], to[512], *text;
	size_t len;

	sample_state(&st);
	assert_int_equal(state_format(&st, &text, &len), 0);
	write_bytes(dir, text, len);
	state_init(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_int_equal(count_prefix(dir, STATE_JSON_FILE ".imported-", name, sizeof(name)), 1);
	path_in(from, sizeof(from), dir, name);
	path_in(to, sizeof(to), dir, STATE_JSON_FILE);
	assert_int_equal(rename(from, to), 0); /* as if the rename had not happened */
	state_clear(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_state_equal(&st, &back);
	assert_false(exists(dir, STATE_JSON_FILE));
	assert_int_equal(count_prefix(dir, STATE_JSON_FILE ".imported-", NULL, 0), 1);

	/* another file: its own inode */
	write_bytes(dir, text, len);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "both exist"));
	assert_non_null(strstr(err, to));
	assert_true(exists(dir, STATE_JSON_FILE));
	assert_true(exists(dir, STATE_DB_FILE));
	assert_int_equal(count_prefix(dir, STATE_DB_FILE ".corrupt", NULL, 0), 0);
	free(text);
	state_clear(&back);
	state_clear(&st);
}

/* ---- a legacy state.json that does not parse: set aside at the import ---- */

/* The document of the sample state, as the JSON writer makes it. */
static char *
saved_sample(size_t *len)
{
	struct state st;
	char *text = NULL;

	sample_state(&st);
	assert_int_equal(state_format(&st, &text, len), 0);
	state_clear(&st);
	return text;
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

/* Every 97th prefix of a real state file: all truncated, all set aside. */
static void
test_truncated(void **state)
{
	const char *dir = *state;
	size_t len, last, cuts = 0;
	char *text = saved_sample(&len);

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
	assert_int_equal(count_prefix(dir, STATE_JSON_FILE ".corrupt-", NULL, 0), 2);
	assert_false(exists(dir, STATE_JSON_FILE));
	assert_false(exists(dir, STATE_DB_FILE));
	/* the file is gone, but this is no first run: the next cycle keeps failing (and
	 * says how to recover) instead of silently recording a new baseline */
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "baseline reset"));
	assert_non_null(strstr(err, STATE_JSON_FILE ".corrupt-"));
	/* what `baseline reset` does: an empty state, after which cycles run again */
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(st.cycles, 0);
	assert_int_equal(st.n, 0);
	/* the same for a database: twice in a second, two names */
	write_file(dir, STATE_DB_FILE, "junk", 4);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EBADMSG);
	write_file(dir, STATE_DB_FILE, "junk", 4);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), -EBADMSG);
	assert_int_equal(count_prefix(dir, STATE_DB_FILE ".corrupt-", NULL, 0), 2);
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

	/* over the import cap: refused by size, without reading 64 MiB */
	path_in(path, sizeof(path), dir, STATE_JSON_FILE);
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

/* ---- what a quiet cycle writes ---- */

#define QUIET_N 16384u

/* A /18 as a cycle leaves it: every port known, most closed, some open, DNS facts on the
 * open ones. */
static void
quiet_state(struct state *st, uint64_t now)
{
	state_init(st);
	st->cycles = 10;
	snprintf(st->instance, sizeof(st->instance), "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9");
	for (unsigned i = 0; i < QUIET_N; i++) {
		struct net_addr a = { .family = AF_INET, .bytes = { 10, 53, (uint8_t)(i >> 8),
								   (uint8_t)i } };
		struct bl_entry *e = state_get(st, &a, NULL);
		bool open = i % 16 == 0;
		e->target = state_label(st, "10.53.0.0/18");
		e->last_cycle = st->cycles;
		for (int s = 0; s < PROBE_NSLOTS; s++) {
			struct bl_port *p = &e->port[s];
			p->known = true;
			p->baseline_open = p->reported_open = open;
			p->last = open ? PROBE_OPEN : s == 0 ? PROBE_CLOSED : PROBE_FILTERED;
			p->last_reason = open ? (s == 0 ? PROBE_REASON_SYN_ACK : PROBE_REASON_DNS_REPLY)
					      : s == 0 ? PROBE_REASON_RESET : PROBE_REASON_NO_RESPONSE;
			p->last_miss = open ? PROBE_STATE_NONE : p->last;
			p->open_streak = open ? 10 : 0;
			p->miss_streak = open ? 0 : 10;
			p->first_seen = now - 9 * 300 * NS_PER_SEC;
			p->last_seen = now;
			p->last_change = p->first_seen;
			p->closed_proven = !open;
			p->proven_by = open ? PROBE_REASON_NONE : s == 0 ? PROBE_REASON_RESET
							       : PROBE_REASON_NO_RESPONSE;
			p->quiet_cycles = open ? 0 : 10;
			p->quiet_since = open ? 0 : p->first_seen;
			p->streak_verified = open;
			/* the open ones changed 3 cycles ago: inside the flapping window */
			p->change_bits = open ? 1u << 3 : 0;
		}
		if (open) {
			e->dns.known = true;
			e->dns.ra = true;
			e->dns.checks = DNSCHECK_VERSION;
			snprintf(e->dns.version, sizeof(e->dns.version), "9.18.19");
		}
	}
}

/* One quiet cycle as baseline_apply and the cycle leave it: every port observed as before. */
static void
quiet_cycle(struct state *st, uint64_t now)
{
	for (size_t i = 0; i < st->n; i++) {
		struct bl_entry *e = &st->entries[i];
		e->last_cycle = st->cycles + 1;
		for (int s = 0; s < PROBE_NSLOTS; s++) {
			struct bl_port *p = &e->port[s];
			p->last_seen = now;
			/* the window moves along, as baseline_apply moves it (BL_FLAP_WINDOW) */
			p->change_bits = (uint16_t)((p->change_bits << 1) & ((1u << BL_FLAP_WINDOW) - 1));
			if (p->reported_open) {
				p->open_streak++;
			} else {
				p->miss_streak++;
				p->quiet_cycles++;
			}
		}
	}
	st->cycles++;
	st->last_cycle_wall = now + NS_PER_SEC;
	st->last_duration_ns = 1234567;
}

static void
test_quiet_save(void **state)
{
	const char *dir = *state;
	uint64_t now = 1764870000000000000ull, w0, w1, b0, b1, full, quiet;
	struct state st, back;
	char err[512];
	struct stat sb;
	char path[512];

	quiet_state(&st, now);
	io_counters(&w0, &b0);
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	io_counters(&w1, &b1);
	full = w1 - w0;
	state_clear(&st);

	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	quiet_cycle(&st, now + 300 * NS_PER_SEC);
	io_counters(&w0, &b0);
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	io_counters(&w1, &b1);
	quiet = w1 - w0;
	path_in(path, sizeof(path), dir, STATE_DB_FILE);
	assert_int_equal(stat(path, &sb), 0);
	print_message("state.db for %u addresses: %jd bytes; first save wrote %" PRIu64 " bytes, "
		      "a quiet cycle's save %" PRIu64 " bytes (write_bytes %" PRIu64 ")\n",
		      QUIET_N, (intmax_t)sb.st_size, full, quiet, b1 - b0);
	/* the meta page, through the log and into the file: a few pages, not the table (not
	 * even the rows whose flapping window moved) */
	assert_true(quiet < 32 * 1024);
	assert_true(full > 256u * 1024);

	/* and what it did not write is still right */
	state_init(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_state_equal(&st, &back);

	/* a cycle where one port opened writes that row, not the others */
	state_clear(&st);
	st = back;
	state_init(&back);
	quiet_cycle(&st, now + 600 * NS_PER_SEC);
	st.entries[77].port[PROBE_SLOT_TCP].open_streak = 1;
	st.entries[77].port[PROBE_SLOT_TCP].miss_streak = 0;
	io_counters(&w0, &b0);
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	io_counters(&w1, &b1);
	assert_true(w1 - w0 < 48 * 1024);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
	assert_state_equal(&st, &back);
	state_clear(&back);
	state_clear(&st);
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
	assert_non_null(strstr(err, "another watch53 holds the state lock on"));
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

/* ---- the history (schema v2) ---- */

static struct state_hist
hist_row(uint64_t t, const char *type, const char *address, const char *id)
{
	struct state_hist r;

	memset(&r, 0, sizeof(r));
	r.time_ns = t;
	snprintf(r.type, sizeof(r.type), "%s", type);
	snprintf(r.severity, sizeof(r.severity), "%s", "high");
	snprintf(r.address, sizeof(r.address), "%s", address);
	snprintf(r.protocol, sizeof(r.protocol), "%s", "tcp");
	r.port = 53;
	snprintf(r.summary, sizeof(r.summary), "%s", "tcp/53 is open, \"unexpected\"");
	snprintf(r.source, sizeof(r.source), "%s", "active");
	snprintf(r.id, sizeof(r.id), "%s", id);
	return r;
}

#define DAY (86400ull * NS_PER_SEC)

/* A v1 database: its first save migrates it to v2 in one transaction and commits the
 * cycle's events with the state; they read back in order, by period and address. */
static void
test_history_v1_migration(void **state)
{
	const char *dir = *state;
	uint64_t now = util_wall_ns();
	struct state_hist add[3], *rows = NULL;
	struct state st;
	size_t n = 0;
	char err[512];

	add[0] = hist_row(now - 3 * DAY, "exposed", "127.53.0.2", "id-0");
	add[1] = hist_row(now - 2 * DAY, "closed", "127.53.0.2", "id-1");
	add[2] = hist_row(now - DAY, "exposed", "2001:db8::53", "id-2");
	make_v1_db(dir);
	/* a history read of a v1 database migrates it too: an empty history */
	assert_int_equal(state_history_read(dir, 0, NULL, false, &rows, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sql_int(dir, "PRAGMA user_version"), 8);

	{
		char path[512];
		path_in(path, sizeof(path), dir, STATE_DB_FILE);
		assert_int_equal(unlink(path), 0);
	}
	make_v1_db(dir);
	state_init(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	st.cycles++;
	st.history_add = add;
	st.nhistory_add = 3;
	st.history_retention_ns = 400 * DAY;
	if (state_save(dir, &st, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(sql_int(dir, "PRAGMA user_version"), 8);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM history"), 3);
	assert_int_equal(sql_int(dir, "SELECT cycles FROM meta"), 43);

	assert_int_equal(state_history_read(dir, 0, NULL, false, &rows, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(rows[i].id, add[i].id);
		assert_string_equal(rows[i].type, add[i].type);
		assert_string_equal(rows[i].address, add[i].address);
		assert_string_equal(rows[i].summary, add[i].summary);
		assert_string_equal(rows[i].severity, "high");
		assert_string_equal(rows[i].protocol, "tcp");
		assert_string_equal(rows[i].source, "active");
		assert_int_equal(rows[i].port, 53);
		assert_true(rows[i].time_ns == add[i].time_ns);
		assert_true(i == 0 || rows[i].seq > rows[i - 1].seq);
	}
	free(rows);
	/* a period, an address (given as the history holds it) */
	assert_int_equal(state_history_read(dir, now - 2 * DAY - 1, NULL, false, &rows, &n, err,
					    sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].id, "id-1");
	free(rows);
	assert_int_equal(state_history_read(dir, 0, "2001:db8::53", false, &rows, &n, err,
					    sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].id, "id-2");
	free(rows);
	/* carry: what the period begins in, per port, first */
	assert_int_equal(state_history_read(dir, now - DAY - 1, NULL, true, &rows, &n, err,
					    sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].id, "id-1"); /* the last of 127.53.0.2 before the period */
	assert_string_equal(rows[1].id, "id-2");
	free(rows);

	/* loaded and saved again with nothing to add: the history stays */
	st.history_add = NULL;
	st.nhistory_add = 0;
	state_clear(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM history"), 3);
	state_clear(&st);
}

/* A save that fails leaves neither the state nor the events: one transaction. */
/* A pass: staging keeps one observation an address (the lowest ord), pages and the judge
 * walk them in address order with their entries, a row not staged keeps its values across
 * the new reference, the events commit with the state and come back in order. */
struct pass_seen {
	struct state *head;
	char bodies[4][8];
	size_t n;
	bool created[4];
};

static int
pass_page_fn(void *arg, const struct net_addr *a, const void *obs, size_t len,
	     const struct bl_entry *e)
{
	struct pass_seen *ps = arg;

	(void)a;
	assert_null(e);
	assert_true(len < sizeof(ps->bodies[0]) && ps->n < 4);
	memcpy(ps->bodies[ps->n], obs, len);
	ps->bodies[ps->n++][len] = '\0';
	return 0;
}

static int
pass_judge_fn(void *arg, const void *obs, size_t len, struct bl_entry *e, bool created)
{
	struct pass_seen *ps = arg;

	assert_true(len < sizeof(ps->bodies[0]) && ps->n < 4);
	memcpy(ps->bodies[ps->n], obs, len);
	ps->bodies[ps->n][len] = '\0';
	ps->created[ps->n++] = created;
	e->target = state_label(ps->head, "lab");
	e->last_cycle = ps->head->cycles + 1;
	e->port[PROBE_SLOT_TCP].known = true;
	e->port[PROBE_SLOT_TCP].last = PROBE_CLOSED;
	e->port[PROBE_SLOT_TCP].last_seen = 1000 * (ps->head->cycles + 1);
	e->port[PROBE_SLOT_TCP].first_seen = e->port[PROBE_SLOT_TCP].first_seen ?: 1000;
	return 0;
}

static int
pass_event_fn(void *arg, const char *json, size_t len)
{
	size_t *n = arg;

	assert_int_equal(len, strlen("{\"e\":1}"));
	assert_memory_equal(json, "{\"e\":1}", len);
	(*n)++;
	return 0;
}

struct names_seen {
	char text[256];
};

static int
names_note(void *arg, const struct state_name *n)
{
	struct names_seen *ns = arg;
	size_t off = strlen(ns->text);

	snprintf(ns->text + off, sizeof(ns->text) - off, "%s:%llu:%llu:%s;", n->name,
		 (unsigned long long)n->since_ns, (unsigned long long)n->since_cycle, n->reason);
	return 0;
}

/* The unresolved names commit with the cycle (schema 7): put, replace, drop; a pass freed
 * without its commit leaves them as they were. */
static void
test_pass_names(void **state)
{
	const char *dir = *state;
	struct state_name n1 = { "ns2.lab", 1000, 3, "Name or service not known" };
	struct state_name n2 = { "a.example.test", 2000, 4, "Temporary failure" };
	struct names_seen seen = { "" };
	struct state_pass *p = NULL;
	struct state head;
	char err[512];

	state_init(&head);
	assert_int_equal(state_pass_open(dir, &head, &p, err, sizeof(err)), 0);
	assert_int_equal(state_pass_begin(p, err, sizeof(err)), 0);
	assert_int_equal(state_pass_name_put(p, &n1, err, sizeof(err)), 0);
	assert_int_equal(state_pass_name_put(p, &n2, err, sizeof(err)), 0);
	assert_int_equal(state_pass_commit(p, &head, 0, err, sizeof(err)), 0);
	state_pass_free(p);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM unresolved"), 2);

	/* dropped without a commit: still there */
	assert_int_equal(state_pass_open(dir, &head, &p, err, sizeof(err)), 0);
	assert_int_equal(state_pass_begin(p, err, sizeof(err)), 0);
	assert_int_equal(state_pass_name_drop(p, "ns2.lab", err, sizeof(err)), 0);
	state_pass_free(p);
	assert_int_equal(state_pass_open(dir, &head, &p, err, sizeof(err)), 0);
	assert_int_equal(state_pass_begin(p, err, sizeof(err)), 0);
	assert_int_equal(state_pass_names(p, names_note, &seen, err, sizeof(err)), 0);
	assert_string_equal(seen.text, "a.example.test:2000:4:Temporary failure;"
				       "ns2.lab:1000:3:Name or service not known;");
	/* dropped with one */
	assert_int_equal(state_pass_name_drop(p, "ns2.lab", err, sizeof(err)), 0);
	assert_int_equal(state_pass_commit(p, &head, 0, err, sizeof(err)), 0);
	state_pass_free(p);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM unresolved"), 1);
	state_clear(&head);
}

static int
silence_note(void *arg, const struct state_silence *s)
{
	char *buf = arg, a[NETADDR_STRLEN];
	size_t off = strlen(buf);

	snprintf(buf + off, 256 - off, "%s/%s:%llu;", net_addr_str(&s->addr, a, sizeof(a)),
		 s->protocol, (unsigned long long)s->until_ns);
	return 0;
}

/* Maintenance windows (schema 8): put, replace, drop, read with and without a pass. */
static void
test_pass_silences(void **state)
{
	const char *dir = *state;
	struct state_silence s1 = { addr("127.53.0.9"), "udp", 5000, 1000 };
	struct state_silence s2 = { addr("::1"), "", 9000, 1000 };
	struct state_pass *p = NULL;
	struct state head;
	char err[512], seen[256] = "";

	state_init(&head);
	/* no state yet: no silence, and nothing made */
	assert_int_equal(state_silences(dir, silence_note, seen, err, sizeof(err)), 0);
	assert_string_equal(seen, "");
	assert_int_equal(state_pass_open(dir, &head, &p, err, sizeof(err)), 0);
	assert_int_equal(state_pass_begin(p, err, sizeof(err)), 0);
	assert_int_equal(state_pass_silence_put(p, &s1, false, err, sizeof(err)), 0);
	assert_int_equal(state_pass_silence_put(p, &s2, false, err, sizeof(err)), 0);
	s1.until_ns = 6000; /* the same address and protocol: replaced */
	assert_int_equal(state_pass_silence_put(p, &s1, false, err, sizeof(err)), 0);
	assert_int_equal(state_pass_commit(p, &head, 0, err, sizeof(err)), 0);
	state_pass_free(p);
	assert_int_equal(state_silences(dir, silence_note, seen, err, sizeof(err)), 0);
	assert_string_equal(seen, "127.53.0.9/udp:6000;::1/:9000;");
	assert_int_equal(state_pass_open(dir, &head, &p, err, sizeof(err)), 0);
	assert_int_equal(state_pass_begin(p, err, sizeof(err)), 0);
	assert_int_equal(state_pass_silence_put(p, &s2, true, err, sizeof(err)), 0);
	assert_int_equal(state_pass_commit(p, &head, 0, err, sizeof(err)), 0);
	seen[0] = '\0';
	assert_int_equal(state_pass_silences(p, silence_note, seen, err, sizeof(err)), 0);
	state_pass_free(p);
	assert_string_equal(seen, "127.53.0.9/udp:6000;");
	state_clear(&head);
}

static void
test_pass(void **state)
{
	const char *dir = *state;
	struct net_addr a = addr("127.53.0.9"), b = addr("127.53.0.2"), last;
	struct state_hist hist = hist_row(1000, "exposed", "127.53.0.9",
					  "0b8e1c2a-58f1-4d0e-9a3b-5c7d9e1f2a3b");
	struct state_spool spool = { "hook", "0b8e1c2a-58f1-4d0e-9a3b-5c7d9e1f2a3b", "{\"e\":1}",
				     7 };
	struct state_pass *p = NULL;
	struct pass_seen ps = { 0 };
	struct state head, st;
	size_t nev = 0;
	char err[512];

	state_init(&head);
	state_init(&st);
	ps.head = &head;
	if (state_pass_open(dir, &head, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_true(exists(dir, STATE_DB_FILE)); /* a first run makes an empty database */
	assert_int_equal(head.cycles, 0);
	assert_int_equal(state_pass_stage(p, &a, 5, "a5", 2, err, sizeof(err)), 0);
	assert_int_equal(state_pass_stage(p, &b, 1, "b1", 2, err, sizeof(err)), 0);
	assert_int_equal(state_pass_stage(p, &a, 2, "a2", 2, err, sizeof(err)), 0);
	assert_int_equal(state_pass_stage(p, &a, 3, "a3", 2, err, sizeof(err)), 0);
	/* address order, a page at a time */
	assert_int_equal(state_pass_page(p, NULL, 1, pass_page_fn, &ps, &last, err,
					 sizeof(err)), 1);
	assert_int_equal(net_addr_cmp(&last, &b), 0);
	assert_int_equal(state_pass_page(p, &last, 10, pass_page_fn, &ps, &last, err,
					 sizeof(err)), 1);
	assert_int_equal(state_pass_page(p, &last, 10, pass_page_fn, &ps, &last, err,
					 sizeof(err)), 0);
	assert_string_equal(ps.bodies[0], "b1");
	assert_string_equal(ps.bodies[1], "a2");
	assert_int_equal(state_pass_restage(p, &b, "b9", 2, err, sizeof(err)), 0);
	ps.n = 0;
	assert_int_equal(state_pass_begin(p, err, sizeof(err)), 0);
	assert_int_equal(state_pass_judge(p, 1, 1000, pass_judge_fn, &ps, err, sizeof(err)), 0);
	assert_int_equal(ps.n, 2);
	assert_string_equal(ps.bodies[0], "b9");
	assert_true(ps.created[0] && ps.created[1]);
	assert_int_equal(state_pass_event(p, &hist, &spool, 1, "{\"e\":1}", 7, err, sizeof(err)), 0);
	head.cycles = 1;
	assert_int_equal(state_pass_commit(p, &head, 0, err, sizeof(err)), 0);
	assert_int_equal(state_pass_events(p, pass_event_fn, &nev, err, sizeof(err)), 0);
	assert_int_equal(nev, 1);
	state_pass_free(p);
	p = NULL;
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM history"), 1);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM spool"), 1);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(st.n, 2);
	assert_int_equal(st.cycles, 1);
	assert_string_equal(st.entries[0].target, "lab");

	/* the second cycle stages a only: b keeps last_cycle 1 and last_seen 1000 under the
	 * new reference */
	state_clear(&st);
	ps.n = 0;
	assert_int_equal(state_pass_open(dir, &head, &p, err, sizeof(err)), 0);
	ps.head = &head;
	assert_int_equal(head.cycles, 1);
	assert_true(state_label_known(&head, "lab"));
	/* a big estate: the scratch moves to a file before anything is staged */
	assert_int_equal(state_pass_expect(p, STATE_PASS_MEMORY_MAX + 1, err, sizeof(err)), 0);
	assert_int_equal(state_pass_stage(p, &a, 1, "a", 1, err, sizeof(err)), 0);
	assert_int_equal(state_pass_begin(p, err, sizeof(err)), 0);
	assert_int_equal(state_pass_judge(p, 2, 2000, pass_judge_fn, &ps, err, sizeof(err)), 0);
	assert_int_equal(ps.n, 1);
	assert_false(ps.created[0]);
	head.cycles = 2;
	assert_int_equal(state_pass_commit(p, &head, 0, err, sizeof(err)), 0);
	state_pass_free(p);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(st.n, 2);
	assert_int_equal(net_addr_cmp(&st.entries[0].addr, &b), 0);
	assert_int_equal(st.entries[0].last_cycle, 1);
	assert_int_equal(st.entries[0].port[PROBE_SLOT_TCP].last_seen, 1000);
	assert_int_equal(st.entries[1].last_cycle, 2);
	assert_int_equal(st.entries[1].port[PROBE_SLOT_TCP].last_seen, 2000);
	assert_int_equal(st.entries[1].port[PROBE_SLOT_TCP].first_seen, 1000);
	state_clear(&st);
	state_clear(&head);
}

/* Version 6 keeps the words as numbers, the address as its key, the id as 16 bytes; a word
 * or an id it does not know stays text; what is read back is what was written. */
static void
test_history_packed(void **state)
{
	const char *dir = *state;
	uint64_t now = util_wall_ns();
	struct state_hist add[3], *rows = NULL;
	struct state st;
	char err[512];
	size_t n = 0;

	add[0] = hist_row(now, "exposed", "127.53.0.2", "0b8e1c2a-58f1-4d0e-9a3b-5c7d9e1f2a3b");
	snprintf(add[0].protocol, sizeof(add[0].protocol), "udp");
	snprintf(add[0].source, sizeof(add[0].source), "passive");
	add[1] = hist_row(now, "accepted", "2001:db8::53", "");
	snprintf(add[1].severity, sizeof(add[1].severity), "%s", "");
	snprintf(add[1].source, sizeof(add[1].source), "cli");
	add[2] = hist_row(now, "rumour", "", "not-a-uuid");
	snprintf(add[2].protocol, sizeof(add[2].protocol), "%s", "");
	state_init(&st);
	st.history_add = add;
	st.nhistory_add = 3;
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM history WHERE typeof(type) = 'integer' "
				 "AND typeof(severity) = 'integer' AND typeof(protocol) = 'integer' "
				 "AND typeof(source) = 'integer'"), 2);
	assert_int_equal(sql_int(dir, "SELECT length(address) FROM history WHERE seq = 1"), 5);
	assert_int_equal(sql_int(dir, "SELECT length(address) FROM history WHERE seq = 2"), 17);
	assert_int_equal(sql_int(dir, "SELECT length(event_id) FROM history WHERE seq = 1"), 16);
	assert_int_equal(sql_int(dir, "SELECT length(event_id) FROM history WHERE seq = 2"), 0);
	assert_int_equal(sql_int(dir, "SELECT typeof(type) = 'text' AND typeof(event_id) = 'text' "
				 "FROM history WHERE seq = 3"), 1);
	assert_int_equal(state_history_read(dir, 0, NULL, false, &rows, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(rows[i].seq, i + 1);
		assert_string_equal(rows[i].type, add[i].type);
		assert_string_equal(rows[i].severity, add[i].severity);
		assert_string_equal(rows[i].address, add[i].address);
		assert_string_equal(rows[i].protocol, add[i].protocol);
		assert_string_equal(rows[i].source, add[i].source);
		assert_string_equal(rows[i].summary, add[i].summary);
		assert_string_equal(rows[i].id, add[i].id);
	}
	free(rows);
	/* one address: the key is what is compared */
	assert_int_equal(state_history_read(dir, 0, "2001:db8::53", false, &rows, &n, err,
					    sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].type, "accepted");
	free(rows);
	state_clear(&st);
}

static void
test_history_atomic(void **state)
{
	const char *dir = *state;
	uint64_t now = util_wall_ns();
	struct state_hist add[2];
	struct state st;
	char err[512];

	add[0] = hist_row(now, "exposed", "127.53.0.2", "id-a");
	add[1] = hist_row(now, "closed", "127.53.0.2", "id-b");
	make_v1_db(dir);
	state_init(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0); /* migrated */

	/* the state is written, then the second event fails */
	sql(dir, "CREATE TRIGGER boom BEFORE INSERT ON history WHEN NEW.event_id = 'id-b' "
		 "BEGIN SELECT RAISE(ABORT, 'boom'); END;");
	state_clear(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	st.cycles++;
	st.events_total[ALERT_EXPOSED]++;
	st.history_add = add;
	st.nhistory_add = 2;
	assert_true(state_save(dir, &st, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "state.db"));
	assert_int_equal(sql_int(dir, "SELECT cycles FROM meta"), 42);
	assert_int_equal(sql_int(dir, "SELECT total FROM events_total WHERE type = 'exposed'"), 3);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM history"), 0);

	/* the state fails: no event is kept either */
	sql(dir, "DROP TRIGGER boom; CREATE TRIGGER boom BEFORE UPDATE ON meta "
		 "BEGIN SELECT RAISE(ABORT, 'boom'); END;");
	assert_true(state_save(dir, &st, err, sizeof(err)) < 0);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM history"), 0);

	/* and with nothing in the way, both */
	sql(dir, "DROP TRIGGER boom");
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(sql_int(dir, "SELECT cycles FROM meta"), 43);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM history"), 2);
	st.history_add = NULL;
	st.nhistory_add = 0;
	state_clear(&st);
}

/* ---- the spool (the transactional outbox) ---- */

/* What a spool move handed over, in order; fail_at: the put with that number (1-based)
 * fails with -EIO. */
struct moved {
	uint64_t seq[16];
	char sink[16][16], id[16][ALERT_ID_LEN], json[16][64];
	size_t n, calls, fail_at;
};

static int
record_put(void *arg, uint64_t seq, const char *sink, const char *id, const char *json,
	   size_t len, char *err, size_t errlen)
{
	struct moved *m = arg;

	if (++m->calls == m->fail_at) {
		snprintf(err, errlen, "outbox: disk full");
		return -EIO;
	}
	assert_true(m->n < 16 && len < sizeof(m->json[0]));
	m->seq[m->n] = seq;
	snprintf(m->sink[m->n], sizeof(m->sink[0]), "%s", sink);
	snprintf(m->id[m->n], sizeof(m->id[0]), "%s", id);
	memcpy(m->json[m->n], json, len);
	m->json[m->n][len] = '\0';
	m->n++;
	return 0;
}

static struct state_spool
spool_row(const char *sink, const char *id, const char *json)
{
	struct state_spool r;

	memset(&r, 0, sizeof(r));
	r.sink = sink;
	snprintf(r.id, sizeof(r.id), "%s", id);
	r.json = json;
	r.len = strlen(json);
	return r;
}

#define ID1 "00000000-0000-8000-8000-000000000001"
#define ID2 "00000000-0000-8000-8000-000000000002"
#define ID3 "00000000-0000-8000-8000-000000000003"

/* The events of a save are committed with it or not at all, and move out in the order
 * they were raised, with sequence numbers that are never reused. */
static void
test_spool_commit(void **state)
{
	const char *dir = *state;
	struct state_spool add[3];
	struct moved m = { 0 };
	struct state st;
	char err[512];
	size_t moved;

	add[0] = spool_row("slack", ID1, "{\"n\":1}");
	add[1] = spool_row("hook", ID1, "{\"n\":1}");
	add[2] = spool_row("slack", ID2, "{\"n\":2}");
	/* no database yet: nothing to move, nothing made */
	assert_int_equal(state_spool_move(dir, record_put, &m, &moved, err, sizeof(err)), 0);
	assert_int_equal(moved, 0);
	assert_int_equal(count_prefix(dir, "", NULL, 0), 2);

	/* the first save (creating the database) spools too */
	state_init(&st);
	st.cycles = 1;
	st.spool_add = add;
	st.nspool_add = 2;
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM spool"), 2);

	/* a failing save keeps neither the state nor its events */
	sql(dir, "CREATE TRIGGER boom BEFORE INSERT ON spool WHEN NEW.event_id = '" ID2 "' "
		 "BEGIN SELECT RAISE(ABORT, 'boom'); END;");
	state_clear(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	st.cycles++;
	st.spool_add = &add[2];
	st.nspool_add = 1;
	assert_true(state_save(dir, &st, err, sizeof(err)) < 0);
	assert_int_equal(sql_int(dir, "SELECT cycles FROM meta"), 1);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM spool"), 2);
	sql(dir, "DROP TRIGGER boom");
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(sql_int(dir, "SELECT cycles FROM meta"), 2);

	/* a put that fails stops the move: what went before is gone from the spool, the
	 * failed one and the rest stay, in order */
	m.fail_at = 2;
	assert_int_equal(state_spool_move(dir, record_put, &m, &moved, err, sizeof(err)), -EIO);
	assert_string_equal(err, "outbox: disk full");
	assert_int_equal(moved, 1);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.sink[0], "slack");
	assert_string_equal(m.id[0], ID1);
	assert_string_equal(m.json[0], "{\"n\":1}");
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM spool"), 2);
	m.fail_at = 0;
	assert_int_equal(state_spool_move(dir, record_put, &m, &moved, err, sizeof(err)), 0);
	assert_int_equal(moved, 2);
	assert_int_equal(m.n, 3);
	assert_string_equal(m.sink[1], "hook");
	assert_string_equal(m.id[2], ID2);
	assert_string_equal(m.json[2], "{\"n\":2}");
	assert_true(m.seq[0] < m.seq[1] && m.seq[1] < m.seq[2]);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM spool"), 0);
	/* nothing left: a move does nothing */
	assert_int_equal(state_spool_move(dir, record_put, &m, &moved, err, sizeof(err)), 0);
	assert_int_equal(moved, 0);

	/* an emptied spool does not start its numbers again */
	state_clear(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	add[0] = spool_row("slack", ID3, "{\"n\":3}");
	st.spool_add = add;
	st.nspool_add = 1;
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(state_spool_move(dir, record_put, &m, &moved, err, sizeof(err)), 0);
	assert_int_equal(m.n, 4);
	assert_true(m.seq[3] > m.seq[2]);
	st.spool_add = NULL;
	st.nspool_add = 0;
	state_clear(&st);
}

/* A v2 database (no spool) takes one at its first move or save, in one transaction. */
static void
test_spool_v2_migration(void **state)
{
	const char *dir = *state;
	struct state_spool add = spool_row("hook", ID1, "{}");
	struct moved m = { 0 };
	struct state st;
	char err[512];
	size_t moved;

	make_v1_db(dir);
	state_init(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	sql(dir, "CREATE TABLE history (seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, "
		 "type TEXT NOT NULL, severity TEXT NOT NULL, address TEXT NOT NULL, "
		 "protocol TEXT NOT NULL, port INTEGER NOT NULL, summary TEXT NOT NULL, "
		 "source TEXT NOT NULL, event_id TEXT NOT NULL); PRAGMA user_version = 2;");
	/* the loader reads a v2 database as it is */
	state_clear(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(sql_int(dir, "PRAGMA user_version"), 2);
	assert_int_equal(state_spool_move(dir, record_put, &m, &moved, err, sizeof(err)), 0);
	assert_int_equal(moved, 0);
	assert_int_equal(sql_int(dir, "PRAGMA user_version"), 8);
	st.spool_add = &add;
	st.nspool_add = 1;
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(state_spool_move(dir, record_put, &m, &moved, err, sizeof(err)), 0);
	assert_int_equal(moved, 1);
	assert_string_equal(m.id[0], ID1);
	st.spool_add = NULL;
	st.nspool_add = 0;
	state_clear(&st);
}

/* state_each hands over what state_load loads, a row at a time, in order; a callback that
 * fails stops it with its error, and leaves the file alone. */
struct each {
	struct state *want;
	size_t n, stop_at;
	uint64_t head_cycles;
	const struct state *head;
};

static int
each_entry(void *arg, const struct bl_entry *e)
{
	struct each *x = arg;

	/* the head is there before the first entry */
	x->head_cycles = x->head->cycles;
	if (x->stop_at != 0 && x->n + 1 == x->stop_at)
		return -EPIPE;
	assert_true(x->n < x->want->n);
	assert_entry_equal(&x->want->entries[x->n], e);
	x->n++;
	return 0;
}

static void
test_each(void **state)
{
	const char *dir = *state;
	struct state st, head;
	struct each x;
	char err[512];

	sample_state(&st);
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	state_clear(&st);
	assert_int_equal(state_load(dir, &st, err, sizeof(err)), 0);
	state_init(&head);
	x = (struct each){ &st, 0, 0, 0, &head };
	assert_int_equal(state_each(dir, &head, each_entry, &x, err, sizeof(err)), 0);
	assert_int_equal(x.n, st.n);
	assert_true(x.head_cycles == st.cycles);
	assert_int_equal(head.n, 0);
	assert_string_equal(head.instance, st.instance);
	assert_memory_equal(head.events_total, st.events_total, sizeof(st.events_total));
	state_clear(&head);
	/* a callback that fails: its error, nothing set aside */
	state_init(&head);
	x = (struct each){ &st, 0, 3, 0, &head };
	assert_int_equal(state_each(dir, &head, each_entry, &x, err, sizeof(err)), -EPIPE);
	assert_int_equal(x.n, 2);
	assert_int_equal(count_prefix(dir, STATE_DB_FILE ".corrupt", NULL, 0), 0);
	state_clear(&head);
	/* no database: a first run, nothing handed over */
	remove_prefix(dir, STATE_DB_FILE);
	state_init(&head);
	x = (struct each){ &st, 0, 0, 0, &head };
	assert_int_equal(state_each(dir, &head, each_entry, &x, err, sizeof(err)), 0);
	assert_int_equal(x.n, 0);
	state_clear(&head);
	state_clear(&st);
}

/* The frozen version 1 database with the tables of versions 2 and 3, claiming version. */
static void
make_v_columns_db(const char *dir, int version)
{
	char q[64];

	make_v1_db(dir);
	sql(dir, "CREATE TABLE history (seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, "
		 "type TEXT NOT NULL, severity TEXT NOT NULL, address TEXT NOT NULL, "
		 "protocol TEXT NOT NULL, port INTEGER NOT NULL, summary TEXT NOT NULL, "
		 "source TEXT NOT NULL, event_id TEXT NOT NULL);"
		 "CREATE TABLE spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL, "
		 "event_id TEXT NOT NULL, body TEXT NOT NULL);");
	snprintf(q, sizeof(q), "PRAGMA user_version = %d", version);
	sql(dir, q);
}

/* The flapping bits in the column layout: the bits themselves up to version 3, against
 * the cycle of the latest change in version 4. A file of each reads the same, and so does
 * what the migration to version 5 makes of it; a version 4 value that cannot be such bits
 * is refused. */
static void
test_change_bits_columns(void **state)
{
	const char *dir = *state;
	struct state back;
	char err[512];
	const struct { int version; const char *value; } files[] = {
		{ 3, "44" },                 /* 0x2c: changes 2, 3 and 5 cycles ago */
		{ 4, "(40 << 16) | 11" },    /* the same, against cycle 40 (last cycle 42) */
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char q[256];

		remove_prefix(dir, STATE_DB_FILE);
		make_v_columns_db(dir, files[i].version);
		snprintf(q, sizeof(q), "UPDATE entries SET tcp_change_bits = 0, "
			 "udp_change_bits = 0; UPDATE entries SET tcp_change_bits = %s WHERE "
			 "address = '127.53.0.2'", files[i].value);
		sql(dir, q);
		state_init(&back);
		if (state_load(dir, &back, err, sizeof(err)) != 0)
			fail_msg("version %d: %s", files[i].version, err);
		assert_int_equal(state_find(&back, &(struct net_addr){ .family = AF_INET,
			.bytes = { 127, 53, 0, 2 } })->port[PROBE_SLOT_TCP].change_bits, 0x2c);
		/* migrated and written as version 5 */
		assert_int_equal(state_save(dir, &back, err, sizeof(err)), 0);
		assert_int_equal(sql_int(dir, "PRAGMA user_version"), 8);
		state_clear(&back);
		assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
		assert_int_equal(state_find(&back, &(struct net_addr){ .family = AF_INET,
			.bytes = { 127, 53, 0, 2 } })->port[PROBE_SLOT_TCP].change_bits, 0x2c);
		state_clear(&back);
		/* the migration alone (a history read), without a save after it */
		remove_prefix(dir, STATE_DB_FILE);
		make_v_columns_db(dir, files[i].version);
		sql(dir, q);
		{
			struct state_hist *rows = NULL;
			size_t n = 0;
			assert_int_equal(state_history_read(dir, 0, NULL, false, &rows, &n, err,
							    sizeof(err)), 0);
			free(rows);
		}
		assert_int_equal(sql_int(dir, "PRAGMA user_version"), 8);
		assert_int_equal(state_load(dir, &back, err, sizeof(err)), 0);
		assert_int_equal(state_find(&back, &(struct net_addr){ .family = AF_INET,
			.bytes = { 127, 53, 0, 2 } })->port[PROBE_SLOT_TCP].change_bits, 0x2c);
		state_clear(&back);
	}
	/* a change after the last cycle: damage */
	remove_prefix(dir, STATE_DB_FILE);
	make_v_columns_db(dir, 4);
	sql(dir, "UPDATE entries SET tcp_change_bits = 0, udp_change_bits = 0; "
		 "UPDATE entries SET tcp_change_bits = (43 << 16) | 1 WHERE address = '127.53.0.2'");
	state_init(&back);
	assert_int_equal(state_load(dir, &back, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "tcp_change_bits"));
	state_clear(&back);
}

/* Rows older than the retention go at the next save, at most STATE_HISTORY_PRUNE_MAX a
 * save; the first save (creating the database) keeps its events too. */
static void
test_history_retention(void **state)
{
	const char *dir = *state;
	uint64_t now = util_wall_ns();
	struct state_hist add[2];
	struct state st;
	char err[512], q[512];

	add[0] = hist_row(now - 500 * DAY, "exposed", "127.53.0.2", "id-old");
	add[1] = hist_row(now - 10 * DAY, "closed", "127.53.0.2", "id-new");
	state_init(&st);
	st.history_add = add;
	st.nhistory_add = 2;
	st.history_retention_ns = 0; /* 0: nothing is deleted */
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM history"), 2);

	/* a backlog larger than one save deletes */
	snprintf(q, sizeof(q), "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k "
		 "WHERE i < %d) INSERT INTO history (time_ns, type, severity, address, protocol, "
		 "port, summary, source, event_id) SELECT %lld + i, 'exposed', 'high', "
		 "'127.53.0.3', 'udp', 53, 's', 'active', 'x' FROM k", STATE_HISTORY_PRUNE_MAX + 5,
		 (long long)(now - 450 * DAY));
	sql(dir, q);
	st.history_add = NULL;
	st.nhistory_add = 0;
	st.history_retention_ns = 400 * DAY;
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	/* the oldest first: id-old and the first of the backlog */
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM history"), 7);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM history WHERE event_id = 'id-old'"), 0);
	assert_int_equal(state_save(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM history"), 1);
	assert_int_equal(sql_int(dir, "SELECT count(*) FROM history WHERE event_id = 'id-new'"), 1);
	state_clear(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_round_trip_relative, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_empty_state_round_trip, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_streak_saturates, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_incremental, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_save_replaces, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_missing, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_not_a_file, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_v1_db, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_history_v1_migration, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_history_packed, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_pass, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_pass_names, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_pass_silences, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_history_atomic, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_history_retention, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_spool_commit, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_spool_v2_migration, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_change_bits_columns, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_each, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_foreign_db, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_bad_values, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_corrupt_db, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_corrupt_db_sidecars, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_set_aside, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_import, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_import_interrupted, setup_dir, teardown_dir),
		cmocka_unit_test(test_parse_messages),
		cmocka_unit_test(test_parse_good_and_nul),
		cmocka_unit_test(test_parse_legacy_proof),
		cmocka_unit_test(test_json_silences),
		cmocka_unit_test_setup_teardown(test_corrupt_files, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_truncated, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_corrupt_twice, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_huge, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_quiet_save, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_lock, setup_dir, teardown_dir),
		cmocka_unit_test(test_get_keeps_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
