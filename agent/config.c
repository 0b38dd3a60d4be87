/* config: load the JSON config, check every field before anything runs, print it redacted. */
#define _GNU_SOURCE /* explicit_bzero */
#include "agent/config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent/jsonw.h"
#include "agent/scan.h"
#include "agent/targets.h"
#include "alerts/event.h"
#include "alerts/sink.h"
#include "common/fileio.h"
#include "common/jsondup.h"
#include "common/netaddr.h"
#include "common/util.h"
#include "probes/dns.h"
#include "probes/dnscheck.h"

#define JSON_DEPTH 32        /* a config nests 4 deep; the cap stops stack-eating input */
#define FIELD_PATH_LEN 160   /* "alerts[12].resolve[3]" and the like */
#define SHOWN_LEN 64         /* user text quoted in a message is cut to about this */
#define SECRET_MAX_BYTES 65536
#define TARGET_NAME_MAX 255  /* fits alert_event.target */
#define WEEK_NS (7ull * 86400 * NS_PER_SEC) /* util_parse_duration's own ceiling */
#define DAY_NS (86400ull * NS_PER_SEC)
#define REDACTED "(redacted)"

/* Defaults that config_init points at, so that init allocates nothing; clear frees only
 * what does not point here. */
static char default_state_dir[] = CONFIG_DEFAULT_STATE_DIR;
static char default_qname[] = ".";

/* Configurable events: every alert type but ALERT_TEST (the last), as alerts/event.c names
 * them; severities the same. */
#define NEVENTS ((size_t)ALERT_TEST)
#define DEFAULT_EVENTS ((1u << NEVENTS) - 1)

static const char *const level_names[] = { "error", "warn", "info", "debug" };
_Static_assert(LOG_LVL_ERR == 0 && LOG_LVL_DEBUG == 3, "level_names follows enum log_level");

#define NCHECKS ((size_t)DNSCHECK_NCHECKS) /* probes/dnscheck.c names them */


static const char *const expect_names[] = { "closed", "open" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- small helpers ---- */

static bool
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Classic two-row edit distance; both strings are short (keys and names from our tables,
 * the user's side capped by the caller). */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[2][SHOWN_LEN + 1];

	if (la > SHOWN_LEN || lb > SHOWN_LEN)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *prev = row[(i - 1) & 1], *cur = row[i & 1];

		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
	}
	return row[la & 1][lb];
}

/* The nearest of names to text, if near enough to be a likely typo; else NULL. */
static const char *
nearest(const char *text, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX, len = strlen(text);

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(text, names[i]);

		if (d < bestd) {
			bestd = d;
			best = names[i];
		}
	}
	/* at most 2 edits, and 1 for words under 6 letters: "icmp" is no typo of "tcp" */
	if (best == NULL || bestd == 0 || bestd > 2 || bestd > (len / 3 > 1 ? len / 3 : 1))
		return NULL;
	return best;
}

/* "a, b, c" into buf. */
static const char *
join(const char *const *names, size_t n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}

/* Canonical duration text that util_parse_duration reads back to the same value. */
static const char *
fmt_duration(uint64_t ns, char *buf, size_t len)
{
	static const struct {
		uint64_t unit;
		const char *suffix;
	} units[] = {
		{ 3600 * NS_PER_SEC, "h" }, { 60 * NS_PER_SEC, "m" }, { NS_PER_SEC, "s" },
		{ NS_PER_MS, "ms" },
	};

	if (ns == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	/* days only beyond a week (retention): shorter spans read as they always did */
	if (ns > WEEK_NS && ns % DAY_NS == 0) {
		snprintf(buf, len, "%" PRIu64 "d", (uint64_t)(ns / DAY_NS));
		return buf;
	}
	for (size_t i = 0; i < NELEM(units); i++)
		if (ns % units[i].unit == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", ns / units[i].unit, units[i].suffix);
			return buf;
		}
	/* sub-millisecond remainder: fractional milliseconds, trailing zeros dropped */
	int w = snprintf(buf, len, "%" PRIu64 ".%06" PRIu64, (uint64_t)(ns / NS_PER_MS),
			 (uint64_t)(ns % NS_PER_MS));
	if (w > 0 && (size_t)w < len) {
		while (w > 0 && buf[w - 1] == '0')
			buf[--w] = '\0';
		snprintf(buf + w, len - (size_t)w, "ms");
	}
	return buf;
}

/* Secrets are wiped before their memory goes back to the allocator. */
static void
free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* ---- parse context and messages ---- */

struct sink_parse;

struct ctx {
	char file[256];            /* the config's name as shown in messages */
	char *err;
	size_t errlen;
	struct config *c;
	struct target_set *ts;     /* syntax check of targets and exclude */
	struct sink_parse *sp;     /* the sink being parsed */
};

/* Every message: "<file>: <field path>: <what is wrong>", one line. */
static int __attribute__((format(printf, 3, 4)))
fail(struct ctx *x, const char *path, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (x->err == NULL || x->errlen == 0)
		return -EINVAL;
	if (path != NULL && path[0] != '\0')
		snprintf(x->err, x->errlen, "%s: %s: %s", x->file, path, msg);
	else
		snprintf(x->err, x->errlen, "%s: %s", x->file, msg);
	/* whatever slipped through (strerror text, json-c text): still one line */
	for (char *p = x->err; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return -EINVAL;
}

static int
fail_oom(struct ctx *x)
{
	fail(x, NULL, "out of memory");
	return -ENOMEM;
}

/* A JSON value as quoted in "got ..." (never used for secret fields). */
static const char *
got(struct json_object *v, char *buf, size_t len)
{
	char tmp[SHOWN_LEN];

	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		snprintf(buf, len, "\"%s\"",
			 util_printable(json_object_get_string(v), tmp, sizeof(tmp), 0));
		return buf;
	default:
		return util_printable(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
				      buf, len, 0);
	}
}

/* The type of a value only: what a secret field's message may say about it. */
static const char *
got_type(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
	case json_type_int:
		return "a number";
	case json_type_string:
		return "a string";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	}
	return "something else";
}

static const char *
key_path(char *buf, size_t len, const char *parent, const char *key)
{
	char k[SHOWN_LEN];

	util_printable(key, k, sizeof(k), 0);
	if (k[0] == '\0')
		snprintf(k, sizeof(k), "\"\"");
	if (snprintf(buf, len, "%s%s%s", parent, parent[0] ? "." : "", k) >= (int)len)
		buf[len - 1] = '\0';
	return buf;
}

static const char *
index_path(char *buf, size_t len, const char *parent, size_t i)
{
	if (snprintf(buf, len, "%s[%zu]", parent, i) >= (int)len)
		buf[len - 1] = '\0';
	return buf;
}

/* ---- typed getters: each either stores a value or writes the message ---- */

static int
get_string(struct ctx *x, const char *path, struct json_object *v, const char **out)
{
	char g[SHOWN_LEN + 8];
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return fail(x, path, "expected a string, got %s", got(v, g, sizeof(g)));
	s = json_object_get_string(v);
	/* "\u0000" would silently cut the value short */
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return fail(x, path, "contains a NUL character");
	*out = s;
	return 0;
}

/* A string that may be a secret: messages name its type, never its text. */
static int
get_secret_string(struct ctx *x, const char *path, struct json_object *v, const char **out)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return fail(x, path, "expected a string, got %s", got_type(v));
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return fail(x, path, "contains a NUL character");
	if (s[0] == '\0')
		return fail(x, path, "is empty");
	*out = s;
	return 0;
}

static int
get_bool(struct ctx *x, const char *path, struct json_object *v, bool *out)
{
	char g[SHOWN_LEN + 8];

	if (!json_object_is_type(v, json_type_boolean))
		return fail(x, path, "expected true or false, got %s", got(v, g, sizeof(g)));
	*out = json_object_get_boolean(v);
	return 0;
}

static int
get_uint(struct ctx *x, const char *path, struct json_object *v, uint64_t min, uint64_t max,
	 uint64_t *out)
{
	char g[SHOWN_LEN + 8];

	if (jsonw_uint(v, min, max, out) == 0)
		return 0;
	if (max == INT64_MAX)
		return fail(x, path, "expected an integer from %" PRIu64 " to 2^63-1 (%" PRId64
			    "), got %s", min, INT64_MAX, got(v, g, sizeof(g)));
	return fail(x, path, "expected an integer from %" PRIu64 " to %" PRIu64 ", got %s", min,
		    max, got(v, g, sizeof(g)));
}

static int
get_duration(struct ctx *x, const char *path, struct json_object *v, uint64_t min,
	     uint64_t max, uint64_t *out)
{
	char g[SHOWN_LEN + 8], lo[32], hi[32];
	const char *s;
	uint64_t ns;
	int rc;

	/* a bare number is refused rather than guessed at: 300 seconds or milliseconds? */
	if (!json_object_is_type(v, json_type_string))
		return fail(x, path, "expected a duration string (e.g. \"800ms\", \"2s\", \"5m\"), "
			    "got %s", got(v, g, sizeof(g)));
	rc = get_string(x, path, v, &s);
	if (rc < 0)
		return rc;
	rc = util_parse_duration_max(s, max, &ns);
	if (rc == -EINVAL)
		return fail(x, path, "%s is not a duration (e.g. 800ms, 2s, 5m)",
			    got(v, g, sizeof(g)));
	if (rc < 0 || ns < min || ns > max)
		return fail(x, path, "%s is out of range (%s to %s)", got(v, g, sizeof(g)),
			    fmt_duration(min, lo, sizeof(lo)), fmt_duration(max, hi, sizeof(hi)));
	*out = ns;
	return 0;
}

/* One of names (exact match); the message lists them and suggests the nearest. */
static int
get_enum(struct ctx *x, const char *path, struct json_object *v, const char *const *names,
	 size_t n, size_t *out)
{
	char g[SHOWN_LEN + 8], list[256], hint[SHOWN_LEN + 32] = "";
	const char *s, *near;
	int rc;

	rc = get_string(x, path, v, &s);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	near = nearest(s, names, n);
	if (near != NULL)
		snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)", near);
	return fail(x, path, "%s is not one of %s%s", got(v, g, sizeof(g)),
		    join(names, n, list, sizeof(list)), hint);
}

static bool
owned(const char *p)
{
	return p != default_state_dir && p != default_qname;
}

static int
set_str(struct ctx *x, char **slot, const char *value)
{
	char *dup = strdup(value);

	if (dup == NULL)
		return fail_oom(x);
	if (owned(*slot))
		free(*slot);
	*slot = dup;
	return 0;
}

