/*
 * What the admin commands share (cmd_admin.h), and mmhost plugin
 * list|enable|disable. The commands open the host's store directly, in the
 * backend the config names, so they work whether or not `mmhost serve` runs
 * (a running server applies plugin changes within a second and hears
 * session changes through the store's notifications).
 */
#include <dirent.h>
#include <getopt.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_admin.h"
#include "plugin_loader.h"
#include "banned.h"

enum {
	OPT_CONFIG = 1,
	OPT_DATA_DIR,
	OPT_PLUGIN_DIR,
	OPT_USERNAME,
	OPT_PASSWORD,
	OPT_PASSWORD_STDIN,
	OPT_EMAIL,
	OPT_ADMIN,
	OPT_DESCRIPTION,
	OPT_APP,
	OPT_URL,
	OPT_AS,
	OPT_HELP,
};

static const struct option admin_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR },
	{ "username", required_argument, NULL, OPT_USERNAME },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN },
	{ "email", required_argument, NULL, OPT_EMAIL },
	{ "system-admin", no_argument, NULL, OPT_ADMIN },
	{ "description", required_argument, NULL, OPT_DESCRIPTION },
	{ "app", required_argument, NULL, OPT_APP },
	{ "url", required_argument, NULL, OPT_URL },
	{ "as", required_argument, NULL, OPT_AS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

int admin_parse(int argc, char **argv, const char *cmd, struct admin_args *a)
{
	int opt;

	memset(a, 0, sizeof(*a));
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", admin_options, NULL)) != -1) {
		switch (opt) {
		case OPT_CONFIG: a->config = optarg; break;
		case OPT_DATA_DIR: a->data_dir = optarg; break;
		case OPT_PLUGIN_DIR: a->plugin_dir = optarg; break;
		case OPT_USERNAME: a->username = optarg; break;
		case OPT_PASSWORD: a->password = optarg; break;
		case OPT_PASSWORD_STDIN: a->password_stdin = true; break;
		case OPT_EMAIL: a->email = optarg; break;
		case OPT_ADMIN: a->admin = true; break;
		case OPT_DESCRIPTION: a->description = optarg; break;
		case OPT_APP: a->app = optarg; break;
		case OPT_URL: a->url = optarg; break;
		case OPT_AS: a->as = optarg; break;
		case OPT_HELP: a->help = true; break;
		case ':':
			return cli_fail(EXIT_USAGE, "%s: option \"%s\" needs a value", cmd,
					argv[optind - 1]);
		default:
			return cli_fail(EXIT_USAGE,
					"%s: unknown option \"%s\"; see mmhost %s --help", cmd,
					argv[optind - 1], cmd);
		}
	}
	for (; optind < argc; optind++) {
		if (a->npositional == ADMIN_POSITIONAL_MAX)
			return cli_fail(EXIT_USAGE, "%s: unexpected argument \"%s\"", cmd,
					argv[optind]);
		a->positional[a->npositional++] = argv[optind];
	}
	return 0;
}

int admin_load_config(const struct admin_args *a, struct host_config *cfg)
{
	char err[CONFIG_ERR_MAX];

	if (config_init(cfg) != 0)
		return cli_fail(1, "out of memory");
	if (a->config && config_load_file(cfg, a->config, err, sizeof(err)) != 0) {
		config_free(cfg);
		return cli_fail(EXIT_USAGE, "%s", err);
	}
	if ((a->data_dir && config_set_string(&cfg->data_dir, a->data_dir) != 0) ||
	    (a->plugin_dir && config_set_string(&cfg->plugin_dir, a->plugin_dir) != 0)) {
		config_free(cfg);
		return cli_fail(1, "out of memory");
	}
	if (!cfg->plugin_dir && !(cfg->plugin_dir = cli_default_plugin_dir())) {
		config_free(cfg);
		return cli_fail(1, "cannot find the default plugin folder; pass --plugin-dir");
	}
	return 0;
}

int admin_open(const struct admin_args *a, struct host_config *cfg, struct host_store *store)
{
	char err[CONFIG_ERR_MAX];
	int rc = admin_load_config(a, cfg);

	if (rc != 0)
		return rc;
	if (sodium_init() < 0) {
		config_free(cfg);
		return cli_fail(1, "cannot initialise libsodium");
	}
	/* The configured backend; --data-dir still picks LMDB's folder. */
	if (host_store_open(store, &cfg->store, cfg->data_dir, err, sizeof(err)) != 0) {
		config_free(cfg);
		return cli_fail(1, "%s", err);
	}
	return 0;
}

