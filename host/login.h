/* Logging in, shared by POST /api/v4/users/login and the /login form. */
#ifndef HOST_LOGIN_H
#define HOST_LOGIN_H

#include "host_request.h"

enum login_rc {
	LOGIN_OK = 0,
	LOGIN_BAD_CREDENTIALS = -1, /* unknown user, wrong password, bot, deactivated */
	LOGIN_RATE_LIMITED = -2,
	LOGIN_ERROR = -3,        /* the session could not be saved */
	LOGIN_STORE_FULL = -4,   /* the session could not be saved: the store is full (507) */
	LOGIN_AUDIT_FAILED = -5, /* the audit trail could not record the attempt (500) */
	LOGIN_UNAVAILABLE = -6,  /* the database cannot be reached: nothing counted (503) */
};

/* Checks the credentials and creates a session; on LOGIN_OK user, token and
 * session are filled. A store that cannot be reached is LOGIN_UNAVAILABLE,
 * never a wrong password: the attempt is not counted nor audited. Each
 * checked attempt is recorded in the audit trail
 * (login_succeeded with the user as actor, login_failed with the account
 * named as target_user when there is one) before it returns; when that
 * fails the answer is LOGIN_AUDIT_FAILED, and a session it made is revoked
 * (no token of a login the trail does not show). Rate-limited attempts are
 * logged, not audited: they cost no password check, so anyone could fill
 * the trail with them. The attempt is counted by the limiter before the
 * password is checked (and given back when it succeeds); *retry_after_s is
 * set for LOGIN_RATE_LIMITED. Every outcome is logged, never with the
 * password nor, for a failure, the login_id's text: a known account is
 * named by its user id, an unknown login_id by a keyed hash (stable while
 * the server runs) and its length, since people type passwords in the
 * wrong field. */
int login_attempt(struct host_request *r, const char *login_id, const char *password,
		  struct host_user *user, char token[SESSION_TOKEN_LEN + 1],
		  struct host_session *session, unsigned *retry_after_s);

/* Adds the MMAUTHTOKEN (HttpOnly), MMUSERID and MMCSRF cookies to r's
 * response; with token NULL, headers that clear them. */
void login_set_cookies(struct host_request *r, const char *token, const struct host_session *s,
		       const struct host_user *u);

#endif
