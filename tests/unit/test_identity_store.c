/* Users and sessions in a real store: an LMDB environment in a temporary
 * folder, or (argv[1] "postgres") a fresh PostgreSQL database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "session_cache.h"
#include "sessions.h"
#include "host_store.h"
#include "pg_harness.h"
#include "testsupport.h"
#include "users.h"

static char dir[256];
static struct host_store store;
static struct store_config cfg;

static int setup(void **state)
{
	char err[256];

	(void)state;
	if (sodium_init() < 0 || ts_tempdir("store", dir, sizeof(dir)) != 0)
		return -1;
	if (cfg.backend == STORE_BACKEND_POSTGRES &&
	    ts_pg_database("identity", cfg.url, sizeof(cfg.url)) != 0)
		return -1;
	if (host_store_open(&store, &cfg, dir, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	host_store_close(&store);
	ts_rmtree(dir);
	return 0;
}

static void passwords_are_argon2id_hashes_and_verify(void **state)
{
	struct user_new n = { "gina", "Gina@Example.com", "gina-password", false, false };
	struct host_user u, again;
	char *file, path[300], id[MM_ID_LEN + 1];
	size_t len = 0;

	(void)state;
	assert_int_equal(users_create(&store, &n, &u), USERS_OK);
	assert_int_equal(strncmp(u.password_hash, "$argon2id$", 10), 0);
	assert_true(users_check_password(&u, "gina-password"));
	assert_false(users_check_password(&u, "gina-passworD"));
	assert_int_equal(users_find_login(&store, "GINA", &again), USERS_OK);
	assert_string_equal(again.id, u.id);
	assert_int_equal(users_find_login(&store, "gina@example.com", &again), USERS_OK);
	assert_string_equal(again.email, "gina@example.com");
	/* What the login limiter counts under: the account, whichever way it
	 * is named. */
	assert_int_equal(users_find_login_id(&store, "Gina@example.COM", id), USERS_OK);
	assert_string_equal(id, u.id);
	assert_int_equal(users_find_login_id(&store, "gina@example.org", id), USERS_ENOTFOUND);
	/* The password itself is nowhere on disk. */
	if (cfg.backend != STORE_BACKEND_LMDB)
		return;
	snprintf(path, sizeof(path), "%s/host/data.mdb", dir);
	file = ts_read_file_n(path, &len);
	assert_non_null(file);
	assert_true(len > 0);
	assert_null(memmem(file, len, "gina-password", 13));
	free(file);
}

static void usernames_and_emails_are_unique_ignoring_case(void **state)
{
	struct user_new a = { "hank", "hank@x.org", "hank-password", false, false };
	struct user_new b = { "hank", "other@x.org", "hank-password", false, false };
	struct user_new c = { "hank2", "HANK@x.org", "hank-password", false, false };
	struct host_user u;

	(void)state;
	assert_int_equal(users_create(&store, &a, &u), USERS_OK);
	assert_int_equal(users_create(&store, &b, &u), USERS_EUSERNAME_TAKEN);
	assert_int_equal(users_create(&store, &c, &u), USERS_EEMAIL_TAKEN);
	/* The failed creations left nothing behind. */
	assert_int_equal(users_find_login(&store, "other@x.org", &u), USERS_ENOTFOUND);
	assert_int_equal(users_find_username(&store, "hank2", &u), USERS_ENOTFOUND);
}

static void bad_fields_are_named(void **state)
{
	struct user_new n = { "Bad Name", "a@b.c", "long-enough", false, false };
	char msg[256];

	(void)state;
	assert_int_equal(users_check_new(&n, msg, sizeof(msg)), USERS_EINVALID);
	assert_non_null(strstr(msg, "username"));
	n.username = "ok";
	n.email = "no-at-sign";
	assert_int_equal(users_check_new(&n, msg, sizeof(msg)), USERS_EINVALID);
	assert_non_null(strstr(msg, "email"));
	n.email = "a@b.c";
	n.password = "short";
	assert_int_equal(users_check_new(&n, msg, sizeof(msg)), USERS_EINVALID);
	assert_non_null(strstr(msg, "password"));
}

