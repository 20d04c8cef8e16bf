#include "json_record.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

int json_record_str(char *dst, size_t cap, const json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) >= cap)
		return -1;
	snprintf(dst, cap, "%s", s);
	return 0;
}
