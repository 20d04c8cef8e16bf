/* Small file-system helpers. */
#ifndef HOST_FS_UTIL_H
#define HOST_FS_UTIL_H

#include <sys/types.h>

/* mkdir -p with mode for each folder it creates. 0, or -1 with errno set. */
int fs_mkdir_p(const char *path, mode_t mode);

#endif
