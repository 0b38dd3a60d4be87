/* render: text from outside, shown in each chat service's markup without acting in it. */
#include "alerts/render.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "alerts/event.h"

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */
#define ELLIPSIS "\xe2\x80\xa6"    /* U+2026 */

/* The longest thing one character becomes: "&amp;", a backslash pair, 4 bytes of UTF-8. */
#define ATOM_MAX 8

/* Per medium, which ASCII characters are written how; any other is written as it is. */
struct rules {
	const char *entity;    /* & < > as &amp; &lt; &gt; */
	const char *backslash; /* behind a backslash */
	const char *lookalike; /* as lookalikes[c] */
};

static const struct rules rules[RENDER_N] = {
	[RENDER_PLAIN] = { "", "", "@" },
	[RENDER_ASCII] = { "", "", "" },
	[RENDER_SLACK] = { "&<>", "", "@*_~`" },
	[RENDER_SLACK_CODE] = { "&<>", "", "`" },
	[RENDER_MATTERMOST] = { "&<>", "\\`*_~[]#|", "@" },
	[RENDER_MATTERMOST_CODE] = { "", "", "`<@" },
	[RENDER_DISCORD] = { "", "\\`*_~[]<>#|", "@" },
	[RENDER_DISCORD_CODE] = { "", "", "`" },
	[RENDER_TEAMS] = { "", "", "@*_~`[]<" },
	[RENDER_GCHAT] = { "", "", "@*_~`[]<" },
	[RENDER_GCHAT_CODE] = { "", "", "`<" },
	[RENDER_HTML] = { "&<>", "", "@" },
	[RENDER_HTML_CODE] = { "&<>", "", "" },
};

/* Characters that read as the ASCII one and mean nothing to any parser. */
static const char *const lookalikes[128] = {
	['@'] = "\xef\xbc\xa0", /* U+FF20 FULLWIDTH COMMERCIAL AT */
	['*'] = "\xe2\x88\x97", /* U+2217 ASTERISK OPERATOR */
	['_'] = "\xcb\x8d",     /* U+02CD MODIFIER LETTER LOW MACRON */
	['~'] = "\xe2\x88\xbc", /* U+223C TILDE OPERATOR */
	['`'] = "\xcb\x8b",     /* U+02CB MODIFIER LETTER GRAVE ACCENT */
	['['] = "\xef\xbc\xbb", /* U+FF3B FULLWIDTH LEFT SQUARE BRACKET */
	[']'] = "\xef\xbc\xbd", /* U+FF3D FULLWIDTH RIGHT SQUARE BRACKET */
	['<'] = "\xe2\x80\xb9", /* U+2039 SINGLE LEFT-POINTING ANGLE QUOTATION MARK */
};

/* Controls, bidi controls and characters that show nothing: they reorder, hide or break
 * what is around them (a U+202E turns "gnp.exe" into "exe.png"), so they are shown as
 * U+FFFD instead. */
static bool
hidden(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || /* C0, DEL, C1 */
	       c == 0xad || c == 0x34f || c == 0x61c || /* soft hyphen, CGJ, ALM */
	       c == 0x115f || c == 0x1160 || c == 0x17b4 || c == 0x17b5 || c == 0x3164 ||
	       c == 0xffa0 ||                           /* fillers that show nothing */
	       (c >= 0x180b && c <= 0x180f) ||          /* Mongolian selectors, MVS */
	       (c >= 0x200b && c <= 0x200f) ||          /* ZWSP ZWNJ ZWJ LRM RLM */
	       (c >= 0x2028 && c <= 0x202e) ||          /* LS PS LRE RLE PDF LRO RLO */
	       (c >= 0x2060 && c <= 0x206f) ||          /* WJ, invisible operators, LRI..PDI */
	       c == 0xfeff ||                           /* ZWNBSP (BOM) */
	       (c >= 0xfff9 && c <= 0xfffb) ||          /* interlinear annotation */
	       (c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) == 0xfffe || /* noncharacters */
	       (c >= 0x1bca0 && c <= 0x1bca3) ||        /* shorthand format controls */
	       (c >= 0x1d173 && c <= 0x1d17a) ||        /* musical format controls */
	       (c >= 0xe0000 && c <= 0xe0fff);          /* tags, variation selectors 17+ */
}

