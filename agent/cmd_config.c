/* cmd_config: "watch53 config check [-c FILE]": validate a config, print it back redacted. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cli.h"
#include "agent/config.h"
#include "agent/process.h"
#include "agent/targets.h"

void
cmd_config_help(FILE *f)
{
	fprintf(f, "usage: watch53 config check [-c FILE]\n\n"
		   "Validate FILE completely (types, ranges, durations, target syntax, alert sinks\n"
		   "and their secrets) without probing or resolving anything, and print the\n"
		   "effective config as JSON with every default filled in and secrets redacted.\n"
		   "Warns on stderr when the targets cannot be scanned within the shortest\n"
		   "interval at probe.rate, for each pair of targets that share addresses\n"
		   "(each address is probed once, as part of the more specific target), and,\n"
		   "run as root, for a secret file the service's user cannot read; and when\n"
		   "metrics_file's directory is missing or that user cannot create files there.\n\n"
		   "Options:\n"
		   "  -c, --config FILE   the config file to check (default " CLI_DEFAULT_CONFIG ")\n"
		   "  -h, --help          this help\n\n"
		   "Exit status: 0 valid; 2 invalid, unreadable or bad usage (one line on stderr\n"
		   "naming the file and the field).\n");
}

/* config check resolves nothing: a name counts as one address here */
static int
resolve_none(const char *name, struct net_addr *out, size_t max, size_t *count, char *err,
	     size_t errlen)
{
	(void)name;
	(void)out;
	(void)max;
	*count = 0;
	snprintf(err, errlen, "not resolved by config check");
	return -ENOENT;
}

/* The config's targets as a cycle streams them (nothing resolved: a name counts as one
 * address, and cannot be seen inside a prefix here), and which config target each entry
 * of the set came from. */
struct cfg_targets {
	struct target_set *ts;
	size_t *cfg_of;   /* per entry */
	uint64_t names;   /* unresolved names: one address each */
};

static void
cfg_targets_clear(struct cfg_targets *ct)
{
	targets_free(ct->ts);
	free(ct->cfg_of);
}

