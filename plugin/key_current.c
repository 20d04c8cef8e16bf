#include "key_current.h"

#include <stdlib.h>
#include <string.h>

#include "apps_store_layout.h"
#include "key_store.h"
#include "banned.h"

int key_current_check_txn(struct store_txn *txn, const unsigned char *sealed, size_t sealed_len)
{
	unsigned char rk[KEY_ROW_KEY_LEN];
	struct store_val v;
	uint32_t id = 0;
	int rc;

	if (seal_key_id(sealed, sealed_len, &id) != SEAL_OK)
		return STORE_EIO; /* not a sealed record: a bug of the caller */
	/* Flags 0: a share lock on PostgreSQL on the row of the key sealed
	 * with, which the withdrawal of that key waits for (key_current.h). */
	key_row_key(id, rk);
	rc = store_get(txn, APPS_T_KEYS, rk, sizeof(rk), 0, &v);
	if (rc == STORE_OK) {
		rc = key_row_withdrawn(v.data, v.len);
		return rc == 0 ? STORE_OK : rc == 1 ? STORE_EKEYSTALE : STORE_EIO;
	}
	if (rc != STORE_ENOTFOUND)
		return rc;
	/* No such key (retired): stale, unless the store has no keys at all. */
	rc = store_get(txn, APPS_T_KEYS, KEY_ROW_CURRENT, strlen(KEY_ROW_CURRENT), 0, &v);
	return rc == STORE_ENOTFOUND ? STORE_OK : rc == STORE_OK ? STORE_EKEYSTALE : rc;
}

bool key_current_retry(const struct sealer *s, int rc, unsigned attempt, uint_fast64_t seen)
{
	if (rc != STORE_EKEYSTALE || attempt + 1 >= KEY_CURRENT_ATTEMPTS)
		return false;
	sealer_reload(s, seen);
	return true;
}

int key_current_write(struct store *db, const struct sealer *s, const char *table, const void *key,
		      size_t klen, const void *plain, size_t plen, unsigned char **sealed,
		      size_t *sealed_len, store_txn_fn fn, void *arg)
{
	int rc;

	for (unsigned attempt = 0;; attempt++) {
		uint_fast64_t seen = sealer_generation(s);

		*sealed = NULL;
		*sealed_len = 0;
		if (plain) {
			rc = seal_record(s, table, key, klen, plain, plen, sealed, sealed_len);
			if (rc != SEAL_OK)
				return rc == SEAL_ENOMEM ? STORE_ENOMEM : STORE_EIO;
		}
		rc = store_write(db, fn, arg);
		free(*sealed);
		*sealed = NULL;
		*sealed_len = 0;
		if (!key_current_retry(s, rc, attempt, seen))
			return rc;
	}
}
