/*
 * A response being built, by the host's own handlers or by a plugin through
 * the ABI's response_* setters. The HTTP layer turns it into bytes on the
 * wire. Setters copy what they are given and enforce the ABI's limits.
 */
#ifndef HOST_RESPONSE_H
#define HOST_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#include <mmplugin/plugin.h>

#define RESPONSE_HEADERS_MAX 32
#define RESPONSE_HEADER_BYTES_MAX (16 * 1024)
#define RESPONSE_BODY_MAX (16 * 1024 * 1024)

struct response_header {
	char *name;  /* malloc'd, NUL-terminated */
	char *value; /* malloc'd, NUL-terminated */
};

struct mmplugin_response {
	int status;   /* 0 until set */
	bool touched; /* something was set */
	/* The plugin serving it (plugin_registry_serve), so that a response
	 * it holds is counted against it until finished. */
	struct mmplugin_host *holder;
	struct response_header headers[RESPONSE_HEADERS_MAX];
	size_t headers_len;
	size_t header_bytes;
	char *body; /* malloc'd */
	size_t body_len;
};

void response_init(struct mmplugin_response *r);
/* Wipes and frees everything r holds, and empties it. */
void response_free(struct mmplugin_response *r);

/* The ABI setters (see include/mmplugin/plugin.h for their contracts). */
int response_set_status(struct mmplugin_response *r, int status);
int response_add_header(struct mmplugin_response *r, const char *name, size_t name_len,
			const char *value, size_t value_len);
int response_set_body(struct mmplugin_response *r, const void *body, size_t len);

/* Takes ownership of a malloc'd body (wiped, then freed with free()). */
void response_take_body(struct mmplugin_response *r, char *body, size_t len);

/* A JSON body with Content-Type: application/json and Cache-Control:
 * no-store (the host's API answers carry tokens and users: no cache, shared
 * or the browser's, may keep them). */
int response_json(struct mmplugin_response *r, int status, const char *json, size_t len);

/* A Mattermost-shaped error (see common/api_error.h), no-store as well. */
int response_error(struct mmplugin_response *r, int status, const char *id, const char *message,
		   const char *request_id);

/* The value of header name (case-insensitive) or NULL. */
const char *response_header(const struct mmplugin_response *r, const char *name);

#endif
