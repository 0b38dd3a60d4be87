/*
 * test_render: untrusted text in each chat service's markup (render.h), as tables
 * {medium, input, exact output}: escapes and look-alikes, hidden and control characters,
 * ill-formed UTF-8, cuts with "…" that never split a character or an escape; then random
 * bytes through every medium, checked by a decoder of this file's own. Also the UTF-8
 * primitives of event.h everything in alerts/ checks and cuts with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alerts/event.h"
#include "alerts/render.h"

#define FFFD "\xef\xbf\xbd"
#define ELL "\xe2\x80\xa6"
/* the look-alikes, spelled out so the tables read */
#define AT "\xef\xbc\xa0"     /* ＠ */
#define STAR "\xe2\x88\x97"   /* ∗ */
#define LOW "\xcb\x8d"        /* ˍ */
#define TILDE "\xe2\x88\xbc"  /* ∼ */
#define GRAVE "\xcb\x8b"      /* ˋ */
#define LBR "\xef\xbc\xbb"    /* ［ */
#define RBR "\xef\xbc\xbd"    /* ］ */
#define LT "\xe2\x80\xb9"     /* ‹ */

static char *
r(enum render_medium m, const char *s, size_t max)
{
	size_t n = render_text(m, s, SIZE_MAX, max, NULL, 0);
	char *out = malloc(n + 1);

	assert_non_null(out);
	assert_int_equal(render_text(m, s, SIZE_MAX, max, out, n + 1), n);
	assert_int_equal(strlen(out), n);
	return out;
}

static void
expect(enum render_medium m, const char *in, size_t max, const char *want, unsigned line)
{
	char *got = r(m, in, max);

	if (strcmp(got, want) != 0)
		fail_msg("line %u: medium %d: \"%s\" became \"%s\", want \"%s\"", line, (int)m, in,
			 got, want);
	free(got);
}

#define EXPECT(m, in, max, want) expect((m), (in), (max), (want), __LINE__)

