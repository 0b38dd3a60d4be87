/* outbox: durable per-sink spool of events. */
#define _GNU_SOURCE
#include "alerts/outbox.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"

static int
ensure_dir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return -errno;
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

int
outbox_put(const char *dir, const char *sink, const struct alert_event *ev, char *err,
	   size_t errlen)
{
	char sdir[PATH_MAX], path[PATH_MAX], name[64], json[ALERT_JSON_MAX + 1];
	int rc, len;

	safe_name(sink, name, sizeof(name));
	if ((rc = ensure_dir(dir)) < 0) {
		snprintf(err, errlen, "outbox %s: %s", dir, strerror(-rc));
		return rc;
	}
	if (snprintf(sdir, sizeof(sdir), "%s/%s", dir, name) >= (int)sizeof(sdir) ||
	    snprintf(path, sizeof(path), "%s/%s.json", sdir, ev->id) >= (int)sizeof(path)) {
		snprintf(err, errlen, "outbox %s: path too long", dir);
		return -ENAMETOOLONG;
	}
	if ((rc = ensure_dir(sdir)) < 0) {
		snprintf(err, errlen, "outbox %s: %s", sdir, strerror(-rc));
		return rc;
	}
	len = alert_event_to_json(ev, json, sizeof(json) - 1);
	if (len < 0) {
		snprintf(err, errlen, "outbox: event %s does not serialize: %s", ev->id,
			 strerror(-len));
		return len;
	}
	json[len++] = '\n';
	rc = file_write_atomic(path, json, (size_t)len, 0600);
	if (rc < 0) {
		snprintf(err, errlen, "outbox %s: %s", path, strerror(-rc));
		return rc;
	}
	/* the sink directory entry itself must survive a crash too */
	return file_sync_dir(sdir);
}

long
outbox_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	long n = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		char sub[PATH_MAX];
		DIR *sd;
		struct dirent *se;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >= (int)sizeof(sub))
			continue;
		sd = opendir(sub);
		if (sd == NULL)
			continue;
		while ((se = readdir(sd)) != NULL) {
			size_t l = strlen(se->d_name);
			if (se->d_name[0] != '.' && l > 5 && strcmp(se->d_name + l - 5, ".json") == 0)
				n++;
		}
		closedir(sd);
	}
	closedir(d);
	return n;
}