static void sessions_are_stored_by_hash_and_expire(void **state)
{
	struct user_new n = { "ivy", "ivy@x.org", "ivy-password", false, false };
	struct session_prop prop = { "mattermost_app_id", "app1" };
	struct session_new sn = { 0 };
	struct host_session s, got;
	struct host_user u;
	char token[SESSION_TOKEN_LEN + 1], path[300], *file;
	size_t len = 0;

	(void)state;
	assert_int_equal(users_create(&store, &n, &u), USERS_OK);
	sn.user_id = u.id;
	sn.props = &prop;
	sn.props_len = 1;
	sn.lifetime_ms = 60000;
	assert_int_equal(sessions_create(&store, &sn, token, &s), SESSIONS_OK);
	assert_int_equal(strlen(token), 26);
	assert_int_equal(sessions_lookup(&store, token, 26, &got), SESSIONS_OK);
	assert_string_equal(got.user_id, u.id);
	assert_string_equal(session_prop(&got, "mattermost_app_id"), "app1");
	assert_true(got.expires_at > got.create_at);
	if (cfg.backend == STORE_BACKEND_LMDB) {
		snprintf(path, sizeof(path), "%s/host/data.mdb", dir);
		file = ts_read_file_n(path, &len);
		assert_non_null(file);
		assert_null(memmem(file, len, token, 26));
		free(file);
	}
	token[0] = token[0] == 'y' ? 'b' : 'y';
	assert_int_equal(sessions_lookup(&store, token, 26, &got), SESSIONS_ENOTFOUND);
	assert_int_equal(sessions_lookup(&store, token, 25, &got), SESSIONS_ENOTFOUND);

	sn.lifetime_ms = 1;
	assert_int_equal(sessions_create(&store, &sn, token, &s), SESSIONS_OK);
	usleep(5000);
	assert_int_equal(sessions_lookup(&store, token, 26, &got), SESSIONS_ENOTFOUND);
}

