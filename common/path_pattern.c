#include "path_pattern.h"

#include <string.h>

#include "banned.h"

bool path_pattern_match(const char *pattern, const char *path, size_t len, size_t param_max,
			const char **param, size_t *param_len)
{
	const char *p = pattern, *s = path, *end = path + len;

	*param = NULL;
	*param_len = 0;
	while (*p) {
		if (*p == '{' && strncmp(p, "{id}", 4) == 0) {
			const char *seg = s;
			while (s < end && *s != '/')
				s++;
			if (s == seg || (size_t)(s - seg) > param_max ||
			    memchr(seg, '\0', (size_t)(s - seg)))
				return false;
			*param = seg;
			*param_len = (size_t)(s - seg);
			p += 4;
			continue;
		}
		if (s == end || *p != *s)
			return false;
		p++;
		s++;
	}
	return s == end;
}
