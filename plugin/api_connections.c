/*
 * GET /api/v1/connections: a person's own view of the Apps they can connect
 * an account to. The installed, enabled Apps with remote_oauth2 granted, in
 * App id order, each as
 *   {"app_id", "display_name", "connected": bool, "connect_url"}
 * where connected says whether the caller has OAuth2 data stored for the
 * App. Never a secret: the stored data is opened (a record that does not
 * open is an error, not "connected") but only its presence is told.
 *
 * Any person's session, cookie or header (App sessions are refused by the
 * router). The host's landing page asks it in-process with the signed-in
 * user's session.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "app_call.h"
#include "app_record.h"
#include "plugin.h"
#include "router.h"
#include "banned.h"

/* The answer is for a page: past this many Apps the rest are left out. */
#define CONNECTIONS_MAX 64

/* Whether the caller has data stored for the App of record: 1 yes, 0 no,
 * -1 leave the App out. *rc is STORE_OK, or the store's error (then -1):
 * an App disabled or uninstalled since the list was read is left out. */
static int connected(struct apps_call *c, const json_t *record, const char *app_id, int *rc)
{
	struct app_gate_expect expect = {
		.app_id = app_id,
		.install_id = json_string_value(json_object_get(record, "install_id")),
		.need = APP_NEED_ENABLED | APP_NEED_OAUTH2,
	};
	char *data = NULL;
	size_t len = 0;

	*rc = oauth2_user_read(&c->plugin->store, &expect, c->who.user_id, &data, &len);
	if (*rc == STORE_OK) {
		unseal_free(data);
		return 1;
	}
	if (*rc == STORE_ENOTFOUND) {
		*rc = STORE_OK;
		return 0;
	}
	if (app_refusal_of(*rc) != APP_USABLE)
		*rc = STORE_OK;
	return -1;
}

void api_connections(struct apps_call *c)
{
	json_t *records = NULL, *out, *record;
	size_t corrupt = 0, i;
	int rc;

	if (!require_session(c))
		return;
	rc = app_records_list(&c->plugin->store, &records, &corrupt);
	if (rc != STORE_OK) {
		reply_store_failed(c, rc, "listing Apps for connections");
		return;
	}
	if (corrupt)
		plugin_logf(c->plugin, MMPLUGIN_LOG_ERROR,
			    "%zu app records do not open: tampered, moved or wrong master key",
			    corrupt);
	out = json_array();
	json_array_foreach(records, i, record)
	{
		const char *app_id = json_string_value(json_object_get(record, "app_id"));
		const json_t *manifest = json_object_get(record, "manifest");
		const char *name = json_string_value(json_object_get(manifest, "display_name"));
		char url[SITE_URL_MAX + 128];
		int yes;

		if (json_array_size(out) == CONNECTIONS_MAX)
			break;
		if (!app_id || json_is_true(json_object_get(record, "disabled")) ||
		    !app_has_remote_oauth2(record))
			continue;
		yes = connected(c, record, app_id, &rc);
		if (rc != STORE_OK) {
			json_decref(out);
			json_decref(records);
			reply_store_failed(c, rc, "reading a user's OAuth2 data for connections");
			return;
		}
		if (yes < 0)
			continue;
		app_connect_url(c->plugin, app_id, url, sizeof(url));
		json_array_append_new(out, json_pack("{s:s, s:s, s:b, s:s}", "app_id", app_id,
						     "display_name", name ? name : app_id,
						     "connected", yes, "connect_url", url));
	}
	json_decref(records);
	reply_value(c, 200, out);
}
