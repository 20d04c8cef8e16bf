/*
 * A request the host makes to an active plugin in-process, as the person
 * whose request it is serving: the host's own pages show what a plugin
 * knows (the landing page lists the Apps a user may connect) without the
 * host learning the plugin's data or a second HTTP round trip.
 */
#ifndef HOST_PLUGIN_SUBREQUEST_H
#define HOST_PLUGIN_SUBREQUEST_H

#include "host_request.h"

enum subrequest_rc {
	SUBREQUEST_OK = 0,
	SUBREQUEST_ENOPLUGIN = -1, /* no active plugin has this id */
	SUBREQUEST_EANSWER = -2,   /* the plugin set no answer (or asked to defer) */
};

/*
 * GETs path (a plugin path such as "/api/v1/connections", NUL-terminated)
 * from plugin id with r's session (its user, its props and how it was
 * presented, as the plugin would see them on r itself), no headers, no
 * query and no body. Runs on r's thread; the plugin's serve_http is called
 * with on_worker set, so r must be served on a worker. resp (initialised
 * by the caller, freed by the caller) gets the plugin's answer.
 */
int plugin_subrequest_get(struct host_request *r, const char *plugin_id, const char *path,
			  struct mmplugin_response *resp);

#endif
