/* mmapps_jwt_verify: what the plugin signs verifies, and every way a token
 * can be wrong is refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <sodium.h>

#include <mmapps/client.h>

#include "jwt.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define NOW 1700000000LL
#define USER "k8q1d3m5b7fzx9w2c4e6g8h0jy"

static const char secret[] = "8fQx2Lr0sV9mZt4bYp1cWn6dKe3hJa7gUi5oRq0wTyE";
static const char other_secret[] = "another-secret-of-forty-three-characters-xx";

static void b64(const char *text, size_t len, char *out, size_t cap)
{
	sodium_bin2base64(out, cap, (const unsigned char *)text, len, B64);
}

/* "Bearer <header>.<claims>.<HMAC-SHA256 with key>" from JSON texts. */
static void sign(const char *header, const char *claims, const char *key, char *out, size_t cap)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char h[512], c[1024], s[64], signed_part[1600];
	crypto_auth_hmacsha256_state st;

	b64(header, strlen(header), h, sizeof(h));
	b64(claims, strlen(claims), c, sizeof(c));
	snprintf(signed_part, sizeof(signed_part), "%s.%s", h, c);
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)signed_part, strlen(signed_part));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2base64(s, sizeof(s), mac, sizeof(mac), B64);
	snprintf(out, cap, "Bearer %s.%s", signed_part, s);
}

static int verify(const char *auth, long long now, struct mmapps_jwt_claims *c)
{
	return mmapps_jwt_verify_at(auth, secret, strlen(secret), now, c);
}

static void refused_because(const char *auth, long long now, const char *why)
{
	struct mmapps_jwt_claims c;

	assert_int_equal(verify(auth, now, &c), MMAPPS_EAUTH);
	if (!strstr(c.error, why))
		fail_msg("wanted \"%s\", got \"%s\"", why, c.error);
	assert_string_equal(c.acting_user_id, "");
	assert_int_equal(c.expires_at, 0);
}

static void what_the_plugin_signs_verifies(void **state)
{
	char *tok = jwt_sign_hs256((const unsigned char *)secret, strlen(secret), USER, NOW);
	char auth[2048];
	struct mmapps_jwt_claims c;

	(void)state;
	assert_non_null(tok);
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	assert_int_equal(verify(auth, NOW, &c), MMAPPS_OK);
	assert_string_equal(c.acting_user_id, USER);
	assert_int_equal(c.issued_at, NOW);
	assert_int_equal(c.expires_at, NOW + JWT_TTL_S);
	assert_string_equal(c.error, "");
	/* The scheme in any case, as HTTP says. */
	snprintf(auth, sizeof(auth), "bEaReR %s", tok);
	assert_int_equal(verify(auth, NOW, &c), MMAPPS_OK);
	/* With the current time: a token made now is good now. */
	free(tok);
	tok = jwt_sign_hs256((const unsigned char *)secret, strlen(secret), NULL,
			     (int64_t)time(NULL));
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	assert_int_equal(mmapps_jwt_verify(auth, secret, strlen(secret), &c), MMAPPS_OK);
	assert_string_equal(c.acting_user_id, ""); /* no acting user */
	free(tok);
}

static void another_secret_or_a_changed_claim_is_refused(void **state)
{
	char *tok = jwt_sign_hs256((const unsigned char *)other_secret, strlen(other_secret), USER,
				   NOW);
	static const char other_claims[] =
		"{\"iat\":1700000000,\"exp\":1700000300,\"acting_user_id\":\"someone-else\"}";
	char auth[2048], forged[2048], c64[512];
	const char *dot;

	(void)state;
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	refused_because(auth, NOW, "signature");
	free(tok);
	/* Claims for another user under the first token's signature. */
	tok = jwt_sign_hs256((const unsigned char *)secret, strlen(secret), USER, NOW);
	dot = strchr(tok, '.');
	b64(other_claims, strlen(other_claims), c64, sizeof(c64));
	snprintf(forged, sizeof(forged), "Bearer %.*s.%s%s", (int)(dot - tok), tok, c64,
		 strrchr(tok, '.'));
	refused_because(forged, NOW, "signature");
	/* A signature cut short, or one bit flipped. */
	snprintf(forged, sizeof(forged), "Bearer %.*s", (int)strlen(tok) - 2, tok);
	refused_because(forged, NOW, "signature");
	snprintf(forged, sizeof(forged), "Bearer %s", tok);
	forged[strlen(forged) - 3] ^= 0x01;
	refused_because(forged, NOW, "signature");
	free(tok);
}

