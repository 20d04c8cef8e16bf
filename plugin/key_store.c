#include "key_store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be32.h"
#include "banned.h"

#define KEK_CONTEXT "mmappkek" /* crypto_kdf_CONTEXTBYTES = 8 */
#define KEY_ROW_VERSION 1
#define PREFIX_LEN (sizeof(KEY_ROW_PREFIX) - 1)
#define ROW_KEY_LEN KEY_ROW_KEY_LEN
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define ROW_LEN KEY_ROW_LEN
#define WITHDRAWN_LEN (ROW_LEN + 1)
#define AD_LEN (ROW_KEY_LEN + 1 + 8)
#define ATTEMPTS 8 /* compare-and-set rounds lost to other writers before EBUSY */

/* One key row as stored (len: ROW_LEN, or WITHDRAWN_LEN when withdrawn). */
struct key_row {
	uint32_t id;
	unsigned char raw[WITHDRAWN_LEN];
	size_t len;
};

/* Every key row and the current id, read in one scan. */
struct key_rows {
	struct key_row rows[KEYRING_MAX];
	size_t n;
	size_t bad; /* rows of the wrong shape (reported as unopened) */
	uint32_t current;
	bool has_current;
	unsigned char current_raw[4];
};

static void put_i64(unsigned char *p, int64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

static int64_t get_i64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void row_key(uint32_t id, unsigned char key[ROW_KEY_LEN])
{
	memcpy(key, KEY_ROW_PREFIX, PREFIX_LEN);
	be32_put(key + PREFIX_LEN, id);
}

void key_row_key(uint32_t id, unsigned char key[KEY_ROW_KEY_LEN])
{
	row_key(id, key);
}

int key_row_withdrawn(const void *val, size_t len)
{
	if (len == ROW_LEN)
		return 0;
	if (len == WITHDRAWN_LEN && ((const unsigned char *)val)[ROW_LEN] == KEY_ROW_WITHDRAWN)
		return 1;
	return -1;
}

static void row_ad(uint32_t id, const unsigned char *raw, unsigned char ad[AD_LEN])
{
	row_key(id, ad);
	memcpy(ad + ROW_KEY_LEN, raw, 1 + 8); /* version | created_at */
}

/* The key-encryption key of master into guarded memory (sodium_free). */
static unsigned char *kek_of(const unsigned char *master)
{
	unsigned char *kek = sodium_malloc(DATA_KEY_LEN);

	if (kek && crypto_kdf_derive_from_key(kek, DATA_KEY_LEN, 1, KEK_CONTEXT, master) != 0) {
		sodium_free(kek);
		kek = NULL;
	}
	return kek;
}

static int wrap(const unsigned char *master, uint32_t id, int64_t created_at,
		const unsigned char key[DATA_KEY_LEN], unsigned char raw[ROW_LEN])
{
	unsigned char ad[AD_LEN], *kek = kek_of(master);

	if (!kek)
		return -1;
	raw[0] = KEY_ROW_VERSION;
	put_i64(raw + 1, created_at);
	randombytes_buf(raw + 9, NONCE_LEN);
	row_ad(id, raw, ad);
	crypto_aead_xchacha20poly1305_ietf_encrypt(raw + 9 + NONCE_LEN, NULL, key, DATA_KEY_LEN, ad,
						   AD_LEN, NULL, raw + 9, kek);
	sodium_free(kek);
	return 0;
}

/* Opens row with master into e. 0 or -1. */
static int unwrap(const unsigned char *master, const struct key_row *row, struct keyring_entry *e)
{
	unsigned char ad[AD_LEN], *kek;
	int rc = -1;

	if (!master || row->raw[0] != KEY_ROW_VERSION || !(kek = kek_of(master)))
		return -1;
	row_ad(row->id, row->raw, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(e->key, NULL, NULL, row->raw + 9 + NONCE_LEN,
						       ROW_LEN - 9 - NONCE_LEN, ad, AD_LEN,
						       row->raw + 9, kek) == 0) {
		e->id = row->id;
		e->created_at = get_i64(row->raw + 1);
		rc = 0;
	}
	sodium_free(kek);
	return rc;
}

static int collect_row(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct key_rows *r = arg;

	if (klen != ROW_KEY_LEN || key_row_withdrawn(val, vlen) < 0 || r->n == KEYRING_MAX) {
		r->bad++;
		return 0;
	}
	r->rows[r->n].id = be32_get((const unsigned char *)key + PREFIX_LEN);
	memcpy(r->rows[r->n].raw, val, vlen);
	r->rows[r->n].len = vlen;
	r->n++;
	return 0;
}

static int read_rows(struct apps_store *st, struct key_rows *r)
{
	unsigned char *cur = NULL;
	size_t len = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = apps_store_scan(st, KEY_TABLE_KEYS, KEY_ROW_PREFIX, PREFIX_LEN, NULL, 0, APPS_SCAN_MAX,
			     collect_row, r, NULL);
	if (rc != STORE_OK)
		return rc;
	rc = apps_store_get(st, KEY_TABLE_KEYS, KEY_ROW_CURRENT, strlen(KEY_ROW_CURRENT), &cur,
			    &len);
	if (rc == STORE_ENOTFOUND)
		return STORE_OK;
	if (rc == STORE_OK && len == 4) {
		r->has_current = true;
		r->current = be32_get(cur);
		memcpy(r->current_raw, cur, 4);
	}
	free(cur);
	return rc;
}

/* ---- the first data key, from the first releases ---- */

struct legacy_probe {
	const struct sealer *legacy; /* knows key id 1 only */
	enum key_table table;
	int found; /* 1 a record sealed with key id 1 opened, -1 it did not, 0 none seen */
};

static int probe_record(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct legacy_probe *p = arg;
	uint32_t id;
	char *plain = NULL;
	size_t plen;

	if (seal_key_id(val, vlen, &id) != SEAL_OK || id != SEAL_KEY_ID_LEGACY)
		return 0;
	p->found = unseal_record(p->legacy, apps_table_name(p->table), key, klen, val, vlen, &plain,
				 &plen) == SEAL_OK
			   ? 1
			   : -1;
	unseal_free(plain);
	return p->found == 1 ? 1 : 0; /* one that opens settles it */
}

/* Whether master's key id 1 opens the records sealed with key id 1 (true
 * when there are none): 1 yes, 0 no, < 0 a store error. Looks at the first
 * APPS_SCAN_MAX records of each table. */
static int legacy_key_fits(struct apps_store *st, const unsigned char *master)
{
	struct sealer legacy;
	int verdict = 1, rc = 0;

	if (sealer_open_key(&legacy, master) != SEAL_OK)
		return STORE_ENOMEM;
	for (int t = 0; t < APPS_SEALED_TABLES; t++) {
		struct legacy_probe p = { &legacy, (enum key_table)t, 0 };
		rc = apps_store_scan(st, p.table, NULL, 0, NULL, 0, APPS_SCAN_MAX, probe_record, &p,
				     NULL);
		if (rc != STORE_OK)
			break;
		if (p.found == 1) {
			verdict = 1;
			break;
		}
		if (p.found == -1)
			verdict = 0;
	}
	sealer_close(&legacy);
	return rc != STORE_OK ? rc : verdict;
}

/* Stores key id 1 of the first releases as data key 1, current, unless
 * another node did first. */
static int migrate(struct key_store *ks, const unsigned char *legacy_master, bool *done)
{
	unsigned char raw[ROW_LEN], key[ROW_KEY_LEN], cur[4];
	struct keyring_entry e = { .id = SEAL_KEY_ID_LEGACY };
	struct apps_cas c[2];
	int rc = legacy_key_fits(ks->st, legacy_master);

	*done = false;
	if (rc <= 0)
		return rc; /* 0: the master key does not open the records: nothing stored */
	if (seal_legacy_key(legacy_master, e.key) != 0 ||
	    wrap(ks->sealer->master, e.id, now_ms(), e.key, raw) != 0) {
		sodium_memzero(&e, sizeof(e));
		return STORE_ENOMEM;
	}
	sodium_memzero(&e, sizeof(e));
	row_key(SEAL_KEY_ID_LEGACY, key);
	be32_put(cur, SEAL_KEY_ID_LEGACY);
	c[0] = (struct apps_cas){
		KEY_TABLE_KEYS, key, sizeof(key), NULL, 0, raw, sizeof(raw), true
	};
	c[1] = (struct apps_cas){
		KEY_TABLE_KEYS, KEY_ROW_CURRENT, strlen(KEY_ROW_CURRENT), NULL, 0, cur, 4, true
	};
	rc = apps_store_cas(ks->st, c, 2, NULL);
	if (rc == STORE_ECHANGED)
		return STORE_OK; /* another node migrated: read its keys */
	*done = rc == STORE_OK;
	return rc;
}

/* ---- loading ---- */

/* The data keys a load opened, and the rows it wraps again. */
struct opened {
	struct keyring_entry e[KEYRING_MAX];
	size_t n;
	unsigned unopened;
	struct apps_cas c[KEYRING_MAX];
	unsigned char keys[KEYRING_MAX][ROW_KEY_LEN];
	unsigned char fresh[KEYRING_MAX][WITHDRAWN_LEN];
	size_t nc;
};

static bool opened_has(const struct opened *o, uint32_t id)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->e[i].id == id)
			return true;
	return false;
}

