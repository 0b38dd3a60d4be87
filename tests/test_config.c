/* test_config: the config loader: values and defaults, one exact message per kind of
 * error, secrets (file modes, environment, redaction), and hostile files. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/config.h"
#include "probes/dnscheck.h"
#include "agent/scan.h"
#include "alerts/event.h"
#include "common/util.h"

#define NAME "watch53.json"
#define T1 "\"targets\": [\"127.53.0.1\"]"
/* A secret value tests look for in every message and in config_print output. */
#define SEKRIT "SEKRIT"
/* whsec_ + base64 of 30 bytes ("SEKRIT" five times) */
#define SIGNING_KEY "whsec_U0VLUklUU0VLUklUU0VLUklUU0VLUklUU0VLUklU"

static char tmpdir[64];
static char created[32][128];
static size_t ncreated;

static int
group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	while (ncreated > 0)
		unlink(created[--ncreated]);
	rmdir(tmpdir);
	return 0;
}

/* A file in tmpdir with content and mode; its path is kept for teardown. */
static const char *
make_file(const char *content, size_t len, mode_t mode)
{
	char *path;
	int fd;

	assert_true(ncreated < sizeof(created) / sizeof(created[0]));
	path = created[ncreated];
	snprintf(path, sizeof(created[0]), "%s/f.XXXXXX", tmpdir);
	fd = mkstemp(path);
	assert_true(fd != -1);
	ncreated++;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, content + off, len - off);
		assert_true(w > 0);
		off += (size_t)w;
	}
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
	return path;
}

static const char *
make_text_file(const char *content, mode_t mode)
{
	return make_file(content, strlen(content), mode);
}

