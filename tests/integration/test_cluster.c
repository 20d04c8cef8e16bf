/*
 * Two mmhost nodes on one PostgreSQL database with the same master key
 * file, as behind a load balancer: whatever is done on node A is seen on
 * node B (an App installed, a user's token stored, a connection started),
 * the same state completed on both at once succeeds once, a session
 * revoked or an App disabled on A is refused on B within about a second,
 * and a dump of the database holds no client secret, user token or PKCE
 * verifier in clear. Real processes: two hosts, the test App, the test
 * OAuth2 provider, and a cookie-carrying client as the browser.
 */
#include <pthread.h>
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
#include "pg_harness.h"
#include "urlencoded.h"

#define P TS_APPS
#define CLIENT_ID "cluster-client"
#define CLIENT_SECRET "cluster-client-secret-4c1e"
#define USER_TOKEN "cluster-user-token-9f3a"
#define CONNECTED "You have connected your account. You can close this window."
#define ALL TS_ALL_PERMS

static struct ts_world world; /* node A, the test App and the admin */
static struct ts_host node_b;
static struct ts_proc provider;
static char cfg_dir[256], cfg_path[320], db_url[512];
static char site_a[64], site_b[64];
static char alice_tok[64];

static int64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static struct ts_resp on(const struct ts_host *h, const char *method, const char *path,
			 const char *token, const char *body)
{
	return ts_api(h->base_url, method, path, token, body);
}

static void expect(struct ts_resp r, long status, const char *needle, const char *what)
{
	if (r.status != status)
		fail_msg("%s: status %ld, wanted %ld: %.300s", what, r.status, status, r.body);
	if (needle && !strstr(r.body, needle))
		fail_msg("%s: %.300s lacks %s", what, r.body, needle);
	ts_resp_free(&r);
}

/* Polls method path on h as token until its status is one of want (up to
 * 3 s: about a second is the contract; no time is asserted). */
static long poll_until(const struct ts_host *h, const char *method, const char *path,
		       const char *token, const char *body, long want1, long want2)
{
	int64_t until = mono_ms() + 3000;
	long status;

	do {
		struct ts_resp r = on(h, method, path, token, body);
		status = r.status;
		ts_resp_free(&r);
		if (status == want1 || status == want2)
			break;
		usleep(50 * 1000);
	} while (mono_ms() < until);
	return status;
}

static void register_client(const char *app_id)
{
	char bot[64], body[512];

	assert_int_equal(ts_app_tokens(world.host.base_url, alice_tok, app_id, bot, NULL, NULL), 0);
	snprintf(body, sizeof(body),
		 "{\"client_id\":\"" CLIENT_ID "\",\"client_secret\":\"" CLIENT_SECRET "\","
		 "\"remote_root_url\":\"%s\"}",
		 provider.base_url);
	expect(on(&world.host, "POST", P "/api/v1/oauth2/app", bot, body), 200, NULL, "register");
}

