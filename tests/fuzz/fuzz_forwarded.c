/*
 * libFuzzer: the client address behind trusted proxies, from what a proxy
 * (or a client through it) wrote in X-Forwarded-For and X-Forwarded-Proto.
 * Input: up to 8 header values separated by newlines; the last one is also
 * read as X-Forwarded-Proto.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trusted_proxies.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct trusted_proxies tp;
	static int ready;
	char *text = malloc(size + 1), *values[XFF_HEADERS_MAX + 2], out[CLIENT_ADDR_MAX];
	char err[256];
	size_t n = 0;

	if (!text)
		return 0;
	if (!ready) {
		static const char *const nets[] = { "127.0.0.1", "10.0.0.0/8", "2001:db8::/32",
						    "192.0.2.0/24" };
		for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
			if (trusted_proxies_add(&tp, nets[i], err, sizeof(err)) != 0)
				abort();
		ready = 1;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	for (char *p = text; n < XFF_HEADERS_MAX + 2;) {
		char *nl = strchr(p, '\n');
		values[n++] = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	trusted_proxies_client(&tp, (const char *const *)values, n, "127.0.0.1", out, sizeof(out));
	if (strlen(out) >= sizeof(out))
		abort();
	(void)forwarded_proto_is_https(values[n - 1]);
	free(text);
	return 0;
}
