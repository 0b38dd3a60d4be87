/* amsync: the alertmanager sinks' active set, posted after each cycle (see amsync.h). */
#define _GNU_SOURCE
#include "agent/amsync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent/baseline.h"
#include "agent/grade.h"
#include "agent/sinks.h"
#include "agent/state.h"
#include "alerts/alertmanager.h"
#include "alerts/event.h"
#include "alerts/webhook.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/netaddr.h"
#include "common/util.h"

#define AM_BATCH 500            /* alerts a post: well under any proxy's body limit */
#define SENT_MAX (64u << 20)    /* bytes of a .sent file read back */
#define KEY_MAX 2048            /* one label set as JSON */

struct active {
	const struct config *cfg;
	const char *agent, *vantage;
	uint64_t now_ns, hold_ns;
	struct json_object **alert; /* am_alert_json, endsAt hold_ns ahead */
	char **key;                 /* the label set of each (am_alert_key) */
	size_t n, cap;
	int rc;
};

static int
active_add(struct active *a, const struct am_alert *al)
{
	char key[KEY_MAX];
	struct json_object *o;
	int len;

	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 64;
		struct json_object **na = realloc(a->alert, cap * sizeof(*na));
		char **nk;

		if (na == NULL)
			return -ENOMEM;
		a->alert = na;
		nk = realloc(a->key, cap * sizeof(*nk));
		if (nk == NULL)
			return -ENOMEM;
		a->key = nk;
		a->cap = cap;
	}
	len = am_alert_key(al, key, sizeof(key));
	if (len < 0)
		return len;
	o = am_alert_json(al);
	a->key[a->n] = strdup(key);
	if (o == NULL || a->key[a->n] == NULL) {
		json_object_put(o);
		free(a->key[a->n]);
		return -ENOMEM;
	}
	a->alert[a->n++] = o;
	return 0;
}

/* The worst finding of high or critical severity that port slot s shows, or 0. */
static unsigned
port_finding(const struct bl_entry *e, enum probe_slot s)
{
	unsigned worst = 0;
	struct grade g;

	grade_dns(&e->dns, &g);
	for (unsigned b = 1; b < (1u << GRADE_NFINDINGS); b <<= 1)
		if ((g.findings & b) && grade_finding_slot(b) == s &&
		    grade_finding_severity(b) >= SEV_HIGH &&
		    (worst == 0 || grade_finding_severity(b) > grade_finding_severity(worst)))
			worst = b;
	return worst;
}

/* One port of one entry: exposed (unacknowledged) or down (expected open), else nothing. */
static int
port_alert(struct active *a, const struct bl_entry *e, enum probe_slot s, const char *addr)
{
	const struct bl_port *p = &e->port[s];
	const char *proto = probe_slot_name(s), *target = e->target ? e->target : "";
	bool exposed = baseline_unacknowledged(e, s);
	bool down = e->expect_open[s] && p->known && !p->reported_open;
	char summary[512], todo[2048];
	struct alert_event ev;
	struct am_alert al = {
		.address = addr, .protocol = proto, .port = a->cfg->probe.port, .target = target,
		.agent = a->agent, .vantage = a->vantage, .summary = summary,
		.runbook_url = a->cfg->runbook_url,
		.starts_ns = p->last_change ? p->last_change : p->first_seen,
		.ends_ns = a->now_ns + a->hold_ns,
	};
	unsigned finding;

	if (!exposed && !down)
		return 0;
	if (down) {
		am_alertname("port-down", al.alertname, sizeof(al.alertname));
		al.severity = alert_severity_name(SEV_HIGH);
		al.finding = "down";
		snprintf(summary, sizeof(summary), "%s port %u on %s is expected open and is %s.",
			 s == PROBE_SLOT_UDP ? "UDP" : "TCP", al.port, addr,
			 probe_state_name(p->last));
		al.description = "Clients that rely on this DNS server cannot reach it.";
		return active_add(a, &al);
	}
	finding = port_finding(e, s);
	am_alertname(finding ? grade_finding_name(finding) : "port-exposed", al.alertname,
		     sizeof(al.alertname));
	al.severity = alert_severity_name(finding ? grade_finding_severity(finding) : SEV_HIGH);
	al.finding = finding ? grade_finding_name(finding) : "exposed";
	al.description = finding ? grade_finding_why(finding) : baseline_why_open(s);
	snprintf(summary, sizeof(summary), "%s port %u on %s is open and not acknowledged.",
		 s == PROBE_SLOT_UDP ? "UDP" : "TCP", al.port, addr);
	/* the chat sinks' remediation lines for the same exposure */
	memset(&ev, 0, sizeof(ev));
	ev.type = ALERT_EXPOSED;
	ev.severity = SEV_HIGH;
	snprintf(ev.address, sizeof(ev.address), "%s", addr);
	snprintf(ev.protocol, sizeof(ev.protocol), "%s", proto);
	ev.port = al.port;
	am_remediation(&ev, todo, sizeof(todo));
	al.remediation = todo;
	return active_add(a, &al);
}

