/*
 * test-provider: a small OAuth2 provider used by the tests and `make demo`,
 * a real HTTP server.
 *
 *   test-provider --listen 127.0.0.1:0 --client-id ID --client-secret SECRET
 *
 * Prints "test-provider listening on 127.0.0.1:PORT" on stderr.
 *   GET  /authorize?response_type=code&client_id&redirect_uri&state
 *        &code_challenge&code_challenge_method=S256
 *        302 to redirect_uri?code=...&state=... (a person would log in and
 *        consent here; this provider says yes at once, as user "octocat").
 *        With &deny=1: 302 to redirect_uri?error=access_denied&state=...
 *   POST /token (form) grant_type=authorization_code, code, redirect_uri,
 *        client_id, client_secret, code_verifier: checks every one, PKCE
 *        included; a code is good once. 200 {"access_token","token_type",
 *        "login"} or 400 {"error","error_description"}.
 *   GET  /_tokens  the access tokens issued so far (JSON array).
 */
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiny_server.h"
#include "urlencoded.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define CODES_MAX 256
#define BODY_MAX 8192
#define FIELD 1024

struct code {
	char code[48];
	char client_id[FIELD];
	char redirect_uri[FIELD];
	char challenge[FIELD];
	int used;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct code codes[CODES_MAX];
static size_t ncodes;
static json_t *tokens;
static const char *client_id = "test-client", *client_secret = "test-secret";

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

static enum MHD_Result token(struct MHD_Connection *con, struct req *rq)
{
	char grant[FIELD], code[FIELD], redirect[FIELD], cid[FIELD], secret[FIELD], verifier[FIELD];
	unsigned char digest[crypto_hash_sha256_BYTES], raw[24];
	char challenge[64], access[64], body[256];
	struct code *found = NULL;

	if (form_get(rq->body, rq->len, "grant_type", grant, FIELD) ||
	    form_get(rq->body, rq->len, "code", code, FIELD) ||
	    form_get(rq->body, rq->len, "redirect_uri", redirect, FIELD) ||
	    form_get(rq->body, rq->len, "client_id", cid, FIELD) ||
	    form_get(rq->body, rq->len, "client_secret", secret, FIELD) ||
	    form_get(rq->body, rq->len, "code_verifier", verifier, FIELD))
		return token_error(con, "invalid_request", "a parameter is missing");
	if (strcmp(grant, "authorization_code") != 0)
		return token_error(con, "unsupported_grant_type", "authorization_code only");
	if (strcmp(cid, client_id) != 0 || strcmp(secret, client_secret) != 0)
		return token_error(con, "invalid_client", "wrong client credentials");
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
	randombytes_buf(raw, sizeof(raw));
	memcpy(access, "gho_", 4);
	sodium_bin2base64(access + 4, sizeof(access) - 4, raw, sizeof(raw), B64);
	json_array_append_new(tokens, json_string(access));
	pthread_mutex_unlock(&lock);
	snprintf(body, sizeof(body),
		 "{\"access_token\":\"%s\",\"token_type\":\"bearer\",\"login\":\"octocat\"}",
		 access);
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
		else {
			fprintf(stderr, "usage: test-provider [--listen 127.0.0.1:0] "
					"[--client-id ID] [--client-secret SECRET]\n");
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
