/*
 * daemon: `watch53 run`, the long-running monitor. One event loop (poll over a signalfd, a
 * timerfd and an eventfd) in the main thread decides; two threads do the slow work:
 *  - the cycle thread runs check_cycle_opts() — the same cycle, decisions and state files
 *    as `watch53 check` — for one schedule group at a time (see scheduler.h);
 *  - the delivery thread runs outbox_deliver() after every cycle that raised events and
 *    whenever the oldest waiting event is due again, so a slow or dead webhook never delays
 *    a probe and a long scan never delays a retry.
 * The loop itself never blocks on either: it keeps answering signals and feeding systemd's
 * watchdog while a cycle or a delivery runs.
 *
 * Process: the state_dir lock is taken at start and held for life (a second daemon or a
 * `check` on the same state_dir gets 75); --daemon forks away with a pid file; systemd's
 * Type=notify gets READY=1, RELOADING=1, STOPPING=1, STATUS= and WATCHDOG=1; after every
 * privileged resource is open the process drops to --user and gives up every capability.
 * Signals: SIGHUP reloads (a config that does not load is logged and ignored), SIGUSR1
 * starts a cycle now, SIGTERM/SIGINT stop within 5 s (a cycle in progress is abandoned and
 * saves nothing; the state on disk is the last complete cycle's, the outbox keeps every
 * event not yet accepted).
 */
#ifndef WATCH53_DAEMON_H
#define WATCH53_DAEMON_H

#include <stdbool.h>

struct daemon_opts {
	const char *config_path;
	bool detach;          /* --daemon */
	const char *pidfile;  /* NULL: none (the default with --daemon is filled in by run) */
	const char *user;     /* --user NAME, or NULL */
	int verbose;          /* -v count: raises log.level */
};

/* Run until SIGTERM or SIGINT. Returns the exit code (cli.h): 0 after a clean stop,
 * EXIT_USAGE for a bad config or option, EXIT_LOCKED when another instance holds the pid
 * file or the state_dir lock, EXIT_RUNTIME when it cannot start. */
int daemon_run(const struct daemon_opts *o);

#endif
