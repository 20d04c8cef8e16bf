/*
 * Reading and writing application/x-www-form-urlencoded text (form bodies and
 * query strings), Cookie headers, HTML escaping. Pure functions, no
 * allocation; shared by the host and the plugin.
 */
#ifndef COMMON_URLENCODED_H
#define COMMON_URLENCODED_H

#include <stddef.h>

enum form_rc {
	FORM_OK = 0,
	FORM_ENOTFOUND = -1,
	FORM_ETOOLONG = -2, /* the decoded value does not fit in cap - 1 bytes */
	FORM_EBAD = -3,     /* a bad %-escape, or a decoded NUL */
};

/* Finds the first name=value pair in text[0..len) (pairs split by '&'),
 * decodes value ('+' is a space, %XX a byte) into out (NUL-terminated). */
int form_get(const char *text, size_t len, const char *name, char *out, size_t cap);

/* Percent-encodes s (everything but A-Z a-z 0-9 - . _ ~) into out. FORM_OK or
 * FORM_ETOOLONG. */
int url_encode(const char *s, char *out, size_t cap);

/* Calls fn for each name=value pair of text[0..len), decoded (names and
 * values at most 1023 bytes; longer or badly escaped pairs are skipped), in
 * order. Stops early when fn returns non-zero and returns that value. */
int form_each(const char *text, size_t len,
	      int (*fn)(const char *name, const char *value, void *arg), void *arg);

/* Finds cookie name in a Cookie header ("a=1; b=2") and copies its value
 * (not decoded) into out. FORM_OK, FORM_ENOTFOUND or FORM_ETOOLONG. */
int cookie_get(const char *header, const char *name, char *out, size_t cap);

/* Writes s HTML-escaped (& < > " ') into out; returns FORM_OK or
 * FORM_ETOOLONG. */
int html_escape(const char *s, char *out, size_t cap);

/* True when to is a path on this site that is safe to redirect to: starts
 * with a single '/', no backslash, no control character or space. */
int redirect_is_local(const char *to);

#endif
