/* The response setters plugins use: what they copy and what they refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "response.h"

static void header_with_cr_or_lf_is_refused(void **state)
{
	struct mmplugin_response r;

	(void)state;
	response_init(&r);
	assert_int_equal(response_add_header(&r, "X-A", 3, "a\r\nSet-Cookie: x", 16),
			 MMPLUGIN_EINVAL);
	assert_int_equal(response_add_header(&r, "X-A", 3, "a\nb", 3), MMPLUGIN_EINVAL);
	assert_int_equal(response_add_header(&r, "X-A", 3, "a\0b", 3), MMPLUGIN_EINVAL);
	assert_int_equal(response_add_header(&r, "X A", 3, "a", 1), MMPLUGIN_EINVAL);
	assert_int_equal(response_add_header(&r, "X:A", 3, "a", 1), MMPLUGIN_EINVAL);
	assert_int_equal(response_add_header(&r, "", 0, "a", 1), MMPLUGIN_EINVAL);
	assert_int_equal(r.headers_len, 0);
	assert_false(r.touched);
	response_free(&r);
}

static void host_owned_headers_are_refused(void **state)
{
	static const char *const names[] = { "Content-Length", "transfer-encoding", "CONNECTION",
					     "x-request-id" };
	struct mmplugin_response r;

	(void)state;
	response_init(&r);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(response_add_header(&r, names[i], strlen(names[i]), "1", 1),
				 MMPLUGIN_EINVAL);
	response_free(&r);
}

static void headers_are_copied_and_bounded(void **state)
{
	struct mmplugin_response r;
	char value[] = "text/plain";

	(void)state;
	response_init(&r);
	assert_int_equal(response_add_header(&r, "Content-Type", 12, value, strlen(value)), 0);
	value[0] = 'X';
	assert_string_equal(response_header(&r, "content-type"), "text/plain");
	for (int i = 1; i < RESPONSE_HEADERS_MAX; i++)
		assert_int_equal(response_add_header(&r, "X-N", 3, "v", 1), 0);
	assert_int_equal(response_add_header(&r, "X-N", 3, "v", 1), MMPLUGIN_ELIMIT);
	response_free(&r);
}

static void status_outside_range_is_refused(void **state)
{
	struct mmplugin_response r;

	(void)state;
	response_init(&r);
	assert_int_equal(response_set_status(&r, 99), MMPLUGIN_EINVAL);
	assert_int_equal(response_set_status(&r, 600), MMPLUGIN_EINVAL);
	assert_int_equal(r.status, 0);
	assert_int_equal(response_set_status(&r, 201), 0);
	assert_int_equal(r.status, 201);
	response_free(&r);
}

static void body_is_copied_and_replaced(void **state)
{
	struct mmplugin_response r;
	char body[] = "hello";

	(void)state;
	response_init(&r);
	assert_int_equal(response_set_body(&r, body, 5), 0);
	body[0] = 'j';
	assert_memory_equal(r.body, "hello", 5);
	assert_int_equal(response_set_body(&r, "bye", 3), 0);
	assert_int_equal(r.body_len, 3);
	assert_int_equal(response_set_body(&r, NULL, 1), MMPLUGIN_EINVAL);
	assert_int_equal(response_set_body(&r, body, (size_t)RESPONSE_BODY_MAX + 1),
			 MMPLUGIN_ELIMIT);
	assert_int_equal(response_set_body(&r, NULL, 0), 0);
	assert_int_equal(r.body_len, 0);
	response_free(&r);
}

static void error_has_mattermost_shape(void **state)
{
	struct mmplugin_response r;

	(void)state;
	response_init(&r);
	assert_int_equal(response_error(&r, 404, "api.context.404.app_error", "Not here.", "rid"),
			 0);
	assert_int_equal(r.status, 404);
	assert_string_equal(response_header(&r, "Content-Type"), "application/json");
	assert_string_equal(r.body, "{\"id\":\"api.context.404.app_error\",\"message\":\"Not "
				    "here.\",\"detailed_error\":\"\",\"request_id\":\"rid\","
				    "\"status_code\":404}");
	response_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_with_cr_or_lf_is_refused),
		cmocka_unit_test(host_owned_headers_are_refused),
		cmocka_unit_test(headers_are_copied_and_bounded),
		cmocka_unit_test(status_outside_range_is_refused),
		cmocka_unit_test(body_is_copied_and_replaced),
		cmocka_unit_test(error_has_mattermost_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
