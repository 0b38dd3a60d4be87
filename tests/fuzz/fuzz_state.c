/* fuzz_state: libFuzzer target for the JSON state document parser (the legacy state.json,
 * imported into state.db once): whatever the bytes, no crash, a one-line message on failure,
 * and a document that parses must survive format -> parse unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_failure(const struct state *st, const char *err)
{
	/* a failed parse leaves the state as it was (empty here) */
	if (st->n != 0 || st->entries != NULL)
		__builtin_trap();
	if (strncmp(err, STATE_JSON_FILE ": ", strlen(STATE_JSON_FILE) + 2) != 0)
		__builtin_trap();
	/* bytes from the file reach the message only made printable: one clean line */
	for (const char *p = err; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			__builtin_trap();
}

static void
check_success(const struct state *st)
{
	struct state again;
	char err[512], *text = NULL, *text2 = NULL;
	size_t len = 0, len2 = 0;

	for (size_t i = 1; i < st->n; i++)
		if (net_addr_cmp(&st->entries[i - 1].addr, &st->entries[i].addr) >= 0)
			__builtin_trap(); /* sorted, no duplicates: state_find relies on it */
	for (size_t i = 0; i < st->n; i++)
		if (st->entries[i].target == NULL ||
		    strnlen(st->entries[i].target, BL_TARGET_MAX + 1) > BL_TARGET_MAX)
			__builtin_trap();
	if (state_format(st, &text, &len) != 0)
		return; /* out of memory: nothing to check */
	state_init(&again);
	if (state_parse(text, len, &again, err, sizeof(err)) != 0)
		__builtin_trap(); /* we must read what we write */
	if (again.cycles != st->cycles || again.last_cycle_wall != st->last_cycle_wall ||
	    again.last_duration_ns != st->last_duration_ns || again.degraded != st->degraded ||
	    again.n != st->n)
		__builtin_trap();
	/* both arrays were zeroed before filling, so padding compares too; the labels are
	 * each state's own copies, compared as text */
	for (size_t i = 0; i < st->n; i++) {
		struct bl_entry a = again.entries[i], b = st->entries[i];
		if (strcmp(a.target, b.target) != 0)
			__builtin_trap();
		a.target = b.target = NULL;
		if (memcmp(&a, &b, sizeof(a)) != 0)
			__builtin_trap();
	}
	if (state_format(&again, &text2, &len2) == 0 &&
	    (len2 != len || memcmp(text, text2, len) != 0))
		__builtin_trap(); /* formatting is a function of the state */
	free(text2);
	free(text);
	state_clear(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st;
	char err[512];

	state_init(&st);
	err[0] = '\0';
	if (state_parse((const char *)data, size, &st, err, sizeof(err)) == 0)
		check_success(&st);
	else
		check_failure(&st, err);
	state_clear(&st);
	return 0;
}
