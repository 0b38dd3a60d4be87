/*
 * webhook: one HTTP POST of a formatted sink_message, with libcurl. The only file that
 * includes <curl/curl.h>. Shared by every sink: the formatter decides the URL, headers and
 * body; this decides how it travels.
 *
 * What every request gets:
 * - TLS verification always on (peer and host name); the sink's ca_file, when set, replaces
 *   the system CA bundle (for a private CA).
 * - Redirects are not followed: a 3xx comes back as the result, and the caller treats it
 *   as a failure (a moved endpoint is a config problem, and following it would hand the
 *   body, and maybe a token in the URL, to another host). Only http and https are allowed.
 * - Timeouts: the sink's timeout_ns (default 10 s) for the whole transfer, and
 *   min(timeout_ns, 10 s) to connect.
 * - HTTP/2 over TLS when the server offers it (ALPN), HTTP/1.1 otherwise and for plain http.
 * - Proxy: the sink's proxy when set; otherwise libcurl reads the usual environment
 *   variables itself (http_proxy, https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY,
 *   no_proxy/NO_PROXY; uppercase HTTP_PROXY is ignored, as libcurl does, for CGI safety).
 *   no_proxy applies to a configured proxy too.
 * - resolve pins ("host:port:address", CURLOPT_RESOLVE): delivery does not depend on the
 *   DNS that watch53 may be watching fail.
 * - User-Agent: watch53/<version>; "Expect:" is suppressed (no 100-continue round trip).
 *
 * Secrets: the URL (tokens in paths), the proxy (user:password) and signing keys never
 * appear in http_result.error. libcurl's own error buffer can name the URL; it is used
 * only after every secret in it is replaced, and dropped if it still holds a URL.
 */
#ifndef WATCH53_WEBHOOK_H
#define WATCH53_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts/sink.h"

#define WEBHOOK_BODY_MAX 4096   /* response bytes kept (retry_after, first line for logs) */
#define WEBHOOK_CONNECT_MAX_NS (10ull * 1000000000ull)
#define WEBHOOK_DEFAULT_TIMEOUT_NS (10ull * 1000000000ull)

struct http_result {
	long status;              /* HTTP status of the final response; 0 when none came */
	bool has_retry_after;     /* a Retry-After header (seconds or HTTP-date) was present */
	uint64_t retry_after_ns;  /* its delay from the time the response arrived */
	char body[WEBHOOK_BODY_MAX + 1]; /* first bytes of the body, NUL-terminated */
	size_t body_len;          /* bytes kept in body (the rest was read and discarded) */
	uint64_t elapsed_ns;      /* of the whole attempt */
	/* The first line of the body for logs, control characters replaced and every secret
	 * of the sink and message redacted (servers echo request paths back: a webhook path
	 * is a token). body itself is raw: parse it, never log it. */
	char first_line[160];
	char error[256];          /* transport error, one line without secrets; "" if none */
};

/*
 * curl_global_init, once per process, before any thread runs: main calls it (cli_main),
 * tests call it in their setup. Calling it again is harmless. 0 or -EIO.
 */
int webhook_global_init(void);

/*
 * POST m->body to m->url with m->headers, under the sink's transport settings (s: ca_file,
 * resolve, proxy, timeout_ns, name for messages). Blocks for at most about s->timeout_ns.
 * Returns 0 when an HTTP response came back, whatever its status (r->status; 2xx is
 * success for the caller), or a negative errno when none did: -ETIMEDOUT, -ECONNREFUSED,
 * -EHOSTUNREACH (resolve/connect), -EPROTO (TLS, protocol), -EINVAL (bad URL or option),
 * -ENOMEM, -EIO (anything else); r->error then says why (curl's message, secrets redacted,
 * never the URL); the caller adds the sink name.
 */
int webhook_post(const struct sink_settings *s, const struct sink_message *m,
		 struct http_result *r);

/*
 * A Retry-After value (RFC 9110: delay-seconds or an HTTP-date) as a delay from now_wall_ns
 * (a date in the past is a delay of 0). 0, or -EINVAL for anything else.
 */
int webhook_parse_retry_after(const char *value, uint64_t now_wall_ns, uint64_t *delay_ns);

/*
 * Replace, in place, every secret of s and m that occurs in text (the URLs, their paths and
 * path/query segments of 8 or more characters, token, secret, proxy) by "<redacted>",
 * keeping the result within cap bytes. Exposed for tests and for callers that build
 * messages from server output.
 */
void webhook_redact(char *text, size_t cap, const struct sink_settings *s,
		    const struct sink_message *m);

#endif
