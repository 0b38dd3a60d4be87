/*
 * state: the baseline between cycles — struct state in memory, its home in state_dir (the
 * SQLite database state.db, written in one durable transaction per save, see state_db.c),
 * the legacy JSON document state.json (imported once, and the shape of `baseline show
 * --format json`), and the lock that keeps two cycles apart. A file that cannot be read
 * as ours is moved aside, never silently reset.
 */
#ifndef WATCH53_STATE_H
#define WATCH53_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/baseline.h"

#define STATE_VERSION 1                /* of the JSON document */
#define STATE_DB_FILE "state.db"
#define STATE_JSON_FILE "state.json"   /* the state file before state.db: imported once */
#define STATE_LOCK ".lock"
/* A legacy state.json larger than this is refused at import: the JSON writer never made
 * one (it refused to write beyond it). The database has no cap of its own. */
#define STATE_MAX_BYTES (64u << 20)

/* One row of the history table: an event as it was raised (or a `baseline accept`), kept
 * for `watch53 history`. Text fields are cut to fit. */
struct state_hist {
	uint64_t seq;             /* order of recording (set by the database) */
	uint64_t time_ns;         /* wall clock, when raised */
	char type[16];            /* an alert type name, or "accepted" (agent/history.h) */
	char severity[16];
	char address[46];         /* "" for events about the monitor itself */
	char protocol[4];         /* "tcp", "udp" or "" */
	uint16_t port;
	char summary[256];
	char source[8];           /* "active", "passive", or "cli" for an accept */
	char id[ALERT_ID_LEN];    /* the event's id; "" for an accept */
};

/* One event for one sink, spooled by the save that commits the state which raised it (the
 * transactional outbox): state_spool_move hands it to the outbox afterwards. */
struct state_spool {
	const char *sink;         /* the sink's name (its outbox directory) */
	char id[ALERT_ID_LEN];    /* the event's id */
	const char *json;         /* the event, alert_event_to_json */
	size_t len;
};

struct state {
	char instance[ALERT_ID_LEN]; /* random id of this state (seeds event ids); "" = new */
	uint64_t cycles;          /* completed cycles */
	uint64_t last_cycle_wall; /* wall ns of the last completed cycle */
	uint64_t last_duration_ns;
	bool degraded;            /* the last cycle was degraded (one event per episode) */
	uint64_t events_total[ALERT_NTYPES]; /* raised since the state began, by type */
	struct bl_entry *entries; /* sorted by address (state_find uses binary search) */
	size_t n, cap;
	/* one copy of each label the entries point to (state_label): a hash table */
	char **labels;
	size_t nlabels, label_cap;
	/* The database's view, kept by state_load for state_save (callers leave it alone):
	 * per entry the hash of its row as the database holds it (0: not there), kept in step
	 * with entries by state_get; NULL when the state did not come from a database. */
	uint64_t *row_hash;
	uint64_t generation;      /* the database generation those hashes belong to */
	size_t stored;            /* rows the database held */
	/* Set by the caller of state_save (not owned, not freed): the rows to add to the
	 * history in the same transaction as the state, and how long history is kept (rows
	 * older than that are deleted by the save, at most STATE_HISTORY_PRUNE_MAX a save;
	 * 0: none are). */
	const struct state_hist *history_add;
	size_t nhistory_add;
	uint64_t history_retention_ns;
	/* Set by the caller of state_save (not owned): the events to spool with the state, in
	 * the order they were raised (state_spool_move). */
	const struct state_spool *spool_add;
	size_t nspool_add;
};

/* Rows a save deletes at most for retention: the work of one commit stays bounded, and a
 * backlog (retention shortened) goes in a few cycles. */
#define STATE_HISTORY_PRUNE_MAX 10000

void state_init(struct state *st);
void state_clear(struct state *st);

/* The state's one copy of a label (cut to BL_TARGET_MAX bytes), what bl_entry.target
 * points to; it lives as long as the state. NULL on ENOMEM. */
