/*
 * The plugin's store on the storage seam: a store written by the release
 * before the seam opens unchanged (LMDB), a state completes once however
 * many take it at once, an uninstall takes every record of its App and
 * nothing else, the sweep, and (PostgreSQL) a change made through another
 * handle, as by another node, reaches this one's App generation. Against a
 * temporary folder (LMDB), or (argv[1] "postgres") a fresh PostgreSQL
 * database.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "apps_store.h"
#include "flow_tokens.h"
#include "pg_harness.h"
#include "state_store.h"
#include "testsupport.h"

#define LEGACY_INSTALL "ybndrfg8ejkmcpqxot1uwisza3"
#define LEGACY_USER1 "uuuuuuuuuuuuuuuuuuuuuuuuu1"
#define LEGACY_USER3 "uuuuuuuuuuuuuuuuuuuuuuuuu3"
#define USER_A "aaaaaaaaaaaaaaaaaaaaaaaaaa"
#define USER_B "bbbbbbbbbbbbbbbbbbbbbbbbbb"
#define TAKERS 8

static struct sealer sealer;
static char dir[256];
static struct store_config cfg; /* LMDB, or a fresh PostgreSQL database */
static bool postgres;

static int open_at(struct apps_store *st, const char *where)
{
	char err[256];

	if (apps_store_open_backend(st, &cfg, where, &sealer, NULL, NULL, err, sizeof(err)) ==
	    STORE_OK)
		return 0;
	fprintf(stderr, "open: %s\n", err);
	return -1;
}

static int setup(void **state)
{
	unsigned char key[SEAL_MASTER_KEY_LEN];

	(void)state;
	memset(key, 0x42, sizeof(key)); /* the fixture's master key */
	if (sodium_init() < 0 || ts_tempdir("apps-store", dir, sizeof(dir)) != 0 ||
	    sealer_open_key(&sealer, key) != SEAL_OK)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sealer_close(&sealer);
	ts_rmtree(dir);
	return 0;
}

struct fresh {
	const char *app_id;
	const char *install;
};

static int fresh_record(const json_t *cur, void *arg, json_t **next)
{
	const struct fresh *f = arg;

	(void)cur;
	*next = json_pack("{s:s, s:s, s:[s]}", "app_id", f->app_id, "install_id", f->install,
			  "granted_permissions", "remote_oauth2");
	return *next ? 0 : STORE_ENOMEM;
}

static void install(struct apps_store *st, const char *app_id, const char *install_id)
{
	struct fresh f = { app_id, install_id };

	assert_int_equal(app_record_update(st, app_id, NULL, fresh_record, &f, NULL), STORE_OK);
}

static void put_user(struct apps_store *st, const char *app_id, const char *user, const char *data)
{
	struct app_gate_expect e = { app_id, NULL, APP_NEED_ENABLED | APP_NEED_OAUTH2 };

	assert_int_equal(oauth2_user_put(st, &e, user, data, strlen(data)), STORE_OK);
}

static void expect_user(struct apps_store *st, const char *app_id, const char *user,
			const void *want, size_t want_len)
{
	char *data;
	size_t len;

	assert_int_equal(oauth2_user_get(st, app_id, user, &data, &len), STORE_OK);
	assert_int_equal(len, want_len);
	assert_memory_equal(data, want, want_len);
	unseal_free(data);
}

static void make_state(struct apps_store *st, const char *state, const char *app_id,
		       const char *install_id, const char *user, int64_t now, int64_t ttl)
{
	unsigned char hash[STATE_HASH_LEN];

	state_hash(state, strlen(state), hash);
	assert_int_equal(oauth2_state_create(st, hash, app_id, install_id, user, "verifier-of-it",
					     now, ttl, 16, NULL),
			 STORE_OK);
}

static int take_state(struct apps_store *st, const char *state, const char *app_id,
		      const char *user, int64_t now, char *verifier, size_t cap)
{
	unsigned char hash[STATE_HASH_LEN];

	state_hash(state, strlen(state), hash);
	return oauth2_state_consume(st, hash, app_id, user, now, verifier, cap);
}

