/* cmd_check: `watch53 check [-c FILE]` — one cycle for cron, with exit codes, -q and
 * --nagios. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/check.h"
#include "agent/cli.h"
#include "agent/output.h"
#include "agent/state.h"
#include "common/log.h"
#include "probes/syn.h"
#include "common/util.h"

enum { OPT_NAGIOS = 256, OPT_FORMAT };

static const struct option check_longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "nagios", no_argument, NULL, OPT_NAGIOS },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void
cmd_check_help(FILE *f)
{
	fprintf(f,
"usage: watch53 check [-c FILE] [--format table|jsonl] [-q] [--nagios] [-v]\n"
"\n"
"One monitoring cycle, for cron: scan the configured targets, compare with the\n"
"baseline in state_dir, spool events to the outbox, save the state, write metrics.\n"
"The first cycle records the baseline; a port open against its expectation with\n"
"nothing proving it was ever closed (first run, new address) raises `exposed`,\n"
"one proven closed before raises `opened` (config \"first_run\": \"adopt\" takes\n"
"what the first cycle finds open silently).\n"
"\n"
"Options:\n"
"  -c, --config FILE      the JSON config (see watch53.json(5));\n"
"                         default " CLI_DEFAULT_CONFIG "\n"
"  --format FMT           table (one event a line, default) or jsonl (event objects)\n"
"  -q, --quiet            print nothing unless an event was raised\n"
"  --nagios               print one Nagios/Icinga status line with perfdata; exit\n"
"                         0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN\n"
"  -v, --verbose          more diagnostics on stderr (repeat for debug)\n"
"  -h, --help             this help\n"
"\n"
"Exit status: 0 nothing new, 1 at least one new exposure or an expected-open port\n"
"newly down (alert queued),\n"
"2 usage or config error, 3 runtime failure (state unreadable, nothing probed),\n"
"75 another cycle holds the lock.\n"
"\n"
"Example /etc/cron.d line (as the watch53 user that owns state_dir, not root):\n"
"  %s\n", "*/5 * * * * watch53 /usr/bin/watch53 check -c /etc/watch53/watch53.json -q");
}

static void
print_event_line(FILE *f, const struct alert_event *ev)
{
	fprintf(f, "%-9s %-8s %s%s%s%s %s\n", alert_type_name(ev->type),
		alert_severity_name(ev->severity), ev->address[0] ? ev->address : "-",
		ev->protocol[0] ? " " : "", ev->protocol, ev->protocol[0] ? "/53" : "",
		ev->summary);
}

/* CRITICAL: exposed against expectation (new or not yet accepted), or an expected-open
 * server down. WARNING: the monitor is degraded or something flaps. */
/* Each event of the cycle, once committed: a line, or its JSON (--format jsonl). */
static void
print_event(void *arg, const struct alert_event *ev)
{
	const enum output_format *fmt = arg;

	if (*fmt == OUTPUT_JSONL) {
		char json[ALERT_JSON_MAX];
		if (alert_event_to_json(ev, json, sizeof(json)) >= 0)
			printf("%s\n", json);
	} else {
		print_event_line(stdout, ev);
	}
}

/* " (127.53.0.5/udp, 127.53.0.6/tcp and 3 more)" for count ports of which nm names the
 * first; "" for none. */
static const char *
nagios_names(const struct judge_names *nm, uint64_t count, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	if (count == 0 || nm->n == 0)
		return buf;
	for (size_t i = 0; i < nm->n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : " (", nm->v[i]);
	if (off < len && count > nm->n)
		off += (size_t)snprintf(buf + off, len - off, " and %llu more",
					(unsigned long long)(count - nm->n));
	if (off < len)
		snprintf(buf + off, len - off, ")");
	return buf;
}

static int
nagios_line(const struct check_result *r)
{
	char unack[JUDGE_NAMES_MAX * 64], down[JUDGE_NAMES_MAX * 64];
	const char *word;
	int code;

	if (r->unacknowledged > 0 || r->expected_down > 0 || r->new_exposures > 0) {
		word = "CRITICAL";
		code = 2;
	} else if (r->degraded || r->flapping > 0) {
		word = "WARNING";
		code = 1;
	} else {
		word = "OK";
		code = 0;
	}
	printf("WATCH53 %s - %llu addresses, %llu open ports, %llu unacknowledged%s, "
	       "%llu new exposures, %llu expected-open down%s%s | open_ports=%llu "
	       "new_exposures=%llu unacknowledged=%llu expected_down=%llu addresses=%llu "
	       "scan_seconds=%.3fs\n",
	       word, (unsigned long long)r->addresses, (unsigned long long)r->open_ports,
	       (unsigned long long)r->unacknowledged,
	       nagios_names(&r->unack_names, r->unacknowledged, unack, sizeof(unack)),
	       (unsigned long long)r->new_exposures, (unsigned long long)r->expected_down,
	       nagios_names(&r->down_names, r->expected_down, down, sizeof(down)),
	       r->degraded ? ", DEGRADED" : "", (unsigned long long)r->open_ports,
	       (unsigned long long)r->new_exposures, (unsigned long long)r->unacknowledged,
	       (unsigned long long)r->expected_down, (unsigned long long)r->addresses,
	       (double)r->duration_ns / 1e9);
	return code;
}

