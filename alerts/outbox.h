/*
 * outbox: the durable spool between raising an event and delivering it. One file per event
 * per sink, <dir>/<sink>/<seq>.<id>.json, written atomically and fsync'd. The monitor
 * (agent/) commits a cycle's events together with its state in the state database and
 * only then moves them here (state.h, "the spool"), so a file is only ever written for an
 * event the state records; a crash can repeat a move (same id, same file), never lose one.
 *
 * Delivery (outbox_deliver) reads the spool, sends events in order, removes what the
 * service accepted and keeps per-event delivery metadata beside the event in <id>.meta
 * (JSON: attempts, first_attempt, next_try, last_status, last_error; times are integer
 * nanoseconds since the Unix epoch), replaced atomically after every failed attempt.
 *
 * Files under <dir>/<sink>/:
 *   <seq>.<id>.json  a queued event (alert_event_to_json); "<id>.json" from older writers
 *   <id>.meta     its delivery metadata, absent before the first failed attempt
 *   dead/         events given up on after max_age (kept for people, never deleted here)
 *   quarantine/   files that did not parse or are not valid UTF-8 (kept for people, never
 *                 deleted here)
 *
 * Nothing inside <dir> is ever followed (<dir> itself is opened without following its last
 * component; the state_dir above it may be a link an admin chose): every entry is reached
 * from an open directory by its name, so what was checked is what is used. A sink
 * directory, dead/ or quarantine/ that is a symbolic link (or no directory) is reported and
 * left alone: nothing is read, created or moved through it. An event or .meta file that is
 * a link counts as corrupt: the link itself is quarantined, its target never opened.
 *
 * Retry schedule, after the n-th failed attempt of an event (n = 1, 2, ...):
 *   30 s, 1 min, 2 min, 5 min, 10 min, 20 min, 40 min, then every 1 h,
 * each randomized by +-20 % (jitter, so many agents behind one outage do not retry in step).
 * Which schedule a failure uses:
 *   2xx                        success: the event's files are removed
 *   429 or 503 with a delay    exactly that delay, capped at 1 h: the Retry-After header
 *                              (seconds or HTTP-date) or the service's retry_after in the
 *                              body (Discord, Telegram); the larger if both
 *   3xx, other 4xx             the long schedule: 1 h +-20 % (a redirect is not followed;
 *                              a 4xx is a config or payload problem a retry will not fix
 *                              soon). Logged with the first line of the response body.
 *   5xx, 408, 429/503 without a delay, network error, timeout
 *                              the schedule above
 * An event older than the sink's max_age (by the time it was raised) moves to dead/ with a
 * warning naming it and the last error; it is never deleted silently.
 *
 * Order: per sink, events go out in the order they were raised: by sequence number (see
 * outbox_put), then event time and id. A sink whose oldest
 * event is waiting for its next try sends nothing newer meanwhile, and a failure stops that
 * sink for the run: receivers never see a later event before an earlier one.
 *
 * Concurrency: one process at a time. Callers that deliver hold the state_dir lock
 * (check_cycle, `watch53 alerts flush`); outbox_list reads without it and moves nothing.
 */
#ifndef WATCH53_OUTBOX_H
#define WATCH53_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts/event.h"
#include "alerts/sink.h"

#define OUTBOX_DEAD_DIR "dead"
#define OUTBOX_QUARANTINE_DIR "quarantine"
#define OUTBOX_NAME_MAX 64                    /* sink directory names, NUL included */
#define OUTBOX_RETRY_AFTER_MAX_NS (3600ull * 1000000000ull)
#define OUTBOX_LONG_BACKOFF_NS (3600ull * 1000000000ull)
#define OUTBOX_JITTER_PERCENT 20

/* Longest event file name, NUL included: "<seq>.<id>.json". */
#define OUTBOX_FILE_MAX (20 + 1 + ALERT_ID_LEN + 5)