static void a_store_of_the_release_before_the_seam_opens_unchanged(void **state)
{
	char from[512], to[512], legacy[300], verifier[STATE_VERIFIER_MAX + 1];
	struct apps_store st;
	struct app_gate g;
	struct app_gate_expect e = { "legacy-app", LEGACY_INSTALL, APP_NEED_OAUTH2 };
	json_t *rec, *listing;
	size_t users, states, len;
	char *data;

	(void)state;
	if (postgres)
		skip(); /* LMDB files only */
	snprintf(legacy, sizeof(legacy), "%s/legacy", dir);
	snprintf(from, sizeof(from), "%s/apps_store_v1/data.mdb", FIXTURE_SRC);
	snprintf(to, sizeof(to), "%s/data.mdb", legacy);
	assert_int_equal(mkdir(legacy, 0700), 0);
	assert_int_equal(ts_copy_file(from, to, 0600), 0);
	assert_int_equal(open_at(&st, legacy), 0);

	assert_int_equal(app_record_get(&st, "legacy-app", &rec), STORE_OK);
	assert_string_equal(json_string_value(json_object_get(rec, "install_id")), LEGACY_INSTALL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "remote_oauth2"),
							      "client_secret")),
			    "legacy-client-secret");
	json_decref(rec);
	assert_int_equal(app_gate_get(&st, "legacy-app", &g), STORE_OK);
	assert_string_equal(g.install_id, LEGACY_INSTALL);
	assert_true(g.remote_oauth2);
	assert_false(g.disabled);
	assert_int_equal(listing_get(&st, "legacy-app", &listing), STORE_OK);
	assert_string_equal(json_string_value(json_object_get(listing, "display_name")), "Legacy");
	json_decref(listing);
	expect_user(&st, "legacy-app", LEGACY_USER1, "{\"token\":\"legacy-user-token-1\"}", 31);
	expect_user(&st, "legacy-app", LEGACY_USER3, "\x00\x01legacy\xff", 9);
	/* The states and their index: one completes, the other has expired. */
	assert_int_equal(take_state(&st, "legacy-state", "legacy-app", LEGACY_USER1, 5000, verifier,
				    sizeof(verifier)),
			 STATE_OK);
	assert_string_equal(verifier, "legacy-verifier");
	assert_int_equal(take_state(&st, "legacy-expired", "legacy-app", LEGACY_USER3, 5000,
				    verifier, sizeof(verifier)),
			 STATE_EEXPIRED);
	/* And it takes writes as before. */
	put_user(&st, "legacy-app", LEGACY_USER1, "new");
	assert_int_equal(oauth2_user_read(&st, &e, LEGACY_USER1, &data, &len), STORE_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "new", 3);
	unseal_free(data);
	assert_int_equal(apps_store_delete_app(&st, "legacy-app", &users, &states), STORE_OK);
	assert_int_equal(users, 2);
	apps_store_close(&st);
}

struct taker {
	struct apps_store *st;
	int rc;
	char verifier[STATE_VERIFIER_MAX + 1];
};

static void *take_once(void *arg)
{
	struct taker *t = arg;

	t->rc = take_state(t->st, "raced-state", "race-app", USER_A, 1000, t->verifier,
			   sizeof(t->verifier));
	return NULL;
}

static void a_state_taken_at_once_by_many_completes_once(void **state)
{
	struct apps_store st, other;
	struct taker t[TAKERS];
	pthread_t th[TAKERS];
	int ok = 0, gone = 0;

	(void)state;
	assert_int_equal(open_at(&st, dir), 0);
	/* PostgreSQL: half of them through a second handle, as another node. */
	if (postgres)
		assert_int_equal(open_at(&other, dir), 0);
	install(&st, "race-app", "ybndrfg8ejkmcpqxot1uwisza4");
	make_state(&st, "raced-state", "race-app", NULL, USER_A, 0, 1000000);
	for (int i = 0; i < TAKERS; i++) {
		t[i].st = postgres && i % 2 ? &other : &st;
		assert_int_equal(pthread_create(&th[i], NULL, take_once, &t[i]), 0);
	}
	for (int i = 0; i < TAKERS; i++) {
		pthread_join(th[i], NULL);
		if (t[i].rc == STATE_OK) {
			ok++;
			assert_string_equal(t[i].verifier, "verifier-of-it");
		} else if (t[i].rc == STATE_ENOTFOUND) {
			gone++;
		}
	}
	assert_int_equal(ok, 1);
	assert_int_equal(gone, TAKERS - 1);
	if (postgres)
		apps_store_close(&other);
	assert_int_equal(apps_store_delete_app(&st, "race-app", NULL, NULL), STORE_OK);
	apps_store_close(&st);
}

static void another_users_state_stays_for_its_owner(void **state)
{
	struct apps_store st;
	char verifier[STATE_VERIFIER_MAX + 1];

	(void)state;
	assert_int_equal(open_at(&st, dir), 0);
	install(&st, "own-app", "ybndrfg8ejkmcpqxot1uwisza5");
	make_state(&st, "owned-state", "own-app", NULL, USER_A, 0, 1000000);
	assert_int_equal(
		take_state(&st, "owned-state", "own-app", USER_B, 1000, verifier, sizeof(verifier)),
		STATE_EMISMATCH);
	assert_int_equal(take_state(&st, "owned-state", "other-app", USER_A, 1000, verifier,
				    sizeof(verifier)),
			 STATE_EMISMATCH);
	assert_int_equal(
		take_state(&st, "owned-state", "own-app", USER_A, 1000, verifier, sizeof(verifier)),
		STATE_OK);
	assert_int_equal(
		take_state(&st, "owned-state", "own-app", USER_A, 1000, verifier, sizeof(verifier)),
		STATE_ENOTFOUND);
	assert_int_equal(apps_store_delete_app(&st, "own-app", NULL, NULL), STORE_OK);
	apps_store_close(&st);
}

