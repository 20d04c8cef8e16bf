/* The tokens Apps act with: 10-minute sessions with the App's props, reused
 * while more than 5 minutes remain, minted again after, and never handed
 * out when the App's gate changed while minting. Against a real plugin store
 * and a fake host API that counts mints and revocations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "plugin.h"
#include "testsupport.h"

static int mints, revokes;
static int64_t lifetime_asked;
static int64_t expires_given; /* 0: now + lifetime */
static char props_seen[3][128];
static char revoked_key[64], revoked_value[64];
static const char *toggle_during_mint; /* an App to disable then enable while minting */

static struct apps_plugin plugin;
static struct sealer sealer;
static char dir[256];

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_disabled(const json_t *cur, void *arg, json_t **next)
{
	*next = json_deep_copy(cur);
	json_object_set_new(*next, "disabled", json_boolean(*(bool *)arg));
	return 0;
}

static void toggle(const char *app_id, bool disabled)
{
	assert_int_equal(
		app_record_update(&plugin.store, app_id, NULL, set_disabled, &disabled, NULL), 0);
}

static int fake_session_create(mmplugin_host *h, const char *user_id,
			       const struct mmplugin_session_prop *props, size_t n, int64_t ms,
			       char *out, size_t cap, int64_t *expires)
{
	(void)h;
	(void)user_id;
	mints++;
	lifetime_asked = ms;
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		snprintf(props_seen[i], sizeof(props_seen[i]), "%.*s=%.*s", (int)props[i].key.len,
			 props[i].key.ptr, (int)props[i].value.len, props[i].value.ptr);
	snprintf(out, cap, "token%021d", mints);
	*expires = expires_given ? expires_given : now_ms() + ms;
	if (toggle_during_mint) {
		/* disable-app and enable-app commit while this session commits */
		toggle(toggle_during_mint, true);
		toggle(toggle_during_mint, false);
	}
	return MMPLUGIN_OK;
}

static int fake_revoke_prop(mmplugin_host *h, const char *key, const char *value, size_t *n)
{
	(void)h;
	revokes++;
	snprintf(revoked_key, sizeof(revoked_key), "%s", key);
	snprintf(revoked_value, sizeof(revoked_value), "%s", value);
	if (n)
		*n = 1;
	return MMPLUGIN_OK;
}

static void fake_log(mmplugin_host *h, int level, const char *msg)
{
	(void)h;
	(void)level;
	(void)msg;
}

static struct mmplugin_host_api api = { .session_create = fake_session_create,
					.sessions_revoke_prop = fake_revoke_prop,
					.log = fake_log };

static int new_record(const json_t *cur, void *arg, json_t **next)
{
	char install[MM_ID_LEN + 1];

	(void)cur;
	mm_id_new(install);
	*next = json_pack("{s:s, s:s, s:b, s:s, s:[s]}", "app_id", (const char *)arg, "install_id",
			  install, "disabled", 0, "bot_user_id", "bbbbbbbbbbbbbbbbbbbbbbbbbb",
			  "granted_permissions", "act_as_bot");
	return 0;
}

/* Installs app_id; its record (a new reference). */
static json_t *install(const char *app_id)
{
	json_t *rec = NULL;

	assert_int_equal(
		app_record_update(&plugin.store, app_id, NULL, new_record, (void *)app_id, &rec),
		0);
	return rec;
}

static int setup(void **state)
{
	unsigned char key[SEAL_MASTER_KEY_LEN] = { 7 };
	char err[256];

	(void)state;
	if (sodium_init() < 0 || ts_tempdir("app-tokens", dir, sizeof(dir)) != 0 ||
	    sealer_open_key(&sealer, key) != SEAL_OK ||
	    apps_store_open(&plugin.store, dir, &sealer, err, sizeof(err)) != STORE_OK)
		return -1;
	plugin.api = &api;
	token_cache_init(&plugin.tokens);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	token_cache_destroy(&plugin.tokens);
	apps_store_close(&plugin.store);
	sealer_close(&sealer);
	ts_rmtree(dir);
	return 0;
}

static void tokens_are_ten_minute_sessions_with_the_apps_props(void **state)
{
	char t[MMPLUGIN_ID_LEN + 1], want[128];
	json_t *app = install("app-a");

	(void)state;
	mints = 0;
	expires_given = 0;
	assert_int_equal(app_token(&plugin, app, "uuuuuuuuuuuuuuuuuuuuuuuuu1", t), 0);
	assert_int_equal(mints, 1);
	assert_int_equal(lifetime_asked, 10 * 60 * 1000);
	assert_string_equal(props_seen[0], "mattermost_app_id=app-a");
	snprintf(want, sizeof(want), "mattermost_app_install=%s",
		 json_string_value(json_object_get(app, "install_id")));
	assert_string_equal(props_seen[1], want);
	assert_int_equal(strncmp(props_seen[2], "mattermost_app_mint=", 20), 0);
	assert_int_equal(strlen(props_seen[2]), 20 + MM_ID_LEN);
	assert_string_equal(t, "token000000000000000000001");
	json_decref(app);
}

static void reused_while_over_five_minutes_remain(void **state)
{
	char a[MMPLUGIN_ID_LEN + 1], b[MMPLUGIN_ID_LEN + 1];
	json_t *app_b = install("app-b"), *app_c = install("app-c");

	(void)state;
	mints = 0;
	expires_given = now_ms() + 5 * 60 * 1000 + 30 * 1000; /* 5.5 minutes left */
	assert_int_equal(app_token(&plugin, app_b, "uuuuuuuuuuuuuuuuuuuuuuuuu2", a), 0);
	assert_int_equal(app_token(&plugin, app_b, "uuuuuuuuuuuuuuuuuuuuuuuuu2", b), 0);
	assert_int_equal(mints, 1);
	assert_string_equal(a, b);
	/* Another user or another App gets its own. */
	assert_int_equal(app_token(&plugin, app_b, "uuuuuuuuuuuuuuuuuuuuuuuuu3", b), 0);
	assert_int_equal(app_token(&plugin, app_c, "uuuuuuuuuuuuuuuuuuuuuuuuu2", b), 0);
	assert_int_equal(mints, 3);
	json_decref(app_b);
	json_decref(app_c);
}

