/* obs: a cycle's observation of one address as bytes (see obs.h). */
#include "agent/obs.h"

#include <errno.h>
#include <string.h>

/* Fixed part: target_index, seq, port, per slot state, reason and rtt, the DNS facts of
 * the UDP reply; then the length of the reply's error text and the text; then a flag for
 * the checks' facts, the facts as they are in memory and their zone names (length-prefixed). */

static void
put(uint8_t *buf, size_t *n, const void *p, size_t len)
{
	memcpy(buf + *n, p, len);
	*n += len;
}

static int
get(const uint8_t *buf, size_t len, size_t *n, void *p, size_t want)
{
	if (len - *n < want)
		return -EBADMSG;
	memcpy(p, buf + *n, want);
	*n += want;
	return 0;
}

/* NULL (a zone the facts do not name) is the length 0xffff */
#define NO_TEXT 0xffff

static void
put_text(uint8_t *buf, size_t *n, const char *s, size_t max)
{
	uint16_t l = (uint16_t)(s != NULL ? strnlen(s, max - 1) : NO_TEXT);

	put(buf, n, &l, sizeof(l));
	if (s != NULL)
		put(buf, n, s, l);
}

/* *text: out, or NULL for NULL */
static int
get_text(const uint8_t *buf, size_t len, size_t *n, char *out, size_t max, const char **text)
{
	uint16_t l;

	if (get(buf, len, n, &l, sizeof(l)) < 0)
		return -EBADMSG;
	*text = NULL;
	if (l == NO_TEXT)
		return 0;
	if (l >= max || get(buf, len, n, out, l) < 0)
		return -EBADMSG;
	out[l] = '\0';
	*text = out;
	return 0;
}

size_t
obs_encode(const struct probe_result *r, uint8_t *buf)
{
	const struct dnscheck_facts *f = r->checks;
	uint8_t flags = (uint8_t)(r->dns.present | r->dns.valid << 1 | r->dns.aa << 2 |
				  r->dns.ra << 3 | r->dns.tc << 4 | (f != NULL) << 5);
	size_t n = 0;

	put(buf, &n, &r->target_index, sizeof(r->target_index));
	put(buf, &n, &r->seq, sizeof(r->seq));
	put(buf, &n, &r->port, sizeof(r->port));
	for (int s = 0; s < PROBE_NSLOTS; s++) {
		uint8_t st = (uint8_t)r->out[s].state, why = (uint8_t)r->out[s].reason;
		put(buf, &n, &st, 1);
		put(buf, &n, &why, 1);
		put(buf, &n, &r->out[s].rtt_us, sizeof(r->out[s].rtt_us));
	}
	put(buf, &n, &flags, 1);
	put(buf, &n, &r->dns.rcode, sizeof(r->dns.rcode));
	put_text(buf, &n, r->dns.error, sizeof(r->dns.error)); /* never NULL */
	if (f != NULL) {
		put(buf, &n, f, sizeof(*f));
		put_text(buf, &n, f->amp_zone, DNS_MAX_TEXT_NAME);
		for (size_t i = 0; i < f->naxfr && i < DNSCHECK_MAX_ZONES; i++)
			put_text(buf, &n, f->axfr[i].zone, DNS_MAX_TEXT_NAME);
	}
	return n;
}

int
obs_decode(const uint8_t *buf, size_t len, const struct net_addr *a, struct obs *o)
{
	struct probe_result *r = &o->rec;
	struct dnscheck_facts *f = &o->facts;
	const char *text;
	uint8_t flags;
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	r->addr = *a;
	if (get(buf, len, &n, &r->target_index, sizeof(r->target_index)) < 0 ||
	    get(buf, len, &n, &r->seq, sizeof(r->seq)) < 0 ||
	    get(buf, len, &n, &r->port, sizeof(r->port)) < 0)
		return -EBADMSG;
	for (int s = 0; s < PROBE_NSLOTS; s++) {
		uint8_t st, why;
		if (get(buf, len, &n, &st, 1) < 0 || get(buf, len, &n, &why, 1) < 0 ||
		    get(buf, len, &n, &r->out[s].rtt_us, sizeof(r->out[s].rtt_us)) < 0 ||
		    st > PROBE_FILTERED || why > PROBE_REASON_ERROR)
			return -EBADMSG;
		r->out[s].state = (enum probe_state)st;
		r->out[s].reason = (enum probe_reason)why;
	}
	if (get(buf, len, &n, &flags, 1) < 0 ||
	    get(buf, len, &n, &r->dns.rcode, sizeof(r->dns.rcode)) < 0 ||
	    get_text(buf, len, &n, r->dns.error, sizeof(r->dns.error), &text) < 0)
		return -EBADMSG;
	r->dns.present = flags & 1;
	r->dns.valid = flags >> 1 & 1;
	r->dns.aa = flags >> 2 & 1;
	r->dns.ra = flags >> 3 & 1;
	r->dns.tc = flags >> 4 & 1;
	if (flags >> 5 & 1) {
		if (get(buf, len, &n, f, sizeof(*f)) < 0 || f->naxfr > DNSCHECK_MAX_ZONES ||
		    get_text(buf, len, &n, o->zone[0], sizeof(o->zone[0]), &f->amp_zone) < 0)
			return -EBADMSG;
		for (size_t i = 0; i < f->naxfr; i++)
			if (get_text(buf, len, &n, o->zone[1 + i], sizeof(o->zone[0]),
				     &f->axfr[i].zone) < 0)
				return -EBADMSG;
		r->checks = f;
	}
	return n == len ? 0 : -EBADMSG;
}
