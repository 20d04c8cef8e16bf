/* The origin (scheme, host, port) of an absolute http(s) URL, to decide
 * whether a connect URL an App returns may be redirected to. */
#ifndef PLUGIN_URL_ORIGIN_H
#define PLUGIN_URL_ORIGIN_H

#include <stdbool.h>

struct url_origin {
	char scheme[8]; /* "http" or "https" */
	char host[256]; /* lower-case; IPv6 in brackets */
	unsigned port;  /* 80 or 443 when absent */
};

/* 0 when url is an absolute http or https URL with a host, no user info, no
 * space, control character or backslash, at most 4096 bytes; -1 otherwise. */
int url_origin_parse(const char *url, struct url_origin *out);

bool url_same_origin(const struct url_origin *a, const struct url_origin *b);

#endif
