#include "users.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json_record.h"
#include "banned.h"

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool user_is_admin(const struct host_user *u)
{
	return strstr(u->roles, "system_admin") != NULL;
}

/* A bounded copy with its NUL (this runs for every plugin request). */
static void copy_field(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

void user_to_plugin(const struct host_user *u, struct mmplugin_user *out)
{
	memset(out, 0, sizeof(*out));
	copy_field(out->id, sizeof(out->id), u->id);
	copy_field(out->username, sizeof(out->username), u->username);
	copy_field(out->email, sizeof(out->email), u->email);
	copy_field(out->roles, sizeof(out->roles), u->roles);
	out->is_bot = u->is_bot;
	out->deleted = u->delete_at != 0;
	out->create_at_ms = u->create_at;
}

static void lower_copy(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < cap; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

/* Mattermost's rule: lower-case letters, digits, '.', '-', '_'; starts with
 * a letter (bots: a letter or a digit, since App ids may start with one). */
static bool username_valid(const char *s, bool is_bot)
{
	size_t n = strlen(s);

	if (n == 0 || n > USERNAME_MAX)
		return false;
	if (!(islower((unsigned char)s[0]) || (is_bot && isdigit((unsigned char)s[0]))))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(islower(c) || isdigit(c) || c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static bool email_valid(const char *s)
{
	size_t n = strlen(s);
	const char *at = strchr(s, '@');

	if (n < 3 || n > EMAIL_MAX || !at || at == s || at[1] == '\0' || strchr(at + 1, '@'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '\\')
			return false;
	}
	return true;
}

int users_check_new(const struct user_new *u, char *msg, size_t cap)
{
	if (!u->username || !username_valid(u->username, u->is_bot)) {
		snprintf(msg, cap,
			 "username must be 1 to %d characters of a-z, 0-9, '.', '-', '_' and "
			 "start with a letter",
			 USERNAME_MAX);
		return USERS_EINVALID;
	}
	if (u->email && !email_valid(u->email)) {
		snprintf(msg, cap, "email must be an address like name@example.com");
		return USERS_EINVALID;
	}
	if (!u->email && !u->is_bot) {
		snprintf(msg, cap, "email is required");
		return USERS_EINVALID;
	}
	if (!u->is_bot) {
		size_t n = u->password ? strlen(u->password) : 0;
		if (n < PASSWORD_MIN || n > PASSWORD_MAX) {
			snprintf(msg, cap, "password must be %d to %d characters", PASSWORD_MIN,
				 PASSWORD_MAX);
			return USERS_EINVALID;
		}
	}
	return USERS_OK;
}

json_t *user_json(const struct host_user *u)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "id",
			 u->id, "username", u->username, "email", u->email, "roles", u->roles,
			 "is_bot", u->is_bot, "create_at", (json_int_t)u->create_at, "update_at",
			 (json_int_t)u->update_at, "delete_at", (json_int_t)u->delete_at,
			 "auth_service", "", "first_name", "", "last_name", "", "nickname", "",
			 "locale", "en");
}

/* The stored form: the public form plus the password hash. */
static char *user_record(const struct host_user *u)
{
	json_t *j = user_json(u);
	char *out;

	if (!j)
		return NULL;
	json_object_set_new(j, "password", json_string(u->password_hash));
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return out;
}

static int user_parse(const struct store_val *v, struct host_user *u)
{
	json_t *j = json_loadb(v->data, v->len, 0, NULL);
	int rc = USERS_EIO;

	memset(u, 0, sizeof(*u));
	if (!j)
		return USERS_EIO;
	if (json_record_str(u->id, sizeof(u->id), json_object_get(j, "id")) ||
	    json_record_str(u->username, sizeof(u->username), json_object_get(j, "username")) ||
	    json_record_str(u->email, sizeof(u->email), json_object_get(j, "email")) ||
	    json_record_str(u->roles, sizeof(u->roles), json_object_get(j, "roles")) ||
	    json_record_str(u->password_hash, sizeof(u->password_hash),
			    json_object_get(j, "password")))
		goto out;
	u->is_bot = json_is_true(json_object_get(j, "is_bot"));
	u->create_at = json_integer_value(json_object_get(j, "create_at"));
	u->update_at = json_integer_value(json_object_get(j, "update_at"));
	u->delete_at = json_integer_value(json_object_get(j, "delete_at"));
	rc = USERS_OK;
out:
	json_decref(j);
	return rc;
}

/* What the callers of this module see of a store result: its own codes
 * and the store's meaningful ones pass, anything unexpected is USERS_EIO. */
static int users_rc(int rc)
{
	switch (rc) {
	case USERS_OK:
	case USERS_ENOTFOUND:
	case USERS_EUNAVAILABLE:
	case USERS_EFULL:
	case USERS_ENOMEM:
	case USERS_EUSERNAME_TAKEN:
	case USERS_EEMAIL_TAKEN:
	case USERS_EINVALID: return rc;
	default: return USERS_EIO;
	}
}

struct user_arg {
	const char *key;
	struct host_user *u;
	const char *record;
	bool active;
};

int users_get_txn(struct store_txn *txn, const char *id, struct host_user *u)
{
	struct store_val v;
	int rc = store_get(txn, HOST_T_USERS, id, strlen(id), 0, &v);

	if (rc != STORE_OK)
		return users_rc(rc);
	return user_parse(&v, u);
}

static int read_by_id(struct store_txn *txn, void *arg)
{
	struct user_arg *a = arg;

	return users_get_txn(txn, a->key, a->u);
}

int users_get(struct host_store *s, const char *id, struct host_user *out)
{
	struct user_arg a = { .key = id, .u = out };

	if (!mm_id_valid(id, strlen(id)))
		return USERS_ENOTFOUND;
	return users_rc(store_read(s->st, read_by_id, &a));
}

/* The id an index (usernames or emails, lower-case keys) holds for name. */
static int id_by_index(struct store_txn *txn, unsigned table, const char *name,
		       char id[MM_ID_LEN + 1])
{
	char key[EMAIL_MAX + 1];
	struct store_val v;
	int rc;

	if (strlen(name) > EMAIL_MAX || !name[0])
		return USERS_ENOTFOUND;
	lower_copy(key, sizeof(key), name);
	rc = store_get(txn, table, key, strlen(key), 0, &v);
	if (rc != STORE_OK)
		return users_rc(rc);
	if (v.len != MM_ID_LEN)
		return USERS_EIO;
	memcpy(id, v.data, MM_ID_LEN);
	id[MM_ID_LEN] = '\0';
	return USERS_OK;
}

static int get_by_index(struct store_txn *txn, unsigned table, const char *name,
			struct host_user *u)
{
	char id[MM_ID_LEN + 1];
	int rc = id_by_index(txn, table, name, id);

	return rc == USERS_OK ? users_get_txn(txn, id, u) : rc;
}

struct login_arg {
	const char *login_id;
	char *id;
	struct host_user *u; /* NULL: the id alone */
};

/* Usernames hold no '@': a login_id with one misses the usernames and is
 * looked up as an email, so a known and an unknown login_id of one shape
 * cost the same index reads. */
static int read_by_login(struct store_txn *txn, void *arg)
{
	struct login_arg *a = arg;
	int rc = id_by_index(txn, HOST_T_USERNAMES, a->login_id, a->id);

	if (rc == USERS_ENOTFOUND && strchr(a->login_id, '@'))
		rc = id_by_index(txn, HOST_T_EMAILS, a->login_id, a->id);
	return rc == USERS_OK && a->u ? users_get_txn(txn, a->id, a->u) : rc;
}

int users_find_login(struct host_store *s, const char *login_id, struct host_user *out)
{
	char id[MM_ID_LEN + 1];
	struct login_arg a = { .login_id = login_id, .id = id, .u = out };

	return users_rc(store_read(s->st, read_by_login, &a));
}

int users_find_login_id(struct host_store *s, const char *login_id, char id[MM_ID_LEN + 1])
{
	struct login_arg a = { .login_id = login_id, .id = id };

	return users_rc(store_read(s->st, read_by_login, &a));
}

static int read_by_username(struct store_txn *txn, void *arg)
{
	struct user_arg *a = arg;

	return get_by_index(txn, HOST_T_USERNAMES, a->key, a->u);
}

int users_find_username(struct host_store *s, const char *username, struct host_user *out)
{
	struct user_arg a = { .key = username, .u = out };

	return users_rc(store_read(s->st, read_by_username, &a));
}

/* The indexes first, with NOOVERWRITE: of two creations racing for a name
 * (on any node), one gets it. */
static int write_new(struct store_txn *txn, void *arg)
{
	struct user_arg *a = arg;
	struct host_user *u = a->u;
	char uname[USERNAME_MAX + 1], email[EMAIL_MAX + 1];
	int rc;

	lower_copy(uname, sizeof(uname), u->username);
	lower_copy(email, sizeof(email), u->email);
	rc = store_put(txn, HOST_T_USERNAMES, uname, strlen(uname), u->id, MM_ID_LEN,
		       STORE_NOOVERWRITE);
	if (rc != STORE_OK)
		return rc == STORE_EEXIST ? USERS_EUSERNAME_TAKEN : rc;
	rc = store_put(txn, HOST_T_EMAILS, email, strlen(email), u->id, MM_ID_LEN,
		       STORE_NOOVERWRITE);
	if (rc != STORE_OK)
		return rc == STORE_EEXIST ? USERS_EEMAIL_TAKEN : rc;
	return store_put(txn, HOST_T_USERS, u->id, MM_ID_LEN, a->record, strlen(a->record),
			 STORE_NOOVERWRITE);
}

int users_create(struct host_store *s, const struct user_new *n, struct host_user *out)
{
	char msg[256];
	struct user_arg a = { .u = out };
	char *record;
	int rc;

	if (users_check_new(n, msg, sizeof(msg)) != USERS_OK)
		return USERS_EINVALID;
	memset(out, 0, sizeof(*out));
	mm_id_new(out->id);
	snprintf(out->username, sizeof(out->username), "%s", n->username);
	if (n->email)
		lower_copy(out->email, sizeof(out->email), n->email);
	else
		snprintf(out->email, sizeof(out->email), "%s@localhost", n->username);
	snprintf(out->roles, sizeof(out->roles), "%s",
		 n->system_admin ? "system_user system_admin" : "system_user");
	out->is_bot = n->is_bot;
	out->create_at = out->update_at = now_ms();
	if (!n->is_bot && crypto_pwhash_str(out->password_hash, n->password, strlen(n->password),
					    crypto_pwhash_OPSLIMIT_INTERACTIVE,
					    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return USERS_ENOMEM;
	record = user_record(out);
	if (!record)
		return USERS_ENOMEM;
	a.record = record;
	rc = store_write(s->st, write_new, &a);
	free(record);
	return users_rc(rc);
}

static int write_active(struct store_txn *txn, void *arg)
{
	struct user_arg *a = arg;
	struct host_user u;
	struct store_val v;
	char *record;
	int rc = store_get(txn, HOST_T_USERS, a->key, MM_ID_LEN, STORE_LOCK, &v);

	if (rc != STORE_OK)
		return rc;
	rc = user_parse(&v, &u);
	if (rc != USERS_OK)
		return rc;
	u.delete_at = a->active ? 0 : now_ms();
	u.update_at = now_ms();
	record = user_record(&u);
	if (!record)
		return USERS_ENOMEM;
	rc = store_put(txn, HOST_T_USERS, a->key, MM_ID_LEN, record, strlen(record), 0);
	free(record);
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	/* A deactivated user's sessions end now, cached or not, on every
	 * node (caches hear it after the commit). */
	if (rc == STORE_OK)
		rc = store_notify(txn, HOST_TOPIC_SESSIONS, "");
	return rc;
}

int users_set_active(struct host_store *s, const char *id, bool active)
{
	struct user_arg a = { .key = id, .active = active };

	if (!mm_id_valid(id, strlen(id)))
		return USERS_ENOTFOUND;
	return users_rc(store_write(s->st, write_active, &a));
}

/* A hash of a password nobody has, computed once, for checks that must cost
 * the same whether or not the account exists. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy_hash(void)
{
	unsigned char pw[16];

	randombytes_buf(pw, sizeof(pw));
	if (crypto_pwhash_str(dummy_hash, (const char *)pw, sizeof(pw),
			      crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		dummy_hash[0] = '\0';
	sodium_memzero(pw, sizeof(pw));
}

void users_burn_password_check(const char *password)
{
	pthread_once(&dummy_once, make_dummy_hash);
	if (dummy_hash[0] && crypto_pwhash_str_verify(dummy_hash, password, strlen(password)) == 0)
		dummy_hash[0] = '\0'; /* cannot happen: nobody knows the password */
}

bool users_check_password(const struct host_user *u, const char *password)
{
	if (!u->password_hash[0] || u->is_bot) {
		users_burn_password_check(password);
		return false;
	}
	return crypto_pwhash_str_verify(u->password_hash, password, strlen(password)) == 0;
}

struct password_arg {
	const char *id;
	const char *hash;
};

static int write_password(struct store_txn *txn, void *arg)
{
	struct password_arg *a = arg;
	struct host_user u;
	struct store_val v;
	char *record;
	int rc = store_get(txn, HOST_T_USERS, a->id, MM_ID_LEN, STORE_LOCK, &v);

	if (rc != STORE_OK)
		return rc;
	rc = user_parse(&v, &u);
	if (rc != USERS_OK)
		return rc;
	if (u.is_bot) {
		sodium_memzero(u.password_hash, sizeof(u.password_hash));
		return USERS_EINVALID;
	}
	snprintf(u.password_hash, sizeof(u.password_hash), "%s", a->hash);
	u.update_at = now_ms();
	record = user_record(&u);
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	if (!record)
		return USERS_ENOMEM;
	rc = store_put(txn, HOST_T_USERS, a->id, MM_ID_LEN, record, strlen(record), 0);
	sodium_memzero(record, strlen(record));
	free(record);
	return rc;
}

int users_set_password(struct host_store *s, const char *id, const char *password)
{
	char hash[crypto_pwhash_STRBYTES];
	struct password_arg a = { .id = id, .hash = hash };
	size_t n = strlen(password);
	int rc;

	if (!mm_id_valid(id, strlen(id)))
		return USERS_ENOTFOUND;
	if (n < PASSWORD_MIN || n > PASSWORD_MAX)
		return USERS_EINVALID;
	/* Hashed before the transaction: a write callback must not block. */
	if (crypto_pwhash_str(hash, password, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return USERS_ENOMEM;
	rc = users_rc(store_write(s->st, write_password, &a));
	sodium_memzero(hash, sizeof(hash));
	return rc;
}
