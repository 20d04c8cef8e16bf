#include "master_key.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_util.h"
#include "banned.h"

#define AUDIT_KDF_CONTEXT "mmaudit1" /* crypto_kdf_CONTEXTBYTES = 8 */
#define AUDIT_KDF_SUBKEY 1

static int path_setting(const json_t *settings, const char *name, char *out, size_t cap, char *err,
			size_t err_cap)
{
	const json_t *v = json_object_get(settings, name);

	out[0] = '\0';
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap) {
		snprintf(err, err_cap, "plugins.%s.settings.%s must be a path", MASTER_KEY_PLUGIN,
			 name);
		return -1;
	}
	snprintf(out, cap, "%s", json_string_value(v));
	return 0;
}

int master_key_files(const struct host_config *cfg, struct master_key_files *out, char *err,
		     size_t err_cap)
{
	const json_t *settings = config_plugin_settings(cfg, MASTER_KEY_PLUGIN);
	int n;

	memset(out, 0, sizeof(*out));
	if (path_setting(settings, "master_key_file", out->current, sizeof(out->current), err,
			 err_cap) != 0 ||
	    path_setting(settings, "previous_master_key_file", out->previous, sizeof(out->previous),
			 err, err_cap) != 0)
		return -1;
	if (out->current[0])
		return 0;
	out->current_is_default = true;
	n = snprintf(out->current, sizeof(out->current), "%s/plugins/%s/master.key", cfg->data_dir,
		     MASTER_KEY_PLUGIN);
	if (n < 0 || (size_t)n >= sizeof(out->current)) {
		snprintf(err, err_cap, "the data folder path is too long");
		return -1;
	}
	return 0;
}

/* 32 random bytes, 0600, only if nobody made the file first. */
static int create_key(const char *path, bool make_folder, char *err, size_t cap)
{
	unsigned char key[MASTER_KEY_LEN];
	char folder[PATH_MAX];
	char *slash;
	ssize_t n;
	int fd;

	snprintf(folder, sizeof(folder), "%s", path);
	slash = strrchr(folder, '/');
	if (make_folder && slash) {
		*slash = '\0';
		if (fs_mkdir_p(folder, 0700) != 0) {
			snprintf(err, cap, "cannot create the folder %s: %s", folder,
				 strerror(errno));
			return -1;
		}
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST)
		return 0; /* there already, or the plugin made it meanwhile */
	if (fd < 0) {
		snprintf(err, cap, "cannot create the master key file %s: %s", path,
			 strerror(errno));
		return -1;
	}
	crypto_kdf_keygen(key);
	n = write(fd, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	if (n != (ssize_t)sizeof(key) || fsync(fd) != 0) {
		snprintf(err, cap, "cannot write the master key file %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

static int read_key(const char *path, unsigned char *key, char *err, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	size_t got = 0;

	if (fd < 0) {
		snprintf(err, cap, "cannot open the master key file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, cap, "the master key file %s is not a regular file", path);
		goto fail;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, cap,
			 "the master key file %s is open to group or others (mode %04o); run "
			 "chmod 600 on it",
			 path, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	while (st.st_size == MASTER_KEY_LEN && got < MASTER_KEY_LEN) {
		ssize_t n = read(fd, key + got, MASTER_KEY_LEN - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got != MASTER_KEY_LEN) {
		snprintf(err, cap, "the master key file %s must hold exactly %d bytes", path,
			 MASTER_KEY_LEN);
		goto fail;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

int audit_key_load(const struct master_key_files *f, bool previous, bool create,
		   unsigned char **key, char *err, size_t err_cap)
{
	const char *path = previous ? f->previous : f->current;
	unsigned char *master = sodium_malloc(MASTER_KEY_LEN);
	unsigned char *derived = sodium_malloc(AUDIT_KEY_LEN);
	int rc = -1;

	*key = NULL;
	if (!master || !derived) {
		snprintf(err, err_cap, "out of memory");
		goto out;
	}
	if (!path[0]) {
		snprintf(err, err_cap, "no master key file is named");
		goto out;
	}
	if (create && create_key(path, f->current_is_default && !previous, err, err_cap) != 0)
		goto out;
	if (read_key(path, master, err, err_cap) != 0)
		goto out;
	crypto_kdf_derive_from_key(derived, AUDIT_KEY_LEN, AUDIT_KDF_SUBKEY, AUDIT_KDF_CONTEXT,
				   master);
	sodium_mprotect_readonly(derived);
	*key = derived;
	derived = NULL;
	rc = 0;
out:
	if (master)
		sodium_free(master); /* sodium_free wipes */
	if (derived)
		sodium_free(derived);
	return rc;
}

void audit_key_free(unsigned char *key)
{
	if (key)
		sodium_free(key);
}
