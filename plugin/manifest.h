/*
 * App manifests: validation (each problem names its field) and reading the
 * call paths and permissions out of a validated manifest.
 */
#ifndef PLUGIN_MANIFEST_H
#define PLUGIN_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define MANIFEST_MAX (1024 * 1024)

#define PERM_ACT_AS_BOT "act_as_bot"
#define PERM_ACT_AS_USER "act_as_user"
#define PERM_REMOTE_OAUTH2 "remote_oauth2"

/* Checks a manifest. 0, or -1 with one sentence naming the field in msg. */
int manifest_validate(const json_t *m, char *msg, size_t cap);

/* True when s is a valid app_id: 3 to 32 of [A-Za-z0-9._-]. */
bool app_id_valid(const char *s);

/* True when s is a path an App may be called at, already in the normal form
 * of call_path.h (so a manifest names each of its calls one way only). */
bool app_path_valid(const char *s);

/* The path of call field name ("on_install", "get_oauth2_connect_url", ...):
 * the string, the object's "path", or def when absent. Borrowed from m. */
const char *manifest_call_path(const json_t *m, const char *name, const char *def);

/* The call object of field name as {path, expand, state}, or NULL when
 * absent. New reference. */
json_t *manifest_call(const json_t *m, const char *name, const char *def);

/* True when the array perms (App record's granted_permissions) holds p. */
bool perms_have(const json_t *perms, const char *p);

#endif
