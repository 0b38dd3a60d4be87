/* cmd_history: `watch53 history [-c FILE]` — the events kept in state.db over a period, per
 * port, and how long each address was exposed in it. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "agent/cli.h"
#include "agent/config.h"
#include "agent/history.h"
#include "agent/output.h"
#include "agent/state.h"
#include "common/netaddr.h"
#include "common/util.h"

#define HISTORY_DEFAULT_SINCE_NS (30ull * 86400 * NS_PER_SEC)

static const struct option history_longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "since", required_argument, NULL, 's' },
	{ "address", required_argument, NULL, 'a' },
	{ "format", required_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void
cmd_history_help(FILE *f)
{
	fprintf(f,
"usage: watch53 history [-c FILE] [--since DUR] [--address A] [--format table|json|jsonl|csv]\n"
"\n"
"The events raised (and the ports `baseline accept` acknowledged) over the period, per\n"
"port, and per address and port how long it was exposed: from an `exposed` event (or an\n"
"`opened` one rated high or critical) to the port's next `closed` event, its acceptance,\n"
"or the end of the period (still exposed). Events are kept for history.retention (400d).\n"
"\n"
"  -c, --config FILE   the config whose state_dir holds state.db\n"
"                      (default " CLI_DEFAULT_CONFIG ")\n"
"  --since DUR         the period: this long until now (default 30d; e.g. 12h, 7d)\n"
"  --address A         only this address\n"
"  --format FMT        table (default), json (one document with the exposure), jsonl\n"
"                      (one event a line), csv (a header and one event a line)\n"
"\n"
"Exit: 0 done, 2 usage or config error, 3 the state cannot be read, 75 another cycle\n"
"holds the lock (watch53 run holds it while it runs).\n");
}

/* Whole milliseconds, in seconds: what exposed_s says */
static double
seconds(uint64_t ns)
{
	return (double)(ns / NS_PER_MS) / 1000.0;
}

static struct json_object *
event_json(const struct state_hist *r)
{
	struct json_object *o = json_object_new_object();
	char t[40];

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)r->seq));
	json_object_object_add(o, "time", json_object_new_string(util_fmt_utc_ms(r->time_ns, t,
										sizeof(t))));
	json_object_object_add(o, "type", json_object_new_string(r->type));
	json_object_object_add(o, "severity", json_object_new_string(r->severity));
	json_object_object_add(o, "address", json_object_new_string(r->address));
	json_object_object_add(o, "protocol", json_object_new_string(r->protocol));
	json_object_object_add(o, "port", json_object_new_int(r->port));
	json_object_object_add(o, "summary", json_object_new_string(r->summary));
	json_object_object_add(o, "source", json_object_new_string(r->source));
	json_object_object_add(o, "id", r->id[0] ? json_object_new_string(r->id) : NULL);
	return o;
}

static struct json_object *
exposure_json(const struct history_exposure *x)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	char t[40];

	if (o == NULL || arr == NULL) {
		json_object_put(o);
		json_object_put(arr);
		return NULL;
	}
	json_object_object_add(o, "address", json_object_new_string(x->address));
	json_object_object_add(o, "protocol", json_object_new_string(x->protocol));
	json_object_object_add(o, "port", json_object_new_int(x->port));
	json_object_object_add(o, "exposed_s", json_object_new_double(seconds(x->exposed_ns)));
	for (size_t i = 0; i < x->niv; i++) {
		struct json_object *iv = json_object_new_object();
		if (iv == NULL)
			continue;
		json_object_object_add(iv, "start", json_object_new_string(
			util_fmt_utc_ms(x->iv[i].start_ns, t, sizeof(t))));
		json_object_object_add(iv, "end", x->iv[i].open ? NULL : json_object_new_string(
			util_fmt_utc_ms(x->iv[i].end_ns, t, sizeof(t))));
		json_object_object_add(iv, "exposed_s", json_object_new_double(
			seconds(x->iv[i].end_ns - x->iv[i].start_ns)));
		json_object_array_add(arr, iv);
	}
	json_object_object_add(o, "intervals", arr);
	json_object_object_add(o, "still_exposed", json_object_new_boolean(x->still_exposed));
	return o;
}

