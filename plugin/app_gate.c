#include "app_gate.h"

#include <ctype.h>
#include <string.h>

#include "apps_store.h"
#include "manifest.h"
#include "banned.h"

#define FLAG_DISABLED 1u
#define FLAG_OAUTH2 2u
#define OFF_GEN 2
#define OFF_INSTALL (OFF_GEN + 8)
#define OFF_BOT (OFF_INSTALL + MM_ID_LEN)
#define OFF_ID_LEN (OFF_BOT + MM_ID_LEN)
#define OFF_ID (OFF_ID_LEN + 1)

size_t app_gate_key(const char *app_id, char key[APP_ID_MAX])
{
	size_t n = strlen(app_id);

	if (n == 0 || n > APP_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		key[i] = (char)tolower((unsigned char)app_id[i]);
	return n;
}

size_t app_gate_encode(const struct app_gate *g, unsigned char out[APP_GATE_MAX])
{
	size_t id_len = strlen(g->app_id);

	memset(out, 0, APP_GATE_MAX);
	out[0] = APP_GATE_VERSION;
	out[1] = (unsigned char)((g->disabled ? FLAG_DISABLED : 0) |
				 (g->remote_oauth2 ? FLAG_OAUTH2 : 0));
	for (int i = 0; i < 8; i++)
		out[OFF_GEN + i] = (unsigned char)(g->gen >> (8 * (7 - i)));
	memcpy(out + OFF_INSTALL, g->install_id, strlen(g->install_id));
	memcpy(out + OFF_BOT, g->bot_user_id, strlen(g->bot_user_id));
	out[OFF_ID_LEN] = (unsigned char)id_len;
	memcpy(out + OFF_ID, g->app_id, id_len);
	return OFF_ID + id_len;
}

int app_gate_decode(const void *p, size_t len, struct app_gate *g)
{
	const unsigned char *b = p;
	size_t id_len;

	memset(g, 0, sizeof(*g));
	if (len < OFF_ID || b[0] != APP_GATE_VERSION)
		return -1;
	id_len = b[OFF_ID_LEN];
	if (id_len == 0 || id_len > APP_ID_MAX || len != OFF_ID + id_len)
		return -1;
	g->disabled = (b[1] & FLAG_DISABLED) != 0;
	g->remote_oauth2 = (b[1] & FLAG_OAUTH2) != 0;
	for (int i = 0; i < 8; i++)
		g->gen = g->gen << 8 | b[OFF_GEN + i];
	memcpy(g->install_id, b + OFF_INSTALL, MM_ID_LEN);
	if (!mm_id_valid(g->install_id, MM_ID_LEN))
		return -1;
	if (b[OFF_BOT]) {
		memcpy(g->bot_user_id, b + OFF_BOT, MM_ID_LEN);
		if (!mm_id_valid(g->bot_user_id, MM_ID_LEN))
			return -1;
	}
	memcpy(g->app_id, b + OFF_ID, id_len);
	return 0;
}

int app_gate_from_record(const json_t *record, struct app_gate *g)
{
	const char *app_id = json_string_value(json_object_get(record, "app_id"));
	const char *install = json_string_value(json_object_get(record, "install_id"));
	const char *bot = json_string_value(json_object_get(record, "bot_user_id"));

	memset(g, 0, sizeof(*g));
	if (!app_id || !app_id_valid(app_id) || !install || !mm_id_valid(install, strlen(install)))
		return -1;
	memcpy(g->app_id, app_id, strlen(app_id));
	memcpy(g->install_id, install, MM_ID_LEN);
	if (bot && mm_id_valid(bot, strlen(bot)))
		memcpy(g->bot_user_id, bot, MM_ID_LEN);
	g->disabled = json_is_true(json_object_get(record, "disabled"));
	g->remote_oauth2 =
		perms_have(json_object_get(record, "granted_permissions"), PERM_REMOTE_OAUTH2);
	return 0;
}

int app_gate_judge(const struct app_gate *g, const struct app_gate_expect *e)
{
	if (!g || strcmp(g->app_id, e->app_id) != 0)
		return APP_GATE_GONE;
	if ((e->need & APP_NEED_ENABLED) && g->disabled)
		return APP_GATE_DISABLED;
	if ((e->need & APP_NEED_OAUTH2) && !g->remote_oauth2)
		return APP_GATE_NOT_GRANTED;
	if (e->install_id && strcmp(e->install_id, g->install_id) != 0)
		return APP_GATE_REINSTALLED;
	return APP_GATE_OK;
}

int app_gate_read_txn(struct store_txn *txn, const struct apps_store *st, const char *app_id,
		      unsigned flags, struct app_gate *out)
{
	char key[APP_ID_MAX];
	size_t klen = app_gate_key(app_id, key);
	struct store_val v;
	int rc;

	(void)st;
	memset(out, 0, sizeof(*out));
	if (klen == 0)
		return STORE_ENOTFOUND;
	rc = store_get(txn, APPS_T_APP_GATE, key, klen, flags, &v);
	if (rc != STORE_OK)
		return rc;
	if (app_gate_decode(v.data, v.len, out) != 0)
		return STORE_ECORRUPT;
	return strcmp(out->app_id, app_id) == 0 ? STORE_OK : STORE_ECONFLICT;
}

int app_gate_check_txn(struct store_txn *txn, const struct apps_store *st,
		       const struct app_gate_expect *e)
{
	struct app_gate g;
	int rc = app_gate_read_txn(txn, st, e->app_id, 0, &g);

	if (rc == STORE_ENOTFOUND || rc == STORE_ECONFLICT)
		return APP_GATE_GONE;
	if (rc != STORE_OK)
		return rc;
	return app_gate_judge(&g, e);
}

int app_gate_put_txn(struct store_txn *txn, const struct apps_store *st, const struct app_gate *g)
{
	unsigned char value[APP_GATE_MAX];
	char key[APP_ID_MAX];
	size_t klen = app_gate_key(g->app_id, key);

	(void)st;
	if (klen == 0)
		return STORE_EINVAL;
	return store_put(txn, APPS_T_APP_GATE, key, klen, value, app_gate_encode(g, value), 0);
}

struct gate_get_arg {
	const struct apps_store *st;
	const char *app_id;
	struct app_gate *out;
};

static int gate_get(struct store_txn *txn, void *arg)
{
	struct gate_get_arg *a = arg;

	return app_gate_read_txn(txn, a->st, a->app_id, 0, a->out);
}

int app_gate_get(struct apps_store *st, const char *app_id, struct app_gate *out)
{
	struct gate_get_arg a = { st, app_id, out };

	return store_read(st->db, gate_get, &a);
}
