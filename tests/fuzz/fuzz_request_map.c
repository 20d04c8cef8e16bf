/* libFuzzer: the host's request mapping and what it reads from a request
 * (path routing, query and form decoding, cookies, tokens, redirects). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "request_map.h"
#include "urlencoded.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[256];
	struct route_match m;
	struct auth_token t;
	const char *q;
	size_t qlen;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	request_map(s, size, &m);
	if (m.kind == ROUTE_PLUGIN && (m.plugin_id_len == 0 || m.subpath_len == 0))
		abort();
	request_method_allowed(m.allow, s);
	request_split_query(s, size, &q, &qlen);
	form_get(q, qlen, "redirect_to", out, sizeof(out));
	form_get(s, size, "", out, sizeof(out));
	cookie_get(s, "MMAUTHTOKEN", out, sizeof(out));
	html_escape(s, out, sizeof(out));
	url_encode(s, out, sizeof(out));
	redirect_is_local(s);
	auth_extract(s, s, s, size, &t);
	if (t.len > AUTH_TOKEN_MAX)
		abort();
	free(s);
	return 0;
}
