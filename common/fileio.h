/* fileio: whole-file reads with a size cap, and atomic replacement of a file (temp file,
 * fsync, rename, fsync of the directory) so a crash leaves the old or the new, never half. */
#ifndef WATCH53_FILEIO_H
#define WATCH53_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Read all of path (at most max bytes, else -EFBIG) into a malloc'd, NUL-terminated
 * buffer. 0 or -errno. */
int file_read_all(const char *path, size_t max, char **out, size_t *len);

/* Replace path atomically with data, created with `mode`. 0 or -errno. */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* fsync the directory holding path (after a rename or unlink). 0 or -errno. */
int file_sync_dir(const char *path);

#endif
