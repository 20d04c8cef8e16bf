#include "html_page.h"

#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urlencoded.h"
#include "banned.h"

/*
 * The one style block of every page. The CSP allows exactly this text by
 * its SHA-256 (no 'unsafe-inline'): change it and the hash follows.
 * box-sizing makes a width of 100% include padding and border, so that the
 * buttons line up with the inputs (Chromium sizes buttons border-box and
 * inputs content-box by default).
 */
static const char page_style[] =
	"*{box-sizing:border-box}"
	"body{font-family:system-ui,sans-serif;max-width:28em;margin:3em auto;padding:0 1em;"
	"color:#1b1d22;line-height:1.45}"
	"h1{font-size:1.6em}h2{font-size:1.15em;margin-top:1.6em}"
	"label,input,button{display:block;width:100%;margin:.4em 0}"
	"input,button{padding:.55em;font-size:1em;border-radius:4px}"
	"input{border:1px solid #8a8f99}"
	"button{border:0;background:#1c58d9;color:#fff;font-weight:600;cursor:pointer;"
	"margin-top:1em}"
	"button:hover,button:focus{background:#1646ad}"
	".err{color:#a4000f}.muted{color:#5d6470}.ok{color:#06622c;font-weight:600}"
	"ul.apps{list-style:none;padding:0;margin:0}"
	"ul.apps li{display:flex;gap:1em;align-items:baseline;justify-content:space-between;"
	"border-bottom:1px solid #d8dbe0;padding:.6em 0}"
	"ul.apps .name{flex:1}";

#define CSP_MAX 256

static char csp[CSP_MAX];
static pthread_once_t csp_once = PTHREAD_ONCE_INIT;

static void make_csp(void)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
					   sodium_base64_VARIANT_ORIGINAL)];

	crypto_hash_sha256(h, (const unsigned char *)page_style, sizeof(page_style) - 1);
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL);
	/* form-action 'self' holds for the forms' own posts and for redirects
	 * answering them: after a login the page moves on by a meta refresh
	 * instead (pages.c), so the connect -> provider chain is a navigation
	 * of its own. */
	snprintf(csp, sizeof(csp),
		 "default-src 'none'; style-src 'sha256-%s'; form-action 'self'; "
		 "frame-ancestors 'none'; base-uri 'none'",
		 b64);
}

void html_buf_init(struct html_buf *b)
{
	b->len = 0;
	b->overflow = false;
	b->text = malloc(HTML_PAGE_MAX);
	if (b->text)
		b->text[0] = '\0';
	else
		b->overflow = true;
}

void html_buf_free(struct html_buf *b)
{
	free(b->text);
	b->text = NULL;
}

static __attribute__((format(printf, 2, 0))) void add_v(struct html_buf *b, const char *fmt,
							va_list ap)
{
	int n;

	if (b->overflow)
		return;
	n = vsnprintf(b->text + b->len, HTML_PAGE_MAX - b->len, fmt, ap);
	if (n < 0 || (size_t)n >= HTML_PAGE_MAX - b->len) {
		b->text[b->len] = '\0';
		b->overflow = true;
		return;
	}
	b->len += (size_t)n;
}

void html_add(struct html_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_v(b, fmt, ap);
	va_end(ap);
}

void html_text(struct html_buf *b, const char *text)
{
	if (b->overflow)
		return;
	if (html_escape(text, b->text + b->len, HTML_PAGE_MAX - b->len) != FORM_OK) {
		b->text[b->len] = '\0';
		b->overflow = true;
		return;
	}
	b->len += strlen(b->text + b->len);
}

static void add_headers(struct host_request *r, int status)
{
	static const char ct[] = "text/html; charset=utf-8";
	struct mmplugin_response *resp = r->resp;

	pthread_once(&csp_once, make_csp);
	response_set_status(resp, status);
	(void)response_add_header(resp, "Content-Type", 12, ct, sizeof(ct) - 1);
	(void)response_add_header(resp, "Cache-Control", 13, "no-store", 8);
	(void)response_add_header(resp, "Content-Security-Policy", 23, csp, strlen(csp));
	(void)response_add_header(resp, "X-Frame-Options", 15, "DENY", 4);
	(void)response_add_header(resp, "Referrer-Policy", 15, "no-referrer", 11);
}

void html_send(struct host_request *r, int status, const char *title, const char *more_head,
	       const struct html_buf *body)
{
	struct html_buf page;

	html_buf_init(&page);
	html_add(&page, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
			"<meta name=\"viewport\" content=\"width=device-width\"><title>");
	html_text(&page, title);
	html_add(&page, "</title>%s<style>%s</style></head><body>", more_head ? more_head : "",
		 page_style);
	if (!body->overflow)
		html_add(&page, "%s</body></html>", body->text);
	if (body->overflow || page.overflow) {
		html_buf_free(&page);
		host_error(r, 500, "api.context.internal_error.app_error",
			   "The page could not be made.");
		return;
	}
	add_headers(r, status);
	response_take_body(r->resp, page.text, page.len);
}

bool html_path_is_api(const char *path, size_t len)
{
	static const char plugins[] = "/plugins/";
	const size_t plen = sizeof(plugins) - 1;
	const char *rest, *slash;

	if ((len == 4 || (len > 4 && path[4] == '/')) && memcmp(path, "/api", 4) == 0)
		return true;
	if (len <= plen || memcmp(path, plugins, plen) != 0)
		return false;
	rest = path + plen;
	slash = memchr(rest, '/', len - plen);
	if (!slash)
		return false;
	len -= (size_t)(slash - path);
	return (len == 4 || (len > 4 && slash[4] == '/')) && memcmp(slash, "/api", 4) == 0;
}

void host_not_found(struct host_request *r, const char *id, const char *message)
{
	struct html_buf body;

	if (html_path_is_api(r->path, strlen(r->path))) {
		host_error(r, 404, id, message);
		return;
	}
	html_buf_init(&body);
	html_add(&body, "<h1>Page not found</h1><p>There is no page at this address.</p>"
			"<p><a href=\"/\">Go to the start page</a></p>");
	html_send(r, 404, "Page not found", NULL, &body);
	html_buf_free(&body);
}