/* Every message is one line that starts with the file name. */
static void
assert_one_line(const char *err, const char *name)
{
	assert_true(err[0] != '\0');
	assert_true(strncmp(err, name, strlen(name)) == 0);
	for (const char *p = err; *p != '\0'; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static void
parse_ok(const char *json, struct config *c)
{
	char err[1024] = "";
	int rc = config_parse(NAME, json, strlen(json), c, err, sizeof(err));

	if (rc != 0)
		print_error("unexpected error: %s\n", err);
	assert_int_equal(rc, 0);
}

static void
parse_fails(const char *json, const char *expected)
{
	struct config c;
	char err[1024] = "";
	int rc = config_parse(NAME, json, strlen(json), &c, err, sizeof(err));

	if (rc == 0 || strcmp(err, expected) != 0)
		print_error("input:    %s\nexpected: %s\ngot:      %s (rc %d)\n", json, expected, err,
			    rc);
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err, expected);
	assert_one_line(err, NAME);
	/* left cleared: nothing half-loaded survives an error */
	assert_null(c.targets);
	assert_int_equal(c.ntargets, 0);
	assert_null(c.sinks);
	assert_int_equal(c.nsinks, 0);
	assert_null(c.path);
	assert_string_equal(c.state_dir, CONFIG_DEFAULT_STATE_DIR);
	assert_null(strstr(err, SEKRIT));
	assert_null(strstr(err, "U0VLUklU"));
	config_clear(&c);
}

static char *
print_to_string(const struct config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(config_print(f, c), 0);
	assert_int_equal(fclose(f), 0);
	assert_non_null(buf);
	return buf;
}

/* ---- values and defaults ---- */

static void
test_defaults(void **state)
{
	struct config c;

	(void)state;
	config_init(&c);
	assert_int_equal(c.interval_ns, 300 * NS_PER_SEC);
	assert_true(c.probe.tcp);
	assert_true(c.probe.udp);
	assert_int_equal(c.probe.port, 53);
	assert_int_equal(c.probe.timeout_ns, NS_PER_SEC);
	assert_int_equal(c.probe.retries, 2);
	assert_int_equal(c.probe.recheck, 2);
	assert_int_equal(c.probe.rate_pps, SCAN_DEFAULT_RATE);
	assert_int_equal(c.probe.concurrency, SCAN_DEFAULT_CONCURRENCY);
	assert_string_equal(c.probe.qname, ".");
	assert_int_equal(c.probe.qtype, 2); /* NS */
	assert_int_equal(c.probe.checks, 0);
	assert_int_equal(c.confirm_open, 1);
	assert_int_equal(c.confirm_closed, 3);
	assert_false(c.first_run_adopt);
	assert_string_equal(c.state_dir, CONFIG_DEFAULT_STATE_DIR);
	assert_int_equal(c.max_hosts, 1u << 20);
	assert_int_equal(c.log_level, LOG_LVL_INFO);
	assert_false(c.log_syslog);
	assert_true(c.history_retention_ns == 400ull * 86400 * NS_PER_SEC);
	assert_null(c.metrics_file);
	assert_int_equal(c.ntargets, 0);
	assert_int_equal(c.nsinks, 0);
	/* init allocates nothing: clearing twice, or a never-loaded config, is safe */
	config_clear(&c);
	config_clear(&c);
}

static void
test_minimal(void **state)
{
	struct config c;

	(void)state;
	parse_ok("{" T1 "}", &c);
	assert_string_equal(c.path, NAME);
	assert_int_equal(c.ntargets, 1);
	assert_string_equal(c.targets[0].target, "127.53.0.1");
	assert_null(c.targets[0].name);
	assert_false(c.targets[0].expect_open[PROBE_SLOT_TCP]);
	assert_false(c.targets[0].expect_open[PROBE_SLOT_UDP]);
	assert_int_equal(c.targets[0].interval_ns, 0);
	assert_int_equal(c.nexclude, 0);
	assert_int_equal(c.nsinks, 0);
	/* everything else is the default */
	assert_int_equal(c.interval_ns, CONFIG_DEFAULT_INTERVAL_NS);
	assert_int_equal(c.probe.port, 53);
	assert_int_equal(c.probe.timeout_ns, NS_PER_SEC);
	assert_string_equal(c.probe.qname, ".");
	assert_string_equal(c.state_dir, CONFIG_DEFAULT_STATE_DIR);
	assert_int_equal(c.confirm_closed, 3);
	config_clear(&c);
	assert_null(c.targets);
	assert_null(c.path);
}

static const char full_config[] =
	"{\n"
	"  \"targets\": [\"127.53.0.0/24\", \"ns1.example.test\", \"127.53.1.1-127.53.1.40\",\n"
	"              {\"target\": \"127.53.0.5\", \"name\": \"primary dns\",\n"
	"               \"expect\": {\"tcp\": \"open\", \"udp\": \"closed\"}, \"interval\": \"30s\"},\n"
	"              {\"target\": \"fd53::1\", \"expect\": {\"udp\": \"open\"}}],\n"
	"  \"exclude\": [\"127.53.0.7\", \"127.53.0.128/25\"],\n"
	"  \"max_hosts\": 5000,\n"
	"  \"interval\": \"10m\",\n"
	"  \"probe\": {\"tcp\": true, \"udp\": false, \"port\": 5353, \"timeout\": \"800ms\",\n"
	"            \"retries\": 3, \"recheck\": 0, \"rate\": 2000, \"concurrency\": 1024,\n"
	"            \"qname\": \"example.test\", \"qtype\": \"soa\",\n"
	"            \"checks\": [\"recursion\", \"version\", \"tcp-dns\"]},\n"
	"  \"confirm\": {\"open\": 2, \"closed\": 5},\n"
	"  \"state_dir\": \"/var/lib/w53\",\n"
	"  \"alerts\": [\n"
	"    {\"type\": \"slack\", \"url\": \"https://hooks.slack.test/T0/B0/x\"},\n"
	"    {\"type\": \"webhook\", \"name\": \"hook\", \"url\": \"http://127.0.0.1:8053/w53\",\n"
	"     \"secret\": \"" SIGNING_KEY "\", \"events\": [\"opened\", \"closed\", \"changed\"],\n"
	"     \"min_severity\": \"high\", \"resolve\": [\"hooks.example.test:443:127.0.0.1\",\n"
	"     \"v6.example.test:8443:[::1],127.0.0.2\"], \"proxy\": \"socks5h://proxy.test:1080\",\n"
	"     \"timeout\": \"3s\", \"max_age\": \"24h\"},\n"
	"    {\"type\": \"telegram\", \"token\": \"123456:ABC-def_1\", \"chat_id\": -1001234567890},\n"
	"    {\"type\": \"ntfy\", \"url\": \"https://ntfy.test/w53\", \"priority\": 4, \"token\": \"tk\"},\n"
	"    {\"type\": \"ntfy\", \"url\": \"https://ntfy.test/w54\", \"priority\": \"urgent\"}\n"
	"  ],\n"
	"  \"metrics_file\": \"/var/lib/prometheus/node-exporter/watch53.prom\",\n"
	"  \"log\": {\"level\": \"debug\", \"syslog\": true}\n"
	"}\n";

static void
test_full(void **state)
{
	struct config c;
	const struct config_sink *s;

	(void)state;
	parse_ok(full_config, &c);
	assert_int_equal(c.ntargets, 5);
	assert_string_equal(c.targets[1].target, "ns1.example.test");
	assert_string_equal(c.targets[3].target, "127.53.0.5");
	assert_string_equal(c.targets[3].name, "primary dns");
	assert_true(c.targets[3].expect_open[PROBE_SLOT_TCP]);
	assert_false(c.targets[3].expect_open[PROBE_SLOT_UDP]);
	assert_int_equal(c.targets[3].interval_ns, 30 * NS_PER_SEC);
	assert_false(c.targets[4].expect_open[PROBE_SLOT_TCP]);
	assert_true(c.targets[4].expect_open[PROBE_SLOT_UDP]);
	assert_int_equal(c.nexclude, 2);
	assert_string_equal(c.exclude[1], "127.53.0.128/25");
	assert_int_equal(c.max_hosts, 5000);
	assert_int_equal(c.interval_ns, 600 * NS_PER_SEC);
	assert_true(c.probe.tcp);
	assert_false(c.probe.udp);
	assert_int_equal(c.probe.port, 5353);
	assert_int_equal(c.probe.timeout_ns, 800 * NS_PER_MS);
	assert_int_equal(c.probe.retries, 3);
	assert_int_equal(c.probe.recheck, 0);
	assert_int_equal(c.probe.rate_pps, 2000);
	assert_int_equal(c.probe.concurrency, 1024);
	assert_string_equal(c.probe.qname, "example.test");
	assert_int_equal(c.probe.qtype, 6); /* SOA */
	assert_int_equal(c.probe.checks,
			 DNSCHECK_RECURSION | DNSCHECK_VERSION | DNSCHECK_TCP_DNS);
	assert_int_equal(c.confirm_open, 2);
	assert_int_equal(c.confirm_closed, 5);
	assert_string_equal(c.state_dir, "/var/lib/w53");
	assert_string_equal(c.metrics_file, "/var/lib/prometheus/node-exporter/watch53.prom");
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
	assert_true(c.log_syslog);

	assert_int_equal(c.nsinks, 5);
	s = &c.sinks[0];
	assert_int_equal(s->type, SINK_KIND_SLACK);
	assert_string_equal(s->name, "slack#1");
	assert_string_equal(s->url, "https://hooks.slack.test/T0/B0/x");
	assert_null(s->url_file);
	assert_null(s->url_env);
	assert_int_equal(s->events, 0x1ff); /* all nine, not test */
	assert_int_equal(s->min_severity, SEV_INFO);
	assert_int_equal(s->timeout_ns, 10 * NS_PER_SEC);
	assert_int_equal(s->max_age_ns, 72 * 3600 * NS_PER_SEC);
	assert_null(s->secret);
	assert_null(s->proxy);
	assert_int_equal(s->nresolve, 0);

	s = &c.sinks[1];
	assert_int_equal(s->type, SINK_KIND_WEBHOOK);
	assert_string_equal(s->name, "hook");
	assert_string_equal(s->secret, SIGNING_KEY);
	/* opened brings exposed, its first-sight form */
	/* opened brings its other forms: exposed and recovered */
	assert_int_equal(s->events, (1u << ALERT_OPENED) | (1u << ALERT_CLOSED) |
					    (1u << ALERT_CHANGED) | (1u << ALERT_EXPOSED) |
					    (1u << ALERT_RECOVERED));
	assert_int_equal(s->min_severity, SEV_HIGH);
	assert_int_equal(s->nresolve, 2);
	assert_string_equal(s->resolve[1], "v6.example.test:8443:[::1],127.0.0.2");
	assert_string_equal(s->proxy, "socks5h://proxy.test:1080");
	assert_int_equal(s->timeout_ns, 3 * NS_PER_SEC);
	assert_int_equal(s->max_age_ns, 24 * 3600 * NS_PER_SEC);

	s = &c.sinks[2];
	assert_int_equal(s->type, SINK_KIND_TELEGRAM);
	assert_string_equal(s->name, "telegram#1");
	assert_null(s->url);
	assert_string_equal(s->token, "123456:ABC-def_1");
	assert_string_equal(s->chat_id, "-1001234567890");

	assert_string_equal(c.sinks[3].name, "ntfy#1");
	assert_string_equal(c.sinks[3].priority, "high");
	assert_string_equal(c.sinks[3].token, "tk");
	assert_string_equal(c.sinks[4].name, "ntfy#2");
	assert_string_equal(c.sinks[4].priority, "urgent");
	assert_null(c.sinks[4].token);
	config_clear(&c);
}

static void
test_names_and_checks(void **state)
{
	unsigned bits = 99;

	(void)state;
	assert_string_equal(sink_kind_name(SINK_KIND_GOOGLECHAT), "googlechat");
	assert_string_equal(sink_kind_name(SINK_KIND_NTFY), "ntfy");
	assert_int_equal(dnscheck_check_parse("tcp-dns", &bits), 0);
	assert_int_equal(bits, DNSCHECK_TCP_DNS);
	assert_int_equal(dnscheck_check_parse("all", &bits), 0);
	assert_int_equal(bits, DNSCHECK_ALL);
	assert_int_equal(dnscheck_check_parse("none", &bits), 0);
	assert_int_equal(bits, 0);
	assert_int_equal(dnscheck_check_parse("axfrr", &bits), -EINVAL);
	assert_string_equal(dnscheck_check_name(DNSCHECK_AMPLIFICATION), "amplification");
	assert_null(dnscheck_check_name(3));
}

static void
test_checks_all_none_and_nulls(void **state)
{
	struct config c;

	(void)state;
	parse_ok("{" T1 ", \"probe\": {\"checks\": [\"all\"]}}", &c);
	assert_int_equal(c.probe.checks, DNSCHECK_ALL);
	config_clear(&c);
	parse_ok("{" T1 ", \"probe\": {\"checks\": [\"none\"]}}", &c);
	assert_int_equal(c.probe.checks, 0);
	config_clear(&c);
	/* null is "left out": the default */
	parse_ok("{" T1 ", \"metrics_file\": null, \"probe\": {\"port\": null}, "
		 "\"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", \"proxy\": null}]}",
		 &c);
	assert_null(c.metrics_file);
	assert_int_equal(c.probe.port, 53);
	assert_null(c.sinks[0].proxy);
	config_clear(&c);
}

/* zones (top level and per target) and the canary: parsed, inherited, printed, read back */
static void
test_zones_and_canary(void **state)
{
	struct config c, again;
	char *out, *out2, err[1024];
	char *const *z;
	size_t n;

	(void)state;
	parse_ok("{\"targets\": [\"127.0.0.1\", {\"target\": \"127.0.0.2\", \"zones\": [\"b.test\"]},"
		 " {\"target\": \"127.0.0.3\", \"zones\": []}], \"zones\": [\"a.test\", \"c.test.\"],"
		 " \"canary\": {\"name\": \"canary.example.\", \"address\": \"2001:db8::53\"},"
		 " \"probe\": {\"checks\": [\"axfr\"]}}", &c);
	z = config_target_zones(&c, &c.targets[0], &n);
	assert_int_equal(n, 2);
	assert_string_equal(z[0], "a.test");
	assert_string_equal(z[1], "c.test.");
	z = config_target_zones(&c, &c.targets[1], &n);
	assert_int_equal(n, 1);
	assert_string_equal(z[0], "b.test");
	/* an empty list of its own: no zones for that target, whatever the top level says */
	config_target_zones(&c, &c.targets[2], &n);
	assert_int_equal(n, 0);
	assert_string_equal(c.canary, "canary.example.");
	assert_string_equal(c.canary_address, "2001:db8::53");
	out = print_to_string(&c);
	assert_non_null(strstr(out, "\"canary\": {"));
	assert_non_null(strstr(out, "\"address\": \"2001:db8::53\""));
	config_clear(&c);
	assert_int_equal(config_parse(NAME, out, strlen(out), &again, err, sizeof(err)), 0);
	out2 = print_to_string(&again);
	assert_string_equal(out, out2);
	config_target_zones(&again, &again.targets[0], &n);
	assert_int_equal(n, 2);
	config_target_zones(&again, &again.targets[2], &n);
	assert_int_equal(n, 0);
	free(out);
	free(out2);
	config_clear(&again);

	/* defaults: no zones, no canary, printed as [] and null */
	parse_ok("{" T1 "}", &c);
	assert_null(c.canary);
	config_target_zones(&c, &c.targets[0], &n);
	assert_int_equal(n, 0);
	out = print_to_string(&c);
	assert_non_null(strstr(out, "\"canary\": null"));
	assert_non_null(strstr(out, "\"zones\": [\n  ]"));
	assert_non_null(strstr(out, "\"zones\": null")); /* the target inherits */
	free(out);
	config_clear(&c);
	parse_ok("{" T1 ", \"canary\": {\"name\": \"c.example\"}}", &c);
	assert_null(c.canary_address);
	config_clear(&c);

	parse_fails("{" T1 ", \"zones\": [\"a..b\"]}",
		    NAME ": zones[0]: \"a..b\" is not a valid DNS name");
	parse_fails("{" T1 ", \"zones\": [\"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\", \"8\", \"9\"]}",
		    NAME ": zones: at most 8 zones");
	parse_fails("{\"targets\": [{\"target\": \"127.0.0.1\", \"zones\": \"a.test\"}]}",
		    NAME ": targets[0].zones: expected an array of zone names, got \"a.test\"");
	parse_fails("{" T1 ", \"canary\": {\"address\": \"192.0.2.1\"}}",
		    NAME ": canary.name: required");
	parse_fails("{" T1 ", \"canary\": {\"name\": \"c.example\", \"address\": \"192.0.2\"}}",
		    NAME ": canary.address: \"192.0.2\" is not an IP address");
	parse_fails("{" T1 ", \"canary\": {\"name\": \"c.example\", \"adress\": \"192.0.2.1\"}}",
		    NAME ": canary.adress: unknown key (did you mean \"address\"?)");
	parse_fails("{" T1 ", \"canary\": \"c.example\"}",
		    NAME ": canary: expected an object, got \"c.example\"");
}

/* ---- one case per kind of error, with the exact message ---- */

static void
test_errors(void **state)
{
	static const struct {
		const char *json;
		const char *msg;
	} cases[] = {
		/* JSON syntax and shape */
		{ "", NAME ": empty file" },
		{ " \n\t ", NAME ": empty file" },
		{ "{\n  \"targets\": [\"a\",]\n}", NAME ": line 2, column 19: unexpected character" },
		{ "{\"targets\": [\"127.53.0.1\"", NAME ": line 1, column 26: unexpected end of data "
						 "(truncated?)" },
		{ "{" T1 "} x", NAME ": line 1, column 29: unexpected text after the end of the JSON "
				 "document" },
		{ "{\"targets\" 1}", NAME ": line 1, column 12: object property name separator ':' "
				  "expected" },
		{ "{\"a\": \"\xff\"}", NAME ": line 1, column 8: invalid utf-8 string" },
		{ "{\"a\": 1 /* c */}", NAME ": line 1, column 9: object value separator ',' expected" },
		{ "{\x01}", NAME ": not a text file" },
		{ "[" T1 "]", NAME ": line 1, column 11: array value separator ',' expected" },
		{ "[]", NAME ": expected a JSON object at the top level, got an array" },
		{ "{}", NAME ": targets: required" },
		/* unknown keys */
		{ "{" T1 ", \"interva\": \"5m\"}", NAME ": interva: unknown key (did you mean "
						  "\"interval\"?)" },
		{ "{" T1 ", \"probe\": {\"timout\": \"1s\"}}", NAME ": probe.timout: unknown key (did "
							   "you mean \"timeout\"?)" },
		{ "{" T1 ", \"Probe\": {}}", NAME ": Probe: unknown key (did you mean \"probe\"?)" },
		{ "{" T1 ", \"zzzzzzz\": 1}", NAME ": zzzzzzz: unknown key (valid: targets, exclude, "
					      "max_hosts, interval, probe, confirm, first_run, state_dir, "
					      "alerts, metrics_file, log, history, zones, canary, "
					      "passive, user, runbook_url, shard, shard_seed, vantage)" },
		{ "{" T1 ", \"user\": \"\"}", NAME ": user: is empty" },
		{ "{" T1 ", \"vantage\": \"\"}", NAME ": vantage: is empty" },
		{ "{" T1 ", \"vantage\": \"dc\\neast\"}", NAME ": vantage: contains control "
						      "characters or is not UTF-8" },
		{ "{" T1 ", \"vantage\": \"0123456789012345678901234567890123456789012345678901234567890123\"}",
		  NAME ": vantage: longer than 63 bytes" },
		{ "{" T1 ", \"vantage\": 7}", NAME ": vantage: expected a string, got 7" },
		{ "{" T1 ", \"user\": \"Root; rm\"}", NAME ": user: is not a user name (lowercase "
						  "letters, digits, '_' and '-', at most 32)" },
		{ "{" T1 ", \"\": 1}", NAME ": \"\": unknown key (valid: targets, exclude, max_hosts, "
				      "interval, probe, confirm, first_run, state_dir, alerts, "
				      "metrics_file, log, history, zones, canary, passive, user, "
				      "runbook_url, shard, shard_seed, vantage)" },
		{ "{" T1 ", \"log\": {\"color\": true}}", NAME ": log.color: unknown key (valid: level, "
						       "syslog)" },
		{ "{" T1 ", \"a\\nb\": 1}", NAME ": a?b: unknown key (valid: targets, exclude, "
					   "max_hosts, interval, probe, confirm, first_run, state_dir, "
					   "alerts, metrics_file, log, history, zones, canary, "
					   "passive, user, runbook_url, shard, shard_seed, vantage)" },
		/* shards: I of N, 1-based */
		{ "{" T1 ", \"shard\": \"0/3\"}", NAME ": shard: '0/3': I must be from 1 to 3 "
						 "(shards count from 1)" },
		{ "{" T1 ", \"shard\": \"4/3\"}", NAME ": shard: '4/3': I must be from 1 to 3 "
						 "(shards count from 1)" },
		{ "{" T1 ", \"shard\": \"1/0\"}", NAME ": shard: '1/0': N must be from 1 to 65535" },
		{ "{" T1 ", \"shard\": \"junk\"}", NAME ": shard: 'junk' is not I/N, shard I of N "
						  "(e.g. 2/3)" },
		{ "{" T1 ", \"shard\": 3}", NAME ": shard: expected a string, got 3" },
		{ "{" T1 ", \"shard_seed\": -1}", NAME ": shard_seed: expected an integer from 0 to "
						"18446744073709551614, got -1" },
		{ "{" T1 ", \"shard_seed\": \"7\"}", NAME ": shard_seed: expected an integer from 0 "
						   "to 18446744073709551614, got \"7\"" },
		/* types */
		{ "{" T1 ", \"probe\": {\"port\": \"53\"}}", NAME ": probe.port: expected an integer "
							   "from 1 to 65535, got \"53\"" },
		{ "{" T1 ", \"probe\": {\"retries\": 1.5}}", NAME ": probe.retries: expected an "
							    "integer from 0 to 10, got 1.5" },
		{ "{" T1 ", \"probe\": {\"tcp\": \"yes\"}}", NAME ": probe.tcp: expected true or false, "
							    "got \"yes\"" },
		{ "{" T1 ", \"probe\": []}", NAME ": probe: expected an object, got an array" },
		{ "{" T1 ", \"state_dir\": 5}", NAME ": state_dir: expected a string, got 5" },
		{ "{" T1 ", \"exclude\": [\"127.0.0.1\", 7]}", NAME ": exclude[1]: expected a string, "
							      "got 7" },
		{ "{\"targets\": \"127.0.0.1\"}", NAME ": targets: expected an array of targets, got "
						  "\"127.0.0.1\"" },
		{ "{\"targets\": [\"127.53.0.1\\u0000x\"]}", NAME ": targets[0]: contains a NUL "
							      "character" },
		/* ranges */
		{ "{" T1 ", \"probe\": {\"port\": 70000}}", NAME ": probe.port: expected an integer "
							   "from 1 to 65535, got 70000" },
		{ "{" T1 ", \"confirm\": {\"open\": -1}}", NAME ": confirm.open: expected an integer "
							  "from 1 to 100, got -1" },
		{ "{" T1 ", \"probe\": {\"concurrency\": 0}}", NAME ": probe.concurrency: expected an "
							      "integer from 1 to 65536, got 0" },
		{ "{" T1 ", \"max_hosts\": 0}", NAME ": max_hosts: expected an integer from 1 to "
					       "2^63-1 (9223372036854775807), got 0" },
		{ "{" T1 ", \"max_hosts\": 9223372036854775808}", NAME ": max_hosts: expected an "
		  "integer from 1 to 2^63-1 (9223372036854775807), got 9223372036854775808" },
		{ "{" T1 ",\n\"state_dir\": \"/a\",\n\"state_dir\": \"/b\"}", NAME ": duplicate "
		  "key \"state_dir\" at lines 2 and 3 (only one may be given)" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"webhook\",\n\"url\": \"http://127.0.0.1/a\",\n"
		  "\"url\": \"http://127.0.0.1/b\"}]}", NAME ": duplicate key \"url\" at lines 2 and 3 "
		  "(only one may be given)" },
		{ "{\"targets\": [\"10.0.0.0/8\"]}", NAME ": targets: cover more than max_hosts "
						     "(1048576) addresses; narrow them or raise "
						     "max_hosts" },
		{ "{\"targets\": [\"127.53.0.0/24\"], \"max_hosts\": 255}", NAME ": targets: cover "
			"more than max_hosts (255) addresses; narrow them or raise max_hosts" },
		/* durations */
		{ "{" T1 ", \"probe\": {\"timeout\": \"5x\"}}", NAME ": probe.timeout: \"5x\" is not a "
							       "duration (e.g. 800ms, 2s, 5m)" },
		{ "{" T1 ", \"probe\": {\"timeout\": \"90s\"}}", NAME ": probe.timeout: \"90s\" is out "
							        "of range (1ms to 1m)" },
		{ "{" T1 ", \"interval\": \"500ms\"}", NAME ": interval: \"500ms\" is out of range (1s "
						       "to 168h)" },
		{ "{" T1 ", \"interval\": \"1000h\"}", NAME ": interval: \"1000h\" is out of range (1s "
						       "to 168h)" },
		{ "{" T1 ", \"history\": {\"retention\": \"12h\"}}", NAME ": history.retention: "
			"\"12h\" is out of range (24h to 36500d)" },
		{ "{" T1 ", \"history\": {\"retention\": \"400y\"}}", NAME ": history.retention: "
			"\"400y\" is not a duration (e.g. 800ms, 2s, 5m)" },
		{ "{" T1 ", \"history\": {\"keep\": \"1d\"}}", NAME ": history.keep: unknown key (valid: retention)" },
		{ "{" T1 ", \"interval\": 300}", NAME ": interval: expected a duration string (e.g. "
						"\"800ms\", \"2s\", \"5m\"), got 300" },
		/* names from a fixed list */
		{ "{" T1 ", \"log\": {\"level\": \"debg\"}}", NAME ": log.level: \"debg\" is not one of "
							     "error, warn, info, debug (did you mean "
							     "\"debug\"?)" },
		{ "{" T1 ", \"log\": {\"level\": \"verbose\"}}", NAME ": log.level: \"verbose\" is not "
								"one of error, warn, info, debug" },
		{ "{" T1 ", \"probe\": {\"checks\": [\"recursio\"]}}", NAME ": probe.checks[0]: "
			"\"recursio\" is not one of recursion, version, axfr, amplification, tcp-dns, "
			"all, none (did you mean \"recursion\"?)" },
		{ "{" T1 ", \"probe\": {\"checks\": [\"version\", \"all\"]}}", NAME ": probe.checks[1]: "
			"\"all\" must be the only entry" },
		{ "{" T1 ", \"probe\": {\"qtype\": \"XYZ\"}}", NAME ": probe.qtype: \"XYZ\" is not a "
							      "DNS type (e.g. NS, A, SOA, TYPE65)" },
		{ "{" T1 ", \"probe\": {\"qname\": \"a..b\"}}", NAME ": probe.qname: \"a..b\" is not a "
							       "valid DNS name" },
		{ "{" T1 ", \"probe\": {\"tcp\": false, \"udp\": false}}", NAME ": probe: tcp and udp "
			"are both false: nothing would be probed" },
		{ "{" T1 ", \"state_dir\": \"var/lib/watch53\"}", NAME ": state_dir: "
			"\"var/lib/watch53\" is not an absolute path" },
		/* targets */
		{ "{\"targets\": []}", NAME ": targets: must list at least one target" },
		{ "{\"targets\": [\"127.53.0.1\", \"127.0.0.256\"]}", NAME ": targets[1]: bad address "
			"'127.0.0.256': not a valid IPv4 address (four decimal octets 0-255)" },
		{ "{\"targets\": [\"ns_1..example\"]}", NAME ": targets[0]: bad target "
			"'ns_1..example': not an address, prefix, range or host name (empty label in host name)" },
		{ "{\"targets\": [\"-\"]}", NAME ": targets[0]: \"-\" (stdin) cannot be used in a "
					    "config file; use @FILE" },
		{ "{\"targets\": [\"@/nonexistent/w53-targets\"]}", NAME ": targets[0]: cannot read "
			"'/nonexistent/w53-targets': No such file or directory" },
		{ "{\"targets\": [\"@/dev/null\"]}", NAME ": targets[0]: /dev/null: not a regular "
						     "file" },
		{ "{\"targets\": [true]}", NAME ": targets[0]: expected a target string or an object "
					   "with \"target\", got true" },
		{ "{\"targets\": [{\"name\": \"x\"}]}", NAME ": targets[0].target: required" },
		{ "{\"targets\": [{\"target\": \"1.2.3.4/33\"}]}", NAME ": targets[0].target: bad "
			"prefix '1.2.3.4/33': length must be 0-32 for IPv4" },
		{ "{\"targets\": [{\"target\": \"127.0.0.1\", \"expect\": {\"tcp\": \"opn\"}}]}",
		  NAME ": targets[0].expect.tcp: \"opn\" is not one of closed, open (did you mean "
		       "\"open\"?)" },
		{ "{\"targets\": [{\"target\": \"127.0.0.1\", \"expect\": {\"icmp\": \"open\"}}]}",
		  NAME ": targets[0].expect.icmp: unknown key (valid: tcp, udp)" },
		{ "{" T1 ", \"probe\": {\"timeuot\": \"1s\"}}", NAME ": probe.timeuot: unknown key "
							    "(did you mean \"timeout\"?)" },
		{ "{\"targets\": [{\"target\": \"127.0.0.1\", \"name\": \"a\\tb\"}]}",
		  NAME ": targets[0].name: contains control characters" },
		{ "{" T1 ", \"exclude\": [\"1.2.3.4/40\"]}", NAME ": exclude[0]: bad prefix "
							    "'1.2.3.4/40': length must be 0-32 for "
							    "IPv4" },
		/* alert sinks */
		{ "{" T1 ", \"alerts\": {}}", NAME ": alerts: expected an array of alert sink "
					     "objects, got an object" },
		{ "{" T1 ", \"alerts\": [\"slack\"]}", NAME ": alerts[0]: expected an alert sink "
						      "object, got \"slack\"" },
		{ "{" T1 ", \"alerts\": [{\"url\": \"https://x.test/" SEKRIT "\"}]}", NAME
		  ": alerts[0].type: required: one of webhook, slack, mattermost, discord, teams, "
		  "googlechat, telegram, ntfy, alertmanager" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slak\"}]}", NAME ": alerts[0].type: \"slak\" is "
			"not one of webhook, slack, mattermost, discord, teams, googlechat, telegram, "
			"ntfy, alertmanager (did you mean \"slack\"?)" },
		/* alertmanager: every instance of the cluster, no events, no mentions */
		{ "{" T1 ", \"alerts\": [{\"type\": \"alertmanager\", \"urls\": []}]}", NAME
		  ": alerts[0].urls: expected 1 to 8 URLs, got 0" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"alertmanager\", \"urls\": [\"http://a:9093\", "
		  "\"ftp://b:9093\"]}]}", NAME ": alerts[0].urls: not 1 to 8 http:// or https:// URLs "
		  "separated by white space" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"alertmanager\", \"url\": \"http://a:9093\", "
		  "\"urls\": [\"http://b:9093\"]}]}", NAME ": alerts[0].urls: url is given too; use "
		  "only one of urls, url, url_file, url_env" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"alertmanager\", \"url\": \"http://a:9093\", "
		  "\"events\": [\"opened\"]}]}", NAME ": alerts[0].events: not for alertmanager" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"http://a:9093\", "
		  "\"urls\": [\"http://b:9093\"]}]}", NAME ": alerts[0].urls: only for alertmanager" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"discord\"}]}", NAME ": alerts[0].url: required "
			"for discord (url, url_file or url_env)" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"ftp://x.test/" SEKRIT "\"}]}",
		  NAME ": alerts[0].url: not an http:// or https:// URL" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https:// x/" SEKRIT "\"}]}",
		  NAME ": alerts[0].url: not an http:// or https:// URL" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": [\"" SEKRIT "\"]}]}",
		  NAME ": alerts[0].url: expected a string, got an array" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"\"}]}",
		  NAME ": alerts[0].url: is empty" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"chat_id\": \"5\"}]}", NAME ": alerts[0].chat_id: only for telegram" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"secret\": \"" SEKRIT "\"}]}", NAME ": alerts[0].secret: only for webhook" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"teams\", \"url\": \"https://x.test/y\", "
		  "\"token_env\": \"X\"}]}", NAME ": alerts[0].token_env: only for telegram, ntfy and alertmanager" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"webhook\", \"url\": \"https://x.test/y\", "
		  "\"priority\": \"high\"}]}", NAME ": alerts[0].priority: only for ntfy" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"colour\": \"red\"}]}", NAME ": alerts[0].colour: unknown key (valid: type, name, "
			"url, url_file, url_env, events, min_severity, ca_file, resolve, proxy, "
			"timeout, max_age, mention, mention_min_severity)" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"telegram\", \"tokn\": \"1:a\"}]}", NAME
		  ": alerts[0].tokn: unknown key (did you mean \"token\"?)" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"telegram\", \"chat_id\": 1}]}", NAME
		  ": alerts[0].token: required for telegram (token, token_file or token_env)" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"telegram\", \"token\": \"1:" SEKRIT "\"}]}",
		  NAME ": alerts[0].chat_id: required for telegram" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"telegram\", \"token\": \"" SEKRIT "\", "
		  "\"chat_id\": 1}]}", NAME ": alerts[0].token: not a Telegram bot token "
					    "(DIGITS:LETTERS)" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"telegram\", \"token\": \"1:a\", "
		  "\"chat_id\": true}]}", NAME ": alerts[0].chat_id: expected a chat id (a number or "
					     "\"@channel\"), got true" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"webhook\", \"url\": \"https://x.test/y\", "
		  "\"secret\": \"" SEKRIT "\"}]}", NAME ": alerts[0].secret: not a signing key "
						    "(\"whsec_\" and base64 of 24 to 64 bytes)" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"events\": [\"opened\", \"opend\"]}]}", NAME ": alerts[0].events[1]: \"opend\" is "
			"not one of opened, closed, changed, flapping, degraded, exposed, recovered, "
			"unresolved, resolved (did you "
			"mean \"opened\"?)" },
		{ "{" T1 ", \"first_run\": \"adopted\"}", NAME ": first_run: \"adopted\" is not one "
							"of alert, adopt (did you mean \"adopt\"?)" },
		{ "{" T1 ", \"first_run\": true}", NAME ": first_run: expected a string, got true" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"events\": []}]}", NAME ": alerts[0].events: must list at least one event (or "
					   "leave the key out for all)" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"min_severity\": \"urgent\"}]}", NAME ": alerts[0].min_severity: \"urgent\" is "
						      "not one of info, low, medium, high, critical" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"resolve\": [\"h.test:99999:127.0.0.1\"]}]}", NAME ": alerts[0].resolve[0]: "
			"\"h.test:99999:127.0.0.1\": the port is not a number from 1 to 65535" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"resolve\": [\"h.test:443:127.0.0.1,::1x\"]}]}", NAME ": alerts[0].resolve[0]: "
			"\"h.test:443:127.0.0.1,::1x\": \"::1x\" is not an IP address" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"resolve\": [\"h.test\"]}]}", NAME ": alerts[0].resolve[0]: \"h.test\" is not "
						    "HOST:PORT:ADDRESS" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"proxy\": \"ftp://u:" SEKRIT "@p.test\"}]}", NAME ": alerts[0].proxy: expected a "
			"proxy URL (http, https, socks4, socks4a, socks5 or socks5h://HOST[:PORT])" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"timeout\": \"6m\"}]}", NAME ": alerts[0].timeout: \"6m\" is out of range (100ms "
					    "to 5m)" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"max_age\": \"10s\"}]}", NAME ": alerts[0].max_age: \"10s\" is out of range (1m "
					     "to 168h)" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"ntfy\", \"url\": \"https://x.test/y\", "
		  "\"priority\": 6}]}", NAME ": alerts[0].priority: expected 1 to 5 or one of min, "
					"low, default, high, urgent, got 6" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"ntfy\", \"url\": \"https://x.test/y\", "
		  "\"priority\": \"hgh\"}]}", NAME ": alerts[0].priority: \"hgh\" is not one of min, "
					      "low, default, high, urgent (did you mean \"high\"?)" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"name\": \"o/ps\"}]}", NAME ": alerts[0].name: \"o/ps\": use 1 to 63 letters, "
					   "digits, '-', '_' or '#'" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"name\": \"ops\"}, {\"type\": \"teams\", \"url\": \"https://x.test/z\", "
		  "\"name\": \"ops\"}]}", NAME ": alerts[1].name: \"ops\" is also the name of "
					  "alerts[0]" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"ca_file\": \"/nonexistent/ca.pem\"}]}", NAME ": alerts[0].ca_file: "
			"/nonexistent/ca.pem: No such file or directory" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/y\", "
		  "\"ca_file\": \"/\"}]}", NAME ": alerts[0].ca_file: /: not a regular file" },
		/* secret sources */
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url\": \"https://x.test/" SEKRIT "\", "
		  "\"url_file\": \"/etc/watch53/slack.url\"}]}", NAME ": alerts[0].url_file: url is "
			"given too; use only one of url, url_file, url_env" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url_env\": \"W53_A\", "
		  "\"url_file\": \"/etc/watch53/slack.url\"}]}", NAME ": alerts[0].url_file: url_env "
			"is given too; use only one of url, url_file, url_env" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url_file\": "
		  "\"/nonexistent/slack.url\"}]}", NAME ": alerts[0].url_file: /nonexistent/slack.url: "
			"No such file or directory" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url_file\": \"/\"}]}",
		  NAME ": alerts[0].url_file: /: not a regular file" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url_file\": \"\"}]}",
		  NAME ": alerts[0].url_file: is empty" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url_env\": "
		  "\"W53_TEST_SURELY_UNSET\"}]}", NAME ": alerts[0].url_env: environment variable "
			"W53_TEST_SURELY_UNSET is not set" },
		{ "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url_env\": \"1BAD\"}]}",
		  NAME ": alerts[0].url_env: \"1BAD\" is not an environment variable name" },
	};

	(void)state;
	unsetenv("W53_TEST_SURELY_UNSET");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_fails(cases[i].json, cases[i].msg);
}

