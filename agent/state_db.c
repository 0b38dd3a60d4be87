/* state_db: the files in state_dir — state.db (SQLite, WAL, a durable transaction per save,
 * schema versioned by user_version and migrated in code), the one-time import of a legacy
 * state.json, setting bad or reset state aside, and the lock. The only file including
 * <sqlite3.h>. */
#define _GNU_SOURCE
#include "agent/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "agent/history.h"
#include "agent/state_row.h"
#include "common/fileio.h"
#include "common/util.h"
#include "probes/cookie.h"

/* "w53s" in the header's application_id: how a database of ours is told from any other */
#define DB_APPLICATION_ID 0x77353373
#define ASIDE_TRIES 1000
/* the WAL is reused at the size of the largest transaction; cut it back after a big one */
#define DB_JOURNAL_SIZE_LIMIT (4 << 20)

/* ---- the schema ---- */

/*
 * Version 1. Every value a column of its own (sqlite3 can read the file); uint64 values are
 * stored as the int64 of the same bits. Values that move in step with the cycle counter
 * are stored relative to it, so that a quiet cycle, which moves all of them, leaves the
 * rows as they are and rewrites only meta:
 *  - entries.last_cycle: NULL when it is meta.cycles (probed in the last cycle);
 *  - <slot>_last_seen: NULL when it is meta.seen_ns (the time most ports were last seen);
 *  - <slot>_open_streak_start, _miss_streak_start, _quiet_cycles_start: the cycle a count
 *    began at (count = last_cycle - start + 1), NULL for a count of 0.
 * The columns of the DNS checks are NULL where the fact is unknown.
 */
static const char schema_v1[] =
	"CREATE TABLE meta ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" instance TEXT NOT NULL,"
	" cycles INTEGER NOT NULL,"
	" last_cycle_ns INTEGER NOT NULL,"
	" last_duration_ns INTEGER NOT NULL,"
	" degraded INTEGER NOT NULL,"
	" seen_ns INTEGER NOT NULL,"
	" generation INTEGER NOT NULL,"    /* random, new with every save */
	" imported_from TEXT"              /* the state.json this began as, see import_json */
	");"
	"CREATE TABLE events_total ("
	" type TEXT PRIMARY KEY NOT NULL,"
	" total INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE entries ("
	" addr BLOB PRIMARY KEY NOT NULL," /* 4 or 6, then the address: sorts as we do */
	" address TEXT NOT NULL,"          /* the same, for people */
	" target TEXT NOT NULL,"
	" expect_open INTEGER NOT NULL,"   /* bit 0 tcp, bit 1 udp */
	" last_cycle INTEGER,"
#define SLOT_V1(s)                                                                         \
	" " s "_known INTEGER NOT NULL, " s "_baseline_open INTEGER NOT NULL,"             \
	" " s "_reported_open INTEGER NOT NULL, " s "_last TEXT NOT NULL,"                 \
	" " s "_last_reason TEXT NOT NULL, " s "_last_miss TEXT NOT NULL,"                 \
	" " s "_open_streak_start INTEGER, " s "_miss_streak_start INTEGER,"               \
	" " s "_change_bits INTEGER NOT NULL, " s "_flapping INTEGER NOT NULL,"            \
	" " s "_open_before_flap INTEGER NOT NULL, " s "_first_seen INTEGER NOT NULL,"     \
	" " s "_last_seen INTEGER, " s "_last_change INTEGER NOT NULL,"                    \
	" " s "_closed_proven INTEGER NOT NULL, " s "_proven_by TEXT NOT NULL,"            \
	" " s "_quiet_cycles_start INTEGER, " s "_quiet_since INTEGER NOT NULL,"           \
	" " s "_streak_verified INTEGER NOT NULL,"
	SLOT_V1("tcp")
	SLOT_V1("udp")
#undef SLOT_V1
	" dns_known INTEGER NOT NULL, dns_rcode INTEGER NOT NULL, dns_aa INTEGER NOT NULL,"
	" dns_ra INTEGER NOT NULL, dns_recursion INTEGER, dns_bogus INTEGER, dns_version TEXT,"
	" dns_identity INTEGER, dns_axfr INTEGER, dns_axfr_zones TEXT,"
	" dns_amplification_x100 INTEGER, dns_tcp_dns INTEGER"
	") WITHOUT ROWID;";

/*
 * Version 2: the history, every event raised (and every `baseline accept`), appended in
 * the transaction of the save whose cycle raised it. seq orders the rows as recorded;
 * time_ns is the event's wall clock (retention deletes by it, so it has an index; the
 * second index finds a port's last row before a period). event_id is "" for an accept.
 */
static const char schema_v2[] =
	"CREATE TABLE history ("
	" seq INTEGER PRIMARY KEY,"
	" time_ns INTEGER NOT NULL,"
	" type TEXT NOT NULL,"
	" severity TEXT NOT NULL,"
	" address TEXT NOT NULL,"
	" protocol TEXT NOT NULL,"
	" port INTEGER NOT NULL,"
	" summary TEXT NOT NULL,"
	" source TEXT NOT NULL,"
	" event_id TEXT NOT NULL"
	");"
	"CREATE INDEX history_time ON history (time_ns);"
	"CREATE INDEX history_port ON history (address, protocol, port, seq);";

#define HISTORY_COLS "seq, time_ns, type, severity, address, protocol, port, summary, " \
	"source, event_id"

/*
 * Version 3: the spool, the transactional outbox. The events a save raised, one row per
 * event and sink that wants it, are inserted in the transaction that commits the state
 * which raised them; state_spool_move then writes them to the outbox files and deletes the
 * rows. So the outbox only ever holds events the state records (a crash before the commit
 * leaves neither), and a crash after it leaves rows that the next move writes. seq is
 * AUTOINCREMENT: never reused, so it orders every event ever spooled as raised.
 */
static const char schema_v3[] =
	"CREATE TABLE spool ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" sink TEXT NOT NULL,"
	" event_id TEXT NOT NULL,"
	" body TEXT NOT NULL"               /* the event as alert_event_to_json wrote it */
	");";

#define SPOOL_COLS "seq, sink, event_id, body"

/*
 * Version 4: <slot>_change_bits no longer holds the flapping window's bits as they are
 * (they shift every cycle a port is observed, so every row inside its 10-cycle window was
 * rewritten by every cycle) but (C << 16) | B: C the cycle of the latest change, B the bits
 * shifted down to it (bit 0 set), 0 for none. The bits are B << (last_cycle - C): exact, and
 * a row keeps its value while its bits only move along with the cycles. Up to version 3 the
 * column is the bits themselves (read so by a loader of an older file, see row_ref).
 */
static const char schema_v4[] =
	"UPDATE entries SET tcp_change_bits = "
	" (coalesce(last_cycle, (SELECT cycles FROM meta)) << 16) | tcp_change_bits"
	" WHERE tcp_change_bits != 0;"
	"UPDATE entries SET udp_change_bits = "
	" (coalesce(last_cycle, (SELECT cycles FROM meta)) << 16) | udp_change_bits"
	" WHERE udp_change_bits != 0;";

/*
 * Version 5: an entry is two columns, its key and a packed body (agent/state_row.h), and
 * its label a number into the table labels: some 40 bytes an address instead of 250, so a
 * million addresses fit in some 40 MB. meta.first_ns is what first_seen is stored against.
 * The rows are converted in code (convert_rows_v5, below the reader of the older rows).
 */
static const char schema_v5[] =
	"CREATE TABLE labels ("
	" id INTEGER PRIMARY KEY,"         /* 0 is the empty label, never stored */
	" text TEXT NOT NULL UNIQUE"
	");"
	"CREATE TABLE entries_v5 ("
	" addr BLOB PRIMARY KEY NOT NULL," /* 4 or 6, then the address: sorts as we do */
	" body BLOB NOT NULL"
	") WITHOUT ROWID;"
	"ALTER TABLE meta ADD COLUMN first_ns INTEGER NOT NULL DEFAULT 0;";

static int convert_rows_v5(sqlite3 *h);

/*
 * Version 6: history rows packed, so the history of a first run over a million addresses
 * (a hundred thousand exposures) takes some 200 bytes an event instead of 260: type,
 * severity, protocol and source are numbers (hist_words: a word not in its list is kept as
 * text), the address is the key of entries (empty for the monitor), the event id its 16
 * bytes (empty for an accept). seq is kept. Converted in code (convert_history_v6).
 */
static const char schema_v6[] =
	"CREATE TABLE history_v6 ("
	" seq INTEGER PRIMARY KEY,"
	" time_ns INTEGER NOT NULL,"
	" type NOT NULL,"
	" severity NOT NULL,"
	" address BLOB NOT NULL,"
	" protocol NOT NULL,"
	" port INTEGER NOT NULL,"
	" summary TEXT NOT NULL,"
	" source NOT NULL,"
	" event_id BLOB NOT NULL"
	");";

static int convert_history_v6(sqlite3 *h);

/*
 * Version 7: the target names that did not resolve, a row each while they do not: since
 * when (the wall clock and the cycle of the first failure) and why, so `unresolved` is
 * raised once an episode and `resolved` when the name comes back.
 */
static const char schema_v7[] =
	"CREATE TABLE unresolved ("
	" name TEXT PRIMARY KEY NOT NULL,"
	" since_ns INTEGER NOT NULL,"
	" since_cycle INTEGER NOT NULL,"
	" reason TEXT NOT NULL"
	") WITHOUT ROWID;";

/*
 * Version 8: maintenance windows (`baseline silence`): an address (its entries key) and a
 * protocol ("" for both) whose events are recorded but not sent until until_ns.
 */
static const char schema_v8[] =
	"CREATE TABLE silences ("
	" addr BLOB NOT NULL,"
	" protocol TEXT NOT NULL,"
	" until_ns INTEGER NOT NULL,"
	" set_ns INTEGER NOT NULL,"
	" PRIMARY KEY (addr, protocol)"
	") WITHOUT ROWID;";

/* migrations[i] takes a database from version i to i + 1, inside the caller's
 * transaction: its SQL, then its code where SQL alone cannot say it. A new version is
 * one more row here. */
static const struct migration {
	const char *sql;
	int (*code)(sqlite3 *h);  /* NULL: none */
} migrations[] = {
	{ schema_v1, NULL }, { schema_v2, NULL }, { schema_v3, NULL }, { schema_v4, NULL },
	{ schema_v5, convert_rows_v5 }, { schema_v6, convert_history_v6 }, { schema_v7, NULL },
	{ schema_v8, NULL },
};
#define DB_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* Take h from version v to v + 1. An SQLite result code. */
static int
migrate(sqlite3 *h, int64_t v)
{
	int rc = sqlite3_exec(h, migrations[v].sql, NULL, NULL, NULL);

	if (rc == SQLITE_OK && migrations[v].code != NULL)
		rc = migrations[v].code(h);
	return rc;
}

/* The columns of an entry up to version 4, which the loader still reads (an older file
 * is read as it is) and the migration to version 5 converts (the SQL is built from these
 * names; the row is indexed by them). */
enum {
	P_KNOWN, P_BASELINE_OPEN, P_REPORTED_OPEN, P_LAST, P_LAST_REASON, P_LAST_MISS,
	P_OPEN_STREAK_START, P_MISS_STREAK_START, P_CHANGE_BITS, P_FLAPPING, P_OPEN_BEFORE_FLAP,
	P_FIRST_SEEN, P_LAST_SEEN, P_LAST_CHANGE, P_CLOSED_PROVEN, P_PROVEN_BY,
	P_QUIET_CYCLES_START, P_QUIET_SINCE, P_STREAK_VERIFIED, P_N
};

enum {
	C_ADDR, C_ADDRESS, C_TARGET, C_EXPECT, C_LAST_CYCLE,
	C_PORT, /* PROBE_NSLOTS x P_N */
	C_DNS_KNOWN = C_PORT + PROBE_NSLOTS * P_N,
	C_DNS_RCODE, C_DNS_AA, C_DNS_RA, C_DNS_RECURSION, C_DNS_BOGUS, C_DNS_VERSION,
	C_DNS_IDENTITY, C_DNS_AXFR, C_DNS_AXFR_ZONES, C_DNS_AMPLIFICATION, C_DNS_TCP_DNS,
	C_N
};

static const char *const port_col[P_N] = {
	[P_KNOWN] = "known", [P_BASELINE_OPEN] = "baseline_open",
	[P_REPORTED_OPEN] = "reported_open", [P_LAST] = "last", [P_LAST_REASON] = "last_reason",
	[P_LAST_MISS] = "last_miss", [P_OPEN_STREAK_START] = "open_streak_start",
	[P_MISS_STREAK_START] = "miss_streak_start", [P_CHANGE_BITS] = "change_bits",
	[P_FLAPPING] = "flapping", [P_OPEN_BEFORE_FLAP] = "open_before_flap",
	[P_FIRST_SEEN] = "first_seen", [P_LAST_SEEN] = "last_seen",
	[P_LAST_CHANGE] = "last_change", [P_CLOSED_PROVEN] = "closed_proven",
	[P_PROVEN_BY] = "proven_by", [P_QUIET_CYCLES_START] = "quiet_cycles_start",
	[P_QUIET_SINCE] = "quiet_since", [P_STREAK_VERIFIED] = "streak_verified",
};

static const char *const other_col[C_N] = {
	[C_ADDR] = "addr", [C_ADDRESS] = "address", [C_TARGET] = "target",
	[C_EXPECT] = "expect_open", [C_LAST_CYCLE] = "last_cycle",
	[C_DNS_KNOWN] = "dns_known", [C_DNS_RCODE] = "dns_rcode", [C_DNS_AA] = "dns_aa",
	[C_DNS_RA] = "dns_ra", [C_DNS_RECURSION] = "dns_recursion", [C_DNS_BOGUS] = "dns_bogus",
	[C_DNS_VERSION] = "dns_version", [C_DNS_IDENTITY] = "dns_identity",
	[C_DNS_AXFR] = "dns_axfr", [C_DNS_AXFR_ZONES] = "dns_axfr_zones",
	[C_DNS_AMPLIFICATION] = "dns_amplification_x100", [C_DNS_TCP_DNS] = "dns_tcp_dns",
};

static const char *
col_name(int c, char *buf, size_t len)
{
	if (c >= C_PORT && c < C_DNS_KNOWN) {
		int slot = (c - C_PORT) / P_N;
		snprintf(buf, len, "%s_%s", probe_slot_name((enum probe_slot)slot),
			 port_col[(c - C_PORT) % P_N]);
		return buf;
	}
	return other_col[c];
}

/* "SELECT addr,address,... FROM entries ORDER BY addr": the columns up to version 4. */
static int
entry_sql(char **out)
{
	char *buf = NULL, name[48];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return -ENOMEM;
	fputs("SELECT ", f);
	for (int c = 0; c < C_N; c++)
		fprintf(f, "%s%s", c == 0 ? "" : ",", col_name(c, name, sizeof(name)));
	fputs(" FROM entries ORDER BY addr", f);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	return 0;
}

/* ---- a row as values ---- */

struct val {
	int type;          /* SQLITE_NULL, SQLITE_INTEGER, SQLITE_TEXT or SQLITE_BLOB */
	int64_t i;
	const void *p;     /* text (not terminated) or blob */
	size_t n;
};

struct row {
	struct val v[C_N];
};

/* What the relative columns are relative to (see the schema). */
struct row_ref {
	uint64_t cycles;
	uint64_t seen_ns;
	uint64_t first_ns; /* version 5 */
	int64_t version;   /* of the file the rows are read from */
};

