#include "expand.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

static int parse_item(const json_t *v, const char *key, struct expand_item *out, char *msg,
		      size_t cap)
{
	static const char *const names[] = { "none", "id", "summary", "all" };
	const char *s = json_string_value(v);

	out->level = EXPAND_NONE;
	out->required = false;
	if (!s)
		goto bad;
	if (*s == '+') {
		out->required = true;
		s++;
	}
	if (*s == '\0' && !out->required)
		return 0;
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			out->level = (enum expand_level)i;
			if (out->level == EXPAND_NONE)
				out->required = false;
			return 0;
		}
	}
bad:
	snprintf(msg, cap,
		 "expand.%.64s must be one of none, id, summary, all (with an optional +)", key);
	return -1;
}

int expand_parse(const json_t *obj, struct expand *out, char *msg, size_t cap)
{
	const char *key;
	json_t *v;

	memset(out, 0, sizeof(*out));
	if (!obj || json_is_null(obj))
		return 0;
	if (!json_is_object(obj)) {
		snprintf(msg, cap, "expand must be an object");
		return -1;
	}
	json_object_foreach((json_t *)obj, key, v)
	{
		struct expand_item *item = NULL;
		if (strcmp(key, "acting_user") == 0)
			item = &out->acting_user;
		else if (strcmp(key, "acting_user_access_token") == 0)
			item = &out->acting_user_access_token;
		else if (strcmp(key, "oauth2_app") == 0)
			item = &out->oauth2_app;
		else if (strcmp(key, "oauth2_user") == 0)
			item = &out->oauth2_user;
		if (item && parse_item(v, key, item, msg, cap) != 0)
			return -1;
	}
	return 0;
}
