/*
 * hello-oauth2: a complete Mattermost App in C, on libmmapps.
 *
 * It connects a chat user's account at an OAuth2 provider (PKCE included)
 * and tells them whether they are connected. The Apps framework keeps the
 * client secret and the users' tokens; this App stores and reads them with
 * the driver, using the tokens each call hands it.
 *
 *   hello-oauth2 [--listen 127.0.0.1:8081] [--root-url URL]
 *                [--provider-url URL] [--client-id ID] [--client-secret S]
 *
 * Calls (POST, JSON call requests from the Apps framework):
 *   /configure        (a system admin) registers the OAuth2 client through
 *                     the driver with the App's bot token
 *   /connect          answers with the link that starts the flow
 *   /oauth2/connect   get_oauth2_connect_url: the provider's authorize URL
 *   /oauth2/complete  on_oauth2_complete: exchanges the code (client secret
 *                     and PKCE code_verifier) and stores the token
 *   /me               whether the acting user is connected, and as whom
 *   /disconnect       forgets the acting user's token
 * GET /manifest.json serves the App's manifest.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <mmapps/client.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#define BODY_MAX (1024 * 1024)
#define URL_MAX 4096

struct settings {
	char listen_host[64];
	unsigned port;
	char root_url[URL_MAX];     /* where the Apps framework reaches this App */
	char provider_url[URL_MAX]; /* the provider: <url>/authorize, <url>/token */
	char client_id[256];
	char client_secret[256];
};

static struct settings cfg;

static const char usage[] =
	"Usage: hello-oauth2 [options]\n"
	"  --listen ADDR:PORT     where to listen (default 127.0.0.1:8081; port 0 picks one)\n"
	"  --root-url URL         the URL the Apps framework calls (default http://ADDR:PORT)\n"
	"  --provider-url URL     the OAuth2 provider; /authorize and /token under it\n"
	"                         (env HELLO_PROVIDER_URL)\n"
	"  --client-id ID         the OAuth2 client id /configure registers (env HELLO_CLIENT_ID)\n"
	"  --client-secret S      its secret (env HELLO_CLIENT_SECRET)\n";

/* ---- small JSON helpers ---------------------------------------------- */

static const char *str_at(const json_t *obj, const char *a, const char *b)
{
	const json_t *v = json_object_get(obj, a);

	if (b)
		v = json_object_get(v, b);
	return json_string_value(v) ? json_string_value(v) : "";
}

static json_t *ok(const char *text)
{
	return json_pack("{s:s, s:s}", "type", "ok", "text", text);
}

static json_t *error(const char *text)
{
	return json_pack("{s:s, s:s}", "type", "error", "text", text);
}

static char *encode(const char *s)
{
	CURL *c = curl_easy_init();
	char *e = c ? curl_easy_escape(c, s, 0) : NULL;
	char *copy = e ? strdup(e) : NULL;

	curl_free(e);
	if (c)
		curl_easy_cleanup(c);
	return copy;
}

/* ---- the manifest --------------------------------------------------- */

static json_t *manifest(void)
{
	return json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:[sss], s:[s], s:s, s:s, s:{s:s, s:b}}", "app_id",
		"hello-oauth2", "version", "0.1.0", "display_name", "Hello OAuth2", "description",
		"Connects your account at an OAuth2 provider and says hello.", "homepage_url",
		"https://example.com/hello-oauth2", "requested_permissions", "act_as_bot",
		"act_as_user", "remote_oauth2", "requested_locations", "/command",
		"get_oauth2_connect_url", "/oauth2/connect", "on_oauth2_complete",
		"/oauth2/complete", "http", "root_url", cfg.root_url, "use_jwt", 0);
}

/* ---- the calls ------------------------------------------------------ */