static int
get_abspath(struct ctx *x, const char *path, struct json_object *v, char **slot)
{
	char g[SHOWN_LEN + 8];
	const char *s;
	int rc;

	rc = get_string(x, path, v, &s);
	if (rc < 0)
		return rc;
	if (s[0] != '/')
		return fail(x, path, "%s is not an absolute path", got(v, g, sizeof(g)));
	if (has_ctl(s))
		return fail(x, path, "contains control characters");
	if (strlen(s) >= PATH_MAX)
		return fail(x, path, "longer than %d bytes", PATH_MAX - 1);
	return set_str(x, slot, s);
}

/* ---- objects: a table of keys per object kind ---- */

enum fkind { F_BOOL, F_UINT, F_DURATION, F_ABSPATH, F_FN };

typedef int (*field_fn)(struct ctx *x, const char *path, struct json_object *v, void *dst);

struct field {
	const char *key;
	enum fkind kind;
	size_t off;           /* into dst, for every kind but F_FN */
	size_t size;          /* F_UINT: width of the member */
	uint64_t min, max;    /* F_UINT, F_DURATION */
	field_fn fn;          /* F_FN */
	unsigned types;       /* sink keys: bit per sink type the key applies to; 0: all */
};

#define FBOOL(k, st, m) { k, F_BOOL, offsetof(st, m), 0, 0, 0, NULL, 0 }
#define FUINT(k, st, m, lo, hi) \
	{ k, F_UINT, offsetof(st, m), sizeof(((st *)0)->m), lo, hi, NULL, 0 }
#define FDUR(k, st, m, lo, hi) { k, F_DURATION, offsetof(st, m), 0, lo, hi, NULL, 0 }
#define FPATH(k, st, m) { k, F_ABSPATH, offsetof(st, m), 0, 0, 0, NULL, 0 }
#define FFN(k, fn) { k, F_FN, 0, 0, 0, 0, fn, 0 }
#define FSINK(k, fn, types) { k, F_FN, 0, 0, 0, 0, fn, types }

static int
store_uint(void *p, size_t size, uint64_t v)
{
	switch (size) {
	case sizeof(uint16_t):
		*(uint16_t *)p = (uint16_t)v;
		return 0;
	case sizeof(uint32_t):
		*(uint32_t *)p = (uint32_t)v;
		return 0;
	case sizeof(uint64_t):
		*(uint64_t *)p = v;
		return 0;
	}
	return -EINVAL;
}

