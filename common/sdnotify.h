/*
 * sdnotify: the sd_notify(3) datagram protocol, without libsystemd. systemd (Type=notify)
 * passes $NOTIFY_SOCKET, a unix datagram socket ("@name" is in the abstract namespace);
 * a service sends newline-separated KEY=VALUE lines: READY=1, RELOADING=1, STOPPING=1,
 * STATUS=..., WATCHDOG=1, MAINPID=N. $WATCHDOG_USEC asks for WATCHDOG=1 at least that often
 * (we send every half of it), for the process named by $WATCHDOG_PID when that is set.
 *
 * The socket is opened and connected once (sdnotify_open), while the process may still be
 * privileged: a later send needs no write permission on the socket file, and a long-running
 * daemon does not open a descriptor per message.
 */
#ifndef WATCH53_SDNOTIFY_H
#define WATCH53_SDNOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct sdnotify {
	int fd;                  /* connected datagram socket, -1 when not under systemd */
};

/*
 * Connect to $NOTIFY_SOCKET. Without the variable: 0 and n->fd == -1 (every send is then a
 * no-op). A bad value (not an absolute path or "@name", too long) or a socket that cannot be
 * reached: -errno with a one-line message in err, and n->fd == -1.
 */
int sdnotify_open(struct sdnotify *n, char *err, size_t errlen);
void sdnotify_close(struct sdnotify *n);

/* Send one message ("READY=1", "STATUS=cycle 3 done\nWATCHDOG=1", ...). 0 (also when not
 * connected) or -errno. Never blocks: a full socket buffer drops the message (-EAGAIN). */
int sdnotify_send(const struct sdnotify *n, const char *msg);
/* The same with printf formatting (messages are cut at 1 KiB). */
int sdnotify_sendf(const struct sdnotify *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The watchdog period systemd asked for in $WATCHDOG_USEC, in ns; 0 when there is none,
 * the value does not parse, or $WATCHDOG_PID names another process. */
uint64_t sdnotify_watchdog_ns(void);

/* Fill a sockaddr_un for NAME ("/path" or "@abstract"); *len gets the address length to pass
 * to connect/bind. 0, or -EINVAL (relative, empty) / -ENAMETOOLONG. Exposed for tests. */
int sdnotify_addr(const char *name, struct sockaddr_un *sa, socklen_t *len);

#endif