static json_t *call_configure(const json_t *req)
{
	const json_t *ctx = json_object_get(req, "context");
	const char *roles = str_at(ctx, "acting_user", "roles");
	const char *id = *str_at(req, "values", "client_id") ? str_at(req, "values", "client_id")
							     : cfg.client_id;
	const char *secret = *str_at(req, "values", "client_secret")
				     ? str_at(req, "values", "client_secret")
				     : cfg.client_secret;
	struct mmapps_oauth2_app app = { id, secret, cfg.provider_url, NULL };
	mmapps_client *mm;
	char text[640];
	int rc;

	if (!strstr(roles, "system_admin"))
		return error(
			"Only a system admin can configure Hello OAuth2 (expand acting_user).");
	if (!*id || !*secret || !*cfg.provider_url)
		return error(
			"Give client_id and client_secret (values or flags) and --provider-url.");
	mm = mmapps_client_new(str_at(ctx, "mattermost_site_url", NULL),
			       str_at(ctx, "bot_access_token", NULL));
	if (!mm)
		return error("The call carried no site URL or bot token.");
	rc = mmapps_store_oauth2_app(mm, &app);
	snprintf(text, sizeof(text), "Could not register the OAuth2 client: %s",
		 mmapps_client_error(mm));
	mmapps_client_free(mm);
	return rc == MMAPPS_OK ? ok("Hello OAuth2 is configured.") : error(text);
}

static json_t *call_connect(const json_t *req)
{
	const char *url = str_at(json_object_get(req, "context"), "oauth2", "connect_url");
	char text[URL_MAX + 64];

	if (!*url)
		return error(
			"No connect URL: call /connect with expand {\"oauth2_app\": \"summary\"}.");
	if (!*str_at(json_object_get(req, "context"), "oauth2", "client_id"))
		return error("Hello OAuth2 is not configured yet: an admin runs /configure.");
	snprintf(text, sizeof(text), "Connect your account: %s", url);
	return json_pack("{s:s, s:s, s:{s:s}}", "type", "ok", "text", text, "data", "connect_url",
			 url);
}

static json_t *call_oauth2_connect(const json_t *req)
{
	const json_t *ctx = json_object_get(req, "context");
	char *state = encode(str_at(req, "values", "state"));
	char *challenge = encode(str_at(req, "values", "code_challenge"));
	char *redirect = encode(str_at(ctx, "oauth2", "complete_url"));
	char *client = encode(str_at(ctx, "oauth2", "client_id"));
	char url[URL_MAX * 2];
	json_t *out;

	if (!state || !challenge || !redirect || !client)
		out = error("out of memory");
	else if (snprintf(url, sizeof(url),
			  "%s/authorize?response_type=code&client_id=%s&redirect_uri=%s&state=%s"
			  "&code_challenge=%s&code_challenge_method=S256",
			  cfg.provider_url, client, redirect, state, challenge) >= (int)sizeof(url))
		out = error("the authorize URL is too long");
	else
		out = json_pack("{s:s, s:s}", "type", "ok", "data", url);
	free(state);
	free(challenge);
	free(redirect);
	free(client);
	return out;
}

struct buf {
	char *p;
	size_t len;
};

static size_t collect(char *d, size_t s, size_t n, void *arg)
{
	struct buf *b = arg;
	char *np;

	if (b->len + s * n > BODY_MAX)
		return 0;
	np = realloc(b->p, b->len + s * n + 1);
	if (!np)
		return 0;
	memcpy(np + b->len, d, s * n);
	b->p = np;
	b->len += s * n;
	b->p[b->len] = '\0';
	return s * n;
}

/* POST form to the provider's token endpoint; returns its JSON or NULL. */
static json_t *exchange_code(const json_t *req, char *why, size_t cap)
{
	const json_t *ctx = json_object_get(req, "context");
	char *code = encode(str_at(req, "values", "code"));
	char *redirect = encode(str_at(ctx, "oauth2", "complete_url"));
	char *id = encode(str_at(ctx, "oauth2", "client_id"));
	char *secret = encode(str_at(ctx, "oauth2", "client_secret"));
	char *verifier = encode(str_at(req, "values", "code_verifier"));
	char form[URL_MAX * 2], url[URL_MAX + 16];
	struct buf b = { 0 };
	long status = 0;
	json_t *out = NULL;
	CURL *c = curl_easy_init();

	if (!c || !code || !redirect || !id || !secret || !verifier) {
		snprintf(why, cap, "out of memory");
		goto out;
	}
	snprintf(url, sizeof(url), "%s/token", cfg.provider_url);
	snprintf(form, sizeof(form),
		 "grant_type=authorization_code&code=%s&redirect_uri=%s&client_id=%s"
		 "&client_secret=%s&code_verifier=%s",
		 code, redirect, id, secret, verifier);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) != CURLE_OK) {
		snprintf(why, cap, "the provider did not answer");
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	out = b.p ? json_loads(b.p, 0, NULL) : NULL;
	if (status != 200 || !json_is_string(json_object_get(out, "access_token"))) {
		snprintf(why, cap, "the provider refused the code (HTTP %ld: %.100s)", status,
			 str_at(out, "error_description", NULL));
		json_decref(out);
		out = NULL;
	}
	memset(form, 0, sizeof(form)); /* it held the client secret */
out:
	if (c)
		curl_easy_cleanup(c);
	free(code);
	free(redirect);
	free(id);
	free(secret);
	free(verifier);
	free(b.p);
	return out;
}

