/* metrics: Prometheus textfile exposition of the last cycle. */
#define _GNU_SOURCE
#include "agent/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"

/* Label values escape backslash, quote and newline (text format 0.0.4). */
static void
put_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* The per-port families after port_open: held apart until finish, because each family's
 * lines must be contiguous while entries pass by only once. */
enum { HELD_UNACK, HELD_DOWN, NHELD };

static const char hdr_open[] =
	"# HELP watch53_port_open Whether the port gave evidence of being open in the last cycle.\n"
	"# TYPE watch53_port_open gauge\n";
static const char *const hdr_held[NHELD] = {
	[HELD_UNACK] =
	"# HELP watch53_port_unacknowledged Open against expectation and not accepted into the baseline.\n"
	"# TYPE watch53_port_unacknowledged gauge\n",
	[HELD_DOWN] =
	"# HELP watch53_port_expected_down Whether a port its target expects open is reported down (only such ports are listed).\n"
	"# TYPE watch53_port_expected_down gauge\n",
};

/* One writer serves the file and metrics_render's memory buffer, so the line formats have one
 * code path. */
struct metrics_writer {
	FILE *out;      /* port_open now; at finish, the held families and the rest */
	FILE *held[NHELD]; /* the held families so far */
	bool mem;       /* out and held are memstreams (metrics_render) */
	char *obuf, *hbuf[NHELD]; /* their buffers when mem */
	size_t olen, hlen[NHELD];
	char *path;     /* the file replaced at finish; NULL when mem */
	char *tmp;      /* out's temp name, removed unless renamed; NULL when none */
	int rc;         /* first write error: later output would be a file with a hole */
};

/* stdio keeps a failure in the stream's error flag; errno is the failing call's (callers clear
 * it before writing). */
static int
stream_rc(struct metrics_writer *w)
{
	bool bad = ferror(w->out);

	for (int i = 0; i < NHELD; i++)
		bad |= ferror(w->held[i]) != 0;
	if (w->rc == 0 && bad)
		w->rc = errno != 0 ? -errno : -EIO;
	return w->rc;
}

static int
writer_begin(struct metrics_writer *w)
{
	errno = 0;
	fputs(hdr_open, w->out);
	for (int i = 0; i < NHELD; i++)
		fputs(hdr_held[i], w->held[i]);
	return stream_rc(w);
}

static void
port_line(FILE *f, const char *metric, const char *addr, enum probe_slot s, const char *target,
	  int v)
{
	fprintf(f, "%s{address=\"%s\",protocol=\"%s\",target=\"", metric, addr, probe_slot_name(s));
	put_label(f, target);
	fprintf(f, "\"} %d\n", v);
}

static int
writer_entry(struct metrics_writer *w, const struct bl_entry *e)
{
	const char *target = e->target ? e->target : "";
	char addr[NETADDR_STRLEN];

	if (w->rc < 0)
		return w->rc;
	errno = 0;
	net_addr_str(&e->addr, addr, sizeof(addr));
	for (int s = 0; s < PROBE_NSLOTS; s++) {
		const struct bl_port *p = &e->port[s];

		if (!p->known)
			continue;
		port_line(w->out, "watch53_port_open", addr, (enum probe_slot)s, target,
			  p->last == PROBE_OPEN);
		port_line(w->held[HELD_UNACK], "watch53_port_unacknowledged", addr,
			  (enum probe_slot)s, target, baseline_unacknowledged(e, (enum probe_slot)s));
		if (e->expect_open[s])
			port_line(w->held[HELD_DOWN], "watch53_port_expected_down", addr,
				  (enum probe_slot)s, target, !p->reported_open);
	}
	return stream_rc(w);
}

static void
append_held(struct metrics_writer *w, int i)
{
	char buf[16384];
	size_t n;

	if (w->mem) {
		/* a memstream's buffer is current only after fflush */
		if (fflush(w->held[i]) == 0)
			fwrite(w->hbuf[i], 1, w->hlen[i], w->out);
		return;
	}
	if (fseek(w->held[i], 0, SEEK_SET) != 0) {
		w->rc = errno != 0 ? -errno : -EIO; /* not every fseek failure sets the error flag */
		return;
	}
	while ((n = fread(buf, 1, sizeof(buf), w->held[i])) > 0)
		if (fwrite(buf, 1, n, w->out) != n)
			return;
}

