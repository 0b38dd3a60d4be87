/* dnscheck: the DNS follow-up checks — the plan of queries and the evaluation of their
 * replies. No I/O (the module is dnscheck_probe.c): unit-tested on its own. */
#include "probes/dnscheck.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DC_TXT_MAX 256

static const uint8_t name_version_bind[] = "\007version\004bind";
static const uint8_t name_version_server[] = "\007version\006server";
static const uint8_t name_hostname_bind[] = "\010hostname\004bind";
static const uint8_t name_id_server[] = "\002id\006server";

const char *const dnscheck_check_names[DNSCHECK_NCHECKS] = {
	"recursion", "version", "axfr", "amplification", "tcp-dns",
};
_Static_assert(DNSCHECK_ALL == (1u << DNSCHECK_NCHECKS) - 1, "a name for every check bit");

const char *
dnscheck_check_name(unsigned bit)
{
	for (unsigned i = 0; i < DNSCHECK_NCHECKS; i++)
		if (bit == 1u << i)
			return dnscheck_check_names[i];
	return NULL;
}

int
dnscheck_check_parse(const char *name, unsigned *bits)
{
	if (strcmp(name, "all") == 0) {
		*bits = DNSCHECK_ALL;
		return 0;
	}
	if (strcmp(name, "none") == 0) {
		*bits = 0;
		return 0;
	}
	for (unsigned i = 0; i < DNSCHECK_NCHECKS; i++)
		if (strcmp(name, dnscheck_check_names[i]) == 0) {
			*bits = 1u << i;
			return 0;
		}
	return -EINVAL;
}

bool
dnscheck_step_tcp(enum dnscheck_step_kind k)
{
	return k == DNSCHECK_STEP_TCP_DNS || k == DNSCHECK_STEP_AXFR ||
	       k == DNSCHECK_STEP_RECURSION_TCP;
}

/* ---- plan ---- */

int
dnscheck_plan_init(struct dnscheck_plan *pl, const char *canary, const char *canary_addr,
		   const char *tcp_qname, uint16_t tcp_qtype, bool tcp_rd, char *err,
		   size_t errlen)
{
	int n;

	memset(pl, 0, sizeof(*pl));
	if (canary == NULL || canary[0] == '\0') {
		/* ". NS": every resolver has the root's servers at hand (hints, cache), so it
		 * answers without sending anything anywhere interesting on our behalf */
		if (canary_addr != NULL && canary_addr[0] != '\0') {
			snprintf(err, errlen, "canary: an expected address needs a canary name");
			return -EINVAL;
		}
		pl->canary[0] = 0;
		pl->canary_len = 1;
		pl->canary_qtype = DNS_TYPE_NS;
	} else {
		n = dns_name_from_text(canary, pl->canary, sizeof(pl->canary));
		if (n < 0) {
			snprintf(err, errlen, "canary '%s': %s", canary, dns_strerror(n));
			return -EINVAL;
		}
		pl->canary_len = (size_t)n;
		pl->canary_qtype = DNS_TYPE_A;
		if (canary_addr != NULL && canary_addr[0] != '\0') {
			if (net_addr_parse(canary_addr, &pl->canary_addr) < 0) {
				snprintf(err, errlen, "canary address '%s' is not an IP address",
					 canary_addr);
				return -EINVAL;
			}
			pl->canary_has_addr = true;
			if (pl->canary_addr.family == AF_INET6)
				pl->canary_qtype = DNS_TYPE_AAAA;
		}
	}
	n = dns_name_from_text(tcp_qname != NULL ? tcp_qname : ".", pl->tcp_qname,
			       sizeof(pl->tcp_qname));
	if (n < 0) {
		snprintf(err, errlen, "query name '%s': %s", tcp_qname, dns_strerror(n));
		return -EINVAL;
	}
	pl->tcp_qname_len = (size_t)n;
	pl->tcp_qtype = tcp_qtype;
	pl->tcp_rd = tcp_rd;
	return 0;
}

void
dnscheck_plan_clear(struct dnscheck_plan *pl)
{
	for (size_t i = 0; i < pl->nzones; i++)
		free(pl->zones[i].text);
	free(pl->zones);
	free(pl->steps);
	free(pl->facts);
	memset(pl, 0, sizeof(*pl));
}