static int
put_json(struct json_object *o, const char *end)
{
	const char *text;

	if (o == NULL)
		return -ENOMEM;
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text == NULL) {
		json_object_put(o);
		return -ENOMEM;
	}
	fputs(text, stdout);
	fputs(end, stdout);
	json_object_put(o);
	return 0;
}

/* A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180). */
static void
csv_field(const char *s, bool last)
{
	if (strpbrk(s, ",\"\r\n") != NULL) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	putchar(last ? '\n' : ',');
}

/* The output, written as the rows stream by (the database is read a row at a time: the
 * history of a million addresses is never in memory). */
struct hist_out {
	enum output_format fmt;
	uint64_t since;
	size_t nevents, nexposed;
	struct history_port_acc acc;
};

static void
table_event(const struct state_hist *r)
{
	char t[40], s[sizeof(r->summary)], port[16] = "-";

	if (r->protocol[0] != '\0')
		snprintf(port, sizeof(port), "%s/%u", r->protocol, r->port);
	printf("%-24s %-9s %-8s %-39s %-9s %s\n", util_fmt_utc_ms(r->time_ns, t, sizeof(t)),
	       r->type, r->severity, r->address[0] ? r->address : "-", port,
	       util_printable(r->summary, s, sizeof(s), 0));
}

/* An event of the period. The table takes the rows in port order, the others as
 * recorded; rows before the period (the table's pass reads them all) are not its events. */
static int
out_event(void *arg, const struct state_hist *r)
{
	struct hist_out *o = arg;

	if (r->time_ns < o->since)
		return 0;
	switch (o->fmt) {
	case OUTPUT_JSONL:
		o->nevents++;
		return put_json(event_json(r), "\n");
	case OUTPUT_JSON:
		o->nevents++;
		return put_json(event_json(r), "");
	case OUTPUT_CSV: {
		char t[40], port[8];
		snprintf(port, sizeof(port), "%u", r->port);
		csv_field(util_fmt_utc_ms(r->time_ns, t, sizeof(t)), false);
		csv_field(r->type, false);
		csv_field(r->severity, false);
		csv_field(r->address, false);
		csv_field(r->protocol, false);
		csv_field(port, false);
		csv_field(r->summary, false);
		csv_field(r->source, false);
		csv_field(r->id, true);
		o->nevents++;
		return 0;
	}
	case OUTPUT_TABLE:
	default:
		table_event(r);
		o->nevents++;
		return 0;
	}
}

/* A port exposed in the period, as the accumulator finishes it. */
static int
out_exposure(void *arg, struct history_exposure *x)
{
	struct hist_out *o = arg;
	char port[16], d[32];

	if (o->fmt == OUTPUT_JSON) {
		if (o->nexposed++ > 0)
			putchar(',');
		return put_json(exposure_json(x), "");
	}
	snprintf(port, sizeof(port), "%s/%u", x->protocol, x->port);
	printf("%-39s %-9s %-12s %-9zu %s\n", x->address, port,
	       util_fmt_duration(x->exposed_ns, d, sizeof(d)), x->niv,
	       x->still_exposed ? "still exposed" : "closed");
	o->nexposed++;
	return 0;
}

static int
exposure_row(void *arg, const struct state_hist *r)
{
	struct hist_out *o = arg;

	return history_port_add(&o->acc, r, out_exposure, o);
}

/* The JSON document's events are separated as they come. */
static int
out_event_json(void *arg, const struct state_hist *r)
{
	struct hist_out *o = arg;

	if (r->time_ns < o->since)
		return 0;
	if (o->nevents > 0)
		putchar(',');
	return out_event(arg, r);
}

/*
 * The period's events (the table: per port; the others: as recorded), then, for the table
 * and the JSON document, the exposure per port: a second pass in port order over every row
 * (a port exposed before the period may still be), through the accumulator of history.h.
 */
