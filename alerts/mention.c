/* mention: the syntax each chat service gives its own mentions (sink_mention_check, sink.h),
 * the one rule for the config and the formatters. Pure: no allocation, no I/O. */
#include "alerts/sink.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* s[0 .. n) holds only characters of `set` and its length is within lo..hi. */
static bool
span_ok(const char *s, size_t n, const char *set, size_t lo, size_t hi)
{
	return n >= lo && n <= hi && strspn(s, set) >= n;
}

#define DIGITS "0123456789"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define LOWER "abcdefghijklmnopqrstuvwxyz"

/* "<" prefix body ">" with body from set, lo..hi long */
static bool
wrapped_ok(const char *m, const char *prefix, const char *set, size_t lo, size_t hi)
{
	size_t pl = strlen(prefix), n = strlen(m);

	return n > pl + 1 && strncmp(m, prefix, pl) == 0 && m[n - 1] == '>' &&
	       span_ok(m + pl, n - pl - 1, set, lo, hi);
}

static bool
teams_id_ok(const char *m)
{
	const char *at = strchr(m, '@'), *dot;
	size_t n = strlen(m);

	/* an Entra object id */
	if (n == 36 && m[8] == '-' && m[13] == '-' && m[18] == '-' && m[23] == '-' &&
	    strspn(m, DIGITS "abcdefABCDEF-") == 36)
		return true;
	/* a UPN: local@domain.tld */
	if (at == NULL || at == m || n > 254 || strchr(at + 1, '@') != NULL)
		return false;
	dot = strrchr(at, '.');
	return span_ok(m, (size_t)(at - m), UPPER LOWER DIGITS "._%+-", 1, 64) &&
	       span_ok(at + 1, n - (size_t)(at - m) - 1, UPPER LOWER DIGITS ".-", 3, 189) &&
	       dot != NULL && dot > at + 1 && dot[1] != '\0';
}

int
sink_mention_check(enum sink_kind k, const char *m, const char *name, char *err,
		   size_t errlen)
{
	const char *want = NULL;
	bool ok = false;

	if (m == NULL || m[0] == '\0') {
		/* ntfy raises the priority instead; every other sink needs someone to name */
		if (k == SINK_KIND_NTFY)
			return 0;
		want = "a mention";
		goto bad;
	}
	switch (k) {
	case SINK_KIND_SLACK:
		ok = wrapped_ok(m, "<@U", UPPER DIGITS, 2, 30) ||
		     wrapped_ok(m, "<@W", UPPER DIGITS, 2, 30) ||
		     wrapped_ok(m, "<!subteam^S", UPPER DIGITS, 2, 30);
		want = "a Slack user \"<@U…>\" or user group \"<!subteam^S…>\"";
		break;
	case SINK_KIND_DISCORD:
		ok = wrapped_ok(m, "<@&", DIGITS, 17, 20) || wrapped_ok(m, "<@", DIGITS, 17, 20);
		want = "a Discord user \"<@id>\" or role \"<@&id>\" (17 to 20 digits)";
		break;
	case SINK_KIND_MATTERMOST:
		ok = m[0] == '@' && m[1] != '\0' && strchr(LOWER, m[1]) != NULL &&
		     span_ok(m + 1, strlen(m + 1), LOWER DIGITS "._-", 3, 22) &&
		     strcmp(m, "@all") != 0 && strcmp(m, "@channel") != 0 &&
		     strcmp(m, "@here") != 0 && strcmp(m, "@everyone") != 0;
		want = "a Mattermost \"@username\" (3 to 22 of a-z 0-9 . _ -, a letter first; "
		       "not @all, @channel or @here)";
		break;
	case SINK_KIND_TEAMS:
		ok = teams_id_ok(m);
		want = "a Teams user id (a UPN like alice@example.com or an Entra object id)";
		break;
	case SINK_KIND_GOOGLECHAT:
		ok = wrapped_ok(m, "<users/", DIGITS, 1, 30);
		want = "a Google Chat user \"<users/ID>\" (the numeric id)";
		break;
	case SINK_KIND_TELEGRAM:
		ok = span_ok(m, strlen(m), DIGITS, 1, 20);
		want = "a Telegram numeric user id";
		break;
	default:
		want = "nothing: this sink has no mentions";
		break;
	}
	if (!ok)
		goto bad;
	if (name != NULL && (k == SINK_KIND_TEAMS || k == SINK_KIND_TELEGRAM) &&
	    !span_ok(name, strlen(name), UPPER LOWER DIGITS " .'-", 1, 64)) {
		want = "a name of 1 to 64 letters, digits, spaces, '.', '-' or apostrophes";
		goto bad;
	}
	return 0;
bad:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "expected %s", want);
	return -EINVAL;
}
