/* dns: DNS wire encode/decode for probes; pure and bounds-checked (see dns.h). */
#include "probes/dns.h"

#include <stdio.h>
#include <string.h>

/*
 * Read cursor. Every read of untrusted octets goes through these helpers, so a
 * message that ends inside a field always fails with DNS_E_SHORT and never
 * reads past msg + len.
 */
struct rcur {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

static size_t
rcur_left(const struct rcur *c)
{
	return c->pos < c->len ? c->len - c->pos : 0;
}

static int
rcur_skip(struct rcur *c, size_t n)
{
	if (rcur_left(c) < n)
		return DNS_E_SHORT;
	c->pos += n;
	return 0;
}

static int
rcur_u8(struct rcur *c, uint8_t *v)
{
	if (rcur_left(c) < 1)
		return DNS_E_SHORT;
	*v = c->buf[c->pos];
	c->pos += 1;
	return 0;
}

static int
rcur_u16(struct rcur *c, uint16_t *v)
{
	if (rcur_left(c) < 2)
		return DNS_E_SHORT;
	*v = (uint16_t)(c->buf[c->pos] << 8 | c->buf[c->pos + 1]);
	c->pos += 2;
	return 0;
}

static int
rcur_u32(struct rcur *c, uint32_t *v)
{
	if (rcur_left(c) < 4)
		return DNS_E_SHORT;
	*v = (uint32_t)c->buf[c->pos] << 24 | (uint32_t)c->buf[c->pos + 1] << 16 |
	    (uint32_t)c->buf[c->pos + 2] << 8 | (uint32_t)c->buf[c->pos + 3];
	c->pos += 4;
	return 0;
}

/* Write cursor: a write that does not fit fails and leaves the cursor where it was. */
struct wcur {
	uint8_t *buf;
	size_t len;
	size_t pos;
};

static int
wcur_bytes(struct wcur *c, const void *p, size_t n)
{
	if (c->len - c->pos < n)
		return DNS_E_BUFFER;
	if (n > 0)
		memcpy(c->buf + c->pos, p, n);
	c->pos += n;
	return 0;
}

static int
wcur_u16(struct wcur *c, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	return wcur_bytes(c, b, sizeof(b));
}

static int
wcur_u32(struct wcur *c, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	return wcur_bytes(c, b, sizeof(b));
}

/* ASCII only: DNS case-insensitivity is defined on octets, not on the C locale. */
static int
ascii_lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static bool
ascii_casecmp_eq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b))
			return false;
	return *a == *b;
}

const char *
dns_strerror(int err)
{
	switch (err) {
	case DNS_OK: return "success";
	case DNS_E_SHORT: return "truncated message";
	case DNS_E_LABEL_TOO_LONG: return "label longer than 63 octets";
	case DNS_E_NAME_TOO_LONG: return "name longer than 255 octets";
	case DNS_E_PTR_FORWARD: return "forward compression pointer";
	case DNS_E_PTR_LOOP: return "compression pointer loop";
	case DNS_E_LABEL_TYPE: return "unsupported label type";
	case DNS_E_RDLENGTH: return "record data overruns message";
	case DNS_E_NOT_RESPONSE: return "not a response";
	case DNS_E_QDCOUNT: return "question count is not one";
	case DNS_E_ID_MISMATCH: return "transaction id mismatch";
	case DNS_E_QUESTION_MISMATCH: return "question mismatch";
	case DNS_E_BUFFER: return "buffer too small";
	case DNS_E_INVALID: return "invalid argument";
	case DNS_E_OPT: return "malformed edns opt record";
	case DNS_E_RDATA: return "malformed record data";
	}
	return "unknown error";
}

static const char *const rcode_names[] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
};

const char *
dns_rcode_name(unsigned rcode, char *buf, size_t buflen)
{
	if (rcode < sizeof(rcode_names) / sizeof(rcode_names[0]))
		return rcode_names[rcode];
	if (rcode == 16)
		return "BADVERS";
	/* Without room for the number the caller still gets something printable. */
	if (buf == NULL || buflen == 0)
		return "RCODE?";
	snprintf(buf, buflen, "RCODE%u", rcode);
	return buf;
}

