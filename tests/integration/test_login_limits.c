/*
 * The failed-login limiter against the real host: parallel guesses are
 * counted before any password is checked, user names chosen to land on the
 * account's or the address's counter reset nothing, and a failed login_id
 * never reaches the log as text. Each test runs its own host, so that
 * counters start at zero.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <sodium.h>

#include "testsupport.h"

#define BOB_PW "bob-password-1"
#define PARALLEL 40

static char plugins[256];

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	return ts_tempdir("limits-plugins", plugins, sizeof(plugins));
}

static int teardown(void **state)
{
	(void)state;
	ts_rmtree(plugins);
	curl_global_cleanup();
	return 0;
}

/* A host of its own with the user bob. */
static void start(struct ts_host *h)
{
	char data_dir[320], id[32];

	assert_int_equal(ts_host_start(h, plugins, NULL), 0);
	snprintf(data_dir, sizeof(data_dir), "%s/data", h->dir);
	assert_int_equal(ts_create_user(data_dir, "bob", BOB_PW, 0, id), 0);
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static CURL *login_handle(const struct ts_host *h, const char *body, const char *from)
{
	char url[256];
	CURL *c = curl_easy_init();

	assert_non_null(c);
	snprintf(url, sizeof(url), "%s/api/v4/users/login", h->base_url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* Any 127.0.0.0/8 address reaches the host on 127.0.0.1: a client
	 * address of the test's choosing. */
	if (from)
		curl_easy_setopt(c, CURLOPT_INTERFACE, from);
	return c;
}

/* One login as user with password, from the client address from (NULL: the
 * default). Returns the HTTP status. */
static long login_from(const struct ts_host *h, const char *user, const char *pw, const char *from)
{
	char body[256];
	long status = 0;
	CURL *c;

	snprintf(body, sizeof(body), "{\"login_id\":\"%s\",\"password\":\"%s\"}", user, pw);
	c = login_handle(h, body, from);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

static void parallel_wrong_logins_reach_the_password_check_ten_times(void **state)
{
	const char *body = "{\"login_id\":\"bob\",\"password\":\"wrong-password\"}";
	CURL *c[PARALLEL];
	CURLM *m = curl_multi_init();
	int running = 0, n401 = 0, n429 = 0;
	struct ts_host h;

	(void)state;
	start(&h);
	for (int i = 0; i < PARALLEL; i++) {
		c[i] = login_handle(&h, body, NULL);
		curl_multi_add_handle(m, c[i]);
	}
	do {
		assert_int_equal(curl_multi_perform(m, &running), CURLM_OK);
		if (running)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	} while (running);
	for (int i = 0; i < PARALLEL; i++) {
		long status = 0;
		curl_easy_getinfo(c[i], CURLINFO_RESPONSE_CODE, &status);
		n401 += status == 401;
		n429 += status == 429;
		curl_multi_remove_handle(m, c[i]);
		curl_easy_cleanup(c[i]);
	}
	curl_multi_cleanup(m);
	/* Each attempt is counted before its password is checked, under the
	 * same lock as the check: however they interleave, ten get through. */
	assert_int_equal(n401, 10);
	assert_int_equal(n429, PARALLEL - 10);
	assert_int_equal(login_from(&h, "bob", BOB_PW, NULL), 429);
	assert_int_equal(ts_host_stop(&h), 0);
}

/*
 * The counter slot the first limiter gave a key: an unkeyed BLAKE2b-64 of
 * the kind ('u' user name, 'i' address) and the lower-case key, modulo 4096
 * slots shared by both kinds. Anyone could compute it, so an attacker could
 * pick user names whose failures took over the account's or the address's
 * slot and start its count again. The names below are found that way; a
 * limiter keyed with a secret and with a table per kind must give them no
 * power over anyone else's count.
 */
static unsigned old_slot(char kind, const char *key)
{
	crypto_generichash_state st;
	unsigned char out[8], k = (unsigned char)kind;
	uint64_t tag;

	crypto_generichash_init(&st, NULL, 0, sizeof(out));
	crypto_generichash_update(&st, &k, 1);
	crypto_generichash_update(&st, (const unsigned char *)key, strlen(key));
	crypto_generichash_final(&st, out, sizeof(out));
	memcpy(&tag, out, sizeof(tag));
	return (unsigned)((tag ? tag : 1) % 4096);
}

/* A user name (lower case) whose failures landed on slot. */
static void name_for_slot(unsigned slot, char *out, size_t cap)
{
	for (unsigned i = 0; i < 1000000; i++) {
		snprintf(out, cap, "x%u", i);
		if (old_slot('u', out) == slot)
			return;
	}
	fail_msg("no name found for slot %u", slot);
}

static void names_on_the_addresss_slot_reset_nothing(void **state)
{
	char on_bob[32], on_addr[32];
	int n401 = 0, n429 = 0;
	struct ts_host h;

	(void)state;
	name_for_slot(old_slot('u', "bob"), on_bob, sizeof(on_bob));
	name_for_slot(old_slot('i', "127.0.0.1"), on_addr, sizeof(on_addr));
	start(&h);
	/* One address guesses bob's password and, in between, fails with the
	 * two names that used to restart bob's count and the address's. */
	for (int round = 0; round < 12 && n429 == 0; round++) {
		const char *who[] = { "bob", on_bob, on_addr };
		for (int i = 0; i < 3; i++) {
			long s = login_from(&h, who[i], "wrong-password", "127.0.0.1");
			n401 += s == 401;
			n429 += s == 429;
		}
	}
	assert_int_equal(n401, 10);
	assert_true(n429 > 0);
	assert_int_equal(login_from(&h, "bob", BOB_PW, "127.0.0.1"), 429);
	assert_int_equal(ts_host_stop(&h), 0);
}

static void names_on_the_accounts_slot_reset_nothing(void **state)
{
	char on_bob[32], from[32];
	struct ts_host h;
	int n401 = 0;

	(void)state;
	name_for_slot(old_slot('u', "bob"), on_bob, sizeof(on_bob));
	start(&h);
	/* Each guess comes from an address of its own (as from a botnet), so
	 * only bob's own count can stop it; the name on bob's old slot fails
	 * in between. */
	for (int i = 0; i < 11; i++) {
		snprintf(from, sizeof(from), "127.0.1.%d", 10 + i);
		n401 += login_from(&h, "bob", "wrong-password", from) == 401;
		(void)login_from(&h, on_bob, "wrong-password", from);
	}
	assert_int_equal(n401, 10);
	/* The right password, from an address that never failed: bob's
	 * account is what is limited. */
	assert_int_equal(login_from(&h, "bob", BOB_PW, "127.0.2.1"), 429);
	/* Another account from that address is not. */
	assert_int_equal(login_from(&h, "carol", "wrong-password", "127.0.2.1"), 401);
	assert_int_equal(ts_host_stop(&h), 0);
}

static void an_accounts_name_and_email_share_one_count(void **state)
{
	char from[32];
	struct ts_host h;
	int n401 = 0;

	(void)state;
	start(&h);
	/* Each guess from an address of its own, alternating between the two
	 * login_ids of one account: its name and its email. */
	for (int i = 0; i < 20; i++) {
		snprintf(from, sizeof(from), "127.0.5.%d", 10 + i);
		n401 += login_from(&h, i % 2 ? "bob@localhost" : "bob", "wrong-password", from) ==
			401;
	}
	/* The account is what is limited: ten password checks, not ten per
	 * way of naming it. */
	assert_int_equal(n401, 10);
	assert_int_equal(login_from(&h, "bob@localhost", BOB_PW, "127.0.6.1"), 429);
	assert_int_equal(ts_host_stop(&h), 0);
}

static void failed_login_ids_never_reach_the_log(void **state)
{
	/* What people type in the wrong field: often a password. */
	const char *typed = "Correct-Horse-Battery-9";
	struct ts_host h;

	(void)state;
	start(&h);
	assert_int_equal(login_from(&h, typed, "whatever-1", NULL), 401);
	assert_int_equal(login_from(&h, "bob", "wrong-password", NULL), 401);
	for (int i = 0; i < 10; i++)
		(void)login_from(&h, typed, "whatever-1", NULL);
	assert_true(ts_host_wait_log(&h, "login rate limited", 5000));
	assert_true(ts_host_log_has(&h, "login failed"));
	assert_false(ts_host_log_has(&h, typed));
	assert_false(ts_host_log_has(&h, "Correct-Horse"));
	/* An unknown login_id is told apart by a keyed hash and its length;
	 * a known one by the account's id. */
	assert_true(ts_host_log_has(&h, "login_id_hash="));
	assert_true(ts_host_log_has(&h, "login_id_len=23"));
	assert_true(ts_host_log_has(&h, "user_id="));
	assert_int_equal(ts_host_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parallel_wrong_logins_reach_the_password_check_ten_times),
		cmocka_unit_test(names_on_the_addresss_slot_reset_nothing),
		cmocka_unit_test(names_on_the_accounts_slot_reset_nothing),
		cmocka_unit_test(an_accounts_name_and_email_share_one_count),
		cmocka_unit_test(failed_login_ids_never_reach_the_log),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
