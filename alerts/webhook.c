/* webhook: one HTTP POST per sink message with libcurl (the only user of <curl/curl.h>). */
#define _GNU_SOURCE
#include "alerts/webhook.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "autoconfig.h"
#include "common/util.h"

/* Response bodies beyond this are a misbehaving server: stop reading, keep the status. */
#define BODY_ABORT_BYTES (1u << 20)
/* A path or query segment at least this long is treated as a token when redacting. */
#define SECRET_SEGMENT_MIN 8
#define REDACTED "<redacted>"
#define MAX_NEEDLES 48

int
webhook_global_init(void)
{
	static bool done;

	if (done)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	done = true;
	return 0;
}

/* ---- redaction ---- */

struct needles {
	const char *p[MAX_NEEDLES];
	size_t len[MAX_NEEDLES];
	size_t n;
};

static void
needle_add(struct needles *nd, const char *p, size_t len)
{
	if (p == NULL || len == 0 || nd->n == MAX_NEEDLES)
		return;
	nd->p[nd->n] = p;
	nd->len[nd->n] = len;
	nd->n++;
}

/* A URL, its path-and-query, and each long segment of them: a server may echo any of
 * these (Slack's and Discord's tokens are path segments, ntfy's and others' may be query
 * values). */
static void
needles_from_url(struct needles *nd, const char *url)
{
	const char *p, *seg;

	if (url == NULL || *url == '\0')
		return;
	needle_add(nd, url, strlen(url));
	p = strstr(url, "://");
	p = p ? p + 3 : url;
	/* userinfo (user:password@) is a secret of its own */
	{
		const char *at = strchr(p, '@'), *slash = strchr(p, '/');
		if (at && (slash == NULL || at < slash))
			needle_add(nd, p, (size_t)(at - p));
	}
	p = strpbrk(p, "/?#");
	if (p == NULL)
		return;
	needle_add(nd, p, strlen(p));
	for (seg = p; *seg; ) {
		size_t l;
		seg += strspn(seg, "/?&=#");
		l = strcspn(seg, "/?&=#");
		if (l >= SECRET_SEGMENT_MIN)
			needle_add(nd, seg, l);
		seg += l;
	}
}

/* Replace every occurrence of one needle; the text never grows past cap - 1 bytes (a
 * replacement that does not fit cuts the text there: losing the tail of a log line is
 * better than keeping half a secret). */
static void
replace_all(char *text, size_t cap, const char *needle, size_t nlen)
{
	char *out, *hit;
	size_t o = 0;
	const char *in = text;

	if (cap == 0 || (out = malloc(cap)) == NULL) {
		/* no memory to rewrite: drop the whole text rather than keep a secret */
		if (cap > 0 && strstr(text, needle) != NULL)
			snprintf(text, cap, "%s", REDACTED);
		return;
	}
	while ((hit = memmem(in, strlen(in), needle, nlen)) != NULL) {
		size_t pre = (size_t)(hit - in), rl = sizeof(REDACTED) - 1;
		if (o + pre + rl >= cap) {
			size_t room = cap - 1 - o;
			memcpy(out + o, in, pre < room ? pre : room);
			o += pre < room ? pre : room;
			in = "";
			break;
		}
		memcpy(out + o, in, pre);
		o += pre;
		memcpy(out + o, REDACTED, rl);
		o += rl;
		in = hit + nlen;
	}
	{
		size_t rest = strlen(in), room = cap - 1 - o;
		memcpy(out + o, in, rest < room ? rest : room);
		o += rest < room ? rest : room;
	}
	out[o] = '\0';
	memcpy(text, out, o + 1);
	free(out);
}

void
webhook_redact(char *text, size_t cap, const struct sink_settings *s,
	       const struct sink_message *m)
{
	struct needles nd = { .n = 0 };

	if (m)
		needles_from_url(&nd, m->url);
	if (s) {
		needles_from_url(&nd, s->url);
		needles_from_url(&nd, s->proxy);
		if (s->token)
			needle_add(&nd, s->token, strlen(s->token));
		if (s->secret)
			needle_add(&nd, s->secret, strlen(s->secret));
	}
	/* longest first, so a whole URL is replaced before its parts */
	for (size_t i = 0; i < nd.n; i++)
		for (size_t k = i + 1; k < nd.n; k++)
			if (nd.len[k] > nd.len[i]) {
				const char *tp = nd.p[i];
				size_t tl = nd.len[i];
				nd.p[i] = nd.p[k];
				nd.len[i] = nd.len[k];
				nd.p[k] = tp;
				nd.len[k] = tl;
			}
	for (size_t i = 0; i < nd.n; i++) {
		/* a segment is not NUL-terminated where it ends: search for a copy */
		char buf[2048];
		if (nd.len[i] >= sizeof(buf)) {
			/* too long to search for cheaply: a text that long is not a log line */
			continue;
		}
		memcpy(buf, nd.p[i], nd.len[i]);
		buf[nd.len[i]] = '\0';
		replace_all(text, cap, buf, nd.len[i]);
	}
}

