/* sniff: the sniffer — a capture feeding the responder table, handed to the state machine;
 * `watch53 sniff` (cmd_sniff.c) and the daemon's loop run it. */
#define _GNU_SOURCE
#include "agent/sniff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/output.h"
#include "common/log.h"
#include "common/util.h"
#include "probes/capture.h"
#include "probes/passive.h"

struct sniffer {
	struct capture *cap;
	struct passive *pv;
	bool live;
	char source[256];
	uint16_t port;
	uint64_t started_wall, started_mono;
	/* per responder (passive.c's numbering): protocols handed to the state machine, and
	 * whether it is inside the targets (-1: not known yet) */
	unsigned *applied;
	signed char *in_targets;
	size_t ntrack;
	char file_error[256];
};

static int
track_grow(struct sniffer *s)
{
	size_t n = passive_count(s->pv);
	unsigned *a;
	signed char *t;

	if (n <= s->ntrack)
		return 0;
	a = realloc(s->applied, n * sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	s->applied = a;
	t = realloc(s->in_targets, n * sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	s->in_targets = t;
	for (size_t i = s->ntrack; i < n; i++) {
		s->applied[i] = 0;
		s->in_targets[i] = -1;
	}
	s->ntrack = n;
	return 0;
}

int
sniffer_open(const struct sniffer_opts *o, struct sniffer **out, char *err, size_t errlen)
{
	struct sniffer *s = calloc(1, sizeof(*s));
	struct passive_opts po = { .port = o->port };
	char filter[1024];
	unsigned port = o->port ? o->port : 53;
	int rc = -ENOMEM;

	*out = NULL;
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->port = (uint16_t)port;
	s->started_wall = util_wall_ns();
	s->started_mono = util_now_ns();
	s->pv = passive_new(&po);
	if (s->pv == NULL) {
		snprintf(err, errlen, "out of memory");
		goto bad;
	}
	if (o->iface != NULL) {
		struct capture_live_opts co = { .iface = o->iface, .promisc = o->promisc };

		/* the kernel hands over only DNS traffic; both directions: a handshake is
		 * proved by the client's ACK */
		if (o->filter != NULL && o->filter[0] != '\0')
			snprintf(filter, sizeof(filter), "(((udp or tcp) and port %u) or (vlan and "
				 "(udp or tcp) and port %u)) and (%s)", port, port, o->filter);
		else
			snprintf(filter, sizeof(filter), "((udp or tcp) and port %u) or (vlan and "
				 "(udp or tcp) and port %u)", port, port);
		co.filter = filter;
		s->live = true;
		snprintf(s->source, sizeof(s->source), "%s", o->iface);
		rc = capture_open_live(&co, &s->cap, err, errlen);
	} else {
		snprintf(s->source, sizeof(s->source), "%s", o->file);
		s->cap = capture_open_file(o->file, o->filter, err, errlen);
		rc = s->cap != NULL ? 0 : -EIO;
	}
	if (rc < 0)
		goto bad;
	if (capture_link(s->cap) == PKT_LINK_UNKNOWN) {
		snprintf(err, errlen, "%s: link type %s is not supported (Ethernet, Linux cooked, "
			 "loopback and raw IP are)", s->source, capture_link_name(s->cap));
		rc = -EPROTONOSUPPORT;
		goto bad;
	}
	*out = s;
	return 0;
bad:
	sniffer_free(s);
	return rc;
}

void
sniffer_free(struct sniffer *s)
{
	if (s == NULL)
		return;
	capture_close(s->cap);
	passive_free(s->pv);
	free(s->applied);
	free(s->in_targets);
	free(s);
}

int sniffer_fd(const struct sniffer *s) { return capture_fd(s->cap); }
void sniffer_breakloop(struct sniffer *s) { capture_breakloop(s->cap); }
bool sniffer_live(const struct sniffer *s) { return s->live; }

uint64_t
sniffer_packets(const struct sniffer *s)
{
	struct passive_stats st;

	passive_get_stats(s->pv, &st);
	return st.packets;
}

static void
on_packet(void *arg, const struct capture_packet *p)
{
	struct sniffer *s = arg;

	(void)passive_packet(s->pv, capture_link(s->cap), p->ts_ns, p->data, p->caplen);
}

int
sniffer_dispatch(struct sniffer *s, int max, char *err, size_t errlen)
{
	int n = capture_dispatch(s->cap, max, on_packet, s);

	if (n == -EIO) {
		snprintf(s->file_error, sizeof(s->file_error), "%s", capture_error(s->cap));
		snprintf(err, errlen, "%s: %s", s->source, capture_error(s->cap));
	}
	return n;
}

bool
sniffer_pending(const struct sniffer *s)
{
	size_t n = passive_count(s->pv);

	for (size_t i = 0; i < n; i++) {
		unsigned done = i < s->ntrack ? s->applied[i] : 0;

		if (passive_get(s->pv, i)->protocols & ~done)
			return true;
	}
	return false;
}

int
sniffer_apply(struct sniffer *s, const struct config *cfg, const struct check_opts *co,
	      struct check_result *res, char *err, size_t errlen)
{
	struct check_passive_obs *obs;
	size_t *which, n = 0, total;
	int rc;

	memset(res, 0, sizeof(*res));
	if (track_grow(s) < 0)
		return -ENOMEM;
	total = passive_count(s->pv);
	obs = calloc(total ? total : 1, sizeof(*obs));
	which = calloc(total ? total : 1, sizeof(*which));
	if (obs == NULL || which == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < total; i++) {
		const struct passive_responder *r = passive_get(s->pv, i);

		if (!(r->protocols & ~s->applied[i]))
			continue;
		obs[n].addr = r->addr;
		obs[n].port = r->port;
		obs[n].proved[PROBE_SLOT_UDP] = (r->protocols & PASSIVE_UDP) != 0;
		obs[n].proved[PROBE_SLOT_TCP] = (r->protocols & PASSIVE_TCP) != 0;
		obs[n].first_seen_ns = r->first_seen_ns;
		which[n++] = i;
	}
	if (n == 0) {
		rc = 0;
		goto out;
	}
	rc = check_passive_apply(cfg, co, obs, n, res, err, errlen);
	if (rc < 0)
		goto out;
	for (size_t k = 0; k < n; k++) {
		size_t i = which[k];

		s->applied[i] = passive_get(s->pv, i)->protocols;
		s->in_targets[i] = obs[k].in_targets ? 1 : 0;
	}
out:
	free(obs);
	free(which);
	return rc;
}

int
sniffer_records(struct sniffer *s, const struct config *cfg, struct probe_result **recs,
		struct output_passive **pas, size_t *n, uint64_t *unknown)
{
	size_t total, k = 0;

	*recs = NULL;
	*pas = NULL;
	*n = 0;
	*unknown = 0;
	if (track_grow(s) < 0)
		return -ENOMEM;
	total = passive_count(s->pv);
	*recs = calloc(total ? total : 1, sizeof(**recs));
	*pas = calloc(total ? total : 1, sizeof(**pas));
	if (*recs == NULL || *pas == NULL) {
		free(*recs);
		free(*pas);
		*recs = NULL;
		*pas = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; i < total; i++) {
		const struct passive_responder *r = passive_get(s->pv, i);
		struct probe_result *pr = &(*recs)[k];
		struct output_passive *op = &(*pas)[k];

		if (cfg != NULL && s->in_targets[i] == 0 && !cfg->passive.report_unknown) {
			(*unknown)++;
			continue;
		}
		pr->addr = r->addr;
		pr->port = r->port;
		pr->seq = k;
		pr->target_index = (uint32_t)k;
		for (int sl = 0; sl < PROBE_NSLOTS; sl++)
			pr->out[sl].rtt_us = -1;
		if (r->protocols & PASSIVE_UDP) {
			pr->out[PROBE_SLOT_UDP].state = PROBE_OPEN;
			pr->out[PROBE_SLOT_UDP].reason = PROBE_REASON_DNS_REPLY;
		}
		if (r->protocols & PASSIVE_TCP) {
			pr->out[PROBE_SLOT_TCP].state = PROBE_OPEN;
			pr->out[PROBE_SLOT_TCP].reason = r->tcp_handshake ? PROBE_REASON_SYN_ACK
									  : PROBE_REASON_DNS_REPLY;
		}
		if (r->has_facts) {
			pr->dns.present = true;
			pr->dns.valid = true;
			pr->dns.rcode = r->rcode;
			pr->dns.aa = r->aa;
			pr->dns.ra = r->ra;
			pr->dns.tc = r->tc;
		}
		op->first_seen_ns = r->first_seen_ns;
		op->last_seen_ns = r->last_seen_ns;
		op->packets = r->packets;
		op->responses = r->responses;
		op->ra_responses = r->ra_responses;
		op->udp = (r->protocols & PASSIVE_UDP) != 0;
		op->tcp = (r->protocols & PASSIVE_TCP) != 0;
		op->in_targets = cfg == NULL ? -1 : s->in_targets[i];
		k++;
	}
	*n = k;
	return 0;
}

void
sniffer_summary(struct sniffer *s, struct output_sniff *out)
{
	struct passive_stats st;
	uint64_t rcv, drop;

	passive_get_stats(s->pv, &st);
	memset(out, 0, sizeof(*out));
	out->source = s->source;
	out->live = s->live;
	out->started_wall_ns = s->started_wall;
	out->elapsed_ns = util_now_ns() - s->started_mono;
	out->packets = st.packets;
	out->decoded = st.decoded;
	out->truncated = st.truncated;
	out->malformed = st.malformed;
	out->unsupported = st.unsupported;
	out->fragments = st.fragments;
	out->dns_malformed = st.dns_malformed;
	out->table_full = st.table_full;
	if (s->live && capture_stats(s->cap, &rcv, &drop) == 0)
		out->kernel_dropped = drop;
	out->file_error = s->file_error[0] ? s->file_error : NULL;
}
