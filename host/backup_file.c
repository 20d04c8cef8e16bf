#include "backup_file.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

#define CHUNK (1024 * 1024)

int backup_path_ok(const char *path)
{
	size_t n = strnlen(path, BACKUP_PATH_MAX + 1), seg = 0, segs = 0;

	if (n == 0 || n > BACKUP_PATH_MAX)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		char c = path[i];
		if (c == '/' || c == '\0') {
			/* Empty, "." and ".." segments would leave the folder. */
			if (seg == 0 || (seg == 1 && path[i - 1] == '.') ||
			    (seg == 2 && path[i - 1] == '.' && path[i - 2] == '.'))
				return 0;
			segs++;
			seg = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
		seg++;
	}
	if (strcmp(path, "host") == 0)
		return 1;
	/* plugins/<id>/store */
	return segs == 3 && strncmp(path, "plugins/", 8) == 0 &&
	       strcmp(path + n - 6, "/store") == 0;
}

static int write_at(int fd, const char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int backup_header_write(int fd, const struct backup_header *h)
{
	json_t *parts = json_array(), *root;
	char *text = NULL, *buf = NULL;
	size_t magic = strlen(BACKUP_MAGIC), len;
	int rc = -1;

	for (size_t i = 0; i < h->n_parts; i++) {
		const struct backup_part *p = &h->parts[i];
		char hex[BACKUP_HASH_LEN * 2 + 1];
		sodium_bin2hex(hex, sizeof(hex), p->blake2b, BACKUP_HASH_LEN);
		json_array_append_new(parts, json_pack("{s:s, s:I, s:I, s:s}", "path", p->path,
						       "offset", (json_int_t)p->offset, "length",
						       (json_int_t)p->length, "blake2b", hex));
	}
	root = json_pack("{s:i, s:I, s:s, s:o}", "version", BACKUP_VERSION, "created_at",
			 (json_int_t)h->created_at_ms, "mmhost", MMHOST_VERSION, "parts", parts);
	text = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(root);
	if (!text || (len = strlen(text)) + magic + 1 > BACKUP_HEADER_LEN)
		goto out;
	buf = malloc(BACKUP_HEADER_LEN);
	if (!buf)
		goto out;
	memset(buf, ' ', BACKUP_HEADER_LEN);
	memcpy(buf, BACKUP_MAGIC, magic);
	memcpy(buf + magic, text, len);
	buf[BACKUP_HEADER_LEN - 1] = '\n';
	rc = write_at(fd, buf, BACKUP_HEADER_LEN, 0);
out:
	free(buf);
	free(text);
	return rc;
}

static int read_at(int fd, char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, buf, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int read_part(const json_t *j, struct backup_part *p, uint64_t *next, uint64_t file_size,
		     char *err, size_t cap)
{
	const char *path = json_string_value(json_object_get(j, "path"));
	const char *hex = json_string_value(json_object_get(j, "blake2b"));
	json_int_t off = json_integer_value(json_object_get(j, "offset"));
	json_int_t len = json_integer_value(json_object_get(j, "length"));
	size_t got = 0;

	if (!path || !backup_path_ok(path)) {
		snprintf(err, cap, "a part has no path, or one that is not a store's");
		return -1;
	}
	snprintf(p->path, sizeof(p->path), "%s", path);
	if (!json_is_integer(json_object_get(j, "offset")) ||
	    !json_is_integer(json_object_get(j, "length")) || off < 0 || len <= 0 ||
	    (uint64_t)off != *next || (uint64_t)len > file_size - (uint64_t)off) {
		snprintf(err, cap, "part %s lies outside the file (cut short?)", path);
		return -1;
	}
	if (!hex || strlen(hex) != BACKUP_HASH_LEN * 2 ||
	    sodium_hex2bin(p->blake2b, BACKUP_HASH_LEN, hex, strlen(hex), NULL, &got, NULL) != 0 ||
	    got != BACKUP_HASH_LEN) {
		snprintf(err, cap, "part %s has no checksum", path);
		return -1;
	}
	p->offset = (uint64_t)off;
	p->length = (uint64_t)len;
	*next = p->offset + p->length;
	return 0;
}

int backup_header_read(int fd, uint64_t file_size, struct backup_header *h, char *err,
		       size_t err_cap)
{
	size_t magic = strlen(BACKUP_MAGIC), i;
	uint64_t next = BACKUP_HEADER_LEN;
	char *buf = NULL;
	json_t *root = NULL, *parts, *p;
	int rc = -1;

	memset(h, 0, sizeof(*h));
	buf = malloc(BACKUP_HEADER_LEN);
	if (!buf) {
		snprintf(err, err_cap, "out of memory");
		return -1;
	}
	if (file_size < BACKUP_HEADER_LEN || read_at(fd, buf, BACKUP_HEADER_LEN, 0) != 0 ||
	    memcmp(buf, BACKUP_MAGIC, magic) != 0) {
		snprintf(err, err_cap, "not an mmhost backup (no \"mmhost-backup 1\" header)");
		goto out;
	}
	root = json_loadb(buf + magic, BACKUP_HEADER_LEN - magic, JSON_DISABLE_EOF_CHECK, NULL);
	parts = json_object_get(root, "parts");
	if (!json_is_object(root) ||
	    json_integer_value(json_object_get(root, "version")) != BACKUP_VERSION ||
	    !json_is_array(parts) || json_array_size(parts) == 0 ||
	    json_array_size(parts) > BACKUP_PARTS_MAX) {
		snprintf(err, err_cap, "the backup's header is damaged or of another version");
		goto out;
	}
	h->created_at_ms = json_integer_value(json_object_get(root, "created_at"));
	json_array_foreach(parts, i, p)
	{
		if (read_part(p, &h->parts[i], &next, file_size, err, err_cap) != 0)
			goto out;
		for (size_t k = 0; k < i; k++) {
			if (strcmp(h->parts[k].path, h->parts[i].path) == 0) {
				snprintf(err, err_cap, "part %s is there twice", h->parts[i].path);
				goto out;
			}
		}
		h->n_parts = i + 1;
	}
	if (next != file_size) {
		snprintf(err, err_cap, "the backup has %llu bytes its header does not name",
			 (unsigned long long)(file_size - next));
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	free(buf);
	return rc;
}

int backup_hash(int fd, uint64_t offset, uint64_t length, unsigned char out[BACKUP_HASH_LEN])
{
	crypto_generichash_state st;
	char *buf = malloc(CHUNK);
	int rc = -1;

	if (!buf)
		return -1;
	crypto_generichash_init(&st, NULL, 0, BACKUP_HASH_LEN);
	while (length > 0) {
		size_t n = length < CHUNK ? (size_t)length : CHUNK;
		if (read_at(fd, buf, n, (off_t)offset) != 0)
			goto out;
		crypto_generichash_update(&st, (const unsigned char *)buf, n);
		offset += n;
		length -= n;
	}
	crypto_generichash_final(&st, out, BACKUP_HASH_LEN);
	rc = 0;
out:
	free(buf);
	return rc;
}
