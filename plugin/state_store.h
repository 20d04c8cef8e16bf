/*
 * OAuth2 flow states in the plugin's store (see apps_store.h for the
 * tables). A state is known only by the BLAKE2b-256 hash of its value;
 * its record (App, user, expiry, PKCE code_verifier) is sealed. Each user has
 * at most max_per_user live states: making one more drops the oldest.
 */
#ifndef PLUGIN_STATE_STORE_H
#define PLUGIN_STATE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "apps_store.h"

#define STATE_VERIFIER_MAX 128

enum state_rc {
	STATE_OK = 0,
	STATE_ENOTFOUND = STORE_ENOTFOUND, /* unknown, used, evicted or swept */
	STATE_EEXPIRED = -120,             /* expired (and now deleted) */
	STATE_EMISMATCH = -121,            /* another App's or another user's (left alone) */
};

/* Saves a new state for install install_id of app_id, in a transaction
 * where that install is still there, enabled and granted remote_oauth2 (else
 * an APP_GATE_* refusal and nothing is saved). *evicted gets how many older
 * states of the user went (expired ones and those past max_per_user). */
int oauth2_state_create(struct apps_store *st, const unsigned char hash[STATE_HASH_LEN],
			const char *app_id, const char *install_id, const char *user_id,
			const char *verifier, int64_t now_ms, int64_t ttl_ms, size_t max_per_user,
			size_t *evicted) __attribute__((warn_unused_result));

/* Takes the state (store_take: read and deleted in one statement, so of
 * two nodes completing the same state at once exactly one gets it); when it
 * belongs to app_id and user_id and has not expired, its code_verifier goes
 * to verifier. Another App's or user's state, or one that does not open, is
 * put back in the same transaction. STATE_OK, STATE_ENOTFOUND,
 * STATE_EEXPIRED, STATE_EMISMATCH, STORE_ECORRUPT, or the seam's error
 * (STORE_EUNAVAILABLE, STORE_EFULL, STORE_EIO, ...). */
int oauth2_state_consume(struct apps_store *st, const unsigned char hash[STATE_HASH_LEN],
			 const char *app_id, const char *user_id, int64_t now_ms, char *verifier,
			 size_t verifier_cap) __attribute__((warn_unused_result));

/* Deletes expired states; *count gets how many. */
int oauth2_state_sweep(struct apps_store *st, int64_t now_ms, size_t *count);

#endif
