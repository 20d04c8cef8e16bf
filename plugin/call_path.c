#include "call_path.h"

#include <string.h>
#include <strings.h>

#include "banned.h"

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A byte a path segment may hold once decoded. */
static bool segment_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("-._~!$&'()*+,=:@", c) != NULL);
}

static int fail(char *out, int rc)
{
	out[0] = '\0';
	return rc;
}

int call_path_normalize(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0, seg; /* seg: where the current output segment starts */
	size_t i = 0;

	if (cap < 2)
		return fail(out, CALL_PATH_ETOOLONG);
	if (len == 0 || len > CALL_PATH_MAX || in[0] != '/')
		return fail(out, len > CALL_PATH_MAX ? CALL_PATH_ETOOLONG : CALL_PATH_EINVAL);
	while (i < len) {
		/* One segment: after the '/' at in[i], up to the next '/'. */
		i++;
		out[o] = '/';
		seg = o + 1;
		o = seg;
		while (i < len && in[i] != '/') {
			unsigned char c = (unsigned char)in[i];
			if (c == '%') {
				int h = i + 2 < len ? hex(in[i + 1]) : -1;
				int l = i + 2 < len ? hex(in[i + 2]) : -1;
				if (h < 0 || l < 0)
					return fail(out, CALL_PATH_EINVAL);
				c = (unsigned char)(h * 16 + l);
				i += 3;
			} else {
				i++;
			}
			if (!segment_byte(c))
				return fail(out, CALL_PATH_EINVAL);
			if (o + 1 >= cap || o >= CALL_PATH_MAX)
				return fail(out, CALL_PATH_ETOOLONG);
			out[o++] = (char)c;
		}
		/* Empty and "." segments go; ".." is refused. */
		if (o - seg == 2 && out[seg] == '.' && out[seg + 1] == '.')
			return fail(out, CALL_PATH_EINVAL);
		if (o == seg || (o - seg == 1 && out[seg] == '.'))
			o = seg - 1;
	}
	if (o == 0)
		o = 1; /* "/" itself */
	out[o] = '\0';
	return CALL_PATH_OK;
}

bool call_path_same_route(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}
