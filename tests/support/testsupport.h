/*
 * Test support: temporary folders, plugin folders made from fixture builds,
 * a real mmhost process on an ephemeral port, and HTTP through libcurl.
 */
#ifndef TESTS_SUPPORT_H
#define TESTS_SUPPORT_H

#include <stddef.h>
#include <sys/types.h>

/* Makes a fresh folder under $TMPDIR (or /tmp) named after tag; 0 or -1. */
int ts_tempdir(const char *tag, char *out, size_t cap);
/* rm -rf path. */
void ts_rmtree(const char *path);

/* Installs a plugin folder root/id with a plugin.json naming id and
 * "plugin.so", and a copy of so_path as plugin.so with mode. 0 or -1. */
int ts_install_plugin(const char *root, const char *id, const char *so_path, mode_t mode);

/* Copies a file, giving the copy mode. 0 or -1. */
int ts_copy_file(const char *from, const char *to, mode_t mode);

/* Runs argv (argv[0] a path) to completion; stdout and stderr together go to
 * *output (malloc'd). 0 or -1. */
int ts_run(const char *const *argv, int *exit_code, char **output);

/* The same with input written to the command's stdin (then closed). */
int ts_run_input(const char *const *argv, const char *input, int *exit_code, char **output);

/* Writes text to path. 0 or -1. */
int ts_write_file(const char *path, const char *text, mode_t mode);

/* Reads path whole into a malloc'd NUL-terminated string, or NULL. */
char *ts_read_file(const char *path);
/* The same, with the length (the file may hold NUL bytes). */
char *ts_read_file_n(const char *path, size_t *len_out);

/* A config file given (--config PATH, before any other argument) to every
 * mmhost the tests start from now on, server and admin commands alike; a
 * --config among a test's own arguments wins. NULL: none. The string must
 * outlive its use. */
void ts_use_config(const char *path);
/* The path given to ts_use_config, or NULL. */
const char *ts_used_config(void);

struct ts_host {
	pid_t pid;
	int port;
	char dir[256]; /* temp folder: data/, host.log */
	char log_path[300];
	char base_url[64]; /* http://127.0.0.1:PORT */
};

/* Starts mmhost serve --listen 127.0.0.1:0 --data-dir <tmp>/data
 * --plugin-dir plugin_dir, then extra (NULL-terminated, may be NULL), and
 * waits (at most 20 s) for its "listening" line. 0 or -1. */
int ts_host_start(struct ts_host *h, const char *plugin_dir, const char *const *extra);
/* The same for a host whose config sends its log to log_file (log.file):
 * the "listening" line is awaited there, and h->log_path names it. */
int ts_host_start_log_file(struct ts_host *h, const char *plugin_dir, const char *const *extra,
			   const char *log_file);
/* SIGKILL: the host dies at once, mid-write if it was writing. */
void ts_host_kill(struct ts_host *h);
/* Stops the host (it must exit 0) and starts it again on the same data
 * folder, with new extra arguments. The log starts afresh. 0 or -1. */
int ts_host_restart(struct ts_host *h, const char *plugin_dir, const char *const *extra);
/* SIGTERM, then waits at most 40 s. Returns the exit status, or -1 when it
 * did not exit (then SIGKILLed) or was killed by a signal. Removes the temp
 * folder. */
int ts_host_stop(struct ts_host *h);
/* True when the host's log holds needle. */
/* The value of one series (name with its labels, as printed) on the
 * metrics listener the host logged (metrics_addr=, config metrics_listen
 * "127.0.0.1:0"), or -1 when the listener or the series is missing. */
double ts_host_metric(const struct ts_host *h, const char *series);
int ts_host_log_has(const struct ts_host *h, const char *needle);
/* Waits up to ms for needle to appear in the log (lines such as the access
 * log are written after the response is sent). True when it did. */
int ts_host_wait_log(const struct ts_host *h, const char *needle, int ms);

/* A helper process (the test App, the OAuth2 provider) started with argv
 * (argv[0] a path), whose stderr goes to a log in its own temp folder; ready
 * when the log shows "<ready> 127.0.0.1:PORT". */
