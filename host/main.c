/* mmhost: entry point and command dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <mmplugin/plugin.h>

#include "cli.h"
#include "json_wipe.h"
#include "banned.h"

static const char usage[] =
	"Usage: mmhost COMMAND [OPTIONS]\n"
	"\n"
	"A small Mattermost-style server that loads plugins (such as the Apps\n"
	"OAuth2 plugin com.mattermost.apps) and serves them over HTTP.\n"
	"\n"
	"Commands (mmhost COMMAND --help for each):\n"
	"  serve                                  run the server\n"
	"  user create|list|deactivate|activate|password   manage users\n"
	"  token create|list|revoke               personal access tokens\n"
	"  session revoke --username NAME         end every session of a user\n"
	"  plugin list|enable|disable             manage plugins\n"
	"  app token --app ID [--username NAME]   the token an App is handed, to try\n"
	"                                         the driver by hand\n"
	"  backup --out FILE                      a copy of the node's data, taken\n"
	"                                         while it serves\n"
	"  restore --in FILE --data-dir DIR       lay a backup into an empty folder\n"
	"  audit verify FILE                      check the node's audit trail\n"
	"  store copy --data-dir DIR --to URL     copy a stopped node's data into an\n"
	"                                         empty PostgreSQL database\n"
	"\n"
	"The admin commands open the data folder directly and work while serve\n"
	"runs; what they change reaches the running server within a second.\n"
	"\n"
	"Options:\n"
	"  --help     show this help\n"
	"  --version  print the version\n"
	"\n"
	"Exit codes: 0 ok, 1 runtime error, 2 usage error.\n";

int cli_fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("mmhost: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* The build tree keeps plugins in build/plugins next to build/bin; an
 * installed mmhost finds them in <prefix>/lib/mmhost/plugins. */
char *cli_default_plugin_dir(void)
{
	static const char *const candidates[] = { "../plugins", "../lib/mmhost/plugins" };
	char exe[PATH_MAX];
	char out[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	for (size_t i = 0; i < 2; i++) {
		struct stat st;
		snprintf(out, sizeof(out), "%s/%s", exe, candidates[i]);
		if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
			return strdup(out);
	}
	snprintf(out, sizeof(out), "%s/%s", exe, candidates[0]);
	return strdup(out);
}

/*
 * No core file, whatever the shell's ulimit, and no ptrace or /proc/PID/mem
 * for other processes of the same user: every command may hold passwords
 * (being checked, or typed for `user create`), session tokens and, in
 * `serve`, the plugin's keys. Debugging a crash takes a debugger attached as
 * root, or a build that leaves this out.
 */
static void no_core_dumps(void)
{
	const struct rlimit none = { 0, 0 };

	(void)setrlimit(RLIMIT_CORE, &none);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int main(int argc, char **argv)
{
	no_core_dumps();
	json_wipe_install();
	if (argc < 2) {
		fputs("Usage: mmhost COMMAND [OPTIONS]; mmhost --help lists the commands\n",
		      stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("mmhost %s (plugin ABI %d.%d)\n", MMHOST_VERSION, MMPLUGIN_ABI_MAJOR,
		       MMPLUGIN_ABI_MINOR);
		return 0;
	}
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "user") == 0)
		return cmd_user(argc - 1, argv + 1);
	if (strcmp(argv[1], "token") == 0)
		return cmd_token(argc - 1, argv + 1);
	if (strcmp(argv[1], "plugin") == 0)
		return cmd_plugin(argc - 1, argv + 1);
	if (strcmp(argv[1], "session") == 0)
		return cmd_session(argc - 1, argv + 1);
	if (strcmp(argv[1], "app") == 0)
		return cmd_app(argc - 1, argv + 1);
	if (strcmp(argv[1], "backup") == 0)
		return cmd_backup(argc - 1, argv + 1);
	if (strcmp(argv[1], "restore") == 0)
		return cmd_restore(argc - 1, argv + 1);
	if (strcmp(argv[1], "audit") == 0)
		return cmd_audit(argc - 1, argv + 1);
	if (strcmp(argv[1], "store") == 0)
		return cmd_store(argc - 1, argv + 1);
	return cli_fail(EXIT_USAGE, "unknown command \"%s\"; see mmhost --help", argv[1]);
}
