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
 *     "installed_at": ms }
 */
#ifndef PLUGIN_APP_RECORD_H
#define PLUGIN_APP_RECORD_H

#include <jansson.h>
#include <stdbool.h>

#include "plugin.h"

/* Loads the App named app_id for a request. Answers 404 (not installed), 500
 * (record does not open) and, when require_enabled, 403 (disabled); returns
 * NULL then. New reference. */
json_t *app_load(struct apps_call *c, const char *app_id, bool require_enabled);

/* The public view of a record: the manifest's fields, then the record's,
 * with secrets redacted unless show_secrets. New reference. */
json_t *app_view(const json_t *record, bool show_secrets);

/* "****" plus the last 4 characters of s ("****" alone for short values). */
json_t *redact(const char *s);

#endif
