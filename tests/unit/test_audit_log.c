/*
 * The audit trail's writer and verifier (host/audit_log.c,
 * host/audit_verify.c): lines and their chain, what may be recorded, each
 * kind of tampering named at its line, the sequence across a reopen, a line
 * cut by a crash, two processes' writers on one file, group commit and the
 * asynchronous path, and a master key change.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "audit_log.h"
#include "audit_verify.h"
#include "testsupport.h"

#define ALICE "ybndrfg8ejkmcpqxot1uwisza3"
#define BOB "345h769ybndrfg8ejkmcpqxot1"
#define REQ "uwisza345h769ybndrfg8ejkmc"

static char dir[256], path[320];
static unsigned char key[AUDIT_KEY_LEN], other_key[AUDIT_KEY_LEN];

static int setup(void **state)
{
	(void)state;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(other_key, sizeof(other_key));
	if (ts_tempdir("audit", dir, sizeof(dir)) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/audit/audit.log", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ts_rmtree(dir);
	return 0;
}

static struct audit_log *open_log(const unsigned char *k)
{
	struct audit_log *a = NULL;
	char err[256];

	if (audit_open(dir, k, &a, err, sizeof(err)) != AUDIT_OK)
		fail_msg("audit_open: %s", err);
	return a;
}

static void record(struct audit_log *a, const char *event, const char *actor, const char *app,
		   const char *target)
{
	struct audit_event ev = { event, actor, app, target, REQ };
	unsigned from = strncmp(event, "login", 5) == 0 || strcmp(event, "backup_taken") == 0
				? AUDIT_FROM_HOST
				: AUDIT_FROM_PLUGIN;

	assert_int_equal(audit_record(a, &ev, from), AUDIT_OK);
}

/* Six lines of several kinds. */
static void six_lines(void)
{
	struct audit_log *a = open_log(key);

	record(a, "login_failed", NULL, NULL, ALICE);
	record(a, "login_succeeded", ALICE, NULL, NULL);
	record(a, "app_installed", ALICE, "my-app.v2", BOB);
	record(a, "oauth2_user_stored", BOB, "my-app.v2", BOB);
	record(a, "oauth2_user_deleted", BOB, "my-app.v2", BOB);
	record(a, "app_uninstalled", ALICE, "my-app.v2", BOB);
	audit_close(a);
}

static struct audit_verify verify_with(const char *file, const unsigned char *k,
				       const unsigned char *prev_k)
{
	struct audit_verify v;
	char err[256];

	if (audit_verify_file(file, k, prev_k, &v, err, sizeof(err)) != 0)
		fail_msg("audit_verify_file: %s", err);
	return v;
}

static struct audit_verify verify_file(const char *file)
{
	return verify_with(file, key, NULL);
}

/* The file's lines (without '\n'), malloc'd; *n gets their number. */
static char **lines_of(const char *file, size_t *n)
{
	char *text = ts_read_file(file), *p, *nl;
	char **lines = calloc(64, sizeof(char *));

	assert_non_null(text);
	*n = 0;
	for (p = text; *p && *n < 64; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		lines[(*n)++] = strndup(p, (size_t)(nl - p));
	}
	free(text);
	return lines;
}

static void free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

/* Writes lines[order[0]], lines[order[1]], ... to a copy; returns its path. */
static const char *copy_with(char **lines, const int *order, size_t n)
{
	static char copy[340];
	FILE *f;

	snprintf(copy, sizeof(copy), "%s/copy.log", dir);
	f = fopen(copy, "w");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", lines[order[i]]);
	fclose(f);
	return copy;
}