/* The sink types of a bit set: "telegram", "telegram and ntfy". */
static const char *
types_text(unsigned types, char *buf, size_t len)
{
	const char *names[SINK_KIND_N];
	size_t n = 0, off = 0;

	for (unsigned t = 0; t < SINK_KIND_N; t++)
		if (types & (1u << t))
			names[n++] = sink_kind_names[t];
	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s",
				 i == 0 ? "" : i + 1 == n ? " and " : ", ", names[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}

static unsigned sink_type_of(const struct ctx *x);

static int
parse_object(struct ctx *x, const char *path, struct json_object *obj, const struct field *fields,
	     size_t nfields, void *dst)
{
	char g[SHOWN_LEN + 8], sub[FIELD_PATH_LEN];
	int rc;

	if (!json_object_is_type(obj, json_type_object))
		return fail(x, path, "expected an object, got %s", got(obj, g, sizeof(g)));
	json_object_object_foreach(obj, key, v) {
		const struct field *f = NULL;
		uint64_t u = 0;

		for (size_t i = 0; i < nfields; i++)
			if (strcmp(key, fields[i].key) == 0) {
				f = &fields[i];
				break;
			}
		key_path(sub, sizeof(sub), path, key);
		if (f == NULL) {
			const char *names[32], *near;
			char list[512];
			size_t n = nfields < NELEM(names) ? nfields : NELEM(names);

			size_t m = 0;

			/* offer only keys that apply here (a sink's type narrows them) */
			for (size_t i = 0; i < n; i++)
				if (fields[i].types == 0 ||
				    (fields[i].types & (1u << sink_type_of(x))))
					names[m++] = fields[i].key;
			n = m;
			near = nearest(key, names, n);
			if (near != NULL)
				return fail(x, sub, "unknown key (did you mean \"%s\"?)", near);
			return fail(x, sub, "unknown key (valid: %s)",
				    join(names, n, list, sizeof(list)));
		}
		/* whichever list is shorter: "only for telegram", "not for alertmanager" */
		if (f->types != 0 && !(f->types & (1u << sink_type_of(x))) &&
		    (unsigned)__builtin_popcount(f->types & ((1u << SINK_KIND_N) - 1)) * 2 <=
			    SINK_KIND_N)
			return fail(x, sub, "only for %s", types_text(f->types, g, sizeof(g)));
		if (f->types != 0 && !(f->types & (1u << sink_type_of(x))))
			return fail(x, sub, "not for %s", types_text(~f->types, g, sizeof(g)));
		/* null is the default, as config_print shows unset keys: its output reads back */
		if (json_object_is_type(v, json_type_null))
			continue;
		switch (f->kind) {
		case F_BOOL:
			rc = get_bool(x, sub, v, (bool *)((char *)dst + f->off));
			break;
		case F_UINT:
			rc = get_uint(x, sub, v, f->min, f->max, &u);
			if (rc == 0)
				rc = store_uint((char *)dst + f->off, f->size, u);
			break;
		case F_DURATION:
			rc = get_duration(x, sub, v, f->min, f->max,
					  (uint64_t *)((char *)dst + f->off));
			break;
		case F_ABSPATH:
			rc = get_abspath(x, sub, v, (char **)((char *)dst + f->off));
			break;
		case F_FN:
		default:
			rc = f->fn(x, sub, v, dst);
			break;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* An array, with a message if it is not one. */
static int
get_array(struct ctx *x, const char *path, struct json_object *v, const char *what, size_t *n)
{
	char g[SHOWN_LEN + 8];

	if (!json_object_is_type(v, json_type_array))
		return fail(x, path, "expected an array of %s, got %s", what, got(v, g, sizeof(g)));
	*n = json_object_array_length(v);
	return 0;
}

/* Checks one string of a list; writes the message itself. */
typedef int (*text_check_fn)(struct ctx *x, const char *path, const char *text);

/* An array of strings (described as what), each passing check, copied into a new array at
 * *out of *count; an empty array leaves both as they are. */
static int
get_string_list(struct ctx *x, const char *path, struct json_object *v, const char *what,
		text_check_fn check, char ***out, size_t *count)
{
	char sub[FIELD_PATH_LEN];
	size_t n;
	int rc;

	rc = get_array(x, path, v, what, &n);
	if (rc < 0 || n == 0)
		return rc;
	*out = calloc(n, sizeof(**out));
	if (*out == NULL)
		return fail_oom(x);
	*count = n;
	for (size_t i = 0; i < n; i++) {
		const char *s;

		index_path(sub, sizeof(sub), path, i);
		rc = get_string(x, sub, json_object_array_get_idx(v, i), &s);
		if (rc == 0)
			rc = check(x, sub, s);
		if (rc == 0)
			rc = set_str(x, &(*out)[i], s);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- targets and exclude ---- */

/* Syntax only: any name that passes targets.c's host name rules "resolves" to one
 * documentation address, so the check never waits on DNS. */
static int
resolve_none(const char *name, struct net_addr *out, size_t max, size_t *count, char *err,
	     size_t errlen)
{
	(void)name;
	(void)err;
	(void)errlen;
	*count = 0;
	if (max == 0)
		return 0;
	if (net_addr_parse("192.0.2.1", &out[0]) < 0)
		return -EINVAL;
	*count = 1;
	return 0;
}

/* Check one target's syntax (and an @FILE's lines) through targets.c. */
static int
check_target(struct ctx *x, const char *path, const char *text, bool exclude)
{
	char msg[512], q[SHOWN_LEN];
	struct stat sb;
	int rc;

	if (strcmp(text, "-") == 0)
		return fail(x, path, "\"-\" (stdin) cannot be used in a config file; use @FILE");
	/* a FIFO or device behind @FILE would block or never end */
	if (text[0] == '@' && stat(text + 1, &sb) == 0 && !S_ISREG(sb.st_mode))
		return fail(x, path, "%s: not a regular file",
			    util_printable(text + 1, q, sizeof(q), 0));
	if (exclude)
		rc = targets_exclude(x->ts, text, msg, sizeof(msg));
	else
		rc = targets_add(x->ts, text, NULL, msg, sizeof(msg));
	if (rc == -ENOMEM)
		return fail_oom(x);
	if (rc < 0)
		return fail(x, path, "%s", msg);
	return 0;
}

static int
target_text(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_target *t = dst;
	const char *s;
	int rc;

	rc = get_string(x, path, v, &s);
	if (rc == 0)
		rc = check_target(x, path, s, false);
	if (rc == 0)
		rc = set_str(x, &t->target, s);
	return rc;
}

static int
target_name(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_target *t = dst;
	const char *s;
	int rc;

	rc = get_string(x, path, v, &s);
	if (rc < 0)
		return rc;
	if (s[0] == '\0')
		return fail(x, path, "is empty");
	if (has_ctl(s))
		return fail(x, path, "contains control characters");
	if (strlen(s) > TARGET_NAME_MAX)
		return fail(x, path, "longer than %d bytes", TARGET_NAME_MAX);
	return set_str(x, &t->name, s);
}

static int
expect_slot(struct ctx *x, const char *path, struct json_object *v, struct config_target *t,
	    enum probe_slot slot)
{
	size_t i;
	int rc;

	rc = get_enum(x, path, v, expect_names, NELEM(expect_names), &i);
	if (rc == 0)
		t->expect_open[slot] = i == 1;
	return rc;
}

static int
expect_tcp(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	return expect_slot(x, path, v, dst, PROBE_SLOT_TCP);
}

static int
expect_udp(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	return expect_slot(x, path, v, dst, PROBE_SLOT_UDP);
}

static const struct field expect_fields[] = {
	FFN("tcp", expect_tcp),
	FFN("udp", expect_udp),
};

static int
target_expect(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	return parse_object(x, path, v, expect_fields, NELEM(expect_fields), dst);
}

/* A zone for axfr and amplification: a DNS name. */
static int
check_zone(struct ctx *x, const char *path, const char *text)
{
	uint8_t wire[DNS_MAX_NAME];
	char q[SHOWN_LEN];

	if (dns_name_from_text(text, wire, sizeof(wire)) < 0)
		return fail(x, path, "\"%s\" is not a valid DNS name",
			    util_printable(text, q, sizeof(q), 0));
	return 0;
}

/* A list of zones, at most DNSCHECK_MAX_ZONES: each address gets a bounded number of
 * queries. */
static int
get_zones(struct ctx *x, const char *path, struct json_object *v, char ***out, size_t *n)
{
	size_t len;
	int rc;

	rc = get_array(x, path, v, "zone names", &len);
	if (rc < 0)
		return rc;
	if (len > DNSCHECK_MAX_ZONES)
		return fail(x, path, "at most %d zones", DNSCHECK_MAX_ZONES);
	return get_string_list(x, path, v, "zone names", check_zone, out, n);
}

static int
target_zones(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_target *t = dst;

	t->zones_set = true;
	return get_zones(x, path, v, &t->zones, &t->nzones);
}

/* A runbook_url: what every chat service can take as a link (alert_url_ok, the one rule
 * the formatters apply again to what they read from the outbox). */
static int
get_runbook(struct ctx *x, const char *path, struct json_object *v, char **slot)
{
	char g[SHOWN_LEN + 8];
	const char *s;
	int rc;

	rc = get_string(x, path, v, &s);
	if (rc < 0)
		return rc;
	if (!alert_url_ok(s))
		return fail(x, path, "%s is not a runbook URL (http or https, at most %d bytes, no "
			    "spaces, quotes, @ or any of < > \\ ^ ` { | })",
			    got(v, g, sizeof(g)), ALERT_URL_MAX - 1);
	return set_str(x, slot, s);
}

static int
target_runbook(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_target *t = dst;

	return get_runbook(x, path, v, &t->runbook_url);
}

static const struct field target_fields[] = {
	FFN("target", target_text),
	FFN("name", target_name),
	FFN("expect", target_expect),
	FDUR("interval", struct config_target, interval_ns, NS_PER_SEC, WEEK_NS),
	FFN("zones", target_zones),
	FFN("runbook_url", target_runbook),
};

static int
parse_targets(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;
	char sub[FIELD_PATH_LEN], tsub[FIELD_PATH_LEN], g[SHOWN_LEN + 8];
	size_t n;
	int rc;

	rc = get_array(x, path, v, "targets", &n);
	if (rc < 0)
		return rc;
	if (n == 0)
		return fail(x, path, "must list at least one target");
	c->targets = calloc(n, sizeof(*c->targets));
	if (c->targets == NULL)
		return fail_oom(x);
	c->ntargets = n;
	for (size_t i = 0; i < n; i++) {
		struct json_object *item = json_object_array_get_idx(v, i);
		struct config_target *t = &c->targets[i];

		index_path(sub, sizeof(sub), path, i);
		if (json_object_is_type(item, json_type_string)) {
			rc = target_text(x, sub, item, t);
		} else if (json_object_is_type(item, json_type_object)) {
			rc = parse_object(x, sub, item, target_fields, NELEM(target_fields), t);
			if (rc == 0 && t->target == NULL)
				rc = fail(x, key_path(tsub, sizeof(tsub), sub, "target"),
					  "required");
		} else {
			rc = fail(x, sub, "expected a target string or an object with "
				  "\"target\", got %s", got(item, g, sizeof(g)));
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
check_exclude(struct ctx *x, const char *path, const char *text)
{
	return check_target(x, path, text, true);
}

static int
parse_exclude(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;

	return get_string_list(x, path, v, "targets", check_exclude, &c->exclude, &c->nexclude);
}

/* ---- probe, confirm, log ---- */

static int
probe_qname(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_probe *p = dst;
	uint8_t wire[DNS_MAX_NAME];
	char g[SHOWN_LEN + 8];
	const char *s;
	int rc;

	rc = get_string(x, path, v, &s);
	if (rc < 0)
		return rc;
	if (dns_name_from_text(s, wire, sizeof(wire)) < 0)
		return fail(x, path, "%s is not a valid DNS name", got(v, g, sizeof(g)));
	return set_str(x, &p->qname, s);
}

static int
probe_qtype(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_probe *p = dst;
	char g[SHOWN_LEN + 8];
	const char *s;
	int rc;

	rc = get_string(x, path, v, &s);
	if (rc < 0)
		return rc;
	if (dns_type_from_text(s, &p->qtype) < 0)
		return fail(x, path, "%s is not a DNS type (e.g. NS, A, SOA, TYPE65)",
			    got(v, g, sizeof(g)));
	return 0;
}

static int
probe_checks(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	const char *names[NCHECKS + 2];
	struct config_probe *p = dst;
	char sub[FIELD_PATH_LEN], g[SHOWN_LEN + 8];
	unsigned bits = 0;
	size_t n, k;
	int rc;

	for (size_t i = 0; i < NCHECKS; i++)
		names[i] = dnscheck_check_names[i];
	names[NCHECKS] = "all";
	names[NCHECKS + 1] = "none";
	rc = get_array(x, path, v, "check names", &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct json_object *item = json_object_array_get_idx(v, i);

		index_path(sub, sizeof(sub), path, i);
		rc = get_enum(x, sub, item, names, NELEM(names), &k);
		if (rc < 0)
			return rc;
		/* "all" next to a name would be ambiguous (all of them, or all but?) */
		if (k >= NCHECKS && n > 1)
			return fail(x, sub, "%s must be the only entry", got(item, g, sizeof(g)));
		if (k < NCHECKS)
			bits |= 1u << k;
		else if (k == NCHECKS)
			bits = DNSCHECK_ALL;
	}
	p->checks = bits;
	return 0;
}

static int
probe_tcp_mode(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	static const char *const modes[] = { "connect", "syn" };
	struct config_probe *p = dst;
	size_t i;
	int rc;

	rc = get_enum(x, path, v, modes, NELEM(modes), &i);
	if (rc == 0)
		p->tcp_syn = i == 1;
	return rc;
}

static const struct field probe_fields[] = {
	FBOOL("tcp", struct config_probe, tcp),
	FBOOL("udp", struct config_probe, udp),
	FUINT("port", struct config_probe, port, 1, 65535),
	FDUR("timeout", struct config_probe, timeout_ns, NS_PER_MS, 60 * NS_PER_SEC),
	FUINT("retries", struct config_probe, retries, 0, 10),
	FUINT("recheck", struct config_probe, recheck, 0, 5),
	FUINT("rate", struct config_probe, rate_pps, 0, 10000000),
	FUINT("concurrency", struct config_probe, concurrency, 1, 65536),
	FFN("qname", probe_qname),
	FFN("qtype", probe_qtype),
	FFN("checks", probe_checks),
	FFN("tcp_mode", probe_tcp_mode),
};

static int
parse_probe(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;
	int rc;

	rc = parse_object(x, path, v, probe_fields, NELEM(probe_fields), &c->probe);
	if (rc == 0 && !c->probe.tcp && !c->probe.udp)
		return fail(x, path, "tcp and udp are both false: nothing would be probed");
	return rc;
}

static const struct field confirm_fields[] = {
	FUINT("open", struct config, confirm_open, 1, 100),
	FUINT("closed", struct config, confirm_closed, 1, 100),
};

static int
parse_confirm(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	return parse_object(x, path, v, confirm_fields, NELEM(confirm_fields), dst);
}

static int
log_level(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;
	size_t i;
	int rc;

	rc = get_enum(x, path, v, level_names, NELEM(level_names), &i);
	if (rc == 0)
		c->log_level = (enum log_level)i;
	return rc;
}

static const struct field log_fields[] = {
	FFN("level", log_level),
	FBOOL("syslog", struct config, log_syslog),
};

static int
parse_log(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	return parse_object(x, path, v, log_fields, NELEM(log_fields), dst);
}

/* ---- history ---- */

static const struct field history_fields[] = {
	FDUR("retention", struct config, history_retention_ns, DAY_NS,
	     CONFIG_MAX_HISTORY_RETENTION_NS),
};

static int
parse_history(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	return parse_object(x, path, v, history_fields, NELEM(history_fields), dst);
}

/* ---- alert sinks ---- */

enum secret_src { SRC_NONE = 0, SRC_INLINE, SRC_FILE, SRC_ENV };

/* One secret while its sink is parsed: which of KEY, KEY_file, KEY_env was given. */
struct secret_spec {
	const char *key;
	enum secret_src src;
	const char *given;                 /* value, path or variable name (in the JSON tree) */
	char path[FIELD_PATH_LEN];         /* the field path it was given at */
};

struct sink_parse {
	struct config_sink *s;
	struct secret_spec url, secret, token;
	char *urls;                        /* "urls" joined a line each: url's inline value */
};

static unsigned
sink_type_of(const struct ctx *x)
{
	return x->sp != NULL ? (unsigned)x->sp->s->type : 0;
}

#define T(kind) (1u << SINK_KIND_##kind)

static int
secret_given(struct ctx *x, const char *path, struct json_object *v, struct secret_spec *sp,
	     enum secret_src src)
{
	static const char *const suffix[] = { "", "", "_file", "_env" };
	const char *s;
	int rc;

	if (sp->src != SRC_NONE)
		return fail(x, path, "%s%s is given too; use only one of %s, %s_file, %s_env",
			    sp->key, suffix[sp->src], sp->key, sp->key, sp->key);
	if (src == SRC_INLINE)
		rc = get_secret_string(x, path, v, &s);
	else
		rc = get_string(x, path, v, &s);
	if (rc < 0)
		return rc;
	if (src != SRC_INLINE && s[0] == '\0')
		return fail(x, path, "is empty");
	sp->src = src;
	sp->given = s;
	snprintf(sp->path, sizeof(sp->path), "%s", path);
	return 0;
}

#define SECRET_FNS(field)                                                                   \
	static int sink_##field(struct ctx *x, const char *path, struct json_object *v,    \
				void *dst)                                                 \
	{                                                                                  \
		(void)dst;                                                                 \
		return secret_given(x, path, v, &x->sp->field, SRC_INLINE);                \
	}                                                                                  \
	static int sink_##field##_file(struct ctx *x, const char *path, struct json_object *v, \
				       void *dst)                                          \
	{                                                                                  \
		(void)dst;                                                                 \
		return secret_given(x, path, v, &x->sp->field, SRC_FILE);                  \
	}                                                                                  \
	static int sink_##field##_env(struct ctx *x, const char *path, struct json_object *v, \
				      void *dst)                                           \
	{                                                                                  \
		(void)dst;                                                                 \
		return secret_given(x, path, v, &x->sp->field, SRC_ENV);                   \
	}

SECRET_FNS(url)
SECRET_FNS(secret)
SECRET_FNS(token)

/* A secret's three keys (inline, _file, _env) for the sink types in `types` (0: all). */
#define FSECRET(key, types)                                                                  \
	FSINK(#key, sink_##key, types), FSINK(#key "_file", sink_##key##_file, types),         \
		FSINK(#key "_env", sink_##key##_env, types)

/* alertmanager's "urls": every instance of the cluster (Alertmanager wants clients to send
 * to all). The same value as an inline url holding them a line each. */
static int
sink_urls(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	char sub[FIELD_PATH_LEN], g[SHOWN_LEN + 8];
	size_t n, len = 0;
	const char *u;
	int rc;

	(void)dst;
	if (x->sp->url.src != SRC_NONE)
		return fail(x, path, "url is given too; use only one of urls, url, url_file, "
			    "url_env");
	if (!json_object_is_type(v, json_type_array))
		return fail(x, path, "expected an array of URLs, got %s", got(v, g, sizeof(g)));
	n = json_object_array_length(v);
	if (n == 0 || n > CONFIG_AM_URLS_MAX)
		return fail(x, path, "expected 1 to %d URLs, got %zu", CONFIG_AM_URLS_MAX, n);
	for (size_t i = 0; i < n; i++) {
		rc = get_secret_string(x, index_path(sub, sizeof(sub), path, i),
				       json_object_array_get_idx(v, i), &u);
		if (rc < 0)
			return rc;
		len += strlen(u) + 1;
	}
	x->sp->urls = calloc(1, len + 1);
	if (x->sp->urls == NULL)
		return fail_oom(x);
	for (size_t i = 0; i < n; i++) {
		(void)get_secret_string(x, path, json_object_array_get_idx(v, i), &u);
		strcat(x->sp->urls, u);
		strcat(x->sp->urls, "\n");
	}
	x->sp->url.src = SRC_INLINE;
	x->sp->url.given = x->sp->urls;
	snprintf(x->sp->url.path, sizeof(x->sp->url.path), "%s", path);
	return 0;
}

static int
sink_type_key(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	/* read before the other keys (it decides which apply); nothing left to do */
	(void)x;
	(void)path;
	(void)v;
	(void)dst;
	return 0;
}

static bool
sink_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CONFIG_SINK_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '#'))
			return false;
	}
	return true;
}

static int
sink_name(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_sink *s = dst;
	char g[SHOWN_LEN + 8];
	const char *name;
	int rc;

	rc = get_string(x, path, v, &name);
	if (rc < 0)
		return rc;
	/* the name is also the sink's outbox directory: keep it to one safe spelling */
	if (!sink_name_ok(name))
		return fail(x, path, "%s: use 1 to %d letters, digits, '-', '_' or '#'",
			    got(v, g, sizeof(g)), CONFIG_SINK_NAME_MAX);
	return set_str(x, &s->name, name);
}

static int
sink_chat_id(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_sink *s = dst;
	char g[SHOWN_LEN + 8], num[24];
	const char *id;
	int rc;

	/* numeric ids are often written as JSON numbers (-1001234567890) */
	if (json_object_is_type(v, json_type_int)) {
		snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(v));
		return set_str(x, &s->chat_id, num);
	}
	if (!json_object_is_type(v, json_type_string))
		return fail(x, path, "expected a chat id (a number or \"@channel\"), got %s",
			    got(v, g, sizeof(g)));
	rc = get_string(x, path, v, &id);
	if (rc < 0)
		return rc;
	if (id[0] == '\0' || has_ctl(id) || strchr(id, ' ') != NULL)
		return fail(x, path, "%s is not a chat id (a number or \"@channel\")",
			    got(v, g, sizeof(g)));
	return set_str(x, &s->chat_id, id);
}

static int
sink_events(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_sink *s = dst;
	char sub[FIELD_PATH_LEN];
	unsigned bits = 0;
	size_t n, k;
	int rc;

	rc = get_array(x, path, v, "event names", &n);
	if (rc < 0)
		return rc;
	if (n == 0)
		return fail(x, path, "must list at least one event (or leave the key out for all)");
	for (size_t i = 0; i < n; i++) {
		index_path(sub, sizeof(sub), path, i);
		rc = get_enum(x, sub, json_object_array_get_idx(v, i), alert_type_names, NEVENTS,
			      &k);
		if (rc < 0)
			return rc;
		bits |= 1u << k;
	}
	/* `exposed` is the first-sight form of `opened`, and `recovered` its form for an
	 * expected-open port (each was an `opened` before): a sink that wants openings wants
	 * them too */
	if (bits & (1u << ALERT_OPENED))
		bits |= 1u << ALERT_EXPOSED | 1u << ALERT_RECOVERED;
	s->events = bits;
	return 0;
}

static int
sink_min_severity(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_sink *s = dst;
	size_t i;
	int rc;

	rc = get_enum(x, path, v, alert_severity_names, ALERT_NSEVERITIES, &i);
	if (rc == 0)
		s->min_severity = (enum alert_severity)i;
	return rc;
}

static int
sink_ca_file(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_sink *s = dst;
	char q[SHOWN_LEN];
	struct stat sb;
	const char *f;
	int rc, fd, saved;

	rc = get_string(x, path, v, &f);
	if (rc < 0)
		return rc;
	if (f[0] == '\0')
		return fail(x, path, "is empty");
	util_printable(f, q, sizeof(q), 0);
	/* opened, not access()ed: what counts is whether we can read it, as whoever we run as */
	fd = open(f, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return fail(x, path, "%s: %s", q, strerror(errno));
	rc = fstat(fd, &sb);
	saved = errno;
	close(fd);
	if (rc == -1)
		return fail(x, path, "%s: %s", q, strerror(saved));
	if (!S_ISREG(sb.st_mode))
		return fail(x, path, "%s: not a regular file", q);
	return set_str(x, &s->ca_file, f);
}

/* "host:port:address[,address...]" as CURLOPT_RESOLVE takes it; addresses may be
 * bracketed IPv6. */
static int
check_resolve(struct ctx *x, const char *path, const char *text)
{
	char q[SHOWN_LEN], qa[SHOWN_LEN], buf[512], *port, *addrs, *a, *save = NULL;
	struct net_addr na;
	uint64_t p;

	util_printable(text, q, sizeof(q), 0);
	if (strlen(text) >= sizeof(buf))
		return fail(x, path, "\"%s\" is too long", q);
	memcpy(buf, text, strlen(text) + 1);
	port = strchr(buf, ':');
	addrs = port ? strchr(port + 1, ':') : NULL;
	if (port == NULL || addrs == NULL || port == buf || addrs[1] == '\0' || has_ctl(text))
		return fail(x, path, "\"%s\" is not HOST:PORT:ADDRESS", q);
	*port++ = '\0';
	*addrs++ = '\0';
	if (util_parse_uint(port, 1, 65535, &p) < 0)
		return fail(x, path, "\"%s\": the port is not a number from 1 to 65535", q);
	for (a = strtok_r(addrs, ",", &save); a != NULL; a = strtok_r(NULL, ",", &save)) {
		size_t al = strlen(a);

		if (al >= 2 && a[0] == '[' && a[al - 1] == ']') {
			a[al - 1] = '\0';
			a++;
		}
		if (net_addr_parse(a, &na) < 0)
			return fail(x, path, "\"%s\": \"%s\" is not an IP address", q,
				    util_printable(a, qa, sizeof(qa), 0));
	}
	return 0;
}

static int
sink_resolve(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_sink *s = dst;

	return get_string_list(x, path, v, "\"host:port:address\" strings", check_resolve,
			       &s->resolve, &s->nresolve);
}

/* scheme://host...: the scheme one of schemes (case-insensitive), an authority that is
 * not empty, nothing that would break a request line or a header. */
static bool
url_ok(const char *u, const char *const *schemes, size_t n)
{
	const char *sep = strstr(u, "://"), *host;

	if (sep == NULL)
		return false;
	for (const char *p = u; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	host = sep + 3;
	if (*host == '\0' || *host == '/' || *host == '?' || *host == '#' || *host == '@' ||
	    *host == ':')
		return false;
	for (size_t i = 0; i < n; i++)
		if (strlen(schemes[i]) == (size_t)(sep - u) &&
		    strncasecmp(u, schemes[i], (size_t)(sep - u)) == 0)
			return true;
	return false;
}

static const char *const http_schemes[] = { "http", "https" };
static const char *const proxy_schemes[] = { "http", "https", "socks4", "socks4a", "socks5",
					     "socks5h" };

static int
sink_proxy(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_sink *s = dst;
	const char *p;
	int rc;

	/* a proxy URL may carry user:password: treated like a secret in messages */
	rc = get_secret_string(x, path, v, &p);
	if (rc < 0)
		return rc;
	if (!url_ok(p, proxy_schemes, NELEM(proxy_schemes)))
		return fail(x, path, "expected a proxy URL (http, https, socks4, socks4a, socks5 "
			    "or socks5h://HOST[:PORT])");
	return set_str(x, &s->proxy, p);
}

static int
sink_priority(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_sink *s = dst;
	char g[SHOWN_LEN + 8], list[128];
	const char *p;
	size_t i;
	int rc;

	if (json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);

		if (n < 1 || n > 5)
			return fail(x, path, "expected 1 to 5 or one of %s, got %s",
				    join(sink_ntfy_priorities, SINK_NTFY_NPRIORITIES, list,
					 sizeof(list)),
				    got(v, g, sizeof(g)));
		return set_str(x, &s->priority, sink_ntfy_priorities[n - 1]);
	}
	if (json_object_is_type(v, json_type_string)) {
		rc = get_string(x, path, v, &p);
		if (rc < 0)
			return rc;
		if (p[0] >= '1' && p[0] <= '5' && p[1] == '\0')
			return set_str(x, &s->priority, sink_ntfy_priorities[p[0] - '1']);
	}
	rc = get_enum(x, path, v, sink_ntfy_priorities, SINK_NTFY_NPRIORITIES, &i);
	if (rc < 0)
		return rc;
	return set_str(x, &s->priority, sink_ntfy_priorities[i]);
}

/* Checked against the type once the whole sink is read (parse_sink): mention_name and
 * the type's syntax belong together. */
static int
sink_mention(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_sink *s = dst;
	const char *m;
	int rc;

	(void)path;
	rc = get_string(x, path, v, &m);
	if (rc < 0)
		return rc;
	s->mention_on = true;
	return set_str(x, &s->mention, m);
}

static int
sink_mention_name(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_sink *s = dst;
	const char *m;
	int rc;

	rc = get_string(x, path, v, &m);
	if (rc < 0)
		return rc;
	return set_str(x, &s->mention_name, m);
}

static int
sink_mention_min_severity(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_sink *s = dst;
	size_t i;
	int rc;

	rc = get_enum(x, path, v, alert_severity_names, ALERT_NSEVERITIES, &i);
	if (rc == 0) {
		s->mention_min_severity = (enum alert_severity)i;
		s->mention_on = true;
	}
	return rc;
}

static const struct field sink_fields[] = {
	FFN("type", sink_type_key),
	FFN("name", sink_name),
	FSECRET(url, 0),
	FSECRET(secret, T(WEBHOOK)),
	FSINK("urls", sink_urls, T(ALERTMANAGER)),
	FSECRET(token, T(TELEGRAM) | T(NTFY) | T(ALERTMANAGER)),
	FSINK("chat_id", sink_chat_id, T(TELEGRAM)),
	/* alertmanager takes no events: each cycle posts what is wrong now (agent/amsync.c) */
	FSINK("events", sink_events, ~T(ALERTMANAGER)),
	FSINK("min_severity", sink_min_severity, ~T(ALERTMANAGER)),
	FFN("ca_file", sink_ca_file),
	FFN("resolve", sink_resolve),
	FFN("proxy", sink_proxy),
	FDUR("timeout", struct config_sink, timeout_ns, 100 * NS_PER_MS, 300 * NS_PER_SEC),
	FDUR("max_age", struct config_sink, max_age_ns, 60 * NS_PER_SEC, WEEK_NS),
	FSINK("priority", sink_priority, T(NTFY)),
	FSINK("mention", sink_mention, ~(T(WEBHOOK) | T(NTFY) | T(ALERTMANAGER))),
	FSINK("mention_name", sink_mention_name, T(TEAMS) | T(TELEGRAM)),
	FSINK("mention_min_severity", sink_mention_min_severity,
	      ~(T(WEBHOOK) | T(ALERTMANAGER))),
};

/* A secret file must be the owner's alone: a world-readable webhook URL is a leaked one. */
static int
secret_from_file(struct ctx *x, const struct secret_spec *sp, char **out)
{
	char q[SHOWN_LEN], *buf = NULL;
	struct stat sb;
	size_t len;
	int rc;

	util_printable(sp->given, q, sizeof(q), 0);
	if (stat(sp->given, &sb) == -1)
		return fail(x, sp->path, "%s: %s", q, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return fail(x, sp->path, "%s: not a regular file", q);
	if (sb.st_mode & 044)
		return fail(x, sp->path, "%s is readable by group or others; chmod 600 it", q);
	if (sb.st_mode & 077)
		return fail(x, sp->path, "%s is writable by group or others; chmod 600 it", q);
	rc = file_read_all(sp->given, SECRET_MAX_BYTES, &buf, &len);
	if (rc == -EFBIG)
		return fail(x, sp->path, "%s: larger than %d KiB", q, SECRET_MAX_BYTES / 1024);
	if (rc == -ENOMEM)
		return fail_oom(x);
	if (rc < 0)
		return fail(x, sp->path, "%s: %s", q, strerror(-rc));
	/* editors end files with a newline; it is not part of the secret */
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
			   buf[len - 1] == '\t'))
		buf[--len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		explicit_bzero(buf, len);
		free(buf);
		return fail(x, sp->path, "%s: not a text file", q);
	}
	if (len == 0) {
		free(buf);
		return fail(x, sp->path, "%s is empty", q);
	}
	*out = buf;
	return 0;
}

static bool
env_name_ok(const char *s)
{
	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (s++; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* What a content problem is reported against: the file or variable, never the value. */
static const char *
source_label(const struct secret_spec *sp, char *buf, size_t len)
{
	char q[SHOWN_LEN];

	switch (sp->src) {
	case SRC_FILE:
		snprintf(buf, len, "%s: ", util_printable(sp->given, q, sizeof(q), 0));
		break;
	case SRC_ENV:
		snprintf(buf, len, "$%s: ", util_printable(sp->given, q, sizeof(q), 0));
		break;
	default:
		buf[0] = '\0';
		break;
	}
	return buf;
}

static bool
base64_len_ok(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s), pad = 0;

	if (n == 0 || n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '=') {
			/* padding only at the end, at most two */
			if (i < n - 2)
				return false;
			pad++;
		} else if (pad > 0 || !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
					(ch >= '0' && ch <= '9') || ch == '+' || ch == '/')) {
			return false;
		}
	}
	n = n / 4 * 3 - pad;
	return n >= min && n <= max;
}

enum secret_kind { SECRET_URL, SECRET_URLS, SECRET_SIGNING_KEY, SECRET_BOT_TOKEN, SECRET_TOKEN };

/* One to CONFIG_AM_URLS_MAX http(s) URLs separated by white space (a file a line each). */
static bool
url_list_ok(const char *v)
{
	char one[2048];
	const char *p = v;
	size_t n = 0;

	while ((p = util_next_word(p, one, sizeof(one))) != NULL) {
		if (++n > CONFIG_AM_URLS_MAX || !url_ok(one, http_schemes, NELEM(http_schemes)))
			return false;
	}
	return n > 0;
}

static bool
bot_token_ok(const char *s)
{
	const char *colon = strchr(s, ':');

	if (colon == NULL || colon == s)
		return false;
	for (const char *p = s; p < colon; p++)
		if (*p < '0' || *p > '9')
			return false;
	if (colon[1] == '\0')
		return false;
	for (const char *p = colon + 1; *p != '\0'; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return false;
	return true;
}

/* Fetch a secret from where it was given and check its form. *out is NULL if none given. */
static int
load_secret(struct ctx *x, const struct secret_spec *sp, enum secret_kind kind, char **out,
	    char **file, char **env)
{
	char where[SHOWN_LEN + 8], q[SHOWN_LEN];
	const char *val, *sk;
	char *v = NULL;
	int rc = 0;

	switch (sp->src) {
	case SRC_NONE:
		return 0;
	case SRC_INLINE:
		v = strdup(sp->given);
		if (v == NULL)
			return fail_oom(x);
		break;
	case SRC_FILE:
		rc = secret_from_file(x, sp, &v);
		if (rc < 0)
			return rc;
		rc = set_str(x, file, sp->given);
		break;
	case SRC_ENV:
		util_printable(sp->given, q, sizeof(q), 0);
		if (!env_name_ok(sp->given))
			return fail(x, sp->path, "\"%s\" is not an environment variable name", q);
		val = getenv(sp->given);
		if (val == NULL)
			return fail(x, sp->path, "environment variable %s is not set", q);
		if (val[0] == '\0')
			return fail(x, sp->path, "environment variable %s is empty", q);
		v = strdup(val);
		if (v == NULL)
			return fail_oom(x);
		rc = set_str(x, env, sp->given);
		break;
	}
	if (rc < 0)
		goto bad;
	source_label(sp, where, sizeof(where));
	switch (kind) {
	case SECRET_URL:
		if (!url_ok(v, http_schemes, NELEM(http_schemes)))
			rc = fail(x, sp->path, "%snot an http:// or https:// URL", where);
		break;
	case SECRET_URLS:
		if (!url_list_ok(v))
			rc = fail(x, sp->path, "%snot 1 to %d http:// or https:// URLs separated by "
				  "white space", where, CONFIG_AM_URLS_MAX);
		break;
	case SECRET_SIGNING_KEY:
		/* Standard Webhooks: base64 of 24-64 random bytes, "whsec_" marks it as one */
		sk = strncmp(v, "whsec_", 6) == 0 ? v + 6 : v;
		if (!base64_len_ok(sk, 24, 64))
			rc = fail(x, sp->path, "%snot a signing key (\"whsec_\" and base64 of 24 to "
				  "64 bytes)", where);
		break;
	case SECRET_BOT_TOKEN:
		if (!bot_token_ok(v))
			rc = fail(x, sp->path, "%snot a Telegram bot token (DIGITS:LETTERS)", where);
		break;
	case SECRET_TOKEN:
		if (has_ctl(v))
			rc = fail(x, sp->path, "%scontains control characters", where);
		break;
	}
	if (rc < 0)
		goto bad;
	*out = v;
	return 0;
bad:
	free_secret(v);
	return rc;
}

/* After the keys: what each type requires, the mention rules, then the secrets read and
 * checked, and the default name. */
static int
parse_sink_secrets(struct ctx *x, const char *path, const struct sink_parse *sp, size_t t)
{
	struct config *c = x->c;
	struct config_sink *s = sp->s;
	char sub[FIELD_PATH_LEN];
	size_t index = (size_t)(s - c->sinks), same = 0;
	int rc;

	if (s->type != SINK_KIND_TELEGRAM && sp->url.src == SRC_NONE)
		return fail(x, key_path(sub, sizeof(sub), path, "url"),
			    "required for %s (url, url_file or url_env)", sink_kind_names[t]);
	if (s->type == SINK_KIND_TELEGRAM && sp->token.src == SRC_NONE)
		return fail(x, key_path(sub, sizeof(sub), path, "token"),
			    "required for telegram (token, token_file or token_env)");
	if (s->type == SINK_KIND_TELEGRAM && s->chat_id == NULL)
		return fail(x, key_path(sub, sizeof(sub), path, "chat_id"),
			    "required for telegram");
	if (s->mention_on) {
		char why[160];

		/* the formatter's own rule for its service (alerts/ owns the syntax) */
		if (s->mention == NULL && s->type != SINK_KIND_NTFY)
			return fail(x, key_path(sub, sizeof(sub), path, "mention"),
				    "required with mention_min_severity for %s",
				    sink_kind_names[t]);
		if (sink_mention_check((enum sink_kind)s->type, s->mention, NULL, why,
				       sizeof(why)) < 0)
			return fail(x, key_path(sub, sizeof(sub), path, "mention"), "%s", why);
		if (s->mention_name != NULL &&
		    sink_mention_check((enum sink_kind)s->type, s->mention, s->mention_name, why,
				       sizeof(why)) < 0)
			return fail(x, key_path(sub, sizeof(sub), path, "mention_name"), "%s", why);
	}
	rc = load_secret(x, &sp->url, s->type == SINK_KIND_ALERTMANAGER ? SECRET_URLS : SECRET_URL,
			 &s->url, &s->url_file, &s->url_env);
	if (rc == 0)
		rc = load_secret(x, &sp->secret, SECRET_SIGNING_KEY, &s->secret, &s->secret_file,
				 &s->secret_env);
	if (rc == 0)
		rc = load_secret(x, &sp->token,
				 s->type == SINK_KIND_TELEGRAM ? SECRET_BOT_TOKEN : SECRET_TOKEN,
				 &s->token, &s->token_file, &s->token_env);
	if (rc < 0)
		return rc;
	if (s->name == NULL) {
		char name[CONFIG_SINK_NAME_MAX + 1];

		for (size_t i = 0; i < index; i++)
			same += c->sinks[i].type == s->type;
		snprintf(name, sizeof(name), "%s#%zu", sink_kind_names[t], same + 1);
		rc = set_str(x, &s->name, name);
	}
	return rc;
}

static int
parse_sink(struct ctx *x, const char *path, struct json_object *v, size_t index)
{
	struct config *c = x->c;
	struct config_sink *s = &c->sinks[index];
	struct sink_parse sp = {
		.s = s,
		.url = { .key = "url" },
		.secret = { .key = "secret" },
		.token = { .key = "token" },
	};
	struct json_object *tv;
	char sub[FIELD_PATH_LEN], g[SHOWN_LEN + 8], list[128];
	size_t t;
	int rc;

	s->events = DEFAULT_EVENTS;
	s->min_severity = SEV_INFO;
	s->mention_min_severity = SEV_HIGH;
	s->timeout_ns = 10 * NS_PER_SEC;
	s->max_age_ns = 72 * 3600 * NS_PER_SEC;
	if (!json_object_is_type(v, json_type_object))
		return fail(x, path, "expected an alert sink object, got %s", got(v, g, sizeof(g)));
	/* the type decides which other keys apply, so it is read first */
	key_path(sub, sizeof(sub), path, "type");
	if (!json_object_object_get_ex(v, "type", &tv))
		return fail(x, sub, "required: one of %s",
			    join(sink_kind_names, SINK_KIND_N, list, sizeof(list)));
	rc = get_enum(x, sub, tv, sink_kind_names, SINK_KIND_N, &t);
	if (rc < 0)
		return rc;
	s->type = (enum sink_kind)t;
	/* alertmanager is told what is wrong now after each cycle (agent/amsync.c), never
	 * events: nothing is spooled for it */
	if (s->type == SINK_KIND_ALERTMANAGER)
		s->events = 0;
	x->sp = &sp;
	rc = parse_object(x, path, v, sink_fields, NELEM(sink_fields), s);
	x->sp = NULL;
	if (rc == 0)
		rc = parse_sink_secrets(x, path, &sp, t);
	free(sp.urls);
	return rc;
}

static int
parse_alerts(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;
	char sub[FIELD_PATH_LEN], g[SHOWN_LEN + 8];
	size_t n;
	int rc;

	rc = get_array(x, path, v, "alert sink objects", &n);
	if (rc < 0 || n == 0)
		return rc;
	c->sinks = calloc(n, sizeof(*c->sinks));
	if (c->sinks == NULL)
		return fail_oom(x);
	c->nsinks = n;
	for (size_t i = 0; i < n; i++) {
		rc = parse_sink(x, index_path(sub, sizeof(sub), path, i),
				json_object_array_get_idx(v, i), i);
		if (rc < 0)
			return rc;
	}
	/* names key the outbox: two sinks sharing one would share a spool */
	for (size_t i = 1; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->sinks[i].name, c->sinks[j].name) == 0) {
				index_path(sub, sizeof(sub), path, i);
				key_path(g, sizeof(g), sub, "name");
				return fail(x, g, "\"%s\" is also the name of %s[%zu]",
					    c->sinks[i].name, path, j);
			}
	return 0;
}

/* ---- zones and canary ---- */

static int
parse_zones(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;

	return get_zones(x, path, v, &c->zones, &c->nzones);
}

static int
canary_name(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;
	const char *s;
	int rc;

	rc = get_string(x, path, v, &s);
	if (rc == 0)
		rc = check_zone(x, path, s);
	if (rc == 0 && strlen(s) >= DNS_MAX_TEXT_NAME)
		rc = fail(x, path, "longer than %d bytes", DNS_MAX_TEXT_NAME - 1);
	if (rc == 0)
		rc = set_str(x, &c->canary, s);
	return rc;
}

static int
canary_address(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;
	struct net_addr a;
	char g[SHOWN_LEN + 8];
	const char *s;
	int rc;

	rc = get_string(x, path, v, &s);
	if (rc < 0)
		return rc;
	if (net_addr_parse(s, &a) < 0)
		return fail(x, path, "%s is not an IP address", got(v, g, sizeof(g)));
	return set_str(x, &c->canary_address, s);
}

static const struct field canary_fields[] = {
	FFN("name", canary_name),
	FFN("address", canary_address),
};

static int
parse_canary(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;
	char sub[FIELD_PATH_LEN];
	int rc;

	rc = parse_object(x, path, v, canary_fields, NELEM(canary_fields), c);
	if (rc == 0 && c->canary == NULL)
		rc = fail(x, key_path(sub, sizeof(sub), path, "name"), "required");
	return rc;
}

char *const *
config_target_zones(const struct config *c, const struct config_target *t, size_t *n)
{
	if (t != NULL && t->zones_set) {
		*n = t->nzones;
		return t->zones;
	}
	*n = c->nzones;
	return c->zones;
}

/* ---- top level ---- */

/* ---- passive ---- */

static int
passive_interface(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config_passive *p = dst;
	char g[SHOWN_LEN + 8];
	const char *s;
	int rc;

	rc = get_string(x, path, v, &s);
	if (rc < 0)
		return rc;
	/* IFNAMSIZ is 16 with the NUL; names hold no '/', ':' is an alias, not a device */
	if (s[0] == '\0' || strlen(s) > 15 || strpbrk(s, "/: \t") != NULL || has_ctl(s))
		return fail(x, path, "%s is not a network interface name (e.g. \"eth0\")",
			    got(v, g, sizeof(g)));
	return set_str(x, &p->interface, s);
}

static const struct field passive_fields[] = {
	FFN("interface", passive_interface),
	FBOOL("report_unknown", struct config_passive, report_unknown),
};

static int
parse_passive(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;

	return parse_object(x, path, v, passive_fields, NELEM(passive_fields), &c->passive);
}

/* A login name as useradd accepts it: checked here, looked up when the daemon starts. */
static int
top_user(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;
	const char *s;
	int rc;

	rc = get_string(x, path, v, &s);
	if (rc < 0)
		return rc;
	if (s[0] == '\0')
		return fail(x, path, "is empty");
	if (strlen(s) > 32 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(s) ||
	    s[0] == '-')
		return fail(x, path, "is not a user name (lowercase letters, digits, '_' and '-', "
			    "at most 32)");
	return set_str(x, &c->user, s);
}

static int
top_runbook(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;

	return get_runbook(x, path, v, &c->runbook_url);
}

const char *
config_runbook_for(const struct config *c, const char *target_label)
{
	for (size_t i = 0; target_label != NULL && i < c->ntargets; i++) {
		const struct config_target *t = &c->targets[i];

		if (t->runbook_url == NULL)
			continue;
		if ((t->name != NULL && strcmp(t->name, target_label) == 0) ||
		    (t->target != NULL && strcmp(t->target, target_label) == 0))
			return t->runbook_url;
	}
	return c->runbook_url;
}

/* What the first cycle of a new state does with ports open against their expectation. */
static const char *const first_run_names[] = { "alert", "adopt" };

static int
top_first_run(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;
	size_t i;
	int rc;

	rc = get_enum(x, path, v, first_run_names, NELEM(first_run_names), &i);
	if (rc == 0)
		c->first_run_adopt = i == 1;
	return rc;
}

/* "shard": "I/N", checked by the module that acts on it. */
static int
top_shard(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;
	const char *s;
	char msg[160];
	int rc;

	if ((rc = get_string(x, path, v, &s)) < 0)
		return rc;
	if (shard_parse(s, &c->shard, msg, sizeof(msg)) < 0)
		return fail(x, path, "%s", msg);
	return 0;
}

/* vantage: a label on every event, chat message and metric line, so it is display text
 * everywhere: one line of valid UTF-8 that fits the event's field. */
static int
top_vantage(struct ctx *x, const char *path, struct json_object *v, void *dst)
{
	struct config *c = dst;
	const char *s;
	int rc;

	rc = get_string(x, path, v, &s);
	if (rc < 0)
		return rc;
	if (s[0] == '\0')
		return fail(x, path, "is empty");
	if (has_ctl(s) || alert_utf8_check(s, strlen(s)) != strlen(s))
		return fail(x, path, "contains control characters or is not UTF-8");
	if (strlen(s) > ALERT_VANTAGE_LEN - 1)
		return fail(x, path, "longer than %d bytes", ALERT_VANTAGE_LEN - 1);
	return set_str(x, &c->vantage, s);
}

const char *
config_vantage(const struct config *c, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	if (c->vantage != NULL) {
		snprintf(buf, len, "%s", c->vantage);
		return buf;
	}
	/* the default: the host name, cut between two characters to fit */
	if (gethostname(buf, len) != 0)
		buf[0] = '\0';
	buf[alert_utf8_cut(buf, strnlen(buf, len), len - 1)] = '\0';
	return buf;
}

static const struct field top_fields[] = {
	FFN("targets", parse_targets),
	FFN("exclude", parse_exclude),
	/* json-c saturates huge numbers at UINT64_MAX: stay below, so they are refused */
	FUINT("max_hosts", struct config, max_hosts, 1, INT64_MAX),
	FDUR("interval", struct config, interval_ns, NS_PER_SEC, WEEK_NS),
	FFN("probe", parse_probe),
	FFN("confirm", parse_confirm),
	FFN("first_run", top_first_run),
	FPATH("state_dir", struct config, state_dir),
	FFN("alerts", parse_alerts),
	FPATH("metrics_file", struct config, metrics_file),
	FFN("log", parse_log),
	FFN("history", parse_history),
	FFN("zones", parse_zones),
	FFN("canary", parse_canary),
	FFN("passive", parse_passive),
	FFN("user", top_user),
	FFN("runbook_url", top_runbook),
	FFN("shard", top_shard),
	/* json-c saturates above 2^64-1: the top value is refused, as it may be a saturation */
	FUINT("shard_seed", struct config, shard.seed, 0, UINT64_MAX - 1),
	FFN("vantage", top_vantage),
};

void
config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->max_hosts = TARGETS_DEFAULT_MAX_HOSTS;
	c->interval_ns = CONFIG_DEFAULT_INTERVAL_NS;
	c->probe.tcp = true;
	c->probe.udp = true;
	c->probe.port = 53;
	/* the same defaults as `watch53 scan`, so a config says what a scan would do */
	c->probe.timeout_ns = SCAN_DEFAULT_TIMEOUT_NS;
	c->probe.retries = SCAN_DEFAULT_RETRIES;
	c->probe.recheck = 2;
	c->probe.rate_pps = SCAN_DEFAULT_RATE;
	c->probe.concurrency = SCAN_DEFAULT_CONCURRENCY;
	c->probe.qname = default_qname;
	c->probe.qtype = DNS_TYPE_NS;
	c->probe.checks = 0;
	c->confirm_open = 1;
	c->confirm_closed = 3;
	c->state_dir = default_state_dir;
	c->log_level = LOG_LVL_INFO;
	c->log_syslog = false;
	c->history_retention_ns = CONFIG_DEFAULT_HISTORY_RETENTION_NS;
}

static void
sink_clear(struct config_sink *s)
{
	free(s->name);
	free_secret(s->url);
	free_secret(s->secret);
	free_secret(s->token);
	free(s->url_file);
	free(s->url_env);
	free(s->secret_file);
	free(s->secret_env);
	free(s->token_file);
	free(s->token_env);
	free(s->chat_id);
	free(s->ca_file);
	for (size_t i = 0; i < s->nresolve; i++)
		free(s->resolve[i]);
	free(s->resolve);
	free_secret(s->proxy); /* may carry a password */
	free(s->priority);
	free(s->mention);
	free(s->mention_name);
}

void
config_clear(struct config *c)
{
	free(c->path);
	for (size_t i = 0; i < c->ntargets; i++) {
		free(c->targets[i].target);
		free(c->targets[i].name);
		for (size_t k = 0; k < c->targets[i].nzones; k++)
			free(c->targets[i].zones[k]);
		free(c->targets[i].zones);
		free(c->targets[i].runbook_url);
	}
	for (size_t k = 0; k < c->nzones; k++)
		free(c->zones[k]);
	free(c->zones);
	free(c->canary);
	free(c->canary_address);
	free(c->targets);
	for (size_t i = 0; i < c->nexclude; i++)
		free(c->exclude[i]);
	free(c->exclude);
	if (owned(c->probe.qname))
		free(c->probe.qname);
	if (owned(c->state_dir))
		free(c->state_dir);
	for (size_t i = 0; i < c->nsinks; i++)
		sink_clear(&c->sinks[i]);
	free(c->sinks);
	free(c->metrics_file);
	free(c->user);
	free(c->passive.interface);
	free(c->runbook_url);
	free(c->vantage);
	config_init(c);
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
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			(*col)++; /* count characters, not UTF-8 continuation bytes */
		}
	}
}