/* The plan's index of a zone, added if new. Zones are few (a handful per target), so a
 * linear search is fine. */
static int
zone_index(struct dnscheck_plan *pl, const char *text, size_t *idx, char *err, size_t errlen)
{
	uint8_t wire[DNS_MAX_NAME];
	struct dnscheck_zone *nz;
	int n = dns_name_from_text(text, wire, sizeof(wire));

	if (n < 0) {
		snprintf(err, errlen, "zone '%s': %s", text, dns_strerror(n));
		return -EINVAL;
	}
	for (size_t i = 0; i < pl->nzones; i++)
		if (dns_name_equal(pl->zones[i].wire, pl->zones[i].wire_len, wire, (size_t)n)) {
			*idx = i;
			return 0;
		}
	if (pl->nzones >= UINT16_MAX)
		return -ENOMEM;
	nz = realloc(pl->zones, (pl->nzones + 1) * sizeof(*nz));
	if (nz == NULL)
		return -ENOMEM;
	pl->zones = nz;
	nz = &pl->zones[pl->nzones];
	/* shown as the canonical absolute name, whatever form it was given in */
	nz->text = malloc(DNS_MAX_TEXT_NAME);
	if (nz->text == NULL)
		return -ENOMEM;
	if (dns_name_to_text(wire, (size_t)n, nz->text, DNS_MAX_TEXT_NAME) < 0) {
		free(nz->text);
		return -EINVAL;
	}
	memcpy(nz->wire, wire, (size_t)n);
	nz->wire_len = (size_t)n;
	*idx = pl->nzones++;
	return 0;
}

static int
add_step(struct dnscheck_plan *pl, size_t fact, enum dnscheck_step_kind kind, size_t zone,
	 size_t axfr)
{
	struct dnscheck_step *s;

	if (pl->nsteps == pl->steps_cap) {
		size_t ncap = pl->steps_cap ? pl->steps_cap * 2 : 64;
		s = realloc(pl->steps, ncap * sizeof(*s));
		if (s == NULL)
			return -ENOMEM;
		pl->steps = s;
		pl->steps_cap = ncap;
	}
	/* the stream's target_index is 32 bits */
	if (pl->nsteps >= UINT32_MAX)
		return -ENOMEM;
	s = &pl->steps[pl->nsteps++];
	s->fact = (uint32_t)fact;
	s->kind = (uint8_t)kind;
	s->zone = (uint16_t)zone;
	s->axfr = (uint8_t)axfr;
	return 0;
}

