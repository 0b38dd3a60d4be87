/*
 * config: the JSON config file (docs/CONTRACT.md "Config"), loaded and validated completely
 * before anything runs. Every error is one line naming the file and the field
 * ("watch53.json: probe.timeout: \"5x\" is not a duration"); unknown keys are errors with
 * the nearest valid key suggested. Secrets (sink URLs, tokens, signing keys) may be given
 * inline, as KEY_file (a file readable by its owner only) or KEY_env (an environment
 * variable); they never appear in messages or in config_print().
 */
#ifndef WATCH53_CONFIG_H
#define WATCH53_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/shard.h"
#include "alerts/event.h"
#include "alerts/sink.h"
#include "common/log.h"
#include "probes/probe.h"

#define CONFIG_MAX_BYTES (1u << 20) /* a config larger than 1 MiB is refused */
#define CONFIG_DEFAULT_STATE_DIR "/var/lib/watch53"
#define CONFIG_DEFAULT_INTERVAL_NS (300ull * 1000000000ull)
/* "history": {"retention"}: how long raised events are kept in state.db (1d to 100 years) */
#define CONFIG_DEFAULT_HISTORY_RETENTION_NS (400ull * 86400 * 1000000000ull)
#define CONFIG_MAX_HISTORY_RETENTION_NS (36500ull * 86400 * 1000000000ull)
#define CONFIG_SINK_NAME_MAX 63     /* a sink name is also its outbox directory name */

struct config_target {
	char *target;               /* TARGET syntax (address, prefix, range, name, @FILE) */
	char *name;                 /* display name, or NULL */
	bool expect_open[PROBE_NSLOTS]; /* default closed */
	uint64_t interval_ns;       /* 0: the global interval */
	char **zones;               /* zones for axfr and amplification; zones_set false: the
				     * top-level list applies */
	size_t nzones;
	bool zones_set;
	char *runbook_url;          /* what to do about this target's alerts, or NULL: the
				     * top-level runbook_url (alert_url_ok()) */
};

/* Instances of one alertmanager sink at most: an HA cluster is a handful. */
#define CONFIG_AM_URLS_MAX 8

/*
 * Secrets (url, secret, token) hold the value whichever way it was given; *_file and *_env
 * record where it came from (shown by config_print, never the value). telegram: url is
 * optional, the Bot API base (NULL: https://api.telegram.org); every other type needs it.
 */
struct config_sink {
	enum sink_kind type;        /* alerts/sink.h names the kinds */
	char *name;                 /* "slack#1" style default: type + index; [A-Za-z0-9_#-]{1,63} */
	char *url;                  /* secret: webhook URLs carry tokens; alertmanager: the
				     * instances' base URLs, one a line ("urls", or url*
				     * holding several separated by white space) */
	char *secret;               /* secret: webhook signing key (Standard Webhooks: optional
				     * "whsec_" + base64 of 24-64 bytes; checked, not decoded) */
	char *token;                /* secret: telegram bot token / ntfy, alertmanager access
				     * token (Authorization: Bearer) */
	char *url_file, *url_env;   /* where url came from, or NULL (inline) */
	char *secret_file, *secret_env;
	char *token_file, *token_env;
	char *chat_id;              /* telegram */
	unsigned events;            /* bit per enum alert_type; default: all but test */
	enum alert_severity min_severity;
	char *ca_file;
	char **resolve;             /* "host:port:address" pins (CURLOPT_RESOLVE) */
	size_t nresolve;
	char *proxy;
	uint64_t timeout_ns;        /* per delivery attempt, default 10 s */
	uint64_t max_age_ns;        /* give up (dead letter) after, default 72 h */
	char *priority;             /* ntfy: min|low|default|high|urgent (1-5 given are mapped
				     * to these names); NULL: not set (the server's default) */
	/* "mention" (sink_mention_check() syntax for the type), "mention_name" (teams,
	 * telegram) and "mention_min_severity" (default high): messages with an event at or
	 * above it name the mention; ntfy has none and takes mention_min_severity alone (the
	 * priority is raised to urgent). mention_on: either was given. */
	bool mention_on;
	char *mention;
	char *mention_name;
	enum alert_severity mention_min_severity;
};

