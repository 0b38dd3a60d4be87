/*
 * fuzz_outbox: libFuzzer target for what the outbox loaders read back from disk — event
 * files (outbox_entry_parse: UTF-8, alert_event_from_json) and their .meta files
 * (outbox_meta_parse). The first byte picks which. An event that parses must serialize
 * and parse back to the same event; messages are NUL-terminated.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alerts/outbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char again[ALERT_JSON_MAX + 1];
	struct alert_event ev, ev2;
	struct outbox_meta m;
	char err[256];
	int n;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		(void)outbox_meta_parse((const char *)data + 1, size - 1, &m);
		return 0;
	}
	memset(err, 0, sizeof(err));
	if (outbox_entry_parse((const char *)data + 1, size - 1, NULL, &ev, err,
			       sizeof(err)) != 0) {
		if (memchr(err, '\0', sizeof(err)) == NULL)
			__builtin_trap();
		return 0;
	}
	n = alert_event_to_json(&ev, again, sizeof(again));
	if (n < 0)
		__builtin_trap();
	if (outbox_entry_parse(again, (size_t)n, ev.id, &ev2, err, sizeof(err)) != 0)
		__builtin_trap();
	return 0;
}
