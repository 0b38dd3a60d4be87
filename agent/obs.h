/*
 * obs: one address's observation of a cycle (its probe record and, where they ran, the
 * facts of the DNS checks) as bytes and back, so a cycle can keep its observations in a
 * scratch table instead of memory (state_pass_stage). The bytes live only as long as the
 * cycle, in the process that wrote them: the layout is this build's, never stored for
 * another. The address is the row's key, not part of the bytes.
 */
#ifndef WATCH53_OBS_H
#define WATCH53_OBS_H

#include <stddef.h>
#include <stdint.h>

#include "probes/dnscheck.h"
#include "probes/probe.h"

/* A decoded observation: rec.checks points at facts when the checks ran. */
struct obs {
	struct probe_result rec;
	struct dnscheck_facts facts;
	/* the zone names the facts point to (amp_zone, then axfr[i].zone) */
	char zone[1 + DNSCHECK_MAX_ZONES][DNS_MAX_TEXT_NAME];
};

/* Bytes an encoding can take at most. */
#define OBS_MAX (64 + sizeof(struct dnscheck_facts) + (1 + DNSCHECK_MAX_ZONES) * DNS_MAX_TEXT_NAME)

/* Encode r (and *r->checks) into buf (OBS_MAX bytes); the length. */
size_t obs_encode(const struct probe_result *r, uint8_t *buf);
/* Decode what obs_encode wrote, with the address a (the row's key). 0, or -EBADMSG for bytes
 * that are not an encoding of this build. */
int obs_decode(const uint8_t *buf, size_t len, const struct net_addr *a, struct obs *o);

#endif
