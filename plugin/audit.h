/*
 * The plugin's security events in the node's audit trail, through the host
 * (ABI 1.3: audit, audit_async). Each is recorded after the change it
 * reports committed and before the answer that reports it; an event the
 * trail cannot record turns the answer into an error (500
 * api.audit.write_failed.app_error, or the flow's error page), though the
 * change stands: what the trail does not show is not acknowledged.
 *
 * Events, and who is who:
 *   app_listed, app_installed, app_enabled, app_disabled, app_uninstalled:
 *       actor the admin, app_id, target_user the App's bot (install,
 *       uninstall)
 *   oauth2_client_stored: actor the App's bot or admin acting user
 *   oauth2_user_stored, oauth2_user_deleted: actor and target_user the
 *       acting user whose record it is
 *   flow_connected, flow_failed: actor and target_user the person
 *   oauth2_token_refreshed, oauth2_token_revoked (the provider said
 *       invalid_grant: the record was deleted): actor and target_user the
 *       acting user of the call that found the token due (token_refresh.h)
 * A host without an audit trail (older than ABI 1.3) records nothing.
 */
#ifndef PLUGIN_AUDIT_H
#define PLUGIN_AUDIT_H

#include <stdbool.h>

#include "plugin.h"

/* Records event and returns once it is on disk (blocks: workers only).
 * MMPLUGIN_OK (also when the host keeps no trail), or the host's error. */
int plugin_audit(struct apps_plugin *p, const char *event, const char *actor, const char *app_id,
		 const char *target_user, const char *request_id);

/* plugin_audit for request c (its caller as actor, its request id); on
 * failure answers 500 api.audit.write_failed.app_error and returns false. */
bool audit_request(struct apps_call *c, const char *event, const char *app_id,
		   const char *target_user);

/* Records event without blocking: 1, and done(arg, rc) follows once it is on
 * disk (rc MMPLUGIN_OK) or failed, from a host thread; 0 when the host keeps
 * no trail (done is not called: answer now); < 0 when it could not be
 * queued (done is not called). */
int plugin_audit_later(struct apps_plugin *p, const char *event, const char *actor,
		       const char *app_id, const char *target_user, const char *request_id,
		       void (*done)(void *arg, int rc), void *arg);

/* Sets up and tears down the count of lines plugin_audit_later queued;
 * plugin_audit_drain waits until each one's done has returned (deactivate:
 * those callbacks finish responses and use the plugin's state). */
void plugin_audit_init(struct apps_plugin *p);
void plugin_audit_drain(struct apps_plugin *p);

#endif
