/*
 * capture: the only door to libpcap (and the only file including <pcap.h>). Live captures
 * follow libpcap's capturetest.c: pcap_create, pcap_set_*, pcap_activate (a positive result
 * is a warning, logged), pcap_compile + pcap_setfilter, then pcap_dispatch with a context
 * pointer; capture_breakloop() may be called from a signal handler. A live capture is
 * non-blocking and in immediate mode, so its selectable fd can sit in any event loop
 * (the probe engine's, the daemon's) next to other fds: a dispatch never waits.
 * Offline captures read pcap and pcapng files (libpcap tells them apart).
 *
 * Opening a live capture needs CAP_NET_RAW; once open, the handle keeps working after the
 * process gives its privileges up.
 */
#ifndef WATCH53_CAPTURE_H
#define WATCH53_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probes/packet.h"

#define CAPTURE_SNAPLEN 65535
#define CAPTURE_BUFFER_BYTES (16 << 20) /* kernel ring: a burst of answers must fit */

struct capture;

struct capture_packet {
	uint64_t ts_ns;       /* capture time, wall clock */
	const uint8_t *data;
	size_t caplen;        /* octets captured */
	size_t wirelen;       /* octets on the wire */
};

/* Called once per packet; the data is valid only during the call. */
typedef void (*capture_fn)(void *arg, const struct capture_packet *pkt);

struct capture_live_opts {
	const char *iface;    /* "lo", "eth0", or "any" (every interface, cooked headers) */
	const char *filter;   /* BPF expression (pcap-filter(7)); NULL or "" captures all */
	int snaplen;          /* 0: CAPTURE_SNAPLEN */
	bool promisc;
	bool inbound_only;    /* only packets received by this host (not those it sends) */
	int buffer_bytes;     /* 0: CAPTURE_BUFFER_BYTES */
};

/* A live capture in *out. 0, or a negative errno with a one-line message: -EPERM when it
 * failed for lack of privilege (CAP_NET_RAW), so the caller can say how to grant it. */
int capture_open_live(const struct capture_live_opts *o, struct capture **out, char *err,
		      size_t errlen);
/* A pcap or pcapng file, with an optional filter. NULL with a one-line message naming the
 * file ("not a pcap or pcapng file", "truncated file header", ...). */
struct capture *capture_open_file(const char *path, const char *filter, char *err,
				  size_t errlen);
void capture_close(struct capture *c);
/* Replace the filter of an open capture (a daemon's capture gets each scan's filter; no
 * privilege is needed for this). 0 or -errno with a message. */
int capture_set_filter(struct capture *c, const char *filter, char *err, size_t errlen);

/* The fd to wait on for a live capture (readable when packets wait); -1 for a file. */
int capture_fd(const struct capture *c);
/* The link type of the frames (PKT_LINK_UNKNOWN for one the decoder does not know). */
enum pkt_link capture_link(const struct capture *c);
/* libpcap's name for the link type ("EN10MB", "LINUX_SLL2"), for messages. */
const char *capture_link_name(const struct capture *c);

/*
 * Hand at most `max` packets (max > 0) to fn. Live: never waits; returns the number handed
 * over (0: nothing there now). File: returns 0 at the end of the file.
 * -EINTR after capture_breakloop(), -EIO on an error (for a file: a truncated or corrupt
 * record; the packets before it were delivered) with the reason in capture_error().
 */
int capture_dispatch(struct capture *c, int max, capture_fn fn, void *arg);
/* Async-signal-safe: the running or next capture_dispatch returns -EINTR. */
void capture_breakloop(struct capture *c);
const char *capture_error(const struct capture *c);

/* Kernel counters of a live capture: packets received and dropped (ring full).
 * 0, or -ENOTSUP for a file. */
int capture_stats(struct capture *c, uint64_t *received, uint64_t *dropped);

/* ---- writing capture files (tests make their fixtures with these) ---- */

struct capture_writer;

/* A pcap file for frames of the given link type. NULL with a message. */
struct capture_writer *capture_writer_open(const char *path, enum pkt_link link, int snaplen,
					   char *err, size_t errlen);
/* One frame: caplen octets of data, wirelen on the wire. 0 or -EIO. */
int capture_writer_write(struct capture_writer *w, uint64_t ts_ns, const uint8_t *data,
			 size_t caplen, size_t wirelen);
/* Flush and close. 0 or -EIO. */
int capture_writer_close(struct capture_writer *w);

#endif
