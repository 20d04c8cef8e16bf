#include "urlencoded.h"

#include <stdbool.h>
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

/* One name=value pair of a form, raw (still percent-encoded). */
struct form_pair {
	const char *name, *value;
	size_t name_len, value_len;
};

/* The pair at *at, moving *at past it; false at the end of the text. */
static bool next_pair(const char *text, size_t len, size_t *at, struct form_pair *p)
{
	const char *pair, *amp, *eq;
	size_t plen;

	/* text may be NULL when len is 0 (an empty query): no arithmetic on it. */
	if (*at >= len)
		return false;
	pair = text + *at;
	amp = memchr(pair, '&', len - *at);
	plen = amp ? (size_t)(amp - pair) : len - *at;
	eq = memchr(pair, '=', plen);
	p->name = pair;
	p->name_len = eq ? (size_t)(eq - pair) : plen;
	p->value = eq ? eq + 1 : "";
	p->value_len = eq ? plen - p->name_len - 1 : 0;
	*at += plen + 1;
	return true;
}

int form_get(const char *text, size_t len, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name), at = 0;
	struct form_pair p;

	while (next_pair(text, len, &at, &p))
		if (p.name_len == nlen && memcmp(p.name, name, nlen) == 0)
			return decode(p.value, p.value_len, out, cap);
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
	struct form_pair p;
	size_t at = 0;
	int rc;

	while (next_pair(text, len, &at, &p)) {
		if (p.name_len == 0 || decode(p.name, p.name_len, name, sizeof(name)) != FORM_OK ||
		    decode(p.value, p.value_len, value, sizeof(value)) != FORM_OK)
			continue;
		if ((rc = fn(name, value, arg)) != 0)
			return rc;
	}
	return 0;
}
