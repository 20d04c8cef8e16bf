/* Config: defaults, the file's keys, errors naming the key, flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "config.h"

static int load(struct host_config *cfg, const char *json, char *err)
{
	return config_load_text(cfg, json, strlen(json), err, CONFIG_ERR_MAX);
}

static void defaults_match_the_design(void **state)
{
	struct host_config cfg;
	char *url;

	(void)state;
	assert_int_equal(config_init(&cfg), 0);
	assert_string_equal(cfg.listen, "127.0.0.1:8065");
	assert_string_equal(cfg.data_dir, "./data");
	assert_null(cfg.plugin_dir);
	url = config_site_url(&cfg, 8065);
	assert_string_equal(url, "http://127.0.0.1:8065");
	assert_true(config_site_url_matches_listen(&cfg, url));
	free(url);
	assert_true(config_plugin_enabled(&cfg, "com.mattermost.apps"));
	config_free(&cfg);
}

static void full_file_is_applied(void **state)
{
	struct host_config cfg;
	char err[CONFIG_ERR_MAX];
	char *url;

	(void)state;
	assert_int_equal(config_init(&cfg), 0);
	assert_int_equal(
		load(&cfg,
		     "{\"listen\":\"0.0.0.0:9000\",\"site_url\":\"https://chat.example.com/\","
		     "\"data_dir\":\"/var/x\",\"plugin_dir\":\"/opt/p\","
		     "\"plugins\":{\"a.b\":{\"enabled\":false,\"settings\":{\"k\":1}}},"
		     "\"log\":{\"level\":\"debug\",\"format\":\"json\"},"
		     "\"limits\":{\"threads\":4,\"max_connections\":10,\"per_ip_connections\":5,"
		     "\"idle_timeout_s\":9,\"body_timeout_s\":7}}",
		     err),
		0);
	url = config_site_url(&cfg, 9000);
	assert_string_equal(url, "https://chat.example.com");
	free(url);
	assert_string_equal(cfg.data_dir, "/var/x");
	assert_string_equal(cfg.plugin_dir, "/opt/p");
	assert_false(config_plugin_enabled(&cfg, "a.b"));
	assert_true(config_plugin_enabled(&cfg, "c.d"));
	assert_non_null(config_plugin_settings(&cfg, "a.b"));
	assert_null(config_plugin_settings(&cfg, "c.d"));
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.log_format, LOG_FORMAT_JSON);
	assert_int_equal(cfg.threads, 4);
	assert_int_equal(cfg.idle_timeout_s, 9);
	assert_int_equal(cfg.body_timeout_s, 7);
	config_free(&cfg);
}

static void errors_name_the_key(void **state)
{
	static const struct {
		const char *json;
		const char *needle;
	} cases[] = {
		{ "{\"listn\":\"x\"}", "unknown key \"listn\"" },
		{ "{\"log\":{\"lvl\":\"info\"}}", "unknown key \"log.lvl\"" },
		{ "{\"log\":{\"level\":\"loud\"}}", "log.level" },
		{ "{\"log\":{\"format\":\"xml\"}}", "log.format" },
		{ "{\"plugins\":{\"a\":{\"enabled\":1}}}", "plugins.a.enabled" },
		{ "{\"plugins\":{\"a\":{\"x\":1}}}", "unknown key \"plugins.a.x\"" },
		{ "{\"plugins\":{\"a\":{\"settings\":[]}}}", "plugins.a.settings" },
		{ "{\"limits\":{\"threads\":0}}", "limits.threads" },
		{ "{\"limits\":{\"cpu\":1}}", "unknown key \"limits.cpu\"" },
		{ "{\"listen\":\"127.0.0.1\"}", "listen" },
		{ "{\"listen\":\"127.0.0.1:70000\"}", "listen" },
		{ "{\"listen\":\"nohost:80\"}", "listen" },
		{ "{\"site_url\":\"ftp://x\"}", "site_url" },
		{ "{\"site_url\":\"http://x/?a\"}", "site_url" },
		{ "{\"data_dir\":\"\"}", "data_dir" },
		{ "{\"data_dir\":3}", "data_dir" },
		{ "[1]", "top level" },
		{ "{\"listen\":\"a\",\"listen\":\"b\"}", "not valid JSON" },
		{ "{", "not valid JSON" },
		{ "{\"store\":{\"backend\":\"lmdb\",\"cache\":1}}", "unknown key \"store.cache\"" },
		{ "{\"store\":{\"backend\":\"mysql\"}}", "store.backend" },
		{ "{\"store\":{\"backend\":\"postgres\"}}", "store.url is required" },
		{ "{\"store\":{\"backend\":\"postgres\",\"url\":\"mysql://x\"}}", "store.url" },
		{ "{\"store\":{\"backend\":\"postgres\",\"url\":\"postgresql://h/d\","
		  "\"pool_size\":0}}",
		  "store.pool_size" },
		{ "{\"store\":\"postgres\"}", "store must be an object" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct host_config cfg;
		char err[CONFIG_ERR_MAX] = "";

		assert_int_equal(config_init(&cfg), 0);
		if (load(&cfg, cases[i].json, err) == 0)
			fail_msg("%s was accepted", cases[i].json);
		if (!strstr(err, cases[i].needle))
			fail_msg("%s: error \"%s\" lacks \"%s\"", cases[i].json, err,
				 cases[i].needle);
		config_free(&cfg);
	}
}

/* The store object: parsed for the host, kept as text for plugins
 * (store_json), and never echoing a URL (it may hold a password). */