/* Opens rows into o->e with the current master key or the previous one;
 * with rewrap, rows only the previous one opens are wrapped again under the
 * current one into o->c (their new bytes in o->fresh). Without rewrap (a
 * reload), a row neither opens keeps the key the keyring already holds for
 * its id: a node still running with the old master key while another moved
 * the rows under the new one goes on with the keys it has. */
static int open_rows(struct key_store *ks, const struct key_rows *r, bool rewrap, struct opened *o)
{
	const struct sealer *s = ks->sealer;

	memset(o, 0, sizeof(*o));
	o->unopened = (unsigned)r->bad;
	for (size_t i = 0; i < r->n; i++) {
		struct keyring_entry *e = &o->e[o->n];
		if (unwrap(s->master, &r->rows[i], e) == 0) {
			o->n++;
			continue;
		}
		if (unwrap(s->previous, &r->rows[i], e) != 0) {
			if (!rewrap && !opened_has(o, r->rows[i].id) &&
			    keyring_get(&s->keys->ring, r->rows[i].id, e->key) == 0) {
				e->id = r->rows[i].id;
				e->created_at = get_i64(r->rows[i].raw + 1);
				o->n++;
				continue;
			}
			o->unopened++;
			continue;
		}
		o->n++;
		if (!rewrap)
			continue;
		if (wrap(s->master, e->id, e->created_at, e->key, o->fresh[o->nc]) != 0)
			return STORE_ENOMEM;
		o->fresh[o->nc][ROW_LEN] = KEY_ROW_WITHDRAWN; /* kept when it was */
		row_key(e->id, o->keys[o->nc]);
		o->c[o->nc] = (struct apps_cas){ KEY_TABLE_KEYS, o->keys[o->nc],
						 ROW_KEY_LEN,    r->rows[i].raw,
						 r->rows[i].len, o->fresh[o->nc],
						 r->rows[i].len, true };
		o->nc++;
	}
	return STORE_OK;
}

