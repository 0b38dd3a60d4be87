/*
 * fuzz_state_row: libFuzzer target for the packed rows of state.db (agent/state_row.c) —
 * what a damaged or hostile database file feeds the loader. The first 24 bytes of the
 * input are the references (cycles, seen_ns, first_ns), the rest the body. Whatever
 * decodes must encode to a body that decodes to the same entry.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/state_row.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t again[STATE_ROW_BODY_MAX];
	struct state_row_ref ref = { 1000, 5, 7 };
	struct bl_entry e, e2;
	uint64_t label, label2;
	char why[200];
	size_t n;

	if (size >= 24) {
		memcpy(&ref.cycles, data, 8);
		memcpy(&ref.seen_ns, data + 8, 8);
		memcpy(&ref.first_ns, data + 16, 8);
		data += 24;
		size -= 24;
	}
	memset(&e, 0, sizeof(e));
	if (state_row_decode(data, size, &ref, &e, &label, why, sizeof(why)) != 0) {
		if (memchr(why, '\0', sizeof(why)) == NULL)
			__builtin_trap();
		return 0;
	}
	n = state_row_encode(&e, label, &ref, again);
	if (n > STATE_ROW_BODY_MAX)
		__builtin_trap();
	memset(&e2, 0, sizeof(e2));
	if (state_row_decode(again, n, &ref, &e2, &label2, why, sizeof(why)) != 0 ||
	    label2 != label || memcmp(&e, &e2, sizeof(e)) != 0)
		__builtin_trap(); /* we must read what we write, and read it the same */
	return 0;
}
