/*
 * /logout for browsers. POST (the landing page's form, carrying the
 * session's CSRF token as the field csrf_token, checked as X-CSRF-Token is
 * on the API) revokes the session, clears the cookies and lands on the login
 * page (303). GET never logs out: it shows the same form, so that a link or
 * an image pointing here cannot end anyone's session.
 */
#include <sodium.h>
#include <string.h>

#include "html_page.h"
#include "log.h"
#include "login.h"
#include "urlencoded.h"
#include "banned.h"

static void to_login(struct host_request *r)
{
	response_set_status(r->resp, 303);
	(void)response_add_header(r->resp, "Location", 8, "/login", 6);
	(void)response_add_header(r->resp, "Cache-Control", 13, "no-store", 8);
}

/* The page holding the log-out form for r's session. */
static void logout_form(struct host_request *r, int status, const char *error)
{
	struct html_buf b;

	html_buf_init(&b);
	html_add(&b, "<h1>Log out</h1>");
	if (error) {
		html_add(&b, "<p class=\"err\" role=\"alert\">");
		html_text(&b, error);
		html_add(&b, "</p>");
	}
	html_add(&b, "<p>You are signed in as <strong>");
	html_text(&b, r->session.user.username);
	html_add(&b,
		 "</strong>.</p><form method=\"post\" action=\"/logout\">"
		 "<input type=\"hidden\" name=\"csrf_token\" value=\"%s\">"
		 "<button type=\"submit\">Log out</button></form>"
		 "<p><a href=\"/\">Back to the start page</a></p>",
		 r->session.csrf);
	html_send(r, status, "Log out", NULL, &b);
	html_buf_free(&b);
}

/* The browser's session whatever the CSRF header said (the form carries its
 * token in the body): AUTH_CSRF_FAILED still resolved the session. */
static bool has_cookie_session(const struct host_request *r)
{
	return r->token.source == AUTH_SRC_COOKIE &&
	       (r->auth == AUTH_OK || r->auth == AUTH_CSRF_FAILED);
}

static bool form_token_ok(const struct host_request *r)
{
	char got[MM_ID_LEN + 2];
	size_t n = strlen(r->session.csrf);

	if (form_get(r->body ? r->body : "", r->body_len, "csrf_token", got, sizeof(got)) !=
	    FORM_OK)
		return false;
	return n > 0 && strlen(got) == n && sodium_memcmp(got, r->session.csrf, n) == 0;
}

void page_logout(struct host_request *r)
{
	int rc;

	if (!has_cookie_session(r)) {
		/* Nothing to end (or not a browser's session): clear what the
		 * browser may still hold and go to the login page. */
		to_login(r);
		if (strcmp(r->method, "POST") == 0)
			login_set_cookies(r, NULL, NULL, NULL);
		return;
	}
	if (strcmp(r->method, "POST") != 0) {
		logout_form(r, 200, NULL);
		return;
	}
	if (!form_token_ok(r)) {
		log_kv(LOG_WARN, "logout form without the session's token", "user_id",
		       r->session.user_id, "request_id", r->request_id, NULL);
		logout_form(r, 403, "This log-out form has expired. Log out again.");
		return;
	}
	rc = sessions_revoke_token(r->host->store, r->token.token, r->token.len);
	if (rc != SESSIONS_OK && rc != SESSIONS_ENOTFOUND) {
		log_kv(LOG_ERROR, "store write failed", "op", "logout", "reason",
		       store_strerror(rc), "user_id", r->session.user_id, "request_id",
		       r->request_id, NULL);
		if (rc == STORE_EUNAVAILABLE)
			logout_form(r, 503,
				    "The database cannot be reached, so your session was not "
				    "ended. Try again in a moment.");
		else
			logout_form(r, store_is_full(rc) ? 507 : 500,
				    "The server could not end your session. Try again.");
		return;
	}
	log_kv(LOG_INFO, "logout", "user_id", r->session.user_id, "request_id", r->request_id,
	       NULL);
	to_login(r);
	login_set_cookies(r, NULL, NULL, NULL);
}
