/* test_outbox: the retry schedule, the spool's files (metadata, ordering, quarantine, dead
 * letters) and delivery through the real webhook.c against a tiny HTTP server this test runs
 * on 127.0.0.1 in a thread: it answers with scripted statuses and records what it got. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "alerts/outbox.h"
#include "alerts/webhook.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/util.h"

#define SEC NS_PER_SEC

/* ---- the fake sink, handed over as sink_settings.ops ---- */

/* A formatter that puts the ids of up to max_events events in a JSON body, so the server
 * side can tell which events each request carried. */
static size_t fake_max_events = 1;
static size_t formatted_counts[64], nformatted;

static int
fake_format(const struct sink_settings *s, const struct alert_event *ev, size_t n,
	    uint64_t now_ns, struct sink_message *m)
{
	size_t k = n < fake_max_events ? n : fake_max_events, off = 0;
	char *body = malloc(64 + k * (ALERT_ID_LEN + 4));
	(void)now_ns;

	if (body == NULL)
		return -ENOMEM;
	off += (size_t)sprintf(body, "{\"ids\":[");
	for (size_t i = 0; i < k; i++)
		off += (size_t)sprintf(body + off, "%s\"%s\"", i ? "," : "", ev[i].id);
	off += (size_t)sprintf(body + off, "]}");
	m->body = body;
	m->body_len = off;
	m->url = strdup(s->url);
	m->headers[0] = strdup("Content-Type: application/json");
	m->nheaders = 1;
	m->nevents = k;
	if (m->url == NULL || m->headers[0] == NULL)
		return -ENOMEM;
	return 0;
}

static int
fake_retry_after(const char *body, size_t len, uint64_t *ns)
{
	const char *p = memmem(body, len, "\"retry_after\":", 14);

	if (p == NULL)
		return -ENOENT;
	*ns = strtoull(p + 14, NULL, 10) * SEC;
	return 0;
}

static struct sink_ops fake = {
	.kind = SINK_KIND_WEBHOOK,
	.limits = { .max_events = 1, .max_bytes = 0, .min_interval_ns = 0 },
	.format = fake_format,
	.retry_after = fake_retry_after,
};

/* Wraps a real formatter to record how many events each message carried. */
static const struct sink_ops *recorded_real;

static int
recording_format(const struct sink_settings *s, const struct alert_event *ev, size_t n,
		 uint64_t now_ns, struct sink_message *m)
{
	int rc = recorded_real->format(s, ev, n, now_ns, m);

	if (rc == 0 && nformatted < 64)
		formatted_counts[nformatted++] = m->nevents;
	return rc;
}

/* ---- the HTTP server ---- */

struct reply {
	int status;
	char headers[256]; /* extra header lines, each ending in \r\n */
	char body[256];
};

struct request {
	char line[256];
	char headers[4096];
	char body[8192];
	uint64_t at_ns;    /* monotonic arrival */
};

#define MAX_REQ 64

static struct {
	int fd;
	uint16_t port;
	pthread_t thread;
	pthread_mutex_t mu;
	struct reply script[16];
	size_t nscript, next;
	struct request req[MAX_REQ];
	size_t nreq;
} srv;

static void
serve_one(int c)
{
	char buf[32768];
	size_t n = 0, hlen = 0, clen = 0;
	struct reply rp = { .status = 200, .body = "ok" };
	char out[1024];
	int len;

	for (;;) {
		ssize_t r = recv(c, buf + n, sizeof(buf) - 1 - n, 0);
		char *end;
		if (r <= 0)
			return;
		n += (size_t)r;
		buf[n] = '\0';
		if (hlen == 0 && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl;
			hlen = (size_t)(end - buf) + 4;
			cl = strcasestr(buf, "\r\nContent-Length:");
			if (cl && cl < end)
				clen = strtoul(cl + 17, NULL, 10);
		}
		if (hlen && n >= hlen + clen)
			break;
		if (n == sizeof(buf) - 1)
			return;
	}
	pthread_mutex_lock(&srv.mu);
	if (srv.nreq < MAX_REQ) {
		struct request *q = &srv.req[srv.nreq++];
		const char *eol = strstr(buf, "\r\n");
		snprintf(q->line, sizeof(q->line), "%.*s", (int)(eol - buf), buf);
		snprintf(q->headers, sizeof(q->headers), "%.*s", (int)hlen, buf);
		snprintf(q->body, sizeof(q->body), "%.*s", (int)clen, buf + hlen);
		q->at_ns = util_now_ns();
	}
	if (srv.next < srv.nscript)
		rp = srv.script[srv.next++];
	pthread_mutex_unlock(&srv.mu);
	len = snprintf(out, sizeof(out),
		       "HTTP/1.1 %d Scripted\r\nContent-Length: %zu\r\nConnection: close\r\n"
		       "%s\r\n%s", rp.status, strlen(rp.body), rp.headers, rp.body);
	(void)send(c, out, (size_t)len, MSG_NOSIGNAL);
}

static void *
server_main(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(srv.fd, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			break; /* shut down */
		}
		serve_one(c);
		close(c);
	}
	return NULL;
}

static void
server_start(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int one = 1;

	memset(&srv.script, 0, sizeof(srv.script));
	srv.nscript = srv.next = srv.nreq = 0;
	pthread_mutex_init(&srv.mu, NULL);
	srv.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(srv.fd >= 0);
	setsockopt(srv.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(srv.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(srv.fd, 16), 0);
	assert_int_equal(getsockname(srv.fd, (struct sockaddr *)&sa, &sl), 0);
	srv.port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&srv.thread, NULL, server_main, NULL), 0);
}

static void
server_stop(void)
{
	shutdown(srv.fd, SHUT_RDWR);
	pthread_join(srv.thread, NULL);
	close(srv.fd);
	pthread_mutex_destroy(&srv.mu);
}

/* Drop replies nobody asked for (a test that expects fewer requests than it scripted). */
static void
script_reset(void)
{
	pthread_mutex_lock(&srv.mu);
	srv.nscript = srv.next = 0;
	pthread_mutex_unlock(&srv.mu);
}

static void
script(int status, const char *headers, const char *body)
{
	struct reply *r = &srv.script[srv.nscript++];

	r->status = status;
	snprintf(r->headers, sizeof(r->headers), "%s", headers ? headers : "");
	snprintf(r->body, sizeof(r->body), "%s", body ? body : "");
}

/* ---- fixtures ---- */

struct fx {
	char dir[64];
	char url[128];
	struct sink_settings sink;
};

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_outbox.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	server_start();
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u/hook/S3CRETTOKEN0042", srv.port);
	f->sink.kind = SINK_KIND_WEBHOOK;
	f->sink.name = "hook";
	f->sink.url = f->url;
	f->sink.timeout_ns = 3 * SEC;
	f->sink.max_age_ns = 72 * 3600 * SEC;
	fake = (struct sink_ops){
		.kind = SINK_KIND_WEBHOOK,
		.limits = { .max_events = 1, .max_bytes = 0, .min_interval_ns = 0 },
		.format = fake_format, .retry_after = fake_retry_after,
	};
	f->sink.ops = &fake;
	fake_max_events = 1;
	nformatted = 0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	server_stop();
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void
put_seq(const struct fx *f, const char *sink, uint64_t seq, uint64_t time_ns,
	const char *address, struct alert_event *out)
{
	struct alert_event ev;
	char err[256];

	assert_int_equal(alert_event_init(&ev, ALERT_OPENED), 0);
	ev.time_ns = time_ns;
	snprintf(ev.address, sizeof(ev.address), "%s", address);
	snprintf(ev.protocol, sizeof(ev.protocol), "tcp");
	ev.port = 53;
	ev.severity = SEV_HIGH;
	snprintf(ev.target, sizeof(ev.target), "%s", address);
	snprintf(ev.summary, sizeof(ev.summary), "TCP port 53 on %s is now open", address);
	assert_int_equal(outbox_put(f->dir, sink, seq, &ev, err, sizeof(err)), 0);
	/* time goes through the file with millisecond precision: keep what was written */
	ev.time_ns -= ev.time_ns % 1000000;
	if (out)
		*out = ev;
}

