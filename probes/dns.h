/*
 * dns: DNS wire format encode/decode. Pure: no I/O, no malloc, no logging, no globals.
 * Every read goes through a bounds-checked cursor; names follow RFC 1035/9267 rules
 * (labels <= 63, names <= 255 octets, compression pointers only backwards, hop cap).
 * Section counts are never trusted for anything but the walk, which fails if they lie.
 */
#ifndef WATCH53_DNS_H
#define WATCH53_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_MAX_NAME 255 /* wire octets, including the root label */
#define DNS_MAX_LABEL 63
#define DNS_MAX_POINTERS 64 /* compression hops followed while reading one name */
#define DNS_MAX_TEXT_NAME 1024 /* presentation form with \DDD escapes */

#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100
#define DNS_FLAG_RA 0x0080
#define DNS_FLAG_AD 0x0020
#define DNS_FLAG_CD 0x0010

#define DNS_TYPE_A 1
#define DNS_TYPE_NS 2
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_SOA 6
#define DNS_TYPE_TXT 16
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_OPT 41
#define DNS_TYPE_DNSKEY 48
#define DNS_TYPE_AXFR 252
#define DNS_TYPE_ANY 255
#define DNS_CLASS_IN 1
#define DNS_CLASS_CH 3

#define DNS_EDNS_OPT_NSID 3

#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_FORMERR 1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP 4
#define DNS_RCODE_REFUSED 5

/* Negative return codes. dns_strerror() gives a short lowercase reason for records/logs.
 * They lie below -DNS_E_BASE, apart from every -errno: a dns_error passed on where an errno
 * is expected (or the other way round) reads as an unknown error, never as a wrong one
 * (DNS_E_BUFFER used to be -12, which is -ENOMEM). */
#define DNS_E_BASE 1000
enum dns_error {
	DNS_OK = 0,
	DNS_E_SHORT = -DNS_E_BASE - 1,          /* message ends inside a field */
	DNS_E_LABEL_TOO_LONG = -DNS_E_BASE - 2, /* label > 63 */
	DNS_E_NAME_TOO_LONG = -DNS_E_BASE - 3,  /* name > 255 octets */
	DNS_E_PTR_FORWARD = -DNS_E_BASE - 4,    /* compression pointer not strictly backwards */
	DNS_E_PTR_LOOP = -DNS_E_BASE - 5,       /* too many compression hops */
	DNS_E_LABEL_TYPE = -DNS_E_BASE - 6,     /* 0x40/0x80 label types */
	DNS_E_RDLENGTH = -DNS_E_BASE - 7,       /* RDATA overruns message or its record's length */
	DNS_E_NOT_RESPONSE = -DNS_E_BASE - 8,   /* QR bit clear */
	DNS_E_QDCOUNT = -DNS_E_BASE - 9,        /* not exactly one question */
	DNS_E_ID_MISMATCH = -DNS_E_BASE - 10,
	DNS_E_QUESTION_MISMATCH = -DNS_E_BASE - 11,
	DNS_E_BUFFER = -DNS_E_BASE - 12,        /* output buffer too small */
	DNS_E_INVALID = -DNS_E_BASE - 13,       /* bad argument or text name */
	DNS_E_OPT = -DNS_E_BASE - 14,           /* malformed or duplicated OPT record */
	DNS_E_RDATA = -DNS_E_BASE - 15,         /* RDATA does not parse for its type */
};

const char *dns_strerror(int err);
/* "NOERROR", "SERVFAIL", ...; "RCODE<n>" style for unknown values is written to buf. */
const char *dns_rcode_name(unsigned rcode, char *buf, size_t buflen);
/* "A", "NS", ... or "TYPE<n>". */
const char *dns_type_name(uint16_t type, char *buf, size_t buflen);
/* Parse "A", "ns", "TYPE65" into a number. 0 or DNS_E_INVALID. */
int dns_type_from_text(const char *text, uint16_t *out);

/* Presentation name ("example.test", "example.test.", ".") to uncompressed wire form.
 * Returns the wire length (>= 1) or a negative dns_error. Accepts \. and \DDD escapes. */
int dns_name_from_text(const char *text, uint8_t *wire, size_t wirelen);
/* Uncompressed wire name to presentation form with trailing dot ("." for root);
 * non-printable and special octets are escaped as \DDD. Returns length or negative. */
int dns_name_to_text(const uint8_t *wire, size_t wirelen, char *text, size_t textlen);
/* Case-insensitive comparison of two uncompressed wire names: true if equal. */
bool dns_name_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

struct dns_query_params {
	const uint8_t *qname; /* uncompressed wire name */
	size_t qname_len;
	uint16_t qtype;
	uint16_t qclass;
	uint16_t id;
	bool rd;
	uint16_t edns_udp_size; /* 0: no OPT record */
	bool edns_do;           /* DNSSEC OK bit */
	bool edns_nsid;         /* request NSID (RFC 5001) */
};

