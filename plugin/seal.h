/*
 * Sealing records at rest.
 *
 * A sealed record is
 *   version (1 byte, = 1) | key_id (4 bytes, big-endian) | nonce (24 bytes) |
 *   XChaCha20-Poly1305 ciphertext + 16-byte tag
 * with additional data = version | key_id | database name | 0x00 | record key,
 * so a record copied under another key (another App, another user) or into
 * another database fails to open.
 *
 * The key for key_id is derived with crypto_kdf from a 32-byte master key
 * kept in a file (created 0600 when missing, refused when group or others may
 * read or write it), held in sodium_malloc memory, read-only, and wiped by
 * sealer_close. Records name their key id so that keys can rotate: a record
 * sealed under an older id still opens.
 *
 * Thread-safety: a sealer is read-only after sealer_open; seal and unseal
 * may run on many threads at once.
 */
#ifndef PLUGIN_SEAL_H
#define PLUGIN_SEAL_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define SEAL_VERSION 1
#define SEAL_HEADER_LEN (1 + 4 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
#define SEAL_OVERHEAD (SEAL_HEADER_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define SEAL_MASTER_KEY_LEN crypto_kdf_KEYBYTES
#define SEAL_KEY_ID_CURRENT 1

enum seal_rc {
	SEAL_OK = 0,
	SEAL_EOPEN = -1, /* tampered, truncated, moved, wrong key or unknown version */
	SEAL_ENOMEM = -2,
	SEAL_EKEYFILE = -3, /* the master key file is missing, unreadable or unsafe */
};

struct sealer {
	unsigned char *master;  /* sodium_malloc'd, read-only */
	unsigned char *current; /* the key of key_id, sodium_malloc'd, read-only */
	uint32_t key_id;        /* used for new records */
};

/* Loads the master key from path, creating it (0600, 32 random bytes) when it
 * does not exist. SEAL_EKEYFILE with a message naming the file otherwise. */
int sealer_open(struct sealer *s, const char *path, char *err, size_t err_cap)
	__attribute__((warn_unused_result));

/* Uses master[0..32) (copied) instead of a file: for tests and fuzzing. */
int sealer_open_key(struct sealer *s, const unsigned char *master)
	__attribute__((warn_unused_result));

/* Wipes and frees the key. */
void sealer_close(struct sealer *s);

/* Seals plain[0..plain_len) for (db, key). *out is malloc'd (free()),
 * *out_len = plain_len + SEAL_OVERHEAD. */
int seal_record(const struct sealer *s, const char *db, const void *key, size_t key_len,
		const void *plain, size_t plain_len, unsigned char **out, size_t *out_len)
	__attribute__((warn_unused_result));

/* Opens a sealed record for (db, key). *plain is allocated with one extra
 * NUL byte after the plaintext; release it with unseal_free(), which wipes
 * it. */
int unseal_record(const struct sealer *s, const char *db, const void *key, size_t key_len,
		  const unsigned char *sealed, size_t sealed_len, char **plain, size_t *plain_len)
	__attribute__((warn_unused_result));

void unseal_free(char *plain);

#endif