/* Whether text[0..off) alone is a whole JSON document: then what json-c stumbled on at
 * off is trailing garbage, worth its own message. */
static bool
complete_before(const char *text, size_t off)
{
	struct json_tokener *tok;
	struct json_object *o;
	bool complete;

	if (off == 0 || off > INT_MAX)
		return false;
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (tok == NULL)
		return false;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)off);
	complete = o != NULL;
	json_tokener_free(tok);
	json_object_put(o);
	return complete;
}

/* text is NUL-terminated at text[len] and holds no other NUL. */
static int
parse_json(struct ctx *x, const char *text, size_t len, struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *root;
	enum json_tokener_error e;
	size_t line, col, i;

	/* a UTF-8 byte order mark (Windows editors) is not JSON, but not an error either */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	for (i = 0; i < len; i++)
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
			break;
	if (i == len)
		return fail(x, NULL, "empty file");
	if (len > INT_MAX - 1)
		return fail(x, NULL, "larger than 1 MiB");
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (tok == NULL)
		return fail_oom(x);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* the terminating NUL goes in too: it ends a trailing number and marks end of input,
	 * so a truncated file is an error now rather than a "continue" */
	root = json_tokener_parse_ex(tok, text, (int)len + 1);
	e = json_tokener_get_error(tok);
	if (root == NULL || e != json_tokener_success) {
		size_t off = json_tokener_get_parse_end(tok);

		if (off > len)
			off = len;
		line_col(text, off, &line, &col);
		json_object_put(root);
		json_tokener_free(tok);
		if (e == json_tokener_success || e == json_tokener_continue)
			e = json_tokener_error_parse_eof;
		if (e == json_tokener_error_parse_unexpected && complete_before(text, off))
			return fail(x, NULL, "line %zu, column %zu: unexpected text after the end "
				    "of the JSON document", line, col);
		return fail(x, NULL, "line %zu, column %zu: %s%s", line, col,
			    json_tokener_error_desc(e),
			    e == json_tokener_error_parse_eof ? " (truncated?)" : "");
	}
	json_tokener_free(tok);
	*out = root;
	return 0;
}

