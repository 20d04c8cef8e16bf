/*
 * Errors in Mattermost's JSON shape, shared by the host and its plugins:
 *   {"id":"...","message":"...","detailed_error":"","request_id":"...","status_code":N}
 * Every id used by the project is listed in docs/errors.md and never changes.
 */
#ifndef COMMON_API_ERROR_H
#define COMMON_API_ERROR_H

#include <stddef.h>

/*
 * Builds the JSON body of an error. id, message and request_id are
 * NUL-terminated (request_id may be NULL). Returns a malloc'd NUL-terminated
 * string the caller frees with free(), and stores its length in *len_out; or
 * NULL when out of memory. message must never hold a secret.
 */
char *api_error_json(const char *id, const char *message, const char *request_id, int status,
		     size_t *len_out) __attribute__((warn_unused_result));

#endif
