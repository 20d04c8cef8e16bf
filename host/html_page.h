/*
 * The host's HTML pages (login, log out, the landing page, not found): one
 * frame for all of them, and a bounded buffer to build their bodies in.
 *
 * Every page carries the same headers: a strict Content-Security-Policy
 * (default-src 'none'; the one inline style block allowed by its hash, no
 * script at all; forms post only to this site; no framing),
 * X-Frame-Options DENY, Referrer-Policy no-referrer and Cache-Control
 * no-store. Pages work without JavaScript: they have none.
 */
#ifndef HOST_HTML_PAGE_H
#define HOST_HTML_PAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "host_request.h"

/* A page body past this is not sent (500): every page is small. */
#define HTML_PAGE_MAX (64 * 1024)

/* A body being built. Appending past HTML_PAGE_MAX (or after a failed
 * allocation) sets overflow and keeps what fit; html_send then answers 500. */
struct html_buf {
	char *text; /* malloc'd, NUL-terminated */
	size_t len;
	bool overflow;
};

/* Starts an empty body. Never fails: a failed allocation is an overflow. */
void html_buf_init(struct html_buf *b);
void html_buf_free(struct html_buf *b);

/* Appends trusted HTML made from fmt. Never pass text from a user or a
 * plugin as fmt or as a %s argument: use html_text. */
void html_add(struct html_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends text escaped for HTML content and attribute values (& < > " '). */
void html_text(struct html_buf *b, const char *text);

/* Answers r with status and a whole page: the title (plain text, escaped
 * here), more_head (trusted HTML for the head, e.g. a meta refresh; may be
 * NULL) and the body. The body buffer is left to the caller to free. */
void html_send(struct host_request *r, int status, const char *title, const char *more_head,
	       const struct html_buf *body);

/* True when path[0..len) is an API path, whose errors are JSON: under /api/,
 * or under /plugins/{id}/api/. Everything else is for browsers. */
bool html_path_is_api(const char *path, size_t len);

/* A 404 for r: the Mattermost-shaped JSON error (id, message) on an API
 * path, else an HTML page saying there is nothing here, with a link home. */
void host_not_found(struct host_request *r, const char *id, const char *message);

#endif