static void store_backend_is_configured_once(void **state)
{
	static const char text[] = "{\"store\":{\"backend\":\"postgres\",\"url\":"
				   "\"postgresql://mm:s3cret@db:5433/mm\",\"pool_size\":12}}";
	static const char bad[] = "{\"store\":{\"backend\":\"postgres\",\"url\":"
				  "\"postgresql://mm:s3cret@db/mm x\"}}";
	struct host_config cfg;
	char err[CONFIG_ERR_MAX] = "";

	(void)state;
	assert_int_equal(config_init(&cfg), 0);
	assert_int_equal(cfg.store.backend, STORE_BACKEND_LMDB);
	assert_string_equal(cfg.store_json, "{\"backend\":\"lmdb\"}");
	assert_int_equal(load(&cfg, text, err), 0);
	assert_int_equal(cfg.store.backend, STORE_BACKEND_POSTGRES);
	assert_string_equal(cfg.store.url, "postgresql://mm:s3cret@db:5433/mm");
	assert_int_equal(cfg.store.pool_size, 12);
	assert_string_equal(cfg.store_json,
			    "{\"backend\":\"postgres\",\"url\":"
			    "\"postgresql://mm:s3cret@db:5433/mm\",\"pool_size\":12}");
	config_free(&cfg);
	assert_int_equal(config_init(&cfg), 0);
	assert_int_not_equal(load(&cfg, bad, err), 0);
	assert_non_null(strstr(err, "store.url"));
	assert_null(strstr(err, "s3cret"));
	config_free(&cfg);
}

