#include "apps_world.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

int ts_world_start(struct ts_world *w, const char *const *app_args, int with_fixture,
		   const char *const *host_extra)
{
	const char *argv[16] = { TEST_APP_BIN, "--listen", "127.0.0.1:0" };
	size_t n = 3;

	memset(w, 0, sizeof(*w));
	for (size_t i = 0; app_args && app_args[i] && n < 15; i++)
		argv[n++] = app_args[i];
	argv[n] = NULL;
	if (ts_proc_start(&w->app, argv, "test-app listening on") != 0 ||
	    ts_tempdir("world-plugins", w->plugins, sizeof(w->plugins)) != 0 ||
	    ts_install_plugin(w->plugins, "com.mattermost.apps", APPS_PLUGIN_SO, 0755) != 0 ||
	    (with_fixture &&
	     ts_install_plugin(w->plugins, "fixture.good", FIXTURE_DIR "/good.so", 0755) != 0) ||
	    ts_host_start(&w->host, w->plugins, host_extra) != 0)
		return -1;
	snprintf(w->data_dir, sizeof(w->data_dir), "%s/data", w->host.dir);
	return ts_world_user(w, "admin", 1, w->admin_tok, w->admin_id);
}

int ts_world_stop(struct ts_world *w)
{
	int rc = ts_host_stop(&w->host);

	ts_proc_stop(&w->app);
	ts_rmtree(w->plugins);
	return rc == 0 ? 0 : -1;
}

int ts_world_install(struct ts_world *w, const char *app_id, const char *perms, const char *root)
{
	return ts_world_install_secret(w, app_id, perms, root, NULL, 0);
}

int ts_world_install_secret(struct ts_world *w, const char *app_id, const char *perms,
			    const char *root, char *secret, size_t cap)
{
	char body[2048];
	struct ts_resp r;
	long status;
	json_t *j = NULL;
	const char *given;

	snprintf(body, sizeof(body),
		 "{\"manifest\":{\"app_id\":\"%s\",\"display_name\":\"%s\","
		 "\"homepage_url\":\"https://example.com\",\"requested_permissions\":[%s],"
		 "\"http\":{\"root_url\":\"%s\"}}}",
		 app_id, app_id, perms, root ? root : w->app.base_url);
	r = ts_api(w->host.base_url, "POST", TS_APPS "/api/v1/install-app", w->admin_tok, body);
	status = r.status;
	if (status != 200)
		fprintf(stderr, "install %s: %ld %s\n", app_id, status, r.body);
	else if (secret)
		j = json_loadb(r.body, r.body_len, 0, NULL);
	ts_resp_free(&r);
	if (status == 200 && secret) {
		given = json_string_value(json_object_get(j, "secret"));
		if (!given || (size_t)snprintf(secret, cap, "%s", given) >= cap)
			status = 0;
	}
	json_decref(j);
	return status == 200 ? 0 : -1;
}

int ts_world_user(struct ts_world *w, const char *name, int admin, char *tok, char *id)
{
	char pw[96];

	snprintf(pw, sizeof(pw), "%s-password", name);
	if (ts_create_user(w->data_dir, name, pw, admin, id) != 0)
		return -1;
	return ts_login(w->host.base_url, name, pw, tok, 64) == 200 ? 0 : -1;
}

static void copy_ctx(const json_t *ctx, const char *key, char *out)
{
	const char *v = json_string_value(json_object_get(ctx, key));

	if (out)
		snprintf(out, 64, "%s", v ? v : "");
}

int ts_app_tokens(const char *base_url, const char *user_tok, const char *app_id, char *bot,
		  char *acting, char *bot_id)
{
	char body[512];
	struct ts_resp r;
	json_t *j, *ctx;
	int rc;

	snprintf(body, sizeof(body),
		 "{\"path\":\"/echo\",\"expand\":{\"acting_user_access_token\":\"all\"},"
		 "\"context\":{\"app_id\":\"%s\"}}",
		 app_id);
	r = ts_api(base_url, "POST", TS_APPS "/api/v1/call", user_tok, body);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	ctx = json_object_get(json_object_get(j, "data"), "context");
	copy_ctx(ctx, "bot_access_token", bot);
	copy_ctx(ctx, "acting_user_access_token", acting);
	copy_ctx(ctx, "bot_user_id", bot_id);
	rc = ctx && json_is_string(json_object_get(ctx, "bot_access_token")) ? 0 : -1;
	if (rc != 0)
		fprintf(stderr, "no tokens from %s: %.300s\n", app_id, r.body);
	json_decref(j);
	ts_resp_free(&r);
	return rc;
}

int ts_world_app_users(struct ts_world *w, const char *app_id, const char *prefix, int n,
		       char (*acting)[64])
{
	for (int i = 0; i < n; i++) {
		char name[32], tok[64];
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		if (ts_world_user(w, name, 0, tok, NULL) != 0 ||
		    ts_app_tokens(w->host.base_url, tok, app_id, NULL, acting[i], NULL) != 0)
			return -1;
	}
	return 0;
}
