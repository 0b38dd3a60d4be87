/* cmd_run: `watch53 run [-c FILE]` — the options of the daemon (daemon.c runs it). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>

#include "agent/cli.h"
#include "agent/daemon.h"
#include "agent/process.h"

enum { OPT_DAEMON = 256, OPT_PIDFILE, OPT_USER };

static const struct option run_longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "daemon", no_argument, NULL, OPT_DAEMON },
	{ "pidfile", required_argument, NULL, OPT_PIDFILE },
	{ "user", required_argument, NULL, OPT_USER },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void
cmd_run_help(FILE *f)
{
	fprintf(f,
"usage: watch53 run [-c FILE] [--daemon] [--pidfile PATH] [--user NAME] [-v]\n"
"\n"
"The monitor as a long-running service: scan cycles every `interval` (per target\n"
"where a target sets its own; +-10%% jitter), alerts delivered between and during\n"
"cycles, the same decisions and state files as `watch53 check`. Runs in the\n"
"foreground (systemd Type=notify: READY, STATUS, STOPPING, WATCHDOG) and logs to\n"
"stderr (with <N> priority prefixes when stderr is the journal) or to syslog\n"
"(log.syslog). Holds the lock on state_dir while it runs.\n"
"\n"
"Options:\n"
"  -c, --config FILE      the JSON config (see watch53.json(5));\n"
"                         default " CLI_DEFAULT_CONFIG "\n"
"  --daemon               detach into the background (logs go to syslog) and\n"
"                         write a pid file\n"
"  --pidfile PATH         the pid file (default with --daemon: %s);\n"
"                         a locked pid file means another instance: exit 75\n"
"  --user NAME            after start-up, switch to this user and drop every\n"
"                         capability (state_dir must be writable by it)\n"
"  -v, --verbose          more diagnostics (repeat for debug)\n"
"  -h, --help             this help\n"
"\n"
"Signals: SIGHUP reloads the config (a bad one is logged and ignored), SIGUSR1\n"
"starts a cycle now, SIGTERM or SIGINT stop within 5 s (a cycle in progress is\n"
"abandoned and saves nothing; queued alerts stay in the outbox).\n"
"\n"
"Exit status: 0 stopped by a signal, 2 usage or config error, 3 cannot start,\n"
"75 another instance holds the pid file or the state_dir lock.\n",
		PROCESS_DEFAULT_PIDFILE);
}

int
cmd_run(int argc, char **argv)
{
	struct daemon_opts o = { 0 };
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:vh", run_longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o.config_path = optarg; break;
		case 'v': o.verbose++; break;
		case OPT_DAEMON: o.detach = true; break;
		case OPT_PIDFILE: o.pidfile = optarg; break;
		case OPT_USER: o.user = optarg; break;
		case 'h':
			cmd_run_help(stdout);
			return EXIT_CLEAN;
		default:
			return cli_usage_error("run", NULL);
		}
	}
	if (optind < argc) {
		return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
	}
	o.config_path = cli_config_path(o.config_path);
	if (o.pidfile && o.pidfile[0] == '\0') {
		fprintf(stderr, "watch53 run: --pidfile: empty path\n");
		return EXIT_USAGE;
	}
	if (o.user && o.user[0] == '\0') {
		fprintf(stderr, "watch53 run: --user: empty name\n");
		return EXIT_USAGE;
	}
	return daemon_run(&o);
}