const char *state_label(struct state *st, const char *text);
const char *state_label_len(struct state *st, const char *text, size_t len);
/* Does the state hold that label (cut as state_label cuts it)? A label is kept once an
 * entry carries it (a load reads every label the database knows). */
bool state_label_known(const struct state *st, const char *text);

/* Find an entry, or NULL. */
struct bl_entry *state_find(struct state *st, const struct net_addr *a);
/* Find or add (keeping the order); *created says which. NULL on ENOMEM. */
struct bl_entry *state_get(struct state *st, const struct net_addr *a, bool *created);

/*
 * Load dir/state.db. Neither it nor a legacy dir/state.json there: an empty state (first
 * run), returns 0, creating nothing. A state.json and no state.db: state.json is imported
 * into a new state.db in one transaction and renamed state.json.imported-<UTC timestamp>.
 * A database that is corrupt, truncated, not SQLite, or SQLite without our schema (or of a
 * newer schema than this build knows), or a state.json that does not parse: the file is
 * renamed to <name>.corrupt-<UTC timestamp> (a database with its -wal and -shm) and
 * -EBADMSG is returned with a message saying where it went and how to recover; so is a
 * missing state after such a move. Other failures: negative errno with a message.
 */
int state_load(const char *dir, struct state *st, char *err, size_t errlen);

/*
 * Read dir/state.db as state_load does (the same checks; damage is set aside the same
 * way), but a row at a time: *head gets everything but the entries (cycles, totals, the
 * labels), and fn each entry in address order (valid during the call). Memory stays that
 * of one row whatever the number of addresses. fn returns 0 to go on or -errno to stop
 * (returned). Where state_load would import a legacy state.json, it does, and hands over
 * what it imported. 0, -EBADMSG or -errno with a message.
 */
typedef int (*state_each_fn)(void *arg, const struct bl_entry *e);
int state_each(const char *dir, struct state *head, state_each_fn fn, void *arg, char *err,
	       size_t errlen);

/* Commit st to dir/state.db (creating dir 0700 and the database 0600 if missing) in one
 * durable transaction, writing only the rows that differ from what the database holds
 * when st came from state_load of the same database. 0 or negative errno with a message. */
int state_save(const char *dir, const struct state *st, char *err, size_t errlen);

/*
 * A pass: a cycle over the database a row at a time, so memory does not grow with the
 * addresses. Opened under the lock like state_load (the same checks; damage set aside the
 * same way; a legacy state.json imported; a missing database created empty), it holds the
 * database until state_pass_free. *head gets everything but the entries: cycles, totals,
 * the labels (so label pointers and judge_first_run work), degraded, the instance.
 *
 * A cycle stages its observations (kept in a scratch database SQLite deletes when the
 * pass ends, not in memory): one per address, the one of the lowest `ord` winning.
 * state_pass_page reads them back in address order, a page at a time, each with its entry;
 * state_pass_restage replaces one. state_pass_begin opens the write transaction; then
 * state_pass_judge walks every staged address with its entry in address order through fn,
 * which judges it and adds its events with state_pass_event (to the history, the spool and
 * the pass's own list); changed rows are written. state_pass_commit writes head (meta and
 * totals), prunes the history and commits: all of it or nothing. state_pass_events reads
 * the events added, in order, as long as the pass is open.
 */
struct state_pass;

int state_pass_open(const char *dir, struct state *head, struct state_pass **out, char *err,
		    size_t errlen);
/* Close, rolling back what was not committed. NULL is fine. */
void state_pass_free(struct state_pass *p);

/* How many observations are coming (before the first is staged): up to
 * STATE_PASS_MEMORY_MAX the scratch stays in memory (some 60 bytes each, and a quiet cycle of
 * a small estate writes nothing for it); beyond, it goes to a file in SQLite's temporary
 * directory, so memory stays bounded. 0 or -errno with err. */
#define STATE_PASS_MEMORY_MAX 131072
int state_pass_expect(struct state_pass *p, uint64_t n, char *err, size_t errlen);

/* Stage an observation of a (bytes of the caller's, agent/obs.h). 0 or -errno with err. */
int state_pass_stage(struct state_pass *p, const struct net_addr *a, uint64_t ord,
		     const void *obs, size_t len, char *err, size_t errlen);
