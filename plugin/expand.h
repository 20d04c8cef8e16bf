/*
 * A call's "expand": which context the App gets. Each key takes a level
 * none|id|summary|all; a leading '+' makes it required (the call fails when
 * it cannot be expanded instead of leaving it out). Keys this plugin does not
 * expand (channel, team, post, ...) are ignored.
 */
#ifndef PLUGIN_EXPAND_H
#define PLUGIN_EXPAND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum expand_level { EXPAND_NONE = 0, EXPAND_ID, EXPAND_SUMMARY, EXPAND_ALL };

struct expand_item {
	enum expand_level level;
	bool required;
};

struct expand {
	struct expand_item acting_user;
	struct expand_item acting_user_access_token;
	struct expand_item oauth2_app;
	struct expand_item oauth2_user;
};

/* Parses obj (NULL: nothing expanded). -1 with msg naming the key for a
 * value that is not a level. */
int expand_parse(const json_t *obj, struct expand *out, char *msg, size_t cap);

#endif
