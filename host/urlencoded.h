/*
 * Reading application/x-www-form-urlencoded text (form bodies and query
 * strings) and Cookie headers. Pure functions, no allocation.
 */
#ifndef HOST_URLENCODED_H
#define HOST_URLENCODED_H

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