static void minted_again_under_five_minutes(void **state)
{
	char a[MMPLUGIN_ID_LEN + 1], b[MMPLUGIN_ID_LEN + 1];
	json_t *app = install("app-d");

	(void)state;
	mints = 0;
	expires_given = now_ms() + 5 * 60 * 1000 - 1000; /* just under 5 minutes */
	assert_int_equal(app_token(&plugin, app, "uuuuuuuuuuuuuuuuuuuuuuuuu4", a), 0);
	expires_given = 0;
	assert_int_equal(app_token(&plugin, app, "uuuuuuuuuuuuuuuuuuuuuuuuu4", b), 0);
	assert_int_equal(mints, 2);
	assert_string_not_equal(a, b);
	json_decref(app);
}

static void forgotten_when_the_app_is_revoked(void **state)
{
	char a[MMPLUGIN_ID_LEN + 1], b[MMPLUGIN_ID_LEN + 1];
	json_t *app = install("app-e");

	(void)state;
	mints = 0;
	expires_given = 0;
	assert_int_equal(app_token(&plugin, app, "uuuuuuuuuuuuuuuuuuuuuuuuu5", a), 0);
	token_cache_forget_app(&plugin.tokens, "app-e");
	assert_int_equal(app_token(&plugin, app, "uuuuuuuuuuuuuuuuuuuuuuuuu5", b), 0);
	assert_int_equal(mints, 2);
	assert_string_not_equal(a, b);
	json_decref(app);
}

static void a_disabled_or_reinstalled_app_gets_no_token(void **state)
{
	char t[MMPLUGIN_ID_LEN + 1];
	json_t *app = install("app-f"), *old;

	(void)state;
	mints = 0;
	toggle("app-f", true);
	assert_int_equal(app_token(&plugin, app, "uuuuuuuuuuuuuuuuuuuuuuuuu6", t),
			 MMPLUGIN_ENOTFOUND);
	assert_int_equal(mints, 0);
	toggle("app-f", false);
	/* A record of an earlier install (as a call in flight holds it). */
	old = json_deep_copy(app);
	json_object_set_new(old, "install_id", json_string("ybndrfg8ejkmcpqxot1uwisza3"));
	assert_int_equal(app_token(&plugin, old, "uuuuuuuuuuuuuuuuuuuuuuuuu6", t),
			 MMPLUGIN_ENOTFOUND);
	assert_int_equal(mints, 0);
	assert_int_equal(app_token(&plugin, app, "uuuuuuuuuuuuuuuuuuuuuuuuu6", t), 0);
	json_decref(old);
	json_decref(app);
}

static void a_gate_change_during_the_mint_revokes_the_new_token(void **state)
{
	char t[MMPLUGIN_ID_LEN + 1], mint[128];
	json_t *app = install("app-g");

	(void)state;
	mints = revokes = 0;
	toggle_during_mint = "app-g";
	memset(t, 'x', sizeof(t));
	assert_int_equal(app_token(&plugin, app, "uuuuuuuuuuuuuuuuuuuuuuuuu7", t),
			 MMPLUGIN_ENOTFOUND);
	toggle_during_mint = NULL;
	assert_int_equal(mints, 1);
	assert_int_equal(revokes, 1);
	/* That session, by its own mint id; the token was wiped. */
	snprintf(mint, sizeof(mint), "%s=%s", revoked_key, revoked_value);
	assert_string_equal(mint, props_seen[2]);
	assert_int_equal(t[0], '\0');
	/* Nothing was cached: the next call mints a good one. */
	assert_int_equal(app_token(&plugin, app, "uuuuuuuuuuuuuuuuuuuuuuuuu7", t), 0);
	assert_int_equal(mints, 2);
	assert_int_equal(revokes, 1);
	json_decref(app);
}

static void a_cached_token_is_not_served_after_the_gate_changed(void **state)
{
	char a[MMPLUGIN_ID_LEN + 1], b[MMPLUGIN_ID_LEN + 1];
	json_t *app = install("app-h");

	(void)state;
	mints = 0;
	expires_given = 0;
	assert_int_equal(app_token(&plugin, app, "uuuuuuuuuuuuuuuuuuuuuuuuu8", a), 0);
	/* Disabled and enabled again (its sessions were revoked meanwhile). */
	toggle("app-h", true);
	toggle("app-h", false);
	assert_int_equal(app_token(&plugin, app, "uuuuuuuuuuuuuuuuuuuuuuuuu8", b), 0);
	assert_int_equal(mints, 2);
	assert_string_not_equal(a, b);
	json_decref(app);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tokens_are_ten_minute_sessions_with_the_apps_props),
		cmocka_unit_test(reused_while_over_five_minutes_remain),
		cmocka_unit_test(minted_again_under_five_minutes),
		cmocka_unit_test(forgotten_when_the_app_is_revoked),
		cmocka_unit_test(a_disabled_or_reinstalled_app_gets_no_token),
		cmocka_unit_test(a_gate_change_during_the_mint_revokes_the_new_token),
		cmocka_unit_test(a_cached_token_is_not_served_after_the_gate_changed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