/* ---- secrets ---- */

static void
test_secret_file_modes(void **state)
{
	const char *path = make_text_file("https://hooks.slack.test/T0/B0/" SEKRIT " \n\n",
					  0644);
	char json[512], expected[512];
	struct config c;

	(void)state;
	snprintf(json, sizeof(json),
		 "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url_file\": \"%s\"}]}", path);
	snprintf(expected, sizeof(expected),
		 NAME ": alerts[0].url_file: %s is readable by group or others; chmod 600 it",
		 path);
	parse_fails(json, expected);

	assert_int_equal(chmod(path, 0604), 0);
	parse_fails(json, expected);

	assert_int_equal(chmod(path, 0620), 0);
	snprintf(expected, sizeof(expected),
		 NAME ": alerts[0].url_file: %s is writable by group or others; chmod 600 it",
		 path);
	parse_fails(json, expected);

	assert_int_equal(chmod(path, 0600), 0);
	parse_ok(json, &c);
	/* trailing whitespace and newlines are not part of the secret */
	assert_string_equal(c.sinks[0].url, "https://hooks.slack.test/T0/B0/" SEKRIT);
	assert_string_equal(c.sinks[0].url_file, path);
	assert_null(c.sinks[0].url_env);
	config_clear(&c);

	assert_int_equal(chmod(path, 0400), 0);
	parse_ok(json, &c);
	config_clear(&c);
}

