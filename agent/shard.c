/* shard: which of N agents probes an address; a keyed permutation of the target set's ranks. */
#include "agent/shard.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"

/* Feistel rounds: with a real mixing function four already look random; six leave no
 * visible pattern even on 4-bit halves (a /22 is two 5-bit halves). */
#define ROUNDS 6
#define SHOWN_MAX 64

/* One stretch of consecutive addresses of the literal space. The address is 128 bits as
 * two halves (IPv4 in lo), so one arithmetic serves both families; its length is the next
 * run's base minus this one's (the last: the total). */
struct run {
	uint64_t hi, lo;
	uint64_t base;   /* rank of the run's first address */
	uint8_t family;
};

struct shard {
	struct shard_spec spec;
	struct run *runs;
	size_t nruns, cap;
	uint64_t total;  /* T: addresses of the literal space */
	unsigned half;   /* bits in each Feistel half: 2 * half >= bits of T - 1 */
	uint64_t key[ROUNDS];
	uint64_t hash_key;
};

/* splitmix64's finalizer: every input bit flips each output bit about half the time. */
static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
addr_halves(const struct net_addr *a, uint64_t *hi, uint64_t *lo)
{
	size_t n = a->family == AF_INET ? 4 : 16;
	uint8_t v[16] = { 0 };

	memcpy(v + 16 - n, a->bytes, n);
	*hi = *lo = 0;
	for (int i = 0; i < 8; i++) {
		*hi = *hi << 8 | v[i];
		*lo = *lo << 8 | v[8 + i];
	}
}

static int
key_cmp(uint8_t fa, uint64_t ha, uint64_t la, const struct run *r)
{
	if (fa != r->family)
		return fa < r->family ? -1 : 1;
	if (ha != r->hi)
		return ha < r->hi ? -1 : 1;
	return la < r->lo ? -1 : la > r->lo;
}

int
shard_parse(const char *text, struct shard_spec *spec, char *err, size_t errlen)
{
	char q[SHOWN_MAX], ibuf[16];
	const char *slash = strchr(text, '/');
	uint64_t i, n;
	size_t ilen;

	util_printable(text, q, sizeof(q), 0);
	ilen = slash ? (size_t)(slash - text) : 0;
	/* util_parse_uint takes digits only, so "+1/3", "1/3x", " 1/3" and "1/-3" fail here */
	if (slash == NULL || ilen == 0 || ilen >= sizeof(ibuf)) {
		util_errf(err, errlen, "'%s' is not I/N, shard I of N (e.g. 2/3)", q);
		return -EINVAL;
	}
	memcpy(ibuf, text, ilen);
	ibuf[ilen] = '\0';
	if (util_parse_uint(ibuf, 0, UINT32_MAX, &i) < 0 ||
	    util_parse_uint(slash + 1, 0, UINT32_MAX, &n) < 0) {
		util_errf(err, errlen, "'%s' is not I/N, shard I of N (e.g. 2/3)", q);
		return -EINVAL;
	}
	if (n < 1 || n > SHARD_MAX) {
		util_errf(err, errlen, "'%s': N must be from 1 to %d", q, SHARD_MAX);
		return -EINVAL;
	}
	if (i < 1 || i > n) {
		util_errf(err, errlen, "'%s': I must be from 1 to %" PRIu64 " (shards count from 1)",
			  q, n);
		return -EINVAL;
	}
	spec->index = (uint32_t)i;
	spec->count = (uint32_t)n;
	return 0;
}

const char *
shard_str(const struct shard_spec *spec, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRIu32 "/%" PRIu32, spec->index, spec->count);
	return buf;
}

/* Append [first, last]; its length must keep the total below 2^64. */
static int
add_run(void *arg, const struct net_addr *first, const struct net_addr *last)
{
	struct shard *sh = arg;
	uint64_t fh, fl, lh, ll, len;

	addr_halves(first, &fh, &fl);
	addr_halves(last, &lh, &ll);
	/* last - first + 1 < 2^64: the high halves differ by at most one, with a wrap below */
	if (lh - fh - (ll < fl) != 0 || ll - fl == UINT64_MAX)
		return -E2BIG;
	len = ll - fl + 1;
	if (len > UINT64_MAX - sh->total)
		return -E2BIG;
	if (sh->nruns == sh->cap) {
		size_t ncap = sh->cap ? sh->cap * 2 : 16;
		struct run *r;

		if (ncap > SIZE_MAX / sizeof(*r) || (r = realloc(sh->runs, ncap * sizeof(*r))) == NULL)
			return -ENOMEM;
		sh->runs = r;
		sh->cap = ncap;
	}
	sh->runs[sh->nruns++] = (struct run){ fh, fl, sh->total, first->family };
	sh->total += len;
	return 0;
}

