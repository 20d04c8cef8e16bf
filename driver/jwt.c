/* libmmapps: verifying the HS256 JWT of Mattermost-App-Authorization. See
 * include/mmapps/client.h for the contract. */
#include <mmapps/client.h>

#include <jansson.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "banned.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define JOSE_HEADER_MAX 1024
#define CLAIMS_MAX 4096
#define DATE_MAX 1000000000000000LL

/* One base64url part [p, p + len) decoded into out[0..cap); the whole part
 * must decode. 0 or -1. */
static int decode_part(const char *p, size_t len, unsigned char *out, size_t cap, size_t *out_len)
{
	const char *end = NULL;

	if (len == 0 || sodium_base642bin(out, cap, p, len, NULL, out_len, &end, B64) != 0)
		return -1;
	return end == p + len ? 0 : -1;
}

static json_t *decode_json_part(const char *p, size_t len, size_t max)
{
	unsigned char buf[CLAIMS_MAX];
	size_t n = 0;
	json_t *j;

	if (max > sizeof(buf) || decode_part(p, len, buf, max, &n) != 0)
		return NULL;
	j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
	sodium_memzero(buf, sizeof(buf));
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* A NumericDate claim: absent (0, *present = 0), a number of seconds within
 * 30 million years of the epoch (0), else -1 (so that adding the leeway never
 * overflows). */
static int numeric_date(const json_t *claims, const char *name, long long *out, int *present)
{
	const json_t *v = json_object_get(claims, name);

	*present = v != NULL;
	*out = 0;
	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) > -DATE_MAX &&
	    json_integer_value(v) < DATE_MAX) {
		*out = (long long)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v) && json_real_value(v) > -DATE_MAX && json_real_value(v) < DATE_MAX) {
		*out = (long long)json_real_value(v);
		return 0;
	}
	return -1;
}

static int refuse(struct mmapps_jwt_claims *claims, const char *why)
{
	memset(claims, 0, sizeof(*claims));
	claims->error = why;
	return MMAPPS_EAUTH;
}

static int check_header(const char *p, size_t len, struct mmapps_jwt_claims *claims)
{
	json_t *h = decode_json_part(p, len, JOSE_HEADER_MAX);
	const char *alg = json_string_value(json_object_get(h, "alg"));
	const json_t *typ = json_object_get(h, "typ");
	int rc = 0;

	if (!h)
		rc = refuse(claims, "the JWT's header is not base64url JSON");
	else if (!alg || strcmp(alg, "HS256") != 0)
		rc = refuse(claims, "the JWT is not signed with HS256");
	else if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
		rc = refuse(claims, "the JWT's typ is not JWT");
	else if (json_object_get(h, "crit"))
		rc = refuse(claims, "the JWT has critical extensions");
	json_decref(h);
	return rc;
}

static int check_signature(const char *token, size_t signed_len, const char *sig, size_t sig_len,
			   const void *secret, size_t secret_len, struct mmapps_jwt_claims *claims)
{
	unsigned char want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	size_t got_len = 0;
	int ok;

	crypto_auth_hmacsha256_init(&st, secret, secret_len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, signed_len);
	crypto_auth_hmacsha256_final(&st, want);
	sodium_memzero(&st, sizeof(st));
	ok = decode_part(sig, sig_len, got, sizeof(got), &got_len) == 0 && got_len == sizeof(got) &&
	     sodium_memcmp(got, want, sizeof(want)) == 0;
	sodium_memzero(want, sizeof(want));
	return ok ? 0 : refuse(claims, "the JWT's signature does not match the App's secret");
}

static int check_claims(const char *p, size_t len, long long now_s,
			struct mmapps_jwt_claims *claims)
{
	json_t *c = decode_json_part(p, len, CLAIMS_MAX);
	const json_t *user = json_object_get(c, "acting_user_id");
	long long exp, iat, nbf;
	int has_exp, has_iat, has_nbf, rc = 0;

	if (!c)
		return refuse(claims, "the JWT's claims are not base64url JSON");
	if (numeric_date(c, "exp", &exp, &has_exp) || numeric_date(c, "iat", &iat, &has_iat) ||
	    numeric_date(c, "nbf", &nbf, &has_nbf))
		rc = refuse(claims, "a JWT time claim is not a number");
	else if (!has_exp)
		rc = refuse(claims, "the JWT has no exp");
	else if (now_s > exp + MMAPPS_JWT_LEEWAY_S)
		rc = refuse(claims, "the JWT has expired");
	else if (has_iat && iat > now_s + MMAPPS_JWT_LEEWAY_S)
		rc = refuse(claims, "the JWT was issued in the future");
	else if (has_nbf && nbf > now_s + MMAPPS_JWT_LEEWAY_S)
		rc = refuse(claims, "the JWT is not valid yet");
	else if (user &&
		 (!json_is_string(user) || json_string_length(user) > MMAPPS_JWT_USER_ID_MAX ||
		  strlen(json_string_value(user)) != json_string_length(user)))
		rc = refuse(claims, "the JWT's acting_user_id is not a user id");
	if (rc == 0) {
		memset(claims, 0, sizeof(*claims));
		claims->error = "";
		claims->expires_at = exp;
		claims->issued_at = iat;
		if (user)
			memcpy(claims->acting_user_id, json_string_value(user),
			       json_string_length(user));
	}
	json_decref(c);
	return rc;
}

int mmapps_jwt_verify_at(const char *authorization, const void *secret, size_t secret_len,
			 long long now_s, struct mmapps_jwt_claims *claims)
{
	const char *token, *dot1, *dot2, *end;
	size_t len;
	int rc;

	if (!claims)
		return MMAPPS_EINVAL;
	if (!secret || secret_len < MMAPPS_JWT_SECRET_MIN) {
		refuse(claims, "the App's secret is missing or too short");
		return MMAPPS_EINVAL;
	}
	if (sodium_init() < 0) {
		refuse(claims, "libsodium could not start");
		return MMAPPS_EINVAL;
	}
	if (!authorization || !*authorization)
		return refuse(claims, "no " MMAPPS_OUTGOING_AUTH_HEADER " header");
	len = strnlen(authorization, MMAPPS_JWT_MAX + 1);
	if (len > MMAPPS_JWT_MAX)
		return refuse(claims, "the JWT is too long");
	if (len < 7 || strncasecmp(authorization, "Bearer ", 7) != 0)
		return refuse(claims, "the authorization is not \"Bearer <JWT>\"");
	token = authorization + 7;
	while (*token == ' ')
		token++;
	end = authorization + len;
	dot1 = memchr(token, '.', (size_t)(end - token));
	dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
		return refuse(claims, "the JWT is not three dot-separated parts");
	rc = check_header(token, (size_t)(dot1 - token), claims);
	if (rc == 0)
		rc = check_signature(token, (size_t)(dot2 - token), dot2 + 1,
				     (size_t)(end - dot2 - 1), secret, secret_len, claims);
	if (rc == 0)
		rc = check_claims(dot1 + 1, (size_t)(dot2 - dot1 - 1), now_s, claims);
	return rc;
}

int mmapps_jwt_verify(const char *authorization, const void *secret, size_t secret_len,
		      struct mmapps_jwt_claims *claims)
{
	return mmapps_jwt_verify_at(authorization, secret, secret_len, (long long)time(NULL),
				    claims);
}