static const struct {
	uint16_t type;
	const char *name;
} type_names[] = {
	{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" }, { 12, "PTR" }, { 15, "MX" },
	{ 16, "TXT" }, { 28, "AAAA" }, { 33, "SRV" }, { 41, "OPT" }, { 43, "DS" },
	{ 46, "RRSIG" }, { 47, "NSEC" }, { 48, "DNSKEY" }, { 50, "NSEC3" }, { 252, "AXFR" },
	{ 255, "ANY" }, { 257, "CAA" },
};

#define NTYPE_NAMES (sizeof(type_names) / sizeof(type_names[0]))

const char *
dns_type_name(uint16_t type, char *buf, size_t buflen)
{
	for (size_t i = 0; i < NTYPE_NAMES; i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	if (buf == NULL || buflen == 0)
		return "TYPE?";
	snprintf(buf, buflen, "TYPE%u", (unsigned)type);
	return buf;
}

int
dns_type_from_text(const char *text, uint16_t *out)
{
	unsigned long v = 0;
	const char *p;

	if (text == NULL || out == NULL)
		return DNS_E_INVALID;
	for (size_t i = 0; i < NTYPE_NAMES; i++) {
		if (ascii_casecmp_eq(text, type_names[i].name)) {
			*out = type_names[i].type;
			return 0;
		}
	}
	/* RFC 3597 generic form; digits only, because strtoul would take signs and spaces. */
	if (ascii_lower((unsigned char)text[0]) != 't' ||
	    ascii_lower((unsigned char)text[1]) != 'y' ||
	    ascii_lower((unsigned char)text[2]) != 'p' ||
	    ascii_lower((unsigned char)text[3]) != 'e')
		return DNS_E_INVALID;
	p = text + 4;
	if (*p == '\0')
		return DNS_E_INVALID;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return DNS_E_INVALID;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return DNS_E_INVALID;
	}
	*out = (uint16_t)v;
	return 0;
}

/*
 * Walk the labels of an uncompressed wire name held in wire[0..wirelen).
 * Returns the name's wire length (up to and including the root octet) or a
 * negative dns_error. Used wherever a caller hands us a name we did not build.
 */
static int
wire_name_len(const uint8_t *wire, size_t wirelen)
{
	size_t i = 0;

	if (wire == NULL)
		return DNS_E_INVALID;
	for (;;) {
		uint8_t l;

		if (i >= wirelen)
			return DNS_E_SHORT;
		l = wire[i];
		if (l & 0xc0)
			return (l & 0xc0) == 0xc0 ? DNS_E_INVALID /* pointer: not uncompressed */
						  : DNS_E_LABEL_TYPE;
		if (l == 0) {
			i++;
			break;
		}
		if (i + 1 + l + 1 > DNS_MAX_NAME)
			return DNS_E_NAME_TOO_LONG;
		if (wirelen - i - 1 < l)
			return DNS_E_SHORT;
		i += 1 + (size_t)l;
	}
	return (int)i;
}

static int
digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : -1;
}

