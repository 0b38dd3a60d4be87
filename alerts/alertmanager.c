/* alertmanager: an alert in Alertmanager's API v2 shape (see alertmanager.h). */
#define _GNU_SOURCE /* asprintf */
#include "alerts/alertmanager.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "alerts/event.h"
#include "alerts/hint.h"
#include "alerts/render.h"
#include "alerts/sink.h"
#include "common/util.h"

/* A label or annotation is read by people in a notification: long text is cut there
 * anyway, and a bound keeps one alert well under Alertmanager's request limits. */
#define AM_LABEL_MAX 256
#define AM_TEXT_MAX 1024

void
am_alertname(const char *word, char *buf, size_t len)
{
	size_t o;
	bool up = true;

	if (len == 0)
		return;
	o = (size_t)snprintf(buf, len, "Watch53");
	for (const char *p = word; *p != '\0' && o + 1 < len; p++) {
		char ch = *p;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9'))) {
			up = true; /* '-', '_', ' ': a word ends; only [A-Za-z0-9] is kept */
			continue;
		}
		buf[o++] = up && ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
		up = false;
	}
	buf[o < len ? o : len - 1] = '\0';
}

/* Add key: text as it is, unless empty. 0 or -ENOMEM. */
static int
add_raw(struct json_object *o, const char *key, const char *text)
{
	if (text == NULL || text[0] == '\0')
		return 0;
	return alert_json_add(o, key, json_object_new_string(text));
}

/* The same with text from outside, rendered (see the header) and cut to max. */
static int
add_text(struct json_object *o, const char *key, const char *text, size_t max)
{
	char buf[4 * AM_TEXT_MAX + 8];

	if (text == NULL || text[0] == '\0')
		return 0;
	render_text(RENDER_GCHAT, text, strlen(text), max, buf, sizeof(buf));
	return add_raw(o, key, buf);
}

static int
add_time(struct json_object *o, const char *key, uint64_t ns)
{
	char buf[40];

	if (ns == 0)
		return 0;
	return add_raw(o, key, util_fmt_utc_ms(ns, buf, sizeof(buf)));
}

/* The labels, always in this order, so that the same alert has the same key. */
static struct json_object *
labels_json(const struct am_alert *a)
{
	struct json_object *l = json_object_new_object();
	char port[12] = "";
	int rc = l == NULL ? -ENOMEM : 0;

	if (a->port != 0)
		snprintf(port, sizeof(port), "%u", a->port);
	if (rc == 0)
		rc = add_text(l, "alertname", a->alertname, AM_LABEL_MAX);
	if (rc == 0)
		rc = add_text(l, "address", a->address, AM_LABEL_MAX);
	if (rc == 0)
		rc = add_text(l, "protocol", a->protocol, AM_LABEL_MAX);
	if (rc == 0)
		rc = add_text(l, "port", port, AM_LABEL_MAX);
	if (rc == 0)
		rc = add_text(l, "target", a->target, AM_LABEL_MAX);
	if (rc == 0)
		rc = add_text(l, "severity", a->severity, AM_LABEL_MAX);
	if (rc == 0)
		rc = add_text(l, "finding", a->finding, AM_LABEL_MAX);
	if (rc == 0)
		rc = add_text(l, "agent", a->agent, AM_LABEL_MAX);
	if (rc == 0)
		rc = add_text(l, "vantage", a->vantage, AM_LABEL_MAX);
	if (rc < 0) {
		json_object_put(l);
		return NULL;
	}
	return l;
}

struct json_object *
am_alert_json(const struct am_alert *a)
{
	struct json_object *o = json_object_new_object(), *l = labels_json(a);
	struct json_object *an = json_object_new_object();
	int rc = o == NULL || l == NULL || an == NULL ? -ENOMEM : 0;

	if (rc == 0) {
		json_object_object_add(o, "labels", l);
		l = NULL;
		rc = add_text(an, "summary", a->summary, AM_TEXT_MAX);
	}
	if (rc == 0)
		rc = add_text(an, "description", a->description, AM_TEXT_MAX);
	/* ours as they are: the commands must paste (hint.h builds them from checked
	 * addresses), and a runbook URL passed alert_url_ok: a link is what it is for */
	if (rc == 0)
		rc = add_raw(an, "remediation", a->remediation);
	if (rc == 0)
		rc = add_raw(an, "runbook_url", a->runbook_url);
	if (rc == 0) {
		json_object_object_add(o, "annotations", an);
		an = NULL;
		rc = add_time(o, "startsAt", a->starts_ns);
	}
	if (rc == 0)
		rc = add_time(o, "endsAt", a->ends_ns);
	json_object_put(l);
	json_object_put(an);
	if (rc < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int
am_alert_key(const struct am_alert *a, char *buf, size_t len)
{
	struct json_object *l = labels_json(a);
	const char *s;
	size_t n;
	int rc;

	if (l == NULL)
		return -ENOMEM;
	s = json_object_to_json_string_length(l, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (s == NULL)
		rc = -ENOMEM;
	else if (n >= len)
		rc = -ENOSPC;
	else {
		memcpy(buf, s, n + 1);
		rc = (int)n;
	}
	json_object_put(l);
	return rc;
}

void
am_remediation(const struct alert_event *ev, char *buf, size_t len)
{
	struct hint h;
	size_t o = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	hint_for(ev, &h);
	for (size_t i = 0; i < h.n && o < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%s %s", i ? "\n" : "", h.line[i].label,
				 h.line[i].cmd);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

char *
am_alerts_url(const char *base)
{
	size_t n = strlen(base), p = strlen(AM_API_PATH);
	char *url;

	while (n > 0 && base[n - 1] == '/')
		n--;
	if (n >= p && strncmp(base + n - p, AM_API_PATH, p) == 0)
		p = 0;
	url = malloc(n + p + 1);
	if (url == NULL)
		return NULL;
	memcpy(url, base, n);
	memcpy(url + n, AM_API_PATH, p);
	url[n + p] = '\0';
	return url;
}

int
am_message(const struct sink_settings *s, struct json_object *alerts, struct sink_message *m)
{
	const char *body;
	size_t len;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	if (s->url == NULL || s->url[0] == '\0')
		return -EINVAL;
	body = json_object_to_json_string_length(alerts, JSON_C_TO_STRING_PLAIN |
						 JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (body == NULL || (m->body = strdup(body)) == NULL ||
	    (m->url = am_alerts_url(s->url)) == NULL)
		rc = -ENOMEM;
	m->body_len = len;
	if (rc == 0 && (m->headers[m->nheaders] = strdup("Content-Type: application/json")) ==
		       NULL)
		rc = -ENOMEM;
	if (rc == 0)
		m->nheaders++;
	/* a token with a line break would start a header of its own (config refuses it) */
	if (rc == 0 && s->token != NULL && s->token[0] != '\0') {
		if (strpbrk(s->token, "\r\n") != NULL)
			rc = -EINVAL;
		else if (asprintf(&m->headers[m->nheaders], "Authorization: Bearer %s",
				  s->token) < 0)
			rc = -ENOMEM;
		else
			m->nheaders++;
	}
	if (rc < 0)
		sink_message_clear(m);
	return rc;
}