static void
test_secret_file_content(void **state)
{
	const char *empty = make_text_file(" \n", 0600);
	const char *notes = make_text_file("hooks.slack.test/" SEKRIT "\n", 0600);
	const char *bin = make_file("https://x.test/\0" SEKRIT, 22, 0600);
	const char *key = make_text_file(SIGNING_KEY "\n", 0600);
	const char *tok = make_text_file("123:" SEKRIT "\n", 0600);
	char json[768], expected[512];
	struct config c;

	(void)state;
	snprintf(json, sizeof(json),
		 "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url_file\": \"%s\"}]}", empty);
	snprintf(expected, sizeof(expected), NAME ": alerts[0].url_file: %s is empty", empty);
	parse_fails(json, expected);

	snprintf(json, sizeof(json),
		 "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url_file\": \"%s\"}]}", notes);
	snprintf(expected, sizeof(expected),
		 NAME ": alerts[0].url_file: %s: not an http:// or https:// URL", notes);
	parse_fails(json, expected);

	snprintf(json, sizeof(json),
		 "{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url_file\": \"%s\"}]}", bin);
	snprintf(expected, sizeof(expected), NAME ": alerts[0].url_file: %s: not a text file", bin);
	parse_fails(json, expected);

	/* every kind of secret from a file */
	snprintf(json, sizeof(json),
		 "{" T1 ", \"alerts\": [{\"type\": \"webhook\", \"url\": \"https://x.test/h\", "
		 "\"secret_file\": \"%s\"}, {\"type\": \"telegram\", \"token_file\": \"%s\", "
		 "\"chat_id\": \"@w53\"}]}", key, tok);
	parse_ok(json, &c);
	assert_string_equal(c.sinks[0].secret, SIGNING_KEY);
	assert_string_equal(c.sinks[0].secret_file, key);
	assert_string_equal(c.sinks[1].token, "123:" SEKRIT);
	assert_string_equal(c.sinks[1].token_file, tok);
	assert_string_equal(c.sinks[1].chat_id, "@w53");
	config_clear(&c);
}

