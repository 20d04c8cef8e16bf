/*
 * The OAuth2 flow as a person in a browser does it: the real host and
 * plugin, the test App and the test OAuth2 provider each in their own
 * process, and a cookie-carrying HTTP client as the browser, following each
 * redirect by hand.
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
#include <sodium.h>

#include "pg_harness.h"
#include "apps_world.h"
#include "urlencoded.h"

#define P TS_APPS
#define CLIENT_ID "flow-client"
#define CLIENT_SECRET "flow-client-secret"
#define CONNECTED "You have connected your account. You can close this window."

static struct ts_world world;
static struct ts_proc provider;
/* Short names for the world's parts, used throughout. */
#define host world.host
#define plugins world.plugins
#define admin_tok world.admin_tok
static char site[128];
static char alice_tok[64], bob_tok[64], alice_id[32], bob_id[32];

static struct ts_resp api(const char *method, const char *path, const char *token, const char *body)
{
	return ts_api(host.base_url, method, path, token, body);
}

static void install(const char *app_id, const char *perms)
{
	if (ts_world_install(&world, app_id, perms, NULL) != 0)
		fail_msg("install %s", app_id);
}

/* The App's bot token, from a call's context. */
static void bot_token(const char *app_id, char *out)
{
	if (ts_app_tokens(host.base_url, alice_tok, app_id, out, NULL, NULL) != 0)
		fail_msg("no bot token for %s", app_id);
}

static void register_client(const char *app_id, const char *root)
{
	char tok[64], body[512];
	struct ts_resp r;

	bot_token(app_id, tok);
	snprintf(body, sizeof(body),
		 "{\"client_id\":\"" CLIENT_ID "\",\"client_secret\":\"" CLIENT_SECRET "\","
		 "\"remote_root_url\":\"%s\"}",
		 root);
	r = api("POST", P "/api/v1/oauth2/app", tok, body);
	if (r.status != 200)
		fail_msg("register %s: %s", app_id, r.body);
	ts_resp_free(&r);
}

#define ALL "\"act_as_bot\",\"act_as_user\",\"remote_oauth2\""

static int setup(void **state)
{
	char connect[128], token[128];
	const char *prov_argv[] = { TEST_PROVIDER_BIN, "--listen", "127.0.0.1:0",
				    "--client-id",     CLIENT_ID,  "--client-secret",
				    CLIENT_SECRET,     NULL };
	const char *app_argv[] = { "--connect-url", connect, "--token-url", token, NULL };
	static const char *const bad[] = { "bad-js",    "bad-host",     "bad-type",
					   "bad-error", "bad-relative", "bad-userinfo" };

	(void)state;
	if (ts_proc_start(&provider, prov_argv, "test-provider listening on") != 0)
		return -1;
	snprintf(connect, sizeof(connect), "%s/authorize", provider.base_url);
	snprintf(token, sizeof(token), "%s/token", provider.base_url);
	if (ts_world_start(&world, app_argv, 0, NULL) != 0 ||
	    ts_world_user(&world, "alice", 0, alice_tok, alice_id) != 0 ||
	    ts_world_user(&world, "bob", 0, bob_tok, bob_id) != 0)
		return -1;
	/* The site URL the host derived: the browser uses it, as a person would. */
	snprintf(site, sizeof(site), "http://127.0.0.1:%d", host.port);
	install("flow-app", ALL);
	register_client("flow-app", provider.base_url);
	install("flow-app2", ALL);
	register_client("flow-app2", provider.base_url);
	install("no-client", ALL);
	install("no-oauth2", "\"act_as_bot\",\"act_as_user\"");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		install(bad[i], ALL);
		register_client(bad[i], provider.base_url);
	}
	return 0;
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	rc = ts_world_stop(&world);
	ts_proc_stop(&provider);
	return rc;
}

