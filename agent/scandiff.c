/* scandiff: the changes between two saved scans (see scandiff.h). */
#include "agent/scandiff.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/fileio.h"
#include "common/util.h"

/* One record, kept small: a million of them must fit. The dns object stays JSON text, parsed
 * again only for a pair whose texts differ. */
struct rec {
	struct net_addr addr;
	unsigned port;
	char tcp[12], udp[12]; /* states; "" when the protocol was not probed */
	int verified;          /* udp.verified: -1 absent, 0, 1 */
	char severity[12];
	char *findings;        /* sorted, comma-separated; NULL for none */
	char *dns;             /* the dns object as JSON; NULL when null or absent */
};

struct scandiff_set {
	struct rec *r;
	size_t n, cap;
};

static const char *const kind_names[] = {
	[SCANDIFF_OPENED] = "opened", [SCANDIFF_CLOSED] = "closed",
	[SCANDIFF_CHANGED] = "changed", [SCANDIFF_ADDED] = "added",
	[SCANDIFF_REMOVED] = "removed",
};

const char *
scandiff_kind_name(enum scandiff_kind k)
{
	return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "";
}

void
scandiff_set_free(struct scandiff_set *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->r[i].findings);
		free(s->r[i].dns);
	}
	free(s->r);
	free(s);
}

size_t
scandiff_count(const struct scandiff_set *s)
{
	return s->n;
}

/* ---- reading ---- */

static const char *
str_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int
by_text(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The findings array as sorted "a,b" (order is no change). -EINVAL when not strings. */
static int
findings_of(struct json_object *o, char **out)
{
	struct json_object *arr;
	const char **v = NULL;
	size_t n, len = 0;
	char *s;

	*out = NULL;
	if (!json_object_object_get_ex(o, "findings", &arr) || json_object_is_type(arr, json_type_null))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return -EINVAL;
	if ((n = json_object_array_length(arr)) == 0)
		return 0;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(e, json_type_string)) {
			free(v);
			return -EINVAL;
		}
		v[i] = json_object_get_string(e);
		len += strlen(v[i]) + 1;
	}
	qsort(v, n, sizeof(*v), by_text);
	if ((s = malloc(len)) == NULL) {
		free(v);
		return -ENOMEM;
	}
	s[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, v[i]);
	}
	free(v);
	*out = s;
	return 0;
}

/* A protocol's state: "" when the record has no such object (not probed). */
static int
state_of(struct json_object *o, const char *proto, char *out, size_t len, int *verified)
{
	struct json_object *p, *v;
	const char *st;

	out[0] = '\0';
	if (!json_object_object_get_ex(o, proto, &p) || json_object_is_type(p, json_type_null))
		return 0;
	if (!json_object_is_type(p, json_type_object) || (st = str_of(p, "state")) == NULL ||
	    strlen(st) >= len)
		return -EINVAL;
	snprintf(out, len, "%s", st);
	if (verified != NULL && json_object_object_get_ex(p, "verified", &v))
		*verified = json_object_get_boolean(v) ? 1 : 0;
	return 0;
}

