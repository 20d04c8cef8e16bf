/*
 * The data keys in the store, with two "nodes" (two sealers, each with its
 * own keyring) on one store: a rotation on one is seen by the other the
 * first time it meets a record under the new key; a node whose keyring
 * missed a rotation writes its records under the new key, never the old;
 * the key rows hold no key in clear; a master key that did not wrap them opens none and seals
 * nothing; the previous master key's keys move under the new one once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "apps_store.h"
#include "key_lease.h"
#include "key_store.h"
#include "pg_harness.h"
#include "seal.h"
#include "state_store.h"
#include "testsupport.h"

static const unsigned char master_a[32] = { 7, 7, 7 };
static const unsigned char master_b[32] = { 8, 8, 8 };
static const char rec_key[] = "app\0user";
#define REC_KEY_LEN 8

struct node {
	struct sealer sealer;
	struct key_store ks;
};

static char dir[256];
static struct apps_store st;
static struct store_config cfg; /* LMDB, or PostgreSQL with the argument "postgres" */

static void node_open(struct node *n, const unsigned char *master, struct key_load *l)
{
	char err[256];
	struct key_load ignored;

	assert_int_equal(sealer_open_key(&n->sealer, master), SEAL_OK);
	n->ks = (struct key_store){ &st, &n->sealer };
	assert_int_equal(key_store_attach(&n->ks, l ? l : &ignored, err, sizeof(err)), 0);
}

static int setup(void **state)
{
	char err[256];
	static struct sealer none;

	(void)state;
	if (ts_tempdir("key-store", dir, sizeof(dir)) != 0 || sealer_open_key(&none, master_a))
		return -1;
	return apps_store_open_backend(&st, &cfg, dir, &none, NULL, NULL, err, sizeof(err)) ==
			       STORE_OK
		       ? 0
		       : -1;
}

static int teardown(void **state)
{
	(void)state;
	apps_store_close(&st);
	ts_rmtree(dir);
	return 0;
}

static char *row(uint32_t id, void *arg, size_t *len)
{
	(void)id;
	(void)arg;
	*len = 2;
	return strdup("{}");
}

static int opens(const struct sealer *s, const unsigned char *rec, size_t len)
{
	char *plain = NULL;
	size_t plen;
	int rc = unseal_record(s, "oauth2_user", rec_key, REC_KEY_LEN, rec, len, &plain, &plen);

	if (rc == SEAL_OK)
		assert_string_equal(plain, "\"token\"");
	unseal_free(plain);
	return rc;
}

static void a_rotation_on_one_node_is_seen_by_the_other(void **state)
{
	struct node a, b;
	struct key_load l;
	unsigned char *rec;
	size_t len;
	uint32_t id = 0;

	(void)state;
	node_open(&a, master_a, &l);
	assert_true(l.migrated); /* an empty store gets key id 1 */
	assert_int_equal(l.current, 1);
	node_open(&b, master_a, &l);
	assert_false(l.migrated);
	assert_int_equal(key_store_rotate(&b.ks, row, NULL, &id), 0);
	assert_int_equal(id, 2);
	assert_int_equal(keyring_current_id(&b.sealer.keys->ring), 2);
	assert_int_equal(keyring_current_id(&a.sealer.keys->ring), 1);
	assert_int_equal(seal_record(&b.sealer, "oauth2_user", rec_key, REC_KEY_LEN, "\"token\"", 7,
				     &rec, &len),
			 SEAL_OK);
	/* a has never seen key 2: it reloads its keyring once and opens it. */
	assert_int_equal(opens(&a.sealer, rec, len), SEAL_OK);
	assert_int_equal(keyring_current_id(&a.sealer.keys->ring), 2);
	free(rec);
	sealer_close(&a.sealer);
	sealer_close(&b.sealer);
}

#define STALE_APP "stale-app"
#define STALE_INSTALL "ybndrfg8ejkmcpqxot1uwisza3"
#define STALE_USER "uuuuuuuuuuuuuuuuuuuuuuuuu1"

static int stale_app_record(const json_t *cur, void *arg, json_t **next)
{
	(void)cur;
	*next = json_pack("{s:s, s:s, s:[s], s:s}", "app_id", STALE_APP, "install_id",
			  STALE_INSTALL, "granted_permissions", "remote_oauth2", "note",
			  (char *)arg);
	return *next ? 0 : STORE_ENOMEM;
}