static void login(struct ts_browser *b, const char *user, const char *pw)
{
	struct ts_resp r;

	assert_int_equal(ts_browser_init(b), 0);
	assert_int_equal(ts_browser_login(b, site, user, pw, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

static struct ts_resp go(struct ts_browser *b, const char *url)
{
	struct ts_resp r;

	ts_browser_go(b, url, NULL, &r);
	return r;
}

static void flow_url(char *out, size_t cap, const char *app_id, const char *step)
{
	snprintf(out, cap, "%s" P "/apps/%s/oauth2/remote/%s", site, app_id, step);
}

/* GET connect: returns the provider URL the browser is sent to ("" when it
 * is not sent anywhere) and checks the flow's headers. */
static void connect(struct ts_browser *b, const char *app_id, char *location, size_t cap,
		    long *status)
{
	char url[256], v[64];
	struct ts_resp r;

	flow_url(url, sizeof(url), app_id, "connect");
	r = go(b, url);
	*status = r.status;
	if (ts_resp_header(&r, "Location", location, cap) != 0)
		location[0] = '\0';
	assert_int_equal(ts_resp_header(&r, "Cache-Control", v, sizeof(v)), 0);
	assert_string_equal(v, "no-store");
	assert_int_equal(ts_resp_header(&r, "Referrer-Policy", v, sizeof(v)), 0);
	assert_string_equal(v, "no-referrer");
	ts_resp_free(&r);
}

/* The decoded value of param in url's query. */
static void query_value(const char *url, const char *param, char *out, size_t cap)
{
	const char *q = strchr(url, '?');

	out[0] = '\0';
	if (q)
		form_get(q + 1, strlen(q + 1), param, out, cap);
}

static size_t count_received(const char *path)
{
	char url[128];
	struct ts_resp r;
	json_t *all, *e;
	size_t n = 0, i;

	snprintf(url, sizeof(url), "%s/_received", world.app.base_url);
	ts_http("GET", url, NULL, NULL, 0, 0, &r);
	all = json_loadb(r.body, r.body_len, 0, NULL);
	json_array_foreach(all, i, e) n +=
		strcmp(json_string_value(json_object_get(e, "path")), path) == 0;
	json_decref(all);
	ts_resp_free(&r);
	return n;
}

static json_t *last_received(const char *path)
{
	char url[128];
	struct ts_resp r;
	json_t *all, *hit = NULL;

	snprintf(url, sizeof(url), "%s/_received", world.app.base_url);
	ts_http("GET", url, NULL, NULL, 0, 0, &r);
	all = json_loadb(r.body, r.body_len, 0, NULL);
	for (size_t i = json_array_size(all); i > 0 && !hit; i--) {
		json_t *e = json_array_get(all, i - 1);
		if (strcmp(json_string_value(json_object_get(e, "path")), path) == 0)
			hit = json_incref(e);
	}
	json_decref(all);
	ts_resp_free(&r);
	return hit;
}

static void whole_flow_connects_and_the_app_sees_the_token(void **state)
{
	char location[2048], back[2048], challenge[128], v[64];
	struct ts_browser b;
	struct ts_resp r;
	json_t *rec, *resp;
	long status;

	(void)state;
	login(&b, "alice", "alice-password");
	connect(&b, "flow-app", location, sizeof(location), &status);
	assert_int_equal(status, 307);
	assert_int_equal(strncmp(location, provider.base_url, strlen(provider.base_url)), 0);
	query_value(location, "code_challenge", challenge, sizeof(challenge));
	assert_int_equal(strlen(challenge), 43);
	query_value(location, "code_challenge_method", v, sizeof(v));
	assert_string_equal(v, "S256");
	query_value(location, "state", v, sizeof(v));
	assert_int_equal(strlen(v), 43);

	/* The provider sends the browser back with a code. */
	r = go(&b, location);
	assert_int_equal(r.status, 302);
	assert_int_equal(ts_resp_header(&r, "Location", back, sizeof(back)), 0);
	ts_resp_free(&r);
	assert_non_null(strstr(back, "/apps/flow-app/oauth2/remote/complete?code="));
	r = go(&b, back);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, CONNECTED));
	assert_int_equal(ts_resp_header(&r, "Cache-Control", v, sizeof(v)), 0);
	assert_string_equal(v, "no-store");
	assert_int_equal(ts_resp_header(&r, "Referrer-Policy", v, sizeof(v)), 0);
	assert_string_equal(v, "no-referrer");
	ts_resp_free(&r);

	/* PKCE: the verifier the App got hashes to the challenge it sent. */
	rec = last_received("/oauth2/complete");
	{
		const char *verifier = json_string_value(json_object_get(
			json_object_get(json_object_get(rec, "body"), "values"), "code_verifier"));
		unsigned char digest[32];
		char b64[64];
		assert_non_null(verifier);
		crypto_hash_sha256(digest, (const unsigned char *)verifier, strlen(verifier));
		sodium_bin2base64(b64, sizeof(b64), digest, 32,
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		assert_string_equal(b64, challenge);
		/* The complete call carries the stored token expansion too. */
		assert_non_null(json_object_get(
			json_object_get(json_object_get(json_object_get(rec, "body"), "context"),
					"oauth2"),
			"client_secret"));
	}
	json_decref(rec);

	/* The App's next call sees the user's token. */
	r = api("POST", P "/api/v1/call", alice_tok,
		"{\"path\":\"/echo\",\"expand\":{\"oauth2_user\":\"all\"},"
		"\"context\":{\"app_id\":\"flow-app\"}}");
	resp = json_loadb(r.body, r.body_len, 0, NULL);
	ts_resp_free(&r);
	{
		json_t *user = json_object_get(
			json_object_get(json_object_get(json_object_get(resp, "data"), "context"),
					"oauth2"),
			"user");
		assert_string_equal(json_string_value(json_object_get(user, "login")), "octocat");
		assert_int_equal(strncmp(json_string_value(json_object_get(user, "access_token")),
					 "gho_", 4),
				 0);
	}
	json_decref(resp);
	ts_browser_free(&b);
}

static void no_session_goes_to_login_and_comes_back(void **state)
{
	char location[1024], url[1200], enc[512];
	struct ts_browser b;
	struct ts_resp r;

	(void)state;
	assert_int_equal(ts_browser_init(&b), 0);
	flow_url(url, sizeof(url), "flow-app", "connect");
	r = go(&b, url);
	assert_int_equal(r.status, 302);
	assert_int_equal(ts_resp_header(&r, "Location", location, sizeof(location)), 0);
	assert_string_equal(location,
			    "/login?redirect_to=%2Fplugins%2Fcom.mattermost.apps%2Fapps%2F"
			    "flow-app%2Foauth2%2Fremote%2Fconnect");
	ts_resp_free(&r);
	/* The login form carries redirect_to and brings the person back. */
	url_encode(P "/apps/flow-app/oauth2/remote/connect", enc, sizeof(enc));
	assert_int_equal(ts_browser_login(&b, site, "alice", "alice-password", enc, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(ts_page_refresh_url(&r, location, sizeof(location)), 0);
	assert_string_equal(location, P "/apps/flow-app/oauth2/remote/connect");
	ts_resp_free(&r);
	snprintf(url, sizeof(url), "%s%s", site, location);
	r = go(&b, url);
	assert_int_equal(r.status, 307);
	ts_resp_free(&r);
	ts_browser_free(&b);
}

/* The complete URL for state with a made-up code. */
static void complete_with(struct ts_browser *b, const char *app_id, const char *state,
			  const char *extra, struct ts_resp *r)
{
	char url[1024], enc[256];

	url_encode(state, enc, sizeof(enc));
	flow_url(url, sizeof(url), app_id, "complete");
	snprintf(url + strlen(url), sizeof(url) - strlen(url), "?code=made-up&state=%s%s", enc,
		 extra ? extra : "");
	ts_browser_go(b, url, NULL, r);
}

static void refused_states_are_403_and_call_nothing(void **state)
{
	char location[2048], st[128], back[2048];
	struct ts_browser alice, bob;
	struct ts_resp r;
	size_t calls;
	long status;

	(void)state;
	login(&alice, "alice", "alice-password");
	login(&bob, "bob", "bob-password");
	connect(&alice, "flow-app", location, sizeof(location), &status);
	query_value(location, "state", st, sizeof(st));
	calls = count_received("/oauth2/complete");

	complete_with(&bob, "flow-app", st, NULL, &r); /* another user */
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body, "another App or another user"));
	ts_resp_free(&r);
	complete_with(&alice, "flow-app2", st, NULL, &r); /* another App */
	assert_int_equal(r.status, 403);
	ts_resp_free(&r);
	complete_with(&alice, "flow-app", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, &r);
	assert_int_equal(r.status, 403); /* unknown */
	assert_non_null(strstr(r.body, "unknown or was already used"));
	ts_resp_free(&r);
	{
		char url[256];
		flow_url(url, sizeof(url), "flow-app", "complete");
		snprintf(url + strlen(url), sizeof(url) - strlen(url), "?code=x");
		r = go(&alice, url); /* missing */
		assert_int_equal(r.status, 403);
		ts_resp_free(&r);
	}
	assert_int_equal(count_received("/oauth2/complete"), calls);

	/* Still good for its own user and App, once. */
	r = go(&alice, location);
	assert_int_equal(ts_resp_header(&r, "Location", back, sizeof(back)), 0);
	ts_resp_free(&r);
	r = go(&alice, back);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, CONNECTED));
	ts_resp_free(&r);
	r = go(&alice, back); /* a replay */
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body, "already used"));
	ts_resp_free(&r);
	assert_int_equal(count_received("/oauth2/complete"), calls + 1);
	ts_browser_free(&alice);
	ts_browser_free(&bob);
}