/* The hostile strings of issue 13, in every medium. */
static void
test_media(void **state)
{
	static const char version[] = "W53X @channel @here <!channel> @everyone [x](http://e.test)";
	static const struct {
		enum render_medium m;
		const char *in, *want;
	} cases[] = {
		{ RENDER_PLAIN, version,
		  "W53X " AT "channel " AT "here <!channel> " AT "everyone [x](http://e.test)" },
		{ RENDER_SLACK, version,
		  "W53X " AT "channel " AT "here &lt;!channel&gt; " AT "everyone "
		  "[x](http://e.test)" },
		{ RENDER_SLACK, "*b* _i_ ~s~ `c` & <@U1> <http://e|x>",
		  STAR "b" STAR " " LOW "i" LOW " " TILDE "s" TILDE " " GRAVE "c" GRAVE
		  " &amp; &lt;" AT "U1&gt; &lt;http://e|x&gt;" },
		{ RENDER_SLACK_CODE, "a<b>&`c` *x* _y_ @here",
		  "a&lt;b&gt;&amp;" GRAVE "c" GRAVE " *x* _y_ @here" },
		{ RENDER_MATTERMOST, version,
		  "W53X " AT "channel " AT "here &lt;!channel&gt; " AT "everyone "
		  "\\[x\\](http://e.test)" },
		{ RENDER_MATTERMOST, "<!all> <https://e|t> \\ # | ~~s~~ **b** _i_ `c` &lt;",
		  "&lt;!all&gt; &lt;https://e\\|t&gt; \\\\ \\# \\| \\~\\~s\\~\\~ "
		  "\\*\\*b\\*\\* \\_i\\_ \\`c\\` &amp;lt;" },
		{ RENDER_MATTERMOST_CODE, "`<!here>` @x *y*",
		  GRAVE LT "!here>" GRAVE " " AT "x *y*" },
		{ RENDER_DISCORD, version,
		  "W53X " AT "channel " AT "here \\<!channel\\> " AT "everyone "
		  "\\[x\\](http://e.test)" },
		{ RENDER_DISCORD, "<@123> <#9> <t:1:R> ||s|| # h > q &amp;",
		  "\\<" AT "123\\> \\<\\#9\\> \\<t:1:R\\> \\|\\|s\\|\\| \\# h \\> q &amp;" },
		{ RENDER_DISCORD_CODE, "`x` <@1> *b*", GRAVE "x" GRAVE " <@1> *b*" },
		{ RENDER_TEAMS, version,
		  "W53X " AT "channel " AT "here " LT "!channel> " AT "everyone " LBR "x" RBR
		  "(http://e.test)" },
		{ RENDER_TEAMS, "**b** _i_ <at>x</at>",
		  STAR STAR "b" STAR STAR " " LOW "i" LOW " " LT "at>x" LT "/at>" },
		{ RENDER_TEAMS, "ra false -> true", "ra false -> true" },
		{ RENDER_GCHAT, "<users/all> <https://e|x> *b* _i_ ~s~ `c` @all",
		  LT "users/all> " LT "https://e|x> " STAR "b" STAR " " LOW "i" LOW " "
		  TILDE "s" TILDE " " GRAVE "c" GRAVE " " AT "all" },
		{ RENDER_GCHAT_CODE, "`<users/all>` *b* @all",
		  GRAVE LT "users/all>" GRAVE " *b* @all" },
		{ RENDER_HTML, "<a href=\"http://e\">x</a> & @bob",
		  "&lt;a href=\"http://e\"&gt;x&lt;/a&gt; &amp; " AT "bob" },
		{ RENDER_HTML_CODE, "<b>@x&", "&lt;b&gt;@x&amp;" },
		{ RENDER_ASCII, "h\xc3\xb4te\r\n<@x>", "h?te?" "?<@x>" },
		/* what no medium changes */
		{ RENDER_SLACK, "ns1.example.test 127.53.0.5 (primary dns) udp/53 \xe2\x82\xac",
		  "ns1.example.test 127.53.0.5 (primary dns) udp/53 \xe2\x82\xac" },
		{ RENDER_DISCORD, "a-b.c (d) e:f g/h \xf0\x9f\x94\xb4",
		  "a-b.c (d) e:f g/h \xf0\x9f\x94\xb4" },
		{ RENDER_HTML, "", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = r(cases[i].m, cases[i].in, 0);

		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: \"%s\" became \"%s\", want \"%s\"", i, cases[i].in, got,
				 cases[i].want);
		free(got);
	}
}

/* Controls, bidi controls and invisible characters are shown as U+FFFD in every medium;
 * ordinary non-ASCII text is left alone. */
