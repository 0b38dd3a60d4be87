/* fileio: whole-file reads with a size cap, and atomic replacement of a file (temp file,
 * fsync, rename, fsync of the directory) so a crash leaves the old or the new, never half.
 *
 * Each comes in two forms: by path (the caller's path is followed as given, links
 * included: config files and state_dir are the admin's choice) and relative to an open
 * directory, by one name that is never followed (the *_at forms: for directories that
 * are ours alone, where a link in a file's place must not send a read or a write
 * elsewhere, and where a path looked up twice could name two different files). */
#ifndef WATCH53_FILEIO_H
#define WATCH53_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Read all of path (at most max bytes, else -EFBIG) into a malloc'd, NUL-terminated
 * buffer (*out, free() it; *len bytes before the NUL). Only a regular file is read:
 * -EISDIR for a directory, -EINVAL for anything else (a FIFO is refused at once, never
 * waited on). 0 or -errno. */
int file_read_all(const char *path, size_t max, char **out, size_t *len);

/* The same for the entry `name` of the directory dirfd (one path component, not "." or
 * "..": else -EINVAL), without following it: -ELOOP when it is a symbolic link, -EISDIR
 * for a directory, -EINVAL for any other file that is not regular (only a regular file is
 * even opened, so opening a device has no side effects), -EFBIG over max. What is read is
 * what fstat of the opened file said was a regular file. 0 or -errno. */
int file_read_at(int dirfd, const char *name, size_t max, char **out, size_t *len);

/* Replace path atomically with data, created with `mode` (the temp file beside it,
 * "<path>.tmp.<pid>", is created and replaced without following a link at either name).
 * 0 or -errno. */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Replace the entry `name` of the directory dirfd (a name as for file_read_at) atomically
 * with data: the temp file "<name>.tmp.<pid>" is made in dirfd (O_EXCL, O_NOFOLLOW: never
 * through a link; a leftover of an earlier process that had our pid is removed, not
 * followed), written, fsync'd and renamed over name (a link at name is replaced, not
 * followed), then dirfd is fsync'd so the new entry survives a crash. 0 or -errno; on
 * failure name is as it was and no temp file is left. */
int file_write_atomic_at(int dirfd, const char *name, const void *data, size_t len,
			 mode_t mode);

/* fsync the directory holding path (after a rename or unlink). 0 or -errno. */
int file_sync_dir(const char *path);

#endif
