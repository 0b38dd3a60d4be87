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

void
history_port_init(struct history_port_acc *acc, uint64_t since_ns, uint64_t end_ns)
{
	memset(acc, 0, sizeof(*acc));
	acc->since_ns = since_ns;
	acc->end_ns = end_ns;
}

/* The port in hand is complete: its open interval closed at the end of the period, what
 * ended before the period dropped, and the rest to emit (which takes the intervals). */
static int
port_done(struct history_port_acc *acc, history_emit_fn emit, void *arg)
{
	struct history_exposure *e = &acc->cur;
	size_t m = 0;
	int rc = 0;

	if (!acc->have)
		return 0;
	acc->have = false;
	e->exposed_ns = 0;
	for (size_t j = 0; j < e->niv; j++) {
		struct history_interval iv = e->iv[j];
		if (iv.open)
			iv.end_ns = acc->end_ns;
		if (iv.end_ns < iv.start_ns)
			iv.end_ns = iv.start_ns;
		/* an exposure that ended before the period: not in it */
		if (!iv.open && iv.end_ns <= acc->since_ns && iv.start_ns <= acc->since_ns)
			continue;
		e->exposed_ns += iv.end_ns - iv.start_ns;
		e->iv[m++] = iv;
	}
	e->niv = m;
	if (m > 0)
		rc = emit(arg, e);
	free(e->iv);
	e->iv = NULL;
	e->niv = 0;
	return rc;
}

int
history_port_add(struct history_port_acc *acc, const struct state_hist *r, history_emit_fn emit,
		 void *arg)
{
	struct history_exposure *e = &acc->cur;
	uint64_t t = r->time_ns < acc->since_ns ? acc->since_ns : r->time_ns;
	int rc;

	if (r->time_ns > acc->end_ns || r->address[0] == '\0')
		return 0;
	if (acc->have && port_cmp(e, r->address, r->protocol, r->port) != 0 &&
	    (rc = port_done(acc, emit, arg)) < 0)
		return rc;
	if (!acc->have) {
		memset(e, 0, sizeof(*e));
		snprintf(e->address, sizeof(e->address), "%s", r->address);
		snprintf(e->protocol, sizeof(e->protocol), "%s", r->protocol);
		e->port = r->port;
		acc->have = true;
	}
	if (history_starts_exposure(r)) {
		if (!e->still_exposed && add_interval(e, t) < 0)
			return -ENOMEM;
	} else if (history_ends_exposure(r) && e->still_exposed) {
		e->iv[e->niv - 1].end_ns = t;
		e->iv[e->niv - 1].open = false;
		e->still_exposed = false;
	}
	return 0;
}

int
history_port_end(struct history_port_acc *acc, history_emit_fn emit, void *arg)
{
	return port_done(acc, emit, arg);
}

void
history_port_clear(struct history_port_acc *acc)
{
	free(acc->cur.iv);
	memset(acc, 0, sizeof(*acc));
}

/* history_exposure's collection of what the accumulator emits. */
struct collect {
	struct history_exposure *x;
	size_t n, cap;
};

static int
collect(void *arg, struct history_exposure *e)
{
	struct collect *c = arg;

	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 16;
		struct history_exposure *g = realloc(c->x, nc * sizeof(*g));
		if (g == NULL)
			return -ENOMEM;
		c->x = g;
		c->cap = nc;
	}
	c->x[c->n++] = *e;
	e->iv = NULL; /* taken */
	return 0;
}

/* Per port (address text, protocol, port), then as recorded: the rows' own order. */
static int
row_port_order(const void *pa, const void *pb)
{
	const struct state_hist *a = *(const struct state_hist *const *)pa;
	const struct state_hist *b = *(const struct state_hist *const *)pb;
	int c = strcmp(a->address, b->address);

	if (c == 0)
		c = strcmp(a->protocol, b->protocol);
	if (c == 0)
		c = (a->port > b->port) - (a->port < b->port);
	if (c == 0)
		c = (a > b) - (a < b);
	return c;
}

int
history_exposure(const struct state_hist *rows, size_t n, uint64_t since_ns,
		 uint64_t end_ns, struct history_exposure **out, size_t *nout)
{
	const struct state_hist **order = NULL;
	struct history_port_acc acc;
	struct collect c = { 0 };
	int rc = 0;

	*out = NULL;
	*nout = 0;
	if (n > 0 && (order = calloc(n, sizeof(*order))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = &rows[i];
	if (n > 1)
		qsort(order, n, sizeof(*order), row_port_order);
	history_port_init(&acc, since_ns, end_ns);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = history_port_add(&acc, order[i], collect, &c);
	if (rc == 0)
		rc = history_port_end(&acc, collect, &c);
	history_port_clear(&acc);
	free(order);
	if (rc < 0) {
		history_exposure_free(c.x, c.n);
		return rc;
	}
	*out = c.x;
	*nout = c.n;
	return 0;
}

void
history_exposure_free(struct history_exposure *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(x[i].iv);
	free(x);
}
