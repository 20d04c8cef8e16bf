/* libmmapps: see transfer.h. */
#include "transfer.h"

#include <mmapps/client.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

size_t mmapps_body_write(char *data, size_t size, size_t n, void *arg)
{
	struct mmapps_body *b = arg;
	size_t len = size * n, cap;
	char *np;

	if (len > MMAPPS_RESPONSE_MAX || b->len + len > MMAPPS_RESPONSE_MAX) {
		b->too_large = 1;
		return 0;
	}
	if (b->len + len + 1 > b->cap) {
		cap = b->cap ? b->cap : 1024;
		while (cap < b->len + len + 1)
			cap *= 2;
		np = malloc(cap);
		if (!np) {
			b->no_memory = 1;
			return 0;
		}
		if (b->p) {
			memcpy(np, b->p, b->len);
			sodium_memzero(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

void mmapps_body_free(struct mmapps_body *b)
{
	if (b->p) {
		sodium_memzero(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

void mmapps_wipe_str(char *s)
{
	if (s)
		sodium_memzero(s, strlen(s));
}

int mmapps_headers_add(struct curl_slist **list, const char *header)
{
	struct curl_slist *l = curl_slist_append(*list, header);

	if (!l) {
		mmapps_headers_free(*list);
		*list = NULL;
		return -1;
	}
	*list = l;
	return 0;
}

void mmapps_headers_free(struct curl_slist *list)
{
	for (struct curl_slist *s = list; s; s = s->next)
		mmapps_wipe_str(s->data);
	curl_slist_free_all(list);
}

char *mmapps_json_text(const json_t *j, size_t *len_out)
{
	size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
	char *text = n ? malloc(n + 1) : NULL;

	if (!text || json_dumpb(j, text, n, JSON_COMPACT) != n) {
		free(text);
		return NULL;
	}
	text[n] = '\0';
	if (len_out)
		*len_out = n;
	return text;
}

void mmapps_transfer_reset(CURL *h, long timeout_ms, struct mmapps_body *out)
{
	memset(out, 0, sizeof(*out));
	curl_easy_reset(h); /* keeps the connection cache */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mmapps_body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "libmmapps/" MMAPPS_VERSION);
}
