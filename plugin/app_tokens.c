#include "app_tokens.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mm_id.h"
#include "plugin.h"
#include "banned.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void token_cache_init(struct token_cache *t)
{
	memset(t->slots, 0, sizeof(t->slots));
	pthread_mutex_init(&t->lock, NULL);
}

void token_cache_destroy(struct token_cache *t)
{
	sodium_memzero(t->slots, sizeof(t->slots));
	pthread_mutex_destroy(&t->lock);
}

void token_cache_forget_app(struct token_cache *t, const char *app_id)
{
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++) {
		if (strcmp(t->slots[i].app_id, app_id) == 0)
			sodium_memzero(&t->slots[i], sizeof(t->slots[i]));
	}
	pthread_mutex_unlock(&t->lock);
}

static size_t slot_of(const char *app_id, const char *user_id)
{
	crypto_generichash_state st;
	unsigned char h[8];
	uint64_t v;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)app_id, strlen(app_id) + 1);
	crypto_generichash_update(&st, (const unsigned char *)user_id, strlen(user_id));
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(&v, h, sizeof(v));
	return (size_t)(v % TOKEN_CACHE_SLOTS);
}

/* The App's gate from the store (never the cache) when it is still install
 * install_id and enabled. */
static bool gate_usable(struct apps_plugin *p, const char *app_id, const char *install_id,
			struct app_gate *g)
{
	const struct app_gate_expect e = { app_id, install_id, APP_NEED_ENABLED };

	return app_gate_get(&p->store, app_id, g) == STORE_OK && app_gate_judge(g, &e) == 0;
}

static bool cached(struct token_cache *t, size_t i, const char *app_id, const char *user_id,
		   const struct app_gate *g, char token[MMPLUGIN_ID_LEN + 1])
{
	struct cached_token *slot = &t->slots[i];
	bool hit;

	pthread_mutex_lock(&t->lock);
	hit = strcmp(slot->app_id, app_id) == 0 && strcmp(slot->user_id, user_id) == 0 &&
	      strcmp(slot->install_id, g->install_id) == 0 && slot->gate_gen == g->gen &&
	      slot->expires_at_ms - now_ms() > APP_TOKEN_REMINT_MS;
	if (hit)
		memcpy(token, slot->token, MMPLUGIN_ID_LEN + 1);
	pthread_mutex_unlock(&t->lock);
	return hit;
}

static void cache_put(struct token_cache *t, size_t i, const char *app_id, const char *user_id,
		      const struct app_gate *g, const char *token, int64_t expires)
{
	struct cached_token *slot = &t->slots[i];

	pthread_mutex_lock(&t->lock);
	sodium_memzero(slot, sizeof(*slot));
	snprintf(slot->app_id, sizeof(slot->app_id), "%s", app_id);
	snprintf(slot->user_id, sizeof(slot->user_id), "%s", user_id);
	memcpy(slot->token, token, MMPLUGIN_ID_LEN + 1);
	slot->expires_at_ms = expires;
	memcpy(slot->install_id, g->install_id, sizeof(slot->install_id));
	slot->gate_gen = g->gen;
	pthread_mutex_unlock(&t->lock);
}

/*
 * Why no token handed out works once disable-app (or uninstall-app) has
 * answered 200. The App's sessions live in the host's store, its gate in the
 * plugin's: no transaction covers both, so the order of steps does.
 *
 *   disable:  D1 commits the gate (disabled, gen + 1)
 *             D2 revokes every session with mattermost_app_id = the App
 *             D3 forgets the cached tokens, then answers
 *   mint:     M1 reads the gate from the store: this install, enabled (else
 *                no mint)
 *             M2 commits session S
 *             M3 reads the gate from the store again
 *             M4 hands S out only when M3 saw M1's gate (same gen); else it
 *                revokes S (by its mint prop) and fails the call
 *
 * If M3 does not see D1, then M2 < M3 < D1 < D2: S was committed before D2
 * began, and D2 revokes it. If M3 sees D1, the gen differs and S is never
 * handed out. Either way, after D2 no token from this mint works. A cached
 * token is handed out only while the store's gate still has the gen it was
 * minted under; a gate change (disable, enable, reinstall) bumps gen, so a
 * token revoked by D2 and cached late (after D3) is never served again.
 * Uninstall is the same: D1 disables the App, and after D2 the record is
 * deleted and the bot deactivated. When D2 fails the route answers 503,
 * not 200, and the App stays disabled: repeating the route runs D2 again
 * (api_apps_admin.c). A reinstall gives a new install_id: a mint for the
 * old install fails at M1 or M4.
 */
int app_token(struct apps_plugin *p, const json_t *app, const char *user_id,
	      char token[MMPLUGIN_ID_LEN + 1])
{
	const char *app_id = json_string_value(json_object_get(app, "app_id"));
	const char *install_id = json_string_value(json_object_get(app, "install_id"));
	char mint[MM_ID_LEN + 1];
	struct mmplugin_session_prop props[3];
	struct app_gate before, after;
	int64_t expires = 0;
	size_t i;
	int rc;

	if (!app_id || !install_id || strlen(app_id) > APP_ID_MAX || !user_id)
		return MMPLUGIN_EINVAL;
	if (!gate_usable(p, app_id, install_id, &before)) /* M1 */
		return MMPLUGIN_ENOTFOUND;
	i = slot_of(app_id, user_id);
	if (cached(&p->tokens, i, app_id, user_id, &before, token))
		return MMPLUGIN_OK;

	mm_id_new(mint);
	props[0] = (struct mmplugin_session_prop){
		{ SESSION_PROP_APP_ID, strlen(SESSION_PROP_APP_ID) }, { app_id, strlen(app_id) }
	};
	props[1] = (struct mmplugin_session_prop){ { SESSION_PROP_INSTALL,
						     strlen(SESSION_PROP_INSTALL) },
						   { install_id, strlen(install_id) } };
	props[2] = (struct mmplugin_session_prop){ { SESSION_PROP_MINT, strlen(SESSION_PROP_MINT) },
						   { mint, MM_ID_LEN } };
	/* Minted outside the lock: it writes to the host's store. */
	rc = p->api->session_create(p->host, user_id, props, 3, APP_TOKEN_TTL_MS, token, /* M2 */
				    MMPLUGIN_ID_LEN + 1, &expires);
	if (rc != MMPLUGIN_OK)
		return rc;
	if (!gate_usable(p, app_id, install_id, &after) || after.gen != before.gen) { /* M3 */
		sodium_memzero(token, MMPLUGIN_ID_LEN + 1);
		if (p->api->sessions_revoke_prop(p->host, SESSION_PROP_MINT, mint, NULL) !=
		    MMPLUGIN_OK)
			plugin_logf(p, MMPLUGIN_LOG_WARN,
				    "app %s changed while a token was minted; the unused token "
				    "could not be revoked and expires by itself",
				    app_id);
		return MMPLUGIN_ENOTFOUND;
	}
	cache_put(&p->tokens, i, app_id, user_id, &before, token, expires); /* M4 */
	return MMPLUGIN_OK;
}
