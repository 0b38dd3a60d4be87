/*
 * event: what an alert carries — the plain struct that enters alerts/ (CONTRACT.md
 * "Events"), and its JSON form, which is both the outbox file and the generic webhook body:
 * {"id","type","time","agent","vantage","target","address","protocol","port","previous",
 *  "current","dns":{…},"severity", …}. Nothing here knows about probes or baselines.
 */
#ifndef WATCH53_EVENT_H
#define WATCH53_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum alert_type {
	ALERT_OPENED = 0, /* a baseline-closed/filtered port is now open */
	ALERT_CLOSED,     /* a baseline-open port is no longer reachable */
	ALERT_CHANGED,    /* DNS facts changed */
	ALERT_FLAPPING,   /* a port keeps changing: one notice, then quiet until it settles */
	ALERT_DEGRADED,   /* the monitor itself could not probe */
	ALERT_EXPOSED,    /* open against its expectation, nothing proves it was ever closed */
	ALERT_RECOVERED,  /* an expected-open port reported down is reachable again */
	ALERT_UNRESOLVED, /* a target's host name does not resolve: its addresses go unprobed */
	ALERT_RESOLVED,   /* a name that did not resolve does again */
	ALERT_TEST,       /* `watch53 alerts test` */
	ALERT_NTYPES
};

enum alert_severity {
	SEV_INFO = 0, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL
};
#define ALERT_NSEVERITIES 5

/* The one spelling of each type and severity, indexed by the enums ("opened", "critical"):
 * for lists of what may be written (the config's event and severity keys); the _name and
 * _parse functions below are the usual way in and out. */
extern const char *const alert_type_names[ALERT_NTYPES];
extern const char *const alert_severity_names[ALERT_NSEVERITIES];

#define ALERT_ID_LEN 37 /* UUID text + NUL */
#define ALERT_URL_MAX 512 /* a runbook URL + NUL */
#define ALERT_VANTAGE_LEN 64 /* a vantage label + NUL (the config's bound) */

struct alert_event {
	char id[ALERT_ID_LEN];   /* random UUIDv4: the idempotency key for receivers */
	enum alert_type type;
	uint64_t time_ns;        /* wall clock, when raised */
	char agent[64];          /* host name of the agent */
	char vantage[ALERT_VANTAGE_LEN]; /* where the agent looks from (config "vantage"; the
					  * host name by default; "" in events of older
					  * writers): one exposure seen from two places is two
					  * events */
	char target[256];        /* target text or configured name */
	char address[46];        /* "" for events about the monitor itself */
	char protocol[4];        /* "tcp", "udp" or "" */
	uint16_t port;
	char previous[16];       /* state before: "closed", "open", "filtered", "" */
	char current[16];
	char reason[24];         /* evidence of the current state ("syn-ack", ...) */
	enum alert_severity severity;
	char summary[256];       /* one human sentence: what changed */
	char why[256];           /* why it matters, one sentence */
	char dns_json[512];      /* the "dns" object as JSON text ("" = null) */
	char source[8];          /* "active" or "passive" */
	bool expected_open;      /* target expects this port open (closing is the problem) */
	char runbook_url[ALERT_URL_MAX]; /* what to do, from the config ("" = none):
					  * alert_url_ok() text */
};

/* Names: "opened", ...; "" for a value outside the enum. Parsing is exact (lower case);
 * 0 or -EINVAL, *out untouched on error. */
const char *alert_type_name(enum alert_type t);          /* "opened", ... */
int alert_type_parse(const char *text, enum alert_type *out); /* 0 or -EINVAL */
const char *alert_severity_name(enum alert_severity s);  /* "info" ... "critical" */
int alert_severity_parse(const char *text, enum alert_severity *out);

/* Zero the whole event, set type, then alert_event_stamp(). source starts as "active".
 * 0 or -errno (from util_random or gethostname; the event is still zeroed and typed). */
int alert_event_init(struct alert_event *ev, enum alert_type type);
/* Fill only id (random UUIDv4), time_ns (wall clock, now) and agent (gethostname, cut to
 * at most 63 bytes, between two characters: it is for display). Leaves every other field
 * alone (vantage too: the caller's, from the config), so events filled by baseline_apply()
 * can be stamped afterwards. 0 or -errno. */
int alert_event_stamp(struct alert_event *ev);
/* Replace the random id by one derived from `seed` (SHA-256, as a UUIDv8): a cycle that is
 * repeated after a crash raises its events with the same ids, so the outbox file is
 * replaced and receivers can drop the duplicate. 0 or -EIO. */
int alert_event_derive_id(struct alert_event *ev, const void *seed, size_t len);