static void
test_secret_env(void **state)
{
	struct config c;

	(void)state;
	setenv("W53_TEST_URL", "https://hooks.example.test/" SEKRIT, 1);
	setenv("W53_TEST_TOKEN", "ntfy-" SEKRIT, 1);
	setenv("W53_TEST_EMPTY", "", 1);
	setenv("W53_TEST_BADURL", "gopher://x/" SEKRIT, 1);
	parse_ok("{" T1 ", \"alerts\": [{\"type\": \"ntfy\", \"url_env\": \"W53_TEST_URL\", "
		 "\"token_env\": \"W53_TEST_TOKEN\"}]}", &c);
	assert_string_equal(c.sinks[0].url, "https://hooks.example.test/" SEKRIT);
	assert_string_equal(c.sinks[0].url_env, "W53_TEST_URL");
	assert_null(c.sinks[0].url_file);
	assert_string_equal(c.sinks[0].token, "ntfy-" SEKRIT);
	assert_string_equal(c.sinks[0].token_env, "W53_TEST_TOKEN");
	config_clear(&c);

	parse_fails("{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url_env\": \"W53_TEST_EMPTY\"}]}",
		    NAME ": alerts[0].url_env: environment variable W53_TEST_EMPTY is empty");
	parse_fails("{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url_env\": \"W53_TEST_BADURL\"}]}",
		    NAME ": alerts[0].url_env: $W53_TEST_BADURL: not an http:// or https:// URL");
	parse_fails("{" T1 ", \"alerts\": [{\"type\": \"slack\", \"url_env\": \"W53_TEST_URL\", "
		    "\"url\": \"https://x.test/y\"}]}",
		    NAME ": alerts[0].url: url_env is given too; use only one of url, url_file, "
			 "url_env");
	unsetenv("W53_TEST_URL");
	unsetenv("W53_TEST_TOKEN");
	unsetenv("W53_TEST_EMPTY");
	unsetenv("W53_TEST_BADURL");
}

