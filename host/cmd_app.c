/*
 * mmhost app token --app ID [--username NAME]: the token an installed App
 * is handed when it is called (its bot's, or the acting user's), so that an
 * App author can try the driver against a running server without writing
 * an App first.
 *
 * The App registry is the Apps plugin's, in its own store: the host cannot
 * judge an App. So the command asks the running server: it makes a one-minute
 * session for a system admin in the host's store (the command already holds
 * the data folder: it could make any session), POSTs
 * /plugins/com.mattermost.apps/api/v1/admin/app-token with it, and ends it.
 * The plugin mints exactly as for a call (not installed 404, disabled 403,
 * permission not granted 403; no token survives a disable racing it).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_admin.h"
#include "sessions.h"
#include "banned.h"

#define ANSWER_MAX (64 * 1024)
#define CLI_SESSION_MS (60LL * 1000)
#define APP_TOKEN_PATH "/plugins/com.mattermost.apps/api/v1/admin/app-token"
#define ADMIN_SCAN_BATCH 64

static const char app_usage[] =
	"Usage: mmhost app token --app ID [--username NAME] [--url URL] [--as ADMIN]\n"
	"                        [--config FILE] [--data-dir DIR]\n"
	"\n"
	"Prints, alone on stdout, the token the installed App ID is handed when it is\n"
	"called: its bot's token, or with --username the acting-user token of that\n"
	"user. It is an App session (prop mattermost_app_id) living at most 10\n"
	"minutes, taken only where an App's token is (GET /api/v4/users/me, the\n"
	"plugin's oauth2/app and oauth2/user), and it stops working when the App\n"
	"is disabled or uninstalled.\n"
	"\n"
	"The server must be running: the Apps plugin decides. --url is its address\n"
	"(default: the config's site_url, else its listen address). The command\n"
	"acts for one minute as the system admin ADMIN (default: the first system\n"
	"admin by username).\n";

struct answer {
	char *p;
	size_t len;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t add = size * n;
	char *p;

	if (a->len + add > ANSWER_MAX)
		return 0;
	p = realloc(a->p, a->len + add + 1);
	if (!p)
		return 0;
	memcpy(p + a->len, data, add);
	a->p = p;
	a->len += add;
	a->p[a->len] = '\0';
	return add;
}

/* ---- the admin the command acts as -------------------------------------- */

struct find_admin {
	struct host_user *out;
	char last[USERNAME_MAX + 1];
	size_t last_len;
	size_t visited;
	bool found;
	char ids[ADMIN_SCAN_BATCH][MM_ID_LEN + 1];
	size_t n;
};

static int collect(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct find_admin *f = arg;

	if (klen > USERNAME_MAX || vlen != MM_ID_LEN)
		return 0;
	memcpy(f->last, key, klen);
	f->last_len = klen;
	memcpy(f->ids[f->n], val, MM_ID_LEN);
	f->ids[f->n++][MM_ID_LEN] = '\0';
	return 0;
}

static int first_admin_page(struct store_txn *txn, void *arg)
{
	struct find_admin *f = arg;
	int rc;

	f->n = 0;
	rc = store_scan(txn, HOST_T_USERNAMES, NULL, 0, f->last_len ? f->last : NULL, f->last_len,
			ADMIN_SCAN_BATCH, collect, f, &f->visited);
	for (size_t i = 0; rc == STORE_OK && i < f->n && !f->found; i++) {
		int urc = users_get_txn(txn, f->ids[i], f->out);
		sodium_memzero(f->out->password_hash, sizeof(f->out->password_hash));
		f->found = urc == USERS_OK && !f->out->delete_at && !f->out->is_bot &&
			   user_is_admin(f->out);
	}
	return rc;
}

/* The admin to act as: --as, or the first active system admin. */
static int find_admin(struct host_store *store, const char *as, struct host_user *u)
{
	struct find_admin *f;
	int rc;

	if (as) {
		if ((rc = admin_find_user(store, "app token", as, u)) != 0)
			return rc;
		if (!user_is_admin(u) || u->delete_at)
			return cli_fail(1, "app token: \"%s\" is not an active system admin", as);
		return 0;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return cli_fail(1, "out of memory");
	f->out = u;
	do
		rc = store_read(store->st, first_admin_page, f);
	while (rc == STORE_OK && !f->found && f->visited == ADMIN_SCAN_BATCH);
	if (rc != STORE_OK)
		rc = cli_fail(1, "app token: the users could not be read (%s)", store_strerror(rc));
	else if (!f->found)
		rc = cli_fail(1, "app token: there is no system admin; make one with mmhost user "
				 "create --system-admin");
	free(f);
	return rc;
}

/* ---- asking the server -------------------------------------------------- */

/* The server's address: --url, the config's site_url, or its listen
 * address. NULL after saying why. malloc'd. */
static char *server_url(const struct admin_args *a, const struct host_config *cfg)
{
	const char *colon = strrchr(cfg->listen, ':');
	unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : 0;
	char *url;

	if (a->url)
		url = strdup(a->url);
	else if (!cfg->site_url && port == 0)
		url = NULL;
	else
		url = config_site_url(cfg, (uint16_t)port);
	if (!url)
		cli_fail(EXIT_USAGE, "app token: cannot tell the server's address; pass --url");
	return url;
}

/* One line saying what the server answered: its message, else the status. */
static int server_refused(long status, const struct answer *ans)
{
	json_t *j = ans->p ? json_loadb(ans->p, ans->len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "message"));
	int rc;

	if (status == 404 && !json_object_get(j, "id"))
		msg = "the server has no active Apps plugin";
	rc = cli_fail(1, "app token: the server answered %ld: %s", status,
		      msg ? msg : "(no message)");
	json_decref(j);
	return rc;
}

