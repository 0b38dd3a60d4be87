/*
 * format: events → one HTTP request in each service's native shape (sink_ops.format), and
 * the sink table. Pure: no I/O, no clocks, no logging; everything it needs comes in.
 *
 * Every human message carries, per event: severity (word and emoji or colour), what
 * happened, where (address/name, protocol/port), since when (UTC), why it matters and the
 * DNS facts; per message: a digest header and how to acknowledge. Events are packed into as
 * few messages as the service's limits allow: the largest prefix that fits is found by
 * building candidates (sizes grow with the number of events), so a limit is checked on the
 * exact bytes that would be sent, never estimated.
 */
#define _GNU_SOURCE /* asprintf, explicit_bzero */
#include "alerts/sink.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "alerts/alertmanager.h"
#include "alerts/event.h"
#include "alerts/hint.h"
#include "alerts/render.h"
#include "alerts/sign.h"
#include "common/util.h"

/* ---- service limits ---- */

/* No service below caps a digest by count except Slack (blocks) and Discord (embeds); past
 * this many events a chat message stops being read, so a digest splits there too. */
#define DIGEST_MAX 50

#define SLACK_BLOCKS_MAX 50      /* blocks in one message */
#define SLACK_SECTION_MAX 3000   /* characters in a section's text */
#define SLACK_HEADER_MAX 150     /* characters in a header block */
#define SLACK_TEXT_MAX 40000     /* top-level text; longer is cut by Slack */
#define MATTERMOST_POST_MAX 16383 /* default MaxPostSize, in characters */
#define DISCORD_EMBEDS_MAX 10
#define DISCORD_TOTAL_MAX 6000   /* all titles, descriptions, ... of all embeds */
#define DISCORD_TITLE_MAX 256
#define DISCORD_DESC_MAX 4096
#define DISCORD_CONTENT_MAX 2000
#define TEAMS_BODY_MAX 20000     /* documented ~28 KB of rendered card; see teams_ops */
#define GCHAT_BODY_MAX 32000     /* whole message, bytes */
#define TELEGRAM_TEXT_MAX 4096   /* characters after entity parsing */
#define NTFY_BODY_MAX 4096       /* bytes; ntfy turns a longer body into an attachment */

#define TELEGRAM_API "https://api.telegram.org"
#define ACK_DEFAULT "watch53 baseline accept"

/* ---- small growing buffer; an allocation failure is sticky and checked once ---- */

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

/* Room for n more bytes and a NUL; false (and oom) when there is none. */
static bool
sb_reserve(struct sbuf *b, size_t n)
{
	if (b->oom)
		return false;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 1024 : b->cap;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return false;
		}
		b->p = p;
		b->cap = cap;
	}
	return true;
}

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (!sb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void
sb_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/*
 * Text that came from an event or the config, rendered for medium m (render.h: the one
 * place that decides what such text may do in a service), at most max UTF-16 units (0:
 * no bound; cut with "…"). Everything a formatter writes that it did not write itself
 * goes through here.
 */
static void
sb_render(struct sbuf *b, enum render_medium m, const char *s, size_t max)
{
	size_t n = render_text(m, s, SIZE_MAX, max, NULL, 0);

	if (!sb_reserve(b, n))
		return;
	render_text(m, s, SIZE_MAX, max, b->p + b->len, n + 1);
	b->len += n;
}

/* ---- UTF-8 ---- */

/*
 * Copy a fixed-size event field (maybe not NUL-terminated: the struct can come from an
 * outbox file) as it is, NUL-terminated, never cutting a character. What the text may
 * contain is render_text()'s business when it is written into a message.
 */
static void
field_copy(char *dst, size_t dstsize, const char *src, size_t srcsize)
{
	size_t n = strnlen(src, srcsize);

	if (n >= dstsize)
		n = alert_utf8_cut(src, n, dstsize - 1);
	memmove(dst, src, n);
	dst[n] = '\0';
}

#define FIELD(dst, ev, f) field_copy((dst), sizeof(dst), (ev)->f, sizeof((ev)->f))

/* ---- what every message says about an event ---- */

struct sev_style {
	const char *word;      /* "CRITICAL" */
	const char *emoji;
	const char *hex;       /* Slack/Mattermost attachment colour */
	int rgb;               /* Discord embed colour */
	const char *card;      /* Adaptive Card TextBlock colour */
	const char *ntfy_tag;  /* ntfy emoji short code */
	const char *ntfy_prio;
};

static const struct sev_style sev_styles[] = {
	[SEV_INFO] = { "INFO", "\U0001F7E2", "#388E3C", 0x388E3C, "Good", "white_check_mark",
		       "low" },
	[SEV_LOW] = { "LOW", "\U0001F535", "#1976D2", 0x1976D2, "Accent", "large_blue_diamond",
		      "low" },
	[SEV_MEDIUM] = { "MEDIUM", "\U0001F7E1", "#FBC02D", 0xFBC02D, "Warning",
			 "large_orange_diamond", "default" },
	[SEV_HIGH] = { "HIGH", "\U0001F7E0", "#F57C00", 0xF57C00, "Warning", "warning", "high" },
	[SEV_CRITICAL] = { "CRITICAL", "\U0001F534", "#D32F2F", 0xD32F2F, "Attention",
			   "rotating_light", "urgent" },
};

#define NSEV (sizeof(sev_styles) / sizeof(sev_styles[0]))

static const char *const type_labels[ALERT_NTYPES] = {
	[ALERT_OPENED] = "Port opened",
	[ALERT_CLOSED] = "Port closed",
	[ALERT_CHANGED] = "DNS changed",
	[ALERT_FLAPPING] = "Port flapping",
	[ALERT_DEGRADED] = "Monitor degraded",
	[ALERT_EXPOSED] = "Port exposed",
	[ALERT_RECOVERED] = "Port recovered",
	[ALERT_UNRESOLVED] = "Name unresolved",
	[ALERT_RESOLVED] = "Name resolved",
	[ALERT_TEST] = "Test alert",
};

/* How much optional detail an event keeps: all of it unless one event alone would not fit
 * (then DNS facts go first, then the why); title, summary and time always stay. */
enum detail { DETAIL_FULL, DETAIL_NO_DNS, DETAIL_MIN };

struct facts {
	const struct sev_style *sev;
	char title[720];   /* "🔴 CRITICAL · Port opened: 127.53.0.5 (ns1) udp/53 · from dc1" */
	char where[560];
	char since[80];    /* "2026-11-27 09:43:14 UTC" (room for any int year) */
	char iso[80];      /* "2026-11-27T09:43:14.123Z" */
	char summary[256];
	char why[256];
	char dns[640];     /* "rcode=NOERROR, aa=false, ra=true" or "" */
	char agent[64];
	struct hint hint;  /* what to do (hint.h), dropped with the DNS facts */
	char runbook[ALERT_URL_MAX]; /* alert_url_ok() or "" */
};

/* The dns object as "key=value, ...": strings bare, other values as JSON; "valid" is left
 * out (an invalid reply has no facts worth a line, its "error" says why). */
static void
dns_text(const struct alert_event *ev, char *out, size_t outlen)
{
	char json[sizeof(ev->dns_json)];
	struct json_tokener *tok;
	struct json_object *o;
	size_t off = 0;

	out[0] = '\0';
	FIELD(json, ev, dns_json);
	if (json[0] == '\0')
		return;
	tok = json_tokener_new_ex(8);
	if (tok == NULL)
		return;
	o = json_tokener_parse_ex(tok, json, (int)strlen(json));
	if (o != NULL && json_tokener_get_error(tok) == json_tokener_success &&
	    json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, key, val) {
			const char *v;
			int n;

			if (strcmp(key, "valid") == 0)
				continue;
			if (json_object_is_type(val, json_type_string))
				v = json_object_get_string(val);
			else
				v = json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN);
			n = snprintf(out + off, outlen - off, "%s%s=%s", off > 0 ? ", " : "", key,
				     v != NULL ? v : "null");
			if (n < 0 || (size_t)n >= outlen - off) {
				out[off] = '\0'; /* whole facts only */
				break;
			}
			off += (size_t)n;
		}
	}
	json_object_put(o);
	json_tokener_free(tok);
}