int
dnscheck_plan_add(struct dnscheck_plan *pl, unsigned checks, bool udp_open, bool tcp_open,
		  const char *const *zones, size_t nzones, size_t *fact, char *err,
		  size_t errlen)
{
	size_t zi[DNSCHECK_MAX_ZONES], nz = 0, root = 0, fi;
	struct dnscheck_facts *f;
	/* recursion is asked over TCP as well: it also runs where only TCP is open */
	unsigned want_udp = udp_open ? checks & DNSCHECK_UDP : 0;
	unsigned want_tcp = tcp_open ? checks & (DNSCHECK_TCP | DNSCHECK_RECURSION) : 0;
	unsigned want = want_udp | want_tcp;
	int rc;

	if (pl->nfacts == pl->facts_cap) {
		size_t ncap = pl->facts_cap ? pl->facts_cap * 2 : 16;
		f = realloc(pl->facts, ncap * sizeof(*f));
		if (f == NULL)
			return -ENOMEM;
		pl->facts = f;
		pl->facts_cap = ncap;
	}
	for (size_t i = 0; i < nzones && nz < DNSCHECK_MAX_ZONES; i++) {
		size_t k, dup = 0;

		if ((rc = zone_index(pl, zones[i], &k, err, errlen)) < 0)
			return rc;
		for (size_t j = 0; j < nz; j++)
			dup |= zi[j] == k;
		if (!dup)
			zi[nz++] = k;
	}
	if ((want & DNSCHECK_AMPLIFICATION) && nz == 0 &&
	    (rc = zone_index(pl, ".", &root, err, errlen)) < 0)
		return rc;

	fi = pl->nfacts++;
	f = &pl->facts[fi];
	memset(f, 0, sizeof(*f));
	rc = 0;
	/* the two recursion questions side by side, so they go out together */
	if (want_udp & DNSCHECK_RECURSION)
		rc = add_step(pl, fi, DNSCHECK_STEP_RECURSION, 0, 0);
	if (rc == 0 && (want_tcp & DNSCHECK_RECURSION))
		rc = add_step(pl, fi, DNSCHECK_STEP_RECURSION_TCP, 0, 0);
	if (rc == 0 && (want & DNSCHECK_VERSION)) {
		for (int k = DNSCHECK_STEP_VERSION_BIND; rc == 0 && k <= DNSCHECK_STEP_ID_SERVER; k++)
			rc = add_step(pl, fi, (enum dnscheck_step_kind)k, 0, 0);
	}
	if (rc == 0 && (want & DNSCHECK_AMPLIFICATION)) {
		for (size_t i = 0; rc == 0 && i < (nz ? nz : 1); i++) {
			size_t z = nz ? zi[i] : root;
			rc = add_step(pl, fi, DNSCHECK_STEP_AMP_ANY, z, 0);
			if (rc == 0)
				rc = add_step(pl, fi, DNSCHECK_STEP_AMP_DNSKEY, z, 0);
		}
	}
	if (rc == 0 && (want & DNSCHECK_TCP_DNS))
		rc = add_step(pl, fi, DNSCHECK_STEP_TCP_DNS, 0, 0);
	if (rc == 0 && (want & DNSCHECK_AXFR)) {
		for (size_t i = 0; rc == 0 && i < nz; i++) {
			f->axfr[i].zone = pl->zones[zi[i]].text;
			rc = add_step(pl, fi, DNSCHECK_STEP_AXFR, zi[i], i);
		}
		f->naxfr = (uint8_t)nz;
	}
	if (rc < 0)
		return rc;
	/* axfr without zones has nothing to ask: it did not run */
	f->ran = want & ~(nz == 0 ? (unsigned)DNSCHECK_AXFR : 0u);
	*fact = fi;
	return 0;
}

/* ---- queries ---- */

int
dnscheck_step_question(const struct dnscheck_plan *pl, const struct dnscheck_step *s,
		       struct dnscheck_question *q)
{
	q->qclass = DNS_CLASS_IN;
	switch ((enum dnscheck_step_kind)s->kind) {
	case DNSCHECK_STEP_RECURSION:
	case DNSCHECK_STEP_RECURSION_TCP:
		q->qname = pl->canary;
		q->qname_len = pl->canary_len;
		q->qtype = pl->canary_qtype;
		return 0;
	case DNSCHECK_STEP_VERSION_BIND:
		q->qname = name_version_bind;
		q->qname_len = sizeof(name_version_bind);
		break;
	case DNSCHECK_STEP_VERSION_SERVER:
		q->qname = name_version_server;
		q->qname_len = sizeof(name_version_server);
		break;
	case DNSCHECK_STEP_HOSTNAME_BIND:
		q->qname = name_hostname_bind;
		q->qname_len = sizeof(name_hostname_bind);
		break;
	case DNSCHECK_STEP_ID_SERVER:
		q->qname = name_id_server;
		q->qname_len = sizeof(name_id_server);
		break;
	case DNSCHECK_STEP_AMP_ANY:
	case DNSCHECK_STEP_AMP_DNSKEY:
	case DNSCHECK_STEP_AXFR:
		if (s->zone >= pl->nzones)
			return DNS_E_INVALID;
		q->qname = pl->zones[s->zone].wire;
		q->qname_len = pl->zones[s->zone].wire_len;
		q->qtype = s->kind == DNSCHECK_STEP_AMP_ANY ? DNS_TYPE_ANY
			 : s->kind == DNSCHECK_STEP_AMP_DNSKEY ? DNS_TYPE_DNSKEY : DNS_TYPE_AXFR;
		return 0;
	case DNSCHECK_STEP_TCP_DNS:
		q->qname = pl->tcp_qname;
		q->qname_len = pl->tcp_qname_len;
		q->qtype = pl->tcp_qtype;
		return 0;
	default:
		return DNS_E_INVALID;
	}
	/* the CHAOS names: the string literals above carry the root octet as their NUL */
	q->qtype = DNS_TYPE_TXT;
	q->qclass = DNS_CLASS_CH;
	return 0;
}