int
dns_name_from_text(const char *text, uint8_t *wire, size_t wirelen)
{
	uint8_t tmp[DNS_MAX_NAME];
	size_t n = 0;     /* octets written to tmp */
	size_t lab = 0;   /* offset of the current label's length octet */
	size_t lablen = 0;
	const char *p;

	if (text == NULL || wire == NULL || text[0] == '\0')
		return DNS_E_INVALID;
	if (strcmp(text, ".") == 0) {
		if (wirelen < 1)
			return DNS_E_BUFFER;
		wire[0] = 0;
		return 1;
	}
	/* tmp[lab] is reserved for the length octet; filled in when the label ends. */
	n = 1;
	for (p = text; *p != '\0'; p++) {
		int ch = (unsigned char)*p;

		if (ch == '.') {
			if (lablen == 0)
				return DNS_E_INVALID; /* empty label: "a..b" or ".a" */
			tmp[lab] = (uint8_t)lablen;
			lab = n;
			lablen = 0;
			if (p[1] == '\0')
				break; /* trailing dot: already absolute */
			if (n + 1 > DNS_MAX_NAME - 1)
				return DNS_E_NAME_TOO_LONG; /* no room for a label octet and root */
			n++;
			continue;
		}
		if (ch == '\\') {
			int d0 = digit(p[1]);

			if (p[1] == '\0')
				return DNS_E_INVALID; /* dangling escape */
			if (d0 >= 0) {
				int d1 = digit(p[2]), d2 = d1 >= 0 ? digit(p[3]) : -1;

				if (d1 < 0 || d2 < 0)
					return DNS_E_INVALID; /* \DDD needs exactly three digits */
				ch = d0 * 100 + d1 * 10 + d2;
				if (ch > 255)
					return DNS_E_INVALID;
				p += 3;
			} else {
				ch = (unsigned char)p[1];
				p += 1;
			}
		}
		if (lablen == DNS_MAX_LABEL)
			return DNS_E_LABEL_TOO_LONG;
		/* Leave room for the root octet that ends every name. */
		if (n + 1 > DNS_MAX_NAME - 1)
			return DNS_E_NAME_TOO_LONG;
		tmp[n++] = (uint8_t)ch;
		lablen++;
	}
	if (lablen > 0) {
		/* relative name without trailing dot: close the last label */
		tmp[lab] = (uint8_t)lablen;
		lab = n++;
	}
	/* tmp[lab] is now the slot after the last label: the root. */
	tmp[lab] = 0;
	n = lab + 1;
	if (n > wirelen)
		return DNS_E_BUFFER;
	memcpy(wire, tmp, n);
	return (int)n;
}

/* Octets that would change meaning in presentation form get a backslash. */
static bool
special_octet(uint8_t c)
{
	return c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' ||
	    c == '@' || c == '$';
}

int
dns_name_to_text(const uint8_t *wire, size_t wirelen, char *text, size_t textlen)
{
	size_t i = 0, n = 0;
	int rc;

	if (wire == NULL || text == NULL || textlen == 0)
		return DNS_E_INVALID;
	rc = wire_name_len(wire, wirelen);
	if (rc < 0)
		return rc;
	if (wire[0] == 0) {
		if (textlen < 2)
			return DNS_E_BUFFER;
		text[0] = '.';
		text[1] = '\0';
		return 1;
	}
	/* wire_name_len proved every label is inside wirelen and the name ends in root. */
	while (wire[i] != 0) {
		uint8_t l = wire[i++];

		for (uint8_t k = 0; k < l; k++, i++) {
			uint8_t c = wire[i];
			char esc[5];
			size_t elen;

			if (c <= 0x20 || c >= 0x7f) {
				snprintf(esc, sizeof(esc), "\\%03u", (unsigned)c);
				elen = 4;
			} else if (special_octet(c)) {
				esc[0] = '\\';
				esc[1] = (char)c;
				elen = 2;
			} else {
				esc[0] = (char)c;
				elen = 1;
			}
			if (textlen - n < elen + 1)
				return DNS_E_BUFFER;
			memcpy(text + n, esc, elen);
			n += elen;
		}
		if (textlen - n < 2)
			return DNS_E_BUFFER;
		text[n++] = '.';
	}
	text[n] = '\0';
	return (int)n;
}

