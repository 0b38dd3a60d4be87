/* cmd_scan: the one-shot `watch53 scan` command — its options, the local audit, the output;
 * the scanning itself is scan.c's driver, shared with check and run. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/audit.h"
#include "agent/cli.h"
#include "agent/output.h"
#include "agent/scan.h"
#include "agent/scan_syn.h"
#include "agent/shard.h"
#include "agent/targets.h"
#include "common/log.h"
#include "common/util.h"
#include "probes/dns.h"
#include "probes/dnscheck.h"

#define AUDIT_MAX_ADDRESSES 64

enum {
	OPT_TCP = 256, OPT_NO_TCP, OPT_UDP, OPT_NO_UDP, OPT_PORT, OPT_TIMEOUT, OPT_RETRIES,
	OPT_RATE, OPT_CONCURRENCY, OPT_EXCLUDE, OPT_FORMAT, OPT_MAX_HOSTS, OPT_QNAME,
	OPT_QTYPE, OPT_RD, OPT_NO_PROGRESS, OPT_CHECKS, OPT_ZONE, OPT_CANARY,
	OPT_SYN, OPT_INTERFACE, OPT_SOURCE_IP, OPT_ROUTER_MAC, OPT_SHARD, OPT_SHARD_SEED,
};

static const struct option scan_longopts[] = {
	{ "tcp", no_argument, NULL, OPT_TCP },
	{ "no-tcp", no_argument, NULL, OPT_NO_TCP },
	{ "udp", no_argument, NULL, OPT_UDP },
	{ "no-udp", no_argument, NULL, OPT_NO_UDP },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
	{ "exclude", required_argument, NULL, OPT_EXCLUDE },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "max-hosts", required_argument, NULL, OPT_MAX_HOSTS },
	{ "qname", required_argument, NULL, OPT_QNAME },
	{ "qtype", required_argument, NULL, OPT_QTYPE },
	{ "rd", no_argument, NULL, OPT_RD },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "checks", required_argument, NULL, OPT_CHECKS },
	{ "zone", required_argument, NULL, OPT_ZONE },
	{ "canary", required_argument, NULL, OPT_CANARY },
	{ "syn", no_argument, NULL, OPT_SYN },
	{ "interface", required_argument, NULL, OPT_INTERFACE },
	{ "source-ip", required_argument, NULL, OPT_SOURCE_IP },
	{ "router-mac", required_argument, NULL, OPT_ROUTER_MAC },
	{ "shard", required_argument, NULL, OPT_SHARD },
	{ "shard-seed", required_argument, NULL, OPT_SHARD_SEED },
	{ "output", required_argument, NULL, 'o' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void
cmd_scan_help(FILE *f)
{
	fprintf(f,
"usage: watch53 scan [options] [TARGET...]\n"
"\n"
"Probe TCP and UDP port 53 of every target address once and print the results.\n"
"Writes no state. With no TARGET: the local audit (loopback probes only, plus a\n"
"list of every socket bound to port 53 on this host).\n"
"\n"
"TARGET: an IPv4/IPv6 address, a CIDR prefix (127.53.0.0/24), a range\n"
"(127.53.0.1-127.53.0.40), a host name (all its A and AAAA), @FILE (one target a\n"
"line, # comments) or - (targets from stdin).\n"
"\n"
"Options:\n"
"  --tcp, --no-tcp        probe TCP (default: on)\n"
"  --udp, --no-udp        probe UDP with a DNS query (default: on)\n"
"  --port N               port to probe (default: 53)\n"
"  --timeout DUR          wait per probe, retries included: 800ms, 2s (default: 1s)\n"
"  --retries N            retransmissions spread inside the timeout (default: %d)\n"
"  --rate PPS             global packet rate limit, 0 = unlimited (default: %d)\n"
"  --concurrency N        probes in flight at once (default: %d, lowered to what the\n"
"                         open file limit allows TCP probes; -v says which)\n"
"  --exclude TARGET       skip these addresses (repeatable; same syntax as TARGET)\n"
"  --max-hosts N          refuse target sets larger than N addresses (default: %llu)\n"
"  --shard I/N            probe only shard I of N (1/3, 2/3, 3/3): N agents given the\n"
"                         same targets and seed split them into disjoint, equal parts\n"
"  --shard-seed S         the split's key, the same on every agent (default: 0)\n"
"  --qname NAME           name asked by the UDP probe (default: .)\n"
"  --qtype TYPE           type asked by the UDP probe (default: NS)\n"
"  --rd                   set RD (recursion desired) in the UDP probe (default: off)\n"
"  --checks LIST          DNS follow-up checks on open ports, comma-separated:\n"
"                         recursion, version, axfr, amplification, tcp-dns; all, none\n"
"                         (default: none)\n"
"  --zone NAME            a zone to try AXFR and amplification with (repeatable, up to %d)\n"
"  --canary NAME[=ADDR]   the name the recursion check asks for, and the address it must\n"
"                         resolve to (default: . NS, no address)\n"
"  --syn                  TCP by stateless SYN probes from a raw socket, answers read\n"
"                         with libpcap (needs CAP_NET_RAW; same states as connect)\n"
"  --interface IFACE      SYN mode: send and listen on IFACE (default: the route's)\n"
"  --source-ip ADDR       SYN mode: source address (one per family; default: the\n"
"                         route's)\n"
"  --router-mac MAC       SYN mode: link address of the next hop (default: from the\n"
"                         neighbour table)\n"
"  --format FMT           table, json, jsonl or csv (default: table)\n"
"  -o, --output FILE      write results to FILE instead of stdout\n"
"  --no-progress          no progress line on a terminal\n"
"  -q, --quiet            table format: print only open ports and the summary\n"
"  -v, --verbose          more diagnostics on stderr (repeat for debug)\n"
"  -h, --help             this help\n"
"\n"
"Exit status: 0 no port open, 1 at least one port open, 2 usage error,\n"
"3 runtime failure (or interrupted).\n"
"\n"
"Examples:\n"
"  watch53 scan                                  # audit this host (loopback only)\n"
"  watch53 scan 192.0.2.0/24 --format jsonl      # from another host\n"
"  watch53 scan @hosts.txt --exclude 192.0.2.5 -o results.csv --format csv\n"
"  watch53 scan 192.0.2.0/22 --shard 2/3 --shard-seed 7   # one of three agents\n",
		SCAN_DEFAULT_RETRIES, SCAN_DEFAULT_RATE, SCAN_DEFAULT_CONCURRENCY,
		(unsigned long long)TARGETS_DEFAULT_MAX_HOSTS, DNSCHECK_MAX_ZONES);
}

struct target_stream {
	struct target_iter it;
};

static int
next_target(void *arg, struct net_addr *addr, uint32_t *tidx)
{
	struct target_stream *s = arg;
	return targets_iter_next(&s->it, addr, tidx);
}

struct addr_stream {
	const struct net_addr *addrs;
	size_t n, pos;
};

static int
next_addr(void *arg, struct net_addr *addr, uint32_t *tidx)
{
	struct addr_stream *s = arg;

	if (s->pos >= s->n)
		return 0;
	*tidx = (uint32_t)s->pos;
	*addr = s->addrs[s->pos++];
	return 1;
}

struct zone_list {
	const char *names[DNSCHECK_MAX_ZONES];
	size_t n;
};

/* --zone applies to every target. */
static const char *const *
cli_zones(void *arg, uint32_t target_index, size_t *n)
{
	struct zone_list *z = arg;

	(void)target_index;
	*n = z->n;
	return z->names;
}