static void lines_hold_the_events_and_verify(void **state)
{
	struct audit_verify v;
	char **lines;
	size_t n;
	json_t *j;

	(void)state;
	six_lines();
	v = verify_file(path);
	assert_int_equal(v.bad_line, 0);
	assert_int_equal(v.lines, 6);
	assert_int_equal(v.last_seq, 6);
	lines = lines_of(path, &n);
	assert_int_equal(n, 6);
	/* The documented shape, fields in order. */
	assert_int_equal(strncmp(lines[0], "{\"seq\":1,\"time\":\"", 17), 0);
	assert_non_null(strstr(lines[0],
			       "\"event\":\"login_failed\",\"actor\":null,\"app_id\":null,"
			       "\"target_user\":\"" ALICE "\",\"request_id\":\"" REQ
			       "\",\"prev\":\"" AUDIT_GENESIS "\",\"mac\":\""));
	j = json_loads(lines[2], 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), 3);
	assert_string_equal(json_string_value(json_object_get(j, "event")), "app_installed");
	assert_string_equal(json_string_value(json_object_get(j, "actor")), ALICE);
	assert_string_equal(json_string_value(json_object_get(j, "app_id")), "my-app.v2");
	assert_string_equal(json_string_value(json_object_get(j, "target_user")), BOB);
	assert_int_equal(strlen(json_string_value(json_object_get(j, "time"))), 24);
	json_decref(j);
	free_lines(lines, n);
}

/* Only known events of the caller's side, and only ids: no free text (so no
 * secret) reaches the file. */
