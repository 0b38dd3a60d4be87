/* cmd_config: "watch53 config check [-c FILE]": validate a config, print it back redacted. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli.h"
#include "agent/config.h"
#include "agent/targets.h"

void
cmd_config_help(FILE *f)
{
	fprintf(f, "usage: watch53 config check [-c FILE]\n\n"
		   "Validate FILE completely (types, ranges, durations, target syntax, alert sinks\n"
		   "and their secrets) without probing or resolving anything, and print the\n"
		   "effective config as JSON with every default filled in and secrets redacted.\n"
		   "Warns on stderr when the targets cannot be scanned within the shortest\n"
		   "interval at probe.rate.\n\n"
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

/* How many addresses a cycle probes (exclusions applied; names count one each). */
static uint64_t
count_addresses(const struct config *cfg)
{
	struct target_set *ts = targets_new();
	uint64_t n = 0;
	char msg[512];

	if (ts == NULL)
		return 0;
	targets_set_resolver(ts, resolve_none);
	targets_set_max_hosts(ts, 0);
	for (size_t i = 0; i < cfg->ntargets; i++)
		if (targets_add(ts, cfg->targets[i].target, NULL, msg, sizeof(msg)) == -ENOENT)
			n++;
	for (size_t i = 0; i < cfg->nexclude; i++)
		(void)targets_exclude(ts, cfg->exclude[i], msg, sizeof(msg));
	n += targets_total(ts);
	targets_free(ts);
	return n;
}

static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "watch53 config: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'watch53 config --help'.\n");
	return EXIT_USAGE;
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
	const char *file = NULL, *sub = NULL;
	char err[1024];
	int ch, rc, status;

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
				return usage_error("unexpected argument '%s'", optarg);
			sub = optarg;
			break;
		case 'c':
			file = optarg;
			break;
		case 'h':
			cmd_config_help(stdout);
			return EXIT_CLEAN;
		case ':':
			return usage_error("%s needs a FILE argument", argv[optind - 1]);
		default:
			if (optopt != 0)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	/* whatever follows "--" */
	if (optind < argc) {
		if (sub != NULL)
			return usage_error("unexpected argument '%s'", argv[optind]);
		sub = argv[optind++];
		if (optind < argc)
			return usage_error("unexpected argument '%s'", argv[optind]);
	}
	if (sub == NULL)
		return usage_error("missing subcommand: check");
	if (strcmp(sub, "check") != 0)
		return usage_error("unknown subcommand '%s' (expected: check)", sub);
	file = cli_config_path(file);

	rc = config_load(file, &cfg, err, sizeof(err));
	if (rc < 0) {
		/* invalid and unreadable alike: a config error, exit 2 */
		fprintf(stderr, "watch53 config: %s\n", err);
		return EXIT_USAGE;
	}
	status = EXIT_CLEAN;
	/* valid, but a cycle that cannot finish within its interval never keeps up */
	if (config_rate_warning(&cfg, count_addresses(&cfg), err, sizeof(err)) > 0)
		fprintf(stderr, "watch53 config: warning: %s\n", err);
	rc = config_print(stdout, &cfg);
	if (rc < 0) {
		fprintf(stderr, "watch53 config: writing the config: %s\n", strerror(-rc));
		status = EXIT_RUNTIME;
	}
	config_clear(&cfg);
	return status;
}
