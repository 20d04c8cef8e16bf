/*
 * bench-seed: fills the plugin's store with OAuth2 user records for the
 * scale benchmark, directly (the host must be stopped), sealed with the
 * store's own master key exactly as the plugin seals them.
 *
 *   bench-seed STORE_DIR MASTER_KEY_FILE APP_ID COUNT
 *
 * Records are 10,000 to a transaction, under made-up user ids.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps_store.h"
#include "mm_id.h"
#include "seal.h"

#define BATCH 10000

struct batch {
	struct apps_store *st;
	const char *app_id;
	long n;
};

static int put_batch(struct store_txn *txn, void *arg)
{
	struct batch *b = arg;

	for (long i = 0; i < b->n; i++) {
		char user[MM_ID_LEN + 1], key[96], value[160];
		unsigned char *sealed;
		size_t klen, slen;
		int rc;

		mm_id_new(user);
		klen = oauth2_user_key(b->app_id, user, key, sizeof(key));
		snprintf(value, sizeof(value),
			 "{\"access_token\":\"gho_%s\",\"token_type\":\"bearer\",\"login\":\"u%"
			 "ld\"}",
			 user, i);
		if (seal_record(b->st->sealer, "oauth2_user", key, klen, value, strlen(value),
				&sealed, &slen) != SEAL_OK)
			return STORE_ENOMEM;
		rc = store_put(txn, APPS_T_OAUTH2_USER, key, klen, sealed, slen, 0);
		free(sealed);
		if (rc != STORE_OK)
			return rc;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct apps_store st;
	struct sealer sealer;
	char err[512];
	long count, done = 0;

	if (argc != 5 || (count = strtol(argv[4], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: bench-seed STORE_DIR MASTER_KEY_FILE APP_ID COUNT\n");
		return 2;
	}
	if (sodium_init() < 0 || sealer_open(&sealer, argv[2], err, sizeof(err)) != SEAL_OK ||
	    apps_store_open(&st, argv[1], &sealer, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "bench-seed: %s\n", err);
		return 1;
	}
	while (done < count) {
		struct batch b = { &st, argv[3], count - done < BATCH ? count - done : BATCH };
		if (store_write(st.db, put_batch, &b) != STORE_OK) {
			fprintf(stderr, "bench-seed: write failed after %ld records\n", done);
			return 1;
		}
		done += b.n;
	}
	apps_store_close(&st);
	sealer_close(&sealer);
	printf("%ld\n", done);
	return 0;
}
