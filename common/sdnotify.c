/* sdnotify: readiness, status and watchdog messages to systemd over $NOTIFY_SOCKET. */
#define _GNU_SOURCE
#include "common/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

int
sdnotify_addr(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n;

	if (name == NULL || (name[0] != '/' && name[0] != '@') || name[1] == '\0')
		return -EINVAL;
	n = strlen(name);
	if (n > sizeof(sa->sun_path) - (name[0] == '/')) /* a path needs its NUL */
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, name, n);
	if (name[0] == '@') {
		/* abstract: a leading NUL, and the length counts exactly the name's bytes (no
		 * terminator: the kernel would take it as part of the name) */
		sa->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

int
sdnotify_open(struct sdnotify *n, char *err, size_t errlen)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	int fd = -1, rc;

	n->fd = -1;
	if (name == NULL || name[0] == '\0')
		return 0;
	rc = sdnotify_addr(name, &sa, &len);
	if (rc < 0) {
		util_errf(err, errlen, "NOTIFY_SOCKET=%s: not an absolute path or @name%s", name,
			  rc == -ENAMETOOLONG ? " (too long)" : "");
		return rc;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		rc = -errno;
		util_errf(err, errlen, "NOTIFY_SOCKET: socket: %s", strerror(errno));
		return rc;
	}
	if (connect(fd, (struct sockaddr *)&sa, len) == -1) {
		rc = -errno;
		util_errf(err, errlen, "NOTIFY_SOCKET=%s: %s", name, strerror(errno));
		close(fd);
		return rc;
	}
	n->fd = fd;
	return 0;
}

void
sdnotify_close(struct sdnotify *n)
{
	if (n->fd != -1)
		close(n->fd);
	n->fd = -1;
}

int
sdnotify_send(const struct sdnotify *n, const char *msg)
{
	size_t len = strlen(msg);
	ssize_t w;

	if (n->fd == -1)
		return 0;
	/* a datagram: all of it or nothing; MSG_NOSIGNAL is moot for datagrams but keeps a
	 * vanished receiver from ever raising SIGPIPE */
	do
		w = send(n->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w == -1 && errno == EINTR);
	if (w == -1)
		return -errno;
	return (size_t)w == len ? 0 : -EMSGSIZE;
}

int
sdnotify_sendf(const struct sdnotify *n, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (n->fd == -1)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return sdnotify_send(n, msg);
}

uint64_t
sdnotify_watchdog_ns(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	uint64_t v, p;

	if (usec == NULL || util_parse_uint(usec, 1, UINT64_MAX / 1000, &v) < 0)
		return 0;
	/* WATCHDOG_PID says whom the watchdog is for: a child that inherited it is not */
	if (pid != NULL && (util_parse_uint(pid, 1, UINT32_MAX, &p) < 0 ||
			    p != (uint64_t)getpid()))
		return 0;
	return v * 1000;
}