bool
dns_name_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int la = wire_name_len(a, alen), lb = wire_name_len(b, blen);

	if (la < 0 || lb < 0 || la != lb)
		return false;
	/* Length octets are <= 63, below 'A', so folding them is harmless. */
	for (int i = 0; i < la; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

int
dns_build_query(uint8_t *buf, size_t buflen, const struct dns_query_params *q)
{
	struct wcur w = { .buf = buf, .len = buflen, .pos = 0 };
	int rc, nl;

	if (buf == NULL || q == NULL)
		return DNS_E_INVALID;
	nl = wire_name_len(q->qname, q->qname_len);
	if (nl < 0 || (size_t)nl != q->qname_len)
		return DNS_E_INVALID;
	if ((rc = wcur_u16(&w, q->id)) < 0 ||
	    (rc = wcur_u16(&w, q->rd ? DNS_FLAG_RD : 0)) < 0 ||
	    (rc = wcur_u16(&w, 1)) < 0 || /* qdcount */
	    (rc = wcur_u16(&w, 0)) < 0 || /* ancount */
	    (rc = wcur_u16(&w, 0)) < 0 || /* nscount */
	    (rc = wcur_u16(&w, q->edns_udp_size ? 1 : 0)) < 0 ||
	    (rc = wcur_bytes(&w, q->qname, q->qname_len)) < 0 ||
	    (rc = wcur_u16(&w, q->qtype)) < 0 ||
	    (rc = wcur_u16(&w, q->qclass)) < 0)
		goto bad;
	if (q->edns_udp_size) {
		/* RFC 6891: owner root, CLASS = payload size, TTL = ext rcode, version, DO. */
		if ((rc = wcur_bytes(&w, "", 1)) < 0 ||
		    (rc = wcur_u16(&w, DNS_TYPE_OPT)) < 0 ||
		    (rc = wcur_u16(&w, q->edns_udp_size)) < 0 ||
		    (rc = wcur_u32(&w, q->edns_do ? 0x8000u : 0)) < 0 ||
		    (rc = wcur_u16(&w, q->edns_nsid ? 4 : 0)) < 0)
			goto bad;
		/* RFC 5001: the request carries the option with an empty payload. */
		if (q->edns_nsid && ((rc = wcur_u16(&w, DNS_EDNS_OPT_NSID)) < 0 ||
				     (rc = wcur_u16(&w, 0)) < 0))
			goto bad;
	}
	return (int)w.pos;
bad:
	return rc;
}

bool
dns_rcode_refuses(unsigned rcode)
{
	return rcode == DNS_RCODE_FORMERR || rcode == DNS_RCODE_SERVFAIL ||
	       rcode == DNS_RCODE_NOTIMP || rcode == DNS_RCODE_REFUSED;
}

int
dns_parse_header(const uint8_t *msg, size_t len, struct dns_header *out)
{
	struct rcur c = { .buf = msg, .len = len, .pos = 0 };
	int rc;

	if (out == NULL)
		return DNS_E_INVALID;
	if (msg == NULL)
		return DNS_E_SHORT; /* no message is an empty one: nothing to read */
	if ((rc = rcur_u16(&c, &out->id)) < 0 || (rc = rcur_u16(&c, &out->flags)) < 0 ||
	    (rc = rcur_u16(&c, &out->qdcount)) < 0 || (rc = rcur_u16(&c, &out->ancount)) < 0 ||
	    (rc = rcur_u16(&c, &out->nscount)) < 0 || (rc = rcur_u16(&c, &out->arcount)) < 0)
		return rc;
	return 0;
}

/*
 * A pointer that is not strictly backwards is either a loop (it lands on
 * octets this name already read) or a forward reference. Telling them apart
 * only costs a look at the runs already walked, and it makes the logged
 * reason say what the server actually did.
 */
static int
ptr_error(const size_t *run_start, const size_t *run_end, unsigned nruns, size_t target)
{
	for (unsigned i = 0; i < nruns; i++)
		if (target >= run_start[i] && target <= run_end[i])
			return DNS_E_PTR_LOOP;
	return DNS_E_PTR_FORWARD;
}

int
dns_read_name(const uint8_t *msg, size_t len, size_t *pos, uint8_t out[DNS_MAX_NAME],
	      size_t *outlen)
{
	/* Each run is the octets read in place before a pointer (start..pointer's 2nd octet). */
	size_t run_start[DNS_MAX_POINTERS + 1], run_end[DNS_MAX_POINTERS + 1];
	unsigned hops = 0;
	size_t p, n = 0, after = 0;
	bool jumped = false;

	if (msg == NULL || pos == NULL || out == NULL || outlen == NULL)
		return DNS_E_INVALID;
	p = *pos;
	run_start[0] = p;
	for (;;) {
		uint8_t l;

		if (p >= len)
			return DNS_E_SHORT;
		l = msg[p];
		if ((l & 0xc0) == 0xc0) {
			size_t target;

			if (len - p < 2)
				return DNS_E_SHORT;
			target = (size_t)(l & 0x3f) << 8 | msg[p + 1];
			run_end[hops] = p + 1;
			/*
			 * Strictly before the start of the run holding this pointer: each
			 * hop then lands lower than the last, so no sequence of pointers can
			 * revisit octets, and the hop cap bounds the work on long chains.
			 */
			if (target >= run_start[hops])
				return ptr_error(run_start, run_end, hops + 1, target);
			if (hops == DNS_MAX_POINTERS)
				return DNS_E_PTR_LOOP; /* hop cap */
			if (!jumped) {
				after = p + 2;
				jumped = true;
			}
			hops++;
			run_start[hops] = target;
			p = target;
			continue;
		}
		if (l & 0xc0)
			return DNS_E_LABEL_TYPE; /* 0x40 extended, 0x80 reserved */
		if (l == 0) {
			out[n++] = 0; /* room guaranteed by the length check below */
			if (!jumped)
				after = p + 1;
			break;
		}
		if (len - p - 1 < l)
			return DNS_E_SHORT;
		/* Counting the root octet still to come keeps the total within 255. */
		if (n + 1 + l + 1 > DNS_MAX_NAME)
			return DNS_E_NAME_TOO_LONG;
		memcpy(out + n, msg + p, 1 + (size_t)l);
		n += 1 + (size_t)l;
		p += 1 + (size_t)l;
	}
	*pos = after;
	*outlen = n;
	return 0;
}

/* Owner name and fixed fields of one RR at c->pos; RDATA only has to fit the message. */
static int
read_rr(struct rcur *c, struct dns_rr *rr)
{
	int rc;

	if ((rc = dns_read_name(c->buf, c->len, &c->pos, rr->name, &rr->name_len)) < 0)
		return rc;
	if ((rc = rcur_u16(c, &rr->type)) < 0 || (rc = rcur_u16(c, &rr->rclass)) < 0 ||
	    (rc = rcur_u32(c, &rr->ttl)) < 0 || (rc = rcur_u16(c, &rr->rdlength)) < 0)
		return rc;
	rr->rdata_off = c->pos;
	if (rcur_skip(c, rr->rdlength) < 0)
		return DNS_E_RDLENGTH;
	return 0;
}

/* Position an iterator on the first RR, given a header and where its questions end. */
static void
iter_start(struct dns_rr_iter *it, const uint8_t *msg, size_t len, const struct dns_header *h,
	   size_t pos)
{
	it->msg = msg;
	it->len = len;
	it->pos = pos;
	it->remaining[0] = 0;
	it->remaining[DNS_SECTION_ANSWER] = h->ancount;
	it->remaining[DNS_SECTION_AUTHORITY] = h->nscount;
	it->remaining[DNS_SECTION_ADDITIONAL] = h->arcount;
	it->section = DNS_SECTION_ANSWER;
}

int
dns_rr_iter_init(struct dns_rr_iter *it, const uint8_t *msg, size_t len)
{
	struct dns_header h;
	struct rcur c = { .buf = msg, .len = len, .pos = DNS_HEADER_LEN };
	uint8_t name[DNS_MAX_NAME];
	size_t nlen;
	int rc;

	if (it == NULL)
		return DNS_E_INVALID;
	memset(it, 0, sizeof(*it));
	if ((rc = dns_parse_header(msg, len, &h)) < 0)
		return rc;
	/* Walk every question the header claims so this also works for queries. */
	for (unsigned i = 0; i < h.qdcount; i++) {
		if ((rc = dns_read_name(msg, len, &c.pos, name, &nlen)) < 0)
			return rc;
		if ((rc = rcur_skip(&c, 4)) < 0)
			return rc;
	}
	iter_start(it, msg, len, &h, c.pos);
	return 0;
}

int
dns_rr_next(struct dns_rr_iter *it, struct dns_rr *rr)
{
	struct rcur c;
	int rc;

	if (it == NULL || rr == NULL || it->msg == NULL)
		return DNS_E_INVALID;
	while ((unsigned)it->section <= DNS_SECTION_ADDITIONAL &&
	       it->remaining[it->section] == 0)
		it->section++;
	if ((unsigned)it->section > DNS_SECTION_ADDITIONAL)
		return 0;
	c.buf = it->msg;
	c.len = it->len;
	c.pos = it->pos;
	if ((rc = read_rr(&c, rr)) < 0)
		return rc;
	rr->section = it->section;
	it->remaining[it->section]--;
	it->pos = c.pos;
	return 1;
}

/* A name in RDATA must end exactly where the caller expects (end of RDATA or a fixed tail). */
static int
rdata_names(const uint8_t *msg, size_t len, const struct dns_rr *rr, unsigned count,
	    size_t tail)
{
	uint8_t name[DNS_MAX_NAME];
	size_t nlen, p = rr->rdata_off, end = rr->rdata_off + rr->rdlength;
	int rc;

	for (unsigned i = 0; i < count; i++) {
		if ((rc = dns_read_name(msg, len, &p, name, &nlen)) < 0)
			return rc;
		if (p > end)
			return DNS_E_RDATA;
	}
	return end - p == tail ? 0 : DNS_E_RDATA;
}

/* A cursor over just the RDATA of rr, so nothing in it can read past RDLENGTH. */
static struct rcur
rdata_cur(const uint8_t *msg, const struct dns_rr *rr)
{
	struct rcur c = { .buf = msg, .len = rr->rdata_off + rr->rdlength, .pos = rr->rdata_off };

	return c;
}

static int
check_txt(const uint8_t *msg, const struct dns_rr *rr)
{
	struct rcur c = rdata_cur(msg, rr);

	/* RFC 1035 3.3.14: one or more character-strings. */
	if (rr->rdlength == 0)
		return DNS_E_RDATA;
	while (rcur_left(&c) > 0) {
		uint8_t sl;

		if (rcur_u8(&c, &sl) < 0 || rcur_skip(&c, sl) < 0)
			return DNS_E_RDATA;
	}
	return 0;
}

/* RFC 6891 OPT pseudo-RR: record what the probes report, reject anything malformed. */
static int
parse_opt(const uint8_t *msg, const struct dns_rr *rr, struct dns_reply *out)
{
	/* The cursor ends at the end of RDATA: options must fill it exactly. */
	struct rcur c = rdata_cur(msg, rr);

	if (rr->section != DNS_SECTION_ADDITIONAL || out->has_edns || rr->name_len != 1)
		return DNS_E_OPT;
	out->has_edns = true;
	out->edns_udp_size = rr->rclass;
	out->rcode |= ((rr->ttl >> 24) & 0xff) << 4; /* extended rcode: upper 8 of 12 bits */
	out->edns_version = (uint8_t)(rr->ttl >> 16);
	out->edns_do = (rr->ttl & 0x8000) != 0;
	while (rcur_left(&c) > 0) {
		uint16_t code, olen;

		if (rcur_u16(&c, &code) < 0 || rcur_u16(&c, &olen) < 0)
			return DNS_E_OPT;
		if (code == DNS_EDNS_OPT_NSID && out->nsid_off == 0) {
			out->nsid_off = c.pos;
			out->nsid_len = olen;
		}
		if (rcur_skip(&c, olen) < 0)
			return DNS_E_OPT;
	}
	return 0;
}

static int
check_rdata(const uint8_t *msg, size_t len, const struct dns_rr *rr, struct dns_reply *out)
{
	switch (rr->type) {
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA:
		/* Address RDATA is defined per class; other classes only have to fit. */
		if (rr->rclass != DNS_CLASS_IN)
			return 0;
		return rr->rdlength == (rr->type == DNS_TYPE_A ? 4 : 16) ? 0 : DNS_E_RDATA;
	case DNS_TYPE_NS:
	case DNS_TYPE_CNAME:
		return rdata_names(msg, len, rr, 1, 0);
	case DNS_TYPE_SOA:
		return rdata_names(msg, len, rr, 2, 20); /* serial refresh retry expire minimum */
	case DNS_TYPE_TXT:
		return check_txt(msg, rr);
	case DNS_TYPE_OPT:
		return parse_opt(msg, rr, out);
	}
	return 0;
}

int
dns_parse_reply(const uint8_t *msg, size_t len, struct dns_reply *out)
{
	struct dns_rr_iter it;
	struct dns_rr rr;
	struct rcur c = { .buf = msg, .len = len, .pos = DNS_HEADER_LEN };
	int rc;

	if (out == NULL)
		return DNS_E_INVALID;
	memset(out, 0, sizeof(*out));
	if ((rc = dns_parse_header(msg, len, &out->hdr)) < 0)
		goto bad;
	if (!(out->hdr.flags & DNS_FLAG_QR)) {
		rc = DNS_E_NOT_RESPONSE;
		goto bad;
	}
	if (out->hdr.qdcount == 0 && dns_rcode_refuses(dns_header_rcode(&out->hdr))) {
		out->no_question = true; /* a refusal that did not look at the question */
	} else if (out->hdr.qdcount != 1) {
		rc = DNS_E_QDCOUNT;
		goto bad;
	} else if ((rc = dns_read_name(msg, len, &c.pos, out->qname, &out->qname_len)) < 0 ||
		   (rc = rcur_u16(&c, &out->qtype)) < 0 || (rc = rcur_u16(&c, &out->qclass)) < 0) {
		goto bad;
	}
	out->rcode = dns_header_rcode(&out->hdr);
	/*
	 * One walk: carry on from the question with the same iterator callers use,
	 * so what was validated here is exactly what they will walk later.
	 */
	iter_start(&it, msg, len, &out->hdr, c.pos);
	while ((rc = dns_rr_next(&it, &rr)) == 1)
		if ((rc = check_rdata(msg, len, &rr, out)) < 0)
			goto bad;
	if (rc < 0)
		goto bad;
	out->msg_len = it.pos;
	return 0;
bad:
	return rc;
}

int
dns_reply_matches(const struct dns_reply *r, uint16_t id, const uint8_t *qname,
		  size_t qname_len, uint16_t qtype, uint16_t qclass)
{
	if (r == NULL || qname == NULL)
		return DNS_E_INVALID;
	if (r->hdr.id != id)
		return DNS_E_ID_MISMATCH;
	if (r->no_question)
		return 0; /* nothing to compare: the ID is all it carries */
	if (r->qtype != qtype || r->qclass != qclass ||
	    !dns_name_equal(r->qname, r->qname_len, qname, qname_len))
		return DNS_E_QUESTION_MISMATCH;
	return 0;
}

/* The helpers may get an rr from a caller's own walk: re-check it lies in the message. */
static int
rr_in_msg(const uint8_t *msg, size_t len, const struct dns_rr *rr)
{
	if (msg == NULL || rr == NULL)
		return DNS_E_INVALID;
	if (rr->rdata_off > len || len - rr->rdata_off < rr->rdlength)
		return DNS_E_RDLENGTH;
	return 0;
}

int
dns_rdata_name(const uint8_t *msg, size_t len, const struct dns_rr *rr,
	       uint8_t out[DNS_MAX_NAME], size_t *outlen)
{
	size_t p;
	int rc;

	if ((rc = rr_in_msg(msg, len, rr)) < 0)
		return rc;
	if (out == NULL || outlen == NULL)
		return DNS_E_INVALID;
	switch (rr->type) {
	case DNS_TYPE_NS:
	case DNS_TYPE_CNAME:
	case 12: /* PTR */
	case DNS_TYPE_SOA: /* mname comes first */
		break;
	default:
		return DNS_E_INVALID;
	}
	p = rr->rdata_off;
	if ((rc = dns_read_name(msg, len, &p, out, outlen)) < 0)
		return rc;
	if (p > rr->rdata_off + rr->rdlength)
		return DNS_E_RDATA;
	return 0;
}

int
dns_rdata_txt(const uint8_t *msg, size_t len, const struct dns_rr *rr, char *out,
	      size_t outlen)
{
	struct rcur c;
	size_t n = 0;
	int rc;

	if ((rc = rr_in_msg(msg, len, rr)) < 0)
		return rc;
	if (out == NULL || outlen == 0 || rr->type != DNS_TYPE_TXT)
		return DNS_E_INVALID;
	/* Validate first so a bad record yields an error, not a partial string. */
	if ((rc = check_txt(msg, rr)) < 0)
		return rc;
	c = rdata_cur(msg, rr);
	while (rcur_left(&c) > 0) {
		uint8_t sl;
		size_t take;

		if (rcur_u8(&c, &sl) < 0 || rcur_left(&c) < sl)
			return DNS_E_RDATA;
		take = sl < outlen - 1 - n ? sl : outlen - 1 - n;
		memcpy(out + n, c.buf + c.pos, take);
		n += take;
		c.pos += sl;
	}
	out[n] = '\0';
	return 0;
}