/* uint64 <-> the int64 with the same bits, without implementation-defined conversions */
static int64_t
u2i(uint64_t u)
{
	return u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

static uint64_t
i2u(int64_t i)
{
	return i >= 0 ? (uint64_t)i : ~(uint64_t)(-(i + 1));
}

/* ---- reading a row back, strictly ---- */

struct dec {
	const struct val *v;
	const char *where;   /* "entries[127.53.0.2]" */
	char *reason;
	size_t reasonlen;
};

static int
bad(struct dec *d, int c, const char *what)
{
	char name[48];

	util_errf(d->reason, d->reasonlen, "%s.%s: %s", d->where, col_name(c, name, sizeof(name)),
		  what);
	return -EBADMSG;
}

static int
get_u64(struct dec *d, int c, uint64_t max, uint64_t *out)
{
	char what[64];

	if (d->v[c].type != SQLITE_INTEGER)
		return bad(d, c, "expected an integer");
	*out = i2u(d->v[c].i);
	if (*out > max) {
		snprintf(what, sizeof(what), "%" PRIu64 " is above %" PRIu64, *out, max);
		return bad(d, c, what);
	}
	return 0;
}

static int
get_bool(struct dec *d, int c, bool *out)
{
	uint64_t u;

	if (d->v[c].type != SQLITE_INTEGER || (d->v[c].i != 0 && d->v[c].i != 1))
		return bad(d, c, "expected 0 or 1");
	if (get_u64(d, c, 1, &u) < 0)
		return -EBADMSG;
	*out = u == 1;
	return 0;
}

/* Text of at most max bytes without NULs, copied into buf (max + 1 bytes). */
static int
get_text(struct dec *d, int c, size_t max, char *buf)
{
	char what[64];

	if (d->v[c].type != SQLITE_TEXT)
		return bad(d, c, "expected text");
	if (d->v[c].n > max) {
		snprintf(what, sizeof(what), "longer than %zu bytes", max);
		return bad(d, c, what);
	}
	if (memchr(d->v[c].p, '\0', d->v[c].n) != NULL)
		return bad(d, c, "contains a NUL character");
	memcpy(buf, d->v[c].p, d->v[c].n);
	buf[d->v[c].n] = '\0';
	return 0;
}

static int
get_state(struct dec *d, int c, bool open_ok, enum probe_state *out)
{
	char w[33], pw[40], what[80];

	if (get_text(d, c, sizeof(w) - 1, w) < 0)
		return -EBADMSG;
	if (state_parse_state_word(w, out) < 0 || (!open_ok && *out == PROBE_OPEN)) {
		snprintf(what, sizeof(what), "\"%s\" is not a probe state%s",
			 util_printable(w, pw, sizeof(pw), UTIL_PRINT_ASCII),
			 open_ok ? "" : " without evidence");
		return bad(d, c, what);
	}
	return 0;
}

static int
get_reason(struct dec *d, int c, enum probe_reason *out)
{
	char w[33], pw[40], what[80];

	if (get_text(d, c, sizeof(w) - 1, w) < 0)
		return -EBADMSG;
	if (state_parse_reason_word(w, out) < 0) {
		snprintf(what, sizeof(what), "\"%s\" is not a probe reason",
			 util_printable(w, pw, sizeof(pw), UTIL_PRINT_ASCII));
		return bad(d, c, what);
	}
	return 0;
}

static int
get_count(struct dec *d, int c, uint64_t last_cycle, unsigned *out)
{
	uint64_t start, count;

	if (d->v[c].type == SQLITE_NULL) {
		*out = 0;
		return 0;
	}
	if (get_u64(d, c, UINT64_MAX, &start) < 0)
		return -EBADMSG;
	count = last_cycle + 1 - start;
	if (count > STATE_MAX_STREAK)
		return bad(d, c, "not a cycle a count can have begun at");
	*out = (unsigned)count;
	return 0;
}

static int
decode_port(struct dec *d, int base, uint64_t last_cycle, const struct row_ref *ref,
	    struct bl_port *p)
{
	uint64_t u;

	if (get_bool(d, base + P_KNOWN, &p->known) < 0 ||
	    get_bool(d, base + P_BASELINE_OPEN, &p->baseline_open) < 0 ||
	    get_bool(d, base + P_REPORTED_OPEN, &p->reported_open) < 0 ||
	    get_state(d, base + P_LAST, true, &p->last) < 0 ||
	    get_reason(d, base + P_LAST_REASON, &p->last_reason) < 0 ||
	    get_state(d, base + P_LAST_MISS, false, &p->last_miss) < 0 ||
	    get_count(d, base + P_OPEN_STREAK_START, last_cycle, &p->open_streak) < 0 ||
	    get_count(d, base + P_MISS_STREAK_START, last_cycle, &p->miss_streak) < 0 ||
	    get_u64(d, base + P_CHANGE_BITS, ref->version < 4 ? UINT16_MAX : UINT64_MAX, &u) < 0)
		return -EBADMSG;
	/* before version 4 the column holds the bits themselves */
	if (ref->version < 4 || u == 0) {
		p->change_bits = (uint16_t)u;
	} else {
		/* version 4 wrote the code the packed rows keep */
		const char *why;
		if (state_row_change_bits(u, last_cycle, &p->change_bits, &why) < 0)
			return bad(d, base + P_CHANGE_BITS, why);
	}
	if (get_bool(d, base + P_FLAPPING, &p->flapping) < 0 ||
	    get_bool(d, base + P_OPEN_BEFORE_FLAP, &p->open_before_flap) < 0 ||
	    get_u64(d, base + P_FIRST_SEEN, UINT64_MAX, &p->first_seen) < 0)
		return -EBADMSG;
	if (d->v[base + P_LAST_SEEN].type == SQLITE_NULL)
		p->last_seen = ref->seen_ns;
	else if (get_u64(d, base + P_LAST_SEEN, UINT64_MAX, &p->last_seen) < 0)
		return -EBADMSG;
	if (get_u64(d, base + P_LAST_CHANGE, UINT64_MAX, &p->last_change) < 0 ||
	    get_bool(d, base + P_CLOSED_PROVEN, &p->closed_proven) < 0 ||
	    get_reason(d, base + P_PROVEN_BY, &p->proven_by) < 0 ||
	    get_count(d, base + P_QUIET_CYCLES_START, last_cycle, &p->quiet_cycles) < 0 ||
	    get_u64(d, base + P_QUIET_SINCE, UINT64_MAX, &p->quiet_since) < 0 ||
	    get_bool(d, base + P_STREAK_VERIFIED, &p->streak_verified) < 0)
		return -EBADMSG;
	return 0;
}

/* A fact column: NULL (unknown, returns 0) or a value (returns 1). */
static int
opt_bool(struct dec *d, int c, bool *out)
{
	if (d->v[c].type == SQLITE_NULL)
		return 0;
	return get_bool(d, c, out) < 0 ? -EBADMSG : 1;
}

static int
opt_text(struct dec *d, int c, size_t max, char *buf)
{
	if (d->v[c].type == SQLITE_NULL)
		return 0;
	return get_text(d, c, max, buf) < 0 ? -EBADMSG : 1;
}

/* The same reading of the facts as the JSON parser's: the check bits follow from which
 * facts are there. */
static int
decode_dns(struct dec *d, struct bl_dns *dns)
{
	uint64_t u;
	int rc;

	if (get_bool(d, C_DNS_KNOWN, &dns->known) < 0 ||
	    get_u64(d, C_DNS_RCODE, STATE_MAX_RCODE, &u) < 0 ||
	    get_bool(d, C_DNS_AA, &dns->aa) < 0 || get_bool(d, C_DNS_RA, &dns->ra) < 0)
		return -EBADMSG;
	dns->rcode = (uint16_t)u;
	dns->checks = 0;
	if ((rc = opt_bool(d, C_DNS_RECURSION, &dns->recursion)) < 0)
		return rc;
	if (rc == 1)
		dns->checks |= DNSCHECK_RECURSION;
	if ((rc = opt_bool(d, C_DNS_BOGUS, &dns->bogus)) < 0)
		return rc;
	dns->bogus_known = rc == 1;
	if ((rc = opt_text(d, C_DNS_VERSION, sizeof(dns->version) - 1, dns->version)) < 0)
		return rc;
	if (rc == 1)
		dns->checks |= DNSCHECK_VERSION;
	if ((rc = opt_bool(d, C_DNS_IDENTITY, &dns->identity)) < 0 ||
	    (rc = opt_bool(d, C_DNS_AXFR, &dns->axfr)) < 0)
		return rc;
	if (rc == 1)
		dns->checks |= DNSCHECK_AXFR;
	if ((rc = opt_text(d, C_DNS_AXFR_ZONES, sizeof(dns->axfr_zones) - 1,
			   dns->axfr_zones)) < 0)
		return rc;
	if (d->v[C_DNS_AMPLIFICATION].type != SQLITE_NULL) {
		if (get_u64(d, C_DNS_AMPLIFICATION, UINT32_MAX, &u) < 0)
			return -EBADMSG;
		dns->amplification = (uint32_t)u;
		dns->checks |= DNSCHECK_AMPLIFICATION;
	}
	if ((rc = opt_bool(d, C_DNS_TCP_DNS, &dns->tcp_dns)) < 0)
		return rc;
	if (rc == 1)
		dns->checks |= DNSCHECK_TCP_DNS;
	return 0;
}

/* e is zeroed by the caller, so an entry compares equal byte for byte after a round trip. */
static int
decode_entry(struct state *st, const struct row *r, size_t idx, const struct row_ref *ref,
	     struct bl_entry *e, char *reason, size_t reasonlen)
{
	char where[64], text[NETADDR_STRLEN], address[NETADDR_STRLEN], target[BL_TARGET_MAX + 1];
	struct dec d = { r->v, where, reason, reasonlen };
	const struct val *k = &r->v[C_ADDR];
	uint64_t u;

	snprintf(where, sizeof(where), "entries row %zu", idx + 1);
	if (k->type != SQLITE_BLOB ||
	    !((k->n == 5 && ((const uint8_t *)k->p)[0] == 4) ||
	      (k->n == 17 && ((const uint8_t *)k->p)[0] == 6)))
		return bad(&d, C_ADDR, "expected 4 or 6 and then the address's 4 or 16 bytes");
	e->addr.family = k->n == 5 ? AF_INET : AF_INET6;
	memcpy(e->addr.bytes, (const uint8_t *)k->p + 1, k->n - 1);
	/* from here on the messages name the address */
	snprintf(where, sizeof(where), "entries[%s]", net_addr_str(&e->addr, text, sizeof(text)));
	if (get_text(&d, C_ADDRESS, sizeof(address) - 1, address) < 0)
		return -EBADMSG;
	if (strcmp(address, text) != 0)
		return bad(&d, C_ADDRESS, "is not the address of the key");
	if (get_text(&d, C_TARGET, BL_TARGET_MAX, target) < 0 ||
	    get_u64(&d, C_EXPECT, (1u << PROBE_NSLOTS) - 1, &u) < 0)
		return -EBADMSG;
	if ((e->target = state_label(st, target)) == NULL) {
		util_errf(reason, reasonlen, "out of memory");
		return -ENOMEM;
	}
	for (int s = 0; s < PROBE_NSLOTS; s++)
		e->expect_open[s] = (u >> s) & 1;
	if (r->v[C_LAST_CYCLE].type == SQLITE_NULL)
		e->last_cycle = ref->cycles;
	else if (get_u64(&d, C_LAST_CYCLE, UINT64_MAX, &e->last_cycle) < 0)
		return -EBADMSG;
	for (int s = 0; s < PROBE_NSLOTS; s++)
		if (decode_port(&d, C_PORT + s * P_N, e->last_cycle, ref, &e->port[s]) < 0)
			return -EBADMSG;
	return decode_dns(&d, &e->dns);
}

/* ---- telling a changed row from an unchanged one ---- */

static struct cookie *hasher;
static pthread_once_t hasher_once = PTHREAD_ONCE_INIT;

static void
hasher_init(void)
{
	char err[128];

	/* without one (no SipHash in libcrypto) every hash is 0: every row is written */
	hasher = cookie_new(err, sizeof(err));
}

/* The keyed hash of a row (key and body, the key's length first so that no two rows
 * serialize alike). 0 = unknown (the row is written). */
static uint64_t
row_hash(const uint8_t *key, size_t keylen, const uint8_t *body, size_t bodylen)
{
	uint8_t buf[1 + STATE_ROW_KEY_MAX + STATE_ROW_BODY_MAX];

	pthread_once(&hasher_once, hasher_init);
	if (hasher == NULL || keylen > STATE_ROW_KEY_MAX || bodylen > STATE_ROW_BODY_MAX)
		return 0;
	buf[0] = (uint8_t)keylen;
	memcpy(buf + 1, key, keylen);
	memcpy(buf + 1 + keylen, body, bodylen);
	return cookie_hash(hasher, buf, 1 + keylen + bodylen);
}

/* ---- SQLite calls ---- */

/* SQLite's result as a negative errno: damage is -EBADMSG, the rest what the OS said. */
static int
db_errno(sqlite3 *h, int rc)
{
	int e;

	switch (rc & 0xff) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
		e = h != NULL ? sqlite3_system_errno(h) : 0;
		return e > 0 ? -e : -EIO;
	default:
		return -EIO;
	}
}

/* The failure of the last call on h as (negative errno, reason). */
static int
db_fail(sqlite3 *h, int rc, char *reason, size_t reasonlen)
{
	int e = db_errno(h, rc);

	/* only another program can hold it (cycles are kept apart by the lock file) */
	if (e == -EBUSY)
		util_errf(reason, reasonlen, "%s: another program has it open (sqlite3?), and "
			  "watch53 does not wait for it", h != NULL ? sqlite3_errmsg(h) :
			  sqlite3_errstr(rc));
	else
		util_errf(reason, reasonlen, "%s", h != NULL ? sqlite3_errmsg(h) :
			  sqlite3_errstr(rc));
	return e;
}

static int
db_exec(sqlite3 *h, const char *sql, char *reason, size_t reasonlen)
{
	int rc = sqlite3_exec(h, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(h, rc, reason, reasonlen);
}

/* The first column of the first row of sql as an integer (PRAGMAs, counts). */
static int
db_int(sqlite3 *h, const char *sql, int64_t *out, char *reason, size_t reasonlen)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(h, sql, -1, &q, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		*out = sqlite3_column_int64(q, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_CORRUPT; /* a PRAGMA or count(*) always has a row */
	}
	rc = rc == SQLITE_OK ? 0 : db_fail(h, rc, reason, reasonlen);
	sqlite3_finalize(q);
	return rc;
}

/* Closing the last connection checkpoints the WAL into the file and removes it. */
static int
db_close(sqlite3 *h)
{
	return sqlite3_close(h) == SQLITE_OK ? 0 : -EIO;
}

/* ---- paths and moving files aside ---- */

struct paths {
	char db[PATH_MAX], json[PATH_MAX], newdb[PATH_MAX];
};

static int
paths_init(struct paths *p, const char *dir, char *err, size_t errlen)
{
	if (snprintf(p->db, sizeof(p->db), "%s/%s", dir, STATE_DB_FILE) >=
		    (int)sizeof(p->db) - 16 ||
	    snprintf(p->json, sizeof(p->json), "%s/%s", dir, STATE_JSON_FILE) >=
		    (int)sizeof(p->json) - 48 ||
	    snprintf(p->newdb, sizeof(p->newdb), "%s/%s.new", dir, STATE_DB_FILE) >=
		    (int)sizeof(p->newdb) - 16) {
		util_errf(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* The files SQLite keeps beside a database. */
static const char *const db_sidecars[] = { "-wal", "-shm", "-journal" };
#define NSIDECARS (sizeof(db_sidecars) / sizeof(db_sidecars[0]))

static bool
exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/* Why what lstat found is not a file of ours ("" when it is a regular file). */
static const char *
not_ours(const struct stat *sb)
{
	if (S_ISLNK(sb->st_mode))
		return "a symbolic link (nothing inside state_dir is followed)";
	return S_ISREG(sb->st_mode) ? "" : "not a regular file";
}

/* A user's name for messages ("uid N" without a passwd entry). */
static const char *
user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char pwbuf[1024];

	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res != NULL)
		snprintf(buf, len, "%s", pw.pw_name);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
	return buf;
}

/*
 * After "Permission denied" on state_dir: which of its files this user may not write, whose
 * it is, and the fix, appended to err ("" when none is found). A state.db that a root run
 * left behind otherwise locks the service out with nothing but "Permission denied".
 */
static void
perm_hint(const char *dir, char *err, size_t errlen)
{
	static const char *const names[] = { "", STATE_LOCK, STATE_DB_FILE, STATE_DB_FILE "-wal",
					     STATE_DB_FILE "-shm", STATE_DB_FILE "-journal" };
	char path[PATH_MAX], me[64], owner[64];
	size_t used = strlen(err);
	struct stat sb;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int w = names[i][0] ? snprintf(path, sizeof(path), "%s/%s", dir, names[i])
				    : snprintf(path, sizeof(path), "%s", dir);
		if (w < 0 || (size_t)w >= sizeof(path) || lstat(path, &sb) == -1 ||
		    access(path, names[i][0] ? R_OK | W_OK : W_OK | X_OK) == 0 ||
		    errno != EACCES)
			continue;
		user_name(geteuid(), me, sizeof(me));
		if (used < errlen)
			snprintf(err + used, errlen - used, " (watch53 runs as %s, and %s belongs to "
				 "%s; fix: chown %s: %s)", me, path,
				 user_name(sb.st_uid, owner, sizeof(owner)), me, path);
		return;
	}
}

/*
 * The database and the sidecars SQLite would open beside it are files of state_dir's own,
 * not links: SQLite follows a link to its target and writes its -wal beside that, outside
 * state_dir (and SQLITE_OPEN_NOFOLLOW would refuse a state_dir that is itself a link, which
 * an admin may choose). lstat, not open: a FIFO in its place must not block. -ELOOP for a
 * link, -EINVAL for another non-file, with the reason; *sb is the database's.
 */
static int
db_files_own(const char *path, struct stat *sb, char *reason, size_t reasonlen)
{
	char side[PATH_MAX + 16];
	struct stat ssb;

	if (lstat(path, sb) == -1) {
		util_errf(reason, reasonlen, "%s", strerror(errno));
		return -errno;
	}
	if (*not_ours(sb) != '\0') {
		util_errf(reason, reasonlen, "%s", not_ours(sb));
		return S_ISLNK(sb->st_mode) ? -ELOOP : -EINVAL;
	}
	for (size_t i = 0; i < NSIDECARS; i++) {
		snprintf(side, sizeof(side), "%s%s", path, db_sidecars[i]);
		if (lstat(side, &ssb) == 0 && *not_ours(&ssb) != '\0') {
			util_errf(reason, reasonlen, "its %s file is %s", db_sidecars[i] + 1,
				  not_ours(&ssb));
			return S_ISLNK(ssb.st_mode) ? -ELOOP : -EINVAL;
		}
	}
	return 0;
}

static bool
sidecar_exists(const char *db, size_t i)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s%s", db, db_sidecars[i]);
	return exists(path);
}

/* Create dir (only its last component) for the first run. */
static int
ensure_dir(const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	if (errno == ENOENT)
		util_errf(err, errlen, "cannot create state directory %s: its parent directory "
			  "does not exist", dir);
	else
		util_errf(err, errlen, "cannot create state directory %s: %s", dir,
			  strerror(errno));
	return -errno;
}

/*
 * Rename path to <path>.<why>-<UTC stamp> (a name nobody else uses: "-N" is added when
 * taken), and with sidecars its -wal, -shm and -journal along, so the set still opens
 * together. The database goes first: a crash in between leaves a log without its database,
 * which the loader refuses, never a database without its log (it would lose commits).
 * path itself may be missing when only sidecars are left. Callers hold the lock, so the
 * check-then-rename does not race another cycle.
 */