/*
 * UTF-8, the one decoder of alerts/ (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF). Event text comes from DNS servers, configs and outbox files: it is
 * checked, cut and repaired with these, never byte by byte elsewhere.
 *
 * alert_utf8_next: the character at s[0 .. n), n >= 1. Returns the bytes it takes (1..4)
 * with *valid = true and its code point in *cp; or, when the bytes there are no valid
 * character, the length of the maximal ill-formed subpart (Unicode 15, 3.9: a lead byte
 * with the continuation bytes that could still have completed it, else one byte) with
 * *valid = false and *cp = U+FFFD. Returns 0 only for n == 0.
 * alert_utf8_check: offset of the first byte of s[0 .. n) that is not valid UTF-8; n when
 * all of it is.
 * alert_utf8_cut: the largest length <= max at which s[0 .. n) can be cut without
 * splitting a character (n when n <= max).
 * alert_utf16_len: valid UTF-8 text's length in UTF-16 code units (one a character, two
 * above U+FFFF): what Slack, Discord and Telegram count.
 */
size_t alert_utf8_next(const char *s, size_t n, uint32_t *cp, bool *valid);
size_t alert_utf8_check(const char *s, size_t n);
size_t alert_utf8_cut(const char *s, size_t n, size_t max);
/* Copy src into dst (len bytes, len > 0), cut at a character boundary to fit: for
 * messages meant for people (last errors, first lines), where a cut is fine. */
void alert_copy_text(char *dst, size_t len, const char *src);
size_t alert_utf16_len(const char *s, size_t n);

/* json-c helpers of alerts/ (the event's JSON, the sinks' formatters): o[key] = val, a[] +=
 * val. val NULL is an allocation failure; json-c does not take a child whose add failed, so
 * it is released here. 0 or -ENOMEM. */
struct json_object;
int alert_json_add(struct json_object *o, const char *key, struct json_object *val);
int alert_json_push(struct json_object *a, struct json_object *val);

/* Is this event a new exposure (exit code 1, Nagios CRITICAL, a remediation hint)?
 * `exposed`; `opened` and `changed` rated high or critical. The one definition. */
bool alert_event_is_exposure(const struct alert_event *ev);

/* Is this event a new outage: `closed` of a port its target expects open (exit code 1 like
 * a new exposure, Nagios CRITICAL)? The one definition. */
bool alert_event_is_outage(const struct alert_event *ev);

/* Is s an event id in text form (a UUID: 8-4-4-4-12 hex digits, either case)? Ids name
 * outbox files, so only such text may become one. */
bool alert_id_valid(const char *s);

/*
 * Is s a URL that may become a link or button in any chat service (a runbook_url)? http
 * or https (any case), a host, at most ALERT_URL_MAX - 1 bytes, printable ASCII without
 * space or any of " < > \\ ^ ` { | } @ : none of them ends a link, an attribute or a
 * Slack/Google Chat <url|text>, and none of it is ever shown as text. The one rule for
 * config files and outbox files alike.
 */
bool alert_url_ok(const char *s);

/* One fact of the event's dns object (dns_json): 1 with *out when `key` holds a boolean;
 * 0 when it is absent, not a boolean, or dns_json is no object (*out untouched).
 * alert_event_dns_strlen: the length of the string at `key`, 0 for anything else. */
int alert_event_dns_bool(const struct alert_event *ev, const char *key, bool *out);
size_t alert_event_dns_strlen(const struct alert_event *ev, const char *key);

/* Largest JSON text alert_event_from_json() accepts (every field at its maximum, escaped,
 * fits well below this). */
#define ALERT_JSON_MAX 16384

/*
 * Serialize to one line of JSON (no newline) into buf, always valid UTF-8 whatever the
 * fields hold (a name cut by bytes elsewhere must not make the body unreadable): an
 * incomplete character (what a byte cut leaves) is dropped and any other ill-formed byte
 * becomes '?', so a string never grows and reads back into its field. Keys in this order:
 * id, type, time ("2026-11-27T09:43:14.123Z": UTC, milliseconds, truncated), agent, vantage,
 * target, address, protocol (both null when empty), port, previous, current, reason, severity,
 * summary, why, dns (dns_json parsed back: an object, or null when empty, invalid or not an
 * object), source, expected_open, then runbook_url only when set (older readers ignore it).
 * Returns the length (without NUL), -ENOSPC if buf is too small, -ENOMEM, or -EINVAL for a
 * type or severity outside the enums.
 */
int alert_event_to_json(const struct alert_event *ev, char *buf, size_t buflen);
/*
 * Parse what alert_event_to_json wrote (outbox files are untrusted input too): at most
 * ALERT_JSON_MAX bytes, one JSON object, trailing whitespace only. id (UUID text form), type
 * and time are required; every other key is optional (absent or null = empty / 0 / false).
 * Types are checked, a string longer than its field is an error (never truncated), a string
 * with a NUL byte is an error, unknown keys are ignored (newer writers may add some).
 * time_ns keeps the text's precision (milliseconds from our writer).
 * 0, or -EINVAL with a one-line "field: reason" message in err; ev is untouched on error.
 */
int alert_event_from_json(const char *text, size_t len, struct alert_event *ev, char *err,
			  size_t errlen);

#endif
