#include "response.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_error.h"
#include "banned.h"

void response_init(struct mmplugin_response *r)
{
	memset(r, 0, sizeof(*r));
}

/* Answers carry secrets (a new token, a Set-Cookie, a user's OAuth2
 * data): what they held is wiped before it is freed. */
static void wipe_free(void *p, size_t len)
{
	if (!p)
		return;
	sodium_memzero(p, len);
	free(p);
}

static void wipe_free_str(char *s)
{
	if (s)
		wipe_free(s, strlen(s));
}

void response_free(struct mmplugin_response *r)
{
	for (size_t i = 0; i < r->headers_len; i++) {
		wipe_free_str(r->headers[i].name);
		wipe_free_str(r->headers[i].value);
	}
	wipe_free(r->body, r->body_len);
	memset(r, 0, sizeof(*r));
}

int response_set_status(struct mmplugin_response *r, int status)
{
	if (!r || status < 100 || status > 599)
		return MMPLUGIN_EINVAL;
	r->status = status;
	r->touched = true;
	return MMPLUGIN_OK;
}

static bool is_token_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool name_is(const char *name, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(name, lit, len) == 0;
}

static char *dup_bytes(const char *p, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		return NULL;
	if (len)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

int response_add_header(struct mmplugin_response *r, const char *name, size_t name_len,
			const char *value, size_t value_len)
{
	struct response_header *h;

	if (!r || !name || name_len == 0 || (!value && value_len))
		return MMPLUGIN_EINVAL;
	for (size_t i = 0; i < name_len; i++) {
		if (!is_token_char((unsigned char)name[i]))
			return MMPLUGIN_EINVAL;
	}
	for (size_t i = 0; i < value_len; i++) {
		if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0')
			return MMPLUGIN_EINVAL;
	}
	if (name_is(name, name_len, "Content-Length") ||
	    name_is(name, name_len, "Transfer-Encoding") || name_is(name, name_len, "Connection") ||
	    name_is(name, name_len, "X-Request-Id"))
		return MMPLUGIN_EINVAL;
	if (r->headers_len >= RESPONSE_HEADERS_MAX ||
	    r->header_bytes + name_len + value_len > RESPONSE_HEADER_BYTES_MAX)
		return MMPLUGIN_ELIMIT;
	h = &r->headers[r->headers_len];
	h->name = dup_bytes(name, name_len);
	h->value = dup_bytes(value ? value : "", value_len);
	if (!h->name || !h->value) {
		free(h->name);
		free(h->value);
		h->name = h->value = NULL;
		return MMPLUGIN_ENOMEM;
	}
	r->headers_len++;
	r->header_bytes += name_len + value_len;
	r->touched = true;
	return MMPLUGIN_OK;
}

int response_set_body(struct mmplugin_response *r, const void *body, size_t len)
{
	char *copy;

	if (!r || (!body && len))
		return MMPLUGIN_EINVAL;
	if (len > RESPONSE_BODY_MAX)
		return MMPLUGIN_ELIMIT;
	copy = dup_bytes(body, len);
	if (!copy)
		return MMPLUGIN_ENOMEM;
	response_take_body(r, copy, len);
	return MMPLUGIN_OK;
}

void response_take_body(struct mmplugin_response *r, char *body, size_t len)
{
	wipe_free(r->body, r->body_len);
	r->body = body;
	r->body_len = len;
	r->touched = true;
}

int response_json(struct mmplugin_response *r, int status, const char *json, size_t len)
{
	int rc = response_set_status(r, status);

	if (rc == 0)
		rc = response_add_header(r, "Content-Type", 12, "application/json", 16);
	if (rc == 0)
		rc = response_add_header(r, "Cache-Control", 13, "no-store", 8);
	if (rc == 0)
		rc = response_set_body(r, json, len);
	return rc;
}

int response_error(struct mmplugin_response *r, int status, const char *id, const char *message,
		   const char *request_id)
{
	size_t len = 0;
	char *body = api_error_json(id, message, request_id, status, &len);
	int rc;

	if (!body)
		return MMPLUGIN_ENOMEM;
	rc = response_set_status(r, status);
	if (rc == 0)
		rc = response_add_header(r, "Content-Type", 12, "application/json", 16);
	if (rc == 0)
		rc = response_add_header(r, "Cache-Control", 13, "no-store", 8);
	if (rc == 0)
		response_take_body(r, body, len);
	else
		free(body);
	return rc;
}

const char *response_header(const struct mmplugin_response *r, const char *name)
{
	for (size_t i = 0; i < r->headers_len; i++) {
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	}
	return NULL;
}
