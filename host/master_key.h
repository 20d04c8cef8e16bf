/*
 * The node's master key as the host sees it, and the one key the host
 * derives from it: the audit trail's MAC key.
 *
 * The master key is the file the Apps plugin's setting master_key_file names
 * (default <data_dir>/plugins/com.mattermost.apps/master.key; a relative
 * path is taken from the working directory, as the plugin takes it): 32
 * bytes, mode 0600. While the master key is being changed the setting
 * previous_master_key_file names the old one. The host never keeps the
 * master key: it derives the audit key (crypto_kdf, context "mmaudit1",
 * subkey 1: independent of the keys that seal records) into guarded,
 * read-only memory and wipes the master key at once.
 *
 * `mmhost serve` creates the file when it is missing (32 random bytes,
 * 0600, exactly as the plugin would, O_EXCL so that only one of them makes
 * it), so that the audit trail has its key before any plugin activates and
 * also when no plugin runs. The commands (backup, audit verify) only read it.
 */
#ifndef HOST_MASTER_KEY_H
#define HOST_MASTER_KEY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "audit_line.h"
#include "config.h"

#define MASTER_KEY_LEN 32
/* The plugin whose settings name the master key file. */
#define MASTER_KEY_PLUGIN "com.mattermost.apps"

struct master_key_files {
	char current[PATH_MAX];
	char previous[PATH_MAX]; /* "" when no change is under way */
	bool current_is_default; /* not set: the plugin's data folder */
};

/* The files cfg names. 0, or -1 with one line in err (a setting that is not
 * a path). */
int master_key_files(const struct host_config *cfg, struct master_key_files *out, char *err,
		     size_t err_cap) __attribute__((warn_unused_result));

/* Reads the master key in f->current (f->previous when previous is set;
 * create: made first when missing, with its folder when it is the default
 * one) and derives the audit key into *key (AUDIT_KEY_LEN bytes,
 * sodium_malloc'd, read-only; release with audit_key_free). Refused, with
 * one line in err naming the file: missing (when not create), not a regular
 * file, open to group or others, not exactly 32 bytes. 0 or -1. */
int audit_key_load(const struct master_key_files *f, bool previous, bool create,
		   unsigned char **key, char *err, size_t err_cap)
	__attribute__((warn_unused_result));

/* Wipes and frees a key from audit_key_load. NULL is a no-op. */
void audit_key_free(unsigned char *key);

#endif
