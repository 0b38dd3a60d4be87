/* outbox: durable per-sink spool of events, delivery metadata, retries and dead letters. */
#define _GNU_SOURCE
#include "alerts/outbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "alerts/webhook.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/util.h"

#define META_MAX_BYTES 4096
#define META_JSON_DEPTH 4
/* Events read for one digest: bounds memory whatever a sink's max_events says. */
#define DIGEST_WINDOW_MAX 256
/* A request never gets less time than this, even at the end of the budget. */
#define MIN_REQUEST_TIMEOUT_NS (1ull * NS_PER_SEC)

/* ---- the outbox's directories: by fd, nothing in them followed ----
 *
 * Everything under the outbox (sink directories, their files, dead/ and quarantine/) is
 * reached from an open directory by one name at a time, never followed and never looked up
 * twice: a link in the place of any of them is refused or moved as the link it is, never
 * used to read, write, create or move something elsewhere, and what was checked is what
 * is used. Paths are built for messages only. */

#define DIR_OPEN_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define NOT_OWN_DIR "not a directory of its own (a symbolic link?): left alone"

/* Open the directory `name` of parentfd, not following it (with AT_FDCWD, name is the
 * outbox's path: only its last component is not followed, state_dir may be a link an
 * admin chose). fd, or -errno: -ELOOP for a link, -ENOTDIR for anything else that is not a
 * directory. (Linux says ENOTDIR for both; a look after the refusal tells a link apart,
 * for the message only.) */
static int
dir_open_at(int parentfd, const char *name)
{
	struct stat sb;
	int fd = openat(parentfd, name, DIR_OPEN_FLAGS), e;

	if (fd >= 0)
		return fd;
	e = errno;
	if (e == ENOTDIR && fstatat(parentfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(sb.st_mode))
		e = ELOOP;
	return -e;
}

/* dir_open_at, making the directory (0700) first when nothing has its name. Whatever is
 * already there is opened as dir_open_at does: a link is refused, never made through. */
static int
dir_ensure_at(int parentfd, const char *name)
{
	if (mkdirat(parentfd, name, 0700) == -1 && errno != EEXIST)
		return -errno;
	return dir_open_at(parentfd, name);
}

/* A listing of the open directory fd, which stays the caller's: the DIR reads a dup of it,
 * from the start (a dup shares the offset, which an earlier listing left at the end).
 * NULL with errno. */
static DIR *
dir_list_fd(int fd)
{
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0), e;
	DIR *d;

	if (dfd == -1)
		return NULL;
	if ((d = fdopendir(dfd)) == NULL) {
		e = errno;
		close(dfd);
		errno = e;
		return NULL;
	}
	rewinddir(d);
	return d;
}

/* A listing of the directory `name` of parentfd, opened as dir_open_at does. NULL with
 * errno. */