static void only_known_events_and_ids_are_recorded(void **state)
{
	struct audit_log *a;
	struct audit_event ev = { "oauth2_user_stored", ALICE, "app", ALICE, REQ };
	char *before, *after;

	(void)state;
	a = open_log(key);
	record(a, "app_listed", ALICE, "app", NULL);
	before = ts_read_file(path);
	ev.event = "secret_leaked";
	assert_int_equal(audit_record(a, &ev, AUDIT_FROM_PLUGIN), AUDIT_EINVAL);
	ev.event = "login_succeeded"; /* the host's, not a plugin's */
	assert_int_equal(audit_record(a, &ev, AUDIT_FROM_PLUGIN), AUDIT_EINVAL);
	ev.event = AUDIT_EVENT_RECOVERED; /* the writer's alone */
	assert_int_equal(audit_record(a, &ev, AUDIT_FROM_HOST), AUDIT_EINVAL);
	ev.event = "oauth2_user_stored";
	ev.actor = "gho_a-token-in-the-wrong-field";
	assert_int_equal(audit_record(a, &ev, AUDIT_FROM_PLUGIN), AUDIT_EINVAL);
	ev.actor = ALICE;
	ev.app_id = "app\",\"x\":\"y";
	assert_int_equal(audit_record(a, &ev, AUDIT_FROM_PLUGIN), AUDIT_EINVAL);
	ev.app_id = "a-very-long-app-id-of-more-than-32-characters";
	assert_int_equal(audit_record(a, &ev, AUDIT_FROM_PLUGIN), AUDIT_EINVAL);
	ev.app_id = "app";
	ev.request_id = "not a request id";
	assert_int_equal(audit_record(a, &ev, AUDIT_FROM_PLUGIN), AUDIT_EINVAL);
	audit_close(a);
	after = ts_read_file(path);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void each_kind_of_tampering_is_named_at_its_line(void **state)
{
	static const int deleted[] = { 0, 1, 3, 4, 5 }, swapped[] = { 0, 1, 3, 2, 4, 5 },
			 moved[] = { 0, 2, 3, 4, 5, 1 }, replayed[] = { 0, 1, 2, 3, 1, 4, 5 },
			 first_gone[] = { 1, 2, 3, 4, 5 }, two_gone[] = { 0, 1, 4, 5 };
	struct audit_verify v;
	char **lines, *p;
	size_t n;

	(void)state;
	six_lines();
	lines = lines_of(path, &n);

	/* Removed. */
	v = verify_file(copy_with(lines, deleted, 5));
	assert_int_equal(v.bad_line, 3);
	assert_non_null(strstr(v.problem, "removed before line 3: seq 3 is missing"));
	v = verify_file(copy_with(lines, two_gone, 4));
	assert_int_equal(v.bad_line, 3);
	assert_non_null(strstr(v.problem, "seq 3 to 4 are missing"));
	v = verify_file(copy_with(lines, first_gone, 5));
	assert_int_equal(v.bad_line, 1);
	assert_non_null(strstr(v.problem, "removed before line 1"));

	/* Reordered: two lines swapped, one moved to the end, one replayed. */
	v = verify_file(copy_with(lines, swapped, 6));
	assert_int_equal(v.bad_line, 3);
	assert_non_null(strstr(v.problem, "line 3 is out of order: it holds seq 4, and seq 3 "
					  "comes later, at line 4"));
	v = verify_file(copy_with(lines, moved, 6));
	assert_int_equal(v.bad_line, 2);
	assert_non_null(strstr(v.problem, "out of order"));
	v = verify_file(copy_with(lines, replayed, 7));
	assert_int_equal(v.bad_line, 5);
	assert_non_null(strstr(v.problem, "line 5 is out of order: it holds seq 2, which came "
					  "before"));

	/* Altered: one character of an id, of prev, or of the MAC. */
	{
		static const int all[] = { 0, 1, 2, 3, 4, 5 };
		const char *fields[] = { "\"actor\":\"", "\"prev\":\"", "\"mac\":\"" };
		for (size_t f = 0; f < 3; f++) {
			char *saved = strdup(lines[3]);
			p = strstr(lines[3], fields[f]) + strlen(fields[f]);
			if (f == 0)
				*p = *p == 'y' ? 'b' : 'y'; /* still an id */
			else
				*p = *p == 'a' ? 'b' : 'a'; /* still hex */
			v = verify_file(copy_with(lines, all, 6));
			assert_int_equal(v.bad_line, 4);
			assert_non_null(strstr(v.problem, "line 4 was altered"));
			free(lines[3]);
			lines[3] = saved;
		}
		/* A line that is no longer one. */
		lines[2][10] = '!';
		v = verify_file(copy_with(lines, all, 6));
		assert_int_equal(v.bad_line, 3);
		assert_non_null(strstr(v.problem, "line 3 was altered: it is not an audit line"));
	}
	/* Another node's key (or a forger's) does not verify. */
	v = verify_with(path, other_key, NULL);
	assert_int_equal(v.bad_line, 1);
	assert_non_null(strstr(v.problem, "MAC does not match"));
	free_lines(lines, n);
}

static void the_sequence_goes_on_across_a_reopen(void **state)
{
	struct audit_log *a;
	struct audit_verify v;

	(void)state;
	six_lines();
	a = open_log(key);
	record(a, "login_succeeded", BOB, NULL, NULL);
	audit_close(a);
	v = verify_file(path);
	assert_int_equal(v.bad_line, 0);
	assert_int_equal(v.lines, 7);
	assert_int_equal(v.last_seq, 7);
}

static void append_text(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* A crash cuts the last line: verify names it until the writer opens the
 * file again, keeps it, and records it; then the chain verifies, with the
 * cut line reported. */
static void a_line_cut_by_a_crash_is_kept_and_recorded(void **state)
{
	struct audit_log *a;
	struct audit_verify v;
	char **lines;
	size_t n;

	(void)state;
	six_lines();
	append_text(path, "{\"seq\":7,\"time\":\"2026-12-02T1");
	v = verify_file(path);
	assert_int_equal(v.bad_line, 7);
	assert_non_null(strstr(v.problem, "line 7 is cut short"));

	a = open_log(key);
	record(a, "login_failed", NULL, NULL, NULL);
	audit_close(a);
	v = verify_file(path);
	assert_int_equal(v.bad_line, 0);
	assert_int_equal(v.cut, 1);
	assert_int_equal(v.first_cut, 7);
	assert_int_equal(v.lines, 8); /* six, the recovery, the new one */
	assert_int_equal(v.last_seq, 8);
	lines = lines_of(path, &n);
	assert_int_equal(n, 9);
	assert_string_equal(lines[6], "{\"seq\":7,\"time\":\"2026-12-02T1");
	assert_non_null(strstr(lines[7], "\"seq\":7,"));
	assert_non_null(strstr(lines[7], "\"event\":\"" AUDIT_EVENT_RECOVERED "\""));
	free_lines(lines, n);

	/* Only the writer can record a cut: garbage in the middle, without its
	 * recovery line, is an alteration. */
	lines = lines_of(path, &n);
	{
		static const int order[] = { 0, 1, 2, 6, 3, 4, 5 };
		v = verify_file(copy_with(lines, order, 7));
		assert_int_equal(v.bad_line, 4);
		assert_non_null(strstr(v.problem, "not an audit line"));
	}
	free_lines(lines, n);
}

/* After a power cut the file's size may have reached the disk and its last
 * write's data not: the tail reads back as zeros, as long as a whole batch.
 * The writer still finds the last whole line and chains past the zeros. */
static void a_tail_of_zeros_after_a_power_cut_is_recorded(void **state)
{
	static char zeros[100000];
	struct audit_log *a;
	struct audit_verify v;
	int fd;

	(void)state;
	six_lines();
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, zeros, sizeof(zeros)), (ssize_t)sizeof(zeros));
	close(fd);
	v = verify_file(path);
	assert_int_equal(v.bad_line, 7);
	assert_non_null(strstr(v.problem, "cut short"));
	a = open_log(key);
	record(a, "login_failed", NULL, NULL, NULL);
	audit_close(a);
	v = verify_file(path);
	assert_int_equal(v.bad_line, 0);
	assert_int_equal(v.cut, 1);
	assert_int_equal(v.first_cut, 7);
	assert_int_equal(v.last_seq, 8);
}

