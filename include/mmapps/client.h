/*
 * libmmapps: the C driver Apps use to talk to the Apps framework, mirroring
 * Mattermost's Go appclient: register the App's OAuth2 client, and store, read
 * and delete the acting user's OAuth2 data. Besides the client, two helpers
 * every App needs: checking that a call really comes from the framework
 * (mmapps_jwt_verify) and talking to the OAuth2 provider's token endpoint
 * (mmapps_oauth2_exchange, mmapps_oauth2_refresh).
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
	MMAPPS_EHTTP = -3,    /* the server answered with a status other than 200 or 201;
			       * for the OAuth2 helpers: the provider refused */
	MMAPPS_ENETWORK = -4, /* no answer: connection refused, DNS, timeout, TLS */
	MMAPPS_EPROTOCOL =
		-5,        /* an answer that is not what the API promises (too large, not JSON) */
	MMAPPS_EAUTH = -6, /* a call's JWT is missing, malformed, wrongly signed or expired */
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
 * when set, must be a JSON text (any value); it is sent as it is.
 * token_url, when set, is the provider's token endpoint (absolute http(s),
 * on remote_root_url's origin when that is set): the framework then
 * refreshes the users' stored tokens (oauth2.Token JSON with refresh_token
 * and expiry) before passing them to the App. */
struct mmapps_oauth2_app {
	const char *client_id;
	const char *client_secret;
	const char *remote_root_url;
	const char *data_json;
	const char *token_url;
};

/* POST /api/v1/oauth2/app: registers (fully replaces) the App's OAuth2
 * client. Needs the App's bot token (or an admin acting user's).
 * MMAPPS_OK, MMAPPS_EINVAL (data_json not JSON, a member not UTF-8), MMAPPS_EHTTP (401 no or
 * expired token, 403 not allowed, 404 App not installed, 400 a token_url
 * that is not allowed, ...),
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

/* Wipes and frees a string the library returned (they may hold tokens).
 * NULL is allowed. */
MMAPPS_API void mmapps_free(void *p);

/* ---- Is this call from the Apps framework? ---------------------------
 *
 * An App whose manifest says "http": {"use_jwt": true} gets every call with
 * the header
 *   Mattermost-App-Authorization: Bearer <JWT>
 * an HS256 JSON Web Token signed with the App's secret (the "secret" the
 * install-app answer shows once). It holds "exp" and "iat" (seconds) and,
 * when a person triggered the call, "acting_user_id". An App must refuse
 * (401) every call whose header does not verify, and trust the acting user
 * of the token, not one named in the call's body. The token does not sign
 * the body: it proves the call comes from the framework and is fresh.
 */

#define MMAPPS_OUTGOING_AUTH_HEADER "Mattermost-App-Authorization"
#define MMAPPS_JWT_MAX 8192       /* longer header values are refused */
#define MMAPPS_JWT_SECRET_MIN 16  /* shorter secrets are refused (MMAPPS_EINVAL) */
#define MMAPPS_JWT_LEEWAY_S 60    /* clock skew allowed on exp, iat and nbf */
#define MMAPPS_JWT_USER_ID_MAX 64 /* Mattermost ids are 26 characters */

struct mmapps_jwt_claims {
	/* The user who triggered the call; "" when the call has none. */
	char acting_user_id[MMAPPS_JWT_USER_ID_MAX + 1];
	long long issued_at;  /* iat; 0 when absent */
	long long expires_at; /* exp */
	/* Why verification failed, one line, a static string that never holds
	 * the token or the secret; "" on success. */
	const char *error;
};

/* Verifies authorization, the value of the Mattermost-App-Authorization
 * header ("Bearer <JWT>", scheme in any case; NULL when the header is
 * absent), against secret[0..secret_len): the secret's text as install-app
 * shows it, used as it is (not base64-decoded). It checks, in order: the scheme
 * and shape (three base64url parts, at most MMAPPS_JWT_MAX bytes), the
 * header's alg (exactly "HS256"; "none" and every other algorithm are
 * refused), the HMAC-SHA256 signature (compared in constant time), then the
 * claims: "exp" is required and must not have passed, "iat" and "nbf" (when
 * present) must not be in the future, each with MMAPPS_JWT_LEEWAY_S of
 * leeway; "acting_user_id", when present, must be a string of at most
 * MMAPPS_JWT_USER_ID_MAX bytes.
 *
 * claims (required) is filled on success; on failure it is zeroed but for
 * claims->error. Returns MMAPPS_OK, MMAPPS_EAUTH (the caller answers 401),
 * or MMAPPS_EINVAL (claims or secret NULL, or a secret shorter than
 * MMAPPS_JWT_SECRET_MIN: a configuration error, not the caller's). Uses the
 * current time; thread-safe; allocates nothing it keeps. */
MMAPPS_API int mmapps_jwt_verify(const char *authorization, const void *secret, size_t secret_len,
				 struct mmapps_jwt_claims *claims) MMAPPS_WARN_UNUSED;

/* The same at the time now_s (seconds since the epoch), for tests. */
MMAPPS_API int mmapps_jwt_verify_at(const char *authorization, const void *secret,
				    size_t secret_len, long long now_s,
				    struct mmapps_jwt_claims *claims) MMAPPS_WARN_UNUSED;