/* One record object into r. A one-line reason in why when it is none. */
static int
rec_from(struct json_object *o, struct rec *r, char *why, size_t whylen)
{
	struct json_object *v;
	const char *s;
	int rc;

	memset(r, 0, sizeof(*r));
	r->verified = -1;
	r->port = 53;
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(why, whylen, "not a JSON object");
		return -EINVAL;
	}
	if ((s = str_of(o, "address")) == NULL || net_addr_parse(s, &r->addr) < 0) {
		snprintf(why, whylen, "no \"address\" that is an IP address: not a scan record");
		return -EINVAL;
	}
	if (json_object_object_get_ex(o, "port", &v)) {
		int64_t p = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || p < 0 || p > 65535) {
			snprintf(why, whylen, "\"port\" is not a port number");
			return -EINVAL;
		}
		r->port = (unsigned)p;
	}
	if (state_of(o, "tcp", r->tcp, sizeof(r->tcp), NULL) < 0 ||
	    state_of(o, "udp", r->udp, sizeof(r->udp), &r->verified) < 0) {
		snprintf(why, whylen, "\"tcp\" or \"udp\" is not an object with a \"state\"");
		return -EINVAL;
	}
	if ((s = str_of(o, "severity")) != NULL)
		snprintf(r->severity, sizeof(r->severity), "%s", s);
	if ((rc = findings_of(o, &r->findings)) < 0) {
		snprintf(why, whylen, rc == -ENOMEM ? "out of memory"
						    : "\"findings\" is not an array of strings");
		return rc;
	}
	if (json_object_object_get_ex(o, "dns", &v) && json_object_is_type(v, json_type_object) &&
	    (r->dns = strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN))) == NULL) {
		free(r->findings);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int
set_add(struct scandiff_set *s, struct json_object *o, char *why, size_t whylen)
{
	int rc;

	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 256;
		struct rec *n = realloc(s->r, ncap * sizeof(*n));
		if (n == NULL) {
			snprintf(why, whylen, "out of memory");
			return -ENOMEM;
		}
		s->r = n;
		s->cap = ncap;
	}
	if ((rc = rec_from(o, &s->r[s->n], why, whylen)) == 0)
		s->n++;
	return rc;
}

static int
by_addr_port(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	int c = net_addr_cmp(&x->addr, &y->addr);

	return c != 0 ? c : (x->port > y->port) - (x->port < y->port);
}

/* The json document: its "results" array. */
static int
parse_document(struct json_object *doc, struct scandiff_set *s, const char *name, char *err,
	       size_t errlen)
{
	struct json_object *arr;
	char why[160];
	int rc;

	if (!json_object_object_get_ex(doc, "results", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		util_errf(err, errlen, "%s: neither JSON lines of scan records nor a scan "
			  "document with \"results\"", name);
		return -EINVAL;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if ((rc = set_add(s, json_object_array_get_idx(arr, i), why, sizeof(why))) < 0) {
			util_errf(err, errlen, "%s: results[%zu]: %s", name, i, why);
			return rc;
		}
	return 0;
}

static bool
blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* JSON lines: one record an object (and nothing after it on its line); blank lines are
 * allowed. */
static int
parse_lines(const char *text, size_t len, struct scandiff_set *s, const char *name, char *err,
	    size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	size_t line = 0;
	int rc = 0;

	if (tok == NULL) {
		util_errf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	for (size_t off = 0; off < len && rc == 0; line++) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - text) : len, n = end - off;
		struct json_object *o;
		char why[160];

		if (blank(text + off, n)) {
			off = end + 1;
			continue;
		}
		json_tokener_reset(tok);
		o = n > INT32_MAX ? NULL : json_tokener_parse_ex(tok, text + off, (int)n);
		if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
		    !blank(text + off + json_tokener_get_parse_end(tok),
			   n - json_tokener_get_parse_end(tok))) {
			util_errf(err, errlen, "%s:%zu: not a JSON object", name, line + 1);
			rc = -EINVAL;
		} else if ((rc = set_add(s, o, why, sizeof(why))) < 0) {
			util_errf(err, errlen, "%s:%zu: %s", name, line + 1, why);
		}
		json_object_put(o);
		off = end + 1;
	}
	json_tokener_free(tok);
	return rc;
}

