/*
 * bench-store-writers: durable writes per second through the storage seam
 * (common/store.h) with 1 writer, then with N concurrent writers, and their
 * ratio. Each write is one store_write of one ~200-byte value, the shape of
 * an OAuth2 user record.
 *
 *   bench-store-writers lmdb DIR [N] [SECONDS]
 *   bench-store-writers postgres URL [N] [SECONDS] [POOL]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

#include "banned.h"

static const char *const tables[] = { "bench" };
static struct store *st;
static atomic_bool stop;

struct writer {
	pthread_t t;
	int id;
	unsigned long writes;
	int failed;
};

struct put_arg {
	char key[32];
	char value[200];
};

static int put_one(struct store_txn *txn, void *arg)
{
	struct put_arg *a = arg;

	return store_put(txn, 0, a->key, strlen(a->key), a->value, sizeof(a->value), 0);
}

static void *run(void *arg)
{
	struct writer *w = arg;
	struct put_arg a;

	memset(a.value, 'v', sizeof(a.value));
	while (!atomic_load(&stop)) {
		snprintf(a.key, sizeof(a.key), "w%03d-%06lu", w->id, w->writes % 1000);
		if (store_write(st, put_one, &a) != STORE_OK) {
			w->failed = 1;
			break;
		}
		w->writes++;
	}
	return NULL;
}

static double rate(int n, int seconds)
{
	struct writer *w = calloc((size_t)n, sizeof(*w));
	struct timespec t0, t1;
	unsigned long total = 0;
	double secs;

	atomic_store(&stop, false);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		w[i].id = i;
		pthread_create(&w[i].t, NULL, run, &w[i]);
	}
	{
		struct timespec d = { seconds, 0 };
		nanosleep(&d, NULL);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].t, NULL);
		total += w[i].writes;
		if (w[i].failed)
			fprintf(stderr, "writer %d failed\n", i);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	free(w);
	return (double)total / secs;
}

int main(int argc, char **argv)
{
	struct store_config cfg;
	struct store_options opt = { .component = "bench", .tables = tables, .n_tables = 1 };
	char err[STORE_ERR_MAX];
	int n = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 64;
	int seconds = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 5;
	struct store_stats s0, s1;
	double one, many;

	if (argc < 3) {
		fprintf(stderr, "usage: %s lmdb DIR | postgres URL [N] [SECONDS] [POOL]\n",
			argv[0]);
		return 2;
	}
	store_config_init(&cfg);
	if (strcmp(argv[1], "postgres") == 0) {
		cfg.backend = STORE_BACKEND_POSTGRES;
		snprintf(cfg.url, sizeof(cfg.url), "%s", argv[2]);
		if (argc > 5)
			cfg.pool_size = (unsigned)(int)strtol(argv[5], NULL, 10);
	} else {
		opt.lmdb_dir = argv[2];
	}
	if (store_open(&cfg, &opt, &st, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	one = rate(1, seconds);
	store_get_stats(st, &s0);
	many = rate(n, seconds);
	store_get_stats(st, &s1);
	printf("%s: 1 writer %.0f writes/s; %d writers %.0f writes/s (%.1f writes per commit); "
	       "ratio %.1fx\n",
	       argv[1], one, n, many,
	       (double)(s1.writes - s0.writes) /
		       (double)(s1.commits - s0.commits ? s1.commits - s0.commits : 1),
	       many / one);
	store_close(st);
	return 0;
}
