/* test_jsondup: duplicate keys found per object, after decoding escapes, the earliest pair
 * reported with both lines; equal keys in different objects are no duplicates. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/jsondup.h"

static int
find(const char *text, char *key, size_t *l1, size_t *l2)
{
	return jsondup_find(text, strlen(text), key, 64, l1, l2);
}

static void
test_none(void **state)
{
	char key[64];
	size_t l1, l2;

	(void)state;
	assert_int_equal(find("{}", key, &l1, &l2), 0);
	/* the same key in two objects, a value equal to a key, keys inside arrays */
	assert_int_equal(find("{\"a\": {\"x\": 1}, \"b\": {\"x\": \"a\"}, \"c\": [{\"x\": 1}, "
			      "{\"x\": 2}]}", key, &l1, &l2), 0);
	/* a string holding an escaped quote and a colon is one value */
	assert_int_equal(find("{\"a\": \"\\\"b\\\": 1\", \"b\": 2}", key, &l1, &l2), 0);
}

static void
test_found(void **state)
{
	char key[64];
	size_t l1, l2;

	(void)state;
	assert_int_equal(find("{\n \"targets\": [\"a\"],\n \"state_dir\": \"/x\",\n"
			      " \"targets\": [\"b\"]\n}", key, &l1, &l2), 1);
	assert_string_equal(key, "targets");
	assert_int_equal(l1, 2);
	assert_int_equal(l2, 4);
	/* in a nested object, spelled with an escape: still the same key */
	assert_int_equal(find("{\"alerts\": [{\"type\": \"webhook\",\n\"url\": \"a\",\n"
			      "\"\\u0075rl\": \"b\"}]}", key, &l1, &l2), 1);
	assert_string_equal(key, "url");
	assert_int_equal(l1, 2);
	assert_int_equal(l2, 3);
	/* of two pairs, the one whose second key comes first; three equal keys: the first two */
	assert_int_equal(find("{\"z\": 1,\n\"a\": 1,\n\"a\": 2,\n\"z\": 3,\n\"a\": 4}", key, &l1,
			      &l2), 1);
	assert_string_equal(key, "a");
	assert_int_equal(l1, 2);
	assert_int_equal(l2, 3);
}

/* Many keys: sorted, not compared pairwise (a 1 MiB config of keys stays fast). */
static void
test_many(void **state)
{
	size_t n = 100000, cap = n * 16 + 16, off = 0, l1, l2;
	char *text = malloc(cap), key[64];

	(void)state;
	assert_non_null(text);
	off += (size_t)snprintf(text + off, cap - off, "{");
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(text + off, cap - off, "%s\"k%zu\":%zu\n", i ? "," : "",
					i, i);
	off += (size_t)snprintf(text + off, cap - off, "}");
	assert_int_equal(jsondup_find(text, off, key, sizeof(key), &l1, &l2), 0);
	/* the last key repeats the first */
	off -= 1;
	off += (size_t)snprintf(text + off, cap - off, ",\"k0\":1}");
	assert_int_equal(jsondup_find(text, off, key, sizeof(key), &l1, &l2), 1);
	assert_string_equal(key, "k0");
	assert_int_equal(l1, 1);
	assert_int_equal(l2, n + 1);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_found),
		cmocka_unit_test(test_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
