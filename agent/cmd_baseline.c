/* cmd_baseline: `watch53 baseline show|accept|reset -c FILE` — look at, acknowledge or
 * restart the recorded baseline. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/baseline.h"
#include "agent/check.h"
#include "agent/cli.h"
#include "agent/config.h"
#include "agent/history.h"
#include "agent/output.h"
#include "agent/state.h"
#include "common/util.h"

static const struct option baseline_longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "format", required_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void
cmd_baseline_help(FILE *f)
{
	fprintf(f,
"usage: watch53 baseline show   -c FILE [--format table|json]\n"
"       watch53 baseline accept -c FILE [ADDRESS...]\n"
"       watch53 baseline reset  -c FILE\n"
"\n"
"show    the baseline per address and protocol: accepted state, reported state,\n"
"        last observation, streaks, flapping, first seen and last change\n"
"accept  adopt the current state as the accepted one (all addresses, or only those\n"
"        given): acknowledges an intended exposure so it no longer counts as one\n"
"reset   set the state aside (state.db.reset-<time>); the next cycle records a\n"
"        new baseline without alerts (also the way out after a corrupt state)\n");
}

static const char *
open_word(bool open)
{
	return open ? "open" : "closed";
}

static void
fmt_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (ns == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* `show`, a row at a time (state_each): memory stays that of one address. */
struct show {
	enum output_format fmt;
	size_t n;
	bool begun;
	const struct state *head;
};

static int
show_entry(void *arg, const struct bl_entry *e)
{
	struct show *sh = arg;
	char addr[NETADDR_STRLEN], since[32], last[40];

	/* the head is known once the reading began: it comes first */
	if (!sh->begun) {
		sh->begun = true;
		if (sh->fmt == OUTPUT_JSON) {
			int rc = state_json_begin(sh->head, stdout);
			if (rc < 0)
				return rc;
		} else {
			printf("%-39s %-5s %-8s %-8s %-20s %-6s %-20s %s\n", "ADDRESS", "PROTO",
			       "BASELINE", "CURRENT", "LAST", "EXPECT", "SINCE", "TARGET");
		}
	}
	if (e == NULL)
		return 0;
	if (sh->fmt == OUTPUT_JSON)
		return state_json_entry(e, sh->n++ == 0, stdout);
	sh->n++;
	net_addr_str(&e->addr, addr, sizeof(addr));
	for (int s = 0; s < PROBE_NSLOTS; s++) {
		const struct bl_port *p = &e->port[s];
		if (!p->known)
			continue;
		fmt_time(p->last_change ? p->last_change : p->first_seen, since, sizeof(since));
		snprintf(last, sizeof(last), "%s %s", probe_state_name(p->last),
			 probe_reason_name(p->last_reason));
		printf("%-39s %-5s %-8s %-8s %-20s %-6s %-20s %s%s%s\n", addr,
		       probe_slot_name((enum probe_slot)s), open_word(p->baseline_open),
		       open_word(p->reported_open), last,
		       e->expect_open[s] ? "open" : "closed", since, e->target ? e->target : "",
		       p->flapping ? " [flapping]" : "",
		       baseline_unacknowledged(e, (enum probe_slot)s) ? " [unacknowledged]" : "");
	}
	return ferror(stdout) ? -EIO : 0;
}

static int
do_show(const struct config *cfg, enum output_format fmt)
{
	struct state head;
	struct show sh = { fmt, 0, false, &head };
	char err[1024] = "";
	int rc;

	state_init(&head);
	rc = state_each(cfg->state_dir, &head, show_entry, &sh, err, sizeof(err));
	if (rc == 0)
		rc = show_entry(&sh, NULL); /* the head of a state without entries */
	if (rc == 0 && fmt == OUTPUT_JSON)
		rc = state_json_end(sh.n, stdout);
	else if (rc == 0)
		printf("%llu cycles, %zu addresses\n", (unsigned long long)head.cycles, sh.n);
	state_clear(&head);
	if (rc == 0 && fflush(stdout) != 0)
		rc = -errno;
	if (rc < 0) {
		fprintf(stderr, "watch53 baseline show: %s\n", err[0] ? err : strerror(-rc));
		return EXIT_RUNTIME;
	}
	return EXIT_CLEAN;
}

/* Set the old state aside (renamed, never deleted) and write an empty one: the next cycle
 * records a new baseline. The empty database (rather than none) also tells state_load
 * that a corrupt state set aside earlier has been dealt with, and that a legacy
 * state.json set aside with it is not to be imported. */
static int
do_reset(const struct config *cfg)
{
	char to[PATH_MAX + 64], err[1024];
	struct state empty;
	size_t moved;

	/* events committed with the old state go out with it, not into the set-aside file */
	if (check_spool_move(cfg, &moved, err, sizeof(err)) < 0)
		fprintf(stderr, "watch53 baseline reset: warning: %s; they stay in the state "
			"set aside\n", err);
	if (state_set_aside(cfg->state_dir, "reset", to, sizeof(to), err, sizeof(err)) < 0) {
		fprintf(stderr, "watch53 baseline reset: %s\n", err);
		return EXIT_RUNTIME;
	}
	state_init(&empty);
	if (state_save(cfg->state_dir, &empty, err, sizeof(err)) < 0) {
		fprintf(stderr, "watch53 baseline reset: %s\n", err);
		return EXIT_RUNTIME;
	}
	if (to[0] != '\0')
		printf("baseline set aside as %s; ", to);
	printf("the next cycle records a new baseline without alerts\n");
	return EXIT_CLEAN;
}

