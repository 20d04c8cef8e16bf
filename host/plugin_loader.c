#include "plugin_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

/* The size of the descriptor as of ABI 1.0: a plugin must provide at least
 * this much. */
#define DESCRIPTOR_V1_0_SIZE                                                                       \
	(offsetof(struct mmplugin_descriptor, serve_http) + sizeof(void (*)(void)))

static const char *const refusal_names[] = {
	"loaded", "manifest",    "executable", "not_regular", "permissions", "dlopen", "no_entry",
	"magic",  "struct_size", "abi_major",  "abi_minor",   "id",          "hooks",  "owner",
};

const char *plugin_refusal_name(enum plugin_refusal r)
{
	if ((size_t)r >= sizeof(refusal_names) / sizeof(refusal_names[0]))
		return "unknown";
	return refusal_names[r];
}

static int refuse(struct mmplugin_host *p, enum plugin_refusal r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct mmplugin_host *p, enum plugin_refusal r, const char *fmt, ...)
{
	va_list ap;

	p->refusal = r;
	p->status = PLUGIN_STATUS_REFUSED;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
	va_end(ap);
	return -1;
}

static int read_small_file(int dirfd, const char *name, char **out, size_t *out_len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > PLUGIN_MANIFEST_MAX) {
		close(fd);
		return -1;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*out_len = got;
	return 0;
}

/* Reads plugin.json; on success p->manifest is set and *exec_out points into
 * it. */
static int load_manifest(struct mmplugin_host *p, int dirfd, const char **exec_out)
{
	json_error_t jerr;
	const json_t *id, *version, *server, *exec;
	char *text;
	size_t len;

	if (read_small_file(dirfd, "plugin.json", &text, &len) != 0)
		return refuse(p, PLUGIN_E_MANIFEST,
			      "plugin.json is missing, not a regular file or larger than %d bytes",
			      PLUGIN_MANIFEST_MAX);
	p->manifest = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!p->manifest || !json_is_object(p->manifest))
		return refuse(p, PLUGIN_E_MANIFEST, "plugin.json is not a JSON object");
	id = json_object_get(p->manifest, "id");
	if (!json_is_string(id) || strcmp(json_string_value(id), p->id) != 0)
		return refuse(p, PLUGIN_E_MANIFEST,
			      "plugin.json \"id\" must be a string equal to the folder name");
	version = json_object_get(p->manifest, "version");
	if (!json_is_string(version))
		return refuse(p, PLUGIN_E_MANIFEST, "plugin.json \"version\" must be a string");
	server = json_object_get(p->manifest, "server");
	exec = server ? json_object_get(server, "executable") : NULL;
	if (!json_is_string(exec))
		return refuse(p, PLUGIN_E_EXECUTABLE,
			      "plugin.json \"server.executable\" must be a string");
	*exec_out = json_string_value(exec);
	if (**exec_out == '\0' || strchr(*exec_out, '/') || strcmp(*exec_out, ".") == 0 ||
	    strcmp(*exec_out, "..") == 0 || strlen(*exec_out) != json_string_length(exec))
		return refuse(p, PLUGIN_E_EXECUTABLE,
			      "plugin.json \"server.executable\" must be a file name in the "
			      "plugin's folder");
	return 0;
}

/* Whoever owns the file or a folder on its way can put code in the server:
 * only root and the user the server runs as may. */
static bool owner_trusted(const struct stat *st)
{
	return st->st_uid == 0 || st->st_uid == geteuid();
}

/* A folder the loader goes through (plugin_dir, the plugin's folder): only
 * root and the host's user may change what its entries are. Whoever may
 * rename them may swap a folder or a file of theirs in for the one that
 * was checked. */
static int check_folder(struct mmplugin_host *p, int fd, const char *what)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return refuse(p, PLUGIN_E_MANIFEST, "cannot stat %s: %s", what, strerror(errno));
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return refuse(p, PLUGIN_E_PERMISSIONS,
			      "%s is writable by group or others (mode %04o)", what,
			      (unsigned)(st.st_mode & 07777));
	if (!owner_trusted(&st))
		return refuse(p, PLUGIN_E_OWNER,
			      "%s is owned by uid %u, neither root nor the user running mmhost "
			      "(uid %u)",
			      what, (unsigned)st.st_uid, (unsigned)geteuid());
	return 0;
}

/* Opens the plugin's folder through plugin_dir, checking both: from here
 * on every step goes through a descriptor of something checked. */
