/*
 * outbox: the durable spool between raising an event and delivering it. One file per event
 * per sink, <dir>/<sink>/<id>.json, written atomically and fsync'd before the state that
 * raised it is committed: a crash can repeat an event (same id, same file), never lose one.
 */
#ifndef WATCH53_OUTBOX_H
#define WATCH53_OUTBOX_H

#include <stddef.h>

#include "alerts/event.h"

/* Spool one event for one sink. Creates <dir>/<sink> (0700) as needed. 0 or -errno with
 * a one-line message. */
int outbox_put(const char *dir, const char *sink, const struct alert_event *ev, char *err,
	       size_t errlen);

/* Events waiting in <dir> across all sinks (for metrics and status). -errno on failure;
 * a missing dir counts 0. */
long outbox_count(const char *dir);

#endif
