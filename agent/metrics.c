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

#include "agent/grade.h"
#include "alerts/event.h"
#include "common/fileio.h"

/* Label values escape backslash, quote and newline (text format 0.0.4) and must be UTF-8
 * (Prometheus refuses the file otherwise): a label cut by bytes (a long target name) or
 * bytes from outside get U+FFFD where a character is broken. */
static void
put_label(FILE *f, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		uint32_t cp;
		bool valid;
		size_t k = alert_utf8_next(s, n, &cp, &valid);

		if (!valid)
			fputs("\xef\xbf\xbd", f);
		else if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fwrite(s, 1, k, f);
		s += k;
		n -= k;
	}
}

/* The per-port families after port_open: held apart until finish, because each family's
 * lines must be contiguous while entries pass by only once. */
enum { HELD_UNACK, HELD_DOWN, HELD_RTT, HELD_FINDING, NHELD };

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
	[HELD_RTT] =
	"# HELP watch53_probe_rtt_seconds Round-trip time of the port's probe in the last cycle (only ports that answered).\n"
	"# TYPE watch53_probe_rtt_seconds gauge\n",
	[HELD_FINDING] =
	"# HELP watch53_finding A DNS finding of an address with an open port (1 while it stands; the line goes when it does).\n"
	"# TYPE watch53_finding gauge\n",
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
	const char *vantage; /* the label of every line (the caller's, outlives w) */
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

/* The labels every per-port line has: {address,protocol,target,...}. */
static void
port_labels(FILE *f, const char *metric, const char *addr, enum probe_slot s,
	    const char *target)
{
	fprintf(f, "%s{address=\"%s\",protocol=\"%s\",target=\"", metric, addr, probe_slot_name(s));
	put_label(f, target);
	fputc('"', f);
}

/* ...,expect="open|closed",vantage="..."} v: the port gauges carry the expectation, so a
 * rule can tell an exposure from an outage without joining on the config */
static void
port_line(const struct metrics_writer *w, FILE *f, const char *metric, const char *addr,
	  enum probe_slot s, const struct bl_entry *e, const char *target, int v)
{
	port_labels(f, metric, addr, s, target);
	fprintf(f, ",expect=\"%s\",vantage=\"",
		probe_state_name(e->expect_open[s] ? PROBE_OPEN : PROBE_CLOSED));
	put_label(f, w->vantage);
	fprintf(f, "\"} %d\n", v);
}

/* Is any port of e open in its last observation? Findings stand only while the server
 * answers: a closed server is no open resolver. */
static bool
any_open(const struct bl_entry *e)
{
	for (int s = 0; s < PROBE_NSLOTS; s++)
		if (e->port[s].known && e->port[s].last == PROBE_OPEN)
			return true;
	return false;
}

/* One line per finding of e's kept DNS facts (grade.h names, rates and places them). */
static void
finding_lines(const struct metrics_writer *w, FILE *f, const char *addr,
	      const struct bl_entry *e, const char *target)
{
	struct grade g;

	if (!any_open(e))
		return;
	grade_dns(&e->dns, &g);
	for (unsigned b = 1; b != 0 && b <= g.findings; b <<= 1) {
		if (!(g.findings & b))
			continue;
		fprintf(f, "watch53_finding{address=\"%s\",protocol=\"%s\",finding=\"%s\","
			"severity=\"%s\",target=\"", addr,
			probe_slot_name(grade_finding_slot(b)), grade_finding_name(b),
			alert_severity_name(grade_finding_severity(b)));
		put_label(f, target);
		fputs("\",vantage=\"", f);
		put_label(f, w->vantage);
		fputs("\"} 1\n", f);
	}
}