static void revoke_by_prop_and_by_user(void **state)
{
	struct user_new n = { "jack", "jack@x.org", "jack-password", false, false };
	struct session_prop a = { "mattermost_app_id", "A" }, b = { "mattermost_app_id", "B" };
	struct session_new sn = { 0 };
	struct host_session got;
	struct host_user u;
	char ta[4][SESSION_TOKEN_LEN + 1], tb[SESSION_TOKEN_LEN + 1], tp[SESSION_TOKEN_LEN + 1];
	size_t count = 0;

	(void)state;
	assert_int_equal(users_create(&store, &n, &u), USERS_OK);
	sn.user_id = u.id;
	sn.lifetime_ms = 600000;
	sn.props_len = 1;
	sn.props = &a;
	for (int i = 0; i < 4; i++)
		assert_int_equal(sessions_create(&store, &sn, ta[i], NULL), SESSIONS_OK);
	sn.props = &b;
	assert_int_equal(sessions_create(&store, &sn, tb, NULL), SESSIONS_OK);
	sn.props_len = 0;
	assert_int_equal(sessions_create(&store, &sn, tp, NULL), SESSIONS_OK);
	assert_int_equal(sessions_revoke_prop(&store, "mattermost_app_id", "A", &count), 0);
	assert_int_equal(count, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(sessions_lookup(&store, ta[i], 26, &got), SESSIONS_ENOTFOUND);
	assert_int_equal(sessions_lookup(&store, tb, 26, &got), SESSIONS_OK);
	assert_int_equal(sessions_revoke_user(&store, u.id, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(sessions_lookup(&store, tb, 26, &got), SESSIONS_ENOTFOUND);
	assert_int_equal(sessions_lookup(&store, tp, 26, &got), SESSIONS_ENOTFOUND);
}

static void deactivated_user_has_no_live_session(void **state)
{
	struct user_new n = { "kim", "kim@x.org", "kim-password", false, false };
	struct session_new sn = { 0 };
	struct host_session got;
	struct host_user u;
	char t[SESSION_TOKEN_LEN + 1];

	(void)state;
	assert_int_equal(users_create(&store, &n, &u), USERS_OK);
	sn.user_id = u.id;
	assert_int_equal(sessions_create(&store, &sn, t, NULL), SESSIONS_OK);
	assert_int_equal(users_set_active(&store, u.id, false), USERS_OK);
	assert_int_equal(sessions_lookup(&store, t, 26, &got), SESSIONS_ENOTFOUND);
	assert_int_equal(users_set_active(&store, u.id, true), USERS_OK);
	assert_int_equal(sessions_lookup(&store, t, 26, &got), SESSIONS_OK);
}

/* Another process (an admin command, another node) ends a session: the
 * cache of this one stops answering for it within a second, with no
 * request reaching it in between. */
static void session_ended_elsewhere_leaves_the_cache_within_1_s(void **state)
{
	struct user_new n = { "lena", "lena@x.org", "lena-password", false, false };
	static struct session_cache cache;
	struct session_new sn = { 0 };
	struct host_session got;
	struct host_user u;
	char t[SESSION_TOKEN_LEN + 1];
	const char *args[] = { "/proc/self/exe", "revoke", dir, cfg.url, t, NULL };
	char *out = NULL;
	int code = -1, rc = SESSIONS_OK;
	struct timespec t0, t1;

	(void)state;
	assert_int_equal(session_cache_init(&cache), 0);
	assert_int_equal(host_store_cache_sessions(&store, &cache), 0);
	assert_int_equal(users_create(&store, &n, &u), USERS_OK);
	sn.user_id = u.id;
	assert_int_equal(sessions_create(&store, &sn, t, NULL), SESSIONS_OK);
	assert_int_equal(sessions_lookup(&store, t, 26, &got), SESSIONS_OK); /* cached now */
	assert_int_equal(ts_run(args, &code, &out), 0);
	if (code != 0)
		fail_msg("revoke: %s", out);
	free(out);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		rc = sessions_lookup(&store, t, 26, &got);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (rc == SESSIONS_OK)
			usleep(20 * 1000);
	} while (rc == SESSIONS_OK && t1.tv_sec - t0.tv_sec < 3);
	assert_int_equal(rc, SESSIONS_ENOTFOUND);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000);
	/* And a revocation in this process is seen at once. */
	assert_int_equal(sessions_create(&store, &sn, t, NULL), SESSIONS_OK);
	assert_int_equal(sessions_lookup(&store, t, 26, &got), SESSIONS_OK);
	assert_int_equal(sessions_revoke_token(&store, t, 26), SESSIONS_OK);
	assert_int_equal(sessions_lookup(&store, t, 26, &got), SESSIONS_ENOTFOUND);
	host_store_close(&store); /* stops the listener before the cache goes */
	session_cache_destroy(&cache);
	assert_int_equal(host_store_open(&store, &cfg, dir, (char[256]){ 0 }, 256), 0);
}

/* The other process of the test above: revokes one token and exits. */
static int revoke_elsewhere(const char *data_dir, const char *url, const char *token)
{
	struct host_store other;
	char err[256];
	int rc;

	store_config_init(&cfg);
	if (url[0]) {
		cfg.backend = STORE_BACKEND_POSTGRES;
		snprintf(cfg.url, sizeof(cfg.url), "%s", url);
	}
	if (sodium_init() < 0 || host_store_open(&other, &cfg, data_dir, err, sizeof(err)) != 0)
		return 1;
	rc = sessions_revoke_token(&other, token, strlen(token));
	host_store_close(&other);
	return rc == SESSIONS_OK ? 0 : 1;
}

/* A read that started before a session's revocation committed (it read the
 * live record) finishes after the cache dropped that session: it must not
 * put it back. And the drop is of that session alone. */
static void a_read_racing_a_revocation_does_not_cache_the_ended_session(void **state)
{
	static struct session_cache cache;
	static struct host_session s, got;
	unsigned char ended[SESSION_HASH_LEN], other[SESSION_HASH_LEN];
	uint64_t stamp;

	(void)state;
	assert_int_equal(session_cache_init(&cache), 0);
	memset(ended, 0x11, sizeof(ended));
	memcpy(other, ended, sizeof(other));
	other[0] = 0x12; /* another slot */
	snprintf(s.user_id, sizeof(s.user_id), "%s", "u");
	session_cache_put(&cache, other, 7, session_cache_stamp(&cache, other), &s);

	stamp = session_cache_stamp(&cache, ended);     /* the read starts */
	session_cache_drop(&cache, ended);              /* the revocation is heard */
	session_cache_put(&cache, ended, 7, stamp, &s); /* the read ends */
	assert_int_not_equal(session_cache_get(&cache, ended, 7, 0, &got), 0);
	/* A read that starts after the drop caches as usual. */
	session_cache_put(&cache, ended, 7, session_cache_stamp(&cache, ended), &s);
	assert_int_equal(session_cache_get(&cache, ended, 7, 0, &got), 0);
	session_cache_drop(&cache, ended);
	assert_int_not_equal(session_cache_get(&cache, ended, 7, 0, &got), 0);
	assert_int_equal(session_cache_get(&cache, other, 7, 0, &got), 0);
	session_cache_destroy(&cache);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(passwords_are_argon2id_hashes_and_verify),
		cmocka_unit_test(usernames_and_emails_are_unique_ignoring_case),
		cmocka_unit_test(bad_fields_are_named),
		cmocka_unit_test(sessions_are_stored_by_hash_and_expire),
		cmocka_unit_test(revoke_by_prop_and_by_user),
		cmocka_unit_test(deactivated_user_has_no_live_session),
		cmocka_unit_test(session_ended_elsewhere_leaves_the_cache_within_1_s),
		cmocka_unit_test(a_read_racing_a_revocation_does_not_cache_the_ended_session),
	};

	if (argc == 5 && strcmp(argv[1], "revoke") == 0)
		return revoke_elsewhere(argv[2], argv[3], argv[4]);
	store_config_init(&cfg);
	if (argc > 1 && strcmp(argv[1], "postgres") == 0)
		cfg.backend = STORE_BACKEND_POSTGRES;
	return cmocka_run_group_tests(tests, setup, teardown);
}
