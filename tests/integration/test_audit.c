/*
 * The node's audit trail against the real host, plugin, test App and test
 * OAuth2 provider: each security event is one line, on disk before the
 * answer that reports it, naming who, which App, whom and the request; no
 * line holds a secret; `mmhost audit verify` counts the lines and names the
 * line that was altered, removed or reordered; the chain goes on across a
 * restart and past a line cut by a crash.
 *
 * Against the LMDB backend, or (argv[1] "postgres") with the host's data in
 * PostgreSQL: the trail is the node's file either way; backups are then the
 * database's own.
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
#include "pg_harness.h"
#include "urlencoded.h"

#define P TS_APPS
#define APP "audit-app"
#define CLIENT_SECRET "audit-client-secret-never-logged"
#define USER_TOKEN "gho_audit_user_token_never_logged"

static int postgres;
static struct ts_world world;
static struct ts_proc provider;
static char site[128], log_path[512];
static char alice_tok[64], alice_id[32], bot_tok[64], bot_id[32], acting[64];
static char app_secret[128], flow_state[128];

static int setup(void **state)
{
	char connect[160], token[160];
	const char *prov_argv[] = { TEST_PROVIDER_BIN, "--listen",
				    "127.0.0.1:0",     "--client-id",
				    "audit-client",    "--client-secret",
				    CLIENT_SECRET,     NULL };
	const char *app_argv[] = { "--connect-url", connect, "--token-url", token, NULL };

	(void)state;
	if (postgres && ts_pg_use_for_hosts("audit") != 0)
		return -1;
	if (ts_proc_start(&provider, prov_argv, "test-provider listening on") != 0)
		return -1;
	snprintf(connect, sizeof(connect), "%s/authorize", provider.base_url);
	snprintf(token, sizeof(token), "%s/token", provider.base_url);
	if (ts_world_start(&world, app_argv, 0, NULL) != 0 ||
	    ts_world_user(&world, "alice", 0, alice_tok, alice_id) != 0)
		return -1;
	snprintf(site, sizeof(site), "http://127.0.0.1:%d", world.host.port);
	snprintf(log_path, sizeof(log_path), "%s/audit/audit.log", world.data_dir);
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

/* ---- reading the trail ---- */

/* The last line of the trail, parsed. */
static json_t *last_line(void)
{
	char *text = ts_read_file(log_path), *end, *start;
	json_t *j;

	assert_non_null(text);
	end = text + strlen(text);
	assert_true(end > text && end[-1] == '\n');
	end[-1] = '\0';
	start = strrchr(text, '\n');
	j = json_loads(start ? start + 1 : text, 0, NULL);
	if (!j)
		fail_msg("not JSON: %s", start ? start + 1 : text);
	free(text);
	return j;
}

static void field_is(const json_t *line, const char *name, const char *want)
{
	const json_t *v = json_object_get(line, name);

	if (!want) {
		if (!json_is_null(v))
			fail_msg("%s: %s, not null", name, json_string_value(v));
		return;
	}
	if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
		fail_msg("%s: %s, not %s", name, json_is_string(v) ? json_string_value(v) : "null",
			 want);
}

/* The trail's last line is this event, on disk now that the answer came. */
static void last_is(const char *event, const char *actor, const char *app, const char *target,
		    const char *request_id)
{
	json_t *l = last_line();

	field_is(l, "event", event);
	field_is(l, "actor", actor);
	field_is(l, "app_id", app);
	field_is(l, "target_user", target);
	if (request_id)
		field_is(l, "request_id", request_id);
	json_decref(l);
}

static void request_id_of(const struct ts_resp *r, char *out)
{
	if (ts_resp_header(r, "X-Request-Id", out, 32) != 0)
		out[0] = '\0';
}

static struct ts_resp api(const char *method, const char *path, const char *token, const char *body)
{
	return ts_api(world.host.base_url, method, path, token, body);
}

/* An API request answered status whose event is then the last line. */
static void call_and_expect(const char *method, const char *path, const char *token,
			    const char *body, long status, const char *event, const char *actor,
			    const char *app, const char *target)
{
	struct ts_resp r = api(method, path, token, body);
	char rid[32];

	if (r.status != status)
		fail_msg("%s %s: %ld %s", method, path, r.status, r.body);
	request_id_of(&r, rid);
	last_is(event, actor, app, target, rid);
	ts_resp_free(&r);
}