static DIR *
dir_list_at(int parentfd, const char *name)
{
	int fd = dir_open_at(parentfd, name), e;
	DIR *d;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	if ((d = fdopendir(fd)) == NULL) {
		e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

/* Why a directory of the outbox could not be opened, for people (e: positive errno). */
static const char *
dir_error(int e)
{
	return e == ELOOP || e == ENOTDIR ? NOT_OWN_DIR : strerror(e);
}

/* A sink name becomes a directory name: keep it to a safe alphabet. */
static void
safe_name(const char *in, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < outlen; i++) {
		char c = in[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '#';
		out[i] = ok ? c : '_';
	}
	out[i] = '\0';
	if (i == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		snprintf(out, outlen, "sink");
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t l = strlen(s), k = strlen(suffix);

	return l > k && strcmp(s + l - k, suffix) == 0;
}

/*
 * An event file's name: "<seq>.<id>.json" (seq zero-padded to 10 digits at least, so a
 * listing of the directory shows the queue's order) when the event came with a sequence
 * number, "<id>.json" without one (seq 0). ext is ".json" or "" (the stem).
 */
static int
event_file(char *buf, size_t len, uint64_t seq, const char *id, const char *ext)
{
	int n = seq ? snprintf(buf, len, "%010" PRIu64 ".%s%s", seq, id, ext)
		    : snprintf(buf, len, "%s%s", id, ext);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Split an event file's name into its sequence number (0: none) and id: -EBADMSG when it
 * is not "[<digits>.]<id>.json" with an id that alert_id_valid() accepts. */
static int
parse_event_file(const char *name, uint64_t *seq, char id[ALERT_ID_LEN])
{
	size_t len = strlen(name), idlen;
	const char *p = name;

	*seq = 0;
	if (!ends_with(name, ".json"))
		return -EBADMSG;
	len -= strlen(".json");
	if (len > ALERT_ID_LEN - 1) {
		char *end;
		size_t digits = strspn(name, "0123456789");
		if (digits == 0 || digits > 20 || name[digits] != '.')
			return -EBADMSG;
		errno = 0;
		*seq = strtoull(name, &end, 10);
		if (errno != 0 || end != name + digits || *seq == 0)
			return -EBADMSG;
		p = name + digits + 1;
		len -= digits + 1;
	}
	idlen = len;
	if (idlen != ALERT_ID_LEN - 1)
		return -EBADMSG;
	memcpy(id, p, idlen);
	id[idlen] = '\0';
	return alert_id_valid(id) ? 0 : -EBADMSG;
}

/* Open the directory of `sink` (its safe_name) in the outbox dir, following neither
 * (for the entry points that are given paths). fd or -errno, as dir_open_at. */
static int
sink_open(const char *dir, const char *sink)
{
	char name[OUTBOX_NAME_MAX];
	int outfd, fd;

	safe_name(sink, name, sizeof(name));
	if ((outfd = dir_open_at(AT_FDCWD, dir)) < 0)
		return outfd;
	fd = dir_open_at(outfd, name);
	close(outfd);
	return fd;
}

int
outbox_put_json(const char *dir, const char *sink, uint64_t seq, const char *id,
		const char *json, size_t len, char *err, size_t errlen)
{
	char sdir[PATH_MAX], name[OUTBOX_NAME_MAX], file[OUTBOX_FILE_MAX];
	char *buf = NULL;
	int outfd = -1, sfd = -1, rc;

	safe_name(sink, name, sizeof(name));
	/* the id becomes a file name: nothing but a UUID may */
	if (!alert_id_valid(id)) {
		snprintf(err, errlen, "outbox: sink %s: not an event id, not spooled", name);
		return -EINVAL;
	}
	if (len > ALERT_JSON_MAX) {
		snprintf(err, errlen, "outbox: sink %s: event %s is larger than %d bytes", name,
			 id, ALERT_JSON_MAX);
		return -EFBIG;
	}
	if ((rc = event_file(file, sizeof(file), seq, id, ".json")) < 0) {
		snprintf(err, errlen, "outbox %s: path too long", dir);
		return rc;
	}
	snprintf(sdir, sizeof(sdir), "%s/%s", dir, name); /* for messages */
	if ((outfd = dir_ensure_at(AT_FDCWD, dir)) < 0) {
		rc = outfd;
		snprintf(err, errlen, "outbox %s: %s", dir, strerror(-rc));
		goto out;
	}
	if ((sfd = dir_ensure_at(outfd, name)) < 0) {
		rc = sfd;
		snprintf(err, errlen, "outbox %s: %s", sdir, strerror(-rc));
		goto out;
	}
	/* one line with a newline */
	if ((buf = malloc(len + 1)) == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "outbox: out of memory");
		goto out;
	}
	memcpy(buf, json, len);
	buf[len] = '\n';
	if ((rc = file_write_atomic_at(sfd, file, buf, len + 1, 0600)) < 0) {
		snprintf(err, errlen, "outbox %s/%s: %s", sdir, file, strerror(-rc));
		goto out;
	}
	/* the sink directory entry itself must survive a crash too */
	if (fsync(outfd) == -1) {
		rc = -errno;
		snprintf(err, errlen, "outbox %s: %s", dir, strerror(-rc));
	}
out:
	free(buf);
	if (sfd >= 0)
		close(sfd);
	if (outfd >= 0)
		close(outfd);
	return rc;
}

int
outbox_put(const char *dir, const char *sink, uint64_t seq, const struct alert_event *ev,
	   char *err, size_t errlen)
{
	char json[ALERT_JSON_MAX + 1];
	int len = alert_event_to_json(ev, json, sizeof(json));

	if (len < 0) {
		snprintf(err, errlen, "outbox: event %s does not serialize: %s", ev->id,
			 strerror(-len));
		return len;
	}
	return outbox_put_json(dir, sink, seq, ev->id, json, (size_t)len, err, errlen);
}

long
outbox_count(const char *dir)
{
	DIR *d = dir_list_at(AT_FDCWD, dir);
	struct dirent *de;
	long n = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		DIR *sd;
		struct dirent *se;

		if (de->d_name[0] == '.')
			continue;
		/* a sink directory that is a link is not counted: delivery leaves it alone */
		if ((sd = dir_list_at(dirfd(d), de->d_name)) == NULL)
			continue;
		while ((se = readdir(sd)) != NULL)
			if (se->d_name[0] != '.' && ends_with(se->d_name, ".json"))
				n++;
		closedir(sd);
	}
	closedir(d);
	return n;
}

/* ---- retry schedule ---- */

static const uint64_t backoff_table_s[] = { 30, 60, 120, 300, 600, 1200, 2400, 3600 };
#define BACKOFF_STEPS (sizeof(backoff_table_s) / sizeof(backoff_table_s[0]))

uint64_t
outbox_backoff_base_ns(unsigned attempts)
{
	size_t i = attempts == 0 ? 0 : attempts - 1;

	if (i >= BACKOFF_STEPS)
		i = BACKOFF_STEPS - 1;
	return backoff_table_s[i] * NS_PER_SEC;
}

/* base * (1 + j/1000), j in [-200, 200]: integer arithmetic, no rounding surprises */
static uint64_t
jitter(uint64_t base, uint32_t rnd)
{
	int64_t j = (int64_t)(rnd % (2 * OUTBOX_JITTER_PERCENT * 10 + 1)) -
		    OUTBOX_JITTER_PERCENT * 10;

	return (uint64_t)((int64_t)base + (int64_t)(base / 1000) * j);
}

uint64_t
outbox_backoff_ns(unsigned attempts, uint32_t rnd)
{
	return jitter(outbox_backoff_base_ns(attempts), rnd);
}

uint64_t
outbox_retry_delay_ns(unsigned attempts, const struct outbox_outcome *o, uint32_t rnd)
{
	long st = o->status;

	/* the service said when: do exactly that (a client that retries earlier gets
	 * throttled longer), but never park an alert for more than an hour */
	if ((st == 429 || st == 503) && o->has_retry_after)
		return o->retry_after_ns < OUTBOX_RETRY_AFTER_MAX_NS ? o->retry_after_ns
								     : OUTBOX_RETRY_AFTER_MAX_NS;
	/* a redirect or a refusal (bad token, bad payload) will not fix itself in seconds */
	if ((st >= 300 && st < 400) || (st >= 400 && st < 500 && st != 408 && st != 429))
		return jitter(OUTBOX_LONG_BACKOFF_NS, rnd);
	return outbox_backoff_ns(attempts, rnd);
}

/* ---- metadata sidecar ---- */

static int
get_u64(struct json_object *o, const char *key, uint64_t max, uint64_t *out)
{
	struct json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -EBADMSG;
	errno = 0;
	x = json_object_get_int64(v);
	if (errno != 0 || x < 0 || (uint64_t)x > max)
		return -EBADMSG;
	*out = (uint64_t)x;
	return 0;
}

int
outbox_meta_parse(const char *text, size_t len, struct outbox_meta *m)
{
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL, *v;
	struct outbox_meta t = { 0 };
	uint64_t x = 0;
	int rc = -EBADMSG;

	tok = json_tokener_new_ex(META_JSON_DEPTH);
	if (tok == NULL)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object))
		goto out;
	/* trailing whitespace only */
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
		if (text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != '\r')
			goto out;
	if (get_u64(o, "attempts", 1000000, &x) < 0)
		goto out;
	t.attempts = (unsigned)x;
	if (get_u64(o, "first_attempt", INT64_MAX, &t.first_attempt) < 0 ||
	    get_u64(o, "next_try", INT64_MAX, &t.next_try) < 0)
		goto out;
	x = 0;
	if (get_u64(o, "last_status", 999, &x) < 0)
		goto out;
	t.last_status = (long)x;
	if (json_object_object_get_ex(o, "last_error", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string))
			goto out;
		alert_copy_text(t.last_error, sizeof(t.last_error), json_object_get_string(v));
	}
	*m = t;
	rc = 0;