static void uninstall_takes_its_apps_records_and_no_others(void **state)
{
	struct apps_store st;
	struct apps_store_counts c;
	char verifier[STATE_VERIFIER_MAX + 1];
	size_t users, states;
	json_t *rec;
	/* More users than a page of the scan, so the walk goes on. */
	const size_t many = STORE_SCAN_MAX + 10;

	(void)state;
	assert_int_equal(open_at(&st, dir), 0);
	install(&st, "gone-app", "ybndrfg8ejkmcpqxot1uwisza6");
	install(&st, "gone-app-2", "ybndrfg8ejkmcpqxot1uwisza7"); /* gone-app's id is its prefix */
	for (size_t i = 0; i < many; i++) {
		char user[32];
		snprintf(user, sizeof(user), "user%022zu", i);
		put_user(&st, "gone-app", user, "x");
	}
	put_user(&st, "gone-app-2", USER_A, "kept");
	make_state(&st, "gone-state-1", "gone-app", NULL, USER_A, 0, 1000000);
	make_state(&st, "gone-state-2", "gone-app", NULL, USER_B, 0, 1000000);
	make_state(&st, "kept-state", "gone-app-2", NULL, USER_A, 0, 1000000);

	assert_int_equal(apps_store_delete_app(&st, "gone-app", &users, &states), STORE_OK);
	assert_int_equal(users, many);
	assert_int_equal(states, 2);
	assert_int_equal(app_record_get(&st, "gone-app", &rec), STORE_ENOTFOUND);
	assert_int_equal(take_state(&st, "gone-state-1", "gone-app", USER_A, 1000, verifier,
				    sizeof(verifier)),
			 STATE_ENOTFOUND);
	expect_user(&st, "gone-app-2", USER_A, "kept", 4);
	assert_int_equal(apps_store_count(&st, &c), STORE_OK);
	assert_int_equal(c.apps, 1);
	assert_int_equal(c.users, 1);
	assert_int_equal(c.states, 1);
	assert_int_equal(take_state(&st, "kept-state", "gone-app-2", USER_A, 1000, verifier,
				    sizeof(verifier)),
			 STATE_OK);
	assert_int_equal(apps_store_delete_app(&st, "gone-app-2", &users, &states), STORE_OK);
	assert_int_equal(apps_store_delete_app(&st, "gone-app", NULL, NULL), STORE_ENOTFOUND);
	apps_store_close(&st);
}

static void the_sweep_takes_expired_states_only(void **state)
{
	struct apps_store st;
	char verifier[STATE_VERIFIER_MAX + 1];
	size_t n = 0;

	(void)state;
	assert_int_equal(open_at(&st, dir), 0);
	install(&st, "sweep-app", "ybndrfg8ejkmcpqxot1uwisza8");
	make_state(&st, "old-1", "sweep-app", NULL, USER_A, 0, 100);
	make_state(&st, "old-2", "sweep-app", NULL, USER_B, 0, 200);
	make_state(&st, "live", "sweep-app", NULL, USER_A, 0, 1000000);
	assert_int_equal(oauth2_state_sweep(&st, 500, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(
		take_state(&st, "old-1", "sweep-app", USER_A, 50, verifier, sizeof(verifier)),
		STATE_ENOTFOUND);
	assert_int_equal(
		take_state(&st, "live", "sweep-app", USER_A, 600, verifier, sizeof(verifier)),
		STATE_OK);
	assert_int_equal(apps_store_delete_app(&st, "sweep-app", NULL, NULL), STORE_OK);
	apps_store_close(&st);
}

static int64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void an_app_changed_by_another_node_moves_the_generation(void **state)
{
	struct apps_store here, there;
	uint64_t before;
	int64_t until;

	(void)state;
	if (!postgres)
		skip(); /* one LMDB environment per process */
	assert_int_equal(open_at(&here, dir), 0);
	assert_int_equal(open_at(&there, dir), 0);
	before = atomic_load(&here.app_generation);
	install(&there, "far-app", "ybndrfg8ejkmcpqxot1uwisza9");
	/* Within about a second; polled up to 3 s, no time asserted. */
	until = mono_ms() + 3000;
	while (atomic_load(&here.app_generation) == before && mono_ms() < until)
		usleep(20 * 1000);
	assert_true(atomic_load(&here.app_generation) != before);
	assert_int_equal(apps_store_delete_app(&there, "far-app", NULL, NULL), STORE_OK);
	apps_store_close(&there);
	apps_store_close(&here);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_store_of_the_release_before_the_seam_opens_unchanged),
		cmocka_unit_test(a_state_taken_at_once_by_many_completes_once),
		cmocka_unit_test(another_users_state_stays_for_its_owner),
		cmocka_unit_test(uninstall_takes_its_apps_records_and_no_others),
		cmocka_unit_test(the_sweep_takes_expired_states_only),
		cmocka_unit_test(an_app_changed_by_another_node_moves_the_generation),
	};

	store_config_init(&cfg);
	if (argc > 1 && strcmp(argv[1], "postgres") == 0) {
		postgres = true;
		cfg.backend = STORE_BACKEND_POSTGRES;
		if (ts_pg_database("apps_store", cfg.url, sizeof(cfg.url)) != 0)
			return 1;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
