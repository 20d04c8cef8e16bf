/*
 * store_backup for LMDB: mdb_env_copyfd2 from an environment opened read-only
 * in this process, while the server and the admin commands keep writing in
 * theirs. The copy is one read transaction's snapshot (LMDB holds the
 * writers only while it copies the two meta pages), written with write(2)
 * from fd's offset on, as the data file is (not compacted: the compacting
 * copy refuses an environment with a leaked page, and the plain one has no
 * such failure).
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_backend.h"

#include "banned.h"

/* Another process may grow the map while we copy; each time the copy
 * starts again from the same offset with the map's new size. */
#define RESIZE_TRIES 8

static bool has_env(const char *dir, char *err, size_t cap)
{
	char path[4096];
	struct stat st;
	int n = snprintf(path, sizeof(path), "%s/data.mdb", dir);

	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(err, cap, "store: the folder path %.64s... is too long", dir);
		return false;
	}
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, cap, "%s holds no database (no data.mdb)", dir);
		return false;
	}
	return true;
}

/* Back to the part's first byte for another try; false on a pipe. */
static bool rewind_to(int fd, off_t start)
{
	return start >= 0 && ftruncate(fd, start) == 0 && lseek(fd, start, SEEK_SET) == start;
}

int store_lmdb_backup(const char *dir, int fd, char *err, size_t cap)
{
	off_t start = lseek(fd, 0, SEEK_CUR);
	MDB_env *env = NULL;
	int rc;

	if (!has_env(dir, err, cap))
		return STORE_ENOTFOUND;
	rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(env, 256);
	if (rc == 0)
		rc = mdb_env_open(env, dir, MDB_RDONLY, 0600);
	if (rc != 0) {
		snprintf(err, cap, "cannot open the database in %s: %s", dir, mdb_strerror(rc));
		goto out;
	}
	for (int i = 0; i < RESIZE_TRIES; i++) {
		rc = mdb_env_copyfd2(env, fd, 0);
		if (rc != MDB_MAP_RESIZED || !rewind_to(fd, start))
			break;
		mdb_env_set_mapsize(env, 0);
	}
	if (rc != 0)
		snprintf(err, cap, "cannot copy the database in %s: %s", dir, mdb_strerror(rc));
out:
	if (env)
		mdb_env_close(env);
	return rc == 0 ? STORE_OK : STORE_EIO;
}
