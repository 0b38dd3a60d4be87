/*
 * targets: turn target text from the command line or config into a stream of addresses.
 * Syntax (docs/CONTRACT.md): IPv4/IPv6 address, CIDR prefix, range "A-B" (same family,
 * A <= B), host name (every A and AAAA via getaddrinfo), "@FILE" (one target a line,
 * '#' comments, blank lines ignored), "-" (the same, from stdin). Ranges are expanded lazily:
 * a /16 is one entry, not 65,536. Excluded addresses are skipped while streaming.
 *
 * Details the CLI and config rely on:
 * - A prefix may have host bits set; they are masked (10.1.2.3/8 is 10.0.0.0/8), as nmap does.
 * - A range also takes the nmap short form "127.53.0.1-40": an IPv4 start and a last octet.
 * - No zone ids ("fe80::1%eth0" is refused). IPv4 must be four decimal octets: "127.1",
 *   "0x7f000001" or "010.0.0.1" are refused rather than handed to the resolver, which would
 *   read them in the old inet_aton way. Text that looks like an address, prefix or range
 *   but is not one is an error, never a host name.
 * - A host name (letters, digits, '-', '_', '.'; labels <= 63, name <= 253, last label not
 *   all digits) becomes one single-address entry per address it resolves to, in resolver
 *   order, each labelled with the name.
 * - Lines of @FILE and "-" are trimmed; a line may not itself be "@..." or "-" (no nesting).
 *   Each line's text is its entry's label.
 * - Each address is streamed (and counted) once, under its most specific entry: a host over
 *   the prefix it is in, a narrower prefix over a wider one, the entry given first among
 *   equals (a name's addresses are single entries: they win over any prefix). The entry
 *   decides the label, and in a config the target's name and expectation. This holds
 *   after targets_finish; targets_overlaps lists what overlapped.
 */
#ifndef WATCH53_TARGETS_H
#define WATCH53_TARGETS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/netaddr.h"

#define TARGETS_DEFAULT_MAX_HOSTS (1ull << 20)
/* At most this many addresses are taken from one host name. */
#define TARGETS_MAX_NAME_ADDRS 256
/* A target list (@FILE, stdin) holds at most this many bytes (a million lines of a prefix
 * or a long name each fit), a line at most TARGETS_LINE_MAX: a file without line breaks
 * or a runaway pipe is an error, not a gigabyte of memory. */
#define TARGETS_STREAM_MAX (64u << 20)
#define TARGETS_LINE_MAX 1024

struct target_set;

/*
 * resolve: the name resolution hook, so tests never touch DNS. NULL means the system
 * resolver (getaddrinfo, AF_UNSPEC: every A and AAAA, each distinct address once).
 * Write at most max addresses (AF_INET or AF_INET6) to out and their number to *count;
 * return 0, or a negative errno with a short reason (e.g. gai_strerror's text) in err —
 * the caller wraps it as "cannot resolve 'NAME': REASON". Must not keep the pointers.
 */
typedef int (*targets_resolve_fn)(const char *name, struct net_addr *out, size_t max,
				  size_t *count, char *err, size_t errlen);

/* NULL when out of memory. */
struct target_set *targets_new(void);
void targets_free(struct target_set *ts);
void targets_set_resolver(struct target_set *ts, targets_resolve_fn fn);
/* The largest number of addresses one scan may cover (sum over targets, before
 * exclusion); an IPv6 prefix wider than /112 exceeds any sane cap on its own.
 * 0 means no cap. */
void targets_set_max_hosts(struct target_set *ts, uint64_t max_hosts);

/* Add one target (any syntax above). "-" reads `in` (stdin if NULL). On error returns a
 * negative errno with a one-line message naming the offending text (and file:line), and
 * nothing from this call is kept (a bad line 50 also drops lines 1-49 of that file).
 * -EINVAL: bad syntax; -ENOENT: a file that cannot be opened or read (message carries
 * strerror); a resolver failure returns the hook's code (system resolver: -ENOENT for an
 * unknown name, -EAGAIN for a temporary failure); -ENOMEM. */
int targets_add(struct target_set *ts, const char *text, FILE *in, char *err, size_t errlen);
/* Add an exclusion (address, CIDR, range, name or @FILE; not "-"). Same errors. */
int targets_exclude(struct target_set *ts, const char *text, char *err, size_t errlen);
/* Check the host cap and settle overlapping entries; call after adding everything (and
 * again after adding more), before streaming. 0, -E2BIG with a message saying how many
 * addresses and how to raise the cap (--max-hosts), or -ENOMEM. The cap counts every
 * entry's addresses (overlaps and exclusions included); counts saturate at UINT64_MAX
 * (::/0 covers 2^128). */
int targets_finish(struct target_set *ts, char *err, size_t errlen);

/* Each pair of entries that share addresses, once per shared stretch: the entry that
 * streams them (winner), the one that does not, and how many (saturating). fn returns 0
 * or -errno (stops, returned). For `config check`'s warning. 0 or -errno. */
typedef int (*targets_overlap_fn)(void *arg, size_t winner, size_t loser, uint64_t n);
int targets_overlaps(const struct target_set *ts, targets_overlap_fn fn, void *arg);

size_t targets_count(const struct target_set *ts);               /* target entries */
const char *targets_label(const struct target_set *ts, size_t i); /* text as given; NULL if i out of range */
/* Addresses the stream will produce (exclusions applied), saturating at UINT64_MAX. */
uint64_t targets_total(const struct target_set *ts);

/* Streaming: 1 with the next address and the index of the target it came from, 0 at end.
 * Entries in the order added, addresses ascending inside each. target_index may be NULL.
 * The fields are private; the set must not change while an iterator walks it. */
struct target_iter {
	const struct target_set *ts;
	size_t entry;
	uint8_t cur[16]; /* last address produced, 128-bit big-endian (IPv4 in the low 32 bits) */
	int started;
};
/* Is addr one of the set's addresses (exclusions applied)? 1 with the index of the first
 * target holding it (may be NULL), or 0. For passive detection: is a responder ours? */
int targets_contains(const struct target_set *ts, const struct net_addr *addr,
		     uint32_t *target_index);

/*
 * The set's literal address space, for sharding (agent/shard.h): every address an address,
 * prefix or range entry covers, as maximal runs [first, last], ascending (IPv4 first, then
 * by address). It depends only on those entries, not on their order, on host names (what
 * a name resolves to may differ from one agent to the next) or on exclusions (agents may
 * exclude differently). fn returns 0 or -errno (stops, returned). 0, -ENOMEM or fn's code.
 */
typedef int (*targets_cover_fn)(void *arg, const struct net_addr *first,
				const struct net_addr *last);
int targets_cover(const struct target_set *ts, targets_cover_fn fn, void *arg);

void targets_iter_init(struct target_iter *it, const struct target_set *ts);
int targets_iter_next(struct target_iter *it, struct net_addr *addr, uint32_t *target_index);

#endif
