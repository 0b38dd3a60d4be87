/*
 * sink: how events reach one kind of service. A sink is one table entry (like the probe
 * modules): its message limits, its rate limit, and a pure formatter that turns a run of
 * events into one HTTP request in the service's native shape. Delivery (webhook.c) and
 * the spool (outbox.c) are shared by all sinks. Nothing here knows about probes or configs:
 * the agent hands over plain sink_settings.
 */
#ifndef WATCH53_SINK_H
#define WATCH53_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts/event.h"

enum sink_kind {
	SINK_KIND_WEBHOOK = 0, SINK_KIND_SLACK, SINK_KIND_MATTERMOST, SINK_KIND_DISCORD,
	SINK_KIND_TEAMS, SINK_KIND_GOOGLECHAT, SINK_KIND_TELEGRAM, SINK_KIND_NTFY,
	SINK_KIND_ALERTMANAGER, SINK_KIND_N
};

/* The one spelling of each kind, as the config's "type" says it ("webhook", "slack", ...),
 * indexed by the enum. sink.c is pure (no formatter linked): the config loader uses it. */
extern const char *const sink_kind_names[SINK_KIND_N];
/* The name, or "?" outside the enum. */
const char *sink_kind_name(enum sink_kind kind);
/* ntfy's priorities, 1 to 5 ("min" .. "urgent"; ntfy also takes "max" for "urgent" and the
 * numbers): what a sink's "priority" may say. */
#define SINK_NTFY_NPRIORITIES 5
extern const char *const sink_ntfy_priorities[SINK_NTFY_NPRIORITIES];
/* 0 with *out, or -EINVAL. */
int sink_kind_parse(const char *name, enum sink_kind *out);

/* Everything delivery needs about one configured sink. Strings are borrowed (owned by the
 * caller's config) and may be NULL when not set. url/secret/token are secrets: never log. */
struct sink_ops;

struct sink_settings {
	enum sink_kind kind;
	const char *name;        /* also the outbox directory name */
	const char *url;         /* endpoint; telegram: Bot API base (default api.telegram.org);
				  * alertmanager: one instance's base URL */
	const char *secret;      /* webhook: Standard Webhooks key ("whsec_" + base64) */
	const char *token;       /* telegram bot token, ntfy access token */
	const char *chat_id;     /* telegram */
	const char *ca_file;
	const char *const *resolve; /* "host:port:address" pins */
	size_t nresolve;
	const char *proxy;
	const char *priority;    /* ntfy */
	uint64_t timeout_ns;     /* per attempt */
	uint64_t max_age_ns;     /* then dead letter */
	const char *agent_cmd;   /* how to acknowledge, e.g. "watch53 baseline accept -c /etc/watch53/watch53.json" */
	uint64_t hold_ns;        /* alertmanager: endsAt this far after the post (an alert not
				  * re-posted by then resolves itself); 0: 15 min */
	/* Mentions: when mention_on, a message carrying an event at or above
	 * mention_min_severity names `mention` (sink_mention_check() syntax) — the only way
	 * a mention enters a message; ntfy has no mentions and raises the priority instead. */
	bool mention_on;
	const char *mention;
	const char *mention_name; /* teams, telegram: the text shown (default "on-call") */
	enum alert_severity mention_min_severity;
	/* The formatter and limits to use; NULL: the table's for kind (sink_find). A test
	 * hands the outbox a fake here instead of wrapping the table. */
	const struct sink_ops *ops;
};

/*
 * Is `mention` (and `name`, may be NULL) what sink kind k can mention, in the service's
 * own syntax? slack "<@U…>"/"<@W…>" or "<!subteam^S…>"; discord "<@id>" or "<@&id>"
 * (17-20 digits); mattermost "@username" (not @all, @channel, @here); teams the user's
 * id (a UPN like "alice@example.com" or an Entra object id), the name letters, digits,
 * spaces, '.', '-' or apostrophes; googlechat "<users/digits>"; telegram a numeric user
 * id (an inline mention link); ntfy: none (NULL: the priority is raised); webhook: none.
 * 0, or -EINVAL with one line ("expected ...") in err.
 */
int sink_mention_check(enum sink_kind k, const char *mention, const char *name, char *err,
		       size_t errlen);

#define SINK_MAX_HEADERS 8

/* One HTTP request, ready to send. Owned by the caller: sink_message_clear() frees. */
struct sink_message {
	char *url;               /* full URL (telegram: base + /bot<token>/sendMessage) — secret */
	char *body;
	size_t body_len;
	char *headers[SINK_MAX_HEADERS]; /* "Name: value" lines, Content-Type included */
	size_t nheaders;
	size_t nevents;          /* how many of the given events this message carries */
};

void sink_message_clear(struct sink_message *m);

struct sink_limits {
	size_t max_events;       /* events in one message (digest), >= 1 */
	size_t max_bytes;        /* of the service's text/body limit that matters, 0 = none */
	uint64_t min_interval_ns;/* between two messages to one endpoint (service rate limit) */
};

struct sink_ops {
	enum sink_kind kind;      /* its name: sink_kind_name() */
	struct sink_limits limits;
	/*
	 * Build one message carrying events[0 .. k) for the largest k <= n that fits the
	 * service's limits (never truncating an event's text away: a single event that does
	 * not fit is shortened by dropping optional detail, never its what/where/severity).
	 * `now_ns` is the wall time used for signatures. Returns 0 with m->nevents = k >= 1,
	 * or a negative errno. Pure: no I/O except reading nothing; no logging.
	 * *m is zeroed on entry (its old contents are not freed) and left zeroed on error, so
	 * sink_message_clear(m) is always safe afterwards. -EINVAL: n == 0, an event outside
	 * the enums, or settings the sink cannot use (no url, a bad secret/token/priority);
	 * -EMSGSIZE: even one event stripped of its optional detail exceeds the limits.
	 */
	int (*format)(const struct sink_settings *s, const struct alert_event *events, size_t n,
		      uint64_t now_ns, struct sink_message *m);
	/*
	 * Service-specific "retry after" in a 429 response body (Discord's and Telegram's
	 * retry_after, in seconds, possibly fractional). NULL when the service has none.
	 * Returns 0 and sets *ns, or -ENOENT.
	 */
	int (*retry_after)(const char *body, size_t len, uint64_t *ns);
};

/* The table and its lookups live with the formatters (format.c); NULL when unknown. */
extern const struct sink_ops *const sink_table[SINK_KIND_N];
const struct sink_ops *sink_find(enum sink_kind kind);
const struct sink_ops *sink_find_name(const char *name);

#endif
