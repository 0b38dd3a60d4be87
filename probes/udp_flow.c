/* udp_flow: the table from (pool socket, probed address) to UDP probes, and the judges that
 * decide what a datagram or an ICMP error on a shared socket is evidence for. */
#include "probes/udp_flow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static size_t
addr_len(const struct net_addr *a)
{
	return a->family == AF_INET6 ? 16 : 4;
}

static bool
same_addr(const struct net_addr *a, const struct net_addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, addr_len(a)) == 0;
}

static size_t
flow_hash(const struct udp_flows *t, unsigned sock, const struct net_addr *a)
{
	uint64_t h = t->seed ^ ((uint64_t)a->family << 8 | (sock & 0xff));

	for (size_t i = 0; i < addr_len(a); i++) {
		h ^= a->bytes[i];
		h *= 0x100000001b3ull; /* FNV-1a step */
	}
	/* splitmix64 finaliser: the low bits index the buckets */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return (size_t)h & t->mask;
}

int
udp_flows_init(struct udp_flows *t, unsigned capacity, uint64_t seed)
{
	size_t n = 16;

	/* at most half full: chains stay a link or two long */
	while (n < (size_t)capacity * 2)
		n *= 2;
	memset(t, 0, sizeof(*t));
	t->buckets = calloc(n, sizeof(*t->buckets));
	if (t->buckets == NULL)
		return -ENOMEM;
	t->mask = n - 1;
	t->seed = seed;
	return 0;
}

void
udp_flows_clear(struct udp_flows *t)
{
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

void
udp_flows_add(struct udp_flows *t, struct udp_flow *f)
{
	size_t b;

	if (f->linked)
		return;
	b = flow_hash(t, f->sock, &f->dst);
	f->next = t->buckets[b];
	t->buckets[b] = f;
	f->linked = true;
}

void
udp_flows_del(struct udp_flows *t, struct udp_flow *f)
{
	struct udp_flow **pp;

	if (!f->linked)
		return;
	for (pp = &t->buckets[flow_hash(t, f->sock, &f->dst)]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	f->next = NULL;
	f->linked = false;
}

/* The first flow from f on (f included) for this socket and address. */
static struct udp_flow *
chain_match(struct udp_flow *f, unsigned sock, const struct net_addr *a)
{
	for (; f != NULL; f = f->next)
		if (f->sock == sock && same_addr(&f->dst, a))
			return f;
	return NULL;
}

struct udp_flow *
udp_flows_find(const struct udp_flows *t, unsigned sock, const struct net_addr *a)
{
	if (t->buckets == NULL)
		return NULL;
	return chain_match(t->buckets[flow_hash(t, sock, a)], sock, a);
}

struct udp_flow *
udp_flows_find_next(const struct udp_flow *f)
{
	return chain_match(f->next, f->sock, &f->dst);
}

/* Which attempt of f asked this? -1 if none. */
static int
flow_attempt_of(const struct udp_flow *f, uint16_t id)
{
	for (unsigned i = 0; i < f->nids && i < UDP_FLOW_MAX_IDS; i++)
		if (f->ids[i] == id)
			return (int)i;
	return -1;
}

enum udp_flow_verdict
udp_flow_judge(const struct udp_flows *t, const struct udp_flow_query *q, unsigned sock,
	       const struct net_addr *src, uint16_t sport, const uint8_t *buf, size_t len,
	       struct dns_reply *r, struct udp_flow **f, int *attempt, int *why)
{
	struct udp_flow *first, *g;
	int rc, last = DNS_E_ID_MISMATCH;

	*f = NULL;
	*attempt = -1;
	*why = 0;
	if (sport != q->port)
		return UDP_FLOW_STRAY; /* not from the port we asked */
	first = udp_flows_find(t, sock, src);
	if (first == NULL)
		return UDP_FLOW_STRAY; /* we ask that address nothing through this socket */
	rc = dns_parse_reply(buf, len, r);
	if (rc < 0) {
		*f = first;
		*why = rc;
		return UDP_FLOW_UNVERIFIED;
	}
	/* the ID picks the attempt; the question must be ours too (dns_reply_matches) */
	for (g = first; g != NULL; g = udp_flows_find_next(g)) {
		int k = flow_attempt_of(g, r->hdr.id);

		if (k < 0)
			continue;
		rc = dns_reply_matches(r, r->hdr.id, q->qname, q->qname_len, q->qtype,
				       DNS_CLASS_IN);
		if (rc == 0) {
			*f = g;
			*attempt = k;
			return UDP_FLOW_REPLY;
		}
		if (rc == DNS_E_QUESTION_MISMATCH)
			last = rc;
	}
	*f = first;
	*why = last;
	return UDP_FLOW_UNVERIFIED;
}

struct udp_flow *
udp_flow_judge_error(const struct udp_flows *t, const struct udp_flow_query *q, unsigned sock,
		     const struct net_addr *dst, uint16_t dport, const uint8_t *quoted,
		     size_t quoted_len, int *attempt)
{
	struct udp_flow *g;

	*attempt = -1;
	if (dport != q->port)
		return NULL; /* about a datagram we did not send */
	for (g = udp_flows_find(t, sock, dst); g != NULL; g = udp_flows_find_next(g)) {
		if (g->nids == 0)
			continue;
		if (quoted_len >= 2) {
			int k = flow_attempt_of(g, (uint16_t)(quoted[0] << 8 | quoted[1]));
			if (k < 0)
				continue; /* it quotes a query that is not this flow's */
			*attempt = k;
			return g;
		}
		*attempt = (int)g->nids - 1;
		return g;
	}
	return NULL;
}