/* The key id the stored record of t under key names. */
static uint32_t stored_key_id(enum key_table t, const void *key, size_t klen)
{
	unsigned char *v = NULL;
	size_t len = 0;
	uint32_t id = 0;

	assert_int_equal(apps_store_get(&st, t, key, klen, &v, &len), STORE_OK);
	assert_int_equal(seal_key_id(v, len, &id), SEAL_OK);
	free(v);
	return id;
}

/* The rotation's second step, as the sweep's thread takes it: every key but
 * keep withdrawn (the row "sweep" left as it is). */
static void withdraw_older(struct node *n, uint32_t keep)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	unsigned withdrawn = 0;

	assert_int_equal(apps_store_get(&st, KEY_TABLE_KEYS, "sweep", 5, &raw, &len), STORE_OK);
	assert_int_equal(key_store_withdraw(&n->ks, keep, raw, len, raw, len, &withdrawn),
			 STORE_OK);
	assert_true(withdrawn >= 1);
	free(raw);
}

/* Node a's keyring has not seen b's rotations (no poll runs here). Until
 * the old key is withdrawn its writes land under it (it is not withdrawn,
 * and it cannot be retired); once it is, each of its writes of a sealed
 * record (an OAuth2 user record, an App record, a flow state, a refreshed
 * token's compare-and-set) is stored under the store's current key, not
 * a's withdrawn one, so that the sweep, which starts after the withdrawal,
 * cannot miss it. Runs last: the keys are under master_b by then. */
static void a_stale_node_writes_under_a_key_not_withdrawn(void **state)
{
	const struct app_gate_expect expect = { STALE_APP, NULL,
						APP_NEED_ENABLED | APP_NEED_OAUTH2 };
	const struct sealer *none = st.sealer;
	unsigned char hash[STATE_HASH_LEN];
	char ukey[64], *data = NULL;
	size_t ulen = oauth2_user_key(STALE_APP, STALE_USER, ukey, sizeof(ukey)), len = 0;
	struct node a, b;
	uint32_t id = 0, was;

	(void)state;
	node_open(&a, master_b, NULL);
	node_open(&b, master_b, NULL);
	st.sealer = &a.sealer; /* the store as node a uses it */
	assert_int_equal(app_record_update(&st, STALE_APP, NULL, stale_app_record, "first", NULL),
			 STORE_OK);
	was = keyring_current_id(&a.sealer.keys->ring);

	assert_int_equal(key_store_rotate(&b.ks, row, NULL, &id), 0);
	assert_int_equal(keyring_current_id(&a.sealer.keys->ring), was); /* stale */
	assert_int_equal(oauth2_user_put(&st, &expect, STALE_USER, "\"early\"", 7), STORE_OK);
	assert_int_equal(stored_key_id(KEY_TABLE_OAUTH2_USER, ukey, ulen), was);
	assert_int_equal(keyring_current_id(&a.sealer.keys->ring), was); /* still */
	assert_int_equal(key_store_retire(&b.ks, was), KEY_STORE_EACTIVE);
	withdraw_older(&b, id);
	assert_int_equal(oauth2_user_put(&st, &expect, STALE_USER, "\"token\"", 7), STORE_OK);
	assert_int_equal(stored_key_id(KEY_TABLE_OAUTH2_USER, ukey, ulen), id);
	assert_int_equal(keyring_current_id(&a.sealer.keys->ring), id);
	assert_int_equal(oauth2_user_get(&st, STALE_APP, STALE_USER, &data, &len), STORE_OK);
	assert_string_equal(data, "\"token\"");
	unseal_free(data);

	was = id;
	assert_int_equal(key_store_rotate(&b.ks, row, NULL, &id), 0);
	withdraw_older(&b, id);
	assert_int_equal(keyring_current_id(&a.sealer.keys->ring), was);
	assert_int_equal(app_record_update(&st, STALE_APP, NULL, stale_app_record, "second", NULL),
			 STORE_OK);
	assert_int_equal(stored_key_id(KEY_TABLE_APPS, STALE_APP, strlen(STALE_APP)), id);

	was = id;
	assert_int_equal(key_store_rotate(&b.ks, row, NULL, &id), 0);
	withdraw_older(&b, id);
	assert_int_equal(keyring_current_id(&a.sealer.keys->ring), was);
	memset(hash, 0x5a, sizeof(hash));
	assert_int_equal(oauth2_state_create(&st, hash, STALE_APP, STALE_INSTALL, STALE_USER,
					     "verifier", 1000, 60000, 16, NULL),
			 STORE_OK);
	assert_int_equal(stored_key_id(KEY_TABLE_OAUTH2_STATE, hash, sizeof(hash)), id);

	/* The token refresh's compare-and-set of a user record. */
	was = id;
	assert_int_equal(key_store_rotate(&b.ks, row, NULL, &id), 0);
	withdraw_older(&b, id);
	assert_int_equal(keyring_current_id(&a.sealer.keys->ring), was);
	{
		unsigned char *old = NULL;
		size_t old_len = 0;
		assert_int_equal(
			apps_store_get(&st, KEY_TABLE_OAUTH2_USER, ukey, ulen, &old, &old_len),
			STORE_OK);
		assert_int_equal(oauth2_user_cas(&st, &expect, STALE_USER, old, old_len,
						 "\"refreshed\"", 11),
				 STORE_OK);
		free(old);
	}
	assert_int_equal(stored_key_id(KEY_TABLE_OAUTH2_USER, ukey, ulen), id);

	st.sealer = none;
	sealer_close(&a.sealer);
	sealer_close(&b.sealer);
}

