/*
 * test-provider: a small OAuth2 provider used by the tests and `make demo`,
 * a real HTTP server.
 *
 *   test-provider --listen 127.0.0.1:0 --client-id ID --client-secret SECRET
 *                 [--client-auth any|basic|form] [--expires-in SECONDS]
 *
 * Prints "test-provider listening on 127.0.0.1:PORT" on stderr.
 *   GET  /authorize?response_type=code&client_id&redirect_uri&state
 *        &code_challenge&code_challenge_method=S256
 *        302 to redirect_uri?code=...&state=... (a person would log in and
 *        consent here; this provider says yes at once, as user "octocat").
 *        With &deny=1: 302 to redirect_uri?error=access_denied&state=...
 *   POST /token (form) the client authenticates with HTTP Basic
 *        (RFC 6749 2.3.1: form-encoded id and secret) or client_id and
 *        client_secret in the form; --client-auth basic or form accepts only
 *        that one and refuses the other with 401 invalid_client.
 *        grant_type=authorization_code, code, redirect_uri, code_verifier:
 *        checks every one, PKCE included; a code is good once.
 *        grant_type=refresh_token, refresh_token: a refresh token it issued
 *        to this client; with rotation on, each is good once and the answer
 *        carries a new one, else the answer carries none.
 *        200 {"access_token","token_type":"bearer","refresh_token" (not on
 *        a refresh without rotation),"expires_in" (unless 0),"login"} or
 *        400/401 {"error","error_description"}.
 *   GET  /_tokens  the access tokens issued so far (JSON array).
 *   GET  /_counts  {"authorization_code":n,"refresh_token":n,"basic":n,
 *        "form":n}: token requests by grant and by client authentication.
 *   POST /_mode (form; every key optional, the others stay) how /token
 *        behaves from now on: token=normal|unavailable (503)|slow (answers
 *        after delay_ms)|not_json|invalid_grant (400 invalid_grant),
 *        delay_ms=N (default 3000), rotate=0|1 (default 1),
 *        expires_in=N (default --expires-in, 3600; 0 sends none).
 */
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tiny_server.h"
#include "urlencoded.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define CODES_MAX 256
#define REFRESH_MAX 256
#define BODY_MAX 8192
#define FIELD 1024

struct code {
	char code[48];
	char client_id[FIELD];
	char redirect_uri[FIELD];
	char challenge[FIELD];
	int used;
};

struct refresh {
	char token[48];
	int used;
};

enum token_mode { MODE_NORMAL, MODE_UNAVAILABLE, MODE_SLOW, MODE_NOT_JSON, MODE_INVALID_GRANT };
enum client_auth { AUTH_ANY, AUTH_BASIC, AUTH_FORM };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct code codes[CODES_MAX];
static size_t ncodes;
static struct refresh refreshes[REFRESH_MAX];
static size_t nrefreshes;
static json_t *tokens;
static const char *client_id = "test-client", *client_secret = "test-secret";
static enum client_auth client_auth = AUTH_ANY;
/* Under lock: how /token behaves (POST /_mode) and what it saw. */
static struct {
	enum token_mode token;
	int delay_ms;
	int rotate;
	long expires_in;
} mode = { MODE_NORMAL, 3000, 1, 3600 };
static struct {
	long authorization_code, refresh_token, basic, form;
} counts;

struct req {
	char body[BODY_MAX + 1];
	size_t len;
	int too_big;
};

static enum MHD_Result reply(struct MHD_Connection *con, int status, const char *type,
			     const char *text, const char *location)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (location)
		MHD_add_response_header(r, "Location", location);
	ret = MHD_queue_response(con, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result token_error(struct MHD_Connection *con, const char *err, const char *why)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"error\":\"%s\",\"error_description\":\"%s\"}", err, why);
	return reply(con, 400, "application/json", body, NULL);
}

static const char *arg(struct MHD_Connection *con, const char *name)
{
	const char *v = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, name);

	return v ? v : "";
}

static enum MHD_Result authorize(struct MHD_Connection *con)
{
	char enc_state[FIELD * 3], location[FIELD * 5];
	unsigned char raw[24];
	const char *redirect = arg(con, "redirect_uri");
	struct code *c;