/* POSTs body to url's app-token route with the admin's session; prints the
 * token. 0 or the exit code. */
static int ask(const char *url, const char *session_token, const char *body)
{
	char endpoint[2048], auth[128];
	struct answer ans = { 0 };
	struct curl_slist *h = NULL;
	long status = 0;
	CURLcode cc;
	CURL *c;
	json_t *j;
	int rc = 1;

	if ((size_t)snprintf(endpoint, sizeof(endpoint), "%s%s", url, APP_TOKEN_PATH) >=
	    sizeof(endpoint))
		return cli_fail(EXIT_USAGE, "app token: --url is too long");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", session_token);
	c = curl_easy_init();
	if (!c)
		return cli_fail(1, "app token: cannot start libcurl");
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, endpoint);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK) {
		rc = cli_fail(1,
			      "app token: cannot reach the server at %s (%s); is mmhost serve "
			      "running? Pass --url",
			      url, curl_easy_strerror(cc));
	} else if (status != 200) {
		rc = server_refused(status, &ans);
	} else if ((j = json_loadb(ans.p, ans.len, 0, NULL)) &&
		   json_is_string(json_object_get(j, "token"))) {
		printf("%s\n", json_string_value(json_object_get(j, "token")));
		fflush(stdout); /* before the note on stderr */
		rc = 0;
		json_decref(j);
	} else {
		json_decref(j);
		rc = cli_fail(1, "app token: the server's answer has no token");
	}
	sodium_memzero(auth, sizeof(auth));
	if (ans.p) {
		sodium_memzero(ans.p, ans.len);
		free(ans.p);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

static int app_token(const struct admin_args *a)
{
	char session_token[SESSION_TOKEN_LEN + 1], *url = NULL, *body = NULL;
	struct session_prop prop = { "type", "mmhost-cli" };
	struct session_new sn = { 0 };
	struct host_user admin, user;
	struct host_config cfg;
	struct host_store store;
	json_t *req;
	int rc;

	if (!a->app)
		return cli_fail(EXIT_USAGE, "app token: --app is required");
	if ((rc = admin_open(a, &cfg, &store)) != 0)
		return rc;
	if (a->username && (rc = admin_find_user(&store, "app token", a->username, &user)) != 0)
		goto out;
	if ((rc = find_admin(&store, a->as, &admin)) != 0 || !(url = server_url(a, &cfg))) {
		rc = rc ? rc : EXIT_USAGE;
		goto out;
	}
	req = json_pack("{s:s}", "app_id", a->app);
	if (req && a->username)
		json_object_set_new(req, "user_id", json_string(user.id));
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body) {
		rc = cli_fail(1, "out of memory");
		goto out;
	}
	sn.user_id = admin.id;
	sn.props = &prop;
	sn.props_len = 1;
	sn.lifetime_ms = CLI_SESSION_MS;
	sn.description = "mmhost app token";
	if ((rc = sessions_create(&store, &sn, session_token, NULL)) != SESSIONS_OK) {
		rc = admin_write_failed("app token", rc);
		goto out;
	}
	rc = ask(url, session_token, body);
	(void)sessions_revoke_token(&store, session_token, SESSION_TOKEN_LEN);
	sodium_memzero(session_token, sizeof(session_token));
	if (rc == 0)
		fprintf(stderr,
			"mmhost: the %s token of App %s; it lives at most 10 minutes and only "
			"where an App's token is taken\n",
			a->username ? "acting-user" : "bot", a->app);
out:
	free(body);
	free(url);
	admin_close(&cfg, &store);
	return rc;
}

int cmd_app(int argc, char **argv)
{
	struct admin_args a;
	int rc = admin_parse(argc, argv, "app", &a);

	if (rc != 0)
		return rc;
	if (a.help) {
		fputs(app_usage, stdout);
		return 0;
	}
	if (a.npositional != 1 || strcmp(a.positional[0], "token") != 0)
		return cli_fail(EXIT_USAGE, "app: expected \"app token --app ID\"; see mmhost app "
					    "--help");
	return app_token(&a);
}