struct ts_proc {
	pid_t pid;
	int port;
	char dir[256];
	char log_path[300];
	char base_url[64];
};
int ts_proc_start(struct ts_proc *p, const char *const *argv, const char *ready);
/* SIGTERM and wait; returns the exit status or -1. */
int ts_proc_stop(struct ts_proc *p);

struct ts_resp {
	long status; /* 0 when the request failed (connection closed) */
	char *body;
	size_t body_len;
	char *headers; /* raw header block */
	int curl_rc;
};

/* One request. headers is NULL-terminated ("Name: value"), may be NULL.
 * body may be NULL. chunked sends the body with Transfer-Encoding: chunked.
 * Returns 0 when an HTTP status was read. */
int ts_http(const char *method, const char *url, const char *const *headers, const void *body,
	    size_t body_len, int chunked, struct ts_resp *out);
void ts_resp_free(struct ts_resp *r);
/* The value of header name in r (case-insensitive), copied into out; 0 or -1. */
int ts_resp_header(const struct ts_resp *r, const char *name, char *out, size_t cap);

/* mmhost's admin command line against data_dir: args (NULL-terminated) then
 * --data-dir data_dir. Returns the exit code; *out gets the output. */
int ts_cli(const char *data_dir, const char *const *args, char **out);
/* mmhost user create; the new id (26 characters) goes to id_out[32]. */
int ts_create_user(const char *data_dir, const char *name, const char *pw, int admin, char *id_out);
/* POST /api/v4/users/login; the Token header goes to token (may be NULL).
 * Returns the HTTP status. */
long ts_login(const char *base_url, const char *user, const char *pw, char *token, size_t cap);
/* One request with Authorization: Bearer token (token may be NULL) and a
 * JSON body (may be NULL). */
struct ts_resp ts_api(const char *base_url, const char *method, const char *path, const char *token,
		      const char *body);

/* Raw TCP to 127.0.0.1:port: sends data (in pieces of step bytes, pause_ms
 * apart, when step > 0), then reads until the server closes or read_ms
 * passes. Returns the HTTP status of the first answer (0 when none) and the
 * bytes read in resp (NUL-terminated, cut at cap). */
int ts_raw(int port, const void *data, size_t len, size_t step, int pause_ms, int read_ms,
	   char *resp, size_t cap);

/* The resident memory of a process, in KiB (VmRSS), or -1. */
long ts_rss_kib(pid_t pid);

/* Whether marker is anywhere in process pid's writable memory (its heap,
 * stacks and anonymous maps, freed blocks included). */
int ts_memory_holds(pid_t pid, const char *marker);

/* A browser: one libcurl handle whose cookie engine keeps the cookies the
 * server sets, following no redirects (tests follow them step by step). */
struct ts_browser {
	void *curl;
};
int ts_browser_init(struct ts_browser *b);
void ts_browser_free(struct ts_browser *b);
/* GET url, or POST form (application/x-www-form-urlencoded) when form is not
 * NULL. 0 when an HTTP status was read. */
int ts_browser_go(struct ts_browser *b, const char *url, const char *form, struct ts_resp *out);
/* Logs in through the HTML form as a person does: GET site/login (the form,
 * its login-CSRF token and cookie), then POST it with user and pw and
 * redirect_to (already URL-encoded; NULL for "/"). out gets the POST's
 * answer: 200 with a page that moves on to redirect_to when it worked. 0 when
 * an HTTP status was read. */
int ts_browser_login(struct ts_browser *b, const char *site, const char *user, const char *pw,
		     const char *redirect_to, struct ts_resp *out);

/* The login form's CSRF token in a /login page (the hidden csrf_token
 * field). 0 or -1. */
int ts_login_form_token(const struct ts_resp *r, char *out, size_t cap);
/* Where a page moves on to by <meta http-equiv="refresh">, HTML-unescaped.
 * 0 or -1 when it does not. */
int ts_page_refresh_url(const struct ts_resp *r, char *out, size_t cap);

#endif
