/*
 * test-app: an App used only by the tests, a real HTTP server.
 *
 *   test-app --listen 127.0.0.1:0 [--connect-url URL] [--token-url URL]
 *
 * Prints "test-app listening on 127.0.0.1:PORT" on stderr. Every POST is
 * recorded (path, headers lower-cased, body); GET /_received returns the
 * recorded requests, newest last. POST answers by path:
 *   /fail     HTTP 500          /garbage  200, not JSON
 *   /huge     2 MiB of JSON     /slow     waits 3 s, then ok
 *   /slow/MS  waits MS ms, then ok (the echo)    /hang  never answers (until stopped)
 *   /error    {"type":"error"}  /badtype  {"type":"weird"}
 *   /oauth2/connect   {"type":"ok","data":"<--connect-url>?client_id=..&state=..
 *                     &code_challenge=..&redirect_uri=<complete_url>"}, or, for
 *                     the Apps named bad-*, an unusable answer (see bad_connect)
 *   /oauth2/complete  the provider's error as {"type":"error"}; else exchanges
 *                     the code at --token-url (client secret and code_verifier)
 *                     and stores the token through POST .../oauth2/user with
 *                     the acting user's token
 *   anything else               {"type":"ok","data":<the request received>}
 */
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tiny_server.h"
#include "urlencoded.h"

#define BODY_MAX (2 * 1024 * 1024)
#define KEEP 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *received; /* array */
static const char *connect_url = "http://127.0.0.1:1/authorize";
static const char *token_url = "http://127.0.0.1:1/token";

struct req {
	char *body;
	size_t len;
};

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	json_t *h = cls;
	char name[128];
	size_t i = 0;

	(void)kind;
	for (; key[i] && i < sizeof(name) - 1; i++)
		name[i] = (key[i] >= 'A' && key[i] <= 'Z') ? (char)(key[i] + 32) : key[i];
	name[i] = '\0';
	json_object_set_new(h, name, json_string(value ? value : ""));
	return MHD_YES;
}

