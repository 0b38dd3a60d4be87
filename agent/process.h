/*
 * process: what makes `watch53 run` a well-behaved daemon process, apart from its loop:
 * detaching (--daemon), the pid file, and giving up privileges (user and capabilities).
 * Everything here runs in the main thread before any other thread exists: setuid and
 * capset act on the calling thread only (glibc broadcasts setuid, the capset syscall is
 * per thread), so threads started afterwards inherit the dropped state.
 */
#ifndef WATCH53_PROCESS_H
#define WATCH53_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCESS_DEFAULT_PIDFILE "/run/watch53.pid"

/*
 * Fork into the background, daemon(3) style (fork, then setsid in the child; stdin from
 * /dev/null). The parent waits until the child reports (process_report) and returns 1 with
 * the child's exit code in *parent_exit: 0 once the daemon is ready, its error code if it
 * could not start (the child has printed why on the inherited stderr), 3 if it died without
 * a word. The child gets 0 and *report_fd. -errno if fork fails.
 */
int process_detach(int *report_fd, int *parent_exit);
/* Child: tell the waiting parent `code` (0: ready) and close *fd (-1 afterwards). A no-op
 * when *fd is -1. */
void process_report(int *fd, int code);
/* Child, once ready: stdin, stdout and stderr to /dev/null (logs go to syslog). */
void process_detach_stdio(void);

/*
 * Create or open PATH (0644), take an exclusive non-blocking flock on it and write our pid.
 * The lock lives as long as the returned fd, so a stale file from a crash is no obstacle.
 * -EWOULDBLOCK with "another watch53 is running (pid N, PATH)" when it is locked; -errno.
 */
int process_pidfile_open(const char *path, char *err, size_t errlen);
/* Remove PATH; if that is not allowed any more (privileges dropped), empty it through the
 * fd instead. Then close fd. */
void process_pidfile_close(const char *path, int fd);

/* Looked-up identity for process_drop. */
struct process_user {
	char name[64];
	uid_t uid;
	gid_t gid;
};

/* getpwnam. 0, or -ENOENT ("no such user") / -errno with err. */
int process_user_lookup(const char *name, struct process_user *u, char *err, size_t errlen);

/*
 * Who should act in dir: when we run as root and dir (state_dir: followed if a link) belongs
 * to another user, that user (their name and primary group from the passwd database, or
 * "uid N" and the directory's group without an entry), so what root writes there stays the
 * owner's (a root-owned state.db locks the service out). 1 with *u filled, 0 when we are
 * not root, dir is root's or missing, -errno with err.
 */
int process_dir_owner(const char *dir, struct process_user *u, char *err, size_t errlen);

/*
 * Give up privileges for good, after every privileged resource is open:
 *  - with u: setgroups to u's group only, setgid, setuid (root -> u clears the permitted and
 *    effective capability sets); then check that uid 0 cannot be regained;
 *  - always: drop the bounding set (when allowed) and the ambient set, clear every
 *    remaining capability with the raw capset syscall, set no_new_privs; then read
 *    /proc/self/status and require CapEff == CapPrm == 0.
 * 0, or -errno with a one-line message (the daemon must not run half-dropped: exit).
 */
int process_drop(const struct process_user *u, char *err, size_t errlen);

/* CapEff and CapPrm of this thread from /proc/self/status. 0 or -errno. */
int process_caps(uint64_t *eff, uint64_t *prm);

#endif
