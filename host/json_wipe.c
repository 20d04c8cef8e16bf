#include "json_wipe.h"

#include <jansson.h>
#include <malloc.h>
#include <sodium.h>
#include <stdlib.h>

#include "banned.h"

/* jansson does not say how large a block is; the allocator does (glibc's
 * malloc_usable_size, at least the size asked for: what lies past it is
 * the block's own slack, ours to wipe). */
static void wipe_free(void *p)
{
	if (!p)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

void json_wipe_install(void)
{
	json_set_alloc_funcs(malloc, wipe_free);
}