static int
move_aside(const char *path, const char *why, bool sidecars, char *dst, size_t dstlen)
{
	char stamp[32], from[PATH_MAX + 16], to[PATH_MAX + 48];
	time_t t = (time_t)(util_wall_ns() / NS_PER_SEC);
	struct tm tm;
	unsigned n;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
		return -EINVAL;
	for (n = 0; n < ASIDE_TRIES; n++) {
		bool taken;
		int w = n == 0 ? snprintf(dst, dstlen, "%s.%s-%s", path, why, stamp) :
				 snprintf(dst, dstlen, "%s.%s-%s-%u", path, why, stamp, n);
		if (w < 0 || (size_t)w >= dstlen || (size_t)w + 16 > sizeof(to))
			return -ENAMETOOLONG;
		taken = exists(dst);
		for (size_t i = 0; sidecars && !taken && i < NSIDECARS; i++)
			taken = sidecar_exists(dst, i);
		if (!taken)
			break;
	}
	if (n == ASIDE_TRIES)
		return -EEXIST;
	if (rename(path, dst) == -1 && errno != ENOENT)
		return -errno;
	for (size_t i = 0; sidecars && i < NSIDECARS; i++) {
		snprintf(from, sizeof(from), "%s%s", path, db_sidecars[i]);
		snprintf(to, sizeof(to), "%s%s", dst, db_sidecars[i]);
		if (rename(from, to) == -1 && errno != ENOENT)
			return -errno;
	}
	/* the renames happened; failing to make them durable only risks seeing the bad
	 * file again after a crash, which leads here again */
	(void)file_sync_dir(dst);
	return 0;
}

/* Is there a state.db.corrupt-* or state.json.corrupt-* in dir? Its name goes to out. */
static bool
find_corrupt(const char *dir, char *out, size_t outlen)
{
	static const char *const prefixes[] = { STATE_DB_FILE ".corrupt-",
						STATE_JSON_FILE ".corrupt-" };
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	if (d == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL)
		for (size_t i = 0; i < 2 && !found; i++)
			if (strncmp(de->d_name, prefixes[i], strlen(prefixes[i])) == 0) {
				snprintf(out, outlen, "%s/%s", dir, de->d_name);
				found = true;
			}
	closedir(d);
	return found;
}

/* The message for a state file that cannot be used, after trying to move it aside. */
static int
set_aside_bad(const char *path, bool sidecars, const char *reason, char *err, size_t errlen)
{
	char dst[PATH_MAX + 48];
	int rc = move_aside(path, "corrupt", sidecars, dst, sizeof(dst));

	if (rc < 0)
		util_errf(err, errlen, "%s is unreadable (%s) and could not be moved aside (%s); "
			  "move or remove it by hand, then run 'watch53 baseline reset -c CONFIG' "
			  "or put a good copy back", path, reason, strerror(-rc));
	else
		util_errf(err, errlen, "%s is unreadable (%s); moved it to %s%s; to start a new "
			  "baseline run 'watch53 baseline reset -c CONFIG' (the next cycle records "
			  "the current state without alerts), or put a good copy back", path,
			  reason, dst, sidecars ? " (with its -wal and -shm files)" : "");
	return -EBADMSG;
}

/* ---- opening ---- */

/*
 * Open an existing database and make sure it is a whole one of ours, migrated to this
 * version. -EBADMSG with the reason when it is damaged or not ours: nothing was written
 * to it then (no journal mode change, no checkpoint), so what is set aside is what was
 * found. check: run PRAGMA quick_check (the loader; a save trusts the load before it).
 */
static int
db_open(const char *path, bool check, sqlite3 **out, char *reason, size_t reasonlen)
{
	sqlite3 *h = NULL;
	int64_t app = 0, version = 0, n = 0, psize = 0, pages = 0;
	char *sql = NULL, wal[PATH_MAX + 8];
	sqlite3_stmt *q = NULL;
	struct stat sb;
	bool had_wal;
	off_t size;
	int rc;

	*out = NULL;
	/* before SQLite makes an empty -wal of its own */
	snprintf(wal, sizeof(wal), "%s-wal", path);
	had_wal = lstat(wal, &sb) == 0 && sb.st_size > 0;
	if ((rc = db_files_own(path, &sb, reason, reasonlen)) < 0)
		return rc;
	size = sb.st_size;
	rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		rc = db_fail(h, rc, reason, reasonlen);
		goto bad;
	}
	sqlite3_extended_result_codes(h, 1);
	/* the flock in state_lock keeps cycles apart: a busy database is somebody else's
	 * doing, and waiting for it would only hide that */
	sqlite3_busy_timeout(h, 0);
	(void)sqlite3_db_config(h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
	/* before the first read: then the WAL index lives in this process's memory and no
	 * -shm file is made (nobody else opens the database while we hold the lock) */
	if ((rc = db_exec(h, "PRAGMA locking_mode=EXCLUSIVE", reason, reasonlen)) < 0)
		goto bad;
	if ((rc = db_int(h, "PRAGMA application_id", &app, reason, reasonlen)) < 0 ||
	    (rc = db_int(h, "PRAGMA user_version", &version, reason, reasonlen)) < 0 ||
	    (rc = db_int(h, "SELECT count(*) FROM sqlite_master", &n, reason, reasonlen)) < 0)
		goto bad;
	if (app != DB_APPLICATION_ID) {
		rc = -EBADMSG;
		if (n == 0)
			util_errf(reason, reasonlen, "an SQLite database with nothing in it");
		else
			util_errf(reason, reasonlen, "an SQLite database, but not a watch53 state "
				  "(application_id %" PRId64 ", user_version %" PRId64 ")", app,
				  version);
		goto bad;
	}
	if (version > DB_SCHEMA_VERSION || version < 1) {
		rc = -EBADMSG;
		util_errf(reason, reasonlen, "schema version %" PRId64 "%s (this watch53 reads 1 to "
			  "%d)", version, version > DB_SCHEMA_VERSION ?
			  ", from a newer watch53" : "", DB_SCHEMA_VERSION);
		goto bad;
	}
	if (check) {
		const unsigned char *res;
		rc = sqlite3_prepare_v2(h, "PRAGMA quick_check(1)", -1, &q, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(q);
		if (rc != SQLITE_ROW) {
			rc = db_fail(h, rc, reason, reasonlen);
			goto bad;
		}
		res = sqlite3_column_text(q, 0);
		if (res == NULL || strcmp((const char *)res, "ok") != 0) {
			char pr[160];
			util_errf(reason, reasonlen, "quick_check: %s",
				  util_printable(res != NULL ? (const char *)res : "?", pr,
						 sizeof(pr), UTIL_PRINT_ASCII));
			rc = -EBADMSG;
			goto bad;
		}
		sqlite3_finalize(q);
		q = NULL;
		/* SQLite reads past the end of a short file as zeros, so a cut in the unused
		 * space of the last page passes quick_check: the size says so. (With a log
		 * left by a crash the file may be shorter: its pages are in the log.) */
		if ((rc = db_int(h, "PRAGMA page_size", &psize, reason, reasonlen)) < 0 ||
		    (rc = db_int(h, "PRAGMA page_count", &pages, reason, reasonlen)) < 0)
			goto bad;
		if (psize <= 0 || size % psize != 0 || (!had_wal && size < psize * pages)) {
			util_errf(reason, reasonlen, "truncated: %jd bytes, not the %" PRId64
				  " pages of %" PRId64 " bytes it has", (intmax_t)size, pages, psize);
			rc = -EBADMSG;
			goto bad;
		}
	}
	/* The loader reads an older database as it is (the tables it reads are the same in
	 * every version): whatever it finds wrong is then set aside as it was found. The
	 * first save (or history read) migrates it, in one transaction of its own. */
	if (version < DB_SCHEMA_VERSION && !check) {
		char set[48];
		if ((rc = db_exec(h, "BEGIN IMMEDIATE", reason, reasonlen)) < 0)
			goto bad;
		for (int64_t v = version; v < DB_SCHEMA_VERSION; v++)
			if ((rc = migrate(h, v)) != SQLITE_OK) {
				rc = db_fail(h, rc, reason, reasonlen);
				/* the tables are not those of the version it claims */
				if (rc == -EIO && (sqlite3_errcode(h) & 0xff) == SQLITE_ERROR)
					rc = -EBADMSG;
				(void)sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
				goto bad;
			}
		snprintf(set, sizeof(set), "PRAGMA user_version=%d", DB_SCHEMA_VERSION);
		if ((rc = db_exec(h, set, reason, reasonlen)) < 0 ||
		    (rc = db_exec(h, "COMMIT", reason, reasonlen)) < 0) {
			(void)sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
			goto bad;
		}
	}
	/* every column this version reads is there: a table edited into another shape is
	 * not ours any more */
	if ((rc = entry_sql(&sql)) < 0)
		goto bad;
	{
		/* with the versions each is there in (the loader reads older ones as they
		 * are; anything else has been migrated to the newest by now) */
		const struct { const char *sql; int since, until; } shape[] = {
			{ sql, 1, 4 },
			{ "SELECT addr, body FROM entries", 5, DB_SCHEMA_VERSION },
			{ "SELECT id, text FROM labels", 5, DB_SCHEMA_VERSION },
			{ "SELECT id, instance, cycles, last_cycle_ns, last_duration_ns, degraded, "
			  "seen_ns, generation, imported_from FROM meta", 1, DB_SCHEMA_VERSION },
			{ "SELECT first_ns FROM meta", 5, DB_SCHEMA_VERSION },
			{ "SELECT type, total FROM events_total", 1, DB_SCHEMA_VERSION },
			{ "SELECT " HISTORY_COLS " FROM history", 2, DB_SCHEMA_VERSION },
			{ "SELECT " SPOOL_COLS " FROM spool", 3, DB_SCHEMA_VERSION },
			{ "SELECT name, since_ns, since_cycle, reason FROM unresolved", 7,
			  DB_SCHEMA_VERSION },
			{ "SELECT addr, protocol, until_ns, set_ns FROM silences", 8,
			  DB_SCHEMA_VERSION },
		};
		int64_t in = check ? version : DB_SCHEMA_VERSION;
		for (size_t i = 0; i < sizeof(shape) / sizeof(shape[0]); i++) {
			if (in < shape[i].since || in > shape[i].until)
				continue;
			rc = sqlite3_prepare_v2(h, shape[i].sql, -1, &q, NULL);
			sqlite3_finalize(q);
			q = NULL;
			if (rc != SQLITE_OK) {
				rc = db_fail(h, rc, reason, reasonlen);
				if (rc != -ENOMEM)
					rc = -EBADMSG; /* "no such table", "no such column" */
				goto bad;
			}
		}
	}
	/* WAL: a commit appends its pages to the log, and a commit a crash cut short is
	 * discarded at the next open; FULL: the log is fsynced at every commit (a saved cycle
	 * stays saved). Set only now, so a file that is not ours is left as it was found. */
	if ((rc = db_exec(h, "PRAGMA journal_mode=WAL", reason, reasonlen)) < 0 ||
	    (rc = db_exec(h, "PRAGMA synchronous=FULL", reason, reasonlen)) < 0 ||
	    (rc = db_exec(h, "PRAGMA temp_store=MEMORY", reason, reasonlen)) < 0)
		goto bad;
	{
		char lim[48];
		snprintf(lim, sizeof(lim), "PRAGMA journal_size_limit=%d", DB_JOURNAL_SIZE_LIMIT);
		if ((rc = db_exec(h, lim, reason, reasonlen)) < 0)
			goto bad;
	}
	(void)sqlite3_db_config(h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, (int *)NULL);
	free(sql);
	*out = h;
	return 0;
bad:
	sqlite3_finalize(q);
	free(sql);
	sqlite3_close(h);
	return rc;
}

/* An existing database opened to write or read (db_open without the load's checks: a save,
 * a spool move or a history read, under the lock, after a cycle's load): 1 when there is
 * none (*h NULL), 0, or -errno with "cannot <verb> <path>: ..." in err. */
static int
db_open_existing(const char *path, const char *verb, sqlite3 **h, char *err, size_t errlen)
{
	char reason[300];
	struct stat sb;
	int rc;

	*h = NULL;
	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT)
			return 1;
		rc = -errno;
		util_errf(err, errlen, "cannot %s %s: %s", verb, path, strerror(errno));
		return rc;
	}
	if ((rc = db_open(path, false, h, reason, sizeof(reason))) < 0)
		util_errf(err, errlen, "cannot %s %s: %s", verb, path, reason);
	return rc;
}

/* ---- reading ---- */

static int
read_meta(sqlite3 *h, struct state *st, struct row_ref *ref, char *imported, size_t implen,
	  char *reason, size_t reasonlen)
{
	sqlite3_stmt *q = NULL;
	struct val v[9];
	int64_t version = 0;
	int rc;

	/* a loader reads an older file as it is: which version says how */
	if ((rc = db_int(h, "PRAGMA user_version", &version, reason, reasonlen)) < 0)
		return rc;
	ref->version = version;
	rc = sqlite3_prepare_v2(h, version >= 5 ?
		"SELECT instance, cycles, last_cycle_ns, last_duration_ns, degraded, seen_ns, "
		"generation, imported_from, first_ns FROM meta WHERE id = 1" :
		"SELECT instance, cycles, last_cycle_ns, last_duration_ns, degraded, seen_ns, "
		"generation, imported_from, 0 FROM meta WHERE id = 1", -1, &q, NULL);
	if (rc != SQLITE_OK || (rc = sqlite3_step(q)) != SQLITE_ROW) {
		if (rc == SQLITE_DONE) {
			util_errf(reason, reasonlen, "meta: the row is missing");
			rc = -EBADMSG;
		} else {
			rc = db_fail(h, rc, reason, reasonlen);
		}
		goto out;
	}
	for (int c = 0; c < 9; c++) {
		v[c].type = sqlite3_column_type(q, c);
		v[c].i = sqlite3_column_int64(q, c);
		v[c].p = v[c].type == SQLITE_TEXT ? (const void *)sqlite3_column_text(q, c) : NULL;
		v[c].n = (size_t)sqlite3_column_bytes(q, c);
	}
	/* bad() names columns of entries; meta's are few enough to say by hand */
	rc = -EBADMSG;
	if (v[0].type != SQLITE_TEXT || v[0].n >= sizeof(st->instance) ||
	    memchr(v[0].p, '\0', v[0].n) != NULL) {
		util_errf(reason, reasonlen, "meta.instance: expected text of at most %zu bytes",
			  sizeof(st->instance) - 1);
		goto out;
	}
	memcpy(st->instance, v[0].p, v[0].n);
	st->instance[v[0].n] = '\0';
	for (int c = 1; c < 7; c++)
		if (v[c].type != SQLITE_INTEGER) {
			static const char *const names[] = { "", "cycles", "last_cycle_ns",
				"last_duration_ns", "degraded", "seen_ns", "generation" };
			util_errf(reason, reasonlen, "meta.%s: expected an integer", names[c]);
			goto out;
		}
	st->cycles = i2u(v[1].i);
	st->last_cycle_wall = i2u(v[2].i);
	st->last_duration_ns = i2u(v[3].i);
	if (v[4].i != 0 && v[4].i != 1) {
		util_errf(reason, reasonlen, "meta.degraded: expected 0 or 1");
		goto out;
	}
	st->degraded = v[4].i == 1;
	ref->cycles = st->cycles;
	ref->seen_ns = i2u(v[5].i);
	if (v[8].type != SQLITE_INTEGER) {
		util_errf(reason, reasonlen, "meta.first_ns: expected an integer");
		goto out;
	}
	ref->first_ns = i2u(v[8].i);
	st->generation = i2u(v[6].i);
	imported[0] = '\0';
	if (v[7].type == SQLITE_TEXT && v[7].n < implen) {
		memcpy(imported, v[7].p, v[7].n);
		imported[v[7].n] = '\0';
	} else if (v[7].type != SQLITE_NULL) {
		util_errf(reason, reasonlen, "meta.imported_from: expected text or NULL");
		goto out;
	}
	if ((rc = sqlite3_step(q)) != SQLITE_DONE) {
		rc = rc == SQLITE_ROW ? SQLITE_CORRUPT : rc; /* id is the primary key */
		rc = db_fail(h, rc, reason, reasonlen);
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(q);
	return rc;
}

static int
read_totals(sqlite3 *h, struct state *st, char *reason, size_t reasonlen)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(h, "SELECT type, total FROM events_total", -1, &q, NULL);

	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(q, 0);
		enum alert_type at;
		char pt[40];

		if (sqlite3_column_type(q, 0) != SQLITE_TEXT || type == NULL ||
		    alert_type_parse(type, &at) < 0 || at == ALERT_TEST) {
			util_errf(reason, reasonlen, "events_total: \"%s\" is not an event type",
				  util_printable(type != NULL ? type : "", pt, sizeof(pt),
						 UTIL_PRINT_ASCII));
			sqlite3_finalize(q);
			return -EBADMSG;
		}
		if (sqlite3_column_type(q, 1) != SQLITE_INTEGER) {
			util_errf(reason, reasonlen, "events_total[%s]: expected an integer", type);
			sqlite3_finalize(q);
			return -EBADMSG;
		}
		st->events_total[at] = i2u(sqlite3_column_int64(q, 1));
		rc = SQLITE_OK;
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(h, rc, reason, reasonlen);
	sqlite3_finalize(q);
	return rc;
}

/* The values of the current row of q (valid until q moves on). */
static void
row_from(sqlite3_stmt *q, struct row *r)
{
	for (int c = 0; c < C_N; c++) {
		struct val *v = &r->v[c];
		v->type = sqlite3_column_type(q, c);
		v->i = 0;
		v->p = NULL;
		v->n = 0;
		if (v->type == SQLITE_INTEGER) {
			v->i = sqlite3_column_int64(q, c);
		} else if (v->type == SQLITE_TEXT) {
			v->p = sqlite3_column_text(q, c);
			v->n = (size_t)sqlite3_column_bytes(q, c);
		} else if (v->type == SQLITE_BLOB) {
			v->p = sqlite3_column_blob(q, c);
			v->n = (size_t)sqlite3_column_bytes(q, c);
		}
	}
}