/* The held families, then everything that is not per address. */
static int
writer_tail(struct metrics_writer *w, bool degraded, const struct metrics_cycle *mc)
{
	FILE *f = w->out;

	if (w->rc < 0)
		return w->rc;
	errno = 0;
	for (int i = 0; i < NHELD && w->rc == 0; i++)
		append_held(w, i);
	fputs("# HELP watch53_events_total Events raised, by type.\n"
	      "# TYPE watch53_events_total counter\n", f);
	for (int t = 0; t < ALERT_NTYPES; t++)
		if (t != ALERT_TEST)
			fprintf(f, "watch53_events_total{type=\"%s\"} %" PRIu64 "\n",
				alert_type_name((enum alert_type)t),
				mc->events_total ? mc->events_total[t] : 0);
	fprintf(f, "# HELP watch53_last_cycle_timestamp_seconds When the last cycle ended.\n"
		   "# TYPE watch53_last_cycle_timestamp_seconds gauge\n"
		   "watch53_last_cycle_timestamp_seconds %.3f\n"
		   "# HELP watch53_cycle_duration_seconds How long the last cycle took.\n"
		   "# TYPE watch53_cycle_duration_seconds gauge\n"
		   "watch53_cycle_duration_seconds %.3f\n"
		   "# HELP watch53_addresses_probed Addresses probed in the last cycle.\n"
		   "# TYPE watch53_addresses_probed gauge\n"
		   "watch53_addresses_probed %" PRIu64 "\n"
		   "# HELP watch53_degraded Whether the last cycle could not probe (1) or could (0).\n"
		   "# TYPE watch53_degraded gauge\n"
		   "watch53_degraded %d\n",
		(double)mc->wall_ns / 1e9, (double)mc->duration_ns / 1e9, mc->addresses,
		degraded ? 1 : 0);
	if (mc->outbox_backlog >= 0)
		fprintf(f, "# HELP watch53_outbox_backlog Events waiting for delivery.\n"
			   "# TYPE watch53_outbox_backlog gauge\n"
			   "watch53_outbox_backlog %ld\n", mc->outbox_backlog);
	/* dead letters are a gauge of files (people remove them), not a counter: no _total */
	if (mc->alerts_known)
		fprintf(f, "# HELP watch53_alerts_delivered_last_cycle Events delivered to sinks in the last cycle.\n"
			   "# TYPE watch53_alerts_delivered_last_cycle gauge\n"
			   "watch53_alerts_delivered_last_cycle %" PRIu64 "\n"
			   "# HELP watch53_alerts_dead_letter Events given up on after max_age, waiting in dead-letter folders.\n"
			   "# TYPE watch53_alerts_dead_letter gauge\n"
			   "watch53_alerts_dead_letter %" PRIu64 "\n"
			   "# HELP watch53_alerts_quarantined Outbox files that did not parse, set aside in quarantine folders.\n"
			   "# TYPE watch53_alerts_quarantined gauge\n"
			   "watch53_alerts_quarantined %" PRIu64 "\n",
			mc->alerts_delivered, mc->alerts_dead, mc->alerts_quarantined);
	return stream_rc(w);
}

void
metrics_writer_free(struct metrics_writer *w)
{
	if (w == NULL)
		return;
	if (w->out != NULL)
		fclose(w->out);
	for (int i = 0; i < NHELD; i++) {
		if (w->held[i] != NULL)
			fclose(w->held[i]);
		free(w->hbuf[i]);
	}
	if (w->tmp != NULL)
		unlink(w->tmp);
	free(w->tmp);
	free(w->path);
	free(w->obuf);
	free(w);
}

/* A stream for a held family: a temp file beside path, unlinked at once. 0 or -errno. */
static int
held_open(const char *path, FILE **f)
{
	char *tmp = NULL;
	int fd, rc = 0;

	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return -ENOMEM;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		rc = -errno;
	else if (unlink(tmp) == -1 || (*f = fdopen(fd, "w+")) == NULL) {
		rc = -errno;
		close(fd);
	}
	free(tmp);
	return rc;
}

