#include "key_current.h"

#include <string.h>

#include "apps_store_layout.h"
#include "key_store.h"
#include "banned.h"

int key_current_check_txn(struct store_txn *txn, const unsigned char *sealed, size_t sealed_len)
{
	struct store_val v;
	uint32_t id = 0;
	const unsigned char *p;
	int rc;

	if (seal_key_id(sealed, sealed_len, &id) != SEAL_OK)
		return STORE_EIO; /* not a sealed record: a bug of the caller */
	/* Flags 0: a share lock on PostgreSQL, which a rotation's update of
	 * the row waits for (see the top of key_current.h). */
	rc = store_get(txn, APPS_T_KEYS, KEY_ROW_CURRENT, strlen(KEY_ROW_CURRENT), 0, &v);
	if (rc == STORE_ENOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	if (v.len != 4)
		return STORE_EIO;
	p = v.data;
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) == id
		       ? STORE_OK
		       : STORE_EKEYSTALE;
}

bool key_current_retry(const struct sealer *s, int rc, unsigned attempt, uint_fast64_t seen)
{
	if (rc != STORE_EKEYSTALE || attempt + 1 >= KEY_CURRENT_ATTEMPTS)
		return false;
	sealer_reload(s, seen);
	return true;
}