int
dnscheck_build_query(const struct dnscheck_plan *pl, const struct dnscheck_step *s, uint16_t id,
		     uint8_t *buf, size_t buflen, struct dnscheck_question *q)
{
	struct dns_query_params qp = { .id = id, .edns_udp_size = DNSCHECK_EDNS_SIZE };
	int rc = dnscheck_step_question(pl, s, q);

	if (rc < 0)
		return rc;
	qp.qname = q->qname;
	qp.qname_len = q->qname_len;
	qp.qtype = q->qtype;
	qp.qclass = q->qclass;
	switch ((enum dnscheck_step_kind)s->kind) {
	case DNSCHECK_STEP_RECURSION:
	case DNSCHECK_STEP_RECURSION_TCP:
		qp.rd = true;
		break;
	case DNSCHECK_STEP_VERSION_BIND:
		qp.edns_nsid = true; /* one query fewer: NSID rides on version.bind */
		break;
	case DNSCHECK_STEP_AMP_ANY:
	case DNSCHECK_STEP_AMP_DNSKEY:
		/* what an attacker would send: the largest buffer, signatures wanted */
		qp.edns_udp_size = DNSCHECK_AMP_EDNS_SIZE;
		qp.edns_do = true;
		break;
	case DNSCHECK_STEP_TCP_DNS:
		qp.rd = pl->tcp_rd;
		break;
	case DNSCHECK_STEP_AXFR:
		qp.edns_udp_size = 0; /* RFC 5936 needs no EDNS; keep the request plain */
		break;
	default:
		break;
	}
	return dns_build_query(buf, buflen, &qp);
}

/* ---- evaluation ---- */

void
dnscheck_printable(const uint8_t *in, size_t inlen, char *out, size_t outlen)
{
	size_t k = 0;

	if (outlen == 0)
		return;
	for (size_t i = 0; i < inlen && k + 1 < outlen; i++)
		out[k++] = in[i] >= 0x20 && in[i] < 0x7f ? (char)in[i] : '?';
	out[k] = '\0';
}

/* NSID is opaque: show it as text when it is text, else as hex. */
static void
nsid_text(const uint8_t *p, size_t n, char *out, size_t outlen)
{
	bool text = n > 0;
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] >= 0x7f)
			text = false;
	if (text) {
		dnscheck_printable(p, n, out, outlen);
		return;
	}
	for (size_t i = 0; i < n && k + 2 < outlen; i++, k += 2)
		snprintf(out + k, outlen - k, "%02x", p[i]);
	out[k] = '\0';
}

/* The first CH TXT answer for qname, as printable text ("" when none). */
static void
txt_answer(const uint8_t *msg, size_t len, const uint8_t *qname, size_t qname_len, char *out,
	   size_t outlen)
{
	struct dns_rr_iter it;
	struct dns_rr rr;
	char raw[DC_TXT_MAX];

	out[0] = '\0';
	if (dns_rr_iter_init(&it, msg, len) < 0)
		return;
	while (dns_rr_next(&it, &rr) == 1) {
		if (rr.section != DNS_SECTION_ANSWER || rr.type != DNS_TYPE_TXT ||
		    rr.rclass != DNS_CLASS_CH ||
		    !dns_name_equal(rr.name, rr.name_len, qname, qname_len))
			continue;
		if (dns_rdata_txt(msg, len, &rr, raw, sizeof(raw)) == 0)
			dnscheck_printable((const uint8_t *)raw, strlen(raw), out, outlen);
		return;
	}
}

