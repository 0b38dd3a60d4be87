/*
 * history: what `watch53 history` makes of the history rows of state.db (state.h,
 * struct state_hist) — the rows a cycle adds, and per address, protocol and port the
 * intervals it was exposed in a period. Pure: no I/O, no clock.
 */
#ifndef WATCH53_HISTORY_H
#define WATCH53_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/state.h"

/* The type of the row `baseline accept` records for each port it acknowledges: not an
 * alert type (nobody is alerted), but it ends an exposure. This is its one owner. */
#define HISTORY_ACCEPTED "accepted"
#define HISTORY_SOURCE_CLI "cli"

/* The history row of an event. */
void history_from_event(const struct alert_event *ev, struct state_hist *row);

/* Does this row begin an exposure? `exposed`, or `opened` rated high or critical (an
 * opening of a port expected closed). */
bool history_starts_exposure(const struct state_hist *row);
/* Does it end one? `closed`, or an accept. */
bool history_ends_exposure(const struct state_hist *row);

struct history_interval {
	uint64_t start_ns, end_ns;  /* clipped to the period */
	bool open;                  /* still exposed at the end of the period */
};

struct history_exposure {
	char address[46];
	char protocol[4];
	uint16_t port;
	uint64_t exposed_ns;        /* sum of the intervals */
	struct history_interval *iv; /* in time order (malloc'd) */
	size_t niv;
	bool still_exposed;
};

/*
 * The exposure of a period a port at a time, for rows read in port order (the history's
 * index: address, protocol, port, then as recorded) without holding them: each row goes to
 * history_port_add; when the port changes, and at history_port_end, the port finished is
 * handed to emit (its intervals are emit's to keep: set e->iv NULL to take them) unless it
 * was not exposed in the period. Rows and rules as history_exposure says.
 */
struct history_port_acc {
	uint64_t since_ns, end_ns;
	struct history_exposure cur;   /* the port in hand */
	bool have;
};
typedef int (*history_emit_fn)(void *arg, struct history_exposure *e);

void history_port_init(struct history_port_acc *acc, uint64_t since_ns, uint64_t end_ns);
/* 0, -ENOMEM, or what emit returned (< 0). */
int history_port_add(struct history_port_acc *acc, const struct state_hist *row,
		     history_emit_fn emit, void *arg);
int history_port_end(struct history_port_acc *acc, history_emit_fn emit, void *arg);
void history_port_clear(struct history_port_acc *acc);

/*
 * The exposure per address, protocol and port over the period [since_ns, end_ns] from
 * rows in order of recording. Rows before since_ns say only what the period begins in
 * (an exposure begun before it counts from since_ns); rows after end_ns are ignored.
 * An interval begins at a row that starts an exposure of a port not already exposed and
 * ends at the port's next row that ends one, or at end_ns (open). Ports that were never
 * exposed in the period are left out. *out is sorted by address text, protocol, port.
 * 0 or -ENOMEM (then *out is NULL).
 */
int history_exposure(const struct state_hist *rows, size_t n, uint64_t since_ns,
		     uint64_t end_ns, struct history_exposure **out, size_t *nout);
void history_exposure_free(struct history_exposure *x, size_t n);

#endif
