/*
 * alertmanager: one alert as Prometheus Alertmanager takes it (API v2, POST
 * /api/v2/alerts: a JSON array of {labels, annotations, startsAt, endsAt}), for the sink's
 * formatter (format.c: the events of `alerts test`) and for the agent's active set
 * (agent/amsync.c: what is wrong now, re-sent every cycle). Pure.
 *
 * Alertmanager knows an alert by its label set alone: a post with the same labels updates
 * it, and an alert whose endsAt has passed is resolved. So labels name the problem and
 * nothing else (no times, no counters), and am_alert_key() is that identity as text.
 *
 * Alertmanager's templates hand annotations and labels on to Slack, Teams, e-mail and the
 * rest unescaped, so text from outside (DNS answers inside a summary, target names) is
 * rendered here as for a service without escapes (render.h, RENDER_GCHAT): no mention,
 * link or markup survives into whatever a receiver does with it.
 */
#ifndef WATCH53_ALERTMANAGER_H
#define WATCH53_ALERTMANAGER_H

#include <stddef.h>
#include <stdint.h>

struct alert_event;
struct json_object;
struct sink_message;
struct sink_settings;

#define AM_NAME_MAX 48
#define AM_API_PATH "/api/v2/alerts"

struct am_alert {
	char alertname[AM_NAME_MAX]; /* am_alertname(): "Watch53PortExposed", ... */
	/* labels; NULL or "" leaves the label out */
	const char *address, *protocol, *target, *severity, *finding, *agent, *vantage;
	uint16_t port;               /* 0: no port label */
	/* annotations; NULL or "" leaves it out */
	const char *summary, *description, *remediation, *runbook_url;
	uint64_t starts_ns, ends_ns; /* wall clock; 0 leaves it out */
};

/* "Watch53" and word in CamelCase: "open-resolver" -> "Watch53OpenResolver", "test" ->
 * "Watch53Test" (cut to fit len). */
void am_alertname(const char *word, char *buf, size_t len);

/* The alert as a json-c object, labels in a fixed order; NULL when out of memory. */
struct json_object *am_alert_json(const struct am_alert *a);

/* Its identity: the labels object as compact JSON into buf. The length, or -ENOSPC when
 * buf is too small, -ENOMEM. */
int am_alert_key(const struct am_alert *a, char *buf, size_t len);

/* What to do about ev (hint.h's lines, "label command" a line) into buf; "" for none. */
void am_remediation(const struct alert_event *ev, char *buf, size_t len);

/* The request that posts alerts (a json-c array of am_alert_json objects) to the instance
 * at s->url: the endpoint, Content-Type, the bearer token when s has one. *m is zeroed
 * first; sink_message_clear() it. 0, -EINVAL (no url) or -ENOMEM. */
int am_message(const struct sink_settings *s, struct json_object *alerts,
	       struct sink_message *m);

/* The alerts endpoint of an instance: base + AM_API_PATH ("http://am:9093" ->
 * "http://am:9093/api/v2/alerts"); a URL ending in the path already is kept. malloc'd,
 * NULL when out of memory. */
char *am_alerts_url(const char *base);

#endif
