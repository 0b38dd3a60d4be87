/* targets: parse target text into address ranges and stream them lazily, minus exclusions. */
#include "agent/targets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/util.h"

#define HOSTNAME_MAX 253
#define LABEL_MAX 63
#define SHOWN_MAX 100	/* user text quoted in a message is cut to about this */

/*
 * A range is two 128-bit big-endian integers. IPv4 sits in the low 32 bits (bytes 12-15)
 * rather than where net_addr keeps it, so one set of arithmetic serves both families; it
 * moves to bytes 0-3 only on the way out.
 */
struct trange {
	uint8_t family;
	uint8_t from_name; /* an address a host name resolved to: not in targets_cover */
	uint8_t start[16];
	uint8_t end[16];
	uint32_t label;	/* index into labels; unused for exclusions */
};

struct target_set {
	struct trange *ent;
	size_t nent, capent;
	char **labels;	/* one per target text; a name's addresses share theirs */
	size_t nlabels, caplabels;
	/* Sorted by (family, start) and merged, so no two overlap or touch: the ends are
	 * sorted too and one binary search finds the exclusion covering an address. */
	struct trange *excl;
	size_t nexcl, capexcl;
	targets_resolve_fn resolve;
	uint64_t max_hosts;
	/* After targets_finish: the parts of each entry that a more specific entry also
	 * covers (entry_better), sorted and merged, entry by entry: entry i's are
	 * shadow[shadow_at[i] .. shadow_at[i + 1]). Streamed under that entry, not this one,
	 * so each address comes once. NULL before targets_finish (then every entry streams
	 * all of its addresses). */
	struct trange *shadow;
	size_t *shadow_at;
};

static void shadows_clear(struct target_set *ts);

/* What one targets_add/targets_exclude call may undo. */
struct snapshot {
	size_t nent, nlabels, nexcl;
};

/* 128-bit big-endian arithmetic on byte arrays. */

static int
be_inc(uint8_t v[16])
{
	for (int i = 15; i >= 0; i--)
		if (++v[i] != 0)
			return 0;
	return 1; /* wrapped */
}

static void
be_dec(uint8_t v[16])
{
	for (int i = 15; i >= 0; i--)
		if (v[i]-- != 0)
			return;
}

/* Addresses in [s, e] (s <= e), saturating at UINT64_MAX. */
static uint64_t
span_count(const uint8_t s[16], const uint8_t e[16])
{
	uint8_t d[16];
	unsigned borrow = 0;
	uint64_t lo = 0;

	for (int i = 15; i >= 0; i--) {
		unsigned x = (unsigned)e[i] - s[i] - borrow;
		d[i] = (uint8_t)x;
		borrow = (x >> 8) & 1;
	}
	for (int i = 0; i < 8; i++)
		if (d[i] != 0)
			return UINT64_MAX;
	for (int i = 8; i < 16; i++)
		lo = lo << 8 | d[i];
	return lo == UINT64_MAX ? UINT64_MAX : lo + 1;
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int
key_cmp(uint8_t fa, const uint8_t a[16], uint8_t fb, const uint8_t b[16])
{
	if (fa != fb)
		return fa < fb ? -1 : 1;
	return memcmp(a, b, 16);
}

static void
addr_to_be(const struct net_addr *a, uint8_t v[16])
{
	memset(v, 0, 16);
	if (a->family == AF_INET)
		memcpy(v + 12, a->bytes, 4);
	else
		memcpy(v, a->bytes, 16);
}

static void
be_to_addr(uint8_t family, const uint8_t v[16], struct net_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	if (family == AF_INET)
		memcpy(a->bytes, v + 12, 4);
	else
		memcpy(a->bytes, v, 16);
}

/* Clear (start) and set (end) every bit after the first `bits` of 128. */
static void
apply_prefix(uint8_t start[16], uint8_t end[16], unsigned bits)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned lo = i * 8;
		uint8_t keep;

		if (bits >= lo + 8)
			keep = 0xff;
		else if (bits <= lo)
			keep = 0;
		else
			keep = (uint8_t)(0xff << (8 - (bits - lo)));
		start[i] &= keep;
		end[i] = start[i] | (uint8_t)~keep;
	}
}

/* Grow an array to hold `need` items; NULL (array untouched) when out of memory. */
static void *
grow(void *arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 16;
	void *p;

	if (need <= *cap)
		return arr;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return NULL;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / size)
		return NULL;
	p = realloc(arr, ncap * size);
	if (p == NULL)
		return NULL;
	*cap = ncap;
	return p;
}