static json_t *call_oauth2_complete(const json_t *req)
{
	const json_t *ctx = json_object_get(req, "context");
	char why[256], text[600];
	json_t *token, *stored;
	mmapps_client *mm;
	char *data;
	int rc;

	if (*str_at(req, "values", "error")) {
		snprintf(text, sizeof(text), "The provider said: %.200s",
			 str_at(req, "values", "error"));
		return error(text);
	}
	token = exchange_code(req, why, sizeof(why));
	if (!token)
		return error(why);
	stored = json_pack("{s:O, s:O?}", "access_token", json_object_get(token, "access_token"),
			   "login", json_object_get(token, "login"));
	data = json_dumps(stored, JSON_COMPACT);
	json_decref(stored);
	json_decref(token);
	mm = mmapps_client_new(str_at(ctx, "mattermost_site_url", NULL),
			       str_at(ctx, "acting_user_access_token", NULL));
	rc = mm && data ? mmapps_store_oauth2_user(mm, data, strlen(data)) : MMAPPS_EINVAL;
	snprintf(text, sizeof(text), "Could not store your token: %s",
		 mm ? mmapps_client_error(mm) : "no acting user token in the call");
	mmapps_client_free(mm);
	free(data);
	return rc == MMAPPS_OK ? ok("Connected.") : error(text);
}

/* The acting user's stored token, through the driver. */
static json_t *call_me(const json_t *req)
{
	const json_t *ctx = json_object_get(req, "context");
	mmapps_client *mm = mmapps_client_new(str_at(ctx, "mattermost_site_url", NULL),
					      str_at(ctx, "acting_user_access_token", NULL));
	char text[600], *data = NULL;
	json_t *out, *user;
	int rc;

	if (!mm)
		return error("Call /me with expand {\"acting_user_access_token\": \"all\"}.");
	rc = mmapps_get_oauth2_user(mm, &data, NULL);
	if (rc != MMAPPS_OK) {
		snprintf(text, sizeof(text), "Could not read your token: %s",
			 mmapps_client_error(mm));
		out = error(text);
	} else if (!data) {
		out = json_pack("{s:s, s:s, s:{s:b}}", "type", "ok", "text",
				"You are not connected.", "data", "connected", 0);
	} else {
		user = json_loads(data, 0, NULL);
		snprintf(text, sizeof(text), "You are connected as %.200s.",
			 *str_at(user, "login", NULL) ? str_at(user, "login", NULL) : "someone");
		out = json_pack("{s:s, s:s, s:{s:b, s:s}}", "type", "ok", "text", text, "data",
				"connected", 1, "login", str_at(user, "login", NULL));
		json_decref(user);
	}
	mmapps_free(data);
	mmapps_client_free(mm);
	return out;
}

static json_t *call_disconnect(const json_t *req)
{
	const json_t *ctx = json_object_get(req, "context");
	mmapps_client *mm = mmapps_client_new(str_at(ctx, "mattermost_site_url", NULL),
					      str_at(ctx, "acting_user_access_token", NULL));
	char text[600];
	int rc;

	if (!mm)
		return error(
			"Call /disconnect with expand {\"acting_user_access_token\": \"all\"}.");
	rc = mmapps_delete_oauth2_user(mm);
	snprintf(text, sizeof(text), "Could not disconnect: %s", mmapps_client_error(mm));
	mmapps_client_free(mm);
	return rc == MMAPPS_OK ? ok("Disconnected.") : error(text);
}

static const struct {
	const char *path;
	json_t *(*fn)(const json_t *req);
} calls[] = {
	{ "/configure", call_configure },
	{ "/connect", call_connect },
	{ "/oauth2/connect", call_oauth2_connect },
	{ "/oauth2/complete", call_oauth2_complete },
	{ "/me", call_me },
	{ "/disconnect", call_disconnect },
};

/* ---- HTTP ------------------------------------------------------------ */

struct request {
	struct buf body;
	int too_large;
};

