/* log: leveled one-line messages on stderr, the journal's stderr stream, or syslog. */
#define _GNU_SOURCE
#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

static const char *log_prog = "watch53";
/* atomic: a reload (SIGHUP) sets them on the daemon's main thread while its cycle and
 * delivery threads log */
static atomic_int log_level = LOG_LVL_WARN;
static atomic_int log_dest = LOG_DEST_STDERR;

/* syslog(3) and sd-daemon(3) share these numbers: err 3, warning 4, info 6, debug 7 */
static const int log_prio[] = {
	[LOG_LVL_ERR] = LOG_ERR, [LOG_LVL_WARN] = LOG_WARNING,
	[LOG_LVL_INFO] = LOG_INFO, [LOG_LVL_DEBUG] = LOG_DEBUG,
};

void
log_init(const char *progname, enum log_level level)
{
	if (progname)
		log_prog = progname;
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

void
log_set_level(enum log_level level)
{
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

enum log_dest log_get_dest(void) { return (enum log_dest)atomic_load(&log_dest); }

void
log_set_dest(enum log_dest dest)
{
	int old = atomic_load(&log_dest);

	if ((int)dest == old)
		return;
	if (old == LOG_DEST_SYSLOG)
		closelog();
	if (dest == LOG_DEST_SYSLOG)
		openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	atomic_store(&log_dest, (int)dest);
}

bool
log_stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	char tail;

	if (v == NULL || sscanf(v, "%ju:%ju%c", &dev, &ino, &tail) != 2)
		return false;
	if (fstat(2, &st) == -1)
		return false;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

static void
log_vmsg(enum log_level lvl, const char *prefix, int errnum, const char *fmt, va_list ap)
{
	char msg[1024];

	if ((int)lvl > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* one call per line: stdio and syslog lock per call, so lines from the daemon's
	 * threads never interleave */
	switch (atomic_load(&log_dest)) {
	case LOG_DEST_SYSLOG:
		if (errnum)
			syslog(log_prio[lvl], "%s%s: %s", prefix, msg, strerror(errnum));
		else
			syslog(log_prio[lvl], "%s%s", prefix, msg);
		break;
	case LOG_DEST_JOURNAL:
		if (errnum)
			fprintf(stderr, "<%d>%s%s: %s\n", log_prio[lvl], prefix, msg,
				strerror(errnum));
		else
			fprintf(stderr, "<%d>%s%s\n", log_prio[lvl], prefix, msg);
		break;
	default:
		if (errnum)
			fprintf(stderr, "%s: %s%s: %s\n", log_prog, prefix, msg, strerror(errnum));
		else
			fprintf(stderr, "%s: %s%s\n", log_prog, prefix, msg);
		break;
	}
}

#define LOG_FN(fn, lvl, prefix, with_errno)                                                \
	void fn(const char *fmt, ...)                                                      \
	{                                                                                  \
		int saved = errno;                                                         \
		va_list ap;                                                                \
		va_start(ap, fmt);                                                         \
		log_vmsg(lvl, prefix, with_errno ? saved : 0, fmt, ap);                    \
		va_end(ap);                                                                \
		errno = saved;                                                             \
	}

LOG_FN(log_err, LOG_LVL_ERR, "error: ", 1)
LOG_FN(log_errx, LOG_LVL_ERR, "error: ", 0)
LOG_FN(log_warn, LOG_LVL_WARN, "warning: ", 1)
LOG_FN(log_warnx, LOG_LVL_WARN, "warning: ", 0)
LOG_FN(log_info, LOG_LVL_INFO, "", 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, "debug: ", 0)
