/*
 * Mattermost-style ids: 16 random bytes in base32 with Mattermost's alphabet
 * "ybndrfg8ejkmcpqxot1uwisza345h769", 26 characters, no padding.
 */
#ifndef COMMON_MM_ID_H
#define COMMON_MM_ID_H

#include <stdbool.h>
#include <stddef.h>

#define MM_ID_LEN 26

/* Writes a new random id and a NUL into out. Needs sodium_init() done. */
void mm_id_new(char out[MM_ID_LEN + 1]);

/* Writes the id of 16 given bytes and a NUL into out (mm_id_new with the
 * caller's randomness). */
void mm_id_encode(const unsigned char raw[16], char out[MM_ID_LEN + 1]);

/* True when s[0..len) has the shape of an id (26 characters of the alphabet). */
bool mm_id_valid(const char *s, size_t len);

#endif