static int setup(void **state)
{
	char connect[128], token[128], text[1200];
	const char *prov_argv[] = { TEST_PROVIDER_BIN, "--listen", "127.0.0.1:0",
				    "--client-id",     CLIENT_ID,  "--client-secret",
				    CLIENT_SECRET,     NULL };
	const char *app_argv[] = { "--connect-url", connect, "--token-url", token, NULL };

	(void)state;
	if (ts_pg_database("cluster", db_url, sizeof(db_url)) != 0 ||
	    ts_tempdir("cluster", cfg_dir, sizeof(cfg_dir)) != 0)
		return -1;
	/* One config for both nodes: the database and the shared key file. */
	snprintf(cfg_path, sizeof(cfg_path), "%s/mmhost.json", cfg_dir);
	snprintf(text, sizeof(text),
		 "{\"store\":{\"backend\":\"postgres\",\"url\":\"%s\"},"
		 "\"plugins\":{\"com.mattermost.apps\":{\"settings\":"
		 "{\"master_key_file\":\"%s/master.key\"}}}}",
		 db_url, cfg_dir);
	if (ts_write_file(cfg_path, text, 0600) != 0)
		return -1;
	ts_use_config(cfg_path);
	if (ts_proc_start(&provider, prov_argv, "test-provider listening on") != 0)
		return -1;
	snprintf(connect, sizeof(connect), "%s/authorize", provider.base_url);
	snprintf(token, sizeof(token), "%s/token", provider.base_url);
	if (ts_world_start(&world, app_argv, 0, NULL) != 0 ||
	    ts_world_user(&world, "alice", 0, alice_tok, NULL) != 0)
		return -1;
	/* Nodes behind a load balancer share one site URL (the provider sends
	 * browsers back there, Apps call back there): node A's stands for it. */
	snprintf(site_a, sizeof(site_a), "http://127.0.0.1:%d", world.host.port);
	{
		const char *b_extra[] = { "--site-url", site_a, NULL };
		if (ts_host_start(&node_b, world.plugins, b_extra) != 0)
			return -1;
	}
	snprintf(site_b, sizeof(site_b), "http://127.0.0.1:%d", node_b.port);
	return 0;
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	rc = ts_host_stop(&node_b);
	rc |= ts_world_stop(&world);
	ts_proc_stop(&provider);
	ts_rmtree(cfg_dir);
	return rc;
}

static void an_app_installed_on_a_is_called_through_b(void **state)
{
	(void)state;
	assert_int_equal(ts_world_install(&world, "cluster-app", ALL, NULL), 0);
	expect(on(&node_b, "POST", P "/api/v1/call", alice_tok,
		  "{\"path\":\"/echo\",\"context\":{\"app_id\":\"cluster-app\"}}"),
	       200, NULL, "call through B");
	expect(on(&node_b, "GET", P "/api/v1/apps/cluster-app", world.admin_tok, NULL), 200,
	       "cluster-app", "the App on B");
}

static void a_token_stored_on_a_reads_back_byte_exact_on_b(void **state)
{
	char acting[64];
	struct ts_resp r;

	(void)state;
	assert_int_equal(
		ts_app_tokens(world.host.base_url, alice_tok, "cluster-app", NULL, acting, NULL),
		0);
	expect(on(&world.host, "PUT", P "/api/v1/oauth2/user", acting,
		  "{\"access_token\":\"" USER_TOKEN "\",\"n\":[1,2.5]}"),
	       200, NULL, "store on A");
	r = on(&node_b, "GET", P "/api/v1/oauth2/user", acting, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"access_token\":\"" USER_TOKEN "\",\"n\":[1,2.5]}");
	ts_resp_free(&r);
}

/* Sends the browser from connect on A to the provider, and returns the URL
 * the provider sends it back to, pointed at site (A or B). */
static void connect_on_a(struct ts_browser *b, const char *site, char *back, size_t cap)
{
	char url[256], location[2048], came[2048];
	struct ts_resp r;

	snprintf(url, sizeof(url), "%s" P "/apps/cluster-flow/oauth2/remote/connect", site_a);
	assert_int_equal(ts_browser_go(b, url, NULL, &r), 0);
	assert_int_equal(r.status, 307);
	assert_int_equal(ts_resp_header(&r, "Location", location, sizeof(location)), 0);
	ts_resp_free(&r);
	assert_int_equal(ts_browser_go(b, location, NULL, &r), 0);
	assert_int_equal(r.status, 302);
	assert_int_equal(ts_resp_header(&r, "Location", came, sizeof(came)), 0);
	ts_resp_free(&r);
	assert_int_equal(strncmp(came, site_a, strlen(site_a)), 0);
	snprintf(back, cap, "%s%s", site, came + strlen(site_a));
}

