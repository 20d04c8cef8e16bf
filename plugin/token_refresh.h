/*
 * The framework refreshes users' OAuth2 tokens (DESIGN.md section 11).
 *
 * When a call expands oauth2_user, the App has a token_url, and the acting
 * user's stored value is a JSON object with a "refresh_token" and an
 * "expiry" (RFC 3339, as Go's oauth2.Token writes it) less than
 * TOKEN_REFRESH_WINDOW_S away, the call waits while the plugin POSTs
 * grant_type=refresh_token to token_url with the App's client credentials
 * (HTTP Basic; once the form's client_id and client_secret when the
 * provider refuses Basic with 400/401 invalid_client, as Go's oauth2
 * does). Then, by the provider's answer:
 *   a token    stored in oauth2.Token shape (access_token, token_type,
 *              refresh_token: the old one when none came, expiry from
 *              expires_in; the old value's other members kept), by
 *              compare-and-set on the bytes that were read;
 *   invalid_grant  the record is deleted by the same compare-and-set (the
 *              user must connect again);
 *   a timeout (setting refresh_timeout_s), 5xx, a network error, anything
 *              else: nothing changes.
 * and the call goes on: its expansion reads the stored value again, so it
 * passes whatever is stored now. A value that is not a token object is
 * never refreshed.
 *
 * One refresh per (App, user) at a time: calls of this process join the
 * refresh in flight; other processes on the same store find its lease
 * (refresh_lease_take) and wait, re-reading the stored value, until it
 * changes or the lease is released or its time is up; a lease that expired
 * unreleased (its process died mid-refresh) is taken over by a waiting
 * flight, which then refreshes. The compare-and-set makes a refresh that
 * lost a race change nothing.
 *
 * Threads: the POST runs on the call loop (app_http.h); the store writes,
 * the audit lines and the calls' resumption run on the refresher's own
 * thread, so no HTTP I/O thread or host worker waits for the provider.
 * Logged (never a token), counted (mmapps_oauth2_refresh_total{result}),
 * audited (oauth2_token_refreshed, oauth2_token_revoked).
 */
#ifndef PLUGIN_TOKEN_REFRESH_H
#define PLUGIN_TOKEN_REFRESH_H

#include <jansson.h>
#include <stdint.h>

#include "plugin.h"

#define TOKEN_REFRESH_WINDOW_S 60
/* Refreshes in flight in one process, and calls waiting on one; past
 * either a call goes on with the stored value. */
#define TOKEN_REFRESH_FLIGHTS_MAX 1024
#define TOKEN_REFRESH_WAITERS_MAX 4096
/* The largest new value stored (what POST oauth2/user takes); a larger
 * one is not stored (the stored value is used). */
#define TOKEN_REFRESH_VALUE_MAX 8192

/* Starts the refresher's thread. 0, or -1 when it could not start. */
int token_refresh_init(struct apps_plugin *p) __attribute__((warn_unused_result));
/* Stops it, before app_http_cleanup: waits for the POSTs in flight to end
 * (each within refresh_timeout_s, twice at most), resumes every waiting
 * call, then ends the thread. */
void token_refresh_stop(struct apps_plugin *p);

/* Called on a worker before a call that expands oauth2_user for user_id
 * (app: the App record, borrowed for the call). 0: no refresh is due, go
 * on now (resume is not called). 1: the call waits; resume(arg) runs
 * exactly once, on the refresher's thread, when the stored value is the
 * one to pass (possibly before this returns). */
int token_refresh_before_call(struct apps_plugin *p, const json_t *app, const char *user_id,
			      const char *request_id, void (*resume)(void *arg), void *arg);

/* Whether a stored value is a token due for refresh at now (seconds since
 * the epoch): an object with a non-empty string refresh_token and a string
 * expiry in RFC 3339 less than TOKEN_REFRESH_WINDOW_S after now. */
bool token_refresh_due(const json_t *value, int64_t now);

/* Parses RFC 3339 ("2026-12-02T10:00:00Z", "...:00.123456789+01:00") into
 * seconds since the epoch. 0, or -1 when s is not such a time. */
int rfc3339_parse(const char *s, int64_t *out);

#endif
