/* HS256 JSON Web Tokens for Mattermost-App-Authorization. */
#ifndef PLUGIN_JWT_H
#define PLUGIN_JWT_H

#include <stddef.h>
#include <stdint.h>

#define JWT_TTL_S 300

/* Signs {"iat", "exp" (iat + JWT_TTL_S), "iss":"mattermost", "acting_user_id"
 * (when not NULL)} with HMAC-SHA256 keyed by secret[0..secret_len). Returns a
 * malloc'd NUL-terminated token or NULL. */
char *jwt_sign_hs256(const unsigned char *secret, size_t secret_len, const char *acting_user_id,
		     int64_t now_s);

/* Verifies token's signature and expiry at now_s; 0 when valid. For tests. */
int jwt_verify_hs256(const char *token, const unsigned char *secret, size_t secret_len,
		     int64_t now_s);

#endif
