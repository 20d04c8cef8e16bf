/*
 * The metrics registry: what a series may be called, what a scrape shows,
 * and counts that add up exactly whatever thread made them.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static int on(void **state)
{
	(void)state;
	return metrics_init(true);
}

static int off(void **state)
{
	(void)state;
	metrics_shutdown();
	return 0;
}

/* The scrape's text (caller frees). */
static char *scrape(void)
{
	struct metrics_buf b;

	assert_int_equal(metrics_render(&b), 0);
	assert_non_null(b.p);
	return b.p;
}

static int reg(enum metric_type t, const char *name, const char *label, const char *value,
	       struct metric_series **out)
{
	const char *n[] = { label }, *v[] = { value };
	static const double buckets[] = { 1, 2, 5 };

	return metrics_register(NULL, t, name, "Help text.", n, v, label ? 1 : 0,
				t == METRIC_HISTOGRAM ? buckets : NULL,
				t == METRIC_HISTOGRAM ? 3 : 0, out);
}

static void a_counter_counts_and_renders_with_its_labels(void **state)
{
	struct metric_series *s;
	char *text;

	(void)state;
	assert_int_equal(reg(METRIC_COUNTER, "t_ops_total", "op", "get", &s), METRICS_OK);
	metric_series_add(s, 2);
	metric_series_add(s, 1);
	text = scrape();
	assert_non_null(strstr(text, "# HELP t_ops_total Help text.\n"));
	assert_non_null(strstr(text, "# TYPE t_ops_total counter\n"));
	assert_non_null(strstr(text, "t_ops_total{op=\"get\"} 3\n"));
	free(text);
}

static void registering_again_gives_the_same_series(void **state)
{
	struct metric_series *a, *b, *c;
	const char *n[] = { "op" }, *v[] = { "get" };
	int owner;

	(void)state;
	assert_int_equal(reg(METRIC_COUNTER, "t_ops_total", "op", "get", &a), METRICS_OK);
	assert_int_equal(reg(METRIC_COUNTER, "t_ops_total", "op", "get", &b), METRICS_OK);
	assert_ptr_equal(a, b);
	assert_int_equal(reg(METRIC_COUNTER, "t_ops_total", "op", "put", &c), METRICS_OK);
	assert_ptr_not_equal(a, c);
	/* Another shape under the name, another owner of the name. */
	assert_int_equal(reg(METRIC_COUNTER, "t_ops_total", "kind", "get", &c), METRICS_EINVAL);
	assert_null(c);
	assert_int_equal(metrics_register(&owner, METRIC_COUNTER, "t_ops_total", "Help text.", n, v,
					  1, NULL, 0, &c),
			 METRICS_EEXIST);
	assert_int_equal(metrics_register(NULL, METRIC_COUNTER, "t_ops_total", "Other help.", n, v,
					  1, NULL, 0, &c),
			 METRICS_EINVAL);
}

static void names_labels_and_buckets_are_checked(void **state)
{
	static const double down[] = { 2, 1 }, inf[] = { 1, INFINITY };
	const char *five_n[] = { "a", "b", "c", "d", "e" }, *five_v[] = { "1", "2", "3", "4", "5" };
	const char *dup_n[] = { "a", "a" }, *dup_v[] = { "1", "2" };
	char long_value[METRICS_VALUE_MAX + 2];
	struct metric_series *s;

	(void)state;
	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	assert_int_equal(reg(METRIC_COUNTER, "bad name_total", NULL, NULL, &s), METRICS_EINVAL);
	assert_int_equal(reg(METRIC_COUNTER, "9lives_total", NULL, NULL, &s), METRICS_EINVAL);
	assert_int_equal(reg(METRIC_COUNTER, "t_colon:x_total", NULL, NULL, &s), METRICS_EINVAL);
	assert_int_equal(reg(METRIC_COUNTER, "t_ops", NULL, NULL, &s), METRICS_EINVAL);
	assert_int_equal(reg(METRIC_GAUGE, "t_level_total", NULL, NULL, &s), METRICS_EINVAL);
	assert_int_equal(reg(METRIC_GAUGE, "t_things_count", NULL, NULL, &s), METRICS_EINVAL);
	assert_int_equal(reg(METRIC_COUNTER, "t_a_total", "le", "1", &s), METRICS_EINVAL);
	assert_int_equal(reg(METRIC_COUNTER, "t_a_total", "__x", "1", &s), METRICS_EINVAL);
	assert_int_equal(reg(METRIC_COUNTER, "t_a_total", "op", "", &s), METRICS_EINVAL);
	assert_int_equal(reg(METRIC_COUNTER, "t_a_total", "op", "a\nb", &s), METRICS_EINVAL);
	assert_int_equal(reg(METRIC_COUNTER, "t_a_total", "op", long_value, &s), METRICS_EINVAL);
	assert_int_equal(metrics_register(NULL, METRIC_COUNTER, "t_a_total", "h", five_n, five_v, 5,
					  NULL, 0, &s),
			 METRICS_EINVAL);
	assert_int_equal(metrics_register(NULL, METRIC_COUNTER, "t_a_total", "h", dup_n, dup_v, 2,
					  NULL, 0, &s),
			 METRICS_EINVAL);
	assert_int_equal(
		metrics_register(NULL, METRIC_HISTOGRAM, "t_h", "h", NULL, NULL, 0, NULL, 0, &s),
		METRICS_EINVAL);
	assert_int_equal(
		metrics_register(NULL, METRIC_HISTOGRAM, "t_h", "h", NULL, NULL, 0, down, 2, &s),
		METRICS_EINVAL);
	assert_int_equal(
		metrics_register(NULL, METRIC_HISTOGRAM, "t_h", "h", NULL, NULL, 0, inf, 2, &s),
		METRICS_EINVAL);
	assert_int_equal(metrics_register(NULL, METRIC_COUNTER, "t_a_total", "bad\thelp", NULL,
					  NULL, 0, NULL, 0, &s),
			 METRICS_EINVAL);
}

