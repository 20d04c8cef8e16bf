/*
 * The path of a call to an App, in the one form the plugin checks and sends.
 *
 * An App's HTTP server decodes and cleans a path before routing it:
 * "/oauth2/%63omplete", "/oauth2//complete", "/x/./oauth2/complete" and
 * "/OAuth2/Complete/" may all reach its /oauth2/complete handler (Express,
 * for one, routes without regard to case or a trailing slash). So a path is
 * normalised before any decision and the App is sent exactly what was
 * checked:
 *   - percent escapes are decoded (a '%' not followed by two hex digits is
 *     refused);
 *   - an escaped '/' or '\' (%2F, %5C) is refused, and so is anything that
 *     decodes to a '%' (a second round of decoding);
 *   - empty and "." segments go (so does a trailing '/', but for "/"
 *     itself), and a ".." segment is refused;
 *   - every byte left is one of A-Z a-z 0-9 - . _ ~ ! $ & ' ( ) * + , = : @ /
 *     (no '?', '#', ';', space, control or non-ASCII byte).
 * The result starts with '/', has no empty, "." or ".." segment, and
 * normalising it again gives it back unchanged.
 */
#ifndef PLUGIN_CALL_PATH_H
#define PLUGIN_CALL_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define CALL_PATH_MAX 1024 /* bytes, before and after normalising */

enum call_path_rc {
	CALL_PATH_OK = 0,
	CALL_PATH_EINVAL = -1, /* not a path an App may be called at (see above) */
	CALL_PATH_ETOOLONG = -2,
};

/* Normalises in[0..len) into out (cap bytes, NUL-terminated). CALL_PATH_OK,
 * or an error with out set to "". */
int call_path_normalize(const char *in, size_t len, char *out, size_t cap)
	__attribute__((warn_unused_result));

/* True when normalised paths a and b reach the same handler of an App that
 * routes without regard to case. */
bool call_path_same_route(const char *a, const char *b);

#endif
