#include "query_room.h"

#include <string.h>

#include "banned.h"

#define ROUND16(n) (((n) + 15) / 16 * 16)

size_t query_room_args(const char *target, size_t len)
{
	const char *q = memchr(target, '?', len);
	size_t n = 0;

	if (!q || q + 1 == target + len)
		return 0;
	for (const char *p = q + 1; p < target + len; p++)
		n += *p == '&';
	return n + 1;
}

bool query_room_fits(size_t target_len, size_t args, size_t pool_bytes)
{
	size_t buffer = pool_bytes / 2;

	if (args == 0)
		return true;
	/* A target is at most the pool (libmicrohttpd answers 414 to a longer
	 * line itself): no overflow. */
	if (target_len + QUERY_ROOM_LINE_SLACK + pool_bytes / 16 > buffer)
		buffer = target_len + QUERY_ROOM_LINE_SLACK + pool_bytes / 16;
	buffer = ROUND16(buffer) + QUERY_ROOM_MARGIN;
	return buffer < pool_bytes && args <= (pool_bytes - buffer) / QUERY_ROOM_ARG_BYTES;
}
