#include "jwt.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

static char *b64(const unsigned char *bin, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len, B64);
	char *out = malloc(cap);

	if (out)
		sodium_bin2base64(out, cap, bin, len, B64);
	return out;
}

static void hmac(const unsigned char *secret, size_t secret_len, const char *msg, size_t len,
		 unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, secret, secret_len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

char *jwt_sign_hs256(const unsigned char *secret, size_t secret_len, const char *acting_user_id,
		     int64_t now_s)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	json_t *claims = json_pack("{s:I, s:I, s:s}", "iat", (json_int_t)now_s, "exp",
				   (json_int_t)(now_s + JWT_TTL_S), "iss", "mattermost");
	char *claims_text = NULL, *h64 = NULL, *c64 = NULL, *s64 = NULL, *out = NULL;
	size_t len;

	if (!claims)
		return NULL;
	if (acting_user_id)
		json_object_set_new(claims, "acting_user_id", json_string(acting_user_id));
	claims_text = json_dumps(claims, JSON_COMPACT);
	json_decref(claims);
	if (!claims_text)
		return NULL;
	h64 = b64((const unsigned char *)header, sizeof(header) - 1);
	c64 = b64((const unsigned char *)claims_text, strlen(claims_text));
	if (!h64 || !c64)
		goto out;
	len = strlen(h64) + 1 + strlen(c64);
	out = malloc(len + 1 + sodium_base64_ENCODED_LEN(sizeof(mac), B64));
	if (!out)
		goto out;
	memcpy(out, h64, strlen(h64));
	out[strlen(h64)] = '.';
	memcpy(out + strlen(h64) + 1, c64, strlen(c64) + 1);
	hmac(secret, secret_len, out, len, mac);
	s64 = b64(mac, sizeof(mac));
	if (!s64) {
		free(out);
		out = NULL;
		goto out;
	}
	out[len] = '.';
	memcpy(out + len + 1, s64, strlen(s64) + 1);
out:
	free(claims_text);
	free(h64);
	free(c64);
	free(s64);
	return out;
}

int jwt_verify_hs256(const char *token, const unsigned char *secret, size_t secret_len,
		     int64_t now_s)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
	const char *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	char claims_text[1024];
	size_t got_len = 0, claims_len = 0;
	json_t *claims;
	int rc = -1;

	if (!dot2)
		return -1;
	hmac(secret, secret_len, token, (size_t)(dot2 - token), mac);
	if (sodium_base642bin(got, sizeof(got), dot2 + 1, strlen(dot2 + 1), NULL, &got_len, NULL,
			      B64) != 0 ||
	    got_len != sizeof(got) || sodium_memcmp(got, mac, sizeof(mac)) != 0)
		return -1;
	if (sodium_base642bin((unsigned char *)claims_text, sizeof(claims_text) - 1, dot1 + 1,
			      (size_t)(dot2 - dot1 - 1), NULL, &claims_len, NULL, B64) != 0)
		return -1;
	claims = json_loadb(claims_text, claims_len, 0, NULL);
	if (claims && json_integer_value(json_object_get(claims, "exp")) > now_s)
		rc = 0;
	json_decref(claims);
	return rc;
}
