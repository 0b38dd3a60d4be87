/*
 * state_row: one baseline entry as the bytes of its row in state.db (schema version 5):
 * the key (the address) and a packed body. Pure: no I/O, no SQLite (state_db.c stores the
 * bytes). A row of an address that is closed or silent on both protocols takes some 30
 * bytes: flags and enums in a byte each, counts, cycles and times as varints, times as
 * differences from a reference (meta's) or from the port's first sighting, every value
 * that moves with the cycle counter stored against it so a quiet cycle leaves the row as
 * it is (see the body layout in state_row.c).
 */
#ifndef WATCH53_STATE_ROW_H
#define WATCH53_STATE_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "agent/baseline.h"
#include "common/netaddr.h"

/* What a body's relative values are relative to: the meta row of the same save. */
struct state_row_ref {
	uint64_t cycles;          /* last_cycle equal to it is not stored */
	uint64_t seen_ns;         /* a last_seen equal to it is not stored */
	uint64_t first_ns;        /* first_seen is stored as the difference from it */
};

#define STATE_ROW_KEY_MAX 17     /* 4 or 6, then the 4 or 16 bytes: sorts as net_addr_cmp */
#define STATE_ROW_BODY_MAX 640   /* every field at its largest fits */

/* The key of an address; returns its length (5 or 17). */
size_t state_row_key(const struct net_addr *a, uint8_t key[STATE_ROW_KEY_MAX]);
/* The address of a key: 0, or -EBADMSG when it is not 4 or 6 and then 4 or 16 bytes. */
int state_row_key_parse(const void *key, size_t len, struct net_addr *a);

/* The body of e, its label given as label_id (the caller's numbering; e->target is not
 * read). Returns its length (at most STATE_ROW_BODY_MAX). Counts above STATE_MAX_STREAK
 * are stored saturated, as everywhere else. */
size_t state_row_encode(const struct bl_entry *e, uint64_t label_id,
			const struct state_row_ref *ref, uint8_t body[STATE_ROW_BODY_MAX]);

/* The flapping bits that a nonzero change code (the body's, and version 4's column: see
 * state_row.c) stands for at last_cycle: 0, or -EBADMSG with *why ("not the bits of a
 * change ..."). */
int state_row_change_bits(uint64_t code, uint64_t last_cycle, uint16_t *bits,
			  const char **why);

/* Fill e (zeroed by the caller; its address and target are left alone) and *label_id from
 * a body: 0, or -EBADMSG with what is wrong in reason ("tcp: ...", "dns: ..."): a body
 * cut short, a byte too many, a value out of its range, a flag that is not ours. */
int state_row_decode(const void *body, size_t len, const struct state_row_ref *ref,
		     struct bl_entry *e, uint64_t *label_id, char *reason, size_t reasonlen);

#endif