struct config_probe {
	bool tcp, udp;
	uint16_t port;
	uint64_t timeout_ns;
	unsigned retries;
	unsigned recheck;           /* extra in-cycle passes for a port open last cycle */
	unsigned rate_pps;
	unsigned concurrency;
	char *qname;                /* UDP probe question */
	uint16_t qtype;
	unsigned checks;            /* bit set of enum config_check */
	bool tcp_syn;               /* tcp_mode "syn": stateless SYN probes (needs CAP_NET_RAW) */
};

/* Passive detection (`watch53 sniff`, and the daemon's capture). */
struct config_passive {
	char *interface;            /* the daemon captures here; NULL: no capture */
	bool report_unknown;        /* report responders outside the targets too */
};

struct config {
	char *path;
	struct config_target *targets;
	size_t ntargets;
	char **exclude;
	size_t nexclude;
	uint64_t max_hosts;
	uint64_t interval_ns;
	struct config_probe probe;
	unsigned confirm_open, confirm_closed;
	bool first_run_adopt;       /* "first_run": "adopt": the first cycle of a new state
				     * takes what is open into the baseline, raising nothing */
	char *state_dir;
	struct config_sink *sinks;
	size_t nsinks;
	char *metrics_file;
	char *user;                 /* `watch53 run` drops to this user (--user overrides) */
	char **zones;               /* zones for axfr and amplification (targets may override) */
	size_t nzones;
	char *canary;               /* recursion check: name asked (NULL: ". NS") */
	char *canary_address;       /* ... and the address it must resolve to (NULL: none) */
	enum log_level log_level;
	bool log_syslog;
	uint64_t history_retention_ns; /* events older than this leave the history */
	struct config_passive passive;
	char *runbook_url;          /* default runbook for every target's alerts, or NULL */
	struct shard_spec shard;    /* "shard" (count 0: none) and "shard_seed": this agent's
				     * part of the targets (agent/shard.h) */
	char *vantage;              /* where this agent looks from (events, messages, metrics);
				     * NULL: the host name (config_vantage) */
};

/* The vantage label: c->vantage, else the host name cut to fit (valid UTF-8, at most
 * len - 1 bytes), else "" when there is none. Returns buf. */
const char *config_vantage(const struct config *c, char *buf, size_t len);

/* The runbook URL for events about target_label (alert_event.target: a target's "name",
 * else its "target" text): that target's own runbook_url, else the top-level one; NULL
 * when neither is set. Pure. */
const char *config_runbook_for(const struct config *c, const char *target_label);

/* The zones of target t (its own list, else the top-level one): *n names or NULL. */
char *const *config_target_zones(const struct config *c, const struct config_target *t,
				 size_t *n);

/* Defaults for every field (what `config check` shows for keys left out). Allocates
 * nothing, cannot fail. */
void config_init(struct config *c);
/* Free what a load allocated (secrets are wiped first) and reset *c to the defaults. */
void config_clear(struct config *c);

/* Load and validate FILE. 0, or -EINVAL (invalid: exit 2) / -errno (unreadable) with
 * one line in err. *c is overwritten, not freed: pass it fresh, config_init()ed or
 * config_clear()ed. On error *c is left cleared.
 * Nothing is resolved or connected to: host names are checked for syntax only; @FILE
 * targets, *_file secrets and ca_file are read; *_env secrets come from the environment.
 * A key set to null is the same as a key left out (config_print writes unset optional
 * keys as null, so its output reads back in). */
int config_load(const char *path, struct config *c, char *err, size_t errlen);
/* The same from memory; `name` is used in messages (the fuzz target uses this). */
int config_parse(const char *name, const char *text, size_t len, struct config *c, char *err,
		 size_t errlen);

/* Can one cycle over `addresses` fit the shortest interval at probe.rate? 1 with a one-line
 * warning in msg when even the first attempts (one per address and protocol) take longer
 * than that interval; 0 when they fit, or the rate is unlimited (0). Pure. */
int config_rate_warning(const struct config *c, uint64_t addresses, char *msg, size_t len);

/* Print the effective config as JSON with defaults filled in and secrets redacted. */
int config_print(FILE *f, const struct config *c);

#endif