static int
parse_text(struct ctx *x, const char *text, size_t len)
{
	struct json_object *root = NULL;
	char g[SHOWN_LEN + 8], msg[512];
	int rc;

	if (len == 0)
		return fail(x, NULL, "empty file");
	if (len > CONFIG_MAX_BYTES)
		return fail(x, NULL, "larger than 1 MiB");
	/* control bytes other than whitespace appear in no JSON text, but in every binary */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r' && ch != '\f' && ch != '\v')
			return fail(x, NULL, "not a text file");
	}
	rc = parse_json(x, text, len, &root);
	if (rc < 0)
		return rc;
	/* json-c keeps the last of two equal keys silently: "targets" twice would monitor
	 * half of what was meant */
	{
		char key[SHOWN_LEN], shown[SHOWN_LEN + 8];
		size_t l1, l2;
		int d = jsondup_find(text, len, key, sizeof(key), &l1, &l2);

		if (d < 0) {
			rc = fail_oom(x);
			goto out;
		}
		if (d > 0) {
			rc = fail(x, NULL, "duplicate key \"%s\" at lines %zu and %zu (only one may "
				  "be given)", util_printable(key, shown, sizeof(shown), 0), l1, l2);
			goto out;
		}
	}
	if (!json_object_is_type(root, json_type_object)) {
		rc = fail(x, NULL, "expected a JSON object at the top level, got %s",
			  got(root, g, sizeof(g)));
		goto out;
	}
	x->ts = targets_new();
	if (x->ts == NULL) {
		rc = fail_oom(x);
		goto out;
	}
	targets_set_resolver(x->ts, resolve_none);
	targets_set_max_hosts(x->ts, 0);
	rc = parse_object(x, "", root, top_fields, NELEM(top_fields), x->c);
	if (rc < 0)
		goto out;
	if (x->c->targets == NULL) {
		rc = fail(x, "targets", "required");
		goto out;
	}
	/* checked last: max_hosts may come after targets in the file */
	targets_set_max_hosts(x->ts, x->c->max_hosts);
	rc = targets_finish(x->ts, msg, sizeof(msg));
	if (rc == -E2BIG)
		rc = fail(x, "targets", "cover more than max_hosts (%" PRIu64 ") addresses; narrow "
			  "them or raise max_hosts", x->c->max_hosts);
	else if (rc < 0)
		rc = fail(x, "targets", "%s", msg);