int
scandiff_parse(const char *text, size_t len, const char *name, struct scandiff_set **out,
	       char *err, size_t errlen)
{
	struct scandiff_set *s = calloc(1, sizeof(*s));
	struct json_object *doc = NULL;
	int rc;

	*out = NULL;
	if (s == NULL) {
		util_errf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	/* the document form is one object with "results"; JSON lines start with a record
	 * (the tokener stops after the first object either way) */
	if (len <= INT32_MAX && (doc = json_tokener_parse(text)) != NULL &&
	    json_object_is_type(doc, json_type_object) &&
	    json_object_object_get_ex(doc, "results", NULL))
		rc = parse_document(doc, s, name, err, errlen);
	else
		rc = parse_lines(text, len, s, name, err, errlen);
	json_object_put(doc);
	if (rc < 0) {
		scandiff_set_free(s);
		return rc;
	}
	if (s->n > 1) /* qsort takes no NULL, even for nothing to sort */
		qsort(s->r, s->n, sizeof(*s->r), by_addr_port);
	*out = s;
	return 0;
}

int
scandiff_load(const char *path, struct scandiff_set **out, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc = file_read_all(path, SCANDIFF_FILE_MAX, &text, &len);

	*out = NULL;
	if (rc < 0) {
		util_errf(err, errlen, "%s: %s", path,
			  rc == -EFBIG ? "larger than 1 GiB" :
			  rc == -EINVAL ? "not a regular file" : strerror(-rc));
		return rc;
	}
	rc = scandiff_parse(text, len, path, out, err, errlen);
	free(text);
	return rc;
}

int
scandiff_change_json(const struct scandiff_change *c, char *buf, size_t len)
{
	struct json_object *o = json_object_new_object();
	const char *text;
	int rc = 0;

	if (o == NULL ||
	    json_object_object_add(o, "type", json_object_new_string(scandiff_kind_name(c->kind))) ||
	    json_object_object_add(o, "address", json_object_new_string(c->address)) ||
	    json_object_object_add(o, "port", json_object_new_int((int)c->port)) ||
	    json_object_object_add(o, "field", json_object_new_string(c->field)) ||
	    json_object_object_add(o, "previous", json_object_new_string(c->previous)) ||
	    json_object_object_add(o, "current", json_object_new_string(c->current)) ||
	    (text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE)) == NULL)
		rc = -ENOMEM;
	else if (strlen(text) >= len)
		rc = -ENOSPC;
	else
		rc = snprintf(buf, len, "%s", text);
	json_object_put(o);
	return rc;
}

/* ---- comparing ---- */

struct emit {
	scandiff_fn fn;
	void *arg;
	long n;
	int rc;
};

static void
emit(struct emit *e, enum scandiff_kind kind, const struct rec *r, const char *field,
     const char *previous, const char *current)
{
	struct scandiff_change c;

	if (e->rc < 0)
		return;
	memset(&c, 0, sizeof(c));
	c.kind = kind;
	net_addr_str(&r->addr, c.address, sizeof(c.address));
	c.port = r->port;
	snprintf(c.field, sizeof(c.field), "%s", field);
	snprintf(c.previous, sizeof(c.previous), "%s", previous);
	snprintf(c.current, sizeof(c.current), "%s", current);
	e->n++;
	e->rc = e->fn(e->arg, &c);
}

/* "tcp=open udp=filtered": what an added or removed address showed. */
static const char *
states(const struct rec *r, char *buf, size_t len)
{
	snprintf(buf, len, "tcp=%s udp=%s", r->tcp[0] ? r->tcp : "-", r->udp[0] ? r->udp : "-");
	return buf;
}

static void
compare_state(struct emit *e, const struct rec *n, const char *proto, const char *was,
	      const char *now)
{
	enum scandiff_kind k = SCANDIFF_CHANGED;

	if (strcmp(was, now) == 0)
		return;
	if (strcmp(now, "open") == 0)
		k = SCANDIFF_OPENED;
	else if (strcmp(was, "open") == 0)
		k = SCANDIFF_CLOSED;
	emit(e, k, n, proto, was[0] ? was : "-", now[0] ? now : "-");
}

