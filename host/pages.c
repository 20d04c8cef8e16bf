/* The login page: GET and POST /login. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_request.h"
#include "html_page.h"
#include "log.h"
#include "login.h"
#include "login_csrf.h"
#include "urlencoded.h"
#include "banned.h"

#define FIELD_MAX 512

/* The form, with a login-CSRF token bound to its cookie. */
static void login_form(struct host_request *r, int status, const char *error, const char *login_id,
		       const char *redirect_to)
{
	char csrf[LOGIN_CSRF_TOKEN_LEN + 1];
	struct html_buf b;

	if (!redirect_is_local(redirect_to))
		redirect_to = "/";
	login_csrf_token(r, csrf);
	html_buf_init(&b);
	html_add(&b, "<h1>Log in</h1>");
	if (error) {
		html_add(&b, "<p class=\"err\" role=\"alert\">");
		html_text(&b, error);
		html_add(&b, "</p>");
	}
	html_add(&b, "<form method=\"post\" action=\"/login\">"
		     "<label for=\"login_id\">Username or email</label>"
		     "<input id=\"login_id\" name=\"login_id\" autocomplete=\"username\" "
		     "required autofocus value=\"");
	html_text(&b, login_id ? login_id : "");
	html_add(&b, "\"><label for=\"password\">Password</label>"
		     "<input id=\"password\" name=\"password\" type=\"password\" "
		     "autocomplete=\"current-password\" required>"
		     "<input type=\"hidden\" name=\"redirect_to\" value=\"");
	html_text(&b, redirect_to);
	html_add(&b,
		 "\"><input type=\"hidden\" name=\"csrf_token\" value=\"%s\">"
		 "<button type=\"submit\">Log in</button></form>",
		 csrf);
	html_send(r, status, "Log in", NULL, &b);
	html_buf_free(&b);
}

/*
 * After a login, the page moves on to `to` by itself (a meta refresh, and a
 * link without it) rather than by a redirect: browsers treat redirects that
 * answer a form POST as part of the form's navigation and check each hop
 * against the form page's CSP form-action, which would stop the chain
 * /login -> an App's connect -> its OAuth2 provider (Chromium does). to is
 * a checked local path.
 */
static void logged_in_page(struct host_request *r, const char *to)
{
	struct html_buf head, b;

	html_buf_init(&head);
	html_add(&head, "<meta http-equiv=\"refresh\" content=\"0; url=");
	html_text(&head, to);
	html_add(&head, "\">");
	html_buf_init(&b);
	html_add(&b, "<h1>Logged in</h1><p><a href=\"");
	html_text(&b, to);
	html_add(&b, "\">Continue</a></p>");
	if (head.overflow)
		b.overflow = true;
	html_send(r, 200, "Logged in", head.text, &b);
	html_buf_free(&b);
	html_buf_free(&head);
}

static void login_post(struct host_request *r)
{
	char login_id[FIELD_MAX], password[FIELD_MAX], redirect_to[FIELD_MAX],
		csrf[LOGIN_CSRF_TOKEN_LEN + 1];
	char token[SESSION_TOKEN_LEN + 1];
	struct host_session session;
	struct host_user user;
	const char *body = r->body ? r->body : "";
	unsigned retry = 0;
	int rc;

	if (form_get(body, r->body_len, "redirect_to", redirect_to, sizeof(redirect_to)) != 0 ||
	    !redirect_is_local(redirect_to))
		snprintf(redirect_to, sizeof(redirect_to), "/");
	if (!login_csrf_same_site(r)) {
		const char *origin = host_request_header(r, "Origin");
		const char *site = host_request_header(r, "Sec-Fetch-Site");
		log_kv(LOG_WARN, "login form from another site", "origin", origin ? origin : "",
		       "sec_fetch_site", site ? site : "", "remote", r->remote, "request_id",
		       r->request_id, NULL);
		login_form(r, 403, "This login form was sent from another site. Log in here.", NULL,
			   redirect_to);
		return;
	}
	if (form_get(body, r->body_len, "csrf_token", csrf, sizeof(csrf)) != 0 ||
	    !login_csrf_check(r, csrf)) {
		log_kv(LOG_WARN, "login form without its token", "remote", r->remote, "request_id",
		       r->request_id, NULL);
		login_form(r, 403, "This login form has expired. Log in again.", NULL, redirect_to);
		return;
	}
	if (form_get(body, r->body_len, "login_id", login_id, sizeof(login_id)) != 0 ||
	    form_get(body, r->body_len, "password", password, sizeof(password)) != 0 ||
	    !login_id[0] || !password[0]) {
		sodium_memzero(password, sizeof(password));
		login_form(r, 400, "Enter your username or email and your password.", NULL,
			   redirect_to);
		return;
	}
	rc = login_attempt(r, login_id, password, &user, token, &session, &retry);
	sodium_memzero(password, sizeof(password));
	switch (rc) {
	case LOGIN_OK: break;
	case LOGIN_RATE_LIMITED:
		login_form(r, 429, "Too many failed logins. Wait a minute and try again.", login_id,
			   redirect_to);
		return;
	case LOGIN_BAD_CREDENTIALS:
		login_form(r, 401, "Enter a valid email or username and/or password.", login_id,
			   redirect_to);
		return;
	case LOGIN_STORE_FULL:
		login_form(r, 507,
			   "The server's storage is full, so it could not log you in. "
			   "Tell the server's administrator.",
			   login_id, redirect_to);
		return;
	case LOGIN_UNAVAILABLE:
		login_form(r, 503, "The server cannot reach its database. Try again shortly.",
			   login_id, redirect_to);
		return;
	case LOGIN_AUDIT_FAILED:
		login_form(r, 500,
			   "The server could not record your login in its audit trail, so it did "
			   "not log you in. Tell the server's administrator.",
			   login_id, redirect_to);
		return;
	default:
		login_form(r, 500, "The server could not log you in. Try again.", login_id,
			   redirect_to);
		return;
	}
	logged_in_page(r, redirect_to);
	login_set_cookies(r, token, &session, &user);
	login_csrf_clear(r);
	sodium_memzero(token, sizeof(token));
}

void page_login(struct host_request *r)
{
	char redirect_to[FIELD_MAX];

	if (strcmp(r->method, "POST") == 0) {
		login_post(r);
		return;
	}
	if (form_get(r->query, r->query_len, "redirect_to", redirect_to, sizeof(redirect_to)) !=
		    0 ||
	    !redirect_is_local(redirect_to))
		snprintf(redirect_to, sizeof(redirect_to), "/");
	/* A browser that is signed in has nothing to do here: on to where it
	 * was going (never back to /login), or the landing page. */
	if (r->auth == AUTH_OK && r->token.source == AUTH_SRC_COOKIE) {
		const char *to = strncmp(redirect_to, "/login", 6) == 0 ? "/" : redirect_to;
		response_set_status(r->resp, 302);
		(void)response_add_header(r->resp, "Location", 8, to, strlen(to));
		(void)response_add_header(r->resp, "Cache-Control", 13, "no-store", 8);
		return;
	}
	login_form(r, 200, NULL, NULL, redirect_to);
}
