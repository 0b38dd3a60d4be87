/* sink: lookups over the sink table (format.c) and the message every sink produces. */
#define _GNU_SOURCE /* explicit_bzero */
#include "alerts/sink.h"

#include <stdlib.h>
#include <string.h>

const struct sink_ops *
sink_find(enum sink_kind kind)
{
	/* The kind may come from anywhere: compare as unsigned. */
	if ((unsigned)kind >= SINK_KIND_N)
		return NULL;
	return sink_table[kind];
}

const struct sink_ops *
sink_find_name(const char *name)
{
	if (name == NULL)
		return NULL;
	for (unsigned i = 0; i < SINK_KIND_N; i++) {
		if (sink_table[i] != NULL && strcmp(sink_table[i]->name, name) == 0)
			return sink_table[i];
	}
	return NULL;
}

void
sink_message_clear(struct sink_message *m)
{
	if (m == NULL)
		return;
	/* url and headers carry secrets (tokens, signatures): wiped, not just freed. */
	if (m->url != NULL) {
		explicit_bzero(m->url, strlen(m->url));
		free(m->url);
	}
	for (size_t i = 0; i < m->nheaders && i < SINK_MAX_HEADERS; i++) {
		if (m->headers[i] != NULL) {
			explicit_bzero(m->headers[i], strlen(m->headers[i]));
			free(m->headers[i]);
		}
	}
	free(m->body);
	memset(m, 0, sizeof(*m));
}