static int
writer_entry(struct metrics_writer *w, const struct bl_entry *e, const struct probe_result *obs)
{
	const char *target = e->target ? e->target : "";
	char addr[NETADDR_STRLEN];

	if (w->rc < 0)
		return w->rc;
	errno = 0;
	net_addr_str(&e->addr, addr, sizeof(addr));
	for (int s = 0; s < PROBE_NSLOTS; s++) {
		const struct bl_port *p = &e->port[s];
		enum probe_slot slot = (enum probe_slot)s;

		if (!p->known)
			continue;
		port_line(w, w->out, "watch53_port_open", addr, slot, e, target,
			  p->last == PROBE_OPEN);
		port_line(w, w->held[HELD_UNACK], "watch53_port_unacknowledged", addr, slot, e,
			  target, baseline_unacknowledged(e, slot));
		if (e->expect_open[s])
			port_line(w, w->held[HELD_DOWN], "watch53_port_expected_down", addr,
				  slot, e, target, !p->reported_open);
		/* the state keeps no round-trip times: only the cycle's observation has them */
		if (obs != NULL && obs->out[s].state != PROBE_STATE_NONE &&
		    obs->out[s].rtt_us >= 0) {
			FILE *r = w->held[HELD_RTT];

			port_labels(r, "watch53_probe_rtt_seconds", addr, slot, target);
			fputs(",vantage=\"", r);
			put_label(r, w->vantage);
			fprintf(r, "\"} %.6f\n", (double)obs->out[s].rtt_us / 1e6);
		}
	}
	finding_lines(w, w->held[HELD_FINDING], addr, e, target);
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

/* name{vantage="..."} value: a line of the families that are not per address. */
static void
cycle_line(const struct metrics_writer *w, const char *name)
{
	fprintf(w->out, "%s{vantage=\"", name);
	put_label(w->out, w->vantage);
	fputs("\"} ", w->out);
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
	for (int t = 0; t < ALERT_NTYPES; t++) {
		if (t == ALERT_TEST)
			continue;
		fprintf(f, "watch53_events_total{type=\"%s\",vantage=\"",
			alert_type_name((enum alert_type)t));
		put_label(f, w->vantage);
		fprintf(f, "\"} %" PRIu64 "\n", mc->events_total ? mc->events_total[t] : 0);
	}
	fputs("# HELP watch53_last_cycle_timestamp_seconds When the last cycle ended.\n"
	      "# TYPE watch53_last_cycle_timestamp_seconds gauge\n", f);
	cycle_line(w, "watch53_last_cycle_timestamp_seconds");
	fprintf(f, "%.3f\n", (double)mc->wall_ns / 1e9);
	fputs("# HELP watch53_cycle_duration_seconds How long the last cycle took.\n"
	      "# TYPE watch53_cycle_duration_seconds gauge\n", f);
	cycle_line(w, "watch53_cycle_duration_seconds");
	fprintf(f, "%.3f\n", (double)mc->duration_ns / 1e9);
	fputs("# HELP watch53_addresses_probed Addresses probed in the last cycle.\n"
	      "# TYPE watch53_addresses_probed gauge\n", f);
	cycle_line(w, "watch53_addresses_probed");
	fprintf(f, "%" PRIu64 "\n", mc->addresses);
	fputs("# HELP watch53_degraded Whether the last cycle could not probe (1) or could (0).\n"
	      "# TYPE watch53_degraded gauge\n", f);
	cycle_line(w, "watch53_degraded");
	fprintf(f, "%d\n", degraded ? 1 : 0);
	if (mc->outbox_backlog >= 0) {
		fputs("# HELP watch53_outbox_backlog Events waiting for delivery.\n"
		      "# TYPE watch53_outbox_backlog gauge\n", f);
		cycle_line(w, "watch53_outbox_backlog");
		fprintf(f, "%ld\n", mc->outbox_backlog);
	}
	/* dead letters are a gauge of files (people remove them), not a counter: no _total */
	if (mc->alerts_known) {
		fputs("# HELP watch53_alerts_delivered_last_cycle Events delivered to sinks in the last cycle (the service: since the cycle before).\n"
		      "# TYPE watch53_alerts_delivered_last_cycle gauge\n", f);
		cycle_line(w, "watch53_alerts_delivered_last_cycle");
		fprintf(f, "%" PRIu64 "\n", mc->alerts_delivered);
		fputs("# HELP watch53_alerts_dead_letter Events given up on after max_age, waiting in dead-letter folders.\n"
		      "# TYPE watch53_alerts_dead_letter gauge\n", f);
		cycle_line(w, "watch53_alerts_dead_letter");
		fprintf(f, "%" PRIu64 "\n", mc->alerts_dead);
		fputs("# HELP watch53_alerts_quarantined Outbox files that did not parse, set aside in quarantine folders.\n"
		      "# TYPE watch53_alerts_quarantined gauge\n", f);
		cycle_line(w, "watch53_alerts_quarantined");
		fprintf(f, "%" PRIu64 "\n", mc->alerts_quarantined);
	}
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
metrics_writer_new(const char *path, const char *vantage, struct metrics_writer **out,
		   char *err, size_t errlen)
{
	struct metrics_writer *w;
	int fd = -1, rc;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		rc = -ENOMEM;
		goto bad;
	}
	w->vantage = vantage != NULL ? vantage : "";
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
metrics_writer_entry(struct metrics_writer *w, const struct bl_entry *e,
		     const struct probe_result *obs)
{
	return writer_entry(w, e, obs);
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
metrics_render(const struct state *st, const struct metrics_cycle *mc, const char *vantage,
	       char **out, size_t *len)
{
	struct metrics_writer w = { .mem = true, .vantage = vantage != NULL ? vantage : "" };
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
			rc = writer_entry(&w, &st->entries[i], NULL);
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
	      const char *vantage, char *err, size_t errlen)
{
	struct metrics_writer *w;
	int rc = metrics_writer_new(path, vantage, &w, err, errlen);

	if (rc < 0)
		return rc;
	/* a failed entry is kept in w and reported, with the file's name, by finish */
	for (size_t i = 0; i < st->n; i++)
		if (st->entries[i].last_cycle == mc->cycle &&
		    metrics_writer_entry(w, &st->entries[i], NULL) < 0)
			break;
	return metrics_writer_finish(w, st->degraded, mc, err, errlen);
}
