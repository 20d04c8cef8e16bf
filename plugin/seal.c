#include "seal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "be32.h"
#include "plugin_metrics.h"
#include "banned.h"

#define KDF_CONTEXT "mmapps01" /* crypto_kdf_CONTEXTBYTES = 8 */
#define AD_MAX 512

static int load_master(int fd, unsigned char *master)
{
	size_t got = 0;

	while (got < SEAL_MASTER_KEY_LEN) {
		ssize_t n = read(fd, master + got, SEAL_MASTER_KEY_LEN - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int create_key_file(const char *path, unsigned char *master, char *err, size_t cap)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	ssize_t n;

	if (fd < 0) {
		snprintf(err, cap, "cannot create the master key file %s: %s", path,
			 strerror(errno));
		return -1;
	}
	crypto_kdf_keygen(master);
	n = write(fd, master, SEAL_MASTER_KEY_LEN);
	if (n != SEAL_MASTER_KEY_LEN || fsync(fd) != 0) {
		snprintf(err, cap, "cannot write the master key file %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

static int read_key_file(const char *path, unsigned char *master, char *err, size_t cap)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		snprintf(err, cap, "cannot open the master key file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, cap, "the master key file %s is not a regular file", path);
		goto fail;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, cap,
			 "the master key file %s is open to group or others (mode %04o); "
			 "run chmod 600 on it",
			 path, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_size != SEAL_MASTER_KEY_LEN || load_master(fd, master) != 0) {
		snprintf(err, cap, "the master key file %s must hold exactly %d bytes", path,
			 SEAL_MASTER_KEY_LEN);
		goto fail;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

int seal_legacy_key(const unsigned char *master, unsigned char key[DATA_KEY_LEN])
{
	return crypto_kdf_derive_from_key(key, DATA_KEY_LEN, SEAL_KEY_ID_LEGACY, KDF_CONTEXT,
					  master);
}

/* A sealer without a store: the keyring holds key id 1, current. */
static int finish_open(struct sealer *s)
{
	struct keyring_entry e = { .id = SEAL_KEY_ID_LEGACY, .created_at = 0 };
	int rc = SEAL_ENOMEM;

	s->keys = calloc(1, sizeof(*s->keys));
	if (!s->keys || keyring_init(&s->keys->ring) != 0) {
		free(s->keys);
		s->keys = NULL;
		goto fail;
	}
	pthread_mutex_init(&s->keys->reload_lock, NULL);
	if (seal_legacy_key(s->master, e.key) != 0 ||
	    keyring_replace(&s->keys->ring, &e, 1, SEAL_KEY_ID_LEGACY) != 0)
		goto fail;
	sodium_memzero(&e, sizeof(e));
	sodium_mprotect_readonly(s->master);
	return SEAL_OK;
fail:
	sodium_memzero(&e, sizeof(e));
	sealer_close(s);
	return rc;
}

/* A plaintext buffer remembers its size so that unseal_free can wipe it. */
static char *plain_alloc(size_t len)
{
	size_t *base = malloc(sizeof(size_t) + len);

	if (!base)
		return NULL;
	*base = len;
	return (char *)(base + 1);
}

int sealer_open(struct sealer *s, const char *path, char *err, size_t err_cap)
{
	memset(s, 0, sizeof(*s));
	s->master = sodium_malloc(SEAL_MASTER_KEY_LEN);
	if (!s->master) {
		snprintf(err, err_cap, "out of memory");
		return SEAL_ENOMEM;
	}
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		if (create_key_file(path, s->master, err, err_cap) != 0)
			goto fail;
	} else if (read_key_file(path, s->master, err, err_cap) != 0) {
		goto fail;
	}
	return finish_open(s);
fail:
	sodium_free(s->master);
	s->master = NULL;
	return SEAL_EKEYFILE;
}

int sealer_open_key(struct sealer *s, const unsigned char *master)
{
	memset(s, 0, sizeof(*s));
	s->master = sodium_malloc(SEAL_MASTER_KEY_LEN);
	if (!s->master)
		return SEAL_ENOMEM;
	memcpy(s->master, master, SEAL_MASTER_KEY_LEN);
	return finish_open(s);
}

int sealer_open_previous(struct sealer *s, const char *path, char *err, size_t err_cap)
{
	unsigned char *prev = sodium_malloc(SEAL_MASTER_KEY_LEN);

	if (!prev) {
		snprintf(err, err_cap, "out of memory");
		return SEAL_ENOMEM;
	}
	if (read_key_file(path, prev, err, err_cap) != 0) {
		sodium_free(prev);
		return SEAL_EKEYFILE;
	}
	sodium_mprotect_readonly(prev);
	if (s->previous)
		sodium_free(s->previous);
	s->previous = prev;
	return SEAL_OK;
}

void sealer_close(struct sealer *s)
{
	if (s->master)
		sodium_free(s->master); /* wipes */
	if (s->previous)
		sodium_free(s->previous);
	if (s->keys) {
		keyring_destroy(&s->keys->ring);
		pthread_mutex_destroy(&s->keys->reload_lock);
		free(s->keys);
	}
	s->master = NULL;
	s->previous = NULL;
	s->keys = NULL;
}

/* version | key_id | db | 0x00 | key */
static int build_ad(unsigned char *ad, size_t *ad_len, uint32_t key_id, const char *db,
		    const void *key, size_t key_len)
{
	size_t dlen = strlen(db);

	if (5 + dlen + 1 + key_len > AD_MAX)
		return -1;
	ad[0] = SEAL_VERSION;
	be32_put(ad + 1, key_id);
	memcpy(ad + 5, db, dlen);
	ad[5 + dlen] = 0;
	memcpy(ad + 6 + dlen, key, key_len);
	*ad_len = 6 + dlen + key_len;
	return 0;
}

static void *reload_thread(void *arg)
{
	struct sealer_keys *k = arg;

	return (void *)(intptr_t)k->reload(k->reload_arg);
}

/* The keyring misses key_id, which it did not hold at generation seen:
 * reloads it from the store once, unless another thread did meanwhile. The
 * reload runs on a thread of its own: this one may be inside a store
 * transaction, and a thread runs one at a time. */
static void reload_once(struct sealer_keys *k, uint_fast64_t seen)
{
	pthread_t t;

	if (!k->reload)
		return;
	pthread_mutex_lock(&k->reload_lock);
	if (atomic_load(&k->ring.generation) == seen &&
	    pthread_create(&t, NULL, reload_thread, k) == 0)
		pthread_join(t, NULL);
	pthread_mutex_unlock(&k->reload_lock);
}

uint_fast64_t sealer_generation(const struct sealer *s)
{
	return s->keys ? atomic_load(&s->keys->ring.generation) : 0;
}

void sealer_reload(const struct sealer *s, uint_fast64_t seen)
{
	if (s->keys)
		reload_once(s->keys, seen);
}

static int key_for(const struct sealer *s, uint32_t key_id, unsigned char *subkey)
{
	uint_fast64_t seen;

	if (!s->keys || key_id == 0)
		return -1;
	seen = atomic_load(&s->keys->ring.generation);
	if (keyring_get(&s->keys->ring, key_id, subkey) == 0)
		return 0;
	reload_once(s->keys, seen);
	return keyring_get(&s->keys->ring, key_id, subkey);
}

int seal_key_id(const unsigned char *sealed, size_t sealed_len, uint32_t *key_id)
{
	if (sealed_len < SEAL_OVERHEAD || sealed[0] != SEAL_VERSION)
		return SEAL_EOPEN;
	*key_id = be32_get(sealed + 1);
	return SEAL_OK;
}

int seal_record(const struct sealer *s, const char *db, const void *key, size_t key_len,
		const void *plain, size_t plain_len, unsigned char **out, size_t *out_len)
{
	unsigned char ad[AD_MAX], subkey[crypto_aead_xchacha20poly1305_ietf_KEYBYTES], *buf;
	unsigned long long clen = 0;
	size_t ad_len;
	uint32_t key_id;
	int rc = SEAL_ENOKEY;

	if (!s->keys || keyring_current(&s->keys->ring, &key_id, subkey) != 0)
		return SEAL_ENOKEY;
	if (build_ad(ad, &ad_len, key_id, db, key, key_len) != 0) {
		sodium_memzero(subkey, sizeof(subkey));
		return SEAL_EOPEN;
	}
	buf = malloc(plain_len + SEAL_OVERHEAD);
	if (!buf) {
		rc = SEAL_ENOMEM;
		goto out;
	}
	buf[0] = SEAL_VERSION;
	be32_put(buf + 1, key_id);
	randombytes_buf(buf + 5, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + SEAL_HEADER_LEN, &clen, plain, plain_len,
						   ad, ad_len, NULL, buf + 5, subkey);
	*out = buf;
	*out_len = SEAL_HEADER_LEN + (size_t)clen;
	buf = NULL;
	rc = SEAL_OK;
out:
	free(buf);
	sodium_memzero(subkey, sizeof(subkey));
	return rc;
}

int unseal_record(const struct sealer *s, const char *db, const void *key, size_t key_len,
		  const unsigned char *sealed, size_t sealed_len, char **plain, size_t *plain_len)
{
	unsigned char ad[AD_MAX], subkey[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned long long mlen = 0;
	char *buf = NULL;
	size_t ad_len, clen;
	uint32_t key_id;
	int rc = SEAL_EOPEN;

	*plain = NULL;
	if (sealed_len < SEAL_OVERHEAD || sealed[0] != SEAL_VERSION)
		goto out;
	key_id = be32_get(sealed + 1);
	if (build_ad(ad, &ad_len, key_id, db, key, key_len) != 0)
		goto out;
	clen = sealed_len - SEAL_HEADER_LEN;
	buf = plain_alloc(clen - crypto_aead_xchacha20poly1305_ietf_ABYTES + 1);
	if (!buf)
		return SEAL_ENOMEM;
	if (key_for(s, key_id, subkey) != 0)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)buf, &mlen, NULL,
						       sealed + SEAL_HEADER_LEN, clen, ad, ad_len,
						       sealed + 5, subkey) != 0)
		goto out;
	buf[mlen] = '\0';
	*plain = buf;
	*plain_len = (size_t)mlen;
	buf = NULL;
	rc = SEAL_OK;
out:
	if (rc == SEAL_EOPEN)
		plugin_metrics_unseal_failure();
	unseal_free(buf);
	sodium_memzero(subkey, sizeof(subkey));
	return rc;
}

void unseal_free(char *plain)
{
	size_t *base;

	if (!plain)
		return;
	base = (size_t *)(void *)plain - 1;
	sodium_memzero(base, *base + sizeof(size_t));
	free(base);
}