/* What the character at s[0 .. n) becomes in medium m, into buf; *used gets the bytes of s
 * it took. Returns the length of buf. */
static size_t
atom(enum render_medium m, const char *s, size_t n, size_t *used, char buf[ATOM_MAX])
{
	const struct rules *r = &rules[m];
	uint32_t cp;
	bool ok;
	char c;

	*used = alert_utf8_next(s, n, &cp, &ok);
	if (m == RENDER_ASCII) {
		buf[0] = ok && cp >= 0x20 && cp < 0x7f ? (char)cp : '?';
		return 1;
	}
	if (!ok || hidden(cp)) {
		memcpy(buf, REPLACEMENT, sizeof(REPLACEMENT) - 1);
		return sizeof(REPLACEMENT) - 1;
	}
	if (cp >= 0x80) {
		memcpy(buf, s, *used);
		return *used;
	}
	c = (char)cp; /* printable ASCII here: never NUL, so strchr finds only the sets */
	if (strchr(r->entity, c) != NULL) {
		const char *e = c == '&' ? "&amp;" : c == '<' ? "&lt;" : "&gt;";

		memcpy(buf, e, strlen(e));
		return strlen(e);
	}
	if (strchr(r->backslash, c) != NULL) {
		buf[0] = '\\';
		buf[1] = c;
		return 2;
	}
	if (strchr(r->lookalike, c) != NULL && lookalikes[(unsigned char)c] != NULL) {
		const char *l = lookalikes[(unsigned char)c];

		memcpy(buf, l, strlen(l));
		return strlen(l);
	}
	buf[0] = c;
	return 1;
}

/* The output: bytes are counted always, written while whole atoms fit. */
struct out {
	char *dst;
	size_t dstlen;
	size_t len;     /* of the whole rendering */
	size_t written; /* bytes in dst */
	bool stopped;
};

static void
put(struct out *o, const char *p, size_t n)
{
	if (!o->stopped && o->written + n < o->dstlen) {
		memcpy(o->dst + o->written, p, n);
		o->written += n;
	} else {
		o->stopped = true; /* never half an atom, never a later one after a gap */
	}
	o->len += n;
}

size_t
render_text(enum render_medium m, const char *s, size_t srclen, size_t max, char *dst,
	    size_t dstlen)
{
	struct out o = { .dst = dst, .dstlen = dstlen };
	size_t n, budget = SIZE_MAX, used = 0, ellu;
	const char *ell;
	char buf[ATOM_MAX];

	if ((unsigned)m >= RENDER_N)
		m = RENDER_ASCII;
	ell = m == RENDER_ASCII ? "..." : ELLIPSIS;
	ellu = alert_utf16_len(ell, strlen(ell));
	if (s == NULL)
		s = "";
	n = strnlen(s, srclen);
	if (max > 0) {
		size_t total = 0;

		for (size_t i = 0; i < n; i += used)
			total += alert_utf16_len(buf, atom(m, s + i, n - i, &used, buf));
		/* cut: room for the ellipsis (nothing at all when even that is too long) */
		if (total > max)
			budget = max >= ellu ? max - ellu : 0;
	}
	for (size_t i = 0, u = 0; i < n; i += used) {
		size_t k = atom(m, s + i, n - i, &used, buf), ku = alert_utf16_len(buf, k);

		if (budget != SIZE_MAX && u + ku > budget) {
			if (max >= ellu)
				put(&o, ell, strlen(ell));
			break;
		}
		put(&o, buf, k);
		u += ku;
	}
	if (dstlen > 0)
		dst[o.written] = '\0';
	return o.len;
}
