#include "login.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "banned.h"

int login_attempt(struct host_request *r, const char *login_id, const char *password,
		  struct host_user *user, char token[SESSION_TOKEN_LEN + 1],
		  struct host_session *session, unsigned *retry_after_s)
{
	struct login_limiter *lim = &r->host->limiter;
	struct session_new sn = { 0 };
	int64_t now = now_ms();
	bool ok;

	if (login_limiter_blocked(lim, login_id, r->remote, now, retry_after_s)) {
		log_kv(LOG_WARN, "login rate limited", "login_id", login_id, "remote", r->remote,
		       "request_id", r->request_id, NULL);
		return LOGIN_RATE_LIMITED;
	}
	if (users_find_login(r->host->store, login_id, user) == USERS_OK) {
		ok = users_check_password(user, password) && user->delete_at == 0;
	} else {
		users_burn_password_check(password);
		ok = false;
	}
	if (!ok) {
		login_limiter_fail(lim, login_id, r->remote, now);
		log_kv(LOG_INFO, "login failed", "login_id", login_id, "remote", r->remote,
		       "request_id", r->request_id, NULL);
		return LOGIN_BAD_CREDENTIALS;
	}
	sn.user_id = user->id;
	sn.lifetime_ms = LOGIN_SESSION_MS;
	if (sessions_create(r->host->store, &sn, token, session) != SESSIONS_OK)
		return LOGIN_ERROR;
	log_kv(LOG_INFO, "login", "user_id", user->id, "username", user->username, "remote",
	       r->remote, "request_id", r->request_id, NULL);
	return LOGIN_OK;
}

static void add_cookie(struct host_request *r, const char *name, const char *value,
		       long long max_age, bool http_only)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s=%s; Path=/; Max-Age=%lld; SameSite=Lax%s%s", name,
			 value, max_age, http_only ? "; HttpOnly" : "",
			 r->host->secure_cookies ? "; Secure" : "");

	if (n > 0 && (size_t)n < sizeof(buf))
		(void)response_add_header(r->resp, "Set-Cookie", 10, buf, (size_t)n);
}

void login_set_cookies(struct host_request *r, const char *token, const struct host_session *s,
		       const struct host_user *u)
{
	long long age = token ? LOGIN_SESSION_MS / 1000 : 0;

	add_cookie(r, "MMAUTHTOKEN", token ? token : "", age, true);
	add_cookie(r, "MMUSERID", token ? u->id : "", age, false);
	add_cookie(r, "MMCSRF", token ? s->csrf : "", age, false);
}