static void
eval_recursion(const struct dnscheck_plan *pl, const uint8_t *msg, size_t len,
	       const struct dns_reply *r, struct dnscheck_facts *f)
{
	struct dns_rr_iter it;
	struct dns_rr rr;
	bool answered = false, addr_ok = false;
	size_t alen = pl->canary_addr.family == AF_INET6 ? 16 : 4;

	/* a refusal without its question: its answer records and RA are not read */
	if (!r->no_question && dns_rr_iter_init(&it, msg, len) == 0)
		while (dns_rr_next(&it, &rr) == 1) {
			if (rr.section != DNS_SECTION_ANSWER || rr.rclass != DNS_CLASS_IN ||
			    rr.type != pl->canary_qtype)
				continue;
			answered = true;
			if (pl->canary_has_addr && rr.rdlength == alen &&
			    memcmp(msg + rr.rdata_off, pl->canary_addr.bytes, alen) == 0)
				addr_ok = true;
		}
	f->known |= DNSCHECK_RECURSION;
	f->rec_rcode = (uint16_t)r->rcode;
	f->rec_ra = !r->no_question && (r->hdr.flags & DNS_FLAG_RA) != 0;
	/* It resolved: recursion offered and a result for a name it has no business knowing.
	 * A non-authoritative NXDOMAIN counts (it went and asked); an authoritative one is a
	 * local zone's own answer. REFUSED with RA set (unbound's access control) or
	 * SERVFAIL prove nothing. */
	f->recursion = f->rec_ra && ((r->rcode == 0 && answered) ||
				     (r->rcode == 3 && !(r->hdr.flags & DNS_FLAG_AA)));
	f->bogus_known = pl->canary_has_addr;
	f->bogus = pl->canary_has_addr && f->recursion && !addr_ok;
}

void
dnscheck_eval(const struct dnscheck_plan *pl, const struct dnscheck_step *s, const uint8_t *msg,
	      size_t len, const struct dns_reply *r, size_t query_len, struct dnscheck_facts *f)
{
	struct dnscheck_question q;
	char text[DNSCHECK_TEXT_MAX];
	uint8_t rank;

	if (dnscheck_step_question(pl, s, &q) < 0)
		return;
	switch ((enum dnscheck_step_kind)s->kind) {
	case DNSCHECK_STEP_RECURSION:
		eval_recursion(pl, msg, len, r, f);
		f->rec_tcp = false;
		break;
	case DNSCHECK_STEP_RECURSION_TCP:
		/* UDP wins, whatever the arrival order: the TCP answer stands in only while
		 * the UDP question has none */
		if ((f->known & DNSCHECK_RECURSION) && !f->rec_tcp)
			break;
		eval_recursion(pl, msg, len, r, f);
		f->rec_tcp = true;
		break;
	case DNSCHECK_STEP_VERSION_BIND:
	case DNSCHECK_STEP_VERSION_SERVER:
	case DNSCHECK_STEP_HOSTNAME_BIND:
	case DNSCHECK_STEP_ID_SERVER:
		f->known |= DNSCHECK_VERSION;
		if (s->kind == DNSCHECK_STEP_VERSION_BIND && !r->no_question && r->nsid_len > 0 &&
		    r->nsid_off + r->nsid_len <= len)
			nsid_text(msg + r->nsid_off, r->nsid_len, f->nsid, sizeof(f->nsid));
		if (r->rcode != 0)
			break;
		txt_answer(msg, len, q.qname, q.qname_len, text, sizeof(text));
		if (text[0] == '\0')
			break;
		/* the BIND names first: they are the ones every server family knows */
		rank = s->kind == DNSCHECK_STEP_VERSION_BIND || s->kind == DNSCHECK_STEP_HOSTNAME_BIND
			       ? 2 : 1;
		if (s->kind <= DNSCHECK_STEP_VERSION_SERVER && rank > f->version_rank) {
			memcpy(f->version, text, sizeof(f->version));
			f->version_rank = rank;
		} else if (s->kind >= DNSCHECK_STEP_HOSTNAME_BIND && rank > f->hostname_rank) {
			memcpy(f->hostname, text, sizeof(f->hostname));
			f->hostname_rank = rank;
		}
		break;
	case DNSCHECK_STEP_AMP_ANY:
	case DNSCHECK_STEP_AMP_DNSKEY:
		/* a reply without its question counts too: its size is what it costs */
		f->known |= DNSCHECK_AMPLIFICATION;
		if (query_len == 0)
			break;
		/* len/query_len > reply/query, without floating point */
		if (f->amp_query_bytes == 0 ||
		    (uint64_t)len * f->amp_query_bytes > (uint64_t)f->amp_reply_bytes * query_len) {
			f->amp_query_bytes = (uint32_t)query_len;
			f->amp_reply_bytes = (uint32_t)len;
			f->amp_qtype = q.qtype;
			f->amp_zone = pl->zones[s->zone].text;
		}
		break;
	case DNSCHECK_STEP_TCP_DNS:
		f->known |= DNSCHECK_TCP_DNS;
		f->tcp_dns = true;
		break;
	default:
		break;
	}
}

