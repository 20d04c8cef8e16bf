/* /api/v4/users...: login, logout, me and users by id, creating users,
 * personal access tokens. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "host_request.h"
#include "log.h"
#include "login.h"
#include "login_csrf.h"
#include "banned.h"

#define CREDENTIAL_MAX 256

/* The body as a JSON object, or NULL after answering 400. */
static json_t *body_object(struct host_request *r)
{
	json_t *j = json_loadb(r->body ? r->body : "", r->body_len, 0, NULL);

	if (!json_is_object(j)) {
		json_decref(j);
		host_error(r, 400, "api.context.invalid_body_param.app_error",
			   "The body must be a JSON object.");
		return NULL;
	}
	return j;
}

static const char *string_field(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && strlen(s) == json_string_length(json_object_get(obj, key)) ? s : NULL;
}

/* Wipes the text of the string member key of obj (a password) before the
 * object is freed: jansson's free does not. */
static void wipe_field(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		sodium_memzero((char *)json_string_value(v), json_string_length(v));
}

/* A write to the store failed: logs why (which op, MDB_MAP_FULL or ENOSPC)
 * and answers 507 api.store.full.app_error when the store is full, 503
 * api.store.unavailable.app_error when the database cannot be reached, else
 * 500 with fail_id. */
static void store_failed(struct host_request *r, const char *op, int rc, const char *fail_id,
			 const char *fail_message)
{
	log_kv(LOG_ERROR, store_is_full(rc) ? "store full" : "store write failed", "op", op,
	       "reason", store_strerror(rc), "by", r->user.id, "request_id", r->request_id, NULL);
	if (store_is_full(rc))
		host_error(r, 507, "api.store.full.app_error",
			   "The server's storage is full; nothing was saved. Tell the server's "
			   "administrator.");
	else if (rc == STORE_EUNAVAILABLE)
		host_error(r, 503, "api.store.unavailable.app_error",
			   "The database cannot be reached; nothing was saved. Try again shortly.");
	else
		host_error(r, 500, fail_id, fail_message);
}

void api_users_login(struct host_request *r)
{
	char token[SESSION_TOKEN_LEN + 1];
	struct host_session session;
	struct host_user user;
	const char *login_id, *password;
	unsigned retry = 0;
	json_t *body;
	int rc;

	/* Before reading anything: a login posted by another site's page
	 * (a text/plain form can send a body that parses as JSON). */
	if (!login_csrf_same_site(r)) {
		log_kv(LOG_WARN, "login from another site", "remote", r->remote, "request_id",
		       r->request_id, NULL);
		host_error(r, 403, "api.user.login.foreign_origin.app_error",
			   "A login from another site's page is refused.");
		return;
	}
	body = body_object(r);
	if (!body)
		return;
	login_id = string_field(body, "login_id");
	password = string_field(body, "password");
	if (!login_id || !password || !*login_id || strlen(login_id) > CREDENTIAL_MAX ||
	    strlen(password) > CREDENTIAL_MAX) {
		wipe_field(body, "password");
		json_decref(body);
		host_error(r, 400, "api.user.login.blank_pwd.app_error",
			   "login_id and password are required.");
		return;
	}
	rc = login_attempt(r, login_id, password, &user, token, &session, &retry);
	wipe_field(body, "password");
	json_decref(body);
	if (rc == LOGIN_RATE_LIMITED) {
		char secs[16];
		snprintf(secs, sizeof(secs), "%u", retry);
		host_error(r, 429, "api.user.login.rate_limited.app_error",
			   "Too many failed logins; try again later.");
		(void)response_add_header(r->resp, "Retry-After", 11, secs, strlen(secs));
		return;
	}
	if (rc == LOGIN_BAD_CREDENTIALS) {
		host_error(r, 401, "api.user.login.invalid_credentials_email_username",
			   "Enter a valid email or username and/or password.");
		return;
	}
	if (rc == LOGIN_STORE_FULL) {
		host_error(r, 507, "api.store.full.app_error",
			   "The server's storage is full; the session could not be saved.");
		return;
	}
	if (rc == LOGIN_UNAVAILABLE) {
		host_error(r, 503, "api.store.unavailable.app_error",
			   "The database cannot be reached; try again shortly.");
		return;
	}
	if (rc == LOGIN_AUDIT_FAILED) {
		host_error(r, 500, "api.audit.write_failed.app_error",
			   "The server could not record the login in its audit trail; see the "
			   "server log.");
		return;
	}
	if (rc != LOGIN_OK) {
		host_error(r, 500, "api.user.login.app_error", "The session could not be saved.");
		return;
	}
	host_json_value(r, 200, user_json(&user));
	(void)response_add_header(r->resp, "Token", 5, token, SESSION_TOKEN_LEN);
	login_set_cookies(r, token, &session, &user);
	sodium_memzero(token, sizeof(token));
}

/* A 200 means the token no longer works: a revocation the store did not
 * take is an error, and the token stays with its client. */
