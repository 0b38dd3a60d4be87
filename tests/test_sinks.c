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

static void
test_fields(void **state)
{
	char *pins[] = { (char *)"hooks.example.test:443:192.0.2.10", (char *)"b:80:192.0.2.11" };
	struct config_sink cs[2] = {
		{ .type = SINK_SLACK, .name = (char *)"slack#1", .url = (char *)"https://h/x",
		  .ca_file = (char *)"/etc/ca.pem", .resolve = pins, .nresolve = 2,
		  .proxy = (char *)"http://proxy:3128", .timeout_ns = 5, .max_age_ns = 7 },
		{ .type = SINK_TELEGRAM, .name = (char *)"tg", .token = (char *)"123:abc",
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
	struct config_sink cs = { .type = SINK_WEBHOOK, .name = (char *)"webhook#1" };
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_relative_and_quoted),
		cmocka_unit_test(test_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
