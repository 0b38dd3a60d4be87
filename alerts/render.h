/*
 * render: text from outside — DNS answers (version.bind, hostname.bind, NSID), target
 * names, addresses, the summaries that embed them, the agent's host name, the config —
 * written into a chat message so that nothing in it acts in the service it goes to: no
 * mention, link, markup or control character applies, and the text is still shown,
 * readable. Every sink formatter (format.c) passes such text through here and nowhere
 * else; our own markup (bold titles, labels, code spans) is added around the result.
 *
 * In every medium:
 * - ill-formed UTF-8, C0 and C1 controls (line breaks included: a line break is ours to
 *   place), bidi controls (U+202A..U+202E, U+2066..U+2069, U+200E/F, U+061C), zero-width
 *   and other invisible format characters (U+200B..U+200D, U+2060..U+2064, U+FEFF, ...),
 *   line and paragraph separators and noncharacters become U+FFFD, which is visible;
 * - '@' becomes U+FF20 '＠' (outside code spans, but for Mattermost's): services find
 *   "@channel", "@here", "@everyone", "@all" and "@user" in the raw text, where no escape
 *   reaches (Mattermost's server, Telegram's entity parser), so the character itself goes.
 * Per medium, on top (the service's documented escape where there is one; where there is
 * none, a look-alike that no parser reads: ＠ ∗ ˍ ∼ ˋ ［ ］ ‹; a lone '>' opens nothing
 * there, so "->" stays as it is):
 *   RENDER_PLAIN       plain text (ntfy body, Slack plain_text, Mattermost fallback, Teams
 *                      TextRun): nothing more
 *   RENDER_ASCII       an HTTP header value: printable ASCII only, anything else one '?'
 *   RENDER_SLACK       mrkdwn: & < > as &amp; &lt; &gt; (Slack's escaping, which also kills
 *                      <!channel>, <@U…>, <url|text>); mrkdwn has no escape for * _ ~ `,
 *                      so those become look-alikes and a bold title cannot be broken
 *   RENDER_SLACK_CODE  inside a Slack code span: & < > as entities, ` as a look-alike
 *   RENDER_MATTERMOST  Markdown: & < > as entities (the server turns raw <!channel>,
 *                      <!here>, <!all> and <url|text> into mentions and links before any
 *                      Markdown is read), \ ` * _ ~ [ ] # | behind a backslash
 *   RENDER_MATTERMOST_CODE  inside a code span: ` < @ as look-alikes (nothing is
 *                      decoded there, and the server reads the raw text)
 *   RENDER_DISCORD     Discord Markdown: \ ` * _ ~ [ ] < > # | behind a backslash (it
 *                      decodes no entities); <@id>, <#id>, <t:…> and masked links die
 *   RENDER_DISCORD_CODE  inside a code span: ` as a look-alike
 *   RENDER_TEAMS       Adaptive Card TextBlock and FactSet Markdown: no reliable escape on
 *                      every client, so * _ ~ ` [ ] < become look-alikes
 *   RENDER_GCHAT       Google Chat text: no escape; * _ ~ ` [ ] < become look-alikes
 *                      (<users/all> and <url|text> die with the '<')
 *   RENDER_GCHAT_CODE  inside a Google Chat code span: ` < as look-alikes
 *   RENDER_HTML        Telegram parse_mode HTML: & < > as entities
 *   RENDER_HTML_CODE   inside <code>: & < > as entities
 *
 * Pure: no allocation, no I/O; the output is always valid UTF-8 (printable ASCII for
 * RENDER_ASCII).
 */
#ifndef WATCH53_RENDER_H
#define WATCH53_RENDER_H

#include <stddef.h>

enum render_medium {
	RENDER_PLAIN = 0, RENDER_ASCII,
	RENDER_SLACK, RENDER_SLACK_CODE,
	RENDER_MATTERMOST, RENDER_MATTERMOST_CODE,
	RENDER_DISCORD, RENDER_DISCORD_CODE,
	RENDER_TEAMS,
	RENDER_GCHAT, RENDER_GCHAT_CODE,
	RENDER_HTML, RENDER_HTML_CODE,
	RENDER_N
};

/*
 * Render s (at most srclen bytes of it, up to its NUL) for medium m into dst[0 .. dstlen),
 * NUL-terminated when dstlen > 0, never ending inside a character or an escape.
 * max bounds the rendered text in UTF-16 code units, escapes included (what Slack and
 * Discord count); 0 = no bound. Text that does not fit is cut between two characters and
 * ends in "…" ("..." in RENDER_ASCII), all of it within max.
 * Returns the length of the whole rendering, as snprintf does: dst held all of it when
 * the return is below dstlen. A medium outside the enum renders as RENDER_ASCII.
 */
size_t render_text(enum render_medium m, const char *s, size_t srclen, size_t max, char *dst,
		   size_t dstlen);

#endif
