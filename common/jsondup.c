/* jsondup: duplicate keys in a JSON text (see jsondup.h). */
#include "common/jsondup.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct key {
	size_t object;     /* which object (numbered as opened) */
	const char *s;     /* the raw string, without its quotes */
	size_t len;
	size_t line;
};

/* The next character of a JSON string's raw text as decoded bytes (escapes expanded; a
 * \u escape as its UTF-8), into out[4]. Returns the bytes written, *adv the raw bytes
 * taken. */
static size_t
decode_one(const char *s, size_t n, char out[4], size_t *adv)
{
	unsigned cp = 0;

	if (s[0] != '\\' || n < 2) {
		out[0] = s[0];
		*adv = 1;
		return 1;
	}
	*adv = 2;
	switch (s[1]) {
	case 'b': out[0] = '\b'; return 1;
	case 'f': out[0] = '\f'; return 1;
	case 'n': out[0] = '\n'; return 1;
	case 'r': out[0] = '\r'; return 1;
	case 't': out[0] = '\t'; return 1;
	case 'u':
		if (n < 6)
			break;
		for (int i = 2; i < 6; i++) {
			char c = s[i];
			cp = cp << 4 | (unsigned)(c >= '0' && c <= '9' ? c - '0' :
				   c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10);
		}
		*adv = 6;
		/* surrogates stay as their own code units: equal text has equal escapes */
		if (cp < 0x80) {
			out[0] = (char)cp;
			return 1;
		}
		if (cp < 0x800) {
			out[0] = (char)(0xc0 | cp >> 6);
			out[1] = (char)(0x80 | (cp & 0x3f));
			return 2;
		}
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	default:
		break;
	}
	out[0] = s[1]; /* \" \\ \/ */
	return 1;
}

/* Compare two raw JSON strings as decoded text. */
static int
raw_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	while (an > 0 && bn > 0) {
		char ca[4], cb[4];
		size_t aa, ab, la = decode_one(a, an, ca, &aa), lb = decode_one(b, bn, cb, &ab);
		int c = memcmp(ca, cb, la < lb ? la : lb);

		if (c != 0)
			return c;
		if (la != lb)
			return la < lb ? -1 : 1;
		a += aa;
		an -= aa;
		b += ab;
		bn -= ab;
	}
	return (an > 0) - (bn > 0);
}

static int
key_order(const void *x, const void *y)
{
	const struct key *a = x, *b = y;
	int c;

	if (a->object != b->object)
		return a->object < b->object ? -1 : 1;
	if ((c = raw_cmp(a->s, a->len, b->s, b->len)) != 0)
		return c;
	return (a->line > b->line) - (a->line < b->line);
}

int
jsondup_find(const char *text, size_t len, char *key, size_t keylen, size_t *line1,
	     size_t *line2)
{
	/* per nesting level: the object's number, or SIZE_MAX for an array */
	size_t *stack = NULL, depth = 0, cap = 0, nobj = 0, line = 1, nkeys = 0, kcap = 0;
	struct key *keys = NULL, *best = NULL;
	int expect_key = 0, rc = -ENOMEM;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (c == '\n') {
			line++;
		} else if (c == '{' || c == '[') {
			if (depth == cap) {
				size_t nc = cap ? cap * 2 : 16;
				size_t *g = realloc(stack, nc * sizeof(*g));
				if (g == NULL)
					goto out;
				stack = g;
				cap = nc;
			}
			stack[depth++] = c == '{' ? nobj++ : SIZE_MAX;
			expect_key = c == '{';
		} else if (c == '}' || c == ']') {
			if (depth > 0)
				depth--;
			expect_key = 0;
		} else if (c == ',') {
			expect_key = depth > 0 && stack[depth - 1] != SIZE_MAX;
		} else if (c == ':') {
			expect_key = 0;
		} else if (c == '"') {
			size_t start = ++i;

			while (i < len && text[i] != '"')
				i += text[i] == '\\' ? 2 : 1;
			if (i > len)
				i = len;
			if (expect_key && depth > 0 && stack[depth - 1] != SIZE_MAX) {
				if (nkeys == kcap) {
					size_t nc = kcap ? kcap * 2 : 64;
					struct key *g = realloc(keys, nc * sizeof(*g));
					if (g == NULL)
						goto out;
					keys = g;
					kcap = nc;
				}
				keys[nkeys++] = (struct key){ stack[depth - 1], text + start,
							      i - start, line };
			}
			expect_key = 0;
		}
	}
	if (nkeys > 1)
		qsort(keys, nkeys, sizeof(*keys), key_order);
	for (size_t k = 1; k < nkeys; k++)
		if (keys[k].object == keys[k - 1].object &&
		    raw_cmp(keys[k].s, keys[k].len, keys[k - 1].s, keys[k - 1].len) == 0 &&
		    (best == NULL || keys[k].line < best[1].line))
			best = &keys[k - 1];
	rc = 0;
	if (best != NULL) {
		size_t o = 0, r = 0;

		while (r < best->len && keylen > 0) {
			char d[4];
			size_t adv, n = decode_one(best->s + r, best->len - r, d, &adv);
			if (o + n >= keylen)
				break;
			memcpy(key + o, d, n);
			o += n;
			r += adv;
		}
		if (keylen > 0)
			key[o] = '\0';
		*line1 = best[0].line;
		*line2 = best[1].line;
		rc = 1;
	}
out:
	free(stack);
	free(keys);
	return rc;
}