static void listen_forms(void **state)
{
	struct host_config cfg;
	char err[CONFIG_ERR_MAX];
	char *url;

	(void)state;
	assert_int_equal(config_init(&cfg), 0);
	assert_int_equal(config_set_listen(&cfg, "[::1]:0", err, sizeof(err)), 0);
	url = config_site_url(&cfg, 4242);
	assert_string_equal(url, "http://[::1]:4242");
	assert_true(config_site_url_matches_listen(&cfg, url));
	assert_false(config_site_url_matches_listen(&cfg, "http://localhost:4242"));
	free(url);
	assert_int_equal(config_set_listen(&cfg, "10.1.2.3:80", err, sizeof(err)), 0);
	url = config_site_url(&cfg, 80);
	assert_string_equal(url, "http://10.1.2.3:80");
	free(url);
	assert_int_equal(config_set_listen(&cfg, "localhost:1", err, sizeof(err)), 0);
	url = config_site_url(&cfg, 1);
	assert_string_equal(url, "http://localhost:1");
	assert_true(config_site_url_matches_listen(&cfg, "https://LOCALHOST/chat"));
	assert_false(config_site_url_matches_listen(&cfg, "http://127.0.0.1:1"));
	free(url);
	assert_int_equal(config_set_listen(&cfg, "0.0.0.0:8065", err, sizeof(err)), 0);
	url = config_site_url(&cfg, 8065);
	assert_string_equal(url, "http://localhost:8065");
	assert_true(config_site_url_matches_listen(&cfg, "https://chat.example.com"));
	free(url);
	assert_int_equal(config_set_listen(&cfg, "127.0.0.1:8065", err, sizeof(err)), 0);
	assert_false(config_site_url_matches_listen(&cfg, "http://localhost:8065"));
	assert_true(config_site_url_matches_listen(&cfg, "http://127.0.0.1:9000/x"));
	assert_int_not_equal(config_set_listen(&cfg, ":80", err, sizeof(err)), 0);
	assert_int_not_equal(config_set_listen(&cfg, "1.2.3.4:", err, sizeof(err)), 0);
	assert_int_not_equal(config_set_listen(&cfg, "1.2.3.4:-1", err, sizeof(err)), 0);
	assert_int_not_equal(config_set_listen(&cfg, "[::1:80", err, sizeof(err)), 0);
	config_free(&cfg);
}

/* What an operator configures for production: the metrics listener (off
 * unless given), the log file, trusted proxies; each bad value names the
 * key or the entry. */
static void operator_keys(void **state)
{
	struct host_config cfg;
	char err[CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(config_init(&cfg), 0);
	assert_string_equal(cfg.metrics_listen, "");
	assert_null(cfg.log_file);
	assert_int_equal(cfg.proxies.len, 0);
	assert_int_equal(
		load(&cfg,
		     "{\"metrics_listen\":\"[::1]:8067\",\"log\":{\"file\":\"/var/log/m.log\"},"
		     "\"trusted_proxies\":[\"127.0.0.1\",\"10.0.0.0/8\",\"fd00::/8\"]}",
		     err),
		0);
	assert_string_equal(cfg.metrics_listen, "[::1]:8067");
	assert_int_equal(cfg.metrics_addr.ss_family, AF_INET6);
	assert_string_equal(cfg.log_file, "/var/log/m.log");
	assert_int_equal(cfg.proxies.len, 3);
	config_free(&cfg);

	assert_int_equal(config_init(&cfg), 0);
	assert_int_equal(load(&cfg, "{\"metrics_listen\":\"8067\"}", err), -1);
	assert_non_null(strstr(err, "metrics_listen"));
	assert_int_equal(load(&cfg, "{\"metrics_listen\":8067}", err), -1);
	assert_non_null(strstr(err, "metrics_listen"));
	assert_int_equal(load(&cfg, "{\"log\":{\"file\":\"\"}}", err), -1);
	assert_non_null(strstr(err, "log.file"));
	assert_int_equal(load(&cfg, "{\"trusted_proxies\":\"10.0.0.0/8\"}", err), -1);
	assert_non_null(strstr(err, "trusted_proxies"));
	assert_int_equal(load(&cfg, "{\"trusted_proxies\":[\"10.0.0.0/8\",7]}", err), -1);
	assert_non_null(strstr(err, "trusted_proxies[1]"));
	assert_int_equal(load(&cfg, "{\"trusted_proxies\":[\"10.0.0.0/8\",\"nginx\"]}", err), -1);
	assert_non_null(strstr(err, "\"nginx\""));
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_match_the_design),
		cmocka_unit_test(full_file_is_applied),
		cmocka_unit_test(errors_name_the_key),
		cmocka_unit_test(listen_forms),
		cmocka_unit_test(store_backend_is_configured_once),
		cmocka_unit_test(operator_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
