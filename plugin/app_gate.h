/*
 * The App gate: a small plaintext record per installed App holding what
 * every write that depends on the App must agree with (which install it is,
 * whether it is disabled, whether remote_oauth2 is granted, its bot).
 * Nothing in it is secret, so it is read without opening any sealed record.
 *
 * Table app_gate, key = the app_id lower-cased (App ids are unique
 * whatever their case), value (GATE_VERSION 1):
 *   version (1) | flags (1: bit 0 disabled, bit 1 remote_oauth2) |
 *   gen (8, big-endian) | install_id (26) | bot_user_id (26, zeros if none) |
 *   app_id length (1) | app_id (as installed, 3..32 bytes)
 *
 * Invariants (kept by apps_store.c):
 *   - the gate is written in the same write transaction as every change of
 *     the App's record, and deleted in the uninstall transaction;
 *   - install_id is random at each fresh install (not at a reinstall over an
 *     installed App), and App sessions carry it (prop mattermost_app_install);
 *   - gen grows each time a field of the gate changes (within one install),
 *     so "same gen" means "nothing changed in between".
 * A write that depends on the App names what it expects (struct
 * app_gate_expect) and is refused inside its own transaction when the gate
 * says otherwise: that is what keeps an uninstall from being undone by a
 * write that was checked before it.
 */
#ifndef PLUGIN_APP_GATE_H
#define PLUGIN_APP_GATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm_id.h"

#define APP_ID_MAX 32
#define APP_GATE_VERSION 1
#define APP_GATE_MAX (1 + 1 + 8 + MM_ID_LEN + MM_ID_LEN + 1 + APP_ID_MAX)

/* What a request needs of the App, besides being installed. */
#define APP_NEED_ENABLED 1u
#define APP_NEED_OAUTH2 2u

struct app_gate {
	char app_id[APP_ID_MAX + 1]; /* as installed */
	char install_id[MM_ID_LEN + 1];
	char bot_user_id[MM_ID_LEN + 1]; /* "" when the record names none */
	uint64_t gen;
	bool disabled;
	bool remote_oauth2;
};

/* What a write expects of the App. */
struct app_gate_expect {
	const char *app_id;
	const char *install_id; /* NULL: any install of app_id */
	unsigned need;          /* APP_NEED_* */
};

/* Why a gate refuses (results of the store's functions, kept at or below
 * STORE_ECALLER so they never mean a store error). */
enum app_gate_rc {
	APP_GATE_OK = 0,
	APP_GATE_GONE = -130,        /* not installed (or installed under another case) */
	APP_GATE_DISABLED = -131,    /* needs enabled, and it is disabled */
	APP_GATE_NOT_GRANTED = -132, /* needs remote_oauth2, and it is not granted */
	APP_GATE_REINSTALLED = -133, /* another install than the one expected */
};

struct apps_store;
struct store_txn;

/* The gate's key for app_id (lower-cased) into key[APP_ID_MAX]; its length,
 * 0 when app_id is empty or too long. */
size_t app_gate_key(const char *app_id, char key[APP_ID_MAX]);

/* Encodes g into out[APP_GATE_MAX]; the length. */
size_t app_gate_encode(const struct app_gate *g, unsigned char out[APP_GATE_MAX]);
/* Decodes a stored value. 0, or -1 when it is malformed. */
int app_gate_decode(const void *p, size_t len, struct app_gate *g);

/* The gate an App record implies (gen 0): its app_id, install_id,
 * bot_user_id, disabled flag and remote_oauth2 grant. -1 when the record
 * lacks app_id or install_id. */
int app_gate_from_record(const json_t *record, struct app_gate *g);

/* The verdict of gate g (NULL: no gate) on e. APP_GATE_OK or a refusal, in
 * this order: gone, disabled, not granted, reinstalled. */
int app_gate_judge(const struct app_gate *g, const struct app_gate_expect *e);

/* In a transaction of st: app_id's gate into *out. flags: 0, or STORE_LOCK
 * in a write transaction that will write the gate (store_get). In a write
 * transaction the gate's row stays locked until the commit (PostgreSQL), so
 * an uninstall or a disable waits for the write that checked it. STORE_OK,
 * STORE_ENOTFOUND (no gate), STORE_ECONFLICT (the gate is another App's
 * whose id differs only in case; *out holds it), STORE_ECORRUPT, or the
 * seam's error. */
int app_gate_read_txn(struct store_txn *txn, const struct apps_store *st, const char *app_id,
		      unsigned flags, struct app_gate *out);
/* In a transaction of st: 0 when the gate satisfies e, an APP_GATE_* refusal,
 * STORE_ECORRUPT, or the seam's error. */
int app_gate_check_txn(struct store_txn *txn, const struct apps_store *st,
		       const struct app_gate_expect *e);
/* In a write transaction of st: stores g. 0, STORE_EINVAL, or the seam's
 * error. */
int app_gate_put_txn(struct store_txn *txn, const struct apps_store *st, const struct app_gate *g);

/* app_gate_read_txn in a read transaction of its own (from the store, never
 * a cache). */
int app_gate_get(struct apps_store *st, const char *app_id, struct app_gate *out)
	__attribute__((warn_unused_result));

#endif