out:
	targets_free(x->ts);
	x->ts = NULL;
	json_object_put(root);
	return rc;
}

static void
ctx_init(struct ctx *x, const char *name, struct config *c, char *err, size_t errlen)
{
	memset(x, 0, sizeof(*x));
	util_printable(name, x->file, sizeof(x->file), 0);
	x->err = err;
	x->errlen = errlen;
	x->c = c;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
}

int
config_parse(const char *name, const char *text, size_t len, struct config *c, char *err,
	     size_t errlen)
{
	struct ctx x;
	char *copy = NULL;
	int rc;

	config_init(c);
	ctx_init(&x, name, c, err, errlen);
	c->path = strdup(name);
	if (c->path == NULL) {
		rc = fail_oom(&x);
		goto bad;
	}
	if (len > CONFIG_MAX_BYTES) {
		rc = fail(&x, NULL, "larger than 1 MiB");
		goto bad;
	}
	/* json-c wants the terminating NUL; the caller's buffer need not have one */
	copy = malloc(len + 1);
	if (copy == NULL) {
		rc = fail_oom(&x);
		goto bad;
	}
	if (len > 0)
		memcpy(copy, text, len);
	copy[len] = '\0';
	rc = parse_text(&x, copy, len);
	if (rc < 0)
		goto bad;
	explicit_bzero(copy, len); /* inline secrets were in it */
	free(copy);
	return 0;
bad:
	if (copy != NULL)
		explicit_bzero(copy, len);
	free(copy);
	config_clear(c);
	return rc;
}

