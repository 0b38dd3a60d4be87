/* capture: libpcap wrapped — live and file captures, dispatch with a context, pcap writing. */
#include "probes/capture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "common/log.h"

/* libpcap's own buffers stay private: callers see a struct capture_packet. */
struct capture {
	pcap_t *p;
	bool live;
	int fd;
	enum pkt_link link;
	bool nano;          /* time stamps are in ns (else us) */
	capture_fn fn;
	void *arg;
	char errbuf[PCAP_ERRBUF_SIZE];
};

struct capture_writer {
	pcap_t *dead;
	pcap_dumper_t *d;
};

static const struct {
	int dlt;
	enum pkt_link link;
} dlt_map[] = {
	{ DLT_EN10MB, PKT_LINK_ETHERNET },
	{ DLT_LINUX_SLL, PKT_LINK_SLL },
#ifdef DLT_LINUX_SLL2
	{ DLT_LINUX_SLL2, PKT_LINK_SLL2 },
#endif
	{ DLT_NULL, PKT_LINK_NULL },
	{ DLT_LOOP, PKT_LINK_LOOP },
	{ DLT_RAW, PKT_LINK_RAW },
#ifdef DLT_IPV4
	{ DLT_IPV4, PKT_LINK_IPV4 },
#endif
#ifdef DLT_IPV6
	{ DLT_IPV6, PKT_LINK_IPV6 },
#endif
};

static enum pkt_link
link_of(int dlt)
{
	for (size_t i = 0; i < sizeof(dlt_map) / sizeof(dlt_map[0]); i++)
		if (dlt_map[i].dlt == dlt)
			return dlt_map[i].link;
	return PKT_LINK_UNKNOWN;
}

static int
dlt_of(enum pkt_link link)
{
	for (size_t i = 0; i < sizeof(dlt_map) / sizeof(dlt_map[0]); i++)
		if (dlt_map[i].link == link)
			return dlt_map[i].dlt;
	return -1;
}

/* libpcap messages may end in a newline or carry odd bytes from a file: one clean line */
static void
one_line(char *s)
{
	for (char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	for (size_t n = strlen(s); n > 0 && s[n - 1] == ' '; n--)
		s[n - 1] = '\0';
}

static int
set_filter(struct capture *c, const char *filter, char *err, size_t errlen)
{
	struct bpf_program prog;

	if (filter == NULL || filter[0] == '\0')
		return 0;
	if (pcap_compile(c->p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) == -1) {
		snprintf(c->errbuf, sizeof(c->errbuf), "%s", pcap_geterr(c->p));
		one_line(c->errbuf);
		snprintf(err, errlen, "filter '%s': %s", filter, c->errbuf);
		return -EINVAL;
	}
	if (pcap_setfilter(c->p, &prog) == -1) {
		snprintf(c->errbuf, sizeof(c->errbuf), "%s", pcap_geterr(c->p));
		one_line(c->errbuf);
		snprintf(err, errlen, "setting the filter: %s", c->errbuf);
		pcap_freecode(&prog);
		return -EIO;
	}
	pcap_freecode(&prog);
	return 0;
}

int
capture_open_live(const struct capture_live_opts *o, struct capture **out, char *err,
		  size_t errlen)
{
	struct capture *c = calloc(1, sizeof(*c));
	int rc, ret = -EIO;

	*out = NULL;
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->live = true;
	c->fd = -1;
	c->p = pcap_create(o->iface, c->errbuf);
	if (c->p == NULL) {
		one_line(c->errbuf);
		snprintf(err, errlen, "capture on %s: %s", o->iface, c->errbuf);
		goto bad;
	}
	pcap_set_snaplen(c->p, o->snaplen > 0 ? o->snaplen : CAPTURE_SNAPLEN);
	pcap_set_promisc(c->p, o->promisc ? 1 : 0);
	/* immediate mode: every packet is readable at once (no TPACKET_V3 block latency), so
	 * an answer is never judged late because it sat in a half-full block */
	pcap_set_immediate_mode(c->p, 1);
	pcap_set_buffer_size(c->p, o->buffer_bytes > 0 ? o->buffer_bytes : CAPTURE_BUFFER_BYTES);
	pcap_set_tstamp_precision(c->p, PCAP_TSTAMP_PRECISION_NANO);
	rc = pcap_activate(c->p);
	if (rc < 0) {
		if (rc == PCAP_ERROR_PERM_DENIED)
			ret = -EPERM;
		snprintf(c->errbuf, sizeof(c->errbuf), "%s", pcap_geterr(c->p));
		one_line(c->errbuf);
		snprintf(err, errlen, "capture on %s: %s%s%s", o->iface, pcap_statustostr(rc),
			 c->errbuf[0] ? ": " : "", c->errbuf);
		goto bad;
	}
	if (rc > 0) /* a warning: the capture runs, but people should know */
		log_warnx("capture on %s: %s: %s", o->iface, pcap_statustostr(rc), pcap_geterr(c->p));
	c->nano = pcap_get_tstamp_precision(c->p) == PCAP_TSTAMP_PRECISION_NANO;
	if (o->inbound_only && pcap_setdirection(c->p, PCAP_D_IN) == -1)
		log_warnx("capture on %s: cannot limit it to inbound packets: %s", o->iface,
			  pcap_geterr(c->p));
	if (pcap_setnonblock(c->p, 1, c->errbuf) == -1) {
		one_line(c->errbuf);
		snprintf(err, errlen, "capture on %s: %s", o->iface, c->errbuf);
		goto bad;
	}
	c->fd = pcap_get_selectable_fd(c->p);
	if (c->fd < 0) {
		snprintf(err, errlen, "capture on %s: no selectable fd", o->iface);
		goto bad;
	}
	c->link = link_of(pcap_datalink(c->p));
	if (set_filter(c, o->filter, err, errlen) < 0)
		goto bad;
	*out = c;
	return 0;
bad:
	capture_close(c);
	return ret;
}

struct capture *
capture_open_file(const char *path, const char *filter, char *err, size_t errlen)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = -1;
	c->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO,
							c->errbuf);
	if (c->p == NULL) {
		one_line(c->errbuf);
		/* libpcap's own words for the common cases are cryptic */
		if (strstr(c->errbuf, "unknown file format") != NULL)
			snprintf(err, errlen, "%s: not a pcap or pcapng file", path);
		else if (strstr(c->errbuf, "only got 0") != NULL)
			snprintf(err, errlen, "%s: empty file", path);
		else if (strstr(c->errbuf, "truncated") != NULL)
			snprintf(err, errlen, "%s: truncated file header", path);
		else if (strncmp(c->errbuf, path, strlen(path)) == 0)
			snprintf(err, errlen, "%s", c->errbuf); /* it names the file already */
		else
			snprintf(err, errlen, "%s: %s", path, c->errbuf);
		goto bad;
	}
	c->nano = true;
	c->link = link_of(pcap_datalink(c->p));
	if (set_filter(c, filter, err, errlen) < 0)
		goto bad;
	return c;
