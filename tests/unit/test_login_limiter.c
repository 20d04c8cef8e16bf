/* The failed-login limiter: counting per account and per address,
 * atomic take, refunds, windows, and a table full of live entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "login_limiter.h"

static struct login_limiter l;

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	login_limiter_init(&l);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	login_limiter_destroy(&l);
	return 0;
}

static int take(const char *name, const char *addr, int64_t now, unsigned *retry)
{
	struct login_ticket t;

	return login_limiter_take(&l, LOGIN_ACCOUNT_NAME, name, addr, now, retry, &t);
}

static void each_name_and_each_address_gets_ten(void **state)
{
	unsigned retry = 0;

	(void)state;
	for (int i = 0; i < 10; i++)
		assert_int_equal(
			take(i < 5 ? "bob" : "BOB", i % 2 ? "10.0.0.1" : "10.0.0.2", 1000, &retry),
			LOGIN_LIMIT_OK);
	/* bob: 10 (case-insensitive); each address only 5. */
	assert_int_equal(take("bob", "10.0.0.3", 2000, &retry), LOGIN_LIMIT_ACCOUNT);
	assert_int_equal(retry, 59);
	assert_int_equal(take("carol", "10.0.0.1", 2000, &retry), LOGIN_LIMIT_OK);
	/* A refused attempt counted nothing: 10.0.0.3 is untouched. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(take("dave", "10.0.0.3", 2000, &retry), LOGIN_LIMIT_OK);
	assert_int_equal(take("erin", "10.0.0.3", 2000, &retry), LOGIN_LIMIT_ADDR);
	/* The windows end. */
	assert_int_equal(take("bob", "10.0.0.4", 1000 + LOGIN_WINDOW_MS, &retry), LOGIN_LIMIT_OK);
	assert_int_equal(take("erin", "10.0.0.3", 2000 + LOGIN_WINDOW_MS, &retry), LOGIN_LIMIT_OK);
}

static void ipv6_counts_per_64(void **state)
{
	unsigned retry;
	char a[64];

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(a, sizeof(a), "2001:db8:1:2::%x", i + 1);
		assert_int_equal(take("n6", a, 5000, &retry), LOGIN_LIMIT_OK);
	}
	assert_int_equal(take("m6", "2001:db8:1:2:ffff::1", 5000, &retry), LOGIN_LIMIT_ADDR);
	assert_int_equal(take("m6", "2001:db8:1:3::1", 5000, &retry), LOGIN_LIMIT_OK);
	/* IPv4 and the same address mapped into IPv6 are one client. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(take(i % 2 ? "p4" : "q4", i % 2 ? "192.0.2.9" : "::ffff:192.0.2.9",
				      5000, &retry),
				 LOGIN_LIMIT_OK);
	assert_int_equal(take("r4", "192.0.2.9", 5000, &retry), LOGIN_LIMIT_ADDR);
	assert_int_equal(take("r4", "192.0.2.10", 5000, &retry), LOGIN_LIMIT_OK);
}

static void a_login_that_succeeds_gives_its_count_back(void **state)
{
	struct login_ticket t;
	unsigned retry;

	(void)state;
	for (int i = 0; i < 9; i++)
		assert_int_equal(take("frank", "10.1.0.1", 7000, &retry), LOGIN_LIMIT_OK);
	/* The tenth is the right password: given back, so an eleventh may
	 * try; the twelfth may not (neither frank nor the address). */
	assert_int_equal(
		login_limiter_take(&l, LOGIN_ACCOUNT_NAME, "frank", "10.1.0.1", 7000, &retry, &t),
		LOGIN_LIMIT_OK);
	login_limiter_refund(&l, &t);
	assert_int_equal(take("frank", "10.1.1.1", 7000, &retry), LOGIN_LIMIT_OK);
	assert_int_equal(take("frank", "10.1.1.2", 7000, &retry), LOGIN_LIMIT_ACCOUNT);
	assert_int_equal(take("frank2", "10.1.0.1", 7000, &retry), LOGIN_LIMIT_OK);
	assert_int_equal(take("frank3", "10.1.0.1", 7000, &retry), LOGIN_LIMIT_ADDR);
	/* A refund after the window ended gives nothing to the next one. */
	assert_int_equal(
		login_limiter_take(&l, LOGIN_ACCOUNT_NAME, "gina", "10.1.0.2", 7000, &retry, &t),
		LOGIN_LIMIT_OK);
	for (int i = 0; i < 10; i++)
		assert_int_equal(take("gina", "10.1.0.3", 7000 + LOGIN_WINDOW_MS, &retry),
				 LOGIN_LIMIT_OK);
	login_limiter_refund(&l, &t);
	assert_int_equal(take("gina", "10.1.0.4", 7000 + LOGIN_WINDOW_MS, &retry),
			 LOGIN_LIMIT_ACCOUNT);
}