static int
facts_init(struct facts *x, const struct alert_event *ev)
{
	char address[sizeof(ev->address)], target[sizeof(ev->target)];
	char protocol[sizeof(ev->protocol)], vantage[sizeof(ev->vantage)];
	time_t secs = (time_t)(ev->time_ns / NS_PER_SEC);
	struct tm tm;
	size_t off;

	if ((unsigned)ev->type >= ALERT_NTYPES || (unsigned)ev->severity >= NSEV ||
	    gmtime_r(&secs, &tm) == NULL)
		return -EINVAL;
	x->sev = &sev_styles[ev->severity];
	FIELD(address, ev, address);
	FIELD(target, ev, target);
	FIELD(protocol, ev, protocol);
	FIELD(x->summary, ev, summary);
	FIELD(x->why, ev, why);
	FIELD(x->agent, ev, agent);
	dns_text(ev, x->dns, sizeof(x->dns));
	hint_for(ev, &x->hint);
	/* an outbox file is untrusted: only a URL every service can take becomes a link */
	FIELD(x->runbook, ev, runbook_url);
	if (!alert_url_ok(x->runbook))
		x->runbook[0] = '\0';

	/* Where: the address, with the configured name when it says more, and the port; an
	 * event about the monitor itself has no address and names the agent. */
	if (address[0] != '\0' && target[0] != '\0' && strcmp(address, target) != 0)
		snprintf(x->where, sizeof(x->where), "%s (%s)", address, target);
	else if (address[0] != '\0')
		snprintf(x->where, sizeof(x->where), "%s", address);
	else if (target[0] != '\0')
		snprintf(x->where, sizeof(x->where), "%s", target);
	else
		snprintf(x->where, sizeof(x->where), "%s",
			 x->agent[0] != '\0' ? x->agent : "this monitor");
	off = strlen(x->where);
	if (protocol[0] != '\0')
		snprintf(x->where + off, sizeof(x->where) - off, " %s/%u", protocol,
			 (unsigned)ev->port);
	/* where it was seen from, in the line every service shows: the same exposure seen from
	 * two vantage points is two messages that must not read alike */
	FIELD(vantage, ev, vantage);
	snprintf(x->title, sizeof(x->title), "%s %s \u00b7 %s: %s%s%s", x->sev->emoji,
		 x->sev->word, type_labels[ev->type], x->where,
		 vantage[0] != '\0' ? " \u00b7 from " : "", vantage);

	snprintf(x->since, sizeof(x->since), "%04d-%02d-%02d %02d:%02d:%02d UTC",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	snprintf(x->iso, sizeof(x->iso), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(ev->time_ns % NS_PER_SEC / NS_PER_MS));
	return 0;
}

/* "watch53 on mon1 from dc-east: 3 events (1 critical, 2 high)" for events[0 .. n) (agent
 * and vantage of the first: one outbox is one agent's) */
static void
digest_header(const struct alert_event *ev, size_t n, char *buf, size_t len)
{
	static const enum alert_severity order[] = { SEV_CRITICAL, SEV_HIGH, SEV_MEDIUM,
						     SEV_LOW, SEV_INFO };
	size_t count[NSEV] = { 0 };
	char agent[sizeof(ev->agent)], vantage[sizeof(ev->vantage)];
	size_t off;
	int w;

	for (size_t i = 0; i < n; i++)
		if ((unsigned)ev[i].severity < NSEV)
			count[ev[i].severity]++;
	FIELD(agent, &ev[0], agent);
	FIELD(vantage, &ev[0], vantage);
	/* the header is what notifications show: the vantage too, unless it is the host name
	 * (the default) already there */
	if (strcmp(vantage, agent) == 0)
		vantage[0] = '\0';
	w = snprintf(buf, len, "watch53%s%s%s%s: %zu event%s (", agent[0] != '\0' ? " on " : "",
		     agent, vantage[0] != '\0' ? " from " : "", vantage, n, n == 1 ? "" : "s");
	off = w < 0 ? 0 : (size_t)w;
	for (size_t i = 0, first = 1; i < NSEV && off < len; i++) {
		enum alert_severity s = order[i];

		if (count[s] == 0)
			continue;
		w = snprintf(buf + off, len - off, "%s%zu %s", first ? "" : ", ", count[s],
			     alert_severity_name(s));
		off += w < 0 ? 0 : (size_t)w;
		first = 0;
	}
	if (off < len)
		snprintf(buf + off, len - off, ")");
}

/* The most severe event of events[0 .. n). */
static enum alert_severity
top_severity(const struct alert_event *ev, size_t n)
{
	enum alert_severity top = SEV_INFO;

	for (size_t i = 0; i < n; i++)
		if ((unsigned)ev[i].severity < NSEV && ev[i].severity > top)
			top = ev[i].severity;
	return top;
}

/* Does this message name the configured mention (an event at or above its severity)? */
static bool
mention_due(const struct sink_settings *s, const struct alert_event *ev, size_t n)
{
	return s->mention_on && top_severity(ev, n) >= s->mention_min_severity;
}

/* Only info and low: delivered without a sound where the service can (Telegram, Discord,
 * ntfy), unless the message mentions someone. `alerts test` checks a sink end to end, the
 * sound included: never quiet. */
static bool
quiet(const struct sink_settings *s, const struct alert_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ev[i].type == ALERT_TEST)
			return false;
	return top_severity(ev, n) <= SEV_LOW && !mention_due(s, ev, n);
}

static const char *
mention_name(const struct sink_settings *s)
{
	return s->mention_name != NULL && s->mention_name[0] != '\0' ? s->mention_name
								      : "on-call";
}

static const char *
ack_cmd(const struct sink_settings *s)
{
	return s->agent_cmd != NULL && s->agent_cmd[0] != '\0' ? s->agent_cmd : ACK_DEFAULT;
}

/* Markup of the text-based formats, and how text from outside is rendered in them. */
struct style {
	enum render_medium text; /* in running text, titles and labels' values */
	enum render_medium code; /* inside c0 .. c1 */
	const char *b0, *b1;     /* strong: titles */
	const char *l0, *l1;     /* labels: "Since:" */
	const char *c0, *c1;     /* code: the command */
};

static const struct style st_slack = { RENDER_SLACK, RENDER_SLACK_CODE, "*", "*", "*", "*",
				       "`", "`" };
static const struct style st_mattermost = { RENDER_MATTERMOST, RENDER_MATTERMOST_CODE, "**",
					    "**", "**", "**", "`", "`" };
static const struct style st_discord = { RENDER_DISCORD, RENDER_DISCORD_CODE, "**", "**",
					 "**", "**", "`", "`" };
static const struct style st_gchat = { RENDER_GCHAT, RENDER_GCHAT_CODE, "*", "*", "_", "_",
				       "`", "`" };
static const struct style st_html = { RENDER_HTML, RENDER_HTML_CODE, "<b>", "</b>", "<i>",
				      "</i>", "<code>", "</code>" };
static const struct style st_plain = { RENDER_PLAIN, RENDER_PLAIN, "", "", "", "", "", "" };

static void
put_label(struct sbuf *b, const struct style *st, const char *label, const char *text)
{
	sb_str(b, "\n");
	sb_str(b, st->l0);
	sb_str(b, label);
	sb_str(b, st->l1);
	sb_str(b, " ");
	sb_render(b, st->text, text, 0);
}

/* "What to do:" and the hint's lines, each a label and a command in a code span. The
 * text is ours, but a command holds the event's address: rendered like any other. */
static void
put_hint(struct sbuf *b, const struct style *st, const struct facts *x, enum detail d)
{
	if (d >= DETAIL_NO_DNS || x->hint.n == 0)
		return;
	sb_str(b, "\n");
	sb_str(b, st->l0);
	sb_str(b, "What to do:");
	sb_str(b, st->l1);
	for (size_t i = 0; i < x->hint.n; i++) {
		sb_str(b, "\n");
		sb_render(b, st->text, x->hint.line[i].label, 0);
		sb_str(b, " ");
		sb_str(b, st->c0);
		sb_render(b, st->code, x->hint.line[i].cmd, 0);
		sb_str(b, st->c1);
	}
}

/* summary, since, why, DNS: one line each; then what to do */
static void
put_details(struct sbuf *b, const struct style *st, const struct facts *x, enum detail d)
{
	sb_render(b, st->text, x->summary, 0);
	put_label(b, st, "Since:", x->since);
	if (d < DETAIL_MIN && x->why[0] != '\0')
		put_label(b, st, "Why it matters:", x->why);
	if (d < DETAIL_NO_DNS && x->dns[0] != '\0')
		put_label(b, st, "DNS:", x->dns);
	put_hint(b, st, x, d);
}

static void
put_strong(struct sbuf *b, const struct style *st, const char *text)
{
	sb_str(b, st->b0);
	sb_render(b, st->text, text, 0);
	sb_str(b, st->b1);
}

static void
put_event(struct sbuf *b, const struct style *st, const struct facts *x, enum detail d)
{
	put_strong(b, st, x->title);
	sb_str(b, "\n");
	put_details(b, st, x, d);
}

static void
put_ack(struct sbuf *b, const struct style *st, const struct sink_settings *s)
{
	sb_str(b, "Acknowledge: ");
	sb_str(b, st->c0);
	sb_render(b, st->code, ack_cmd(s), 0);
	sb_str(b, st->c1);
}

