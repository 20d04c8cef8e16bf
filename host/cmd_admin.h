/*
 * What the admin commands share (mmhost user, token, session, plugin, app):
 * one option table, the configuration the server would use, and the host's
 * store opened in the configured backend. The commands open the store
 * directly, so they work while `mmhost serve` runs; what they change reaches
 * a running server through the store's notifications (ended sessions within
 * a second) or its periodic sync (plugin states).
 */
#ifndef HOST_CMD_ADMIN_H
#define HOST_CMD_ADMIN_H

#include <stdbool.h>

#include "config.h"
#include "host_store.h"
#include "users.h"

#define ADMIN_POSITIONAL_MAX 10

struct admin_args {
	const char *config, *data_dir, *plugin_dir, *username, *password, *email, *description;
	const char *app, *url, *as;
	bool admin, help, password_stdin;
	const char *positional[ADMIN_POSITIONAL_MAX];
	int npositional;
};

/* Parses argv (argv[0] is the command, e.g. "user"). 0, or the exit code
 * after one line on stderr. */
int admin_parse(int argc, char **argv, const char *cmd, struct admin_args *a);

/* The configuration the server would use: defaults, --config, then
 * --data-dir and --plugin-dir. 0, or the exit code after one line on stderr
 * (then cfg holds nothing). */
int admin_load_config(const struct admin_args *a, struct host_config *cfg);

/* The configuration (as admin_load_config) and the host's store in its
 * backend. 0, or the exit code
 * after one line on stderr (then nothing is left open). */
int admin_open(const struct admin_args *a, struct host_config *cfg, struct host_store *store);
void admin_close(struct host_config *cfg, struct host_store *store);

/* The user named username into *u (its password hash wiped). 0, or exit
 * code 1 after "mmhost: <what>: no user is named ..." (or the store's
 * error). */
int admin_find_user(struct host_store *store, const char *what, const char *username,
		    struct host_user *u);

/* One line for a failed write: the store is full, or another failure. */
int admin_write_failed(const char *what, int rc);

#endif