static int
write_history(const char *dir, enum output_format fmt, uint64_t since, uint64_t now,
	      const char *address, char *err, size_t errlen)
{
	struct hist_out o = { .fmt = fmt, .since = since };
	bool table = fmt == OUTPUT_TABLE || (fmt != OUTPUT_JSON && fmt != OUTPUT_JSONL &&
					     fmt != OUTPUT_CSV);
	char t[40];
	int rc;

	if (table)
		printf("%-24s %-9s %-8s %-39s %-9s %s\n", "TIME", "TYPE", "SEVERITY", "ADDRESS",
		       "PORT", "SUMMARY");
	else if (fmt == OUTPUT_CSV)
		puts("time,type,severity,address,protocol,port,summary,source,id");
	else if (fmt == OUTPUT_JSON)
		printf("{\"since\":\"%s\",\"events\":[", util_fmt_utc_ms(since, t, sizeof(t)));
	rc = state_history_each(dir, since, address, table,
				fmt == OUTPUT_JSON ? out_event_json : out_event, &o, err, errlen);
	if (rc < 0 || fmt == OUTPUT_JSONL || fmt == OUTPUT_CSV)
		return rc;
	if (table) {
		printf("%zu event%s since %s\n\n", o.nevents, o.nevents == 1 ? "" : "s",
		       util_fmt_utc_ms(since, t, sizeof(t)));
		printf("%-39s %-9s %-12s %-9s %s\n", "ADDRESS", "PORT", "EXPOSED", "INTERVALS", "NOW");
	} else {
		fputs("],\"exposure\":[", stdout);
	}
	history_port_init(&o.acc, since, now);
	rc = state_history_each(dir, since, address, true, exposure_row, &o, err, errlen);
	if (rc == 0)
		rc = history_port_end(&o.acc, out_exposure, &o);
	history_port_clear(&o.acc);
	if (rc < 0)
		return rc;
	if (table)
		printf("%zu port%s exposed in the period\n", o.nexposed, o.nexposed == 1 ? "" : "s");
	else
		fputs("]}\n", stdout);
	return 0;
}

int
cmd_history(int argc, char **argv)
{
	const char *path = NULL;
	enum output_format fmt = OUTPUT_TABLE;
	uint64_t span = HISTORY_DEFAULT_SINCE_NS, now, since;
	char err[1024], addrbuf[NETADDR_STRLEN], *address = NULL;
	struct config cfg;
	int ch, rc, lockfd = -1, status = EXIT_RUNTIME;

	config_init(&cfg);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", history_longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 's':
			if (util_parse_duration_max(optarg, CONFIG_MAX_HISTORY_RETENTION_NS,
						    &span) < 0 || span == 0) {
				fprintf(stderr, "watch53 history: --since: '%s' is not a duration "
					"(e.g. 12h, 7d, 400d)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'a': {
			struct net_addr a;
			if (net_addr_parse(optarg, &a) < 0) {
				fprintf(stderr, "watch53 history: --address: '%s' is not an IP "
					"address\n", optarg);
				return EXIT_USAGE;
			}
			/* the text the history holds: the canonical form */
			address = (char *)net_addr_str(&a, addrbuf, sizeof(addrbuf));
			break;
		}
		case 'f':
			if (output_format_parse(optarg, &fmt) < 0) {
				fprintf(stderr, "watch53 history: --format: '%s' is not table, json, "
					"jsonl or csv\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			cmd_history_help(stdout);
			return EXIT_CLEAN;
		default:
			return cli_usage_error("history", NULL);
		}
	}
	if (optind < argc) {
		return cli_usage_error("history", "unexpected argument '%s'", argv[optind]);
	}
	path = cli_config_path(path);
	/* under the lock, as baseline show: the database is opened exclusively by a cycle
	 * (no -shm, no readers beside it), and an old one is migrated on open */
	status = cli_state_begin("history", path, STATE_LOCK_STATE, &cfg, &lockfd);
	if (status != 0)
		return status;
	status = EXIT_RUNTIME; /* until the rows are out */
	now = util_wall_ns();
	since = now > span ? now - span : 0;
	/* the lock is held while the rows stream out, as for `baseline show` */
	rc = write_history(cfg.state_dir, fmt, since, now, address, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "watch53 history: %s\n", err);
		goto out;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "watch53 history: cannot write the output: %s\n", strerror(errno));
		goto out;
	}
	status = EXIT_CLEAN;
out:
	if (lockfd >= 0)
		state_unlock(lockfd);
	config_clear(&cfg);
	return status;
}
