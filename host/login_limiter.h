/*
 * Failed-login counting, per username and per client IP, in a fixed table
 * (bounded memory whatever the traffic). More than LOGIN_FAILURES_MAX
 * failures within LOGIN_WINDOW_MS for one key blocks further attempts for
 * that key until the window ends. Thread-safe.
 */
#ifndef HOST_LOGIN_LIMITER_H
#define HOST_LOGIN_LIMITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define LOGIN_FAILURES_MAX 10
#define LOGIN_WINDOW_MS 60000
#define LOGIN_SLOTS 4096

struct login_slot {
	uint64_t tag; /* hash of kind and key; 0 when free */
	int64_t window_start_ms;
	unsigned failures;
};

struct login_limiter {
	pthread_mutex_t lock;
	struct login_slot slots[LOGIN_SLOTS];
};

void login_limiter_init(struct login_limiter *l);
void login_limiter_destroy(struct login_limiter *l);

/* True when username or ip has used up its failures in the current window;
 * *retry_after_s gets the seconds until it ends. */
bool login_limiter_blocked(struct login_limiter *l, const char *username, const char *ip,
			   int64_t now_ms, unsigned *retry_after_s);

/* Counts one failure for username and for ip. */
void login_limiter_fail(struct login_limiter *l, const char *username, const char *ip,
			int64_t now_ms);

#endif
