/* fileio: capped whole-file reads and crash-safe replacement. */
#define _GNU_SOURCE
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
file_read_all(const char *path, size_t max, char **out, size_t *len)
{
	struct stat sb;
	char *buf = NULL;
	size_t cap, n = 0;
	int fd, rc = 0;

	/* O_NONBLOCK: a FIFO in the file's place must not hang the open (it is refused below,
	 * as anything but a regular file); reads of a regular file ignore the flag */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return -errno;
	if (fstat(fd, &sb) == -1) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = S_ISDIR(sb.st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	if ((size_t)sb.st_size > max) {
		rc = -EFBIG;
		goto out;
	}
	/* room for one byte past the size we expect, so EOF is seen even for a file of
	 * exactly `max` bytes, and growth if the file grows while we read it */
	cap = (size_t)sb.st_size + 2;
	buf = malloc(cap);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r;
		if (n > max) {
			rc = -EFBIG;
			goto out;
		}
		if (n + 1 == cap) {
			size_t ncap = cap * 2 > max + 2 ? max + 2 : cap * 2;
			char *nb = realloc(buf, ncap);
			if (nb == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

int
file_sync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, rc = 0;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	if (fsync(fd) == -1)
		rc = -errno;
	close(fd);
	return rc;
}

int
file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd = -1, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd == -1)
		return -errno;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto bad;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) == -1) {
		rc = -errno;
		goto bad;
	}
	if (close(fd) == -1) {
		fd = -1;
		rc = -errno;
		goto bad;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		rc = -errno;
		goto bad;
	}
	return file_sync_dir(path);
bad:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return rc;
}
