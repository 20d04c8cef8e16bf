/*
 * One `mmhost serve` per data folder: <data_dir>/mmhost.pid, locked with
 * flock(2) while the server runs and holding its pid. A second serve on the
 * same folder finds the lock taken and names the first one's pid. The
 * kernel drops the lock when the process ends, however it ends (a SIGKILL
 * leaves no stale lock); the file itself stays.
 */
#ifndef HOST_SERVE_LOCK_H
#define HOST_SERVE_LOCK_H

#include <stddef.h>

#define SERVE_LOCK_FILE "mmhost.pid"

struct serve_lock {
	int fd; /* -1 when not held */
};

/* Takes the lock of data_dir (which exists). 0, or -1 with one line in err:
 * "another mmhost serve (pid N) is using the data folder D", or why the file
 * could not be locked. */
int serve_lock_take(struct serve_lock *l, const char *data_dir, char *err, size_t err_cap);

/* Releases the lock (closing the file). Safe on a lock not held. */
void serve_lock_release(struct serve_lock *l);

#endif
