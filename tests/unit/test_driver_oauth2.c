/*
 * mmapps_oauth2_exchange and mmapps_oauth2_refresh against the test OAuth2
 * provider, a real process: the token's shape, each of the provider's
 * refusals and failures, and client authentication by Basic, then by the
 * form when the provider refuses Basic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include <mmapps/client.h>

#include "provider_client.h"
#include "testsupport.h"

#define CID "driver-client"
#define SECRET "driver-secret-value"
#define REDIRECT "http://localhost:8065/plugins/com.mattermost.apps/apps/a/oauth2/remote/complete"
#define VERIFIER "verifier-0123456789-0123456789-0123456789-abcdef"

/* any: takes Basic or the form; form: refuses Basic with 401. */
static struct ts_proc any, form_only;
static char any_token_url[128], form_token_url[128];

static int start(struct ts_proc *p, const char *auth, char *token_url)
{
	const char *argv[] = {
		TEST_PROVIDER_BIN, "--listen", "127.0.0.1:0",   "--client-id", CID,
		"--client-secret", SECRET,     "--client-auth", auth,          NULL
	};

	if (ts_proc_start(p, argv, "test-provider listening on") != 0)
		return -1;
	snprintf(token_url, 128, "%s/token", p->base_url);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	return start(&any, "any", any_token_url) || start(&form_only, "form", form_token_url);
}

static int teardown(void **state)
{
	(void)state;
	ts_proc_stop(&any);
	ts_proc_stop(&form_only);
	return 0;
}

static struct mmapps_oauth2_config config(const char *token_url)
{
	struct mmapps_oauth2_config cfg = {
		.client_id = CID,
		.client_secret = SECRET,
		.token_url = token_url,
		.redirect_url = REDIRECT,
	};
	return cfg;
}

/* A code from the provider's authorize endpoint, for VERIFIER. */
static void get_code(const struct ts_proc *p, char *code, size_t cap)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	char challenge[64];

	crypto_hash_sha256(digest, (const unsigned char *)VERIFIER, strlen(VERIFIER));
	sodium_bin2base64(challenge, sizeof(challenge), digest, sizeof(digest),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	assert_int_equal(ts_provider_code(p, CID, REDIRECT, challenge, code, cap), 0);
}

static void set_mode(const struct ts_proc *p, const char *form)
{
	assert_int_equal(ts_provider_mode(p, form), 0);
}

/* The provider's count of token requests by grant or client authentication. */
static long count(const struct ts_proc *p, const char *what)
{
	long n = ts_provider_count(p, what);

	assert_true(n >= 0);
	return n;
}

