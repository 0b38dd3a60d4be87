/*
 * dnscheck: the follow-up checks on an address whose port 53 answered (scan --checks,
 * probe.checks): recursion, version, axfr, amplification, tcp-dns.
 *
 * Design: a checklist becomes a plan of steps, one DNS query each. The caller streams the
 * steps through the engine as if each were an address (target_index = step index) with the
 * one module "dnscheck", which finds its step with probe_target_index() and the plan in
 * probe_opts()->ctx. So every query takes a token of the engine's global rate limit (a TCP
 * query: its connection attempt does; the query rides on the handshake), gets the engine's
 * retransmission schedule and timeout (which also bounds an AXFR), and the queries to one
 * address run side by side (a slow or silent server costs one timeout, not one per query).
 * The alternative, one probe walking an address's checklist query by query, would cost a
 * round trip (or a timeout) per query on slow servers. The module writes
 * what each matching reply says into the plan's facts, one struct per checked address.
 * Facts come only from replies whose transaction ID and question match the query.
 *
 * What each step asks (RD=0 unless said otherwise; EDNS buffer 1232 unless said otherwise):
 *   recursion       UDP  the canary (default ". NS"), RD=1
 *                   TCP  the same query, where TCP is open (see "recursion over TCP")
 *   version         UDP  CH TXT version.bind (with the NSID option), version.server,
 *                        hostname.bind, id.server
 *   amplification   UDP  ANY and DNSKEY of each zone (default "."), EDNS 4096 with DO
 *   tcp-dns         TCP  the UDP probe's question
 *   axfr            TCP  AXFR of each zone: allowed/refused and the record count; the
 *                        records themselves are counted as they stream by, never kept
 *
 * Per address at most 2 + 4 + 2 x max(1, zones) + 1 + zones queries: 2 recursion (UDP and
 * TCP), 4 CHAOS, 2 amplification per zone (or of "."), 1 tcp-dns, 1 AXFR per zone; zones
 * <= DNSCHECK_MAX_ZONES, so 31 at most (with no zone 9, with 3 zones 16). On top of that
 * come the engine's retransmissions of unanswered UDP queries, and for a TCP query at most
 * one connection attempt per engine attempt (DC_MAX_SOCKETS) carrying one query.
 *
 * Recursion over TCP: a resolver that garbles its UDP replies (or whose UDP is filtered)
 * would never be found recursive by the UDP question alone. So where TCP is open the
 * canary is also asked over TCP, in parallel with the UDP question (a second step, not a
 * fallback after the UDP timeout: a slow server still costs one timeout). The UDP answer
 * always wins, whatever the arrival order: the TCP answer fills the recursion facts only
 * while no UDP answer has (rec_tcp then says so), and a UDP answer arriving later replaces
 * it. No answer over either leaves recursion unknown.
 *
 * A reply without its question (QDCOUNT 0 and FORMERR/SERVFAIL/NOTIMP/REFUSED, matched by
 * ID alone: see dns_parse_reply) is an answer, but only its rcode is taken: recursion is
 * known and false (RA is not read), version known and undisclosed (no NSID), tcp-dns true,
 * an AXFR refused with that rcode. Its size still counts for amplification: that is what
 * the server sends, whatever it says.
 *
 * The evaluation of replies (dnscheck_eval, dnscheck_axfr_feed) and the query building are
 * pure and exported for the unit tests.
 */
#ifndef WATCH53_DNSCHECK_H
#define WATCH53_DNSCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/netaddr.h"
#include "probes/dns.h"

/* The checks, one bit each (the same bits as the config's probe.checks). */
enum dnscheck_check {
	DNSCHECK_RECURSION = 1u << 0,
	DNSCHECK_VERSION = 1u << 1,
	DNSCHECK_AXFR = 1u << 2,
	DNSCHECK_AMPLIFICATION = 1u << 3,
	DNSCHECK_TCP_DNS = 1u << 4,
	DNSCHECK_ALL = (1u << 5) - 1,
	/* the checks asked over UDP where UDP is open, and those asked only over TCP where TCP
	 * is open; recursion is asked over TCP too (see above) */
	DNSCHECK_UDP = DNSCHECK_RECURSION | DNSCHECK_VERSION | DNSCHECK_AMPLIFICATION,
	DNSCHECK_TCP = DNSCHECK_AXFR | DNSCHECK_TCP_DNS,
};

#define DNSCHECK_MAX_ZONES 8      /* per address: bounds the queries one address gets */
#define DNSCHECK_TEXT_MAX 64      /* disclosed strings are kept to 63 printable bytes */
#define DNSCHECK_EDNS_SIZE 1232   /* as the UDP probe: no fragmentation */
#define DNSCHECK_AMP_EDNS_SIZE 4096
#define DNSCHECK_AXFR_MAX_BYTES (64u << 20) /* a transfer is counted up to this, then cut */
#define DNSCHECK_QUERY_MAX 512    /* every query we build fits (one name + OPT) */