/* ---- Retry-After ---- */

int
webhook_parse_retry_after(const char *value, uint64_t now_wall_ns, uint64_t *delay_ns)
{
	char buf[128];
	size_t len;
	const char *p;
	time_t t;

	if (value == NULL)
		return -EINVAL;
	while (*value == ' ' || *value == '\t')
		value++;
	len = strlen(value);
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t' ||
			   value[len - 1] == '\r' || value[len - 1] == '\n'))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, value, len);
	buf[len] = '\0';
	for (p = buf; *p >= '0' && *p <= '9'; p++)
		;
	if (*p == '\0') {
		uint64_t sec;
		/* delay-seconds; anything above ~31 years is nonsense, not a reason to wrap */
		if (len > 9)
			return -EINVAL;
		sec = strtoull(buf, NULL, 10);
		*delay_ns = sec * 1000000000ull;
		return 0;
	}
	/* HTTP-date in any of its three historic forms; curl_getdate knows them all and does
	 * not depend on the locale (strptime would) */
	t = curl_getdate(buf, NULL);
	if (t == (time_t)-1 || t < 0)
		return -EINVAL;
	{
		uint64_t when = (uint64_t)t * 1000000000ull;
		*delay_ns = when > now_wall_ns ? when - now_wall_ns : 0;
	}
	return 0;
}

/* ---- the transfer ---- */

struct xfer {
	struct http_result *r;
	size_t total;            /* body bytes seen */
	bool aborted;            /* we stopped reading a huge body */
	char retry_after[128];   /* raw header value of the final response */
};

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb, room = WEBHOOK_BODY_MAX - x->r->body_len;

	if (n > 0 && room > 0) {
		size_t k = n < room ? n : room;
		memcpy(x->r->body + x->r->body_len, data, k);
		x->r->body_len += k;
		x->r->body[x->r->body_len] = '\0';
	}
	x->total += n;
	if (x->total > BODY_ABORT_BYTES) {
		x->aborted = true;
		return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	return n;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";

	/* a new status line starts a new response (1xx, proxy CONNECT): forget the old one */
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
		x->retry_after[0] = '\0';
	else if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		size_t vl = n - (sizeof(name) - 1);
		if (vl >= sizeof(x->retry_after))
			vl = sizeof(x->retry_after) - 1;
		memcpy(x->retry_after, data + sizeof(name) - 1, vl);
		x->retry_after[vl] = '\0';
	}
	return n;
}

static int
curl_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_GOT_NOTHING:
		return -EPROTO;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_NOT_BUILT_IN:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* One line of error text: curl's detailed message with secrets redacted, or only its
 * generic text when the detail still looks like it holds a URL. */
