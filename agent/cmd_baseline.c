/* cmd_baseline: `watch53 baseline show|accept|reset|silence [-c FILE]` — look at, acknowledge or
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
	{ "for", required_argument, NULL, 'F' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void
cmd_baseline_help(FILE *f)
{
	fprintf(f,
"usage: watch53 baseline show   [-c FILE] [--format table|json]\n"
"       watch53 baseline accept [-c FILE] [ADDRESS...]\n"
"       watch53 baseline reset  [-c FILE]\n"
"       watch53 baseline silence [-c FILE] ADDRESS[/tcp|/udp] --for DUR\n"
"\n"
"show    the baseline per address and protocol: accepted state, reported state,\n"
"        last observation, streaks, flapping, first seen and last change\n"
"accept  adopt the current state as the accepted one (all addresses, or only those\n"
"        given): acknowledges an intended exposure so it no longer counts as one\n"
"reset   set the state aside (state.db.reset-<time>); the next cycle records a\n"
"        new baseline without alerts (also the way out after a corrupt state)\n"
"silence a maintenance window: for DUR (at most 30d; 0s ends one) the events of\n"
"        ADDRESS (one protocol, or both) are recorded but not sent; show lists\n"
"        the silences in force, and a cycle says once when one has ended\n"
"\n"
"-c FILE  the JSON config (default " CLI_DEFAULT_CONFIG ")\n");
}

static const char *
open_word(bool open)
{
	return open ? "open" : "closed";
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
		util_fmt_utc(p->last_change ? p->last_change : p->first_seen, since, sizeof(since));
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

/* The silences in force (an ended one is dropped by the next cycle), a line each or in
 * the JSON document after the entries. */
struct show_silences {
	enum output_format fmt;
	size_t n;
};

static int
show_silence(void *arg, const struct state_silence *s)
{
	struct show_silences *ss = arg;
	char addr[NETADDR_STRLEN], until[32];

	if (s->until_ns <= util_wall_ns())
		return 0;
	if (ss->fmt == OUTPUT_JSON)
		return state_json_silence(s, ss->n++ == 0, stdout);
	ss->n++;
	net_addr_str(&s->addr, addr, sizeof(addr));
	util_fmt_utc(s->until_ns, until, sizeof(until));
	printf("silenced: %s%s%s until %s (events recorded, not sent)\n", addr,
	       s->protocol[0] ? "/" : "", s->protocol, until);
	return 0;
}

/* `silence ADDRESS[/PROTO] --for DUR`: a maintenance window, one transaction. */
static int
do_silence(const struct config *cfg, char **args, int nargs, const char *dur)
{
	struct state_silence s = { .set_ns = util_wall_ns() };
	struct state_pass *pass = NULL;
	struct state head;
	char text[NETADDR_STRLEN + 8], err[1024], until[32], *slash;
	uint64_t for_ns = 0;
	int status = EXIT_USAGE;

	if (nargs != 1 || dur == NULL) {
		fprintf(stderr, "watch53 baseline silence: expected ADDRESS[/tcp|/udp] and --for DUR\n");
		return EXIT_USAGE;
	}
	snprintf(text, sizeof(text), "%s", args[0]);
	if ((slash = strchr(text, '/')) != NULL) {
		*slash++ = '\0';
		if (strcmp(slash, "tcp") != 0 && strcmp(slash, "udp") != 0) {
			fprintf(stderr, "watch53 baseline silence: '%s': the protocol is tcp or udp\n",
				args[0]);
			return EXIT_USAGE;
		}
		snprintf(s.protocol, sizeof(s.protocol), "%s", slash);
	}
	if (net_addr_parse(text, &s.addr) < 0) {
		fprintf(stderr, "watch53 baseline silence: '%s' is not an IP address\n", text);
		return EXIT_USAGE;
	}
	if (util_parse_duration_max(dur, 30ull * 86400 * NS_PER_SEC, &for_ns) < 0) {
		fprintf(stderr, "watch53 baseline silence: --for: '%s' is not a duration of at "
			"most 30d (e.g. 2h, 1h30m)\n", dur);
		return EXIT_USAGE;
	}
	s.until_ns = s.set_ns + for_ns;
	status = EXIT_RUNTIME;
	state_init(&head);
	if (state_pass_open(cfg->state_dir, &head, &pass, err, sizeof(err)) < 0 ||
	    state_pass_begin(pass, err, sizeof(err)) < 0 ||
	    state_pass_silence_put(pass, &s, for_ns == 0, err, sizeof(err)) < 0 ||
	    state_pass_commit(pass, &head, cfg->history_retention_ns, err, sizeof(err)) < 0) {
		fprintf(stderr, "watch53 baseline silence: %s\n", err);
		goto out;
	}
	util_fmt_utc(s.until_ns, until, sizeof(until));
	if (for_ns == 0)
		printf("%s: silence ended\n", args[0]);
	else
		printf("%s: silenced until %s (events recorded, not sent)\n", args[0], until);
	status = EXIT_CLEAN;
out:
	state_pass_free(pass);
	state_clear(&head);
	return status;
}