static void times_are_checked_with_a_small_leeway(void **state)
{
	char *tok = jwt_sign_hs256((const unsigned char *)secret, strlen(secret), USER, NOW);
	char auth[2048];
	struct mmapps_jwt_claims c;
	const long long exp = NOW + JWT_TTL_S;

	(void)state;
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	assert_int_equal(verify(auth, exp + MMAPPS_JWT_LEEWAY_S, &c), MMAPPS_OK);
	refused_because(auth, exp + MMAPPS_JWT_LEEWAY_S + 1, "expired");
	assert_int_equal(verify(auth, NOW - MMAPPS_JWT_LEEWAY_S, &c), MMAPPS_OK);
	refused_because(auth, NOW - MMAPPS_JWT_LEEWAY_S - 1, "issued in the future");
	free(tok);
	sign("{\"alg\":\"HS256\"}", "{\"exp\":1700000300,\"nbf\":1700000200}", secret, auth,
	     sizeof(auth));
	refused_because(auth, NOW, "not valid yet");
	assert_int_equal(verify(auth, 1700000200 - MMAPPS_JWT_LEEWAY_S, &c), MMAPPS_OK);
	sign("{\"alg\":\"HS256\"}", "{\"iat\":1700000000}", secret, auth, sizeof(auth));
	refused_because(auth, NOW, "no exp");
	sign("{\"alg\":\"HS256\"}", "{\"exp\":\"1700000300\"}", secret, auth, sizeof(auth));
	refused_because(auth, NOW, "not a number");
	sign("{\"alg\":\"HS256\"}", "{\"exp\":9223372036854775807}", secret, auth, sizeof(auth));
	refused_because(auth, NOW, "not a number");
	/* A real number of seconds is a NumericDate too. */
	sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"exp\":1700000300.5}", secret, auth,
	     sizeof(auth));
	assert_int_equal(verify(auth, NOW, &c), MMAPPS_OK);
	assert_int_equal(c.expires_at, 1700000300);
}

static void only_hs256_is_accepted(void **state)
{
	static const char claims[] = "{\"exp\":1700000300}";
	char auth[2048], h[64], c[128];

	(void)state;
	/* alg none with no signature: the classic forgery. */
	b64("{\"alg\":\"none\"}", 14, h, sizeof(h));
	b64(claims, strlen(claims), c, sizeof(c));
	snprintf(auth, sizeof(auth), "Bearer %s.%s.", h, c);
	refused_because(auth, NOW, "HS256");
	sign("{\"alg\":\"none\"}", claims, secret, auth, sizeof(auth));
	refused_because(auth, NOW, "HS256");
	sign("{\"alg\":\"HS512\"}", claims, secret, auth, sizeof(auth));
	refused_because(auth, NOW, "HS256");
	sign("{\"alg\":\"hs256\"}", claims, secret, auth, sizeof(auth));
	refused_because(auth, NOW, "HS256");
	sign("{\"typ\":\"JWT\"}", claims, secret, auth, sizeof(auth));
	refused_because(auth, NOW, "HS256");
	sign("{\"alg\":\"HS256\",\"typ\":\"JWE\"}", claims, secret, auth, sizeof(auth));
	refused_because(auth, NOW, "typ");
	sign("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", claims, secret, auth, sizeof(auth));
	refused_because(auth, NOW, "critical");
	sign("{\"alg\":\"HS256\",\"alg\":\"none\"}", claims, secret, auth, sizeof(auth));
	refused_because(auth, NOW, "header");
}

static void malformed_headers_are_refused(void **state)
{
	char auth[2048], big[MMAPPS_JWT_MAX + 64];
	char *tok = jwt_sign_hs256((const unsigned char *)secret, strlen(secret), USER, NOW);

	(void)state;
	refused_because(NULL, NOW, "no Mattermost-App-Authorization");
	refused_because("", NOW, "no Mattermost-App-Authorization");
	refused_because(tok, NOW, "Bearer"); /* no scheme */
	snprintf(auth, sizeof(auth), "Basic %s", tok);
	refused_because(auth, NOW, "Bearer");
	refused_because("Bearer a.b", NOW, "three");
	snprintf(auth, sizeof(auth), "Bearer %s.x", tok);
	refused_because(auth, NOW, "three");
	refused_because("Bearer ..", NOW, "header");
	refused_because("Bearer !!.e30.e30", NOW, "header");
	/* Padding is not base64url without padding. */
	snprintf(auth, sizeof(auth), "Bearer %s=", tok);
	refused_because(auth, NOW, "signature");
	sign("{\"alg\":\"HS256\"}", "[1,2]", secret, auth, sizeof(auth));
	refused_because(auth, NOW, "claims");
	sign("{\"alg\":\"HS256\"}", "{\"exp\":1700000300,\"acting_user_id\":7}", secret, auth,
	     sizeof(auth));
	refused_because(auth, NOW, "acting_user_id");
	sign("{\"alg\":\"HS256\"}",
	     "{\"exp\":1700000300,\"acting_user_id\":"
	     "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
	     secret, auth, sizeof(auth));
	refused_because(auth, NOW, "acting_user_id");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "Bearer ", 7);
	refused_because(big, NOW, "too long");
	free(tok);
}

static void a_missing_or_short_secret_is_the_callers_error(void **state)
{
	char *tok = jwt_sign_hs256((const unsigned char *)"short", 5, USER, NOW);
	char auth[2048];
	struct mmapps_jwt_claims c;

	(void)state;
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	assert_int_equal(mmapps_jwt_verify_at(auth, "short", 5, NOW, &c), MMAPPS_EINVAL);
	assert_non_null(strstr(c.error, "secret"));
	assert_int_equal(mmapps_jwt_verify_at(auth, NULL, 0, NOW, &c), MMAPPS_EINVAL);
	assert_int_equal(mmapps_jwt_verify_at(auth, secret, strlen(secret), NOW, NULL),
			 MMAPPS_EINVAL);
	free(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(what_the_plugin_signs_verifies),
		cmocka_unit_test(another_secret_or_a_changed_claim_is_refused),
		cmocka_unit_test(times_are_checked_with_a_small_leeway),
		cmocka_unit_test(only_hs256_is_accepted),
		cmocka_unit_test(malformed_headers_are_refused),
		cmocka_unit_test(a_missing_or_short_secret_is_the_callers_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
