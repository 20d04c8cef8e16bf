#include "auth_metrics.h"

#include <stddef.h>

#include "metrics.h"
#include "banned.h"

static const char *const outcome_names[LOGIN_OUTCOMES] = {
	"ok", "bad_credentials", "limited_account", "limited_address", "limited_table",
};

static struct metric_series *cache_hits, *cache_misses, *logins[LOGIN_OUTCOMES];

int auth_metrics_init(void)
{
	static const char *const result[] = { "result" };

	if (metrics_register(NULL, METRIC_COUNTER, "mmhost_sessions_cache_hits_total",
			     "Requests whose session was found in the session cache.", NULL, NULL,
			     0, NULL, 0, &cache_hits) != 0 ||
	    metrics_register(NULL, METRIC_COUNTER, "mmhost_sessions_cache_misses_total",
			     "Requests whose session was read from the store (not cached, or "
			     "the cache could not be trusted).",
			     NULL, NULL, 0, NULL, 0, &cache_misses) != 0)
		return -1;
	for (size_t i = 0; i < LOGIN_OUTCOMES; i++) {
		const char *value[] = { outcome_names[i] };
		if (metrics_register(
			    NULL, METRIC_COUNTER, "mmhost_login_attempts_total",
			    "Logins by outcome; limited_* were refused by the failed-login "
			    "limiter before any password check.",
			    result, value, 1, NULL, 0, &logins[i]) != 0)
			return -1;
	}
	return 0;
}

void auth_metrics_session_cache(bool hit)
{
	metric_series_add(hit ? cache_hits : cache_misses, 1);
}

void auth_metrics_login(enum login_outcome outcome)
{
	if (outcome < LOGIN_OUTCOMES)
		metric_series_add(logins[outcome], 1);
}
