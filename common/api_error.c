#include "api_error.h"

#include <jansson.h>
#include <string.h>

#include "banned.h"

char *api_error_json(const char *id, const char *message, const char *request_id, int status,
		     size_t *len_out)
{
	json_t *obj;
	char *out;

	obj = json_pack("{s:s, s:s, s:s, s:s, s:i}", "id", id, "message", message, "detailed_error",
			"", "request_id", request_id ? request_id : "", "status_code", status);
	if (!obj)
		return NULL;
	out = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (out && len_out)
		*len_out = strlen(out);
	return out;
}
