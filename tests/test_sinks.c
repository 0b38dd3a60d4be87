/* test_sinks: config sinks become sink_settings field by field, with an acknowledgement
 * command that names the config by an absolute, shell-safe path. */
#define _GNU_SOURCE
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/sinks.h"
#include "common/util.h"

static void
test_fields(void **state)
{
	char *pins[] = { (char *)"hooks.example.test:443:192.0.2.10", (char *)"b:80:192.0.2.11" };
	struct config_sink cs[2] = {
		{ .type = SINK_KIND_SLACK, .name = (char *)"slack#1", .url = (char *)"https://h/x",
		  .ca_file = (char *)"/etc/ca.pem", .resolve = pins, .nresolve = 2,
		  .proxy = (char *)"http://proxy:3128", .timeout_ns = 5, .max_age_ns = 7 },
		{ .type = SINK_KIND_TELEGRAM, .name = (char *)"tg", .token = (char *)"123:abc",
		  .chat_id = (char *)"42", .priority = NULL, .mention_on = true,
		  .mention = (char *)"987654321", .mention_name = (char *)"On call",
		  .mention_min_severity = SEV_CRITICAL },
	};
	struct config c = { .path = (char *)"/etc/watch53/watch53.json", .sinks = cs, .nsinks = 2 };
	struct sink_settings *s = NULL;
	size_t n = 0;
	(void)state;

	assert_int_equal(sinks_from_config(&c, "/etc/watch53/watch53.json", &s, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(s[0].kind, SINK_KIND_SLACK);
	assert_int_equal(s[1].kind, SINK_KIND_TELEGRAM);
	/* borrowed, not copied: the config owns the secrets and wipes them */
	assert_ptr_equal(s[0].url, cs[0].url);
	assert_ptr_equal(s[0].name, cs[0].name);
	assert_ptr_equal(s[0].ca_file, cs[0].ca_file);
	assert_ptr_equal(s[0].proxy, cs[0].proxy);
	assert_int_equal(s[0].nresolve, 2);
	assert_string_equal(s[0].resolve[1], "b:80:192.0.2.11");
	assert_int_equal(s[0].timeout_ns, 5);
	assert_int_equal(s[0].max_age_ns, 7);
	assert_ptr_equal(s[1].token, cs[1].token);
	assert_string_equal(s[1].chat_id, "42");
	/* mentions: borrowed, with their severity; none unless configured */
	assert_false(s[0].mention_on);
	assert_null(s[0].mention);
	assert_true(s[1].mention_on);
	assert_ptr_equal(s[1].mention, cs[1].mention);
	assert_ptr_equal(s[1].mention_name, cs[1].mention_name);
	assert_int_equal(s[1].mention_min_severity, SEV_CRITICAL);
	assert_null(s[1].url);
	/* the path does not exist here: still absolute, as given */
	assert_string_equal(s[0].agent_cmd,
			    "watch53 baseline accept -c /etc/watch53/watch53.json");
	assert_ptr_equal(s[0].agent_cmd, s[1].agent_cmd);
	sinks_free(s, n);
}

static void
test_relative_and_quoted(void **state)
{
	struct config_sink cs = { .type = SINK_KIND_WEBHOOK, .name = (char *)"webhook#1" };
	struct config c = { .sinks = &cs, .nsinks = 1 };
	struct sink_settings *s = NULL;
	char cwd[PATH_MAX], want[PATH_MAX + 64];
	size_t n = 0;
	(void)state;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(sinks_from_config(&c, "no-such-dir/w.json", &s, &n), 0);
	snprintf(want, sizeof(want), "watch53 baseline accept -c %s/no-such-dir/w.json", cwd);
	if (strpbrk(cwd, " '\"$`\\") == NULL) /* a build dir with odd characters gets quoted */
		assert_string_equal(s[0].agent_cmd, want);
	sinks_free(s, n);
	/* a path a shell would split or expand is single-quoted */
	assert_int_equal(sinks_from_config(&c, "/etc/my conf/it's $HOME.json", &s, &n), 0);
	assert_string_equal(s[0].agent_cmd,
			    "watch53 baseline accept -c '/etc/my conf/it'\\''s $HOME.json'");
	sinks_free(s, n);
}

static void
test_none(void **state)
{
	struct config c = { .nsinks = 0 };
	struct sink_settings *s = (struct sink_settings *)&c;
	size_t n = 9;
	(void)state;

	assert_int_equal(sinks_from_config(&c, "/x.json", &s, &n), 0);
	assert_null(s);
	assert_int_equal(n, 0);
	sinks_free(s, n);
}

/* An alertmanager sink is each instance of its cluster in turn; any other kind is itself. */
static void
test_instances(void **state)
{
	struct sink_settings am = { .kind = SINK_KIND_ALERTMANAGER, .name = "am",
				    .url = "http://a:9093\n  https://u:p@b:9093/x\n" };
	struct sink_settings slack = { .kind = SINK_KIND_SLACK, .url = "https://s" }, one;
	char buf[64];
	(void)state;

	assert_int_equal(sinks_instance(&am, 0, &one, buf, sizeof(buf)), 2);
	assert_string_equal(one.url, "http://a:9093");
	assert_string_equal(one.name, "am");
	assert_int_equal(sinks_instance(&am, 1, &one, buf, sizeof(buf)), 2);
	assert_string_equal(one.url, "https://u:p@b:9093/x");
	one.url = "untouched";
	assert_int_equal(sinks_instance(&am, 2, &one, buf, sizeof(buf)), 2);
	assert_string_equal(one.url, "untouched");
	assert_int_equal(sinks_instance(&slack, 0, &one, buf, sizeof(buf)), 1);
	assert_string_equal(one.url, "https://s");
}

/* The Alertmanager sinks' endsAt: three of the longest interval. */
static void
test_hold(void **state)
{
	struct config_target t[2] = { { .interval_ns = 0 }, { .interval_ns = 600 * NS_PER_SEC } };
	struct config_sink cs = { .type = SINK_KIND_ALERTMANAGER, .name = "am", .url = "http://a" };
	struct config c = { .nsinks = 1, .sinks = &cs, .targets = t, .ntargets = 2,
			    .interval_ns = 300 * NS_PER_SEC };
	struct sink_settings *s;
	size_t n;
	(void)state;

	assert_int_equal(sinks_from_config(&c, "/x.json", &s, &n), 0);
	assert_int_equal(s[0].hold_ns, 1800 * NS_PER_SEC);
	sinks_free(s, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_relative_and_quoted),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_instances),
		cmocka_unit_test(test_hold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