int state_pass_restage(struct state_pass *p, const struct net_addr *a, const void *obs,
		       size_t len, char *err, size_t errlen);

/* A staged observation with its entry (NULL: none); pointers valid during the call, which
 * must not call the pass. 0 to go on, or -errno to stop (returned). */
typedef int (*state_pass_fn)(void *arg, const struct net_addr *a, const void *obs, size_t len,
			     const struct bl_entry *e);
/* The staged observations after *after (in address order; after NULL: from the first), at
 * most limit of them, through fn. Returns how many (0: no more), *last the last one's
 * address; or -errno with err. */
int state_pass_page(struct state_pass *p, const struct net_addr *after, size_t limit,
		    state_pass_fn fn, void *arg, struct net_addr *last, char *err,
		    size_t errlen);

/* Does any entry report a port open? (Read a row at a time.) 0 or -errno with err. */
int state_pass_any_open(struct state_pass *p, bool *any, char *err, size_t errlen);

/* Open the write transaction (before judge, get, put, event). 0 or -errno with err. */
int state_pass_begin(struct state_pass *p, char *err, size_t errlen);

/* Judge: each staged address with its entry, in address order. fn gets the observation
 * and the entry to update (zeroed but for the address when the state had none: *created)
 * and returns 0, 1 to leave the entry as it was, or -errno (stops the walk, returned). The rows are written against the
 * reference of a cycle numbered `cycle` seen at seen_ns: a changed row, and a row not
 * staged whose bytes that reference changes. */
typedef int (*state_judge_fn)(void *arg, const void *obs, size_t len, struct bl_entry *e,
			      bool created);
int state_pass_judge(struct state_pass *p, uint64_t cycle, uint64_t seen_ns,
		     state_judge_fn fn, void *arg, char *err, size_t errlen);

/* Every entry not staged (all of them when nothing was: `baseline accept`) through fn
 * (obs NULL), in address order; a row fn changed is written. fn returns 0, 1 to leave the
 * entry as it was, or -errno (stops, returned). In the write transaction. */
int state_pass_each(struct state_pass *p, state_judge_fn fn, void *arg, char *err,
		    size_t errlen);

/* An entry by address (passive observations): *found says whether there is one. Put
 * writes e back. 0 or -errno with err. */
int state_pass_get(struct state_pass *p, const struct net_addr *a, struct bl_entry *e,
		   bool *found, char *err, size_t errlen);
int state_pass_put(struct state_pass *p, const struct bl_entry *e, char *err, size_t errlen);

/* A target's host name that did not resolve, as the state records it while it does not:
 * since when and why (the first failure's), so its event is raised once an episode. */
struct state_name {
	char name[256];
	uint64_t since_ns;    /* wall ns of the first cycle it failed */
	uint64_t since_cycle; /* that cycle's number */
	char reason[200];
};
typedef int (*state_name_fn)(void *arg, const struct state_name *n);
/* The recorded names, in name order (fn returns 0 or -errno, which stops and is returned);
 * record one (replacing a row of its name), or drop one. In the write transaction (after
 * state_pass_begin), so they commit with the cycle. 0 or -errno with err. */
int state_pass_names(struct state_pass *p, state_name_fn fn, void *arg, char *err,
		     size_t errlen);
int state_pass_name_put(struct state_pass *p, const struct state_name *n, char *err,
			size_t errlen);
int state_pass_name_drop(struct state_pass *p, const char *name, char *err, size_t errlen);

/* A maintenance window (`baseline silence`): the events of an address, for one protocol or
 * both (""), are recorded but not sent until until_ns. */
struct state_silence {
	struct net_addr addr;
	char protocol[4];  /* "tcp", "udp", or "" for both */
	uint64_t until_ns; /* wall ns */
	uint64_t set_ns;   /* when it was set */
};
typedef int (*state_silence_fn)(void *arg, const struct state_silence *s);
/* The silences recorded in dir's database (none when there is none yet), in address
 * order, for `baseline show`. 0 or -errno with err. */
