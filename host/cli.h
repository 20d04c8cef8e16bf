/* The mmhost command line: one function per command, each returning the
 * process exit code (0 ok, 1 runtime error, 2 usage error). */
#ifndef HOST_CLI_H
#define HOST_CLI_H

#define EXIT_USAGE 2

int cmd_serve(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_plugin(int argc, char **argv);
int cmd_session(int argc, char **argv);
int cmd_app(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_store(int argc, char **argv);

/* Prints "mmhost: <msg>" on stderr; returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The default plugin folder: <folder of the running binary>/../plugins.
 * malloc'd, or NULL. */
char *cli_default_plugin_dir(void);

#endif