out:
	json_object_put(o);
	json_tokener_free(tok);
	return rc;
}

/* The .meta of event id in the sink directory sfd, as outbox_meta_read says. */
static int
meta_read_at(int sfd, const char *id, struct outbox_meta *m)
{
	char file[ALERT_ID_LEN + 8], *text = NULL;
	size_t len = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	snprintf(file, sizeof(file), "%s.meta", id);
	/* a link in its place is not followed (ELOOP): corrupt, like any file that is not
	 * ours (a directory, a FIFO, one too large) */
	rc = file_read_at(sfd, file, META_MAX_BYTES, &text, &len);
	if (rc == -ELOOP || rc == -EFBIG || rc == -EISDIR || rc == -EINVAL)
		return -EBADMSG;
	if (rc < 0)
		return rc;
	rc = outbox_meta_parse(text, len, m);
	free(text);
	return rc;
}

int
outbox_meta_read(const char *dir, const char *sink, const char *id, struct outbox_meta *m)
{
	int sfd, rc;

	memset(m, 0, sizeof(*m));
	/* the id names the file: nothing but a UUID may */
	if (!alert_id_valid(id))
		return -EINVAL;
	if ((sfd = sink_open(dir, sink)) < 0)
		return sfd;
	rc = meta_read_at(sfd, id, m);
	close(sfd);
	return rc;
}