int
metrics_writer_new(const char *path, struct metrics_writer **out, char *err, size_t errlen)
{
	struct metrics_writer *w;
	int fd = -1, rc;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		rc = -ENOMEM;
		goto bad;
	}
	if ((w->path = strdup(path)) == NULL || asprintf(&w->tmp, "%s.tmp.XXXXXX", path) < 0) {
		w->tmp = NULL;
		rc = -ENOMEM;
		goto bad;
	}
	if ((fd = mkostemp(w->tmp, O_CLOEXEC)) == -1) {
		rc = -errno;
		free(w->tmp);
		w->tmp = NULL; /* nothing was created */
		goto bad;
	}
	/* mkostemp makes 0600; node_exporter runs as another user */
	if (fchmod(fd, 0644) == -1 || (w->out = fdopen(fd, "w")) == NULL) {
		rc = -errno;
		goto bad;
	}
	fd = -1;
	/* The held families wait in files beside path, unlinked at once: on disk (not memory
	 * or a tmpfs), and gone with the process whatever happens. */
	for (int i = 0; i < NHELD; i++)
		if ((rc = held_open(path, &w->held[i])) < 0)
			goto bad;
	if ((rc = writer_begin(w)) < 0)
		goto bad;
	*out = w;
	return 0;
bad:
	if (fd != -1)
		close(fd);
	metrics_writer_free(w);
	snprintf(err, errlen, "metrics_file %s: %s", path, strerror(-rc));
	return rc;
}

int
metrics_writer_entry(struct metrics_writer *w, const struct bl_entry *e)
{
	return writer_entry(w, e);
}

int
metrics_writer_finish(struct metrics_writer *w, bool degraded, const struct metrics_cycle *mc,
		      char *err, size_t errlen)
{
	int rc = writer_tail(w, degraded, mc);

	if (rc == 0 && (fflush(w->out) != 0 || fsync(fileno(w->out)) == -1))
		rc = -errno;
	if (rc == 0) {
		FILE *f = w->out;

		w->out = NULL;
		if (fclose(f) != 0)
			rc = -errno;
	}
	if (rc == 0 && rename(w->tmp, w->path) == -1)
		rc = -errno;
	if (rc == 0) {
		free(w->tmp);
		w->tmp = NULL; /* renamed: nothing to remove */
		rc = file_sync_dir(w->path);
	}
	if (rc < 0)
		snprintf(err, errlen, "metrics_file %s: %s", w->path, strerror(-rc));
	metrics_writer_free(w);
	return rc;
}

int
metrics_render(const struct state *st, const struct metrics_cycle *mc, char **out, size_t *len)
{
	struct metrics_writer w = { .mem = true };
	int rc;

	rc = (w.out = open_memstream(&w.obuf, &w.olen)) == NULL ? -ENOMEM : 0;
	for (int i = 0; i < NHELD && rc == 0; i++)
		if ((w.held[i] = open_memstream(&w.hbuf[i], &w.hlen[i])) == NULL)
			rc = -ENOMEM;
	if (rc < 0)
		goto out;
	rc = writer_begin(&w);
	for (size_t i = 0; i < st->n && rc == 0; i++)
		if (st->entries[i].last_cycle == mc->cycle)
			rc = writer_entry(&w, &st->entries[i]);
	if (rc == 0)
		rc = writer_tail(&w, st->degraded, mc);
out:
	/* closing a memstream sets its buffer and length for the last time */
	if (w.out != NULL && fclose(w.out) != 0 && rc == 0)
		rc = -ENOMEM;
	for (int i = 0; i < NHELD; i++) {
		if (w.held[i] != NULL)
			fclose(w.held[i]);
		free(w.hbuf[i]);
	}
	if (rc < 0) {
		free(w.obuf);
		return rc;
	}
	*out = w.obuf;
	*len = w.olen;
	return 0;
}

int
metrics_write(const char *path, const struct state *st, const struct metrics_cycle *mc,
	      char *err, size_t errlen)
{
	struct metrics_writer *w;
	int rc = metrics_writer_new(path, &w, err, errlen);

	if (rc < 0)
		return rc;
	/* a failed entry is kept in w and reported, with the file's name, by finish */
	for (size_t i = 0; i < st->n; i++)
		if (st->entries[i].last_cycle == mc->cycle &&
		    metrics_writer_entry(w, &st->entries[i]) < 0)
			break;
	return metrics_writer_finish(w, st->degraded, mc, err, errlen);
}
