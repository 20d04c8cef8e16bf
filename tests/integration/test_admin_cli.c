/*
 * The admin command line while `mmhost serve` runs, as an admin uses it when
 * something goes wrong: users listed, deactivated, given a new password;
 * tokens listed and revoked; every session of a user ended; an App's token
 * minted to try the driver. What a command ends must stop working on the
 * running server (polled with a generous deadline: the server hears the
 * store's notifications within a second on an idle machine). Also: one
 * serve per data folder, a missing plugin, bare mmhost.
 */
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
#include <jansson.h>

#include "apps_world.h"

#define DEADLINE_MS 15000

static struct ts_world w;

static int setup(void **state)
{
	(void)state;
	if (ts_world_start(&w, NULL, 0, NULL) != 0)
		return -1;
	return ts_world_install(&w, "tok-app", TS_ALL_PERMS, NULL) == 0 &&
			       ts_world_install(&w, "bot-app", "\"act_as_bot\"", NULL) == 0
		       ? 0
		       : -1;
}

static int teardown(void **state)
{
	(void)state;
	return ts_world_stop(&w);
}

static long status_of(const char *method, const char *path, const char *token)
{
	struct ts_resp r = ts_api(w.host.base_url, method, path, token, NULL);
	long s = r.status;

	ts_resp_free(&r);
	return s;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Polls GET /api/v4/users/me with token until it answers want, or fails
 * after DEADLINE_MS. */
static void expect_me_becomes(const char *token, long want)
{
	long end = now_ms() + DEADLINE_MS, got;

	while ((got = status_of("GET", "/api/v4/users/me", token)) != want) {
		if (now_ms() > end)
			fail_msg("users/me answered %ld, wanted %ld", got, want);
		usleep(50 * 1000);
	}
}

/* Runs the admin command args (--data-dir added); its exit code, and its
 * output in out (freed by the caller). */
static int cli(const char *const *args, char **out)
{
	return ts_cli(w.data_dir, args, out);
}

/* Runs args with input on stdin. */
static int cli_input(const char *const *args, const char *input, char **out)
{
	const char *argv[16] = { MMHOST_BIN };
	size_t n = 1;
	int code = -1;

	for (size_t i = 0; args[i] && n < 13; i++)
		argv[n++] = args[i];
	argv[n++] = "--data-dir";
	argv[n++] = w.data_dir;
	argv[n] = NULL;
	assert_int_equal(ts_run_input(argv, input, &code, out), 0);
	return code;
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void bare_mmhost_prints_one_usage_line(void **state)
{
	const char *argv[] = { MMHOST_BIN, NULL };
	char *out = NULL;
	int code = -1;

	(void)state;
	assert_int_equal(ts_run(argv, &code, &out), 0);
	assert_int_equal(code, 2);
	assert_int_equal(lines(out), 1);
	assert_non_null(strstr(out, "mmhost --help"));
	free(out);
}

static void user_list_shows_every_user_and_their_state(void **state)
{
	const char *const list[] = { "user", "list", NULL };
	char tok[64], id[32], line[256], *out = NULL;

	(void)state;
	assert_int_equal(ts_world_user(&w, "lister", 0, tok, id), 0);
	assert_int_equal(cli(list, &out), 0);
	snprintf(line, sizeof(line), "%s\tlister\tlister@localhost\tsystem_user\tactive\n", id);
	if (!strstr(out, line))
		fail_msg("no \"%s\" in:\n%s", line, out);
	assert_non_null(
		strstr(out, "\tadmin\tadmin@localhost\tsystem_user system_admin\tactive\n"));
	assert_non_null(strstr(out, "\ttok-app\t")); /* the App's bot */
	assert_non_null(strstr(out, "\tbot\n"));
	assert_null(strstr(out, "$argon2")); /* never a hash */
	free(out);
}

static void deactivating_a_user_ends_their_sessions_on_the_running_server(void **state)
{
	const char *const off[] = { "user", "deactivate", "--username", "dora", NULL };
	const char *const on[] = { "user", "activate", "--username", "dora", NULL };
	char tok[64], *out = NULL;

	(void)state;
	assert_int_equal(ts_world_user(&w, "dora", 0, tok, NULL), 0);
	assert_int_equal(status_of("GET", "/api/v4/users/me", tok), 200);
	assert_int_equal(cli(off, &out), 0);
	assert_string_equal(out, "dora deactivated\n");
	free(out);
	expect_me_becomes(tok, 401);
	assert_int_equal(ts_login(w.host.base_url, "dora", "dora-password", NULL, 0), 401);
	assert_int_equal(cli(on, &out), 0);
	free(out);
	assert_int_equal(ts_login(w.host.base_url, "dora", "dora-password", tok, 64), 200);
	assert_int_equal(status_of("GET", "/api/v4/users/me", tok), 200);
}

static void a_new_password_comes_from_stdin_and_ends_every_session(void **state)
{
	const char *const pw[] = { "user", "password", "--username", "pat", NULL };
	const char *const on_line[] = { "user",       "password",          "--username", "pat",
					"--password", "never-on-the-line", NULL };
	const char *const bot[] = { "user", "password", "--username", "tok-app", NULL };
	char tok[64], *out = NULL;

	(void)state;
	assert_int_equal(ts_world_user(&w, "pat", 0, tok, NULL), 0);
	assert_int_equal(cli_input(on_line, "", &out), 2);
	assert_non_null(strstr(out, "never from the command line"));
	free(out);
	assert_int_equal(cli_input(pw, "short\n", &out), 2);
	free(out);
	assert_int_equal(cli_input(pw, "pat-new-password\n", &out), 0);
	assert_non_null(strstr(out, "password set, 1 sessions ended"));
	free(out);
	expect_me_becomes(tok, 401);
	assert_int_equal(ts_login(w.host.base_url, "pat", "pat-password", NULL, 0), 401);
	assert_int_equal(ts_login(w.host.base_url, "pat", "pat-new-password", NULL, 0), 200);
	assert_int_equal(cli_input(bot, "bot-password-1\n", &out), 1);
	assert_non_null(strstr(out, "bots have no password"));
	free(out);
}

static void tokens_are_listed_by_id_and_revoked_on_the_running_server(void **state)
{
	const char *const create[] = { "token",         "create", "--username", "tess",
				       "--description", "ci job", NULL };
	const char *const list[] = { "token", "list", "--username", "tess", NULL };
	const char *revoke[] = { "token", "revoke", NULL, NULL };
	const char *const unknown[] = { "token", "revoke", "nosuchtokenid0000000000000", NULL };
	char tok[64], pat[64], id[32], *out = NULL;

	(void)state;
	assert_int_equal(ts_world_user(&w, "tess", 0, tok, NULL), 0);
	assert_int_equal(cli(create, &out), 0);
	snprintf(pat, sizeof(pat), "%.26s", out);
	free(out);
	assert_int_equal(status_of("GET", "/api/v4/users/me", pat), 200);
	assert_int_equal(cli(list, &out), 0);
	/* One line: the id, when, the description; never the token. */
	assert_int_equal(lines(out), 1);
	assert_non_null(strstr(out, "\tci job\n"));
	assert_null(strstr(out, pat));
	snprintf(id, sizeof(id), "%.26s", out);
	free(out);
	revoke[2] = id;
	assert_int_equal(cli(revoke, &out), 0);
	free(out);
	expect_me_becomes(pat, 401);
	assert_int_equal(status_of("GET", "/api/v4/users/me", tok), 200); /* her login stays */
	assert_int_equal(cli(unknown, &out), 1);
	assert_int_equal(lines(out), 1);
	free(out);
}

static void session_revoke_ends_every_session_of_a_user(void **state)
{
	const char *const create[] = { "token", "create", "--username", "sam", NULL };
	const char *const revoke[] = { "session", "revoke", "--username", "sam", NULL };
	char tok[64], tok2[64], pat[64], other[64], *out = NULL;

	(void)state;
	assert_int_equal(ts_world_user(&w, "sam", 0, tok, NULL), 0);
	assert_int_equal(ts_world_user(&w, "other", 0, other, NULL), 0);
	assert_int_equal(ts_login(w.host.base_url, "sam", "sam-password", tok2, sizeof(tok2)), 200);
	assert_int_equal(cli(create, &out), 0);
	snprintf(pat, sizeof(pat), "%.26s", out);
	free(out);
	assert_int_equal(cli(revoke, &out), 0);
	assert_string_equal(out, "sam: 3 sessions ended\n");
	free(out);
	expect_me_becomes(tok, 401);
	expect_me_becomes(tok2, 401);
	expect_me_becomes(pat, 401);
	assert_int_equal(status_of("GET", "/api/v4/users/me", other), 200);
	assert_int_equal(ts_login(w.host.base_url, "sam", "sam-password", NULL, 0), 200);
}

static void enabling_a_plugin_that_does_not_exist_fails(void **state)
{
	const char *const en[] = {
		"plugin", "enable", "com.nope", "--plugin-dir", w.plugins, NULL
	};
	const char *const dis[] = {
		"plugin", "disable", "com.nope", "--plugin-dir", w.plugins, NULL
	};
	char *out = NULL;

	(void)state;
	assert_int_equal(cli(en, &out), 1);
	assert_int_equal(lines(out), 1);
	assert_non_null(strstr(out, "no plugin \"com.nope\""));
	free(out);
	assert_int_equal(cli(dis, &out), 1);
	free(out);
}

static void a_second_serve_on_the_same_data_folder_refuses(void **state)
{
	const char *argv[] = { MMHOST_BIN, "serve",        "--listen", "127.0.0.1:0", "--data-dir",
			       w.data_dir, "--plugin-dir", w.plugins,  NULL };
	char pid[64], *out = NULL;
	int code = -1;

	(void)state;
	assert_int_equal(ts_run(argv, &code, &out), 0);
	assert_int_equal(code, 1);
	assert_int_equal(lines(out), 1);
	snprintf(pid, sizeof(pid), "(pid %d)", (int)w.host.pid);
	if (!strstr(out, pid))
		fail_msg("no \"%s\" in %s", pid, out);
	free(out);
	/* The first one serves on. */
	assert_int_equal(status_of("GET", "/api/v4/system/ping", NULL), 200);
}

/* mmhost app token ...; the token (26 characters) into tok, or the output. */
static int app_token(const char *app, const char *user, char *tok, char **out)
{
	const char *args[12] = { "app", "token", "--app", app, "--url", w.host.base_url };
	size_t n = 6;
	int code;

	if (user) {
		args[n++] = "--username";
		args[n++] = user;
	}
	args[n] = NULL;
	code = cli(args, out);
	if (code == 0 && tok)
		snprintf(tok, 64, "%.26s", *out);
	return code;
}

static void app_token_hands_out_what_a_call_would(void **state)
{
	char bot[64], acting[64], alice[64], *out = NULL;
	struct ts_resp r;
	json_t *me;

	(void)state;
	assert_int_equal(ts_world_user(&w, "alice", 0, alice, NULL), 0);
	/* The bot's token: the App's bot, and scoped as an App's. */
	if (app_token("tok-app", NULL, bot, &out) != 0)
		fail_msg("%s", out);
	free(out);
	r = ts_api(w.host.base_url, "GET", "/api/v4/users/me", bot, NULL);
	assert_int_equal(r.status, 200);
	me = json_loadb(r.body, r.body_len, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(me, "username")), "tok-app");
	json_decref(me);
	ts_resp_free(&r);
	assert_int_equal(status_of("POST", "/api/v4/users/me/tokens", bot), 403);
	/* An acting user's: it stores through the plugin as that user. */
	if (app_token("tok-app", "alice", acting, &out) != 0)
		fail_msg("%s", out);
	free(out);
	r = ts_api(w.host.base_url, "GET", "/api/v4/users/me", acting, NULL);
	assert_non_null(strstr(r.body, "\"username\":\"alice\""));
	ts_resp_free(&r);
	r = ts_api(w.host.base_url, "POST", TS_APPS "/api/v1/oauth2/user", acting, "{\"t\":1}");
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	/* The same one a call hands the App (one cache, one mint). */
	{
		char call_acting[64];
		assert_int_equal(
			ts_app_tokens(w.host.base_url, alice, "tok-app", NULL, call_acting, NULL),
			0);
		assert_string_equal(call_acting, acting);
	}
	/* Refusals, one line each. */
	assert_int_equal(app_token("bot-app", "alice", NULL, &out), 1);
	assert_non_null(strstr(out, "act_as_user"));
	assert_int_equal(lines(out), 1);
	free(out);
	assert_int_equal(app_token("no-such-app", NULL, NULL, &out), 1);
	assert_non_null(strstr(out, "not installed"));
	free(out);
	assert_int_equal(app_token("tok-app", "tok-app", NULL, &out), 1); /* a bot */
	free(out);
	/* Disabled: no token, and the ones handed out stop working. */
	r = ts_api(w.host.base_url, "POST", TS_APPS "/api/v1/disable-app", w.admin_tok,
		   "{\"app_id\":\"tok-app\"}");
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	assert_int_equal(app_token("tok-app", NULL, NULL, &out), 1);
	assert_non_null(strstr(out, "disabled"));
	free(out);
	expect_me_becomes(bot, 401);
	expect_me_becomes(acting, 401);
	r = ts_api(w.host.base_url, "POST", TS_APPS "/api/v1/enable-app", w.admin_tok,
		   "{\"app_id\":\"tok-app\"}");
	ts_resp_free(&r);
}

static void app_token_says_when_no_server_answers(void **state)
{
	const char *const args[] = { "app",     "token", "--app",
				     "tok-app", "--url", "http://127.0.0.1:1",
				     NULL };
	char *out = NULL;

	(void)state;
	assert_int_equal(cli(args, &out), 1);
	assert_int_equal(lines(out), 1);
	assert_non_null(strstr(out, "cannot reach the server"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bare_mmhost_prints_one_usage_line),
		cmocka_unit_test(user_list_shows_every_user_and_their_state),
		cmocka_unit_test(deactivating_a_user_ends_their_sessions_on_the_running_server),
		cmocka_unit_test(a_new_password_comes_from_stdin_and_ends_every_session),
		cmocka_unit_test(tokens_are_listed_by_id_and_revoked_on_the_running_server),
		cmocka_unit_test(session_revoke_ends_every_session_of_a_user),
		cmocka_unit_test(enabling_a_plugin_that_does_not_exist_fails),
		cmocka_unit_test(a_second_serve_on_the_same_data_folder_refuses),
		cmocka_unit_test(app_token_hands_out_what_a_call_would),
		cmocka_unit_test(app_token_says_when_no_server_answers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
