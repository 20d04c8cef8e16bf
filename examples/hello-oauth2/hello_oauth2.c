/*
 * hello-oauth2: a complete Mattermost App in C, on libmmapps.
 *
 * It connects a chat user's account at an OAuth2 provider (PKCE included)
 * and tells them whether they are connected. The Apps framework keeps the
 * client secret and the users' tokens; this App stores and reads them with
 * the driver, using the tokens each call hands it.
 *
 *   hello-oauth2 --site-url URL --app-secret-file FILE [--listen 127.0.0.1:8081]
 *                [--root-url URL] [--provider-url URL] [--client-id ID]
 *                [--client-secret S]
 *
 * Trust: every call must carry the framework's JWT
 * (Mattermost-App-Authorization: Bearer ..., signed with the App's secret,
 * which install-app shows once and the admin puts in FILE); anything else is
 * 401. The acting user is the one the JWT names. Tokens and secrets go only
 * to --site-url (the Mattermost server this App serves) and --provider-url,
 * never to a URL a request names: a call whose context names another site is
 * refused.
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
#include <fcntl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#define BODY_MAX (1024 * 1024)
#define URL_MAX 4096
#define SECRET_MAX 512

struct settings {
	char listen_host[64];
	unsigned port;
	char site_url[URL_MAX];     /* the Mattermost server: the only place tokens go */
	char secret_file[URL_MAX];  /* the App's JWT secret, from install-app */
	char root_url[URL_MAX];     /* where the Apps framework reaches this App */
	char provider_url[URL_MAX]; /* the provider: <url>/authorize, <url>/token */
	char client_id[256];
	char client_secret[256];
};

static struct settings cfg;

static const char usage[] =
	"Usage: hello-oauth2 --site-url URL --app-secret-file FILE [options]\n"
	"  --site-url URL         the Mattermost server this App serves; tokens and secrets\n"
	"                         go there only (env HELLO_SITE_URL)\n"
	"  --app-secret-file FILE the App's secret from install-app, read at each call so\n"
	"                         it can be written after the App starts; not readable by\n"
	"                         group or others (env HELLO_APP_SECRET_FILE)\n"
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
		"/oauth2/complete", "http", "root_url", cfg.root_url, "use_jwt", 1);
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
	struct mmapps_oauth2_app app = { id, secret, cfg.provider_url, NULL, NULL };
	char token_url[URL_MAX + 16], text[640];
	mmapps_client *mm;
	int rc;

	if (!strstr(roles, "system_admin"))
		return error(
			"Only a system admin can configure Hello OAuth2 (expand acting_user).");
	if (!*id || !*secret || !*cfg.provider_url)
		return error(
			"Give client_id and client_secret (values or flags) and --provider-url.");
	/* The framework refreshes the tokens stored for users from now on. */
	snprintf(token_url, sizeof(token_url), "%s/token", cfg.provider_url);
	app.token_url = token_url;
	mm = mmapps_client_new(cfg.site_url, str_at(ctx, "bot_access_token", NULL));
	if (!mm)
		return error("The call carried no bot token.");
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

/* Exchanges the code at the provider (client secret and PKCE verifier) and
 * stores the token, in Go's oauth2.Token shape, as the user's data. */
static json_t *call_oauth2_complete(const json_t *req)
{
	const json_t *ctx = json_object_get(req, "context");
	char token_url[URL_MAX + 16], text[700];
	struct mmapps_oauth2_config oc = {
		.client_id = str_at(ctx, "oauth2", "client_id"),
		.client_secret = str_at(ctx, "oauth2", "client_secret"),
		.token_url = token_url,
		.redirect_url = str_at(ctx, "oauth2", "complete_url"),
	};
	struct mmapps_oauth2_error e;
	mmapps_client *mm;
	char *token = NULL;
	size_t len = 0;
	int rc;

	if (*str_at(req, "values", "error")) {
		snprintf(text, sizeof(text), "The provider said: %.200s",
			 str_at(req, "values", "error"));
		return error(text);
	}
	snprintf(token_url, sizeof(token_url), "%s/token", cfg.provider_url);
	rc = mmapps_oauth2_exchange(&oc, str_at(req, "values", "code"),
				    str_at(req, "values", "code_verifier"), &token, &len, &e);
	if (rc != MMAPPS_OK) {
		snprintf(text, sizeof(text), "Could not exchange the code: %s", e.message);
		return error(text);
	}
	mm = mmapps_client_new(cfg.site_url, str_at(ctx, "acting_user_access_token", NULL));
	rc = mm ? mmapps_store_oauth2_user(mm, token, len) : MMAPPS_EINVAL;
	snprintf(text, sizeof(text), "Could not store your token: %s",
		 mm ? mmapps_client_error(mm) : "no acting user token in the call");
	mmapps_client_free(mm);
	mmapps_free(token);
	return rc == MMAPPS_OK ? ok("Connected.") : error(text);
}