void api_users_logout(struct host_request *r)
{
	int rc = sessions_revoke_token(r->host->store, r->token.token, r->token.len);

	if (rc != SESSIONS_OK && rc != SESSIONS_ENOTFOUND) {
		store_failed(r, "logout", rc, "api.user.logout.app_error",
			     "The session could not be ended; try again.");
		return;
	}
	log_kv(LOG_INFO, "logout", "user_id", r->user.id, "request_id", r->request_id, NULL);
	host_json(r, 200, "{\"status\":\"OK\"}");
	login_set_cookies(r, NULL, NULL, NULL);
}

/* Resolves {id}: "me" or a user id. Answers 404 and returns false when
 * there is no such user. */
static bool target_user(struct host_request *r, struct host_user *out)
{
	char id[MM_ID_LEN + 1];

	if (r->route.param_len == 2 && memcmp(r->route.param, "me", 2) == 0) {
		*out = r->user;
		return true;
	}
	if (r->route.param_len != MM_ID_LEN) {
		host_error(r, 404, "app.user.missing_account.const", "No user has this id.");
		return false;
	}
	memcpy(id, r->route.param, MM_ID_LEN);
	id[MM_ID_LEN] = '\0';
	if (users_get(r->host->store, id, out) != USERS_OK) {
		host_error(r, 404, "app.user.missing_account.const", "No user has this id.");
		return false;
	}
	return true;
}

void api_user_get(struct host_request *r)
{
	struct host_user u;

	if (target_user(r, &u))
		host_json_value(r, 200, user_json(&u));
}

void api_users_create(struct host_request *r)
{
	struct user_new n = { 0 };
	struct host_user u;
	char msg[256];
	json_t *body = body_object(r);
	int rc;

	if (!body)
		return;
	n.username = string_field(body, "username");
	n.email = string_field(body, "email");
	n.password = string_field(body, "password");
	if (!n.email) {
		wipe_field(body, "password");
		json_decref(body);
		host_error(r, 400, "api.user.create_user.invalid.app_error", "email is required.");
		return;
	}
	if (users_check_new(&n, msg, sizeof(msg)) != USERS_OK) {
		wipe_field(body, "password");
		json_decref(body);
		host_error(r, 400, "api.user.create_user.invalid.app_error", msg);
		return;
	}
	rc = users_create(r->host->store, &n, &u);
	wipe_field(body, "password");
	json_decref(body);
	switch (rc) {
	case USERS_OK:
		log_kv(LOG_INFO, "user created", "user_id", u.id, "username", u.username, "by",
		       r->user.id, NULL);
		host_json_value(r, 201, user_json(&u));
		return;
	case USERS_EUSERNAME_TAKEN:
		host_error(r, 400, "app.user.save.username_exists.app_error",
			   "An account with that username already exists.");
		return;
	case USERS_EEMAIL_TAKEN:
		host_error(r, 400, "app.user.save.email_exists.app_error",
			   "An account with that email already exists.");
		return;
	default:
		store_failed(r, "user_create", rc, "app.user.save.app_error",
			     "The user could not be saved.");
		return;
	}
}

void api_user_tokens(struct host_request *r)
{
	char token[SESSION_TOKEN_LEN + 1];
	struct session_new sn = { 0 };
	struct session_prop prop = { "type", "UserAccessToken" };
	struct host_session s;
	struct host_user u;
	const char *description;
	json_t *body, *out;
	int rc;

	if (!target_user(r, &u))
		return;
	if (strcmp(u.id, r->user.id) != 0 && !user_is_admin(&r->user)) {
		host_error(r, 403, "api.context.permissions.app_error",
			   "You do not have the appropriate permissions.");
		return;
	}
	if (u.delete_at != 0) {
		host_error(r, 400, "app.user_access_token.disabled", "The user is deactivated.");
		return;
	}
	body = body_object(r);
	if (!body)
		return;
	description = string_field(body, "description");
	if (!description || !*description || strlen(description) > SESSION_DESCRIPTION_MAX) {
		json_decref(body);
		host_error(r, 400, "model.user_access_token.is_valid.description.app_error",
			   "description must be 1 to 256 characters.");
		return;
	}
	sn.user_id = u.id;
	sn.props = &prop;
	sn.props_len = 1;
	sn.personal = true;
	sn.description = description;
	rc = sessions_create(r->host->store, &sn, token, &s);
	json_decref(body);
	if (rc != SESSIONS_OK) {
		store_failed(r, "token_create", rc, "app.user_access_token.save.app_error",
			     "The token could not be saved.");
		return;
	}
	out = json_pack("{s:s, s:s, s:s, s:s}", "id", s.id, "token", token, "user_id", u.id,
			"description", s.description);
	sodium_memzero(token, sizeof(token));
	log_kv(LOG_INFO, "personal access token created", "token_id", s.id, "user_id", u.id, "by",
	       r->user.id, NULL);
	host_json_value(r, 200, out);
}