/* Labels and their ids in the table labels, both ways: a load reads them all (sorted by
 * id), a save looks up or adds the ones its entries carry. The texts are the state's own
 * copies. */
struct label_map {
	const char **text;
	uint64_t *id;
	size_t n, cap;
	size_t last;              /* the last hit: most entries share their neighbour's */
};

static void
label_map_clear(struct label_map *m)
{
	free(m->text);
	free(m->id);
	memset(m, 0, sizeof(*m));
}

static int
label_map_add(struct label_map *m, const char *text, uint64_t id)
{
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 16;
		const char **nt = realloc(m->text, nc * sizeof(*nt));
		uint64_t *ni;
		if (nt == NULL)
			return -ENOMEM;
		m->text = nt;
		if ((ni = realloc(m->id, nc * sizeof(*ni))) == NULL)
			return -ENOMEM;
		m->id = ni;
		m->cap = nc;
	}
	m->text[m->n] = text;
	m->id[m->n] = id;
	m->last = m->n++;
	return 0;
}

static int
read_labels(sqlite3 *h, struct state *st, struct label_map *m, char *reason, size_t reasonlen)
{
	sqlite3_stmt *q = NULL;
	int64_t last = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = sqlite3_prepare_v2(h, "SELECT id, text FROM labels ORDER BY id", -1, &q, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(q, 1);
		size_t len = (size_t)sqlite3_column_bytes(q, 1);
		int64_t id = sqlite3_column_int64(q, 0);

		if (sqlite3_column_type(q, 1) != SQLITE_TEXT || t == NULL || len > BL_TARGET_MAX ||
		    memchr(t, '\0', len) != NULL || id <= last) {
			util_errf(reason, reasonlen, "labels[%" PRId64 "]: expected an id above 0 "
				  "and text of at most %d bytes", id, BL_TARGET_MAX);
			sqlite3_finalize(q);
			return -EBADMSG;
		}
		if ((t = state_label_len(st, t, len)) == NULL ||
		    label_map_add(m, t, (uint64_t)id) < 0) {
			util_errf(reason, reasonlen, "out of memory");
			sqlite3_finalize(q);
			return -ENOMEM;
		}
		last = id;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE || rc == SQLITE_OK ? 0 : db_fail(h, rc, reason, reasonlen);
}

/* The label with that id: "" for 0, NULL for none. */
static const char *
label_of(const struct label_map *m, uint64_t id)
{
	size_t lo = 0, hi = m->n;

	if (id == 0)
		return "";
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->id[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n && m->id[lo] == id ? m->text[lo] : NULL;
}

/* One version 5 row into e (zeroed) with the hash of the row. */
static int
decode_row(const struct label_map *labels, sqlite3_stmt *q, size_t idx,
	   const struct row_ref *ref, struct bl_entry *e, uint64_t *hash, char *reason,
	   size_t reasonlen)
{
	const struct state_row_ref r5 = { ref->cycles, ref->seen_ns, ref->first_ns };
	const void *key = sqlite3_column_blob(q, 0), *body = sqlite3_column_blob(q, 1);
	size_t keylen = (size_t)sqlite3_column_bytes(q, 0);
	size_t bodylen = (size_t)sqlite3_column_bytes(q, 1);
	char addr[NETADDR_STRLEN], why[200];
	uint64_t label = 0;

	if (sqlite3_column_type(q, 0) != SQLITE_BLOB ||
	    state_row_key_parse(key, keylen, &e->addr) < 0) {
		util_errf(reason, reasonlen, "entries row %zu.addr: expected 4 or 6 and then the "
			  "address's 4 or 16 bytes", idx + 1);
		return -EBADMSG;
	}
	net_addr_str(&e->addr, addr, sizeof(addr));
	if (sqlite3_column_type(q, 1) != SQLITE_BLOB || bodylen > STATE_ROW_BODY_MAX) {
		util_errf(reason, reasonlen, "entries[%s].body: expected a blob of at most %d "
			  "bytes", addr, STATE_ROW_BODY_MAX);
		return -EBADMSG;
	}
	if (state_row_decode(body, bodylen, &r5, e, &label, why, sizeof(why)) < 0) {
		util_errf(reason, reasonlen, "entries[%s].body: %s", addr, why);
		return -EBADMSG;
	}
	if ((e->target = label_of(labels, label)) == NULL) {
		util_errf(reason, reasonlen, "entries[%s].body: label %" PRIu64 " is not in labels",
			  addr, label);
		return -EBADMSG;
	}
	*hash = row_hash(key, keylen, body, bodylen);
	return 0;
}

/* The entries into st, in address order; with fn, each to fn instead (one at a time, the
 * labels into st: memory does not grow with the rows). */
static int
read_entries(sqlite3 *h, struct state *st, const struct row_ref *ref, state_each_fn fn,
	     void *arg, char *reason, size_t reasonlen)
{
	struct label_map labels = { 0 };
	struct bl_entry one, prev;
	sqlite3_stmt *q = NULL;
	struct row r;
	char *sql = NULL;
	int64_t count = 0;
	uint64_t hash;
	size_t n = 0;
	int rc;

	if ((rc = db_int(h, "SELECT count(*) FROM entries", &count, reason, reasonlen)) < 0)
		return rc;
	/* exactly as many as there are: no doubling to grow into */
	if (count > 0 && fn == NULL) {
		if ((uint64_t)count > SIZE_MAX / sizeof(*st->entries)) {
			util_errf(reason, reasonlen, "out of memory");
			return -ENOMEM;
		}
		st->entries = calloc((size_t)count, sizeof(*st->entries));
		st->row_hash = calloc((size_t)count, sizeof(*st->row_hash));
		if (st->entries == NULL || st->row_hash == NULL) {
			util_errf(reason, reasonlen, "out of memory");
			return -ENOMEM;
		}
		st->cap = (size_t)count;
	}
	if (ref->version >= 5) {
		if ((rc = read_labels(h, st, &labels, reason, reasonlen)) < 0)
			return rc;
		rc = sqlite3_prepare_v2(h, "SELECT addr, body FROM entries ORDER BY addr", -1, &q,
					NULL);
	} else {
		if ((rc = entry_sql(&sql)) < 0) {
			util_errf(reason, reasonlen, "out of memory");
			return rc;
		}
		rc = sqlite3_prepare_v2(h, sql, -1, &q, NULL);
	}
	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct bl_entry *e = fn != NULL ? &one : &st->entries[n];

		if (n == (size_t)count) {
			rc = SQLITE_CORRUPT; /* more rows than count(*) said */
			break;
		}
		if (fn != NULL)
			memset(&one, 0, sizeof(one));
		hash = 0; /* an older row is written afresh by the first save */
		if (ref->version >= 5) {
			rc = decode_row(&labels, q, n, ref, e, &hash, reason, reasonlen);
		} else {
			row_from(q, &r);
			rc = decode_entry(st, &r, n, ref, e, reason, reasonlen);
		}
		if (rc < 0)
			goto out;
		/* the primary key orders the rows; our order must be that one */
		if (n > 0 && net_addr_cmp(fn != NULL ? &prev.addr : &st->entries[n - 1].addr,
					  &e->addr) >= 0) {
			util_errf(reason, reasonlen, "entries row %zu: out of order", n + 1);
			rc = -EBADMSG;
			goto out;
		}
		n++;
		if (fn != NULL) {
			prev = one;
			if ((rc = fn(arg, &one)) < 0) {
				util_errf(reason, reasonlen, "%s", strerror(-rc));
				rc = rc == -EBADMSG ? -EIO : rc; /* the caller's, not the file's */
				goto out;
			}
		} else {
			st->row_hash[n - 1] = hash;
			st->n = n;
		}
		rc = SQLITE_OK;
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(h, rc, reason, reasonlen);
	if (rc == 0 && n != (size_t)count) {
		util_errf(reason, reasonlen, "entries: fewer rows than counted");
		rc = -EBADMSG;
	}
	st->stored = n;
out:
	sqlite3_finalize(q);
	free(sql);
	label_map_clear(&labels);
	return rc;
}

/* ---- writing ---- */

/* The time most ports were last seen (that of the last cycle, usually), or first seen
 * (that of the first cycle): a majority vote (Boyer-Moore) over the ports ever seen. Any
 * answer is correct; this one leaves most rows without a stored last_seen, and with a
 * first_seen of one byte. */
static uint64_t
reference(const struct state *st, bool first)
{
	uint64_t cand = 0;
	size_t votes = 0;

	for (size_t i = 0; i < st->n; i++)
		for (int s = 0; s < PROBE_NSLOTS; s++) {
			const struct bl_port *p = &st->entries[i].port[s];
			uint64_t t = first ? p->first_seen : p->last_seen;
			if (t == 0)
				continue;
			if (votes == 0) {
				cand = t;
				votes = 1;
			} else if (t == cand) {
				votes++;
			} else {
				votes--;
			}
		}
	return cand;
}

/* A fresh nonzero generation: which save of which database a loaded state belongs to. */
static uint64_t
new_generation(void)
{
	uint64_t g = 0;

	while (g == 0)
		if (util_random(&g, sizeof(g)) < 0)
			g = util_wall_ns() ^ ((uint64_t)getpid() << 32);
	return g;
}

static int
bind_text(sqlite3_stmt *q, int i, const char *s, size_t max)
{
	return sqlite3_bind_text(q, i, s, (int)strnlen(s, max - 1), SQLITE_STATIC);
}

/* The cycle's history rows, then the rows older than the retention (at most
 * STATE_HISTORY_PRUNE_MAX, oldest first). An SQLite result code. */
/*
 * The words of a history row as version 6 stores them: the position in its list (fixed:
 * the numbers are the file's, whatever the enums of a later build say), or the word itself
 * when it is not in the list.
 */
enum { HW_TYPE, HW_SEVERITY, HW_PROTOCOL, HW_SOURCE, HW_N };
#define HW_MAX 16 /* words a list may hold: new words go at the end of theirs */
static const char *const hist_words[HW_N][HW_MAX] = {
	[HW_TYPE] = { "opened", "closed", "changed", "flapping", "degraded", "exposed", "test",
		      "accepted", "recovered", "unresolved", "resolved" },
	[HW_SEVERITY] = { "", "info", "low", "medium", "high", "critical" },
	[HW_PROTOCOL] = { "", "tcp", "udp" },
	[HW_SOURCE] = { "active", "passive", "cli" },
};

static int
bind_word(sqlite3_stmt *q, int i, int list, const char *word, size_t max)
{
	for (int k = 0; k < HW_MAX && hist_words[list][k] != NULL; k++)
		if (strncmp(hist_words[list][k], word, max) == 0)
			return sqlite3_bind_int(q, i, k);
	return bind_text(q, i, word, max);
}

static void
column_word(sqlite3_stmt *q, int c, int list, char *out, size_t outlen)
{
	const unsigned char *t;
	int64_t k;

	if (sqlite3_column_type(q, c) == SQLITE_INTEGER) {
		k = sqlite3_column_int64(q, c);
		snprintf(out, outlen, "%s", k >= 0 && k < HW_MAX && hist_words[list][k] != NULL
						    ? hist_words[list][k] : "?");
		return;
	}
	t = sqlite3_column_text(q, c);
	snprintf(out, outlen, "%s", t != NULL ? (const char *)t : "");
}

/* An event id's text as its 16 bytes (*n 0 for "" or text that is no UUID). */
static void
id_bytes(const char *id, uint8_t out[16], size_t *n)
{
	size_t k = 0;

	*n = 0;
	if (!alert_id_valid(id))
		return;
	for (const char *c = id; *c != '\0' && k < 32; c++) {
		int v = *c >= '0' && *c <= '9' ? *c - '0' : *c >= 'a' && *c <= 'f' ? *c - 'a' + 10
			: *c >= 'A' && *c <= 'F' ? *c - 'A' + 10 : -1;
		if (v < 0)
			continue; /* the dashes */
		out[k / 2] = (uint8_t)(k % 2 == 0 ? v << 4 : out[k / 2] | v);
		k++;
	}
	*n = 16;
}

static void
id_text(const uint8_t *b, size_t n, char *out, size_t outlen)
{
	if (n != 16 || outlen < ALERT_ID_LEN) {
		snprintf(out, outlen, "%s", "");
		return;
	}
	snprintf(out, outlen, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8],
		 b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* An address's text as the key of entries (empty: "" or text that is no address). */
static size_t
addr_key(const char *text, uint8_t key[STATE_ROW_KEY_MAX])
{
	struct net_addr a;

	return text[0] != '\0' && net_addr_parse(text, &a) == 0 ? state_row_key(&a, key) : 0;
}

/* One history row through q (HISTORY_INSERT into some table), seq given (0: the next). An
 * SQLite result code. */
static int
insert_history(sqlite3_stmt *q, const struct state_hist *r)
{
	uint8_t key[STATE_ROW_KEY_MAX], id[16];
	size_t keylen = addr_key(r->address, key), idlen;
	int rc;

	id_bytes(r->id, id, &idlen);
	sqlite3_reset(q);
	rc = sqlite3_bind_int64(q, 1, u2i(r->time_ns));
	if (rc == SQLITE_OK)
		rc = bind_word(q, 2, HW_TYPE, r->type, sizeof(r->type));
	if (rc == SQLITE_OK)
		rc = bind_word(q, 3, HW_SEVERITY, r->severity, sizeof(r->severity));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(q, 4, key, (int)keylen, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = bind_word(q, 5, HW_PROTOCOL, r->protocol, sizeof(r->protocol));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 6, r->port);
	if (rc == SQLITE_OK)
		rc = bind_text(q, 7, r->summary, sizeof(r->summary));
	if (rc == SQLITE_OK)
		rc = bind_word(q, 8, HW_SOURCE, r->source, sizeof(r->source));
	/* an id that is no UUID (none of ours) is kept as its text */
	if (rc == SQLITE_OK)
		rc = idlen > 0 || r->id[0] == '\0'
			     ? sqlite3_bind_blob(q, 9, id, (int)idlen, SQLITE_TRANSIENT)
			     : bind_text(q, 9, r->id, sizeof(r->id));
	if (rc == SQLITE_OK)
		rc = r->seq != 0 ? sqlite3_bind_int64(q, 10, u2i(r->seq)) : sqlite3_bind_null(q, 10);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_DONE)
		rc = SQLITE_OK;
	return rc;
}

/* The row of q (columns HISTORY_COLS of version 6) into r. */
static void
history_row(sqlite3_stmt *q, struct state_hist *r)
{
	struct net_addr a;
	int64_t port = sqlite3_column_int64(q, 6);
	const unsigned char *t = sqlite3_column_text(q, 7);

	memset(r, 0, sizeof(*r));
	r->seq = i2u(sqlite3_column_int64(q, 0));
	r->time_ns = i2u(sqlite3_column_int64(q, 1));
	column_word(q, 2, HW_TYPE, r->type, sizeof(r->type));
	column_word(q, 3, HW_SEVERITY, r->severity, sizeof(r->severity));
	if (state_row_key_parse(sqlite3_column_blob(q, 4), (size_t)sqlite3_column_bytes(q, 4),
				&a) == 0)
		net_addr_str(&a, r->address, sizeof(r->address));
	column_word(q, 5, HW_PROTOCOL, r->protocol, sizeof(r->protocol));
	r->port = port >= 0 && port <= 65535 ? (uint16_t)port : 0;
	snprintf(r->summary, sizeof(r->summary), "%s", t != NULL ? (const char *)t : "");
	column_word(q, 8, HW_SOURCE, r->source, sizeof(r->source));
	if (sqlite3_column_type(q, 9) == SQLITE_TEXT)
		snprintf(r->id, sizeof(r->id), "%s", (const char *)sqlite3_column_text(q, 9));
	else
		id_text(sqlite3_column_blob(q, 9), (size_t)sqlite3_column_bytes(q, 9), r->id,
			sizeof(r->id));
}

/* One spool row through q (INSERT INTO spool (sink, event_id, body)). */
static int
insert_spool(sqlite3_stmt *q, const struct state_spool *r)
{
	int rc;

	sqlite3_reset(q);
	rc = sqlite3_bind_text(q, 1, r->sink, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = bind_text(q, 2, r->id, sizeof(r->id));
	if (rc == SQLITE_OK)
		rc = r->len > INT_MAX ? SQLITE_TOOBIG
				      : sqlite3_bind_text(q, 3, r->json, (int)r->len, SQLITE_STATIC);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_DONE)
		rc = SQLITE_OK;
	return rc;
}

#define HISTORY_INSERT_INTO(table) "INSERT INTO " table " (time_ns, type, severity, " \
	"address, protocol, port, summary, source, event_id, seq) " \
	"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
#define HISTORY_INSERT HISTORY_INSERT_INTO("history")
#define SPOOL_INSERT "INSERT INTO spool (sink, event_id, body) VALUES (?, ?, ?)"

static int prune_history(sqlite3 *h, uint64_t retention_ns);

static int
write_history(sqlite3 *h, const struct state *st)
{
	sqlite3_stmt *q = NULL;
	int rc;

	rc = sqlite3_prepare_v2(h, HISTORY_INSERT, -1, &q, NULL);
	for (size_t i = 0; i < st->nhistory_add && rc == SQLITE_OK; i++)
		rc = insert_history(q, &st->history_add[i]);
	sqlite3_finalize(q);
	return rc == SQLITE_OK ? prune_history(h, st->history_retention_ns) : rc;
}

/* The history rows older than retention_ns (0: none), at most STATE_HISTORY_PRUNE_MAX,
 * oldest first. An SQLite result code. */
static int
prune_history(sqlite3 *h, uint64_t retention_ns)
{
	sqlite3_stmt *q = NULL;
	uint64_t now = util_wall_ns();
	int rc;

	if (retention_ns == 0 || now <= retention_ns)
		return SQLITE_OK;
	rc = sqlite3_prepare_v2(h, "DELETE FROM history WHERE seq IN (SELECT seq FROM history "
				"WHERE time_ns < ? ORDER BY time_ns LIMIT ?)", -1, &q, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 1, u2i(now - retention_ns));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 2, STATE_HISTORY_PRUNE_MAX);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(q);
	return rc;
}

/* The events this save spools (st->spool_add), in their order. An SQLite result code. */
static int
write_spool(sqlite3 *h, const struct state *st)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (st->nspool_add == 0)
		return SQLITE_OK;
	rc = sqlite3_prepare_v2(h, SPOOL_INSERT, -1, &q, NULL);
	for (size_t i = 0; i < st->nspool_add && rc == SQLITE_OK; i++)
		rc = insert_spool(q, &st->spool_add[i]);
	sqlite3_finalize(q);
	return rc;
}

