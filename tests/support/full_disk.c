/*
 * A full disk for one file, for tests: an LD_PRELOAD library whose pwrite()
 * and writev() fail with ENOSPC, as a full file system does, for the file
 * whose path contains $MM_TEST_FULL_MATCH while the file $MM_TEST_FULL_FLAG
 * exists. Everything else goes to the C library untouched.
 *
 * Only writes at or past the second 4 KiB page fail: LMDB writes a commit's
 * data pages first and its meta page (in the first two pages) last, so a
 * refused commit leaves the file as it was, which is what a full disk does
 * to a commit that needs new blocks.
 *
 * Built without sanitizers: in the sanitizer build the executable's own
 * interceptors run first and call on into this library (RTLD_NEXT).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define META_END 8192

static int full(int fd)
{
	const char *flag = getenv("MM_TEST_FULL_FLAG");
	const char *match = getenv("MM_TEST_FULL_MATCH");
	char link[64], path[4096];
	ssize_t n;

	if (!flag || !match || access(flag, F_OK) != 0)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	return strstr(path, match) != NULL;
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "pwrite");
	if (offset >= META_END && full(fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	static ssize_t (*real)(int, const struct iovec *, int);

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "writev");
	if (lseek(fd, 0, SEEK_CUR) >= META_END && full(fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, iov, iovcnt);
}
