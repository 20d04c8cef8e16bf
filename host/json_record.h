/* Helpers for the host's records, which are JSON objects in LMDB. */
#ifndef HOST_JSON_RECORD_H
#define HOST_JSON_RECORD_H

#include <jansson.h>
#include <stddef.h>

/* Copies string v into dst[cap]; -1 when v is not a string or does not fit
 * (a record that does not fit its field is refused, never cut). */
int json_record_str(char *dst, size_t cap, const json_t *v);

#endif
