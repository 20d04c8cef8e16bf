/*
 * The tokens an App acts with: host sessions minted for (App, user) with the
 * props mattermost_app_id=<app>, mattermost_app_install=<its install> and
 * mattermost_app_mint=<a random id of this session>, living 10 minutes,
 * kept in a bounded cache and minted again when under 5 minutes remain. The
 * bot token is the App's bot user's session; the acting-user token the
 * calling user's.
 *
 * No token is handed out unless, after its session committed, the App's
 * gate (read from the store) is still the one seen before minting: so once
 * disable-app or uninstall-app has answered 200, no token handed to the App
 * works, however the calls interleave (the argument is in app_tokens.c).
 * Thread-safe. Tokens are secrets: wiped on eviction and at deactivate.
 */
#ifndef PLUGIN_APP_TOKENS_H
#define PLUGIN_APP_TOKENS_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include <mmplugin/plugin.h>

#define APP_TOKEN_TTL_MS (10LL * 60 * 1000)
#define APP_TOKEN_REMINT_MS (5LL * 60 * 1000)
#define TOKEN_CACHE_SLOTS 1024

struct cached_token {
	char app_id[33];
	char user_id[MMPLUGIN_ID_LEN + 1];
	char token[MMPLUGIN_ID_LEN + 1];
	int64_t expires_at_ms;
	/* The gate it was minted under: used only while the gate is the same. */
	char install_id[MMPLUGIN_ID_LEN + 1];
	uint64_t gate_gen;
};

struct token_cache {
	pthread_mutex_t lock;
	struct cached_token slots[TOKEN_CACHE_SLOTS];
};

struct apps_plugin;

void token_cache_init(struct token_cache *t);
/* Wipes every token. */
void token_cache_destroy(struct token_cache *t);
/* Forgets every token of app_id (after its sessions were revoked). */
void token_cache_forget_app(struct token_cache *t, const char *app_id);

/* A live token for (the App of record app, user_id) into token (27 bytes).
 * app is the App record the caller loaded (its app_id and install_id are
 * what the token is for). MMPLUGIN_OK; MMPLUGIN_ENOTFOUND when the App is no
 * longer that install, enabled (checked in the store, before and after
 * minting); MMPLUGIN_EINVAL for a record without app_id or install_id; or
 * the host API's error from minting. */
int app_token(struct apps_plugin *p, const json_t *app, const char *user_id,
	      char token[MMPLUGIN_ID_LEN + 1]);

#endif
