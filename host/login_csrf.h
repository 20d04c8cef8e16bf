/*
 * Login CSRF: the login form is only accepted from this site's own page.
 *
 * Two checks, both needed because a login needs no session to forge:
 *   - the page check: GET /login sets a cookie holding a random token and
 *     puts the same token in the form (a double-submit cookie bound to the
 *     page); a POST must carry both, equal. A foreign page can make the
 *     browser send the cookie but cannot read it, so it cannot fill the
 *     field. On an https site the cookie is "__Host-"-prefixed, so that no
 *     other host (a sibling subdomain) can plant one.
 *   - the site check: browsers say where a POST comes from (Origin,
 *     Sec-Fetch-Site); a foreign one is refused, on the form and on the API
 *     login alike (a text/plain form can post a body that parses as JSON).
 *     Clients that are not browsers send neither header and are not
 *     affected.
 */
#ifndef HOST_LOGIN_CSRF_H
#define HOST_LOGIN_CSRF_H

#include <stdbool.h>

#include "host_request.h"

#define LOGIN_CSRF_TOKEN_LEN 43 /* 32 random bytes, base64url without padding */
#define LOGIN_CSRF_MAX_AGE_S 3600

/* False when r says it comes from another site: an Origin header that is
 * neither the site URL's origin nor the origin the browser used (the Host
 * it sent), or a Sec-Fetch-Site other than "same-origin" or "none". Origin
 * "null" passes only with Sec-Fetch-Site "same-origin": browsers send it for
 * a form posted from a page with Referrer-Policy no-referrer, which every
 * page of the host has. True when neither header is sent. */
bool login_csrf_same_site(const struct host_request *r);

/* The token for a form answering r: the request's login-CSRF cookie when it
 * holds a well-formed token (several tabs share one), else a new one; the
 * cookie is (re)set on r's response. out gets LOGIN_CSRF_TOKEN_LEN
 * characters and a NUL. */
void login_csrf_token(struct host_request *r, char out[LOGIN_CSRF_TOKEN_LEN + 1]);

/* True when form_token (may be NULL) equals the request's login-CSRF
 * cookie, compared in constant time; false when either is missing or
 * malformed. */
bool login_csrf_check(const struct host_request *r, const char *form_token);

/* Adds a header to r's response that clears the login-CSRF cookie. */
void login_csrf_clear(struct host_request *r);

#endif
