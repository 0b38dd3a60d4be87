/* probe_table: every probe module, looked up by name; new probes register here only. */
#include "probes/probe.h"
#include "probes/syn.h"

#include <string.h>

const struct probe_module *const probe_modules[] = {
	&probe_module_tcp,
	&probe_module_udp,
	&probe_module_dnscheck,
	&probe_module_syn, /* needs its scanner as module_arg (syn.h) */
	NULL,
};

const struct probe_module *
probe_module_find(const char *name)
{
	for (size_t i = 0; probe_modules[i] != NULL; i++)
		if (strcmp(probe_modules[i]->name, name) == 0)
			return probe_modules[i];
	return NULL;
}
