#include "flow_tokens.h"

#include <sodium.h>
#include <string.h>

#include "banned.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

void flow_random_token(char out[FLOW_TOKEN_LEN + 1])
{
	unsigned char raw[32];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out, FLOW_TOKEN_LEN + 1, raw, sizeof(raw), B64);
	sodium_memzero(raw, sizeof(raw));
}

void pkce_challenge_s256(const char *verifier, char out[FLOW_TOKEN_LEN + 1])
{
	unsigned char digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, (const unsigned char *)verifier, strlen(verifier));
	sodium_bin2base64(out, FLOW_TOKEN_LEN + 1, digest, sizeof(digest), B64);
}

void state_hash(const char *state, size_t len, unsigned char out[STATE_HASH_LEN])
{
	crypto_generichash(out, STATE_HASH_LEN, (const unsigned char *)state, len, NULL, 0);
}
