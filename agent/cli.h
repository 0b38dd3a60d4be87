/* cli: the subcommand table (tmux cmd_table style) and the top-level usage. */
#ifndef WATCH53_CLI_H
#define WATCH53_CLI_H

#include <stdio.h>

/* Process exit codes of docs/CONTRACT.md. */
enum {
	EXIT_CLEAN = 0,     /* scan: no port open */
	EXIT_FOUND = 1,     /* scan: at least one port open */
	EXIT_USAGE = 2,
	EXIT_RUNTIME = 3,
	EXIT_LOCKED = 75,
};

/* The config the package installs: what -c means when it is not given. */
#define CLI_DEFAULT_CONFIG "/etc/watch53/watch53.json"

/* The config file to use: the one given with -c, or CLI_DEFAULT_CONFIG. */
const char *cli_config_path(const char *given);

/*
 * A command run as root on another user's state_dir (the packaged /var/lib/watch53 is
 * watch53's) acts as that user from here on (process_drop), so every file it writes there
 * stays the owner's: a root-owned state.db would lock the service out. Call once the
 * config is read and before state_dir is touched, with privileged handles (SYN mode's
 * sockets) already open. 0 (also when nothing changes), or -errno with err.
 */
int cli_act_as_owner(const char *state_dir, char *err, size_t errlen);

/*
 * A lock of state_dir (state.h: the state lock, or the send lock) for a command that may run
 * beside the service: a cycle holds the state lock while it runs, so the command waits for
 * it, up to CLI_LOCK_WAIT_NS, saying once on stderr what it waits for. An fd to keep, or
 * -EWOULDBLOCK (exit 75) / -errno with err.
 */
#define CLI_LOCK_WAIT_NS (120ull * 1000 * 1000 * 1000)
int cli_lock(const char *cmd, const char *state_dir, int kind, char *err, size_t errlen);

/* A usage error of command `cmd`: "watch53 CMD: MESSAGE" (fmt NULL: none, getopt has said
 * what was wrong), then "Try 'watch53 CMD --help'." on stderr. Returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The preamble of a command that reads or writes state_dir: load the config at `path`,
 * act as state_dir's owner (cli_act_as_owner), and with lock_kind >= 0 take that lock
 * (cli_lock). Each failure is said on stderr as "watch53 CMD: ...". 0 with *lockfd (-1
 * when no lock was asked; state_unlock it), or the exit status: EXIT_USAGE (the config),
 * EXIT_RUNTIME or EXIT_LOCKED; the config is cleared then.
 */
struct config;
int cli_state_begin(const char *cmd, const char *path, int lock_kind, struct config *cfg,
		    int *lockfd);

struct cli_command {
	const char *name;
	const char *usage;   /* after "watch53 NAME " */
	const char *summary; /* one line for the command list */
	int (*exec)(int argc, char **argv);
	void (*help)(FILE *f);
};

extern const struct cli_command cli_commands[];

int cli_main(int argc, char **argv);
void cli_usage(FILE *f);

/* Commands. */
int cmd_scan(int argc, char **argv);
void cmd_scan_help(FILE *f);
int cmd_check(int argc, char **argv);
void cmd_check_help(FILE *f);
int cmd_run(int argc, char **argv);
void cmd_run_help(FILE *f);
int cmd_baseline(int argc, char **argv);
void cmd_baseline_help(FILE *f);
int cmd_history(int argc, char **argv);
void cmd_history_help(FILE *f);
int cmd_config(int argc, char **argv);
void cmd_config_help(FILE *f);
int cmd_diff(int argc, char **argv);
void cmd_diff_help(FILE *f);
int cmd_alerts(int argc, char **argv);
void cmd_alerts_help(FILE *f);
int cmd_sniff(int argc, char **argv);
void cmd_sniff_help(FILE *f);

#endif