int
config_load(const char *path, struct config *c, char *err, size_t errlen)
{
	struct ctx x;
	char *text = NULL;
	size_t len = 0;
	int rc;

	config_init(c);
	ctx_init(&x, path, c, err, errlen);
	/* one byte of slack: file_read_all refuses a file of exactly its cap (it cannot see
	 * EOF without a larger buffer); config_parse applies the real cap */
	rc = file_read_all(path, CONFIG_MAX_BYTES + 1, &text, &len);
	if (rc == -EFBIG)
		return fail(&x, NULL, "larger than 1 MiB");
	if (rc == -EINVAL)
		return fail(&x, NULL, "not a regular file");
	if (rc < 0) {
		fail(&x, NULL, "cannot read: %s", strerror(-rc));
		return rc;
	}
	rc = config_parse(path, text, len, c, err, errlen);
	explicit_bzero(text, len);
	free(text);
	return rc;
}

/* ---- printing ---- */

/* Builds the output tree; any failed allocation sets oom and the print fails as a whole. */
struct out {
	bool oom;
};

static struct json_object *
jstr(struct out *o, const char *s)
{
	struct json_object *v;

	if (s == NULL)
		return NULL; /* JSON null */
	v = json_object_new_string(s);
	if (v == NULL)
		o->oom = true;
	return v;
}

static struct json_object *
jdur(struct out *o, uint64_t ns)
{
	char buf[48];

	return jstr(o, fmt_duration(ns, buf, sizeof(buf)));
}

static struct json_object *
jobj(struct out *o)
{
	struct json_object *v = json_object_new_object();

	if (v == NULL)
		o->oom = true;
	return v;
}

static struct json_object *
jarr(struct out *o)
{
	struct json_object *v = json_object_new_array();

	if (v == NULL)
		o->oom = true;
	return v;
}

static void
put(struct out *o, struct json_object *obj, const char *key, struct json_object *v)
{
	if (obj == NULL) {
		json_object_put(v);
		return;
	}
	if (json_object_object_add(obj, key, v) < 0) {
		json_object_put(v);
		o->oom = true;
	}
}

static void
push(struct out *o, struct json_object *arr, struct json_object *v)
{
	if (arr == NULL) {
		json_object_put(v);
		return;
	}
	if (json_object_array_add(arr, v) < 0) {
		json_object_put(v);
		o->oom = true;
	}
}

static struct json_object *
jint(struct out *o, uint64_t n)
{
	struct json_object *v = json_object_new_uint64(n);

	if (v == NULL)
		o->oom = true;
	return v;
}