static int fill_ring(struct key_store *ks, struct opened *o, uint32_t current, uint32_t *set)
{
	bool known = false;

	for (size_t i = 0; i < o->n; i++)
		known = known || o->e[i].id == current;
	*set = known ? current : 0;
	return keyring_replace(&ks->sealer->keys->ring, o->e, o->n, *set) == 0 ? STORE_OK
									       : STORE_EIO;
}

static int load(struct key_store *ks, bool writes, struct key_load *out)
{
	struct key_rows *r = malloc(sizeof(*r));
	struct opened *o = malloc(sizeof(*o));
	int rc = STORE_ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!r || !o)
		goto out;
	for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
		rc = read_rows(ks->st, r);
		if (rc != STORE_OK)
			goto out;
		if (r->n == 0 && r->bad == 0 && writes && !out->migrated) {
			const unsigned char *legacy =
				ks->sealer->previous ? ks->sealer->previous : ks->sealer->master;
			rc = migrate(ks, legacy, &out->migrated);
			if (rc != STORE_OK)
				goto out;
			if (out->migrated || attempt == 0)
				continue; /* read what was stored */
		}
		if (!writes && r->n == 0) {
			rc = STORE_OK; /* no rows (wiped?): keep the keys this node has */
			goto out;
		}
		rc = open_rows(ks, r, writes, o);
		if (rc != STORE_OK)
			goto out;
		if (o->nc) {
			rc = apps_store_cas(ks->st, o->c, o->nc, NULL);
			if (rc == STORE_ECHANGED)
				continue; /* another node moved them meanwhile */
			if (rc != STORE_OK)
				goto out;
			out->rewrapped = (unsigned)o->nc;
		}
		out->opened = (unsigned)o->n;
		out->unopened = o->unopened;
		rc = fill_ring(ks, o, r->has_current ? r->current : 0, &out->current);
		goto out;
	}
	rc = KEY_STORE_EBUSY;