/* ---- The OAuth2 provider's token endpoint ----------------------------
 *
 * What Go's golang.org/x/oauth2 Config.Exchange and a TokenSource's refresh
 * do, for Apps in C. Both POST a form to the token URL and return the token
 * as JSON in the shape of Go's oauth2.Token, which is also what the Apps
 * framework refreshes when the App stores it as the user's data:
 *   {"access_token":"...","token_type":"bearer","refresh_token":"...",
 *    "expiry":"2030-01-02T15:04:05Z"}
 * expiry is RFC 3339 in UTC, computed from the provider's expires_in when
 * the answer arrived, and left out when the provider gives none (the token
 * does not expire); token_type and refresh_token are left out when absent.
 * Other members of the provider's answer (a login, scope, id_token) follow
 * as they came, as Go's Token.Extra keeps them; expires_in does not.
 *
 * Client authentication, as Go's oauth2 auto-detection does it: HTTP Basic
 * first (client id and secret form-encoded, then base64); when the provider
 * refuses that with 400, 401 or 403 (any error but invalid_grant), the same
 * request again with client_id and client_secret in the form. What worked
 * is remembered per (token URL, client id) for the process, so the next
 * request goes the right way at once. Unlike Go, a timeout, a 5xx or
 * invalid_grant is never retried: a code is good once. The answer is asked
 * for as JSON (Accept: application/json); a form-encoded answer is
 * MMAPPS_EPROTOCOL.
 *
 * Network behaviour as the client's: http(s) only, no redirects, a
 * whole-request timeout, at most MMAPPS_RESPONSE_MAX bytes read. Each call
 * makes its own connection; the functions are thread-safe.
 */

enum mmapps_auth_style {
	MMAPPS_AUTH_STYLE_AUTO = 0,      /* Basic, then the form (remembered) */
	MMAPPS_AUTH_STYLE_IN_HEADER = 1, /* HTTP Basic only */
	MMAPPS_AUTH_STYLE_IN_PARAMS = 2, /* client_id and client_secret in the form only */
};

/* Go's oauth2.Config, the parts the token endpoint needs. Borrowed for the
 * call only. */
struct mmapps_oauth2_config {
	const char *client_id;     /* required */
	const char *client_secret; /* NULL or "" for a public client */
	const char *token_url;     /* required: absolute http(s) */
	const char *redirect_url;  /* sent with the exchange when not NULL */
	enum mmapps_auth_style auth_style;
	long timeout_ms; /* whole request, each attempt; 0: MMAPPS_DEFAULT_TIMEOUT_MS */
};

#define MMAPPS_OAUTH2_ARG_MAX 8192 /* longest code, verifier or refresh token */

/* Why the provider said no. Never holds the client secret, the code, the
 * verifier or a token: a description repeating one is withheld. */
struct mmapps_oauth2_error {
	long status;       /* the provider's HTTP status; 0 when it did not answer */
	char error[64];    /* its "error" ("invalid_grant", ...); "" when it gave none */
	char message[512]; /* one line: what happened, with its error_description */
};

/* POSTs grant_type=authorization_code with code, redirect_uri (when
 * cfg->redirect_url) and code_verifier (PKCE; when not NULL) to
 * cfg->token_url. On MMAPPS_OK *token_json is the token (see above), a
 * NUL-terminated string the caller releases with mmapps_free() (it wipes),
 * and *len_out its length (len_out may be NULL). On failure *token_json is
 * NULL and err (may be NULL) says why:
 *   MMAPPS_EINVAL    a required argument is NULL or empty, the token URL is
 *                    not http(s), or an argument is longer than
 *                    MMAPPS_OAUTH2_ARG_MAX
 *   MMAPPS_ENETWORK  no answer (refused, DNS, TLS, the timeout)
 *   MMAPPS_EHTTP     the provider refused: a status other than 2xx, or an
 *                    answer holding "error" (GitHub answers 200 so);
 *                    err->error is "invalid_grant" for a bad, used or
 *                    expired code; err->status >= 500 is worth a retry
 *   MMAPPS_EPROTOCOL a 2xx answer that is not a JSON object with a
 *                    non-empty access_token, or over MMAPPS_RESPONSE_MAX
 *   MMAPPS_ENOMEM */
MMAPPS_API int mmapps_oauth2_exchange(const struct mmapps_oauth2_config *cfg, const char *code,
				      const char *code_verifier, char **token_json, size_t *len_out,
				      struct mmapps_oauth2_error *err) MMAPPS_WARN_UNUSED;

/* POSTs grant_type=refresh_token with refresh_token to cfg->token_url
 * (cfg->redirect_url is not sent). The new token keeps refresh_token when
 * the provider sends none. Ownership and return codes as
 * mmapps_oauth2_exchange; invalid_grant means the refresh token is no longer
 * good and the user must connect again. */
MMAPPS_API int mmapps_oauth2_refresh(const struct mmapps_oauth2_config *cfg,
				     const char *refresh_token, char **token_json, size_t *len_out,
				     struct mmapps_oauth2_error *err) MMAPPS_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* MMAPPS_CLIENT_H */
