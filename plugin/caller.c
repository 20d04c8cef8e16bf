/* Who is calling: the session the host authenticated, its user, whether it
 * is an App's session (prop mattermost_app_id) and where App sessions are
 * accepted at all. */
#include <stdio.h>
#include <string.h>

#include "plugin.h"
#include "router.h"
#include "banned.h"

static bool prop_is(const struct mmplugin_session_prop *p, const char *key)
{
	return p->key.len == strlen(key) && memcmp(p->key.ptr, key, p->key.len) == 0;
}

/* The prop's value into out, or "" when it does not fit. */
static void copy_value(const struct mmplugin_session_prop *p, char *out, size_t cap)
{
	size_t n = p->value.len < cap ? p->value.len : 0;

	if (n)
		memcpy(out, p->value.ptr, n);
	out[n] = '\0';
}

void caller_init(struct apps_call *c)
{
	const struct mmplugin_session *s = c->req->session;

	memset(&c->who, 0, sizeof(c->who));
	if (!s || s->user_id.len != MMPLUGIN_ID_LEN)
		return;
	c->who.has_session = true;
	memcpy(c->who.user_id, s->user_id.ptr, MMPLUGIN_ID_LEN);
	/* ABI 1.2 hosts hand over the user they read: no user_get needed. */
	if (MMPLUGIN_HAS(c->req, struct mmplugin_request, session_user) && c->req->session_user &&
	    strcmp(c->req->session_user->id, c->who.user_id) == 0) {
		c->who.user = *c->req->session_user;
		c->who.user_loaded = true;
	}
	/* A host before ABI 1.3 does not say: then it is not a browser. */
	c->who.cookie = MMPLUGIN_HAS(c->req, struct mmplugin_request, session_source) &&
			c->req->session_source == MMPLUGIN_SESSION_COOKIE;
	for (size_t i = 0; i < s->props_len; i++) {
		const struct mmplugin_session_prop *p = &s->props[i];
		if (prop_is(p, SESSION_PROP_APP_ID)) {
			/* Whatever its value: an App's session, never a person's. */
			c->who.app_session = true;
			copy_value(p, c->who.app_id, sizeof(c->who.app_id));
		} else if (prop_is(p, SESSION_PROP_INSTALL)) {
			copy_value(p, c->who.install_id, sizeof(c->who.install_id));
		}
	}
}

bool caller_in_scope(struct apps_call *c, bool apps_welcome)
{
	if (!c->who.app_session || apps_welcome)
		return true;
	reply_error(c, 403, "api.context.app_session_scope.app_error",
		    "An App's token works only on the OAuth2 routes (oauth2/app, oauth2/user).");
	return false;
}

bool caller_load_user(struct apps_call *c)
{
	if (c->who.user_loaded)
		return true;
	if (!c->who.has_session ||
	    c->plugin->api->user_get(c->plugin->host, c->who.user_id, &c->who.user) != MMPLUGIN_OK)
		return false;
	c->who.user_loaded = true;
	return true;
}

bool caller_is_admin(struct apps_call *c)
{
	return caller_load_user(c) && !c->who.user.deleted &&
	       strstr(c->who.user.roles, "system_admin") != NULL;
}

bool require_session(struct apps_call *c)
{
	if (c->who.has_session)
		return true;
	reply_error(c, 401, "api.context.session_expired.app_error",
		    "Invalid or expired session, please login again.");
	return false;
}

bool require_admin(struct apps_call *c)
{
	if (!require_session(c))
		return false;
	if (caller_is_admin(c))
		return true;
	reply_error(c, 403, "api.context.permissions.app_error",
		    "You do not have the appropriate permissions: system admins only.");
	return false;
}