static void a_name_holds_a_bounded_number_of_series(void **state)
{
	struct metric_series *s;
	char value[16];

	(void)state;
	for (int i = 0; i < METRICS_SERIES_MAX; i++) {
		snprintf(value, sizeof(value), "v%d", i);
		assert_int_equal(reg(METRIC_COUNTER, "t_many_total", "k", value, &s), METRICS_OK);
	}
	assert_int_equal(reg(METRIC_COUNTER, "t_many_total", "k", "one_more", &s), METRICS_ELIMIT);
	/* An existing one is still found. */
	assert_int_equal(reg(METRIC_COUNTER, "t_many_total", "k", "v3", &s), METRICS_OK);
}

static void a_histogram_is_cumulative_with_its_sum_and_count(void **state)
{
	struct metric_series *h;
	char *text;

	(void)state;
	assert_int_equal(reg(METRIC_HISTOGRAM, "t_size", NULL, NULL, &h), METRICS_OK);
	metric_series_observe(h, 0.5);
	metric_series_observe(h, 1); /* le is inclusive */
	metric_series_observe(h, 1.5);
	metric_series_observe(h, 7);
	metric_series_observe(h, NAN);
	text = scrape();
	assert_non_null(strstr(text, "# TYPE t_size histogram\n"));
	assert_non_null(strstr(text, "t_size_bucket{le=\"1\"} 2\n"));
	assert_non_null(strstr(text, "t_size_bucket{le=\"2\"} 3\n"));
	assert_non_null(strstr(text, "t_size_bucket{le=\"5\"} 3\n"));
	assert_non_null(strstr(text, "t_size_bucket{le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(text, "t_size_sum 10\n"));
	assert_non_null(strstr(text, "t_size_count 4\n"));
	free(text);
}

static void gauges_and_label_values_are_written_exactly(void **state)
{
	struct metric_series *g, *q;
	char *text;

	(void)state;
	assert_int_equal(reg(METRIC_GAUGE, "t_level", NULL, NULL, &g), METRICS_OK);
	assert_int_equal(reg(METRIC_GAUGE, "t_quoted", "k", "a\"b\\c", &q), METRICS_OK);
	metric_series_set(g, 0.1);
	metric_series_set(q, 1e21);
	text = scrape();
	assert_non_null(strstr(text, "t_level 0.1\n"));
	assert_non_null(strstr(text, "t_quoted{k=\"a\\\"b\\\\c\"} 1e+21\n"));
	free(text);
}

#define THREADS 8
#define ADDS 100000

static void *adder(void *arg)
{
	for (int i = 0; i < ADDS; i++)
		metric_series_add(arg, 1);
	return NULL;
}

static void counts_from_many_threads_add_up_exactly(void **state)
{
	pthread_t t[THREADS];
	struct metric_series *s;
	char *text, want[64];

	(void)state;
	assert_int_equal(reg(METRIC_COUNTER, "t_hits_total", NULL, NULL, &s), METRICS_OK);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, adder, s), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	text = scrape();
	snprintf(want, sizeof(want), "t_hits_total %d\n", THREADS * ADDS);
	assert_non_null(strstr(text, want));
	free(text);
}

static void while_off_registering_works_and_nothing_counts(void **state)
{
	struct metric_series *s;
	char *text;

	(void)state;
	metrics_shutdown();
	assert_int_equal(metrics_init(false), 0);
	assert_false(metrics_enabled());
	assert_int_equal(reg(METRIC_COUNTER, "t_ops_total", NULL, NULL, &s), METRICS_OK);
	metric_series_add(s, 5);
	text = scrape();
	assert_non_null(strstr(text, "t_ops_total 0\n"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_counter_counts_and_renders_with_its_labels, on,
						off),
		cmocka_unit_test_setup_teardown(registering_again_gives_the_same_series, on, off),
		cmocka_unit_test_setup_teardown(names_labels_and_buckets_are_checked, on, off),
		cmocka_unit_test_setup_teardown(a_name_holds_a_bounded_number_of_series, on, off),
		cmocka_unit_test_setup_teardown(a_histogram_is_cumulative_with_its_sum_and_count,
						on, off),
		cmocka_unit_test_setup_teardown(gauges_and_label_values_are_written_exactly, on,
						off),
		cmocka_unit_test_setup_teardown(counts_from_many_threads_add_up_exactly, on, off),
		cmocka_unit_test_setup_teardown(while_off_registering_works_and_nothing_counts, on,
						off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
