/* state_row: a baseline entry as the packed body of its database row (see state_row.h). */
#include "agent/state_row.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/state.h"
#include "probes/dnscheck.h"

/*
 * Body layout (version 5). varint: LEB128, at most 10 bytes, no redundant bytes;
 * zz: a difference as a zigzag varint (two's complement, so any pair of uint64 values).
 *
 *   byte   head: 0 expect tcp open, 1 expect udp open, 2 last_cycle stored, 3 tcp port,
 *          4 udp port, 5 dns facts
 *   varint label id
 *   varint last_cycle                      (head bit 2; else the reference's cycles)
 *   port   for tcp, then udp               (head bits 3, 4; else a port never observed)
 *   dns                                    (head bit 5; else nothing known)
 *
 * port:
 *   byte   0 known, 1 baseline_open, 2 reported_open, 3 flapping, 4 open_before_flap,
 *          5 closed_proven, 6 streak_verified, 7 last_seen stored
 *   byte   0 open streak, 1 miss streak, 2 quiet cycles, 3 change bits, 4 last_change
 *          stored, 5 quiet_since stored, 6 proven_by is last_reason, 7 quiet cycles are
 *          the miss streak
 *   byte   bits 0-1 last, 2-3 last_miss, 4 quiet_since is first_seen
 *   byte   last_reason
 *   byte   proven_by                       (unless bit 6 above)
 *   varint the cycle each count began at (open, miss, quiet: when its bit is set; the
 *          count is last_cycle + 1 - start, so a count growing by one a cycle leaves it)
 * (The three "is" flags cover what a closed or silent port mostly is: 4 bytes of its 11.)
 *   varint change bits: (C << 16) | bits >> (last_cycle - C), C the latest change's cycle;
 *          or 1 << 63 | bits where C does not fit
 *   zz     first_seen - ref first_ns
 *   zz     last_seen - ref seen_ns         (bit 7; else seen_ns)
 *   zz     last_change - first_seen        (bit 4; else first_seen)
 *   zz     quiet_since - first_seen        (bit 5; else first_seen with its flag, or 0)
 *
 * dns (the facts of a check only where its bit is in `checks`):
 *   byte   0 known, 1 aa, 2 ra, 3 recursion, 4 bogus_known, 5 bogus, 6 identity, 7 axfr
 *   byte   0 tcp_dns
 *   varint checks (DNSCHECK_* bits)
 *   varint rcode
 *   varint length, bytes: version          (checks has VERSION)
 *   varint length, bytes: axfr zones       (checks has AXFR)
 *   varint amplification x100              (checks has AMPLIFICATION)
 */

enum { H_EXPECT_TCP = 1, H_EXPECT_UDP = 2, H_LAST_CYCLE = 4, H_PORT = 8, H_DNS = 32 };
enum { F_KNOWN = 1, F_BASELINE = 2, F_REPORTED = 4, F_FLAPPING = 8, F_BEFORE_FLAP = 16,
       F_PROVEN = 32, F_VERIFIED = 64, F_LAST_SEEN = 128 };
enum { G_OPEN = 1, G_MISS = 2, G_QUIET = 4, G_CHANGE = 8, G_LAST_CHANGE = 16,
       G_QUIET_SINCE = 32, G_PROVEN_AS_LAST = 64, G_QUIET_AS_MISS = 128 };
#define S_QUIET_SINCE_FIRST 16
_Static_assert(PROBE_FILTERED <= 3, "two bits hold a probe state");
enum { D_KNOWN = 1, D_AA = 2, D_RA = 4, D_RECURSION = 8, D_BOGUS_KNOWN = 16, D_BOGUS = 32,
       D_IDENTITY = 64, D_AXFR = 128 };
#define D2_TCP_DNS 1
#define STORED_CHECKS (DNSCHECK_RECURSION | DNSCHECK_VERSION | DNSCHECK_AXFR | \
		       DNSCHECK_AMPLIFICATION | DNSCHECK_TCP_DNS)
#define CHANGE_CYCLE_MAX ((1ull << 47) - 1)
#define CHANGE_AS_IS (1ull << 63)

size_t
state_row_key(const struct net_addr *a, uint8_t key[STATE_ROW_KEY_MAX])
{
	size_t alen = a->family == AF_INET ? 4 : 16;

	key[0] = a->family == AF_INET ? 4 : 6;
	memcpy(key + 1, a->bytes, alen);
	return 1 + alen;
}

