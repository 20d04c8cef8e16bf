/* The HTML pages and redirects of the OAuth2 flow. Every answer carries
 * Cache-Control: no-store and Referrer-Policy: no-referrer. */
#ifndef PLUGIN_FLOW_PAGE_H
#define PLUGIN_FLOW_PAGE_H

#include "plugin.h"

/* A page with a heading and one paragraph; both are HTML-escaped. */
void flow_page(struct apps_call *c, int status, const char *title, const char *message);

/* A redirect (302 or 307) to location. */
void flow_redirect(struct apps_call *c, int status, const char *location);

#endif
