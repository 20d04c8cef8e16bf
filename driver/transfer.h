/*
 * What every request of the driver shares: a bounded answer buffer that
 * leaves no copy of its bytes behind (answers hold tokens), and the curl
 * options that keep a request safe (http(s) only, no redirects, a whole-request
 * timeout, no signals). Internal to libmmapps; never exported.
 */
#ifndef DRIVER_TRANSFER_H
#define DRIVER_TRANSFER_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

/* An answer as it arrives, at most MMAPPS_RESPONSE_MAX bytes, always
 * NUL-terminated once it holds a byte. */
struct mmapps_body {
	char *p;
	size_t len;
	size_t cap;
	int too_large;
	int no_memory;
};

/* CURLOPT_WRITEFUNCTION for a struct mmapps_body. Growing copies into a new
 * buffer and wipes the old one. */
size_t mmapps_body_write(char *data, size_t size, size_t n, void *arg);

/* Wipes and frees the buffer; the body is empty again. */
void mmapps_body_free(struct mmapps_body *b);

/* Overwrites s[0..strlen(s)) with zeros (NULL allowed). */
void mmapps_wipe_str(char *s);

/* Appends header to *list. 0, or -1 when memory runs out: then the whole
 * list is wiped and freed and *list is NULL. */
int mmapps_headers_add(struct curl_slist **list, const char *header);

/* Wipes every header of list (one may carry a token) and frees it. */
void mmapps_headers_free(struct curl_slist *list);

/* j as compact JSON in a buffer from malloc (not jansson's allocator, which
 * an App may have replaced), so that mmapps_free() releases it; NULL when
 * memory runs out. *len_out (may be NULL) gets its length. */
char *mmapps_json_text(const json_t *j, size_t *len_out);

/* Resets h (keeping its connections) and sets the options every request of
 * the driver uses; out receives the answer. */
void mmapps_transfer_reset(CURL *h, long timeout_ms, struct mmapps_body *out);

#endif
