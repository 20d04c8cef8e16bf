/*
 * The admin commands: mmhost user create, mmhost token create, mmhost plugin
 * list|enable|disable. They open the host's store directly, in the backend
 * the config names, so they work whether or not `mmhost serve` runs (a
 * running server applies plugin changes within a second and hears session
 * changes through the store's notifications).
 */
#include <dirent.h>
#include <getopt.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "password_input.h"
#include "plugin_loader.h"
#include "sessions.h"
#include "host_store.h"
#include "users.h"
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
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct admin_args {
	const char *config, *data_dir, *plugin_dir, *username, *password, *email, *description;
	bool admin, help, password_stdin;
	const char *positional[2];
	int npositional;
};

static int parse(int argc, char **argv, const char *cmd, struct admin_args *a)
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
		if (a->npositional == 2)
			return cli_fail(EXIT_USAGE, "%s: unexpected argument \"%s\"", cmd,
					argv[optind]);
		a->positional[a->npositional++] = argv[optind];
	}
	return 0;
}

/* The configuration the server would use: defaults, --config, then flags. */
static int load_config(const struct admin_args *a, struct host_config *cfg)
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

static int open_store(const struct host_config *cfg, struct host_store *store)
{
	char err[CONFIG_ERR_MAX];

	if (sodium_init() < 0)
		return cli_fail(1, "cannot initialise libsodium");
	/* The configured backend; --data-dir still picks LMDB's folder. */
	if (host_store_open(store, &cfg->store, cfg->data_dir, err, sizeof(err)) != 0)
		return cli_fail(1, "%s", err);
	return 0;
}

static const char user_usage[] =
	"Usage: mmhost user create --username NAME [--password PW | --password-stdin]\n"
	"                          [--email E] [--system-admin] [--config FILE]\n"
	"                          [--data-dir DIR]\n"
	"\n"
	"Creates a user. Prints the new user's id. Without --email the address is\n"
	"NAME@localhost. Passwords are %d to %d characters; usernames are lower-case\n"
	"letters, digits, '.', '-', '_', starting with a letter.\n"
	"\n"
	"Without --password, the password is read from stdin: typed at a prompt\n"
	"(twice, not shown) on a terminal, else the first line of the input\n"
	"(--password-stdin says so explicitly). --password PW is visible to other\n"
	"users of the machine (ps) and in shell histories.\n";

/* The user's password from stdin, into pw. 0, or the exit code after saying
 * why on stderr. */
static int read_password(char *pw, size_t cap)
{
	switch (password_read(STDIN_FILENO, "Password: ", true, pw, cap)) {
	case PASSWORD_INPUT_OK: return 0;
	case PASSWORD_INPUT_EMPTY:
		return cli_fail(EXIT_USAGE, "user create: no password on stdin; type it at the "
					    "prompt, pipe it, or pass --password");
	case PASSWORD_INPUT_TOO_LONG:
		return cli_fail(EXIT_USAGE, "user create: the password is over %d characters",
				PASSWORD_MAX);
	case PASSWORD_INPUT_MISMATCH:
		return cli_fail(EXIT_USAGE, "user create: the two passwords differ");
	default: return cli_fail(1, "user create: cannot read the password from stdin");
	}
}

/* user create once the password is known. */
static int create_user(const struct admin_args *a, const char *password)
{
	struct host_config cfg;
	struct host_store store;
	struct host_user u;
	struct user_new n;
	char localhost[EMAIL_MAX + 16], msg[256];
	const char *email = a->email;
	int rc;

	if (!email) {
		snprintf(localhost, sizeof(localhost), "%s@localhost", a->username);
		email = localhost;
	}
	n = (struct user_new){ a->username, email, password, a->admin, false };
	if (users_check_new(&n, msg, sizeof(msg)) != USERS_OK)
		return cli_fail(EXIT_USAGE, "user create: %s", msg);
	if ((rc = load_config(a, &cfg)) != 0)
		return rc;
	if ((rc = open_store(&cfg, &store)) != 0) {
		config_free(&cfg);
		return rc;
	}
	switch (rc = users_create(&store, &n, &u)) {
	case USERS_OK:
		printf("%s\n", u.id);
		rc = 0;
		break;
	case USERS_EUSERNAME_TAKEN:
		rc = cli_fail(1, "user create: the username \"%s\" is taken", a->username);
		break;
	case USERS_EEMAIL_TAKEN:
		rc = cli_fail(1, "user create: the email \"%s\" is taken", email);
		break;
	default:
		rc = store_is_full(rc)
			     ? cli_fail(1,
					"user create: the store is full (%s); nothing "
					"was saved",
					store_strerror(rc))
			     : cli_fail(1, "user create: the user could not be saved (%s)",
					store_strerror(rc));
		break;
	}
	host_store_close(&store);
	config_free(&cfg);
	return rc;
}