static void every_bad_connect_url_is_an_error_page(void **state)
{
	static const struct {
		const char *app;
		const char *text;
	} cases[] = {
		{ "bad-js", "did not give a valid address" },
		{ "bad-host", "did not give a valid address" },
		{ "bad-type", "did not give a valid address" },
		{ "bad-error", "no &lt;provider&gt; configured" },
		{ "bad-relative", "did not give a valid address" },
		{ "bad-userinfo", "did not give a valid address" },
	};
	char location[2048], url[256];
	struct ts_browser b;
	struct ts_resp r;

	(void)state;
	login(&b, "alice", "alice-password");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		flow_url(url, sizeof(url), cases[i].app, "connect");
		r = go(&b, url);
		if (r.status != 502 ||
		    ts_resp_header(&r, "Location", location, sizeof(location)) == 0 ||
		    !strstr(r.body, cases[i].text))
			fail_msg("%s: %ld %.300s", cases[i].app, r.status, r.body);
		ts_resp_free(&r);
	}
	ts_browser_free(&b);
}

static void app_checks_on_the_flow_routes(void **state)
{
	static const struct {
		const char *app;
		long status;
		const char *text;
	} cases[] = {
		{ "not-installed", 404, "not installed" },
		{ "no-oauth2", 403, "remote_oauth2" },
		{ "no-client", 409, "has not registered its OAuth2 client" },
	};
	char url[256];
	struct ts_browser b;
	struct ts_resp r;

	(void)state;
	login(&b, "alice", "alice-password");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		flow_url(url, sizeof(url), cases[i].app, "connect");
		r = go(&b, url);
		if (r.status != cases[i].status || !strstr(r.body, cases[i].text))
			fail_msg("%s: %ld %.300s", cases[i].app, r.status, r.body);
		ts_resp_free(&r);
	}
	r = api("POST", P "/api/v1/disable-app", admin_tok, "{\"app_id\":\"flow-app2\"}");
	ts_resp_free(&r);
	flow_url(url, sizeof(url), "flow-app2", "connect");
	r = go(&b, url);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body, "disabled"));
	ts_resp_free(&r);
	flow_url(url, sizeof(url), "flow-app2", "complete");
	r = go(&b, url);
	assert_int_equal(r.status, 403);
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/enable-app", admin_tok, "{\"app_id\":\"flow-app2\"}");
	ts_resp_free(&r);
	ts_browser_free(&b);
}