static int
push_range(struct target_set *ts, int excl, uint8_t family, const uint8_t start[16],
	   const uint8_t end[16], uint32_t label, char *err, size_t errlen)
{
	struct trange *r, **arr = excl ? &ts->excl : &ts->ent;
	size_t *n = excl ? &ts->nexcl : &ts->nent;
	size_t *cap = excl ? &ts->capexcl : &ts->capent;

	/* the iterator reports the entry index as uint32_t */
	if (!excl && ts->nent >= UINT32_MAX) {
		util_errf(err, errlen, "too many targets (more than %" PRIu32 ")", UINT32_MAX);
		return -E2BIG;
	}
	r = grow(*arr, cap, *n + 1, sizeof(**arr));
	if (r == NULL) {
		util_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*arr = r;
	r = &r[(*n)++];
	r->family = family;
	r->from_name = 0;
	memcpy(r->start, start, 16);
	memcpy(r->end, end, 16);
	r->label = label;
	return 0;
}

static int
push_label(struct target_set *ts, const char *text, uint32_t *idx, char *err, size_t errlen)
{
	char **l, *copy;

	l = grow(ts->labels, &ts->caplabels, ts->nlabels + 1, sizeof(*l));
	if (l == NULL)
		goto oom;
	ts->labels = l;
	copy = strdup(text);
	if (copy == NULL)
		goto oom;
	*idx = (uint32_t)ts->nlabels;
	ts->labels[ts->nlabels++] = copy;
	return 0;
oom:
	util_errf(err, errlen, "out of memory");
	return -ENOMEM;
}

static int
cmp_trange(const void *a, const void *b)
{
	const struct trange *x = a, *y = b;

	return key_cmp(x->family, x->start, y->family, y->start);
}

/*
 * Fold exclusions appended since the last call (from `from` on) into the sorted, merged
 * list: sort the new tail, merge the two runs, coalesce. Linear in the list per call, so
 * a config with thousands of separate excludes does not go quadratic-times-log.
 */
static int
normalize_excl(struct target_set *ts, size_t from, char *err, size_t errlen)
{
	struct trange *out, *cur;
	size_t i = 0, j = from, n = 0, total = ts->nexcl;

	if (from == total)
		return 0;
	qsort(ts->excl + from, total - from, sizeof(*ts->excl), cmp_trange);
	out = calloc(total, sizeof(*out));
	if (out == NULL) {
		util_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (i < from || j < total) {
		const struct trange *next;
		uint8_t after[16];

		if (j == total || (i < from && cmp_trange(&ts->excl[i], &ts->excl[j]) <= 0))
			next = &ts->excl[i++];
		else
			next = &ts->excl[j++];
		if (n > 0) {
			cur = &out[n - 1];
			memcpy(after, cur->end, 16);
			/* touching ranges merge too, so the address after an exclusion is never excluded */
			if (cur->family == next->family &&
			    (memcmp(next->start, cur->end, 16) <= 0 || be_inc(after) ||
			     memcmp(next->start, after, 16) == 0)) {
				if (memcmp(next->end, cur->end, 16) > 0)
					memcpy(cur->end, next->end, 16);
				continue;
			}
		}
		out[n++] = *next;
	}
	free(ts->excl);
	ts->excl = out;
	ts->nexcl = n;
	ts->capexcl = total;
	return 0;
}

/* First exclusion whose (family, end) is >= (family, addr). */
static size_t
excl_lower(const struct target_set *ts, uint8_t family, const uint8_t addr[16])
{
	size_t lo = 0, hi = ts->nexcl;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (key_cmp(ts->excl[mid].family, ts->excl[mid].end, family, addr) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct trange *
excl_covering(const struct target_set *ts, uint8_t family, const uint8_t addr[16])
{
	size_t i = excl_lower(ts, family, addr);

	if (i < ts->nexcl && ts->excl[i].family == family && memcmp(ts->excl[i].start, addr, 16) <= 0)
		return &ts->excl[i];
	return NULL;
}

/* Addresses of e left after exclusion: the sum of the gaps between the exclusions in it. */
static uint64_t
excl_remaining(const struct target_set *ts, const struct trange *e)
{
	uint8_t pos[16], gap_end[16];
	uint64_t n = 0;

	memcpy(pos, e->start, 16);
	for (size_t i = excl_lower(ts, e->family, e->start); i < ts->nexcl; i++) {
		const struct trange *x = &ts->excl[i];

		if (x->family != e->family || memcmp(x->start, e->end, 16) > 0)
			break;
		if (memcmp(x->start, pos, 16) > 0) {
			memcpy(gap_end, x->start, 16);
			be_dec(gap_end);
			n = sat_add(n, span_count(pos, gap_end));
		}
		if (memcmp(x->end, e->end, 16) >= 0)
			return n;
		memcpy(pos, x->end, 16);
		be_inc(pos); /* x->end < e->end: cannot wrap */
	}
	return sat_add(n, span_count(pos, e->end));
}

/* Part of a range or prefix that an address should be: has ':' or is digits and dots. */
static int
addressy(const char *s, size_t len)
{
	int dot = 0;

	if (memchr(s, ':', len) != NULL)
		return 1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.')
			dot = 1;
		else if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	return dot;
}

/* Copy len bytes into buf and parse as an address; -EINVAL if too long or not one. */
static int
parse_span(const char *s, size_t len, struct net_addr *a)
{
	char buf[NETADDR_STRLEN + 1];

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return net_addr_parse(buf, a);
}

static int
all_digits(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int
parse_prefix(struct target_set *ts, const char *text, const char *slash, int excl,
	     uint32_t label, char *err, size_t errlen)
{
	char q[SHOWN_MAX];
	struct net_addr a;
	const char *len = slash + 1;
	size_t n = strlen(len);
	unsigned plen = 0, max;
	uint8_t start[16], end[16];

	if (parse_span(text, (size_t)(slash - text), &a) < 0) {
		util_errf(err, errlen, "bad prefix '%s': the part before '/' is not an IP address",
			  util_printable(text, q, sizeof(q), 0));
		return -EINVAL;
	}
	max = a.family == AF_INET ? 32 : 128;
	/* three digits at most, so the value cannot overflow */
	if (!all_digits(len, n) || n > 3) {
		util_errf(err, errlen, "bad prefix '%s': length must be a number 0-%u",
			  util_printable(text, q, sizeof(q), 0), max);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		plen = plen * 10 + (unsigned)(len[i] - '0');
	if (plen > max) {
		util_errf(err, errlen, "bad prefix '%s': length must be 0-%u for IPv%d",
			  util_printable(text, q, sizeof(q), 0), max, a.family == AF_INET ? 4 : 6);
		return -EINVAL;
	}
	addr_to_be(&a, start);
	apply_prefix(start, end, plen + (a.family == AF_INET ? 96 : 0));
	return push_range(ts, excl, a.family, start, end, label, err, errlen);
}

static int
parse_range(struct target_set *ts, const char *text, const char *dash, int excl,
	    uint32_t label, char *err, size_t errlen)
{
	char q[SHOWN_MAX];
	struct net_addr a, b;
	const char *right = dash + 1;
	size_t llen = (size_t)(dash - text), rlen = strlen(right);
	uint8_t start[16], end[16];

	if (llen == 0 || rlen == 0) {
		util_errf(err, errlen, "bad range '%s': missing %s address",
			  util_printable(text, q, sizeof(q), 0), llen == 0 ? "start" : "end");
		return -EINVAL;
	}
	if (parse_span(text, llen, &a) < 0) {
		util_errf(err, errlen, "bad range '%s': the start is not an IP address",
			  util_printable(text, q, sizeof(q), 0));
		return -EINVAL;
	}
	if (a.family == AF_INET && all_digits(right, rlen) && rlen <= 3) {
		/* nmap short form: 127.53.0.1-40 */
		unsigned octet = 0;
		for (size_t i = 0; i < rlen; i++)
			octet = octet * 10 + (unsigned)(right[i] - '0');
		if (octet > 255) {
			util_errf(err, errlen, "bad range '%s': the last octet must be 0-255",
				  util_printable(text, q, sizeof(q), 0));
			return -EINVAL;
		}
		b = a;
		b.bytes[3] = (uint8_t)octet;
	} else if (parse_span(right, rlen, &b) < 0) {
		util_errf(err, errlen, "bad range '%s': the end is not an IP address",
			  util_printable(text, q, sizeof(q), 0));
		return -EINVAL;
	}
	if (a.family != b.family) {
		util_errf(err, errlen, "bad range '%s': mixed IPv4 and IPv6",
			  util_printable(text, q, sizeof(q), 0));
		return -EINVAL;
	}
	if (net_addr_cmp(&a, &b) > 0) {
		util_errf(err, errlen, "bad range '%s': start is after end",
			  util_printable(text, q, sizeof(q), 0));
		return -EINVAL;
	}
	addr_to_be(&a, start);
	addr_to_be(&b, end);
	return push_range(ts, excl, a.family, start, end, label, err, errlen);
}

/* 0 if name is a plausible host name, else -EINVAL with why (a short phrase). */
static int
check_hostname(const char *name, const char **why)
{
	size_t len = strlen(name), label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--; /* one trailing dot: fully qualified */
	if (len == 0) {
		*why = "empty host name";
		return -EINVAL;
	}
	if (len > HOSTNAME_MAX) {
		*why = "host name longer than 253 characters";
		return -EINVAL;
	}
	if (name[0] == '-') {
		*why = "a host name cannot start with '-'";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c == '.') {
			if (label == 0) {
				*why = "empty label in host name";
				return -EINVAL;
			}
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_')) {
			*why = "invalid character in host name";
			return -EINVAL;
		}
		if (++label > LABEL_MAX) {
			*why = "host name label longer than 63 characters";
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Text the resolver must not see because it reads as a number: all digits and dots, a
 * last label of digits (no TLD is numeric), or anything inet_aton accepts ("127.1",
 * "0x7f000001"), which getaddrinfo would quietly turn into an address.
 */
static int
looks_numeric(const char *text)
{
	size_t len = strlen(text), i;
	struct in_addr ia;

	if (inet_aton(text, &ia) != 0)
		return 1;
	if (len > 0 && text[len - 1] == '.')
		len--;
	for (i = len; i > 0 && text[i - 1] != '.'; i--)
		;
	return all_digits(text + i, len - i);
}

static int
resolve_system(const char *name, struct net_addr *out, size_t max, size_t *count,
	       char *err, size_t errlen)
{
	/* No AI_ADDRCONFIG: we want every A and AAAA, even of a family this host lacks.
	 * SOCK_DGRAM keeps getaddrinfo from listing each address once per socket type. */
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL, *ai;
	size_t n = 0;
	int rc;

	*count = 0;
	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0) {
		int saved = errno;

		if (rc == EAI_SYSTEM) {
			util_errf(err, errlen, "%s", strerror(saved));
			return saved > 0 ? -saved : -EIO;
		}
		util_errf(err, errlen, "%s", gai_strerror(rc));
		if (rc == EAI_AGAIN)
			return -EAGAIN;
		if (rc == EAI_MEMORY)
			return -ENOMEM;
		return -ENOENT;
	}
	for (ai = res; ai != NULL && n < max; ai = ai->ai_next) {
		struct net_addr a;
		size_t i;

		if (net_addr_from_sockaddr(ai->ai_addr, &a, NULL) < 0)
			continue;
		/* /etc/hosts may list an address twice */
		for (i = 0; i < n; i++)
			if (net_addr_cmp(&out[i], &a) == 0)
				break;
		if (i == n)
			out[n++] = a;
	}
	freeaddrinfo(res);
	*count = n;
	return 0;
}

static int
resolve_name(struct target_set *ts, const char *name, int excl, uint32_t label,
	     char *err, size_t errlen)
{
	struct net_addr addrs[TARGETS_MAX_NAME_ADDRS];
	targets_resolve_fn fn = ts->resolve ? ts->resolve : resolve_system;
	char q[SHOWN_MAX], why[256] = "";
	size_t n = 0;
	int rc;

	rc = fn(name, addrs, TARGETS_MAX_NAME_ADDRS, &n, why, sizeof(why));
	if (rc != 0) {
		if (rc > 0)
			rc = -ENOENT; /* a hook that returned an EAI_ code or 1 */
		util_errf(err, errlen, "cannot resolve '%s': %s",
			  util_printable(name, q, sizeof(q), 0), why[0] ? why : strerror(-rc));
		return rc;
	}
	if (n == 0) {
		util_errf(err, errlen, "cannot resolve '%s': no addresses",
			  util_printable(name, q, sizeof(q), 0));
		return -ENOENT;
	}
	if (n > TARGETS_MAX_NAME_ADDRS)
		n = TARGETS_MAX_NAME_ADDRS;
	for (size_t i = 0; i < n; i++) {
		uint8_t v[16];

		if (addrs[i].family != AF_INET && addrs[i].family != AF_INET6) {
			util_errf(err, errlen, "cannot resolve '%s': resolver returned an address "
				  "that is neither IPv4 nor IPv6",
				  util_printable(name, q, sizeof(q), 0));
			return -EINVAL;
		}
		addr_to_be(&addrs[i], v);
		rc = push_range(ts, excl, addrs[i].family, v, v, label, err, errlen);
		if (rc < 0)
			return rc;
		if (!excl)
			ts->ent[ts->nent - 1].from_name = 1;
	}
	return 0;
}

/* "192.0.2.1:53", "ns1.example:53", "[2001:db8::1]:53": an address or name with a port,
 * as other tools write a service (one colon, or a bracketed IPv6 address, then digits). */
static bool
has_port(const char *text)
{
	const char *colon = strrchr(text, ':');

	if (colon == NULL || colon[1] == '\0' || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return false;
	if (text[0] == '[')
		return colon > text && colon[-1] == ']';
	return strchr(text, ':') == colon;
}

/* One target that is not "@FILE" or "-". */
static int
add_single(struct target_set *ts, const char *text, int excl, char *err, size_t errlen)
{
	char q[SHOWN_MAX];
	const char *slash, *dash, *why = NULL;
	struct net_addr a;
	uint32_t label = 0;
	uint8_t v[16];
	int rc;

	if (text[0] == '\0') {
		util_errf(err, errlen, "empty target");
		return -EINVAL;
	}
	if (!excl) {
		rc = push_label(ts, text, &label, err, errlen);
		if (rc < 0)
			return rc;
	}
	/* neither addresses nor host names contain '/' */
	slash = strchr(text, '/');
	if (slash != NULL)
		return parse_prefix(ts, text, slash, excl, label, err, errlen);
	/* a single '-' with an address-like side is a range; "ns-1.example" is a name */
	dash = strchr(text, '-');
	if (dash != NULL && strchr(dash + 1, '-') == NULL &&
	    (addressy(text, (size_t)(dash - text)) || addressy(dash + 1, strlen(dash + 1))))
		return parse_range(ts, text, dash, excl, label, err, errlen);
	if (net_addr_parse(text, &a) == 0) {
		addr_to_be(&a, v);
		return push_range(ts, excl, a.family, v, v, label, err, errlen);
	}
	if (has_port(text)) {
		util_errf(err, errlen, "bad target '%s': a target takes no port (the port probed "
			  "is --port, or probe.port in the config: 53 by default)",
			  util_printable(text, q, sizeof(q), 0));
		return -EINVAL;
	}
	if (strchr(text, ':') != NULL) {
		util_errf(err, errlen, "bad address '%s': not a valid IPv6 address%s",
			  util_printable(text, q, sizeof(q), 0),
			  strchr(text, '%') ? " (zone ids are not supported)" : "");
		return -EINVAL;
	}
	if (looks_numeric(text)) {
		if (strspn(text, "0123456789.") == strlen(text))
			util_errf(err, errlen, "bad address '%s': not a valid IPv4 address "
				  "(four decimal octets 0-255)",
				  util_printable(text, q, sizeof(q), 0));
		else
			util_errf(err, errlen, "bad address '%s': not a valid IPv4 address, nor a "
				  "host name (its last label is numeric)",
				  util_printable(text, q, sizeof(q), 0));
		return -EINVAL;
	}
	if (check_hostname(text, &why) < 0) {
		util_errf(err, errlen,
			  "bad target '%s': not an address, prefix, range or host name (%s)",
			  util_printable(text, q, sizeof(q), 0), why);
		return -EINVAL;
	}
	return resolve_name(ts, text, excl, label, err, errlen);
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n' || *s == '\v' || *s == '\f')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
			   end[-1] == '\n' || end[-1] == '\v' || end[-1] == '\f'))
		end--;
	*end = '\0';
	return s;
}

/* One line of fp into line (TARGETS_LINE_MAX + 1 bytes), without its '\n'; *total counts
 * the bytes of the stream. 1: a line, 0: the end, -E2BIG: a line or the stream too long,
 * -EIO: a read error. NUL bytes are kept (the caller refuses them). */
static int
read_line(FILE *fp, char *line, size_t *len, size_t *total)
{
	int ch;

	*len = 0;
	while ((ch = getc(fp)) != EOF) {
		if (++*total > TARGETS_STREAM_MAX)
			return -E2BIG;
		if (ch == '\n')
			break;
		if (*len == TARGETS_LINE_MAX)
			return -E2BIG;
		line[(*len)++] = (char)ch;
	}
	line[*len] = '\0';
	if (ch == EOF && ferror(fp))
		return -EIO;
	return ch == EOF && *len == 0 ? 0 : 1;
}

static int
add_stream(struct target_set *ts, FILE *fp, const char *fname, int excl, char *err, size_t errlen)
{
	char fq[256], q[SHOWN_MAX], msg[512];
	char *line, *p, *hash;
	size_t lineno = 0, len, total = 0;
	int rc = 0, got;

	if ((line = malloc(TARGETS_LINE_MAX + 1)) == NULL) {
		util_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	util_printable(fname, fq, sizeof(fq), 0);
	errno = 0;
	while ((got = read_line(fp, line, &len, &total)) == 1) {
		lineno++;
		if (memchr(line, '\0', len) != NULL) {
			util_errf(err, errlen, "%s:%zu: line contains a NUL byte", fq, lineno);
			rc = -EINVAL;
			goto out;
		}
		hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		p = trim(line);
		if (*p == '\0')
			continue;
		if (*p == '@' || strcmp(p, "-") == 0) {
			util_errf(err, errlen, "%s:%zu: '%s': a target file cannot include another",
				  fq, lineno, util_printable(p, q, sizeof(q), 0));
			rc = -EINVAL;
			goto out;
		}
		rc = add_single(ts, p, excl, msg, sizeof(msg));
		if (rc < 0) {
			util_errf(err, errlen, "%s:%zu: %s", fq, lineno, msg);
			goto out;
		}
		errno = 0;
	}
	if (got == -E2BIG && total > TARGETS_STREAM_MAX) {
		util_errf(err, errlen, "%s: more than %u MiB of targets", fq,
			  TARGETS_STREAM_MAX >> 20);
		rc = -E2BIG;
	} else if (got == -E2BIG) {
		util_errf(err, errlen, "%s:%zu: line longer than %d bytes", fq, lineno + 1,
			  TARGETS_LINE_MAX);
		rc = -E2BIG;
	} else if (got < 0) {
		int saved = errno ? errno : EIO;

		util_errf(err, errlen, "cannot read '%s': %s", fq, strerror(saved));
		rc = -ENOENT;
	}
out:
	free(line);
	return rc;
}

/* An @FILE target list: a regular file (O_NONBLOCK: a FIFO in its place must not hang the
 * open), no larger than TARGETS_STREAM_MAX. NULL with err. */
static FILE *
open_list(const char *path, char *err, size_t errlen)
{
	char q[256];
	struct stat sb;
	FILE *fp;
	int fd;

	util_printable(path, q, sizeof(q), 0);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		util_errf(err, errlen, "cannot read '%s': %s", q, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) == -1) {
		util_errf(err, errlen, "cannot read '%s': %s", q, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > TARGETS_STREAM_MAX) {
		util_errf(err, errlen, "cannot read '%s': %s", q, !S_ISREG(sb.st_mode)
			  ? "not a regular file" : "more than 64 MiB of targets");
		close(fd);
		return NULL;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		util_errf(err, errlen, "cannot read '%s': %s", q, strerror(errno));
		close(fd);
	}
	return fp;
}

static int
add_any(struct target_set *ts, const char *text, FILE *in, int excl, char *err, size_t errlen)
{
	FILE *fp;
	int rc;

	if (text == NULL || text[0] == '\0') {
		util_errf(err, errlen, "empty target");
		return -EINVAL;
	}
	if (strcmp(text, "-") == 0) {
		if (excl) {
			util_errf(err, errlen, "'-' (stdin) cannot be an exclusion; use @FILE");
			return -EINVAL;
		}
		return add_stream(ts, in ? in : stdin, "<stdin>", excl, err, errlen);
	}
	if (text[0] != '@')
		return add_single(ts, text, excl, err, errlen);
	if (text[1] == '\0') {
		util_errf(err, errlen, "bad target '@': missing file name");
		return -EINVAL;
	}
	if ((fp = open_list(text + 1, err, errlen)) == NULL)
		return -ENOENT;
	rc = add_stream(ts, fp, text + 1, excl, err, errlen);
	fclose(fp);
	return rc;
}

static void
take_snapshot(const struct target_set *ts, struct snapshot *s)
{
	s->nent = ts->nent;
	s->nlabels = ts->nlabels;
	s->nexcl = ts->nexcl;
}

/* A failed call keeps nothing it added: a half-read file would scan a surprising subset. */
static void
rollback(struct target_set *ts, const struct snapshot *s)
{
	while (ts->nlabels > s->nlabels)
		free(ts->labels[--ts->nlabels]);
	ts->nent = s->nent;
	ts->nexcl = s->nexcl;
}

struct target_set *
targets_new(void)
{
	struct target_set *ts = calloc(1, sizeof(*ts));

	if (ts != NULL)
		ts->max_hosts = TARGETS_DEFAULT_MAX_HOSTS;
	return ts;
}

void
targets_free(struct target_set *ts)
{
	if (ts == NULL)
		return;
	for (size_t i = 0; i < ts->nlabels; i++)
		free(ts->labels[i]);
	free(ts->labels);
	free(ts->ent);
	free(ts->excl);
	free(ts->shadow);
	free(ts->shadow_at);
	free(ts);
}

void
targets_set_resolver(struct target_set *ts, targets_resolve_fn fn)
{
	ts->resolve = fn;
}

void
targets_set_max_hosts(struct target_set *ts, uint64_t max_hosts)
{
	ts->max_hosts = max_hosts;
}

int
targets_add(struct target_set *ts, const char *text, FILE *in, char *err, size_t errlen)
{
	struct snapshot s;
	int rc;

	shadows_clear(ts); /* targets_finish builds them again */
	take_snapshot(ts, &s);
	rc = add_any(ts, text, in, 0, err, errlen);
	if (rc < 0)
		rollback(ts, &s);
	return rc;
}

int
targets_exclude(struct target_set *ts, const char *text, char *err, size_t errlen)
{
	struct snapshot s;
	int rc;

	shadows_clear(ts);
	take_snapshot(ts, &s);
	rc = add_any(ts, text, NULL, 1, err, errlen);
	if (rc == 0)
		rc = normalize_excl(ts, s.nexcl, err, errlen);
	if (rc < 0)
		rollback(ts, &s);
	return rc;
}

/* ---- overlapping entries: each address once, under its most specific entry ---- */

/* Does entry a win over entry b for the addresses they share? The more specific one (fewer
 * addresses: a host over its prefix), then the one given first. */
static bool
entry_better(const struct target_set *ts, size_t a, size_t b)
{
	uint64_t na = span_count(ts->ent[a].start, ts->ent[a].end);
	uint64_t nb = span_count(ts->ent[b].start, ts->ent[b].end);

	return na != nb ? na < nb : a < b;
}

/* [start, end] is in both entries, and winner wins it. 0, or -errno to stop. */
typedef int (*overlap_fn)(void *arg, size_t winner, size_t loser, const struct trange *part);

struct ordered {
	size_t i;
	const struct trange *r;
};

static int
by_family_start(const void *a, const void *b)
{
	const struct ordered *x = a, *y = b;
	int c = key_cmp(x->r->family, x->r->start, y->r->family, y->r->start);

	return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

/* Every overlap of two entries, once: a sweep over the entries by start, keeping those
 * whose end is not passed yet (a prefix and the hosts inside it: two at a time). */
static int
overlaps_sweep(const struct target_set *ts, overlap_fn fn, void *arg)
{
	struct ordered *o = malloc((ts->nent ? ts->nent : 1) * sizeof(*o));
	size_t *active = malloc((ts->nent ? ts->nent : 1) * sizeof(*active)), na = 0;
	int rc = 0;

	if (o == NULL || active == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ts->nent; i++)
		o[i] = (struct ordered){ i, &ts->ent[i] };
	if (ts->nent > 1)
		qsort(o, ts->nent, sizeof(*o), by_family_start);
	for (size_t k = 0; k < ts->nent && rc == 0; k++) {
		const struct trange *j = o[k].r;
		size_t keep = 0;

		for (size_t a = 0; a < na; a++) {
			const struct trange *i = &ts->ent[active[a]];
			if (i->family == j->family && memcmp(i->end, j->start, 16) >= 0)
				active[keep++] = active[a];
		}
		na = keep;
		for (size_t a = 0; a < na && rc == 0; a++) {
			const struct trange *i = &ts->ent[active[a]];
			struct trange part = { .family = j->family };
			bool jw = entry_better(ts, o[k].i, active[a]);

			/* i starts at or before j and has not ended: they share [j.start, min] */
			memcpy(part.start, j->start, 16);
			memcpy(part.end, memcmp(i->end, j->end, 16) < 0 ? i->end : j->end, 16);
			rc = fn(arg, jw ? o[k].i : active[a], jw ? active[a] : o[k].i, &part);
		}
		active[na++] = o[k].i;
	}
out:
	free(o);
	free(active);
	return rc;
}

/* The parts each entry loses, gathered by overlaps_sweep and then sorted and merged. */
struct lost {
	size_t loser;
	struct trange part;
};

struct lost_list {
	struct lost *v;
	size_t n, cap;
};

static int
lost_add(void *arg, size_t winner, size_t loser, const struct trange *part)
{
	struct lost_list *l = arg;

	(void)winner;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		struct lost *n = realloc(l->v, ncap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		l->v = n;
		l->cap = ncap;
	}
	l->v[l->n++] = (struct lost){ loser, *part };
	return 0;
}

static int
by_loser_start(const void *a, const void *b)
{
	const struct lost *x = a, *y = b;

	if (x->loser != y->loser)
		return x->loser < y->loser ? -1 : 1;
	return memcmp(x->part.start, y->part.start, 16);
}

static void
shadows_clear(struct target_set *ts)
{
	free(ts->shadow);
	free(ts->shadow_at);
	ts->shadow = NULL;
	ts->shadow_at = NULL;
}

/* Each entry's lost parts, merged, into ts->shadow. 0 or -ENOMEM. */
static int
shadows_build(struct target_set *ts)
{
	struct lost_list l = { 0 };
	size_t k = 0, m = 0;
	int rc;

	shadows_clear(ts);
	if ((rc = overlaps_sweep(ts, lost_add, &l)) < 0)
		goto out;
	if (l.n > 1) /* qsort takes no NULL, even for nothing to sort */
		qsort(l.v, l.n, sizeof(*l.v), by_loser_start);
	ts->shadow = malloc((l.n ? l.n : 1) * sizeof(*ts->shadow));
	ts->shadow_at = calloc(ts->nent + 1, sizeof(*ts->shadow_at));
	if (ts->shadow == NULL || ts->shadow_at == NULL) {
		shadows_clear(ts);
		rc = -ENOMEM;
		goto out;
	}
	for (size_t e = 0; e < ts->nent; e++) {
		ts->shadow_at[e] = m;
		for (; k < l.n && l.v[k].loser == e; k++) {
			const struct trange *p = &l.v[k].part;
			struct trange *last = m > ts->shadow_at[e] ? &ts->shadow[m - 1] : NULL;
			uint8_t after[16];

			if (last != NULL) {
				memcpy(after, last->end, 16);
				if (memcmp(p->start, last->end, 16) <= 0 ||
				    (!be_inc(after) && memcmp(p->start, after, 16) == 0)) {
					if (memcmp(p->end, last->end, 16) > 0)
						memcpy(last->end, p->end, 16);
					continue;
				}
			}
			ts->shadow[m++] = *p;
		}
	}
	ts->shadow_at[ts->nent] = m;
out:
	free(l.v);
	return rc;
}

/* The lost part of entry e covering v, or NULL. */
static const struct trange *
shadow_covering(const struct target_set *ts, size_t e, const uint8_t v[16])
{
	size_t lo, hi;

	if (ts->shadow_at == NULL)
		return NULL;
	lo = ts->shadow_at[e];
	hi = ts->shadow_at[e + 1];
	/* the last part starting at or before v */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(ts->shadow[mid].start, v, 16) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > ts->shadow_at[e] && memcmp(ts->shadow[lo - 1].end, v, 16) >= 0)
		return &ts->shadow[lo - 1];
	return NULL;
}

/* Addresses entry e streams: its own, minus exclusions, minus what it loses. */
static uint64_t
entry_remaining(const struct target_set *ts, size_t e)
{
	uint64_t n = excl_remaining(ts, &ts->ent[e]);

	for (size_t k = ts->shadow_at ? ts->shadow_at[e] : 0;
	     ts->shadow_at && k < ts->shadow_at[e + 1]; k++) {
		uint64_t lost = excl_remaining(ts, &ts->shadow[k]);
		n = n >= lost ? n - lost : 0;
	}
	return n;
}

struct overlap_report {
	targets_overlap_fn fn;
	void *arg;
};

static int
report_overlap(void *arg, size_t winner, size_t loser, const struct trange *part)
{
	struct overlap_report *r = arg;

	return r->fn(r->arg, winner, loser, span_count(part->start, part->end));
}

int
targets_overlaps(const struct target_set *ts, targets_overlap_fn fn, void *arg)
{
	struct overlap_report r = { fn, arg };

	return overlaps_sweep(ts, report_overlap, &r);
}

int
targets_finish(struct target_set *ts, char *err, size_t errlen)
{
	uint64_t n = 0;

	for (size_t i = 0; i < ts->nent; i++)
		n = sat_add(n, span_count(ts->ent[i].start, ts->ent[i].end));
	if (ts->max_hosts != 0 && n > ts->max_hosts) {
		util_errf(err, errlen, "targets cover %s%" PRIu64 " addresses, more than the cap "
			  "of %" PRIu64 "; narrow them or raise it with --max-hosts",
			  n == UINT64_MAX ? "at least " : "", n, ts->max_hosts);
		return -E2BIG;
	}
	if (shadows_build(ts) < 0) {
		util_errf(err, errlen, "targets: out of memory");
		return -ENOMEM;
	}
	return 0;
}

size_t
targets_count(const struct target_set *ts)
{
	return ts->nent;
}

const char *
targets_label(const struct target_set *ts, size_t i)
{
	if (i >= ts->nent)
		return NULL;
	return ts->labels[ts->ent[i].label];
}

uint64_t
targets_total(const struct target_set *ts)
{
	uint64_t n = 0;

	for (size_t i = 0; i < ts->nent; i++)
		n = sat_add(n, entry_remaining(ts, i));
	return n;
}

void
targets_iter_init(struct target_iter *it, const struct target_set *ts)
{
	memset(it, 0, sizeof(*it));
	it->ts = ts;
}

int
targets_iter_next(struct target_iter *it, struct net_addr *addr, uint32_t *target_index)
{
	const struct target_set *ts = it->ts;

	while (it->entry < ts->nent) {
		const struct trange *e = &ts->ent[it->entry];
		const struct trange *x;

		if (!it->started) {
			memcpy(it->cur, e->start, 16);
			it->started = 1;
		} else if (memcmp(it->cur, e->end, 16) == 0) {
			it->entry++;
			it->started = 0;
			continue;
		} else {
			be_inc(it->cur); /* cur < end: cannot wrap */
		}
		/* past what is excluded and what a more specific entry streams: each skip
		 * lands after a part, which the other kind may cover in turn */
		while ((x = excl_covering(ts, e->family, it->cur)) != NULL ||
		       (x = shadow_covering(ts, it->entry, it->cur)) != NULL) {
			if (memcmp(x->end, e->end, 16) >= 0)
				break;
			memcpy(it->cur, x->end, 16);
			be_inc(it->cur); /* x->end < e->end: cannot wrap */
		}
		if (x != NULL) {
			it->entry++;
			it->started = 0;
			continue;
		}
		be_to_addr(e->family, it->cur, addr);
		if (target_index != NULL)
			*target_index = (uint32_t)it->entry;
		return 1;
	}
	return 0;
}

int
targets_contains(const struct target_set *ts, const struct net_addr *addr,
		 uint32_t *target_index)
{
	size_t best = SIZE_MAX;
	uint8_t v[16];

	addr_to_be(addr, v);
	if (excl_covering(ts, addr->family, v) != NULL)
		return 0;
	/* linear: a config's target list, asked once per responder, not per packet; the
	 * entry that streams it (the most specific), as targets_iter_next says */
	for (size_t i = 0; i < ts->nent; i++) {
		const struct trange *e = &ts->ent[i];

		if (e->family == addr->family && memcmp(e->start, v, 16) <= 0 &&
		    memcmp(v, e->end, 16) <= 0 && (best == SIZE_MAX || entry_better(ts, i, best)))
			best = i;
	}
	if (best == SIZE_MAX)
		return 0;
	if (target_index != NULL)
		*target_index = (uint32_t)best;
	return 1;
}

/* ---- the literal address space, for sharding ---- */

int
targets_cover(const struct target_set *ts, targets_cover_fn fn, void *arg)
{
	struct trange *v = malloc((ts->nent ? ts->nent : 1) * sizeof(*v));
	size_t n = 0;
	int rc = 0;

	if (v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < ts->nent; i++)
		if (!ts->ent[i].from_name)
			v[n++] = ts->ent[i];
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_trange);
	/* sorted by start: a run grows while the next entry starts inside it or right
	 * after it, so runs come out disjoint, apart and ascending */
	for (size_t i = 0; i < n && rc == 0;) {
		struct trange run = v[i++];
		struct net_addr first, last;

		while (i < n && v[i].family == run.family) {
			uint8_t after[16];

			memcpy(after, run.end, 16);
			if (memcmp(v[i].start, run.end, 16) > 0 &&
			    (be_inc(after) || memcmp(v[i].start, after, 16) != 0))
				break;
			if (memcmp(v[i].end, run.end, 16) > 0)
				memcpy(run.end, v[i].end, 16);
			i++;
		}
		be_to_addr(run.family, run.start, &first);
		be_to_addr(run.family, run.end, &last);
		rc = fn(arg, &first, &last);
	}
	free(v);
	return rc;
}
