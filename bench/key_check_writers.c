/*
 * bench-key-check-writers: what the current-key check (plugin/key_current.h)
 * costs a durable write of a sealed record. Each write is what storing an
 * OAuth2 user record does in its transaction: one store_write that puts a
 * sealed ~200-byte value into the plugin's table oauth2_user, with the
 * check (key_current_check_txn: the keys table's row of the key sealed
 * with read first, share-locked on PostgreSQL) or without it. The plugin's real store and
 * keys (apps_store_open_backend, key_store_attach): LMDB in a folder, or
 * PostgreSQL. 1 writer and N writers, with and without, in alternation for
 * ROUNDS rounds (this machine is shared: ratios are taken within a round).
 * Sealing is done outside the transaction, as the routes do, in both.
 * Then ROTATIONS rotations of the data key, a second apart, while N writers
 * write with the check: how long each key_store_rotate takes (it changes no
 * row a writer locks), and how long the withdrawal of the older keys that
 * follows it takes (key_store_withdraw: it waits for the writes still
 * sealing under an older key; the key sweep's thread runs it in the
 * plugin). The check is the one of plugin/key_current.h: the row of the key
 * sealed with, share-locked on PostgreSQL.
 *
 *   bench-key-check-writers lmdb DIR [N] [SECONDS] [ROUNDS] [ROTATIONS]
 *   bench-key-check-writers postgres URL [N] [SECONDS] [ROUNDS] [ROTATIONS]
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
		uint_fast64_t seen = sealer_generation(st.sealer);
		int rc;

		snprintf(a.key, sizeof(a.key), "w%03d-%06lu", w->id, w->writes % 1000);
		if (seal_record(st.sealer, "oauth2_user", a.key, strlen(a.key), plain,
				sizeof(plain), &a.sealed, &a.sealed_len) != SEAL_OK) {
			w->failed = 1;
			break;
		}
		rc = store_write(st.db, put_one, &a);
		free(a.sealed);
		if (rc == STORE_EKEYSTALE) { /* a rotation came first: seal again */
			sealer_reload(st.sealer, seen);
			continue;
		}
		if (rc != STORE_OK) {
			w->failed = 1;
			break;
		}
		w->writes++;
	}
	return NULL;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static char *sweep_row(uint32_t id, void *arg, size_t *len)
{
	(void)id;
	(void)arg;
	*len = 2;
	return strdup("{}"); /* no sweep runs here */
}

/* Rotates the key `rotations` times, a second apart, while n writers write
 * with the check, and prints how long each rotation took. */
static void rotations_under_load(struct key_store *ks, int n, int rotations)
{
	struct writer *w = calloc((size_t)n, sizeof(*w));
	struct timespec pause = { 1, 0 };

	if (!w)
		return;
	atomic_store(&stop, false);
	for (int i = 0; i < n; i++) {
		w[i].id = i;
		w[i].check = true;
		pthread_create(&w[i].t, NULL, run, &w[i]);
	}
	printf("rotations with %d writers writing, rotate + withdraw (s):", n);
	for (int r = 0; r < rotations; r++) {
		struct timespec t0;
		uint32_t id = 0;
		unsigned withdrawn = 0;
		int rc;

		nanosleep(&pause, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = key_store_rotate(ks, sweep_row, NULL, &id);
		printf(rc == STORE_OK ? " %.2f" : " %.2f (failed)", seconds_since(&t0));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (rc == STORE_OK)
			rc = key_store_withdraw(ks, id, "{}", 2, "{}", 2, &withdrawn);
		printf(rc == STORE_OK ? "+%.2f" : "+%.2f (failed)", seconds_since(&t0));
		fflush(stdout);
	}
	printf("\n");
	atomic_store(&stop, true);
	for (int i = 0; i < n; i++)
		pthread_join(w[i].t, NULL);
	free(w);
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
	int rotations = argc > 6 ? (int)strtol(argv[6], NULL, 10) : 10;

	if (argc < 3 || n < 1 || seconds < 1 || rounds < 1) {
		fprintf(stderr,
			"usage: %s lmdb DIR | postgres URL [N] [SECONDS] [ROUNDS] [ROTATIONS]\n",
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
	rotations_under_load(&ks, n, rotations);
	apps_store_close(&st);
	sealer_close(&sealer);
	return 0;
}