static void
test_print_redacts(void **state)
{
	const char *file = make_text_file("https://hooks.slack.test/T0/B0/" SEKRIT "5\n", 0600);
	char json[1024];
	struct config c;
	char *out;

	(void)state;
	setenv("W53_TEST_TG", "42:" SEKRIT "3", 1);
	snprintf(json, sizeof(json),
		 "{" T1 ", \"alerts\": ["
		 "{\"type\": \"webhook\", \"url\": \"https://hooks.test/" SEKRIT "1\", "
		 "\"secret\": \"" SIGNING_KEY "\", \"proxy\": \"http://u:" SEKRIT "4@proxy.test:3128\"},"
		 "{\"type\": \"slack\", \"url_file\": \"%s\"},"
		 "{\"type\": \"telegram\", \"token_env\": \"W53_TEST_TG\", \"chat_id\": 7},"
		 "{\"type\": \"ntfy\", \"url\": \"https://ntfy.test/" SEKRIT "6\", \"token\": \""
		 SEKRIT "7\"}]}", file);
	parse_ok(json, &c);
	out = print_to_string(&c);
	assert_null(strstr(out, SEKRIT));
	assert_null(strstr(out, "U0VLUklU")); /* the signing key's base64 */
	assert_non_null(strstr(out, "\"url\": \"(redacted)\""));
	assert_non_null(strstr(out, "\"secret\": \"(redacted)\""));
	assert_non_null(strstr(out, "\"token\": \"(redacted)\""));
	assert_non_null(strstr(out, "\"proxy\": \"http://(redacted)@proxy.test:3128\""));
	/* where a secret comes from is not secret */
	assert_non_null(strstr(out, file));
	assert_non_null(strstr(out, "\"token_env\": \"W53_TEST_TG\""));
	assert_non_null(strstr(out, "\"chat_id\": \"7\""));
	free(out);
	config_clear(&c);
	unsetenv("W53_TEST_TG");
}

/* config check warns when a cycle cannot fit its interval at the configured rate. */
static void
test_rate_warning(void **state)
{
	struct config c;
	char msg[512];

	(void)state;
	parse_ok("{" T1 ", \"interval\": \"1m\", \"probe\": {\"rate\": 1000}}", &c);
	/* 30,000 addresses x 2 protocols at 1000/s: 60 s, exactly the interval: fits */
	assert_int_equal(config_rate_warning(&c, 30000, msg, sizeof(msg)), 0);
	assert_int_equal(config_rate_warning(&c, 30001, msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "targets: 30001 addresses x 2 protocols at probe.rate 1000/s "
				    "take at least 60 s a cycle (up to 180 s when silent)"));
	assert_non_null(strstr(msg, NAME ": "));
	/* one protocol halves it; an unlimited rate never warns */
	c.probe.udp = false;
	assert_int_equal(config_rate_warning(&c, 60000, msg, sizeof(msg)), 0);
	c.probe.rate_pps = 0;
	assert_int_equal(config_rate_warning(&c, UINT64_MAX / 4, msg, sizeof(msg)), 0);
	config_clear(&c);
	/* the shortest per-target interval is the one that must fit */
	parse_ok("{\"targets\": [{\"target\": \"127.53.0.1\", \"interval\": \"10s\"}], "
		 "\"interval\": \"1h\", \"probe\": {\"rate\": 1000}}", &c);
	assert_int_equal(config_rate_warning(&c, 5000, msg, sizeof(msg)), 0);
	assert_int_equal(config_rate_warning(&c, 5001, msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "interval of 10.0s"));
	config_clear(&c);
}

