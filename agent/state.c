/* state: the state in memory (the sorted entry array) and the versioned JSON document —
 * the legacy state file, read strictly for the import, and the shape `baseline show
 * --format json` prints. The files in state_dir are state_db.c's. */
#define _GNU_SOURCE
#include "agent/state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "agent/jsonw.h"
#include "common/util.h"

/* The document is 4 levels deep (root, entries, entry, port): 16 leaves room and still
 * stops a hostile "[[[[..." long before json-c's recursion matters. */
#define STATE_MAX_DEPTH 16
/* Streaks only ever meet confirm counts (small): STATE_MAX_STREAK (state.h) is far above
 * them, and the writer saturates at it so a long-lived entry can never trip the check. */
/* compact and without "\/" noise in names */
#define STATE_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* ---- messages ---- */

/* Text from the file is quoted with UTIL_PRINT_ASCII: the parser does not check UTF-8, so a
 * damaged file's bytes stay out of messages. */

/* "entries[3].tcp" + "miss_streak" -> "entries[3].tcp.miss_streak: <what>". */
static int
field_error(char *err, size_t errlen, const char *where, const char *key, const char *what)
{
	if (key == NULL)
		key = "";
	if (*where == '\0' && *key == '\0')
		util_errf(err, errlen, "%s", what);
	else
		util_errf(err, errlen, "%s%s%s: %s", where,
			  *where != '\0' && *key != '\0' ? "." : "", key, what);
	return -EBADMSG;
}

/* ---- names used in the file ---- */

static const char *
open_word(bool open)
{
	return open ? "open" : "closed";
}

const char *
state_state_word(enum probe_state s)
{
	const char *n = probe_state_name(s);

	return *n != '\0' ? n : "none";
}

const char *
state_reason_word(enum probe_reason r)
{
	const char *n = probe_reason_name(r);

	return *n != '\0' ? n : "none";
}

