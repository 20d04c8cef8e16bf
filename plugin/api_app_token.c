/*
 * POST /api/v1/admin/app-token {"app_id", "user_id"?}: the token an App is
 * handed in a call, for a system admin to try an App's side by hand (`mmhost
 * app token`, the driver's README). Without user_id the App's bot token
 * (act_as_bot granted), with it the acting-user token of that user
 * (act_as_user granted; an active person, not a bot). It is the very
 * session a call would hand the App (app_tokens.h: the same cache, the same
 * mint, the same checks against disable and uninstall racing it), living at
 * most 10 minutes. Answer: {"token", "app_id", "user_id"} with no-store.
 *
 * Not installed 404, disabled 403, a permission not granted 403, no such
 * user 404. System admins only; App sessions never reach it (router).
 */
#include <jansson.h>
#include <sodium.h>
#include <string.h>

#include "app_record.h"
#include "manifest.h"
#include "mm_id.h"
#include "router.h"
#include "banned.h"

/* The user the token acts for into *user; false after answering why not. */
static bool acting_user(struct apps_call *c, const char *user_id, struct mmplugin_user *user)
{
	if (!mm_id_valid(user_id, strlen(user_id)) ||
	    c->plugin->api->user_get(c->plugin->host, user_id, user) != MMPLUGIN_OK) {
		reply_error(c, 404, "apps.app_token.no_user.app_error", "There is no such user.");
		return false;
	}
	if (user->deleted || user->is_bot) {
		reply_error(c, 403, "apps.app_token.no_user.app_error",
			    user->is_bot ? "An acting user is a person, not a bot."
					 : "The user is deactivated.");
		return false;
	}
	return true;
}

void api_admin_app_token(struct apps_call *c)
{
	char token[MMPLUGIN_ID_LEN + 1];
	struct mmplugin_user user;
	json_t *body, *app = NULL;
	const json_t *perms;
	const char *app_id, *user_id, *perm;

	if (!require_admin(c) || !(body = body_json(c)))
		return;
	app_id = json_string_value(json_object_get(body, "app_id"));
	user_id = json_string_value(json_object_get(body, "user_id"));
	if (!app_id || (json_object_get(body, "user_id") && !user_id)) {
		reply_error(
			c, 400, "api.context.invalid_body_param.app_error",
			"The body must be {\"app_id\": string, \"user_id\": string (optional)}.");
		goto out;
	}
	if (!(app = app_load(c, app_id, true)))
		goto out;
	perms = json_object_get(app, "granted_permissions");
	perm = user_id ? PERM_ACT_AS_USER : PERM_ACT_AS_BOT;
	if (!perms_have(perms, perm)) {
		reply_error(c, 403, "apps.app_token.not_granted.app_error",
			    user_id ? "The App may not act as a user (act_as_user is not granted)."
				    : "The App has no bot token (act_as_bot is not granted).");
		goto out;
	}
	if (user_id && !acting_user(c, user_id, &user))
		goto out;
	if (!user_id)
		user_id = json_string_value(json_object_get(app, "bot_user_id"));
	if (!user_id || app_token(c->plugin, app, user_id, token) != MMPLUGIN_OK) {
		/* Disabled or uninstalled meanwhile, or the host refused. */
		reply_error(c, 409, "apps.app_token.not_made.app_error",
			    "The App's token could not be made: the App changed meanwhile, or the "
			    "host refused the session. Try again.");
		goto out;
	}
	plugin_logf(c->plugin, MMPLUGIN_LOG_INFO,
		    "app token handed to an admin app_id=%s user_id=%s "
		    "admin_id=%s",
		    app_id, user_id, c->who.user_id);
	reply_value(
		c, 200,
		json_pack("{s:s, s:s, s:s}", "token", token, "app_id", app_id, "user_id", user_id));
	sodium_memzero(token, sizeof(token));
out:
	json_decref(app);
	json_decref(body);
}