static int
do_show(const struct config *cfg, enum output_format fmt)
{
	struct state head;
	struct show sh = { fmt, 0, false, &head };
	struct show_silences ss = { fmt, 0 };
	char err[1024] = "";
	int rc;

	state_init(&head);
	rc = state_each(cfg->state_dir, &head, show_entry, &sh, err, sizeof(err));
	if (rc == 0)
		rc = show_entry(&sh, NULL); /* the head of a state without entries */
	if (rc == 0 && fmt == OUTPUT_JSON)
		rc = state_json_silences_begin(sh.n, stdout);
	else if (rc == 0)
		printf("%llu cycles, %zu addresses\n", (unsigned long long)head.cycles, sh.n);
	if (rc == 0)
		rc = state_silences(cfg->state_dir, show_silence, &ss, err, sizeof(err));
	if (rc == 0 && fmt == OUTPUT_JSON)
		rc = state_json_silences_end(ss.n, stdout);
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

/* `accept`, one entry: each port whose report differs from its baseline is acknowledged,
 * said on stdout and recorded in the history (it ends an exposure there). */
struct accept_ctx {
	const struct config *cfg;
	struct state_pass *pass;
	size_t accepted;
	char err[512];
};

static int
accept_entry(void *arg, const void *obs, size_t len, struct bl_entry *e, bool created)
{
	struct accept_ctx *ax = arg;
	char addr[NETADDR_STRLEN];
	int rc;

	(void)obs;
	(void)len;
	(void)created;
	net_addr_str(&e->addr, addr, sizeof(addr));
	for (int s = 0; s < PROBE_NSLOTS; s++) {
		struct state_hist h;

		if (!e->port[s].known || e->port[s].baseline_open == e->port[s].reported_open)
			continue;
		printf("accepted: %s %s %s\n", addr, probe_slot_name((enum probe_slot)s),
		       open_word(e->port[s].reported_open));
		memset(&h, 0, sizeof(h));
		h.time_ns = util_wall_ns();
		snprintf(h.type, sizeof(h.type), "%s", HISTORY_ACCEPTED);
		snprintf(h.severity, sizeof(h.severity), "%s", alert_severity_name(SEV_INFO));
		snprintf(h.address, sizeof(h.address), "%s", addr);
		snprintf(h.protocol, sizeof(h.protocol), "%s", probe_slot_name((enum probe_slot)s));
		h.port = ax->cfg->probe.port;
		snprintf(h.summary, sizeof(h.summary), "%s/%u accepted into the baseline as %s",
			 h.protocol, ax->cfg->probe.port, open_word(e->port[s].reported_open));
		snprintf(h.source, sizeof(h.source), "%s", HISTORY_SOURCE_CLI);
		if ((rc = state_pass_event(ax->pass, &h, NULL, 0, NULL, 0, ax->err,
					   sizeof(ax->err))) < 0)
			return rc;
		ax->accepted++;
	}
	/* also clears the flapping record of a port that needs no acknowledging; the row is
	 * written only if its bytes change */
	baseline_accept(e);
	return 0;
}

/* `accept [ADDRESS...]`: the given addresses, or every one, a row at a time (a pass): what
 * is reported becomes the baseline, one transaction. */
static int
do_accept(const struct config *cfg, char **addrs, int naddrs)
{
	struct accept_ctx ax = { .cfg = cfg };
	struct state head;
	char err[1024];
	int rc, status = EXIT_RUNTIME;

	state_init(&head);
	if (state_pass_open(cfg->state_dir, &head, &ax.pass, err, sizeof(err)) < 0) {
		fprintf(stderr, "watch53 baseline: %s\n", err);
		goto out;
	}
	for (int i = 0; i < naddrs; i++) {
		struct net_addr a;
		struct bl_entry e;
		bool found = false;

		if (net_addr_parse(addrs[i], &a) == 0 &&
		    state_pass_get(ax.pass, &a, &e, &found, err, sizeof(err)) < 0) {
			fprintf(stderr, "watch53 baseline accept: %s\n", err);
			goto out;
		}
		if (!found) {
			fprintf(stderr, "watch53 baseline accept: '%s' is not an address in the "
				"baseline\n", addrs[i]);
			status = EXIT_USAGE;
			goto out;
		}
	}
	if (state_pass_begin(ax.pass, err, sizeof(err)) < 0)
		goto fail;
	if (naddrs == 0) {
		rc = state_pass_each(ax.pass, accept_entry, &ax, err, sizeof(err));
	} else {
		rc = 0;
		for (int i = 0; i < naddrs && rc == 0; i++) {
			struct net_addr a;
			struct bl_entry e;
			bool found;

			(void)net_addr_parse(addrs[i], &a);
			if ((rc = state_pass_get(ax.pass, &a, &e, &found, err, sizeof(err))) < 0)
				break;
			/* the same address given twice is accepted once: the second finds
			 * nothing to acknowledge */
			if ((rc = accept_entry(&ax, NULL, 0, &e, false)) == 0)
				rc = state_pass_put(ax.pass, &e, err, sizeof(err));
		}
	}
	if (rc < 0 && ax.err[0] != '\0')
		snprintf(err, sizeof(err), "%s", ax.err);
	if (rc < 0 || state_pass_commit(ax.pass, &head, cfg->history_retention_ns, err,
					sizeof(err)) < 0)
		goto fail;
	printf("%zu port%s accepted into the baseline\n", ax.accepted,
	       ax.accepted == 1 ? "" : "s");
	status = EXIT_CLEAN;
	goto out;
fail:
	fprintf(stderr, "watch53 baseline accept: %s\n", err);
out:
	state_pass_free(ax.pass);
	state_clear(&head);
	return status;
}

/* What the options and the rest of the command line give a verb. */
struct verb_args {
	enum output_format fmt;
	char **argv; /* the operands after the verb */
	int argc;
	const char *for_dur;
};

static int
verb_show(const struct config *c, const struct verb_args *a)
{
	return do_show(c, a->fmt);
}

static int
verb_reset(const struct config *c, const struct verb_args *a)
{
	(void)a;
	return do_reset(c);
}

static int
verb_accept(const struct config *c, const struct verb_args *a)
{
	return do_accept(c, a->argv, a->argc);
}

static int
verb_silence(const struct config *c, const struct verb_args *a)
{
	return do_silence(c, a->argv, a->argc, a->for_dur);
}

/* The verbs: which take operands, which take --for, and what runs them. */
static const struct baseline_verb {
	const char *name;
	bool operands;
	bool needs_for;
	int (*run)(const struct config *c, const struct verb_args *a);
} baseline_verbs[] = {
	{ "show", false, false, verb_show },
	{ "accept", true, false, verb_accept },
	{ "reset", false, false, verb_reset },
	{ "silence", true, true, verb_silence },
};

int
cmd_baseline(int argc, char **argv)
{
	const struct baseline_verb *v = NULL;
	struct verb_args va = { .fmt = OUTPUT_TABLE };
	const char *path = NULL, *verb;
	struct config cfg;
	int ch, lockfd = -1, status;

	config_init(&cfg);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", baseline_longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'F': va.for_dur = optarg; break;
		case 'f':
			if (output_format_parse(optarg, &va.fmt) < 0 ||
			    (va.fmt != OUTPUT_TABLE && va.fmt != OUTPUT_JSON)) {
				fprintf(stderr, "watch53 baseline: --format: '%s' is not table or json\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			cmd_baseline_help(stdout);
			return EXIT_CLEAN;
		default:
			return cli_usage_error("baseline", NULL);
		}
	}
	if (optind >= argc) {
		return cli_usage_error("baseline", "show, accept, reset or silence?");
	}
	path = cli_config_path(path);
	verb = argv[optind++];
	for (size_t i = 0; i < sizeof(baseline_verbs) / sizeof(baseline_verbs[0]); i++)
		if (strcmp(verb, baseline_verbs[i].name) == 0)
			v = &baseline_verbs[i];
	if (v == NULL) {
		fprintf(stderr, "watch53 baseline: unknown action '%s' (show, accept, reset, "
			"silence)\n", verb);
		return EXIT_USAGE;
	}
	if ((va.for_dur != NULL) != v->needs_for) {
		fprintf(stderr, "watch53 baseline %s: --for goes with silence, and silence "
			"needs it\n", verb);
		return EXIT_USAGE;
	}
	if (!v->operands && optind < argc) {
		fprintf(stderr, "watch53 baseline %s: unexpected argument '%s'\n", verb, argv[optind]);
		return EXIT_USAGE;
	}
	va.argv = argv + optind;
	va.argc = argc - optind;
	status = cli_state_begin("baseline", path, STATE_LOCK_STATE, &cfg, &lockfd);
	if (status != 0)
		return status;
	status = v->run(&cfg, &va);
	if (lockfd >= 0)
		state_unlock(lockfd);
	config_clear(&cfg);
	return status;
}
