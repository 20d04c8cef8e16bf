/* The LMDB layer: writes that fill the map make it grow and still land;
 * a failed write leaves the old value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kv.h"
#include "testsupport.h"

#define VALUE_LEN (256 * 1024)

struct put_arg {
	MDB_dbi dbi;
	int key;
	char fill;
	int fail_after_put;
};

static int put(MDB_txn *txn, void *arg)
{
	struct put_arg *a = arg;
	char *value = malloc(VALUE_LEN);
	MDB_val k = { sizeof(a->key), &a->key }, v = { VALUE_LEN, value };
	int rc;

	memset(value, a->fill, VALUE_LEN);
	rc = mdb_put(txn, a->dbi, &k, &v, 0);
	free(value);
	if (rc == MDB_MAP_FULL)
		return MDB_MAP_FULL;
	if (rc != 0)
		return KV_EIO;
	return a->fail_after_put ? -7 : 0;
}

struct get_arg {
	MDB_dbi dbi;
	int key;
	char first;
};

static int get(MDB_txn *txn, void *arg)
{
	struct get_arg *a = arg;
	MDB_val k = { sizeof(a->key), &a->key }, v;
	int rc = mdb_get(txn, a->dbi, &k, &v);

	if (rc != 0)
		return kv_rc(rc);
	a->first = *(const char *)v.mv_data;
	return 0;
}

static void full_map_grows_and_writes_land(void **state)
{
	struct kv_env kv;
	char dir[256], err[256];
	MDB_dbi dbi;

	(void)state;
	assert_int_equal(ts_tempdir("kv", dir, sizeof(dir)), 0);
	assert_int_equal(kv_open(&kv, dir, 2, 1024 * 1024, 64 * 1024 * 1024, err, sizeof(err)), 0);
	assert_int_equal(kv_dbi(&kv, "t", &dbi), 0);
	for (int i = 0; i < 16; i++) {
		struct put_arg a = { dbi, i, (char)('a' + i), 0 };
		assert_int_equal(kv_write(&kv, put, &a), 0);
	}
	assert_true(kv.map_size > 1024 * 1024);
	for (int i = 0; i < 16; i++) {
		struct get_arg g = { dbi, i, 0 };
		assert_int_equal(kv_read(&kv, get, &g), 0);
		assert_int_equal(g.first, 'a' + i);
	}
	kv_close(&kv);
	ts_rmtree(dir);
}

static void failed_write_keeps_old_value_and_full_max_is_reported(void **state)
{
	struct kv_env kv;
	char dir[256], err[256];
	struct put_arg a;
	struct get_arg g;
	MDB_dbi dbi;
	int rc = 0;

	(void)state;
	assert_int_equal(ts_tempdir("kv", dir, sizeof(dir)), 0);
	assert_int_equal(kv_open(&kv, dir, 2, 1024 * 1024, 2 * 1024 * 1024, err, sizeof(err)), 0);
	assert_int_equal(kv_dbi(&kv, "t", &dbi), 0);
	a = (struct put_arg){ dbi, 1, 'x', 0 };
	assert_int_equal(kv_write(&kv, put, &a), 0);
	a = (struct put_arg){ dbi, 1, 'y', 1 };
	assert_int_equal(kv_write(&kv, put, &a), -7);
	g = (struct get_arg){ dbi, 1, 0 };
	assert_int_equal(kv_read(&kv, get, &g), 0);
	assert_int_equal(g.first, 'x');
	for (int i = 2; i < 40 && rc == 0; i++) {
		a = (struct put_arg){ dbi, i, 'z', 0 };
		rc = kv_write(&kv, put, &a);
	}
	assert_int_equal(rc, KV_EFULL);
	g = (struct get_arg){ dbi, 1, 0 };
	assert_int_equal(kv_read(&kv, get, &g), 0);
	assert_int_equal(g.first, 'x');
	g = (struct get_arg){ dbi, 999, 0 };
	assert_int_equal(kv_read(&kv, get, &g), KV_ENOTFOUND);
	kv_close(&kv);
	ts_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_map_grows_and_writes_land),
		cmocka_unit_test(failed_write_keeps_old_value_and_full_max_is_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
