/*
 * The file `mmhost backup` writes and `mmhost restore` reads. This header is
 * its specification:
 *
 *   bytes 0..BACKUP_HEADER_LEN-1: the header, text:
 *     "mmhost-backup 1\n"
 *     {"version":1,"created_at":<ms since the epoch>,"mmhost":"<version>",
 *      "parts":[{"path":"plugins/com.mattermost.apps/store","offset":65536,
 *                "length":<bytes>,"blake2b":"<64 hex>"}, ...,
 *               {"path":"host",...}]}
 *     then spaces, and '\n' as its last byte;
 *   then each part's bytes at its offset, one after the other: the LMDB data
 *   file (data.mdb) of the environment <data_dir>/<path>, as store_backup
 *   copied it. "blake2b" is the BLAKE2b-256 of those bytes: restore checks
 *   every part before it writes anything.
 *
 * Part paths are "host" or "plugins/<plugin id>/store": at most
 * BACKUP_PATH_MAX bytes of segments of [A-Za-z0-9._-] (never "." or ".."),
 * so a file cannot make restore write outside its folder.
 *
 * What it holds: the stores' bytes and nothing else. Sealed records stay
 * sealed; the host's users keep their argon2id password hashes and sessions
 * only their tokens' hashes. Never a master key (the backup is useless
 * without the master key file, kept apart), never the audit trail (each node
 * keeps its own).
 */
#ifndef HOST_BACKUP_FILE_H
#define HOST_BACKUP_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BACKUP_MAGIC "mmhost-backup 1\n"
#define BACKUP_VERSION 1
#define BACKUP_HEADER_LEN 65536
#define BACKUP_PARTS_MAX 65 /* the host and up to 64 plugins */
#define BACKUP_PATH_MAX 256
#define BACKUP_HASH_LEN 32

struct backup_part {
	char path[BACKUP_PATH_MAX + 1];
	uint64_t offset, length;
	unsigned char blake2b[BACKUP_HASH_LEN];
};

struct backup_header {
	int64_t created_at_ms;
	size_t n_parts;
	struct backup_part parts[BACKUP_PARTS_MAX];
};

/* Whether path is a part path (see above). */
int backup_path_ok(const char *path);

/* Writes h as the header (BACKUP_HEADER_LEN bytes) at offset 0 of fd.
 * 0, or -1 (it does not fit, or the write failed). */
int backup_header_write(int fd, const struct backup_header *h) __attribute__((warn_unused_result));

/* Reads and checks the header of fd, a file of file_size bytes: magic,
 * version, each part's path, and parts laid one after the other within the
 * file. 0, or -1 with one line in err. */
int backup_header_read(int fd, uint64_t file_size, struct backup_header *h, char *err,
		       size_t err_cap) __attribute__((warn_unused_result));

/* BLAKE2b-256 of fd's bytes [offset, offset+length). 0, or -1 (a read
 * failed or the file is shorter). */
int backup_hash(int fd, uint64_t offset, uint64_t length, unsigned char out[BACKUP_HASH_LEN])
	__attribute__((warn_unused_result));

#endif