	if (strcmp(arg(con, "response_type"), "code") != 0 ||
	    strcmp(arg(con, "client_id"), client_id) != 0 || !*redirect ||
	    strlen(redirect) >= FIELD || strcmp(arg(con, "code_challenge_method"), "S256") != 0 ||
	    strlen(arg(con, "code_challenge")) != 43 || !*arg(con, "state"))
		return reply(con, 400, "text/plain", "bad authorization request", NULL);
	if (url_encode(arg(con, "state"), enc_state, sizeof(enc_state)) != 0)
		return reply(con, 400, "text/plain", "state too long", NULL);
	if (strcmp(arg(con, "deny"), "1") == 0) {
		snprintf(location, sizeof(location), "%s?error=access_denied&state=%s", redirect,
			 enc_state);
		return reply(con, 302, "text/plain", "denied", location);
	}
	pthread_mutex_lock(&lock);
	c = &codes[ncodes++ % CODES_MAX];
	memset(c, 0, sizeof(*c));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(c->code, sizeof(c->code), raw, sizeof(raw), B64);
	snprintf(c->client_id, FIELD, "%s", client_id);
	snprintf(c->redirect_uri, FIELD, "%s", redirect);
	snprintf(c->challenge, FIELD, "%s", arg(con, "code_challenge"));
	snprintf(location, sizeof(location), "%s?code=%s&state=%s", redirect, c->code, enc_state);
	pthread_mutex_unlock(&lock);
	return reply(con, 302, "text/plain", "redirecting", location);
}

static void random_token(const char *prefix, char *out, size_t cap)
{
	unsigned char raw[24];
	size_t n = strlen(prefix);

	randombytes_buf(raw, sizeof(raw));
	memcpy(out, prefix, n);
	sodium_bin2base64(out + n, cap - n, raw, sizeof(raw), B64);
}

/* Percent-decodes enc into out[FIELD]; 0 or -1. */
static int decode(const char *enc, char *out)
{
	char pair[FIELD * 2];

	if ((size_t)snprintf(pair, sizeof(pair), "v=%s", enc) >= sizeof(pair))
		return -1;
	return form_get(pair, strlen(pair), "v", out, FIELD) == FORM_OK ? 0 : -1;
}

/* The client's credentials from HTTP Basic (form-encoded id and secret, as
 * RFC 6749 2.3.1 says) or from the form. 0, or -1 when a way this provider
 * does not take was used or none was. */
static int client_credentials(struct MHD_Connection *con, struct req *rq, char *cid, char *secret,
			      int *basic)
{
	const char *auth = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
	char pair[FIELD * 2];
	size_t n = 0;
	char *colon;

	*basic = auth && strncasecmp(auth, "Basic ", 6) == 0;
	if (*basic) {
		if (client_auth == AUTH_FORM ||
		    sodium_base642bin((unsigned char *)pair, sizeof(pair) - 1, auth + 6,
				      strlen(auth + 6), NULL, &n, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0)
			return -1;
		pair[n] = '\0';
		colon = strchr(pair, ':');
		if (!colon)
			return -1;
		*colon = '\0';
		return decode(pair, cid) || decode(colon + 1, secret) ? -1 : 0;
	}
	if (client_auth == AUTH_BASIC ||
	    form_get(rq->body, rq->len, "client_id", cid, FIELD) != FORM_OK)
		return -1;
	if (form_get(rq->body, rq->len, "client_secret", secret, FIELD) != FORM_OK)
		secret[0] = '\0';
	return 0;
}

static enum MHD_Result token_answer(struct MHD_Connection *con, int with_refresh)
{
	char access[64], refresh[64] = "", body[512], expires[48] = "";
	long expires_in;

	random_token("gho_", access, sizeof(access));
	pthread_mutex_lock(&lock);
	json_array_append_new(tokens, json_string(access));
	if (with_refresh) {
		struct refresh *r = &refreshes[nrefreshes++ % REFRESH_MAX];
		random_token("ghr_", refresh, sizeof(refresh));
		memset(r, 0, sizeof(*r));
		snprintf(r->token, sizeof(r->token), "%s", refresh);
	}
	expires_in = mode.expires_in;
	pthread_mutex_unlock(&lock);
	if (expires_in > 0)
		snprintf(expires, sizeof(expires), ",\"expires_in\":%ld", expires_in);
	snprintf(
		body, sizeof(body),
		"{\"access_token\":\"%s\",\"token_type\":\"bearer\"%s%s%s%s,\"login\":\"octocat\"}",
		access, with_refresh ? ",\"refresh_token\":\"" : "", refresh,
		with_refresh ? "\"" : "", expires);
	return reply(con, 200, "application/json", body, NULL);
}

static enum MHD_Result grant_code(struct MHD_Connection *con, struct req *rq)
{
	char code[FIELD], redirect[FIELD], verifier[FIELD];
	unsigned char digest[crypto_hash_sha256_BYTES];
	char challenge[64];
	struct code *found = NULL;

	if (form_get(rq->body, rq->len, "code", code, FIELD) ||
	    form_get(rq->body, rq->len, "redirect_uri", redirect, FIELD) ||
	    form_get(rq->body, rq->len, "code_verifier", verifier, FIELD))
		return token_error(con, "invalid_request", "a parameter is missing");
	crypto_hash_sha256(digest, (const unsigned char *)verifier, strlen(verifier));
	sodium_bin2base64(challenge, sizeof(challenge), digest, sizeof(digest), B64);
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < CODES_MAX; i++) {
		if (codes[i].code[0] && strcmp(codes[i].code, code) == 0)
			found = &codes[i];
	}
	if (!found || found->used) {
		pthread_mutex_unlock(&lock);
		return token_error(con, "invalid_grant", "unknown or used code");
	}
	found->used = 1;
	if (strcmp(found->redirect_uri, redirect) != 0 ||
	    strcmp(found->challenge, challenge) != 0) {
		pthread_mutex_unlock(&lock);
		return token_error(con, "invalid_grant", "redirect_uri or PKCE verifier mismatch");
	}
	pthread_mutex_unlock(&lock);
	return token_answer(con, 1);
}