int cmd_user(int argc, char **argv)
{
	struct admin_args a;
	char pw[PASSWORD_MAX + 2];
	int rc = parse(argc, argv, "user", &a);

	if (rc != 0)
		return rc;
	if (a.help) {
		printf(user_usage, PASSWORD_MIN, PASSWORD_MAX);
		return 0;
	}
	if (a.npositional != 1 || strcmp(a.positional[0], "create") != 0)
		return cli_fail(EXIT_USAGE,
				"user: expected \"user create\"; see mmhost user --help");
	if (!a.username)
		return cli_fail(EXIT_USAGE, "user create: --username is required");
	if (a.password && a.password_stdin)
		return cli_fail(EXIT_USAGE,
				"user create: pass --password or --password-stdin, not both");
	if (a.password)
		return create_user(&a, a.password);
	if ((rc = read_password(pw, sizeof(pw))) != 0)
		return rc;
	rc = create_user(&a, pw);
	sodium_memzero(pw, sizeof(pw));
	return rc;
}

static const char token_usage[] =
	"Usage: mmhost token create --username NAME [--description D]\n"
	"                           [--config FILE] [--data-dir DIR]\n"
	"\n"
	"Creates a personal access token for a user and prints the token alone on\n"
	"stdout. It is shown once: the server keeps only its hash.\n";

int cmd_token(int argc, char **argv)
{
	char token[SESSION_TOKEN_LEN + 1];
	struct session_prop prop = { "type", "UserAccessToken" };
	struct session_new sn = { 0 };
	struct host_config cfg;
	struct host_store store;
	struct host_user u;
	struct admin_args a;
	int rc = parse(argc, argv, "token", &a);

	if (rc != 0)
		return rc;
	if (a.help) {
		fputs(token_usage, stdout);
		return 0;
	}
	if (a.npositional != 1 || strcmp(a.positional[0], "create") != 0)
		return cli_fail(EXIT_USAGE,
				"token: expected \"token create\"; see mmhost token --help");
	if (!a.username)
		return cli_fail(EXIT_USAGE, "token create: --username is required");
	if (a.description && strlen(a.description) > SESSION_DESCRIPTION_MAX)
		return cli_fail(EXIT_USAGE, "token create: --description is over %d characters",
				SESSION_DESCRIPTION_MAX);
	if ((rc = load_config(&a, &cfg)) != 0)
		return rc;
	if ((rc = open_store(&cfg, &store)) != 0) {
		config_free(&cfg);
		return rc;
	}
	if (users_find_username(&store, a.username, &u) != USERS_OK) {
		rc = cli_fail(1, "token create: no user is named \"%s\"", a.username);
	} else if (u.delete_at != 0) {
		rc = cli_fail(1, "token create: the user \"%s\" is deactivated", a.username);
	} else {
		sn.user_id = u.id;
		sn.props = &prop;
		sn.props_len = 1;
		sn.personal = true;
		sn.description = a.description ? a.description : "created by mmhost token create";
		rc = sessions_create(&store, &sn, token, NULL);
		if (rc != SESSIONS_OK) {
			rc = store_is_full(rc) ? cli_fail(1,
							  "token create: the store is full (%s); "
							  "nothing was saved",
							  store_strerror(rc))
					       : cli_fail(1,
							  "token create: the token could not be "
							  "saved (%s)",
							  store_strerror(rc));
		} else {
			printf("%s\n", token);
			sodium_memzero(token, sizeof(token));
			rc = 0;
		}
	}
	host_store_close(&store);
	config_free(&cfg);
	return rc;
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

int cmd_plugin(int argc, char **argv)
{
	struct host_config cfg;
	struct host_store store;
	struct admin_args a;
	const char *verb;
	int rc = parse(argc, argv, "plugin", &a);

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
	if ((rc = load_config(&a, &cfg)) != 0)
		return rc;
	if ((rc = open_store(&cfg, &store)) != 0) {
		config_free(&cfg);
		return rc;
	}
	if (strcmp(verb, "list") == 0) {
		rc = plugin_list(&cfg, &store);
	} else {
		const char *id = a.positional[1];
		bool enable = strcmp(verb, "enable") == 0;
		if (!plugin_id_valid(id, strlen(id)))
			rc = cli_fail(EXIT_USAGE, "plugin %s: \"%s\" is not a plugin id", verb, id);
		else if (host_store_set_plugin_state(&store, id, enable) != 0)
			rc = cli_fail(1, "plugin %s: the state could not be saved", verb);
		else
			printf("%s %s\n", id, enable ? "enabled" : "disabled");
	}
	host_store_close(&store);
	config_free(&cfg);
	return rc;
}