static void providers_error_reaches_the_app_and_is_escaped(void **state)
{
	char location[2048], back[2048];
	struct ts_browser b;
	struct ts_resp r;
	long status;

	(void)state;
	login(&b, "alice", "alice-password");
	connect(&b, "flow-app", location, sizeof(location), &status);
	/* The person says no at the provider. */
	snprintf(location + strlen(location), sizeof(location) - strlen(location), "&deny=1");
	r = go(&b, location);
	assert_int_equal(ts_resp_header(&r, "Location", back, sizeof(back)), 0);
	ts_resp_free(&r);
	assert_non_null(strstr(back, "error=access_denied"));
	r = go(&b, back);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "provider said: access_denied"));
	ts_resp_free(&r);
	/* Whatever the provider sends comes back escaped. */
	connect(&b, "flow-app", location, sizeof(location), &status);
	{
		char st[128];
		query_value(location, "state", st, sizeof(st));
		complete_with(&b, "flow-app", st, "&error=%3Cscript%3Ealert(1)%3C%2Fscript%3E", &r);
	}
	assert_int_equal(r.status, 400);
	assert_null(strstr(r.body, "<script>"));
	assert_non_null(strstr(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	ts_resp_free(&r);
	ts_browser_free(&b);
}

static void the_21st_state_evicts_the_first(void **state)
{
	char location[2048], first[128], second[128], last[128];
	struct ts_browser b;
	struct ts_resp r;
	long status;

	(void)state;
	login(&b, "bob", "bob-password");
	for (int i = 0; i < 21; i++) {
		connect(&b, "flow-app", location, sizeof(location), &status);
		assert_int_equal(status, 307);
		query_value(location, "state", i == 0 ? first : i == 1 ? second : last, 128);
	}
	complete_with(&b, "flow-app", first, NULL, &r);
	assert_int_equal(r.status, 403);
	ts_resp_free(&r);
	/* The second survived: accepted, then the App fails on the made-up code. */
	complete_with(&b, "flow-app", second, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "the provider refused the code"));
	ts_resp_free(&r);
	complete_with(&b, "flow-app", last, NULL, &r);
	assert_int_equal(r.status, 400);
	ts_resp_free(&r);
	ts_browser_free(&b);
}