static enum MHD_Result grant_refresh(struct MHD_Connection *con, struct req *rq)
{
	char refresh[FIELD];
	struct refresh *found = NULL;
	int rotate;

	if (form_get(rq->body, rq->len, "refresh_token", refresh, FIELD))
		return token_error(con, "invalid_request", "a parameter is missing");
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < REFRESH_MAX; i++) {
		if (refreshes[i].token[0] && strcmp(refreshes[i].token, refresh) == 0)
			found = &refreshes[i];
	}
	rotate = mode.rotate;
	if (!found || found->used) {
		pthread_mutex_unlock(&lock);
		return token_error(con, "invalid_grant", "unknown or used refresh token");
	}
	found->used = rotate;
	pthread_mutex_unlock(&lock);
	return token_answer(con, rotate);
}

static enum MHD_Result token(struct MHD_Connection *con, struct req *rq)
{
	char grant[FIELD], cid[FIELD], secret[FIELD];
	int basic = 0, delay_ms;
	enum token_mode m;

	const char *auth = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");

	if (form_get(rq->body, rq->len, "grant_type", grant, FIELD))
		grant[0] = '\0';
	pthread_mutex_lock(&lock);
	if (strcmp(grant, "authorization_code") == 0)
		counts.authorization_code++;
	else if (strcmp(grant, "refresh_token") == 0)
		counts.refresh_token++;
	if (auth && strncasecmp(auth, "Basic ", 6) == 0)
		counts.basic++;
	else
		counts.form++;
	m = mode.token;
	delay_ms = mode.delay_ms;
	pthread_mutex_unlock(&lock);
	if (client_credentials(con, rq, cid, secret, &basic) != 0) {
		static const char *const why[] = {
			[AUTH_ANY] = "no readable client credentials",
			[AUTH_BASIC] = "this provider takes the client's credentials with HTTP "
				       "Basic only",
			[AUTH_FORM] = "this provider takes the client's credentials in the form "
				      "only",
		};
		char body[256];
		snprintf(body, sizeof(body),
			 "{\"error\":\"invalid_client\",\"error_description\":\"%s\"}",
			 why[client_auth]);
		return reply(con, 401, "application/json", body, NULL);
	}
	if (!grant[0])
		return token_error(con, "invalid_request", "a parameter is missing");
	if (m == MODE_UNAVAILABLE)
		return reply(con, 503, "text/html", "<h1>503 Service Unavailable</h1>", NULL);
	if (m == MODE_SLOW)
		usleep((useconds_t)delay_ms * 1000);
	if (m == MODE_NOT_JSON)
		return reply(con, 200, "text/html", "<html>this is not JSON</html>", NULL);
	if (m == MODE_INVALID_GRANT)
		return token_error(con, "invalid_grant", "the grant was revoked");
	if (strcmp(cid, client_id) != 0 || strcmp(secret, client_secret) != 0)
		return token_error(con, "invalid_client", "wrong client credentials");
	if (strcmp(grant, "authorization_code") == 0)
		return grant_code(con, rq);
	if (strcmp(grant, "refresh_token") == 0)
		return grant_refresh(con, rq);
	return token_error(con, "unsupported_grant_type",
			   "authorization_code and refresh_token only");
}

