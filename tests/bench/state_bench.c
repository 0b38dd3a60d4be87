/* state_bench: what the state database costs for N addresses (default 65,536, a /16) —
 * its size, the memory and time of a load, the bytes a save writes (first, quiet, with 1%
 * of the ports changing), and the import of the same state as a legacy state.json. The
 * cycles are the real thing: baseline_apply over every address, as `check` does.
 *
 *   tests/bench/state_bench [N [DIR]]     (make bench-state; DIR default: a temp dir)
 *
 * Bytes written are /proc/self/io's wchar (every write and pwrite, whatever the file
 * system) and write_bytes (what went to the block device). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/baseline.h"
#include "agent/state.h"
#include "common/util.h"

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "state_bench: %s: %s\n", what, err);
	exit(1);
}

struct io {
	uint64_t wchar, write_bytes;
};

static struct io
io_now(void)
{
	struct io io = { 0, 0 };
	char line[128];
	FILE *f = fopen("/proc/self/io", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "wchar: %" SCNu64, &io.wchar);
		sscanf(line, "write_bytes: %" SCNu64, &io.write_bytes);
	}
	if (f != NULL)
		fclose(f);
	return io;
}

/* VmRSS or VmHWM of this process, in KiB. */
static long
status_kb(const char *key)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, strlen(key)) == 0)
			kb = strtol(line + strlen(key), NULL, 10);
	if (f != NULL)
		fclose(f);
	return kb;
}

static double
ms_since(uint64_t t0)
{
	return (double)(util_now_ns() - t0) / 1e6;
}

/* Address i of the /16-ish range 10.i>>16.i>>8.i (N up to 2^24). */
static struct net_addr
addr_of(uint32_t i)
{
	struct net_addr a = { .family = AF_INET,
			      .bytes = { 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i } };
	return a;
}

/* What a cycle sees at address i: 1 in 16 a DNS server (open, answering), the rest closed
 * over TCP and silent over UDP; `flip` opens the TCP port of 1 in 100 closed ones. */
static void
observe(uint32_t i, bool flip, struct probe_result *r)
{
	bool open = i % 16 == 0;

	memset(r, 0, sizeof(*r));
	r->addr = addr_of(i);
	r->port = 53;
	r->out[PROBE_SLOT_TCP].state = open || (flip && i % 100 == 1) ? PROBE_OPEN : PROBE_CLOSED;
	r->out[PROBE_SLOT_TCP].reason = r->out[PROBE_SLOT_TCP].state == PROBE_OPEN ?
					PROBE_REASON_SYN_ACK : PROBE_REASON_RESET;
	r->out[PROBE_SLOT_UDP].state = open ? PROBE_OPEN : PROBE_FILTERED;
	r->out[PROBE_SLOT_UDP].reason = open ? PROBE_REASON_DNS_REPLY : PROBE_REASON_NO_RESPONSE;
	if (open) {
		r->dns.present = r->dns.valid = true;
		r->dns.ra = true;
	}
}

/* One cycle over every address, as check_cycle_opts applies it. */
static void
cycle(struct state *st, uint32_t n, bool flip, uint64_t now)
{
	struct bl_policy pol = { 1, 3, false };
	struct alert_event evs[BL_MAX_EVENTS];
	struct probe_result r;

	for (uint32_t i = 0; i < n; i++) {
		bool created;
		struct net_addr a = addr_of(i);
		struct bl_entry *e = state_get(st, &a, &created);
		if (e == NULL)
			die("cycle", "out of memory");
		observe(i, flip, &r);
		if ((e->target = state_label(st, "10.0.0.0/8")) == NULL)
			die("cycle", "out of memory");
		e->last_cycle = st->cycles + 1;
		(void)baseline_apply(e, &r, created, false, &pol, now, evs);
	}
	st->cycles++;
	st->last_cycle_wall = now + NS_PER_SEC;
	st->last_duration_ns = 12 * NS_PER_SEC;
}

static void
save(const char *dir, struct state *st, const char *what)
{
	char err[1024];
	struct io a = io_now(), b;
	uint64_t t0 = util_now_ns();

	if (state_save(dir, st, err, sizeof(err)) < 0)
		die(what, err);
	b = io_now();
	printf("%-30s %9.1f ms  wrote %11" PRIu64 " bytes (write_bytes %" PRIu64 ")\n", what,
	       ms_since(t0), b.wchar - a.wchar, b.write_bytes - a.write_bytes);
}