static int
collect(void *arg, const struct bl_entry *e)
{
	struct active *a = arg;
	char addr[NETADDR_STRLEN];
	int rc = 0;

	net_addr_str(&e->addr, addr, sizeof(addr));
	for (int s = 0; s < PROBE_NSLOTS && rc == 0; s++)
		rc = port_alert(a, e, (enum probe_slot)s, addr);
	return rc;
}

static int
cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The alert that resolves label set `key` (a line of a .sent file: untrusted, checked),
 * or NULL when the line is not a label object. */
static struct json_object *
resolved_alert(const char *key, size_t len, uint64_t now_ns)
{
	struct json_tokener *tok = json_tokener_new_ex(4);
	struct json_object *labels = NULL, *o = NULL;
	char when[40];

	if (tok == NULL)
		return NULL;
	labels = json_tokener_parse_ex(tok, key, (int)len);
	if (labels != NULL && json_tokener_get_error(tok) == json_tokener_success &&
	    json_object_is_type(labels, json_type_object) && (o = json_object_new_object())) {
		util_fmt_utc_ms(now_ns, when, sizeof(when));
		json_object_object_add(o, "labels", labels);
		labels = NULL;
		/* startsAt too: Alertmanager takes a missing one as its own now, which a clock
		 * ahead of ours would put after endsAt, and refuse */
		json_object_object_add(o, "startsAt", json_object_new_string(when));
		json_object_object_add(o, "endsAt", json_object_new_string(when));
	}
	json_object_put(labels);
	json_tokener_free(tok);
	return o;
}

/* POST alerts[0 .. n) in batches. 0 when every batch got a 2xx. */
static int
post_all(const struct sink_settings *one, const char *what, struct json_object **alerts,
	 size_t n)
{
	for (size_t i = 0; i < n; i += AM_BATCH) {
		struct json_object *arr = json_object_new_array();
		struct sink_message m;
		struct http_result hr;
		int rc;

		if (arr == NULL)
			return -ENOMEM;
		for (size_t k = i; k < n && k < i + AM_BATCH; k++)
			json_object_array_add(arr, json_object_get(alerts[k]));
		rc = am_message(one, arr, &m);
		json_object_put(arr);
		if (rc < 0)
			return rc;
		rc = webhook_post(one, &m, &hr);
		sink_message_clear(&m);
		if (rc < 0) {
			log_warnx("%s: %s; it gets the current alerts at the next cycle", what,
				  hr.error);
			return rc;
		}
		if (hr.status < 200 || hr.status > 299) {
			log_warnx("%s: HTTP %ld%s%s; it gets the current alerts at the next cycle",
				  what, hr.status, hr.first_line[0] ? ": " : "", hr.first_line);
			return -EIO;
		}
	}
	return 0;
}