enum dnscheck_step_kind {
	DNSCHECK_STEP_RECURSION = 0,
	DNSCHECK_STEP_VERSION_BIND,
	DNSCHECK_STEP_VERSION_SERVER,
	DNSCHECK_STEP_HOSTNAME_BIND,
	DNSCHECK_STEP_ID_SERVER,
	DNSCHECK_STEP_AMP_ANY,
	DNSCHECK_STEP_AMP_DNSKEY,
	DNSCHECK_STEP_TCP_DNS,
	DNSCHECK_STEP_AXFR,
	DNSCHECK_STEP_RECURSION_TCP, /* the recursion question over TCP */
	DNSCHECK_NSTEP_KINDS
};

/* The checks' names, index = bit number: "recursion", "version", "axfr", "amplification",
 * "tcp-dns" (probe.checks, scan --checks). The one spelling of each. */
#define DNSCHECK_NCHECKS 5
extern const char *const dnscheck_check_names[DNSCHECK_NCHECKS];
/* The name of one bit; NULL otherwise. */
const char *dnscheck_check_name(unsigned bit);
/* One name, or "all" / "none", to its bits. 0 or -EINVAL. */
int dnscheck_check_parse(const char *name, unsigned *bits);

/* Is this kind of step sent over TCP? */
bool dnscheck_step_tcp(enum dnscheck_step_kind k);

enum dnscheck_axfr_state {
	DNSCHECK_AXFR_UNKNOWN = 0, /* no verdict: no connection, no reply before the deadline */
	DNSCHECK_AXFR_ALLOWED,     /* the transfer began: NOERROR and the zone's SOA first */
	DNSCHECK_AXFR_REFUSED,     /* an error rcode, a reply that is no transfer, or the
				    * server closed the connection without a reply */
};

struct dnscheck_axfr {
	const char *zone;   /* presentation form; owned by the plan */
	uint8_t state;      /* enum dnscheck_axfr_state */
	bool closed;        /* refused by closing the connection (no rcode) */
	bool complete;      /* allowed, and the closing SOA arrived within the bounds */
	uint16_t rcode;     /* of the refusal */
	uint32_t records;   /* allowed: resource records counted (both SOAs included) */
};

/* The facts about one address. `ran`: checks that had something to send; `known`: checks
 * that got an answer to go by. A fact of a check that is not known means nothing. */
struct dnscheck_facts {
	unsigned ran, known;          /* DNSCHECK_* bits */
	/* recursion: ra of the RD=1 reply; recursion: it resolved the canary (RA set and
	 * NOERROR with an answer of the asked type, or a non-authoritative NXDOMAIN); bogus
	 * (only with an expected address): it resolved, but not to that address; rec_tcp: these
	 * came from the TCP question, UDP gave no answer (so far) */
	uint16_t rec_rcode;
	bool rec_ra, recursion, bogus_known, bogus, rec_tcp;
	/* version: what the server disclosed, "" = nothing (printable ASCII, cut) */
	char version[DNSCHECK_TEXT_MAX];  /* version.bind, else version.server */
	char hostname[DNSCHECK_TEXT_MAX]; /* hostname.bind, else id.server */
	char nsid[DNSCHECK_TEXT_MAX];     /* EDNS NSID: as text if printable, else hex */
	uint8_t version_rank, hostname_rank; /* which query filled it (bind beats server) */
	/* amplification: the largest response/query ratio among the replies */
	uint32_t amp_query_bytes, amp_reply_bytes;
	uint16_t amp_qtype;
	const char *amp_zone;             /* owned by the plan */
	/* tcp-dns: a query over TCP got a matching reply (known once a connection was made) */
	bool tcp_dns;
	/* axfr: one per zone listed for the address */
	uint8_t naxfr;
	struct dnscheck_axfr axfr[DNSCHECK_MAX_ZONES];
};

/* Amplification factor x100, rounded (0 when no reply was measured). */
uint32_t dnscheck_amp_x100(const struct dnscheck_facts *f);
/* Any zone allowed (true), else any refused (false); *known false when no zone answered. */
bool dnscheck_axfr_any(const struct dnscheck_facts *f, bool *known);

struct dnscheck_step {
	uint32_t fact;  /* index into plan->facts */
	uint8_t kind;   /* enum dnscheck_step_kind */
	uint8_t axfr;   /* AXFR: index into the fact's axfr[] */
	uint16_t zone;  /* AXFR, AMP_*: index into plan->zones */
};