/* An account counts under its user id, whatever name it was typed as; a
 * login_id that names no account counts under its text. The two never
 * share a count, even when the text spells the id. */
static void an_account_and_a_typed_name_count_apart(void **state)
{
	const char *id = "k1d9wqz5m3bfxe8hc7ya6nrt4u";
	struct login_ticket t;
	unsigned retry;

	(void)state;
	for (int i = 0; i < 10; i++)
		assert_int_equal(
			login_limiter_take(&l, LOGIN_ACCOUNT_ID, id, "10.2.0.1", 9000, &retry, &t),
			LOGIN_LIMIT_OK);
	assert_int_equal(login_limiter_take(&l, LOGIN_ACCOUNT_ID, id, "10.2.0.2", 9000, &retry, &t),
			 LOGIN_LIMIT_ACCOUNT);
	assert_int_equal(take(id, "10.2.0.2", 9000, &retry), LOGIN_LIMIT_OK);
}

/* Fills the tables with live keys: a new key is refused once its bucket is
 * all live, and no live count was taken over on the way. */
static void a_full_table_refuses_new_keys_and_resets_none(void **state)
{
	const int64_t t0 = 1000000;
	const int cap = LOGIN_LIMITER_BUCKETS * LOGIN_LIMITER_WAYS;
	char name[32], addr[32];
	unsigned retry = 0;
	int i, rc = LOGIN_LIMIT_OK;

	(void)state;
	login_limiter_destroy(&l);
	login_limiter_init(&l);
	for (i = 0; i <= cap && rc == LOGIN_LIMIT_OK; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255,
			 i & 255);
		rc = take(name, addr, t0 + i / 1000, &retry);
	}
	assert_int_equal(rc, LOGIN_LIMIT_FULL);
	assert_true(i > 100 && i <= cap + 1);
	/* Until the bucket's first window ends. */
	assert_true(retry >= 1 && retry <= LOGIN_WINDOW_MS / 1000);
	/* Every key counted before still has its count: nine more for the
	 * first name (from addresses already counted) reach its limit. */
	for (int k = 1; k <= 9; k++) {
		snprintf(addr, sizeof(addr), "10.0.0.%d", k);
		assert_int_equal(take("user0", addr, t0 + 5000, &retry), LOGIN_LIMIT_OK);
	}
	assert_int_equal(take("user0", "10.0.0.10", t0 + 5000, &retry), LOGIN_LIMIT_ACCOUNT);
	/* And the address of the first: eight more (it has two now). */
	for (int k = 1; k <= 8; k++) {
		snprintf(name, sizeof(name), "user%d", k);
		assert_int_equal(take(name, "10.0.0.1", t0 + 5000, &retry), LOGIN_LIMIT_OK);
	}
	assert_int_equal(take("user9", "10.0.0.1", t0 + 5000, &retry), LOGIN_LIMIT_ADDR);
	/* Once the windows end, new keys take the expired entries. */
	assert_int_equal(take(name, addr, t0 + LOGIN_WINDOW_MS + 10000, &retry), LOGIN_LIMIT_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(each_name_and_each_address_gets_ten, setup,
						teardown),
		cmocka_unit_test_setup_teardown(ipv6_counts_per_64, setup, teardown),
		cmocka_unit_test_setup_teardown(a_login_that_succeeds_gives_its_count_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(an_account_and_a_typed_name_count_apart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_full_table_refuses_new_keys_and_resets_none,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