/* A GET of a flow route with a token (in the Authorization header, or in
 * ?access_token=) instead of the browser's cookie. */
static struct ts_resp with_token(const char *app_id, const char *step, const char *token,
				 int in_query)
{
	char url[512], auth[128];
	const char *hdrs[] = { auth, NULL };
	int complete = strcmp(step, "complete") == 0;
	struct ts_resp r;

	flow_url(url, sizeof(url), app_id, step);
	if (complete)
		snprintf(url + strlen(url), sizeof(url) - strlen(url), "?state=x&code=chosen");
	if (in_query)
		snprintf(url + strlen(url), sizeof(url) - strlen(url), "%caccess_token=%s",
			 complete ? '&' : '?', token);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	ts_http("GET", url, in_query ? NULL : hdrs, NULL, 0, 0, &r);
	return r;
}

static void only_the_persons_browser_drives_the_flow(void **state)
{
	char app_tok[64];
	size_t connects = count_received("/oauth2/connect");
	size_t completes = count_received("/oauth2/complete");
	struct ts_resp r;

	(void)state;
	/* alice's token for flow-app, as flow-app holds it. */
	assert_int_equal(ts_app_tokens(host.base_url, alice_tok, "flow-app", NULL, app_tok, NULL),
			 0);
	/* flow-app driving alice's connection to flow-app2: refused whatever
	 * way the token comes. */
	for (int q = 0; q < 2; q++) {
		r = with_token("flow-app2", "connect", app_tok, q);
		if (r.status != 403 || !strstr(r.body, "api.context.app_session_scope.app_error"))
			fail_msg("connect with an App token (query %d): %ld %.200s", q, r.status,
				 r.body);
		ts_resp_free(&r);
	}
	for (int q = 0; q < 2; q++) {
		r = with_token("flow-app2", "complete", app_tok, q);
		assert_int_equal(r.status, 403);
		ts_resp_free(&r);
	}
	/* Even alice's own session is not a browser when sent as a token. */
	for (int q = 0; q < 2; q++) {
		r = with_token("flow-app2", "connect", alice_tok, q);
		if (r.status != 403 || !strstr(r.body, "Open this link in your browser"))
			fail_msg("connect with alice's token (query %d): %ld %.200s", q, r.status,
				 r.body);
		ts_resp_free(&r);
	}
	/* The Apps were never asked for anything. */
	assert_int_equal(count_received("/oauth2/connect"), connects);
	assert_int_equal(count_received("/oauth2/complete"), completes);
}

static void expired_state_is_403(void **state)
{
	char cfg[300], location[2048], st[128];
	const char *extra[] = { "--config", cfg, NULL };
	struct ts_browser b;
	struct ts_resp r;
	long status;

	(void)state;
	snprintf(cfg, sizeof(cfg), "%s/short-ttl.json", host.dir);
	assert_int_equal(ts_write_config(cfg, "{\"plugins\":{\"com.mattermost.apps\":{\"settings\":"
					      "{\"oauth2_state_ttl_s\":1}}}}"),
			 0);
	assert_int_equal(ts_host_restart(&host, plugins, extra), 0);
	snprintf(site, sizeof(site), "http://127.0.0.1:%d", host.port);
	assert_int_equal(ts_browser_init(&b), 0);
	assert_int_equal(ts_browser_login(&b, site, "alice", "alice-password", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	connect(&b, "flow-app", location, sizeof(location), &status);
	assert_int_equal(status, 307);
	query_value(location, "state", st, sizeof(st));
	usleep(1200 * 1000);
	complete_with(&b, "flow-app", st, NULL, &r);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body, "expired"));
	ts_resp_free(&r);
	ts_browser_free(&b);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_flow_connects_and_the_app_sees_the_token),
		cmocka_unit_test(no_session_goes_to_login_and_comes_back),
		cmocka_unit_test(refused_states_are_403_and_call_nothing),
		cmocka_unit_test(every_bad_connect_url_is_an_error_page),
		cmocka_unit_test(app_checks_on_the_flow_routes),
		cmocka_unit_test(providers_error_reaches_the_app_and_is_escaped),
		cmocka_unit_test(the_21st_state_evicts_the_first),
		cmocka_unit_test(only_the_persons_browser_drives_the_flow),
		cmocka_unit_test(expired_state_is_403),
	};
	/* argv[1] "postgres": the hosts keep everything in PostgreSQL. */
	if (argc > 1 && strcmp(argv[1], "postgres") == 0 && ts_pg_use_for_hosts("oauth2_flow") != 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
