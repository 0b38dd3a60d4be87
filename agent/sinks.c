/* sinks: config_sink -> sink_settings (one conversion, so the two enums stay in step). */
#define _GNU_SOURCE
#include "agent/sinks.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

/* The path the way a shell reads it back: bare when it is made of safe characters,
 * otherwise in single quotes (each ' written as '\''). */
static void
shell_quote(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	bool safe = in[0] != '\0';

	for (const char *p = in; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("/._-+,:@%", *p)))
			safe = false;
	if (safe) {
		snprintf(out, outlen, "%s", in);
		return;
	}
	if (outlen < 3) {
		if (outlen)
			out[0] = '\0';
		return;
	}
	out[o++] = '\'';
	for (const char *p = in; *p && o + 5 < outlen; p++) {
		if (*p == '\'') {
			memcpy(out + o, "'\\''", 4);
			o += 4;
		} else {
			out[o++] = *p;
		}
	}
	out[o++] = '\'';
	out[o] = '\0';
}

static void
absolute_path(const char *path, char *out, size_t outlen)
{
	char cwd[PATH_MAX];

	if (realpath(path, out) != NULL && strlen(out) < outlen)
		return;
	/* the file may be gone by now (it was loaded): at least make it absolute */
	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL ||
	    snprintf(out, outlen, "%s/%s", cwd, path) >= (int)outlen)
		snprintf(out, outlen, "%s", path);
}

/* How far ahead an Alertmanager alert's endsAt is: three of the longest interval, so a
 * cycle that is late or fails once does not resolve what is still wrong, while one that
 * stopped for good lets Alertmanager resolve it by itself. */
#define AM_HOLD_INTERVALS 3

static uint64_t
am_hold(const struct config *c)
{
	uint64_t longest = c->interval_ns;

	for (size_t i = 0; i < c->ntargets; i++)
		if (c->targets[i].interval_ns > longest)
			longest = c->targets[i].interval_ns;
	return AM_HOLD_INTERVALS * longest;
}

int
sinks_from_config(const struct config *c, const char *config_path,
		  struct sink_settings **out, size_t *n)
{
	char abs[PATH_MAX], quoted[2 * PATH_MAX + 8], cmd[2 * PATH_MAX + 64];
	struct sink_settings *v;
	size_t cmdlen;

	*out = NULL;
	*n = 0;
	if (c->nsinks == 0)
		return 0;
	absolute_path(config_path ? config_path : (c->path ? c->path : ""), abs, sizeof(abs));
	shell_quote(abs, quoted, sizeof(quoted));
	snprintf(cmd, sizeof(cmd), "watch53 baseline accept -c %s", quoted);
	cmdlen = strlen(cmd) + 1;
	/* one block: the array, then the command text they all point at (sinks_free is one
	 * free) */
	v = calloc(1, c->nsinks * sizeof(*v) + cmdlen);
	if (v == NULL)
		return -ENOMEM;
	memcpy((char *)(v + c->nsinks), cmd, cmdlen);
	for (size_t i = 0; i < c->nsinks; i++) {
		const struct config_sink *cs = &c->sinks[i];
		struct sink_settings *s = &v[i];

		s->kind = cs->type;
		s->name = cs->name;
		s->url = cs->url;
		s->secret = cs->secret;
		s->token = cs->token;
		s->chat_id = cs->chat_id;
		s->ca_file = cs->ca_file;
		s->resolve = (const char *const *)cs->resolve;
		s->nresolve = cs->nresolve;
		s->proxy = cs->proxy;
		s->priority = cs->priority;
		s->timeout_ns = cs->timeout_ns;
		s->max_age_ns = cs->max_age_ns;
		s->agent_cmd = (const char *)(v + c->nsinks);
		s->mention_on = cs->mention_on;
		s->mention = cs->mention;
		s->mention_name = cs->mention_name;
		s->mention_min_severity = cs->mention_min_severity;
		s->hold_ns = am_hold(c);
	}
	*out = v;
	*n = c->nsinks;
	return 0;
}

void
sinks_free(struct sink_settings *s, size_t n)
{
	(void)n;
	free(s);
}

size_t
sinks_instance(const struct sink_settings *s, size_t i, struct sink_settings *one, char *buf,
	       size_t len)
{
	const char *p = s->url;
	size_t n = 0;

	if (s->kind != SINK_KIND_ALERTMANAGER) {
		if (i == 0)
			*one = *s;
		return 1;
	}
	/* the config checked every word to be a URL, and that there are 1 to 8 */
	for (char word[2048]; (p = util_next_word(p, word, sizeof(word))) != NULL; n++)
		if (n == i) {
			snprintf(buf, len, "%s", word);
			explicit_bzero(word, sizeof(word));
			*one = *s;
			one->url = buf;
		}
	return n;
}
