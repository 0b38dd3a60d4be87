/* util: clocks, strict number and duration parsing, randomness, one-line messages. */
#include "common/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t util_now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
uint64_t util_wall_ns(void) { return clock_ns(CLOCK_REALTIME); }

int
util_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
util_parse_duration(const char *s, uint64_t *out_ns)
{
	/* a week is far beyond any timeout or interval that makes sense */
	return util_parse_duration_max(s, 7ull * 86400 * 1000000000ull, out_ns);
}

/* The units of a duration, largest first: a compound names them in this order. */
static const struct {
	const char *suffix;
	double ns;
} duration_units[] = {
	{ "d", 86400e9 }, { "h", 3600e9 }, { "m", 60e9 }, { "s", 1e9 }, { "ms", 1e6 },
};
#define NDURATION_UNITS (sizeof(duration_units) / sizeof(duration_units[0]))

/* The unit at s ("ms" before "m"), or -1. */
static int
duration_unit(const char *s, size_t *len)
{
	int best = -1;

	for (size_t i = 0; i < NDURATION_UNITS; i++) {
		size_t n = strlen(duration_units[i].suffix);
		if (strncmp(s, duration_units[i].suffix, n) == 0 &&
		    (best < 0 || n > *len)) {
			best = (int)i;
			*len = n;
		}
	}
	return best;
}

/*
 * Terms of a decimal number and a unit, the units largest first and each once: "800ms",
 * "1.5s", "1h30m", "3m05s" (what util_fmt_duration writes). A bare number is refused:
 * 300 seconds or milliseconds? Digits and one point only (no sign, exponent, hex, inf).
 */
int
util_parse_duration_max(const char *s, uint64_t max_ns, uint64_t *out_ns)
{
	double total = 0;
	int last = -1;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	while (*s != '\0') {
		char num[32];
		size_t n = 0, ulen = 0;
		bool point = false, digit = false;
		int u;

		for (; (*s >= '0' && *s <= '9') || (*s == '.' && !point); s++) {
			if (n + 1 >= sizeof(num))
				return -EINVAL;
			point |= *s == '.';
			digit |= *s != '.';
			num[n++] = *s;
		}
		num[n] = '\0';
		if (!digit || (u = duration_unit(s, &ulen)) <= last)
			return -EINVAL;
		last = u;
		s += ulen;
		total += strtod(num, NULL) * duration_units[u].ns;
	}
	if (total > (double)max_ns)
		return -ERANGE;
	*out_ns = (uint64_t)(total + 0.5);
	return 0;
}

int
util_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void
util_stop_signals_catch(void (*fn)(int), struct util_sigsaved *saved)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &saved->old[0]);
	sigaction(SIGTERM, &sa, &saved->old[1]);
}

void
util_stop_signals_restore(const struct util_sigsaved *saved)
{
	sigaction(SIGINT, &saved->old[0], NULL);
	sigaction(SIGTERM, &saved->old[1], NULL);
}

uint32_t
util_random32(void)
{
	uint32_t r;

	if (util_random(&r, sizeof(r)) < 0)
		r = (uint32_t)util_now_ns();
	return r;
}

const char *
util_fmt_utc(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / NS_PER_SEC);
	struct tm tm;

	if (ns == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
	return buf;
}

const char *
util_fmt_utc_ms(uint64_t ns, char *buf, size_t len)
{
	time_t secs = (time_t)(ns / NS_PER_SEC);
	struct tm tm;
	char base[32];

	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		base[0] = '\0';
	snprintf(buf, len, "%s.%03uZ", base, (unsigned)(ns % NS_PER_SEC / NS_PER_MS));
	return buf;
}

const char *
util_fmt_duration(uint64_t ns, char *buf, size_t len)
{
	if (ns < NS_PER_SEC)
		snprintf(buf, len, "%.0fms", (double)ns / 1e6);
	else if (ns < 120 * NS_PER_SEC)
		snprintf(buf, len, "%.1fs", (double)ns / 1e9);
	else if (ns < 7200 * NS_PER_SEC)
		snprintf(buf, len, "%.0fm%02.0fs", (double)(ns / (60 * NS_PER_SEC)),
			 (double)((ns / NS_PER_SEC) % 60));
	else
		snprintf(buf, len, "%.1fh", (double)ns / 3600e9);
	return buf;
}

void
util_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *
util_printable(const char *s, char *buf, size_t buflen, unsigned flags)
{
	size_t n = strlen(s), i;
	bool cut = n >= buflen;

	if (buflen == 0)
		return "";
	if (cut) {
		n = buflen >= 4 ? buflen - 4 : 0;
		/* s[n] is the first byte left out: if it continues a character, drop that too */
		if (!(flags & UTIL_PRINT_ASCII))
			while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
				n--;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || (c >= 0x80 && (flags & UTIL_PRINT_ASCII)))
			c = '?';
		buf[i] = (char)c;
	}
	if (cut && buflen >= 4)
		memcpy(buf + n, "...", 4);
	else
		buf[n] = '\0';
	return buf;
}

const char *
util_next_word(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	if (s == NULL)
		return NULL;
	s += strspn(s, " \t\r\n");
	if (*s == '\0')
		return NULL;
	n = strcspn(s, " \t\r\n");
	if (len > 0)
		snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), s);
	return s + n;
}
