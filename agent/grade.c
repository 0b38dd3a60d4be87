/* grade: the severity model of the DNS follow-up checks (see grade.h). */
#include "agent/grade.h"

#include <stdio.h>
#include <string.h>

#include "agent/baseline.h"

static const struct {
	unsigned bit;
	const char *name;
	enum alert_severity severity;
	enum probe_slot slot; /* the protocol of the check that finds it */
	const char *why;
} findings[GRADE_NFINDINGS] = {
	{ GRADE_OPEN_RESOLVER, "open-resolver", SEV_CRITICAL, PROBE_SLOT_UDP,
	  "It resolves names for anyone who can reach it: open resolvers are used to reflect and "
	  "amplify DDoS traffic, and their caches can be probed and poisoned." },
	{ GRADE_BOGUS_ANSWER, "bogus-answer", SEV_CRITICAL, PROBE_SLOT_UDP,
	  "It answered the canary with another address than expected: a hijacking or filtering "
	  "resolver sends its clients somewhere else." },
	{ GRADE_AXFR_ALLOWED, "axfr-allowed", SEV_CRITICAL, PROBE_SLOT_TCP,
	  "It hands out whole zones by zone transfer (AXFR) to anyone: every host name, address "
	  "and internal detail in them is public." },
	{ GRADE_AMPLIFIER, "amplifier", SEV_HIGH, PROBE_SLOT_UDP,
	  "Its answers are at least ten times the size of the question: attackers use such "
	  "servers to amplify reflected DDoS traffic with spoofed queries." },
	{ GRADE_VERSION, "version-disclosed", SEV_MEDIUM, PROBE_SLOT_UDP,
	  "It tells anyone its software version, so attackers can pick exploits for exactly "
	  "that version." },
	{ GRADE_IDENTITY, "identity-disclosed", SEV_LOW, PROBE_SLOT_UDP,
	  "It tells anyone its host name or server id, which maps the infrastructure behind an "
	  "address for an attacker." },
	{ GRADE_NO_TCP, "no-tcp", SEV_LOW, PROBE_SLOT_TCP,
	  "It does not answer DNS over TCP, which RFC 7766 requires: large and truncated answers "
	  "fail for its clients." },
};

static int
find(unsigned bit)
{
	for (int i = 0; i < GRADE_NFINDINGS; i++)
		if (findings[i].bit == bit)
			return i;
	return -1;
}

const char *
grade_finding_name(unsigned finding)
{
	int i = find(finding);

	return i < 0 ? NULL : findings[i].name;
}

enum alert_severity
grade_finding_severity(unsigned finding)
{
	int i = find(finding);

	return i < 0 ? SEV_INFO : findings[i].severity;
}

enum probe_slot
grade_finding_slot(unsigned finding)
{
	int i = find(finding);

	return i < 0 ? PROBE_SLOT_UDP : findings[i].slot;
}

const char *
grade_finding_why(unsigned finding)
{
	int i = find(finding);

	return i < 0 ? NULL : findings[i].why;
}

const char *
grade_findings_text(unsigned set, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (int i = 0; i < GRADE_NFINDINGS; i++) {
		int w;

		if (!(set & findings[i].bit))
			continue;
		w = snprintf(buf + off, len - off, "%s%s", off ? "," : "", findings[i].name);
		if (w < 0 || (size_t)w >= len - off) {
			buf[off] = '\0'; /* cut at a whole name: what fitted stays */
			break;
		}
		off += (size_t)w;
	}
	return buf;
}

static void
grade_severity(struct grade *g)
{
	g->severity = SEV_INFO;
	for (int i = 0; i < GRADE_NFINDINGS; i++)
		if ((g->findings & findings[i].bit) && findings[i].severity > g->severity)
			g->severity = findings[i].severity;
}

void
grade_dns(const struct bl_dns *d, struct grade *g)
{
	g->findings = 0;
	/* the same rules as grade_facts, over what the baseline keeps of them (baseline.c:
	 * baseline_dns_from_checks): identity and axfr as flags, amplification as x100 */
	if ((d->checks & DNSCHECK_RECURSION) && d->recursion)
		g->findings |= GRADE_OPEN_RESOLVER;
	if ((d->checks & DNSCHECK_RECURSION) && d->bogus_known && d->bogus)
		g->findings |= GRADE_BOGUS_ANSWER;
	if ((d->checks & DNSCHECK_AXFR) && d->axfr)
		g->findings |= GRADE_AXFR_ALLOWED;
	if ((d->checks & DNSCHECK_AMPLIFICATION) && d->amplification >= GRADE_AMPLIFIER_X100)
		g->findings |= GRADE_AMPLIFIER;
	if ((d->checks & DNSCHECK_VERSION) && d->version[0] != '\0')
		g->findings |= GRADE_VERSION;
	if ((d->checks & DNSCHECK_VERSION) && d->identity)
		g->findings |= GRADE_IDENTITY;
	if ((d->checks & DNSCHECK_TCP_DNS) && !d->tcp_dns)
		g->findings |= GRADE_NO_TCP;
	grade_severity(g);
}

void
grade_facts(const struct dnscheck_facts *f, struct grade *g)
{
	bool axfr_known, axfr;

	g->severity = SEV_INFO;
	g->findings = 0;
	if (f == NULL)
		return;
	if ((f->known & DNSCHECK_RECURSION) && f->recursion)
		g->findings |= GRADE_OPEN_RESOLVER;
	if ((f->known & DNSCHECK_RECURSION) && f->bogus_known && f->bogus)
		g->findings |= GRADE_BOGUS_ANSWER;
	axfr = dnscheck_axfr_any(f, &axfr_known);
	if ((f->known & DNSCHECK_AXFR) && axfr_known && axfr)
		g->findings |= GRADE_AXFR_ALLOWED;
	if ((f->known & DNSCHECK_AMPLIFICATION) && dnscheck_amp_x100(f) >= GRADE_AMPLIFIER_X100)
		g->findings |= GRADE_AMPLIFIER;
	if ((f->known & DNSCHECK_VERSION) && f->version[0] != '\0')
		g->findings |= GRADE_VERSION;
	if ((f->known & DNSCHECK_VERSION) && (f->hostname[0] != '\0' || f->nsid[0] != '\0'))
		g->findings |= GRADE_IDENTITY;
	if ((f->known & DNSCHECK_TCP_DNS) && !f->tcp_dns)
		g->findings |= GRADE_NO_TCP;
	grade_severity(g);
}
