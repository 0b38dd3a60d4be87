/*
 * state: the files in state_dir — the versioned state file (baseline entries and cycle
 * counters) and the lock. Written atomically (temp file, fsync, rename, fsync of the
 * directory). A file that does not parse is moved aside, never silently reset.
 */
#ifndef WATCH53_STATE_H
#define WATCH53_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/baseline.h"

#define STATE_VERSION 1
#define STATE_FILE "state.json"
#define STATE_LOCK ".lock"
#define STATE_MAX_BYTES (64u << 20) /* far above 2^20 entries' worth; refuse beyond */

struct state {
	char instance[ALERT_ID_LEN]; /* random id of this state (seeds event ids); "" = new */
	uint64_t cycles;          /* completed cycles */
	uint64_t last_cycle_wall; /* wall ns of the last completed cycle */
	uint64_t last_duration_ns;
	bool degraded;            /* the last cycle was degraded (one event per episode) */
	uint64_t events_total[ALERT_NTYPES]; /* raised since the state began, by type */
	struct bl_entry *entries; /* sorted by address (state_find uses binary search) */
	size_t n, cap;
};

void state_init(struct state *st);
void state_clear(struct state *st);

/* Find an entry, or NULL. */
struct bl_entry *state_find(struct state *st, const struct net_addr *a);
/* Find or add (keeping the order); *created says which. NULL on ENOMEM. */
struct bl_entry *state_get(struct state *st, const struct net_addr *a, bool *created);

/*
 * Load dir/state.json. A missing file is an empty state (first run): returns 0.
 * Unreadable, corrupt, truncated or wrong-version: the file is renamed to
 * state.json.corrupt-<UTC timestamp> and -EBADMSG is returned with a message saying
 * where it went and how to recover. Other failures: negative errno with a message.
 */
int state_load(const char *dir, struct state *st, char *err, size_t errlen);

/* Write dir/state.json atomically. 0 or negative errno with a message. */
int state_save(const char *dir, const struct state *st, char *err, size_t errlen);

/* Take the exclusive, non-blocking lock on dir (creating dir 0700 if missing).
 * Returns an fd to keep open, -EWOULDBLOCK if another process holds it, or -errno. */
int state_lock(const char *dir, char *err, size_t errlen);
void state_unlock(int fd);

/* Parse a state document from memory (for the loader and the fuzz target). On success *st
 * (initialized) is replaced; on failure it is left as it was and -EBADMSG (or -ENOMEM)
 * comes with "state.json: entries[3].tcp.miss_streak: expected ..." in err. */
int state_parse(const char *text, size_t len, struct state *st, char *err, size_t errlen);

/* The document state_save writes, as a malloc'd string in *out (one entry a line).
 * Streaks above what the loader accepts are written saturated. 0 or -ENOMEM. */
int state_format(const struct state *st, char **out, size_t *outlen);


#endif