void admin_close(struct host_config *cfg, struct host_store *store)
{
	host_store_close(store);
	config_free(cfg);
}

int admin_find_user(struct host_store *store, const char *what, const char *username,
		    struct host_user *u)
{
	int rc = users_find_username(store, username, u);

	sodium_memzero(u->password_hash, sizeof(u->password_hash));
	if (rc == USERS_ENOTFOUND)
		return cli_fail(1, "%s: no user is named \"%s\"", what, username);
	if (rc != USERS_OK)
		return cli_fail(1, "%s: the user could not be read (%s)", what, store_strerror(rc));
	return 0;
}

int admin_write_failed(const char *what, int rc)
{
	if (store_is_full(rc))
		return cli_fail(1, "%s: the store is full (%s); nothing was saved", what,
				store_strerror(rc));
	return cli_fail(1, "%s: the change could not be saved (%s)", what, store_strerror(rc));
}

static const char plugin_usage[] =
	"Usage: mmhost plugin list [--config FILE] [--data-dir DIR] [--plugin-dir DIR]\n"
	"       mmhost plugin enable ID [...]\n"
	"       mmhost plugin disable ID [...]\n"
	"\n"
	"Lists the plugin folders with their state, or enables or disables one. The\n"
	"choice is saved in the data folder, wins over the config file, and a running\n"
	"server applies it within a second.\n";

static int plugin_list(const struct host_config *cfg, struct host_store *store)
{
	struct dirent *e;
	DIR *d = opendir(cfg->plugin_dir);

	if (!d)
		return cli_fail(1, "plugin list: cannot read %s", cfg->plugin_dir);
	while ((e = readdir(d)) != NULL) {
		int saved;
		bool enabled;
		if (e->d_name[0] == '.')
			continue;
		saved = host_store_plugin_state(store, e->d_name);
		enabled = saved >= 0 ? saved == 1 : config_plugin_enabled(cfg, e->d_name);
		printf("%s\t%s\n", e->d_name, enabled ? "enabled" : "disabled");
	}
	closedir(d);
	return 0;
}

/* True when plugin_dir holds a folder id with a plugin.json. */
static bool plugin_exists(const struct host_config *cfg, const char *id)
{
	char path[PATH_MAX];
	struct stat st;
	int n = snprintf(path, sizeof(path), "%s/%s/plugin.json", cfg->plugin_dir, id);

	return n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int cmd_plugin(int argc, char **argv)
{
	struct host_config cfg;
	struct host_store store;
	struct admin_args a;
	const char *verb, *id;
	bool enable;
	int rc = admin_parse(argc, argv, "plugin", &a);

	if (rc != 0)
		return rc;
	if (a.help) {
		fputs(plugin_usage, stdout);
		return 0;
	}
	verb = a.npositional ? a.positional[0] : "";
	if (strcmp(verb, "list") == 0                                       ? a.npositional != 1
	    : (strcmp(verb, "enable") == 0 || strcmp(verb, "disable") == 0) ? a.npositional != 2
									    : true)
		return cli_fail(EXIT_USAGE,
				"plugin: expected \"plugin list\" or \"plugin enable|disable ID\"");
	id = a.positional[1];
	if (id && !plugin_id_valid(id, strlen(id)))
		return cli_fail(EXIT_USAGE, "plugin %s: \"%s\" is not a plugin id", verb, id);
	if ((rc = admin_open(&a, &cfg, &store)) != 0)
		return rc;
	enable = strcmp(verb, "enable") == 0;
	if (strcmp(verb, "list") == 0)
		rc = plugin_list(&cfg, &store);
	else if (!plugin_exists(&cfg, id))
		rc = cli_fail(1, "plugin %s: no plugin \"%s\" in %s", verb, id, cfg.plugin_dir);
	else if (host_store_set_plugin_state(&store, id, enable) != 0)
		rc = cli_fail(1, "plugin %s: the state could not be saved", verb);
	else
		printf("%s %s\n", id, enable ? "enabled" : "disabled");
	admin_close(&cfg, &store);
	return rc;
}
