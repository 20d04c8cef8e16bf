#include "app_tokens.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

int app_token(struct apps_plugin *p, const char *app_id, const char *user_id,
	      char token[MMPLUGIN_ID_LEN + 1])
{
	struct token_cache *t = &p->tokens;
	struct cached_token *slot;
	struct mmplugin_session_prop prop = { { SESSION_PROP_APP_ID, strlen(SESSION_PROP_APP_ID) },
					      { app_id, strlen(app_id) } };
	size_t i = slot_of(app_id, user_id);
	int64_t expires = 0, now = now_ms();
	int rc;

	pthread_mutex_lock(&t->lock);
	slot = &t->slots[i];
	if (strcmp(slot->app_id, app_id) == 0 && strcmp(slot->user_id, user_id) == 0 &&
	    slot->expires_at_ms - now > APP_TOKEN_REMINT_MS) {
		memcpy(token, slot->token, MMPLUGIN_ID_LEN + 1);
		pthread_mutex_unlock(&t->lock);
		return MMPLUGIN_OK;
	}
	pthread_mutex_unlock(&t->lock);

	/* Minted outside the lock: it writes to the host's store. */
	rc = p->api->session_create(p->host, user_id, &prop, 1, APP_TOKEN_TTL_MS, token,
				    MMPLUGIN_ID_LEN + 1, &expires);
	if (rc != MMPLUGIN_OK)
		return rc;
	pthread_mutex_lock(&t->lock);
	sodium_memzero(slot, sizeof(*slot));
	snprintf(slot->app_id, sizeof(slot->app_id), "%s", app_id);
	snprintf(slot->user_id, sizeof(slot->user_id), "%s", user_id);
	memcpy(slot->token, token, MMPLUGIN_ID_LEN + 1);
	slot->expires_at_ms = expires;
	pthread_mutex_unlock(&t->lock);
	return MMPLUGIN_OK;
}
