/*
 * bench-key-check-writers: what the current-key check (plugin/key_current.h)
 * costs a durable write of a sealed record. Each write is what storing an
 * OAuth2 user record does in its transaction: one store_write that puts a
 * sealed ~200-byte value into the plugin's table oauth2_user, with the
 * check (key_current_check_txn: the keys table's row "current" read first,
 * share-locked on PostgreSQL) or without it. The plugin's real store and
 * keys (apps_store_open_backend, key_store_attach): LMDB in a folder, or
 * PostgreSQL. 1 writer and N writers, with and without, in alternation for
 * ROUNDS rounds (this machine is shared: ratios are taken within a round).
 * Sealing is done outside the transaction, as the routes do, in both.
 *
 *   bench-key-check-writers lmdb DIR [N] [SECONDS] [ROUNDS]
 *   bench-key-check-writers postgres URL [N] [SECONDS] [ROUNDS]
 */
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apps_store.h"
#include "key_current.h"
#include "key_store.h"

#include "banned.h"

static struct apps_store st;
static atomic_bool stop;

struct writer {
	pthread_t t;
	int id;
	bool check;
	unsigned long writes;
	int failed;
};

struct put_arg {
	char key[32];
	unsigned char *sealed;
	size_t sealed_len;
	bool check;
};

static int put_one(struct store_txn *txn, void *arg)
{
	struct put_arg *a = arg;
	int rc = a->check ? key_current_check_txn(txn, a->sealed, a->sealed_len) : STORE_OK;

	return rc != STORE_OK ? rc
			      : store_put(txn, APPS_T_OAUTH2_USER, a->key, strlen(a->key),
					  a->sealed, a->sealed_len, 0);
}

static void *run(void *arg)
{
	struct writer *w = arg;
	struct put_arg a = { .check = w->check };
	char plain[200];

	memset(plain, 'v', sizeof(plain));
	while (!atomic_load(&stop)) {
		snprintf(a.key, sizeof(a.key), "w%03d-%06lu", w->id, w->writes % 1000);
		if (seal_record(st.sealer, "oauth2_user", a.key, strlen(a.key), plain,
				sizeof(plain), &a.sealed, &a.sealed_len) != SEAL_OK) {
			w->failed = 1;
			break;
		}
		if (store_write(st.db, put_one, &a) != STORE_OK) {
			free(a.sealed);
			w->failed = 1;
			break;
		}
		free(a.sealed);
		w->writes++;
	}
	return NULL;
}

static double rate(int n, int seconds, bool check)
{
	struct writer *w = calloc((size_t)n, sizeof(*w));
	struct timespec t0, t1, d = { seconds, 0 };
	unsigned long total = 0;
	double secs;

	if (!w)
		return 0;
	atomic_store(&stop, false);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		w[i].id = i;
		w[i].check = check;
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
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	free(w);
	return (double)total / secs;
}

int main(int argc, char **argv)
{
	struct store_config cfg;
	struct sealer sealer;
	struct key_store ks = { &st, &sealer };
	struct key_load l;
	unsigned char master[SEAL_MASTER_KEY_LEN];
	char err[STORE_ERR_MAX];
	const char *dir = NULL;
	int n = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 64;
	int seconds = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 5;
	int rounds = argc > 5 ? (int)strtol(argv[5], NULL, 10) : 3;

	if (argc < 3 || n < 1 || seconds < 1 || rounds < 1) {
		fprintf(stderr, "usage: %s lmdb DIR | postgres URL [N] [SECONDS] [ROUNDS]\n",
			argv[0]);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	store_config_init(&cfg);
	if (strcmp(argv[1], "postgres") == 0) {
		cfg.backend = STORE_BACKEND_POSTGRES;
		snprintf(cfg.url, sizeof(cfg.url), "%s", argv[2]);
	} else {
		dir = argv[2];
	}
	randombytes_buf(master, sizeof(master));
	if (sealer_open_key(&sealer, master) != SEAL_OK ||
	    apps_store_open_backend(&st, &cfg, dir, &sealer, NULL, NULL, err, sizeof(err)) !=
		    STORE_OK ||
	    key_store_attach(&ks, &l, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "bench-key-check-writers: %s\n", err);
		return 1;
	}
	sodium_memzero(master, sizeof(master));
	printf("%s, writes/s of a sealed record, without and with the current-key check:\n",
	       argv[1]);
	printf("| round | 1 without | 1 with | ratio | %d without | %d with | ratio |\n", n, n);
	printf("|---|---|---|---|---|---|---|\n");
	for (int r = 1; r <= rounds; r++) {
		/* Which goes first alternates, so that neither always meets a
		 * warmer or fuller store. */
		bool first = r % 2 == 0;
		double one, one_c, many, many_c;

		one = rate(1, seconds, first);
		one_c = rate(1, seconds, !first);
		many = rate(n, seconds, first);
		many_c = rate(n, seconds, !first);
		if (first) {
			double t = one;
			one = one_c;
			one_c = t;
			t = many;
			many = many_c;
			many_c = t;
		}
		printf("| %d | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |\n", r, one, one_c,
		       one_c / one, many, many_c, many_c / many);
		fflush(stdout);
	}
	apps_store_close(&st);
	sealer_close(&sealer);
	return 0;
}