/* ---- the message ---- */

static int
msg_url(struct sink_message *m, const char *url)
{
	if (url == NULL || url[0] == '\0')
		return -EINVAL;
	m->url = strdup(url);
	return m->url == NULL ? -ENOMEM : 0;
}

/* One "Name: value" header. A CR or LF would let a value start a header of its own. */
__attribute__((format(printf, 2, 3))) static int
msg_header(struct sink_message *m, const char *fmt, ...)
{
	va_list ap;
	char *h;
	int n;

	if (m->nheaders >= SINK_MAX_HEADERS)
		return -ENOSPC;
	va_start(ap, fmt);
	n = vasprintf(&h, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (strpbrk(h, "\r\n") != NULL) {
		explicit_bzero(h, (size_t)n);
		free(h);
		return -EINVAL;
	}
	m->headers[m->nheaders++] = h;
	return 0;
}

/* Hand the buffer over as the body. */
static int
msg_body_sb(struct sink_message *m, struct sbuf *b)
{
	if (b->oom)
		return -ENOMEM;
	if (b->p == NULL)
		sb_add(b, "", 0);
	if (b->oom)
		return -ENOMEM;
	m->body = b->p;
	m->body_len = b->len;
	memset(b, 0, sizeof(*b));
	return 0;
}

static int
msg_body_json(struct sink_message *m, struct json_object *root)
{
	const char *text;
	size_t len;

	text = json_object_to_json_string_length(
		root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text == NULL)
		return -ENOMEM;
	m->body = strdup(text);
	if (m->body == NULL)
		return -ENOMEM;
	m->body_len = len;
	return 0;
}

/* ---- json-c helpers (alert_json_add and _push, alerts/event.h) ---- */

static int
jadd_str(struct json_object *o, const char *key, const char *s)
{
	return alert_json_add(o, key, json_object_new_string(s));
}

/* The text of an sbuf as a JSON string; the sbuf is emptied. */
static int
jadd_sb(struct json_object *o, const char *key, struct sbuf *b)
{
	int rc;

	if (b->oom)
		return -ENOMEM;
	rc = alert_json_add(o, key, json_object_new_string_len(b->p != NULL ? b->p : "", (int)b->len));
	sb_free(b);
	return rc;
}

/* {"type": type, "text": text} and friends */
static struct json_object *
jtext(const char *type, const char *text)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	if (jadd_str(o, "type", type) < 0 || jadd_str(o, "text", text) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* s rendered for medium m (sb_render) as a JSON string; NULL when out of memory. */
static struct json_object *
jrender(enum render_medium m, const char *s, size_t max)
{
	struct sbuf b = { 0 };
	struct json_object *o = NULL;

	sb_render(&b, m, s, max);
	if (!b.oom)
		o = json_object_new_string_len(b.p != NULL ? b.p : "", (int)b.len);
	sb_free(&b);
	return o;
}

/* ---- fitting events into messages ---- */

static bool mention_ok(const struct sink_settings *s);

struct fmt {
	const struct sink_settings *s;
	const struct alert_event *ev;
	size_t n;          /* events in this candidate */
	enum detail detail;
	uint64_t now_ns;
};

/* Build the candidate for f->n events; *fits says whether it is within the service's
 * limits. A negative return is a hard error (memory, bad settings), not "too big". */
typedef int (*build_fn)(const struct fmt *f, struct sink_message *m, bool *fits);

static int
build_one(build_fn build, const struct fmt *f, struct sink_message *best, bool *fits)
{
	struct sink_message cand;
	int rc;

	memset(&cand, 0, sizeof(cand));
	rc = build(f, &cand, fits);
	if (rc < 0 || !*fits) {
		sink_message_clear(&cand);
		return rc;
	}
	sink_message_clear(best);
	*best = cand;
	return 0;
}

static int
fit(build_fn build, size_t max_events, const struct sink_settings *s,
    const struct alert_event *ev, size_t n, uint64_t now_ns, struct sink_message *m)
{
	struct fmt f = { .s = s, .ev = ev, .detail = DETAIL_FULL, .now_ns = now_ns };
	struct sink_message best;
	size_t lo = 0, hi;
	bool fits;
	int rc;

	memset(&best, 0, sizeof(best));
	if (m == NULL)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	if (s == NULL || ev == NULL || n == 0 || !mention_ok(s))
		return -EINVAL;
	hi = n < max_events ? n : max_events;
	/* Most cycles raise a few events that all fit: try that first. Otherwise binary
	 * search for the largest prefix that fits (lo fits or is 0; hi+1 does not fit). */
	f.n = hi;
	if ((rc = build_one(build, &f, &best, &fits)) < 0)
		goto out;
	if (fits)
		lo = hi;
	else
		hi--;
	while (lo < hi) {
		f.n = lo + (hi - lo + 1) / 2;
		if ((rc = build_one(build, &f, &best, &fits)) < 0)
			goto out;
		if (fits)
			lo = f.n;
		else
			hi = f.n - 1;
	}
	/* One event alone too big: give up its optional detail, never the event. */
	for (f.n = 1, f.detail = DETAIL_NO_DNS; lo == 0 && f.detail <= DETAIL_MIN; f.detail++) {
		if ((rc = build_one(build, &f, &best, &fits)) < 0)
			goto out;
		if (fits)
			lo = 1;
	}
	if (lo == 0) {
		rc = -EMSGSIZE;
		goto out;
	}
	best.nevents = lo;
	*m = best;
	return 0;
out:
	sink_message_clear(&best);
	return rc;
}

/* ---- generic webhook: the contract's event JSON, one event a request, signed ---- */

/*
 * The hint as data: the event JSON gains "remediation": [{"label", "command"}, ...] as its
 * last key when there is one (hint.h), the same lines the chat sinks show. body[0 .. len)
 * is alert_event_to_json()'s object; returns the new length, or -ENOSPC / -ENOMEM.
 */
static int
webhook_remediation(const struct alert_event *ev, char *body, size_t len, size_t cap)
{
	struct json_object *arr, *o;
	struct hint h;
	const char *text;
	size_t tlen;
	int rc = 0;

	if (hint_for(ev, &h) == 0)
		return (int)len;
	if (len < 2 || body[len - 1] != '}')
		return -EINVAL;
	arr = json_object_new_array();
	if (arr == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < h.n && rc == 0; i++) {
		o = json_object_new_object();
		if ((rc = alert_json_push(arr, o)) == 0 && (rc = jadd_str(o, "label", h.line[i].label)) == 0)
			rc = jadd_str(o, "command", h.line[i].cmd);
	}
	if (rc == 0) {
		text = json_object_to_json_string_length(
			arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &tlen);
		if (text == NULL)
			rc = -ENOMEM;
		else if (len + tlen + sizeof(",\"remediation\":}") > cap)
			rc = -ENOSPC;
		else
			rc = (int)(len - 1 + (size_t)sprintf(body + len - 1, ",\"remediation\":%s}",
							      text));
	}
	json_object_put(arr);
	return rc;
}

static int
webhook_build(const struct fmt *f, struct sink_message *m, bool *fits)
{
	char *body = NULL;
	uint8_t key[SIGN_KEY_MAX];
	size_t keylen = 0;
	char sig[SIGN_SIG_LEN], id[ALERT_ID_LEN];
	uint64_t ts = f->now_ns / NS_PER_SEC;
	int n, rc;

	*fits = true;
	body = malloc(ALERT_JSON_MAX);
	if (body == NULL)
		return -ENOMEM;
	n = alert_event_to_json(&f->ev[0], body, ALERT_JSON_MAX);
	if (n < 0) {
		rc = n;
		goto out;
	}
	if ((rc = webhook_remediation(&f->ev[0], body, (size_t)n, ALERT_JSON_MAX)) < 0)
		goto out;
	m->body = body;
	m->body_len = (size_t)rc;
	body = NULL;
	FIELD(id, &f->ev[0], id);
	if ((rc = msg_url(m, f->s->url)) < 0 ||
	    (rc = msg_header(m, "Content-Type: application/json")) < 0 ||
	    (rc = msg_header(m, "webhook-id: %s", id)) < 0 ||
	    (rc = msg_header(m, "webhook-timestamp: %" PRIu64, ts)) < 0)
		goto out;
	/* Without a secret the receiver has nothing to verify with: no header at all rather
	 * than one that can never check out. */
	if (f->s->secret != NULL && f->s->secret[0] != '\0') {
		if ((rc = sign_decode_key(f->s->secret, key, sizeof(key), &keylen)) < 0 ||
		    (rc = sign_webhook(key, keylen, id, ts, m->body, m->body_len, sig,
				       sizeof(sig))) < 0 ||
		    (rc = msg_header(m, "webhook-signature: %s", sig)) < 0)
			goto out;
	}
	rc = 0;
out:
	explicit_bzero(key, sizeof(key));
	free(body);
	return rc;
}

static int
webhook_format(const struct sink_settings *s, const struct alert_event *ev, size_t n,
	       uint64_t now_ns, struct sink_message *m)
{
	return fit(webhook_build, 1, s, ev, n, now_ns, m);
}

/* ---- Slack: incoming webhook, Block Kit with a text fallback ---- */

/* A mrkdwn text object, verbatim: Slack then makes no link or mention of its own out of
 * plain text (the text from outside in it is neutral already: render_text()). */
static struct json_object *
slack_mrkdwn(const char *text)
{
	struct json_object *o = jtext("mrkdwn", text);

	if (o != NULL && alert_json_add(o, "verbatim", json_object_new_boolean(true)) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The event's runbook as a button beside its section (a section accessory: one button an
 * event, in the block that names the place, and no block of its own to count). */
static int
slack_runbook(struct json_object *section, const struct facts *x, size_t i)
{
	struct json_object *btn, *t;
	char id[32];
	int rc;

	if (x->runbook[0] == '\0')
		return 0;
	snprintf(id, sizeof(id), "runbook-%zu", i);
	btn = json_object_new_object();
	if ((rc = alert_json_add(section, "accessory", btn)) < 0)
		return rc;
	t = json_object_new_object();
	if ((rc = jadd_str(btn, "type", "button")) < 0 || (rc = alert_json_add(btn, "text", t)) < 0 ||
	    (rc = jadd_str(t, "type", "plain_text")) < 0 ||
	    (rc = jadd_str(t, "text", "Runbook")) < 0 ||
	    (rc = jadd_str(btn, "url", x->runbook)) < 0 ||
	    (rc = jadd_str(btn, "action_id", id)) < 0)
		return rc;
	return 0;
}

static int
slack_build(const struct fmt *f, struct sink_message *m, bool *fits)
{
	struct json_object *root = NULL, *blocks, *block, *elems, *ht;
	struct sbuf text = { 0 }, sec = { 0 };
	char header[256];
	struct facts x;
	int rc;

	*fits = f->n + 2 <= SLACK_BLOCKS_MAX; /* header + one section an event + context */
	digest_header(f->ev, f->n, header, sizeof(header));
	blocks = json_object_new_array();
	if (blocks == NULL)
		return -ENOMEM;
	block = json_object_new_object();
	/* The header is plain text and only repeats counts: cut to the block's limit. */
	ht = json_object_new_object();
	if ((rc = alert_json_push(blocks, block)) < 0 || (rc = jadd_str(block, "type", "header")) < 0 ||
	    (rc = alert_json_add(block, "text", ht)) < 0 ||
	    (rc = jadd_str(ht, "type", "plain_text")) < 0 ||
	    (rc = alert_json_add(ht, "text", jrender(RENDER_PLAIN, header, SLACK_HEADER_MAX))) < 0)
		goto out;
	/* Notifications and clients without blocks show the text: header and summaries. The
	 * configured mention is the only one, and ours: checked syntax, written as it is. */
	if (mention_due(f->s, f->ev, f->n)) {
		sb_str(&text, f->s->mention);
		sb_str(&text, " ");
	}
	sb_render(&text, RENDER_SLACK, header, 0);
	for (size_t i = 0; i < f->n; i++) {
		if ((rc = facts_init(&x, &f->ev[i])) < 0)
			goto out;
		sb_str(&text, "\n");
		sb_str(&text, x.sev->emoji);
		sb_str(&text, " ");
		sb_str(&text, x.sev->word);
		sb_str(&text, ": ");
		sb_render(&text, RENDER_SLACK, x.summary, 0);

		put_event(&sec, &st_slack, &x, f->detail);
		if (sec.oom) {
			rc = -ENOMEM;
			goto out;
		}
		if (alert_utf16_len(sec.p, sec.len) > SLACK_SECTION_MAX)
			*fits = false;
		block = json_object_new_object();
		if ((rc = alert_json_push(blocks, block)) < 0 ||
		    (rc = jadd_str(block, "type", "section")) < 0 ||
		    (rc = alert_json_add(block, "text", slack_mrkdwn(sec.p))) < 0 ||
		    (rc = slack_runbook(block, &x, i)) < 0)
			goto out;
		sb_free(&sec);
	}
	if (mention_due(f->s, f->ev, f->n)) {
		sb_str(&sec, f->s->mention);
		sb_str(&sec, " ");
	}
	put_ack(&sec, &st_slack, f->s);
	if (sec.oom || text.oom) {
		rc = -ENOMEM;
		goto out;
	}
	if (alert_utf16_len(sec.p, sec.len) > SLACK_SECTION_MAX ||
	    alert_utf16_len(text.p, text.len) > SLACK_TEXT_MAX)
		*fits = false;
	block = json_object_new_object();
	elems = json_object_new_array();
	if ((rc = alert_json_push(blocks, block)) < 0 || (rc = jadd_str(block, "type", "context")) < 0 ||
	    (rc = alert_json_add(block, "elements", elems)) < 0 ||
	    (rc = alert_json_push(elems, slack_mrkdwn(sec.p))) < 0)
		goto out;
	/* "text" before "blocks" (json-c keeps insertion order) for readers of the raw body */
	root = json_object_new_object();
	if (root == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = jadd_sb(root, "text", &text);
	if (rc == 0)
		rc = alert_json_add(root, "blocks", blocks);
	blocks = NULL; /* root's now, or released by jadd */
	/* no preview fetched from an address a DNS server chose */
	if (rc == 0)
		rc = alert_json_add(root, "unfurl_links", json_object_new_boolean(false));
	if (rc == 0)
		rc = alert_json_add(root, "unfurl_media", json_object_new_boolean(false));
	if (rc < 0)
		goto out;
	if ((rc = msg_url(m, f->s->url)) < 0 ||
	    (rc = msg_header(m, "Content-Type: application/json; charset=utf-8")) < 0 ||
	    (rc = msg_body_json(m, root)) < 0)
		goto out;
out:
	sb_free(&text);
	sb_free(&sec);
	json_object_put(blocks);
	json_object_put(root);
	return rc;
}

static int
slack_format(const struct sink_settings *s, const struct alert_event *ev, size_t n,
	     uint64_t now_ns, struct sink_message *m)
{
	return fit(slack_build, SLACK_BLOCKS_MAX - 2, s, ev, n, now_ns, m);
}

/* ---- Mattermost: incoming webhook, Markdown text + Slack-style attachments ---- */

static int
mattermost_build(const struct fmt *f, struct sink_message *m, bool *fits)
{
	struct json_object *root, *atts, *att;
	struct sbuf b = { 0 };
	char header[256];
	struct facts x;
	int rc;

	digest_header(f->ev, f->n, header, sizeof(header));
	root = json_object_new_object();
	if (root == NULL)
		return -ENOMEM;
	if (mention_due(f->s, f->ev, f->n)) {
		/* "@username", checked: the only mention, on a line of its own */
		sb_str(&b, f->s->mention);
		sb_str(&b, "\n");
	}
	put_strong(&b, &st_mattermost, header);
	sb_str(&b, "\n");
	put_ack(&b, &st_mattermost, f->s);
	if ((rc = jadd_sb(root, "text", &b)) < 0)
		goto out;
	atts = json_object_new_array();
	if ((rc = alert_json_add(root, "attachments", atts)) < 0)
		goto out;
	for (size_t i = 0; i < f->n; i++) {
		if ((rc = facts_init(&x, &f->ev[i])) < 0)
			goto out;
		att = json_object_new_object();
		if ((rc = alert_json_push(atts, att)) < 0)
			goto out;
		/* fallback: what notifications show, plain text; the title is Markdown */
		sb_str(&b, x.sev->word);
		sb_str(&b, ": ");
		sb_render(&b, RENDER_PLAIN, x.summary, 0);
		if ((rc = jadd_sb(att, "fallback", &b)) < 0 ||
		    (rc = jadd_str(att, "color", x.sev->hex)) < 0 ||
		    (rc = alert_json_add(att, "title", jrender(RENDER_MATTERMOST, x.title, 0))) < 0 ||
		    (x.runbook[0] != '\0' &&
		     (rc = jadd_str(att, "title_link", x.runbook)) < 0))
			goto out;
		put_details(&b, &st_mattermost, &x, f->detail);
		if ((rc = jadd_sb(att, "text", &b)) < 0)
			goto out;
	}
	if ((rc = msg_url(m, f->s->url)) < 0 ||
	    (rc = msg_header(m, "Content-Type: application/json; charset=utf-8")) < 0 ||
	    (rc = msg_body_json(m, root)) < 0)
		goto out;
	/* The post limit is in characters of the message; counting the whole body's bytes
	 * is stricter and keeps attachments (stored in props) within it too. */
	*fits = m->body_len <= MATTERMOST_POST_MAX;
out:
	sb_free(&b);
	json_object_put(root);
	return rc;
}

static int
mattermost_format(const struct sink_settings *s, const struct alert_event *ev, size_t n,
		  uint64_t now_ns, struct sink_message *m)
{
	return fit(mattermost_build, DIGEST_MAX, s, ev, n, now_ns, m);
}

/* ---- Discord: execute webhook, one embed an event, colour by severity ---- */

static int
discord_build(const struct fmt *f, struct sink_message *m, bool *fits)
{
	struct json_object *root, *embeds, *embed, *am;
	struct sbuf b = { 0 }, title = { 0 };
	char header[256];
	size_t total = 0, len;
	struct facts x;
	int rc;

	*fits = f->n <= DISCORD_EMBEDS_MAX;
	digest_header(f->ev, f->n, header, sizeof(header));
	root = json_object_new_object();
	if (root == NULL)
		return -ENOMEM;
	if (mention_due(f->s, f->ev, f->n)) {
		sb_str(&b, f->s->mention); /* "<@id>" or "<@&id>", checked */
		sb_str(&b, "\n");
	}
	put_strong(&b, &st_discord, header);
	sb_str(&b, "\n");
	put_ack(&b, &st_discord, f->s);
	if (alert_utf16_len(b.p != NULL ? b.p : "", b.len) > DISCORD_CONTENT_MAX)
		*fits = false;
	if ((rc = jadd_sb(root, "content", &b)) < 0)
		goto out;
	embeds = json_object_new_array();
	if ((rc = alert_json_add(root, "embeds", embeds)) < 0)
		goto out;
	for (size_t i = 0; i < f->n; i++) {
		if ((rc = facts_init(&x, &f->ev[i])) < 0)
			goto out;
		/* A long name can push the title past 256; the summary below still names the
		 * place in full, so the title is cut ("…") rather than the event dropped. */
		sb_render(&title, RENDER_DISCORD, x.title, DISCORD_TITLE_MAX);
		put_details(&b, &st_discord, &x, f->detail);
		if (b.oom || title.oom) {
			rc = -ENOMEM;
			goto out;
		}
		len = alert_utf16_len(b.p != NULL ? b.p : "", b.len);
		if (len > DISCORD_DESC_MAX)
			*fits = false;
		total += len + alert_utf16_len(title.p != NULL ? title.p : "", title.len);
		embed = json_object_new_object();
		if ((rc = alert_json_push(embeds, embed)) < 0 || (rc = jadd_sb(embed, "title", &title)) < 0 ||
		    (rc = jadd_sb(embed, "description", &b)) < 0 ||
		    (rc = alert_json_add(embed, "color", json_object_new_int(x.sev->rgb))) < 0 ||
		    (rc = jadd_str(embed, "timestamp", x.iso)) < 0 ||
		    /* the title links to the runbook */
		    (x.runbook[0] != '\0' && (rc = jadd_str(embed, "url", x.runbook)) < 0))
			goto out;
	}
	if (total > DISCORD_TOTAL_MAX)
		*fits = false;
	/* No mention is parsed at all, whatever the text says (it says none: render_text()),
	 * but the configured one: exactly that user or role id. */
	am = json_object_new_object();
	if ((rc = alert_json_add(root, "allowed_mentions", am)) < 0 ||
	    (rc = alert_json_add(am, "parse", json_object_new_array())) < 0)
		goto out;
	if (mention_due(f->s, f->ev, f->n)) {
		const char *mm = f->s->mention;
		bool role = mm[2] == '&';
		size_t off = role ? 3 : 2;
		struct json_object *ids = json_object_new_array();

		if ((rc = alert_json_add(am, role ? "roles" : "users", ids)) < 0 ||
		    (rc = alert_json_push(ids, json_object_new_string_len(mm + off,
								 (int)(strlen(mm) - off - 1)))) < 0)
			goto out;
	}
	/* info and low: posted without a notification (SUPPRESS_NOTIFICATIONS) */
	if (quiet(f->s, f->ev, f->n) &&
	    (rc = alert_json_add(root, "flags", json_object_new_int(1 << 12))) < 0)
		goto out;
	if ((rc = msg_url(m, f->s->url)) < 0 ||
	    (rc = msg_header(m, "Content-Type: application/json")) < 0 ||
	    (rc = msg_body_json(m, root)) < 0)
		goto out;
out:
	sb_free(&b);
	sb_free(&title);
	json_object_put(root);
	return rc;
}

static int
discord_format(const struct sink_settings *s, const struct alert_event *ev, size_t n,
	       uint64_t now_ns, struct sink_message *m)
{
	return fit(discord_build, DISCORD_EMBEDS_MAX, s, ev, n, now_ns, m);
}

/* ---- Microsoft Teams: Workflows "when a Teams webhook request is received", which takes
 * a message with Adaptive Card attachments (not the retired Office 365 MessageCard) ---- */

/* A TextBlock; its text is card Markdown, so it is rendered (RENDER_TEAMS). */
static struct json_object *
card_text(const char *text, bool bold, const char *color)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	if (jadd_str(o, "type", "TextBlock") < 0 ||
	    alert_json_add(o, "text", jrender(RENDER_TEAMS, text, 0)) < 0 ||
	    (bold && jadd_str(o, "weight", "Bolder") < 0) ||
	    (color != NULL && jadd_str(o, "color", color) < 0) ||
	    alert_json_add(o, "wrap", json_object_new_boolean(true)) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int
card_fact(struct json_object *facts, const char *title, const char *value)
{
	struct json_object *o = json_object_new_object();
	int rc;

	if ((rc = alert_json_push(facts, o)) < 0)
		return rc;
	/* the title is ours; the value is card Markdown */
	if ((rc = jadd_str(o, "title", title)) < 0 ||
	    (rc = alert_json_add(o, "value", jrender(RENDER_TEAMS, value, 0))) < 0)
		return rc;
	return 0;
}

/* A RichTextBlock with one monospace TextRun: a TextRun is not read as Markdown (Adaptive
 * Cards 1.2), so the command is shown exactly as it must be typed. */
static struct json_object *
card_code(const char *text)
{
	struct json_object *o = json_object_new_object(), *inlines, *run;

	if (o == NULL)
		return NULL;
	inlines = json_object_new_array();
	if (jadd_str(o, "type", "RichTextBlock") < 0 || alert_json_add(o, "inlines", inlines) < 0)
		goto bad;
	run = json_object_new_object();
	if (alert_json_push(inlines, run) < 0 || jadd_str(run, "type", "TextRun") < 0 ||
	    alert_json_add(run, "text", jrender(RENDER_PLAIN, text, 0)) < 0 ||
	    jadd_str(run, "fontType", "Monospace") < 0)
		goto bad;
	return o;
bad:
	json_object_put(o);
	return NULL;
}

static int
teams_event(struct json_object *body, const struct facts *x, enum detail d)
{
	struct json_object *cont = json_object_new_object(), *items, *fs, *facts;
	int rc;

	if ((rc = alert_json_push(body, cont)) < 0 || (rc = jadd_str(cont, "type", "Container")) < 0 ||
	    (rc = alert_json_add(cont, "separator", json_object_new_boolean(true))) < 0)
		return rc;
	items = json_object_new_array();
	if ((rc = alert_json_add(cont, "items", items)) < 0 ||
	    (rc = alert_json_push(items, card_text(x->title, true, x->sev->card))) < 0 ||
	    (rc = alert_json_push(items, card_text(x->summary, false, NULL))) < 0)
		return rc;
	fs = json_object_new_object();
	facts = json_object_new_array();
	if ((rc = alert_json_push(items, fs)) < 0 || (rc = jadd_str(fs, "type", "FactSet")) < 0 ||
	    (rc = alert_json_add(fs, "facts", facts)) < 0 ||
	    (rc = card_fact(facts, "Since", x->since)) < 0)
		return rc;
	if (d < DETAIL_MIN && x->why[0] != '\0' &&
	    (rc = card_fact(facts, "Why it matters", x->why)) < 0)
		return rc;
	if (d < DETAIL_NO_DNS && x->dns[0] != '\0' && (rc = card_fact(facts, "DNS", x->dns)) < 0)
		return rc;
	/* what to do: each label a TextBlock, each command a monospace TextRun */
	if (d < DETAIL_NO_DNS && x->hint.n > 0) {
		if ((rc = alert_json_push(items, card_text("What to do:", true, NULL))) < 0)
			return rc;
		for (size_t i = 0; i < x->hint.n; i++)
			if ((rc = alert_json_push(items,
					card_text(x->hint.line[i].label, false, NULL))) < 0 ||
			    (rc = alert_json_push(items, card_code(x->hint.line[i].cmd))) < 0)
				return rc;
	}
	if (x->runbook[0] != '\0') {
		struct json_object *set = json_object_new_object(), *acts, *act;

		if ((rc = alert_json_push(items, set)) < 0 || (rc = jadd_str(set, "type", "ActionSet")) < 0)
			return rc;
		acts = json_object_new_array();
		if ((rc = alert_json_add(set, "actions", acts)) < 0)
			return rc;
		act = json_object_new_object();
		if ((rc = alert_json_push(acts, act)) < 0 ||
		    (rc = jadd_str(act, "type", "Action.OpenUrl")) < 0 ||
		    (rc = jadd_str(act, "title", "Runbook")) < 0 ||
		    (rc = jadd_str(act, "url", x->runbook)) < 0)
			return rc;
	}
	return 0;
}

/* The configured user as an Adaptive Card mention: "<at>name</at>" in a TextBlock and the
 * entity that says who it is (msteams.entities). Both are checked text, written as is. */
static int
teams_mention(struct json_object *body, struct json_object *ms, const struct sink_settings *s)
{
	struct json_object *tb, *ents, *ent, *who;
	char *at = NULL;
	int rc;

	if (asprintf(&at, "<at>%s</at>", mention_name(s)) < 0)
		return -ENOMEM;
	tb = json_object_new_object();
	if ((rc = alert_json_push(body, tb)) < 0 || (rc = jadd_str(tb, "type", "TextBlock")) < 0 ||
	    (rc = jadd_str(tb, "text", at)) < 0 ||
	    (rc = alert_json_add(tb, "wrap", json_object_new_boolean(true))) < 0)
		goto out;
	ents = json_object_new_array();
	if ((rc = alert_json_add(ms, "entities", ents)) < 0)
		goto out;
	ent = json_object_new_object();
	who = json_object_new_object();
	if ((rc = alert_json_push(ents, ent)) < 0 || (rc = jadd_str(ent, "type", "mention")) < 0 ||
	    (rc = jadd_str(ent, "text", at)) < 0 || (rc = alert_json_add(ent, "mentioned", who)) < 0 ||
	    (rc = jadd_str(who, "id", s->mention)) < 0 ||
	    (rc = jadd_str(who, "name", mention_name(s))) < 0)
		goto out;
out:
	free(at);
	return rc;
}

static int
teams_build(const struct fmt *f, struct sink_message *m, bool *fits)
{
	struct json_object *root, *atts, *att, *card, *ms, *body, *cmd;
	char header[256];
	struct facts x;
	int rc;

	digest_header(f->ev, f->n, header, sizeof(header));
	root = json_object_new_object();
	if (root == NULL)
		return -ENOMEM;
	atts = json_object_new_array();
	att = json_object_new_object();
	card = json_object_new_object();
	if ((rc = jadd_str(root, "type", "message")) < 0 ||
	    (rc = alert_json_add(root, "attachments", atts)) < 0 ||
	    (rc = alert_json_push(atts, att)) < 0 ||
	    (rc = jadd_str(att, "contentType", "application/vnd.microsoft.card.adaptive")) < 0 ||
	    (rc = json_object_object_add(att, "contentUrl", NULL)) < 0 ||
	    (rc = alert_json_add(att, "content", card)) < 0 ||
	    (rc = jadd_str(card, "$schema",
			   "http://adaptivecards.io/schemas/adaptive-card.json")) < 0 ||
	    (rc = jadd_str(card, "type", "AdaptiveCard")) < 0 ||
	    /* 1.4: what Teams renders on desktop, web and mobile alike */
	    (rc = jadd_str(card, "version", "1.4")) < 0)
		goto out;
	ms = json_object_new_object();
	if ((rc = alert_json_add(card, "msteams", ms)) < 0 || (rc = jadd_str(ms, "width", "Full")) < 0)
		goto out;
	body = json_object_new_array();
	if ((rc = alert_json_add(card, "body", body)) < 0)
		goto out;
	{
		struct json_object *h = card_text(header, true, NULL);

		if (h != NULL && jadd_str(h, "size", "Medium") < 0) {
			json_object_put(h);
			h = NULL;
		}
		if ((rc = alert_json_push(body, h)) < 0)
			goto out;
	}
	if (mention_due(f->s, f->ev, f->n) && (rc = teams_mention(body, ms, f->s)) < 0)
		goto out;
	for (size_t i = 0; i < f->n; i++) {
		if ((rc = facts_init(&x, &f->ev[i])) < 0 ||
		    (rc = teams_event(body, &x, f->detail)) < 0)
			goto out;
	}
	/* Card Markdown has no code span: the command gets a monospace block of its own. */
	cmd = card_code(ack_cmd(f->s));
	if ((rc = alert_json_push(body, card_text("Acknowledge:", false, NULL))) < 0) {
		json_object_put(cmd);
		goto out;
	}
	if ((rc = alert_json_push(body, cmd)) < 0)
		goto out;
	if ((rc = msg_url(m, f->s->url)) < 0 ||
	    (rc = msg_header(m, "Content-Type: application/json")) < 0 ||
	    (rc = msg_body_json(m, root)) < 0)
		goto out;
	*fits = m->body_len <= TEAMS_BODY_MAX;
out:
	json_object_put(root);
	return rc;
}

static int
teams_format(const struct sink_settings *s, const struct alert_event *ev, size_t n,
	     uint64_t now_ns, struct sink_message *m)
{
	return fit(teams_build, DIGEST_MAX, s, ev, n, now_ns, m);
}

/* ---- Google Chat: incoming webhook, a text message in Chat's own markup ---- */

static int
googlechat_build(const struct fmt *f, struct sink_message *m, bool *fits)
{
	struct json_object *root;
	struct sbuf b = { 0 };
	char header[256];
	struct facts x;
	int rc;

	digest_header(f->ev, f->n, header, sizeof(header));
	root = json_object_new_object();
	if (root == NULL)
		return -ENOMEM;
	if (mention_due(f->s, f->ev, f->n)) {
		sb_str(&b, f->s->mention); /* "<users/ID>", checked */
		sb_str(&b, "\n");
	}
	put_strong(&b, &st_gchat, header);
	for (size_t i = 0; i < f->n; i++) {
		if ((rc = facts_init(&x, &f->ev[i])) < 0)
			goto out;
		sb_str(&b, "\n\n");
		put_event(&b, &st_gchat, &x, f->detail);
		if (x.runbook[0] != '\0') {
			/* Chat's own link syntax; the URL has no '|' or '>' (alert_url_ok) */
			sb_str(&b, "\n_Runbook:_ <");
			sb_str(&b, x.runbook);
			sb_str(&b, "|open>");
		}
	}
	sb_str(&b, "\n\n");
	put_ack(&b, &st_gchat, f->s);
	if ((rc = jadd_sb(root, "text", &b)) < 0 || (rc = msg_url(m, f->s->url)) < 0 ||
	    (rc = msg_header(m, "Content-Type: application/json; charset=UTF-8")) < 0 ||
	    (rc = msg_body_json(m, root)) < 0)
		goto out;
	*fits = m->body_len <= GCHAT_BODY_MAX;
out:
	sb_free(&b);
	json_object_put(root);
	return rc;
}

static int
googlechat_format(const struct sink_settings *s, const struct alert_event *ev, size_t n,
		  uint64_t now_ns, struct sink_message *m)
{
	return fit(googlechat_build, DIGEST_MAX, s, ev, n, now_ns, m);
}

/* ---- Telegram: Bot API sendMessage, parse_mode HTML ---- */

/* What Telegram counts: the text after entity parsing, i.e. without our tags and with
 * each entity as one character, in UTF-16 units. Every '<' and '&' in the text is ours
 * (the data was escaped), so tags and entities can be skipped blindly. */
static size_t
telegram_len(const char *s, size_t n)
{
	size_t units = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '<') {
			while (i < n && s[i] != '>')
				i++;
		} else if (c == '&') {
			while (i < n && s[i] != ';')
				i++;
			units++;
		} else if ((c & 0xc0) != 0x80) {
			units += c >= 0xf0 ? 2 : 1;
		}
	}
	return units;
}

/* Bot tokens are "<digits>:<letters digits _ ->": anything else would change the URL. */
static bool
telegram_token_ok(const char *t)
{
	if (t == NULL || t[0] == '\0')
		return false;
	for (; *t != '\0'; t++) {
		if (!((*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z') ||
		      (*t >= '0' && *t <= '9') || *t == ':' || *t == '_' || *t == '-'))
			return false;
	}
	return true;
}

static int
telegram_build(const struct fmt *f, struct sink_message *m, bool *fits)
{
	const char *base = f->s->url != NULL && f->s->url[0] != '\0' ? f->s->url : TELEGRAM_API;
	size_t blen = strlen(base);
	struct json_object *root, *lp;
	struct sbuf b = { 0 };
	char header[256];
	struct facts x;
	int rc;

	if (!telegram_token_ok(f->s->token) || f->s->chat_id == NULL || f->s->chat_id[0] == '\0')
		return -EINVAL;
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	digest_header(f->ev, f->n, header, sizeof(header));
	root = json_object_new_object();
	if (root == NULL)
		return -ENOMEM;
	if (mention_due(f->s, f->ev, f->n)) {
		/* Bot API "inline mention of a user": a numeric id, a checked name */
		sb_str(&b, "<a href=\"tg://user?id=");
		sb_str(&b, f->s->mention);
		sb_str(&b, "\">");
		sb_str(&b, mention_name(f->s));
		sb_str(&b, "</a>\n");
	}
	put_strong(&b, &st_html, header);
	for (size_t i = 0; i < f->n; i++) {
		if ((rc = facts_init(&x, &f->ev[i])) < 0)
			goto out;
		sb_str(&b, "\n\n");
		put_event(&b, &st_html, &x, f->detail);
		if (x.runbook[0] != '\0') {
			/* the only link in the text is our configured URL; '&' as an entity */
			sb_str(&b, "\n<i>Runbook:</i> <a href=\"");
			for (const char *p = x.runbook; *p != '\0'; p++) {
				if (*p == '&')
					sb_str(&b, "&amp;");
				else
					sb_add(&b, p, 1);
			}
			sb_str(&b, "\">open</a>");
		}
	}
	sb_str(&b, "\n\n");
	put_ack(&b, &st_html, f->s);
	if (b.oom) {
		rc = -ENOMEM;
		goto out;
	}
	*fits = telegram_len(b.p, b.len) <= TELEGRAM_TEXT_MAX;
	/* chat_id as a string: Telegram takes "-100…" ids and "@channel" names alike. */
	lp = json_object_new_object();
	if ((rc = jadd_str(root, "chat_id", f->s->chat_id)) < 0 ||
	    (rc = jadd_sb(root, "text", &b)) < 0 ||
	    (rc = jadd_str(root, "parse_mode", "HTML")) < 0 ||
	    /* Bot API 7.0 replaced disable_web_page_preview by link_preview_options */
	    (rc = alert_json_add(root, "link_preview_options", lp)) < 0 ||
	    (rc = alert_json_add(lp, "is_disabled", json_object_new_boolean(true))) < 0)
		goto out;
	/* info and low: delivered without a sound */
	if (quiet(f->s, f->ev, f->n) &&
	    (rc = alert_json_add(root, "disable_notification", json_object_new_boolean(true))) < 0)
		goto out;
	if (asprintf(&m->url, "%.*s/bot%s/sendMessage", (int)blen, base, f->s->token) < 0) {
		m->url = NULL;
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = msg_header(m, "Content-Type: application/json")) < 0 ||
	    (rc = msg_body_json(m, root)) < 0)
		goto out;
out:
	sb_free(&b);
	json_object_put(root);
	return rc;
}

static int
telegram_format(const struct sink_settings *s, const struct alert_event *ev, size_t n,
		uint64_t now_ns, struct sink_message *m)
{
	return fit(telegram_build, DIGEST_MAX, s, ev, n, now_ns, m);
}

/* ---- ntfy: plain text body, the rest in headers ---- */

/* ntfy's names (sink.h), plus what it also accepts: "max", its alias of "urgent", and the
 * numbers 1 to 5. */
static bool
ntfy_priority_ok(const char *p)
{
	for (size_t i = 0; i < SINK_NTFY_NPRIORITIES; i++)
		if (strcmp(p, sink_ntfy_priorities[i]) == 0)
			return true;
	return strcmp(p, "max") == 0 || (p[0] >= '1' && p[0] <= '5' && p[1] == '\0');
}

static bool
header_value_ok(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || (unsigned char)*v > 0x7e)
			return false;
	return true;
}

static int
ntfy_build(const struct fmt *f, struct sink_message *m, bool *fits)
{
	enum alert_severity top = SEV_INFO;
	struct sbuf b = { 0 };
	char header[256], title[256], click_url[ALERT_URL_MAX];
	const char *prio, *click = NULL;
	enum alert_severity click_sev = SEV_INFO;
	struct facts x;
	int rc;

	if (f->s->priority != NULL && !ntfy_priority_ok(f->s->priority))
		return -EINVAL;
	if (f->s->token != NULL && f->s->token[0] != '\0' && !header_value_ok(f->s->token))
		return -EINVAL;
	digest_header(f->ev, f->n, header, sizeof(header));
	/* Printable ASCII only: a header value is not the place for UTF-8 (ntfy would need
	 * RFC 2047) nor for anything that could end the header. One character, one byte. */
	render_text(RENDER_ASCII, header, sizeof(header), 0, title, sizeof(title));
	for (size_t i = 0; i < f->n; i++) {
		if ((rc = facts_init(&x, &f->ev[i])) < 0)
			goto out;
		if (f->ev[i].severity > top)
			top = f->ev[i].severity;
		if (x.runbook[0] != '\0' && (click == NULL || f->ev[i].severity > click_sev)) {
			memcpy(click_url, x.runbook, sizeof(click_url));
			click = click_url;
			click_sev = f->ev[i].severity;
		}
		put_event(&b, &st_plain, &x, f->detail);
		sb_str(&b, "\n\n");
	}
	put_ack(&b, &st_plain, f->s);
	/* ntfy has no mentions: the configured "mention" is the highest priority; a sink's
	 * own priority otherwise, else the severity's (info and low: "low", 2) */
	if (mention_due(f->s, f->ev, f->n))
		prio = "urgent";
	else
		prio = f->s->priority != NULL ? f->s->priority : sev_styles[top].ntfy_prio;
	if ((rc = msg_url(m, f->s->url)) < 0 ||
	    (rc = msg_header(m, "Content-Type: text/plain; charset=utf-8")) < 0 ||
	    (rc = msg_header(m, "Title: %s", title)) < 0 ||
	    (rc = msg_header(m, "Priority: %s", prio)) < 0 ||
	    (rc = msg_header(m, "Tags: %s,watch53", sev_styles[top].ntfy_tag)) < 0)
		goto out;
	if (f->s->token != NULL && f->s->token[0] != '\0' &&
	    (rc = msg_header(m, "Authorization: Bearer %s", f->s->token)) < 0)
		goto out;
	/* a tap opens the runbook of the most severe event that has one */
	if (click != NULL && (rc = msg_header(m, "Click: %s", click)) < 0)
		goto out;
	if ((rc = msg_body_sb(m, &b)) < 0)
		goto out;
	*fits = m->body_len <= NTFY_BODY_MAX;
out:
	sb_free(&b);
	return rc;
}

static int
ntfy_format(const struct sink_settings *s, const struct alert_event *ev, size_t n,
	    uint64_t now_ns, struct sink_message *m)
{
	return fit(ntfy_build, DIGEST_MAX, s, ev, n, now_ns, m);
}

/* ---- Prometheus Alertmanager: API v2, an alert an event (alertmanager.h) ----
 *
 * The cycle posts its active set itself (agent/amsync.c) and spools nothing for this sink;
 * what comes here is `alerts test`'s event, or anything flushed by hand: each becomes
 * "Watch53<Type>", firing until hold_ns after the post. */

#define AM_EVENTS_MAX 100        /* alerts a post: small requests, quick to retry */
#define AM_HOLD_DEFAULT_NS (15 * 60 * NS_PER_SEC)

static int
am_build(const struct fmt *f, struct sink_message *m, bool *fits)
{
	struct json_object *arr = json_object_new_array();
	uint64_t hold = f->s->hold_ns != 0 ? f->s->hold_ns : AM_HOLD_DEFAULT_NS;
	int rc = arr == NULL ? -ENOMEM : 0;

	*fits = true;
	for (size_t i = 0; i < f->n && rc == 0; i++) {
		const struct alert_event *ev = &f->ev[i];
		char address[sizeof(ev->address)], protocol[sizeof(ev->protocol)];

		if (alert_type_name(ev->type)[0] == '\0' ||
		    alert_severity_name(ev->severity)[0] == '\0') {
			rc = -EINVAL;
			break;
		}
		char target[sizeof(ev->target)], agent[sizeof(ev->agent)];
		char vantage[sizeof(ev->vantage)];
		char summary[sizeof(ev->summary)], why[sizeof(ev->why)];
		char runbook[sizeof(ev->runbook_url)], todo[HINT_MAX_LINES * (HINT_CMD_MAX + 64)];
		struct am_alert a = { .starts_ns = ev->time_ns, .ends_ns = f->now_ns + hold };
		struct json_object *o;

		FIELD(address, ev, address);
		FIELD(protocol, ev, protocol);
		FIELD(target, ev, target);
		FIELD(agent, ev, agent);
		FIELD(vantage, ev, vantage);
		FIELD(summary, ev, summary);
		FIELD(why, ev, why);
		FIELD(runbook, ev, runbook_url);
		am_alertname(alert_type_name(ev->type), a.alertname, sizeof(a.alertname));
		am_remediation(ev, todo, sizeof(todo));
		a.address = address;
		a.protocol = protocol;
		a.port = address[0] != '\0' ? ev->port : 0;
		a.target = target;
		a.severity = alert_severity_name(ev->severity);
		a.agent = agent;
		a.vantage = vantage;
		a.summary = summary;
		a.description = why;
		a.remediation = todo;
		/* one we would write, or none: an outbox file may hold anything */
		a.runbook_url = alert_url_ok(runbook) ? runbook : NULL;
		o = am_alert_json(&a);
		if (o == NULL || json_object_array_add(arr, o) != 0) {
			json_object_put(o);
			rc = -ENOMEM;
		}
	}
	if (rc == 0)
		rc = am_message(f->s, arr, m);
	json_object_put(arr);
	return rc;
}

static int
am_format(const struct sink_settings *s, const struct alert_event *ev, size_t n,
	  uint64_t now_ns, struct sink_message *m)
{
	if (s == NULL || s->url == NULL || s->url[0] == '\0')
		return -EINVAL;
	return fit(am_build, AM_EVENTS_MAX, s, ev, n, now_ns, m);
}

/* ---- mentions (their syntax: mention.c) ---- */

/* Settings a formatter can use: a mention it would write is valid for its service. */
static bool
mention_ok(const struct sink_settings *s)
{
	return !s->mention_on ||
	       sink_mention_check(s->kind, s->mention, s->mention_name, NULL, 0) == 0;
}

/* ---- 429 bodies ---- */

/* Longest wait we take from a server; beyond it the body is more likely wrong than
 * meant, and the outbox's own backoff is the better guide. */
#define RETRY_AFTER_MAX_S 86400.0
#define RETRY_BODY_MAX 65536

/* retry_after (seconds, maybe fractional) at the top level or inside `outer`. */
static int
retry_after_at(const char *body, size_t len, const char *outer, uint64_t *ns)
{
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL, *o, *v;
	double secs;
	int rc = -ENOENT;

	if (body == NULL || len == 0 || len > RETRY_BODY_MAX || ns == NULL)
		return -ENOENT;
	tok = json_tokener_new_ex(8);
	if (tok == NULL)
		return -ENOENT;
	root = json_tokener_parse_ex(tok, body, (int)len);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(root, json_type_object))
		goto out;
	o = root;
	if (outer != NULL && (!json_object_object_get_ex(root, outer, &o) ||
			      !json_object_is_type(o, json_type_object)))
		goto out;
	if (!json_object_object_get_ex(o, "retry_after", &v) ||
	    !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		goto out;
	secs = json_object_get_double(v);
	if (!isfinite(secs) || secs < 0 || secs > RETRY_AFTER_MAX_S)
		goto out;
	*ns = (uint64_t)(secs * (double)NS_PER_SEC + 0.5);
	rc = 0;
out:
	json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

/* {"message": "You are being rate limited.", "retry_after": 64.57, "global": false} */
static int
discord_retry_after(const char *body, size_t len, uint64_t *ns)
{
	return retry_after_at(body, len, NULL, ns);
}

/* {"ok": false, "error_code": 429, "parameters": {"retry_after": 5}} */
static int
telegram_retry_after(const char *body, size_t len, uint64_t *ns)
{
	return retry_after_at(body, len, "parameters", ns);
}

/* ---- the table ---- */

static const struct sink_ops webhook_ops = {
	.kind = SINK_KIND_WEBHOOK,
	/* The contract: one POST an event, so every event has its own id and signature. */
	.limits = { .max_events = 1, .max_bytes = 0, .min_interval_ns = 0 },
	.format = webhook_format,
	.retry_after = NULL,
};

static const struct sink_ops slack_ops = {
	.kind = SINK_KIND_SLACK,
	/* 50 blocks a message (header + context leave 48 sections, one an event); a
	 * section's text is at most 3000 characters; incoming webhooks take about one
	 * message a second. */
	.limits = { .max_events = SLACK_BLOCKS_MAX - 2, .max_bytes = SLACK_SECTION_MAX,
		    .min_interval_ns = 1 * NS_PER_SEC },
	.format = slack_format,
	.retry_after = NULL, /* Slack says Retry-After in a header */
};

static const struct sink_ops mattermost_ops = {
	.kind = SINK_KIND_MATTERMOST,
	/* A post is at most 16383 characters (MaxPostSize); servers rate limit per client
	 * (10/s by default, often lowered): one a second stays clear of any setting. */
	.limits = { .max_events = DIGEST_MAX, .max_bytes = MATTERMOST_POST_MAX,
		    .min_interval_ns = 1 * NS_PER_SEC },
	.format = mattermost_format,
	.retry_after = NULL,
};

static const struct sink_ops discord_ops = {
	.kind = SINK_KIND_DISCORD,
	/* 10 embeds and 6000 characters of embed text a message; a webhook may post 30
	 * times a minute. */
	.limits = { .max_events = DISCORD_EMBEDS_MAX, .max_bytes = DISCORD_TOTAL_MAX,
		    .min_interval_ns = 2 * NS_PER_SEC },
	.format = discord_format,
	.retry_after = discord_retry_after,
};

static const struct sink_ops teams_ops = {
	.kind = SINK_KIND_TEAMS,
	/* Teams refuses messages over about 28 KB as rendered, which is more than the JSON
	 * we send; 413s have been reported from about 21 KB, so the body stays under 20000
	 * bytes. Workflows run a flow per request: one a second. */
	.limits = { .max_events = DIGEST_MAX, .max_bytes = TEAMS_BODY_MAX,
		    .min_interval_ns = 1 * NS_PER_SEC },
	.format = teams_format,
	.retry_after = NULL,
};

static const struct sink_ops googlechat_ops = {
	.kind = SINK_KIND_GOOGLECHAT,
	/* 32,000 bytes a message; a space takes one write a second. */
	.limits = { .max_events = DIGEST_MAX, .max_bytes = GCHAT_BODY_MAX,
		    .min_interval_ns = 1 * NS_PER_SEC },
	.format = googlechat_format,
	.retry_after = NULL,
};

static const struct sink_ops telegram_ops = {
	.kind = SINK_KIND_TELEGRAM,
	/* 4096 characters of text; one message a second to a chat, but only 20 a minute to
	 * a group, where alert chats usually are: one every 3 s. */
	.limits = { .max_events = DIGEST_MAX, .max_bytes = TELEGRAM_TEXT_MAX,
		    .min_interval_ns = 3 * NS_PER_SEC },
	.format = telegram_format,
	.retry_after = telegram_retry_after,
};

static const struct sink_ops ntfy_ops = {
	.kind = SINK_KIND_NTFY,
	/* 4096 bytes of body before ntfy makes it an attachment; ntfy.sh allows a burst of
	 * 60 requests, far above what a cycle's digests need, so no spacing. */
	.limits = { .max_events = DIGEST_MAX, .max_bytes = NTFY_BODY_MAX,
		    .min_interval_ns = 0 },
	.format = ntfy_format,
	.retry_after = NULL,
};

static const struct sink_ops alertmanager_ops = {
	.kind = SINK_KIND_ALERTMANAGER,
	/* an API, not a chat: no text limit that matters and no rate limit to keep */
	.limits = { .max_events = AM_EVENTS_MAX, .max_bytes = 0, .min_interval_ns = 0 },
	.format = am_format,
	.retry_after = NULL,
};

const struct sink_ops *const sink_table[SINK_KIND_N] = {
	[SINK_KIND_WEBHOOK] = &webhook_ops,
	[SINK_KIND_SLACK] = &slack_ops,
	[SINK_KIND_MATTERMOST] = &mattermost_ops,
	[SINK_KIND_DISCORD] = &discord_ops,
	[SINK_KIND_TEAMS] = &teams_ops,
	[SINK_KIND_GOOGLECHAT] = &googlechat_ops,
	[SINK_KIND_TELEGRAM] = &telegram_ops,
	[SINK_KIND_NTFY] = &ntfy_ops,
	[SINK_KIND_ALERTMANAGER] = &alertmanager_ops,
};

const struct sink_ops *
sink_find(enum sink_kind kind)
{
	/* The kind may come from anywhere: compare as unsigned. */
	if ((unsigned)kind >= SINK_KIND_N)
		return NULL;
	return sink_table[kind];
}

const struct sink_ops *
sink_find_name(const char *name)
{
	enum sink_kind k;

	return sink_kind_parse(name, &k) == 0 ? sink_find(k) : NULL;
}
