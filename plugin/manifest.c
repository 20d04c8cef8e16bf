#include "manifest.h"

#include <stdio.h>
#include <string.h>

#include "call_path.h"
#include "banned.h"

#define DISPLAY_NAME_MAX 256
#define DESCRIPTION_MAX 4096
#define URL_MAX 2048
#define LOCATIONS_MAX 64

static const char *const known_perms[] = {
	"act_as_bot",
	"act_as_user",
	"remote_oauth2",
	"remote_webhooks",
	"user_joined_channel_notification",
};

static const char *const call_fields[] = {
	"get_oauth2_connect_url",
	"on_oauth2_complete",
	"on_install",
	"on_uninstall",
};

bool app_id_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 3 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool app_path_valid(const char *s)
{
	char norm[CALL_PATH_MAX + 1];
	size_t n = s ? strlen(s) : 0;

	return n && call_path_normalize(s, n, norm, sizeof(norm)) == CALL_PATH_OK &&
	       strcmp(norm, s) == 0;
}

/* An absolute http(s) URL with a host, without spaces or control characters. */
static bool url_valid(const char *s)
{
	const char *rest;
	size_t n = strlen(s);

	if (n > URL_MAX)
		return false;
	if (strncmp(s, "http://", 7) == 0)
		rest = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		rest = s + 8;
	else
		return false;
	if (*rest == '\0' || *rest == '/' || *rest == ':' || *rest == '?' || *rest == '#')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || c == '\\' || c == '"' || c == '<' || c == '>')
			return false;
	}
	return true;
}

static int fail(char *msg, size_t cap, const char *text)
{
	snprintf(msg, cap, "%s", text);
	return -1;
}

static bool is_short_string(const json_t *v, size_t max)
{
	return json_is_string(v) && json_string_length(v) <= max &&
	       strlen(json_string_value(v)) == json_string_length(v);
}

static int check_call(const json_t *m, const char *name, char *msg, size_t cap)
{
	const json_t *v = json_object_get(m, name);
	const json_t *path, *expand;

	if (!v)
		return 0;
	if (json_is_string(v)) {
		if (!app_path_valid(json_string_value(v)))
			goto bad;
		return 0;
	}
	if (!json_is_object(v))
		goto bad;
	path = json_object_get(v, "path");
	expand = json_object_get(v, "expand");
	if (!json_is_string(path) || !app_path_valid(json_string_value(path)))
		goto bad;
	if (expand && !json_is_object(expand)) {
		snprintf(msg, cap, "%s.expand must be an object", name);
		return -1;
	}
	return 0;
bad:
	snprintf(msg, cap,
		 "%s must be a path starting with \"/\" or an object {path, expand, state}", name);
	return -1;
}

static int check_permissions(const json_t *perms, char *msg, size_t cap)
{
	bool user = false, oauth2 = false;
	size_t i;
	json_t *p;

	if (!perms)
		return 0;
	if (!json_is_array(perms))
		return fail(msg, cap, "requested_permissions must be an array of strings");
	json_array_foreach(perms, i, p)
	{
		bool known = false;
		if (!json_is_string(p))
			return fail(msg, cap, "requested_permissions must be an array of strings");
		for (size_t k = 0; k < sizeof(known_perms) / sizeof(known_perms[0]); k++)
			known = known || strcmp(json_string_value(p), known_perms[k]) == 0;
		if (!known) {
			snprintf(msg, cap, "requested_permissions: unknown permission \"%.64s\"",
				 json_string_value(p));
			return -1;
		}
		user = user || strcmp(json_string_value(p), PERM_ACT_AS_USER) == 0;
		oauth2 = oauth2 || strcmp(json_string_value(p), PERM_REMOTE_OAUTH2) == 0;
	}
	if (oauth2 && !user)
		return fail(msg, cap, "requested_permissions: remote_oauth2 needs act_as_user");
	return 0;
}

static int check_locations(const json_t *locs, char *msg, size_t cap)
{
	size_t i;
	json_t *l;

	if (!locs)
		return 0;
	if (!json_is_array(locs) || json_array_size(locs) > LOCATIONS_MAX)
		return fail(msg, cap, "requested_locations must be an array of at most 64 strings");
	json_array_foreach(locs, i, l)
	{
		if (!is_short_string(l, 256) || json_string_value(l)[0] != '/')
			return fail(msg, cap,
				    "requested_locations: each location is a string starting with "
				    "\"/\"");
	}
	return 0;
}

static int check_http(const json_t *http, char *msg, size_t cap)
{
	const json_t *root, *jwt;

	if (!http)
		return 0;
	if (!json_is_object(http))
		return fail(msg, cap, "http must be an object {root_url, use_jwt}");
	root = json_object_get(http, "root_url");
	jwt = json_object_get(http, "use_jwt");
	if (!is_short_string(root, URL_MAX) || !url_valid(json_string_value(root)))
		return fail(msg, cap, "http.root_url must be an absolute http or https URL");
	if (jwt && !json_is_boolean(jwt))
		return fail(msg, cap, "http.use_jwt must be true or false");
	return 0;
}

int manifest_validate(const json_t *m, char *msg, size_t cap)
{
	const json_t *v;

	if (!json_is_object(m))
		return fail(msg, cap, "the manifest must be a JSON object");
	v = json_object_get(m, "app_id");
	if (!is_short_string(v, 32) || !app_id_valid(json_string_value(v)))
		return fail(msg, cap,
			    "app_id must be 3 to 32 characters of A-Z, a-z, 0-9, '.', "
			    "'_', '-'");
	v = json_object_get(m, "version");
	if (v && !is_short_string(v, 10))
		return fail(msg, cap, "version must be a string of at most 10 characters");
	v = json_object_get(m, "display_name");
	if (!is_short_string(v, DISPLAY_NAME_MAX) || json_string_length(v) == 0)
		return fail(msg, cap,
			    "display_name is required (a string of at most 256 characters)");
	v = json_object_get(m, "homepage_url");
	if (!is_short_string(v, URL_MAX) || !url_valid(json_string_value(v)))
		return fail(msg, cap, "homepage_url is required (an absolute http or https URL)");
	v = json_object_get(m, "description");
	if (v && !is_short_string(v, DESCRIPTION_MAX))
		return fail(msg, cap, "description must be a string of at most 4096 characters");
	v = json_object_get(m, "icon");
	if (v && !is_short_string(v, 256))
		return fail(msg, cap, "icon must be a string of at most 256 characters");
	if (check_permissions(json_object_get(m, "requested_permissions"), msg, cap) != 0 ||
	    check_locations(json_object_get(m, "requested_locations"), msg, cap) != 0 ||
	    check_http(json_object_get(m, "http"), msg, cap) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(call_fields) / sizeof(call_fields[0]); i++) {
		if (check_call(m, call_fields[i], msg, cap) != 0)
			return -1;
	}
	return 0;
}

const char *manifest_call_path(const json_t *m, const char *name, const char *def)
{
	const json_t *v = json_object_get(m, name);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_object(v) && json_is_string(json_object_get(v, "path")))
		return json_string_value(json_object_get(v, "path"));
	return def;
}

json_t *manifest_call(const json_t *m, const char *name, const char *def)
{
	const json_t *v = json_object_get(m, name);

	if (json_is_object(v))
		return json_deep_copy(v);
	if (json_is_string(v))
		return json_pack("{s:s}", "path", json_string_value(v));
	return def ? json_pack("{s:s}", "path", def) : NULL;
}

bool perms_have(const json_t *perms, const char *p)
{
	size_t i;
	json_t *v;

	json_array_foreach(perms, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), p) == 0)
			return true;
	}
	return false;
}