int
state_parse_state_word(const char *text, enum probe_state *out)
{
	static const enum probe_state all[] = { PROBE_STATE_NONE, PROBE_OPEN, PROBE_CLOSED,
						PROBE_FILTERED };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(text, state_state_word(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	return -EINVAL;
}

/* probes/ owns the vocabulary: walk its names until the first unnamed value, so a reason
 * added there is accepted here without a second list to keep in step. */
int
state_parse_reason_word(const char *text, enum probe_reason *out)
{
	if (strcmp(text, "none") == 0) {
		*out = PROBE_REASON_NONE;
		return 0;
	}
	for (int r = PROBE_REASON_NONE + 1; r < 256; r++) {
		const char *n = probe_reason_name((enum probe_reason)r);
		if (*n == '\0')
			break;
		if (strcmp(text, n) == 0) {
			*out = (enum probe_reason)r;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- entries in memory ---- */

void
state_init(struct state *st)
{
	memset(st, 0, sizeof(*st));
}

void
state_clear(struct state *st)
{
	for (size_t i = 0; i < st->label_cap; i++)
		free(st->labels[i]);
	free(st->labels);
	free(st->entries);
	free(st->row_hash);
	state_init(st);
}

/* FNV-1a: the labels' table is small and its keys are ours (config and state text). */
static uint64_t
label_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	return h;
}

const char *
state_label_len(struct state *st, const char *text, size_t len)
{
	size_t mask, i;

	/* a cut ends between two characters: labels are shown in alerts */
	len = alert_utf8_cut(text, len, BL_TARGET_MAX);
	/* an open-addressing table, at most half full */
	if ((st->nlabels + 1) * 2 > st->label_cap) {
		size_t ncap = st->label_cap ? st->label_cap * 2 : 16;
		char **nl = calloc(ncap, sizeof(*nl));
		if (nl == NULL)
			return NULL;
		for (size_t k = 0; k < st->label_cap; k++) {
			char *l = st->labels[k];
			if (l == NULL)
				continue;
			for (i = label_hash(l, strlen(l)) & (ncap - 1); nl[i] != NULL;
			     i = (i + 1) & (ncap - 1))
				;
			nl[i] = l;
		}
		free(st->labels);
		st->labels = nl;
		st->label_cap = ncap;
	}
	mask = st->label_cap - 1;
	for (i = label_hash(text, len) & mask; st->labels[i] != NULL; i = (i + 1) & mask)
		if (strncmp(st->labels[i], text, len) == 0 && st->labels[i][len] == '\0')
			return st->labels[i];
	if ((st->labels[i] = strndup(text, len)) == NULL)
		return NULL;
	st->nlabels++;
	return st->labels[i];
}

const char *
state_label(struct state *st, const char *text)
{
	return state_label_len(st, text, strnlen(text, BL_TARGET_MAX + 1));
}

bool
state_label_known(const struct state *st, const char *text)
{
	size_t len = alert_utf8_cut(text, strnlen(text, BL_TARGET_MAX + 1), BL_TARGET_MAX);
	size_t mask = st->label_cap - 1;

	if (st->label_cap == 0)
		return false;
	for (size_t i = label_hash(text, len) & mask; st->labels[i] != NULL; i = (i + 1) & mask)
		if (strncmp(st->labels[i], text, len) == 0 && st->labels[i][len] == '\0')
			return true;
	return false;
}

/* Index of the first entry not below a; *found says whether it is a. */
static size_t
lower_bound(const struct state *st, const struct net_addr *a, bool *found)
{
	size_t lo = 0, hi = st->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (net_addr_cmp(&st->entries[mid].addr, a) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < st->n && net_addr_cmp(&st->entries[lo].addr, a) == 0;
	return lo;
}

struct bl_entry *
state_find(struct state *st, const struct net_addr *a)
{
	bool found;
	size_t i = lower_bound(st, a, &found);

	return found ? &st->entries[i] : NULL;
}

static int
reserve(struct state *st, size_t want)
{
	struct bl_entry *ne;
	size_t ncap;

	if (want <= st->cap)
		return 0;
	ncap = st->cap != 0 ? st->cap : 16;
	while (ncap < want) {
		if (ncap > SIZE_MAX / 2 / sizeof(*ne))
			return -ENOMEM;
		ncap *= 2;
	}
	/* the row hashes grow first: should the entries then fail, both stay valid */
	if (st->row_hash != NULL) {
		uint64_t *nh = realloc(st->row_hash, ncap * sizeof(*nh));
		if (nh == NULL)
			return -ENOMEM;
		st->row_hash = nh;
	}
	ne = realloc(st->entries, ncap * sizeof(*ne));
	if (ne == NULL)
		return -ENOMEM;
	st->entries = ne;
	st->cap = ncap;
	return 0;
}

struct bl_entry *
state_get(struct state *st, const struct net_addr *a, bool *created)
{
	struct bl_entry *e;
	bool found;
	size_t i = lower_bound(st, a, &found);

	if (created != NULL)
		*created = false;
	if (found)
		return &st->entries[i];
	if (reserve(st, st->n + 1) < 0)
		return NULL;
	memmove(&st->entries[i + 1], &st->entries[i], (st->n - i) * sizeof(*e));
	if (st->row_hash != NULL) {
		memmove(&st->row_hash[i + 1], &st->row_hash[i], (st->n - i) * sizeof(uint64_t));
		st->row_hash[i] = 0; /* not in the database yet */
	}
	st->n++;
	e = &st->entries[i];
	/* zeroed, so a new entry is "never observed" and compares equal byte for byte after
	 * a round trip through the file */
	memset(e, 0, sizeof(*e));
	e->addr = *a;
	e->target = "";
	if (created != NULL)
		*created = true;
	return e;
}

/* ---- writing ---- */

static struct json_object *
port_json(const struct bl_port *p)
{
	struct json_object *j = json_object_new_object();
	bool ok = j != NULL;

	jsonw_put(j, "known", json_object_new_boolean(p->known), &ok);
	jsonw_put(j, "baseline", json_object_new_string(open_word(p->baseline_open)), &ok);
	jsonw_put(j, "reported", json_object_new_string(open_word(p->reported_open)), &ok);
	jsonw_put(j, "last", json_object_new_string(state_state_word(p->last)), &ok);
	jsonw_put(j, "last_reason", json_object_new_string(state_reason_word(p->last_reason)), &ok);
	jsonw_put(j, "last_miss", json_object_new_string(state_state_word(p->last_miss)), &ok);
	jsonw_put(j, "open_streak", json_object_new_uint64(p->open_streak > STATE_MAX_STREAK ?
						      STATE_MAX_STREAK : p->open_streak), &ok);
	jsonw_put(j, "miss_streak", json_object_new_uint64(p->miss_streak > STATE_MAX_STREAK ?
						      STATE_MAX_STREAK : p->miss_streak), &ok);
	jsonw_put(j, "change_bits", json_object_new_uint64(p->change_bits), &ok);
	jsonw_put(j, "flapping", json_object_new_boolean(p->flapping), &ok);
	jsonw_put(j, "open_before_flap", json_object_new_boolean(p->open_before_flap), &ok);
	jsonw_put(j, "first_seen", json_object_new_uint64(p->first_seen), &ok);
	jsonw_put(j, "last_seen", json_object_new_uint64(p->last_seen), &ok);
	jsonw_put(j, "last_change", json_object_new_uint64(p->last_change), &ok);
	jsonw_put(j, "closed_proven", json_object_new_boolean(p->closed_proven), &ok);
	jsonw_put(j, "proven_by", json_object_new_string(state_reason_word(p->proven_by)), &ok);
	jsonw_put(j, "quiet_cycles", json_object_new_uint64(p->quiet_cycles > STATE_MAX_STREAK ?
						       STATE_MAX_STREAK : p->quiet_cycles), &ok);
	jsonw_put(j, "quiet_since", json_object_new_uint64(p->quiet_since), &ok);
	jsonw_put(j, "streak_verified", json_object_new_boolean(p->streak_verified), &ok);
	if (!ok) {
		json_object_put(j);
		return NULL;
	}
	return j;
}

/* The facts of the follow-up checks: a key only for a known fact (files from before the
 * checks simply have none, and a check never run writes nothing). */
static void
dns_checks_json(struct json_object *dns, const struct bl_dns *d, bool *ok)
{
	if (d->checks & DNSCHECK_RECURSION) {
		jsonw_put(dns, "recursion", json_object_new_boolean(d->recursion), ok);
		if (d->bogus_known)
			jsonw_put(dns, "bogus", json_object_new_boolean(d->bogus), ok);
	}
	if (d->checks & DNSCHECK_VERSION) {
		jsonw_put(dns, "version", json_object_new_string_len(d->version,
			(int)strnlen(d->version, sizeof(d->version) - 1)), ok);
		jsonw_put(dns, "identity", json_object_new_boolean(d->identity), ok);
	}
	if (d->checks & DNSCHECK_AXFR) {
		jsonw_put(dns, "axfr", json_object_new_boolean(d->axfr), ok);
		jsonw_put(dns, "axfr_zones", json_object_new_string_len(d->axfr_zones,
			(int)strnlen(d->axfr_zones, sizeof(d->axfr_zones) - 1)), ok);
	}
	if (d->checks & DNSCHECK_AMPLIFICATION)
		jsonw_put(dns, "amplification_x100", json_object_new_uint64(d->amplification), ok);
	if (d->checks & DNSCHECK_TCP_DNS)
		jsonw_put(dns, "tcp_dns", json_object_new_boolean(d->tcp_dns), ok);
}

static struct json_object *
entry_json(const struct bl_entry *e)
{
	struct json_object *j = json_object_new_object();
	struct json_object *expect = json_object_new_object();
	struct json_object *dns = json_object_new_object();
	char addr[NETADDR_STRLEN];
	bool ok = j != NULL;

	const char *target = e->target ? e->target : "";
	int tlen = (int)strnlen(target, BL_TARGET_MAX);

	net_addr_str(&e->addr, addr, sizeof(addr));
	jsonw_put(j, "address", json_object_new_string(addr), &ok);
	jsonw_put(j, "target", json_object_new_string_len(target, tlen), &ok);
	jsonw_put(expect, "tcp", json_object_new_string(open_word(e->expect_open[PROBE_SLOT_TCP])), &ok);
	jsonw_put(expect, "udp", json_object_new_string(open_word(e->expect_open[PROBE_SLOT_UDP])), &ok);
	jsonw_put(j, "expect", expect, &ok);
	jsonw_put(j, "last_cycle", json_object_new_uint64(e->last_cycle), &ok);
	jsonw_put(j, "tcp", port_json(&e->port[PROBE_SLOT_TCP]), &ok);
	jsonw_put(j, "udp", port_json(&e->port[PROBE_SLOT_UDP]), &ok);
	jsonw_put(dns, "known", json_object_new_boolean(e->dns.known), &ok);
	jsonw_put(dns, "rcode", json_object_new_uint64(e->dns.rcode), &ok);
	jsonw_put(dns, "aa", json_object_new_boolean(e->dns.aa), &ok);
	jsonw_put(dns, "ra", json_object_new_boolean(e->dns.ra), &ok);
	dns_checks_json(dns, &e->dns, &ok);
	jsonw_put(j, "dns", dns, &ok);
	if (!ok) {
		json_object_put(j);
		return NULL;
	}
	return j;
}

static struct json_object *
head_json(const struct state *st)
{
	struct json_object *j = json_object_new_object();
	bool ok = j != NULL;
	char iso[32] = "";
	time_t t = (time_t)(st->last_cycle_wall / NS_PER_SEC);
	struct tm tm;

	jsonw_put(j, "version", json_object_new_int(STATE_VERSION), &ok);
	jsonw_put(j, "instance", json_object_new_string(st->instance), &ok);
	jsonw_put(j, "cycles", json_object_new_uint64(st->cycles), &ok);
	/* for people reading the file; last_cycle_ns is what the loader uses */
	if (st->last_cycle_wall != 0 && gmtime_r(&t, &tm) != NULL)
		strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	jsonw_put(j, "last_cycle", json_object_new_string(iso), &ok);
	jsonw_put(j, "last_cycle_ns", json_object_new_uint64(st->last_cycle_wall), &ok);
	jsonw_put(j, "last_duration_ns", json_object_new_uint64(st->last_duration_ns), &ok);
	jsonw_put(j, "degraded", json_object_new_boolean(st->degraded), &ok);
	struct json_object *ev = json_object_new_object();
	for (int at = 0; at < ALERT_NTYPES; at++)
		if (at != ALERT_TEST)
			jsonw_put(ev, alert_type_name((enum alert_type)at),
			     json_object_new_uint64(st->events_total[at]), &ok);
	jsonw_put(j, "events_total", ev, &ok);
	if (!ok) {
		json_object_put(j);
		return NULL;
	}
	return j;
}

/*
 * One entry a line: readable with grep and diff, and built one entry at a time so memory
 * does not grow with a tree of the whole state (nor with a copy of the text when f is a
 * pipe: `baseline show` streams it).
 */
int
state_json_begin(const struct state *head, FILE *f)
{
	struct json_object *j = head_json(head);
	const char *s;
	size_t hl;

	if (j == NULL)
		return -ENOMEM;
	s = json_object_to_json_string_ext(j, STATE_JSON_FLAGS);
	hl = s != NULL ? strlen(s) : 0;
	if (hl < 2 || s[hl - 1] != '}') {
		json_object_put(j);
		return -ENOMEM;
	}
	/* the head object without its closing brace, then the entries array */
	fwrite(s, 1, hl - 1, f);
	fputs(",\"entries\":[", f);
	json_object_put(j);
	return ferror(f) ? -EIO : 0;
}

int
state_json_entry(const struct bl_entry *e, bool first, FILE *f)
{
	struct json_object *j = entry_json(e);
	const char *s = j != NULL ? json_object_to_json_string_ext(j, STATE_JSON_FLAGS) : NULL;
	int rc = 0;

	if (s == NULL)
		rc = -ENOMEM;
	else
		fprintf(f, "%s\n%s", first ? "" : ",", s);
	json_object_put(j);
	return rc == 0 && ferror(f) ? -EIO : rc;
}

int
state_json_end(size_t n, FILE *f)
{
	fputs(n != 0 ? "\n]}\n" : "]}\n", f);
	return ferror(f) ? -EIO : 0;
}

int
state_json_silences_begin(size_t n, FILE *f)
{
	fputs(n != 0 ? "\n],\"silences\":[" : "],\"silences\":[", f);
	return ferror(f) ? -EIO : 0;
}

int
state_json_silence(const struct state_silence *s, bool first, FILE *f)
{
	struct json_object *j = json_object_new_object();
	bool ok = j != NULL;
	char addr[NETADDR_STRLEN], iso[32] = "";
	time_t t = (time_t)(s->until_ns / NS_PER_SEC);
	struct tm tm;
	const char *text;
	int rc = 0;

	jsonw_put(j, "address", json_object_new_string(net_addr_str(&s->addr, addr, sizeof(addr))),
	     &ok);
	if (s->protocol[0] != '\0')
		jsonw_put(j, "protocol", json_object_new_string(s->protocol), &ok);
	if (gmtime_r(&t, &tm) != NULL)
		strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	jsonw_put(j, "until", json_object_new_string(iso), &ok);
	jsonw_put(j, "until_ns", json_object_new_uint64(s->until_ns), &ok);
	jsonw_put(j, "set_ns", json_object_new_uint64(s->set_ns), &ok);
	text = ok ? json_object_to_json_string_ext(j, STATE_JSON_FLAGS) : NULL;
	if (text == NULL)
		rc = -ENOMEM;
	else
		fprintf(f, "%s\n%s", first ? "" : ",", text);
	json_object_put(j);
	return rc == 0 && ferror(f) ? -EIO : rc;
}

int
state_json_silences_end(size_t n, FILE *f)
{
	return state_json_end(n, f);
}

int
state_write_json(const struct state *st, FILE *f)
{
	int rc = state_json_begin(st, f);

	for (size_t i = 0; i < st->n && rc == 0; i++)
		rc = state_json_entry(&st->entries[i], i == 0, f);
	return rc == 0 ? state_json_end(st->n, f) : rc;
}

int
state_format(const struct state *st, char **out, size_t *outlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	*out = NULL;
	*outlen = 0;
	f = open_memstream(&buf, &len);
	if (f == NULL)
		return -ENOMEM;
	rc = state_write_json(st, f);
	/* fclose finalizes buf and len; a memory stream fails only for want of memory */
	if (fclose(f) != 0 || rc < 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* ---- reading ---- */

/* json-c stores a JSON null as a NULL child: "present" and the value are separate. */
static bool
field(struct json_object *o, const char *key, struct json_object **v)
{
	struct json_object *unused;

	if (v == NULL)
		v = &unused;
	*v = NULL;
	return json_object_object_get_ex(o, key, v);
}

/* Every key must be one we know: a stray key means the file is not what we wrote. */
static int
check_keys(struct json_object *o, const char *where, const char *const *known, char *err,
	   size_t errlen)
{
	char buf[40], what[80];

	json_object_object_foreach(o, key, val) {
		size_t i;
		(void)val;
		for (i = 0; known[i] != NULL; i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (known[i] == NULL) {
			snprintf(what, sizeof(what), "unknown key \"%s\"",
				 util_printable(key, buf, sizeof(buf), UTIL_PRINT_ASCII));
			return field_error(err, errlen, where, NULL, what);
		}
	}
	return 0;
}

static int
need(struct json_object *o, const char *where, const char *key, enum json_type type,
     const char *expected, struct json_object **out, char *err, size_t errlen)
{
	struct json_object *v = NULL;

	if (!field(o, key, &v))
		return field_error(err, errlen, where, key, "missing");
	if (v == NULL || !json_object_is_type(v, type))
		return field_error(err, errlen, where, key, expected);
	*out = v;
	return 0;
}

static int
get_bool(struct json_object *o, const char *where, const char *key, bool *out, char *err,
	 size_t errlen)
{
	struct json_object *v = NULL;
	int rc = need(o, where, key, json_type_boolean, "expected true or false", &v, err, errlen);

	if (rc == 0)
		*out = json_object_get_boolean(v);
	return rc;
}

static int
get_uint(struct json_object *o, const char *where, const char *key, uint64_t max,
	 uint64_t *out, char *err, size_t errlen)
{
	struct json_object *v = NULL;
	char what[80];
	uint64_t u;

	if (max == UINT64_MAX)
		snprintf(what, sizeof(what), "expected a non-negative integer");
	else
		snprintf(what, sizeof(what), "expected an integer from 0 to %" PRIu64, max);
	if (need(o, where, key, json_type_int, what, &v, err, errlen) < 0)
		return -EBADMSG;
	if (jsonw_uint(v, 0, max, &u) < 0)
		return field_error(err, errlen, where, key, what);
	*out = u;
	return 0;
}

/* A string without NULs ("\u0000" would cut it short in C) of at most max bytes. */
static int
get_string(struct json_object *o, const char *where, const char *key, size_t max,
	   const char **out, size_t *outlen, char *err, size_t errlen)
{
	struct json_object *v = NULL;
	char what[80];
	const char *s;
	size_t len;

	snprintf(what, sizeof(what), "expected a string of at most %zu bytes", max);
	if (need(o, where, key, json_type_string, what, &v, err, errlen) < 0)
		return -EBADMSG;
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len > max)
		return field_error(err, errlen, where, key, what);
	if (memchr(s, '\0', len) != NULL)
		return field_error(err, errlen, where, key, "contains a NUL character");
	*out = s;
	*outlen = len;
	return 0;
}

static int
get_open(struct json_object *o, const char *where, const char *key, bool *out, char *err,
	 size_t errlen)
{
	const char *s;
	size_t len;

	if (get_string(o, where, key, 16, &s, &len, err, errlen) < 0)
		return field_error(err, errlen, where, key, "expected \"open\" or \"closed\"");
	if (strcmp(s, "open") == 0)
		*out = true;
	else if (strcmp(s, "closed") == 0)
		*out = false;
	else
		return field_error(err, errlen, where, key, "expected \"open\" or \"closed\"");
	return 0;
}

static int
get_object(struct json_object *o, const char *where, const char *key, struct json_object **out,
	   char *err, size_t errlen)
{
	return need(o, where, key, json_type_object, "expected an object", out, err, errlen);
}

/* How the port's closed state was established (baseline.h). Optional: a file from before
 * these keys existed gets what its other fields imply — a port not reported open whose
 * last miss was a reset or port unreachable, or that missed 3 cycles (the default
 * confirm.closed) in a row, counts as proven closed; an open streak as verified. */
static int
parse_port_proof(struct json_object *o, const char *where, struct bl_port *p, char *err,
		 size_t errlen)
{
	const char *s;
	size_t len;
	uint64_t u;

	if (!field(o, "closed_proven", NULL)) {
		p->closed_proven = p->known && !p->reported_open &&
				   (p->last_miss == PROBE_CLOSED || p->miss_streak >= 3);
		p->proven_by = !p->closed_proven ? PROBE_REASON_NONE
			       : p->last_miss == PROBE_CLOSED ? p->last_reason
							     : PROBE_REASON_NO_RESPONSE;
		p->quiet_cycles = p->reported_open ? 0 : p->miss_streak;
		p->quiet_since = 0;
		p->streak_verified = p->open_streak > 0;
		return 0;
	}
	if (get_bool(o, where, "closed_proven", &p->closed_proven, err, errlen) < 0 ||
	    get_bool(o, where, "streak_verified", &p->streak_verified, err, errlen) < 0 ||
	    get_uint(o, where, "quiet_since", UINT64_MAX, &p->quiet_since, err, errlen) < 0)
		return -EBADMSG;
	if (get_string(o, where, "proven_by", 32, &s, &len, err, errlen) < 0 ||
	    state_parse_reason_word(s, &p->proven_by) < 0)
		return field_error(err, errlen, where, "proven_by", "expected a probe reason "
				   "(\"reset\", \"port-unreach\", \"no-response\" or \"none\")");
	if (get_uint(o, where, "quiet_cycles", STATE_MAX_STREAK, &u, err, errlen) < 0)
		return -EBADMSG;
	p->quiet_cycles = (unsigned)u;
	return 0;
}

static int
parse_port(struct json_object *o, const char *where, struct bl_port *p, char *err,
	   size_t errlen)
{
	static const char *const keys[] = {
		"known", "baseline", "reported", "last", "last_reason", "open_streak",
		"miss_streak", "change_bits", "flapping", "open_before_flap", "first_seen",
		"last_seen", "last_change", "last_miss", "closed_proven", "proven_by",
		"quiet_cycles", "quiet_since", "streak_verified", NULL
	};
	const char *s;
	size_t len;
	uint64_t u;

	if (check_keys(o, where, keys, err, errlen) < 0 ||
	    get_bool(o, where, "known", &p->known, err, errlen) < 0 ||
	    get_open(o, where, "baseline", &p->baseline_open, err, errlen) < 0 ||
	    get_open(o, where, "reported", &p->reported_open, err, errlen) < 0)
		return -EBADMSG;
	if (get_string(o, where, "last", 16, &s, &len, err, errlen) < 0 ||
	    state_parse_state_word(s, &p->last) < 0)
		return field_error(err, errlen, where, "last",
				   "expected \"open\", \"closed\", \"filtered\" or \"none\"");
	if (get_string(o, where, "last_reason", 32, &s, &len, err, errlen) < 0 ||
	    state_parse_reason_word(s, &p->last_reason) < 0)
		return field_error(err, errlen, where, "last_reason", "expected a probe reason "
				   "(\"syn-ack\", \"reset\", ... or \"none\")");
	/* optional: files from before it existed say nothing (none) */
	p->last_miss = PROBE_STATE_NONE;
	if (field(o, "last_miss", NULL) &&
	    (get_string(o, where, "last_miss", 16, &s, &len, err, errlen) < 0 ||
	     state_parse_state_word(s, &p->last_miss) < 0 || p->last_miss == PROBE_OPEN))
		return field_error(err, errlen, where, "last_miss",
				   "expected \"closed\", \"filtered\" or \"none\"");
	if (get_uint(o, where, "open_streak", STATE_MAX_STREAK, &u, err, errlen) < 0)
		return -EBADMSG;
	p->open_streak = (unsigned)u;
	if (get_uint(o, where, "miss_streak", STATE_MAX_STREAK, &u, err, errlen) < 0)
		return -EBADMSG;
	p->miss_streak = (unsigned)u;
	if (get_uint(o, where, "change_bits", UINT16_MAX, &u, err, errlen) < 0)
		return -EBADMSG;
	p->change_bits = (uint16_t)u;
	if (get_bool(o, where, "flapping", &p->flapping, err, errlen) < 0 ||
	    get_bool(o, where, "open_before_flap", &p->open_before_flap, err, errlen) < 0 ||
	    get_uint(o, where, "first_seen", UINT64_MAX, &p->first_seen, err, errlen) < 0 ||
	    get_uint(o, where, "last_seen", UINT64_MAX, &p->last_seen, err, errlen) < 0 ||
	    get_uint(o, where, "last_change", UINT64_MAX, &p->last_change, err, errlen) < 0)
		return -EBADMSG;
	return parse_port_proof(o, where, p, err, errlen);
}

/* An optional boolean: present sets *out and returns 1, absent returns 0. */
static int
opt_bool(struct json_object *o, const char *where, const char *key, bool *out, char *err,
	 size_t errlen)
{
	if (!field(o, key, NULL))
		return 0;
	return get_bool(o, where, key, out, err, errlen) < 0 ? -EBADMSG : 1;
}

/* An optional string copied into dst (size dstlen, NUL-terminated). */
static int
opt_text(struct json_object *o, const char *where, const char *key, char *dst, size_t dstlen,
	 char *err, size_t errlen)
{
	const char *s;
	size_t len;

	if (!field(o, key, NULL))
		return 0;
	if (get_string(o, where, key, dstlen - 1, &s, &len, err, errlen) < 0)
		return -EBADMSG;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 1;
}

static int
parse_dns(struct json_object *o, const char *where, struct bl_dns *d, char *err, size_t errlen)
{
	static const char *const keys[] = {
		"known", "rcode", "aa", "ra",
		/* optional: the facts of the follow-up checks, each only when known */
		"recursion", "bogus", "version", "identity", "axfr", "axfr_zones",
		"amplification_x100", "tcp_dns", NULL
	};
	uint64_t u;
	int rc;

	if (check_keys(o, where, keys, err, errlen) < 0 ||
	    get_bool(o, where, "known", &d->known, err, errlen) < 0 ||
	    get_uint(o, where, "rcode", STATE_MAX_RCODE, &u, err, errlen) < 0 ||
	    get_bool(o, where, "aa", &d->aa, err, errlen) < 0 ||
	    get_bool(o, where, "ra", &d->ra, err, errlen) < 0)
		return -EBADMSG;
	d->rcode = (uint16_t)u;
	d->checks = 0;
	if ((rc = opt_bool(o, where, "recursion", &d->recursion, err, errlen)) < 0)
		return rc;
	if (rc == 1)
		d->checks |= DNSCHECK_RECURSION;
	if ((rc = opt_bool(o, where, "bogus", &d->bogus, err, errlen)) < 0)
		return rc;
	d->bogus_known = rc == 1;
	if ((rc = opt_text(o, where, "version", d->version, sizeof(d->version), err,
			   errlen)) < 0)
		return rc;
	if (rc == 1)
		d->checks |= DNSCHECK_VERSION;
	if ((rc = opt_bool(o, where, "identity", &d->identity, err, errlen)) < 0)
		return rc;
	if ((rc = opt_bool(o, where, "axfr", &d->axfr, err, errlen)) < 0)
		return rc;
	if (rc == 1)
		d->checks |= DNSCHECK_AXFR;
	if ((rc = opt_text(o, where, "axfr_zones", d->axfr_zones, sizeof(d->axfr_zones), err,
			   errlen)) < 0)
		return rc;
	if (field(o, "amplification_x100", NULL)) {
		if (get_uint(o, where, "amplification_x100", UINT32_MAX, &u, err, errlen) < 0)
			return -EBADMSG;
		d->amplification = (uint32_t)u;
		d->checks |= DNSCHECK_AMPLIFICATION;
	}
	if ((rc = opt_bool(o, where, "tcp_dns", &d->tcp_dns, err, errlen)) < 0)
		return rc;
	if (rc == 1)
		d->checks |= DNSCHECK_TCP_DNS;
	return 0;
}

static int
parse_entry(struct state *st, struct json_object *o, size_t idx, struct bl_entry *e, char *err,
	    size_t errlen)
{
	static const char *const keys[] = {
		"address", "target", "expect", "last_cycle", "tcp", "udp", "dns", NULL
	};
	static const char *const expect_keys[] = { "tcp", "udp", NULL };
	struct json_object *sub;
	char where[48], sub_where[64], buf[64], what[128];
	const char *s;
	size_t len;

	snprintf(where, sizeof(where), "entries[%zu]", idx);
	if (!json_object_is_type(o, json_type_object))
		return field_error(err, errlen, where, NULL, "expected an object");
	if (check_keys(o, where, keys, err, errlen) < 0 ||
	    get_string(o, where, "address", NETADDR_STRLEN - 1, &s, &len, err, errlen) < 0)
		return -EBADMSG;
	if (net_addr_parse(s, &e->addr) < 0) {
		snprintf(what, sizeof(what), "\"%s\" is not an IP address",
			 util_printable(s, buf, sizeof(buf), UTIL_PRINT_ASCII));
		return field_error(err, errlen, where, "address", what);
	}
	if (get_string(o, where, "target", BL_TARGET_MAX, &s, &len, err, errlen) < 0)
		return -EBADMSG;
	if ((e->target = state_label_len(st, s, len)) == NULL) {
		util_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}

	if (get_object(o, where, "expect", &sub, err, errlen) < 0)
		return -EBADMSG;
	snprintf(sub_where, sizeof(sub_where), "%s.expect", where);
	if (check_keys(sub, sub_where, expect_keys, err, errlen) < 0 ||
	    get_open(sub, sub_where, "tcp", &e->expect_open[PROBE_SLOT_TCP], err, errlen) < 0 ||
	    get_open(sub, sub_where, "udp", &e->expect_open[PROBE_SLOT_UDP], err, errlen) < 0 ||
	    get_uint(o, where, "last_cycle", UINT64_MAX, &e->last_cycle, err, errlen) < 0)
		return -EBADMSG;

	for (int slot = 0; slot < PROBE_NSLOTS; slot++) {
		const char *name = probe_slot_name((enum probe_slot)slot);
		if (get_object(o, where, name, &sub, err, errlen) < 0)
			return -EBADMSG;
		snprintf(sub_where, sizeof(sub_where), "%s.%s", where, name);
		if (parse_port(sub, sub_where, &e->port[slot], err, errlen) < 0)
			return -EBADMSG;
	}

	if (get_object(o, where, "dns", &sub, err, errlen) < 0)
		return -EBADMSG;
	snprintf(sub_where, sizeof(sub_where), "%s.dns", where);
	return parse_dns(sub, sub_where, &e->dns, err, errlen);
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct bl_entry *x = a, *y = b;

	return net_addr_cmp(&x->addr, &y->addr);
}

/* The root object, after the version was accepted. */
static int
parse_root(struct json_object *root, struct state *st, char *err, size_t errlen)
{
	static const char *const keys[] = {
		"version", "cycles", "last_cycle", "last_cycle_ns", "last_duration_ns",
		"degraded", "entries", "events_total", "instance", "silences", NULL
	};
	static const char *const event_keys[] = {
		"opened", "closed", "changed", "flapping", "degraded", "exposed", "recovered", "unresolved", "resolved", NULL
	};
	struct json_object *arr, *v;
	const char *s;
	size_t n, len;
	int rc;

	if (check_keys(root, "", keys, err, errlen) < 0 ||
	    get_uint(root, "", "cycles", UINT64_MAX, &st->cycles, err, errlen) < 0 ||
	    get_uint(root, "", "last_cycle_ns", UINT64_MAX, &st->last_cycle_wall, err,
		     errlen) < 0 ||
	    get_uint(root, "", "last_duration_ns", UINT64_MAX, &st->last_duration_ns, err,
		     errlen) < 0 ||
	    get_bool(root, "", "degraded", &st->degraded, err, errlen) < 0)
		return -EBADMSG;
	/* for people only (last_cycle_ns is authoritative) and optional, but typed */
	if (field(root, "last_cycle", &v) &&
	    get_string(root, "", "last_cycle", 31, &s, &len, err, errlen) < 0)
		return -EBADMSG;
	/* optional: "" or absent means a new id is made by the next cycle */
	if (field(root, "instance", &v)) {
		if (get_string(root, "", "instance", ALERT_ID_LEN - 1, &s, &len, err, errlen) < 0)
			return -EBADMSG;
		memcpy(st->instance, s, len);
		st->instance[len] = '\0';
	}
	/* optional (older files): counters of raised events, for metrics */
	if (field(root, "events_total", &v)) {
		if (need(root, "", "events_total", json_type_object, "expected an object", &v, err,
			 errlen) < 0 ||
		    check_keys(v, "events_total", event_keys, err, errlen) < 0)
			return -EBADMSG;
		for (int t = 0; event_keys[t] != NULL; t++) {
			enum alert_type at;
			if (alert_type_parse(event_keys[t], &at) < 0)
				continue;
			if (field(v, event_keys[t], NULL) &&
			    get_uint(v, "events_total", event_keys[t], UINT64_MAX,
				     &st->events_total[at], err, errlen) < 0)
				return -EBADMSG;
		}
	}
	/* `baseline show` lists the silences in force after the entries; they live in the
	 * database's own table, so a document read back brings its entries only */
	if (field(root, "silences", &v) &&
	    need(root, "", "silences", json_type_array, "expected an array", &v, err, errlen) < 0)
		return -EBADMSG;
	if (need(root, "", "entries", json_type_array, "expected an array", &arr, err, errlen) < 0)
		return -EBADMSG;

	n = json_object_array_length(arr);
	/* grow while parsing so that a huge array of junk fails at its first element
	 * instead of first allocating room for all of it */
	for (size_t i = 0; i < n; i++) {
		rc = reserve(st, st->n + 1);
		if (rc < 0) {
			util_errf(err, errlen, "out of memory");
			return rc;
		}
		memset(&st->entries[st->n], 0, sizeof(st->entries[0]));
		rc = parse_entry(st, json_object_array_get_idx(arr, i), i, &st->entries[st->n], err,
				 errlen);
		if (rc < 0)
			return rc == -ENOMEM ? rc : -EBADMSG;
		st->n++;
	}
	/* we write them sorted, but a file edited by hand need not be */
	if (st->n > 1)
		qsort(st->entries, st->n, sizeof(st->entries[0]), cmp_entry);
	for (size_t i = 1; i < st->n; i++)
		if (net_addr_cmp(&st->entries[i - 1].addr, &st->entries[i].addr) == 0) {
			char a[NETADDR_STRLEN], what[96];
			snprintf(what, sizeof(what), "address %s appears more than once",
				 net_addr_str(&st->entries[i].addr, a, sizeof(a)));
			return field_error(err, errlen, "entries", NULL, what);
		}
	return 0;
}

static void
line_col(const char *text, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* The reason without the file name: the loader puts it in its own sentence. */
static int
parse_doc(const char *text, size_t len, struct state *out, char *err, size_t errlen)
{
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL, *v;
	enum json_tokener_error jerr;
	struct state st;
	size_t i, end, line, col;
	uint64_t version;
	int rc = -EBADMSG;

	state_init(&st);
	if (len > STATE_MAX_BYTES) {
		util_errf(err, errlen, "larger than %u MiB", STATE_MAX_BYTES >> 20);
		goto out;
	}
	for (i = 0; i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' ||
				text[i] == '\n'); i++)
		;
	if (i == len) {
		util_errf(err, errlen, "the file is empty");
		goto out;
	}
	/* says "not ours" for binary junk more clearly than a tokenizer error would */
	if (text[i] != '{') {
		util_errf(err, errlen, "not a state document (it does not start with '{')");
		goto out;
	}
	tok = json_tokener_new_ex(STATE_MAX_DEPTH);
	if (tok == NULL) {
		util_errf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	/* trailing characters are our check below, which can say so in words */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	line_col(text, end <= len ? end : len, &line, &col);
	if (jerr == json_tokener_continue) {
		util_errf(err, errlen,
			  "truncated: the document ends at line %zu before it is complete", line);
		goto out;
	}
	if (jerr == json_tokener_error_depth) {
		util_errf(err, errlen, "nested deeper than %d levels at line %zu, column %zu",
			  STATE_MAX_DEPTH, line, col);
		goto out;
	}
	if (jerr != json_tokener_success || root == NULL) {
		util_errf(err, errlen, "not valid JSON at line %zu, column %zu (%s)", line, col,
			  json_tokener_error_desc(jerr));
		goto out;
	}
	/* json-c eats trailing white space and stops quietly at anything else, a NUL byte
	 * included: whatever it did not consume is damage */
	if (end != len) {
		util_errf(err, errlen, "unexpected data after the document at line %zu, column %zu",
			  line, col);
		goto out;
	}
	if (!json_object_is_type(root, json_type_object)) {
		util_errf(err, errlen, "not a state document (expected an object)");
		goto out;
	}
	/* the version decides how to read the rest, so it is checked first and alone */
	if (!field(root, "version", &v)) {
		util_errf(err, errlen, "version: missing");
		goto out;
	}
	if (v == NULL || jsonw_uint(v, 0, UINT64_MAX, &version) < 0) {
		util_errf(err, errlen, "version: expected an integer");
		goto out;
	}
	if (version != STATE_VERSION) {
		util_errf(err, errlen, "version %" PRIu64 " is not supported (expected %d)",
			  version, STATE_VERSION);
		goto out;
	}
	rc = parse_root(root, &st, err, errlen);
	if (rc < 0)
		goto out;
	state_clear(out);
	*out = st;
	state_init(&st);
out:
	state_clear(&st);
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}

int
state_parse(const char *text, size_t len, struct state *st, char *err, size_t errlen)
{
	char reason[256];
	int rc = parse_doc(text, len, st, reason, sizeof(reason));

	if (rc < 0)
		util_errf(err, errlen, "%s: %s", STATE_JSON_FILE, reason);
	return rc;
}
