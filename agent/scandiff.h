/*
 * scandiff: what changed between two saved scans (`watch53 diff OLD NEW`), nmap's ndiff for
 * the records of `scan --format jsonl` or `--format json`. For people who keep scan files
 * instead of a state directory: no baseline, no confirmation rules, just the two files.
 *
 * A record is matched by address and port. Per match: each protocol's state (opened,
 * closed, or changed between closed and filtered), whether UDP's open state is verified,
 * every fact of the "dns" object (compared key by key, whatever keys the writer put there),
 * the severity and the findings. An address only in NEW is "added", one only in OLD
 * "removed". Timing (rtt_ms, the scan header) is never a change.
 */
#ifndef WATCH53_SCANDIFF_H
#define WATCH53_SCANDIFF_H

#include <stddef.h>

#include "common/netaddr.h"

/* The records of one scan file, sorted by address and port. */
struct scandiff_set;

/* Parse a scan file's text: JSON lines (one record an object), or the json document
 * ({"scan": ..., "results": [...]}). name is for messages ("old.jsonl:12: ..."). 0, or
 * -EINVAL / -ENOMEM with one line naming the file (and line) in err. */
int scandiff_parse(const char *text, size_t len, const char *name, struct scandiff_set **out,
		   char *err, size_t errlen);
/* The same from a file (a regular file of at most SCANDIFF_FILE_MAX bytes). */
#define SCANDIFF_FILE_MAX (1024ul * 1024 * 1024)
int scandiff_load(const char *path, struct scandiff_set **out, char *err, size_t errlen);
void scandiff_set_free(struct scandiff_set *s);
size_t scandiff_count(const struct scandiff_set *s);

enum scandiff_kind {
	SCANDIFF_OPENED,  /* field is the protocol: not open before, open now */
	SCANDIFF_CLOSED,  /* open before, not now */
	SCANDIFF_CHANGED, /* any other difference of field */
	SCANDIFF_ADDED,   /* the address is only in NEW (current: its states) */
	SCANDIFF_REMOVED, /* only in OLD (previous: its states) */
};
const char *scandiff_kind_name(enum scandiff_kind k); /* "opened", ... */

struct scandiff_change {
	enum scandiff_kind kind;
	char address[NETADDR_STRLEN];
	unsigned port;
	char field[64];     /* "tcp", "udp", "udp.verified", "dns.ra", "severity", "findings";
			     * "" for added and removed */
	char previous[256]; /* as JSON text for facts ("true", "\"9.18\""), "-" when absent */
	char current[256];
};

/* The change as one JSON object, {"type","address","port","field","previous","current"}
 * (`diff --format jsonl`), into buf. Its length, or -ENOSPC / -ENOMEM. */
int scandiff_change_json(const struct scandiff_change *c, char *buf, size_t len);

/* Each change to fn, in address order; fn returns 0 or -errno (stops, returned). The
 * number of changes, or a negative errno. */
typedef int (*scandiff_fn)(void *arg, const struct scandiff_change *c);
long scandiff_compare(const struct scandiff_set *old, const struct scandiff_set *new,
		      scandiff_fn fn, void *arg);

#endif
