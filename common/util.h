/* util: monotonic time, strict number/duration parsing for CLI and config input, and the
 * one-line messages that parsers hand back. */
#ifndef WATCH53_UTIL_H
#define WATCH53_UTIL_H

#include <stddef.h>
#include <signal.h>
#include <stdint.h>

#define NS_PER_MS 1000000ull
#define NS_PER_SEC 1000000000ull

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t util_now_ns(void);
/* CLOCK_REALTIME in nanoseconds (for timestamps shown to people only). */
uint64_t util_wall_ns(void);

/* Whole decimal number in [min, max]; no sign, no trailing garbage. 0 or -EINVAL/-ERANGE. */
int util_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "800ms", "2s", "5m", "1h", "1d", "1.5s", compounds largest unit first ("1h30m", "3m05s");
 * a unit is required. At most a week. 0 or -EINVAL/-ERANGE. */
int util_parse_duration(const char *s, uint64_t *out_ns);
/* The same with another ceiling (util_parse_duration: a week), for spans such as how long
 * history is kept. */
int util_parse_duration_max(const char *s, uint64_t max_ns, uint64_t *out_ns);
/* SIGINT and SIGTERM to `fn` (which may only set flags and stop loops) for the length of
 * a scan or capture; the old handlers are kept in *saved and put back by
 * util_stop_signals_restore. */
struct util_sigsaved {
	struct sigaction old[2];
};
void util_stop_signals_catch(void (*fn)(int), struct util_sigsaved *saved);
void util_stop_signals_restore(const struct util_sigsaved *saved);
/* Cryptographically random bytes (getrandom). 0 or -errno. */
int util_random(void *buf, size_t len);
/* A random number for jitter, never for secrets: getrandom's, or the clock's low bits
 * when that fails (jitter only spreads things out). */
uint32_t util_random32(void);
/* Human duration "1.2s", "850ms" into buf. */
const char *util_fmt_duration(uint64_t ns, char *buf, size_t len);
/* Wall time in ns as "2026-11-27T09:43:14.123Z" (UTC, milliseconds truncated) into buf:
 * the time format of events, sniff records and history. Returns buf. */
const char *util_fmt_utc_ms(uint64_t ns, char *buf, size_t len);
/* Wall time in ns as "2026-11-27T09:43:14Z" (UTC, seconds), "-" for 0 (never): the times
 * the commands print in tables. Returns buf. */
const char *util_fmt_utc(uint64_t ns, char *buf, size_t len);

/* printf into err (errlen bytes, cut to fit) for the "char *err, size_t errlen" convention;
 * does nothing when err is NULL or errlen is 0. */
void util_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* util_printable flags. */
#define UTIL_PRINT_ASCII 0x1u /* bytes >= 0x80 become '?' too: text not known to be UTF-8 */

/* Untrusted text s quoted in a one-line message: a copy in buf with control bytes and DEL as
 * '?'. Text longer than buflen - 1 bytes is cut to buflen - 4 bytes plus "..."; unless
 * UTIL_PRINT_ASCII, the cut moves back to a UTF-8 character boundary. buflen should be at
 * least 4 (a smaller buf gets "" when cut). Returns buf ("" if buflen is 0). */
const char *util_printable(const char *s, char *buf, size_t buflen, unsigned flags);

/* The next word of s (runs of anything but space, tab, CR, LF) into buf, cut to fit: where
 * the scan goes on, or NULL when s has no word left. For lists a line or a space apart. */
const char *util_next_word(const char *s, char *buf, size_t len);

#endif