out:
	if (o)
		sodium_memzero(o, sizeof(*o));
	free(o);
	free(r);
	return rc;
}

static int reload_hook(void *arg)
{
	return key_store_reload(arg) == STORE_OK ? 0 : -1;
}

int key_store_attach(struct key_store *ks, struct key_load *out, char *err, size_t err_cap)
{
	int rc = load(ks, true, out);

	if (rc != STORE_OK) {
		snprintf(err, err_cap, "cannot load the data keys from the store (%d)", rc);
		return rc;
	}
	ks->sealer->keys->reload_arg = ks;
	ks->sealer->keys->reload = reload_hook;
	return STORE_OK;
}

int key_store_reload(struct key_store *ks)
{
	struct key_load l;

	return load(ks, false, &l);
}

int key_store_current_id(struct key_store *ks, uint32_t *id)
{
	unsigned char *v = NULL;
	size_t len = 0;
	int rc = apps_store_get(ks->st, KEY_TABLE_KEYS, KEY_ROW_CURRENT, strlen(KEY_ROW_CURRENT),
				&v, &len);

	*id = rc == STORE_OK && len == 4 ? be32_get(v) : 0;
	free(v);
	return rc == STORE_ENOTFOUND ? STORE_OK : rc;
}

/* ---- rotation and retirement ---- */

static int rotate_once(struct key_store *ks, key_sweep_row_fn sweep_row, void *arg, uint32_t *id,
		       struct key_rows *r)
{
	unsigned char key[DATA_KEY_LEN], raw[ROW_LEN], rk[ROW_KEY_LEN], cur[4], *old_sweep = NULL;
	struct apps_cas c[3];
	size_t old_len = 0, sweep_len = 0;
	char *sweep;
	uint32_t next = 0;
	int rc = read_rows(ks->st, r);

	if (rc != STORE_OK)
		return rc;
	if (r->n + r->bad >= KEYRING_MAX)
		return KEY_STORE_EFULL;
	if (keyring_current_id(&ks->sealer->keys->ring) == 0)
		return KEY_STORE_ENOKEY;
	for (size_t i = 0; i < r->n; i++)
		next = r->rows[i].id > next ? r->rows[i].id : next;
	next++;
	rc = apps_store_get(ks->st, KEY_TABLE_KEYS, "sweep", 5, &old_sweep, &old_len);
	if (rc != STORE_OK && rc != STORE_ENOTFOUND)
		return rc;
	randombytes_buf(key, sizeof(key));
	rc = wrap(ks->sealer->master, next, now_ms(), key, raw);
	sodium_memzero(key, sizeof(key));
	sweep = rc == 0 ? sweep_row(next, arg, &sweep_len) : NULL;
	if (!sweep) {
		free(old_sweep);
		return STORE_ENOMEM;
	}
	row_key(next, rk);
	be32_put(cur, next);
	c[0] = (struct apps_cas){ KEY_TABLE_KEYS, rk, sizeof(rk), NULL, 0, raw, sizeof(raw), true };
	c[1] = (struct apps_cas){ KEY_TABLE_KEYS,
				  KEY_ROW_CURRENT,
				  strlen(KEY_ROW_CURRENT),
				  r->has_current ? r->current_raw : NULL,
				  r->has_current ? 4 : 0,
				  cur,
				  4,
				  true };
	c[2] = (struct apps_cas){ KEY_TABLE_KEYS, "sweep", 5,         old_sweep,
				  old_len,        sweep,   sweep_len, true };
	rc = apps_store_cas(ks->st, c, 3, NULL);
	free(old_sweep);
	free(sweep);
	*id = next;
	return rc;
}

int key_store_rotate(struct key_store *ks, key_sweep_row_fn sweep_row, void *arg, uint32_t *id)
{
	struct key_rows *r = malloc(sizeof(*r));
	int rc = KEY_STORE_EBUSY;

	if (!r)
		return STORE_ENOMEM;
	for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
		rc = rotate_once(ks, sweep_row, arg, id, r);
		if (rc != STORE_ECHANGED)
			break;
		rc = KEY_STORE_EBUSY;
	}
	free(r);
	if (rc == STORE_OK)
		rc = key_store_reload(ks);
	return rc;
}