static void
put(const struct fx *f, const char *sink, uint64_t time_ns, const char *address,
    struct alert_event *out)
{
	put_seq(f, sink, 0, time_ns, address, out);
}

static bool
exists(const struct fx *f, const char *sink, const char *sub, const char *id, const char *ext)
{
	char p[512];
	struct stat sb;

	if (sub)
		snprintf(p, sizeof(p), "%s/%s/%s/%s%s", f->dir, sink, sub, id, ext);
	else
		snprintf(p, sizeof(p), "%s/%s/%s%s", f->dir, sink, id, ext);
	return stat(p, &sb) == 0;
}

static void
write_file(const struct fx *f, const char *sink, const char *name, const char *text)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", f->dir, sink);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/%s/%s", f->dir, sink, name);
	assert_int_equal(file_write_atomic(p, text, strlen(text), 0600), 0);
}

static int
deliver(struct fx *f, uint64_t now, bool force, uint64_t budget, struct outbox_report *rep)
{
	char err[256];

	return outbox_deliver(f->dir, &f->sink, 1, now, force, budget, rep, err, sizeof(err));
}

/* ---- schedule ---- */

static void
test_backoff_schedule(void **state)
{
	static const uint64_t base_s[] = { 30, 60, 120, 300, 600, 1200, 2400, 3600, 3600 };
	(void)state;

	assert_int_equal(outbox_backoff_base_ns(0), 30 * SEC);
	for (unsigned a = 1; a <= 9; a++) {
		assert_int_equal(outbox_backoff_base_ns(a), base_s[a - 1] * SEC);
		/* rnd % 401 == 200 is no jitter; 0 and 400 are the extremes */
		assert_int_equal(outbox_backoff_ns(a, 200), base_s[a - 1] * SEC);
		assert_int_equal(outbox_backoff_ns(a, 0), base_s[a - 1] * SEC * 8 / 10);
		assert_int_equal(outbox_backoff_ns(a, 400), base_s[a - 1] * SEC * 12 / 10);
	}
	/* capped: an event failing for days retries hourly, never less often */
	assert_int_equal(outbox_backoff_base_ns(1000), 3600 * SEC);
	assert_int_equal(outbox_backoff_base_ns(UINT32_MAX), 3600 * SEC);
	/* jitter stays within +-20 % for any random value, and actually varies */
	uint64_t lo = UINT64_MAX, hi = 0;
	for (uint32_t i = 0; i < 5000; i++) {
		uint32_t rnd = i * 2654435761u;
		uint64_t d = outbox_backoff_ns(3, rnd);
		assert_true(d >= 120 * SEC * 8 / 10 && d <= 120 * SEC * 12 / 10);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(hi - lo > 40 * SEC); /* most of the 48 s window is used */
}

static void
test_retry_delay_policy(void **state)
{
	struct outbox_outcome o = { 0 };
	(void)state;

	/* Retry-After honoured exactly, for 429 and 503 */
	o = (struct outbox_outcome){ .status = 429, .has_retry_after = true,
				     .retry_after_ns = 7 * SEC };
	assert_int_equal(outbox_retry_delay_ns(1, &o, 0), 7 * SEC);
	assert_int_equal(outbox_retry_delay_ns(5, &o, 12345), 7 * SEC);
	o.status = 503;
	assert_int_equal(outbox_retry_delay_ns(1, &o, 0), 7 * SEC);
	/* ... but capped at an hour */
	o.retry_after_ns = 5 * 3600 * SEC;
	assert_int_equal(outbox_retry_delay_ns(1, &o, 0), 3600 * SEC);
	/* 429 without a delay: the normal schedule */
	o = (struct outbox_outcome){ .status = 429 };
	assert_int_equal(outbox_retry_delay_ns(2, &o, 200), 60 * SEC);
	/* other 4xx and redirects: the long schedule, from the first failure */
	o = (struct outbox_outcome){ .status = 404 };
	assert_int_equal(outbox_retry_delay_ns(1, &o, 200), 3600 * SEC);
	assert_int_equal(outbox_retry_delay_ns(1, &o, 0), 3600 * SEC * 8 / 10);
	o.status = 401;
	assert_int_equal(outbox_retry_delay_ns(1, &o, 200), 3600 * SEC);
	o.status = 301;
	assert_int_equal(outbox_retry_delay_ns(1, &o, 200), 3600 * SEC);
	/* a Retry-After on a plain 4xx does not shorten it */
	o = (struct outbox_outcome){ .status = 400, .has_retry_after = true,
				     .retry_after_ns = 5 * SEC };
	assert_int_equal(outbox_retry_delay_ns(1, &o, 200), 3600 * SEC);
	/* 5xx, 408, transport failures: the normal schedule */
	o = (struct outbox_outcome){ .status = 500 };
	assert_int_equal(outbox_retry_delay_ns(1, &o, 200), 30 * SEC);
	o.status = 408;
	assert_int_equal(outbox_retry_delay_ns(4, &o, 200), 300 * SEC);
	o.status = 0;
	assert_int_equal(outbox_retry_delay_ns(8, &o, 200), 3600 * SEC);
}

static void
test_parse_retry_after(void **state)
{
	uint64_t d = 0, now = 1700000000ull * SEC; /* Tue, 14 Nov 2023 22:13:20 GMT */
	(void)state;

	assert_int_equal(webhook_parse_retry_after("7", now, &d), 0);
	assert_int_equal(d, 7 * SEC);
	assert_int_equal(webhook_parse_retry_after("  120 \r\n", now, &d), 0);
	assert_int_equal(d, 120 * SEC);
	assert_int_equal(webhook_parse_retry_after("0", now, &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(webhook_parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now, &d), 0);
	assert_int_equal(d, 30 * SEC);
	/* a date in the past: go now */
	assert_int_equal(webhook_parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now, &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(webhook_parse_retry_after("-5", now, &d), -EINVAL);
	assert_int_equal(webhook_parse_retry_after("", now, &d), -EINVAL);
	assert_int_equal(webhook_parse_retry_after("soon", now, &d), -EINVAL);
	assert_int_equal(webhook_parse_retry_after("99999999999999999999", now, &d), -EINVAL);
}

static void
test_redact(void **state)
{
	struct sink_settings s = { .name = "x", .url = "https://hooks.example.test/services/T0001/B0002/AbCdEfGhIjKlMnOp",
				   .token = "123456:telegramtoken", .proxy = "http://user:pw0rdpw0rd@proxy.test:3128" };
	struct sink_message m = { .url = "https://hooks.example.test/services/T0001/B0002/AbCdEfGhIjKlMnOp?x=querysecret99" };
	char text[256];
	(void)state;

	snprintf(text, sizeof(text), "Cannot POST /services/T0001/B0002/AbCdEfGhIjKlMnOp");
	webhook_redact(text, sizeof(text), &s, &m);
	assert_null(strstr(text, "AbCdEfGhIjKlMnOp"));
	assert_non_null(strstr(text, "Cannot POST"));
	/* a segment alone, a query value, the token, proxy credentials */
	snprintf(text, sizeof(text), "bad hook AbCdEfGhIjKlMnOp q=querysecret99 t=123456:telegramtoken "
		 "p=user:pw0rdpw0rd");
	webhook_redact(text, sizeof(text), &s, &m);
	assert_null(strstr(text, "AbCdEfGhIjKlMnOp"));
	assert_null(strstr(text, "querysecret99"));
	assert_null(strstr(text, "telegramtoken"));
	assert_null(strstr(text, "pw0rdpw0rd"));
	assert_non_null(strstr(text, "bad hook <redacted>"));
	/* a small buffer: cut, never half a secret */
	char small[24];
	snprintf(small, sizeof(small), "x AbCdEfGhIjKlMnOp yyyy");
	webhook_redact(small, sizeof(small), &s, &m);
	assert_null(strstr(small, "AbCd"));
}

/* ---- files ---- */

static void
test_meta_roundtrip_and_corrupt(void **state)
{
	struct fx *f = *state;
	struct outbox_meta m = { .attempts = 3, .first_attempt = 1700000000123456789ull,
				 .next_try = 1700000300000000000ull, .last_status = 503 }, r;
	struct alert_event ev;

	snprintf(m.last_error, sizeof(m.last_error), "HTTP 503: \"busy\"\n\\ now");
	put(f, "hook", util_wall_ns(), "127.53.0.1", &ev);
	assert_int_equal(outbox_meta_read(f->dir, "hook", ev.id, &r), -ENOENT);
	assert_int_equal(r.attempts, 0);
	assert_int_equal(outbox_meta_write(f->dir, "hook", ev.id, &m), 0);
	assert_int_equal(outbox_meta_read(f->dir, "hook", ev.id, &r), 0);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.first_attempt, m.first_attempt);
	assert_int_equal(r.next_try, m.next_try);
	assert_int_equal(r.last_status, 503);
	assert_string_equal(r.last_error, m.last_error);

	char name[64];
	static const char *const bad[] = {
		"", "{", "[]", "{\"attempts\":-1}", "{\"attempts\":\"3\"}", "{\"next_try\":1.5}",
		"{\"last_status\":1000}", "{\"last_error\":5}", "{} x", "null",
	};
	snprintf(name, sizeof(name), "%s.meta", ev.id);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(f, "hook", name, bad[i]);
		assert_int_equal(outbox_meta_read(f->dir, "hook", ev.id, &r), -EBADMSG);
	}
}

static void
test_list_order(void **state)
{
	struct fx *f = *state;
	struct alert_event a, b, c, d;
	struct outbox_entry *e = NULL;
	struct outbox_stats st;
	size_t n = 0;
	char err[256];
	uint64_t t = util_wall_ns() - 3600 * SEC;

	t -= t % 1000000;
	put(f, "hook", t + 3 * SEC, "127.53.0.3", &c);
	put(f, "hook", t + 1 * SEC, "127.53.0.1", &a);
	put(f, "hook", t + 2 * SEC, "127.53.0.2", &b);
	put(f, "hook", t + 2 * SEC, "127.53.0.4", &d); /* same time: by id */
	put(f, "other", t, "127.53.0.9", NULL);
	assert_int_equal(outbox_list(f->dir, "hook", &e, &n, &st, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(st.pending, 4);
	assert_string_equal(e[0].id, a.id);
	assert_string_equal(e[0].address, "127.53.0.1");
	assert_int_equal(e[0].time_ns, t + 1 * SEC);
	if (strcmp(b.id, d.id) < 0) {
		assert_string_equal(e[1].id, b.id);
		assert_string_equal(e[2].id, d.id);
	} else {
		assert_string_equal(e[1].id, d.id);
		assert_string_equal(e[2].id, b.id);
	}
	assert_string_equal(e[3].id, c.id);
	assert_int_equal(e[3].meta.attempts, 0);
	free(e);
	/* a sink with no directory is an empty queue */
	assert_int_equal(outbox_list(f->dir, "nobody", &e, &n, &st, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_null(e);
	assert_int_equal(outbox_count(f->dir), 5);
}

/* Events with a sequence number go in its order whatever their times and ids, after any
 * without one (an older writer's); their .meta files are named by the id, kept with the
 * event across a failed attempt and removed with it. */
static void
test_seq_order(void **state)
{
	struct fx *f = *state;
	struct alert_event a, b, c, old;
	struct outbox_entry *e = NULL;
	struct outbox_stats st;
	struct outbox_report rep;
	struct outbox_meta m;
	char err[256], name[128];
	size_t n = 0;
	uint64_t now = util_wall_ns(), t = now - 60 * SEC;

	t -= t % 1000000;
	/* one millisecond for all three: time cannot order them, nor can the ids */
	put_seq(f, "hook", 12, t, "127.53.0.3", &c);
	put_seq(f, "hook", 10, t, "127.53.0.1", &a);
	put_seq(f, "hook", 11, t, "127.53.0.2", &b);
	put(f, "hook", t + 30 * SEC, "127.53.0.9", &old);
	snprintf(name, sizeof(name), "0000000010.%s", a.id);
	assert_true(exists(f, "hook", NULL, name, ".json"));
	assert_false(exists(f, "hook", NULL, a.id, ".json"));
	assert_true(exists(f, "hook", NULL, old.id, ".json"));
	assert_int_equal(outbox_list(f->dir, "hook", &e, &n, &st, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_string_equal(e[0].id, old.id);
	assert_int_equal(e[0].seq, 0);
	assert_string_equal(e[1].id, a.id);
	assert_int_equal(e[1].seq, 10);
	assert_string_equal(e[2].id, b.id);
	assert_string_equal(e[3].id, c.id);
	assert_int_equal(e[3].seq, 12);
	free(e);

	/* on the wire in that order; the second request fails and stops the sink */
	script(200, NULL, NULL);
	script(200, NULL, NULL);
	script(500, NULL, NULL);
	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	assert_int_equal(rep.sinks[0].delivered, 2);
	assert_int_equal(rep.sinks[0].remaining, 2);
	outbox_report_clear(&rep);
	assert_int_equal(srv.nreq, 3);
	assert_non_null(strstr(srv.req[0].body, old.id));
	assert_non_null(strstr(srv.req[1].body, a.id));
	assert_non_null(strstr(srv.req[2].body, b.id));
	assert_false(exists(f, "hook", NULL, name, ".json"));
	assert_int_equal(outbox_meta_read(f->dir, "hook", b.id, &m), 0);
	assert_int_equal(m.attempts, 1);
	/* a load keeps the .meta of a numbered event (it is no orphan) */
	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	assert_true(rep.sinks[0].waiting);
	outbox_report_clear(&rep);
	assert_int_equal(outbox_meta_read(f->dir, "hook", b.id, &m), 0);
	assert_int_equal(m.attempts, 1);
	/* when due: b, then c; both files and the .meta go */
	assert_int_equal(deliver(f, now + 3600 * SEC, false, 0, &rep), 0);
	assert_int_equal(rep.sinks[0].delivered, 2);
	outbox_report_clear(&rep);
	assert_non_null(strstr(srv.req[3].body, b.id));
	assert_non_null(strstr(srv.req[4].body, c.id));
	assert_int_equal(outbox_meta_read(f->dir, "hook", b.id, &m), -ENOENT);
	assert_int_equal(outbox_count(f->dir), 0);
	/* an orphan .meta (its event gone) is removed at the next load */
	assert_int_equal(outbox_meta_write(f->dir, "hook", c.id, &m), 0);
	put_seq(f, "hook", 13, t, "127.53.0.4", &a);
	assert_int_equal(outbox_meta_write(f->dir, "hook", a.id, &m), 0);
	script(500, NULL, NULL);
	assert_int_equal(deliver(f, now, true, 0, &rep), 0);
	outbox_report_clear(&rep);
	assert_false(exists(f, "hook", NULL, c.id, ".meta"));
	assert_true(exists(f, "hook", NULL, a.id, ".meta"));
	/* names that are no event file: quarantined, not misread */
	write_file(f, "hook", "12x." "00000000-0000-8000-8000-000000000001.json", "{}");
	write_file(f, "hook", "0." "00000000-0000-8000-8000-000000000002.json", "{}");
	assert_int_equal(outbox_list(f->dir, "hook", &e, &n, &st, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(st.corrupt, 2);
	free(e);
	/* the id names the file: nothing else may */
	assert_int_equal(outbox_put_json(f->dir, "hook", 1, "../../etc/x", "{}", 2, err,
					 sizeof(err)), -EINVAL);
}

/* A corrupt event and a corrupt .meta are quarantined and reported; the good events are
 * still delivered, and listing (which moves nothing) counts the corrupt file first. */
static void
test_corrupt_quarantined(void **state)
{
	struct fx *f = *state;
	struct alert_event good1, good2;
	struct outbox_report rep;
	struct outbox_entry *e = NULL;
	struct outbox_stats st;
	size_t n = 0;
	char err[256], meta[64];
	uint64_t now = util_wall_ns();

	put(f, "hook", now - 20 * SEC, "127.53.0.1", &good1);
	put(f, "hook", now - 10 * SEC, "127.53.0.2", &good2);
	write_file(f, "hook", "0badf00d-0000-4000-8000-000000000000.json", "{\"id\": tru");
	write_file(f, "hook", "0badf00d-0000-4000-8000-000000000000.meta", "{\"attempts\":1}");
	snprintf(meta, sizeof(meta), "%s.meta", good2.id);
	write_file(f, "hook", meta, "not json at all");
	/* an event whose content names another id is not what its file name says */
	{
		char text[ALERT_JSON_MAX];
		struct alert_event x = good1;
		snprintf(x.id, sizeof(x.id), "11111111-2222-4333-8444-555555555555");
		assert_true(alert_event_to_json(&x, text, sizeof(text)) > 0);
		write_file(f, "hook", "99999999-2222-4333-8444-555555555555.json", text);
	}

	assert_int_equal(outbox_list(f->dir, "hook", &e, &n, &st, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(st.corrupt, 2);
	assert_true(e[1].meta_corrupt);
	free(e);
	assert_true(exists(f, "hook", NULL, "0badf00d-0000-4000-8000-000000000000", ".json"));

	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	assert_int_equal(rep.nsinks, 1);
	/* two events (one with its .meta) and one .meta on its own */
	assert_int_equal(rep.sinks[0].quarantined, 4);
	assert_int_equal(rep.quarantined, 4);
	assert_int_equal(rep.sinks[0].delivered, 2);
	assert_int_equal(rep.sinks[0].remaining, 0);
	assert_int_equal(srv.nreq, 2);
	assert_non_null(strstr(srv.req[0].body, good1.id));
	assert_non_null(strstr(srv.req[1].body, good2.id));
	outbox_report_clear(&rep);
	/* the bad files are kept for people, beside the queue */
	assert_true(exists(f, "hook", OUTBOX_QUARANTINE_DIR,
			   "0badf00d-0000-4000-8000-000000000000", ".json"));
	assert_true(exists(f, "hook", OUTBOX_QUARANTINE_DIR,
			   "0badf00d-0000-4000-8000-000000000000", ".meta"));
	assert_true(exists(f, "hook", OUTBOX_QUARANTINE_DIR, good2.id, ".meta"));
	assert_false(exists(f, "hook", NULL, "0badf00d-0000-4000-8000-000000000000", ".json"));
	assert_false(exists(f, "hook", NULL, good2.id, ".json"));
	assert_int_equal(outbox_list(f->dir, "hook", &e, &n, &st, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(st.quarantined, 4);
	free(e);
}

/* Captures what log_warnx writes while fn runs. */
static void
capture_stderr_begin(int *saved, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "/tmp/test_outbox_log.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	*saved = dup(2);
	dup2(fd, 2);
	close(fd);
}

static char *
capture_stderr_end(int saved, const char *path)
{
	char *text = NULL;
	size_t len = 0;

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(file_read_all(path, 1 << 20, &text, &len), 0);
	unlink(path);
	return text;
}

/* One delivery run with its warnings captured: the log text (the caller frees it). */
static char *
deliver_logged(struct fx *f, uint64_t now, bool force, struct outbox_report *rep)
{
	char logpath[64], *log;
	int saved;

	log_set_level(LOG_LVL_WARN);
	capture_stderr_begin(&saved, logpath, sizeof(logpath));
	assert_int_equal(deliver(f, now, force, 0, rep), 0);
	log = capture_stderr_end(saved, logpath);
	log_set_level(LOG_LVL_ERR);
	return log;
}

static void
test_dead_letter_after_max_age(void **state)
{
	struct fx *f = *state;
	struct alert_event old, fresh;
	struct outbox_meta m = { .attempts = 41, .first_attempt = 1, .next_try = 1,
				 .last_status = 500, .last_error = "HTTP 500: down" };
	struct outbox_report rep;
	struct outbox_entry *e = NULL;
	struct outbox_stats st;
	size_t n;
	char err[256], *log;
	uint64_t now = util_wall_ns();

	put(f, "hook", now - 73 * 3600 * SEC, "127.53.0.1", &old);
	assert_int_equal(outbox_meta_write(f->dir, "hook", old.id, &m), 0);
	put(f, "hook", now - 71 * 3600 * SEC, "127.53.0.2", &fresh);
	script(500, NULL, "still down");

	log = deliver_logged(f, now, false, &rep);

	/* the old one is given up on, said out loud, kept in dead/ */
	assert_int_equal(rep.sinks[0].dead, 1);
	assert_int_equal(rep.dead, 1);
	assert_true(exists(f, "hook", OUTBOX_DEAD_DIR, old.id, ".json"));
	assert_true(exists(f, "hook", OUTBOX_DEAD_DIR, old.id, ".meta"));
	assert_false(exists(f, "hook", NULL, old.id, ".json"));
	{
		char want[256];
		snprintf(want, sizeof(want),
			 "alert %s for sink hook moved to dead letter after 41 attempts (HTTP 500: down)",
			 old.id);
		assert_non_null(strstr(log, want));
	}
	free(log);
	/* the younger one was tried (and failed) */
	assert_int_equal(srv.nreq, 1);
	assert_non_null(strstr(srv.req[0].body, fresh.id));
	assert_int_equal(rep.sinks[0].remaining, 1);
	outbox_report_clear(&rep);
	assert_int_equal(outbox_list(f->dir, "hook", &e, &n, &st, err, sizeof(err)), 0);
	assert_int_equal(st.dead, 1);
	assert_int_equal(n, 1);
	free(e);
	struct outbox_stats all;
	assert_int_equal(outbox_stats_all(f->dir, &all), 0);
	assert_int_equal(all.dead, 1);
	assert_int_equal(all.pending, 1);
}

/* A file that is not valid UTF-8 (a name an older writer cut inside a character, or
 * damage) is quarantined like one that does not parse, even though json-c would read it:
 * no receiver is sent a body it cannot decode. The good events around it still go out. */
static void
test_not_utf8_quarantined(void **state)
{
	static const char bad_id[] = "0badf00d-0000-4000-8000-0000000000e2";
	struct fx *f = *state;
	struct alert_event good1, good2;
	struct outbox_report rep;
	struct outbox_entry *e = NULL;
	struct outbox_stats st;
	size_t n = 0;
	char err[256], text[512], when[40], name[64], *log;
	uint64_t now = util_wall_ns();

	put(f, "hook", now - 20 * SEC, "127.53.0.1", &good1);
	put(f, "hook", now - 10 * SEC, "127.53.0.2", &good2);
	/* "primary " and the first two bytes of a "€": a 64-byte cut of a name */
	snprintf(text, sizeof(text),
		 "{\"id\":\"%s\",\"type\":\"opened\",\"time\":\"%s\","
		 "\"target\":\"primary \xe2\x82\",\"address\":\"127.53.0.3\",\"protocol\":\"tcp\","
		 "\"port\":53,\"severity\":\"high\"}",
		 bad_id, util_fmt_utc_ms(now - 15 * SEC, when, sizeof(when)));
	snprintf(name, sizeof(name), "%s.json", bad_id);
	write_file(f, "hook", name, text);

	/* listing reads it as corrupt and moves nothing */
	assert_int_equal(outbox_list(f->dir, "hook", &e, &n, &st, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(st.corrupt, 1);
	free(e);

	log = deliver_logged(f, now, false, &rep);
	assert_non_null(strstr(log, name));
	assert_non_null(strstr(log, "not valid UTF-8 (byte 113)"));
	free(log);
	assert_int_equal(rep.sinks[0].quarantined, 1);
	assert_int_equal(rep.sinks[0].delivered, 2);
	assert_int_equal(rep.sinks[0].remaining, 0);
	outbox_report_clear(&rep);
	assert_int_equal(srv.nreq, 2);
	assert_non_null(strstr(srv.req[0].body, good1.id));
	assert_non_null(strstr(srv.req[1].body, good2.id));
	assert_true(exists(f, "hook", OUTBOX_QUARANTINE_DIR, bad_id, ".json"));
	assert_false(exists(f, "hook", NULL, bad_id, ".json"));
}

/* outbox/<sink> a link to a directory elsewhere: nothing is delivered from it, nothing
 * moved into it or out of it, nothing created there; a .meta that is a link counts as
 * corrupt; a put into the linked sink is refused. */
static void
test_symlinked_sink_left_alone(void **state)
{
	static const char id[] = "0badf00d-0000-4000-8000-0000000000e3";
	struct fx *f = *state;
	char other[] = "/tmp/test_outbox_other_XXXXXX", link[128], p[256], err[256];
	struct outbox_report rep;
	struct outbox_meta m;
	struct stat sb;
	char *log;

	assert_non_null(mkdtemp(other));
	snprintf(p, sizeof(p), "%s/%s.json", other, id);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("not json", fp);
	fclose(fp);
	snprintf(link, sizeof(link), "%s/hook", f->dir);
	assert_int_equal(mkdir(f->dir, 0700) == 0 || errno == EEXIST, 1);
	assert_int_equal(symlink(other, link), 0);

	log = deliver_logged(f, util_wall_ns(), true, &rep);
	assert_non_null(strstr(log, "a symbolic link?): left alone"));
	free(log);
	outbox_report_clear(&rep);
	assert_int_equal(srv.nreq, 0);
	/* the file elsewhere is where it was; no quarantine/ was made there */
	assert_int_equal(stat(p, &sb), 0);
	snprintf(p, sizeof(p), "%s/%s", other, OUTBOX_QUARANTINE_DIR);
	assert_int_equal(lstat(p, &sb), -1);
	/* writing into it is refused too */
	assert_true(outbox_put_json(f->dir, "hook", 1, id, "{}", 2, err, sizeof(err)) < 0);
	snprintf(p, sizeof(p), "%s/1.%s.json", other, id);
	assert_int_equal(lstat(p, &sb), -1);
	/* a .meta that is a link is not followed */
	assert_int_equal(unlink(link), 0);
	assert_int_equal(mkdir(link, 0700), 0);
	snprintf(p, sizeof(p), "%s/%s.meta", link, id);
	assert_int_equal(symlink("/etc/hostname", p), 0);
	assert_int_equal(outbox_meta_read(f->dir, "hook", id, &m), -EBADMSG);
	unlink(p);
	snprintf(p, sizeof(p), "%s/%s.json", other, id);
	unlink(p);
	rmdir(other);
}

/* Entries in a directory ("." and ".." not counted). */
static size_t
entries_in(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static bool
is_link(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode);
}

/* quarantine/ and dead/ swapped for links to a directory elsewhere: a corrupt event is not
 * quarantined through the link, an old one is not dead-lettered through it; both stay in
 * the queue's directory, said out loud; nothing is created or moved elsewhere, the links
 * stay links, and a listing counts nothing through them. */
static void
test_symlinked_side_dirs_left_alone(void **state)
{
	static const char bad_id[] = "0badf00d-0000-4000-8000-0000000000e5";
	struct fx *f = *state;
	char other[] = "/tmp/test_outbox_side_XXXXXX", p[256], q[256], err[256], name[64];
	char *log;
	struct alert_event good, old;
	struct outbox_report rep;
	struct outbox_entry *e = NULL;
	struct outbox_stats st;
	size_t n = 0;
	uint64_t now = util_wall_ns();

	assert_non_null(mkdtemp(other));
	/* already there: a count through the links would see it */
	snprintf(p, sizeof(p), "%s/0badf00d-0000-4000-8000-0000000000e6.json", other);
	assert_int_equal(file_write_atomic(p, "{}", 2, 0600), 0);
	put(f, "hook", now - 10 * SEC, "127.53.0.1", &good);
	put(f, "hook", now - 73 * 3600 * SEC, "127.53.0.2", &old);
	snprintf(name, sizeof(name), "%s.json", bad_id);
	write_file(f, "hook", name, "not json");
	snprintf(q, sizeof(q), "%s/hook/%s", f->dir, OUTBOX_QUARANTINE_DIR);
	assert_int_equal(symlink(other, q), 0);
	snprintf(p, sizeof(p), "%s/hook/%s", f->dir, OUTBOX_DEAD_DIR);
	assert_int_equal(symlink(other, p), 0);

	assert_int_equal(outbox_list(f->dir, "hook", &e, &n, &st, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(st.dead, 0);
	assert_int_equal(st.quarantined, 0);
	free(e);

	log = deliver_logged(f, now, false, &rep);
	assert_non_null(strstr(log, "could not be moved to quarantine/"));
	assert_non_null(strstr(log, "could not be moved to dead/"));
	free(log);
	assert_int_equal(rep.sinks[0].quarantined, 0);
	assert_int_equal(rep.sinks[0].dead, 0);
	assert_int_equal(rep.sinks[0].delivered, 1);
	outbox_report_clear(&rep);
	assert_int_equal(srv.nreq, 1);
	assert_non_null(strstr(srv.req[0].body, good.id));
	assert_null(strstr(srv.req[0].body, old.id));
	/* both stayed where they were; the links are still links; nothing went elsewhere */
	assert_true(exists(f, "hook", NULL, bad_id, ".json"));
	assert_true(exists(f, "hook", NULL, old.id, ".json"));
	assert_true(is_link(p));
	assert_true(is_link(q));
	assert_int_equal(entries_in(other), 1);
	snprintf(p, sizeof(p), "%s/0badf00d-0000-4000-8000-0000000000e6.json", other);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(rmdir(other), 0);
}

/* An event file and a .meta that are links to files elsewhere (a whole valid event, a
 * valid .meta): neither target is read, sent, moved or changed (same place, same inode,
 * same content); the links themselves go to quarantine/ as links. A .meta written where a
 * link is replaces the link, not its target. */
static void
test_symlinked_event_file_not_followed(void **state)
{
	static const char meta_text[] = "{\"attempts\":7,\"next_try\":1}\n";
	struct fx *f = *state;
	char other[] = "/tmp/test_outbox_evlink_XXXXXX", target[256], mtarget[256], p[256];
	char err[256], text[ALERT_JSON_MAX + 1], *buf = NULL;
	struct alert_event good, x, y;
	struct outbox_meta m;
	struct outbox_report rep;
	struct outbox_entry *e = NULL;
	struct outbox_stats st;
	struct stat tb, mb, sb;
	size_t n = 0, len = 0;
	uint64_t now = util_wall_ns();

	assert_non_null(mkdtemp(other));
	put(f, "hook", now - 10 * SEC, "127.53.0.1", &good);
	/* an event that would parse, kept elsewhere, named in the queue by a link */
	x = good;
	snprintf(x.id, sizeof(x.id), "0badf00d-0000-4000-8000-0000000000e7");
	snprintf(x.address, sizeof(x.address), "127.53.0.7");
	assert_true(alert_event_to_json(&x, text, sizeof(text)) > 0);
	snprintf(target, sizeof(target), "%s/event.json", other);
	assert_int_equal(file_write_atomic(target, text, strlen(text), 0600), 0);
	snprintf(p, sizeof(p), "%s/hook/%s.json", f->dir, x.id);
	assert_int_equal(symlink(target, p), 0);
	/* the good event's .meta: a link to a valid .meta elsewhere */
	snprintf(mtarget, sizeof(mtarget), "%s/event.meta", other);
	assert_int_equal(file_write_atomic(mtarget, meta_text, strlen(meta_text), 0600), 0);
	snprintf(p, sizeof(p), "%s/hook/%s.meta", f->dir, good.id);
	assert_int_equal(symlink(mtarget, p), 0);
	assert_int_equal(stat(target, &tb), 0);
	assert_int_equal(stat(mtarget, &mb), 0);

	assert_int_equal(outbox_meta_read(f->dir, "hook", good.id, &m), -EBADMSG);
	assert_int_equal(outbox_list(f->dir, "hook", &e, &n, &st, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].id, good.id);
	assert_true(e[0].meta_corrupt);
	assert_int_equal(e[0].meta.attempts, 0);
	assert_int_equal(st.corrupt, 1);
	free(e);
	assert_int_equal(outbox_count(f->dir), 2);

	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	assert_int_equal(rep.sinks[0].delivered, 1);
	assert_int_equal(rep.sinks[0].quarantined, 2);
	assert_int_equal(rep.sinks[0].remaining, 0);
	outbox_report_clear(&rep);
	assert_int_equal(srv.nreq, 1);
	assert_non_null(strstr(srv.req[0].body, good.id));
	assert_null(strstr(srv.req[0].body, x.id));
	/* the links went to quarantine/, as links */
	snprintf(p, sizeof(p), "%s/hook/%s/%s.json", f->dir, OUTBOX_QUARANTINE_DIR, x.id);
	assert_true(is_link(p));
	snprintf(p, sizeof(p), "%s/hook/%s/%s.meta", f->dir, OUTBOX_QUARANTINE_DIR, good.id);
	assert_true(is_link(p));
	assert_false(exists(f, "hook", NULL, x.id, ".json"));
	/* the files elsewhere: where they were, the same files, the same text */
	assert_int_equal(stat(target, &sb), 0);
	assert_int_equal(sb.st_ino, tb.st_ino);
	assert_int_equal(file_read_all(target, sizeof(text), &buf, &len), 0);
	assert_string_equal(buf, text);
	free(buf);
	assert_int_equal(stat(mtarget, &sb), 0);
	assert_int_equal(sb.st_ino, mb.st_ino);
	assert_int_equal(file_read_all(mtarget, 4096, &buf, &len), 0);
	assert_string_equal(buf, meta_text);
	free(buf);
	assert_int_equal(entries_in(other), 2);

	/* a .meta written over a link replaces the link; the target stays as it was */
	put(f, "hook", now - 5 * SEC, "127.53.0.2", &y);
	snprintf(p, sizeof(p), "%s/hook/%s.meta", f->dir, y.id);
	assert_int_equal(symlink(mtarget, p), 0);
	memset(&m, 0, sizeof(m));
	m.attempts = 2;
	assert_int_equal(outbox_meta_write(f->dir, "hook", y.id, &m), 0);
	assert_false(is_link(p));
	assert_int_equal(outbox_meta_read(f->dir, "hook", y.id, &m), 0);
	assert_int_equal(m.attempts, 2);
	assert_int_equal(file_read_all(mtarget, 4096, &buf, &len), 0);
	assert_string_equal(buf, meta_text);
	free(buf);
	/* an id that is no UUID names no file */
	assert_int_equal(outbox_meta_write(f->dir, "hook", "../../x", &m), -EINVAL);
	assert_int_equal(outbox_meta_read(f->dir, "hook", "../../x", &m), -EINVAL);
	unlink(target);
	unlink(mtarget);
	assert_int_equal(rmdir(other), 0);
}

/* state_dir may be a link an admin chose: <link>/outbox works like any outbox. The outbox
 * directory itself a link: refused by every entry point, nothing read, written or sent
 * through it. */
static void
test_outbox_dir_links(void **state)
{
	struct fx *f = *state;
	char real[128], slink[128], box[160], olink[128], err[256];
	struct alert_event ev;
	struct outbox_entry *e = NULL;
	struct outbox_stats st;
	struct outbox_meta m;
	struct outbox_report rep;
	char **names = NULL;
	size_t n = 0;

	snprintf(real, sizeof(real), "%s/state", f->dir);
	assert_int_equal(mkdir(real, 0700), 0);
	snprintf(slink, sizeof(slink), "%s/statelink", f->dir);
	assert_int_equal(symlink(real, slink), 0);
	snprintf(box, sizeof(box), "%s/outbox", slink);
	assert_int_equal(alert_event_init(&ev, ALERT_OPENED), 0);
	snprintf(ev.address, sizeof(ev.address), "127.53.0.1");
	snprintf(ev.protocol, sizeof(ev.protocol), "tcp");
	ev.port = 53;
	snprintf(ev.target, sizeof(ev.target), "127.53.0.1");
	assert_int_equal(outbox_put(box, "hook", 1, &ev, err, sizeof(err)), 0);
	assert_int_equal(outbox_list(box, "hook", &e, &n, &st, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	free(e);
	assert_int_equal(outbox_count(box), 1);

	snprintf(olink, sizeof(olink), "%s/outboxlink", f->dir);
	assert_int_equal(symlink(box, olink), 0);
	err[0] = '\0';
	assert_true(outbox_list(olink, "hook", &e, &n, &st, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "left alone"));
	assert_true(outbox_count(olink) < 0);
	assert_true(outbox_sink_names(olink, &names, &n) < 0);
	assert_true(outbox_stats_all(olink, &st) < 0);
	assert_int_equal(outbox_meta_read(olink, "hook", ev.id, &m), -ELOOP);
	assert_true(outbox_put(olink, "hook", 2, &ev, err, sizeof(err)) < 0);
	assert_true(outbox_deliver(olink, &f->sink, 1, util_wall_ns(), true, 0, &rep, err,
				   sizeof(err)) < 0);
	assert_int_equal(srv.nreq, 0);
	/* what was there is all there is */
	assert_int_equal(outbox_count(box), 1);
}

/* ---- delivery against the server ---- */

static void
test_2xx_removes(void **state)
{
	struct fx *f = *state;
	struct alert_event a, b;
	struct outbox_report rep;
	uint64_t now = util_wall_ns();

	put(f, "hook", now - 2 * SEC, "127.53.0.1", &a);
	put(f, "hook", now - 1 * SEC, "127.53.0.2", &b);
	script(200, NULL, "ok");
	script(204, NULL, NULL);
	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	assert_int_equal(rep.sinks[0].delivered, 2);
	assert_int_equal(rep.sinks[0].messages, 2);
	assert_int_equal(rep.sinks[0].failed, 0);
	assert_int_equal(rep.sinks[0].remaining, 0);
	assert_int_equal(rep.sinks[0].last_status, 204);
	outbox_report_clear(&rep);
	assert_false(exists(f, "hook", NULL, a.id, ".json"));
	assert_false(exists(f, "hook", NULL, b.id, ".json"));
	assert_int_equal(outbox_count(f->dir), 0);
	/* what went over the wire */
	assert_int_equal(srv.nreq, 2);
	assert_non_null(strstr(srv.req[0].line, "POST /hook/S3CRETTOKEN0042 HTTP/1.1"));
	assert_non_null(strcasestr(srv.req[0].headers, "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strcasestr(srv.req[0].headers, "\r\nUser-Agent: watch53/"));
	assert_null(strcasestr(srv.req[0].headers, "\r\nExpect:"));
	assert_non_null(strstr(srv.req[0].body, a.id));
	assert_non_null(strstr(srv.req[1].body, b.id));
	/* nothing left: a second run sends nothing */
	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	assert_int_equal(srv.nreq, 2);
	assert_int_equal(rep.delivered, 0);
	outbox_report_clear(&rep);
}

static void
test_500_keeps_and_schedules(void **state)
{
	struct fx *f = *state;
	struct alert_event a, b;
	struct outbox_report rep;
	struct outbox_meta m;
	uint64_t now = util_wall_ns();

	put(f, "hook", now - 2 * SEC, "127.53.0.1", &a);
	put(f, "hook", now - 1 * SEC, "127.53.0.2", &b);
	script(500, NULL, "Internal trouble\nsecond line");
	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	assert_int_equal(rep.sinks[0].failed, 1);
	assert_int_equal(rep.sinks[0].delivered, 0);
	assert_int_equal(rep.sinks[0].remaining, 2);
	assert_int_equal(rep.sinks[0].last_status, 500);
	assert_string_equal(rep.sinks[0].last_error, "HTTP 500: Internal trouble");
	outbox_report_clear(&rep);
	/* the failure stopped the sink: the later event was not tried */
	assert_int_equal(srv.nreq, 1);
	assert_true(exists(f, "hook", NULL, a.id, ".json"));
	assert_int_equal(outbox_meta_read(f->dir, "hook", a.id, &m), 0);
	assert_int_equal(m.attempts, 1);
	assert_int_equal(m.last_status, 500);
	assert_true(m.first_attempt >= now && m.first_attempt < now + 2 * SEC);
	assert_true(m.next_try >= now + 24 * SEC && m.next_try <= now + 36 * SEC + 2 * SEC);
	assert_int_equal(outbox_meta_read(f->dir, "hook", b.id, &m), -ENOENT);

	/* not due yet: nothing is sent, not even the newer event (order) */
	assert_int_equal(deliver(f, now + 10 * SEC, false, 0, &rep), 0);
	assert_true(rep.sinks[0].waiting);
	assert_int_equal(rep.sinks[0].remaining, 2);
	assert_true(rep.sinks[0].next_try >= now + 24 * SEC);
	outbox_report_clear(&rep);
	assert_int_equal(srv.nreq, 1);

	/* due: the second failure waits 1 min +-20 % */
	script(502, NULL, NULL);
	assert_int_equal(deliver(f, now + 40 * SEC, false, 0, &rep), 0);
	outbox_report_clear(&rep);
	assert_int_equal(srv.nreq, 2);
	assert_int_equal(outbox_meta_read(f->dir, "hook", a.id, &m), 0);
	assert_int_equal(m.attempts, 2);
	assert_true(m.first_attempt < now + 2 * SEC); /* kept from the first try */
	assert_true(m.next_try >= now + 40 * SEC + 48 * SEC &&
		    m.next_try <= now + 40 * SEC + 72 * SEC + 2 * SEC);
	assert_string_equal(m.last_error, "HTTP 502");

	/* force (alerts flush) ignores the schedule; both go, in order */
	assert_int_equal(deliver(f, now + 41 * SEC, true, 0, &rep), 0);
	assert_int_equal(rep.sinks[0].delivered, 2);
	outbox_report_clear(&rep);
	assert_int_equal(srv.nreq, 4);
	assert_non_null(strstr(srv.req[2].body, a.id));
	assert_non_null(strstr(srv.req[3].body, b.id));
	assert_false(exists(f, "hook", NULL, a.id, ".meta"));
}

static void
test_429_retry_after(void **state)
{
	struct fx *f = *state;
	struct alert_event a;
	struct outbox_report rep;
	struct outbox_meta m;
	uint64_t now = util_wall_ns();

	put(f, "hook", now - 1 * SEC, "127.53.0.1", &a);
	script(429, "Retry-After: 7\r\n", "slow down");
	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	outbox_report_clear(&rep);
	assert_int_equal(outbox_meta_read(f->dir, "hook", a.id, &m), 0);
	assert_int_equal(m.last_status, 429);
	/* exactly 7 s from when it failed (the run's clock started at `now`) */
	assert_true(m.next_try >= now + 7 * SEC && m.next_try < now + 8 * SEC);

	/* a body retry_after (Discord, Telegram) counts too; the larger wins */
	script(429, "Retry-After: 3\r\n", "{\"retry_after\": 9}");
	assert_int_equal(deliver(f, now + 60 * SEC, false, 0, &rep), 0);
	outbox_report_clear(&rep);
	assert_int_equal(outbox_meta_read(f->dir, "hook", a.id, &m), 0);
	assert_int_equal(m.attempts, 2);
	assert_true(m.next_try >= now + 69 * SEC && m.next_try < now + 70 * SEC);

	/* 503 with an HTTP-date: a delay from when the response came (the real clock),
	 * added to the run's clock */
	{
		char hdr[128];
		time_t when = (time_t)(util_wall_ns() / SEC) + 31;
		struct tm tm;
		gmtime_r(&when, &tm);
		strftime(hdr, sizeof(hdr), "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		script(503, hdr, NULL);
	}
	assert_int_equal(deliver(f, now + 120 * SEC, false, 0, &rep), 0);
	outbox_report_clear(&rep);
	assert_int_equal(outbox_meta_read(f->dir, "hook", a.id, &m), 0);
	/* 30-31 s, the date having whole seconds */
	assert_true(m.next_try >= now + 149 * SEC && m.next_try <= now + 152 * SEC);
}

static void
test_redirect_not_followed(void **state)
{
	struct fx *f = *state;
	struct alert_event a;
	struct outbox_report rep;
	struct outbox_meta m;
	char loc[128];
	uint64_t now = util_wall_ns();

	put(f, "hook", now - 1 * SEC, "127.53.0.1", &a);
	snprintf(loc, sizeof(loc), "Location: http://127.0.0.1:%u/elsewhere\r\n", srv.port);
	script(301, loc, "moved");
	script(200, NULL, "would be wrong");
	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	assert_int_equal(rep.sinks[0].failed, 1);
	assert_int_equal(rep.sinks[0].delivered, 0);
	assert_int_equal(rep.sinks[0].last_status, 301);
	assert_non_null(strstr(rep.sinks[0].last_error, "redirects are not followed"));
	outbox_report_clear(&rep);
	usleep(100000);
	assert_int_equal(srv.nreq, 1); /* /elsewhere was never asked for */
	assert_true(exists(f, "hook", NULL, a.id, ".json"));
	assert_int_equal(outbox_meta_read(f->dir, "hook", a.id, &m), 0);
	assert_int_equal(m.attempts, 1);
	/* the long schedule */
	assert_true(m.next_try >= now + 2880 * SEC && m.next_try <= now + 4322 * SEC);

	/* a plain 4xx too, logged by its first line */
	script_reset();
	script(403, NULL, "invalid_token\nmore");
	assert_int_equal(deliver(f, now, true, 0, &rep), 0);
	assert_string_equal(rep.sinks[0].last_error, "HTTP 403: invalid_token");
	outbox_report_clear(&rep);
	assert_int_equal(outbox_meta_read(f->dir, "hook", a.id, &m), 0);
	assert_int_equal(m.attempts, 2);
	assert_true(m.next_try >= now + 2880 * SEC && m.next_try <= now + 4322 * SEC);
}

static void
test_order_and_digest_fake(void **state)
{
	struct fx *f = *state;
	struct alert_event ev[5];
	struct outbox_report rep;
	uint64_t now = util_wall_ns();

	/* written newest first: the order on the wire must still be by event time */
	for (int i = 4; i >= 0; i--) {
		char addr[32];
		snprintf(addr, sizeof(addr), "127.53.0.%d", i + 1);
		put(f, "hook", now - (uint64_t)(10 - i) * SEC, addr, &ev[i]);
	}
	fake.limits.max_events = 2;
	fake_max_events = 2;
	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	assert_int_equal(rep.sinks[0].delivered, 5);
	assert_int_equal(rep.sinks[0].messages, 3);
	outbox_report_clear(&rep);
	assert_int_equal(srv.nreq, 3);
	/* 2 + 2 + 1, in order */
	for (int i = 0; i < 5; i++)
		assert_non_null(strstr(srv.req[i / 2].body, ev[i].id));
	assert_true(strstr(srv.req[0].body, ev[0].id) < strstr(srv.req[0].body, ev[1].id));
}

static void
test_failure_keeps_order(void **state)
{
	struct fx *f = *state;
	struct alert_event ev[3];
	struct outbox_report rep;
	uint64_t now = util_wall_ns();

	for (int i = 0; i < 3; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "127.53.0.%d", i + 1);
		put(f, "hook", now - (uint64_t)(10 - i) * SEC, addr, &ev[i]);
	}
	script(200, NULL, NULL);
	script(500, NULL, NULL);
	script(200, NULL, NULL);
	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	assert_int_equal(rep.sinks[0].delivered, 1);
	assert_int_equal(rep.sinks[0].failed, 1);
	assert_int_equal(rep.sinks[0].remaining, 2);
	outbox_report_clear(&rep);
	assert_int_equal(srv.nreq, 2); /* the third was held back behind the second */
	assert_non_null(strstr(srv.req[1].body, ev[1].id));
	assert_false(exists(f, "hook", NULL, ev[0].id, ".json"));
	assert_true(exists(f, "hook", NULL, ev[1].id, ".json"));
	assert_true(exists(f, "hook", NULL, ev[2].id, ".json"));
	/* when it is due, it goes first */
	assert_int_equal(deliver(f, now + 3600 * SEC, false, 0, &rep), 0);
	assert_int_equal(rep.sinks[0].delivered, 2);
	outbox_report_clear(&rep);
	assert_non_null(strstr(srv.req[2].body, ev[1].id));
	assert_non_null(strstr(srv.req[3].body, ev[2].id));
}

static void
test_rate_limit_and_budget(void **state)
{
	struct fx *f = *state;
	struct outbox_report rep;
	uint64_t now = util_wall_ns(), t0;

	for (int i = 0; i < 3; i++)
		put(f, "hook", now - (uint64_t)(10 - i) * SEC, "127.53.0.1", NULL);
	/* 600 ms between messages: the second waits, the third would overrun a 1 s budget */
	fake.limits.min_interval_ns = 600 * NS_PER_MS;
	t0 = util_now_ns();
	assert_int_equal(deliver(f, now, false, 1 * SEC, &rep), 0);
	assert_int_equal(rep.sinks[0].delivered, 2);
	assert_true(rep.sinks[0].out_of_budget);
	assert_true(rep.out_of_budget);
	assert_int_equal(rep.sinks[0].remaining, 1);
	outbox_report_clear(&rep);
	assert_true(util_now_ns() - t0 < 1 * SEC + 500 * NS_PER_MS);
	assert_int_equal(srv.nreq, 2);
	assert_true(srv.req[1].at_ns - srv.req[0].at_ns >= 550 * NS_PER_MS);
}

static void
test_transport_error_keeps_secrets(void **state)
{
	struct fx *f = *state;
	struct alert_event a;
	struct outbox_report rep;
	struct outbox_meta m;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	char url[128], path[512], *text = NULL;
	size_t len;
	uint64_t now = util_wall_ns();
	int fd;

	/* a port nobody listens on: bound, never listened */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook/S3CRETTOKEN0042", ntohs(sa.sin_port));
	f->sink.url = url;
	put(f, "hook", now - 1 * SEC, "127.53.0.1", &a);
	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	close(fd);
	assert_int_equal(rep.sinks[0].failed, 1);
	assert_int_equal(rep.sinks[0].last_status, 0);
	assert_true(rep.sinks[0].last_error[0] != '\0');
	assert_null(strstr(rep.sinks[0].last_error, "S3CRET"));
	assert_null(strstr(rep.sinks[0].last_error, "://"));
	outbox_report_clear(&rep);
	assert_int_equal(outbox_meta_read(f->dir, "hook", a.id, &m), 0);
	assert_int_equal(m.attempts, 1);
	assert_int_equal(m.last_status, 0);
	/* transport failures use the normal schedule */
	assert_true(m.next_try >= now + 24 * SEC && m.next_try <= now + 38 * SEC);
	snprintf(path, sizeof(path), "%s/hook/%s.meta", f->dir, a.id);
	assert_int_equal(file_read_all(path, 1 << 16, &text, &len), 0);
	assert_null(strstr(text, "S3CRET"));
	free(text);

	/* and straight from webhook_post, with a bad URL whose text holds the token */
	struct sink_message msg = { .url = (char *)"http://[::1/S3CRETTOKEN0042", .body = (char *)"{}",
				    .body_len = 2 };
	struct http_result hr;
	assert_true(webhook_post(&f->sink, &msg, &hr) < 0);
	assert_true(hr.error[0] != '\0');
	assert_null(strstr(hr.error, "S3CRET"));
	/* a non-http scheme is refused, not fetched */
	msg.url = (char *)"file:///etc/passwd";
	assert_int_equal(webhook_post(&f->sink, &msg, &hr), -EINVAL);
	assert_null(strstr(hr.error, "passwd"));
}

/* A server that echoes the request path back must not get the token into logs. */
static void
test_first_line_redacted(void **state)
{
	struct fx *f = *state;
	struct outbox_report rep;
	uint64_t now = util_wall_ns();

	put(f, "hook", now - 1 * SEC, "127.53.0.1", NULL);
	script(404, NULL, "Cannot POST /hook/S3CRETTOKEN0042\n");
	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	assert_string_equal(rep.sinks[0].last_error, "HTTP 404: Cannot POST <redacted>");
	outbox_report_clear(&rep);
}

/* A server's first line is quoted in .meta files and `alerts list --format json`: it is
 * made valid UTF-8 (ill-formed bytes and controls are '?') and cut between characters. */
static void
test_first_line_utf8(void **state)
{
	struct fx *f = *state;
	struct outbox_report rep;
	struct outbox_meta meta;
	struct alert_event ev;
	char body[256], want[256];
	size_t off;
	uint64_t now = util_wall_ns();

	put(f, "hook", now - 1 * SEC, "127.53.0.1", &ev);
	off = (size_t)snprintf(body, sizeof(body), "Bad \xff\xc3\x1b ");
	while (off + 3 < 200) {
		memcpy(body + off, "\xe2\x82\xac", 3); /* € */
		off += 3;
	}
	body[off] = '\0';
	script(400, NULL, body);
	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	assert_int_equal(alert_utf8_check(rep.sinks[0].last_error,
					  strlen(rep.sinks[0].last_error)),
			 strlen(rep.sinks[0].last_error));
	/* "Bad" and one '?' for each bad sequence, then as many whole "€" as fit in 159 */
	off = (size_t)snprintf(want, sizeof(want), "HTTP 400: Bad ??? ");
	for (size_t n = strlen("Bad ??? "); n + 3 <= 159; n += 3, off += 3)
		memcpy(want + off, "\xe2\x82\xac", 3);
	want[off] = '\0';
	assert_string_equal(rep.sinks[0].last_error, want);
	outbox_report_clear(&rep);
	assert_int_equal(outbox_meta_read(f->dir, "hook", ev.id, &meta), 0);
	assert_string_equal(meta.last_error, want);
}

static void
test_unknown_sink_dir_left_alone(void **state)
{
	struct fx *f = *state;
	struct alert_event a;
	struct outbox_report rep;

	put(f, "retired#1", util_wall_ns() - 100 * 3600 * SEC, "127.53.0.1", &a);
	assert_int_equal(deliver(f, util_wall_ns(), true, 0, &rep), 0);
	assert_int_equal(rep.nunknown, 1);
	assert_string_equal(rep.unknown[0], "retired#1");
	assert_int_equal(rep.dead, 0);
	outbox_report_clear(&rep);
	assert_int_equal(srv.nreq, 0);
	assert_true(exists(f, "retired#1", NULL, a.id, ".json"));
}

/* The real sink table: a Slack digest splits at what Slack takes, every event arrives, and
 * the messages are spaced by Slack's rate limit. */
static void
test_digest_real_table(void **state)
{
	struct fx *f = *state;
	const struct sink_ops *real = sink_find(SINK_KIND_SLACK);
	struct outbox_report rep;
	struct sink_ops wrapped;
	uint64_t now = util_wall_ns();
	size_t total = 0, n;

	if (real == NULL || real->format == NULL) {
		print_message("skipped: the sink table has no slack formatter in this build\n");
		skip();
	}
	n = real->limits.max_events + 3;
	for (size_t i = 0; i < n; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "127.53.%zu.%zu", i / 200, i % 200 + 1);
		put(f, "hook", now - (uint64_t)(n - i) * SEC, addr, NULL);
	}
	recorded_real = real;
	wrapped = *real;
	wrapped.format = recording_format;
	f->sink.ops = &wrapped;
	f->sink.kind = SINK_KIND_SLACK;
	assert_int_equal(deliver(f, now, false, 0, &rep), 0);
	assert_int_equal(rep.sinks[0].delivered, n);
	assert_int_equal(rep.sinks[0].remaining, 0);
	assert_int_equal(rep.sinks[0].messages, nformatted);
	outbox_report_clear(&rep);
	assert_true(nformatted >= 2);
	for (size_t i = 0; i < nformatted; i++) {
		assert_true(formatted_counts[i] >= 1);
		assert_true(formatted_counts[i] <= real->limits.max_events);
		total += formatted_counts[i];
	}
	assert_int_equal(total, n);
	assert_int_equal(srv.nreq, nformatted);
	for (size_t i = 1; i < srv.nreq; i++)
		assert_true(srv.req[i].at_ns - srv.req[i - 1].at_ns >=
			    real->limits.min_interval_ns - 50 * NS_PER_MS);
	assert_non_null(strcasestr(srv.req[0].headers, "Content-Type: application/json"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_schedule),
		cmocka_unit_test(test_retry_delay_policy),
		cmocka_unit_test(test_parse_retry_after),
		cmocka_unit_test(test_redact),
		cmocka_unit_test_setup_teardown(test_meta_roundtrip_and_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_quarantined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_letter_after_max_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_utf8_quarantined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinked_sink_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinked_side_dirs_left_alone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_symlinked_event_file_not_followed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_outbox_dir_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_2xx_removes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_500_keeps_and_schedules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_429_retry_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirect_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_and_digest_fake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_keeps_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_and_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_error_keeps_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_line_redacted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_line_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_sink_dir_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest_real_table, setup, teardown),
	};

	/* the test talks only to its own server on 127.0.0.1: no proxy from the environment */
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	log_init("test_outbox", LOG_LVL_ERR);
	if (webhook_global_init() < 0)
		return 99;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
