/* libFuzzer: opening sealed records. The first byte splits the input into a
 * record key and a sealed record; nothing forged may open. A record sealed
 * here from the input must open again to the same bytes. */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "seal.h"

static struct sealer sealer;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char master[32] = { 7 };
	size_t split = size ? data[0] % (size < 64 ? size : 64) : 0;
	char *plain = NULL;
	unsigned char *sealed;
	size_t plen, slen;

	if (!sealer.master && (sodium_init() < 0 || sealer_open_key(&sealer, master) != SEAL_OK))
		abort();
	if (size == 0)
		return 0;
	if (unseal_record(&sealer, "oauth2_user", data + 1, split, data + 1 + split,
			  size - 1 - split, &plain, &plen) == SEAL_OK)
		abort(); /* a forgery opened */
	if (seal_record(&sealer, "oauth2_user", data, split, data, size, &sealed, &slen) != SEAL_OK)
		abort();
	if (unseal_record(&sealer, "oauth2_user", data, split, sealed, slen, &plain, &plen) !=
		    SEAL_OK ||
	    plen != size || memcmp(plain, data, size) != 0)
		abort();
	unseal_free(plain);
	free(sealed);
	return 0;
}
