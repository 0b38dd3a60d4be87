/* fileio: capped whole-file reads and crash-safe replacement. */
#define _GNU_SOURCE
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A name the *_at functions take: one path component of dirfd itself ("." and ".." are
 * not: they name no file of it). */
static bool
file_name_ok(const char *name)
{
	return name[0] != '\0' && strchr(name, '/') == NULL && strcmp(name, "..") != 0 &&
	       strcmp(name, ".") != 0;
}

/* Why a file that is not regular is refused (the contract of both readers). */
static int
not_regular(mode_t mode)
{
	return S_ISDIR(mode) ? -EISDIR : S_ISLNK(mode) ? -ELOOP : -EINVAL;
}

/* Read all of the open file fd (at most max bytes) into a malloc'd, NUL-terminated buffer:
 * what both readers share once they have their fd. Does not close fd. 0 or -errno. */
static int
read_fd(int fd, size_t max, char **out, size_t *len)
{
	struct stat sb;
	char *buf = NULL;
	size_t cap, n = 0;
	int rc = 0;

	if (fstat(fd, &sb) == -1)
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return not_regular(sb.st_mode);
	if ((size_t)sb.st_size > max)
		return -EFBIG;
	/* room for one byte past the size we expect, so EOF is seen even for a file of
	 * exactly `max` bytes, and growth if the file grows while we read it */
	cap = (size_t)sb.st_size + 2;
	buf = malloc(cap);
	if (buf == NULL)
		return -ENOMEM;
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
	return rc;
}

int
file_read_all(const char *path, size_t max, char **out, size_t *len)
{
	int fd, rc;

	/* O_NONBLOCK: a FIFO in the file's place must not hang the open (it is refused by
	 * read_fd, as anything but a regular file); reads of a regular file ignore the flag */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return -errno;
	rc = read_fd(fd, max, out, len);
	close(fd);
	return rc;
}

int
file_read_at(int dirfd, const char *name, size_t max, char **out, size_t *len)
{
	struct stat sb;
	int fd, rc;

	/* one component: a name with a slash would be looked up through other directories */
	if (!file_name_ok(name))
		return -EINVAL;
	/* Only to spare opening what is no regular file: opening a device can do things, a
	 * socket cannot be opened at all (ENXIO). This is not the check that counts (the
	 * entry may change before the open): read_fd's fstat of what was opened is. */
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return not_regular(sb.st_mode);
	/* O_NOFOLLOW: a link put in the file's place since is refused (ELOOP), not read;
	 * O_NONBLOCK: a FIFO put there does not hang the open */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	if (fd == -1)
		return errno == ENXIO ? -EINVAL : -errno;
	rc = read_fd(fd, max, out, len);
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

/* Create the temp file `tmp` in dirfd for writing. The name carries our pid, so an entry
 * already there is a leftover of an earlier process that had our pid and died between
 * create and rename (a daemon in a container often gets the same pid every start): it is
 * removed (the entry itself, whatever it is) and the create tried once more. fd or
 * -errno. */
static int
create_temp_at(int dirfd, const char *tmp, mode_t mode)
{
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dirfd, tmp, flags, mode);

	if (fd == -1 && errno == EEXIST) {
		if (unlinkat(dirfd, tmp, 0) == -1 && errno != ENOENT)
			return -errno;
		fd = openat(dirfd, tmp, flags, mode);
	}
	return fd == -1 ? -errno : fd;
}

/* Write all of data to fd, fsync it and close it (closed in every case). 0 or -errno. */
static int
write_sync_close(int fd, const void *data, size_t len)
{
	const char *p = data;
	int rc = 0;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) == -1)
		rc = -errno;
out:
	/* a close error after a good fsync still means the data may not be there */
	if (close(fd) == -1 && rc == 0)
		rc = -errno;
	return rc;
}

int
file_write_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
	char tmp[NAME_MAX + 1];
	int fd, rc;

	/* one component: the temp file, the rename and the fsync all act on dirfd itself */
	if (!file_name_ok(name))
		return -EINVAL;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", name, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = create_temp_at(dirfd, tmp, mode);
	if (fd < 0)
		return fd;
	rc = write_sync_close(fd, data, len);
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) == -1)
		rc = -errno;
	if (rc < 0) {
		(void)unlinkat(dirfd, tmp, 0);
		return rc;
	}
	return fsync(dirfd) == -1 ? -errno : 0;
}

int
file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char copy[PATH_MAX];
	const char *dir, *name;
	char *slash;
	int dirfd, rc;

	/* the directory by its path (followed: the caller's choice), the file by its name */
	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	slash = strrchr(copy, '/');
	if (slash == NULL) {
		dir = ".";
		name = copy;
	} else {
		*slash = '\0';
		dir = slash == copy ? "/" : copy;
		name = slash + 1;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd == -1)
		return -errno;
	rc = file_write_atomic_at(dirfd, name, data, len, mode);
	close(dirfd);
	return rc;
}
