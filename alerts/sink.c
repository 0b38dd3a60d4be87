/* sink: the sink kinds' names and the message every sink produces (pure: the table and its
 * lookups are format.c's). */
#define _GNU_SOURCE /* explicit_bzero */
#include "alerts/sink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const sink_kind_names[SINK_KIND_N] = {
	[SINK_KIND_WEBHOOK] = "webhook",
	[SINK_KIND_SLACK] = "slack",
	[SINK_KIND_MATTERMOST] = "mattermost",
	[SINK_KIND_DISCORD] = "discord",
	[SINK_KIND_TEAMS] = "teams",
	[SINK_KIND_GOOGLECHAT] = "googlechat",
	[SINK_KIND_TELEGRAM] = "telegram",
	[SINK_KIND_NTFY] = "ntfy",
	[SINK_KIND_ALERTMANAGER] = "alertmanager",
};

const char *const sink_ntfy_priorities[SINK_NTFY_NPRIORITIES] = {
	"min", "low", "default", "high", "urgent",
};

const char *
sink_kind_name(enum sink_kind kind)
{
	/* The kind may come from anywhere: compare as unsigned. */
	return (unsigned)kind < SINK_KIND_N ? sink_kind_names[kind] : "?";
}

int
sink_kind_parse(const char *name, enum sink_kind *out)
{
	if (name == NULL)
		return -EINVAL;
	for (unsigned i = 0; i < SINK_KIND_N; i++)
		if (strcmp(sink_kind_names[i], name) == 0) {
			*out = (enum sink_kind)i;
			return 0;
		}
	return -EINVAL;
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
