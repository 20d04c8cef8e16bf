/*
 * App records: what install writes, how they are loaded for a request (with
 * the not installed / disabled answers), and how they are shown (secrets
 * redacted as "****" plus their last 4 characters).
 *
 * A record is a JSON object:
 *   { "app_id", "manifest": {...}, "deploy_type": "http",
 *     "bot_user_id", "bot_username", "secret" (the JWT key),
 *     "disabled": bool, "granted_permissions": [...], "granted_locations": [...],
 *     "remote_oauth2": {"client_id", "client_secret", "remote_root_url", "data"},
 *     "install_id": 26 characters, random at each fresh install,
 *     "installed_at": ms }
 * Its non-secret facts are mirrored in the App's gate (app_gate.h), written
 * in the same transaction.
 */
#ifndef PLUGIN_APP_RECORD_H
#define PLUGIN_APP_RECORD_H

#include <jansson.h>
#include <stdbool.h>

#include "plugin.h"

/* Why an App may not be used for a request; APP_USABLE (0) when it may. */
enum app_refusal {
	APP_USABLE = 0,
	APP_NOT_INSTALLED,     /* 404 */
	APP_UNREADABLE,        /* 500: the sealed record does not open (logged with its key) */
	APP_DISABLED,          /* 403 */
	APP_NOT_GRANTED,       /* 403: remote_oauth2 not granted */
	APP_OTHER_INSTALL,     /* 401: the caller's App token is from an earlier install */
	APP_STORE_UNAVAILABLE, /* 503: the database cannot be reached (logged) */
};

/* Opens app_id's record and checks what need asks (APP_NEED_*). On
 * APP_USABLE *out (may be NULL) gets the record, a new reference. */
enum app_refusal app_open(struct apps_plugin *p, const char *app_id, unsigned need, json_t **out);

/* The same checks from the App cache (the App's gate), without opening the
 * record; *out gets the gate. */
enum app_refusal app_check(struct apps_plugin *p, const char *app_id, unsigned need,
			   struct app_gate *out);

/* The refusal a store result stands for (APP_GATE_* from a write checked in
 * its transaction), or APP_USABLE when rc is not one. */
enum app_refusal app_refusal_of(int rc);

/* The answer to a refusal: its status and a sentence for people. */
int app_refusal_status(enum app_refusal r);
const char *app_refusal_text(enum app_refusal r);
/* Answers a refusal as a Mattermost-shaped error. */
void reply_app_refusal(struct apps_call *c, enum app_refusal r);

/* app_open for a request: on a refusal it answers the error and returns
 * NULL. New reference. */
json_t *app_load(struct apps_call *c, const char *app_id, bool require_enabled);

/* The public view of a record: the manifest's fields, then the record's,
 * with secrets redacted unless show_secrets. New reference. */
json_t *app_view(const json_t *record, bool show_secrets);

/* "****" plus the last 4 characters of s ("****" alone for short values). */
json_t *redact(const char *s);

#endif
