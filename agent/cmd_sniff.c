/* cmd_sniff: the `watch53 sniff` command — options, signals, the capture loop and its
 * output; the sniffer itself is sniff.c's, shared with the daemon. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/check.h"
#include "agent/cli.h"
#include "agent/config.h"
#include "agent/output.h"
#include "agent/sniff.h"
#include "common/log.h"
#include "common/util.h"
#include "probes/passive.h"

/* With a config, new responders go to the state machine at most this often (each hand-over
 * loads and saves the state). */
#define SNIFF_APPLY_NS (5 * NS_PER_SEC)
#define SNIFF_POLL_MS 200

static struct sniffer *volatile sniff_current;
static volatile sig_atomic_t sniff_stop;

static void
sniff_on_signal(int sig)
{
	(void)sig;
	sniff_stop = 1;
	if (sniff_current != NULL)
		sniffer_breakloop(sniff_current);
}

enum { OPT_FORMAT = 256, OPT_PORT, OPT_FILTER, OPT_COUNT, OPT_DURATION, OPT_PROMISC };

static const struct option sniff_longopts[] = {
	{ "interface", required_argument, NULL, 'i' },
	{ "read", required_argument, NULL, 'r' },
	{ "config", required_argument, NULL, 'c' },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "filter", required_argument, NULL, OPT_FILTER },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "promisc", no_argument, NULL, OPT_PROMISC },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "output", required_argument, NULL, 'o' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void
cmd_sniff_help(FILE *f)
{
	fprintf(f,
"usage: watch53 sniff (-i IFACE | -r FILE) [-c FILE] [options]\n"
"\n"
"Passive detection: watch DNS traffic instead of probing, and report every host\n"
"that answers DNS: a well-formed DNS response from UDP port 53, a completed TCP\n"
"handshake on port 53, or a whole DNS response sent over TCP from port 53. Per\n"
"address: first and last seen, packets, responses, whether they offer recursion\n"
"(RA) and the protocols seen; one record per responder, formats as for scan.\n"
"Malformed, truncated and hostile packets are counted and skipped.\n"
"\n"
"With -c FILE, responders inside the configured targets whose baseline says\n"
"closed raise `opened` events (marked \"source\": \"passive\") through the same\n"
"state machine and outbox as `watch53 check`; responders outside the targets are\n"
"reported only with passive.report_unknown.\n"
"\n"
"Options:\n"
"  -i, --interface IFACE  capture live on IFACE (\"any\": all; needs CAP_NET_RAW);\n"
"                         runs until SIGINT/SIGTERM, --count or --duration\n"
"  -r, --read FILE        read a pcap or pcapng file\n"
"  -c, --config FILE      raise events through the state and outbox of this config\n"
"  --port N               the DNS port (default: 53, or probe.port with -c)\n"
"  --filter EXPR          a BPF expression (pcap-filter(7)) ANDed with the port's\n"
"  --count N              stop after N packets\n"
"  --duration DUR         stop after DUR (e.g. 30s, 5m)\n"
"  --promisc              put the interface in promiscuous mode\n"
"  --format FMT           table, json, jsonl or csv (default: table)\n"
"  -o, --output FILE      write the records to FILE instead of stdout\n"
"  -q, --quiet            no summary line (table)\n"
"  -v, --verbose          more diagnostics on stderr (repeat for debug)\n"
"  -h, --help             this help\n"
"\n"
"Exit status: 0 no responder reported, 1 at least one, 2 usage error or a file\n"
"that is not a capture, 3 runtime failure (capture error, state not updated).\n"
"\n"
"Examples:\n"
"  watch53 sniff -i eth0 --duration 10m --format jsonl\n"
"  tcpdump -i eth0 -w dns.pcap port 53; watch53 sniff -r dns.pcap\n"
"  watch53 sniff -i eth0 -c /etc/watch53/watch53.json\n");
}

static void
log_events(const struct check_result *res)
{
	for (size_t i = 0; i < res->nevents; i++) {
		const struct alert_event *ev = &res->events[i];

		fprintf(stderr, "watch53 sniff: %s (%s, passive) %s %s/%u: %s\n",
			alert_type_name(ev->type), alert_severity_name(ev->severity), ev->address,
			ev->protocol, (unsigned)ev->port, ev->summary);
	}
}

