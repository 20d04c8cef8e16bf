/*
 * Secrets the server hands out do not stay in its memory once the answer is
 * sent, as request bodies do not: a personal access token (it never
 * expires; the store keeps only its hash), a login's session token (in
 * the answer's headers) and a user's OAuth2 token read back by its App
 * (sealed in the store). Freed memory counts: it is what a
 * later bug or a core file would show.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "apps_world.h"

static struct ts_world world;

static int setup(void **state)
{
	(void)state;
	return ts_world_start(&world, NULL, 0, NULL);
}

static int teardown(void **state)
{
	(void)state;
	return ts_world_stop(&world);
}

/* Whether the host's memory still holds secret after 5 s (the answer is
 * sent and its request done by then). */
static int still_held(const char *secret)
{
	int found = 1;

	for (int waited = 0; found && waited < 5000; waited += 100) {
		found = ts_memory_holds(world.host.pid, secret);
		assert_true(found >= 0);
		if (found)
			usleep(100 * 1000);
	}
	return found;
}

static void a_personal_access_token_is_wiped_once_handed_out(void **state)
{
	struct ts_resp r;
	json_t *j;
	char token[64];

	(void)state;
	r = ts_api(world.host.base_url, "POST", "/api/v4/users/me/tokens", world.admin_tok,
		   "{\"description\":\"memory\"}");
	assert_int_equal(r.status, 200);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(j, "token")));
	json_decref(j);
	ts_resp_free(&r);
	assert_int_equal(strlen(token), 26);
	if (still_held(token))
		fail_msg("the new personal access token is still in the server's memory");
}

static void a_login_session_token_is_wiped_once_handed_out(void **state)
{
	char token[64];

	(void)state;
	/* In the Token header and the MMAUTHTOKEN cookie of the answer. */
	assert_int_equal(ts_create_user(world.data_dir, "memuser", "memuser-password", 0, NULL), 0);
	assert_int_equal(
		ts_login(world.host.base_url, "memuser", "memuser-password", token, sizeof(token)),
		200);
	assert_int_equal(strlen(token), 26);
	/* Its last 10 characters (50 random bits): a freed small block gets
	 * the allocator's bookkeeping over its first 16 bytes, which would
	 * hide a copy of the whole token (each header value is one). */
	if (still_held(token + 16))
		fail_msg("the new session token is still in the server's memory");
}

static void a_users_oauth2_token_is_wiped_once_read_back(void **state)
{
	char acting[64], secret[64], body[128];
	struct ts_resp r;

	(void)state;
	assert_int_equal(ts_world_install(&world, "memapp", TS_ALL_PERMS, NULL), 0);
	assert_int_equal(
		ts_app_tokens(world.host.base_url, world.admin_tok, "memapp", NULL, acting, NULL),
		0);
	snprintf(secret, sizeof(secret), "gho_%08x%08x", (unsigned)getpid(),
		 (unsigned)rand() ^ 0x5a5a5a5au);
	snprintf(body, sizeof(body), "{\"access_token\":\"%s\"}", secret);
	r = ts_api(world.host.base_url, "PUT", TS_APPS "/api/v1/oauth2/user", acting, body);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	/* Stored sealed, and the request body wiped: nowhere in memory. */
	assert_false(still_held(secret));
	/* The App reads it back. */
	r = ts_api(world.host.base_url, "GET", TS_APPS "/api/v1/oauth2/user", acting, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, secret));
	ts_resp_free(&r);
	if (still_held(secret))
		fail_msg("the user's OAuth2 token is still in the server's memory after the "
			 "App read it");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_personal_access_token_is_wiped_once_handed_out),
		cmocka_unit_test(a_login_session_token_is_wiped_once_handed_out),
		cmocka_unit_test(a_users_oauth2_token_is_wiped_once_read_back),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