int
shard_new(const struct target_set *ts, const struct shard_spec *spec, struct shard **out,
	  char *err, size_t errlen)
{
	struct shard *sh;
	unsigned bits = 0;
	int rc;

	*out = NULL;
	if ((sh = calloc(1, sizeof(*sh))) == NULL) {
		rc = -ENOMEM;
		goto bad;
	}
	sh->spec = *spec;
	if ((rc = targets_cover(ts, add_run, sh)) < 0)
		goto bad;
	while (bits < 64 && sh->total > 1 && ((sh->total - 1) >> bits) != 0)
		bits++;
	/* a balanced network needs two equal halves: the domain is 2^(2 * half) >= T */
	sh->half = bits < 2 ? 1 : (bits + 1) / 2;
	for (unsigned r = 0; r < ROUNDS; r++)
		sh->key[r] = mix64(spec->seed + (r + 1) * 0x9e3779b97f4a7c15ull);
	sh->hash_key = mix64(spec->seed ^ 0x5bd1e9955bd1e995ull);
	*out = sh;
	return 0;
bad:
	if (rc == -E2BIG)
		util_errf(err, errlen, "shard: the targets cover 2^64 addresses or more, too many "
			  "to number");
	else
		util_errf(err, errlen, "shard: out of memory");
	shard_free(sh);
	return rc;
}

void
shard_free(struct shard *sh)
{
	if (sh == NULL)
		return;
	free(sh->runs);
	free(sh);
}

/* One pass of the Feistel network over 2 * half bits: a bijection of 0..2^(2 half)-1. */
static uint64_t
feistel(const struct shard *sh, uint64_t x)
{
	unsigned h = sh->half;
	uint64_t mask = (1ull << h) - 1; /* h <= 32 */
	uint64_t l = x >> h, r = x & mask;

	for (unsigned i = 0; i < ROUNDS; i++) {
		uint64_t t = l ^ (mix64(r ^ sh->key[i]) & mask);
		l = r;
		r = t;
	}
	return l << h | r;
}

/* The position of rank r in the keyed order of 0..T-1. Cycle walking: the network
 * permutes a domain of up to 4T; stepping again until the value falls below T stays on
 * r's cycle, which is a bijection of 0..T-1 (about two steps on average). */
static uint64_t
permute(const struct shard *sh, uint64_t r)
{
	uint64_t x = r;

	do
		x = feistel(sh, x);
	while (x >= sh->total);
	return x;
}

/* 1 with the rank of addr in the literal space, or 0. */
static int
rank_of(const struct shard *sh, uint8_t family, uint64_t hi, uint64_t lo, uint64_t *rank)
{
	size_t a = 0, b = sh->nruns;
	const struct run *r;
	uint64_t off, len;

	/* the last run starting at or before addr */
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (key_cmp(family, hi, lo, &sh->runs[mid]) >= 0)
			a = mid + 1;
		else
			b = mid;
	}
	if (a == 0)
		return 0;
	r = &sh->runs[a - 1];
	if (r->family != family || hi - r->hi - (lo < r->lo) != 0)
		return 0;
	off = lo - r->lo;
	len = (a < sh->nruns ? sh->runs[a].base : sh->total) - r->base;
	if (off >= len)
		return 0;
	*rank = r->base + off;
	return 1;
}

uint32_t
shard_owner(const struct shard *sh, const struct net_addr *addr)
{
	uint64_t hi, lo, rank, h;

	if (sh->spec.count <= 1)
		return 1;
	addr_halves(addr, &hi, &lo);
	if (rank_of(sh, addr->family, hi, lo, &rank))
		return (uint32_t)(permute(sh, rank) % sh->spec.count) + 1;
	h = mix64(sh->hash_key ^ addr->family);
	h = mix64(h ^ hi);
	h = mix64(h ^ lo);
	return (uint32_t)(h % sh->spec.count) + 1;
}

bool
shard_mine(const struct shard *sh, const struct net_addr *addr)
{
	return shard_owner(sh, addr) == sh->spec.index;
}

uint64_t
shard_estimate(const struct shard *sh, uint64_t total)
{
	uint64_t n = sh->spec.count ? sh->spec.count : 1;

	return total / n + (total % n != 0);
}

int
shard_filter_next(void *arg, struct net_addr *addr, uint32_t *target_index)
{
	struct shard_filter *f = arg;
	int rc;

	while ((rc = f->next(f->next_arg, addr, target_index)) == 1)
		if (shard_mine(f->sh, addr))
			return 1;
	return rc;
}
