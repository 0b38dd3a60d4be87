/* cli: dispatch "watch53 COMMAND ..." through one table; global --help and --version. */
#include "agent/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "agent/process.h"
#include "agent/state.h"
#include "alerts/webhook.h"
#include "common/log.h"
#include "autoconfig.h"

const struct cli_command cli_commands[] = {
	{ "scan", "[options] [TARGET...]", "one-shot scan; prints results, writes no state",
	  cmd_scan, cmd_scan_help },
	{ "check", "[-c FILE] [options]", "one monitoring cycle (for cron): scan, compare, alert, save",
	  cmd_check, cmd_check_help },
	{ "run", "[-c FILE] [--daemon] [options]",
	  "the monitor as a service: scheduled cycles, alert delivery (systemd, --daemon)",
	  cmd_run, cmd_run_help },
	{ "baseline", "show|accept|reset|silence [-c FILE]",
	  "show, acknowledge or restart the baseline; silence an address for a while",
	  cmd_baseline, cmd_baseline_help },
	{ "history", "[-c FILE] [--since DUR] [--address A] [--format FMT]",
	  "the events kept over a period, per port, and how long each address was exposed",
	  cmd_history, cmd_history_help },
	{ "alerts", "test|list|flush [-c FILE]",
	  "send a test alert to every sink / list the outbox / deliver what is queued now",
	  cmd_alerts, cmd_alerts_help },
	{ "config", "check [-c FILE]", "validate the config, print it with defaults (secrets redacted)",
	  cmd_config, cmd_config_help },
	{ "diff", "[--format table|jsonl] OLD NEW",
	  "what changed between two saved scans (ndiff for `scan --format jsonl|json`)",
	  cmd_diff, cmd_diff_help },
	{ "sniff", "(-i IFACE | -r FILE.pcap) [-c FILE] [options]",
	  "passive detection: report every host seen answering DNS (live or from a capture)",
	  cmd_sniff, cmd_sniff_help },
	{ NULL, NULL, NULL, NULL, NULL },
};

void
cli_usage(FILE *f)
{
	fprintf(f, "usage: watch53 COMMAND [options]\n"
		   "       watch53 --help | --version | COMMAND --help\n\n"
		   "Port-53 exposure monitor: is DNS reachable where it must not be?\n\n"
		   "Commands:\n");
	for (const struct cli_command *c = cli_commands; c->name; c++)
		fprintf(f, "  %-9s %s\n            %s\n", c->name, c->usage, c->summary);
	fprintf(f, "\nWith no TARGET, 'watch53 scan' audits this host: it probes loopback only and\n"
		   "lists every socket bound to port 53. See watch53(1).\n");
}

int
cli_main(int argc, char **argv)
{
	log_init("watch53", LOG_LVL_WARN);
	/* libcurl's global state, once, before anything could start a thread */
	if (webhook_global_init() < 0) {
		fprintf(stderr, "watch53: cannot initialize libcurl\n");
		return EXIT_RUNTIME;
	}
	if (argc < 2) {
		cli_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			for (const struct cli_command *c = cli_commands; c->name; c++)
				if (strcmp(c->name, argv[2]) == 0) {
					c->help(stdout);
					return EXIT_CLEAN;
				}
		}
		cli_usage(stdout);
		return EXIT_CLEAN;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("watch53 %s\n", PACKAGE_VERSION);
		return EXIT_CLEAN;
	}
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (strcmp(c->name, argv[1]) == 0)
			return c->exec(argc - 1, argv + 1);
	fprintf(stderr, "watch53: unknown command '%s' (try 'watch53 --help')\n", argv[1]);
	return EXIT_USAGE;
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		fprintf(stderr, "watch53 %s: ", cmd);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fprintf(stderr, "Try 'watch53 %s --help'.\n", cmd);
	return EXIT_USAGE;
}

const char *
cli_config_path(const char *given)
{
	return given != NULL ? given : CLI_DEFAULT_CONFIG;
}

int
cli_act_as_owner(const char *state_dir, char *err, size_t errlen)
{
	struct process_user u;
	int rc = process_dir_owner(state_dir, &u, err, errlen);

	if (rc <= 0)
		return rc;
	log_info("acting as %s, the owner of %s", u.name, state_dir);
	return process_drop(&u, err, errlen);
}

int
cli_lock(const char *cmd, const char *state_dir, int kind, char *err, size_t errlen)
{
	int fd = state_lock_take(state_dir, (enum state_lock_kind)kind, 0, NULL, err, errlen);

	if (fd != -EWOULDBLOCK)
		return fd;
	fprintf(stderr, "watch53 %s: %s; waiting for it (at most %llu min)\n", cmd, err,
		CLI_LOCK_WAIT_NS / (60ull * 1000 * 1000 * 1000));
	return state_lock_take(state_dir, (enum state_lock_kind)kind, CLI_LOCK_WAIT_NS, NULL, err,
			       errlen);
}

int
cli_state_begin(const char *cmd, const char *path, int lock_kind, struct config *cfg,
		int *lockfd)
{
	char err[512];

	*lockfd = -1;
	if (config_load(path, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "watch53 %s: %s\n", cmd, err);
		config_clear(cfg);
		return EXIT_USAGE;
	}
	if (cli_act_as_owner(cfg->state_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "watch53 %s: %s\n", cmd, err);
		config_clear(cfg);
		return EXIT_RUNTIME;
	}
	if (lock_kind < 0)
		return 0;
	*lockfd = cli_lock(cmd, cfg->state_dir, lock_kind, err, sizeof(err));
	if (*lockfd < 0) {
		fprintf(stderr, "watch53 %s: %s\n", cmd, err);
		config_clear(cfg);
		return *lockfd == -EWOULDBLOCK ? EXIT_LOCKED : EXIT_RUNTIME;
	}
	return 0;
}
