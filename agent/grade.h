/*
 * grade: the severity model of the DNS follow-up checks — which facts are findings, how
 * severe each is, and the one sentence that says why it matters. One model for the result
 * records, the table and the alerts (README "Severity"). Pure.
 *
 *   critical  open-resolver     it resolved the canary for us: anyone can use it to reflect
 *                               and amplify DDoS traffic and to probe or poison its cache
 *             bogus-answer      it resolved the canary to another address than expected:
 *                               a hijacking or filtering resolver (open as well)
 *             axfr-allowed      it hands out a whole zone to anyone who asks
 *   high      amplifier         a reply at least GRADE_AMPLIFIER_X100/100 times the size of
 *                               the query (UDP, EDNS 4096, DO)
 *   medium    version-disclosed version.bind or version.server names the software version
 *   low       identity-disclosed hostname.bind, id.server or NSID names the server
 *             no-tcp            DNS over TCP is not answered (RFC 7766: truncated answers
 *                               and large responses fail)
 *   info      nothing of the above: e.g. an authoritative server answering only its zones
 */
#ifndef WATCH53_GRADE_H
#define WATCH53_GRADE_H

#include <stddef.h>
#include <stdint.h>

#include "alerts/event.h"
#include "probes/dnscheck.h"
#include "probes/probe.h"

#define GRADE_AMPLIFIER_X100 1000 /* factor 10 */

enum grade_finding {
	GRADE_OPEN_RESOLVER = 1u << 0,
	GRADE_BOGUS_ANSWER = 1u << 1,
	GRADE_AXFR_ALLOWED = 1u << 2,
	GRADE_AMPLIFIER = 1u << 3,
	GRADE_VERSION = 1u << 4,
	GRADE_IDENTITY = 1u << 5,
	GRADE_NO_TCP = 1u << 6,
	GRADE_NFINDINGS = 7,
};

struct grade {
	enum alert_severity severity; /* the highest of the findings; info without any */
	unsigned findings;            /* enum grade_finding bits */
};

/* Grade the known facts of one address (facts of checks that are not known count for
 * nothing). f may be NULL: no checks, info. */
void grade_facts(const struct dnscheck_facts *f, struct grade *g);
struct bl_dns; /* agent/baseline.h */
/* The same over the facts the baseline keeps of an address (what stands now, whichever
 * cycle's check found it; checks not in d->checks count for nothing). */
void grade_dns(const struct bl_dns *d, struct grade *g);

/* For one finding bit: "open-resolver", ...; its severity; why it matters (one sentence).
 * NULL / SEV_INFO for anything else. */
const char *grade_finding_name(unsigned finding);
enum alert_severity grade_finding_severity(unsigned finding);
/* The protocol of the check that finds it (tcp: axfr-allowed, no-tcp; udp: the others,
 * recursion being asked over UDP first). PROBE_SLOT_UDP for anything else. */
enum probe_slot grade_finding_slot(unsigned finding);
const char *grade_finding_why(unsigned finding);

/* The findings as "open-resolver,axfr-allowed" into buf ("" without any). Returns buf. */
const char *grade_findings_text(unsigned findings, char *buf, size_t len);

#endif
