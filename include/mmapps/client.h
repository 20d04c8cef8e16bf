/*
 * libmmapps: the C driver Apps use to talk to the Apps framework, mirroring
 * Mattermost's Go appclient: register the App's OAuth2 client, and store, read
 * and delete the acting user's OAuth2 data.
 *
 * A client is made from the server's site URL and a token the App received
 * in a call's context: the bot token (context.bot_access_token) to register
 * the OAuth2 client, the acting user's token
 * (context.acting_user_access_token) for the user's data. The token is sent
 * as "Authorization: Bearer <token>".
 *
 * Build an App with:  cc app.c $(pkg-config --cflags --libs mmapps)
 *
 * Threading: a client is not thread-safe; use one per thread (they are
 * cheap) or guard it. Different clients may be used on different threads at
 * once. Call curl_global_init() once before making clients from several
 * threads at the same time (libcurl's rule).
 *
 * Errors: every function returns MMAPPS_OK (0) or a negative mmapps_rc.
 * After a failure, mmapps_client_error() holds one line saying what went
 * wrong, with the HTTP status and the server's error message and id when the
 * server answered; mmapps_client_status() the HTTP status (0 when none).
 * Neither ever holds the token or a secret.
 *
 * Network behaviour: one connection is kept and reused; a whole request
 * takes at most the timeout (default 10 s); redirects are never followed; at
 * most 1 MiB is read back.
 */
#ifndef MMAPPS_CLIENT_H
#define MMAPPS_CLIENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MMAPPS_API __attribute__((visibility("default")))
#define MMAPPS_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define MMAPPS_API
#define MMAPPS_WARN_UNUSED
#endif

#define MMAPPS_RESPONSE_MAX (1024 * 1024)
#define MMAPPS_DEFAULT_TIMEOUT_MS 10000L

enum mmapps_rc {
	MMAPPS_OK = 0,
	MMAPPS_EINVAL = -1, /* a NULL or malformed argument (e.g. a body that is not JSON) */
	MMAPPS_ENOMEM = -2,
	MMAPPS_EHTTP = -3,    /* the server answered with a status other than 200 or 201 */
	MMAPPS_ENETWORK = -4, /* no answer: connection refused, DNS, timeout, TLS */
	MMAPPS_EPROTOCOL =
		-5, /* an answer that is not what the API promises (too large, not JSON) */
};

typedef struct mmapps_client mmapps_client;

/* Makes a client for site_url ("https://chat.example.com", no trailing path
 * needed; a trailing '/' is dropped) acting with token. Both strings are
 * copied. Returns NULL when an argument is NULL or empty, site_url is not
 * http(s), or memory runs out. Free with mmapps_client_free(). */
MMAPPS_API mmapps_client *mmapps_client_new(const char *site_url, const char *token);

/* Wipes the token and frees the client. NULL is allowed. */
MMAPPS_API void mmapps_client_free(mmapps_client *c);

/* Sets the whole-request timeout (1 ms to 10 minutes). MMAPPS_OK or
 * MMAPPS_EINVAL. */
MMAPPS_API int mmapps_client_set_timeout(mmapps_client *c, long timeout_ms);

/* The last failure, one line, owned by the client, valid until the next
 * call on it. "" after a success. Never NULL for a non-NULL client. */
MMAPPS_API const char *mmapps_client_error(const mmapps_client *c);

/* The HTTP status of the last request, 0 when there was no answer. */
MMAPPS_API long mmapps_client_status(const mmapps_client *c);

/* The App's OAuth2 client. Every member may be NULL (left out). data_json,
 * when set, must be a JSON text (any value); it is sent as it is. */
struct mmapps_oauth2_app {
	const char *client_id;
	const char *client_secret;
	const char *remote_root_url;
	const char *data_json;
};

/* POST /api/v1/oauth2/app: registers (fully replaces) the App's OAuth2
 * client. Needs the App's bot token (or an admin acting user's).
 * MMAPPS_OK, MMAPPS_EINVAL (data_json not JSON), MMAPPS_EHTTP (401 no or
 * expired token, 403 not allowed, 404 App not installed, ...),
 * MMAPPS_ENETWORK, MMAPPS_EPROTOCOL, MMAPPS_ENOMEM. */
MMAPPS_API int mmapps_store_oauth2_app(mmapps_client *c,
				       const struct mmapps_oauth2_app *app) MMAPPS_WARN_UNUSED;

/* POST /api/v1/oauth2/user: stores json[0..len) (any JSON value, kept
 * byte-exact) for the acting user; "null" deletes. Needs the acting user's
 * token. Bodies over 8 KiB are refused by the server (MMAPPS_EHTTP, 413).
 * Return codes as mmapps_store_oauth2_app. */
MMAPPS_API int mmapps_store_oauth2_user(mmapps_client *c, const char *json,
					size_t len) MMAPPS_WARN_UNUSED;

/* GET /api/v1/oauth2/user: the acting user's data, byte-exact. On MMAPPS_OK
 * *json_out is a NUL-terminated copy the caller frees with mmapps_free() and
 * *len_out its length (may be NULL); when nothing is stored, *json_out is
 * NULL and *len_out 0. Return codes as mmapps_store_oauth2_app. */
MMAPPS_API int mmapps_get_oauth2_user(mmapps_client *c, char **json_out,
				      size_t *len_out) MMAPPS_WARN_UNUSED;

/* DELETE /api/v1/oauth2/user: forgets the acting user's data (nothing stored
 * is not an error). Return codes as mmapps_store_oauth2_app. */
MMAPPS_API int mmapps_delete_oauth2_user(mmapps_client *c) MMAPPS_WARN_UNUSED;

/* Frees what the library returned. NULL is allowed. */
MMAPPS_API void mmapps_free(void *p);

#ifdef __cplusplus
}
#endif

#endif /* MMAPPS_CLIENT_H */
