/*
 * What authentication counts, for the metrics listener:
 *   mmhost_sessions_cache_hits_total    sessions found in the cache
 *   mmhost_sessions_cache_misses_total  sessions read from the store instead
 *   mmhost_login_attempts_total{result} logins by outcome: ok,
 *       bad_credentials, limited_account, limited_address, limited_table
 * Updates are no-ops while metrics are off (and in the admin commands).
 */
#ifndef HOST_AUTH_METRICS_H
#define HOST_AUTH_METRICS_H

#include <stdbool.h>

enum login_outcome {
	LOGIN_OUTCOME_OK = 0,
	LOGIN_OUTCOME_BAD_CREDENTIALS,
	LOGIN_OUTCOME_LIMITED_ACCOUNT,
	LOGIN_OUTCOME_LIMITED_ADDRESS,
	LOGIN_OUTCOME_LIMITED_TABLE,
	LOGIN_OUTCOMES
};

/* Registers the families (after metrics_init). 0 or -1. */
int auth_metrics_init(void) __attribute__((warn_unused_result));

void auth_metrics_session_cache(bool hit);
void auth_metrics_login(enum login_outcome outcome);

#endif
