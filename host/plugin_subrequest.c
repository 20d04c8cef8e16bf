#include "plugin_subrequest.h"

#include <string.h>

#include "banned.h"

int plugin_subrequest_get(struct host_request *r, const char *plugin_id, const char *path,
			  struct mmplugin_response *resp)
{
	struct mmplugin_session_prop props[SESSION_PROPS_MAX];
	struct mmplugin_session session;
	struct mmplugin_user user;
	struct mmplugin_request req;
	const struct host_session *s = &r->session;

	memset(&req, 0, sizeof(req));
	req.struct_size = sizeof(req);
	req.method = (struct mmplugin_str){ "GET", 3 };
	req.path = (struct mmplugin_str){ path, strlen(path) };
	req.query = (struct mmplugin_str){ "", 0 };
	req.request_id = (struct mmplugin_str){ r->request_id, strlen(r->request_id) };
	req.body = (struct mmplugin_str){ "", 0 };
	req.remote_addr = (struct mmplugin_str){ r->remote, strlen(r->remote) };
	req.on_worker = 1;
	if (r->auth == AUTH_OK) {
		for (size_t i = 0; i < s->props_len && i < SESSION_PROPS_MAX; i++) {
			props[i].key =
				(struct mmplugin_str){ s->props[i].key, strlen(s->props[i].key) };
			props[i].value = (struct mmplugin_str){ s->props[i].value,
								strlen(s->props[i].value) };
		}
		session = (struct mmplugin_session){
			.id = { s->id, strlen(s->id) },
			.user_id = { s->user_id, strlen(s->user_id) },
			.props = props,
			.props_len = s->props_len,
			.create_at_ms = s->create_at,
			.expires_at_ms = s->expires_at,
		};
		req.session = &session;
		user_to_plugin(&s->user, &user);
		req.session_user = &user;
		req.session_source = r->token.source == AUTH_SRC_HEADER   ? MMPLUGIN_SESSION_HEADER
				     : r->token.source == AUTH_SRC_COOKIE ? MMPLUGIN_SESSION_COOKIE
									  : MMPLUGIN_SESSION_QUERY;
	}
	if (plugin_registry_serve(r->host->plugins, plugin_id, strlen(plugin_id), &req, resp) != 0)
		return SUBREQUEST_ENOPLUGIN;
	return resp->touched ? SUBREQUEST_OK : SUBREQUEST_EANSWER;
}
