/* libFuzzer: App call paths. Whatever comes in, what comes out is a path in
 * normal form: it starts with '/', holds only allowed bytes, no empty, "."
 * or ".." segment, and normalising it again changes nothing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "call_path.h"

static int allowed(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-._~!$&'()*+,=:@/", c));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[CALL_PATH_MAX + 1], again[CALL_PATH_MAX + 1];
	size_t n;

	if (call_path_normalize((const char *)data, size, out, sizeof(out)) != CALL_PATH_OK) {
		if (out[0] != '\0')
			abort();
		return 0;
	}
	n = strlen(out);
	if (n == 0 || out[0] != '/' || (n > 1 && out[n - 1] == '/') || strstr(out, "//") ||
	    strstr(out, "/./") || strstr(out, "/../") ||
	    (n >= 2 && strcmp(out + n - 2, "/.") == 0) ||
	    (n >= 3 && strcmp(out + n - 3, "/..") == 0))
		abort();
	for (size_t i = 0; i < n; i++) {
		if (!allowed((unsigned char)out[i]))
			abort();
	}
	if (call_path_normalize(out, n, again, sizeof(again)) != CALL_PATH_OK ||
	    strcmp(out, again) != 0)
		abort();
	return 0;
}
