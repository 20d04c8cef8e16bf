/* libFuzzer: manifest validation, expand levels and the App's call answers. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "app_call.h"
#include "expand.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[512];
	struct expand ex;
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	json_t *resp;

	if (j) {
		if (manifest_validate(j, msg, sizeof(msg)) == 0) {
			json_t *call = manifest_call(j, "on_oauth2_complete", "/oauth2/complete");
			(void)manifest_call_path(j, "get_oauth2_connect_url", "/oauth2/connect");
			json_decref(call);
		}
		(void)expand_parse(j, &ex, msg, sizeof(msg));
		(void)expand_parse(json_object_get(j, "expand"), &ex, msg, sizeof(msg));
		json_decref(j);
	}
	resp = app_response_parse((const char *)data, size, msg, sizeof(msg));
	json_decref(resp);
	return 0;
}