/* Spool one event for one sink as <dir>/<sink>/<seq>.<id>.json (seq zero-padded to 10
 * digits; "<id>.json" for seq 0). seq orders the sink's queue: callers number events in the
 * order they were raised (the state's committed spool does, state.h); files without one
 * (older writers) go first, in time order. Creates <dir>/<sink> (0700) as needed; the
 * file and its directory are fsync'd. 0 or -errno with a one-line message. */
int outbox_put(const char *dir, const char *sink, uint64_t seq, const struct alert_event *ev,
	       char *err, size_t errlen);
/* The same for an event already in its JSON form (alert_event_to_json, len bytes, no
 * newline). id must pass alert_id_valid (-EINVAL otherwise: it names the file); the text
 * is not parsed here (a file that does not parse is quarantined at delivery). */
int outbox_put_json(const char *dir, const char *sink, uint64_t seq, const char *id,
		    const char *json, size_t len, char *err, size_t errlen);

/* Events waiting in <dir> across all sinks (for metrics and status). -errno on failure;
 * a missing dir counts 0. Files in dead/ and quarantine/ are not waiting. */
long outbox_count(const char *dir);

/* ---- retry schedule (pure) ---- */

/* The schedule's base delay after `attempts` failed attempts (0 is treated as 1). */
uint64_t outbox_backoff_base_ns(unsigned attempts);
/* The base delay with jitter: base * (1 + j), j uniform in [-20 %, +20 %] in steps of
 * 0.1 % chosen by `rnd` (any 32-bit value; rnd % 401 == 200 gives exactly the base). */
uint64_t outbox_backoff_ns(unsigned attempts, uint32_t rnd);

/* What one failed attempt means for the next (see the table above). */
struct outbox_outcome {
	long status;              /* HTTP status, 0 for a transport failure */
	bool has_retry_after;     /* the response named a delay (header or body) */
	uint64_t retry_after_ns;
};
/* Delay before the next try after the attempts-th failure (attempts >= 1). */
uint64_t outbox_retry_delay_ns(unsigned attempts, const struct outbox_outcome *o, uint32_t rnd);

/* ---- delivery metadata and listing ---- */

struct outbox_meta {
	unsigned attempts;        /* failed attempts so far */
	uint64_t first_attempt;   /* wall ns of the first attempt, 0 = none yet */
	uint64_t next_try;        /* wall ns; 0 = due now */
	long last_status;         /* HTTP status of the last attempt, 0 = none / transport */
	char last_error[256];     /* one line, no secrets; "" = none */
};

/* One queued event as outbox_list shows it. */
struct outbox_entry {
	char sink[OUTBOX_NAME_MAX];
	char id[ALERT_ID_LEN];
	uint64_t seq;             /* its sequence number (0: none, see outbox_put) */
	uint64_t time_ns;         /* when the event was raised */
	enum alert_type type;
	enum alert_severity severity;
	char address[46];
	char protocol[4];
	uint16_t port;
	struct outbox_meta meta;
	bool meta_corrupt;        /* the .meta did not parse (delivery will quarantine it) */
};

/* Counts for one sink directory (or all of them). */
struct outbox_stats {
	size_t pending;           /* parsable events waiting */
	size_t corrupt;           /* .json files that do not parse (quarantined at delivery) */
	size_t dead;              /* files in dead/ (events, .meta not counted) */
	size_t quarantined;       /* files in quarantine/ */
};

/*
 * The events queued for one sink, in delivery order (sequence number, event time, id), in a malloc'd array
 * (*out, free() it; NULL when empty). Reads only: corrupt files are counted in st (may be
 * NULL), not moved. A missing sink directory is an empty queue. 0 or -errno with err.
 */
int outbox_list(const char *dir, const char *sink, struct outbox_entry **out, size_t *n,
		struct outbox_stats *st, char *err, size_t errlen);

/* The sink directories present under dir (sorted, malloc'd: outbox_names_free). A missing
 * dir gives none. 0 or -errno. */
int outbox_sink_names(const char *dir, char ***names, size_t *n);
void outbox_names_free(char **names, size_t n);

/* Counts across every sink directory under dir (for metrics). 0 or -errno. */
int outbox_stats_all(const char *dir, struct outbox_stats *st);

