/* The per-address connection limit: what counts as one client (an IPv4
 * address, an IPv6 /64, an IPv4-mapped IPv6 address as its IPv4 address)
 * and that counts survive any order of connections opening and closing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addr_limit.h"

static struct addr_key key4(const char *text)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct addr_key k;

	assert_int_equal(inet_pton(AF_INET, text, &a.sin_addr), 1);
	addr_key_of((const struct sockaddr *)&a, &k);
	return k;
}

static struct addr_key key6(const char *text)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	struct addr_key k;

	assert_int_equal(inet_pton(AF_INET6, text, &a.sin6_addr), 1);
	addr_key_of((const struct sockaddr *)&a, &k);
	return k;
}

static int same(struct addr_key a, struct addr_key b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static void one_client_is_an_ipv4_address_or_an_ipv6_64(void **state)
{
	(void)state;
	assert_false(same(key4("192.0.2.1"), key4("192.0.2.2")));
	assert_true(same(key6("2001:db8:1:2::1"), key6("2001:db8:1:2:ffff:ffff:ffff:fffe")));
	assert_false(same(key6("2001:db8:1:2::1"), key6("2001:db8:1:3::1")));
	/* What a dual-stack listener sees of an IPv4 client. */
	assert_true(same(key6("::ffff:192.0.2.1"), key4("192.0.2.1")));
	assert_false(same(key6("::ffff:192.0.2.1"), key6("::ffff:192.0.2.2")));
	/* Not an IPv4 address that happens to share bytes with an IPv6 one. */
	assert_false(same(key6("c000:201::"), key4("192.0.2.1")));
}

static void a_group_gets_per_group_connections(void **state)
{
	struct addr_limit l;
	struct addr_key a = key6("2001:db8::1"), b = key6("2001:db8::2"), c = key6("2001:db9::1");

	(void)state;
	assert_int_equal(addr_limit_init(&l, 64, 2), 0);
	assert_true(addr_limit_take(&l, &a));
	assert_true(addr_limit_take(&l, &b)); /* the same /64 */
	assert_false(addr_limit_take(&l, &a));
	assert_false(addr_limit_take(&l, &b));
	assert_true(addr_limit_take(&l, &c));
	addr_limit_give(&l, &a);
	assert_true(addr_limit_take(&l, &b));
	addr_limit_destroy(&l);
}

static void counts_survive_any_order(void **state)
{
	enum { KEYS = 300, LIMIT = 3, STEPS = 200000 };
	static unsigned shadow[KEYS];
	struct addr_limit l;
	unsigned seed = 12345, open = 0;

	(void)state;
	memset(shadow, 0, sizeof(shadow));
	assert_int_equal(addr_limit_init(&l, 1000, LIMIT), 0);
	for (int step = 0; step < STEPS; step++) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		struct addr_key k;
		unsigned i;
		seed = seed * 1103515245u + 12345u;
		i = (seed >> 8) % KEYS;
		a.sin_addr.s_addr = htonl(0x0a000000u + i);
		addr_key_of((const struct sockaddr *)&a, &k);
		if ((seed >> 20) & 1) {
			bool want = shadow[i] < LIMIT;
			assert_int_equal(addr_limit_take(&l, &k), want);
			shadow[i] += want;
			open += want;
		} else if (shadow[i]) {
			addr_limit_give(&l, &k);
			shadow[i]--;
			open--;
		}
	}
	/* Everything closes; the table is empty again. */
	for (unsigned i = 0; i < KEYS; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		struct addr_key k;
		a.sin_addr.s_addr = htonl(0x0a000000u + i);
		addr_key_of((const struct sockaddr *)&a, &k);
		while (shadow[i]--)
			addr_limit_give(&l, &k);
	}
	assert_int_equal(l.used, 0);
	(void)open;
	addr_limit_destroy(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_client_is_an_ipv4_address_or_an_ipv6_64),
		cmocka_unit_test(a_group_gets_per_group_connections),
		cmocka_unit_test(counts_survive_any_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
