#include "request_id.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "banned.h"

#define ID_BYTES 16
/* Ids per keystream refill: one ChaCha20 call per 32 ids. */
#define POOL_IDS 32

struct id_stream {
	unsigned char key[crypto_stream_chacha20_KEYBYTES];
	uint64_t nonce; /* a fresh nonce per refill: the keystream never repeats */
	unsigned char pool[POOL_IDS * ID_BYTES];
	size_t used;
	bool seeded;
};

static _Thread_local struct id_stream stream;

void request_id_new(char out[MM_ID_LEN + 1])
{
	struct id_stream *s = &stream;

	if (!s->seeded) {
		randombytes_buf(s->key, sizeof(s->key));
		s->used = sizeof(s->pool);
		s->seeded = true;
	}
	if (s->used == sizeof(s->pool)) {
		unsigned char nonce[crypto_stream_chacha20_NONCEBYTES] = { 0 };
		memcpy(nonce, &s->nonce,
		       sizeof(s->nonce) < sizeof(nonce) ? sizeof(s->nonce) : sizeof(nonce));
		s->nonce++;
		crypto_stream_chacha20(s->pool, sizeof(s->pool), nonce, s->key);
		s->used = 0;
	}
	mm_id_encode(s->pool + s->used, out);
	s->used += ID_BYTES;
}
