/*
 * Sessions in the host's store. A session's token is 26 random characters
 * (a Mattermost-style id) handed to the client once; the store keeps only
 * its BLAKE2b-256 hash as the key, so a copy of the database holds no usable
 * token. Personal access tokens are sessions that never expire.
 */
#ifndef HOST_SESSIONS_H
#define HOST_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "mm_id.h"
#include "host_store.h"
#include "users.h"

#define SESSION_PROPS_MAX 16
#define SESSION_PROP_KEY_MAX 64
#define SESSION_PROP_VALUE_MAX 256
#define SESSION_DESCRIPTION_MAX 256
#define SESSION_TOKEN_LEN MM_ID_LEN

/* The store's codes where they mean the same (common/store.h), then the
 * module's own. */
enum sessions_rc {
	SESSIONS_OK = 0,
	SESSIONS_ENOTFOUND = STORE_ENOTFOUND,       /* unknown, revoked or expired token */
	SESSIONS_EUNAVAILABLE = STORE_EUNAVAILABLE, /* the database cannot be reached */
	SESSIONS_EFULL = STORE_EFULL,
	SESSIONS_EIO = STORE_EIO,
	SESSIONS_ENOMEM = STORE_ENOMEM,
	SESSIONS_EINVALID = STORE_ECALLER - 1,   /* too many props, a prop too long, a bad user */
	SESSIONS_ENOTCACHED = STORE_ECALLER - 2, /* only the store can tell */
};

struct session_prop {
	char key[SESSION_PROP_KEY_MAX + 1];
	char value[SESSION_PROP_VALUE_MAX + 1];
};

struct host_session {
	char id[MM_ID_LEN + 1]; /* public id of the session (never the token) */
	char user_id[MM_ID_LEN + 1];
	char csrf[MM_ID_LEN + 1]; /* the MMCSRF value for cookie-authenticated requests */
	int64_t create_at;
	int64_t expires_at; /* 0: never (personal access tokens) */
	bool personal;      /* a personal access token */
	char description[SESSION_DESCRIPTION_MAX + 1];
	size_t props_len;
	struct session_prop props[SESSION_PROPS_MAX];
	/* The session's user, read by sessions_lookup in the same transaction
	 * (active, else there is no session); its password hash is wiped. */
	struct host_user user;
};

struct session_new {
	const char *user_id;
	const struct session_prop *props;
	size_t props_len;
	int64_t lifetime_ms; /* 0: never expires */
	bool personal;
	const char *description; /* may be NULL */
};

/* Creates a session; writes its token (NUL-terminated) into token and the
 * record into out (may be NULL). SESSIONS_OK, SESSIONS_EINVALID,
 * SESSIONS_ENOMEM, SESSIONS_EFULL (the store is full: 507; the backend
 * logged why), SESSIONS_EUNAVAILABLE (503), SESSIONS_EIO; on failure token
 * is wiped. */
int sessions_create(struct host_store *s, const struct session_new *n,
		    char token[SESSION_TOKEN_LEN + 1], struct host_session *out)
	__attribute__((warn_unused_result));

/* Finds the live session of token[0..len): not expired, its user not
 * deactivated. SESSIONS_ENOTFOUND otherwise, or a read error
 * (SESSIONS_EUNAVAILABLE: 503). Answers from the session cache when it can,
 * else reads the store (with PostgreSQL, a round trip that may wait). */
int sessions_lookup(struct host_store *s, const char *token, size_t len, struct host_session *out)
	__attribute__((warn_unused_result));

/* The same from the session cache alone, for a thread that must not wait
 * (an HTTP I/O thread when store_reads_block): SESSIONS_OK on a hit,
 * SESSIONS_ENOTFOUND for what cannot be a token, SESSIONS_ENOTCACHED when
 * only the store can tell. Never reads the store. */
int sessions_lookup_cached(struct host_store *s, const char *token, size_t len,
			   struct host_session *out) __attribute__((warn_unused_result));

/* Revokes the session of token. 0, SESSIONS_ENOTFOUND, or a write error as
 * for sessions_create (a delete needs room too: LMDB copies pages). The
 * revocations below return 0 or such a write error. */
int sessions_revoke_token(struct host_store *s, const char *token, size_t len);

/* Revokes every session whose prop key equals value; *count gets how many. */
int sessions_revoke_prop(struct host_store *s, const char *key, const char *value, size_t *count);

/* Revokes every session of user_id; *count gets how many (may be NULL). */
int sessions_revoke_user(struct host_store *s, const char *user_id, size_t *count);

/* Revokes the session whose public id is session_id, only if it belongs to
 * user_id (NULL: whoever it belongs to). SESSIONS_OK, SESSIONS_ENOTFOUND,
 * or a write error as for sessions_create. */
int sessions_revoke_id(struct host_store *s, const char *session_id, const char *user_id);

/* Called for each session of sessions_list_user; s is valid during the
 * call only and holds no token (the store has none). */
typedef void (*sessions_each_fn)(const struct host_session *s, void *arg);

/* Calls fn for each session of user_id, expired or not, at most max of
 * them, in no particular order, from one read of the store. For the admin
 * command line: it reads every session. SESSIONS_OK or a read error. */
int sessions_list_user(struct host_store *s, const char *user_id, size_t max, sessions_each_fn fn,
		       void *arg);

/* Deletes expired sessions, at most max of them; *count gets how many. */
int sessions_sweep(struct host_store *s, size_t max, size_t *count);

/* The value of prop key in s, or NULL. */
const char *session_prop(const struct host_session *s, const char *key);

#endif
