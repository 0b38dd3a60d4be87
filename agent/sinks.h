/*
 * sinks: the config's alert sinks as the plain sink_settings that alerts/ works with.
 * The one place where config_sink meets sink_settings; nothing is copied but the
 * acknowledgement command: strings are borrowed from the config, which must outlive them.
 */
#ifndef WATCH53_SINKS_H
#define WATCH53_SINKS_H

#include <stddef.h>

#include "agent/config.h"
#include "alerts/sink.h"

/*
 * One sink_settings per configured sink, in config order, in *out (free with sinks_free;
 * NULL when there are none). agent_cmd is "watch53 baseline accept -c <absolute config
 * path>" (shell-quoted when the path needs it), so chat messages say how to acknowledge.
 * config_path may be relative (it is made absolute against the working directory).
 * 0 or -ENOMEM.
 */
int sinks_from_config(const struct config *c, const char *config_path,
		      struct sink_settings **out, size_t *n);
void sinks_free(struct sink_settings *s, size_t n);

/*
 * An alertmanager sink posts to every instance of its cluster: *one gets s with url set to
 * the i-th instance's base URL (in buf, len bytes: at least the longest URL + 1). Every
 * other kind has one instance, s itself. Returns the number of instances (*one is left
 * alone when i is not below it).
 */
size_t sinks_instance(const struct sink_settings *s, size_t i, struct sink_settings *one,
		      char *buf, size_t len);

#endif
