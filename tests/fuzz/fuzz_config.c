/* fuzz_config: libFuzzer target feeding arbitrary bytes to the config loader and printer. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[1024];
	size_t n;

	if (devnull == NULL) {
		devnull = fopen("/dev/null", "we");
		if (devnull == NULL)
			__builtin_trap();
	}
	memset(err, 'x', sizeof(err));
	if (config_parse("fuzz.json", (const char *)data, size, &c, err, sizeof(err)) == 0) {
		if (c.ntargets == 0 || c.targets == NULL || c.path == NULL)
			__builtin_trap(); /* a loaded config always has targets */
		if (config_print(devnull, &c) != 0)
			__builtin_trap();
		config_clear(&c);
		return 0;
	}
	/* the message: terminated, one line, naming the file; *c left cleared */
	n = strnlen(err, sizeof(err));
	if (n == 0 || n == sizeof(err) || strncmp(err, "fuzz.json: ", 11) != 0)
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			__builtin_trap();
	if (c.targets != NULL || c.sinks != NULL || c.exclude != NULL || c.path != NULL)
		__builtin_trap();
	config_clear(&c);
	return 0;
}