struct dnscheck_zone {
	char *text;
	uint8_t wire[DNS_MAX_NAME];
	size_t wire_len;
};

struct dnscheck_plan {
	struct dnscheck_step *steps;
	size_t nsteps, steps_cap;
	struct dnscheck_facts *facts;
	size_t nfacts, facts_cap;
	struct dnscheck_zone *zones;  /* every zone any address uses, each once */
	size_t nzones;
	/* recursion: the canary question and, optionally, the address it must resolve to */
	uint8_t canary[DNS_MAX_NAME];
	size_t canary_len;
	uint16_t canary_qtype;
	bool canary_has_addr;
	struct net_addr canary_addr;
	/* tcp-dns: the UDP probe's question */
	uint8_t tcp_qname[DNS_MAX_NAME];
	size_t tcp_qname_len;
	uint16_t tcp_qtype;
	bool tcp_rd;
};

/*
 * Start a plan. canary: NULL or "" for ". NS"; canary_addr: NULL/"" for none, else the
 * address the canary must resolve to (its family picks A or AAAA). tcp_qname/tcp_qtype/
 * tcp_rd: the question of the tcp-dns query. 0 or -EINVAL/-ENOMEM with a message.
 */
int dnscheck_plan_init(struct dnscheck_plan *pl, const char *canary, const char *canary_addr,
		       const char *tcp_qname, uint16_t tcp_qtype, bool tcp_rd, char *err,
		       size_t errlen);
/*
 * Add one address: its facts and the steps of `checks` that apply (the UDP checks when
 * udp_open, the TCP ones and the recursion question over TCP when tcp_open; axfr only with
 * zones, amplification of "." without).
 * zones: at most DNSCHECK_MAX_ZONES names (more are ignored). *fact is the facts index.
 * 0, -EINVAL (a zone that is not a DNS name; err says which) or -ENOMEM.
 */
int dnscheck_plan_add(struct dnscheck_plan *pl, unsigned checks, bool udp_open, bool tcp_open,
		      const char *const *zones, size_t nzones, size_t *fact, char *err,
		      size_t errlen);
void dnscheck_plan_clear(struct dnscheck_plan *pl);

/* The question of a step, for building the query and matching the reply. */
struct dnscheck_question {
	const uint8_t *qname;
	size_t qname_len;
	uint16_t qtype, qclass;
};

/* The question of step s. 0 or DNS_E_INVALID (a step the plan does not hold). */
int dnscheck_step_question(const struct dnscheck_plan *pl, const struct dnscheck_step *s,
			   struct dnscheck_question *q);

/* Build the query of step s with transaction id `id` into buf (no TCP length prefix);
 * q receives its question. Returns the length or a negative dns_error. */
int dnscheck_build_query(const struct dnscheck_plan *pl, const struct dnscheck_step *s,
			 uint16_t id, uint8_t *buf, size_t buflen, struct dnscheck_question *q);

/*
 * Record what a matching reply to a UDP, tcp-dns or recursion-over-TCP step says. msg/len:
 * the whole reply, r: its dns_parse_reply() summary (already matched against the query),
 * query_len: the size of the query it answers (amplification). Marks the check known,
 * except a recursion-over-TCP reply once the UDP one has answered (ignored: UDP wins).
 */
void dnscheck_eval(const struct dnscheck_plan *pl, const struct dnscheck_step *s,
		   const uint8_t *msg, size_t len, const struct dns_reply *r, size_t query_len,
		   struct dnscheck_facts *f);

/* A zone transfer as it streams in, one message at a time (RFC 5936). */
struct dnscheck_axfr_walk {
	uint16_t id;
	const uint8_t *zone;
	size_t zone_len;
	unsigned messages;
	uint32_t records;
	unsigned soas;       /* SOA records of the zone apex seen (2 = the transfer is over) */
	uint16_t rcode;      /* of a refusal */
};

enum dnscheck_axfr_feed_result {
	DNSCHECK_AXFR_MORE = 0, /* transfer running: feed the next message */
	DNSCHECK_AXFR_DONE = 1, /* the closing SOA arrived */
	DNSCHECK_AXFR_NO = 2,   /* refused (rcode in walk->rcode) or not a transfer */
};

/* Feed one message (without the TCP length prefix). Returns an
 * enum dnscheck_axfr_feed_result, or a negative dns_error for a message that does not parse
 * or does not belong to this transfer (wrong ID or question). */
int dnscheck_axfr_feed(struct dnscheck_axfr_walk *w, const uint8_t *msg, size_t len);

/* Printable copy of untrusted text: bytes outside 0x20..0x7e become '?'; cut to outlen-1. */
void dnscheck_printable(const uint8_t *in, size_t inlen, char *out, size_t outlen);

#endif