uint32_t
dnscheck_amp_x100(const struct dnscheck_facts *f)
{
	uint64_t v;

	if (f->amp_query_bytes == 0)
		return 0;
	v = ((uint64_t)f->amp_reply_bytes * 100 + f->amp_query_bytes / 2) / f->amp_query_bytes;
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

bool
dnscheck_axfr_any(const struct dnscheck_facts *f, bool *known)
{
	bool refused = false;

	*known = false;
	for (unsigned i = 0; i < f->naxfr && i < DNSCHECK_MAX_ZONES; i++) {
		if (f->axfr[i].state == DNSCHECK_AXFR_ALLOWED) {
			*known = true;
			return true;
		}
		refused |= f->axfr[i].state == DNSCHECK_AXFR_REFUSED;
	}
	*known = refused;
	return false;
}

int
dnscheck_axfr_feed(struct dnscheck_axfr_walk *w, const uint8_t *msg, size_t len)
{
	struct dns_header h;
	struct dns_rr_iter it;
	struct dns_rr rr;
	size_t pos = DNS_HEADER_LEN, nlen;
	uint8_t name[DNS_MAX_NAME];
	int rc;

	if ((rc = dns_parse_header(msg, len, &h)) < 0)
		return rc;
	if (!(h.flags & DNS_FLAG_QR))
		return DNS_E_NOT_RESPONSE;
	if (h.id != w->id)
		return DNS_E_ID_MISMATCH;
	if (h.qdcount > 1)
		return DNS_E_QDCOUNT;
	/* RFC 5936 2.2.1: the first message echoes the question, later ones may omit it; a
	 * refusal that did not look at the question may omit it from the first (dns.h) */
	if (h.qdcount == 0 && w->messages == 0 && !dns_rcode_refuses(dns_header_rcode(&h)))
		return DNS_E_QDCOUNT;
	if (h.qdcount == 1) {
		uint16_t qtype, qclass;

		if ((rc = dns_read_name(msg, len, &pos, name, &nlen)) < 0)
			return rc;
		if (len - pos < 4)
			return DNS_E_SHORT;
		qtype = (uint16_t)(msg[pos] << 8 | msg[pos + 1]);
		qclass = (uint16_t)(msg[pos + 2] << 8 | msg[pos + 3]);
		if (qtype != DNS_TYPE_AXFR || qclass != DNS_CLASS_IN ||
		    !dns_name_equal(name, nlen, w->zone, w->zone_len))
			return DNS_E_QUESTION_MISMATCH;
	}
	/* walk the whole message first: a message that does not parse counts for nothing */
	if ((rc = dns_rr_iter_init(&it, msg, len)) < 0)
		return rc;
	while ((rc = dns_rr_next(&it, &rr)) == 1)
		;
	if (rc < 0)
		return rc;
	w->messages++;
	if (dns_header_rcode(&h) != 0) {
		w->rcode = (uint16_t)dns_header_rcode(&h);
		return DNSCHECK_AXFR_NO;
	}
	dns_rr_iter_init(&it, msg, len);
	while (dns_rr_next(&it, &rr) == 1) {
		bool apex_soa;

		if (rr.section != DNS_SECTION_ANSWER)
			continue;
		apex_soa = rr.type == DNS_TYPE_SOA &&
			   dns_name_equal(rr.name, rr.name_len, w->zone, w->zone_len);
		/* a transfer starts with the zone's SOA; anything else is no transfer */
		if (w->records == 0 && !apex_soa) {
			w->rcode = 0;
			return DNSCHECK_AXFR_NO;
		}
		if (w->records < UINT32_MAX)
			w->records++;
		if (apex_soa && ++w->soas >= 2)
			return DNSCHECK_AXFR_DONE;
	}
	if (w->records == 0) {
		w->rcode = 0; /* NOERROR and no records: not a transfer */
		return DNSCHECK_AXFR_NO;
	}
	return DNSCHECK_AXFR_MORE;
}

