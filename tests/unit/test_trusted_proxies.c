/*
 * Trusted proxies: which CIDRs the config takes, and who the client is
 * behind them.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "trusted_proxies.h"

static void list(struct trusted_proxies *tp, const char *const *cidrs)
{
	char err[256];

	memset(tp, 0, sizeof(*tp));
	for (size_t i = 0; cidrs[i]; i++)
		assert_int_equal(trusted_proxies_add(tp, cidrs[i], err, sizeof(err)), 0);
}

static void cidrs_are_parsed_strictly(void **state)
{
	static const char *const bad[] = {
		"",
		"10.0.0.0/",
		"10.0.0.0/33",
		"10.0.0.1/8",
		"::1/129",
		"2001:db8::1/32",
		"proxy.local",
		"10.0.0.0 /8",
		"10.0.0.0/8 ",
		"10.0.0.0/-1",
		"10.0.0.0/08x",
		"1.2.3",
		"::ffff:10.0.0.1/8",
		"[::1]",
		"::ffff:10.0.0.0/104",
	};
	static const char *const good[] = {
		"10.0.0.0/8", "192.0.2.7", "0.0.0.0/0",     "2001:db8::/32",
		"::1",        "::/0",      "172.16.0.0/12",
	};
	struct trusted_proxies tp = { 0 };
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (trusted_proxies_add(&tp, bad[i], err, sizeof(err)) == 0)
			fail_msg("\"%s\" was taken", bad[i]);
		/* The error names the entry. */
		assert_non_null(strstr(err, bad[i]));
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (trusted_proxies_add(&tp, good[i], err, sizeof(err)) != 0)
			fail_msg("\"%s\": %s", good[i], err);
	}
	assert_int_equal(tp.len, sizeof(good) / sizeof(good[0]));
}

static void the_list_is_bounded(void **state)
{
	struct trusted_proxies tp = { 0 };
	char err[256], cidr[32];

	(void)state;
	for (int i = 0; i < TRUSTED_PROXIES_MAX; i++) {
		snprintf(cidr, sizeof(cidr), "10.0.%d.0/24", i);
		assert_int_equal(trusted_proxies_add(&tp, cidr, err, sizeof(err)), 0);
	}
	assert_int_equal(trusted_proxies_add(&tp, "10.1.0.0/16", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than"));
}

static void peers_match_their_networks(void **state)
{
	static const char *const cidrs[] = { "10.0.0.0/8", "192.0.2.7", "2001:db8::/32", NULL };
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct trusted_proxies tp;

	(void)state;
	list(&tp, cidrs);
	inet_pton(AF_INET, "10.200.3.4", &a4.sin_addr);
	assert_true(trusted_proxies_match_sockaddr(&tp, (struct sockaddr *)&a4));
	inet_pton(AF_INET, "11.0.0.1", &a4.sin_addr);
	assert_false(trusted_proxies_match_sockaddr(&tp, (struct sockaddr *)&a4));
	inet_pton(AF_INET, "192.0.2.8", &a4.sin_addr);
	assert_false(trusted_proxies_match_sockaddr(&tp, (struct sockaddr *)&a4));
	inet_pton(AF_INET6, "2001:db8:ffff::1", &a6.sin6_addr);
	assert_true(trusted_proxies_match_sockaddr(&tp, (struct sockaddr *)&a6));
	inet_pton(AF_INET6, "2001:db9::1", &a6.sin6_addr);
	assert_false(trusted_proxies_match_sockaddr(&tp, (struct sockaddr *)&a6));
	/* An IPv4 client on a dual-stack socket. */
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &a6.sin6_addr);
	assert_true(trusted_proxies_match_sockaddr(&tp, (struct sockaddr *)&a6));
	/* Nothing configured: nobody is trusted. */
	memset(&tp, 0, sizeof(tp));
	inet_pton(AF_INET, "10.0.0.1", &a4.sin_addr);
	assert_false(trusted_proxies_match_sockaddr(&tp, (struct sockaddr *)&a4));
}

/* The client trusted_proxies_client finds in the headers. */
static const char *client(const struct trusted_proxies *tp, const char *const *xff, size_t n)
{
	static char out[CLIENT_ADDR_MAX];

	trusted_proxies_client(tp, xff, n, "10.0.0.1", out, sizeof(out));
	return out;
}

static void the_client_is_the_rightmost_untrusted_address(void **state)
{
	static const char *const cidrs[] = { "10.0.0.0/8", "2001:db8::/32", NULL };
	struct trusted_proxies tp;

	(void)state;
	list(&tp, cidrs);
	{
		const char *h[] = { "203.0.113.9" };
		assert_string_equal(client(&tp, h, 1), "203.0.113.9");
	}
	{
		/* A client's own entries on the left prove nothing. */
		const char *h[] = { "6.6.6.6, 203.0.113.9, 10.1.1.1" };
		assert_string_equal(client(&tp, h, 1), "203.0.113.9");
	}
	{
		/* Two headers are one list, in order. */
		const char *h[] = { "6.6.6.6", "203.0.113.9,10.1.1.1" };
		assert_string_equal(client(&tp, h, 2), "203.0.113.9");
		const char *g[] = { "6.6.6.6, 203.0.113.9", "10.1.1.1" };
		assert_string_equal(client(&tp, g, 2), "203.0.113.9");
	}
	{
		/* All trusted: the leftmost. */
		const char *h[] = { "10.9.9.9, 10.1.1.1" };
		assert_string_equal(client(&tp, h, 1), "10.9.9.9");
	}
	{
		/* Garbage ends the walk at the last trusted hop. */
		const char *h[] = { "203.0.113.9, unknown, 10.1.1.1" };
		assert_string_equal(client(&tp, h, 1), "10.1.1.1");
		const char *g[] = { "1.2.3.4:5678" };
		assert_string_equal(client(&tp, g, 1), "10.0.0.1");
		const char *e[] = { "" };
		assert_string_equal(client(&tp, e, 1), "10.0.0.1");
	}
	{
		/* Canonical forms; spaces and a trailing comma are forgiven. */
		const char *h[] = { "  2001:DB9:0::7 ,  " };
		assert_string_equal(client(&tp, h, 1), "2001:db9::7");
		const char *g[] = { "::ffff:203.0.113.9" };
		assert_string_equal(client(&tp, g, 1), "203.0.113.9");
	}
}

static void forwarded_proto_takes_the_nearest_hop(void **state)
{
	(void)state;
	assert_true(forwarded_proto_is_https("https"));
	assert_true(forwarded_proto_is_https("HTTPS"));
	assert_true(forwarded_proto_is_https("http, https "));
	assert_false(forwarded_proto_is_https("https, http"));
	assert_false(forwarded_proto_is_https("httpsx"));
	assert_false(forwarded_proto_is_https(""));
	assert_false(forwarded_proto_is_https(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cidrs_are_parsed_strictly),
		cmocka_unit_test(the_list_is_bounded),
		cmocka_unit_test(peers_match_their_networks),
		cmocka_unit_test(the_client_is_the_rightmost_untrusted_address),
		cmocka_unit_test(forwarded_proto_takes_the_nearest_hop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
