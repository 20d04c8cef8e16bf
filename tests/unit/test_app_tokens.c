/* The tokens Apps act with: 10-minute sessions with the App's prop, reused
 * while more than 5 minutes remain, minted again after, forgotten on
 * revocation. Against a fake host API that counts mints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "plugin.h"

static int mints;
static int64_t lifetime_asked;
static int64_t expires_given; /* 0: now + lifetime */
static char prop_seen[64];

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fake_session_create(mmplugin_host *h, const char *user_id,
			       const struct mmplugin_session_prop *props, size_t n, int64_t ms,
			       char *out, size_t cap, int64_t *expires)
{
	(void)h;
	(void)user_id;
	mints++;
	lifetime_asked = ms;
	snprintf(prop_seen, sizeof(prop_seen), "%.*s=%.*s", (int)props[0].key.len, props[0].key.ptr,
		 (int)props[0].value.len, props[0].value.ptr);
	assert_int_equal(n, 1);
	snprintf(out, cap, "token%021d", mints);
	*expires = expires_given ? expires_given : now_ms() + ms;
	return MMPLUGIN_OK;
}

static struct mmplugin_host_api api = { .session_create = fake_session_create };
static struct apps_plugin plugin;

static int setup(void **state)
{
	(void)state;
	plugin.api = &api;
	token_cache_init(&plugin.tokens);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	token_cache_destroy(&plugin.tokens);
	return 0;
}

static void tokens_are_ten_minute_sessions_with_the_apps_prop(void **state)
{
	char t[MMPLUGIN_ID_LEN + 1];

	(void)state;
	mints = 0;
	expires_given = 0;
	assert_int_equal(app_token(&plugin, "app-a", "uuuuuuuuuuuuuuuuuuuuuuuuu1", t), 0);
	assert_int_equal(mints, 1);
	assert_int_equal(lifetime_asked, 10 * 60 * 1000);
	assert_string_equal(prop_seen, "mattermost_app_id=app-a");
	assert_string_equal(t, "token000000000000000000001");
}

static void reused_while_over_five_minutes_remain(void **state)
{
	char a[MMPLUGIN_ID_LEN + 1], b[MMPLUGIN_ID_LEN + 1];

	(void)state;
	mints = 0;
	expires_given = now_ms() + 5 * 60 * 1000 + 30 * 1000; /* 5.5 minutes left */
	assert_int_equal(app_token(&plugin, "app-b", "uuuuuuuuuuuuuuuuuuuuuuuuu2", a), 0);
	assert_int_equal(app_token(&plugin, "app-b", "uuuuuuuuuuuuuuuuuuuuuuuuu2", b), 0);
	assert_int_equal(mints, 1);
	assert_string_equal(a, b);
	/* Another user or another App gets its own. */
	assert_int_equal(app_token(&plugin, "app-b", "uuuuuuuuuuuuuuuuuuuuuuuuu3", b), 0);
	assert_int_equal(app_token(&plugin, "app-c", "uuuuuuuuuuuuuuuuuuuuuuuuu2", b), 0);
	assert_int_equal(mints, 3);
}

static void minted_again_under_five_minutes(void **state)
{
	char a[MMPLUGIN_ID_LEN + 1], b[MMPLUGIN_ID_LEN + 1];

	(void)state;
	mints = 0;
	expires_given = now_ms() + 5 * 60 * 1000 - 1000; /* just under 5 minutes */
	assert_int_equal(app_token(&plugin, "app-d", "uuuuuuuuuuuuuuuuuuuuuuuuu4", a), 0);
	expires_given = 0;
	assert_int_equal(app_token(&plugin, "app-d", "uuuuuuuuuuuuuuuuuuuuuuuuu4", b), 0);
	assert_int_equal(mints, 2);
	assert_string_not_equal(a, b);
}

static void forgotten_when_the_app_is_revoked(void **state)
{
	char a[MMPLUGIN_ID_LEN + 1], b[MMPLUGIN_ID_LEN + 1];

	(void)state;
	mints = 0;
	expires_given = 0;
	assert_int_equal(app_token(&plugin, "app-e", "uuuuuuuuuuuuuuuuuuuuuuuuu5", a), 0);
	token_cache_forget_app(&plugin.tokens, "app-e");
	assert_int_equal(app_token(&plugin, "app-e", "uuuuuuuuuuuuuuuuuuuuuuuuu5", b), 0);
	assert_int_equal(mints, 2);
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tokens_are_ten_minute_sessions_with_the_apps_prop),
		cmocka_unit_test(reused_while_over_five_minutes_remain),
		cmocka_unit_test(minted_again_under_five_minutes),
		cmocka_unit_test(forgotten_when_the_app_is_revoked),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
