/*
 * shard: split one target set among N agents that never talk to each other (scan --shard
 * I/N, config "shard" and "shard_seed"). Every agent given the same targets and seed makes
 * the same split, so shards 1..N are disjoint and together are the whole set.
 *
 * How an address finds its shard (the same on every agent):
 * - An address of the set's literal space (targets_cover: its addresses, prefixes and
 *   ranges, overlaps counted once, exclusions not applied) has a rank r, its position in
 *   that space sorted. A keyed permutation of 0..T-1 (T addresses; a Feistel network on
 *   the next even power of two, walking the cycle back into range) takes r to a position
 *   p; the shard is p mod N, plus one. Like zmap, one pseudo-random order of the whole set
 *   is cut into N parts (zmap cuts its cyclic group's order into N stretches, counting the
 *   group elements it skips; dealing positions out in turn over 0..T-1 counts only real
 *   addresses), so the sizes are floor(T/N) or ceil(T/N): exact, not statistical.
 * - Any other address (one a host name resolved to, outside every prefix) goes by a keyed
 *   64-bit hash of the address, mod N: the same shard on every agent that resolves the
 *   name to it, balanced only statistically (names are few).
 * - Exclusions apply after the split: they leave their addresses' shards smaller, and
 *   agents that exclude differently still split the rest exactly.
 * Memory: one 32-byte run per stretch of consecutive addresses in the literal space (a
 * /12 is one; a million scattered addresses are 32 MB), built by shard_new.
 */
#ifndef WATCH53_SHARD_H
#define WATCH53_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/targets.h"
#include "common/netaddr.h"

#define SHARD_MAX 65535 /* N at most (zmap's limit too) */

/* count 0: no sharding. index is 1-based: 1/3, 2/3, 3/3. */
struct shard_spec {
	uint32_t index, count;
	uint64_t seed;
};

/* "I/N" into spec's index and count (seed untouched). 0, or -EINVAL with a one-line reason
 * that quotes the text, for the caller to prefix with the option or field name. */
int shard_parse(const char *text, struct shard_spec *spec, char *err, size_t errlen);
/* "I/N" for display. Returns buf. */
const char *shard_str(const struct shard_spec *spec, char *buf, size_t len);

struct shard;

/* The split of ts (after targets_finish or not: only targets_cover is read) per spec
 * (count >= 1). ts need not outlive it. 0; -ENOMEM; -E2BIG when the literal space holds
 * 2^64 addresses or more (err says so). */
int shard_new(const struct target_set *ts, const struct shard_spec *spec, struct shard **out,
	      char *err, size_t errlen);
void shard_free(struct shard *sh);

/* The shard (1..N) addr belongs to. Pure: the same answer every time, on every agent. */
uint32_t shard_owner(const struct shard *sh, const struct net_addr *addr);
/* Is addr in this agent's shard (spec.index)? */
bool shard_mine(const struct shard *sh, const struct net_addr *addr);
/* About how many of `total` streamed addresses are this shard's: for a progress line. */
uint64_t shard_estimate(const struct shard *sh, uint64_t total);

/*
 * A stream (the engine's next-address callback shape) filtered to this shard: set sh,
 * next and next_arg, pass shard_filter_next with a pointer to the struct. The target index
 * passes through unchanged.
 */
typedef int (*shard_next_fn)(void *arg, struct net_addr *addr, uint32_t *target_index);
struct shard_filter {
	const struct shard *sh;
	shard_next_fn next;
	void *next_arg;
};
int shard_filter_next(void *arg, struct net_addr *addr, uint32_t *target_index);

#endif
