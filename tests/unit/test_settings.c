/* The plugin's settings: defaults, each key, and the error naming a bad one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "plugin.h"

static void defaults_when_empty(void **state)
{
	struct apps_settings s;
	char msg[128] = "";

	(void)state;
	assert_int_equal(settings_parse("{}", "data", &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.call_timeout_ms, 30000);
	assert_int_equal(s.max_calls, 1024);
	assert_int_equal(s.state_ttl_ms, 600000);
	assert_int_equal(s.refresh_timeout_ms, 5000);
	assert_string_equal(s.master_key_file, "data/master.key");
	assert_string_equal(s.previous_master_key_file, "");
	assert_int_equal(s.key_sweep_batch, 256);
	assert_int_equal(s.key_sweep_pause_ms, 0);
}

static void every_key_is_read(void **state)
{
	struct apps_settings s;
	char msg[128] = "";

	(void)state;
	assert_int_equal(settings_parse("{\"call_timeout_s\":5,\"max_concurrent_calls\":65536,"
					"\"oauth2_state_ttl_s\":86400,\"refresh_timeout_s\":60,"
					"\"master_key_file\":\"/etc/keys/apps.key\","
					"\"previous_master_key_file\":\"/etc/keys/old.key\","
					"\"key_sweep_batch\":1024,\"key_sweep_pause_ms\":60000}",
					"data", &s, msg, sizeof(msg)),
			 0);
	assert_int_equal(s.call_timeout_ms, 5000);
	assert_int_equal(s.max_calls, 65536);
	assert_int_equal(s.state_ttl_ms, 86400000L);
	assert_int_equal(s.refresh_timeout_ms, 60000);
	assert_string_equal(s.master_key_file, "/etc/keys/apps.key");
	assert_string_equal(s.previous_master_key_file, "/etc/keys/old.key");
	assert_int_equal(s.key_sweep_batch, 1024);
	assert_int_equal(s.key_sweep_pause_ms, 60000);
}

static void bad_settings_are_named(void **state)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
		{ "{\"call_timout_s\":5}", "unknown setting \"call_timout_s\"" },
		{ "{\"call_timeout_s\":0}",
		  "setting call_timeout_s must be an integer from 1 to 300" },
		{ "{\"call_timeout_s\":301}",
		  "setting call_timeout_s must be an integer from 1 to 300" },
		{ "{\"call_timeout_s\":\"5\"}",
		  "setting call_timeout_s must be an integer from 1 to 300" },
		{ "{\"max_concurrent_calls\":65537}",
		  "setting max_concurrent_calls must be an integer from 1 to 65536" },
		{ "{\"oauth2_state_ttl_s\":-1}",
		  "setting oauth2_state_ttl_s must be an integer from 1 to 86400" },
		{ "{\"refresh_timeout_s\":0}",
		  "setting refresh_timeout_s must be an integer from 1 to 60" },
		{ "{\"refresh_timeout_s\":61}",
		  "setting refresh_timeout_s must be an integer from 1 to 60" },
		{ "{\"master_key_file\":\"\"}", "setting master_key_file must be a path" },
		{ "{\"master_key_file\":7}", "setting master_key_file must be a path" },
		{ "{\"previous_master_key_file\":\"\"}",
		  "setting previous_master_key_file must be a path" },
		{ "{\"key_sweep_batch\":0}",
		  "setting key_sweep_batch must be an integer from 1 to 1024" },
		{ "{\"key_sweep_pause_ms\":60001}",
		  "setting key_sweep_pause_ms must be an integer from 0 to 60000" },
		{ "[]", "settings must be a JSON object" },
		{ "not json", "settings must be a JSON object" },
	};
	struct apps_settings s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char msg[128] = "";
		assert_int_equal(settings_parse(cases[i].json, "data", &s, msg, sizeof(msg)), -1);
		assert_string_equal(msg, cases[i].msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_when_empty),
		cmocka_unit_test(every_key_is_read),
		cmocka_unit_test(bad_settings_are_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