int key_store_withdraw(struct key_store *ks, uint32_t keep, const void *sweep_was, size_t was_len,
		       const void *sweep_next, size_t next_len, unsigned *withdrawn)
{
	struct key_rows *r = malloc(sizeof(*r));
	struct apps_cas c[KEYRING_MAX + 1];
	unsigned char keys[KEYRING_MAX][ROW_KEY_LEN], marked[KEYRING_MAX][WITHDRAWN_LEN];
	size_t n = 0;
	int rc;

	*withdrawn = 0;
	if (!r)
		return STORE_ENOMEM;
	rc = read_rows(ks->st, r);
	/* The key rows first: updating one waits for the writes that sealed
	 * under it and hold its share lock (key_current.h); the row "sweep",
	 * which a rotation also writes, last, so a rotation never waits here
	 * (it wins, and this compare-and-set fails). */
	for (size_t i = 0; rc == STORE_OK && i < r->n; i++) {
		if (r->rows[i].id == keep || r->rows[i].len != ROW_LEN)
			continue;
		row_key(r->rows[i].id, keys[n]);
		memcpy(marked[n], r->rows[i].raw, ROW_LEN);
		marked[n][ROW_LEN] = KEY_ROW_WITHDRAWN;
		c[n] = (struct apps_cas){ KEY_TABLE_KEYS, keys[n],   ROW_KEY_LEN,   r->rows[i].raw,
					  ROW_LEN,        marked[n], WITHDRAWN_LEN, true };
		n++;
	}
	if (rc == STORE_OK) {
		c[n] = (struct apps_cas){ KEY_TABLE_KEYS, "sweep",    5,        sweep_was,
					  was_len,        sweep_next, next_len, true };
		rc = apps_store_cas(ks->st, c, n + 1, NULL);
	}
	free(r); /* after the compare-and-set: c points into it */
	if (rc == STORE_OK)
		*withdrawn = (unsigned)n;
	return rc;
}

int key_store_unwithdrawn(struct key_store *ks, uint32_t keep, unsigned *n)
{
	struct key_rows *r = malloc(sizeof(*r));
	int rc;

	*n = 0;
	if (!r)
		return STORE_ENOMEM;
	rc = read_rows(ks->st, r);
	for (size_t i = 0; rc == STORE_OK && i < r->n; i++)
		if (r->rows[i].id != keep && r->rows[i].len == ROW_LEN)
			(*n)++;
	free(r);
	return rc;
}

int key_store_retire(struct key_store *ks, uint32_t id)
{
	unsigned char rk[ROW_KEY_LEN], *row = NULL, *cur = NULL;
	size_t row_len = 0, cur_len = 0;
	struct apps_cas c[2];
	int rc;

	row_key(id, rk);
	for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
		rc = apps_store_get(ks->st, KEY_TABLE_KEYS, rk, sizeof(rk), &row, &row_len);
		if (rc == STORE_ENOTFOUND)
			return KEY_STORE_ENOTFOUND;
		if (rc == STORE_OK)
			rc = apps_store_get(ks->st, KEY_TABLE_KEYS, KEY_ROW_CURRENT,
					    strlen(KEY_ROW_CURRENT), &cur, &cur_len);
		if (rc == STORE_OK && cur_len == 4 && be32_get(cur) == id)
			rc = KEY_STORE_ECURRENT;
		else if (rc == STORE_OK && key_row_withdrawn(row, row_len) != 1)
			rc = KEY_STORE_EACTIVE; /* may still seal new records somewhere */
		if (rc == STORE_OK) {
			/* Deletes the row while "current" is still what was read. */
			c[0] = (struct apps_cas){ KEY_TABLE_KEYS, rk,   sizeof(rk), row,
						  row_len,        NULL, 0,          true };
			c[1] = (struct apps_cas){ KEY_TABLE_KEYS,
						  KEY_ROW_CURRENT,
						  strlen(KEY_ROW_CURRENT),
						  cur,
						  cur_len,
						  cur,
						  cur_len,
						  true };
			rc = apps_store_cas(ks->st, c, cur ? 2 : 1, NULL);
		}
		free(row);
		free(cur);
		row = cur = NULL;
		if (rc != STORE_ECHANGED)
			break;
		rc = KEY_STORE_EBUSY;
	}
	if (rc == STORE_OK)
		rc = key_store_reload(ks);
	return rc;
}