static struct json_object *
jbool(struct out *o, bool b)
{
	struct json_object *v = json_object_new_boolean(b);

	if (v == NULL)
		o->oom = true;
	return v;
}

static struct json_object *
jstrs(struct out *o, char *const *list, size_t n)
{
	struct json_object *a = jarr(o);

	for (size_t i = 0; i < n; i++)
		push(o, a, jstr(o, list[i]));
	return a;
}

/* A secret: "(redacted)" if set, with its file or variable (not secret) beside it. */
static void
put_secret(struct out *o, struct json_object *obj, const char *key, const char *value,
	   const char *file, const char *env)
{
	char k[32];

	put(o, obj, key, value ? jstr(o, REDACTED) : NULL);
	if (file != NULL) {
		snprintf(k, sizeof(k), "%s_file", key);
		put(o, obj, k, jstr(o, file));
	}
	if (env != NULL) {
		snprintf(k, sizeof(k), "%s_env", key);
		put(o, obj, k, jstr(o, env));
	}
}

/* scheme://user:pass@host -> scheme://(redacted)@host */
static struct json_object *
jproxy(struct out *o, const char *proxy)
{
	const char *auth, *end, *at = NULL;
	char *buf;
	struct json_object *v;
	size_t need;

	if (proxy == NULL)
		return NULL;
	auth = strstr(proxy, "://");
	if (auth == NULL)
		return jstr(o, REDACTED);
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL)
		return jstr(o, proxy);
	need = (size_t)(auth - proxy) + strlen(REDACTED) + strlen(at) + 1;
	buf = malloc(need);
	if (buf == NULL) {
		o->oom = true;
		return NULL;
	}
	snprintf(buf, need, "%.*s%s%s", (int)(auth - proxy), proxy, REDACTED, at);
	v = jstr(o, buf);
	free(buf);
	return v;
}

static struct json_object *
print_sink(struct out *o, const struct config_sink *s)
{
	struct json_object *j = jobj(o), *ev;

	put(o, j, "type", jstr(o, sink_kind_name(s->type)));
	put(o, j, "name", jstr(o, s->name));
	put_secret(o, j, "url", s->url, s->url_file, s->url_env);
	if (s->type == SINK_KIND_WEBHOOK)
		put_secret(o, j, "secret", s->secret, s->secret_file, s->secret_env);
	if (s->type == SINK_KIND_TELEGRAM || s->type == SINK_KIND_NTFY)
		put_secret(o, j, "token", s->token, s->token_file, s->token_env);
	if (s->type == SINK_KIND_TELEGRAM)
		put(o, j, "chat_id", jstr(o, s->chat_id));
	ev = jarr(o);
	for (size_t i = 0; i < NEVENTS; i++)
		if (s->events & (1u << i))
			push(o, ev, jstr(o, alert_type_names[i]));
	put(o, j, "events", ev);
	put(o, j, "min_severity",
	    jstr(o, (unsigned)s->min_severity < ALERT_NSEVERITIES
			    ? alert_severity_names[s->min_severity] : "info"));
	put(o, j, "ca_file", jstr(o, s->ca_file));
	put(o, j, "resolve", jstrs(o, s->resolve, s->nresolve));
	put(o, j, "proxy", jproxy(o, s->proxy));
	put(o, j, "timeout", jdur(o, s->timeout_ns));
	put(o, j, "max_age", jdur(o, s->max_age_ns));
	if (s->type == SINK_KIND_NTFY)
		put(o, j, "priority", jstr(o, s->priority ? s->priority : "default"));
	/* only when set: configs without mentions print as before */
	if (s->mention_on) {
		if (s->mention != NULL)
			put(o, j, "mention", jstr(o, s->mention));
		if (s->mention_name != NULL)
			put(o, j, "mention_name", jstr(o, s->mention_name));
		put(o, j, "mention_min_severity",
		    jstr(o, (unsigned)s->mention_min_severity < ALERT_NSEVERITIES
				    ? alert_severity_names[s->mention_min_severity] : "high"));
	}
	return j;
}

static struct json_object *
print_target(struct out *o, const struct config *c, const struct config_target *t)
{
	struct json_object *j = jobj(o), *ex = jobj(o);

	put(o, j, "target", jstr(o, t->target));
	put(o, j, "name", jstr(o, t->name));
	put(o, ex, "tcp", jstr(o, expect_names[t->expect_open[PROBE_SLOT_TCP]]));
	put(o, ex, "udp", jstr(o, expect_names[t->expect_open[PROBE_SLOT_UDP]]));
	put(o, j, "expect", ex);
	put(o, j, "interval", jdur(o, t->interval_ns ? t->interval_ns : c->interval_ns));
	/* null: the top-level zones apply */
	put(o, j, "zones", t->zones_set ? jstrs(o, t->zones, t->nzones) : NULL);
	if (t->runbook_url != NULL)
		put(o, j, "runbook_url", jstr(o, t->runbook_url));
	return j;
}

int
config_rate_warning(const struct config *c, uint64_t addresses, char *msg, size_t len)
{
	uint64_t interval = c->interval_ns, protos = (uint64_t)c->probe.tcp + c->probe.udp;
	double first_s, worst_s;
	char ibuf[32];

	for (size_t i = 0; i < c->ntargets; i++)
		if (c->targets[i].interval_ns != 0 && c->targets[i].interval_ns < interval)
			interval = c->targets[i].interval_ns;
	if (c->probe.rate_pps == 0 || interval == 0)
		return 0;
	/* the rate paces first attempts and retransmissions alike; silent ports need all */
	first_s = (double)addresses * (double)protos / c->probe.rate_pps;
	worst_s = first_s * (1.0 + c->probe.retries);
	if (first_s * 1e9 <= (double)interval)
		return 0;
	util_fmt_duration(interval, ibuf, sizeof(ibuf));
	snprintf(msg, len, "%s: targets: %" PRIu64 " address%s x %" PRIu64 " protocol%s at probe.rate "
		 "%u/s take at least %.0f s a cycle (up to %.0f s when silent), more than the "
		 "interval of %s: raise probe.rate or the interval, or split the targets",
		 c->path ? c->path : "config", addresses, addresses == 1 ? "" : "es", protos,
		 protos == 1 ? "" : "s", c->probe.rate_pps, first_s, worst_s, ibuf);
	return 1;
}

int
config_print(FILE *f, const struct config *c)
{
	struct out o = { false };
	struct json_object *root, *probe, *confirm, *log, *arr, *passive, *history;
	char tbuf[32], vantage[ALERT_VANTAGE_LEN];
	const char *text;
	int rc = 0;

	root = jobj(&o);
	arr = jarr(&o);
	for (size_t i = 0; i < c->ntargets; i++)
		push(&o, arr, print_target(&o, c, &c->targets[i]));
	put(&o, root, "targets", arr);
	put(&o, root, "exclude", jstrs(&o, c->exclude, c->nexclude));
	put(&o, root, "max_hosts", jint(&o, c->max_hosts));
	put(&o, root, "interval", jdur(&o, c->interval_ns));

	probe = jobj(&o);
	put(&o, probe, "tcp", jbool(&o, c->probe.tcp));
	put(&o, probe, "udp", jbool(&o, c->probe.udp));
	put(&o, probe, "port", jint(&o, c->probe.port));
	put(&o, probe, "timeout", jdur(&o, c->probe.timeout_ns));
	put(&o, probe, "retries", jint(&o, c->probe.retries));
	put(&o, probe, "recheck", jint(&o, c->probe.recheck));
	put(&o, probe, "rate", jint(&o, c->probe.rate_pps));
	put(&o, probe, "concurrency", jint(&o, c->probe.concurrency));
	put(&o, probe, "qname", jstr(&o, c->probe.qname));
	put(&o, probe, "qtype", jstr(&o, dns_type_name(c->probe.qtype, tbuf, sizeof(tbuf))));
	arr = jarr(&o);
	for (size_t i = 0; i < NCHECKS; i++)
		if (c->probe.checks & (1u << i))
			push(&o, arr, jstr(&o, dnscheck_check_names[i]));
	put(&o, probe, "checks", arr);
	put(&o, probe, "tcp_mode", jstr(&o, c->probe.tcp_syn ? "syn" : "connect"));
	put(&o, root, "probe", probe);

	confirm = jobj(&o);
	put(&o, confirm, "open", jint(&o, c->confirm_open));
	put(&o, confirm, "closed", jint(&o, c->confirm_closed));
	put(&o, root, "confirm", confirm);
	put(&o, root, "first_run", jstr(&o, first_run_names[c->first_run_adopt ? 1 : 0]));
	put(&o, root, "state_dir", jstr(&o, c->state_dir));
	arr = jarr(&o);
	for (size_t i = 0; i < c->nsinks; i++)
		push(&o, arr, print_sink(&o, &c->sinks[i]));
	put(&o, root, "alerts", arr);
	put(&o, root, "metrics_file", jstr(&o, c->metrics_file));
	put(&o, root, "user", jstr(&o, c->user));
	if (c->runbook_url != NULL)
		put(&o, root, "runbook_url", jstr(&o, c->runbook_url));
	put(&o, root, "shard", c->shard.count ? jstr(&o, shard_str(&c->shard, tbuf, sizeof(tbuf)))
					      : NULL);
	put(&o, root, "shard_seed", jint(&o, c->shard.seed));
	put(&o, root, "vantage", jstr(&o, config_vantage(c, vantage, sizeof(vantage))));
	put(&o, root, "zones", jstrs(&o, c->zones, c->nzones));
	if (c->canary != NULL) {
		struct json_object *canary = jobj(&o);
		put(&o, canary, "name", jstr(&o, c->canary));
		put(&o, canary, "address", jstr(&o, c->canary_address));
		put(&o, root, "canary", canary);
	} else {
		put(&o, root, "canary", NULL);
	}
	log = jobj(&o);
	put(&o, log, "level", jstr(&o, (unsigned)c->log_level < NELEM(level_names)
				       ? level_names[c->log_level] : "info"));
	put(&o, log, "syslog", jbool(&o, c->log_syslog));
	put(&o, root, "log", log);
	history = jobj(&o);
	put(&o, history, "retention", jdur(&o, c->history_retention_ns));
	put(&o, root, "history", history);
	passive = jobj(&o);
	put(&o, passive, "interface", jstr(&o, c->passive.interface));
	put(&o, passive, "report_unknown", jbool(&o, c->passive.report_unknown));
	put(&o, root, "passive", passive);

	if (o.oom || root == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
						    JSON_C_TO_STRING_SPACED |
						    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (fprintf(f, "%s\n", text) < 0 || fflush(f) != 0)
		rc = errno ? -errno : -EIO;
out:
	json_object_put(root);
	return rc;
}