int
state_row_key_parse(const void *key, size_t len, struct net_addr *a)
{
	const uint8_t *k = key;

	if (!((len == 5 && k[0] == 4) || (len == 17 && k[0] == 6)))
		return -EBADMSG;
	memset(a, 0, sizeof(*a));
	a->family = len == 5 ? AF_INET : AF_INET6;
	memcpy(a->bytes, k + 1, len - 1);
	return 0;
}

/* ---- writing ---- */

struct out {
	uint8_t *p;
	size_t n;
};

static void
put_byte(struct out *o, unsigned b)
{
	o->p[o->n++] = (uint8_t)b;
}

static void
put_varint(struct out *o, uint64_t v)
{
	while (v >= 0x80) {
		o->p[o->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	o->p[o->n++] = (uint8_t)v;
}

/* a - b as a zigzag varint: wraps like the uint64 arithmetic it undoes */
static void
put_diff(struct out *o, uint64_t a, uint64_t b)
{
	uint64_t d = a - b;

	put_varint(o, (d << 1) ^ (uint64_t)-(int64_t)(d >> 63));
}

static void
put_bytes(struct out *o, const char *s, size_t max)
{
	size_t l = strnlen(s, max);

	put_varint(o, l);
	memcpy(o->p + o->n, s, l);
	o->n += l;
}

static unsigned
saturated(unsigned count)
{
	return count > STATE_MAX_STREAK ? STATE_MAX_STREAK : count;
}

static uint64_t
change_code(uint16_t bits, uint64_t last_cycle)
{
	unsigned low = 0;

	while (!(bits & (1u << low)))
		low++;
	/* a change "before cycle 0" (bits of a state from elsewhere) is kept against
	 * last_cycle itself: still exact */
	if (last_cycle < low)
		low = 0;
	if (last_cycle - low > CHANGE_CYCLE_MAX)
		return CHANGE_AS_IS | bits;
	return ((last_cycle - low) << 16) | (uint64_t)(bits >> low);
}

int
state_row_change_bits(uint64_t code, uint64_t last_cycle, uint16_t *bits, const char **why)
{
	uint64_t at = code >> 16, b = code & 0xffff;

	if (code & CHANGE_AS_IS) {
		if ((code & ~CHANGE_AS_IS) == 0 || (code & ~CHANGE_AS_IS) > UINT16_MAX) {
			*why = "not the bits of a change";
			return -EBADMSG;
		}
		*bits = (uint16_t)code;
		return 0;
	}
	if (b == 0 || at > last_cycle || last_cycle - at >= 16 ||
	    (b << (last_cycle - at)) > UINT16_MAX) {
		*why = "not the bits of a change within the last 16 cycles";
		return -EBADMSG;
	}
	*bits = (uint16_t)(b << (last_cycle - at));
	return 0;
}

static bool
port_is_zero(const struct bl_port *p)
{
	static const struct bl_port zero;

	return memcmp(p, &zero, sizeof(zero)) == 0;
}

static void
encode_port(struct out *o, const struct bl_port *p, uint64_t last_cycle,
	    const struct state_row_ref *ref)
{
	unsigned f = 0, g = 0, sflags;
	unsigned open = saturated(p->open_streak), miss = saturated(p->miss_streak);
	unsigned quiet = saturated(p->quiet_cycles);

	f |= p->known ? F_KNOWN : 0;
	f |= p->baseline_open ? F_BASELINE : 0;
	f |= p->reported_open ? F_REPORTED : 0;
	f |= p->flapping ? F_FLAPPING : 0;
	f |= p->open_before_flap ? F_BEFORE_FLAP : 0;
	f |= p->closed_proven ? F_PROVEN : 0;
	f |= p->streak_verified ? F_VERIFIED : 0;
	f |= p->last_seen != ref->seen_ns ? F_LAST_SEEN : 0;
	g |= open ? G_OPEN : 0;
	g |= miss ? G_MISS : 0;
	g |= quiet && quiet == miss ? G_QUIET_AS_MISS : quiet ? G_QUIET : 0;
	g |= p->change_bits ? G_CHANGE : 0;
	g |= p->last_change != p->first_seen ? G_LAST_CHANGE : 0;
	g |= p->proven_by == p->last_reason ? G_PROVEN_AS_LAST : 0;
	sflags = p->quiet_since != 0 && p->quiet_since == p->first_seen ? S_QUIET_SINCE_FIRST : 0;
	g |= p->quiet_since != 0 && !sflags ? G_QUIET_SINCE : 0;
	put_byte(o, f);
	put_byte(o, g);
	put_byte(o, ((unsigned)p->last & 3) | ((unsigned)p->last_miss & 3) << 2 | sflags);
	put_byte(o, (unsigned)p->last_reason);
	if (!(g & G_PROVEN_AS_LAST))
		put_byte(o, (unsigned)p->proven_by);
	if (open)
		put_varint(o, last_cycle + 1 - open);
	if (miss)
		put_varint(o, last_cycle + 1 - miss);
	if (g & G_QUIET)
		put_varint(o, last_cycle + 1 - quiet);
	if (p->change_bits)
		put_varint(o, change_code(p->change_bits, last_cycle));
	put_diff(o, p->first_seen, ref->first_ns);
	if (f & F_LAST_SEEN)
		put_diff(o, p->last_seen, ref->seen_ns);
	if (g & G_LAST_CHANGE)
		put_diff(o, p->last_change, p->first_seen);
	if (g & G_QUIET_SINCE)
		put_diff(o, p->quiet_since, p->first_seen);
}

static bool
dns_is_empty(const struct bl_dns *d)
{
	return !d->known && d->rcode == 0 && !d->aa && !d->ra && (d->checks & STORED_CHECKS) == 0;
}

static void
encode_dns(struct out *o, const struct bl_dns *d)
{
	unsigned checks = d->checks & STORED_CHECKS, f = 0;

	f |= d->known ? D_KNOWN : 0;
	f |= d->aa ? D_AA : 0;
	f |= d->ra ? D_RA : 0;
	if (checks & DNSCHECK_RECURSION) {
		f |= d->recursion ? D_RECURSION : 0;
		f |= d->bogus_known ? D_BOGUS_KNOWN : 0;
		f |= d->bogus_known && d->bogus ? D_BOGUS : 0;
	}
	if (checks & DNSCHECK_VERSION)
		f |= d->identity ? D_IDENTITY : 0;
	if (checks & DNSCHECK_AXFR)
		f |= d->axfr ? D_AXFR : 0;
	put_byte(o, f);
	put_byte(o, (checks & DNSCHECK_TCP_DNS) && d->tcp_dns ? D2_TCP_DNS : 0);
	put_varint(o, checks);
	put_varint(o, d->rcode > STATE_MAX_RCODE ? STATE_MAX_RCODE : d->rcode);
	if (checks & DNSCHECK_VERSION)
		put_bytes(o, d->version, sizeof(d->version) - 1);
	if (checks & DNSCHECK_AXFR)
		put_bytes(o, d->axfr_zones, sizeof(d->axfr_zones) - 1);
	if (checks & DNSCHECK_AMPLIFICATION)
		put_varint(o, d->amplification);
}

size_t
state_row_encode(const struct bl_entry *e, uint64_t label_id, const struct state_row_ref *ref,
		 uint8_t body[STATE_ROW_BODY_MAX])
{
	struct out o = { body, 0 };
	unsigned h = 0;

	h |= e->expect_open[PROBE_SLOT_TCP] ? H_EXPECT_TCP : 0;
	h |= e->expect_open[PROBE_SLOT_UDP] ? H_EXPECT_UDP : 0;
	h |= e->last_cycle != ref->cycles ? H_LAST_CYCLE : 0;
	for (int s = 0; s < PROBE_NSLOTS; s++)
		h |= port_is_zero(&e->port[s]) ? 0 : H_PORT << s;
	h |= dns_is_empty(&e->dns) ? 0 : H_DNS;
	put_byte(&o, h);
	put_varint(&o, label_id);
	if (h & H_LAST_CYCLE)
		put_varint(&o, e->last_cycle);
	for (int s = 0; s < PROBE_NSLOTS; s++)
		if (h & (H_PORT << s))
			encode_port(&o, &e->port[s], e->last_cycle, ref);
	if (h & H_DNS)
		encode_dns(&o, &e->dns);
	return o.n;
}

/* ---- reading, strictly ---- */

struct in {
	const uint8_t *p;
	size_t n, pos;
	const char *part;   /* "tcp", "udp", "dns" or "" for messages */
	char *reason;
	size_t reasonlen;
};

static int
fail(struct in *c, const char *what)
{
	snprintf(c->reason, c->reasonlen, "%s%s%s", c->part, *c->part ? ": " : "", what);
	return -EBADMSG;
}

static int
get_byte(struct in *c, unsigned *out)
{
	if (c->pos >= c->n)
		return fail(c, "the body ends too soon");
	*out = c->p[c->pos++];
	return 0;
}

static int
get_varint(struct in *c, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 10; i++) {
		unsigned b;
		if (get_byte(c, &b) < 0)
			return -EBADMSG;
		/* the tenth byte holds the 64th bit only; a final zero byte is one too many */
		if (i == 9 && (b & 0x7f) > 1)
			return fail(c, "a number above 2^64 - 1");
		if (i > 0 && b == 0)
			return fail(c, "a number that is not written the shortest way");
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return fail(c, "a number longer than 10 bytes");
}

static int
get_diff(struct in *c, uint64_t base, uint64_t *out)
{
	uint64_t z;

	if (get_varint(c, &z) < 0)
		return -EBADMSG;
	*out = base + ((z >> 1) ^ (uint64_t)-(int64_t)(z & 1));
	return 0;
}

static int
get_count(struct in *c, uint64_t last_cycle, const char *what, unsigned *out)
{
	uint64_t start, count;
	char msg[96];

	if (get_varint(c, &start) < 0)
		return -EBADMSG;
	count = last_cycle + 1 - start;
	if (count == 0 || count > STATE_MAX_STREAK) {
		snprintf(msg, sizeof(msg), "%s: not a cycle a count can have begun at", what);
		return fail(c, msg);
	}
	*out = (unsigned)count;
	return 0;
}

static int
get_text(struct in *c, size_t max, char *buf, const char *what)
{
	uint64_t len;
	char msg[96];

	if (get_varint(c, &len) < 0)
		return -EBADMSG;
	if (len > max) {
		snprintf(msg, sizeof(msg), "%s: longer than %zu bytes", what, max);
		return fail(c, msg);
	}
	if (len > c->n - c->pos)
		return fail(c, "the body ends too soon");
	if (memchr(c->p + c->pos, '\0', len) != NULL) {
		snprintf(msg, sizeof(msg), "%s: contains a NUL character", what);
		return fail(c, msg);
	}
	memcpy(buf, c->p + c->pos, len);
	buf[len] = '\0';
	c->pos += len;
	return 0;
}

static bool
reason_ok(unsigned r)
{
	return r == PROBE_REASON_NONE || probe_reason_name((enum probe_reason)r)[0] != '\0';
}

static int
decode_port(struct in *c, uint64_t last_cycle, const struct state_row_ref *ref,
	    struct bl_port *p)
{
	unsigned f, g, s, r1, r2;
	uint64_t u;

	if (get_byte(c, &f) < 0 || get_byte(c, &g) < 0 || get_byte(c, &s) < 0 ||
	    get_byte(c, &r1) < 0)
		return -EBADMSG;
	r2 = r1;
	if (!(g & G_PROVEN_AS_LAST) && get_byte(c, &r2) < 0)
		return -EBADMSG;
	/* one way to say each thing: a count that is the miss streak has no start of its
	 * own, a quiet_since that is first_seen no difference */
	if ((s & ~(unsigned)(15 | S_QUIET_SINCE_FIRST)) ||
	    ((g & G_QUIET_AS_MISS) && ((g & G_QUIET) || !(g & G_MISS))) ||
	    ((s & S_QUIET_SINCE_FIRST) && (g & G_QUIET_SINCE)))
		return fail(c, "a flag that is not ours");
	if (((s >> 2) & 3) == PROBE_OPEN)
		return fail(c, "last_miss: not a probe state without evidence");
	if (!reason_ok(r1))
		return fail(c, "last_reason: not a probe reason");
	if (!reason_ok(r2))
		return fail(c, "proven_by: not a probe reason");
	p->known = f & F_KNOWN;
	p->baseline_open = f & F_BASELINE;
	p->reported_open = f & F_REPORTED;
	p->flapping = f & F_FLAPPING;
	p->open_before_flap = f & F_BEFORE_FLAP;
	p->closed_proven = f & F_PROVEN;
	p->streak_verified = f & F_VERIFIED;
	p->last = (enum probe_state)(s & 3);
	p->last_miss = (enum probe_state)((s >> 2) & 3);
	p->last_reason = (enum probe_reason)r1;
	p->proven_by = (enum probe_reason)r2;
	if (((g & G_OPEN) && get_count(c, last_cycle, "open streak", &p->open_streak) < 0) ||
	    ((g & G_MISS) && get_count(c, last_cycle, "miss streak", &p->miss_streak) < 0) ||
	    ((g & G_QUIET) && get_count(c, last_cycle, "quiet cycles", &p->quiet_cycles) < 0))
		return -EBADMSG;
	if (g & G_QUIET_AS_MISS)
		p->quiet_cycles = p->miss_streak;
	if (g & G_CHANGE) {
		const char *why;
		char msg[96];
		if (get_varint(c, &u) < 0)
			return -EBADMSG;
		if (state_row_change_bits(u, last_cycle, &p->change_bits, &why) < 0) {
			snprintf(msg, sizeof(msg), "change bits: %s", why);
			return fail(c, msg);
		}
	}
	if (get_diff(c, ref->first_ns, &p->first_seen) < 0)
		return -EBADMSG;
	p->last_seen = ref->seen_ns;
	p->last_change = p->first_seen;
	if (((f & F_LAST_SEEN) && get_diff(c, ref->seen_ns, &p->last_seen) < 0) ||
	    ((g & G_LAST_CHANGE) && get_diff(c, p->first_seen, &p->last_change) < 0) ||
	    ((g & G_QUIET_SINCE) && get_diff(c, p->first_seen, &p->quiet_since) < 0))
		return -EBADMSG;
	if (s & S_QUIET_SINCE_FIRST)
		p->quiet_since = p->first_seen;
	return 0;
}

static int
decode_dns(struct in *c, struct bl_dns *d)
{
	unsigned f, f2;
	uint64_t checks, u;

	if (get_byte(c, &f) < 0 || get_byte(c, &f2) < 0 || get_varint(c, &checks) < 0)
		return -EBADMSG;
	if ((checks & ~(uint64_t)STORED_CHECKS) || (f2 & ~(unsigned)D2_TCP_DNS))
		return fail(c, "a flag that is not ours");
	/* the facts of a check come only with the check */
	if ((!(checks & DNSCHECK_RECURSION) && (f & (D_RECURSION | D_BOGUS_KNOWN | D_BOGUS))) ||
	    ((f & D_BOGUS) && !(f & D_BOGUS_KNOWN)) ||
	    (!(checks & DNSCHECK_VERSION) && (f & D_IDENTITY)) ||
	    (!(checks & DNSCHECK_AXFR) && (f & D_AXFR)) ||
	    (!(checks & DNSCHECK_TCP_DNS) && (f2 & D2_TCP_DNS)))
		return fail(c, "a fact without its check");
	d->known = f & D_KNOWN;
	d->aa = f & D_AA;
	d->ra = f & D_RA;
	d->recursion = f & D_RECURSION;
	d->bogus_known = f & D_BOGUS_KNOWN;
	d->bogus = f & D_BOGUS;
	d->identity = f & D_IDENTITY;
	d->axfr = f & D_AXFR;
	d->tcp_dns = f2 & D2_TCP_DNS;
	d->checks = (unsigned)checks;
	if (get_varint(c, &u) < 0)
		return -EBADMSG;
	if (u > STATE_MAX_RCODE)
		return fail(c, "rcode: above 4095");
	d->rcode = (uint16_t)u;
	if (((checks & DNSCHECK_VERSION) &&
	     get_text(c, sizeof(d->version) - 1, d->version, "version") < 0) ||
	    ((checks & DNSCHECK_AXFR) &&
	     get_text(c, sizeof(d->axfr_zones) - 1, d->axfr_zones, "axfr zones") < 0))
		return -EBADMSG;
	if (checks & DNSCHECK_AMPLIFICATION) {
		if (get_varint(c, &u) < 0)
			return -EBADMSG;
		if (u > UINT32_MAX)
			return fail(c, "amplification: above 4294967295");
		d->amplification = (uint32_t)u;
	}
	return 0;
}

int
state_row_decode(const void *body, size_t len, const struct state_row_ref *ref,
		 struct bl_entry *e, uint64_t *label_id, char *reason, size_t reasonlen)
{
	struct in c = { body, len, 0, "", reason, reasonlen };
	static const char *const parts[PROBE_NSLOTS] = { "tcp", "udp" };
	unsigned h;

	if (get_byte(&c, &h) < 0)
		return -EBADMSG;
	if (h & ~(unsigned)(H_EXPECT_TCP | H_EXPECT_UDP | H_LAST_CYCLE | H_PORT | H_PORT << 1 |
			    H_DNS))
		return fail(&c, "a flag that is not ours");
	e->expect_open[PROBE_SLOT_TCP] = h & H_EXPECT_TCP;
	e->expect_open[PROBE_SLOT_UDP] = h & H_EXPECT_UDP;
	if (get_varint(&c, label_id) < 0)
		return -EBADMSG;
	e->last_cycle = ref->cycles;
	if ((h & H_LAST_CYCLE) && get_varint(&c, &e->last_cycle) < 0)
		return -EBADMSG;
	for (int s = 0; s < PROBE_NSLOTS; s++) {
		c.part = parts[s];
		if ((h & (H_PORT << s)) && decode_port(&c, e->last_cycle, ref, &e->port[s]) < 0)
			return -EBADMSG;
	}
	c.part = "dns";
	if ((h & H_DNS) && decode_dns(&c, &e->dns) < 0)
		return -EBADMSG;
	c.part = "";
	if (c.pos != c.n)
		return fail(&c, "bytes after the last field");
	return 0;
}