int
cmd_baseline(int argc, char **argv)
{
	const char *path = NULL, *verb;
	enum output_format fmt = OUTPUT_TABLE;
	struct config cfg;
	struct state st;
	struct state_hist *accepts = NULL;
	char err[1024];
	int ch, lockfd = -1, status = EXIT_RUNTIME;

	config_init(&cfg);
	state_init(&st);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", baseline_longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'f':
			if (output_format_parse(optarg, &fmt) < 0 ||
			    (fmt != OUTPUT_TABLE && fmt != OUTPUT_JSON)) {
				fprintf(stderr, "watch53 baseline: --format: '%s' is not table or json\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			cmd_baseline_help(stdout);
			return EXIT_CLEAN;
		default:
			fprintf(stderr, "Try 'watch53 baseline --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc || path == NULL) {
		fprintf(stderr, "watch53 baseline: %s\nTry 'watch53 baseline --help'.\n",
			path == NULL ? "-c FILE is required" : "show, accept or reset?");
		return EXIT_USAGE;
	}
	verb = argv[optind++];
	if (strcmp(verb, "show") != 0 && strcmp(verb, "accept") != 0 && strcmp(verb, "reset") != 0) {
		fprintf(stderr, "watch53 baseline: unknown action '%s' (show, accept, reset)\n", verb);
		return EXIT_USAGE;
	}
	if (strcmp(verb, "accept") != 0 && optind < argc) {
		fprintf(stderr, "watch53 baseline %s: unexpected argument '%s'\n", verb, argv[optind]);
		return EXIT_USAGE;
	}
	if (config_load(path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "watch53 baseline: %s\n", err);
		return EXIT_USAGE;
	}
	lockfd = state_lock(cfg.state_dir, err, sizeof(err));
	if (lockfd < 0) {
		fprintf(stderr, "watch53 baseline: %s\n", err);
		status = lockfd == -EWOULDBLOCK ? EXIT_LOCKED : EXIT_RUNTIME;
		goto out;
	}
	if (strcmp(verb, "reset") == 0) {
		status = do_reset(&cfg);
		goto out;
	}
	if (strcmp(verb, "show") == 0) {
		status = do_show(&cfg, fmt);
		goto out;
	}
	if (state_load(cfg.state_dir, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "watch53 baseline: %s\n", err);
		goto out;
	}
	/* accept */
	size_t accepted = 0;
	for (int i = optind; i < argc; i++) {
		struct net_addr a;
		if (net_addr_parse(argv[i], &a) < 0 || state_find(&st, &a) == NULL) {
			fprintf(stderr, "watch53 baseline accept: '%s' is not an address in the baseline\n",
				argv[i]);
			status = EXIT_USAGE;
			goto out;
		}
	}
	/* each port acknowledged is a row of the history too: it ends an exposure there */
	if ((accepts = calloc(st.n * PROBE_NSLOTS + 1, sizeof(*accepts))) == NULL) {
		fprintf(stderr, "watch53 baseline accept: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < st.n; i++) {
		struct bl_entry *e = &st.entries[i];
		bool pick = optind >= argc;
		for (int k = optind; k < argc && !pick; k++) {
			struct net_addr a;
			pick = net_addr_parse(argv[k], &a) == 0 && net_addr_cmp(&a, &e->addr) == 0;
		}
		if (!pick)
			continue;
		for (int s = 0; s < PROBE_NSLOTS; s++)
			if (e->port[s].known && e->port[s].baseline_open != e->port[s].reported_open) {
				char addr[NETADDR_STRLEN];
				struct state_hist *h = &accepts[accepted];
				printf("accepted: %s %s %s\n", net_addr_str(&e->addr, addr, sizeof(addr)),
				       probe_slot_name((enum probe_slot)s),
				       open_word(e->port[s].reported_open));
				h->time_ns = util_wall_ns();
				snprintf(h->type, sizeof(h->type), "%s", HISTORY_ACCEPTED);
				snprintf(h->severity, sizeof(h->severity), "%s",
					 alert_severity_name(SEV_INFO));
				snprintf(h->address, sizeof(h->address), "%s", addr);
				snprintf(h->protocol, sizeof(h->protocol), "%s",
					 probe_slot_name((enum probe_slot)s));
				h->port = cfg.probe.port;
				snprintf(h->summary, sizeof(h->summary), "%s/%u accepted into the "
					 "baseline as %s", h->protocol, cfg.probe.port,
					 open_word(e->port[s].reported_open));
				snprintf(h->source, sizeof(h->source), "%s", HISTORY_SOURCE_CLI);
				accepted++;
			}
		baseline_accept(e);
	}
	st.history_add = accepts;
	st.nhistory_add = accepted;
	st.history_retention_ns = cfg.history_retention_ns;
	if (state_save(cfg.state_dir, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "watch53 baseline accept: %s\n", err);
		goto out;
	}
	printf("%zu port%s accepted into the baseline\n", accepted, accepted == 1 ? "" : "s");
	status = EXIT_CLEAN;
out:
	if (lockfd >= 0)
		state_unlock(lockfd);
	st.history_add = NULL;
	free(accepts);
	state_clear(&st);
	config_clear(&cfg);
	return status;
}