static long login_as(const char *user, const char *pw, char *rid)
{
	const char *h[] = { "Content-Type: application/json", NULL };
	char body[256], url[256];
	struct ts_resp r;
	long status;

	snprintf(body, sizeof(body), "{\"login_id\":\"%s\",\"password\":\"%s\"}", user, pw);
	snprintf(url, sizeof(url), "%s/api/v4/users/login", world.host.base_url);
	if (ts_http("POST", url, h, body, strlen(body), 0, &r) != 0)
		fail_msg("login: no answer");
	status = r.status;
	request_id_of(&r, rid);
	ts_resp_free(&r);
	return status;
}

/* ---- the flow, as a browser ---- */

static struct ts_resp go(struct ts_browser *b, const char *url)
{
	struct ts_resp r;

	ts_browser_go(b, url, NULL, &r);
	return r;
}

/* Connect, the provider, complete: the complete page's status. *back gets
 * the complete URL (to replay it). */
static long run_flow(struct ts_browser *b, char *back, size_t cap)
{
	char url[512], location[2048];
	struct ts_resp r;
	long status;
	const char *q;

	snprintf(url, sizeof(url), "%s" P "/apps/" APP "/oauth2/remote/connect", site);
	r = go(b, url);
	assert_int_equal(r.status, 307);
	assert_int_equal(ts_resp_header(&r, "Location", location, sizeof(location)), 0);
	ts_resp_free(&r);
	q = strchr(location, '?');
	assert_non_null(q);
	assert_int_equal(form_get(q + 1, strlen(q + 1), "state", flow_state, sizeof(flow_state)),
			 0);
	r = go(b, location);
	assert_int_equal(r.status, 302);
	assert_int_equal(ts_resp_header(&r, "Location", back, cap), 0);
	ts_resp_free(&r);
	r = go(b, back);
	status = r.status;
	ts_resp_free(&r);
	return status;
}

/* ---- tests ---- */