/* The id of label text in labels, adding it there if it is not. "" (or NULL) is 0. An
 * SQLite result code. */
static int
label_id(sqlite3 *h, struct label_map *c, const char *text, uint64_t *id)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (text == NULL || text[0] == '\0') {
		*id = 0;
		return SQLITE_OK;
	}
	if (c->n > 0 && c->text[c->last] == text) {
		*id = c->id[c->last];
		return SQLITE_OK;
	}
	for (size_t i = 0; i < c->n; i++)
		if (c->text[i] == text || strcmp(c->text[i], text) == 0) {
			c->last = i;
			*id = c->id[i];
			return SQLITE_OK;
		}
	/* looked up first: a label already there costs no write */
	for (int pass = 0; pass < 2; pass++) {
		rc = sqlite3_prepare_v2(h, pass == 0 ? "SELECT id FROM labels WHERE text = ?1" :
					"INSERT INTO labels (text) VALUES (?1) RETURNING id", -1, &q,
					NULL);
		if (rc == SQLITE_OK)
			rc = bind_text(q, 1, text, BL_TARGET_MAX + 1);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			int64_t v = sqlite3_column_int64(q, 0);
			rc = v > 0 ? SQLITE_OK : SQLITE_CORRUPT;
			*id = (uint64_t)v;
			if (rc == SQLITE_OK && pass == 1)
				rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : SQLITE_CORRUPT;
			sqlite3_finalize(q);
			break;
		}
		sqlite3_finalize(q);
		q = NULL;
		if (rc != SQLITE_DONE || pass == 1)
			return rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;
	}
	if (rc != SQLITE_OK)
		return rc;
	return label_map_add(c, text, *id) < 0 ? SQLITE_NOMEM : SQLITE_OK;
}

/* meta (the row inserted with insert_meta, with the import's mark) and the totals of st,
 * the rows written against ref, in generation gen. */
