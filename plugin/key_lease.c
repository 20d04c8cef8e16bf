#include "key_lease.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define ROW_LEASE "sweep_lease"

static char *lease_encode(const char *node, int64_t until, size_t *len)
{
	json_t *j = json_pack("{s:s, s:I}", "node", node, "until", (json_int_t)until);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	*len = text ? strlen(text) : 0;
	return text;
}

/* Whether the lease row raw names node, and until when. */
static bool lease_holder(const unsigned char *raw, size_t len, const char *node, int64_t *until)
{
	json_t *j = json_loadb((const char *)raw, len, 0, NULL);
	const char *who = json_string_value(json_object_get(j, "node"));
	bool mine = who && strcmp(who, node) == 0;

	*until = (int64_t)json_integer_value(json_object_get(j, "until"));
	json_decref(j);
	return mine;
}

bool key_lease_take(struct apps_store *st, const char *node, int64_t now, int64_t ttl_ms)
{
	unsigned char *old = NULL;
	size_t old_len = 0, len = 0;
	int64_t until = 0;
	char *mine;
	int rc = apps_store_get(st, KEY_TABLE_KEYS, ROW_LEASE, strlen(ROW_LEASE), &old, &old_len);
	bool ok = false;

	if (rc != STORE_OK && rc != STORE_ENOTFOUND)
		return false;
	if (old && !lease_holder(old, old_len, node, &until) && until > now) {
		free(old);
		return false; /* another node sweeps */
	}
	if (old && until - now > ttl_ms / 2) {
		free(old);
		return true; /* ours for long enough: no commit to renew it */
	}
	mine = lease_encode(node, now + ttl_ms, &len);
	if (mine) {
		struct apps_cas c = { KEY_TABLE_KEYS,
				      ROW_LEASE,
				      strlen(ROW_LEASE),
				      old,
				      old ? old_len : 0,
				      mine,
				      len,
				      true };
		ok = apps_store_cas(st, &c, 1, NULL) == STORE_OK;
	}
	free(mine);
	free(old);
	return ok;
}

int key_lease_release(struct apps_store *st, const char *node)
{
	unsigned char *old = NULL;
	size_t old_len = 0;
	int64_t until;
	int rc = apps_store_get(st, KEY_TABLE_KEYS, ROW_LEASE, strlen(ROW_LEASE), &old, &old_len);

	if (rc == STORE_OK && lease_holder(old, old_len, node, &until)) {
		struct apps_cas c = {
			KEY_TABLE_KEYS, ROW_LEASE, strlen(ROW_LEASE), old, old_len, NULL, 0, true
		};
		rc = apps_store_cas(st, &c, 1, NULL);
	}
	free(old);
	return rc == STORE_ENOTFOUND ? STORE_OK : rc;
}
