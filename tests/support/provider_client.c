#include "provider_client.h"

#include <stdio.h>
#include <string.h>

int ts_provider_mode(const struct ts_proc *p, const char *form)
{
	char url[128];
	struct ts_resp r;
	int ok;

	snprintf(url, sizeof(url), "%s/_mode", p->base_url);
	if (ts_http("POST", url, NULL, form, strlen(form), 0, &r) != 0)
		return -1;
	ok = r.status == 200;
	ts_resp_free(&r);
	return ok ? 0 : -1;
}

long ts_provider_count(const struct ts_proc *p, const char *what)
{
	char url[128];
	struct ts_resp r;
	json_t *j, *n;
	long out = -1;

	snprintf(url, sizeof(url), "%s/_counts", p->base_url);
	if (ts_http("GET", url, NULL, NULL, 0, 0, &r) != 0)
		return -1;
	j = r.status == 200 ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
	ts_resp_free(&r);
	n = json_object_get(j, what);
	if (json_is_integer(n))
		out = (long)json_integer_value(n);
	json_decref(j);
	return out;
}

int ts_provider_code(const struct ts_proc *p, const char *client_id, const char *redirect,
		     const char *challenge, char *code, size_t cap)
{
	char url[1024], location[2048];
	const char *c, *end;
	struct ts_resp r;
	int rc;

	snprintf(url, sizeof(url),
		 "%s/authorize?response_type=code&client_id=%s&redirect_uri=%s&state=st"
		 "&code_challenge=%s&code_challenge_method=S256",
		 p->base_url, client_id, redirect, challenge);
	if (ts_http("GET", url, NULL, NULL, 0, 0, &r) != 0)
		return -1;
	rc = r.status == 302 ? ts_resp_header(&r, "Location", location, sizeof(location)) : -1;
	ts_resp_free(&r);
	c = rc == 0 ? strstr(location, "code=") : NULL;
	if (!c)
		return -1;
	c += 5;
	end = strchr(c, '&');
	if ((size_t)snprintf(code, cap, "%.*s", end ? (int)(end - c) : (int)strlen(c), c) >= cap)
		return -1;
	return 0;
}

json_t *ts_provider_token(const struct ts_proc *p, const char *client_id, const char *secret,
			  const char *redirect, const char *challenge, const char *verifier)
{
	char code[256], url[128], form[1024];
	struct ts_resp r;
	json_t *t;

	if (ts_provider_code(p, client_id, redirect, challenge, code, sizeof(code)) != 0)
		return NULL;
	snprintf(form, sizeof(form),
		 "grant_type=authorization_code&code=%s&redirect_uri=%s&code_verifier=%s"
		 "&client_id=%s&client_secret=%s",
		 code, redirect, verifier, client_id, secret);
	snprintf(url, sizeof(url), "%s/token", p->base_url);
	if (ts_http("POST", url, NULL, form, strlen(form), 0, &r) != 0)
		return NULL;
	t = r.status == 200 ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
	ts_resp_free(&r);
	return t;
}