static void
test_hidden(void **state)
{
	static const char *const hidden[] = {
		"\x01", "\t", "\n", "\r", "\x1b", "\x7f", "\xc2\x85" /* NEL */,
		"\xc2\x9b" /* CSI */,
		"\xc2\xad" /* soft hyphen */, "\xd8\x9c" /* ALM */, "\xe2\x80\x8b" /* ZWSP */,
		"\xe2\x80\x8c", "\xe2\x80\x8d", "\xe2\x80\x8e" /* LRM */, "\xe2\x80\x8f" /* RLM */,
		"\xe2\x80\xa8" /* LS */, "\xe2\x80\xa9" /* PS */, "\xe2\x80\xaa" /* LRE */,
		"\xe2\x80\xab", "\xe2\x80\xac" /* PDF */, "\xe2\x80\xad" /* LRO */,
		"\xe2\x80\xae" /* RLO */, "\xe2\x81\xa0" /* WJ */, "\xe2\x81\xa6" /* LRI */,
		"\xe2\x81\xa7", "\xe2\x81\xa8" /* FSI */, "\xe2\x81\xa9" /* PDI */,
		"\xef\xbb\xbf" /* BOM */, "\xef\xbf\xbe" /* U+FFFE */, "\xe3\x85\xa4" /* filler */,
		"\xf3\xa0\x81\x81" /* TAG A */,
	};
	static const char *const shown[] = {
		"\xc3\xa9", "\xe2\x82\xac", "\xc2\xa0" /* NBSP */, "\xf0\x9f\x98\x80",
		"\xe2\x9d\xa4\xef\xb8\x8f" /* heart + VS16 */, "\xd7\xa9\xd7\x9c" /* Hebrew */,
	};

	(void)state;
	for (int m = 0; m < RENDER_N; m++) {
		for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
			char in[32], want[32];

			snprintf(in, sizeof(in), "a%sb", hidden[i]);
			snprintf(want, sizeof(want), "a%sb", m == RENDER_ASCII ? "?" : FFFD);
			EXPECT((enum render_medium)m, in, 0, want);
		}
		for (size_t i = 0; m != RENDER_ASCII && i < sizeof(shown) / sizeof(shown[0]); i++)
			EXPECT((enum render_medium)m, shown[i], 0, shown[i]);
	}
	/* "exe.png" to the eye, "gnp.exe" in truth: the override is shown, not obeyed */
	EXPECT(RENDER_SLACK, "report\xe2\x80\xaegnp.exe", 0, "report" FFFD "gnp.exe");
}

/* Each maximal ill-formed subpart becomes one U+FFFD (Unicode 3.9, as browsers do). */
static void
test_ill_formed(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "\xff", FFFD },
		{ "a\xe2\x82", "a" FFFD },             /* a euro cut short */
		{ "\xe2\x82)", FFFD ")" },
		{ "\xf0\x9f\x98", FFFD },              /* an emoji cut short */
		{ "\xed\xa0\x80", FFFD FFFD FFFD },    /* a surrogate */
		{ "\xc0\xaf", FFFD FFFD },             /* overlong '/' */
		{ "\xe0\x80\xaf", FFFD FFFD FFFD },    /* overlong '/' */
		{ "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD }, /* above U+10FFFF */
		{ "\x80\xbf", FFFD FFFD },             /* lone continuations */
		{ "\xc3\xa9\xc3", "\xc3\xa9" FFFD },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		EXPECT(RENDER_PLAIN, cases[i].in, 0, cases[i].want);
	EXPECT(RENDER_ASCII, "a\xe2\x82" "b", 0, "a?b");
}

/* max counts UTF-16 units of the rendering, escapes included; a cut ends in "…" and
 * never splits a character or an escape. */
static void
test_cut(void **state)
{
	(void)state;
	EXPECT(RENDER_PLAIN, "abcd", 4, "abcd");           /* fits exactly: no cut */
	EXPECT(RENDER_PLAIN, "abcdef", 4, "abc" ELL);
	EXPECT(RENDER_PLAIN, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 3,
	       "\xe2\x82\xac\xe2\x82\xac" ELL);
	/* an emoji is two units */
	EXPECT(RENDER_PLAIN, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 5,
	       "\xf0\x9f\x98\x80\xf0\x9f\x98\x80" ELL);
	EXPECT(RENDER_PLAIN, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 4,
	       "\xf0\x9f\x98\x80" ELL);
	/* escapes are whole or absent */
	EXPECT(RENDER_DISCORD, "****", 5, "\\*\\*" ELL);
	EXPECT(RENDER_DISCORD, "****", 4, "\\*" ELL);
	EXPECT(RENDER_DISCORD, "****", 8, "\\*\\*\\*\\*");
	EXPECT(RENDER_SLACK, "&&&", 8, "&amp;" ELL);
	EXPECT(RENDER_SLACK, "&&&", 6, "&amp;" ELL);
	EXPECT(RENDER_SLACK, "&&&", 5, ELL);
	EXPECT(RENDER_HTML, "a<b", 5, "a" ELL);
	EXPECT(RENDER_ASCII, "abcdef", 5, "ab...");
	EXPECT(RENDER_ASCII, "abcdef", 2, "");              /* not even the dots fit */
	EXPECT(RENDER_PLAIN, "abcdef", 1, ELL);
	EXPECT(RENDER_PLAIN, "", 1, "");
}

