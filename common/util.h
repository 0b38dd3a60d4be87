/* util: monotonic time and strict number/duration parsing for CLI and config input. */
#ifndef WATCH53_UTIL_H
#define WATCH53_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define NS_PER_MS 1000000ull
#define NS_PER_SEC 1000000000ull

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t util_now_ns(void);
/* CLOCK_REALTIME in nanoseconds (for timestamps shown to people only). */
uint64_t util_wall_ns(void);

/* Whole decimal number in [min, max]; no sign, no trailing garbage. 0 or -EINVAL/-ERANGE. */
int util_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "800ms", "2s", "5m", "1h", "1.5s"; a bare number is seconds. 0 or -EINVAL/-ERANGE. */
int util_parse_duration(const char *s, uint64_t *out_ns);
/* Cryptographically random bytes (getrandom). 0 or -errno. */
int util_random(void *buf, size_t len);
/* Human duration "1.2s", "850ms" into buf. */
const char *util_fmt_duration(uint64_t ns, char *buf, size_t len);

#endif