/* The acting user's stored token, through the driver. */
static json_t *call_me(const json_t *req)
{
	const json_t *ctx = json_object_get(req, "context");
	mmapps_client *mm =
		mmapps_client_new(cfg.site_url, str_at(ctx, "acting_user_access_token", NULL));
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
		/* The token is in Go's oauth2.Token shape: expiry is RFC 3339. */
		out = json_pack("{s:s, s:s, s:{s:b, s:s, s:s}}", "type", "ok", "text", text, "data",
				"connected", 1, "login", str_at(user, "login", NULL), "expiry",
				str_at(user, "expiry", NULL));
		json_decref(user);
	}
	mmapps_free(data);
	mmapps_client_free(mm);
	return out;
}

static json_t *call_disconnect(const json_t *req)
{
	const json_t *ctx = json_object_get(req, "context");
	mmapps_client *mm =
		mmapps_client_new(cfg.site_url, str_at(ctx, "acting_user_access_token", NULL));
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

/* The App's secret, read from --app-secret-file at each call, so that the
 * admin can write it after install-app without restarting the App. 0, or
 * -1 with why set. Trailing white space (a newline) is not part of it. */
static int load_secret(char *out, size_t cap, size_t *len, char *why, size_t why_cap)
{
	int fd = open(cfg.secret_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	ssize_t n = -1;

	if (fd < 0) {
		snprintf(why, why_cap, "hello-oauth2 has no App secret yet (--app-secret-file)");
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		snprintf(why, why_cap,
			 "the App secret file must be a regular file not readable by group or "
			 "others");
	} else if ((n = read(fd, out, cap - 1)) < 0 || (size_t)n == cap - 1) {
		snprintf(why, why_cap, "the App secret file cannot be read or is too long");
		n = -1;
	}
	close(fd);
	if (n < 0)
		return -1;
	while (n > 0 && strchr(" \t\r\n", out[n - 1]))
		n--;
	out[n] = '\0';
	*len = (size_t)n;
	return 0;
}

/* 0 when the call carries a JWT signed with the App's secret (claims
 * filled); else the HTTP status to answer (401, or 503 when this App has no
 * usable secret) with why set. */
static unsigned authenticate(struct MHD_Connection *con, struct mmapps_jwt_claims *claims,
			     char *why, size_t cap)
{
	const char *auth =
		MHD_lookup_connection_value(con, MHD_HEADER_KIND, MMAPPS_OUTGOING_AUTH_HEADER);
	char secret[SECRET_MAX];
	size_t len = 0;
	int rc;

	if (!auth) {
		snprintf(why, cap, "Hello OAuth2 answers only the Apps framework: no %s header.",
			 MMAPPS_OUTGOING_AUTH_HEADER);
		return 401;
	}
	if (load_secret(secret, sizeof(secret), &len, why, cap) != 0) {
		fprintf(stderr, "hello-oauth2: %s\n", why);
		return 503;
	}
	rc = mmapps_jwt_verify(auth, secret, len, claims);
	explicit_bzero(secret, sizeof(secret));
	if (rc == MMAPPS_EINVAL) {
		snprintf(why, cap, "the App secret file holds no usable secret: %s", claims->error);
		fprintf(stderr, "hello-oauth2: %s\n", why);
		return 503;
	}
	if (rc != MMAPPS_OK) {
		snprintf(why, cap, "Hello OAuth2 refused the call: %s.", claims->error);
		return 401;
	}
	return 0;
}

/* The acting user the call's context names (acting_user_id or
 * acting_user.id) must be the one the JWT names: the body is not signed. */
static int same_acting_user(const json_t *req, const struct mmapps_jwt_claims *claims)
{
	const json_t *ctx = json_object_get(req, "context");
	const char *id = str_at(ctx, "acting_user_id", NULL);
	const char *user_id = str_at(ctx, "acting_user", "id");

	return (!*id || strcmp(id, claims->acting_user_id) == 0) &&
	       (!*user_id || strcmp(user_id, claims->acting_user_id) == 0) &&
	       (json_object_get(ctx, "acting_user") == NULL || *user_id);
}

/* The site URL without trailing slashes, for comparing. */
static size_t trimmed_len(const char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	return n;
}

/* True when the call comes from the site this App serves. */
static int from_our_site(const json_t *req)
{
	const char *site = str_at(json_object_get(req, "context"), "mattermost_site_url", NULL);
	size_t n = trimmed_len(site);

	return n == trimmed_len(cfg.site_url) && strncmp(site, cfg.site_url, n) == 0;
}

static enum MHD_Result serve_call(struct MHD_Connection *con, const char *url, struct request *rq)
{
	struct mmapps_jwt_claims claims;
	char why[512], text[URL_MAX + 200];
	unsigned status;
	json_t *req, *out = NULL;

	status = authenticate(con, &claims, why, sizeof(why));
	if (status)
		return answer(con, status, error(why));
	req = rq->too_large || !rq->body.p ? NULL : json_loads(rq->body.p, 0, NULL);
	if (!req)
		return answer(con, 400, error("the call request is not JSON"));
	if (!same_acting_user(req, &claims)) {
		json_decref(req);
		return answer(con, 401,
			      error("The call's acting user is not the one its JWT names."));
	}
	if (!from_our_site(req)) {
		snprintf(text, sizeof(text),
			 "This call names another Mattermost site than %s, the one Hello OAuth2 "
			 "serves (--site-url); nothing was sent.",
			 cfg.site_url);
		json_decref(req);
		return answer(con, 200, error(text));
	}
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]) && !out; i++) {
		if (strcmp(url, calls[i].path) == 0)
			out = calls[i].fn(req);
	}
	json_decref(req);
	if (!out)
		return answer(con, 404, error("Hello OAuth2 has no such call."));
	return answer(con, 200, out);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	struct request *rq = *con_cls;

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
	return serve_call(con, url, rq);
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
	copy_env(cfg.site_url, sizeof(cfg.site_url), "HELLO_SITE_URL");
	copy_env(cfg.secret_file, sizeof(cfg.secret_file), "HELLO_APP_SECRET_FILE");
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
		} else if (strcmp(argv[i], "--site-url") == 0) {
			snprintf(cfg.site_url, sizeof(cfg.site_url), "%s", v);
		} else if (strcmp(argv[i], "--app-secret-file") == 0) {
			snprintf(cfg.secret_file, sizeof(cfg.secret_file), "%s", v);
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
	if (strncmp(cfg.site_url, "http://", 7) != 0 && strncmp(cfg.site_url, "https://", 8) != 0) {
		fprintf(stderr,
			"hello-oauth2: --site-url (the Mattermost server, http or https) "
			"is required\n%s",
			usage);
		return -1;
	}
	if (!cfg.secret_file[0]) {
		fprintf(stderr, "hello-oauth2: --app-secret-file is required\n%s", usage);
		return -1;
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
	{
		char secret[SECRET_MAX], why[256];
		size_t len;
		if (load_secret(secret, sizeof(secret), &len, why, sizeof(why)) != 0)
			fprintf(stderr,
				"hello-oauth2: %s: calls are refused until the secret install-app "
				"shows is written to %s\n",
				why, cfg.secret_file);
		explicit_bzero(secret, sizeof(secret));
	}
	fflush(stderr);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	curl_global_cleanup();
	return 0;
}
