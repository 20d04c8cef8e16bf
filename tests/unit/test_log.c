/*
 * The log as an operator's tools read it: JSON lines with numbers as
 * numbers, always valid JSON whatever the values hold; the log file taking
 * stderr's place, and opening it again after logrotate moved it.
 */
#include <fcntl.h>
#include <jansson.h>
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

#include "log.h"
#include "testsupport.h"

static char dir[256], path[320];
static int saved_stderr = -1;

/* stderr goes to a fresh file for each test; back after it. */
static int to_file(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/stderr.log", dir);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	if (fd < 0)
		return -1;
	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	return 0;
}

static int back(void **state)
{
	(void)state;
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	log_setup(LOG_INFO, LOG_FORMAT_TEXT);
	return 0;
}

/* The last line of the file at p, parsed. */
static json_t *last_json(const char *p)
{
	char *text = ts_read_file(p), *line;
	json_error_t err;
	json_t *j;

	assert_non_null(text);
	text[strlen(text) - 1] = '\0'; /* the last newline */
	line = strrchr(text, '\n');
	line = line ? line + 1 : text;
	j = json_loads(line, 0, &err);
	if (!j)
		fail_msg("not JSON (%s): %s", err.text, line);
	free(text);
	return j;
}

static void json_lines_carry_numbers_as_numbers(void **state)
{
	json_t *j;

	(void)state;
	log_setup(LOG_INFO, LOG_FORMAT_JSON);
	log_kv(LOG_INFO, "http", "path", "/x", LOG_NUM("status"), "200", LOG_NUM("ms"), "0.25",
	       LOG_NUM("bytes"), "0", LOG_NUM("big"), "-1.5e+3", NULL);
	j = last_json(path);
	assert_string_equal(json_string_value(json_object_get(j, "msg")), "http");
	assert_string_equal(json_string_value(json_object_get(j, "path")), "/x");
	assert_true(json_is_integer(json_object_get(j, "status")));
	assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
	assert_true(json_is_real(json_object_get(j, "ms")));
	assert_true(json_real_value(json_object_get(j, "ms")) == 0.25);
	assert_int_equal(json_integer_value(json_object_get(j, "bytes")), 0);
	assert_true(json_real_value(json_object_get(j, "big")) == -1500);
	json_decref(j);
	/* What is not a number (no status: "-") is null, never a string
	 * that breaks a numeric field. */
	log_kv(LOG_INFO, "http", LOG_NUM("status"), "-", LOG_NUM("n"), "01", LOG_NUM("x"), "1.",
	       NULL);
	j = last_json(path);
	assert_true(json_is_null(json_object_get(j, "status")));
	assert_true(json_is_null(json_object_get(j, "n")));
	assert_true(json_is_null(json_object_get(j, "x")));
	json_decref(j);
}

static void json_lines_stay_json_whatever_the_values(void **state)
{
	char big[2000];
	json_t *j;

	(void)state;
	log_setup(LOG_INFO, LOG_FORMAT_JSON);
	log_kv(LOG_WARN, "quote \" backslash \\ newline \n tab \t del \x7f", "utf8",
	       "caf\xc3\xa9 \xf0\x9f\x98\x80", "bad", "\xff\xfe", NULL);
	j = last_json(path);
	assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
			    "quote \" backslash \\ newline \n tab \t del \x7f");
	assert_string_equal(json_string_value(json_object_get(j, "utf8")),
			    "caf\xc3\xa9 \xf0\x9f\x98\x80");
	assert_string_equal(json_string_value(json_object_get(j, "bad")), "(invalid utf-8)");
	json_decref(j);
	/* Too long for a line: said, never cut into invalid JSON. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* Each value is cut at 1 KiB; nine of them pass the 8 KiB line. */
	log_kv(LOG_INFO, "long", "a", big, "b", big, "c", big, "d", big, "e", big, "f", big, "g",
	       big, "h", big, "i", big, NULL);
	j = last_json(path);
	assert_string_equal(json_string_value(json_object_get(j, "msg")), "(log line too long)");
	json_decref(j);
}

static void text_lines_show_numbers_as_plain_fields(void **state)
{
	char *text;

	(void)state;
	log_setup(LOG_INFO, LOG_FORMAT_TEXT);
	log_kv(LOG_INFO, "swept", LOG_NUM("count"), "12", NULL);
	text = ts_read_file(path);
	assert_non_null(strstr(text, "swept count=12\n"));
	assert_null(strstr(text, "#count"));
	free(text);
}

static void the_log_file_is_opened_again_after_a_rotation(void **state)
{
	char file[320], moved[340], err[256], *text;
	struct stat st;

	(void)state;
	snprintf(file, sizeof(file), "%s/mmhost.log", dir);
	snprintf(moved, sizeof(moved), "%s.1", file);
	unlink(file);
	unlink(moved);
	assert_int_equal(ts_write_file(file, "kept\n", 0600), 0);
	assert_int_equal(log_open_file(file, err, sizeof(err)), 0);
	log_kv(LOG_INFO, "before the rotation", NULL);
	assert_int_equal(rename(file, moved), 0);
	log_kv(LOG_INFO, "still in the old file", NULL);
	assert_int_equal(log_reopen(), 0);
	log_kv(LOG_INFO, "after the rotation", NULL);

	text = ts_read_file(moved);
	assert_non_null(strstr(text, "kept\n")); /* appended, not truncated */
	assert_non_null(strstr(text, "before the rotation"));
	assert_non_null(strstr(text, "still in the old file"));
	assert_null(strstr(text, "after the rotation"));
	free(text);
	text = ts_read_file(file);
	assert_non_null(strstr(text, "log file reopened"));
	assert_non_null(strstr(text, "after the rotation"));
	free(text);
	/* Made by the host: readable by the admin's group, nobody else. */
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* A path that cannot be opened is said, and the old file kept. */
	assert_int_equal(log_open_file("/nonexistent-dir/x.log", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent-dir/x.log"));
}

static int group_setup(void **state)
{
	(void)state;
	umask(022);
	return ts_tempdir("log", dir, sizeof(dir));
}

static int group_teardown(void **state)
{
	(void)state;
	ts_rmtree(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(json_lines_carry_numbers_as_numbers, to_file, back),
		cmocka_unit_test_setup_teardown(json_lines_stay_json_whatever_the_values, to_file,
						back),
		cmocka_unit_test_setup_teardown(text_lines_show_numbers_as_plain_fields, to_file,
						back),
		cmocka_unit_test_setup_teardown(the_log_file_is_opened_again_after_a_rotation,
						to_file, back),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