static enum MHD_Result answer(struct MHD_Connection *con, int status, const char *text)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(con, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result answer_json(struct MHD_Connection *con, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	enum MHD_Result ret = answer(con, 200, text ? text : "{}");

	free(text);
	json_decref(j);
	return ret;
}

static const char *sget(const json_t *obj, const char *path1, const char *path2)
{
	const json_t *v = json_object_get(obj, path1);

	if (path2)
		v = json_object_get(v, path2);
	return json_string_value(v) ? json_string_value(v) : "";
}

/* The unusable connect answers, by app_id. NULL: answer normally. */
static json_t *bad_connect(const char *app_id)
{
	if (strcmp(app_id, "bad-js") == 0)
		return json_pack("{s:s, s:s}", "type", "ok", "data", "javascript:alert(1)");
	if (strcmp(app_id, "bad-host") == 0)
		return json_pack("{s:s, s:s}", "type", "ok", "data",
				 "https://evil.example/authorize");
	if (strcmp(app_id, "bad-type") == 0)
		return json_pack("{s:s, s:i}", "type", "ok", "data", 42);
	if (strcmp(app_id, "bad-error") == 0)
		return json_pack("{s:s, s:s}", "type", "error", "text", "no <provider> configured");
	if (strcmp(app_id, "bad-relative") == 0)
		return json_pack("{s:s, s:s}", "type", "ok", "data", "/authorize");
	if (strcmp(app_id, "bad-userinfo") == 0)
		return json_pack("{s:s, s:s}", "type", "ok", "data",
				 "http://127.0.0.1@evil.example/authorize");
	return NULL;
}

static json_t *oauth2_connect(const json_t *call)
{
	const json_t *ctx = json_object_get(call, "context");
	char url[4096], e_state[512], e_ch[512], e_redirect[2048], e_cid[512];
	json_t *bad = bad_connect(sget(ctx, "app_id", NULL));

	if (bad)
		return bad;
	if (url_encode(sget(call, "values", "state"), e_state, sizeof(e_state)) ||
	    url_encode(sget(call, "values", "code_challenge"), e_ch, sizeof(e_ch)) ||
	    url_encode(sget(ctx, "oauth2", "complete_url"), e_redirect, sizeof(e_redirect)) ||
	    url_encode(sget(ctx, "oauth2", "client_id"), e_cid, sizeof(e_cid)))
		return json_pack("{s:s, s:s}", "type", "error", "text", "value too long");
	snprintf(url, sizeof(url),
		 "%s?response_type=code&client_id=%s&redirect_uri=%s&state=%s&code_challenge=%s"
		 "&code_challenge_method=%s",
		 connect_url, e_cid, e_redirect, e_state, e_ch,
		 sget(call, "values", "code_challenge_method"));
	return json_pack("{s:s, s:s}", "type", "ok", "data", url);
}

struct buf {
	char *p;
	size_t len;
};

static size_t sink(char *d, size_t s, size_t n, void *arg)
{
	struct buf *b = arg;
	char *np = realloc(b->p, b->len + s * n + 1);

	if (!np)
		return 0;
	memcpy(np + b->len, d, s * n);
	b->p = np;
	b->len += s * n;
	b->p[b->len] = '\0';
	return s * n;
}

/* POSTs body; returns the status and the answer in *out. */
static long post(const char *url, const char *auth, const char *type, const char *body,
		 struct buf *out)
{
	struct curl_slist *h = NULL;
	char a[512], t[128];
	long status = 0;
	CURL *c = curl_easy_init();

	snprintf(t, sizeof(t), "Content-Type: %s", type);
	h = curl_slist_append(h, t);
	if (auth) {
		snprintf(a, sizeof(a), "Authorization: Bearer %s", auth);
		h = curl_slist_append(h, a);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return status;
}

static json_t *oauth2_complete(const json_t *call)
{
	const json_t *ctx = json_object_get(call, "context");
	char form[8192], e[5][1024], store_url[1024], text[256];
	struct buf tok = { 0 }, st = { 0 };
	json_t *answer, *token_json, *stored;
	long status;

	if (*sget(call, "values", "error")) {
		snprintf(text, sizeof(text), "provider said: %s", sget(call, "values", "error"));
		return json_pack("{s:s, s:s}", "type", "error", "text", text);
	}
	if (url_encode(sget(call, "values", "code"), e[0], sizeof(e[0])) ||
	    url_encode(sget(ctx, "oauth2", "complete_url"), e[1], sizeof(e[1])) ||
	    url_encode(sget(ctx, "oauth2", "client_id"), e[2], sizeof(e[2])) ||
	    url_encode(sget(ctx, "oauth2", "client_secret"), e[3], sizeof(e[3])) ||
	    url_encode(sget(call, "values", "code_verifier"), e[4], sizeof(e[4])))
		return json_pack("{s:s, s:s}", "type", "error", "text", "value too long");
	snprintf(form, sizeof(form),
		 "grant_type=authorization_code&code=%s&redirect_uri=%s&client_id=%s"
		 "&client_secret=%s&code_verifier=%s",
		 e[0], e[1], e[2], e[3], e[4]);
	status = post(token_url, NULL, "application/x-www-form-urlencoded", form, &tok);
	token_json = tok.p ? json_loads(tok.p, 0, NULL) : NULL;
	if (status != 200 || !json_is_string(json_object_get(token_json, "access_token"))) {
		snprintf(text, sizeof(text), "the provider refused the code: %.120s",
			 tok.p ? tok.p : "no answer");
		answer = json_pack("{s:s, s:s}", "type", "error", "text", text);
		goto out;
	}
	stored =
		json_pack("{s:O, s:O}", "access_token", json_object_get(token_json, "access_token"),
			  "login", json_object_get(token_json, "login"));
	{
		char *body = json_dumps(stored, JSON_COMPACT);
		snprintf(store_url, sizeof(store_url),
			 "%s/plugins/com.mattermost.apps/api/v1/oauth2/user",
			 sget(ctx, "mattermost_site_url", NULL));
		status = post(store_url, sget(ctx, "acting_user_access_token", NULL),
			      "application/json", body, &st);
		free(body);
	}
	json_decref(stored);
	if (status != 200) {
		snprintf(text, sizeof(text), "storing the token failed: %ld", status);
		answer = json_pack("{s:s, s:s}", "type", "error", "text", text);
	} else {
		answer = json_pack("{s:s, s:s}", "type", "ok", "text", "connected");
	}
out:
	json_decref(token_json);
	free(tok.p);
	free(st.p);
	return answer;
}

static enum MHD_Result serve_post(struct MHD_Connection *con, const char *url, struct req *rq)
{
	json_t *rec = json_object(), *headers = json_object();
	json_t *body = json_loadb(rq->body ? rq->body : "", rq->len, JSON_DECODE_ANY, NULL);

	MHD_get_connection_values(con, MHD_HEADER_KIND, add_header, headers);
	json_object_set_new(rec, "path", json_string(url));
	json_object_set_new(rec, "headers", headers);
	json_object_set_new(rec, "body", body ? body : json_null());
	pthread_mutex_lock(&lock);
	json_array_append(received, rec);
	while (json_array_size(received) > KEEP)
		json_array_remove(received, 0);
	pthread_mutex_unlock(&lock);

	if (strcmp(url, "/fail") == 0) {
		json_decref(rec);
		return answer(con, 500, "{\"error\":\"failing on purpose\"}");
	}
	if (strcmp(url, "/garbage") == 0) {
		json_decref(rec);
		return answer(con, 200, "this is not JSON");
	}
	if (strcmp(url, "/huge") == 0) {
		char *big = malloc(BODY_MAX + 32);
		enum MHD_Result ret;
		memset(big, 'x', BODY_MAX + 30);
		memcpy(big, "{\"type\":\"ok\",\"text\":\"", 21);
		memcpy(big + BODY_MAX + 27, "\"}", 3);
		ret = answer(con, 200, big);
		free(big);
		json_decref(rec);
		return ret;
	}
	if (strcmp(url, "/slow") == 0)
		tiny_sleep_ms(3000);
	else if (strncmp(url, "/slow/", 6) == 0)
		tiny_sleep_ms(strtol(url + 6, NULL, 10));
	else if (strcmp(url, "/hang") == 0)
		tiny_sleep_ms(3600 * 1000L);
	json_decref(rec);
	if (strcmp(url, "/error") == 0)
		return answer(con, 200, "{\"type\":\"error\",\"text\":\"it broke\"}");
	if (strcmp(url, "/badtype") == 0)
		return answer(con, 200, "{\"type\":\"weird\"}");
	/* body belongs to the recorded request. */
	if (strcmp(url, "/oauth2/connect") == 0)
		return answer_json(con, oauth2_connect(body));
	if (strcmp(url, "/oauth2/complete") == 0)
		return answer_json(con, oauth2_complete(body));
	return answer_json(con, json_pack("{s:s, s:s, s:O}", "type", "ok", "text", "echo", "data",
					  body ? body : json_null()));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)version;
	if (!rq) {
		*con_cls = calloc(1, sizeof(struct req));
		return *con_cls ? MHD_YES : MHD_NO;
	}
	if (*data_size) {
		if (rq->len + *data_size > BODY_MAX)
			return MHD_NO;
		rq->body = realloc(rq->body, rq->len + *data_size + 1);
		memcpy(rq->body + rq->len, data, *data_size);
		rq->len += *data_size;
		*data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") == 0 && strcmp(url, "/_received") == 0) {
		char *text;
		enum MHD_Result ret;
		pthread_mutex_lock(&lock);
		text = json_dumps(received, JSON_COMPACT);
		pthread_mutex_unlock(&lock);
		ret = answer(con, 200, text);
		free(text);
		return ret;
	}
	if (strcmp(method, "POST") == 0)
		return serve_post(con, url, rq);
	return answer(con, 404, "{}");
}

static void on_done(void *cls, struct MHD_Connection *con, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)con;
	(void)toe;
	if (rq) {
		free(rq->body);
		free(rq);
	}
}

int main(int argc, char **argv)
{
	unsigned port = 0;
	int rc;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--connect-url") == 0)
			connect_url = argv[i + 1];
		else if (strcmp(argv[i], "--token-url") == 0)
			token_url = argv[i + 1];
		else if (strcmp(argv[i], "--listen") == 0)
			port = tiny_port(argv[i + 1]);
		else {
			fprintf(stderr,
				"usage: test-app [--listen 127.0.0.1:0] [--connect-url URL] "
				"[--token-url URL]\n");
			return 2;
		}
	}
	received = json_array();
	rc = tiny_serve("test-app", port, on_request, on_done);
	json_decref(received);
	return rc;
}
