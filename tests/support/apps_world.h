/*
 * A running world for the Apps tests: the test App (its own process), the
 * real host with the real plugin (and the fixture plugin when asked), and a
 * logged-in system admin; plus installing Apps and taking the tokens an App
 * is handed in a call.
 */
#ifndef TESTS_APPS_WORLD_H
#define TESTS_APPS_WORLD_H

#include "testsupport.h"

#define TS_APPS "/plugins/com.mattermost.apps"
#define TS_ALL_PERMS "\"act_as_bot\",\"act_as_user\",\"remote_oauth2\""

struct ts_world {
	struct ts_host host;
	struct ts_proc app;
	char plugins[256];
	char data_dir[320];
	char admin_tok[64];
	char admin_id[32];
};

/* Starts everything. app_args are the test App's extra arguments and
 * host_extra the host's (both NULL-terminated, may be NULL). The admin is
 * "admin" / "admin-password". 0 or -1. */
int ts_world_start(struct ts_world *w, const char *const *app_args, int with_fixture,
		   const char *const *host_extra);
/* Stops everything; 0 when the host exited 0. */
int ts_world_stop(struct ts_world *w);

/* Installs app_id (display name = app_id) with the requested permissions
 * (the inside of a JSON array) at root (NULL: the test App), as the admin.
 * 0 or -1. */
int ts_world_install(struct ts_world *w, const char *app_id, const char *perms, const char *root);
/* The same, and the App's JWT secret (shown once, by the install) into
 * secret[0..cap). 0 or -1. */
int ts_world_install_secret(struct ts_world *w, const char *app_id, const char *perms,
			    const char *root, char *secret, size_t cap);

/* Creates user name with password "<name>-password" and logs in: its token
 * to tok[64], its id to id[32] (id may be NULL). 0 or -1. */
int ts_world_user(struct ts_world *w, const char *name, int admin, char *tok, char *id);

/* Runs the test App's /echo call on app_id as user_tok and copies the
 * tokens the App was handed: bot (may be NULL), acting user (may be NULL),
 * bot_id (may be NULL), each at least 64 bytes. 0 or -1. */
int ts_app_tokens(const char *base_url, const char *user_tok, const char *app_id, char *bot,
		  char *acting, char *bot_id);

/* Creates n users "<prefix><i>" and copies the acting-user token app_id is
 * handed for each to acting[i]. 0 or -1. */
int ts_world_app_users(struct ts_world *w, const char *app_id, const char *prefix, int n,
		       char (*acting)[64]);

#endif
