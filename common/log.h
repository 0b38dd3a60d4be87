/* log: one-line diagnostics; log_warn appends strerror(errno), log_warnx does not.
 * Messages go to stderr by default ("watch53: warning: ..."). A daemon can send them to
 * syslog(3), or to stderr with sd-daemon priority prefixes ("<4>warning: ...") when
 * systemd connected stderr to the journal, which then records each line's level. */
#ifndef WATCH53_LOG_H
#define WATCH53_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Where messages go. */
enum log_dest {
	LOG_DEST_STDERR = 0, /* "prog: warning: msg" (the default) */
	LOG_DEST_JOURNAL,    /* "<4>warning: msg" on stderr: sd-daemon(3) prefixes; journald
			      * strips them into PRIORITY= and adds the program name itself */
	LOG_DEST_SYSLOG,     /* syslog(3), facility daemon, with the pid */
};

void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Switch destination. LOG_DEST_SYSLOG connects to syslog at once (LOG_NDELAY), so logging
 * keeps working after privileges are dropped; leaving it closes that connection. */
void log_set_dest(enum log_dest dest);
enum log_dest log_get_dest(void);
/* True when $JOURNAL_STREAM ("DEV:INODE") names the file stderr is: systemd connected
 * stderr to the journal (systemd.exec(5)); a redirected stderr no longer matches. */
bool log_stderr_is_journal(void);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
