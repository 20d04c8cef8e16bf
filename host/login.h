/* Logging in, shared by POST /api/v4/users/login and the /login form. */
#ifndef HOST_LOGIN_H
#define HOST_LOGIN_H

#include "host_request.h"

enum login_rc {
	LOGIN_OK = 0,
	LOGIN_BAD_CREDENTIALS = -1, /* unknown user, wrong password, bot, deactivated */
	LOGIN_RATE_LIMITED = -2,
	LOGIN_ERROR = -3,
};

/* Checks the credentials (rate limit first) and creates a session; on
 * LOGIN_OK user, token and session are filled. *retry_after_s is set for
 * LOGIN_RATE_LIMITED. Failures are logged without the password. */
int login_attempt(struct host_request *r, const char *login_id, const char *password,
		  struct host_user *user, char token[SESSION_TOKEN_LEN + 1],
		  struct host_session *session, unsigned *retry_after_s);

/* Adds the MMAUTHTOKEN (HttpOnly), MMUSERID and MMCSRF cookies to r's
 * response; with token NULL, headers that clear them. */
void login_set_cookies(struct host_request *r, const char *token, const struct host_session *s,
		       const struct host_user *u);

#endif
