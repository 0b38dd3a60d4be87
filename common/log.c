/* log: leveled one-line messages on stderr. */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *log_prog = "watch53";
static enum log_level log_level = LOG_LVL_WARN;

void
log_init(const char *progname, enum log_level level)
{
	if (progname)
		log_prog = progname;
	log_level = level;
}

void log_set_level(enum log_level level) { log_level = level; }
enum log_level log_get_level(void) { return log_level; }

static void
log_vmsg(enum log_level lvl, const char *prefix, int errnum, const char *fmt, va_list ap)
{
	char msg[1024];

	if (lvl > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum)
		fprintf(stderr, "%s: %s%s: %s\n", log_prog, prefix, msg, strerror(errnum));
	else
		fprintf(stderr, "%s: %s%s\n", log_prog, prefix, msg);
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