int state_silences(const char *dir, state_silence_fn fn, void *arg, char *err, size_t errlen);
/* The same through a pass; record one (replacing the row of its address and protocol) or,
 * with drop, delete it. Writes go in the pass's write transaction. 0 or -errno with err. */
int state_pass_silences(struct state_pass *p, state_silence_fn fn, void *arg, char *err,
			size_t errlen);
int state_pass_silence_put(struct state_pass *p, const struct state_silence *s, bool drop,
			   char *err, size_t errlen);

/* An event raised in the transaction: its history row, its spool rows (one per sink that
 * wants it), and json (alert_event_to_json) for state_pass_events (NULL: a history row
 * only, as for an accept). 0 or -errno with err. */
int state_pass_event(struct state_pass *p, const struct state_hist *hist,
		     const struct state_spool *spool, size_t nspool, const char *json,
		     size_t len, char *err, size_t errlen);

/* Commit: meta and totals from head (its cycles, times, degraded, events_total), history
 * older than retention_ns pruned (0: none), then the transaction. 0 or -errno with err. */
int state_pass_commit(struct state_pass *p, const struct state *head, uint64_t retention_ns,
		      char *err, size_t errlen);

/* The events added by state_pass_event, in order, as JSON text. fn returns 0 or -errno
 * (stops, returned). Returns 0 or -errno with err. */
typedef int (*state_event_fn)(void *arg, const char *json, size_t len);
int state_pass_events(struct state_pass *p, state_event_fn fn, void *arg, char *err,
		      size_t errlen);

/* The history rows a row at a time, of one address (NULL: all): by_port false, those
 * recorded at or after since_ns in order of recording; by_port true, every row in port
 * order (address, protocol, port, then as recorded: the history's index, so nothing is
 * sorted in memory). fn returns 0 or -errno (stops, returned). Under the lock; a missing
 * database has no rows. 0, -EBADMSG or -errno with a message. */
typedef int (*state_hist_fn)(void *arg, const struct state_hist *row);
int state_history_each(const char *dir, uint64_t since_ns, const char *address, bool by_port,
		       state_hist_fn fn, void *arg, char *err, size_t errlen);

/* The history rows recorded at or after since_ns (wall clock), in order of recording, of
 * one address (NULL: all), into *rows (malloc'd, *n of them). carry: also, for each
 * address, protocol and port, its last row before since_ns of type exposed, opened, closed
 * or accepted (what the period begins in), before the others. Read under the lock, like
 * state_load: a missing database is an empty history. 0, -EBADMSG for a database that is
 * not ours (left where it is), or negative errno, with a message. */
int state_history_read(const char *dir, uint64_t since_ns, const char *address, bool carry,
		       struct state_hist **rows, size_t *n, char *err, size_t errlen);

/*
 * The spool: events committed with the state, not yet in the outbox. state_spool_move
 * hands each to put() in the order they were raised, with its sequence number (never
 * reused: it orders the outbox, see outbox_put), then deletes those put() took, in one
 * transaction. A put() that fails (0 or -errno, with a message in err) stops the move:
 * that event and the later ones stay in the spool, in order, for the next move. So an
 * event reaches the outbox only once its state is committed, and a crash between the
 * commit and the move (or within it) leaves the rest for the next: at worst an event is
 * put twice (same id, the same file). Callers hold the lock and move after every save and
 * before they deliver. A missing database has nothing to move. *moved counts the events
 * put. 0, -EBADMSG for a database that is not ours (left where it is), or -errno; err
 * says why (put's own message when it failed).
 */
typedef int (*state_spool_put_fn)(void *arg, uint64_t seq, const char *sink, const char *id,
				  const char *json, size_t len, char *err, size_t errlen);
int state_spool_move(const char *dir, state_spool_put_fn put, void *arg, size_t *moved,
		     char *err, size_t errlen);

/* state_spool_move on the database a pass holds (outside its write transaction). */
int state_pass_spool_move(struct state_pass *p, state_spool_put_fn put, void *arg,
			  size_t *moved, char *err, size_t errlen);