static const char *member(const json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

/* Seconds from now to an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SSZ". */
static long long seconds_until(const char *rfc3339)
{
	struct tm tm = { 0 };
	const char *rest;

	assert_non_null(rfc3339);
	assert_int_equal(strlen(rfc3339), 20);
	rest = strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ", &tm);
	assert_non_null(rest);
	assert_int_equal(*rest, '\0');
	return (long long)timegm(&tm) - (long long)time(NULL);
}

/* Exchanges a fresh code at p; returns the token JSON. */
static json_t *exchange_ok(const struct ts_proc *p, const char *token_url)
{
	struct mmapps_oauth2_config cfg = config(token_url);
	struct mmapps_oauth2_error e;
	char code[128], *out = NULL;
	size_t len = 0;
	json_t *t;

	get_code(p, code, sizeof(code));
	if (mmapps_oauth2_exchange(&cfg, code, VERIFIER, &out, &len, &e) != MMAPPS_OK)
		fail_msg("exchange: %s", e.message);
	assert_int_equal(e.status, 200);
	assert_string_equal(e.message, "");
	assert_int_equal(len, strlen(out));
	t = json_loadb(out, len, 0, NULL);
	mmapps_free(out);
	assert_non_null(t);
	return t;
}

static void exchange_gives_a_go_oauth2_token(void **state)
{
	long basic = count(&any, "basic"), form = count(&any, "form");
	json_t *t = exchange_ok(&any, any_token_url);
	long long left = seconds_until(member(t, "expiry"));
	const char *keys[] = { "access_token", "token_type", "refresh_token", "expiry", "login" };
	const char *key;
	json_t *v;
	size_t i = 0;

	(void)state;
	assert_int_equal(strncmp(member(t, "access_token"), "gho_", 4), 0);
	assert_string_equal(member(t, "token_type"), "bearer");
	assert_int_equal(strncmp(member(t, "refresh_token"), "ghr_", 4), 0);
	/* expires_in 3600 became an expiry about an hour away. */
	assert_true(left > 3000 && left <= 3600);
	/* The provider's own member stays; expires_in goes; the order is Go's. */
	assert_string_equal(member(t, "login"), "octocat");
	assert_null(json_object_get(t, "expires_in"));
	json_object_foreach(t, key, v)
	{
		assert_true(i < 5);
		assert_string_equal(key, keys[i++]);
	}
	json_decref(t);
	/* Basic worked at once: no second request in the form. */
	assert_int_equal(count(&any, "basic"), basic + 1);
	assert_int_equal(count(&any, "form"), form);
}

static void no_expires_in_means_no_expiry(void **state)
{
	json_t *t;

	(void)state;
	set_mode(&any, "expires_in=0");
	t = exchange_ok(&any, any_token_url);
	set_mode(&any, "expires_in=3600");
	assert_null(json_object_get(t, "expiry"));
	assert_non_null(member(t, "refresh_token"));
	json_decref(t);
}

static void bad_or_used_codes_are_invalid_grant(void **state)
{
	struct mmapps_oauth2_config cfg = config(any_token_url);
	struct mmapps_oauth2_error e;
	char code[128], *out = (char *)1;
	long form = count(&any, "form");

	(void)state;
	assert_int_equal(mmapps_oauth2_exchange(&cfg, "no-such-code", VERIFIER, &out, NULL, &e),
			 MMAPPS_EHTTP);
	assert_null(out);
	assert_int_equal(e.status, 400);
	assert_string_equal(e.error, "invalid_grant");
	assert_string_equal(e.message,
			    "the provider refused (HTTP 400): invalid_grant: unknown or used code");
	/* A good code, once. */
	get_code(&any, code, sizeof(code));
	assert_int_equal(mmapps_oauth2_exchange(&cfg, code, VERIFIER, &out, NULL, &e), MMAPPS_OK);
	mmapps_free(out);
	assert_int_equal(mmapps_oauth2_exchange(&cfg, code, VERIFIER, &out, NULL, &e),
			 MMAPPS_EHTTP);
	assert_string_equal(e.error, "invalid_grant");
	/* The wrong PKCE verifier. */
	get_code(&any, code, sizeof(code));
	assert_int_equal(mmapps_oauth2_exchange(&cfg, code, "another-verifier-0123456789-abcdefgh",
						&out, NULL, &e),
			 MMAPPS_EHTTP);
	assert_string_equal(e.error, "invalid_grant");
	assert_non_null(strstr(e.message, "PKCE"));
	/* invalid_grant is never tried again in the form: a code is good once. */
	assert_int_equal(count(&any, "form"), form);
}

static void wrong_client_secret_is_named_but_never_shown(void **state)
{
	struct mmapps_oauth2_config cfg = config(any_token_url);
	struct mmapps_oauth2_error e;
	char code[128], *out = NULL;

	(void)state;
	cfg.client_secret = "not-the-secret-at-all";
	get_code(&any, code, sizeof(code));
	assert_int_equal(mmapps_oauth2_exchange(&cfg, code, VERIFIER, &out, NULL, &e),
			 MMAPPS_EHTTP);
	assert_string_equal(e.error, "invalid_client");
	assert_non_null(strstr(e.message, "wrong client credentials"));
	assert_null(strstr(e.message, "not-the-secret"));
	assert_null(strstr(e.message, code));
}

static void refresh_keeps_the_refresh_token_the_provider_does_not_replace(void **state)
{
	struct mmapps_oauth2_config cfg = config(any_token_url);
	struct mmapps_oauth2_error e;
	json_t *t = exchange_ok(&any, any_token_url), *n;
	char first[128], *out = NULL;
	long refreshes = count(&any, "refresh_token");

	(void)state;
	snprintf(first, sizeof(first), "%s", member(t, "refresh_token"));
	json_decref(t);
	/* No rotation: the answer has no refresh_token; the old one stays. */
	set_mode(&any, "rotate=0");
	cfg.redirect_url = NULL;
	assert_int_equal(mmapps_oauth2_refresh(&cfg, first, &out, NULL, &e), MMAPPS_OK);
	n = json_loads(out, 0, NULL);
	mmapps_free(out);
	assert_string_equal(member(n, "refresh_token"), first);
	assert_int_equal(strncmp(member(n, "access_token"), "gho_", 4), 0);
	assert_true(seconds_until(member(n, "expiry")) > 3000);
	json_decref(n);
	/* Rotation: a new one, and the old one is spent. */
	set_mode(&any, "rotate=1");
	assert_int_equal(mmapps_oauth2_refresh(&cfg, first, &out, NULL, &e), MMAPPS_OK);
	n = json_loads(out, 0, NULL);
	mmapps_free(out);
	assert_string_not_equal(member(n, "refresh_token"), first);
	json_decref(n);
	assert_int_equal(mmapps_oauth2_refresh(&cfg, first, &out, NULL, &e), MMAPPS_EHTTP);
	assert_string_equal(e.error, "invalid_grant");
	assert_null(strstr(e.message, first));
	assert_int_equal(count(&any, "refresh_token"), refreshes + 3);
}

static void provider_failures_are_told_apart(void **state)
{
	struct mmapps_oauth2_config cfg = config(any_token_url);
	struct mmapps_oauth2_error e;
	char *out = NULL;
	long form = count(&any, "form");

	(void)state;
	set_mode(&any, "token=unavailable");
	assert_int_equal(mmapps_oauth2_refresh(&cfg, "ghr_x", &out, NULL, &e), MMAPPS_EHTTP);
	assert_int_equal(e.status, 503);
	assert_string_equal(e.error, "");
	assert_string_equal(e.message, "the provider answered HTTP 503");
	set_mode(&any, "token=not_json");
	assert_int_equal(mmapps_oauth2_refresh(&cfg, "ghr_x", &out, NULL, &e), MMAPPS_EPROTOCOL);
	assert_int_equal(e.status, 200);
	assert_non_null(strstr(e.message, "not a JSON object"));
	set_mode(&any, "token=invalid_grant");
	assert_int_equal(mmapps_oauth2_refresh(&cfg, "ghr_x", &out, NULL, &e), MMAPPS_EHTTP);
	assert_string_equal(e.error, "invalid_grant");
	assert_string_equal(
		e.message, "the provider refused (HTTP 400): invalid_grant: the grant was revoked");
	/* Too slow: the timeout, not a hang. */
	set_mode(&any, "token=slow&delay_ms=2000");
	cfg.timeout_ms = 300;
	assert_int_equal(mmapps_oauth2_refresh(&cfg, "ghr_x", &out, NULL, &e), MMAPPS_ENETWORK);
	assert_int_equal(e.status, 0);
	assert_non_null(strstr(e.message, "Timeout"));
	set_mode(&any, "token=normal");
	assert_null(out);
	/* None of these was retried in the form. */
	assert_int_equal(count(&any, "form"), form);
	/* Nobody there. */
	cfg.token_url = "http://127.0.0.1:1/token";
	assert_int_equal(mmapps_oauth2_refresh(&cfg, "ghr_x", &out, NULL, &e), MMAPPS_ENETWORK);
	assert_int_equal(e.status, 0);
	assert_non_null(strstr(e.message, "did not answer"));
}

static void basic_refused_then_the_form_is_used_and_remembered(void **state)
{
	struct mmapps_oauth2_config cfg = config(form_token_url);
	struct mmapps_oauth2_error e;
	char code[128], *out = NULL;
	json_t *t;

	(void)state;
	/* Told to use Basic only, the provider's refusal is the answer. */
	cfg.auth_style = MMAPPS_AUTH_STYLE_IN_HEADER;
	get_code(&form_only, code, sizeof(code));
	assert_int_equal(mmapps_oauth2_exchange(&cfg, code, VERIFIER, &out, NULL, &e),
			 MMAPPS_EHTTP);
	assert_int_equal(e.status, 401);
	assert_string_equal(e.error, "invalid_client");
	assert_non_null(strstr(e.message, "in the form only"));
	assert_int_equal(count(&form_only, "basic"), 1);
	assert_int_equal(count(&form_only, "form"), 0);
	/* Auto: Basic, refused, then the form, accepted. */
	t = exchange_ok(&form_only, form_token_url);
	assert_int_equal(strncmp(member(t, "access_token"), "gho_", 4), 0);
	json_decref(t);
	assert_int_equal(count(&form_only, "basic"), 2);
	assert_int_equal(count(&form_only, "form"), 1);
	/* Remembered: the next request goes in the form at once. */
	t = exchange_ok(&form_only, form_token_url);
	json_decref(t);
	assert_int_equal(count(&form_only, "basic"), 2);
	assert_int_equal(count(&form_only, "form"), 2);
}

static void bad_arguments_are_refused_before_any_request(void **state)
{
	struct mmapps_oauth2_config cfg = config(any_token_url);
	struct mmapps_oauth2_error e;
	char *out = (char *)1, *long_code = malloc(MMAPPS_OAUTH2_ARG_MAX + 2);
	long before = count(&any, "authorization_code");

	(void)state;
	assert_int_equal(mmapps_oauth2_exchange(NULL, "c", NULL, &out, NULL, &e), MMAPPS_EINVAL);
	assert_null(out);
	assert_int_equal(mmapps_oauth2_exchange(&cfg, "", NULL, &out, NULL, &e), MMAPPS_EINVAL);
	assert_int_equal(mmapps_oauth2_exchange(&cfg, "c", NULL, NULL, NULL, NULL), MMAPPS_EINVAL);
	assert_int_equal(mmapps_oauth2_refresh(&cfg, NULL, &out, NULL, NULL), MMAPPS_EINVAL);
	memset(long_code, 'c', MMAPPS_OAUTH2_ARG_MAX + 1);
	long_code[MMAPPS_OAUTH2_ARG_MAX + 1] = '\0';
	assert_int_equal(mmapps_oauth2_exchange(&cfg, long_code, NULL, &out, NULL, &e),
			 MMAPPS_EINVAL);
	free(long_code);
	cfg.token_url = "ftp://127.0.0.1/token";
	assert_int_equal(mmapps_oauth2_exchange(&cfg, "c", NULL, &out, NULL, &e), MMAPPS_EINVAL);
	assert_non_null(strstr(e.message, "http(s)"));
	cfg = config(any_token_url);
	cfg.client_id = "";
	assert_int_equal(mmapps_oauth2_exchange(&cfg, "c", NULL, &out, NULL, &e), MMAPPS_EINVAL);
	assert_int_equal(count(&any, "authorization_code"), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exchange_gives_a_go_oauth2_token),
		cmocka_unit_test(no_expires_in_means_no_expiry),
		cmocka_unit_test(bad_or_used_codes_are_invalid_grant),
		cmocka_unit_test(wrong_client_secret_is_named_but_never_shown),
		cmocka_unit_test(refresh_keeps_the_refresh_token_the_provider_does_not_replace),
		cmocka_unit_test(provider_failures_are_told_apart),
		cmocka_unit_test(basic_refused_then_the_form_is_used_and_remembered),
		cmocka_unit_test(bad_arguments_are_refused_before_any_request),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
