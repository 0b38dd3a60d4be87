/*
 * fuzz_passive: libFuzzer target for the frame decoder and the passive responder table —
 * what `watch53 sniff` feeds hostile traffic and files into. The input is a sequence of
 * frames, each: one octet of link type (mod the enum), two octets of length, the frame; all
 * go into one table, so the stateful parts (handshakes awaiting their ACK, responders seen
 * again) are reached too. Every frame is also decoded alone and its fields read back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probes/packet.h"
#include "probes/passive.h"

static volatile unsigned sink;

static void
consume(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		sink += b[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct passive_opts po = { .max_responders = 64 };
	struct passive *pv = passive_new(&po);
	struct passive_stats st;
	size_t off = 0;
	uint64_t ts = 0;

	if (pv == NULL)
		return 0;
	while (off + 3 <= size) {
		enum pkt_link link = (enum pkt_link)(data[off] % (PKT_LINK_IPV6 + 1));
		size_t len = ((size_t)data[off + 1] << 8) | data[off + 2];
		struct pkt_info pi;
		uint8_t *copy;

		off += 3;
		if (len > size - off)
			len = size - off;
		/* a copy of exactly len octets: reading past it is an ASan report */
		copy = len ? malloc(len) : NULL;
		if (len && copy == NULL)
			break;
		if (len)
			memcpy(copy, data + off, len);
		if (pkt_decode(link, copy, len, &pi) == PKT_OK) {
			consume(&pi.src, sizeof(pi.src));
			consume(&pi.quote, sizeof(pi.quote));
			if (pi.payload_len)
				consume(pi.payload, pi.payload_len);
		}
		(void)passive_packet(pv, link, ts++, copy, len);
		free(copy);
		off += len;
	}
	for (size_t i = 0; i < passive_count(pv); i++)
		consume(passive_get(pv, i), sizeof(struct passive_responder));
	passive_get_stats(pv, &st);
	consume(&st, sizeof(st));
	passive_free(pv);
	return 0;
}