/* Hand new responders over; a locked state_dir is said once and tried again later. */
static int
sniff_apply(struct sniffer *s, const struct config *cfg, uint64_t *events, bool *lock_said,
	    bool last)
{
	struct check_opts co = { .deliver = true, .alertmanager = true };
	struct check_result res;
	char err[1024];
	int rc;

	if (!sniffer_pending(s))
		return 0;
	rc = sniffer_apply(s, cfg, &co, &res, err, sizeof(err));
	if (rc == -EWOULDBLOCK) {
		if (!*lock_said || last)
			fprintf(stderr, "watch53 sniff: %s: another watch53 holds the state "
				"lock%s (a daemon captures itself with passive.interface)\n",
				cfg->state_dir, last ? "; events were not raised" : "; trying again");
		*lock_said = true;
	} else if (rc < 0) {
		fprintf(stderr, "watch53 sniff: %s\n", err);
	} else {
		log_events(&res);
		*events += res.nevents;
	}
	check_result_clear(&res);
	return rc;
}

int
cmd_sniff(int argc, char **argv)
{
	struct sniffer_opts so = { 0 };
	struct config cfg;
	const char *cfgpath = NULL, *outfile = NULL;
	enum output_format fmt = OUTPUT_TABLE;
	struct sniffer *s = NULL;
	struct probe_result *recs = NULL;
	struct output_passive *pas = NULL;
	struct output_sniff sum;
	struct util_sigsaved saved;
	uint64_t v, max_packets = 0, duration_ns = 0, events = 0, next_apply, t0;
	bool have_cfg = false, lock_said = false, port_given = false;
	bool sig_set = false, apply_failed = false;
	int ch, quiet = 0, verbose = 0, rc, status = EXIT_RUNTIME;
	FILE *out = stdout;
	char err[1024];
	size_t n = 0;

	config_init(&cfg);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "i:r:c:o:qvh", sniff_longopts, NULL)) != -1) {
		switch (ch) {
		case 'i': so.iface = optarg; break;
		case 'r': so.file = optarg; break;
		case 'c': cfgpath = optarg; break;
		case OPT_PORT:
			if (util_parse_uint(optarg, 1, 65535, &v) < 0) {
				status = cli_usage_error("sniff", "--port: '%s' is not a number from 1 to 65535", optarg);
				goto done;
			}
			so.port = (uint16_t)v;
			port_given = true;
			break;
		case OPT_FILTER: so.filter = optarg; break;
		case OPT_COUNT:
			if (util_parse_uint(optarg, 1, UINT64_MAX, &max_packets) < 0) {
				status = cli_usage_error("sniff", "--count: '%s' is not a positive number", optarg);
				goto done;
			}
			break;
		case OPT_DURATION:
			if (util_parse_duration(optarg, &duration_ns) < 0 || duration_ns == 0) {
				status = cli_usage_error("sniff", "--duration: '%s' is not a duration (e.g. 30s, 5m)", optarg);
				goto done;
			}
			break;
		case OPT_PROMISC: so.promisc = true; break;
		case OPT_FORMAT:
			if (output_format_parse(optarg, &fmt) < 0) {
				status = cli_usage_error("sniff", "--format: '%s' is not one of table, json, jsonl, csv",
					    optarg);
				goto done;
			}
			break;
		case 'o': outfile = optarg; break;
		case 'q': quiet = 1; break;
		case 'v': verbose++; break;
		case 'h':
			cmd_sniff_help(stdout);
			status = EXIT_CLEAN;
			goto done;
		default:
			goto usage;
		}
	}
	if (optind < argc) {
		status = cli_usage_error("sniff", "unexpected argument '%s'", argv[optind]);
		goto done;
	}
	if ((so.iface == NULL) == (so.file == NULL)) {
		status = cli_usage_error("sniff", "give exactly one of -i IFACE and -r FILE");
		goto done;
	}
	if (so.file != NULL && duration_ns != 0) {
		status = cli_usage_error("sniff", "--duration applies to a live capture (-i) only");
		goto done;
	}
	log_set_level(verbose >= 2 ? LOG_LVL_DEBUG : verbose ? LOG_LVL_INFO : LOG_LVL_WARN);
	if (cfgpath != NULL) {
		if (config_load(cfgpath, &cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "watch53 sniff: %s\n", err);
			status = EXIT_USAGE;
			goto done;
		}
		have_cfg = true;
		if (!port_given)
			so.port = cfg.probe.port;
	}
	rc = sniffer_open(&so, &s, err, sizeof(err));
	if (rc < 0) {
		if (rc == -EPERM)
			fprintf(stderr, "watch53 sniff: %s: capturing needs CAP_NET_RAW: run as root, "
				"or grant it with 'setcap cap_net_raw+ep $(command -v watch53)'\n",
				so.iface);
		else
			fprintf(stderr, "watch53 sniff: %s\n", err);
		/* a file that is not a capture is bad input; a device that fails is runtime */
		status = so.file != NULL ? EXIT_USAGE : EXIT_RUNTIME;
		goto done;
	}
	sniff_stop = 0;
	sniff_current = s;
	util_stop_signals_catch(sniff_on_signal, &saved);
	sig_set = true;

	t0 = util_now_ns();
	next_apply = t0 + SNIFF_APPLY_NS;
	for (;;) {
		int max = SNIFF_DISPATCH_BATCH;

		if (sniff_stop)
			break;
		if (max_packets) {
			uint64_t seen = sniffer_packets(s);

			if (seen >= max_packets)
				break;
			if (max_packets - seen < (uint64_t)max)
				max = (int)(max_packets - seen);
		}
		if (duration_ns && util_now_ns() - t0 >= duration_ns)
			break;
		if (have_cfg && util_now_ns() >= next_apply) {
			(void)sniff_apply(s, &cfg, &events, &lock_said, false);
			next_apply = util_now_ns() + SNIFF_APPLY_NS;
		}
		rc = sniffer_dispatch(s, max, err, sizeof(err));
		if (rc == -EINTR)
			break;
		if (rc == -EIO) {
			if (sniffer_live(s)) {
				fprintf(stderr, "watch53 sniff: %s\n", err);
				goto done_sig;
			}
			/* a cut or damaged file: what came before the damage still counts */
			fprintf(stderr, "watch53 sniff: %s; the results cover the packets before "
				"it\n", err);
			break;
		}
		if (rc < 0) {
			fprintf(stderr, "watch53 sniff: capture: %s\n", strerror(-rc));
			goto done_sig;
		}
		if (!sniffer_live(s) && rc == 0)
			break; /* end of the file */
		if (sniffer_live(s) && rc == 0) {
			struct pollfd pfd = { .fd = sniffer_fd(s), .events = POLLIN };
			int wait = SNIFF_POLL_MS;

			if (duration_ns) {
				uint64_t left = duration_ns - (util_now_ns() - t0);
				if (left / NS_PER_MS < (uint64_t)wait)
					wait = (int)(left / NS_PER_MS) + 1;
			}
			if (poll(&pfd, 1, wait) == -1 && errno != EINTR) {
				fprintf(stderr, "watch53 sniff: poll: %s\n", strerror(errno));
				goto done_sig;
			}
		}
	}
	if (have_cfg && sniff_apply(s, &cfg, &events, &lock_said, true) < 0)
		apply_failed = true;
	if (sniffer_records(s, have_cfg ? &cfg : NULL, &recs, &pas, &n, &sum.unknown) < 0) {
		fprintf(stderr, "watch53 sniff: out of memory\n");
		goto done_sig;
	}
	{
		uint64_t unknown = sum.unknown;
		struct output_data od = { .records = recs, .nrecords = n, .passive = pas,
					  .sniff = quiet ? NULL : &sum };

		sniffer_summary(s, &sum);
		sum.unknown = unknown;
		sum.responders = n;
		sum.events = events;
		sum.interrupted = sniff_stop != 0;
		if (outfile != NULL) {
			out = fopen(outfile, "w");
			if (out == NULL) {
				fprintf(stderr, "watch53 sniff: -o %s: %s\n", outfile, strerror(errno));
				goto done_sig;
			}
		}
		if (fmt == OUTPUT_JSON)
			od.sniff = &sum; /* the document always says what was read */
		if (output_write(out, fmt, &od) < 0 || fflush(out) != 0) {
			fprintf(stderr, "watch53 sniff: writing results: %s\n", strerror(errno));
			goto done_sig;
		}
	}
	if (sum.table_full > 0)
		fprintf(stderr, "watch53 sniff: %llu responders beyond the %d tracked were not "
			"recorded\n", (unsigned long long)sum.table_full, PASSIVE_MAX_RESPONDERS);
	status = apply_failed ? EXIT_RUNTIME : n > 0 ? EXIT_FOUND : EXIT_CLEAN;
done_sig:
	if (sig_set) {
		util_stop_signals_restore(&saved);
		sniff_current = NULL;
	}
	goto done;
usage:
	status = cli_usage_error("sniff", NULL);
done:
	if (out != stdout && out != NULL && fclose(out) != 0 && status < EXIT_USAGE) {
		fprintf(stderr, "watch53 sniff: -o %s: %s\n", outfile, strerror(errno));
		status = EXIT_RUNTIME;
	}
	free(recs);
	free(pas);
	sniffer_free(s);
	config_clear(&cfg);
	return status;
}
