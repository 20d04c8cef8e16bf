/*
 * bench-audit-writers: what the audit trail costs a durable write. Each
 * write is what the OAuth2 user route does on disk: one store_write of a
 * ~200-byte value (LMDB, group commit), then, with the trail, one
 * audit_record of its event (grouped too); without it, the store_write
 * alone. 1 writer and N writers, with and without, in alternation for
 * ROUNDS rounds (this machine is shared: ratios are taken within a round).
 *
 *   bench-audit-writers DIR [N] [SECONDS] [ROUNDS]
 */
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_log.h"
#include "store.h"

#include "banned.h"

#define ALICE "ybndrfg8ejkmcpqxot1uwisza3"

static const char *const tables[] = { "bench" };
static struct store *st;
static struct audit_log *trail;
static atomic_bool stop;

struct writer {
	pthread_t t;
	int id;
	bool audit;
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
	const struct audit_event ev = { "oauth2_user_stored", ALICE, "bench-app", ALICE, NULL };
	struct put_arg a;

	memset(a.value, 'v', sizeof(a.value));
	while (!atomic_load(&stop)) {
		snprintf(a.key, sizeof(a.key), "w%03d-%06lu", w->id, w->writes % 1000);
		if (store_write(st, put_one, &a) != STORE_OK ||
		    (w->audit && audit_record(trail, &ev, AUDIT_FROM_PLUGIN) != AUDIT_OK)) {
			w->failed = 1;
			break;
		}
		w->writes++;
	}
	return NULL;
}

static double rate(int n, int seconds, bool audit)
{
	struct writer *w = calloc((size_t)n, sizeof(*w));
	struct timespec t0, t1, d = { seconds, 0 };
	unsigned long total = 0;

	atomic_store(&stop, false);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		w[i].id = i;
		w[i].audit = audit;
		pthread_create(&w[i].t, NULL, run, &w[i]);
	}
	nanosleep(&d, NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].t, NULL);
		total += w[i].writes;
		if (w[i].failed)
			fprintf(stderr, "writer %d failed\n", i);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(w);
	return (double)total /
	       ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct store_config cfg;
	struct store_options opt = { .component = "bench", .tables = tables, .n_tables = 1 };
	unsigned char key[AUDIT_KEY_LEN];
	char err[512], env[4096];
	int n = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 64;
	int seconds = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 3;
	int rounds = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 3;
	double r1[16], rn[16];
	struct audit_stats a0, a1;

	if (argc < 2 || rounds < 1 || rounds > 16 || n < 1 || seconds < 1) {
		fprintf(stderr, "usage: %s DIR [N] [SECONDS] [ROUNDS<=16]\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(key, sizeof(key));
	store_config_init(&cfg);
	snprintf(env, sizeof(env), "%s/store", argv[1]);
	opt.lmdb_dir = env;
	if (store_open(&cfg, &opt, &st, err, sizeof(err)) != STORE_OK ||
	    audit_open(argv[1], key, &trail, err, sizeof(err)) != AUDIT_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("| round | 1 writer, store only | 1 writer, with audit | ratio | %d writers, store "
	       "only | %d writers, with audit | ratio |\n|---|---|---|---|---|---|---|\n",
	       n, n);
	for (int r = 0; r < rounds; r++) {
		double s1 = rate(1, seconds, false), w1 = rate(1, seconds, true);
		double sn, wn;
		audit_get_stats(trail, &a0);
		sn = rate(n, seconds, false);
		wn = rate(n, seconds, true);
		audit_get_stats(trail, &a1);
		r1[r] = w1 / s1;
		rn[r] = wn / sn;
		printf("| %d | %.0f/s | %.0f/s | %.2f | %.0f/s | %.0f/s | %.2f |\n", r + 1, s1, w1,
		       r1[r], sn, wn, rn[r]);
		fflush(stdout);
	}
	qsort(r1, (size_t)rounds, sizeof(double), cmp_double);
	qsort(rn, (size_t)rounds, sizeof(double), cmp_double);
	printf("\nmedian with/without audit: 1 writer %.2f, %d writers %.2f; %d writers: %.1f "
	       "audit lines per fdatasync (last round)\n",
	       r1[rounds / 2], n, rn[rounds / 2], n,
	       (double)(a1.lines - a0.lines) /
		       (double)(a1.syncs - a0.syncs ? a1.syncs - a0.syncs : 1));
	audit_close(trail);
	store_close(st);
	return 0;
}
