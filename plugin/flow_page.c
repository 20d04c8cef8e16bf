#include "flow_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urlencoded.h"
#include "banned.h"

#define TEXT_MAX 2048
#define PAGE_MAX 16384

static void common_headers(struct apps_call *c)
{
	static const char csp[] = "default-src 'none'; style-src 'unsafe-inline'; "
				  "frame-ancestors 'none'";
	const struct mmplugin_host_api *api = c->plugin->api;

	api->response_add_header(c->resp, "Cache-Control", 13, "no-store", 8);
	api->response_add_header(c->resp, "Referrer-Policy", 15, "no-referrer", 11);
	api->response_add_header(c->resp, "Content-Security-Policy", 23, csp, sizeof(csp) - 1);
	api->response_add_header(c->resp, "X-Frame-Options", 15, "DENY", 4);
	api->response_add_header(c->resp, "X-Content-Type-Options", 22, "nosniff", 7);
}

void flow_page(struct apps_call *c, int status, const char *title, const char *message)
{
	static const char ct[] = "text/html; charset=utf-8";
	char t[TEXT_MAX * 6], m[TEXT_MAX * 6], *page = malloc(PAGE_MAX);
	char short_msg[TEXT_MAX];
	const struct mmplugin_host_api *api = c->plugin->api;
	int n;

	if (!page) {
		api->response_set_status(c->resp, 500);
		return;
	}
	c->status = status;
	snprintf(short_msg, sizeof(short_msg), "%s", message);
	if (html_escape(title, t, sizeof(t)) != 0 || html_escape(short_msg, m, sizeof(m)) != 0)
		snprintf(m, sizeof(m), "(the message could not be shown)");
	n = snprintf(page, PAGE_MAX,
		     "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
		     "<meta name=\"viewport\" content=\"width=device-width\"><title>%s</title>"
		     "<style>body{font-family:sans-serif;max-width:32em;margin:4em auto;"
		     "padding:0 1em}</style></head><body><h1>%s</h1><p>%s</p></body></html>",
		     t, t, m);
	api->response_set_status(c->resp, status);
	api->response_add_header(c->resp, "Content-Type", 12, ct, sizeof(ct) - 1);
	common_headers(c);
	if (n > 0 && n < PAGE_MAX)
		api->response_set_body(c->resp, page, (size_t)n);
	free(page);
}

void flow_redirect(struct apps_call *c, int status, const char *location)
{
	const struct mmplugin_host_api *api = c->plugin->api;

	c->status = status;
	api->response_set_status(c->resp, status);
	if (api->response_add_header(c->resp, "Location", 8, location, strlen(location)) !=
	    MMPLUGIN_OK) {
		flow_page(c, 502, "Cannot connect", "The address to go to is not valid.");
		return;
	}
	common_headers(c);
}
