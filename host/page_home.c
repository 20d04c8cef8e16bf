/*
 * GET / : the landing page. Signed in: who you are, the Apps you can
 * connect an account to (with whether yours is connected, and a link to
 * connect), and a log-out button. Not signed in: a link to log in.
 *
 * The host does not know Apps: the Apps plugin does. The page asks it
 * in-process, as the signed-in user (GET /api/v1/connections of
 * com.mattermost.apps, plugin_subrequest.h), and shows its answer escaped.
 */
#include <jansson.h>
#include <string.h>

#include "html_page.h"
#include "plugin_subrequest.h"
#include "banned.h"

#define APPS_PLUGIN_ID "com.mattermost.apps"
#define CONNECTIONS_PATH "/api/v1/connections"

static void not_signed_in(struct host_request *r)
{
	struct html_buf b;

	html_buf_init(&b);
	html_add(&b, "<h1>mmhost</h1><p>You are not signed in.</p>"
		     "<p><a href=\"/login\">Log in</a></p>");
	html_send(r, 200, "mmhost", NULL, &b);
	html_buf_free(&b);
}

/* One App of the plugin's answer; false when it is not of the expected
 * shape (then the list is shown as unavailable). */
static bool add_app(struct html_buf *b, const json_t *app)
{
	const char *id = json_string_value(json_object_get(app, "app_id"));
	const char *name = json_string_value(json_object_get(app, "display_name"));
	const char *url = json_string_value(json_object_get(app, "connect_url"));
	const json_t *connected = json_object_get(app, "connected");

	if (!id || !url || !json_is_boolean(connected) ||
	    (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
		return false;
	html_add(b, "<li><span class=\"name\">");
	html_text(b, name ? name : id);
	if (json_is_true(connected))
		html_add(b, "</span><span class=\"ok\">Connected</span><a href=\"");
	else
		html_add(b, "</span><span class=\"muted\">Not connected</span><a href=\"");
	html_text(b, url);
	html_add(b, "\">%s</a></li>", json_is_true(connected) ? "Connect again" : "Connect");
	return true;
}

/* The Apps section, from the plugin's answer. */
static void add_apps(struct html_buf *b, struct host_request *r)
{
	struct mmplugin_response resp;
	json_t *list = NULL, *app;
	size_t i;
	int rc;

	html_add(b, "<h2>Apps</h2>");
	response_init(&resp);
	rc = plugin_subrequest_get(r, APPS_PLUGIN_ID, CONNECTIONS_PATH, &resp);
	if (rc == SUBREQUEST_ENOPLUGIN) {
		html_add(b, "<p class=\"muted\">The Apps plugin (" APPS_PLUGIN_ID
			    ") is not active, so no Apps are shown.</p>");
		goto out;
	}
	if (rc == SUBREQUEST_OK && (resp.status == 200 || resp.status == 0))
		list = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
	if (!json_is_array(list)) {
		html_add(b,
			 "<p class=\"err\">The Apps plugin could not list your Apps "
			 "(status %d). Try again later.</p>",
			 resp.status);
		goto out;
	}
	if (json_array_size(list) == 0) {
		html_add(b, "<p class=\"muted\">No installed App connects accounts "
			    "(none has the remote_oauth2 permission).</p>");
		goto out;
	}
	html_add(b, "<ul class=\"apps\">");
	json_array_foreach(list, i, app)
	{
		if (!add_app(b, app)) {
			html_add(b, "</ul><p class=\"err\">The Apps plugin answered something "
				    "this page does not understand.</p>");
			goto out;
		}
	}
	html_add(b, "</ul>");
out:
	json_decref(list);
	response_free(&resp);
}

void page_home(struct host_request *r)
{
	const struct host_user *u = &r->session.user;
	struct html_buf b;

	if (r->auth == AUTH_UNAVAILABLE) {
		html_buf_init(&b);
		html_add(&b, "<h1>mmhost</h1><p class=\"err\">The server cannot reach its "
			     "database just now. Try again shortly.</p>");
		html_send(r, 503, "mmhost", NULL, &b);
		html_buf_free(&b);
		return;
	}
	if (r->auth != AUTH_OK) {
		not_signed_in(r);
		return;
	}
	html_buf_init(&b);
	html_add(&b, "<h1>Signed in</h1><p>You are <strong>");
	html_text(&b, u->username);
	html_add(&b, "</strong> (");
	html_text(&b, u->email);
	html_add(&b, ")%s.</p>", user_is_admin(u) ? ", a system admin" : "");
	add_apps(&b, r);
	/* Only a browser's cookie session can be ended by the form (the
	 * session's CSRF token goes in it, checked like X-CSRF-Token). */
	if (r->token.source == AUTH_SRC_COOKIE)
		html_add(&b,
			 "<form method=\"post\" action=\"/logout\">"
			 "<input type=\"hidden\" name=\"csrf_token\" value=\"%s\">"
			 "<button type=\"submit\">Log out</button></form>",
			 r->session.csrf);
	html_send(r, 200, "mmhost", NULL, &b);
	html_buf_free(&b);
}
