/* Room for query arguments in libmicrohttpd's connection memory: the bound
 * stays under what libmicrohttpd 0.9.75 drops, as measured against it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "query_room.h"

#define POOL (32 * 1024)

static void arguments_are_counted_as_libmicrohttpd_parses_them(void **state)
{
	(void)state;
	assert_int_equal(query_room_args("/x", 2), 0);
	assert_int_equal(query_room_args("/x?", 3), 0);
	assert_int_equal(query_room_args("/x?a", 4), 1);
	assert_int_equal(query_room_args("/x?a=1&b=2&c", 12), 3);
	assert_int_equal(query_room_args("/x?&&", 5), 3);
	/* Only the first '?' starts the query. */
	assert_int_equal(query_room_args("/x?a?b&c", 8), 2);
}

static void short_targets_leave_room_for_240_arguments(void **state)
{
	(void)state;
	/* The read buffer may hold half the pool (16 KiB) when the line is
	 * parsed: 256 records would fill the other half exactly. */
	assert_true(query_room_fits(100, 0, POOL));
	assert_true(query_room_fits(100, 240, POOL));
	assert_false(query_room_fits(100, 241, POOL));
	assert_false(query_room_fits(2000, 1000, POOL));
}

static void long_targets_leave_room_for_fewer(void **state)
{
	(void)state;
	/* libmicrohttpd 0.9.75 holds 50 arguments in a 28,992-byte target
	 * and drops them in a 29,992-byte one; the bound stops well before. */
	assert_true(query_room_fits(15000, 50, POOL));
	assert_true(query_room_fits(26000, 50, POOL));
	assert_false(query_room_fits(27000, 50, POOL));
	assert_false(query_room_fits(29992, 50, POOL));
	/* Without arguments any target is libmicrohttpd's own business. */
	assert_true(query_room_fits(31000, 0, POOL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(arguments_are_counted_as_libmicrohttpd_parses_them),
		cmocka_unit_test(short_targets_leave_room_for_240_arguments),
		cmocka_unit_test(long_targets_leave_room_for_fewer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
