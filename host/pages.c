/* The HTML pages: GET and POST /login, and / (who is signed in). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_request.h"
#include "log.h"
#include "login.h"
#include "login_csrf.h"
#include "urlencoded.h"
#include "banned.h"

#define FIELD_MAX 512
#define PAGE_MAX 8192

static void html(struct host_request *r, int status, const char *body)
{
	static const char ct[] = "text/html; charset=utf-8";
	static const char csp[] =
		"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
		"frame-ancestors 'none'";
	struct mmplugin_response *resp = r->resp;

	response_set_status(resp, status);
	(void)response_add_header(resp, "Content-Type", 12, ct, sizeof(ct) - 1);
	(void)response_add_header(resp, "Cache-Control", 13, "no-store", 8);
	(void)response_add_header(resp, "Content-Security-Policy", 23, csp, sizeof(csp) - 1);
	(void)response_add_header(resp, "X-Frame-Options", 15, "DENY", 4);
	(void)response_add_header(resp, "Referrer-Policy", 15, "no-referrer", 11);
	if (response_set_body(resp, body, strlen(body)) != 0)
		response_set_status(resp, 500);
}

/* Format: the title, then more of the head (a meta refresh, or ""). */
static const char page_head[] =
	"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<meta name=\"viewport\" content=\"width=device-width\"><title>%s</title>%s"
	"<style>body{font-family:sans-serif;max-width:24em;margin:4em auto;padding:0 1em}"
	"label,input,button{display:block;width:100%%;margin:.4em 0}"
	"input,button{padding:.5em;font-size:1em}.err{color:#b00}</style></head><body>";

/* The form, with a login-CSRF token bound to its cookie. */
static void login_form(struct host_request *r, int status, const char *error, const char *login_id,
		       const char *redirect_to)
{
	char page[PAGE_MAX], esc_login[FIELD_MAX * 6], esc_redirect[FIELD_MAX * 6],
		esc_err[FIELD_MAX * 6], head[1024], csrf[LOGIN_CSRF_TOKEN_LEN + 1];
	int n;

	if (html_escape(login_id ? login_id : "", esc_login, sizeof(esc_login)) != 0)
		esc_login[0] = '\0';
	if (!redirect_is_local(redirect_to) ||
	    html_escape(redirect_to, esc_redirect, sizeof(esc_redirect)) != 0)
		snprintf(esc_redirect, sizeof(esc_redirect), "/");
	if (html_escape(error ? error : "", esc_err, sizeof(esc_err)) != 0)
		esc_err[0] = '\0';
	snprintf(head, sizeof(head), page_head, "Log in", "");
	login_csrf_token(r, csrf);
	n = snprintf(page, sizeof(page),
		     "%s<h1>Log in</h1>%s%s%s"
		     "<form method=\"post\" action=\"/login\">"
		     "<label for=\"login_id\">Username or email</label>"
		     "<input id=\"login_id\" name=\"login_id\" autocomplete=\"username\" "
		     "required autofocus value=\"%s\">"
		     "<label for=\"password\">Password</label>"
		     "<input id=\"password\" name=\"password\" type=\"password\" "
		     "autocomplete=\"current-password\" required>"
		     "<input type=\"hidden\" name=\"redirect_to\" value=\"%s\">"
		     "<input type=\"hidden\" name=\"csrf_token\" value=\"%s\">"
		     "<button type=\"submit\">Log in</button></form></body></html>",
		     head, error ? "<p class=\"err\" role=\"alert\">" : "", esc_err,
		     error ? "</p>" : "", esc_login, esc_redirect, csrf);
	if (n < 0 || (size_t)n >= sizeof(page)) {
		host_error(r, 500, "api.context.internal_error.app_error", "Page too large.");
		return;
	}
	html(r, status, page);
}

/*
 * After a login, the page moves on to `to` by itself (a meta refresh, and a
 * link without it) rather than by a redirect: browsers treat redirects that
 * answer a form POST as part of the form's navigation and check each hop
 * against the form page's CSP form-action, which would stop the chain
 * /login -> an App's connect -> its OAuth2 provider. to is a checked local
 * path.
 */
static void logged_in_page(struct host_request *r, const char *to)
{
	char page[PAGE_MAX], head[2 * FIELD_MAX * 6], refresh[FIELD_MAX * 6 + 64],
		esc[FIELD_MAX * 6];
	int n;

	if (html_escape(to, esc, sizeof(esc)) != 0)
		snprintf(esc, sizeof(esc), "/");
	snprintf(refresh, sizeof(refresh), "<meta http-equiv=\"refresh\" content=\"0; url=%s\">",
		 esc);
	n = snprintf(head, sizeof(head), page_head, "Logged in", refresh);
	if (n > 0 && (size_t)n < sizeof(head))
		n = snprintf(page, sizeof(page),
			     "%s<h1>Logged in</h1><p><a href=\"%s\">Continue</a></p></body></html>",
			     head, esc);
	if (n < 0 || (size_t)n >= sizeof(page)) {
		host_error(r, 500, "api.context.internal_error.app_error", "Page too large.");
		return;
	}
	html(r, 200, page);
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
	if (form_get(r->query, r->query_len, "redirect_to", redirect_to, sizeof(redirect_to)) != 0)
		snprintf(redirect_to, sizeof(redirect_to), "/");
	login_form(r, 200, NULL, NULL, redirect_to);
}

void page_home(struct host_request *r)
{
	char page[PAGE_MAX], head[1024], name[USERNAME_MAX * 6 + 1];

	snprintf(head, sizeof(head), page_head, "mmhost", "");
	if (r->auth == AUTH_OK && html_escape(r->session.user.username, name, sizeof(name)) == 0)
		snprintf(page, sizeof(page),
			 "%s<h1>mmhost</h1><p>You are signed in as <strong>%s</strong>.</p>"
			 "</body></html>",
			 head, name);
	else
		snprintf(page, sizeof(page),
			 "%s<h1>mmhost</h1><p>You are not signed in. "
			 "<a href=\"/login\">Log in</a>.</p></body></html>",
			 head);
	html(r, 200, page);
}
