/*
 * Failed-login counting, per account and per client address.
 *
 * Each kind has its own fixed table (bounded memory whatever the traffic):
 * LOGIN_LIMITER_BUCKETS buckets of LOGIN_LIMITER_WAYS entries. A key's
 * bucket and tag come from BLAKE2b keyed with a secret drawn at init, so
 * nobody outside the process can choose keys that share a bucket or a tag.
 *
 * Counting: login_limiter_take() checks and counts one attempt for the
 * account and for the address at once, under one lock, before the password is
 * checked; so parallel attempts cannot all pass the check before any is
 * counted. A login that succeeds gives its count back (login_limiter_refund).
 * An attempt is refused when either key already has LOGIN_FAILURES_MAX
 * counted in its window (LOGIN_WINDOW_MS from its first one); then nothing
 * is counted.
 *
 * Eviction never touches a live entry of another key: a new key takes a
 * free entry of its bucket, else the one whose window ended longest ago.
 * When every entry of its bucket is live, the attempt is refused
 * (LOGIN_LIMIT_FULL, with the seconds until the first of them ends): no
 * attempt goes uncounted. Every counted attempt costs the server a password
 * check, which bounds how fast the tables can fill: 16384 entries per kind
 * in one minute take 16384 argon2id checks in that minute.
 *
 * Accounts: a login_id that names an account counts under the account's
 * user id, so its username and its email share one count; one that names
 * none counts under its own text, compared lower-case as logins are (so
 * unknown names are limited too, alike whether they exist or not). The two
 * kinds never share a count.
 *
 * Addresses: an IPv6 address counts for its /64 (what one client usually
 * holds); IPv4 and IPv4-mapped addresses count alone.
 *
 * Thread-safe. The struct is large (about 800 KiB): make it static or
 * allocate it.
 */
#ifndef HOST_LOGIN_LIMITER_H
#define HOST_LOGIN_LIMITER_H

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#define LOGIN_FAILURES_MAX 10
#define LOGIN_WINDOW_MS 60000
#define LOGIN_LIMITER_BUCKETS 2048
#define LOGIN_LIMITER_WAYS 8

enum login_limit_rc {
	LOGIN_LIMIT_OK = 0,
	LOGIN_LIMIT_ACCOUNT = -1, /* the account used up its attempts in its window */
	LOGIN_LIMIT_ADDR = -2,    /* the client address did */
	LOGIN_LIMIT_FULL = -3,    /* no room to count a new key: its bucket is all live */
};

/* What a login attempt counts against besides its address. */
enum login_account_kind {
	LOGIN_ACCOUNT_ID = 'u',   /* the user id of the account the login_id names */
	LOGIN_ACCOUNT_NAME = 'n', /* a login_id that names no account, as typed */
};

struct login_count {
	uint64_t tag; /* keyed hash of the key; 0 when the entry is free */
	int64_t window_start_ms;
	uint32_t failures;
};

struct login_table {
	struct login_count entries[LOGIN_LIMITER_BUCKETS][LOGIN_LIMITER_WAYS];
};

struct login_limiter {
	pthread_mutex_t lock;
	unsigned char key[crypto_generichash_KEYBYTES];
	struct login_table accounts;
	struct login_table addrs;
};

/* What one login_limiter_take counted, for login_limiter_refund. */
struct login_ticket {
	bool counted;
	uint64_t acct_tag, addr_tag;
	uint32_t acct_bucket, addr_bucket;
	int64_t acct_window, addr_window;
};

/* Empties the tables and draws the secret key (sodium_init() first). */
void login_limiter_init(struct login_limiter *l);
/* Wipes the key. */
void login_limiter_destroy(struct login_limiter *l);

/* Checks the account (kind and key: a user id, or a login_id that names
 * no account) and addr (NUL-terminated; any length) and, when neither is
 * limited, counts one attempt for each and fills *t. Returns LOGIN_LIMIT_OK
 * or why the attempt is refused; then *retry_after_s gets the seconds until
 * it may succeed (at least 1) and nothing is counted. */
int login_limiter_take(struct login_limiter *l, enum login_account_kind kind, const char *account,
		       const char *addr, int64_t now_ms, unsigned *retry_after_s,
		       struct login_ticket *t) __attribute__((warn_unused_result));

/* Gives back what t counted (for a login that succeeded), unless its
 * window has ended meanwhile. Does nothing for a ticket that counted
 * nothing. */
void login_limiter_refund(struct login_limiter *l, const struct login_ticket *t);

#endif