static int open_folder(struct mmplugin_host *p, const char *plugin_dir, const char *name)
{
	int top, dirfd;

	top = open(plugin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		return refuse(p, PLUGIN_E_MANIFEST, "cannot open plugin_dir: %s", strerror(errno));
	if (check_folder(p, top, "plugin_dir") != 0) {
		close(top);
		return -1;
	}
	dirfd = openat(top, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	close(top);
	if (dirfd < 0)
		return refuse(p, PLUGIN_E_MANIFEST, "cannot open the folder: %s",
			      errno == ELOOP || errno == ENOTDIR
				      ? "not a folder (or a symbolic link)"
				      : strerror(errno));
	if (check_folder(p, dirfd, "the plugin's folder") != 0) {
		close(dirfd);
		return -1;
	}
	return dirfd;
}

/* Opens the executable without following links and checks its mode and
 * owner. The returned descriptor is the file that is loaded (see
 * dlopen_checked). */
static int open_executable(struct mmplugin_host *p, int dirfd, const char *exec)
{
	struct stat st;
	int fd;

	fd = openat(dirfd, exec, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return refuse(p, PLUGIN_E_NOT_REGULAR, "%.100s: %s", exec,
			      errno == ELOOP ? "is a symbolic link" : strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return refuse(p, PLUGIN_E_NOT_REGULAR, "%.100s is not a regular file", exec);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		close(fd);
		return refuse(p, PLUGIN_E_PERMISSIONS,
			      "%.100s is writable by group or others (mode %04o)", exec,
			      (unsigned)(st.st_mode & 07777));
	}
	if (!owner_trusted(&st)) {
		close(fd);
		return refuse(p, PLUGIN_E_OWNER,
			      "%.100s is owned by uid %u, neither root nor the user running mmhost "
			      "(uid %u)",
			      exec, (unsigned)st.st_uid, (unsigned)geteuid());
	}
	return fd;
}

static int check_descriptor(struct mmplugin_host *p, const struct mmplugin_descriptor *d)
{
	if (d->magic != MMPLUGIN_MAGIC)
		return refuse(p, PLUGIN_E_MAGIC, "descriptor magic is 0x%08x, expected 0x%08x",
			      d->magic, MMPLUGIN_MAGIC);
	if (d->struct_size < DESCRIPTOR_V1_0_SIZE)
		return refuse(p, PLUGIN_E_STRUCT_SIZE,
			      "descriptor is %u bytes, at least %zu needed", d->struct_size,
			      (size_t)DESCRIPTOR_V1_0_SIZE);
	if (d->abi_major != MMPLUGIN_ABI_MAJOR)
		return refuse(p, PLUGIN_E_ABI_MAJOR, "plugin ABI major %u, host has %u",
			      d->abi_major, MMPLUGIN_ABI_MAJOR);
	if (d->abi_minor > MMPLUGIN_ABI_MINOR)
		return refuse(p, PLUGIN_E_ABI_MINOR,
			      "plugin needs ABI %u.%u, host has %u.%u (upgrade the host)",
			      d->abi_major, d->abi_minor, MMPLUGIN_ABI_MAJOR, MMPLUGIN_ABI_MINOR);
	if (!d->id || strcmp(d->id, p->id) != 0 || !d->version)
		return refuse(
			p, PLUGIN_E_ID,
			"descriptor id differs from plugin.json's \"%.64s\" or has no version",
			p->id);
	if (!d->activate || !d->deactivate || !d->serve_http)
		return refuse(p, PLUGIN_E_HOOKS, "descriptor lacks %s",
			      !d->activate     ? "activate"
			      : !d->deactivate ? "deactivate"
					       : "serve_http");
	return 0;
}

/* "/proc/self/fd/N": the name a library is loaded by. */
#define FD_NAME_MAX 32

static void fd_name(int fd, char name[FD_NAME_MAX])
{
	snprintf(name, FD_NAME_MAX, "/proc/self/fd/%d", fd);
}

/*
 * dlopen()s the file behind fd, the one that was checked, by its name
 * /proc/self/fd/N: opening that name opens the very file fd holds, wherever
 * its path points now. (Loading by path maps whatever the path names at
 * that moment, and a library's constructors run inside dlopen(), before any
 * check after it can refuse anything.)
 *
 * glibc gives back an object already loaded under an equal name without
 * opening anything, and one already loaded from the same device and inode
 * after opening it. The second is the checked file by definition. The
 * first is why fd stays open as long as anything may answer to its name
 * (p->so_fd; see unload): a descriptor number, hence a name, is never
 * reused while an object loaded through it is mapped. So there is nothing
 * left to compare after dlopen(): the object is the checked file.
 */
static int dlopen_checked(struct mmplugin_host *p, int fd, const char *exec)
{
	char name[FD_NAME_MAX];
	struct stat st;

	fd_name(fd, name);
	p->dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl) {
		const char *e = dlerror();
		if (stat("/proc/self/fd", &st) != 0)
			return refuse(p, PLUGIN_E_DLOPEN,
				      "dlopen %.100s: /proc is not mounted (plugins are loaded "
				      "through /proc/self/fd)",
				      exec);
		return refuse(p, PLUGIN_E_DLOPEN, "dlopen %.100s: %.200s", exec, e ? e : "failed");
	}
	p->so_fd = fd;
	return 0;
}

/*
 * Unmaps a library that was never activated. Its descriptor is closed only
 * when nothing answers to its name any more: dlclose() may keep an object
 * mapped (a unique symbol, another reference), and a load of the same file
 * under another name adds this name to that object. While something does,
 * the descriptor stays open for the life of the process (at most one per
 * plugin folder loaded), so that the name never comes to mean another file.
 */
static void unload(struct mmplugin_host *p)
{
	char name[FD_NAME_MAX];
	void *still;

	dlclose(p->dl);
	p->dl = NULL;
	if (p->so_fd < 0)
		return;
	fd_name(p->so_fd, name);
	still = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	if (still)
		dlclose(still);
	else
		close(p->so_fd);
	p->so_fd = -1;
}

static int load_checked(struct mmplugin_host *p, int dirfd)
{
	const struct mmplugin_descriptor *d;
	mmplugin_entry_fn entry;
	const char *exec = NULL;
	void *sym;
	int fd;

	if (load_manifest(p, dirfd, &exec) != 0)
		return -1;
	fd = open_executable(p, dirfd, exec);
	if (fd < 0)
		return -1;
	if (dlopen_checked(p, fd, exec) != 0) {
		close(fd);
		return -1;
	}
	sym = dlsym(p->dl, MMPLUGIN_ENTRY_SYMBOL);
	if (!sym)
		return refuse(p, PLUGIN_E_NO_ENTRY, "%.100s does not export %s", exec,
			      MMPLUGIN_ENTRY_SYMBOL);
	memcpy(&entry, &sym, sizeof(entry));
	d = entry();
	if (!d)
		return refuse(p, PLUGIN_E_NO_ENTRY, "%s returned NULL", MMPLUGIN_ENTRY_SYMBOL);
	if (check_descriptor(p, d) != 0)
		return -1;
	p->desc = d;
	return 0;
}

struct mmplugin_host *plugin_load(const char *plugin_dir, const char *name)
{
	struct mmplugin_host *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;
	size_t dlen;
	int dirfd;

	if (!p)
		return NULL;
	atomic_init(&p->open, false);
	atomic_init(&p->calls, 0);
	atomic_init(&p->held, 0);
	pthread_mutex_init(&p->idle_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->idle, &ca);
	pthread_condattr_destroy(&ca);
	p->status = PLUGIN_STATUS_REFUSED;
	p->so_fd = -1;
	snprintf(p->id, sizeof(p->id), "%s", name);
	dlen = strlen(plugin_dir) + 1 + strlen(name) + 1;
	p->dir = malloc(dlen);
	if (!p->dir) {
		plugin_free(p);
		return NULL;
	}
	snprintf(p->dir, dlen, "%s/%s", plugin_dir, name);
	if (!plugin_id_valid(name, strlen(name))) {
		refuse(p, PLUGIN_E_MANIFEST, "folder name is not a valid plugin id");
		return p;
	}
	dirfd = open_folder(p, plugin_dir, name);
	if (dirfd < 0)
		return p;
	if (load_checked(p, dirfd) == 0) {
		p->refusal = PLUGIN_LOADED;
		p->status = PLUGIN_STATUS_INACTIVE;
		snprintf(p->reason, sizeof(p->reason), "not activated");
	} else if (p->dl) {
		/* Refused before any activation: safe to unmap. */
		unload(p);
	}
	close(dirfd);
	return p;
}

void plugin_free(struct mmplugin_host *p)
{
	if (!p)
		return;
	/* An activated plugin stays mapped, and its descriptor open (its name
	 * must keep meaning its file). */
	if (p->dl && !p->ever_activated)
		unload(p);
	pthread_cond_destroy(&p->idle);
	pthread_mutex_destroy(&p->idle_lock);
	json_decref(p->manifest);
	free(p->dir);
	free(p->data_dir);
	free(p->settings_json);
	free(p->site_url);
	free(p);
}