/* Rename the state in dir out of the way for `baseline reset`: state.db (with -wal, -shm)
 * and a legacy state.json, each to <name>.<why>-<UTC timestamp>. The database's new name
 * goes to moved ("" when there was none). Callers hold the lock. 0 or -errno. */
int state_set_aside(const char *dir, const char *why, char *moved, size_t movedlen, char *err,
		    size_t errlen);

/*
 * The locks of a state_dir, each a file there held with flock (gone with the process, so a
 * crash leaves none behind), created as the caller's user and never through a link:
 *  - STATE_LOCK_STATE (.lock): one user of the state at a time, for the length of the work:
 *    a cycle (the service's too), `baseline`, `history`, `alerts flush`;
 *  - STATE_LOCK_SERVICE (.run.lock): `watch53 run` holds it for its life: a second service,
 *    or a cron `check`, on the same state_dir is refused (state_service_running);
 *  - STATE_LOCK_SEND (.send.lock): one sender of the outbox at a time.
 * Take the exclusive lock of kind k on dir (creating dir 0700 if missing), waiting up to
 * wait_ns for another holder (0: not at all) and seeing *cancel (may be NULL) every 100 ms.
 * An fd to keep (state_unlock), -EWOULDBLOCK when still held (err says by what),
 * -ECANCELED, or -errno.
 */
enum state_lock_kind { STATE_LOCK_STATE, STATE_LOCK_SERVICE, STATE_LOCK_SEND };
int state_lock_take(const char *dir, enum state_lock_kind k, uint64_t wait_ns,
		    const atomic_int *cancel, char *err, size_t errlen);
/* state_lock_take(dir, STATE_LOCK_STATE, 0, NULL, ...). */
int state_lock(const char *dir, char *err, size_t errlen);
void state_unlock(int fd);
/* Does a `watch53 run` hold dir's service lock now? */
bool state_service_running(const char *dir);

/* Parse a state document from memory (the import and the fuzz target). On success *st
 * (initialized) is replaced; on failure it is left as it was and -EBADMSG (or -ENOMEM)
 * comes with "state.json: entries[3].tcp.miss_streak: expected ..." in err. */
int state_parse(const char *text, size_t len, struct state *st, char *err, size_t errlen);

/* The state document (one entry a line) to f: what `baseline show --format json` prints
 * and state_parse reads. Streaks above what the parser accepts are written saturated.
 * 0, or -ENOMEM / -EIO. */
int state_write_json(const struct state *st, FILE *f);
/* The same in parts, for a state read a row at a time (state_each): the head (everything
 * but the entries, from head), each entry (first: the first one), the end (n entries). */
int state_json_begin(const struct state *head, FILE *f);
int state_json_entry(const struct bl_entry *e, bool first, FILE *f);
int state_json_end(size_t n, FILE *f);
/* `baseline show`'s document goes on after the entries (n of them) with "silences": the
 * windows in force, each {address, protocol (absent: both), until, until_ns, set_ns};
 * state_json_silences_end(number of silences) closes it. The parser reads the list's type
 * only: silences are the database's (state_silences), not the document's. */
int state_json_silences_begin(size_t n, FILE *f);
int state_json_silence(const struct state_silence *s, bool first, FILE *f);
int state_json_silences_end(size_t n, FILE *f);
/* The same as a malloc'd string in *out. 0 or -ENOMEM. */
int state_format(const struct state *st, char **out, size_t *outlen);

/* The words the JSON document and the database use for probe states and reasons (probes/
 * names them; NONE is "none"). The parsers return 0 or -EINVAL. */
const char *state_state_word(enum probe_state s);
const char *state_reason_word(enum probe_reason r);
int state_parse_state_word(const char *word, enum probe_state *out);
int state_parse_reason_word(const char *word, enum probe_reason *out);

/* Streaks above this mean damage to the loaders; writers saturate at it. */
#define STATE_MAX_STREAK 1000000u
#define STATE_MAX_RCODE 4095u /* 12 bits: header rcode plus the EDNS extension */

#endif