static enum MHD_Result answer(struct MHD_Connection *con, unsigned status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	struct MHD_Response *r;
	enum MHD_Result ret;

	json_decref(j);
	if (!text)
		text = strdup("{\"type\":\"error\",\"text\":\"out of memory\"}");
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(con, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	struct request *rq = *con_cls;
	json_t *req;

	(void)cls;
	(void)version;
	if (!rq) {
		*con_cls = calloc(1, sizeof(*rq));
		return *con_cls ? MHD_YES : MHD_NO;
	}
	if (*size) {
		if (collect((char *)data, 1, *size, &rq->body) != *size)
			rq->too_large = 1;
		*size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") == 0 && strcmp(url, "/manifest.json") == 0)
		return answer(con, 200, manifest());
	if (strcmp(method, "POST") != 0)
		return answer(con, 404, error("not found"));
	req = rq->too_large || !rq->body.p ? NULL : json_loads(rq->body.p, 0, NULL);
	if (!req)
		return answer(con, 400, error("the call request is not JSON"));
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		if (strcmp(url, calls[i].path) == 0) {
			json_t *out = calls[i].fn(req);
			json_decref(req);
			return answer(con, 200, out);
		}
	}
	json_decref(req);
	return answer(con, 404, error("Hello OAuth2 has no such call."));
}

static void on_done(void *cls, struct MHD_Connection *con, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;

	(void)cls;
	(void)con;
	(void)toe;
	if (rq) {
		free(rq->body.p);
		free(rq);
	}
}

static void copy_env(char *dst, size_t cap, const char *name)
{
	const char *v = getenv(name);

	if (v)
		snprintf(dst, cap, "%s", v);
}

static int parse_args(int argc, char **argv)
{
	char *colon;

	snprintf(cfg.listen_host, sizeof(cfg.listen_host), "127.0.0.1");
	cfg.port = 8081;
	copy_env(cfg.provider_url, sizeof(cfg.provider_url), "HELLO_PROVIDER_URL");
	copy_env(cfg.client_id, sizeof(cfg.client_id), "HELLO_CLIENT_ID");
	copy_env(cfg.client_secret, sizeof(cfg.client_secret), "HELLO_CLIENT_SECRET");
	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			exit(0);
		}
		if (!v) {
			fprintf(stderr, "hello-oauth2: %s needs a value\n%s", argv[i], usage);
			return -1;
		}
		if (strcmp(argv[i], "--listen") == 0 && (colon = strrchr(v, ':'))) {
			snprintf(cfg.listen_host, sizeof(cfg.listen_host), "%.*s", (int)(colon - v),
				 v);
			cfg.port = (unsigned)strtoul(colon + 1, NULL, 10);
		} else if (strcmp(argv[i], "--root-url") == 0) {
			snprintf(cfg.root_url, sizeof(cfg.root_url), "%s", v);
		} else if (strcmp(argv[i], "--provider-url") == 0) {
			snprintf(cfg.provider_url, sizeof(cfg.provider_url), "%s", v);
		} else if (strcmp(argv[i], "--client-id") == 0) {
			snprintf(cfg.client_id, sizeof(cfg.client_id), "%s", v);
		} else if (strcmp(argv[i], "--client-secret") == 0) {
			snprintf(cfg.client_secret, sizeof(cfg.client_secret), "%s", v);
		} else {
			fprintf(stderr, "hello-oauth2: unknown option %s\n%s", argv[i], usage);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	sigset_t set;
	int sig;

	if (parse_args(argc, argv) != 0)
		return 2;
	if (inet_pton(AF_INET, cfg.listen_host, &addr.sin_addr) != 1 || cfg.port > 65535) {
		fprintf(stderr, "hello-oauth2: --listen takes an IPv4 ADDR:PORT\n");
		return 2;
	}
	addr.sin_port = htons((uint16_t)cfg.port);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
			     NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr,
			     MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
			     MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
			     MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "hello-oauth2: cannot listen on %s:%u\n", cfg.listen_host,
			cfg.port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (!cfg.root_url[0])
		snprintf(cfg.root_url, sizeof(cfg.root_url), "http://%s:%u", cfg.listen_host,
			 (unsigned)info->port);
	fprintf(stderr, "hello-oauth2 listening on %s:%u (manifest: %s/manifest.json)\n",
		cfg.listen_host, (unsigned)info->port, cfg.root_url);
	fflush(stderr);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	curl_global_cleanup();
	return 0;
}