static void each_event_is_on_disk_before_its_answer(void **state)
{
	char rid[32], body[1024], back[2048];
	struct ts_browser b;
	struct ts_resp r;
	json_t *j;

	(void)state;
	/* Logins: a known account with a wrong password, an unknown name, a
	 * good one. */
	assert_int_equal(login_as("alice", "wrong-password", rid), 401);
	last_is("login_failed", NULL, NULL, alice_id, rid);
	assert_int_equal(login_as("nobody-at-all", "whatever", rid), 401);
	last_is("login_failed", NULL, NULL, NULL, rid);
	assert_int_equal(login_as("alice", "alice-password", rid), 200);
	last_is("login_succeeded", alice_id, NULL, NULL, rid);

	/* The App's life, by the admin. */
	snprintf(body, sizeof(body),
		 "{\"app_id\":\"" APP "\",\"display_name\":\"Audit\",\"homepage_url\":"
		 "\"https://example.com\",\"requested_permissions\":[" TS_ALL_PERMS "],"
		 "\"http\":{\"root_url\":\"%s\"}}",
		 world.app.base_url);
	call_and_expect("POST", P "/api/v1/update-app-listing", world.admin_tok, body, 200,
			"app_listed", world.admin_id, APP, NULL);
	r = api("POST", P "/api/v1/install-app", world.admin_tok, "{\"app_id\":\"" APP "\"}");
	assert_int_equal(r.status, 200);
	request_id_of(&r, rid);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	snprintf(app_secret, sizeof(app_secret), "%s",
		 json_string_value(json_object_get(j, "secret")));
	snprintf(bot_id, sizeof(bot_id), "%s",
		 json_string_value(json_object_get(j, "bot_user_id")));
	json_decref(j);
	ts_resp_free(&r);
	last_is("app_installed", world.admin_id, APP, bot_id, rid);
	call_and_expect("POST", P "/api/v1/disable-app", world.admin_tok,
			"{\"app_id\":\"" APP "\"}", 200, "app_disabled", world.admin_id, APP, NULL);
	call_and_expect("POST", P "/api/v1/enable-app", world.admin_tok, "{\"app_id\":\"" APP "\"}",
			200, "app_enabled", world.admin_id, APP, NULL);

	/* The App's OAuth2 data: its client (by its bot), a user's token. */
	assert_int_equal(ts_app_tokens(world.host.base_url, alice_tok, APP, bot_tok, acting, NULL),
			 0);
	snprintf(body, sizeof(body),
		 "{\"client_id\":\"audit-client\",\"client_secret\":\"" CLIENT_SECRET "\","
		 "\"remote_root_url\":\"%s\"}",
		 provider.base_url);
	call_and_expect("POST", P "/api/v1/oauth2/app", bot_tok, body, 200, "oauth2_client_stored",
			bot_id, APP, NULL);
	call_and_expect("POST", P "/api/v1/oauth2/user", acting,
			"{\"access_token\":\"" USER_TOKEN "\"}", 200, "oauth2_user_stored",
			alice_id, APP, alice_id);
	call_and_expect("DELETE", P "/api/v1/oauth2/user", acting, NULL, 200, "oauth2_user_deleted",
			alice_id, APP, alice_id);

	/* The flow: connected (the App stored the token during complete, so
	 * that line comes just before), then a replay of the complete link. */
	assert_int_equal(ts_browser_init(&b), 0);
	assert_int_equal(ts_browser_login(&b, site, "alice", "alice-password", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	last_is("login_succeeded", alice_id, NULL, NULL, NULL);
	assert_int_equal(run_flow(&b, back, sizeof(back)), 200);
	last_is("flow_connected", alice_id, APP, alice_id, NULL);
	r = go(&b, back);
	assert_int_equal(r.status, 403);
	request_id_of(&r, rid);
	ts_resp_free(&r);
	last_is("flow_failed", alice_id, APP, alice_id, rid);
	ts_browser_free(&b);
	{
		char *text = ts_read_file(log_path);
		char *connected = strstr(text, "\"event\":\"flow_connected\"");
		char *stored = strstr(text, "\"event\":\"oauth2_user_stored\"");
		assert_non_null(connected);
		/* The App's store came through the plugin's route too. */
		assert_non_null(stored);
		free(text);
	}

	/* A backup taken by the command line while the server runs. */
	{
		char out_file[600], *out = NULL;
		const char *args[] = { "backup", "--out", out_file, NULL };
		int code;
		snprintf(out_file, sizeof(out_file), "%s/audit-test.backup", world.host.dir);
		code = ts_cli(world.data_dir, args, &out);
		if (postgres) {
			assert_int_equal(code, 1);
			assert_non_null(strstr(out, "pg_dump"));
		} else {
			if (code != 0)
				fail_msg("backup: %s", out);
			last_is("backup_taken", NULL, NULL, NULL, NULL);
		}
		free(out);
	}
	call_and_expect("POST", P "/api/v1/uninstall-app", world.admin_tok,
			"{\"app_id\":\"" APP "\"}", 200, "app_uninstalled", world.admin_id, APP,
			bot_id);
}

static void no_line_holds_a_secret(void **state)
{
	const char *secrets[] = { CLIENT_SECRET,    USER_TOKEN, "alice-password", "admin-password",
				  "wrong-password", alice_tok,  world.admin_tok,  bot_tok,
				  acting,           app_secret, flow_state };
	char *text = ts_read_file(log_path), *line, *save = NULL;

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		if (strlen(secrets[i]) < 8)
			fail_msg("secret %zu was not captured", i);
		if (strstr(text, secrets[i]))
			fail_msg("the trail holds secret %zu", i);
	}
	/* Every line: the nine fields, ids or null. */
	for (line = text; line && *line; line = save) {
		char *nl = strchr(line, '\n');
		json_t *j;
		const char *key;
		json_t *v;
		assert_non_null(nl);
		*nl = '\0';
		save = nl + 1;
		j = json_loads(line, 0, NULL);
		assert_non_null(j);
		assert_int_equal(json_object_size(j), 9);
		json_object_foreach(j, key, v)
		{
			if (json_is_string(v) && strcmp(key, "time") != 0 &&
			    strcmp(key, "event") != 0 && strcmp(key, "app_id") != 0)
				assert_true(strlen(json_string_value(v)) == 26 ||
					    strlen(json_string_value(v)) == 64);
		}
		json_decref(j);
	}
	free(text);
}

/* A copy of the trail with its lines in order (0-based indexes). */
static const char *copy_of(const int *order, size_t n, int alter)
{
	static char copy[600];
	char *text = ts_read_file(log_path), *lines[1024], *p;
	size_t count = 0;
	FILE *f;

	for (p = text; *p && count < 1024;) {
		char *nl = strchr(p, '\n');
		*nl = '\0';
		lines[count++] = p;
		p = nl + 1;
	}
	snprintf(copy, sizeof(copy), "%s/copy.log", world.host.dir);
	f = fopen(copy, "w");
	for (size_t i = 0; i < n; i++) {
		char *l = lines[order[i]];
		if ((int)i == alter) {
			/* One character of the event's name. */
			char *e = strstr(l, "\"event\":\"") + 9;
			*e = *e == 'a' ? 'b' : 'a';
		}
		fprintf(f, "%s\n", l);
	}
	fclose(f);
	free(text);
	return copy;
}

static int verify(const char *file, char **out)
{
	const char *args[] = { "audit", "verify", file, NULL };

	return ts_cli(world.data_dir, args, out);
}

static size_t lines_in_log(void)
{
	char *text = ts_read_file(log_path);
	size_t n = 0;

	for (char *p = text; *p; p++)
		n += *p == '\n';
	free(text);
	return n;
}

static void verify_counts_lines_and_names_each_tampering(void **state)
{
	int order[1024] = { 0 };
	size_t n = lines_in_log();
	char *out = NULL, want[64];

	(void)state;
	assert_true(n >= 10 && n < 1024);
	assert_int_equal(verify(log_path, &out), 0);
	snprintf(want, sizeof(want), "%zu lines verified", n);
	assert_non_null(strstr(out, want));
	free(out);
	for (size_t i = 0; i < n; i++)
		order[i] = (int)i;

	/* Altered: line 5. */
	assert_int_equal(verify(copy_of(order, n, 4), &out), 1);
	assert_non_null(strstr(out, "line 5 was altered"));
	free(out);
	/* Removed: line 6 left out. */
	{
		int without[1024];
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (i != 5)
				without[k++] = (int)i;
		assert_int_equal(verify(copy_of(without, k, -1), &out), 1);
		assert_non_null(strstr(out, "a line was removed before line 6"));
		free(out);
	}
	/* Reordered: lines 7 and 8 swapped. */
	order[6] = 7;
	order[7] = 6;
	assert_int_equal(verify(copy_of(order, n, -1), &out), 1);
	assert_non_null(strstr(out, "line 7 is out of order"));
	free(out);
}

static void the_chain_goes_on_across_a_restart_and_past_a_cut_line(void **state)
{
	size_t n = lines_in_log();
	char rid[32], *out = NULL, want[64];
	json_t *l;

	(void)state;
	/* A clean restart: the sequence goes on. */
	assert_int_equal(ts_host_restart(&world.host, world.plugins, NULL), 0);
	assert_int_equal(login_as("alice", "alice-password", rid), 200);
	l = last_line();
	assert_int_equal(json_integer_value(json_object_get(l, "seq")), (json_int_t)n + 1);
	json_decref(l);
	assert_int_equal(verify(log_path, &out), 0);
	free(out);

	/* A crash mid-line: verify names the cut line until the server,
	 * started again, records it; then the chain verifies past it. */
	ts_host_kill(&world.host);
	{
		FILE *f = fopen(log_path, "a");
		fputs("{\"seq\":", f);
		fclose(f);
	}
	assert_int_equal(verify(log_path, &out), 1);
	snprintf(want, sizeof(want), "line %zu is cut short", n + 2);
	assert_non_null(strstr(out, want));
	free(out);
	assert_int_equal(ts_host_restart(&world.host, world.plugins, NULL), 0);
	assert_int_equal(login_as("alice", "alice-password", rid), 200);
	last_is("login_succeeded", alice_id, NULL, NULL, rid);
	assert_int_equal(verify(log_path, &out), 0);
	snprintf(want, sizeof(want), "cut short by a crash and recorded, the first at line %zu",
		 n + 2);
	assert_non_null(strstr(out, want));
	free(out);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_event_is_on_disk_before_its_answer),
		cmocka_unit_test(no_line_holds_a_secret),
		cmocka_unit_test(verify_counts_lines_and_names_each_tampering),
		cmocka_unit_test(the_chain_goes_on_across_a_restart_and_past_a_cut_line),
	};

	postgres = argc > 1 && strcmp(argv[1], "postgres") == 0;
	return cmocka_run_group_tests_name(postgres ? "audit_postgres" : "audit_lmdb", tests, setup,
					   teardown);
}
