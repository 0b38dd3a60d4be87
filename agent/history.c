/* history: event → history row, and the exposure intervals of a period (pure). */
#include "agent/history.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
history_from_event(const struct alert_event *ev, struct state_hist *row)
{
	memset(row, 0, sizeof(*row));
	row->time_ns = ev->time_ns;
	snprintf(row->type, sizeof(row->type), "%s", alert_type_name(ev->type));
	snprintf(row->severity, sizeof(row->severity), "%s", alert_severity_name(ev->severity));
	snprintf(row->address, sizeof(row->address), "%s", ev->address);
	snprintf(row->protocol, sizeof(row->protocol), "%s", ev->protocol);
	row->port = ev->port;
	snprintf(row->summary, sizeof(row->summary), "%s", ev->summary);
	snprintf(row->source, sizeof(row->source), "%s", ev->source);
	snprintf(row->id, sizeof(row->id), "%s", ev->id);
}

bool
history_starts_exposure(const struct state_hist *row)
{
	enum alert_severity sev;

	if (strcmp(row->type, alert_type_name(ALERT_EXPOSED)) == 0)
		return true;
	return strcmp(row->type, alert_type_name(ALERT_OPENED)) == 0 &&
	       alert_severity_parse(row->severity, &sev) == 0 && sev >= SEV_HIGH;
}

bool
history_ends_exposure(const struct state_hist *row)
{
	return strcmp(row->type, alert_type_name(ALERT_CLOSED)) == 0 ||
	       strcmp(row->type, HISTORY_ACCEPTED) == 0;
}

static int
port_cmp(const struct history_exposure *a, const char *address, const char *protocol,
	 uint16_t port)
{
	int c = strcmp(a->address, address);
	if (c == 0)
		c = strcmp(a->protocol, protocol);
	if (c == 0)
		c = (a->port > port) - (a->port < port);
	return c;
}

static int
exposure_cmp(const void *pa, const void *pb)
{
	const struct history_exposure *b = pb;
	return port_cmp(pa, b->address, b->protocol, b->port);
}

/* The port's record (linear: a period's exposed ports are few; the rows are many). */
static struct history_exposure *
find_port(struct history_exposure **x, size_t *n, size_t *cap, const struct state_hist *r,
	  bool create)
{
	struct history_exposure *e;

	for (size_t i = 0; i < *n; i++)
		if (port_cmp(&(*x)[i], r->address, r->protocol, r->port) == 0)
			return &(*x)[i];
	if (!create)
		return NULL;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct history_exposure *g = realloc(*x, nc * sizeof(*g));
		if (g == NULL)
			return NULL;
		*x = g;
		*cap = nc;
	}
	e = &(*x)[(*n)++];
	memset(e, 0, sizeof(*e));
	snprintf(e->address, sizeof(e->address), "%s", r->address);
	snprintf(e->protocol, sizeof(e->protocol), "%s", r->protocol);
	e->port = r->port;
	return e;
}

static int
add_interval(struct history_exposure *e, uint64_t start)
{
	struct history_interval *g = realloc(e->iv, (e->niv + 1) * sizeof(*g));

	if (g == NULL)
		return -ENOMEM;
	e->iv = g;
	e->iv[e->niv++] = (struct history_interval){ start, 0, true };
	e->still_exposed = true;
	return 0;
}

int
history_exposure(const struct state_hist *rows, size_t n, uint64_t since_ns,
		 uint64_t end_ns, struct history_exposure **out, size_t *nout)
{
	struct history_exposure *x = NULL;
	size_t nx = 0, cap = 0;

	*out = NULL;
	*nout = 0;
	for (size_t i = 0; i < n; i++) {
		const struct state_hist *r = &rows[i];
		struct history_exposure *e;
		uint64_t t = r->time_ns < since_ns ? since_ns : r->time_ns;

		if (r->time_ns > end_ns || r->address[0] == '\0')
			continue;
		if (history_starts_exposure(r)) {
			e = find_port(&x, &nx, &cap, r, true);
			if (e == NULL)
				goto oom;
			if (!e->still_exposed && add_interval(e, t) < 0)
				goto oom;
		} else if (history_ends_exposure(r)) {
			e = find_port(&x, &nx, &cap, r, false);
			if (e == NULL || !e->still_exposed)
				continue;
			e->iv[e->niv - 1].end_ns = t;
			e->iv[e->niv - 1].open = false;
			e->still_exposed = false;
		}
	}
	/* close the open ones at the end; drop what ended before the period began */
	size_t k = 0;
	for (size_t i = 0; i < nx; i++) {
		struct history_exposure *e = &x[i];
		size_t m = 0;
		e->exposed_ns = 0;
		for (size_t j = 0; j < e->niv; j++) {
			struct history_interval iv = e->iv[j];
			if (iv.open)
				iv.end_ns = end_ns;
			if (iv.end_ns < iv.start_ns)
				iv.end_ns = iv.start_ns;
			/* an exposure that ended before the period: not in it */
			if (!iv.open && iv.end_ns <= since_ns && iv.start_ns <= since_ns)
				continue;
			e->exposed_ns += iv.end_ns - iv.start_ns;
			e->iv[m++] = iv;
		}
		e->niv = m;
		if (m == 0) {
			free(e->iv);
			continue;
		}
		x[k++] = *e;
	}
	nx = k;
	if (nx > 1)
		qsort(x, nx, sizeof(*x), exposure_cmp);
	if (nx == 0) {
		free(x);
		x = NULL;
	}
	*out = x;
	*nout = nx;
	return 0;
oom:
	history_exposure_free(x, nx);
	return -ENOMEM;
}

void
history_exposure_free(struct history_exposure *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(x[i].iv);
	free(x);
}