/* snprintf's contract: the whole length back, whole atoms written, always terminated. */
static void
test_bounds(void **state)
{
	char dst[8];

	(void)state;
	memset(dst, 'x', sizeof(dst));
	assert_int_equal(render_text(RENDER_SLACK, "a&b", SIZE_MAX, 0, dst, 4), 7);
	assert_string_equal(dst, "a"); /* "&amp;" did not fit whole */
	assert_int_equal(render_text(RENDER_SLACK, "a&b", SIZE_MAX, 0, dst, 8), 7);
	assert_string_equal(dst, "a&amp;b");
	memset(dst, 'x', sizeof(dst));
	assert_int_equal(render_text(RENDER_PLAIN, "\xe2\x82\xac\xe2\x82\xac", SIZE_MAX, 0, dst, 5),
			 6);
	assert_string_equal(dst, "\xe2\x82\xac");
	assert_int_equal(render_text(RENDER_PLAIN, "abc", SIZE_MAX, 0, NULL, 0), 3);
	assert_int_equal(render_text(RENDER_PLAIN, "abcdef", 3, 0, dst, sizeof(dst)), 3);
	assert_string_equal(dst, "abc");
	/* a field that is not NUL-terminated is read no further than its size */
	{
		const char field[4] = { 'a', 'b', 'c', 'd' };

		assert_int_equal(render_text(RENDER_PLAIN, field, sizeof(field), 0, dst,
					     sizeof(dst)),
				 4);
		assert_string_equal(dst, "abcd");
	}
	assert_int_equal(render_text(RENDER_PLAIN, NULL, SIZE_MAX, 0, dst, sizeof(dst)), 0);
	assert_string_equal(dst, "");
	/* a medium from nowhere is the most careful one */
	assert_int_equal(render_text((enum render_medium)99, "\xc3\xa9@", SIZE_MAX, 0, dst,
				     sizeof(dst)),
			 2);
	assert_string_equal(dst, "?@");
	assert_int_equal(render_text((enum render_medium)99, "abcdef", SIZE_MAX, 5, dst,
				     sizeof(dst)),
			 5);
	assert_string_equal(dst, "ab...");
}

/* ---- an independent decoder: what the output is checked with ---- */

/* Returns the code point and advances *p, or -1 on anything ill-formed. */
static long
decode(const unsigned char **p, const unsigned char *end)
{
	const unsigned char *s = *p;
	unsigned long cp;
	int n;

	if (s[0] < 0x80) {
		*p = s + 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0)
		n = 1, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 2, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 3, cp = s[0] & 0x07;
	else
		return -1;
	if (end - s <= n)
		return -1;
	for (int i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*p = s + n + 1;
	return (long)cp;
}

static bool
bad_char(long c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x200b && c <= 0x200f) ||
	       (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x61c ||
	       c == 0xfeff;
}

/* Random bytes (biased towards the interesting ones) through every medium, with and
 * without a bound: valid UTF-8 out, nothing hidden, within the bound, length as told. */
static void
test_random(void **state)
{
	static const unsigned char pool[] = { '@', '<', '>', '&', '*', '_', '~', '`', '[', ']',
					      '\\', '#', '|', '\n', 0x01, 'a', 0x80, 0xbf, 0xc2,
					      0xe2, 0x80, 0xae, 0xf0, 0x9f, 0xed, 0xa0, 0xff };
	unsigned seed = 53;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		char in[64], out[1024];
		size_t len = (size_t)(rand_r(&seed) % 63), max = (size_t)(rand_r(&seed) % 40), n;
		enum render_medium m = (enum render_medium)(rand_r(&seed) % RENDER_N);
		const unsigned char *p, *end;
		size_t units = 0;

		for (size_t i = 0; i < len; i++)
			in[i] = (char)pool[rand_r(&seed) % sizeof(pool)];
		in[len] = '\0';
		n = render_text(m, in, sizeof(in), max, out, sizeof(out));
		assert_true(n < sizeof(out));
		assert_int_equal(strlen(out), n);
		p = (const unsigned char *)out;
		end = p + n;
		while (p < end) {
			long c = decode(&p, end);

			if (c < 0 || bad_char(c))
				fail_msg("medium %d: U+%04lX in output of round %d", (int)m,
					 c < 0 ? 0xFFFFFul : (unsigned long)c, round);
			if (m == RENDER_ASCII)
				assert_true(c >= 0x20 && c < 0x7f);
			units += c > 0xffff ? 2 : 1;
		}
		if (max > 0)
			assert_true(units <= max);
	}
}

