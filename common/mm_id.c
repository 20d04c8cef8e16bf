#include "mm_id.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "banned.h"

static const char alphabet[] = "ybndrfg8ejkmcpqxot1uwisza345h769";

void mm_id_encode(const unsigned char raw[16], char out[MM_ID_LEN + 1])
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < 16; i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = alphabet[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

void mm_id_new(char out[MM_ID_LEN + 1])
{
	unsigned char raw[16];

	randombytes_buf(raw, sizeof(raw));
	mm_id_encode(raw, out);
	sodium_memzero(raw, sizeof(raw));
}

bool mm_id_valid(const char *s, size_t len)
{
	if (len != MM_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0' || !memchr(alphabet, s[i], sizeof(alphabet) - 1))
			return false;
	}
	return true;
}