int
cmd_check(int argc, char **argv)
{
	const char *path = NULL;
	struct config cfg;
	struct check_result res;
	struct check_opts co = { .deliver = true, .alertmanager = true };
	enum output_format fmt = OUTPUT_TABLE;
	char err[1024];
	int ch, quiet = 0, nagios = 0, verbose = 0, rc;

	config_init(&cfg);
	memset(&res, 0, sizeof(res));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:qvh", check_longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'q': quiet = 1; break;
		case 'v': verbose++; break;
		case OPT_NAGIOS: nagios = 1; break;
		case OPT_FORMAT:
			if (output_format_parse(optarg, &fmt) < 0 ||
			    (fmt != OUTPUT_TABLE && fmt != OUTPUT_JSONL)) {
				fprintf(stderr, "watch53 check: --format: '%s' is not table or jsonl\n",
					optarg);
				return nagios ? 3 : EXIT_USAGE;
			}
			break;
		case 'h':
			cmd_check_help(stdout);
			return EXIT_CLEAN;
		default:
			cli_usage_error("check", NULL);
			return nagios ? 3 : EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_usage_error("check", "unexpected argument '%s'", argv[optind]);
		return nagios ? 3 : EXIT_USAGE;
	}
	path = cli_config_path(path);
	if (config_load(path, &cfg, err, sizeof(err)) < 0) {
		if (nagios)
			printf("WATCH53 UNKNOWN - %s\n", err);
		else
			fprintf(stderr, "watch53 check: %s\n", err);
		return nagios ? 3 : EXIT_USAGE;
	}
	log_set_level(verbose >= 2 ? LOG_LVL_DEBUG : verbose ? LOG_LVL_INFO : cfg.log_level);
	if (!verbose && cfg.log_level > LOG_LVL_WARN)
		log_set_level(LOG_LVL_WARN); /* cron mails whatever reaches stderr */

	co.event = nagios ? NULL : print_event;
	co.event_arg = &fmt;
	/* the service runs the cycles of this state: a cron cycle beside it would double
	 * them (use one or the other) */
	if (state_service_running(cfg.state_dir)) {
		snprintf(err, sizeof(err), "the service (watch53 run) runs on %s: it runs the "
			 "cycles; use either it or cron, not both", cfg.state_dir);
		if (nagios)
			printf("WATCH53 UNKNOWN - %s\n", err);
		else
			fprintf(stderr, "watch53 check: %s\n", err);
		config_clear(&cfg);
		return nagios ? 3 : EXIT_LOCKED;
	}
	/* SYN mode's sockets before root gives way to state_dir's owner (as the daemon
	 * opens them before its drop) */
	if (cfg.probe.tcp_syn && geteuid() == 0 &&
	    syn_io_open("any", &co.syn_io, err, sizeof(err)) < 0)
		rc = -EPERM;
	else
		rc = cli_act_as_owner(cfg.state_dir, err, sizeof(err));
	if (rc == 0)
		rc = check_cycle_opts(&cfg, &co, &res, err, sizeof(err));
	syn_io_close(co.syn_io);
	if (rc < 0) {
		if (nagios)
			printf("WATCH53 UNKNOWN - %s\n", err);
		else
			fprintf(stderr, "watch53 check: %s\n", err);
		config_clear(&cfg);
		check_result_clear(&res);
		if (nagios)
			return 3;
		return rc == -EWOULDBLOCK ? EXIT_LOCKED : EXIT_RUNTIME;
	}
	if (nagios) {
		rc = nagios_line(&res);
	} else {
		if (!quiet && fmt == OUTPUT_TABLE) {
			char dur[32];
			printf("%s: %llu addresses, %llu open ports, %zu events%s in %s\n",
			       res.first_cycle ? "baseline recorded" : "cycle done",
			       (unsigned long long)res.addresses, (unsigned long long)res.open_ports,
			       res.nevents, res.degraded ? " (DEGRADED)" : "",
			       util_fmt_duration(res.duration_ns, dur, sizeof(dur)));
		}
		/* something new to act on: an exposure, or an expected-open port down */
		rc = res.new_exposures > 0 || res.new_outages > 0 ? EXIT_FOUND : EXIT_CLEAN;
	}
	fflush(stdout);
	config_clear(&cfg);
	check_result_clear(&res);
	return rc;
}
