/* cmd_alerts: `watch53 alerts test|list|flush [-c FILE]` — try every sink, look at the
 * outbox, deliver what is queued now. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/check.h"
#include "agent/cli.h"
#include "agent/config.h"
#include "agent/output.h"
#include "agent/sinks.h"
#include "agent/state.h"
#include "alerts/outbox.h"
#include "alerts/webhook.h"
#include "common/log.h"
#include "common/util.h"

/* flush is run by a person who wants the queue out: give slow endpoints and rate limits
 * time, but still end. */
#define FLUSH_BUDGET_NS (300ull * NS_PER_SEC)

static const struct option alerts_longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "format", required_argument, NULL, 'f' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void
cmd_alerts_help(FILE *f)
{
	fprintf(f,
"usage: watch53 alerts test  [-c FILE]\n"
"       watch53 alerts list  [-c FILE] [--format table|json]\n"
"       watch53 alerts flush [-c FILE]\n"
"\n"
"test   post a test event (type test, severity info) straight to every configured\n"
"       sink, bypassing the outbox and the sinks' event filters, and print each\n"
"       sink's HTTP status or error\n"
"list   the events waiting in the outbox, oldest first per sink: attempts, next\n"
"       try, last error; then per sink the dead-letter and quarantine counts\n"
"flush  deliver everything queued now, ignoring the retry schedule (order, digests\n"
"       and rate limits still apply); takes the state_dir lock like a cycle\n"
"\n"
"Options:\n"
"  -c, --config FILE      the JSON config (see watch53.json(5));\n"
"                         default " CLI_DEFAULT_CONFIG "\n"
"  --format FMT           list: table (default) or json\n"
"  -v, --verbose          more diagnostics on stderr\n"
"  -h, --help             this help\n"
"\n"
"Retries: after the n-th failed attempt an event waits 30s, 1m, 2m, 5m, 10m, 20m,\n"
"40m, then 1h between tries, each +-20%%; 429/503 with Retry-After wait exactly that\n"
"(at most 1h); other 4xx and redirects wait 1h. After max_age (default 72h) an event\n"
"moves to the sink's dead/ folder; files that do not parse go to quarantine/.\n"
"\n"
"Exit status: test: 0 every sink answered 2xx, 1 some did not; list: 0;\n"
"flush: 0 everything queued was delivered, 1 something was not (still queued,\n"
"dead-lettered, quarantined, or a sink's queue unreadable: a directory that is a\n"
"symbolic link is left alone); all: 2 usage or config error, 3 runtime failure,\n"
"75 (flush) a cycle holds the lock.\n");
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void
json_time(FILE *f, uint64_t ns)
{
	char buf[32];

	if (ns == 0) {
		fputs("null", f);
		return;
	}
	util_fmt_utc(ns, buf, sizeof(buf));
	json_str(f, buf);
}

/* Configured sink names first (config order), then directories nobody configured. */
struct sink_dirs {
	char **names;
	bool *configured;
	size_t n;
};

static void
sink_dirs_clear(struct sink_dirs *d)
{
	outbox_names_free(d->names, d->n);
	free(d->configured);
	memset(d, 0, sizeof(*d));
}

static int
sink_dirs_build(const struct config *cfg, const char *outbox, struct sink_dirs *d)
{
	char **present = NULL;
	size_t npresent = 0;
	int rc;

	memset(d, 0, sizeof(*d));
	rc = outbox_sink_names(outbox, &present, &npresent);
	if (rc < 0)
		return rc;
	d->names = calloc(cfg->nsinks + npresent + 1, sizeof(*d->names));
	d->configured = calloc(cfg->nsinks + npresent + 1, sizeof(*d->configured));
	if (d->names == NULL || d->configured == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cfg->nsinks; i++) {
		if ((d->names[d->n] = strdup(cfg->sinks[i].name)) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		d->configured[d->n++] = true;
	}
	for (size_t i = 0; i < npresent; i++) {
		bool known = false;
		for (size_t k = 0; k < cfg->nsinks && !known; k++)
			known = strcmp(cfg->sinks[k].name, present[i]) == 0;
		if (known)
			continue;
		d->names[d->n++] = present[i];
		present[i] = NULL;
	}
out:
	outbox_names_free(present, npresent);
	return rc;
}

static int
do_list(const struct config *cfg, enum output_format fmt)
{
	char outbox[PATH_MAX], err[1024];
	struct sink_dirs d;
	uint64_t now = util_wall_ns();
	bool header = false;
	int rc, status = EXIT_RUNTIME;

	check_outbox_dir(cfg, outbox, sizeof(outbox));
	rc = sink_dirs_build(cfg, outbox, &d);
	if (rc < 0) {
		fprintf(stderr, "watch53 alerts list: outbox %s: %s\n", outbox, strerror(-rc));
		return EXIT_RUNTIME;
	}
	if (fmt == OUTPUT_JSON)
		fputs("{\"sinks\":[", stdout);
	for (size_t i = 0; i < d.n; i++) {
		struct outbox_entry *e = NULL;
		struct outbox_stats st;
		size_t n = 0;

		rc = outbox_list(outbox, d.names[i], &e, &n, &st, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "watch53 alerts list: %s\n", err);
			goto out;
		}
		if (fmt == OUTPUT_JSON) {
			printf("%s{\"name\":", i ? "," : "");
			json_str(stdout, d.names[i]);
			printf(",\"configured\":%s,\"pending\":%zu,\"dead\":%zu,\"quarantined\":%zu,"
			       "\"corrupt\":%zu,\"events\":[", d.configured[i] ? "true" : "false",
			       st.pending, st.dead, st.quarantined, st.corrupt);
			for (size_t k = 0; k < n; k++) {
				printf("%s{\"id\":", k ? "," : "");
				json_str(stdout, e[k].id);
				printf(",\"type\":");
				json_str(stdout, alert_type_name(e[k].type));
				printf(",\"severity\":");
				json_str(stdout, alert_severity_name(e[k].severity));
				printf(",\"time\":");
				json_time(stdout, e[k].time_ns);
				printf(",\"address\":");
				json_str(stdout, e[k].address);
				printf(",\"protocol\":");
				json_str(stdout, e[k].protocol);
				printf(",\"port\":%u,\"attempts\":%u,\"first_attempt\":", e[k].port,
				       e[k].meta.attempts);
				json_time(stdout, e[k].meta.first_attempt);
				printf(",\"next_try\":");
				json_time(stdout, e[k].meta.next_try);
				printf(",\"last_status\":%ld,\"last_error\":", e[k].meta.last_status);
				json_str(stdout, e[k].meta.last_error);
				printf("}");
			}
			printf("]}");
		} else {
			/* events go out in order: one behind a waiting event waits with it */
			uint64_t eff = 0;
			for (size_t k = 0; k < n; k++) {
				char next[32];
				if (!header) {
					printf("%-16s %-36s %-9s %-39s %-5s %-8s %-20s %s\n", "SINK",
					       "ID", "TYPE", "ADDRESS", "PROTO", "ATTEMPTS",
					       "NEXT-TRY", "LAST-ERROR");
					header = true;
				}
				if (e[k].meta.next_try > eff)
					eff = e[k].meta.next_try;
				if (eff <= now)
					snprintf(next, sizeof(next), "now");
				else
					util_fmt_utc(eff, next, sizeof(next));
				printf("%-16s %-36s %-9s %-39s %-5s %-8u %-20s %s%s\n", d.names[i],
				       e[k].id, alert_type_name(e[k].type),
				       e[k].address[0] ? e[k].address : "-",
				       e[k].protocol[0] ? e[k].protocol : "-", e[k].meta.attempts,
				       next, e[k].meta.last_error[0] ? e[k].meta.last_error : "-",
				       e[k].meta_corrupt ? " [corrupt .meta]" : "");
			}
		}
		free(e);
		if (fmt != OUTPUT_JSON) {
			/* the summary line is what a person scans for: say every unusual count */
			printf("sink %s: %zu pending, %zu dead letter, %zu quarantined", d.names[i],
			       st.pending, st.dead, st.quarantined);
			if (st.corrupt)
				printf(", %zu corrupt (quarantined at the next delivery)", st.corrupt);
			if (!d.configured[i])
				printf(" (not in the config: left alone)");
			printf("\n");
		}
	}
	if (fmt == OUTPUT_JSON)
		printf("]}\n");
	else if (d.n == 0)
		printf("no sinks configured and nothing queued\n");
	status = EXIT_CLEAN;
out:
	sink_dirs_clear(&d);
	return status;
}

static int
do_flush(const struct config *cfg)
{
	char outbox[PATH_MAX], err[1024];
	struct sink_settings *ss = NULL;
	struct outbox_report rep = { 0 };
	size_t nss = 0;
	int lockfd, sendfd, rc, status = EXIT_RUNTIME;

	/* what a crash left committed but not yet in the outbox goes first, under the state
	 * lock (a cycle moves it too); the delivery under the send lock only, so a cycle of
	 * the service is not held up by it (and its delivery waits for ours) */
	lockfd = cli_lock("alerts flush", cfg->state_dir, STATE_LOCK_STATE, err, sizeof(err));
	if (lockfd >= 0) {
		size_t moved;
		if (check_spool_move(cfg, &moved, err, sizeof(err)) < 0)
			fprintf(stderr, "watch53 alerts flush: warning: %s\n", err);
		state_unlock(lockfd);
		lockfd = cli_lock("alerts flush", cfg->state_dir, STATE_LOCK_SEND, err, sizeof(err));
	}
	if (lockfd < 0) {
		fprintf(stderr, "watch53 alerts flush: %s\n", err);
		return lockfd == -EWOULDBLOCK ? EXIT_LOCKED : EXIT_RUNTIME;
	}
	sendfd = lockfd;
	if (sinks_from_config(cfg, cfg->path, &ss, &nss) < 0) {
		fprintf(stderr, "watch53 alerts flush: out of memory\n");
		goto out;
	}
	check_outbox_dir(cfg, outbox, sizeof(outbox));
	rc = outbox_deliver(outbox, ss, nss, util_wall_ns(), true, FLUSH_BUDGET_NS, &rep, err,
			    sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "watch53 alerts flush: %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < rep.nsinks; i++) {
		const struct outbox_sink_report *r = &rep.sinks[i];
		char next[32];

		printf("%s: ", r->name);
		if (r->delivered == 0 && r->remaining == 0 && r->failed == 0)
			printf("nothing queued");
		else
			printf("delivered %zu event%s in %zu message%s", r->delivered,
			       r->delivered == 1 ? "" : "s", r->messages,
			       r->messages == 1 ? "" : "s");
		if (r->last_error[0])
			printf("; failed: %s", r->last_error);
		if (r->out_of_budget)
			printf("; stopped: time budget spent");
		if (r->remaining) {
			util_fmt_utc(r->next_try, next, sizeof(next));
			printf("; %zu still queued (next try %s)", r->remaining,
			       r->next_try ? next : "at the next cycle");
		}
		if (r->dead)
			printf("; %zu moved to dead letter", r->dead);
		if (r->quarantined)
			printf("; %zu file%s quarantined", r->quarantined,
			       r->quarantined == 1 ? "" : "s");
		printf("\n");
	}
	for (size_t i = 0; i < rep.nunknown; i++)
		printf("%s: not in the config: left alone\n", rep.unknown[i]);
	if (rep.nsinks == 0 && rep.nunknown == 0)
		printf("no sinks configured\n");
	status = rep.remaining || rep.dead || rep.quarantined || rep.failed ? EXIT_FOUND
									    : EXIT_CLEAN;
	/* a sink whose queue could not be read (its directory a link, left alone) is not
	 * "everything delivered" either */
	for (size_t i = 0; i < rep.nsinks; i++)
		if (rep.sinks[i].last_error[0] != '\0')
			status = EXIT_FOUND;
out:
	outbox_report_clear(&rep);
	sinks_free(ss, nss);
	state_unlock(sendfd);
	return status;
}

/* The test event to one sink (instance): formatted, posted, the outcome on a line.
 * 1 when it was taken (2xx). */
static size_t
test_one(const struct sink_settings *s, const struct alert_event *ev)
{
	const struct sink_ops *ops = sink_find(s->kind);
	struct sink_message m = { 0 };
	struct http_result hr;
	char took[32];
	int rc;

	if (ops == NULL || ops->format == NULL) {
		printf("failed: no formatter for this sink type\n");
		return 0;
	}
	rc = ops->format(s, ev, 1, util_wall_ns(), &m);
	if (rc < 0 || m.nevents != 1) {
		printf("failed: cannot format the message: %s\n",
		       rc < 0 ? strerror(-rc) : "formatter took no event");
		sink_message_clear(&m);
		return 0;
	}
	rc = webhook_post(s, &m, &hr);
	sink_message_clear(&m);
	util_fmt_duration(hr.elapsed_ns, took, sizeof(took));
	if (rc < 0) {
		printf("failed: %s (after %s)\n", hr.error, took);
		return 0;
	}
	if (hr.status >= 200 && hr.status < 300) {
		printf("HTTP %ld, delivered in %s\n", hr.status, took);
		return 1;
	}
	if (hr.status >= 300 && hr.status < 400)
		printf("HTTP %ld: redirects are not followed, check the sink's URL\n", hr.status);
	else
		printf("HTTP %ld%s%s\n", hr.status, hr.first_line[0] ? ": " : "", hr.first_line);
	return 0;
}

static int
do_test(const struct config *cfg)
{
	struct sink_settings *ss = NULL;
	struct alert_event ev;
	size_t nss = 0, ok = 0, ntests = 0;
	int status = EXIT_RUNTIME;

	if (cfg->nsinks == 0) {
		fprintf(stderr, "watch53 alerts test: %s: no sinks configured (\"alerts\")\n",
			cfg->path);
		return EXIT_USAGE;
	}
	if (sinks_from_config(cfg, cfg->path, &ss, &nss) < 0) {
		fprintf(stderr, "watch53 alerts test: out of memory\n");
		return EXIT_RUNTIME;
	}
	alert_event_init(&ev, ALERT_TEST);
	ev.severity = SEV_INFO;
	config_vantage(cfg, ev.vantage, sizeof(ev.vantage));
	snprintf(ev.target, sizeof(ev.target), "watch53 alerts test");
	/* the config's runbook, so the test shows its button too */
	if (cfg->runbook_url != NULL)
		snprintf(ev.runbook_url, sizeof(ev.runbook_url), "%s", cfg->runbook_url);
	snprintf(ev.summary, sizeof(ev.summary), "Test alert from watch53 on %s", ev.agent);
	snprintf(ev.why, sizeof(ev.why),
		 "Sent by 'watch53 alerts test' to check that this sink works; nothing changed.");
	for (size_t i = 0; i < nss; i++) {
		struct sink_settings one;
		char url[2048];
		size_t n = sinks_instance(&ss[i], 0, &one, url, sizeof(url));

		/* each instance of an alertmanager cluster, which does not share alerts */
		for (size_t k = 0; k < n; k++) {
			sinks_instance(&ss[i], k, &one, url, sizeof(url));
			printf("%s (%s", one.name, sink_kind_name(cfg->sinks[i].type));
			if (n > 1)
				printf(", instance %zu of %zu", k + 1, n);
			printf("): ");
			fflush(stdout);
			ntests++;
			ok += test_one(&one, &ev);
			explicit_bzero(url, sizeof(url));
		}
	}
	status = ok == ntests ? EXIT_CLEAN : EXIT_FOUND;
	sinks_free(ss, nss);
	return status;
}

static int
verb_list(const struct config *c, enum output_format fmt)
{
	return do_list(c, fmt);
}

static int
verb_flush(const struct config *c, enum output_format fmt)
{
	(void)fmt;
	return do_flush(c);
}

static int
verb_test(const struct config *c, enum output_format fmt)
{
	(void)fmt;
	return do_test(c);
}

/* The verbs: list and flush read and move the outbox's files, so they run as state_dir's
 * owner; test only posts. Only list has a --format. */
static const struct alerts_verb {
	const char *name;
	bool as_owner;
	bool formats;
	int (*run)(const struct config *c, enum output_format fmt);
} alerts_verbs[] = {
	{ "test", false, false, verb_test },
	{ "list", true, true, verb_list },
	{ "flush", true, false, verb_flush },
};

int
cmd_alerts(int argc, char **argv)
{
	const struct alerts_verb *v = NULL;
	const char *path = NULL, *verb;
	enum output_format fmt = OUTPUT_TABLE;
	struct config cfg;
	char err[1024];
	int ch, verbose = 0, status;

	config_init(&cfg);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:vh", alerts_longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'v': verbose++; break;
		case 'f':
			if (output_format_parse(optarg, &fmt) < 0 ||
			    (fmt != OUTPUT_TABLE && fmt != OUTPUT_JSON)) {
				fprintf(stderr, "watch53 alerts: --format: '%s' is not table or json\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			cmd_alerts_help(stdout);
			return EXIT_CLEAN;
		default:
			return cli_usage_error("alerts", NULL);
		}
	}
	if (optind >= argc) {
		return cli_usage_error("alerts", "test, list or flush?");
	}
	path = cli_config_path(path);
	verb = argv[optind++];
	for (size_t i = 0; i < sizeof(alerts_verbs) / sizeof(alerts_verbs[0]); i++)
		if (strcmp(verb, alerts_verbs[i].name) == 0)
			v = &alerts_verbs[i];
	if (v == NULL) {
		fprintf(stderr, "watch53 alerts: unknown action '%s' (test, list, flush)\n", verb);
		return EXIT_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "watch53 alerts %s: unexpected argument '%s'\n", verb, argv[optind]);
		return EXIT_USAGE;
	}
	if (fmt != OUTPUT_TABLE && !v->formats) {
		fprintf(stderr, "watch53 alerts %s: --format applies to list only\n", verb);
		return EXIT_USAGE;
	}
	if (config_load(path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "watch53 alerts: %s\n", err);
		return EXIT_USAGE;
	}
	log_set_level(verbose >= 2 ? LOG_LVL_DEBUG : verbose ? LOG_LVL_INFO : cfg.log_level);
	if (!verbose && cfg.log_level > LOG_LVL_WARN)
		log_set_level(LOG_LVL_WARN);
	if (v->as_owner && cli_act_as_owner(cfg.state_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "watch53 alerts: %s\n", err);
		config_clear(&cfg);
		return EXIT_RUNTIME;
	}
	status = v->run(&cfg, fmt);
	config_clear(&cfg);
	return status;
}