/* Build a query. Returns the message length or a negative dns_error (DNS_E_BUFFER). */
int dns_build_query(uint8_t *buf, size_t buflen, const struct dns_query_params *q);

struct dns_header {
	uint16_t id;
	uint16_t flags;
	uint16_t qdcount, ancount, nscount, arcount;
};

static inline unsigned dns_header_rcode(const struct dns_header *h) { return h->flags & 0x000f; }
static inline unsigned dns_header_opcode(const struct dns_header *h) { return (h->flags >> 11) & 0x0f; }

/* FORMERR, SERVFAIL, NOTIMP or REFUSED: the header rcodes with which a reply may come
 * without its question (see dns_parse_reply). */
bool dns_rcode_refuses(unsigned rcode);

/* Read the 12-byte header. 0 or DNS_E_SHORT. */
int dns_parse_header(const uint8_t *msg, size_t len, struct dns_header *out);

/* Read a possibly compressed name at *pos; on success *pos is just past the name in the
 * original position (not past pointer targets) and out holds the uncompressed wire name. */
int dns_read_name(const uint8_t *msg, size_t len, size_t *pos, uint8_t out[DNS_MAX_NAME],
		  size_t *outlen);

enum dns_section { DNS_SECTION_ANSWER = 1, DNS_SECTION_AUTHORITY = 2, DNS_SECTION_ADDITIONAL = 3 };

struct dns_rr {
	enum dns_section section;
	uint8_t name[DNS_MAX_NAME];
	size_t name_len;
	uint16_t type;
	uint16_t rclass;
	uint32_t ttl;
	uint16_t rdlength;
	size_t rdata_off; /* offset of RDATA inside the message */
};

/* Summary of a fully walked reply. Everything was bounds-checked during the walk. */
struct dns_reply {
	struct dns_header hdr;
	/* QDCOUNT 0 with an error rcode (dns_parse_reply): there is no question, qname_len is
	 * 0 and qtype/qclass are 0. Such a reply says only its rcode: a caller takes no flag,
	 * no record and no EDNS option from it. */
	bool no_question;
	uint8_t qname[DNS_MAX_NAME];
	size_t qname_len;
	uint16_t qtype, qclass;
	unsigned rcode;    /* 12-bit when EDNS is present (ext rcode << 4 | header rcode) */
	bool has_edns;
	uint16_t edns_udp_size;
	uint8_t edns_version;
	bool edns_do;
	size_t nsid_len;   /* 0 if absent */
	size_t nsid_off;   /* offset of NSID payload in the message */
	size_t msg_len;    /* octets consumed by the walk (trailing octets are ignored) */
};

/* Walk the whole message: header, exactly one question, every RR of every section
 * (names, fixed fields, RDLENGTH inside the message, RDATA of A/AAAA/NS/CNAME/SOA/TXT/OPT
 * validated for its type). QR must be set. 0 or a negative dns_error.
 *
 * One exception to "exactly one question": QDCOUNT 0 with header rcode FORMERR, SERVFAIL,
 * NOTIMP or REFUSED is accepted with no_question set. Servers refuse that way when they will
 * not even look at the question (unbound's "access-control: ... refuse" does), so the reply
 * is a real DNS answer; QDCOUNT 0 with any other rcode (NOERROR, NXDOMAIN, ...) claims an
 * answer to a question it does not name and stays DNS_E_QDCOUNT. The sections after the
 * (absent) question are still walked and validated. */
int dns_parse_reply(const uint8_t *msg, size_t len, struct dns_reply *out);

/* Does a parsed reply answer this query? 0, DNS_E_ID_MISMATCH or DNS_E_QUESTION_MISMATCH
 * (name compared case-insensitively, type and class exactly). A no_question reply matches
 * on the ID alone: there is no question to compare. */
int dns_reply_matches(const struct dns_reply *r, uint16_t id, const uint8_t *qname,
		      size_t qname_len, uint16_t qtype, uint16_t qclass);

/* Iterate RRs of a message that dns_parse_reply accepted. */
struct dns_rr_iter {
	const uint8_t *msg;
	size_t len;
	size_t pos;
	unsigned remaining[4]; /* indexed by enum dns_section */
	enum dns_section section;
};
int dns_rr_iter_init(struct dns_rr_iter *it, const uint8_t *msg, size_t len);
/* 1 and *rr filled, 0 at the end, or a negative dns_error. */
int dns_rr_next(struct dns_rr_iter *it, struct dns_rr *rr);

/* RDATA helpers for records from dns_rr_next. Return 0 or a negative dns_error. */
int dns_rdata_name(const uint8_t *msg, size_t len, const struct dns_rr *rr,
		   uint8_t out[DNS_MAX_NAME], size_t *outlen); /* NS, CNAME, SOA mname */
/* TXT: concatenation of the character-strings, NUL-terminated, truncated to outlen-1. */
int dns_rdata_txt(const uint8_t *msg, size_t len, const struct dns_rr *rr, char *out,
		  size_t outlen);

#endif