bad:
	capture_close(c);
	return NULL;
}

int
capture_set_filter(struct capture *c, const char *filter, char *err, size_t errlen)
{
	return set_filter(c, filter, err, errlen);
}

void
capture_close(struct capture *c)
{
	if (c == NULL)
		return;
	if (c->p != NULL)
		pcap_close(c->p);
	free(c);
}

int capture_fd(const struct capture *c) { return c->fd; }
enum pkt_link capture_link(const struct capture *c) { return c->link; }

const char *
capture_link_name(const struct capture *c)
{
	const char *n = pcap_datalink_val_to_name(pcap_datalink(c->p));

	return n != NULL ? n : "unknown";
}

const char *capture_error(const struct capture *c) { return c->errbuf; }

static void
on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct capture *c = (struct capture *)user;
	struct capture_packet pkt;
	uint64_t frac = (uint64_t)h->ts.tv_usec;

	pkt.ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (c->nano ? frac : frac * 1000);
	pkt.data = bytes;
	pkt.caplen = h->caplen;
	pkt.wirelen = h->len;
	c->fn(c->arg, &pkt);
}

int
capture_dispatch(struct capture *c, int max, capture_fn fn, void *arg)
{
	int n;

	c->fn = fn;
	c->arg = arg;
	n = pcap_dispatch(c->p, max > 0 ? max : 1, on_packet, (u_char *)c);
	if (n >= 0)
		return n;
	if (n == PCAP_ERROR_BREAK)
		return -EINTR;
	snprintf(c->errbuf, sizeof(c->errbuf), "%s", pcap_geterr(c->p));
	one_line(c->errbuf);
	return -EIO;
}

void capture_breakloop(struct capture *c) { pcap_breakloop(c->p); }

int
capture_stats(struct capture *c, uint64_t *received, uint64_t *dropped)
{
	struct pcap_stat st;

	if (!c->live || pcap_stats(c->p, &st) == -1)
		return -ENOTSUP;
	*received = st.ps_recv;
	*dropped = st.ps_drop;
	return 0;
}

/* ---- writing ---- */

struct capture_writer *
capture_writer_open(const char *path, enum pkt_link link, int snaplen, char *err,
		    size_t errlen)
{
	struct capture_writer *w = calloc(1, sizeof(*w));
	int dlt = dlt_of(link);

	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (dlt < 0) {
		snprintf(err, errlen, "%s: no pcap link type for this link", path);
		goto bad;
	}
	w->dead = pcap_open_dead_with_tstamp_precision(dlt, snaplen > 0 ? snaplen
									 : CAPTURE_SNAPLEN,
						       PCAP_TSTAMP_PRECISION_NANO);
	if (w->dead == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto bad;
	}
	w->d = pcap_dump_open(w->dead, path);
	if (w->d == NULL) {
		snprintf(err, errlen, "%s: %s", path, pcap_geterr(w->dead));
		goto bad;
	}
	return w;
bad:
	if (w->dead != NULL)
		pcap_close(w->dead);
	free(w);
	return NULL;
}

int
capture_writer_write(struct capture_writer *w, uint64_t ts_ns, const uint8_t *data,
		     size_t caplen, size_t wirelen)
{
	struct pcap_pkthdr h;

	memset(&h, 0, sizeof(h));
	h.ts.tv_sec = (time_t)(ts_ns / 1000000000ull);
	h.ts.tv_usec = (suseconds_t)(ts_ns % 1000000000ull); /* ns: the file says so */
	h.caplen = (bpf_u_int32)caplen;
	h.len = (bpf_u_int32)wirelen;
	pcap_dump((u_char *)w->d, &h, data);
	return ferror(pcap_dump_file(w->d)) ? -EIO : 0;
}

int
capture_writer_close(struct capture_writer *w)
{
	int rc = 0;

	if (w == NULL)
		return 0;
	if (pcap_dump_flush(w->d) == -1)
		rc = -EIO;
	pcap_dump_close(w->d);
	pcap_close(w->dead);
	free(w);
	return rc;
}