/* One instance: read what it took last, post the active set and what stopped, record. */
static void
sync_instance(const struct sink_settings *one, size_t inst, int dirfd, struct active *a,
	      char **sorted)
{
	char file[CONFIG_SINK_NAME_MAX + 48], what[CONFIG_SINK_NAME_MAX + 64];
	struct json_object **batch = NULL;
	char *old = NULL, *text = NULL;
	size_t len = 0, nb = 0, tlen = 0, nlines = 0;
	int rc;

	snprintf(file, sizeof(file), "alertmanager-%s-%zu.sent", one->name, inst + 1);
	snprintf(what, sizeof(what), "alerts: %s, instance %zu", one->name, inst + 1);
	rc = file_read_at(dirfd, file, SENT_MAX, &old, &len);
	if (rc < 0 && rc != -ENOENT) {
		log_warnx("%s: %s: %s; not posting to it", what, file, strerror(-rc));
		return;
	}
	for (size_t i = 0; i < len; i++)
		nlines += old[i] == '\n';
	batch = calloc(a->n + nlines + 2, sizeof(*batch));
	if (batch == NULL)
		goto oom;
	for (size_t i = 0; i < a->n; i++)
		batch[nb++] = a->alert[i];
	/* every line no longer active is posted resolved (a line that does not read is
	 * dropped: it can only have come from outside) */
	for (char *line = old, *end; line != NULL && *line != '\0'; line = end) {
		size_t ll;
		struct json_object *r;

		end = strchr(line, '\n');
		ll = end ? (size_t)(end - line) : strlen(line);
		if (end != NULL)
			*end++ = '\0';
		if (ll == 0 || bsearch(&line, sorted, a->n, sizeof(*sorted), cmp_str) != NULL)
			continue;
		r = resolved_alert(line, ll, a->now_ns);
		if (r != NULL)
			batch[nb++] = r;
	}
	if (nb == 0)
		goto out; /* nothing firing, nothing that stopped: the file says so already */
	if (post_all(one, what, batch, nb) < 0)
		goto out;
	/* what it took: the active set, a label set a line */
	for (size_t i = 0; i < a->n; i++)
		tlen += strlen(a->key[i]) + 1;
	text = malloc(tlen + 1);
	if (text == NULL)
		goto oom;
	tlen = 0;
	for (size_t i = 0; i < a->n; i++)
		tlen += (size_t)sprintf(text + tlen, "%s\n", a->key[i]);
	rc = file_write_atomic_at(dirfd, file, text, tlen, 0600);
	if (rc < 0)
		log_warnx("%s: %s: %s; the next cycle posts the same again", what, file,
			  strerror(-rc));
	goto out;
oom:
	log_warnx("%s: out of memory", what);
out:
	for (size_t i = a->n; i < nb; i++)
		json_object_put(batch[i]);
	free(batch);
	free(old);
	free(text);
}

void
amsync_cycle(const struct config *cfg, const char *vantage)
{
	struct active a = { .cfg = cfg, .vantage = vantage, .now_ns = util_wall_ns() };
	struct sink_settings *ss = NULL;
	struct state head;
	char agent[64] = "", err[512], **sorted = NULL;
	size_t nss = 0, nam = 0;
	int dirfd = -1, rc;

	for (size_t i = 0; i < cfg->nsinks; i++)
		nam += cfg->sinks[i].type == SINK_KIND_ALERTMANAGER;
	if (nam == 0)
		return;
	if (gethostname(agent, sizeof(agent) - 1) != 0)
		agent[0] = '\0';
	a.agent = agent;
	state_init(&head);
	if (sinks_from_config(cfg, cfg->path, &ss, &nss) < 0) {
		log_warnx("alerts: alertmanager: out of memory");
		goto out;
	}
	a.hold_ns = ss[0].hold_ns;
	/* the state as committed, a row at a time: memory is that of the active set */
	rc = state_each(cfg->state_dir, &head, collect, &a, err, sizeof(err));
	if (rc == 0 && head.degraded) {
		struct am_alert d = {
			.severity = alert_severity_name(SEV_MEDIUM), .agent = agent,
			.vantage = vantage, .starts_ns = head.last_cycle_wall,
			.ends_ns = a.now_ns + a.hold_ns,
			.summary = "The last cycle could not probe: watch53 is blind, not the ports "
				   "closed.",
		};
		am_alertname("degraded", d.alertname, sizeof(d.alertname));
		rc = active_add(&a, &d);
	}
	if (rc < 0) {
		log_warnx("alerts: alertmanager: %s", rc == -ENOMEM ? "out of memory" : err);
		goto out;
	}
	sorted = malloc((a.n + 1) * sizeof(*sorted));
	if (sorted == NULL)
		goto out;
	if (a.n > 0) /* a.key is NULL while nothing is active */
		memcpy(sorted, a.key, a.n * sizeof(*sorted));
	if (a.n > 1)
		qsort(sorted, a.n, sizeof(*sorted), cmp_str);
	dirfd = open(cfg->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd == -1) {
		log_warn("alerts: alertmanager: %s", cfg->state_dir);
		goto out;
	}
	for (size_t i = 0; i < nss; i++) {
		struct sink_settings one;
		char url[2048];
		size_t n;

		if (ss[i].kind != SINK_KIND_ALERTMANAGER)
			continue;
		n = sinks_instance(&ss[i], 0, &one, url, sizeof(url));
		for (size_t k = 0; k < n; k++) {
			sinks_instance(&ss[i], k, &one, url, sizeof(url));
			sync_instance(&one, k, dirfd, &a, sorted);
			explicit_bzero(url, sizeof(url));
		}
	}
out:
	if (dirfd != -1)
		close(dirfd);
	for (size_t i = 0; i < a.n; i++) {
		json_object_put(a.alert[i]);
		free(a.key[i]);
	}
	free(a.alert);
	free(a.key);
	free(sorted);
	sinks_free(ss, nss);
	state_clear(&head);
}
