#include "login.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "audit_log.h"
#include "auth_metrics.h"
#include "log.h"
#include "banned.h"

#define FINGERPRINT_BYTES 6

/* The key of the login_id fingerprints in the log: drawn once per process,
 * so that a log shows which failures share a login_id without a way back to
 * its text. */
static unsigned char fingerprint_key[crypto_generichash_KEYBYTES];
static pthread_once_t fingerprint_once = PTHREAD_ONCE_INIT;

static void make_fingerprint_key(void)
{
	randombytes_buf(fingerprint_key, sizeof(fingerprint_key));
}

static void fingerprint(const char *login_id, char hex[FINGERPRINT_BYTES * 2 + 1])
{
	unsigned char h[FINGERPRINT_BYTES];

	pthread_once(&fingerprint_once, make_fingerprint_key);
	crypto_generichash(h, sizeof(h), (const unsigned char *)login_id, strlen(login_id),
			   fingerprint_key, sizeof(fingerprint_key));
	sodium_bin2hex(hex, FINGERPRINT_BYTES * 2 + 1, h, sizeof(h));
}

static const char *limit_reason(int rc)
{
	switch (rc) {
	case LOGIN_LIMIT_ACCOUNT: return "account";
	case LOGIN_LIMIT_ADDR: return "address";
	default: return "table_full";
	}
}

static enum login_outcome limit_outcome(int rc)
{
	return rc == LOGIN_LIMIT_ACCOUNT ? LOGIN_OUTCOME_LIMITED_ACCOUNT
	       : rc == LOGIN_LIMIT_ADDR  ? LOGIN_OUTCOME_LIMITED_ADDRESS
					 : LOGIN_OUTCOME_LIMITED_TABLE;
}

/* A failed login: the account's id when login_id names one, else a keyed
 * hash and the length of login_id, never its text. */
static void log_failure(const struct host_request *r, const char *login_id,
			const struct host_user *found)
{
	char hash[FINGERPRINT_BYTES * 2 + 1], len[24];

	if (found) {
		log_kv(LOG_INFO, "login failed", "user_id", found->id, "remote", r->remote,
		       "request_id", r->request_id, NULL);
		return;
	}
	fingerprint(login_id, hash);
	snprintf(len, sizeof(len), "%zu", strlen(login_id));
	log_kv(LOG_INFO, "login failed", "login_id_hash", hash, LOG_NUM("login_id_len"), len,
	       "remote", r->remote, "request_id", r->request_id, NULL);
}

/* The attempt in the audit trail, on disk before the answer. */
static bool audited(const struct host_request *r, const char *event, const char *actor,
		    const char *target_user)
{
	const struct audit_event ev = { event, actor, NULL, target_user, r->request_id };

	return !r->host->audit || audit_record(r->host->audit, &ev, AUDIT_FROM_HOST) == AUDIT_OK;
}

/* The account could not be read (the database is unreachable, ...): an
 * error of the server, not of the person logging in. */
static int store_unread(struct host_request *r, int rc)
{
	log_kv(LOG_ERROR, "store read failed", "op", "login", "reason", store_strerror(rc),
	       "remote", r->remote, "request_id", r->request_id, NULL);
	return rc == USERS_EUNAVAILABLE ? LOGIN_UNAVAILABLE : LOGIN_ERROR;
}

/*
 * The order is the limiter's contract: find which account login_id names
 * (index reads only, the same reads for a known and an unknown login_id of
 * one shape), count the attempt against that account and the address, then
 * read the account and check the password. So an account's name and email
 * share one count, and what a refusal costs does not tell whether an
 * account exists. The password is checked against the account that was
 * counted, whatever its names became meanwhile.
 */
int login_attempt(struct host_request *r, const char *login_id, const char *password,
		  struct host_user *user, char token[SESSION_TOKEN_LEN + 1],
		  struct host_session *session, unsigned *retry_after_s)
{
	struct login_limiter *lim = &r->host->limiter;
	struct login_ticket ticket;
	struct session_new sn = { 0 };
	char id[MM_ID_LEN + 1];
	bool found, ok;
	int rc;

	rc = users_find_login_id(r->host->store, login_id, id);
	if (rc != USERS_OK && rc != USERS_ENOTFOUND)
		return store_unread(r, rc);
	found = rc == USERS_OK;
	rc = login_limiter_take(lim, found ? LOGIN_ACCOUNT_ID : LOGIN_ACCOUNT_NAME,
				found ? id : login_id, r->remote, now_ms(), retry_after_s, &ticket);
	if (rc != LOGIN_LIMIT_OK) {
		log_kv(LOG_WARN, "login rate limited", "limit", limit_reason(rc), "remote",
		       r->remote, "request_id", r->request_id, NULL);
		auth_metrics_login(limit_outcome(rc));
		return LOGIN_RATE_LIMITED;
	}
	if (found && (rc = users_get(r->host->store, id, user)) != USERS_OK) {
		if (rc != USERS_ENOTFOUND) {
			/* Not a wrong password: the account could not be read. */
			login_limiter_refund(lim, &ticket);
			return store_unread(r, rc);
		}
		found = false;
	}
	if (found) {
		ok = users_check_password(user, password) && user->delete_at == 0;
	} else {
		users_burn_password_check(password);
		ok = false;
	}
	if (!ok) {
		log_failure(r, login_id, found ? user : NULL);
		sodium_memzero(user->password_hash, sizeof(user->password_hash));
		auth_metrics_login(LOGIN_OUTCOME_BAD_CREDENTIALS);
		if (!audited(r, "login_failed", NULL, found ? user->id : NULL))
			return LOGIN_AUDIT_FAILED;
		return LOGIN_BAD_CREDENTIALS;
	}
	sodium_memzero(user->password_hash, sizeof(user->password_hash));
	login_limiter_refund(lim, &ticket);
	sn.user_id = user->id;
	sn.lifetime_ms = LOGIN_SESSION_MS;
	rc = sessions_create(r->host->store, &sn, token, session);
	if (rc != SESSIONS_OK) {
		log_kv(LOG_ERROR, store_is_full(rc) ? "store full" : "store write failed", "op",
		       "login", "reason", store_strerror(rc), "user_id", user->id, "request_id",
		       r->request_id, NULL);
		return store_is_full(rc)             ? LOGIN_STORE_FULL
		       : rc == SESSIONS_EUNAVAILABLE ? LOGIN_UNAVAILABLE
						     : LOGIN_ERROR;
	}
	if (!audited(r, "login_succeeded", user->id, NULL)) {
		(void)sessions_revoke_id(r->host->store, session->id, user->id);
		sodium_memzero(token, SESSION_TOKEN_LEN + 1);
		return LOGIN_AUDIT_FAILED;
	}
	log_kv(LOG_INFO, "login", "user_id", user->id, "username", user->username, "remote",
	       r->remote, "request_id", r->request_id, NULL);
	auth_metrics_login(LOGIN_OUTCOME_OK);
	return LOGIN_OK;
}

static void add_cookie(struct host_request *r, const char *name, const char *value,
		       long long max_age, bool http_only)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s=%s; Path=/; Max-Age=%lld; SameSite=Lax%s%s", name,
			 value, max_age, http_only ? "; HttpOnly" : "",
			 r->secure ? "; Secure" : "");

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