/* POST /_mode: see the top of the file. */
static enum MHD_Result set_mode(struct MHD_Connection *con, struct req *rq)
{
	static const char *const names[] = { "normal", "unavailable", "slow", "not_json",
					     "invalid_grant" };
	char v[64];
	int bad = 0;

	pthread_mutex_lock(&lock);
	if (form_get(rq->body, rq->len, "token", v, sizeof(v)) == FORM_OK) {
		bad = 1;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (strcmp(v, names[i]) == 0) {
				mode.token = (enum token_mode)i;
				bad = 0;
			}
		}
	}
	if (form_get(rq->body, rq->len, "delay_ms", v, sizeof(v)) == FORM_OK)
		mode.delay_ms = (int)strtol(v, NULL, 10);
	if (form_get(rq->body, rq->len, "rotate", v, sizeof(v)) == FORM_OK)
		mode.rotate = strcmp(v, "1") == 0;
	if (form_get(rq->body, rq->len, "expires_in", v, sizeof(v)) == FORM_OK)
		mode.expires_in = strtol(v, NULL, 10);
	pthread_mutex_unlock(&lock);
	return bad ? reply(con, 400, "text/plain", "unknown token mode", NULL)
		   : reply(con, 200, "application/json", "{}", NULL);
}

static enum MHD_Result show_counts(struct MHD_Connection *con)
{
	char body[256];

	pthread_mutex_lock(&lock);
	snprintf(body, sizeof(body),
		 "{\"authorization_code\":%ld,\"refresh_token\":%ld,\"basic\":%ld,\"form\":%ld}",
		 counts.authorization_code, counts.refresh_token, counts.basic, counts.form);
	pthread_mutex_unlock(&lock);
	return reply(con, 200, "application/json", body, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)version;
	if (!rq) {
		*con_cls = calloc(1, sizeof(struct req));
		return *con_cls ? MHD_YES : MHD_NO;
	}
	if (*size) {
		if (rq->len + *size > BODY_MAX)
			rq->too_big = 1;
		else
			memcpy(rq->body + rq->len, data, *size), rq->len += *size;
		*size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") == 0 && strcmp(url, "/authorize") == 0)
		return authorize(con);
	if (strcmp(method, "POST") == 0 && strcmp(url, "/token") == 0)
		return rq->too_big ? token_error(con, "invalid_request", "too big")
				   : token(con, rq);
	if (strcmp(method, "POST") == 0 && strcmp(url, "/_mode") == 0)
		return set_mode(con, rq);
	if (strcmp(method, "GET") == 0 && strcmp(url, "/_counts") == 0)
		return show_counts(con);
	if (strcmp(method, "GET") == 0 && strcmp(url, "/_tokens") == 0) {
		char *text;
		enum MHD_Result ret;
		pthread_mutex_lock(&lock);
		text = json_dumps(tokens, JSON_COMPACT);
		pthread_mutex_unlock(&lock);
		ret = reply(con, 200, "application/json", text, NULL);
		free(text);
		return ret;
	}
	return reply(con, 404, "text/plain", "not found", NULL);
}

static void on_done(void *cls, struct MHD_Connection *con, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)con;
	(void)toe;
	free(*con_cls);
}

int main(int argc, char **argv)
{
	unsigned port = 0;
	int rc;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--client-id") == 0)
			client_id = argv[i + 1];
		else if (strcmp(argv[i], "--client-secret") == 0)
			client_secret = argv[i + 1];
		else if (strcmp(argv[i], "--listen") == 0)
			port = tiny_port(argv[i + 1]);
		else if (strcmp(argv[i], "--client-auth") == 0 && strcmp(argv[i + 1], "any") == 0)
			client_auth = AUTH_ANY;
		else if (strcmp(argv[i], "--client-auth") == 0 && strcmp(argv[i + 1], "basic") == 0)
			client_auth = AUTH_BASIC;
		else if (strcmp(argv[i], "--client-auth") == 0 && strcmp(argv[i + 1], "form") == 0)
			client_auth = AUTH_FORM;
		else if (strcmp(argv[i], "--expires-in") == 0)
			mode.expires_in = strtol(argv[i + 1], NULL, 10);
		else {
			fprintf(stderr, "usage: test-provider [--listen 127.0.0.1:0] "
					"[--client-id ID] [--client-secret SECRET] "
					"[--client-auth any|basic|form] [--expires-in N]\n");
			return 2;
		}
	}
	if (sodium_init() < 0)
		return 1;
	tokens = json_array();
	rc = tiny_serve("test-provider", port, on_request, on_done);
	json_decref(tokens);
	return rc;
}
