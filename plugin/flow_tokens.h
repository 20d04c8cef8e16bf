/* The random values of the OAuth2 flow: the state, the PKCE code_verifier
 * and its S256 code_challenge, and the state's stored hash. */
#ifndef PLUGIN_FLOW_TOKENS_H
#define PLUGIN_FLOW_TOKENS_H

#include <stddef.h>

#include "apps_store.h"

/* 32 random bytes in base64url without padding: 43 characters. */
#define FLOW_TOKEN_LEN 43

void flow_random_token(char out[FLOW_TOKEN_LEN + 1]);
/* base64url(SHA-256(verifier)), RFC 7636's S256. */
void pkce_challenge_s256(const char *verifier, char out[FLOW_TOKEN_LEN + 1]);
/* BLAKE2b-256 of the state: the only form in which a state is stored. */
void state_hash(const char *state, size_t len, unsigned char out[STATE_HASH_LEN]);

#endif
