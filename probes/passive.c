/* passive: a table of DNS responders built from captured frames (see passive.h). */
#include "probes/passive.h"

#include <stdlib.h>
#include <string.h>

#include "probes/dns.h"

/* One SYN-ACK from the DNS port waiting for the client's ACK. */
struct pending {
	struct net_addr server, client;
	uint16_t sport, cport;
	uint32_t want_ack;        /* server ISN + 1 */
	bool used;
};

struct passive {
	uint16_t port;
	size_t max;
	struct passive_responder *r; /* in proof order */
	size_t n, cap;
	uint32_t *index;          /* open addressing: responder number + 1, 0 = empty */
	size_t index_cap;         /* a power of two, > 2 * max (never full) */
	struct pending pend[PASSIVE_MAX_PENDING];
	struct passive_stats st;
	bool created_now;         /* the frame being judged added a responder */
};

/* FNV-1a: the tables only need spread, not secrecy (a flood can evict pending handshakes,
 * which costs a proof, never memory) */
static uint32_t
fnv(uint32_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t
addr_hash(const struct net_addr *a, uint16_t port)
{
	uint32_t h = fnv(2166136261u, &a->family, 1);

	h = fnv(h, a->bytes, a->family == AF_INET ? 4 : 16);
	return fnv(h, &port, sizeof(port));
}

static bool
addr_eq(const struct net_addr *a, const struct net_addr *b)
{
	return a->family == b->family &&
	       memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0;
}

struct passive *
passive_new(const struct passive_opts *o)
{
	struct passive *pv = calloc(1, sizeof(*pv));

	if (pv == NULL)
		return NULL;
	pv->port = o->port ? o->port : 53;
	pv->max = o->max_responders ? o->max_responders : PASSIVE_MAX_RESPONDERS;
	pv->index_cap = 16;
	while (pv->index_cap <= 2 * pv->max)
		pv->index_cap *= 2;
	pv->index = calloc(pv->index_cap, sizeof(*pv->index));
	if (pv->index == NULL) {
		free(pv);
		return NULL;
	}
	return pv;
}

void
passive_free(struct passive *pv)
{
	if (pv == NULL)
		return;
	free(pv->r);
	free(pv->index);
	free(pv);
}

size_t passive_count(const struct passive *pv) { return pv->n; }

const struct passive_responder *
passive_get(const struct passive *pv, size_t i)
{
	return i < pv->n ? &pv->r[i] : NULL;
}

void passive_get_stats(const struct passive *pv, struct passive_stats *st) { *st = pv->st; }

/* The slot of addr:port in the index: its entry, or the empty slot where it would go. */
static size_t
index_slot(const struct passive *pv, const struct net_addr *a, uint16_t port)
{
	size_t mask = pv->index_cap - 1, i = addr_hash(a, port) & mask;

	/* the index is never more than half full, so the probe ends */
	while (pv->index[i] != 0) {
		const struct passive_responder *r = &pv->r[pv->index[i] - 1];
		if (r->port == port && addr_eq(&r->addr, a))
			break;
		i = (i + 1) & mask;
	}
	return i;
}

static struct passive_responder *
find(struct passive *pv, const struct net_addr *a, uint16_t port)
{
	size_t i = index_slot(pv, a, port);

	return pv->index[i] ? &pv->r[pv->index[i] - 1] : NULL;
}

/* Find or add; NULL when the table is full (counted) or out of memory. */
static struct passive_responder *
get(struct passive *pv, const struct net_addr *a, uint16_t port, uint64_t ts)
{
	size_t i = index_slot(pv, a, port);
	struct passive_responder *r;

	if (pv->index[i] != 0)
		return &pv->r[pv->index[i] - 1];
	if (pv->n >= pv->max) {
		pv->st.table_full++;
		return NULL;
	}
	if (pv->n == pv->cap) {
		size_t ncap = pv->cap ? pv->cap * 2 : 64;
		struct passive_responder *nr;

		if (ncap > pv->max)
			ncap = pv->max;
		nr = realloc(pv->r, ncap * sizeof(*nr));
		if (nr == NULL) {
			pv->st.table_full++;
			return NULL;
		}
		pv->r = nr;
		pv->cap = ncap;
	}
	r = &pv->r[pv->n];
	memset(r, 0, sizeof(*r));
	r->addr = *a;
	r->port = port;
	r->first_seen_ns = r->last_seen_ns = ts;
	r->packets = 1; /* the proving packet (for a handshake: the SYN-ACK) */
	pv->index[i] = (uint32_t)++pv->n;
	pv->created_now = true;
	return r;
}

static struct pending *
pending_slot(struct passive *pv, const struct net_addr *server, uint16_t sport,
	     const struct net_addr *client, uint16_t cport)
{
	uint32_t h = addr_hash(server, sport);

	h = fnv(h, client->bytes, client->family == AF_INET ? 4 : 16);
	h = fnv(h, &cport, sizeof(cport));
	return &pv->pend[h % PASSIVE_MAX_PENDING];
}

/* A proof for responder addr:port over proto: 1 if it is a new responder or protocol. */
static int
prove(struct passive *pv, const struct pkt_info *pi, unsigned proto, uint64_t ts,
      const struct dns_reply *reply)
{
	struct passive_responder *r = find(pv, &pi->src, pi->sport);
	bool fresh = r == NULL;
	unsigned before;

	if (r == NULL) {
		r = get(pv, &pi->src, pi->sport, ts);
		if (r == NULL)
			return 0;
	}
	before = r->protocols;
	r->protocols |= proto;
	if (reply != NULL) {
		r->responses++;
		r->has_facts = true;
		r->rcode = (uint16_t)reply->rcode;
		/* a refusal without its question (dns.h) says its rcode and nothing more */
		r->aa = !reply->no_question && (reply->hdr.flags & DNS_FLAG_AA) != 0;
		r->ra = !reply->no_question && (reply->hdr.flags & DNS_FLAG_RA) != 0;
		r->tc = !reply->no_question && (reply->hdr.flags & DNS_FLAG_TC) != 0;
		if (r->ra)
			r->ra_responses++;
	}
	return fresh || r->protocols != before;
}

static int
judge_udp(struct passive *pv, const struct pkt_info *pi, uint64_t ts)
{
	struct dns_reply reply;

	if (pi->fragmented || pi->payload_len < pi->payload_wire) {
		pv->st.truncated++;
		return 0;
	}
	if (dns_parse_reply(pi->payload, pi->payload_len, &reply) != 0) {
		pv->st.dns_malformed++;
		return 0;
	}
	return prove(pv, pi, PASSIVE_UDP, ts, &reply);
}

static int
judge_tcp_from_server(struct passive *pv, const struct pkt_info *pi, uint64_t ts)
{
	struct dns_reply reply;
	size_t mlen;

	if ((pi->tcp_flags & (PKT_TCP_SYN | PKT_TCP_ACK)) == (PKT_TCP_SYN | PKT_TCP_ACK)) {
		struct pending *p = pending_slot(pv, &pi->src, pi->sport, &pi->dst, pi->dport);

		p->used = true;
		p->server = pi->src;
		p->client = pi->dst;
		p->sport = pi->sport;
		p->cport = pi->dport;
		p->want_ack = pi->seq + 1;
		return 0;
	}
	if (pi->payload_len == 0)
		return 0;
	if (pi->payload_len < 2 + DNS_HEADER_LEN || pi->payload_len < pi->payload_wire) {
		pv->st.truncated++;
		return 0;
	}
	mlen = ((size_t)pi->payload[0] << 8) | pi->payload[1];
	/* a message that continues in the next segment is not judged: reassembly would need
	 * per-connection memory that a flood could exhaust */
	if (mlen > pi->payload_len - 2)
		return 0;
	if (dns_parse_reply(pi->payload + 2, mlen, &reply) != 0) {
		pv->st.dns_malformed++;
		return 0;
	}
	{
		int fresh = prove(pv, pi, PASSIVE_TCP, ts, &reply);
		struct passive_responder *r = find(pv, &pi->src, pi->sport);

		if (r != NULL)
			r->tcp_dns = true;
		return fresh;
	}
}

/* The client's side: an ACK of a SYN-ACK we saw completes the handshake. */
static int
judge_tcp_to_server(struct passive *pv, const struct pkt_info *pi, uint64_t ts)
{
	struct pending *p;
	struct pkt_info srv;
	int fresh;

	if ((pi->tcp_flags & (PKT_TCP_SYN | PKT_TCP_RST | PKT_TCP_ACK)) != PKT_TCP_ACK)
		return 0;
	p = pending_slot(pv, &pi->dst, pi->dport, &pi->src, pi->sport);
	if (!p->used || p->want_ack != pi->ack || p->sport != pi->dport ||
	    p->cport != pi->sport || !addr_eq(&p->server, &pi->dst) ||
	    !addr_eq(&p->client, &pi->src))
		return 0;
	p->used = false;
	/* the proof is about the server: present it as a packet from it */
	memset(&srv, 0, sizeof(srv));
	srv.src = pi->dst;
	srv.sport = pi->dport;
	fresh = prove(pv, &srv, PASSIVE_TCP, ts, NULL);
	{
		struct passive_responder *r = find(pv, &srv.src, srv.sport);

		if (r != NULL)
			r->tcp_handshake = true;
	}
	return fresh;
}

int
passive_packet(struct passive *pv, enum pkt_link link, uint64_t ts_ns, const uint8_t *frame,
	       size_t caplen)
{
	struct pkt_info pi;
	struct passive_responder *r;
	int rc, fresh = 0;

	pv->st.packets++;
	pv->created_now = false;
	rc = pkt_decode(link, frame, caplen, &pi);
	switch (rc) {
	case PKT_OK:
		break;
	case PKT_E_TRUNCATED: pv->st.truncated++; return rc;
	case PKT_E_MALFORMED: pv->st.malformed++; return rc;
	case PKT_E_FRAGMENT: pv->st.fragments++; return rc;
	default: pv->st.unsupported++; return rc;
	}
	pv->st.decoded++;
	if (pi.proto == PKT_PROTO_UDP && pi.sport == pv->port)
		fresh = judge_udp(pv, &pi, ts_ns);
	else if (pi.proto == PKT_PROTO_TCP && pi.sport == pv->port)
		fresh = judge_tcp_from_server(pv, &pi, ts_ns);
	else if (pi.proto == PKT_PROTO_TCP && pi.dport == pv->port)
		fresh = judge_tcp_to_server(pv, &pi, ts_ns);
	/* every packet from a known responder's port counts, whatever it proved */
	if ((pi.proto == PKT_PROTO_UDP || pi.proto == PKT_PROTO_TCP) && pi.sport == pv->port &&
	    (r = find(pv, &pi.src, pi.sport)) != NULL) {
		if (!pv->created_now)
			r->packets++;
		if (ts_ns > r->last_seen_ns)
			r->last_seen_ns = ts_ns;
	}
	return fresh;
}