static void
test_print_defaults_and_round_trip(void **state)
{
	struct config c, again;
	char *out, *out2, err[1024];

	(void)state;
	parse_ok("{" T1 "}", &c);
	out = print_to_string(&c);
	/* every key with its default */
	assert_non_null(strstr(out, "\"interval\": \"5m\""));
	assert_non_null(strstr(out, "\"timeout\": \"1s\""));
	assert_non_null(strstr(out, "\"port\": 53"));
	assert_non_null(strstr(out, "\"rate\": 30000"));
	assert_non_null(strstr(out, "\"concurrency\": 65536"));
	assert_non_null(strstr(out, "\"qtype\": \"NS\""));
	assert_non_null(strstr(out, "\"state_dir\": \"/var/lib/watch53\""));
	assert_non_null(strstr(out, "\"max_hosts\": 1048576"));
	assert_non_null(strstr(out, "\"closed\": 3"));
	assert_non_null(strstr(out, "\"first_run\": \"alert\""));
	assert_non_null(strstr(out, "\"level\": \"info\""));
	assert_non_null(strstr(out, "\"metrics_file\": null"));
	assert_non_null(strstr(out, "\"retention\": \"400d\""));
	free(out);
	config_clear(&c);
	parse_ok("{" T1 ", \"history\": {\"retention\": \"36h\"}}", &c);
	assert_true(c.history_retention_ns == 36ull * 3600 * NS_PER_SEC);
	out = print_to_string(&c);
	assert_non_null(strstr(out, "\"retention\": \"36h\""));
	free(out);
	config_clear(&c);
	parse_ok("{" T1 ", \"first_run\": \"adopt\"}", &c);
	assert_true(c.first_run_adopt);
	out = print_to_string(&c);
	assert_non_null(strstr(out, "\"first_run\": \"adopt\""));
	free(out);
	config_clear(&c);
	parse_ok("{" T1 ", \"first_run\": \"alert\"}", &c);
	assert_false(c.first_run_adopt);
	config_clear(&c);
	/* no shard unless asked; then I/N and the seed, printed as given and read back */
	parse_ok("{" T1 "}", &c);
	assert_int_equal(c.shard.count, 0);
	out = print_to_string(&c);
	assert_non_null(strstr(out, "\"shard\": null"));
	assert_non_null(strstr(out, "\"shard_seed\": 0"));
	free(out);
	config_clear(&c);
	parse_ok("{" T1 ", \"shard\": \"2/3\", \"shard_seed\": 18446744073709551614}", &c);
	assert_int_equal(c.shard.index, 2);
	assert_int_equal(c.shard.count, 3);
	assert_true(c.shard.seed == UINT64_MAX - 1);
	out = print_to_string(&c);
	assert_non_null(strstr(out, "\"shard\": \"2/3\""));
	assert_non_null(strstr(out, "\"shard_seed\": 18446744073709551614"));
	config_clear(&c);
	assert_int_equal(config_parse(NAME, out, strlen(out), &again, err, sizeof(err)), 0);
	assert_int_equal(again.shard.index, 2);
	assert_true(again.shard.seed == UINT64_MAX - 1);
	free(out);
	config_clear(&again);

	/* without secrets, what config check prints loads back to the same config */
	setenv("W53_RT_URL", "https://ntfy.test/" SEKRIT, 1);
	parse_ok("{\"targets\": [\"127.53.0.0/24\", {\"target\": \"::1\", \"name\": \"v6 \\\"lo\\\"\","
		 " \"expect\": {\"udp\": \"open\"}, \"interval\": \"90s\"}], \"exclude\": [\"127.53.0.9\"],"
		 " \"probe\": {\"timeout\": \"1.0005s\", \"checks\": [\"axfr\", \"amplification\"],"
		 " \"qname\": \"version.bind.\", \"qtype\": \"TXT\"}, \"max_hosts\": 300,"
		 " \"metrics_file\": \"/run/w53.prom\", \"log\": {\"syslog\": true},"
		 " \"alerts\": [{\"type\": \"ntfy\", \"url_env\": \"W53_RT_URL\", \"events\": [\"degraded\"],"
		 " \"min_severity\": \"low\", \"max_age\": \"90m\"}]}", &c);
	out = print_to_string(&c);
	config_clear(&c);
	unsetenv("W53_RT_URL");
	/* the one secret (url from the environment) is redacted: drop that sink to read back */
	{
		char *alerts = strstr(out, "\"alerts\": [");
		char *end = alerts ? strstr(alerts, "\n  ],") : NULL;

		assert_non_null(end);
		memmove(alerts + strlen("\"alerts\": ["), end, strlen(end) + 1);
	}
	assert_int_equal(config_parse(NAME, out, strlen(out), &again, err, sizeof(err)), 0);
	assert_int_equal(again.probe.timeout_ns, 1000500 * 1000ull);
	assert_int_equal(again.targets[1].interval_ns, 90 * NS_PER_SEC);
	assert_int_equal(again.targets[0].interval_ns, 300 * NS_PER_SEC);
	assert_string_equal(again.targets[1].name, "v6 \"lo\"");
	out2 = print_to_string(&again);
	assert_string_equal(out, out2);
	free(out);
	free(out2);
	config_clear(&again);
}

/* ---- files: @FILE targets, ca_file, and hostile config files ---- */

static void
test_target_file_and_ca_file(void **state)
{
	const char *good = make_text_file("# ours\n127.53.0.1\nns1.example.test  # a name\n\n", 0644);
	const char *bad = make_text_file("127.53.0.1\n127.0.0.256\n", 0644);
	const char *ca = make_text_file("-----BEGIN CERTIFICATE-----\n", 0644);
	char json[512], expected[512];
	struct config c;

	(void)state;
	snprintf(json, sizeof(json), "{\"targets\": [\"@%s\"], \"alerts\": [{\"type\": "
		 "\"slack\", \"url\": \"https://x.test/y\", \"ca_file\": \"%s\"}]}", good, ca);
	parse_ok(json, &c);
	assert_int_equal(c.ntargets, 1);
	assert_true(c.targets[0].target[0] == '@');
	assert_string_equal(c.sinks[0].ca_file, ca);
	config_clear(&c);

	snprintf(json, sizeof(json), "{\"targets\": [\"127.53.0.1\", \"@%s\"]}", bad);
	snprintf(expected, sizeof(expected), NAME ": targets[1]: %s:2: bad address "
		 "'127.0.0.256': not a valid IPv4 address (four decimal octets 0-255)", bad);
	parse_fails(json, expected);
}

