/* fuzz_dns: libFuzzer target driving every reader of the DNS codec over arbitrary octets. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "probes/dns.h"

/* Touch every output octet so the sanitizers see uninitialized or out-of-bounds data. */
static volatile unsigned sink;

static void
consume(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		sink += b[i];
}

static void
walk_rrs(const uint8_t *data, size_t size, const struct dns_reply *r)
{
	struct dns_rr_iter it;
	struct dns_rr rr;
	uint8_t name[DNS_MAX_NAME];
	char text[DNS_MAX_TEXT_NAME], txt[300];
	size_t nlen;
	unsigned seen = 0;
	int rc;

	if (dns_rr_iter_init(&it, data, size) != 0)
		__builtin_trap(); /* parse_reply accepted it, so the iterator must too */
	while ((rc = dns_rr_next(&it, &rr)) == 1) {
		seen++;
		if (rr.name_len == 0 || rr.name_len > DNS_MAX_NAME ||
		    rr.rdata_off + rr.rdlength > r->msg_len)
			__builtin_trap();
		if (dns_name_to_text(rr.name, rr.name_len, text, sizeof(text)) < 0)
			__builtin_trap(); /* every name we hand out must print */
		consume(data + rr.rdata_off, rr.rdlength);
		switch (rr.type) {
		case DNS_TYPE_NS:
		case DNS_TYPE_CNAME:
		case DNS_TYPE_SOA:
			/* validated during the walk, so this must succeed */
			if (dns_rdata_name(data, size, &rr, name, &nlen) != 0)
				__builtin_trap();
			consume(name, nlen);
			break;
		case DNS_TYPE_TXT:
			if (dns_rdata_txt(data, size, &rr, txt, sizeof(txt)) != 0)
				__builtin_trap();
			consume(txt, strlen(txt));
			break;
		default:
			/* helpers on the wrong type must refuse, not read */
			(void)dns_rdata_name(data, size, &rr, name, &nlen);
			(void)dns_rdata_txt(data, size, &rr, txt, sizeof(txt));
			break;
		}
	}
	if (rc != 0 || it.pos != r->msg_len ||
	    seen != (unsigned)r->hdr.ancount + r->hdr.nscount + r->hdr.arcount)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_reply r;
	uint8_t name[DNS_MAX_NAME];
	char text[DNS_MAX_TEXT_NAME];
	size_t pos = DNS_HEADER_LEN, nlen;

	if (dns_read_name(data, size, &pos, name, &nlen) == 0) {
		uint8_t wire[DNS_MAX_NAME];
		int tl;

		if (pos > size || nlen == 0 || nlen > DNS_MAX_NAME)
			__builtin_trap();
		/* text form must round-trip to the same wire name */
		tl = dns_name_to_text(name, nlen, text, sizeof(text));
		if (tl < 0 || dns_name_from_text(text, wire, sizeof(wire)) != (int)nlen ||
		    memcmp(wire, name, nlen) != 0)
			__builtin_trap();
	}
	if (dns_parse_reply(data, size, &r) != 0)
		return 0;
	if (r.msg_len > size || (r.nsid_len > 0 && r.nsid_off + r.nsid_len > r.msg_len))
		__builtin_trap();
	consume(data + r.nsid_off, r.nsid_len);
	if (r.no_question) {
		/* only a refusal may come without its question, and it matches by ID alone */
		if (r.hdr.qdcount != 0 || r.qname_len != 0 ||
		    !dns_rcode_refuses(dns_header_rcode(&r.hdr)) ||
		    dns_reply_matches(&r, r.hdr.id, (const uint8_t *)"", 1, DNS_TYPE_A,
				      DNS_CLASS_IN) != 0 ||
		    dns_reply_matches(&r, (uint16_t)(r.hdr.id + 1), (const uint8_t *)"", 1,
				      DNS_TYPE_A, DNS_CLASS_IN) != DNS_E_ID_MISMATCH)
			__builtin_trap();
		walk_rrs(data, size, &r);
		return 0;
	}
	if (r.hdr.qdcount != 1 || r.qname_len == 0)
		__builtin_trap();
	if (dns_name_to_text(r.qname, r.qname_len, text, sizeof(text)) < 0)
		__builtin_trap();
	if (dns_reply_matches(&r, r.hdr.id, r.qname, r.qname_len, r.qtype, r.qclass) != 0)
		__builtin_trap();
	(void)dns_reply_matches(&r, (uint16_t)(r.hdr.id + 1), r.qname, r.qname_len, r.qtype,
				r.qclass);
	walk_rrs(data, size, &r);
	return 0;
}