/* Read or write one event's metadata (exposed for tests and `alerts list`). read: 0,
 * -ENOENT (none yet: *m zeroed), -EBADMSG (corrupt, a link included). write: atomic (a
 * link in the .meta's place is replaced, not followed), 0 or -errno. Both: -EINVAL for an
 * id alert_id_valid refuses (it names the file), -ELOOP when the sink directory is a
 * link. */
int outbox_meta_read(const char *dir, const char *sink, const char *id, struct outbox_meta *m);

/* The loaders' parsers of what they read (untrusted: the fuzz target's entry points).
 * outbox_meta_parse: a .meta text (one JSON object, trailing whitespace only, every value
 * in range). outbox_entry_parse: an event file's text (valid UTF-8, alert_event_from_json,
 * and, unless id is NULL, the id the file name says). 0 or -EBADMSG (err says why for an
 * entry), -ENOMEM. */
int outbox_meta_parse(const char *text, size_t len, struct outbox_meta *m);
int outbox_entry_parse(const char *text, size_t len, const char *id, struct alert_event *ev,
		       char *err, size_t errlen);
int outbox_meta_write(const char *dir, const char *sink, const char *id,
		      const struct outbox_meta *m);

/* ---- delivery ---- */

struct outbox_sink_report {
	char name[OUTBOX_NAME_MAX];
	size_t delivered;         /* events accepted */
	size_t messages;          /* requests accepted (a digest carries several events) */
	size_t failed;            /* requests that failed (at most 1: a failure stops the sink) */
	size_t dead;              /* moved to dead/ in this run */
	size_t quarantined;       /* files moved to quarantine/ in this run (an event's
				   * .meta moved along with it counts too) */
	size_t remaining;         /* events still queued after the run */
	bool waiting;             /* the oldest event is not due yet (nothing was tried) */
	bool out_of_budget;       /* stopped because the time budget was spent */
	uint64_t next_try;        /* wall ns of the oldest remaining event's next try, 0 = due */
	long last_status;         /* of the last request, 0 = none or transport failure */
	char last_error[256];     /* of a failure in this run, no secrets; "" = none */
};

struct outbox_report {
	struct outbox_sink_report *sinks; /* one per configured sink, in config order */
	size_t nsinks;
	size_t delivered, messages, failed, dead, quarantined, remaining; /* sums */
	char **unknown;           /* sink directories with no configured sink (left alone) */
	size_t nunknown;
	bool out_of_budget;
};

void outbox_report_clear(struct outbox_report *rep);

/*
 * Deliver what is due. For each configured sink in turn: quarantine files that do not
 * parse or are not valid UTF-8, move events older than max_age to dead/, then, if the
 * oldest event is due (next_try <= now_wall_ns, or always when `force`), format a digest
 * from it with the sink's formatter (sink_find(kind)->format says how many events fit),
 * POST it with webhook_post, and go on with the next digest until the queue is empty, a
 * request fails (its events' .meta get attempts+1 and next_try from the schedule; the sink
 * stops for this run) or the budget is spent. Accepted events' files are removed
 * (directory fsync'd). Between two requests to one sink it waits the sink's
 * limits.min_interval_ns.
 *
 * now_wall_ns is the run's reference wall time (callers pass util_wall_ns(); tests pass
 * other times): due-ness, max_age and new next_try values are reckoned from it, advancing
 * with the monotonic clock as the run goes on. Signatures use the real clock.
 *
 * budget_ns bounds the run (monotonic): no request starts after it is spent, a request's
 * timeout is cut to what is left (at least 1 s), and a rate-limit wait that would overrun
 * it ends the run instead. 0 = no bound.
 *
 * Everything that happened is in *rep (outbox_report_clear it), including per-sink errors;
 * those do not fail the call. Returns 0, or -errno (ENOMEM, an unreadable outbox) with err.
 */
int outbox_deliver(const char *dir, const struct sink_settings *sinks, size_t nsinks,
		   uint64_t now_wall_ns, bool force, uint64_t budget_ns,
		   struct outbox_report *rep, char *err, size_t errlen);

#endif
