#include "urlencoded.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int decode(const char *s, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;
			if (i + 2 >= len)
				return FORM_EBAD;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return FORM_EBAD;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0')
			return FORM_EBAD;
		if (o + 1 >= cap)
			return FORM_ETOOLONG;
		out[o++] = c;
	}
	if (cap == 0)
		return FORM_ETOOLONG;
	out[o] = '\0';
	return FORM_OK;
}

int form_get(const char *text, size_t len, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	size_t i = 0;

	while (i < len) {
		const char *pair = text + i;
		const char *amp = memchr(pair, '&', len - i);
		size_t plen = amp ? (size_t)(amp - pair) : len - i;
		const char *eq = memchr(pair, '=', plen);
		size_t klen = eq ? (size_t)(eq - pair) : plen;

		if (klen == nlen && memcmp(pair, name, nlen) == 0) {
			if (!eq)
				return decode("", 0, out, cap);
			return decode(eq + 1, plen - klen - 1, out, cap);
		}
		i += plen + 1;
	}
	return FORM_ENOTFOUND;
}

int cookie_get(const char *header, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *p = header;

	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
			const char *v = p + nlen + 1;
			size_t vlen = len - nlen - 1;
			while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
				v++;
				vlen -= 2;
			}
			if (vlen + 1 > cap)
				return FORM_ETOOLONG;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return FORM_OK;
		}
		p = end;
	}
	return FORM_ENOTFOUND;
}

int html_escape(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s; s++) {
		const char *rep = NULL;
		char one[2] = { *s, '\0' };
		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: rep = one; break;
		}
		size_t n = strlen(rep);
		if (o + n + 1 > cap)
			return FORM_ETOOLONG;
		memcpy(out + o, rep, n);
		o += n;
	}
	if (cap == 0)
		return FORM_ETOOLONG;
	out[o] = '\0';
	return FORM_OK;
}

int redirect_is_local(const char *to)
{
	if (!to || to[0] != '/' || to[1] == '/' || to[1] == '\\')
		return 0;
	for (const char *p = to; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7f || c == '\\')
			return 0;
	}
	return 1;
}

int url_encode(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
		if (o + (plain ? 1 : 3) + 1 > cap)
			return FORM_ETOOLONG;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (cap == 0)
		return FORM_ETOOLONG;
	out[o] = '\0';
	return FORM_OK;
}

#define PAIR_MAX 1024

int form_each(const char *text, size_t len,
	      int (*fn)(const char *name, const char *value, void *arg), void *arg)
{
	char name[PAIR_MAX], value[PAIR_MAX];
	size_t i = 0;

	while (i < len) {
		const char *pair = text + i;
		const char *amp = memchr(pair, '&', len - i);
		size_t plen = amp ? (size_t)(amp - pair) : len - i;
		const char *eq = memchr(pair, '=', plen);
		size_t klen = eq ? (size_t)(eq - pair) : plen;

		i += plen + 1;
		if (klen == 0 || decode(pair, klen, name, sizeof(name)) != FORM_OK)
			continue;
		if (decode(eq ? eq + 1 : "", eq ? plen - klen - 1 : 0, value, sizeof(value)) !=
		    FORM_OK)
			continue;
		int rc = fn(name, value, arg);
		if (rc)
			return rc;
	}
	return 0;
}
