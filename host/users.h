/*
 * Users in the host's store: creation (argon2id password hashes), lookup by
 * id, username or email, deactivation, and their public JSON form.
 */
#ifndef HOST_USERS_H
#define HOST_USERS_H

#include <jansson.h>
#include <sodium.h>

#include <mmplugin/plugin.h>
#include <stdbool.h>
#include <stdint.h>

#include "mm_id.h"
#include "host_store.h"

#define USERNAME_MAX 64
#define EMAIL_MAX 128
#define PASSWORD_MIN 8
#define PASSWORD_MAX 128
#define ROLES_MAX 64

/* The store's codes where they mean the same (common/store.h), then the
 * module's own. */
enum users_rc {
	USERS_OK = 0,
	USERS_ENOTFOUND = STORE_ENOTFOUND,
	USERS_EUNAVAILABLE = STORE_EUNAVAILABLE, /* the database cannot be reached */
	USERS_EFULL = STORE_EFULL,
	USERS_EIO = STORE_EIO,
	USERS_ENOMEM = STORE_ENOMEM,
	USERS_EUSERNAME_TAKEN = STORE_ECALLER - 1,
	USERS_EEMAIL_TAKEN = STORE_ECALLER - 2,
	USERS_EINVALID = STORE_ECALLER - 3, /* a field is malformed; see users_check_new */
};

struct host_user {
	char id[MM_ID_LEN + 1];
	char username[USERNAME_MAX + 1];
	char email[EMAIL_MAX + 1];
	char roles[ROLES_MAX]; /* "system_user" or "system_user system_admin" */
	bool is_bot;
	int64_t create_at; /* ms since the epoch */
	int64_t update_at;
	int64_t delete_at;                          /* 0 while active */
	char password_hash[crypto_pwhash_STRBYTES]; /* "" for bots */
};

struct user_new {
	const char *username;
	const char *email;    /* may be NULL for bots: <username>@localhost is used */
	const char *password; /* NULL for bots */
	bool system_admin;
	bool is_bot;
};

/* Checks a new user's fields; on failure returns USERS_EINVALID and names the
 * field and the rule in msg. */
int users_check_new(const struct user_new *u, char *msg, size_t cap);

/* Creates a user (hashing the password with argon2id outside any
 * transaction). Usernames and emails are unique, compared lower-case.
 * USERS_OK, USERS_EINVALID, USERS_EUSERNAME_TAKEN, USERS_EEMAIL_TAKEN,
 * USERS_ENOMEM, USERS_EFULL (the store is full: 507; the backend logged
 * why), USERS_EUNAVAILABLE (the database cannot be reached: 503),
 * USERS_EIO. Nothing is written on failure. */
int users_create(struct host_store *s, const struct user_new *u, struct host_user *out)
	__attribute__((warn_unused_result));

int users_get(struct host_store *s, const char *id, struct host_user *out)
	__attribute__((warn_unused_result));
/* The same inside a transaction of the caller's (for sessions_lookup). */
int users_get_txn(struct store_txn *txn, const char *id, struct host_user *out)
	__attribute__((warn_unused_result));
/* By username or email (case-insensitive). USERS_OK, USERS_ENOTFOUND,
 * USERS_EUNAVAILABLE, USERS_EIO. */
int users_find_login(struct host_store *s, const char *login_id, struct host_user *out)
	__attribute__((warn_unused_result));
/* The same, the account's id alone (index reads only): what the login
 * limiter counts under. For login_ids of one shape (with or without '@') a
 * known and an unknown one cost the same reads. */
int users_find_login_id(struct host_store *s, const char *login_id, char id[MM_ID_LEN + 1])
	__attribute__((warn_unused_result));
int users_find_username(struct host_store *s, const char *username, struct host_user *out)
	__attribute__((warn_unused_result));

/* Sets delete_at (now) or clears it. USERS_OK, USERS_ENOTFOUND, or a write
 * error as for users_create. */
int users_set_active(struct host_store *s, const char *id, bool active)
	__attribute__((warn_unused_result));

/* Sets a person's password (PASSWORD_MIN..PASSWORD_MAX characters, hashed
 * with argon2id). Sessions are left as they are: end them with
 * sessions_revoke_user. USERS_OK, USERS_ENOTFOUND, USERS_EINVALID (a bot,
 * which has no password, or a password of the wrong length), or a write
 * error as for users_create. */
int users_set_password(struct host_store *s, const char *id, const char *password)
	__attribute__((warn_unused_result));

/* True when password matches u's hash. Always spends the time of one
 * verification, also for users without a password, so that timing does not
 * tell whether an account exists. */
bool users_check_password(const struct host_user *u, const char *password);
/* Spends the time of one verification (for a login that found no user). */
void users_burn_password_check(const char *password);

bool user_is_admin(const struct host_user *u);

/* What plugins are told of a user (ABI struct mmplugin_user). */
void user_to_plugin(const struct host_user *u, struct mmplugin_user *out);

/* {id, username, email, roles, is_bot, create_at, update_at, delete_at, ...}
 * without any secret. New reference, or NULL. */
json_t *user_json(const struct host_user *u);

int64_t now_ms(void);

#endif
