#include "serve_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "banned.h"

#define PID_TEXT_MAX 24

/* The pid written in the lock file, or 0. */
static long holder_pid(int fd)
{
	char buf[PID_TEXT_MAX];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *end;
	long pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	return end != buf && pid > 0 ? pid : 0;
}

int serve_lock_take(struct serve_lock *l, const char *data_dir, char *err, size_t err_cap)
{
	char path[4096], pid[PID_TEXT_MAX];
	int n, len;

	l->fd = -1;
	n = snprintf(path, sizeof(path), "%s/" SERVE_LOCK_FILE, data_dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(err, err_cap, "the data folder's path is too long");
		return -1;
	}
	l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (l->fd < 0) {
		snprintf(err, err_cap, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
		long other = errno == EWOULDBLOCK ? holder_pid(l->fd) : 0;
		if (errno == EWOULDBLOCK && other)
			snprintf(err, err_cap,
				 "another mmhost serve (pid %ld) is using the data folder %s",
				 other, data_dir);
		else if (errno == EWOULDBLOCK)
			snprintf(err, err_cap, "another mmhost serve is using the data folder %s",
				 data_dir);
		else
			snprintf(err, err_cap, "cannot lock %s: %s", path, strerror(errno));
		close(l->fd);
		l->fd = -1;
		return -1;
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, pid, (size_t)len, 0) != len) {
		snprintf(err, err_cap, "cannot write %s: %s", path, strerror(errno));
		serve_lock_release(l);
		return -1;
	}
	return 0;
}

void serve_lock_release(struct serve_lock *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}