static void
set_error(struct http_result *r, CURLcode cc, const char *detail,
	  const struct sink_settings *s, const struct sink_message *m)
{
	char d[CURL_ERROR_SIZE + 64];
	size_t l;

	snprintf(d, sizeof(d), "%s", detail ? detail : "");
	l = strlen(d);
	while (l > 0 && (d[l - 1] == '\n' || d[l - 1] == '\r' || d[l - 1] == ' '))
		d[--l] = '\0';
	webhook_redact(d, sizeof(d), s, m);
	if (d[0] == '\0' || strstr(d, "://") != NULL)
		snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(cc));
	else
		alert_copy_text(r->error, sizeof(r->error), d);
	for (char *p = r->error; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

static void
set_first_line(struct http_result *r, const struct sink_settings *s,
	       const struct sink_message *m)
{
	char line[sizeof(r->first_line) + 512];
	size_t i = 0, k = 0;

	/* skip leading blank lines, take the first line, cut long ones */
	while (i < r->body_len && (r->body[i] == '\r' || r->body[i] == '\n' ||
				   r->body[i] == ' ' || r->body[i] == '\t'))
		i++;
	/* it ends up in .meta files and `alerts list --format json`: valid UTF-8, one '?' for
	 * each control character or ill-formed byte sequence */
	while (i < r->body_len && k + 5 < sizeof(line)) {
		uint32_t cp;
		bool ok;
		size_t n;

		if (r->body[i] == '\r' || r->body[i] == '\n')
			break;
		n = alert_utf8_next(r->body + i, r->body_len - i, &cp, &ok);
		if (!ok || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			line[k++] = '?';
		} else {
			memcpy(line + k, r->body + i, n);
			k += n;
		}
		i += n;
	}
	line[k] = '\0';
	/* redact before cutting, so a secret cut in half is still found whole */
	webhook_redact(line, sizeof(line), s, m);
	alert_copy_text(r->first_line, sizeof(r->first_line), line);
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

int
webhook_post(const struct sink_settings *s, const struct sink_message *m,
	     struct http_result *r)
{
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL, *pins = NULL, *tmp;
	struct xfer x = { .r = r };
	uint64_t timeout, t0 = util_now_ns();
	CURL *h = NULL;
	CURLcode cc = CURLE_OK;
	long status = 0;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	errbuf[0] = '\0';
	if (m == NULL || m->url == NULL || m->body == NULL) {
		snprintf(r->error, sizeof(r->error), "nothing to send (no URL or body)");
		return -EINVAL;
	}
	timeout = s->timeout_ns ? s->timeout_ns : WEBHOOK_DEFAULT_TIMEOUT_NS;
	/* libcurl reads 0 ms as "no timeout": never let rounding get there */
	if (timeout < 1000000ull)
		timeout = 1000000ull;
	h = curl_easy_init();
	if (h == NULL) {
		snprintf(r->error, sizeof(r->error), "cannot set up a transfer (out of memory)");
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->nheaders && i < SINK_MAX_HEADERS; i++) {
		if (m->headers[i] == NULL)
			continue;
		if ((tmp = curl_slist_append(hdrs, m->headers[i])) == NULL)
			goto nomem;
		hdrs = tmp;
	}
	/* no "Expect: 100-continue" round trip for larger bodies */
	if ((tmp = curl_slist_append(hdrs, "Expect:")) == NULL)
		goto nomem;
	hdrs = tmp;
	for (size_t i = 0; i < s->nresolve; i++) {
		if (s->resolve[i] == NULL)
			continue;
		if ((tmp = curl_slist_append(pins, s->resolve[i])) == NULL)
			goto nomem;
		pins = tmp;
	}

	/* every option is checked: a libcurl without one of them must not send silently
	 * with weaker settings */
	if ((cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_URL, m->url)) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500
	    (cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https")) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")) != CURLE_OK ||
#else
	    (cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS,
				   (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS))) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS,
				   (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS))) != CURLE_OK ||
#endif
	    (cc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_POST, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, m->body)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				   (curl_off_t)m->body_len)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_USERAGENT, "watch53/" PACKAGE_VERSION)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_PROXY_SSL_VERIFYPEER, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_PROXY_SSL_VERIFYHOST, 2L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
				   (long)CURL_HTTP_VERSION_2TLS)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
				   (long)(min_u64(timeout, WEBHOOK_CONNECT_MAX_NS) / 1000000ull))) !=
		    CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout / 1000000ull))) !=
		    CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_WRITEDATA, &x)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_HEADERDATA, &x)) != CURLE_OK)
		goto setup_bad;
	/* a private CA replaces the system store (CAPATH off too): the sink trusts that CA
	 * only */
	if (s->ca_file && s->ca_file[0] &&
	    ((cc = curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file)) != CURLE_OK ||
	     (cc = curl_easy_setopt(h, CURLOPT_CAPATH, NULL)) != CURLE_OK))
		goto setup_bad;
	/* without a configured proxy libcurl reads http_proxy/https_proxy/no_proxy itself */
	if (s->proxy && s->proxy[0] &&
	    (cc = curl_easy_setopt(h, CURLOPT_PROXY, s->proxy)) != CURLE_OK)
		goto setup_bad;
	if (pins && (cc = curl_easy_setopt(h, CURLOPT_RESOLVE, pins)) != CURLE_OK)
		goto setup_bad;

	cc = curl_easy_perform(h);
	r->elapsed_ns = util_now_ns() - t0;
	if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
		status = 0;
	/* our own stop on a huge body still got a complete status line: a response */
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && x.aborted && status > 0)) {
		set_error(r, cc, errbuf, s, m);
		rc = curl_errno(cc);
		goto out;
	}
	if (status < 100) {
		snprintf(r->error, sizeof(r->error), "no HTTP status in the response");
		rc = -EPROTO;
		goto out;
	}
	r->status = status;
	if (x.retry_after[0] &&
	    webhook_parse_retry_after(x.retry_after, util_wall_ns(), &r->retry_after_ns) == 0)
		r->has_retry_after = true;
	set_first_line(r, s, m);
	rc = 0;
	goto out;

setup_bad:
	/* an option libcurl refused: say which kind, never its value */
	snprintf(r->error, sizeof(r->error), "transfer setup failed: %s", curl_easy_strerror(cc));
	rc = curl_errno(cc);
	goto out;
nomem:
	snprintf(r->error, sizeof(r->error), "cannot set up a transfer (out of memory)");
	rc = -ENOMEM;
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	curl_slist_free_all(pins);
	return rc;
}
