/* Group commit: every change of many concurrent writers lands, in order per
 * key, and they share commits. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "group_commit.h"
#include "testsupport.h"

#define WRITERS 32
#define WRITES 40

static struct kv_env kv;
static struct group_commit g;
static MDB_dbi dbi;

static void *writer(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int i = 0; i < WRITES; i++) {
		char key[32], value[32];
		struct group_change c = { 0 };
		snprintf(key, sizeof(key), "w%02d-k%02d", id, i % 10);
		snprintf(value, sizeof(value), "v%d", i);
		c = (struct group_change){ .dbi = dbi,
					   .key = key,
					   .key_len = strlen(key),
					   .value = value,
					   .value_len = strlen(value) + 1 };
		if (group_commit_write(&g, &c) != 0)
			return (void *)1;
	}
	return NULL;
}

struct check {
	int bad;
	int seen;
};

static int read_all(MDB_txn *txn, void *arg)
{
	struct check *chk = arg;

	for (int w = 0; w < WRITERS; w++) {
		for (int k = 0; k < 10; k++) {
			char key[32], want[32];
			MDB_val kv_ = { 0, key }, v;
			snprintf(key, sizeof(key), "w%02d-k%02d", w, k);
			kv_.mv_size = strlen(key);
			/* The last write of each key is WRITES - 10 + k. */
			snprintf(want, sizeof(want), "v%d", WRITES - 10 + k);
			if (mdb_get(txn, dbi, &kv_, &v) != 0 || strcmp(v.mv_data, want) != 0)
				chk->bad++;
			else
				chk->seen++;
		}
	}
	return 0;
}

static void concurrent_writers_all_land_in_shared_commits(void **state)
{
	char dir[256], err[256];
	pthread_t t[WRITERS];
	struct check chk = { 0, 0 };
	struct group_change del = { 0 };

	(void)state;
	assert_int_equal(ts_tempdir("group", dir, sizeof(dir)), 0);
	assert_int_equal(kv_open(&kv, dir, 2, 1 << 20, 1 << 26, err, sizeof(err)), 0);
	assert_int_equal(kv_dbi(&kv, "t", &dbi), 0);
	group_commit_init(&g, &kv);
	for (int i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i), 0);
	for (int i = 0; i < WRITERS; i++) {
		void *rc;
		pthread_join(t[i], &rc);
		assert_null(rc);
	}
	assert_int_equal(kv_read(&kv, read_all, &chk), 0);
	assert_int_equal(chk.bad, 0);
	assert_int_equal(chk.seen, WRITERS * 10);
	assert_int_equal(g.changes, WRITERS * WRITES);
	assert_true(g.commits <= g.changes);
	/* A delete of a missing key is not an error. */
	del = (struct group_change){ .dbi = dbi, .del = true, .key = "nope", .key_len = 4 };
	assert_int_equal(group_commit_write(&g, &del), 0);
	print_message("%lu changes in %lu commits\n", g.changes, g.commits);
	group_commit_destroy(&g);
	kv_close(&kv);
	ts_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(concurrent_writers_all_land_in_shared_commits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
