/*
 * jsondup: duplicate keys in a JSON text. json-c keeps the last of two equal keys in an
 * object without a word, so a config saying "targets" twice would monitor half of what its
 * author meant; this finds them first. Pure: the text only (already valid JSON).
 */
#ifndef WATCH53_JSONDUP_H
#define WATCH53_JSONDUP_H

#include <stddef.h>

/*
 * The first duplicate key of text[0 .. len) (valid JSON): two equal keys (after their
 * escapes are decoded) in one object. Of all such pairs, the one whose second key comes
 * first. Returns 1 with the key (decoded, cut to keylen - 1 bytes) and the lines (from 1)
 * of both, 0 when there is none, -ENOMEM. O(n log n) in the keys.
 */
int jsondup_find(const char *text, size_t len, char *key, size_t keylen, size_t *line1,
		 size_t *line2);

#endif