static int
by_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The dns objects key by key (both texts differ; either may be NULL). */
static void
compare_dns(struct emit *e, const struct rec *n, const char *was, const char *now)
{
	struct json_object *a = was ? json_tokener_parse(was) : NULL;
	struct json_object *b = now ? json_tokener_parse(now) : NULL;
	size_t na = a ? (size_t)json_object_object_length(a) : 0;
	size_t nb = b ? (size_t)json_object_object_length(b) : 0, k = 0;
	const char **keys = calloc(na + nb + 1, sizeof(*keys));

	if (keys == NULL) {
		e->rc = -ENOMEM;
		goto out;
	}
	if (a != NULL) {
		json_object_object_foreach(a, ka, va) {
			(void)va;
			keys[k++] = ka;
		}
	}
	if (b != NULL) {
		json_object_object_foreach(b, kb, vb) {
			(void)vb;
			keys[k++] = kb;
		}
	}
	qsort(keys, k, sizeof(*keys), by_key);
	for (size_t i = 0; i < k; i++) {
		struct json_object *va = NULL, *vb = NULL;
		const char *ta = "-", *tb = "-";
		char field[64];

		if (i > 0 && strcmp(keys[i], keys[i - 1]) == 0)
			continue;
		if (a != NULL && json_object_object_get_ex(a, keys[i], &va))
			ta = json_object_to_json_string_ext(va, JSON_C_TO_STRING_PLAIN);
		if (b != NULL && json_object_object_get_ex(b, keys[i], &vb))
			tb = json_object_to_json_string_ext(vb, JSON_C_TO_STRING_PLAIN);
		if (strcmp(ta, tb) == 0)
			continue;
		snprintf(field, sizeof(field), "dns.%s", keys[i]);
		emit(e, SCANDIFF_CHANGED, n, field, ta, tb);
	}
out:
	free(keys);
	json_object_put(a);
	json_object_put(b);
}

static void
compare_pair(struct emit *e, const struct rec *o, const struct rec *n)
{
	compare_state(e, n, "tcp", o->tcp, n->tcp);
	compare_state(e, n, "udp", o->udp, n->udp);
	/* verified or not, while open both times: a real reply against any datagram */
	if (strcmp(o->udp, "open") == 0 && strcmp(n->udp, "open") == 0 &&
	    o->verified != n->verified)
		emit(e, SCANDIFF_CHANGED, n, "udp.verified", o->verified == 1 ? "true" : "false",
		     n->verified == 1 ? "true" : "false");
	if ((o->dns == NULL) != (n->dns == NULL) ||
	    (o->dns != NULL && strcmp(o->dns, n->dns) != 0))
		compare_dns(e, n, o->dns, n->dns);
	if (strcmp(o->severity, n->severity) != 0)
		emit(e, SCANDIFF_CHANGED, n, "severity", o->severity[0] ? o->severity : "-",
		     n->severity[0] ? n->severity : "-");
	if (strcmp(o->findings ? o->findings : "", n->findings ? n->findings : "") != 0)
		emit(e, SCANDIFF_CHANGED, n, "findings", o->findings ? o->findings : "-",
		     n->findings ? n->findings : "-");
}

long
scandiff_compare(const struct scandiff_set *old, const struct scandiff_set *new,
		 scandiff_fn fn, void *arg)
{
	struct emit e = { fn, arg, 0, 0 };
	size_t i = 0, j = 0;
	char buf[64];

	/* a merge of the two sorted sets */
	while ((i < old->n || j < new->n) && e.rc == 0) {
		int c = i == old->n ? 1 : j == new->n ? -1 : by_addr_port(&old->r[i], &new->r[j]);

		if (c < 0) {
			emit(&e, SCANDIFF_REMOVED, &old->r[i], "", states(&old->r[i], buf, sizeof(buf)),
			     "-");
			i++;
		} else if (c > 0) {
			emit(&e, SCANDIFF_ADDED, &new->r[j], "", "-",
			     states(&new->r[j], buf, sizeof(buf)));
			j++;
		} else {
			compare_pair(&e, &old->r[i++], &new->r[j++]);
		}
	}
	return e.rc < 0 ? e.rc : e.n;
}