/* ---- event.h: the UTF-8 primitives ---- */

static void
test_utf8(void **state)
{
	static const struct {
		const char *s;
		size_t n, len;
		bool valid;
		uint32_t cp;
	} next[] = {
		{ "A", 1, 1, true, 'A' },
		{ "\xc3\xa9", 2, 2, true, 0xe9 },
		{ "\xe2\x82\xac", 3, 3, true, 0x20ac },
		{ "\xf0\x9f\x98\x80", 4, 4, true, 0x1f600 },
		{ "\xf4\x8f\xbf\xbf", 4, 4, true, 0x10ffff },
		{ "\xe2\x82\xac", 2, 2, false, 0xfffd },   /* cut by n */
		{ "\xe2\x82" "A", 3, 2, false, 0xfffd },
		{ "\xe0\x9f\xbf", 3, 1, false, 0xfffd },   /* overlong: E0 takes A0.. only */
		{ "\xed\xa0\x80", 3, 1, false, 0xfffd },   /* surrogate: ED takes ..9F only */
		{ "\xf0\x8f\xbf\xbf", 4, 1, false, 0xfffd },
		{ "\xf4\x90\x80\x80", 4, 1, false, 0xfffd },
		{ "\xf5\x80", 2, 1, false, 0xfffd },
		{ "\xc1\xbf", 2, 1, false, 0xfffd },
		{ "\x80", 1, 1, false, 0xfffd },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(next) / sizeof(next[0]); i++) {
		uint32_t cp = 1;
		bool ok = !next[i].valid;

		print_message("next %zu\n", i);
		assert_int_equal(alert_utf8_next(next[i].s, next[i].n, &cp, &ok), next[i].len);
		assert_int_equal(ok, next[i].valid);
		assert_int_equal(cp, next[i].cp);
	}
	{
		uint32_t cp;
		bool ok;

		assert_int_equal(alert_utf8_next("", 0, &cp, &ok), 0);
	}
	assert_int_equal(alert_utf8_check("caf\xc3\xa9", 5), 5);
	assert_int_equal(alert_utf8_check("caf\xc3", 4), 3);
	assert_int_equal(alert_utf8_check("ab\xff" "cd", 5), 2);
	/* cut: never inside a character */
	assert_int_equal(alert_utf8_cut("a\xe2\x82\xac", 4, 4), 4);
	assert_int_equal(alert_utf8_cut("a\xe2\x82\xac", 4, 3), 1);
	assert_int_equal(alert_utf8_cut("a\xe2\x82\xac", 4, 2), 1);
	assert_int_equal(alert_utf8_cut("a\xe2\x82\xac" "b", 5, 4), 4);
	assert_int_equal(alert_utf8_cut("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 8, 7), 4);
	assert_int_equal(alert_utf8_cut("abc", 3, 0), 0);
	/* bytes that are no UTF-8 at all are cut where asked */
	assert_int_equal(alert_utf8_cut("a\x80\x80\x80\x80\x80", 6, 5), 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_media),
		cmocka_unit_test(test_hidden),
		cmocka_unit_test(test_ill_formed),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
