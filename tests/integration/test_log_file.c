/*
 * The log as an admin runs it, against the real host: log.file, rotated
 * the way logrotate does it (rename, then SIGHUP: the next line lands in
 * the new file), SIGHUP without a log file changing nothing, JSON access
 * lines with numbers as numbers, and a log file that cannot be opened
 * stopping the start with one clear line.
 */
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "testsupport.h"

static char dir[256], plugins[256];

static long get(const struct ts_host *h, const char *path)
{
	char url[512];
	struct ts_resp r;
	long status;

	snprintf(url, sizeof(url), "%s%s", h->base_url, path);
	assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
	status = r.status;
	ts_resp_free(&r);
	return status;
}

/* Waits up to ms for needle in the file at path. */
static int file_has(const char *path, const char *needle, int ms)
{
	for (int waited = 0; waited <= ms; waited += 20) {
		char *text = ts_read_file(path);
		int found = text && strstr(text, needle);
		free(text);
		if (found)
			return 1;
		usleep(20 * 1000);
	}
	return 0;
}

static void sighup_opens_the_log_file_again_after_a_rename(void **state)
{
	char cfg[320], file[320], moved[340], text[512];
	const char *extra[] = { "--config", cfg, NULL };
	struct ts_host h;
	struct stat st;
	char *old;

	(void)state;
	snprintf(file, sizeof(file), "%s/mmhost.log", dir);
	snprintf(moved, sizeof(moved), "%s.1", file);
	snprintf(cfg, sizeof(cfg), "%s/log-file.json", dir);
	snprintf(text, sizeof(text), "{\"log\":{\"file\":\"%s\"}}", file);
	assert_int_equal(ts_write_file(cfg, text, 0600), 0);
	assert_int_equal(ts_host_start_log_file(&h, plugins, extra, file), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0137, 0); /* 0640 at most */
	assert_int_equal(get(&h, "/api/v4/users/before-rotation"), 401);
	assert_true(file_has(file, "path=/api/v4/users/before-rotation", 5000));

	/* logrotate: move the file away, then tell the server. */
	assert_int_equal(rename(file, moved), 0);
	assert_int_equal(kill(h.pid, SIGHUP), 0);
	assert_true(file_has(file, "log file reopened", 10000));
	assert_int_equal(get(&h, "/api/v4/users/after-rotation"), 401);
	assert_true(file_has(file, "path=/api/v4/users/after-rotation", 5000));

	old = ts_read_file(moved);
	assert_non_null(old);
	assert_non_null(strstr(old, "listening addr="));
	assert_non_null(strstr(old, "path=/api/v4/users/before-rotation"));
	assert_null(strstr(old, "after-rotation"));
	free(old);
	/* Alive and well: it still drains and stops cleanly. */
	assert_int_equal(kill(h.pid, 0), 0);
	assert_int_equal(ts_host_stop(&h), 0);
}

static void sighup_without_a_log_file_changes_nothing(void **state)
{
	struct ts_host h;

	(void)state;
	assert_int_equal(ts_host_start(&h, plugins, NULL), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(kill(h.pid, SIGHUP), 0);
	assert_true(ts_host_wait_log(&h, "SIGHUP", 10000));
	assert_int_equal(get(&h, "/api/v4/system/ping"), 200);
	assert_int_equal(ts_host_stop(&h), 0);
}

static void json_access_lines_carry_numbers_as_numbers(void **state)
{
	char cfg[320];
	const char *extra[] = { "--config", cfg, NULL };
	struct ts_host h;
	char *text, *line, *end;
	json_t *j;

	(void)state;
	snprintf(cfg, sizeof(cfg), "%s/json.json", dir);
	assert_int_equal(ts_write_file(cfg, "{\"log\":{\"format\":\"json\"}}", 0600), 0);
	assert_int_equal(ts_host_start(&h, plugins, extra), 0);
	assert_int_equal(get(&h, "/api/v4/system/ping"), 200);
	assert_true(ts_host_wait_log(&h, "\"path\":\"/api/v4/system/ping\"", 5000));
	text = ts_read_file(h.log_path);
	line = strstr(text, "\"path\":\"/api/v4/system/ping\"");
	while (line > text && line[-1] != '\n')
		line--;
	end = strchr(line, '\n');
	*end = '\0';
	j = json_loads(line, 0, NULL);
	if (!j)
		fail_msg("not JSON: %s", line);
	assert_true(json_is_integer(json_object_get(j, "status")));
	assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
	assert_true(json_is_integer(json_object_get(j, "bytes")));
	assert_true(json_is_number(json_object_get(j, "ms")));
	assert_string_equal(json_string_value(json_object_get(j, "remote")), "127.0.0.1");
	json_decref(j);
	free(text);
	assert_int_equal(ts_host_stop(&h), 0);
}

static void a_log_file_that_cannot_be_opened_stops_the_start(void **state)
{
	char cfg[320];
	const char *extra[] = { "--config", cfg, NULL };
	struct ts_host h;

	(void)state;
	snprintf(cfg, sizeof(cfg), "%s/no-file.json", dir);
	assert_int_equal(
		ts_write_file(cfg, "{\"log\":{\"file\":\"/nonexistent-dir/mmhost.log\"}}", 0600),
		0);
	assert_int_equal(ts_host_start(&h, plugins, extra), -1);
	assert_true(ts_host_log_has(&h, "cannot open log.file /nonexistent-dir/mmhost.log"));
	ts_rmtree(h.dir);
}

static int setup(void **state)
{
	(void)state;
	if (ts_tempdir("logfile", dir, sizeof(dir)) != 0 ||
	    ts_tempdir("logfile-plugins", plugins, sizeof(plugins)) != 0)
		return -1;
	return ts_install_plugin(plugins, "com.mattermost.apps", APPS_PLUGIN_SO, 0755);
}

static int teardown(void **state)
{
	(void)state;
	ts_rmtree(dir);
	ts_rmtree(plugins);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sighup_opens_the_log_file_again_after_a_rename),
		cmocka_unit_test(sighup_without_a_log_file_changes_nothing),
		cmocka_unit_test(json_access_lines_carry_numbers_as_numbers),
		cmocka_unit_test(a_log_file_that_cannot_be_opened_stops_the_start),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
