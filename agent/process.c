/* process: detaching, the pid file, and dropping the user and every capability. */
#define _GNU_SOURCE
#include "agent/process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

int
process_detach(int *report_fd, int *parent_exit)
{
	int p[2], fd;
	pid_t pid;

	*report_fd = -1;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -errno;
	/* whatever is buffered would otherwise be written twice */
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == -1) {
		int rc = -errno;
		close(p[0]);
		close(p[1]);
		return rc;
	}
	if (pid > 0) {
		unsigned char code;
		ssize_t r;

		close(p[1]);
		do
			r = read(p[0], &code, 1);
		while (r == -1 && errno == EINTR);
		close(p[0]);
		if (r != 1)
			fprintf(stderr, "watch53 run: the daemon exited during start-up\n");
		*parent_exit = r == 1 ? code : 3;
		return 1;
	}
	close(p[0]);
	/* a new session: no controlling terminal, and the shell's job control (SIGHUP when
	 * the terminal goes away, SIGINT from ^C) no longer reaches us */
	setsid();
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd != -1) {
		dup2(fd, 0);
		if (fd != 0)
			close(fd);
	}
	*report_fd = p[1];
	return 0;
}

void
process_report(int *fd, int code)
{
	unsigned char c = (unsigned char)code;
	ssize_t w;

	if (*fd == -1)
		return;
	do
		w = write(*fd, &c, 1);
	while (w == -1 && errno == EINTR);
	close(*fd);
	*fd = -1;
}

void
process_detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd == -1)
		return;
	fflush(stdout);
	fflush(stderr);
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

int
process_pidfile_open(const char *path, char *err, size_t errlen)
{
	char buf[32];
	int fd, rc;
	ssize_t n;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1) {
		rc = -errno;
		util_errf(err, errlen, "pid file %s: %s", path, strerror(errno));
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		rc = -errno;
		if (rc == -EWOULDBLOCK) {
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			util_errf(err, errlen, "another watch53 is running (pid %s, %s)",
				  buf[0] ? buf : "unknown", path);
		} else {
			util_errf(err, errlen, "pid file %s: cannot lock: %s", path,
				  strerror(errno));
		}
		close(fd);
		return rc;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		rc = -errno;
		util_errf(err, errlen, "pid file %s: cannot write: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

void
process_pidfile_close(const char *path, int fd)
{
	if (fd == -1)
		return;
	/* after dropping privileges /run is no longer ours: an empty file says "not running"
	 * as well, and the next start rewrites it */
	if (unlink(path) == -1 && ftruncate(fd, 0) == -1)
		log_debug("pid file %s: cannot remove or empty it: %s", path, strerror(errno));
	close(fd);
}

int
process_user_lookup(const char *name, struct process_user *u, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc;

	memset(u, 0, sizeof(*u));
	rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (rc != 0 || res == NULL) {
		util_errf(err, errlen, "--user %s: %s", name, rc ? strerror(rc) : "no such user");
		return rc ? -rc : -ENOENT;
	}
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	return 0;
}

int
process_dir_owner(const char *dir, struct process_user *u, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	struct stat sb;
	char buf[4096];

	memset(u, 0, sizeof(*u));
	if (geteuid() != 0)
		return 0;
	if (stat(dir, &sb) == -1) {
		if (errno == ENOENT)
			return 0;
		util_errf(err, errlen, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	if (sb.st_uid == 0)
		return 0;
	u->uid = sb.st_uid;
	u->gid = sb.st_gid;
	if (getpwuid_r(sb.st_uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL) {
		snprintf(u->name, sizeof(u->name), "%s", pw.pw_name);
		u->gid = pw.pw_gid;
	} else {
		snprintf(u->name, sizeof(u->name), "uid %u", (unsigned)sb.st_uid);
	}
	return 1;
}

int
process_caps(uint64_t *eff, uint64_t *prm)
{
	char line[256];
	int found = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %" SCNx64, eff) == 1)
			found |= 1;
		else if (sscanf(line, "CapPrm: %" SCNx64, prm) == 1)
			found |= 2;
	fclose(f);
	return found == 3 ? 0 : -ENODATA;
}

/* The highest capability number this kernel knows. */
static int
cap_last(void)
{
	int last = 63;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");

	if (f) {
		if (fscanf(f, "%d", &last) != 1 || last < 0 || last > 63)
			last = 63;
		fclose(f);
	}
	return last;
}

int
process_drop(const struct process_user *u, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	uint64_t eff = 1, prm = 1;
	int rc;

	/* the bounding set limits what any later execve could gain; dropping needs
	 * CAP_SETPCAP, which an unprivileged start does not have (and then has nothing to
	 * drop that a capset below would not clear) */
	if (prctl(PR_CAPBSET_READ, CAP_SETPCAP) == 1)
		for (int c = 0; c <= cap_last(); c++)
			if (prctl(PR_CAPBSET_DROP, c) == -1 && errno != EINVAL && errno != EPERM)
				break;
	/* ambient capabilities survive setuid: clear them first (EINVAL: kernel < 4.3) */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);

	if (u != NULL && (getuid() != u->uid || geteuid() != u->uid || getgid() != u->gid ||
			  getegid() != u->gid)) {
		if (setgroups(1, &u->gid) == -1) {
			rc = -errno;
			util_errf(err, errlen, "--user %s: setgroups: %s", u->name,
				  strerror(errno));
			return rc;
		}
		if (setresgid(u->gid, u->gid, u->gid) == -1) {
			rc = -errno;
			util_errf(err, errlen, "--user %s: setgid: %s", u->name, strerror(errno));
			return rc;
		}
		if (setresuid(u->uid, u->uid, u->uid) == -1) {
			rc = -errno;
			util_errf(err, errlen, "--user %s: setuid: %s", u->name, strerror(errno));
			return rc;
		}
	}
	if (u != NULL && u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		util_errf(err, errlen, "--user %s: uid 0 could be regained", u->name);
		return -EPERM;
	}
	/* whatever is left (a root start without a user, file or inherited capabilities):
	 * the raw syscall, as libcap is no dependency of ours */
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) == -1) {
		rc = -errno;
		util_errf(err, errlen, "capset: %s", strerror(errno));
		return rc;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		rc = -errno;
		util_errf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		return rc;
	}
	rc = process_caps(&eff, &prm);
	if (rc < 0) {
		util_errf(err, errlen, "cannot read capabilities from /proc/self/status: %s",
			  strerror(-rc));
		return rc;
	}
	if (eff != 0 || prm != 0) {
		util_errf(err, errlen, "capabilities still held after dropping them (CapEff "
			  "%016" PRIx64 ", CapPrm %016" PRIx64 ")", eff, prm);
		return -EPERM;
	}
	return 0;
}