static int find_key(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	const unsigned char *k = arg;

	(void)key;
	(void)klen;
	return memmem(val, vlen, k, DATA_KEY_LEN) ? -77 : 0;
}

static void key_rows_hold_no_key_in_clear(void **state)
{
	struct node a;
	unsigned char k[DATA_KEY_LEN];
	uint32_t id;

	(void)state;
	node_open(&a, master_a, NULL);
	assert_int_equal(keyring_current(&a.sealer.keys->ring, &id, k), 0);
	assert_int_equal(apps_store_scan(&st, KEY_TABLE_KEYS, NULL, 0, NULL, 0, APPS_SCAN_MAX,
					 find_key, k, NULL),
			 0);
	assert_int_equal(keyring_get(&a.sealer.keys->ring, 1, k), 0);
	assert_int_equal(apps_store_scan(&st, KEY_TABLE_KEYS, NULL, 0, NULL, 0, APPS_SCAN_MAX,
					 find_key, k, NULL),
			 0);
	sealer_close(&a.sealer);
}

static void another_master_key_opens_none_then_takes_them_over(void **state)
{
	struct node a, b, c;
	struct key_load l;
	unsigned char *rec, *out;
	size_t len, out_len;

	(void)state;
	node_open(&a, master_a, NULL);
	assert_int_equal(seal_record(&a.sealer, "oauth2_user", rec_key, REC_KEY_LEN, "\"token\"", 7,
				     &rec, &len),
			 SEAL_OK);
	/* master_b alone: no data key opens, nothing is sealed. */
	node_open(&b, master_b, &l);
	assert_int_equal(l.opened, 0);
	assert_int_equal(l.unopened, 2);
	assert_int_equal(l.current, 0);
	assert_int_not_equal(opens(&b.sealer, rec, len), SEAL_OK);
	assert_int_equal(
		seal_record(&b.sealer, "oauth2_user", rec_key, REC_KEY_LEN, "x", 1, &out, &out_len),
		SEAL_ENOKEY);
	sealer_close(&b.sealer);
	/* master_b with master_a as the previous one: the keys move. */
	assert_int_equal(sealer_open_key(&c.sealer, master_b), SEAL_OK);
	assert_int_equal(sealer_open_key(&b.sealer, master_a), SEAL_OK); /* for its bytes */
	c.sealer.previous = b.sealer.master;
	b.sealer.master = NULL;
	sealer_close(&b.sealer);
	{
		char err[256];
		c.ks = (struct key_store){ &st, &c.sealer };
		assert_int_equal(key_store_attach(&c.ks, &l, err, sizeof(err)), 0);
	}
	assert_int_equal(l.rewrapped, 2);
	assert_int_equal(opens(&c.sealer, rec, len), SEAL_OK);
	/* A node still running with master_a (a rolling restart) reloads: it
	 * keeps the keys it holds, though its master key opens the rows no more. */
	assert_int_equal(key_store_reload(&a.ks), 0);
	assert_int_equal(keyring_current_id(&a.sealer.keys->ring), 2);
	assert_int_equal(opens(&a.sealer, rec, len), SEAL_OK);
	sealer_close(&c.sealer);
	/* Then master_b alone opens them, and master_a no more. */
	node_open(&b, master_b, &l);
	assert_int_equal(l.opened, 2);
	assert_int_equal(l.rewrapped, 0);
	assert_int_equal(opens(&b.sealer, rec, len), SEAL_OK);
	sealer_close(&b.sealer);
	sealer_close(&a.sealer);
	node_open(&a, master_a, &l);
	assert_int_equal(l.opened, 0);
	sealer_close(&a.sealer);
	free(rec);
}