static void login(struct ts_browser *b, const char *site)
{
	struct ts_resp r;

	assert_int_equal(ts_browser_init(b), 0);
	assert_int_equal(ts_browser_login(b, site, "alice", "alice-password", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

static void connect_on_a_completes_on_b(void **state)
{
	char back[2100];
	struct ts_browser b;
	struct ts_resp r;

	(void)state;
	assert_int_equal(ts_world_install(&world, "cluster-flow", ALL, NULL), 0);
	register_client("cluster-flow");
	login(&b, site_a);
	connect_on_a(&b, site_b, back, sizeof(back));
	assert_int_equal(ts_browser_go(&b, back, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, CONNECTED));
	ts_resp_free(&r);
	ts_browser_free(&b);
}

struct completer {
	struct ts_browser *b;
	const char *url;
	long status;
	char body[512];
};

static void *complete(void *arg)
{
	struct completer *c = arg;
	struct ts_resp r;

	if (ts_browser_go(c->b, c->url, NULL, &r) == 0) {
		c->status = r.status;
		snprintf(c->body, sizeof(c->body), "%.*s", (int)r.body_len, r.body);
		ts_resp_free(&r);
	}
	return NULL;
}

#define RACES 5

static void one_state_completed_on_both_nodes_at_once_succeeds_once(void **state)
{
	char back_a[2100], back_b[2100];
	struct ts_browser on_a, on_b;
	struct completer c[2];
	pthread_t th[2];

	(void)state;
	login(&on_a, site_a);
	login(&on_b, site_b); /* the same person, another session */
	for (int race = 0; race < RACES; race++) {
		int ok = 0;

		connect_on_a(&on_a, site_a, back_a, sizeof(back_a));
		snprintf(back_b, sizeof(back_b), "%s%s", site_b, back_a + strlen(site_a));
		c[0] = (struct completer){ &on_a, back_a, 0, "" };
		c[1] = (struct completer){ &on_b, back_b, 0, "" };
		for (int i = 0; i < 2; i++)
			assert_int_equal(pthread_create(&th[i], NULL, complete, &c[i]), 0);
		for (int i = 0; i < 2; i++) {
			pthread_join(th[i], NULL);
			if (c[i].status == 200 && strstr(c[i].body, CONNECTED))
				ok++;
			else if (c[i].status != 403)
				fail_msg("race %d, node %c: %ld %s", race, 'A' + i, c[i].status,
					 c[i].body);
		}
		assert_int_equal(ok, 1);
	}
	ts_browser_free(&on_a);
	ts_browser_free(&on_b);
}

static void a_session_revoked_on_a_is_refused_on_b(void **state)
{
	char tok[64];
	struct ts_resp r;

	(void)state;
	assert_int_equal(ts_login(world.host.base_url, "alice", "alice-password", tok, sizeof(tok)),
			 200);
	expect(on(&node_b, "GET", P "/api/v1/connections", tok, NULL), 200, NULL, "before");
	r = on(&world.host, "POST", "/api/v4/users/logout", tok, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	assert_int_equal(poll_until(&node_b, "GET", P "/api/v1/connections", tok, NULL, 401, 401),
			 401);
}

static void an_app_disabled_on_a_is_refused_on_b(void **state)
{
	char acting[64];

	(void)state;
	assert_int_equal(
		ts_app_tokens(world.host.base_url, alice_tok, "cluster-app", NULL, acting, NULL),
		0);
	/* B has read the App (its caches are warm). */
	expect(on(&node_b, "GET", P "/api/v1/oauth2/user", acting, NULL), 200, NULL, "before");
	expect(on(&node_b, "POST", P "/api/v1/call", alice_tok,
		  "{\"path\":\"/echo\",\"context\":{\"app_id\":\"cluster-app\"}}"),
	       200, NULL, "call before");
	expect(on(&world.host, "POST", P "/api/v1/disable-app", world.admin_tok,
		  "{\"app_id\":\"cluster-app\"}"),
	       200, NULL, "disable on A");
	/* Its token: its sessions were revoked (401), or the App is refused
	 * (403); a call through B is refused. */
	assert_true(poll_until(&node_b, "GET", P "/api/v1/oauth2/user", acting, NULL, 401, 403) !=
		    200);
	assert_int_equal(poll_until(&node_b, "POST", P "/api/v1/call", alice_tok,
				    "{\"path\":\"/echo\",\"context\":{\"app_id\":\"cluster-app\"}}",
				    403, 403),
			 403);
}

/* The verifier the App was handed at the last completion. */
static void last_verifier(char *out, size_t cap)
{
	char url[128];
	struct ts_resp r;
	json_t *all;
	const char *v = NULL;

	snprintf(url, sizeof(url), "%s/_received", world.app.base_url);
	assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
	all = json_loadb(r.body, r.body_len, 0, NULL);
	for (size_t i = json_array_size(all); i > 0 && !v; i--) {
		json_t *e = json_array_get(all, i - 1);
		if (strcmp(json_string_value(json_object_get(e, "path")), "/oauth2/complete") == 0)
			v = json_string_value(json_object_get(
				json_object_get(json_object_get(e, "body"), "values"),
				"code_verifier"));
	}
	assert_non_null(v);
	snprintf(out, cap, "%s", v);
	json_decref(all);
	ts_resp_free(&r);
}

static void a_dump_holds_no_secret_in_clear(void **state)
{
	char back[2100], dumped[2100], verifier[128];
	const char *argv[] = { "/usr/bin/env", "pg_dump", "--dbname", db_url, NULL };
	struct ts_browser b;
	struct ts_resp r;
	char *dump = NULL;
	int code = -1;

	(void)state;
	/* A state waits in the store while the dump is taken: its verifier is
	 * known only once the App is handed it at completion. */
	login(&b, site_a);
	connect_on_a(&b, site_a, back, sizeof(back));
	assert_int_equal(ts_run(argv, &code, &dump), 0);
	assert_int_equal(code, 0);
	snprintf(dumped, sizeof(dumped), "%s/dump.sql", cfg_dir);
	assert_int_equal(ts_write_file(dumped, dump, 0600), 0);
	free(dump);
	assert_int_equal(ts_browser_go(&b, back, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	ts_browser_free(&b);
	last_verifier(verifier, sizeof(verifier));

	dump = ts_read_file(dumped);
	assert_non_null(dump);
	assert_non_null(strstr(dump, "apps_oauth2_state")); /* the tables are in it */
	free(dump);
	/* The same check on the database now: */
	assert_int_equal(ts_pg_dump_holds(db_url, CLIENT_SECRET), 0);
	assert_int_equal(ts_pg_dump_holds(db_url, USER_TOKEN), 0);
	assert_int_equal(ts_pg_dump_holds(db_url, "gho_"), 0); /* the provider's tokens */
	assert_int_equal(ts_pg_dump_holds(db_url, alice_tok), 0);
	/* and on the dump taken while the state was stored: */
	{
		const char *grep[] = { "/usr/bin/env", "grep",   "-c",   "-F",
				       "-e",           verifier, dumped, NULL };
		char hex[256], *out = NULL;
		for (size_t i = 0; i < strlen(verifier) && 2 * i + 2 < sizeof(hex); i++)
			snprintf(hex + 2 * i, 3, "%02x", (unsigned char)verifier[i]);
		assert_int_equal(ts_run(grep, &code, &out), 0);
		assert_int_equal(code, 1); /* no line holds it */
		free(out);
		grep[5] = hex;
		assert_int_equal(ts_run(grep, &code, &out), 0);
		assert_int_equal(code, 1);
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_app_installed_on_a_is_called_through_b),
		cmocka_unit_test(a_token_stored_on_a_reads_back_byte_exact_on_b),
		cmocka_unit_test(connect_on_a_completes_on_b),
		cmocka_unit_test(one_state_completed_on_both_nodes_at_once_succeeds_once),
		cmocka_unit_test(a_dump_holds_no_secret_in_clear),
		cmocka_unit_test(a_session_revoked_on_a_is_refused_on_b),
		cmocka_unit_test(an_app_disabled_on_a_is_refused_on_b),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