static void
load(const char *dir, struct state *st, const char *what)
{
	char err[1024];
	uint64_t t0 = util_now_ns();
	long before = status_kb("VmRSS:");

	state_clear(st);
	if (state_load(dir, st, err, sizeof(err)) < 0)
		die(what, err);
	printf("%-30s %9.1f ms  %zu entries, RSS %ld KiB (+%ld KiB), peak %ld KiB\n", what,
	       ms_since(t0), st->n, status_kb("VmRSS:"), status_kb("VmRSS:") - before,
	       status_kb("VmHWM:"));
}

static long long
file_size(const char *dir, const char *name)
{
	char path[4096];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

int
main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 65536;
	char tmpl[] = "/tmp/w53-state-bench-XXXXXX", dir[4096], jdir[4200], cmd[8500];
	uint64_t now = util_wall_ns();
	struct state st;
	char *text, what[64];
	int c;
	size_t len;
	FILE *f;

	if (n == 0 || n > (1u << 24))
		die("N", "expected 1 to 16777216");
	if (argc > 2)
		snprintf(dir, sizeof(dir), "%s", argv[2]);
	else if (mkdtemp(tmpl) != NULL)
		snprintf(dir, sizeof(dir), "%s", tmpl);
	else
		die("mkdtemp", strerror(errno));
	printf("state_bench: %u addresses in %s (sizeof(struct bl_entry) = %zu)\n", n, dir,
	       sizeof(struct bl_entry));
	state_init(&st);
	cycle(&st, n, false, now);
	printf("%-30s %9s     RSS %ld KiB\n", "first cycle in memory", "", status_kb("VmRSS:"));
	save(dir, &st, "save 1 (new database)");
	printf("%-30s %9s     %lld bytes (%.0f an address)\n", "state.db", "",
	       file_size(dir, STATE_DB_FILE), (double)file_size(dir, STATE_DB_FILE) / n);
	/* the first cycle raised an exposure for every open port: those rows change every
	 * cycle until the flap window (BL_FLAP_WINDOW cycles) has passed over it */
	for (c = 2; c <= BL_FLAP_WINDOW + 2; c++) {
		snprintf(what, sizeof(what), "save %d (settling)", c);
		load(dir, &st, "load");
		cycle(&st, n, false, now + (uint64_t)c * 300 * NS_PER_SEC);
		save(dir, &st, what);
	}
	for (int q = 0; q < 3; q++, c++) {
		snprintf(what, sizeof(what), "save %d (quiet cycle)", c);
		load(dir, &st, "load");
		cycle(&st, n, false, now + (uint64_t)c * 300 * NS_PER_SEC);
		save(dir, &st, what);
	}
	snprintf(what, sizeof(what), "save %d (1%% of tcp ports open)", c);
	load(dir, &st, "load");
	cycle(&st, n, true, now + (uint64_t)c * 300 * NS_PER_SEC);
	save(dir, &st, what);
	c++;
	snprintf(what, sizeof(what), "save %d (the next cycle)", c);
	load(dir, &st, "load");
	cycle(&st, n, true, now + (uint64_t)c * 300 * NS_PER_SEC);
	save(dir, &st, what);
	printf("%-30s %9s     %lld bytes\n", "state.db", "", file_size(dir, STATE_DB_FILE));

	/* the same state as a legacy state.json, imported: at most as many addresses as the
	 * old writer could put under its 64 MiB cap */
	if (st.n > 50000) {
		printf("%-30s %9s     the first 50000 addresses\n", "import of state.json", "");
		st.n = 50000;
	}
	if (state_format(&st, &text, &len) < 0)
		die("state_format", "out of memory");
	snprintf(jdir, sizeof(jdir), "%s/legacy", dir);
	snprintf(cmd, sizeof(cmd), "%s/%s", jdir, STATE_JSON_FILE);
	if (mkdir(jdir, 0700) < 0 || (f = fopen(cmd, "w")) == NULL ||
	    fwrite(text, 1, len, f) != len || fclose(f) != 0)
		die(jdir, strerror(errno));
	free(text);
	printf("%-30s %9s     %zu bytes (%.0f an address)\n", "state.json of the same", "", len,
	       (double)len / (double)st.n);
	load(jdir, &st, "load = import of state.json");
	state_clear(&st);
	if (argc <= 2) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "state_bench: could not remove %s\n", dir);
	}
	return 0;
}