static void
test_load_files(void **state)
{
	static const char deep_obj_unit[] = "{\"a\":";
	char expected[512], err[1024], *big;
	const char *path;
	struct config c;
	size_t n;

	(void)state;
	/* missing and unreadable files: -errno, still one line */
	assert_int_equal(config_load("/nonexistent/watch53.json", &c, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "/nonexistent/watch53.json: cannot read: No such file or directory");
	assert_int_equal(config_load(tmpdir, &c, err, sizeof(err)), -EISDIR);
	snprintf(expected, sizeof(expected), "%s: cannot read: Is a directory", tmpdir);
	assert_string_equal(err, expected);

	/* empty */
	path = make_text_file("", 0644);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
	snprintf(expected, sizeof(expected), "%s: empty file", path);
	assert_string_equal(err, expected);

	/* huge: 11 MB */
	n = 11u * 1000 * 1000;
	big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "{" T1 "}", strlen("{" T1 "}"));
	path = make_file(big, n, 0644);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
	snprintf(expected, sizeof(expected), "%s: larger than 1 MiB", path);
	assert_string_equal(err, expected);
	/* one byte over the cap, and exactly at it */
	path = make_file(big, CONFIG_MAX_BYTES + 1, 0644);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
	snprintf(expected, sizeof(expected), "%s: larger than 1 MiB", path);
	assert_string_equal(err, expected);
	path = make_file(big, CONFIG_MAX_BYTES, 0644);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	assert_string_equal(c.path, path);
	assert_int_equal(c.ntargets, 1);
	config_clear(&c);
	/* from memory the cap is the same */
	assert_int_equal(config_parse(NAME, big, CONFIG_MAX_BYTES + 1, &c, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, NAME ": larger than 1 MiB");

	/* binary: every byte value */
	for (size_t i = 0; i < 256; i++)
		big[i] = (char)i;
	path = make_file(big, 256, 0644);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
	snprintf(expected, sizeof(expected), "%s: not a text file", path);
	assert_string_equal(err, expected);

	/* deeply nested: 10000 '[', then 10000 '{"a":' */
	memset(big, '[', 10000);
	path = make_file(big, 10000, 0644);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
	snprintf(expected, sizeof(expected), "%s: line 1, column 33: nesting too deep", path);
	assert_string_equal(err, expected);
	for (size_t i = 0; i < 10000; i++)
		memcpy(big + i * 5, deep_obj_unit, 5);
	path = make_file(big, 50000, 0644);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
	snprintf(expected, sizeof(expected), "%s: line 1, column 161: nesting too deep", path);
	assert_string_equal(err, expected);

	/* truncated */
	path = make_file(full_config, 300, 0644);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
	snprintf(expected, sizeof(expected), "%s: line 6, column 16: unexpected end of data "
		 "(truncated?)", path);
	assert_string_equal(err, expected);
	free(big);

	/* a byte order mark is tolerated */
	path = make_text_file("\xef\xbb\xbf{" T1 "}\n", 0644);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	config_clear(&c);
}

/* Every proper prefix of a valid config fails with one line; none crashes or leaks. */
static void
test_every_prefix(void **state)
{
	size_t len = strlen(full_config), valid = 0;

	(void)state;
	for (size_t n = 0; n < len; n++) {
		struct config c;
		char err[1024] = "";
		int rc = config_parse(NAME, full_config, n, &c, err, sizeof(err));

		if (rc == 0) {
			/* only the whole document (minus trailing whitespace) may load */
			valid++;
			config_clear(&c);
			continue;
		}
		assert_int_equal(rc, -EINVAL);
		assert_one_line(err, NAME);
		assert_null(strstr(err, "U0VLUklU"));
	}
	assert_int_equal(valid, 1); /* full_config without its final newline */
}

/* ---- on call: runbook_url (top level, per target) and mentions per sink ---- */

#define RB "https://wiki.example.test/runbooks/dns?id=53&team=ops"

static void
test_oncall(void **state)
{
	static const char json[] =
		"{\"targets\": [\"127.53.0.1\", {\"target\": \"127.53.0.5\", \"name\": \"primary dns\","
		" \"runbook_url\": \"https://wiki.example.test/primary\"},"
		" {\"target\": \"127.53.0.6\", \"runbook_url\": \"http://w.test/6\"}],"
		" \"runbook_url\": \"" RB "\","
		" \"alerts\": ["
		"  {\"type\": \"slack\", \"url\": \"https://hooks.slack.test/x\", \"mention\": \"<@U0123ABCD>\"},"
		"  {\"type\": \"discord\", \"url\": \"https://d.test/x\", \"mention\": \"<@&123456789012345678>\","
		"   \"mention_min_severity\": \"critical\"},"
		"  {\"type\": \"teams\", \"url\": \"https://t.test/x\", \"mention\": \"alice@example.com\","
		"   \"mention_name\": \"Alice Doe\"},"
		"  {\"type\": \"ntfy\", \"url\": \"https://n.test/x\", \"mention_min_severity\": \"medium\"},"
		"  {\"type\": \"mattermost\", \"url\": \"https://m.test/x\"}"
		" ]}";
	struct config c;
	char *printed;

	(void)state;
	config_init(&c);
	parse_ok(json, &c);
	assert_string_equal(c.runbook_url, RB);
	assert_null(c.targets[0].runbook_url);
	assert_string_equal(c.targets[1].runbook_url, "https://wiki.example.test/primary");
	/* which runbook an event's target label gets: its own, else the top-level one */
	assert_string_equal(config_runbook_for(&c, "primary dns"), "https://wiki.example.test/primary");
	assert_string_equal(config_runbook_for(&c, "127.53.0.6"), "http://w.test/6");
	assert_string_equal(config_runbook_for(&c, "127.53.0.1"), RB);
	assert_string_equal(config_runbook_for(&c, "elsewhere"), RB);
	assert_string_equal(config_runbook_for(&c, NULL), RB);

	assert_true(c.sinks[0].mention_on);
	assert_string_equal(c.sinks[0].mention, "<@U0123ABCD>");
	assert_int_equal(c.sinks[0].mention_min_severity, SEV_HIGH); /* the default */
	assert_int_equal(c.sinks[1].mention_min_severity, SEV_CRITICAL);
	assert_string_equal(c.sinks[2].mention_name, "Alice Doe");
	assert_true(c.sinks[3].mention_on); /* ntfy: priority raised from medium up */
	assert_null(c.sinks[3].mention);
	assert_int_equal(c.sinks[3].mention_min_severity, SEV_MEDIUM);
	assert_false(c.sinks[4].mention_on);

	/* printed (only where set: configs without them print as before) */
	printed = print_to_string(&c);
	assert_non_null(strstr(printed, RB));
	assert_non_null(strstr(printed, "https://wiki.example.test/primary"));
	assert_non_null(strstr(printed, "<@U0123ABCD>"));
	assert_non_null(strstr(printed, "Alice Doe"));
	assert_non_null(strstr(printed, "\"critical\""));
	assert_null(strstr(printed, "\"mention\": null"));
	free(printed);
	config_clear(&c);

	/* without any: the top level has no runbook */
	config_init(&c);
	parse_ok("{\"targets\": [\"127.53.0.1\"]}", &c);
	assert_null(config_runbook_for(&c, "127.53.0.1"));
	config_clear(&c);
}

#define A0 "{\"targets\": [\"127.53.0.1\"], \"alerts\": [{"

static void
test_oncall_errors(void **state)
{
	static const struct {
		const char *json, *err;
	} cases[] = {
		{ "{\"targets\": [\"127.53.0.1\"], \"runbook_url\": \"javascript:alert(1)\"}",
		  NAME ": runbook_url: \"javascript:alert(1)\" is not a runbook URL (http or https, "
		  "at most 511 bytes, no spaces, quotes, @ or any of < > \\ ^ ` { | })" },
		{ "{\"targets\": [\"127.53.0.1\"], \"runbook_url\": 5}",
		  NAME ": runbook_url: expected a string, got 5" },
		{ "{\"targets\": [{\"target\": \"127.53.0.1\", \"runbook_url\": \"https://e.test/a|b\"}]}",
		  NAME ": targets[0].runbook_url: \"https://e.test/a|b\" is not a runbook URL (http or "
		  "https, at most 511 bytes, no spaces, quotes, @ or any of < > \\ ^ ` { | })" },
		{ A0 "\"type\": \"slack\", \"url\": \"https://s.test/x\", \"mention\": \"<!channel>\"}]}",
		  NAME ": alerts[0].mention: expected a Slack user \"<@U…>\" or user group "
		  "\"<!subteam^S…>\"" },
		{ A0 "\"type\": \"discord\", \"url\": \"https://d.test/x\", \"mention\": \"@everyone\"}]}",
		  NAME ": alerts[0].mention: expected a Discord user \"<@id>\" or role \"<@&id>\" (17 "
		  "to 20 digits)" },
		{ A0 "\"type\": \"mattermost\", \"url\": \"https://m.test/x\", \"mention\": \"@channel\"}]}",
		  NAME ": alerts[0].mention: expected a Mattermost \"@username\" (3 to 22 of a-z 0-9 "
		  ". _ -, a letter first; not @all, @channel or @here)" },
		{ A0 "\"type\": \"googlechat\", \"url\": \"https://g.test/x\", \"mention\": "
		  "\"<users/all>\"}]}",
		  NAME ": alerts[0].mention: expected a Google Chat user \"<users/ID>\" (the numeric "
		  "id)" },
		{ A0 "\"type\": \"teams\", \"url\": \"https://t.test/x\", \"mention\": \"alice@example.com\","
		  " \"mention_name\": \"<b>A</b>\"}]}",
		  NAME ": alerts[0].mention_name: expected a name of 1 to 64 letters, digits, spaces, "
		  "'.', '-' or apostrophes" },
		{ A0 "\"type\": \"telegram\", \"token\": \"1:x\", \"chat_id\": 5, \"mention\": \"@bob\"}]}",
		  NAME ": alerts[0].mention: expected a Telegram numeric user id" },
		{ A0 "\"type\": \"slack\", \"url\": \"https://s.test/x\", \"mention_min_severity\": "
		  "\"high\"}]}",
		  NAME ": alerts[0].mention: required with mention_min_severity for slack" },
		{ A0 "\"type\": \"slack\", \"url\": \"https://s.test/x\", \"mention\": \"<@U0123ABCD>\","
		  " \"mention_min_severity\": \"loud\"}]}",
		  NAME ": alerts[0].mention_min_severity: \"loud\" is not one of info, low, medium, "
		  "high, critical" },
		{ A0 "\"type\": \"ntfy\", \"url\": \"https://n.test/x\", \"mention\": \"@x\"}]}",
		  NAME ": alerts[0].mention: not for webhook, ntfy and alertmanager" },
		{ A0 "\"type\": \"webhook\", \"url\": \"https://w.test/x\", \"mention_min_severity\": "
		  "\"high\"}]}",
		  NAME ": alerts[0].mention_min_severity: not for webhook and alertmanager" },
		{ A0 "\"type\": \"slack\", \"url\": \"https://s.test/x\", \"mention_name\": \"x\"}]}",
		  NAME ": alerts[0].mention_name: only for teams and telegram" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_fails(cases[i].json, cases[i].err);
}

/* vantage: the configured text, else the host name; config check shows the effective one. */
static void
test_vantage(void **state)
{
	struct config c;
	char buf[ALERT_VANTAGE_LEN], host[256] = "";
	char *text;
	(void)state;

	parse_ok("{\"targets\": [\"127.0.0.1\"], \"vantage\": \"dc-east \xc3\xa9\"}", &c);
	assert_string_equal(config_vantage(&c, buf, sizeof(buf)), "dc-east \xc3\xa9");
	text = print_to_string(&c);
	assert_non_null(strstr(text, "\"vantage\": \"dc-east \xc3\xa9\""));
	free(text);
	config_clear(&c);

	parse_ok("{\"targets\": [\"127.0.0.1\"]}", &c);
	assert_null(c.vantage);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_string_equal(config_vantage(&c, buf, sizeof(buf)), host);
	config_clear(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_vantage),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_names_and_checks),
		cmocka_unit_test(test_checks_all_none_and_nulls),
		cmocka_unit_test(test_zones_and_canary),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_secret_file_modes),
		cmocka_unit_test(test_secret_file_content),
		cmocka_unit_test(test_secret_env),
		cmocka_unit_test(test_print_redacts),
		cmocka_unit_test(test_print_defaults_and_round_trip),
		cmocka_unit_test(test_rate_warning),
		cmocka_unit_test(test_target_file_and_ca_file),
		cmocka_unit_test(test_load_files),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_oncall),
		cmocka_unit_test(test_oncall_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
