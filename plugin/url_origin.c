#include "url_origin.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "banned.h"

#define URL_MAX 4096

int url_origin_parse(const char *url, struct url_origin *out)
{
	const char *p, *auth_end, *colon = NULL;
	size_t n, hlen;

	memset(out, 0, sizeof(*out));
	if (!url || (n = strlen(url)) > URL_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c == 0x7f || c == '\\')
			return -1;
	}
	if (strncasecmp(url, "https://", 8) == 0) {
		snprintf(out->scheme, sizeof(out->scheme), "https");
		out->port = 443;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		snprintf(out->scheme, sizeof(out->scheme), "http");
		out->port = 80;
		p = url + 7;
	} else {
		return -1;
	}
	auth_end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(auth_end - p)))
		return -1; /* user info hides the real host */
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(auth_end - p));
		if (!close)
			return -1;
		hlen = (size_t)(close - p) + 1;
		if (close + 1 < auth_end) {
			if (close[1] != ':')
				return -1;
			colon = close + 1;
		}
	} else {
		colon = memchr(p, ':', (size_t)(auth_end - p));
		hlen = colon ? (size_t)(colon - p) : (size_t)(auth_end - p);
	}
	if (hlen == 0 || hlen >= sizeof(out->host))
		return -1;
	for (size_t i = 0; i < hlen; i++)
		out->host[i] = (char)tolower((unsigned char)p[i]);
	out->host[hlen] = '\0';
	if (colon) {
		char *end;
		unsigned long port;
		if (colon + 1 == auth_end || !isdigit((unsigned char)colon[1]))
			return -1;
		port = strtoul(colon + 1, &end, 10);
		if (end != auth_end || port == 0 || port > 65535)
			return -1;
		out->port = (unsigned)port;
	}
	return 0;
}

bool url_same_origin(const struct url_origin *a, const struct url_origin *b)
{
	return strcmp(a->scheme, b->scheme) == 0 && strcmp(a->host, b->host) == 0 &&
	       a->port == b->port;
}