/* Cut right before its '\n': the line is whole and the chain goes on
 * through it. */
static void a_whole_last_line_without_its_newline_goes_on(void **state)
{
	struct audit_log *a;
	struct audit_verify v;
	char *text;
	size_t len;

	(void)state;
	six_lines();
	text = ts_read_file_n(path, &len);
	assert_int_equal(truncate(path, (off_t)len - 1), 0);
	free(text);
	a = open_log(key);
	record(a, "login_failed", NULL, NULL, NULL);
	audit_close(a);
	v = verify_file(path);
	assert_int_equal(v.bad_line, 0);
	assert_int_equal(v.cut, 0);
	assert_int_equal(v.lines, 7);
}

/* ---- concurrency ---- */

#define THREADS 32
#define EACH 20

struct writer {
	pthread_t t;
	struct audit_log *a;
	atomic_int *started;
	int failed;
};

static void *write_events(void *arg)
{
	struct writer *w = arg;
	struct audit_event ev = { "oauth2_user_stored", ALICE, "app", ALICE, REQ };

	atomic_fetch_add(w->started, 1);
	for (int i = 0; i < EACH; i++) {
		if (audit_record(w->a, &ev, AUDIT_FROM_PLUGIN) != AUDIT_OK)
			w->failed = 1;
	}
	return NULL;
}

/* Two writers on one file, as `mmhost serve` and `mmhost backup` are: each
 * sees the other's lines and the chain stays one. */
static void two_writers_on_one_file_keep_one_chain(void **state)
{
	struct audit_log *one = open_log(key), *two = open_log(key);
	struct writer w[THREADS];
	atomic_int started = 0;
	struct audit_verify v;

	(void)state;
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct writer){ .a = i % 2 ? one : two, .started = &started };
		assert_int_equal(pthread_create(&w[i].t, NULL, write_events, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(w[i].t, NULL);
		assert_false(w[i].failed);
	}
	audit_close(one);
	audit_close(two);
	v = verify_file(path);
	assert_int_equal(v.bad_line, 0);
	assert_int_equal(v.lines, THREADS * EACH);
}

/* Events that arrive while a write is in progress share the next one. The
 * test holds the file's lock so that the first leader waits while the
 * others queue. */