static int
write_meta(sqlite3 *h, const struct state *st, const struct state_row_ref *refp,
	   bool insert_meta, const char *imported, uint64_t gen, char *reason, size_t reasonlen)
{
	const struct state_row_ref ref = *refp;
	sqlite3_stmt *q = NULL;
	int rc;

	rc = sqlite3_prepare_v2(h, insert_meta ?
		"INSERT INTO meta (instance, cycles, last_cycle_ns, last_duration_ns, degraded, "
		"seen_ns, generation, first_ns, imported_from, id) "
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)" :
		"UPDATE meta SET instance = ?, cycles = ?, last_cycle_ns = ?, last_duration_ns = ?, "
		"degraded = ?, seen_ns = ?, generation = ?, first_ns = ? WHERE id = 1", -1, &q, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(q, 1, st->instance, (int)strnlen(st->instance,
				       sizeof(st->instance) - 1), SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 2, u2i(st->cycles));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 3, u2i(st->last_cycle_wall));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 4, u2i(st->last_duration_ns));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 5, st->degraded);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 6, u2i(ref.seen_ns));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 7, u2i(gen));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 8, u2i(ref.first_ns));
	/* the import's mark is made once, with the row */
	if (rc == SQLITE_OK && insert_meta)
		rc = imported != NULL ? sqlite3_bind_text(q, 9, imported, -1, SQLITE_STATIC)
				      : sqlite3_bind_null(q, 9);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(q);
	q = NULL;
	if (rc != SQLITE_OK)
		goto fail;
	if (sqlite3_changes(h) != 1) {
		util_errf(reason, reasonlen, "meta: the row is missing");
		return -EBADMSG;
	}

	/* a counter rewritten only when it moved: an unchanged one dirties no page */
	rc = sqlite3_prepare_v2(h, "INSERT INTO events_total (type, total) VALUES (?, ?) "
				"ON CONFLICT (type) DO UPDATE SET total = excluded.total "
				"WHERE total IS NOT excluded.total", -1, &q, NULL);
	for (int t = 0; t < ALERT_NTYPES && rc == SQLITE_OK; t++) {
		if (t == ALERT_TEST)
			continue;
		sqlite3_reset(q);
		rc = sqlite3_bind_text(q, 1, alert_type_name((enum alert_type)t), -1,
				       SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(q, 2, u2i(st->events_total[t]));
		if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	q = NULL;
	if (rc != SQLITE_OK)
		goto fail;

	return 0;
fail:
	return db_fail(h, rc, reason, reasonlen);
}

/*
 * Write st into the open transaction on h: meta, the totals and the entries — every row
 * (all) or those whose hash differs from the one loaded (hash_in, parallel to entries).
 * The hashes of the rows as now stored go to hash_out when not NULL.
 */
static int
write_state(sqlite3 *h, const struct state *st, bool insert_meta, const char *imported,
	    bool all, const uint64_t *hash_in, uint64_t *hash_out, uint64_t gen, size_t *written,
	    char *reason, size_t reasonlen)
{
	const struct state_row_ref ref = { st->cycles, reference(st, false), reference(st, true) };
	struct label_map lc = { 0 };
	sqlite3_stmt *q = NULL;
	int rc;

	*written = 0;
	if ((rc = write_meta(h, st, &ref, insert_meta, imported, gen, reason, reasonlen)) < 0)
		return rc;
	rc = sqlite3_prepare_v2(h, "INSERT OR REPLACE INTO entries (addr, body) VALUES (?, ?)",
				-1, &q, NULL);
	for (size_t i = 0; i < st->n && rc == SQLITE_OK; i++) {
		const struct bl_entry *e = &st->entries[i];
		uint8_t key[STATE_ROW_KEY_MAX], body[STATE_ROW_BODY_MAX];
		size_t keylen, bodylen;
		uint64_t hash, label;

		if ((rc = label_id(h, &lc, e->target, &label)) != SQLITE_OK)
			break;
		keylen = state_row_key(&e->addr, key);
		bodylen = state_row_encode(e, label, &ref, body);
		hash = row_hash(key, keylen, body, bodylen);
		if (hash_out != NULL)
			hash_out[i] = hash;
		if (!all && hash != 0 && hash == hash_in[i])
			continue;
		sqlite3_reset(q);
		if ((rc = sqlite3_bind_blob(q, 1, key, (int)keylen, SQLITE_TRANSIENT)) == SQLITE_OK &&
		    (rc = sqlite3_bind_blob(q, 2, body, (int)bodylen, SQLITE_TRANSIENT)) ==
			    SQLITE_OK &&
		    (rc = sqlite3_step(q)) == SQLITE_DONE)
			rc = SQLITE_OK;
		(*written)++;
	}
	sqlite3_finalize(q);
	q = NULL;
	label_map_clear(&lc);
	if (rc != SQLITE_OK)
		goto fail;
	if ((rc = write_history(h, st)) != SQLITE_OK || (rc = write_spool(h, st)) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	return db_fail(h, rc, reason, reasonlen);
}

/*
 * The code of the migration to version 5 (see schema_v5, run before it): every row of the
 * column layout (version 4 by now: the migrations before ran first) is read as the loader
 * reads it and written packed, its label into labels; then the new table takes the old
 * one's name. One row in memory at a time. An SQLite result code (SQLITE_CORRUPT for a
 * row that does not read).
 */
static int
convert_rows_v5(sqlite3 *h)
{
	struct row_ref ref = { 0, 0, 0, 4 };
	struct state_row_ref r5 = { 0, 0, 0 };
	struct label_map lc = { 0 };
	sqlite3_stmt *sel = NULL, *ins = NULL;
	char *sql = NULL, reason[256];
	struct state labels;
	struct row r;
	size_t n = 0;
	int rc;

	state_init(&labels);
	/* what the rows were written against: meta's row (none yet: a new database) */
	rc = sqlite3_prepare_v2(h, "SELECT cycles, seen_ns FROM meta WHERE id = 1", -1, &sel,
				NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		ref.cycles = i2u(sqlite3_column_int64(sel, 0));
		ref.seen_ns = i2u(sqlite3_column_int64(sel, 1));
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(sel);
	sel = NULL;
	if (rc != SQLITE_OK)
		return rc;
	r5.cycles = ref.cycles;
	r5.seen_ns = ref.seen_ns; /* first_ns: 0, meta's default, until the next save */
	if (entry_sql(&sql) < 0)
		return SQLITE_NOMEM;
	rc = sqlite3_prepare_v2(h, sql, -1, &sel, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(h, "INSERT INTO entries_v5 (addr, body) VALUES (?, ?)", -1,
					&ins, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		uint8_t key[STATE_ROW_KEY_MAX], body[STATE_ROW_BODY_MAX];
		struct bl_entry e;
		size_t keylen, bodylen;
		uint64_t label;

		memset(&e, 0, sizeof(e));
		row_from(sel, &r);
		if (decode_entry(&labels, &r, n++, &ref, &e, reason, sizeof(reason)) < 0) {
			rc = SQLITE_CORRUPT;
			break;
		}
		if ((rc = label_id(h, &lc, e.target, &label)) != SQLITE_OK)
			break;
		keylen = state_row_key(&e.addr, key);
		bodylen = state_row_encode(&e, label, &r5, body);
		sqlite3_reset(ins);
		if ((rc = sqlite3_bind_blob(ins, 1, key, (int)keylen, SQLITE_TRANSIENT)) == SQLITE_OK &&
		    (rc = sqlite3_bind_blob(ins, 2, body, (int)bodylen, SQLITE_TRANSIENT)) ==
			    SQLITE_OK &&
		    (rc = sqlite3_step(ins)) == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	free(sql);
	label_map_clear(&lc);
	state_clear(&labels);
	if (rc != SQLITE_OK)
		return rc;
	return sqlite3_exec(h, "DROP TABLE entries; ALTER TABLE entries_v5 RENAME TO entries;",
			    NULL, NULL, NULL);
}

/*
 * The code of the migration to version 6 (see schema_v6, run before it): every history row
 * of the text layout read and written packed, its seq kept; then the new table takes the
 * old one's name and the indexes are made again. An SQLite result code.
 */
static int
convert_history_v6(sqlite3 *h)
{
	sqlite3_stmt *sel = NULL, *ins = NULL;
	int rc;

	rc = sqlite3_prepare_v2(h, "SELECT " HISTORY_COLS " FROM history ORDER BY seq", -1, &sel,
				NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(h, HISTORY_INSERT_INTO("history_v6"), -1, &ins, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		struct state_hist r;
		int64_t port = sqlite3_column_int64(sel, 6);

		memset(&r, 0, sizeof(r));
		r.seq = i2u(sqlite3_column_int64(sel, 0));
		r.time_ns = i2u(sqlite3_column_int64(sel, 1));
#define HTEXT(f, c) snprintf(r.f, sizeof(r.f), "%s", sqlite3_column_text(sel, c) ? \
			     (const char *)sqlite3_column_text(sel, c) : "")
		HTEXT(type, 2);
		HTEXT(severity, 3);
		HTEXT(address, 4);
		HTEXT(protocol, 5);
		HTEXT(summary, 7);
		HTEXT(source, 8);
		HTEXT(id, 9);
#undef HTEXT
		r.port = port >= 0 && port <= 65535 ? (uint16_t)port : 0;
		rc = insert_history(ins, &r);
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	if (rc != SQLITE_OK)
		return rc;
	return sqlite3_exec(h, "DROP TABLE history; ALTER TABLE history_v6 RENAME TO history;"
			    "CREATE INDEX history_time ON history (time_ns);"
			    "CREATE INDEX history_port ON history (address, protocol, port, seq);",
			    NULL, NULL, NULL);
}

/*
 * Make dir/state.db from st in one go: built as state.db.new (without a journal: on
 * failure the file is simply removed), switched to WAL, closed (which leaves one whole
 * file) and fsynced, then renamed into place. So a state.db is never half made, and an
 * empty or schema-less one is damage, not a new database.
 */
static int
db_create(const struct paths *p, const struct state *st, const char *imported,
	  uint64_t *hash_out, uint64_t *gen_out, char *err, size_t errlen)
{
	char reason[256], side[PATH_MAX + 16], set[64];
	uint64_t gen = new_generation();
	sqlite3 *h = NULL;
	size_t written;
	int fd, rc;

	/* a log left without its database (the loader refuses that) must not meet a new
	 * database of the same name */
	for (size_t i = 0; i < NSIDECARS; i++)
		if (sidecar_exists(p->db, i)) {
			util_errf(err, errlen, "cannot create %s: %s%s is in the way (the log of a "
				  "database that is gone); run 'watch53 baseline reset -c CONFIG' "
				  "to set it aside", p->db, p->db, db_sidecars[i]);
			return -EEXIST;
		}
	/* a half-made one from a killed process: never read, only replaced */
	(void)unlink(p->newdb);
	for (size_t i = 0; i < NSIDECARS; i++) {
		snprintf(side, sizeof(side), "%s%s", p->newdb, db_sidecars[i]);
		(void)unlink(side);
	}
	/* created here, not by SQLite, for the mode: its -wal takes the same one */
	fd = open(p->newdb, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		rc = -errno;
		util_errf(err, errlen, "cannot create %s: %s", p->newdb, strerror(errno));
		return rc;
	}
	close(fd);
	rc = sqlite3_open_v2(p->newdb, &h, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		rc = db_fail(h, rc, reason, sizeof(reason));
		goto bad;
	}
	sqlite3_extended_result_codes(h, 1);
	snprintf(set, sizeof(set), "PRAGMA application_id=%d", DB_APPLICATION_ID);
	if ((rc = db_exec(h, "PRAGMA locking_mode=EXCLUSIVE", reason, sizeof(reason))) < 0 ||
	    (rc = db_exec(h, "PRAGMA journal_mode=OFF", reason, sizeof(reason))) < 0 ||
	    (rc = db_exec(h, "PRAGMA synchronous=FULL", reason, sizeof(reason))) < 0 ||
	    (rc = db_exec(h, "PRAGMA temp_store=MEMORY", reason, sizeof(reason))) < 0 ||
	    (rc = db_exec(h, "BEGIN", reason, sizeof(reason))) < 0 ||
	    (rc = db_exec(h, set, reason, sizeof(reason))) < 0)
		goto bad;
	for (int v = 0; v < DB_SCHEMA_VERSION; v++)
		if ((rc = migrate(h, v)) != SQLITE_OK) {
			rc = db_fail(h, rc, reason, sizeof(reason));
			goto bad;
		}
	snprintf(set, sizeof(set), "PRAGMA user_version=%d", DB_SCHEMA_VERSION);
	if ((rc = db_exec(h, set, reason, sizeof(reason))) < 0 ||
	    (rc = write_state(h, st, true, imported, true, NULL, hash_out, gen, &written, reason,
			      sizeof(reason))) < 0 ||
	    (rc = db_exec(h, "COMMIT", reason, sizeof(reason))) < 0 ||
	    (rc = db_exec(h, "PRAGMA journal_mode=WAL", reason, sizeof(reason))) < 0)
		goto bad;
	rc = db_close(h);
	h = NULL;
	if (rc < 0) {
		util_errf(reason, sizeof(reason), "closing failed");
		goto bad;
	}
	snprintf(side, sizeof(side), "%s-wal", p->newdb);
	if (exists(side)) {
		util_errf(reason, sizeof(reason), "its log was not folded in at close");
		rc = -EIO;
		goto bad;
	}
	fd = open(p->newdb, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1 || fsync(fd) == -1) {
		rc = -errno;
		util_errf(reason, sizeof(reason), "fsync: %s", strerror(errno));
		if (fd != -1)
			close(fd);
		goto bad;
	}
	close(fd);
	if (rename(p->newdb, p->db) == -1) {
		rc = -errno;
		util_errf(reason, sizeof(reason), "rename into place: %s", strerror(errno));
		goto bad;
	}
	if ((rc = file_sync_dir(p->db)) < 0) {
		util_errf(err, errlen, "cannot write %s: fsync of its directory: %s", p->db,
			  strerror(-rc));
		return rc;
	}
	if (gen_out != NULL)
		*gen_out = gen;
	return 0;
bad:
	if (h != NULL)
		sqlite3_close(h);
	(void)unlink(p->newdb);
	snprintf(side, sizeof(side), "%s-wal", p->newdb);
	(void)unlink(side);
	util_errf(err, errlen, "cannot write %s: %s", p->db, reason);
	return rc;
}

/* ---- the legacy state.json ---- */

/* Which file a database was imported from: after a crash between the database's commit
 * and the rename of state.json, the same file is still there and only the rename is left
 * to do; any other state.json is somebody's, and is not touched. */
static void
json_identity(const struct stat *sb, char *buf, size_t len)
{
	snprintf(buf, len, "state.json dev %ju ino %ju size %jd mtime %jd.%09ld",
		 (uintmax_t)sb->st_dev, (uintmax_t)sb->st_ino, (intmax_t)sb->st_size,
		 (intmax_t)sb->st_mtim.tv_sec, sb->st_mtim.tv_nsec);
}

static int
rename_imported(const struct paths *p, char *err, size_t errlen)
{
	char dst[PATH_MAX + 48];
	int rc = move_aside(p->json, "imported", false, dst, sizeof(dst));

	if (rc < 0)
		util_errf(err, errlen, "%s was imported into %s but could not be renamed (%s); "
			  "rename it by hand to %s.imported", p->json, p->db, strerror(-rc), p->json);
	return rc;
}

/* A file of state_dir by its path, its last component never followed (file_read_at from
 * the directory): a link swapped in after the lstat is refused (-ELOOP), not read. */
static int
read_own(const char *path, size_t max, char **out, size_t *len)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	int dfd, rc;

	if (slash == NULL)
		return file_read_at(AT_FDCWD, path, max, out, len);
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -errno;
	rc = file_read_at(dfd, slash + 1, max, out, len);
	close(dfd);
	return rc;
}

/* state.json and no state.db: the whole document into a new database in one transaction,
 * then state.json renamed out of the way (kept, never deleted). */
static int
import_json(const struct paths *p, struct state *st, char *err, size_t errlen)
{
	char msg[512], identity[160];
	struct state tmp;
	char *text = NULL;
	size_t len = 0;
	struct stat sb;
	int rc;

	state_init(&tmp);
	if (lstat(p->json, &sb) == -1) {
		rc = -errno;
		util_errf(err, errlen, "cannot read %s: %s", p->json, strerror(errno));
		return rc;
	}
	if (*not_ours(&sb) != '\0') {
		util_errf(err, errlen, "cannot read %s: %s", p->json, not_ours(&sb));
		return S_ISLNK(sb.st_mode) ? -ELOOP : -EINVAL;
	}
	json_identity(&sb, identity, sizeof(identity));
	rc = read_own(p->json, STATE_MAX_BYTES, &text, &len);
	if (rc == -EFBIG) {
		snprintf(msg, sizeof(msg), "larger than %u MiB", STATE_MAX_BYTES >> 20);
		return set_aside_bad(p->json, false, msg, err, errlen);
	}
	if (rc < 0) {
		util_errf(err, errlen, "cannot read %s: %s", p->json, strerror(-rc));
		return rc;
	}
	rc = state_parse(text, len, &tmp, msg, sizeof(msg));
	free(text);
	if (rc == -EBADMSG) {
		/* "state.json: <reason>": the path is said by the sentence around it */
		const char *why = strncmp(msg, STATE_JSON_FILE ": ", strlen(STATE_JSON_FILE) + 2)
				  == 0 ? msg + strlen(STATE_JSON_FILE) + 2 : msg;
		return set_aside_bad(p->json, false, why, err, errlen);
	}
	if (rc < 0) {
		util_errf(err, errlen, "cannot load %s: out of memory", p->json);
		return rc;
	}
	if (tmp.n > 0) {
		tmp.row_hash = calloc(tmp.cap, sizeof(*tmp.row_hash));
		if (tmp.row_hash == NULL) {
			state_clear(&tmp);
			util_errf(err, errlen, "cannot load %s: out of memory", p->json);
			return -ENOMEM;
		}
	}
	rc = db_create(p, &tmp, identity, tmp.row_hash, &tmp.generation, err, errlen);
	if (rc == 0)
		rc = rename_imported(p, err, errlen);
	if (rc < 0) {
		state_clear(&tmp);
		return rc;
	}
	/* the rows just written are what the database holds: this cycle's save can skip
	 * what it does not change */
	tmp.stored = tmp.n;
	state_clear(st);
	*st = tmp;
	return 0;
}

/* state.db and a state.json beside it. */
static int
json_beside_db(const struct paths *p, const char *imported, char *err, size_t errlen)
{
	char identity[160];
	struct stat sb;

	if (lstat(p->json, &sb) == 0) {
		json_identity(&sb, identity, sizeof(identity));
		if (strcmp(identity, imported) == 0)
			return rename_imported(p, err, errlen); /* the import's last step */
	}
	util_errf(err, errlen, "%s and %s both exist, and %s was not imported into the "
		  "database; move %s away to keep the database, or move %s away to import %s",
		  p->db, p->json, p->json, p->json, p->db, p->json);
	return -EEXIST;
}

/* ---- the interface ---- */

/* state_load and state_each: with fn the entries go to it one at a time. */
static int
load(const char *dir, struct state *st, state_each_fn fn, void *arg, char *err, size_t errlen)
{
	char reason[300], imported[160], aside[PATH_MAX];
	struct row_ref ref = { 0, 0, 0, 0 };
	struct paths p;
	struct state tmp, *into = &tmp;
	sqlite3 *h = NULL;
	struct stat sb;
	int rc;

	if ((rc = paths_init(&p, dir, err, errlen)) < 0)
		return rc;
	/* lstat first: opening a FIFO in its place would block the cycle forever, and a
	 * link is not followed (db_files_own) */
	if (lstat(p.db, &sb) == -1) {
		if (errno != ENOENT) {
			rc = -errno;
			util_errf(err, errlen, "cannot read %s: %s", p.db, strerror(errno));
			return rc;
		}
		for (size_t i = 0; i < NSIDECARS; i++)
			if (sidecar_exists(p.db, i)) {
				snprintf(reason, sizeof(reason), "it is missing, but its %s file is "
					 "there", db_sidecars[i] + 1);
				return set_aside_bad(p.db, true, reason, err, errlen);
			}
		if (exists(p.json))
			return import_json(&p, st, err, errlen);
		/* a state that was moved aside as corrupt is not a first run: recording a new
		 * baseline now would silently absorb whatever changed meanwhile */
		if (find_corrupt(dir, aside, sizeof(aside))) {
			util_errf(err, errlen, "the previous state was corrupt and set aside as %s; "
				  "run 'watch53 baseline reset -c CONFIG' to start a new baseline "
				  "(the next cycle records the current state without alerts), or put "
				  "a good copy back as %s", aside, p.db);
			return -EBADMSG;
		}
		/* first run: no directory or no file yet */
		state_clear(st);
		return 0;
	}
	if (*not_ours(&sb) != '\0') {
		util_errf(err, errlen, "cannot read %s: %s", p.db, not_ours(&sb));
		return S_ISLNK(sb.st_mode) ? -ELOOP : -EINVAL;
	}
	if (sb.st_size == 0)
		return set_aside_bad(p.db, true, "the file is empty", err, errlen);

	state_init(&tmp);
	/* streaming: the head is the caller's from the start (the entries' callback may look
	 * at it); whatever fails, the caller clears it */
	if (fn != NULL) {
		state_clear(st);
		into = st;
	}
	rc = db_open(p.db, true, &h, reason, sizeof(reason));
	if (rc == 0 && (rc = read_meta(h, into, &ref, imported, sizeof(imported), reason,
				       sizeof(reason))) == 0 &&
	    (rc = read_totals(h, into, reason, sizeof(reason))) == 0)
		rc = read_entries(h, into, &ref, fn, arg, reason, sizeof(reason));
	if (h != NULL && db_close(h) < 0 && rc == 0) {
		util_errf(reason, sizeof(reason), "closing failed");
		rc = -EIO;
	}
	if (rc == -EBADMSG) {
		state_clear(&tmp);
		return set_aside_bad(p.db, true, reason, err, errlen);
	}
	if (rc < 0) {
		state_clear(&tmp);
		util_errf(err, errlen, "cannot read %s: %s", p.db, reason);
		perm_hint(dir, err, errlen);
		return rc;
	}
	if (exists(p.json) && (rc = json_beside_db(&p, imported, err, errlen)) < 0) {
		state_clear(&tmp);
		return rc;
	}
	if (fn == NULL) {
		state_clear(st);
		*st = tmp;
	}
	return 0;
}

int
state_load(const char *dir, struct state *st, char *err, size_t errlen)
{
	return load(dir, st, NULL, NULL, err, errlen);
}

int
state_each(const char *dir, struct state *head, state_each_fn fn, void *arg, char *err,
	   size_t errlen)
{
	struct paths p;
	struct stat sb;
	int rc;

	if ((rc = paths_init(&p, dir, err, errlen)) < 0)
		return rc;
	/* no database: a first run, an import of state.json or damage, all as state_load
	 * says; what it loaded is small enough to hand over from memory */
	if (lstat(p.db, &sb) == -1 && errno == ENOENT) {
		if ((rc = state_load(dir, head, err, errlen)) < 0)
			return rc;
		for (size_t i = 0; i < head->n && rc == 0; i++)
			if ((rc = fn(arg, &head->entries[i])) < 0)
				util_errf(err, errlen, "%s", strerror(-rc));
		return rc;
	}
	return load(dir, head, fn, arg, err, errlen);
}

int
state_save(const char *dir, const struct state *st, char *err, size_t errlen)
{
	char reason[300];
	struct paths p;
	sqlite3 *h = NULL;
	int64_t stored_gen = 0;
	size_t written, kept = 0;
	bool all;
	int rc;

	if ((rc = paths_init(&p, dir, err, errlen)) < 0 || (rc = ensure_dir(dir, err, errlen)) < 0)
		return rc;
	if ((rc = db_open_existing(p.db, "write", &h, err, errlen)) != 0)
		return rc == 1 ? db_create(&p, st, NULL, NULL, NULL, err, errlen) : rc;
	/* IMMEDIATE: the write lock now, not halfway through */
	if ((rc = db_exec(h, "BEGIN IMMEDIATE", reason, sizeof(reason))) < 0 ||
	    (rc = db_int(h, "SELECT generation FROM meta WHERE id = 1", &stored_gen, reason,
			 sizeof(reason))) < 0)
		goto out;
	/* The hashes tell unchanged rows only if they are of this database as it is now
	 * (loaded from it, nothing saved since) and every row it holds is still an entry
	 * (nothing removed); otherwise all rows are written afresh. */
	for (size_t i = 0; st->row_hash != NULL && i < st->n; i++)
		kept += st->row_hash[i] != 0;
	all = st->generation == 0 || st->generation != i2u(stored_gen) || kept != st->stored ||
	      (st->row_hash == NULL && st->n > 0);
	if (all && (rc = db_exec(h, "DELETE FROM entries", reason, sizeof(reason))) < 0)
		goto out;
	if ((rc = write_state(h, st, false, NULL, all, st->row_hash, NULL, new_generation(),
			      &written, reason, sizeof(reason))) < 0 ||
	    (rc = db_exec(h, "COMMIT", reason, sizeof(reason))) < 0)
		goto out;
	rc = db_close(h);
	h = NULL;
	if (rc < 0)
		util_errf(reason, sizeof(reason), "closing failed");
out:
	if (h != NULL)
		sqlite3_close(h); /* an open transaction is rolled back */
	if (rc < 0)
		util_errf(err, errlen, "cannot write %s: %s", p.db, reason);
	return rc;
}

/* The history queries: the carried rows (each port's last row before the period of a type
 * that decides its exposure), the period's rows as recorded, every row in port order. */
enum hist_query { HQ_CARRY, HQ_PERIOD, HQ_BY_PORT };

static const char *const hist_sql[] = {
	[HQ_CARRY] = "SELECT max(seq), time_ns, type, severity, address, protocol, port, "
		     "summary, source, event_id FROM history WHERE time_ns < ?1 AND "
		     "(?2 IS NULL OR address = ?2) AND type IN (?3, ?4, ?5, ?6) "
		     "GROUP BY address, protocol, port ORDER BY 1",
	[HQ_PERIOD] = "SELECT " HISTORY_COLS " FROM history WHERE time_ns >= ?1 "
		      "AND (?2 IS NULL OR address = ?2) ORDER BY seq",
	/* the order of the index history_port: no sort, no memory */
	[HQ_BY_PORT] = "SELECT " HISTORY_COLS " FROM history WHERE ?1 IS NOT NULL AND "
		       "(?2 IS NULL OR address = ?2) ORDER BY address, protocol, port, seq",
};

/* The rows of one query through fn, a row at a time, the database open under the caller's
 * lock (a missing one has no rows). */
static int
history_each(const char *dir, enum hist_query which, uint64_t since_ns, const char *address,
	     state_hist_fn fn, void *arg, char *err, size_t errlen)
{
	/* the types a port's exposure is decided by (agent/history.c) */
	const char *const carried[] = {
		alert_type_name(ALERT_EXPOSED), alert_type_name(ALERT_OPENED),
		alert_type_name(ALERT_CLOSED), HISTORY_ACCEPTED,
	};
	char reason[300];
	struct paths p;
	sqlite3 *h = NULL;
	sqlite3_stmt *q = NULL;
	uint8_t key[STATE_ROW_KEY_MAX];
	size_t keylen = address != NULL ? addr_key(address, key) : 0;
	int rc, src;

	if ((rc = paths_init(&p, dir, err, errlen)) < 0)
		return rc;
	/* none: no cycle saved yet, nothing happened */
	if ((rc = db_open_existing(p.db, "read", &h, err, errlen)) != 0)
		return rc == 1 ? 0 : rc;
	src = sqlite3_prepare_v2(h, hist_sql[which], -1, &q, NULL);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(q, 1, u2i(since_ns));
	if (src == SQLITE_OK)
		src = address != NULL ? sqlite3_bind_blob(q, 2, key, (int)keylen, SQLITE_STATIC)
				      : sqlite3_bind_null(q, 2);
	for (int t = 0; which == HQ_CARRY && t < 4 && src == SQLITE_OK; t++)
		src = bind_word(q, 3 + t, HW_TYPE, carried[t], 16);
	while (src == SQLITE_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
		struct state_hist r;

		history_row(q, &r);
		if ((rc = fn(arg, &r)) < 0) {
			util_errf(reason, sizeof(reason), "%s", strerror(-rc));
			goto out;
		}
		src = SQLITE_OK;
	}
	if (src != SQLITE_DONE) {
		rc = db_fail(h, src, reason, sizeof(reason));
		goto out;
	}
	sqlite3_finalize(q);
	q = NULL;
	rc = db_close(h);
	h = NULL;
	if (rc < 0)
		util_errf(reason, sizeof(reason), "closing failed");
out:
	sqlite3_finalize(q);
	if (h != NULL)
		sqlite3_close(h);
	if (rc < 0)
		util_errf(err, errlen, "cannot read %s: %s", p.db, reason);
	return rc;
}

int
state_history_each(const char *dir, uint64_t since_ns, const char *address, bool by_port,
		   state_hist_fn fn, void *arg, char *err, size_t errlen)
{
	return history_each(dir, by_port ? HQ_BY_PORT : HQ_PERIOD, since_ns, address, fn, arg,
			    err, errlen);
}

/* state_history_read's array. */
struct hist_rows {
	struct state_hist *rows;
	size_t n, cap;
};

static int
hist_append(void *arg, const struct state_hist *r)
{
	struct hist_rows *hr = arg;

	if (hr->n == hr->cap) {
		size_t nc = hr->cap ? hr->cap * 2 : 64;
		struct state_hist *g = realloc(hr->rows, nc * sizeof(*g));
		if (g == NULL)
			return -ENOMEM;
		hr->rows = g;
		hr->cap = nc;
	}
	hr->rows[hr->n++] = *r;
	return 0;
}

int
state_history_read(const char *dir, uint64_t since_ns, const char *address, bool carry,
		   struct state_hist **rows, size_t *n, char *err, size_t errlen)
{
	struct hist_rows hr = { 0 };
	int rc = 0;

	if (carry)
		rc = history_each(dir, HQ_CARRY, since_ns, address, hist_append, &hr, err, errlen);
	if (rc == 0)
		rc = history_each(dir, HQ_PERIOD, since_ns, address, hist_append, &hr, err, errlen);
	if (rc < 0) {
		free(hr.rows);
		hr.rows = NULL;
		hr.n = 0;
	}
	*rows = hr.rows;
	*n = hr.n;
	return rc;
}

/* state_spool_move on the open database h: reason says why on failure, perr put's own
 * message. */
static int
spool_move_on(sqlite3 *h, state_spool_put_fn put, void *arg, size_t *moved, char *reason,
	      size_t reasonlen, char *perr, size_t perrlen)
{
	sqlite3_stmt *q = NULL;
	int64_t last = 0;
	int rc = 0, src;

	/* IMMEDIATE: the rows read are the rows deleted */
	if ((rc = db_exec(h, "BEGIN IMMEDIATE", reason, reasonlen)) < 0)
		return rc;
	src = sqlite3_prepare_v2(h, "SELECT " SPOOL_COLS " FROM spool ORDER BY seq", -1, &q,
				 NULL);
	while (src == SQLITE_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
		const char *sink = (const char *)sqlite3_column_text(q, 1);
		const char *id = (const char *)sqlite3_column_text(q, 2);
		const char *body = (const char *)sqlite3_column_text(q, 3);
		int64_t seq = sqlite3_column_int64(q, 0);

		if (sink == NULL || id == NULL || body == NULL || seq <= last) {
			util_errf(reason, reasonlen, "spool row %" PRId64 " is damaged", seq);
			rc = -EBADMSG;
			break;
		}
		/* a put that fails stops here: this row and the later ones stay, in order */
		rc = put(arg, (uint64_t)seq, sink, id, body, (size_t)sqlite3_column_bytes(q, 3),
			 perr, perrlen);
		if (rc < 0)
			break;
		last = seq;
		(*moved)++;
		src = SQLITE_OK;
	}
	if (src != SQLITE_OK && src != SQLITE_DONE && rc == 0)
		rc = db_fail(h, src, reason, reasonlen);
	sqlite3_finalize(q);
	q = NULL;
	if (last > 0) {
		/* what was written is gone from the spool even when a later row failed */
		int drc = sqlite3_prepare_v2(h, "DELETE FROM spool WHERE seq <= ?", -1, &q, NULL);
		if (drc == SQLITE_OK)
			drc = sqlite3_bind_int64(q, 1, last);
		if (drc == SQLITE_OK && (drc = sqlite3_step(q)) == SQLITE_DONE)
			drc = SQLITE_OK;
		sqlite3_finalize(q);
		q = NULL;
		if (drc != SQLITE_OK) {
			rc = db_fail(h, drc, reason, reasonlen);
			(void)sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
	}
	{
		int crc = db_exec(h, "COMMIT", reason, reasonlen);
		if (crc < 0) {
			(void)sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
			return crc;
		}
	}
	return rc;
}

int
state_spool_move(const char *dir, state_spool_put_fn put, void *arg, size_t *moved, char *err,
		 size_t errlen)
{
	char reason[300], perr[512] = "";
	struct paths p;
	sqlite3 *h = NULL;
	int rc;

	*moved = 0;
	if ((rc = paths_init(&p, dir, err, errlen)) < 0)
		return rc;
	/* none: no save yet, nothing spooled */
	if ((rc = db_open_existing(p.db, "move the spool of", &h, err, errlen)) != 0)
		return rc == 1 ? 0 : rc;
	rc = spool_move_on(h, put, arg, moved, reason, sizeof(reason), perr, sizeof(perr));
	if (rc < 0)
		goto out;
	{
		int crc = db_close(h);
		h = NULL;
		if (crc < 0 && rc == 0) {
			util_errf(reason, sizeof(reason), "closing failed");
			rc = crc;
		}
	}
out:
	if (h != NULL)
		sqlite3_close(h); /* an open transaction is rolled back */
	if (rc < 0 && perr[0] != '\0')
		util_errf(err, errlen, "%s", perr);
	else if (rc < 0)
		util_errf(err, errlen, "cannot move the spool of %s: %s", p.db, reason);
	return rc;
}

int
state_set_aside(const char *dir, const char *why, char *moved, size_t movedlen, char *err,
		size_t errlen)
{
	char dst[PATH_MAX + 48];
	struct paths p;
	bool db = false;
	int rc;

	if (movedlen > 0)
		moved[0] = '\0';
	if ((rc = paths_init(&p, dir, err, errlen)) < 0)
		return rc;
	db = exists(p.db);
	for (size_t i = 0; !db && i < NSIDECARS; i++)
		db = sidecar_exists(p.db, i);
	if (db) {
		if ((rc = move_aside(p.db, why, true, dst, sizeof(dst))) < 0) {
			util_errf(err, errlen, "cannot move %s aside: %s", p.db, strerror(-rc));
			return rc;
		}
		snprintf(moved, movedlen, "%s", dst);
	}
	if (exists(p.json)) {
		if ((rc = move_aside(p.json, why, false, dst, sizeof(dst))) < 0) {
			util_errf(err, errlen, "cannot move %s aside: %s", p.json, strerror(-rc));
			return rc;
		}
		if (!db)
			snprintf(moved, movedlen, "%s", dst);
	}
	return 0;
}

/* The lock files. */
static const char *const lock_files[] = {
	[STATE_LOCK_STATE] = STATE_LOCK, [STATE_LOCK_SERVICE] = ".run.lock",
	[STATE_LOCK_SEND] = ".send.lock",
};

/* Who holds a lock of kind k, for the message. */
static void
lock_held_by(enum state_lock_kind k, const char *dir, char *err, size_t errlen)
{
	switch (k) {
	case STATE_LOCK_SERVICE:
		util_errf(err, errlen, "the service (watch53 run) runs on %s: one service per "
			  "state_dir, and no cron `check` beside it", dir);
		break;
	case STATE_LOCK_SEND:
		util_errf(err, errlen, "another watch53 is delivering the outbox of %s", dir);
		break;
	default:
		util_errf(err, errlen, "another watch53 holds the state lock on %s (a cycle, or "
			  "a command such as baseline or history)", dir);
		break;
	}
}

/* Open (creating, as this user, never through a link) the lock file of kind k in dir. */
static int
lock_open(const char *dir, enum state_lock_kind k, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd, rc;

	if (snprintf(path, sizeof(path), "%s/%s", dir, lock_files[k]) >= (int)sizeof(path)) {
		util_errf(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	if ((rc = ensure_dir(dir, err, errlen)) < 0)
		return rc;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		rc = -errno;
		util_errf(err, errlen, "cannot open lock file %s: %s", path, strerror(errno));
		if (rc == -EACCES)
			perm_hint(dir, err, errlen);
		return rc;
	}
	return fd;
}

int
state_lock_take(const char *dir, enum state_lock_kind k, uint64_t wait_ns,
		const atomic_int *cancel, char *err, size_t errlen)
{
	uint64_t end = util_now_ns() + wait_ns;
	int fd = lock_open(dir, k, err, errlen), rc;

	if (fd < 0)
		return fd;
	/* the lock belongs to this open file description: it goes away with the process, so
	 * a crash never leaves a stale lock behind; a wait polls, so a cancel is seen */
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		rc = -errno;
		if (rc == -EWOULDBLOCK && util_now_ns() < end && !(cancel && *cancel)) {
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			nanosleep(&ts, NULL);
			continue;
		}
		if (rc == -EWOULDBLOCK && cancel && *cancel) {
			util_errf(err, errlen, "cancelled while waiting for the lock on %s", dir);
			rc = -ECANCELED;
		} else if (rc == -EWOULDBLOCK) {
			lock_held_by(k, dir, err, errlen);
		} else {
			util_errf(err, errlen, "cannot lock %s/%s: %s", dir, lock_files[k],
				  strerror(-rc));
		}
		close(fd);
		return rc;
	}
	return fd;
}

int
state_lock(const char *dir, char *err, size_t errlen)
{
	return state_lock_take(dir, STATE_LOCK_STATE, 0, NULL, err, errlen);
}

bool
state_service_running(const char *dir)
{
	char path[PATH_MAX];
	bool held;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, lock_files[STATE_LOCK_SERVICE]) >=
	    (int)sizeof(path) || (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return false;
	/* a shared lock is refused only while someone holds the exclusive one */
	held = flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

void
state_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* ---- a pass: a cycle a row at a time ---- */

/*
 * The scratch tables live in a private temporary database attached as "cyc" (SQLite makes
 * it in its temporary directory and deletes it at close): obs, the staged observations by
 * address; out, the rows a judge changed, applied to entries in one statement once the
 * walk over entries is done (no table is written while a statement reads it); events, the
 * JSON of the events raised, for the caller to print after the commit.
 */
static const char pass_schema[] =
	"PRAGMA cyc.journal_mode=OFF;"
	"PRAGMA cyc.synchronous=OFF;"
	"PRAGMA cyc.cache_size=-4096;"
	"CREATE TABLE cyc.obs (addr BLOB PRIMARY KEY, ord INTEGER NOT NULL, body BLOB NOT NULL) "
	"WITHOUT ROWID;"
	"CREATE TABLE cyc.out (addr BLOB PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE cyc.events (n INTEGER PRIMARY KEY, json TEXT NOT NULL);";

/* The scratch in memory (the default: a few observations, passive ones, an accept) or in a
 * file (temp_store decides what '' is). */
static int
pass_attach(sqlite3 *h, bool file, char *reason, size_t reasonlen)
{
	int rc = db_exec(h, file ? "PRAGMA temp_store=FILE" : "PRAGMA temp_store=MEMORY", reason,
			 reasonlen);

	if (rc == 0)
		rc = db_exec(h, "ATTACH DATABASE '' AS cyc", reason, reasonlen);
	if (rc == 0)
		rc = db_exec(h, pass_schema, reason, reasonlen);
	return rc;
}

#define PASS_STAGE_SQL "INSERT INTO cyc.obs (addr, ord, body) VALUES (?1, ?2, ?3) " \
	"ON CONFLICT (addr) DO UPDATE SET ord = excluded.ord, body = excluded.body " \
	"WHERE excluded.ord < ord"

/* staged rows a scratch transaction takes before it commits */
#define PASS_STAGE_BATCH 4096

struct state_pass {
	sqlite3 *h;
	char path[PATH_MAX];
	struct state *head;
	struct label_map labels;        /* main.labels, both ways */
	struct state_row_ref ref;       /* what the stored rows are relative to */
	struct state_row_ref next;      /* what the committed rows will be */
	sqlite3_stmt *stage, *get, *hist, *spool, *event;
	size_t staged;                  /* in the open scratch transaction */
	bool staging, writing;
};

static int
pass_fail(struct state_pass *p, int rc, char *err, size_t errlen)
{
	char reason[300];
	int e = db_fail(p->h, rc, reason, sizeof(reason));

	util_errf(err, errlen, "%s: %s", p->path, reason);
	return e;
}

void
state_pass_free(struct state_pass *p)
{
	if (p == NULL)
		return;
	sqlite3_finalize(p->stage);
	sqlite3_finalize(p->get);
	sqlite3_finalize(p->hist);
	sqlite3_finalize(p->spool);
	sqlite3_finalize(p->event);
	if (p->h != NULL)
		sqlite3_close(p->h); /* an open transaction is rolled back */
	label_map_clear(&p->labels);
	free(p);
}

/* The head of an open database: meta, totals, labels. */
static int
pass_read_head(struct state_pass *p, char *imported, size_t implen, char *reason,
	       size_t reasonlen)
{
	struct row_ref ref = { 0, 0, 0, 0 };
	int rc;

	if ((rc = read_meta(p->h, p->head, &ref, imported, implen, reason, reasonlen)) < 0 ||
	    (rc = read_totals(p->h, p->head, reason, reasonlen)) < 0 ||
	    (rc = read_labels(p->h, p->head, &p->labels, reason, reasonlen)) < 0)
		return rc;
	p->ref = (struct state_row_ref){ ref.cycles, ref.seen_ns, ref.first_ns };
	p->next = p->ref;
	return 0;
}

/* state_pass_open's load: each row read is a row that reads */
static int
check_row(void *arg, const struct bl_entry *e)
{
	(void)arg;
	(void)e;
	return 0;
}

int
state_pass_open(const char *dir, struct state *head, struct state_pass **out, char *err,
		size_t errlen)
{
	char reason[300], imported[160];
	struct state_pass *p;
	struct paths paths;
	int64_t version = 0;
	struct state first;
	struct stat sb;
	int rc;

	*out = NULL;
	if ((rc = paths_init(&paths, dir, err, errlen)) < 0)
		return rc;
	/* a missing database: what state_load makes of it (first run, import, damage) */
	if (lstat(paths.db, &sb) == -1 && errno == ENOENT) {
		state_init(&first);
		rc = state_load(dir, &first, err, errlen);
		if (rc == 0 && lstat(paths.db, &sb) == -1 && errno == ENOENT)
			rc = ensure_dir(dir, err, errlen) < 0
				     ? -errno
				     : db_create(&paths, &first, NULL, NULL, NULL, err, errlen);
		state_clear(&first);
		if (rc < 0)
			return rc;
	}
	/* the whole load's checks, every row read once and let go: damage is set aside,
	 * never written to */
	state_init(&first);
	rc = load(dir, &first, check_row, NULL, err, errlen);
	state_clear(&first);
	if (rc < 0)
		return rc;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	snprintf(p->path, sizeof(p->path), "%s", paths.db);
	p->head = head;
	state_clear(head);
	/* opened to write: an older schema is migrated now */
	if ((rc = db_open(paths.db, false, &p->h, reason, sizeof(reason))) < 0 ||
	    (rc = db_int(p->h, "PRAGMA user_version", &version, reason, sizeof(reason))) < 0 ||
	    (rc = pass_read_head(p, imported, sizeof(imported), reason, sizeof(reason))) < 0 ||
	    (rc = pass_attach(p->h, false, reason, sizeof(reason))) < 0)
		goto bad;
	rc = sqlite3_prepare_v2(p->h, PASS_STAGE_SQL, -1, &p->stage, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(p->h, "SELECT body FROM main.entries WHERE addr = ?1", -1,
					&p->get, NULL);
	if (rc != SQLITE_OK) {
		rc = db_fail(p->h, rc, reason, sizeof(reason));
		goto bad;
	}
	*out = p;
	return 0;
bad:
	util_errf(err, errlen, "cannot read %s: %s", paths.db, reason);
	state_pass_free(p);
	return rc == -EBADMSG ? -EIO : rc; /* it passed the load's checks a moment ago */
}

int
state_pass_expect(struct state_pass *p, uint64_t n, char *err, size_t errlen)
{
	char reason[300];
	int rc;

	if (n <= STATE_PASS_MEMORY_MAX || p->staging || p->writing)
		return 0;
	/* nothing is staged yet: the scratch in memory is empty, and goes */
	sqlite3_finalize(p->stage);
	p->stage = NULL;
	if ((rc = db_exec(p->h, "DETACH DATABASE cyc", reason, sizeof(reason))) < 0 ||
	    (rc = pass_attach(p->h, true, reason, sizeof(reason))) < 0) {
		util_errf(err, errlen, "%s: scratch file: %s", p->path, reason);
		return rc;
	}
	if ((rc = sqlite3_prepare_v2(p->h, PASS_STAGE_SQL, -1, &p->stage, NULL)) != SQLITE_OK)
		return pass_fail(p, rc, err, errlen);
	return 0;
}

/* End the scratch transaction of the staged rows. */
static int
pass_flush(struct state_pass *p, char *err, size_t errlen)
{
	int rc;

	if (!p->staging)
		return 0;
	p->staging = false;
	p->staged = 0;
	rc = sqlite3_exec(p->h, "COMMIT", NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : pass_fail(p, rc, err, errlen);
}

int
state_pass_stage(struct state_pass *p, const struct net_addr *a, uint64_t ord,
		 const void *obs, size_t len, char *err, size_t errlen)
{
	uint8_t key[STATE_ROW_KEY_MAX];
	size_t keylen = state_row_key(a, key);
	int rc = SQLITE_OK;

	/* the staging is not the state: it may commit often, the state only once */
	if (!p->staging && !p->writing) {
		if ((rc = sqlite3_exec(p->h, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
			return pass_fail(p, rc, err, errlen);
		p->staging = true;
	}
	sqlite3_reset(p->stage);
	if ((rc = sqlite3_bind_blob(p->stage, 1, key, (int)keylen, SQLITE_TRANSIENT)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(p->stage, 2, u2i(ord))) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(p->stage, 3, obs, (int)len, SQLITE_TRANSIENT)) != SQLITE_OK ||
	    (rc = sqlite3_step(p->stage)) != SQLITE_DONE)
		return pass_fail(p, rc, err, errlen);
	sqlite3_reset(p->stage);
	if (p->staging && ++p->staged >= PASS_STAGE_BATCH)
		return pass_flush(p, err, errlen);
	return 0;
}

int
state_pass_restage(struct state_pass *p, const struct net_addr *a, const void *obs,
		   size_t len, char *err, size_t errlen)
{
	uint8_t key[STATE_ROW_KEY_MAX];
	size_t keylen = state_row_key(a, key);
	sqlite3_stmt *q = NULL;
	int rc;

	rc = sqlite3_prepare_v2(p->h, "UPDATE cyc.obs SET body = ?2 WHERE addr = ?1", -1, &q, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(q, 1, key, (int)keylen, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(q, 2, obs, (int)len, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(q);
	return rc == SQLITE_OK ? 0 : pass_fail(p, rc, err, errlen);
}

/* The stored entry of the key (p->get), decoded against ref into e: *found. */
static int
pass_lookup(struct state_pass *p, const void *key, size_t keylen,
	    const struct state_row_ref *ref, struct bl_entry *e, bool *found,
	    const void **body, size_t *bodylen, char *err, size_t errlen)
{
	char why[200], addr[NETADDR_STRLEN];
	uint64_t label = 0;
	int rc;

	*found = false;
	memset(e, 0, sizeof(*e));
	if (state_row_key_parse(key, keylen, &e->addr) < 0) {
		util_errf(err, errlen, "%s: a staged key that is no address", p->path);
		return -EIO;
	}
	sqlite3_reset(p->get);
	if ((rc = sqlite3_bind_blob(p->get, 1, key, (int)keylen, SQLITE_TRANSIENT)) != SQLITE_OK)
		return pass_fail(p, rc, err, errlen);
	rc = sqlite3_step(p->get);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return pass_fail(p, rc, err, errlen);
	*body = sqlite3_column_blob(p->get, 0);
	*bodylen = (size_t)sqlite3_column_bytes(p->get, 0);
	net_addr_str(&e->addr, addr, sizeof(addr));
	if (sqlite3_column_type(p->get, 0) != SQLITE_BLOB || *bodylen > STATE_ROW_BODY_MAX ||
	    state_row_decode(*body, *bodylen, ref, e, &label, why, sizeof(why)) < 0 ||
	    (e->target = label_of(&p->labels, label)) == NULL) {
		/* read whole by the load a moment ago: only a change since can do this */
		util_errf(err, errlen, "%s: entries[%s].body does not read", p->path, addr);
		return -EIO;
	}
	*found = true;
	return 0;
}

int
state_pass_page(struct state_pass *p, const struct net_addr *after, size_t limit,
		state_pass_fn fn, void *arg, struct net_addr *last, char *err, size_t errlen)
{
	uint8_t key[STATE_ROW_KEY_MAX];
	size_t keylen = after != NULL ? state_row_key(after, key) : 0;
	sqlite3_stmt *q = NULL;
	int rc, n = 0;

	if ((rc = pass_flush(p, err, errlen)) < 0)
		return rc;
	rc = sqlite3_prepare_v2(p->h, "SELECT addr, body FROM cyc.obs WHERE addr > ?1 "
				"ORDER BY addr LIMIT ?2", -1, &q, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(q, 1, key, (int)keylen, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 2, (int64_t)(limit > INT_MAX ? INT_MAX : limit));
	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const void *k = sqlite3_column_blob(q, 0), *body = NULL;
		size_t klen = (size_t)sqlite3_column_bytes(q, 0), blen = 0;
		struct bl_entry e;
		bool found;
		int frc;

		if ((frc = pass_lookup(p, k, klen, &p->ref, &e, &found, &body, &blen, err,
				       errlen)) < 0) {
			sqlite3_finalize(q);
			return frc;
		}
		*last = e.addr;
		frc = fn(arg, &e.addr, sqlite3_column_blob(q, 1),
			 (size_t)sqlite3_column_bytes(q, 1), found ? &e : NULL);
		if (frc < 0) {
			sqlite3_finalize(q);
			return frc;
		}
		n++;
		rc = SQLITE_OK;
	}
	sqlite3_reset(p->get);
	if (rc != SQLITE_DONE) {
		rc = pass_fail(p, rc, err, errlen);
		sqlite3_finalize(q);
		return rc;
	}
	sqlite3_finalize(q);
	return n;
}

int
state_pass_any_open(struct state_pass *p, bool *any, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int rc;

	*any = false;
	rc = sqlite3_prepare_v2(p->h, "SELECT body FROM main.entries", -1, &q, NULL);
	while (rc == SQLITE_OK && !*any && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct bl_entry e;
		uint64_t label;
		char why[200];

		memset(&e, 0, sizeof(e));
		if (state_row_decode(sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0),
				     &p->ref, &e, &label, why, sizeof(why)) < 0) {
			sqlite3_finalize(q);
			util_errf(err, errlen, "%s: an entry does not read: %s", p->path, why);
			return -EIO;
		}
		for (int s = 0; s < PROBE_NSLOTS; s++)
			*any |= e.port[s].reported_open;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW ? 0
								       : pass_fail(p, rc, err, errlen);
}

int
state_pass_names(struct state_pass *p, state_name_fn fn, void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(p->h, "SELECT name, since_ns, since_cycle, reason FROM "
				    "main.unresolved ORDER BY name", -1, &q, NULL);

	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct state_name n;
		const unsigned char *name = sqlite3_column_text(q, 0), *why = sqlite3_column_text(q, 3);

		memset(&n, 0, sizeof(n));
		snprintf(n.name, sizeof(n.name), "%s", name ? (const char *)name : "");
		n.since_ns = i2u(sqlite3_column_int64(q, 1));
		n.since_cycle = i2u(sqlite3_column_int64(q, 2));
		snprintf(n.reason, sizeof(n.reason), "%s", why ? (const char *)why : "");
		if ((rc = fn(arg, &n)) < 0) {
			sqlite3_finalize(q);
			util_errf(err, errlen, "%s", strerror(-rc));
			return rc;
		}
		rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : pass_fail(p, rc, err, errlen);
}

int
state_pass_name_put(struct state_pass *p, const struct state_name *n, char *err,
		    size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int rc = n != NULL ? sqlite3_prepare_v2(p->h, "INSERT OR REPLACE INTO main.unresolved "
						 "(name, since_ns, since_cycle, reason) VALUES "
						 "(?1, ?2, ?3, ?4)", -1, &q, NULL)
			   : SQLITE_MISUSE;

	if (rc == SQLITE_OK)
		rc = bind_text(q, 1, n->name, sizeof(n->name));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 2, u2i(n->since_ns));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 3, u2i(n->since_cycle));
	if (rc == SQLITE_OK)
		rc = bind_text(q, 4, n->reason, sizeof(n->reason));
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(q);
	return rc == SQLITE_OK ? 0 : pass_fail(p, rc, err, errlen);
}

int
state_pass_name_drop(struct state_pass *p, const char *name, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(p->h, "DELETE FROM main.unresolved WHERE name = ?1", -1, &q,
				    NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(q);
	return rc == SQLITE_OK ? 0 : pass_fail(p, rc, err, errlen);
}

/* The silences of h, by address and protocol. An SQLite result code, or fn's -errno. */
static int
silence_rows(sqlite3 *h, const char *schema, state_silence_fn fn, void *arg, int *fnrc)
{
	char sql[128];
	sqlite3_stmt *q = NULL;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT addr, protocol, until_ns, set_ns FROM %ssilences "
		 "ORDER BY addr, protocol", schema);
	rc = sqlite3_prepare_v2(h, sql, -1, &q, NULL);
	*fnrc = 0;
	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct state_silence s;
		const unsigned char *proto = sqlite3_column_text(q, 1);

		memset(&s, 0, sizeof(s));
		if (state_row_key_parse(sqlite3_column_blob(q, 0),
					(size_t)sqlite3_column_bytes(q, 0), &s.addr) < 0) {
			rc = SQLITE_CORRUPT;
			break;
		}
		snprintf(s.protocol, sizeof(s.protocol), "%s", proto ? (const char *)proto : "");
		s.until_ns = i2u(sqlite3_column_int64(q, 2));
		s.set_ns = i2u(sqlite3_column_int64(q, 3));
		if ((*fnrc = fn(arg, &s)) < 0)
			break;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

int
state_silences(const char *dir, state_silence_fn fn, void *arg, char *err, size_t errlen)
{
	char reason[300];
	struct paths p;
	sqlite3 *h = NULL;
	int rc, fnrc;

	if ((rc = paths_init(&p, dir, err, errlen)) < 0)
		return rc;
	if ((rc = db_open_existing(p.db, "read", &h, err, errlen)) != 0)
		return rc == 1 ? 0 : rc; /* no state yet: no silence */
	rc = silence_rows(h, "", fn, arg, &fnrc);
	if (rc != SQLITE_OK) {
		rc = db_fail(h, rc, reason, sizeof(reason));
		util_errf(err, errlen, "cannot read %s: %s", p.db, reason);
	} else if (fnrc < 0) {
		rc = fnrc;
		util_errf(err, errlen, "%s", strerror(-rc));
	}
	db_close(h);
	return rc;
}

int
state_pass_silences(struct state_pass *p, state_silence_fn fn, void *arg, char *err,
		    size_t errlen)
{
	int fnrc, rc = silence_rows(p->h, "main.", fn, arg, &fnrc);

	if (rc != SQLITE_OK)
		return pass_fail(p, rc, err, errlen);
	if (fnrc < 0)
		util_errf(err, errlen, "%s", strerror(-fnrc));
	return fnrc;
}

int
state_pass_silence_put(struct state_pass *p, const struct state_silence *s, bool drop,
		       char *err, size_t errlen)
{
	uint8_t key[STATE_ROW_KEY_MAX];
	size_t keylen = state_row_key(&s->addr, key);
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(p->h, drop ? "DELETE FROM main.silences WHERE addr = ?1 AND "
					       "protocol = ?2"
					     : "INSERT OR REPLACE INTO main.silences (addr, "
					       "protocol, until_ns, set_ns) VALUES (?1, ?2, ?3, ?4)",
				    -1, &q, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(q, 1, key, (int)keylen, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(q, 2, s->protocol, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && !drop)
		rc = sqlite3_bind_int64(q, 3, u2i(s->until_ns));
	if (rc == SQLITE_OK && !drop)
		rc = sqlite3_bind_int64(q, 4, u2i(s->set_ns));
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(q);
	return rc == SQLITE_OK ? 0 : pass_fail(p, rc, err, errlen);
}

int
state_pass_begin(struct state_pass *p, char *err, size_t errlen)
{
	int rc;

	if ((rc = pass_flush(p, err, errlen)) < 0)
		return rc;
	/* IMMEDIATE: the write lock now, not halfway through */
	if ((rc = sqlite3_exec(p->h, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
		return pass_fail(p, rc, err, errlen);
	p->writing = true;
	rc = sqlite3_prepare_v2(p->h, HISTORY_INSERT, -1, &p->hist, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(p->h, SPOOL_INSERT, -1, &p->spool, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(p->h, "INSERT INTO cyc.events (json) VALUES (?1)", -1,
					&p->event, NULL);
	return rc == SQLITE_OK ? 0 : pass_fail(p, rc, err, errlen);
}

/* The row of e against p->next into cyc.out (q) unless it is old's bytes. */
static int
pass_write(struct state_pass *p, sqlite3_stmt *q, const struct bl_entry *e, uint64_t label,
	   const void *old, size_t oldlen)
{
	uint8_t key[STATE_ROW_KEY_MAX], body[STATE_ROW_BODY_MAX];
	size_t keylen = state_row_key(&e->addr, key);
	size_t bodylen = state_row_encode(e, label, &p->next, body);
	int rc;

	if (old != NULL && oldlen == bodylen && memcmp(old, body, bodylen) == 0)
		return SQLITE_OK;
	sqlite3_reset(q);
	if ((rc = sqlite3_bind_blob(q, 1, key, (int)keylen, SQLITE_TRANSIENT)) == SQLITE_OK &&
	    (rc = sqlite3_bind_blob(q, 2, body, (int)bodylen, SQLITE_TRANSIENT)) == SQLITE_OK &&
	    (rc = sqlite3_step(q)) == SQLITE_DONE)
		rc = SQLITE_OK;
	return rc;
}

/* The rows not staged (all of them when nothing is): through fn (NULL: as they are) and
 * into cyc.out (put) where their bytes against the new reference differ from the stored
 * ones: a row whose last cycle or last seen was the old reference's, or one fn changed. */
static int
pass_walk_unstaged(struct state_pass *p, sqlite3_stmt *put, state_judge_fn fn, void *arg,
		   char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (fn == NULL && p->ref.cycles == p->next.cycles && p->ref.seen_ns == p->next.seen_ns &&
	    p->ref.first_ns == p->next.first_ns)
		return 0;
	rc = sqlite3_prepare_v2(p->h, "SELECT e.addr, e.body FROM main.entries e WHERE NOT EXISTS "
				"(SELECT 1 FROM cyc.obs o WHERE o.addr = e.addr)", -1, &q, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const void *body = sqlite3_column_blob(q, 1);
		size_t len = (size_t)sqlite3_column_bytes(q, 1);
		struct bl_entry e;
		uint64_t label;
		char why[200];
		int frc;

		memset(&e, 0, sizeof(e));
		if (state_row_key_parse(sqlite3_column_blob(q, 0),
					(size_t)sqlite3_column_bytes(q, 0), &e.addr) < 0 ||
		    state_row_decode(body, len, &p->ref, &e, &label, why, sizeof(why)) < 0 ||
		    (e.target = label_of(&p->labels, label)) == NULL) {
			sqlite3_finalize(q);
			util_errf(err, errlen, "%s: an entry does not read", p->path);
			return -EIO;
		}
		if (fn != NULL && (frc = fn(arg, NULL, 0, &e, false)) != 0) {
			if (frc < 0) {
				sqlite3_finalize(q);
				return frc;
			}
			continue; /* left as it is */
		}
		rc = label_id(p->h, &p->labels, e.target, &label);
		if (rc == SQLITE_OK)
			rc = pass_write(p, put, &e, label, body, len);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : pass_fail(p, rc, err, errlen);
}

/* The rows a walk put into cyc.out replace theirs in entries. */
static int
pass_apply(struct state_pass *p, char *err, size_t errlen)
{
	int rc = sqlite3_exec(p->h, "INSERT OR REPLACE INTO main.entries (addr, body) "
			      "SELECT addr, body FROM cyc.out; DELETE FROM cyc.out", NULL, NULL,
			      NULL);

	return rc == SQLITE_OK ? 0 : pass_fail(p, rc, err, errlen);
}

static int
pass_prepare_put(struct state_pass *p, sqlite3_stmt **put, char *err, size_t errlen)
{
	int rc = sqlite3_prepare_v2(p->h, "INSERT OR REPLACE INTO cyc.out (addr, body) "
				    "VALUES (?1, ?2)", -1, put, NULL);

	return rc == SQLITE_OK ? 0 : pass_fail(p, rc, err, errlen);
}

int
state_pass_each(struct state_pass *p, state_judge_fn fn, void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *put = NULL;
	int rc;

	if ((rc = pass_prepare_put(p, &put, err, errlen)) == 0 &&
	    (rc = pass_walk_unstaged(p, put, fn, arg, err, errlen)) == 0)
		rc = pass_apply(p, err, errlen);
	sqlite3_finalize(put);
	return rc;
}

int
state_pass_judge(struct state_pass *p, uint64_t cycle, uint64_t seen_ns, state_judge_fn fn,
		 void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL, *put = NULL;
	int rc;

	p->next.cycles = cycle;
	p->next.seen_ns = seen_ns;
	if (p->next.first_ns == 0)
		p->next.first_ns = seen_ns;
	if ((rc = pass_prepare_put(p, &put, err, errlen)) < 0)
		return rc;
	rc = sqlite3_prepare_v2(p->h, "SELECT addr, body FROM cyc.obs ORDER BY addr", -1, &q, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const void *key = sqlite3_column_blob(q, 0), *old = NULL;
		size_t keylen = (size_t)sqlite3_column_bytes(q, 0), oldlen = 0;
		struct bl_entry e;
		uint64_t label;
		bool found;
		int frc;

		if ((frc = pass_lookup(p, key, keylen, &p->ref, &e, &found, &old, &oldlen, err,
				       errlen)) < 0 ||
		    (frc = fn(arg, sqlite3_column_blob(q, 1), (size_t)sqlite3_column_bytes(q, 1),
			      &e, !found)) < 0) {
			rc = frc;
			goto out;
		}
		if (frc > 0) {
			rc = SQLITE_OK; /* left as it is */
			continue;
		}
		rc = label_id(p->h, &p->labels, e.target, &label);
		if (rc == SQLITE_OK)
			rc = pass_write(p, put, &e, label, found ? old : NULL, oldlen);
	}
	sqlite3_reset(p->get);
	if (rc != SQLITE_DONE) {
		rc = pass_fail(p, rc, err, errlen);
		goto out;
	}
	sqlite3_finalize(q);
	q = NULL;
	if ((rc = pass_walk_unstaged(p, put, NULL, NULL, err, errlen)) == 0)
		rc = pass_apply(p, err, errlen);
out:
	sqlite3_finalize(q);
	sqlite3_finalize(put);
	return rc;
}

int
state_pass_get(struct state_pass *p, const struct net_addr *a, struct bl_entry *e, bool *found,
	       char *err, size_t errlen)
{
	uint8_t key[STATE_ROW_KEY_MAX];
	size_t keylen = state_row_key(a, key), len;
	const void *body;
	int rc = pass_lookup(p, key, keylen, &p->ref, e, found, &body, &len, err, errlen);

	sqlite3_reset(p->get);
	return rc;
}

int
state_pass_put(struct state_pass *p, const struct bl_entry *e, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	uint64_t label;
	int rc;

	rc = label_id(p->h, &p->labels, e->target, &label);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(p->h, "INSERT OR REPLACE INTO main.entries (addr, body) "
					"VALUES (?1, ?2)", -1, &q, NULL);
	if (rc == SQLITE_OK)
		rc = pass_write(p, q, e, label, NULL, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_OK ? 0 : pass_fail(p, rc, err, errlen);
}

int
state_pass_event(struct state_pass *p, const struct state_hist *hist,
		 const struct state_spool *spool, size_t nspool, const char *json, size_t len,
		 char *err, size_t errlen)
{
	int rc = insert_history(p->hist, hist);

	for (size_t i = 0; i < nspool && rc == SQLITE_OK; i++)
		rc = insert_spool(p->spool, &spool[i]);
	if (rc == SQLITE_OK && json != NULL) {
		sqlite3_reset(p->event);
		rc = len > INT_MAX ? SQLITE_TOOBIG
				   : sqlite3_bind_text(p->event, 1, json, (int)len, SQLITE_STATIC);
		if (rc == SQLITE_OK && (rc = sqlite3_step(p->event)) == SQLITE_DONE)
			rc = SQLITE_OK;
		sqlite3_reset(p->event);
	}
	return rc == SQLITE_OK ? 0 : pass_fail(p, rc, err, errlen);
}

int
state_pass_commit(struct state_pass *p, const struct state *head, uint64_t retention_ns,
		  char *err, size_t errlen)
{
	char reason[300];
	int rc;

	if ((rc = write_meta(p->h, head, &p->next, false, NULL, new_generation(), reason,
			     sizeof(reason))) < 0) {
		util_errf(err, errlen, "cannot write %s: %s", p->path, reason);
		return rc;
	}
	if ((rc = prune_history(p->h, retention_ns)) != SQLITE_OK ||
	    (rc = sqlite3_exec(p->h, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		return pass_fail(p, rc, err, errlen);
	p->writing = false;
	p->ref = p->next;
	return 0;
}

int
state_pass_events(struct state_pass *p, state_event_fn fn, void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int rc;

	rc = sqlite3_prepare_v2(p->h, "SELECT json FROM cyc.events ORDER BY n", -1, &q, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		int frc = fn(arg, (const char *)sqlite3_column_text(q, 0),
			     (size_t)sqlite3_column_bytes(q, 0));
		if (frc < 0) {
			sqlite3_finalize(q);
			return frc;
		}
		rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : pass_fail(p, rc, err, errlen);
}

int
state_pass_spool_move(struct state_pass *p, state_spool_put_fn put, void *arg, size_t *moved,
		      char *err, size_t errlen)
{
	char reason[300], perr[512] = "";
	int rc;

	*moved = 0;
	if ((rc = pass_flush(p, err, errlen)) < 0)
		return rc;
	rc = spool_move_on(p->h, put, arg, moved, reason, sizeof(reason), perr, sizeof(perr));
	if (rc < 0 && perr[0] != '\0')
		util_errf(err, errlen, "%s", perr);
	else if (rc < 0)
		util_errf(err, errlen, "cannot move the spool of %s: %s", p->path, reason);
	return rc;
}