/* Replace the .meta of event id in the sink directory sfd (atomically). 0 or -errno. */
static int
meta_write_at(int sfd, const char *id, const struct outbox_meta *m)
{
	char file[ALERT_ID_LEN + 8], *buf = NULL;
	struct json_object *o;
	const char *text;
	size_t l;
	int rc;

	snprintf(file, sizeof(file), "%s.meta", id);
	o = json_object_new_object();
	if (o == NULL)
		return -ENOMEM;
	/* *_object_add hands each child to the parent; only the root is put */
	if (json_object_object_add(o, "attempts", json_object_new_int64(m->attempts)) < 0 ||
	    json_object_object_add(o, "first_attempt",
				   json_object_new_int64((int64_t)m->first_attempt)) < 0 ||
	    json_object_object_add(o, "next_try", json_object_new_int64((int64_t)m->next_try)) < 0 ||
	    json_object_object_add(o, "last_status", json_object_new_int64(m->last_status)) < 0 ||
	    json_object_object_add(o, "last_error", json_object_new_string(m->last_error)) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (text == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/* one line with a newline, like the event files */
	l = strlen(text);
	if ((buf = malloc(l + 1)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(buf, text, l);
	buf[l] = '\n';
	rc = file_write_atomic_at(sfd, file, buf, l + 1, 0600);
out:
	free(buf);
	json_object_put(o);
	return rc;
}

int
outbox_meta_write(const char *dir, const char *sink, const char *id,
		  const struct outbox_meta *m)
{
	int sfd, rc;

	if (!alert_id_valid(id))
		return -EINVAL;
	if ((sfd = sink_open(dir, sink)) < 0)
		return sfd;
	rc = meta_write_at(sfd, id, m);
	close(sfd);
	return rc;
}

/* ---- reading a sink's queue ---- */

/* The order events were raised in: by sequence number (an event without one was spooled
 * before any with one), then by time and id (events of one older writer). */
static int
by_seq_then_time(const void *a, const void *b)
{
	const struct outbox_entry *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Move the entry `file` of the sink directory sfd into its sub/ (made 0700 if missing;
 * -ELOOP when sub/ is a link: nothing is moved through it), syncing both directories.
 * The entry moves as it is: a link goes into sub/ as a link, its target untouched. */
static int
move_into(int sfd, const char *sub, const char *file)
{
	int subfd, rc = 0;

	if ((subfd = dir_ensure_at(sfd, sub)) < 0)
		return subfd;
	if (renameat(sfd, file, subfd, file) == -1 || fsync(subfd) == -1 || fsync(sfd) == -1)
		rc = -errno;
	close(subfd);
	return rc;
}

/* Read the event file `file` of the sink directory sfd: 0 with its sequence number in
 * *seq, -EBADMSG with why in err (corrupt: a link, anything but a regular file, a name or
 * a text that is not an event's), or another -errno (-ENOENT: gone meanwhile). */
static int
read_event(int sfd, const char *file, struct alert_event *ev, uint64_t *seq, char *err,
	   size_t errlen)
{
	char id[ALERT_ID_LEN], *text = NULL;
	size_t len = 0;
	int rc;

	/* one open, not followed: what is checked is what is read */
	rc = file_read_at(sfd, file, ALERT_JSON_MAX, &text, &len);
	if (rc == -ELOOP || rc == -EISDIR || rc == -EINVAL) {
		snprintf(err, errlen, "not a regular file");
		return -EBADMSG;
	}
	if (rc == -ENOENT)
		return rc;
	/* the same precedence as ever: the name, then the size, then the text */
	if (parse_event_file(file, seq, id) < 0) {
		snprintf(err, errlen, "the file name is not [<sequence>.]<event id>.json");
		rc = -EBADMSG;
	} else if (rc == -EFBIG) {
		snprintf(err, errlen, "larger than %d bytes", ALERT_JSON_MAX);
		rc = -EBADMSG;
	} else if (rc == 0) {
		rc = outbox_entry_parse(text, len, id, ev, err, errlen);
	}
	free(text);
	return rc;
}

int
outbox_entry_parse(const char *text, size_t len, const char *id, struct alert_event *ev,
		   char *err, size_t errlen)
{
	size_t bad;

	/* Our writer only ever writes valid UTF-8 (alert_event_to_json), and every body sent
	 * must be: a file that is not was damaged or written by something else. */
	bad = alert_utf8_check(text, len);
	if (bad < len) {
		snprintf(err, errlen, "not valid UTF-8 (byte %zu)", bad);
		return -EBADMSG;
	}
	if (alert_event_from_json(text, len, ev, err, errlen) < 0)
		return -EBADMSG;
	/* the metadata and the removal go by file name: they must name the same event */
	if (id != NULL && strcmp(ev->id, id) != 0) {
		snprintf(err, errlen, "id \"%s\" does not match the file name", ev->id);
		return -EBADMSG;
	}
	return 0;
}

struct queue {
	int fd;                   /* the sink directory; -1 when there is none */
	char sdir[PATH_MAX];      /* its path, for messages only */
	char sink[OUTBOX_NAME_MAX];
	struct outbox_entry *e;
	size_t n, cap;
};

static void
queue_clear(struct queue *q)
{
	free(q->e);
	q->e = NULL;
	q->n = q->cap = 0;
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}

static int
queue_push(struct queue *q, const struct outbox_entry *e)
{
	if (q->n == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 32;
		struct outbox_entry *ne = realloc(q->e, ncap * sizeof(*ne));
		if (ne == NULL)
			return -ENOMEM;
		q->e = ne;
		q->cap = ncap;
	}
	q->e[q->n++] = *e;
	return 0;
}

static int
by_id(const void *a, const void *b)
{
	return strcmp(((const struct outbox_entry *)a)->id, ((const struct outbox_entry *)b)->id);
}

/* Remove the .meta files (names in metas, "<id>.meta") whose event is not in q: left by a
 * crash between the two unlinks of a delivered event. q is sorted by id here. */
static void
remove_orphan_metas(struct queue *q, char (*metas)[ALERT_ID_LEN], size_t nmetas)
{
	char file[ALERT_ID_LEN + 8];

	if (q->n > 1)
		qsort(q->e, q->n, sizeof(*q->e), by_id);
	for (size_t i = 0; i < nmetas; i++) {
		struct outbox_entry key;
		memcpy(key.id, metas[i], sizeof(key.id));
		if (q->n > 0 && bsearch(&key, q->e, q->n, sizeof(*q->e), by_id) != NULL)
			continue;
		snprintf(file, sizeof(file), "%s.meta", metas[i]);
		(void)unlinkat(q->fd, file, 0);
	}
}

/*
 * Load a sink's queue, sorted. With `fix` (the caller holds the lock and delivers):
 * corrupt events go to quarantine/ with their .meta, a corrupt .meta goes to quarantine/
 * alone (the event is fine and stays queued, starting its schedule afresh), and a .meta
 * whose event is gone (a crash between the two unlinks) is removed. Without `fix` nothing
 * is touched and corrupt files are only counted.
 */
static int
queue_load(int outfd, const char *dir, const char *sink, bool fix, struct queue *q,
	   struct outbox_stats *st, size_t *quarantined, char *err, size_t errlen)
{
	DIR *d = NULL;
	struct dirent *de;
	char (*metas)[ALERT_ID_LEN] = NULL;
	size_t nmetas = 0, capmetas = 0;
	uint64_t seq;
	int rc = 0;

	memset(q, 0, sizeof(*q));
	q->fd = -1;
	safe_name(sink, q->sink, sizeof(q->sink));
	snprintf(q->sdir, sizeof(q->sdir), "%s/%s", dir, q->sink);
	if (outfd < 0)
		return 0; /* no outbox yet: an empty queue */
	/* O_NOFOLLOW: a sink directory that is a link to elsewhere is left alone (its files
	 * would otherwise be delivered, or moved into quarantine/, outside state_dir) */
	if ((rc = dir_open_at(outfd, q->sink)) < 0) {
		if (rc == -ENOENT)
			return 0;
		snprintf(err, errlen, "outbox %s: %s", q->sdir, dir_error(-rc));
		return rc;
	}
	q->fd = rc;
	rc = 0;
	if ((d = dir_list_fd(q->fd)) == NULL) {
		rc = -errno;
		snprintf(err, errlen, "outbox %s: %s", q->sdir, strerror(-rc));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		struct outbox_entry e;
		struct alert_event ev;
		char why[256] = "";

		if (de->d_name[0] == '.')
			continue;
		if (ends_with(de->d_name, ".meta")) {
			size_t l = strlen(de->d_name) - strlen(".meta");
			if (!fix || l != ALERT_ID_LEN - 1)
				continue;
			if (nmetas == capmetas) {
				size_t nc = capmetas ? capmetas * 2 : 32;
				char (*nm)[ALERT_ID_LEN] = realloc(metas, nc * sizeof(*nm));
				if (nm == NULL) {
					rc = -ENOMEM;
					snprintf(err, errlen, "outbox: out of memory");
					goto out;
				}
				metas = nm;
				capmetas = nc;
			}
			memcpy(metas[nmetas], de->d_name, l);
			metas[nmetas++][l] = '\0';
			continue;
		}
		if (!ends_with(de->d_name, ".json"))
			continue;
		rc = read_event(q->fd, de->d_name, &ev, &seq, why, sizeof(why));
		if (rc == -ENOENT) {
			rc = 0;
			continue; /* went away while we looked (a reader without the lock) */
		}
		if (rc == -EBADMSG) {
			rc = 0;
			if (st)
				st->corrupt++;
			if (fix) {
				char meta[NAME_MAX + 1], id[ALERT_ID_LEN];
				int mrc = move_into(q->fd, OUTBOX_QUARANTINE_DIR, de->d_name);
				/* the meta is named by the id (when the name holds one) */
				if (parse_event_file(de->d_name, &seq, id) == 0)
					snprintf(meta, sizeof(meta), "%s.meta", id);
				else
					snprintf(meta, sizeof(meta), "%.*s.meta",
						 (int)(strlen(de->d_name) - strlen(".json")),
						 de->d_name);
				if (mrc == 0) {
					if (quarantined)
						(*quarantined)++;
					/* its schedule is no use without it: along it goes */
					if (move_into(q->fd, OUTBOX_QUARANTINE_DIR, meta) == 0 &&
					    quarantined)
						(*quarantined)++;
					log_warnx("outbox: sink %s: %s is corrupt (%s): moved to %s/",
						  q->sink, de->d_name, why, OUTBOX_QUARANTINE_DIR);
				} else {
					log_warnx("outbox: sink %s: %s is corrupt (%s) and could not "
						  "be moved to %s/: %s", q->sink, de->d_name, why,
						  OUTBOX_QUARANTINE_DIR, strerror(-mrc));
				}
			}
			continue;
		}
		if (rc < 0) {
			snprintf(err, errlen, "outbox %s/%s: %s", q->sdir, de->d_name,
				 strerror(-rc));
			goto out;
		}
		memset(&e, 0, sizeof(e));
		snprintf(e.sink, sizeof(e.sink), "%s", q->sink);
		memcpy(e.id, ev.id, sizeof(e.id));
		e.seq = seq;
		e.time_ns = ev.time_ns;
		e.type = ev.type;
		e.severity = ev.severity;
		memcpy(e.address, ev.address, sizeof(e.address));
		memcpy(e.protocol, ev.protocol, sizeof(e.protocol));
		e.port = ev.port;
		rc = meta_read_at(q->fd, ev.id, &e.meta);
		if (rc == -EBADMSG) {
			memset(&e.meta, 0, sizeof(e.meta));
			e.meta_corrupt = true;
			if (fix) {
				char meta[ALERT_ID_LEN + 8];
				snprintf(meta, sizeof(meta), "%s.meta", ev.id);
				if (move_into(q->fd, OUTBOX_QUARANTINE_DIR, meta) == 0) {
					e.meta_corrupt = false;
					if (quarantined)
						(*quarantined)++;
					log_warnx("outbox: sink %s: %s is corrupt: moved to %s/; the "
						  "event stays queued and its retries start afresh",
						  q->sink, meta, OUTBOX_QUARANTINE_DIR);
				}
			}
		} else if (rc < 0 && rc != -ENOENT) {
			snprintf(err, errlen, "outbox %s/%s.meta: %s", q->sdir, ev.id, strerror(-rc));
			goto out;
		}
		rc = queue_push(q, &e);
		if (rc < 0) {
			snprintf(err, errlen, "outbox: out of memory");
			goto out;
		}
		if (st)
			st->pending++;
	}
	rc = 0;
	if (fix)
		remove_orphan_metas(q, metas, nmetas);
	if (q->n > 1)
		qsort(q->e, q->n, sizeof(*q->e), by_seq_then_time);
out:
	free(metas);
	if (d != NULL)
		closedir(d);
	if (rc < 0)
		queue_clear(q);
	return rc;
}

/* Files in the side folder sub/ of the sink directory sfd (not followed: a link counts
 * nothing); events_only counts event files (dead/), not their .meta. */
static size_t
count_files(int sfd, const char *sub, bool events_only)
{
	DIR *d = dir_list_at(sfd, sub);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && (!events_only || ends_with(de->d_name, ".json")))
			n++;
	closedir(d);
	return n;
}

/* outbox_list for the outbox open at outfd (-1: there is none), dir its path for
 * messages. */
static int
list_at(int outfd, const char *dir, const char *sink, struct outbox_entry **out, size_t *n,
	struct outbox_stats *st, char *err, size_t errlen)
{
	struct outbox_stats local = { 0 };
	struct queue q;
	int rc;

	*out = NULL;
	*n = 0;
	rc = queue_load(outfd, dir, sink, false, &q, &local, NULL, err, errlen);
	if (rc < 0)
		return rc;
	if (q.fd >= 0) {
		local.dead += count_files(q.fd, OUTBOX_DEAD_DIR, true);
		local.quarantined += count_files(q.fd, OUTBOX_QUARANTINE_DIR, false);
	}
	if (st)
		*st = local;
	/* the entries are the caller's now; the rest of q goes */
	*out = q.e;
	*n = q.n;
	q.e = NULL;
	queue_clear(&q);
	return 0;
}

/* Open the outbox dir for reading into *fd: -1 when there is none yet (nothing queued).
 * 0, or -errno with err. */
static int
open_outbox_read(const char *dir, int *fd, char *err, size_t errlen)
{
	int rc = dir_open_at(AT_FDCWD, dir);

	*fd = -1;
	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		snprintf(err, errlen, "outbox %s: %s", dir, dir_error(-rc));
		return rc;
	}
	*fd = rc;
	return 0;
}

int
outbox_list(const char *dir, const char *sink, struct outbox_entry **out, size_t *n,
	    struct outbox_stats *st, char *err, size_t errlen)
{
	int outfd, rc;

	*out = NULL;
	*n = 0;
	if ((rc = open_outbox_read(dir, &outfd, err, errlen)) < 0)
		return rc;
	rc = list_at(outfd, dir, sink, out, n, st, err, errlen);
	if (outfd >= 0)
		close(outfd);
	return rc;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
outbox_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* outbox_sink_names for the outbox open at outfd. */
static int
sink_names_at(int outfd, char ***names, size_t *n)
{
	DIR *d = dir_list_fd(outfd);
	struct dirent *de;
	char **v = NULL;
	size_t k = 0;
	int rc = 0;

	*names = NULL;
	*n = 0;
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		char **nv;

		/* only directories of their own: a link is no sink's (and is not followed) */
		if (de->d_name[0] == '.' ||
		    fstatat(outfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISDIR(sb.st_mode))
			continue;
		nv = realloc(v, (k + 1) * sizeof(*v));
		if (nv == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		v = nv;
		if ((v[k] = strdup(de->d_name)) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		k++;
	}
	if (k > 0)
		qsort(v, k, sizeof(*v), by_name);
	*names = v;
	*n = k;
	v = NULL;
	k = 0;
out:
	outbox_names_free(v, k);
	closedir(d);
	return rc;
}

int
outbox_sink_names(const char *dir, char ***names, size_t *n)
{
	int outfd = dir_open_at(AT_FDCWD, dir), rc;

	*names = NULL;
	*n = 0;
	if (outfd < 0)
		return outfd == -ENOENT ? 0 : outfd;
	rc = sink_names_at(outfd, names, n);
	close(outfd);
	return rc;
}

int
outbox_stats_all(const char *dir, struct outbox_stats *st)
{
	char **names = NULL, err[256];
	size_t n = 0;
	int outfd, rc = 0;

	memset(st, 0, sizeof(*st));
	if ((rc = open_outbox_read(dir, &outfd, err, sizeof(err))) < 0)
		return rc;
	if (outfd >= 0)
		rc = sink_names_at(outfd, &names, &n);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct outbox_entry *e = NULL;
		struct outbox_stats one;
		size_t ne = 0;

		rc = list_at(outfd, dir, names[i], &e, &ne, &one, err, sizeof(err));
		free(e);
		if (rc < 0)
			break;
		st->pending += one.pending;
		st->corrupt += one.corrupt;
		st->dead += one.dead;
		st->quarantined += one.quarantined;
	}
	outbox_names_free(names, n);
	if (outfd >= 0)
		close(outfd);
	return rc;
}

/* ---- delivery ---- */

void
outbox_report_clear(struct outbox_report *rep)
{
	free(rep->sinks);
	outbox_names_free(rep->unknown, rep->nunknown);
	memset(rep, 0, sizeof(*rep));
}

/* One run's clock: wall time moves with the monotonic clock from the caller's `now`, so a
 * test (or a caller) fixes the reference and a long run still schedules from when it
 * failed. */
struct run_clock {
	uint64_t wall0, mono0, deadline; /* deadline: monotonic, 0 = none */
};

static uint64_t
run_wall(const struct run_clock *c)
{
	return c->wall0 + (util_now_ns() - c->mono0);
}

static bool
budget_spent(const struct run_clock *c)
{
	return c->deadline != 0 && util_now_ns() >= c->deadline;
}

/* Sleep until the monotonic time `until`; false (without sleeping) if that is past the
 * budget. */
static bool
wait_until(const struct run_clock *c, uint64_t until)
{
	struct timespec ts;

	if (c->deadline != 0 && until > c->deadline)
		return false;
	ts.tv_sec = (time_t)(until / NS_PER_SEC);
	ts.tv_nsec = (long)(until % NS_PER_SEC);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	return true;
}

static void
remove_event(const struct queue *q, const struct outbox_entry *e)
{
	char file[OUTBOX_FILE_MAX];

	/* the event first: a crash between the two leaves an orphan .meta, which the next
	 * load removes, never an event without its schedule being lost for good */
	if (event_file(file, sizeof(file), e->seq, e->id, ".json") == 0 &&
	    unlinkat(q->fd, file, 0) == -1 && errno != ENOENT)
		log_warn("outbox: cannot remove %s/%s", q->sdir, file);
	snprintf(file, sizeof(file), "%s.meta", e->id);
	if (unlinkat(q->fd, file, 0) == -1 && errno != ENOENT)
		log_warn("outbox: cannot remove %s/%s", q->sdir, file);
}

static void
dead_letter(const struct queue *q, const struct outbox_entry *e, struct outbox_sink_report *r)
{
	char file[OUTBOX_FILE_MAX];
	int rc;

	rc = event_file(file, sizeof(file), e->seq, e->id, ".json");
	if (rc == 0)
		rc = move_into(q->fd, OUTBOX_DEAD_DIR, file);
	if (rc < 0) {
		log_warnx("outbox: alert %s for sink %s is past max_age but could not be moved "
			  "to %s/: %s", e->id, q->sink, OUTBOX_DEAD_DIR, strerror(-rc));
		return;
	}
	snprintf(file, sizeof(file), "%s.meta", e->id);
	(void)move_into(q->fd, OUTBOX_DEAD_DIR, file);
	log_warnx("alert %s for sink %s moved to dead letter after %u attempts (%s)", e->id,
		  q->sink, e->meta.attempts,
		  e->meta.last_error[0] ? e->meta.last_error : "no attempt succeeded");
	r->dead++;
}

/* Read the full events of a digest window; a file that vanished or turned corrupt since
 * the listing (nobody should touch the outbox while we hold the lock) ends the window. */
static size_t
read_window(const struct queue *q, size_t from, size_t max, struct alert_event *evs)
{
	size_t k;

	for (k = 0; k < max && from + k < q->n; k++) {
		const struct outbox_entry *e = &q->e[from + k];
		char file[OUTBOX_FILE_MAX], why[256];
		uint64_t seq;
		if (event_file(file, sizeof(file), e->seq, e->id, ".json") < 0 ||
		    read_event(q->fd, file, &evs[k], &seq, why, sizeof(why)) < 0)
			break;
	}
	return k;
}

/* A failed request: every event it carried gets attempts+1 and its next try. */
static void
record_failure(struct queue *q, size_t from, size_t k,
	       const struct outbox_outcome *o, const char *error, uint64_t now_wall,
	       uint64_t *next_try)
{
	uint32_t rnd = util_random32();

	for (size_t i = from; i < from + k && i < q->n; i++) {
		struct outbox_meta *m = &q->e[i].meta;
		int rc;

		m->attempts++;
		if (m->first_attempt == 0)
			m->first_attempt = now_wall;
		/* one draw for the whole digest: its events stay together */
		m->next_try = now_wall + outbox_retry_delay_ns(m->attempts, o, rnd);
		m->last_status = o->status;
		alert_copy_text(m->last_error, sizeof(m->last_error), error);
		rc = meta_write_at(q->fd, q->e[i].id, m);
		if (rc < 0)
			log_warnx("outbox: sink %s: cannot record the attempt for %s: %s", q->sink,
				  q->e[i].id, strerror(-rc));
		if (i == from)
			*next_try = m->next_try;
	}
}

static void
describe_failure(const struct http_result *hr, int prc, char *buf, size_t len)
{
	if (prc < 0)
		snprintf(buf, len, "%s", hr->error[0] ? hr->error : strerror(-prc));
	else if (hr->status >= 300 && hr->status < 400)
		snprintf(buf, len, "HTTP %ld: redirects are not followed, check the sink's URL",
			 hr->status);
	else if (hr->first_line[0])
		snprintf(buf, len, "HTTP %ld: %s", hr->status, hr->first_line);
	else
		snprintf(buf, len, "HTTP %ld", hr->status);
}

static void
deliver_sink(int outfd, const char *dir, const struct sink_settings *s,
	     const struct run_clock *clk, bool force, struct outbox_sink_report *r)
{
	const struct sink_ops *ops = s->ops != NULL ? s->ops : sink_find(s->kind);
	struct alert_event *evs = NULL;
	uint64_t last_post_end = 0;
	size_t window, i;
	struct queue q;
	char err[512];
	int rc;

	snprintf(r->name, sizeof(r->name), "%s", s->name ? s->name : "sink");
	rc = queue_load(outfd, dir, r->name, true, &q, NULL, &r->quarantined, err,
			sizeof(err));
	if (rc < 0) {
		alert_copy_text(r->last_error, sizeof(r->last_error), err);
		log_warnx("%s", err);
		return;
	}
	/* too old to matter any more, by when it was raised: dead letter, said out loud */
	for (i = 0; i < q.n; ) {
		if (s->max_age_ns && q.e[i].time_ns + s->max_age_ns < clk->wall0) {
			dead_letter(&q, &q.e[i], r);
			memmove(&q.e[i], &q.e[i + 1], (q.n - i - 1) * sizeof(*q.e));
			q.n--;
			continue;
		}
		i++;
	}
	if (q.n == 0)
		goto out;
	if (ops == NULL || ops->format == NULL) {
		snprintf(r->last_error, sizeof(r->last_error),
			 "no formatter for this sink type (%d)", (int)s->kind);
		log_warnx("alert delivery to sink %s: %s", r->name, r->last_error);
		i = 0;
		goto out_remaining;
	}
	window = ops->limits.max_events ? ops->limits.max_events : 1;
	if (window > DIGEST_WINDOW_MAX)
		window = DIGEST_WINDOW_MAX;
	evs = calloc(window, sizeof(*evs));
	if (evs == NULL) {
		snprintf(r->last_error, sizeof(r->last_error), "out of memory");
		i = 0;
		goto out_remaining;
	}
	for (i = 0; i < q.n; ) {
		struct sink_message m = { 0 };
		struct sink_settings one = *s;
		struct http_result hr;
		struct outbox_outcome oc = { 0 };
		size_t w, k;
		int prc;

		if (!force && q.e[i].meta.next_try > run_wall(clk)) {
			r->waiting = r->messages == 0;
			break;
		}
		if (budget_spent(clk)) {
			r->out_of_budget = true;
			break;
		}
		/* the service's rate limit: space requests to one endpoint */
		if (last_post_end && ops->limits.min_interval_ns &&
		    !wait_until(clk, last_post_end + ops->limits.min_interval_ns)) {
			r->out_of_budget = true;
			break;
		}
		w = read_window(&q, i, window, evs);
		if (w == 0) {
			/* the head vanished or broke under us: leave it to the next load */
			snprintf(r->last_error, sizeof(r->last_error), "%s.json could not be read",
				 q.e[i].id);
			break;
		}
		/* signatures carry the real time: receivers refuse stale timestamps, whatever
		 * reference clock the caller runs this with */
		rc = ops->format(s, evs, w, util_wall_ns(), &m);
		if (rc < 0 || m.nevents == 0 || m.nevents > w) {
			oc.status = 0;
			snprintf(err, sizeof(err), "cannot format the message: %s",
				 rc < 0 ? strerror(-rc) : "formatter took no event");
			record_failure(&q, i, 1, &oc, err, run_wall(clk), &r->next_try);
			alert_copy_text(r->last_error, sizeof(r->last_error), err);
			log_warnx("alert delivery to sink %s failed: %s", r->name, err);
			sink_message_clear(&m);
			r->failed++;
			break;
		}
		k = m.nevents;
		if (clk->deadline) {
			uint64_t mono = util_now_ns();
			uint64_t left = clk->deadline > mono ? clk->deadline - mono : 0;
			uint64_t t = one.timeout_ns ? one.timeout_ns : WEBHOOK_DEFAULT_TIMEOUT_NS;
			if (left < MIN_REQUEST_TIMEOUT_NS)
				left = MIN_REQUEST_TIMEOUT_NS;
			one.timeout_ns = t < left ? t : left;
		}
		prc = webhook_post(&one, &m, &hr);
		last_post_end = util_now_ns();
		sink_message_clear(&m);
		r->last_status = prc == 0 ? hr.status : 0;
		if (prc == 0 && hr.status >= 200 && hr.status < 300) {
			for (size_t j = i; j < i + k; j++)
				remove_event(&q, &q.e[j]);
			/* the removals themselves must survive a crash: no event goes twice */
			if (fsync(q.fd) == -1)
				log_warn("outbox: cannot sync %s", q.sdir);
			r->delivered += k;
			r->messages++;
			i += k;
			continue;
		}
		/* failed: when to try again, and stop this sink so order holds */
		oc.status = prc == 0 ? hr.status : 0;
		if (prc == 0 && (hr.status == 429 || hr.status == 503)) {
			uint64_t body_ns = 0;
			if (hr.has_retry_after) {
				oc.has_retry_after = true;
				oc.retry_after_ns = hr.retry_after_ns;
			}
			if (ops->retry_after &&
			    ops->retry_after(hr.body, hr.body_len, &body_ns) == 0 &&
			    (!oc.has_retry_after || body_ns > oc.retry_after_ns)) {
				oc.has_retry_after = true;
				oc.retry_after_ns = body_ns;
			}
		}
		describe_failure(&hr, prc, err, sizeof(err));
		record_failure(&q, i, k, &oc, err, run_wall(clk), &r->next_try);
		alert_copy_text(r->last_error, sizeof(r->last_error), err);
		r->failed++;
		{
			char when[32];
			uint64_t now = run_wall(clk);
			util_fmt_duration(r->next_try > now ? r->next_try - now : 0, when,
					  sizeof(when));
			log_warnx("alert delivery to sink %s failed: %s; %zu event%s stay%s queued, "
				  "next try in %s", r->name, err, q.n - i, q.n - i == 1 ? "" : "s",
				  q.n - i == 1 ? "s" : "", when);
		}
		break;
	}
out_remaining:
	r->remaining = q.n - i;
	if (r->remaining > 0 && r->next_try == 0)
		r->next_try = q.e[i].meta.next_try;
out:
	free(evs);
	queue_clear(&q);
}

int
outbox_deliver(const char *dir, const struct sink_settings *sinks, size_t nsinks,
	       uint64_t now_wall_ns, bool force, uint64_t budget_ns,
	       struct outbox_report *rep, char *err, size_t errlen)
{
	struct run_clock clk;
	char **names = NULL;
	size_t nnames = 0;
	int outfd = -1, rc = 0;

	memset(rep, 0, sizeof(*rep));
	clk.wall0 = now_wall_ns;
	clk.mono0 = util_now_ns();
	clk.deadline = budget_ns ? clk.mono0 + budget_ns : 0;
	if (nsinks > 0) {
		rep->sinks = calloc(nsinks, sizeof(*rep->sinks));
		if (rep->sinks == NULL) {
			snprintf(err, errlen, "outbox: out of memory");
			return -ENOMEM;
		}
	}
	rep->nsinks = nsinks;

	/* one open of the outbox for the run: every sink directory is reached from it. None
	 * yet (-1): nothing is queued anywhere. */
	outfd = dir_open_at(AT_FDCWD, dir);
	if (outfd == -ENOENT)
		outfd = -1;
	else if (outfd < 0)
		rc = outfd;
	else
		rc = sink_names_at(outfd, &names, &nnames);
	if (rc < 0) {
		snprintf(err, errlen, "outbox %s: %s", dir, strerror(-rc));
		goto out;
	}
	/* directories nobody is configured for: report them, touch nothing */
	for (size_t i = 0; i < nnames; i++) {
		bool known = false;
		for (size_t k = 0; k < nsinks && !known; k++) {
			char name[OUTBOX_NAME_MAX];
			safe_name(sinks[k].name ? sinks[k].name : "", name, sizeof(name));
			known = strcmp(name, names[i]) == 0;
		}
		if (known)
			continue;
		char **nu = realloc(rep->unknown, (rep->nunknown + 1) * sizeof(*nu));
		if (nu == NULL) {
			rc = -ENOMEM;
			snprintf(err, errlen, "outbox: out of memory");
			goto out;
		}
		rep->unknown = nu;
		rep->unknown[rep->nunknown++] = names[i];
		names[i] = NULL;
	}
	outbox_names_free(names, nnames);
	names = NULL;
	nnames = 0;

	for (size_t k = 0; k < nsinks; k++) {
		struct outbox_sink_report *r = &rep->sinks[k];

		deliver_sink(outfd, dir, &sinks[k], &clk, force, r);
		rep->delivered += r->delivered;
		rep->messages += r->messages;
		rep->failed += r->failed;
		rep->dead += r->dead;
		rep->quarantined += r->quarantined;
		rep->remaining += r->remaining;
		rep->out_of_budget |= r->out_of_budget;
	}
out:
	outbox_names_free(names, nnames);
	if (rc < 0)
		outbox_report_clear(rep);
	if (outfd >= 0)
		close(outfd);
	return rc;
}