static const char *
label_target(void *arg, uint32_t i)
{
	return targets_label(arg, i);
}

struct audit_labels {
	char text[AUDIT_MAX_ADDRESSES][NETADDR_STRLEN];
};

static const char *
label_audit(void *arg, uint32_t i)
{
	struct audit_labels *l = arg;
	return i < AUDIT_MAX_ADDRESSES ? l->text[i] : "";
}

static int
parse_num_opt(const char *name, const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	if (util_parse_uint(text, min, max, out) < 0) {
		fprintf(stderr, "watch53 scan: --%s: '%s' is not a number from %llu to %llu\n", name,
			text, (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	return 0;
}

int
cmd_scan(int argc, char **argv)
{
	struct scan_opts o;
	enum output_format fmt = OUTPUT_TABLE;
	const char *outfile = NULL;
	struct target_set *ts = NULL;
	struct scan_collect col = { 0 };
	struct scan_summary sum;
	struct audit_listener *ls = NULL;
	size_t nls = 0;
	char err[512];
	uint64_t v, max_hosts = TARGETS_DEFAULT_MAX_HOSTS;
	int quiet = 0, verbose = 0, no_progress = 0, ch, rc, status = EXIT_RUNTIME;
	FILE *out = stdout;
	const char **excludes = NULL;
	size_t nexcl = 0;
	struct zone_list zl = { .n = 0 };
	struct shard_spec shs = { .count = 0 };
	struct shard *sh = NULL;
	bool have_seed = false;

	scan_opts_init(&o);
	o.zones = cli_zones;
	o.zones_arg = &zl;
	excludes = calloc((size_t)argc, sizeof(*excludes));
	if (excludes == NULL)
		return EXIT_RUNTIME;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "ho:qv", scan_longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_TCP: o.tcp = true; break;
		case OPT_NO_TCP: o.tcp = false; break;
		case OPT_UDP: o.udp = true; break;
		case OPT_NO_UDP: o.udp = false; break;
		case OPT_PORT:
			if (parse_num_opt("port", optarg, 1, 65535, &v) < 0)
				goto usage;
			o.port = (uint16_t)v;
			break;
		case OPT_TIMEOUT:
			if (util_parse_duration(optarg, &o.timeout_ns) < 0 || o.timeout_ns == 0 ||
			    o.timeout_ns > 60 * NS_PER_SEC) {
				fprintf(stderr, "watch53 scan: --timeout: '%s' is not a duration "
						"from 1ms to 60s (e.g. 800ms, 2s)\n", optarg);
				goto usage;
			}
			break;
		case OPT_RETRIES:
			if (parse_num_opt("retries", optarg, 0, 10, &v) < 0)
				goto usage;
			o.retries = (unsigned)v;
			break;
		case OPT_RATE:
			if (parse_num_opt("rate", optarg, 0, 10000000, &v) < 0)
				goto usage;
			o.rate_pps = (unsigned)v;
			break;
		case OPT_CONCURRENCY:
			if (parse_num_opt("concurrency", optarg, 1, 65536, &v) < 0)
				goto usage;
			o.concurrency = (unsigned)v;
			o.concurrency_set = true;
			break;
		case OPT_MAX_HOSTS:
			if (parse_num_opt("max-hosts", optarg, 1, UINT64_MAX, &max_hosts) < 0)
				goto usage;
			break;
		case OPT_EXCLUDE:
			excludes[nexcl++] = optarg;
			break;
		case OPT_FORMAT:
			if (output_format_parse(optarg, &fmt) < 0) {
				status = cli_usage_error("scan", "--format: '%s' is not one of "
							 "table, json, jsonl, csv", optarg);
				goto done;
			}
			break;
		case OPT_QNAME: {
			uint8_t wire[DNS_MAX_NAME];
			if (dns_name_from_text(optarg, wire, sizeof(wire)) < 0 ||
			    strlen(optarg) >= sizeof(o.qname)) {
				status = cli_usage_error(
					"scan", "--qname: '%s' is not a valid DNS name", optarg);
				goto done;
			}
			snprintf(o.qname, sizeof(o.qname), "%s", optarg);
			break;
		}
		case OPT_QTYPE:
			if (dns_type_from_text(optarg, &o.qtype) < 0) {
				status = cli_usage_error("scan", "--qtype: '%s' is not a DNS type "
							 "(A, NS, SOA, TYPE65...)", optarg);
				goto done;
			}
			break;
		case OPT_RD: o.rd = true; break;
		case OPT_CHECKS:
			if (scan_parse_checks(optarg, &o.checks, err, sizeof(err)) < 0) {
				status = cli_usage_error("scan", "--checks: %s", err);
				goto done;
			}
			break;
		case OPT_ZONE: {
			uint8_t wire[DNS_MAX_NAME];
			if (dns_name_from_text(optarg, wire, sizeof(wire)) < 0) {
				status = cli_usage_error(
					"scan", "--zone: '%s' is not a valid DNS name", optarg);
				goto done;
			}
			if (zl.n >= DNSCHECK_MAX_ZONES) {
				status = cli_usage_error(
					"scan", "--zone: at most %d zones", DNSCHECK_MAX_ZONES);
				goto done;
			}
			zl.names[zl.n++] = optarg;
			break;
		}
		case OPT_CANARY: {
			uint8_t wire[DNS_MAX_NAME];
			struct net_addr na;
			char *eq = strchr(optarg, '=');
			if (eq != NULL)
				*eq = '\0';
			if (dns_name_from_text(optarg, wire, sizeof(wire)) < 0 ||
			    strlen(optarg) >= sizeof(o.canary)) {
				status = cli_usage_error(
					"scan", "--canary: '%s' is not a valid DNS name", optarg);
				goto done;
			}
			if (eq != NULL && net_addr_parse(eq + 1, &na) < 0) {
				status = cli_usage_error(
					"scan", "--canary: '%s' is not an IP address", eq + 1);
				goto done;
			}
			snprintf(o.canary, sizeof(o.canary), "%s", optarg);
			snprintf(o.canary_addr, sizeof(o.canary_addr), "%s", eq ? eq + 1 : "");
			break;
		}
		case OPT_SYN:
		case OPT_INTERFACE:
		case OPT_SOURCE_IP:
		case OPT_ROUTER_MAC: {
			static const char *const syn_names[] = { "syn", "interface", "source-ip",
								 "router-mac" };
			char serr[160];

			if (scan_syn_option(&o.syn, syn_names[ch - OPT_SYN], optarg, serr,
					    sizeof(serr)) < 0) {
				status = cli_usage_error("scan", "%s", serr);
				goto done;
			}
			break;
		}
		case OPT_SHARD:
			if (shard_parse(optarg, &shs, err, sizeof(err)) < 0) {
				status = cli_usage_error("scan", "--shard: %s", err);
				goto done;
			}
			break;
		case OPT_SHARD_SEED:
			if (parse_num_opt("shard-seed", optarg, 0, UINT64_MAX, &shs.seed) < 0)
				goto usage;
			have_seed = true;
			break;
		case OPT_NO_PROGRESS: no_progress = 1; break;
		case 'o': outfile = optarg; break;
		case 'q': quiet = 1; break;
		case 'v': verbose++; break;
		case 'h':
			cmd_scan_help(stdout);
			status = EXIT_CLEAN;
			goto done;
		default:
			goto usage;
		}
	}
	if (!o.tcp && !o.udp) {
		fprintf(stderr, "watch53 scan: --no-tcp and --no-udp leave nothing to probe\n");
		goto usage;
	}
	if (!o.syn.on && (o.syn.iface || o.syn.have_src[0] || o.syn.have_src[1] ||
			  o.syn.have_router_mac)) {
		fprintf(stderr, "watch53 scan: --interface, --source-ip and --router-mac apply "
			"to --syn only\n");
		goto usage;
	}
	if (have_seed && shs.count == 0) {
		fprintf(stderr, "watch53 scan: --shard-seed applies to --shard only\n");
		goto usage;
	}
	log_set_level(verbose >= 2 ? LOG_LVL_DEBUG : verbose ? LOG_LVL_INFO : LOG_LVL_WARN);
	o.progress = !no_progress && !quiet && isatty(STDERR_FILENO);

	struct output_data od = { .summary = &sum };
	struct audit_labels *al = NULL;

	if (optind >= argc) {
		/* the local audit: loopback only, whatever is listening */
		struct net_addr addrs[AUDIT_MAX_ADDRESSES];
		struct addr_stream as = { .addrs = addrs };

		if (nexcl > 0 || shs.count > 0) {
			fprintf(stderr, "watch53 scan: %s needs targets\n",
				nexcl > 0 ? "--exclude" : "--shard");
			goto usage;
		}
		if (audit_list_listeners("/proc", o.port, &ls, &nls, err, sizeof(err)) < 0) {
			fprintf(stderr, "watch53 scan: local audit: %s\n", err);
			goto done;
		}
		as.n = audit_probe_addresses(ls, nls, addrs, AUDIT_MAX_ADDRESSES);
		al = calloc(1, sizeof(*al));
		if (al == NULL)
			goto done;
		for (size_t i = 0; i < as.n; i++)
			net_addr_str(&addrs[i], al->text[i], sizeof(al->text[i]));
		if (o.syn.on)
			scan_syn_hints_array(&o.syn, addrs, as.n);
		rc = scan_execute(&o, next_addr, &as, as.n, &col, &sum, err, sizeof(err));
		if (rc == 0 && !sum.interrupted)
			rc = scan_checks(&o, &col, &sum, err, sizeof(err));
		sum.audit = true;
		od.label = label_audit;
		od.label_arg = al;
		od.listeners = ls;
		od.nlisteners = nls;
	} else {
		struct target_stream s;

		ts = targets_new();
		if (ts == NULL)
			goto done;
		targets_set_max_hosts(ts, max_hosts);
		for (int i = optind; i < argc; i++)
			if (targets_add(ts, argv[i], stdin, err, sizeof(err)) < 0) {
				fprintf(stderr, "watch53 scan: %s\n", err);
				status = EXIT_USAGE;
				goto done;
			}
		for (size_t i = 0; i < nexcl; i++)
			if (targets_exclude(ts, excludes[i], err, sizeof(err)) < 0) {
				fprintf(stderr, "watch53 scan: --exclude: %s\n", err);
				status = EXIT_USAGE;
				goto done;
			}
		if (targets_finish(ts, err, sizeof(err)) < 0) {
			fprintf(stderr, "watch53 scan: %s\n", err);
			status = EXIT_USAGE;
			goto done;
		}
		targets_iter_init(&s.it, ts);
		if (o.syn.on)
			scan_syn_hints(&o.syn, &s.it);
		if (shs.count > 0) {
			/* this agent's part: the same stream, the other shards' addresses skipped */
			struct shard_filter sf = { .next = next_target, .next_arg = &s };

			if ((rc = shard_new(ts, &shs, &sh, err, sizeof(err))) < 0) {
				fprintf(stderr, "watch53 scan: --shard: %s\n", err);
				status = rc == -E2BIG ? EXIT_USAGE : EXIT_RUNTIME;
				goto done;
			}
			sf.sh = sh;
			rc = scan_execute(&o, shard_filter_next, &sf,
					  shard_estimate(sh, targets_total(ts)), &col, &sum, err,
					  sizeof(err));
		} else {
			rc = scan_execute(&o, next_target, &s, targets_total(ts), &col, &sum, err,
					  sizeof(err));
		}
		if (rc == 0 && !sum.interrupted)
			rc = scan_checks(&o, &col, &sum, err, sizeof(err));
		od.label = label_target;
		od.label_arg = ts;
	}
	if (rc < 0 && rc != -EINTR) {
		fprintf(stderr, "watch53 scan: %s\n", err);
		status = rc == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
		goto done_audit;
	}
	od.records = col.recs;
	od.nrecords = col.n;
	od.quiet = quiet;
	if (outfile) {
		out = fopen(outfile, "w");
		if (out == NULL) {
			fprintf(stderr, "watch53 scan: -o %s: %s\n", outfile, strerror(errno));
			goto done_audit;
		}
	}
	if (output_write(out, fmt, &od) < 0 || fflush(out) != 0) {
		fprintf(stderr, "watch53 scan: writing results: %s\n", strerror(errno));
		goto done_audit;
	}
	if (sum.interrupted) {
		fprintf(stderr, "watch53 scan: interrupted: results are partial\n");
		status = EXIT_RUNTIME;
	} else {
		status = sum.hosts_open > 0 ? EXIT_FOUND : EXIT_CLEAN;
	}
done_audit:
	free(al);
	goto done;
usage:
	status = cli_usage_error("scan", NULL);
done:
	if (out != stdout && out != NULL && fclose(out) != 0 && status < EXIT_USAGE) {
		fprintf(stderr, "watch53 scan: -o %s: %s\n", outfile, strerror(errno));
		status = EXIT_RUNTIME;
	}
	scan_collect_clear(&col);
	shard_free(sh);
	targets_free(ts);
	free(ls);
	free(excludes);
	return status;
}