static int
cfg_targets_build(const struct config *cfg, struct cfg_targets *ct)
{
	char msg[512];

	memset(ct, 0, sizeof(*ct));
	if ((ct->ts = targets_new()) == NULL)
		return -ENOMEM;
	targets_set_resolver(ct->ts, resolve_none);
	targets_set_max_hosts(ct->ts, 0);
	for (size_t i = 0; i < cfg->ntargets; i++) {
		size_t before = targets_count(ct->ts), *n;

		if (targets_add(ct->ts, cfg->targets[i].target, NULL, msg, sizeof(msg)) == -ENOENT)
			ct->names++;
		n = realloc(ct->cfg_of, (targets_count(ct->ts) + 1) * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		ct->cfg_of = n;
		for (size_t e = before; e < targets_count(ct->ts); e++)
			ct->cfg_of[e] = i;
	}
	for (size_t i = 0; i < cfg->nexclude; i++)
		(void)targets_exclude(ct->ts, cfg->exclude[i], msg, sizeof(msg));
	return targets_finish(ct->ts, msg, sizeof(msg));
}

/* Overlapping config targets, summed per pair of them (a prefix and the hosts a @FILE lists
 * inside it are one pair). */
#define OVERLAP_SHOWN 20
struct overlap_pairs {
	const struct cfg_targets *ct;
	struct { size_t winner, loser; uint64_t n; } *v;
	size_t n, cap;
};

static int
add_overlap(void *arg, size_t winner, size_t loser, uint64_t n)
{
	struct overlap_pairs *op = arg;
	size_t w = op->ct->cfg_of[winner], l = op->ct->cfg_of[loser];

	if (w == l)
		return 0; /* a name's addresses, or a file's lines: one target */
	for (size_t i = 0; i < op->n; i++)
		if (op->v[i].winner == w && op->v[i].loser == l) {
			op->v[i].n = op->v[i].n > UINT64_MAX - n ? UINT64_MAX : op->v[i].n + n;
			return 0;
		}
	if (op->n == op->cap) {
		size_t ncap = op->cap ? op->cap * 2 : 16;
		void *nv = realloc(op->v, ncap * sizeof(*op->v));
		if (nv == NULL)
			return -ENOMEM;
		op->v = nv;
		op->cap = ncap;
	}
	op->v[op->n].winner = w;
	op->v[op->n].loser = l;
	op->v[op->n++].n = n;
	return 0;
}

/* "targets[3] "127.53.0.5" ("primary dns")" */
static const char *
target_words(const struct config *cfg, size_t i, char *buf, size_t len)
{
	const struct config_target *t = &cfg->targets[i];

	snprintf(buf, len, "targets[%zu] \"%s\"%s%s%s", i, t->target, t->name ? " (\"" : "",
		 t->name ? t->name : "", t->name ? "\")" : "");
	return buf;
}

/* One warning per pair of config targets that share addresses: which one's settings
 * (name, expectation, zones) those addresses take. */
static void
warn_overlaps(const struct config *cfg, const struct cfg_targets *ct)
{
	struct overlap_pairs op = { ct, NULL, 0, 0 };
	char w[600], l[600];

	if (targets_overlaps(ct->ts, add_overlap, &op) < 0) {
		free(op.v);
		return;
	}
	for (size_t i = 0; i < op.n && i < OVERLAP_SHOWN; i++)
		fprintf(stderr, "watch53 config: warning: %s and %s share %llu address%s: each is "
			"probed once, as part of %s, the more specific (its name and "
			"expectation apply)\n", target_words(cfg, op.v[i].loser, l, sizeof(l)),
			target_words(cfg, op.v[i].winner, w, sizeof(w)),
			(unsigned long long)op.v[i].n, op.v[i].n == 1 ? "" : "es",
			target_words(cfg, op.v[i].winner, w, sizeof(w)));
	if (op.n > OVERLAP_SHOWN)
		fprintf(stderr, "watch53 config: warning: and %zu more pairs of targets share "
			"addresses\n", op.n - OVERLAP_SHOWN);
	free(op.v);
}

/* A secret file the service's user cannot read: the service exits 2 at its start (and the
 * unit does not restart it) although `config check` as root passed. Who runs the service:
 * the config's "user", else the owner of state_dir (the package's is watch53's). */
static void
warn_secret_owner(const char *what, size_t i, const char *file, const struct process_user *u)
{
	struct stat sb;

	if (file == NULL || stat(file, &sb) == -1 || sb.st_uid == u->uid)
		return;
	/* the loader refuses group- and world-readable secrets: only the owner reads it */
	fprintf(stderr, "watch53 config: warning: alerts[%zu].%s %s belongs to another user "
		"than %s, who runs the service and cannot read it (chown %s: %s)\n", i, what,
		file, u->name, u->name, file);
}

/* Who runs the service, as seen by root: the config's "user", else the owner of state_dir
 * (the package's is watch53's). 1 with *u, 0 when it is us (not root, or a root-owned or
 * missing state_dir). */
static int
service_user(const struct config *cfg, struct process_user *u)
{
	char err[256];

	if (geteuid() != 0)
		return 0;
	if (cfg->user != NULL)
		return process_user_lookup(cfg->user, u, err, sizeof(err)) == 0;
	return process_dir_owner(cfg->state_dir, u, err, sizeof(err)) == 1;
}

static void
warn_secret_owners(const struct config *cfg, const struct process_user *u)
{
	for (size_t i = 0; i < cfg->nsinks; i++) {
		warn_secret_owner("url_file", i, cfg->sinks[i].url_file, u);
		warn_secret_owner("secret_file", i, cfg->sinks[i].secret_file, u);
		warn_secret_owner("token_file", i, cfg->sinks[i].token_file, u);
	}
}

/* Can u (NULL: we) create files in dir? Asked of the kernel as that user, in a child, so
 * ACLs (the README's setfacl) count as they will for the service. */
static bool
can_create_in(const char *dir, const struct process_user *u)
{
	pid_t pid;
	int st;

	if (u == NULL)
		return access(dir, W_OK | X_OK) == 0;
	pid = fork();
	if (pid == 0) {
		if (setgroups(1, &u->gid) == -1 || setgid(u->gid) == -1 || setuid(u->uid) == -1)
			_exit(2);
		_exit(access(dir, W_OK | X_OK) == 0 ? 0 : 1);
	}
	if (pid == -1 || waitpid(pid, &st, 0) != pid)
		return true; /* cannot tell: no warning rather than a false one */
	return !WIFEXITED(st) || WEXITSTATUS(st) != 1;
}

/* Each cycle replaces metrics_file by a temp file renamed in its directory, which watch53
 * does not make (it is node_exporter's): a missing or read-only one is a warning every
 * cycle, which cron mails. Say so once, here. */
static void
warn_metrics_dir(const struct config *cfg, const struct process_user *u)
{
	const char *f = cfg->metrics_file, *slash;
	char dir[4096];
	struct stat sb;

	if (f == NULL)
		return;
	slash = strrchr(f, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == f ? 1 : (int)(slash - f), f);
	if (stat(dir, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "watch53 config: warning: metrics_file %s: its directory %s does "
			"not exist, and watch53 makes none (node_exporter's textfile directory: "
			"Debian's prometheus-node-exporter makes /var/lib/prometheus/node-exporter)\n",
			f, dir);
		return;
	}
	if (!can_create_in(dir, u))
		fprintf(stderr, "watch53 config: warning: metrics_file %s: %s cannot create files "
			"in %s (setfacl -m u:%s:rwx %s, from the acl package)\n", f,
			u != NULL ? u->name : "this user", dir, u != NULL ? u->name : "USER", dir);
}

int
cmd_config(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config cfg;
	struct cfg_targets ct;
	struct process_user user;
	const char *file = NULL, *sub = NULL;
	char err[1024];
	int ch, rc, status;
	bool have_user;

	config_init(&cfg);
	/* 0, not 1: glibc re-reads the ordering flag ("-" below) only on a full reset */
	optind = 0;
	opterr = 0; /* our messages, not getopt's "config: invalid option" */
	/* "-" first: operands come back in place as ch 1, so options may sit before or after
	 * "check" whether or not getopt would permute (POSIXLY_CORRECT) */
	while ((ch = getopt_long(argc, argv, "-:c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 1:
			if (sub != NULL)
				return cli_usage_error("config", "unexpected argument '%s'", optarg);
			sub = optarg;
			break;
		case 'c':
			file = optarg;
			break;
		case 'h':
			cmd_config_help(stdout);
			return EXIT_CLEAN;
		case ':':
			return cli_usage_error("config", "%s needs a FILE argument", argv[optind - 1]);
		default:
			if (optopt != 0)
				return cli_usage_error("config", "unknown option '-%c'", optopt);
			return cli_usage_error("config", "unknown option '%s'", argv[optind - 1]);
		}
	}
	/* whatever follows "--" */
	if (optind < argc) {
		if (sub != NULL)
			return cli_usage_error("config", "unexpected argument '%s'", argv[optind]);
		sub = argv[optind++];
		if (optind < argc)
			return cli_usage_error("config", "unexpected argument '%s'", argv[optind]);
	}
	if (sub == NULL)
		return cli_usage_error("config", "missing subcommand: check");
	if (strcmp(sub, "check") != 0)
		return cli_usage_error("config", "unknown subcommand '%s' (expected: check)", sub);
	file = cli_config_path(file);

	rc = config_load(file, &cfg, err, sizeof(err));
	if (rc < 0) {
		/* invalid and unreadable alike: a config error, exit 2 */
		fprintf(stderr, "watch53 config: %s\n", err);
		return EXIT_USAGE;
	}
	status = EXIT_CLEAN;
	have_user = service_user(&cfg, &user) == 1;
	if (have_user)
		warn_secret_owners(&cfg, &user);
	warn_metrics_dir(&cfg, have_user ? &user : NULL);
	if (cfg_targets_build(&cfg, &ct) == 0) {
		warn_overlaps(&cfg, &ct);
		/* valid, but a cycle that cannot finish within its interval never keeps up */
		if (config_rate_warning(&cfg, ct.names + targets_total(ct.ts), err,
					sizeof(err)) > 0)
			fprintf(stderr, "watch53 config: warning: %s\n", err);
	}
	cfg_targets_clear(&ct);
	rc = config_print(stdout, &cfg);
	if (rc < 0) {
		fprintf(stderr, "watch53 config: writing the config: %s\n", strerror(-rc));
		status = EXIT_RUNTIME;
	}
	config_clear(&cfg);
	return status;
}