/* The sweep's write: a record re-sealed from bytes that a newer write has
 * replaced meanwhile is skipped, never written over it. */
static void a_stale_compare_and_set_never_overwrites(void **state)
{
	struct apps_cas c[2] = {
		{ KEY_TABLE_KEYS, "rec", 3, NULL, 0, "v1", 2, true },
	};
	unsigned char *v = NULL;
	size_t len = 0, skipped = 9;

	(void)state;
	assert_int_equal(apps_store_cas(&st, c, 1, NULL), STORE_OK);
	/* A newer write: v2. */
	c[0] = (struct apps_cas){ KEY_TABLE_KEYS, "rec", 3, "v1", 2, "v2", 2, true };
	assert_int_equal(apps_store_cas(&st, c, 1, NULL), STORE_OK);
	/* The sweep read v1 before it: skipped; the batch's other change goes in. */
	c[0] = (struct apps_cas){ KEY_TABLE_KEYS, "rec", 3, "v1", 2, "sweep", 5, false };
	c[1] = (struct apps_cas){ KEY_TABLE_KEYS, "other", 5, NULL, 0, "o", 1, true };
	assert_int_equal(apps_store_cas(&st, c, 2, &skipped), STORE_OK);
	assert_int_equal(skipped, 1);
	assert_int_equal(apps_store_get(&st, KEY_TABLE_KEYS, "rec", 3, &v, &len), STORE_OK);
	assert_int_equal(len, 2);
	assert_memory_equal(v, "v2", 2);
	free(v);
	/* A required change that finds another value undoes the whole batch. */
	c[0] = (struct apps_cas){ KEY_TABLE_KEYS, "rec2", 4, NULL, 0, "x", 1, true };
	c[1] = (struct apps_cas){ KEY_TABLE_KEYS, "rec", 3, "v1", 2, "y", 1, true };
	assert_int_equal(apps_store_cas(&st, c, 2, NULL), STORE_ECHANGED);
	assert_int_equal(apps_store_get(&st, KEY_TABLE_KEYS, "rec2", 4, &v, &len), STORE_ENOTFOUND);
}

/* One node sweeps at a time: the lease is taken, renewed by its holder,
 * refused to another node until it expires or is released. */
static void one_node_holds_the_sweep_lease(void **state)
{
	(void)state;
	assert_true(key_lease_take(&st, "node-a", 1000, 100));
	assert_false(key_lease_take(&st, "node-b", 1050, 100));
	assert_true(key_lease_take(&st, "node-a", 1020, 100)); /* 80 left: kept to 1100 */
	assert_false(key_lease_take(&st, "node-b", 1099, 100));
	assert_true(key_lease_take(&st, "node-a", 1090, 100)); /* renewed to 1190 */
	assert_false(key_lease_take(&st, "node-b", 1150, 100));
	assert_true(key_lease_take(&st, "node-b", 1191, 100)); /* a expired */
	assert_false(key_lease_take(&st, "node-a", 1200, 100));
	assert_int_equal(key_lease_release(&st, "node-a"), 0); /* not a's: kept */
	assert_false(key_lease_take(&st, "node-a", 1200, 100));
	assert_int_equal(key_lease_release(&st, "node-b"), 0);
	assert_true(key_lease_take(&st, "node-a", 1200, 100));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_rotation_on_one_node_is_seen_by_the_other),
		cmocka_unit_test(key_rows_hold_no_key_in_clear),
		cmocka_unit_test(another_master_key_opens_none_then_takes_them_over),
		cmocka_unit_test(a_stale_compare_and_set_never_overwrites),
		cmocka_unit_test(one_node_holds_the_sweep_lease),
		cmocka_unit_test(a_stale_node_writes_under_a_key_not_withdrawn),
	};
	if (sodium_init() < 0)
		return 1;
	store_config_init(&cfg);
	if (argc > 1 && strcmp(argv[1], "postgres") == 0) {
		cfg.backend = STORE_BACKEND_POSTGRES;
		if (ts_pg_database("key_store", cfg.url, sizeof(cfg.url)) != 0)
			return 1;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