static void concurrent_events_share_a_sync(void **state)
{
	struct audit_log *a = open_log(key);
	struct writer w[THREADS];
	atomic_int started = 0;
	struct audit_stats st;
	int fd = open(path, O_RDONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct writer){ .a = a, .started = &started };
		assert_int_equal(pthread_create(&w[i].t, NULL, write_events, &w[i]), 0);
	}
	while (atomic_load(&started) < THREADS)
		usleep(1000);
	usleep(20 * 1000);
	flock(fd, LOCK_UN);
	close(fd);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(w[i].t, NULL);
		assert_false(w[i].failed);
	}
	audit_get_stats(a, &st);
	assert_int_equal(st.lines, THREADS * EACH);
	assert_true(st.syncs < st.lines);
	audit_close(a);
	assert_int_equal(verify_file(path).lines, THREADS * EACH);
}

struct done_count {
	pthread_mutex_t lock;
	int done, failed;
};

static void count_done(void *arg, int rc)
{
	struct done_count *d = arg;

	pthread_mutex_lock(&d->lock);
	d->done++;
	d->failed += rc != AUDIT_OK;
	pthread_mutex_unlock(&d->lock);
}

/* For threads that must not block: each line is written by some other
 * thread, and its callback runs once it is on disk. */
static void async_events_are_written_and_reported(void **state)
{
	struct audit_log *a = open_log(key);
	struct audit_event ev = { "flow_connected", ALICE, "app", ALICE, REQ };
	struct done_count d = { .lock = PTHREAD_MUTEX_INITIALIZER };
	int done = 0;

	(void)state;
	for (int i = 0; i < 100; i++)
		assert_int_equal(audit_record_async(a, &ev, AUDIT_FROM_PLUGIN, count_done, &d),
				 AUDIT_OK);
	ev.event = "made_up";
	assert_int_equal(audit_record_async(a, &ev, AUDIT_FROM_PLUGIN, count_done, &d),
			 AUDIT_EINVAL);
	for (int waited = 0; waited < 30000 && done < 100; waited += 10) {
		usleep(10 * 1000);
		pthread_mutex_lock(&d.lock);
		done = d.done;
		pthread_mutex_unlock(&d.lock);
	}
	assert_int_equal(done, 100);
	assert_int_equal(d.failed, 0);
	/* Queued ones are written by close. */
	ev.event = "flow_failed";
	for (int i = 0; i < 10; i++)
		assert_int_equal(audit_record_async(a, &ev, AUDIT_FROM_PLUGIN, count_done, &d),
				 AUDIT_OK);
	audit_close(a);
	assert_int_equal(d.done, 110);
	assert_int_equal(verify_file(path).lines, 110);
}

/* While the master key changes, lines under the previous one verify with
 * it, up to the first line under the new one. */
static void lines_before_a_master_key_change_verify_with_the_previous_key(void **state)
{
	struct audit_log *a;
	struct audit_verify v;
	char **lines;
	size_t n;

	(void)state;
	six_lines(); /* under key */
	a = open_log(other_key);
	record(a, "master_key_changed", NULL, NULL, NULL);
	audit_close(a);
	v = verify_with(path, other_key, key);
	assert_int_equal(v.bad_line, 0);
	assert_int_equal(v.lines, 7);
	v = verify_with(path, other_key, NULL);
	assert_int_equal(v.bad_line, 1);
	/* An old-key line after a new-key one is not accepted. */
	lines = lines_of(path, &n);
	{
		static const int order[] = { 0, 1, 2, 3, 4, 5, 6, 5 };
		v = verify_with(copy_with(lines, order, 8), other_key, key);
		assert_int_equal(v.bad_line, 8);
	}
	free_lines(lines, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(lines_hold_the_events_and_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(only_known_events_and_ids_are_recorded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(each_kind_of_tampering_is_named_at_its_line, setup,
						teardown),
		cmocka_unit_test_setup_teardown(the_sequence_goes_on_across_a_reopen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_line_cut_by_a_crash_is_kept_and_recorded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_whole_last_line_without_its_newline_goes_on,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_tail_of_zeros_after_a_power_cut_is_recorded,
						setup, teardown),
		cmocka_unit_test_setup_teardown(two_writers_on_one_file_keep_one_chain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(concurrent_events_share_a_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(async_events_are_written_and_reported, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			lines_before_a_master_key_change_verify_with_the_previous_key, setup,
			teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
