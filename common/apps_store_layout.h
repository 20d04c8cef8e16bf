/*
 * Where the Apps plugin (com.mattermost.apps) keeps its data, for the code
 * that must agree on it without linking the plugin: the plugin itself, and
 * `mmhost store copy`, which moves a node's LMDB data into PostgreSQL.
 *
 * LMDB: one environment in <host data_dir>/plugins/<APPS_PLUGIN_ID>/
 * APPS_STORE_DIR, one named database per table. PostgreSQL: one table
 * APPS_STORE_COMPONENT "_" <table> per table (common/store.h). The key and
 * value bytes are the same on both: sealed records stay sealed, and their
 * associated data (the table's name and the record's key) still matches.
 *
 * The list only grows: a table added here is copied and created by every
 * mmhost that includes it. Use it as
 *     static const char *const tables[APPS_T_COUNT] = { APPS_STORE_TABLES };
 */
#ifndef COMMON_APPS_STORE_LAYOUT_H
#define COMMON_APPS_STORE_LAYOUT_H

#define APPS_PLUGIN_ID "com.mattermost.apps"
#define APPS_STORE_DIR "store"
#define APPS_STORE_COMPONENT "apps"

/* In this order: the table's index is its enum apps_table. */
#define APPS_STORE_TABLES                                                                          \
	"apps", "app_gate", "listing", "oauth2_user", "oauth2_state", "oauth2_state_by_user", "meta"

enum apps_table {
	APPS_T_APPS,                 /* app id -> App record, sealed */
	APPS_T_APP_GATE,             /* lower-cased app id -> the App's gate, plaintext */
	APPS_T_LISTING,              /* app id -> listed manifest, JSON */
	APPS_T_OAUTH2_USER,          /* app id 0x00 user id -> the user's data, sealed */
	APPS_T_OAUTH2_STATE,         /* BLAKE2b-256(state) -> flow state, sealed */
	APPS_T_OAUTH2_STATE_BY_USER, /* user id | expiry | hash -> app id */
	APPS_T_META,                 /* "schema_version" -> "1" */
	APPS_T_COUNT
};

#endif
