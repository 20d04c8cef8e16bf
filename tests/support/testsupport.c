#include "testsupport.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Every process the tests start, so that a test that stops half-way (a
 * failed assertion) leaves none running. */
#define CHILDREN_MAX 64
static pid_t children[CHILDREN_MAX];

static void kill_children(void)
{
	for (size_t i = 0; i < CHILDREN_MAX; i++) {
		if (children[i] > 0 && kill(children[i], 0) == 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
		}
	}
}

static void track_child(pid_t pid)
{
	static int registered;

	if (!registered) {
		atexit(kill_children);
		registered = 1;
	}
	for (size_t i = 0; i < CHILDREN_MAX; i++) {
		if (children[i] <= 0 || kill(children[i], 0) != 0) {
			children[i] = pid;
			return;
		}
	}
}

int ts_tempdir(const char *tag, char *out, size_t cap)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(out, cap, "%s/mmtest-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);

	if (n < 0 || (size_t)n >= cap)
		return -1;
	return mkdtemp(out) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void ts_rmtree(const char *path)
{
	if (path && *path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int ts_write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);

	if (fd < 0)
		return -1;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	fchmod(fd, mode);
	return close(fd);
}

char *ts_read_file(const char *path)
{
	return ts_read_file_n(path, NULL);
}

char *ts_read_file_n(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	char chunk[8192];

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (!buf)
		buf = calloc(1, 1);
	else
		buf[len] = '\0';
	if (len_out)
		*len_out = len;
	return buf;
}

int ts_copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	}
	close(in);
	if (n < 0 || fchmod(out, mode) != 0) {
		close(out);
		return -1;
	}
	return close(out);
}

int ts_install_plugin(const char *root, const char *id, const char *so_path, mode_t mode)
{
	char dir[512], path[600], manifest[512];

	snprintf(dir, sizeof(dir), "%s/%s", root, id);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -1;
	chmod(dir, 0755);
	snprintf(path, sizeof(path), "%s/plugin.json", dir);
	snprintf(manifest, sizeof(manifest),
		 "{\"id\":\"%s\",\"version\":\"1.0.0\",\"server\":{\"executable\":\"plugin.so\"}}",
		 id);
	if (ts_write_file(path, manifest, 0644) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/plugin.so", dir);
	return ts_copy_file(so_path, path, mode);
}

static int find_port(const char *log_path)
{
	char *text = ts_read_file(log_path);
	const char *p;
	int port = 0;

	if (!text)
		return 0;
	/* Text format, then JSON format. */
	p = strstr(text, "listening addr=127.0.0.1:");
	if (p)
		port = (int)strtol(p + strlen("listening addr=127.0.0.1:"), NULL, 10);
	p = strstr(text, "\"msg\":\"listening\",\"addr\":\"127.0.0.1:");
	if (p)
		port = (int)strtol(p + strlen("\"msg\":\"listening\",\"addr\":\"127.0.0.1:"), NULL,
				   10);
	free(text);
	return port;
}

static int host_spawn(struct ts_host *h, const char *plugin_dir, const char *const *extra,
		      const char *log_file);

static const char *config_for_all;

void ts_use_config(const char *path)
{
	config_for_all = path;
}

const char *ts_used_config(void)
{
	return config_for_all;
}

int ts_host_start(struct ts_host *h, const char *plugin_dir, const char *const *extra)
{
	memset(h, 0, sizeof(*h));
	if (ts_tempdir("host", h->dir, sizeof(h->dir)) != 0)
		return -1;
	return host_spawn(h, plugin_dir, extra, NULL);
}

int ts_host_start_log_file(struct ts_host *h, const char *plugin_dir, const char *const *extra,
			   const char *log_file)
{
	memset(h, 0, sizeof(*h));
	if (ts_tempdir("host", h->dir, sizeof(h->dir)) != 0)
		return -1;
	return host_spawn(h, plugin_dir, extra, log_file);
}

void ts_host_kill(struct ts_host *h)
{
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
		h->pid = 0;
	}
}

int ts_host_restart(struct ts_host *h, const char *plugin_dir, const char *const *extra)
{
	int status = 0;

	if (h->pid > 0) {
		kill(h->pid, SIGTERM);
		if (waitpid(h->pid, &status, 0) != h->pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			return -1;
		h->pid = 0;
	}
	h->port = 0;
	return host_spawn(h, plugin_dir, extra, NULL);
}

static int host_spawn(struct ts_host *h, const char *plugin_dir, const char *const *extra,
		      const char *log_file)
{
	char data_dir[320], stderr_path[300];
	const char *argv[64];
	size_t argc = 0;
	int status;

	snprintf(stderr_path, sizeof(stderr_path), "%s/host.log", h->dir);
	snprintf(h->log_path, sizeof(h->log_path), "%s", log_file ? log_file : stderr_path);
	snprintf(data_dir, sizeof(data_dir), "%s/data", h->dir);
	argv[argc++] = MMHOST_BIN;
	argv[argc++] = "serve";
	if (config_for_all) {
		argv[argc++] = "--config";
		argv[argc++] = config_for_all;
	}
	argv[argc++] = "--listen";
	argv[argc++] = "127.0.0.1:0";
	argv[argc++] = "--data-dir";
	argv[argc++] = data_dir;
	if (plugin_dir) {
		argv[argc++] = "--plugin-dir";
		argv[argc++] = plugin_dir;
	}
	for (size_t i = 0; extra && extra[i] && argc < 62; i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;

	/* A restart must not read the previous run's "listening" line. */
	unlink(h->log_path);
	unlink(stderr_path);
	h->pid = fork();
	if (h->pid < 0)
		return -1;
	if (h->pid == 0) {
		int fd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 2);
		dup2(fd, 1);
		execv(MMHOST_BIN, (char *const *)argv);
		_exit(127);
	}
	track_child(h->pid);
	for (int i = 0; i < 2000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		h->port = find_port(h->log_path);
		if (h->port > 0) {
			snprintf(h->base_url, sizeof(h->base_url), "http://127.0.0.1:%d", h->port);
			return 0;
		}
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			h->pid = 0;
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	kill(h->pid, SIGKILL);
	waitpid(h->pid, &status, 0);
	h->pid = 0;
	return -1;
}

double ts_host_metric(const struct ts_host *h, const char *series)
{
	char *log = ts_read_file(h->log_path), url[128];
	const char *port = NULL;
	size_t n = strlen(series);
	struct ts_resp r;
	double v = -1;

	/* The last listener logged: a restarted host logs again. */
	for (const char *at = log; at && (at = strstr(at, "metrics_addr=127.0.0.1:")); at++)
		port = at;
	if (!port) {
		free(log);
		return -1;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics",
		 atoi(port + strlen("metrics_addr=127.0.0.1:")));
	free(log);
	if (ts_http("GET", url, NULL, NULL, 0, 0, &r) != 0)
		return -1;
	for (const char *p = r.status == 200 ? r.body : NULL; p && *p;
	     p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			v = strtod(p + n + 1, NULL);
	}
	ts_resp_free(&r);
	return v;
}

int ts_host_log_has(const struct ts_host *h, const char *needle)
{
	char *text = ts_read_file(h->log_path);
	int found = text && strstr(text, needle) != NULL;

	free(text);
	return found;
}

int ts_host_wait_log(const struct ts_host *h, const char *needle, int ms)
{
	for (int waited = 0; waited <= ms; waited += 10) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		if (ts_host_log_has(h, needle))
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

int ts_host_stop(struct ts_host *h)
{
	int status = 0, rc = -1;

	if (h->pid > 0) {
		kill(h->pid, SIGTERM);
		for (int i = 0; i < 4000; i++) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
				rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
				break;
			}
			nanosleep(&ts, NULL);
		}
		if (rc == -1 && !WIFEXITED(status) && !WIFSIGNALED(status)) {
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &status, 0);
		}
		h->pid = 0;
	}
	if (rc != 0) {
		/* Show the host's log to whoever reads the failure. */
		char *text = ts_read_file(h->log_path);
		if (text)
			fprintf(stderr, "---- host log ----\n%s------------------\n", text);
		free(text);
	}
	ts_rmtree(h->dir);
	return rc;
}

struct buf {
	char *p;
	size_t len;
};

static size_t on_write(char *data, size_t size, size_t n, void *cls)
{
	struct buf *b = cls;
	size_t len = size * n;
	char *np = realloc(b->p, b->len + len + 1);

	if (!np)
		return 0;
	memcpy(np + b->len, data, len);
	b->p = np;
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

struct upload {
	const char *p;
	size_t left;
};

static size_t on_read(char *dst, size_t size, size_t n, void *cls)
{
	struct upload *u = cls;
	size_t len = size * n < u->left ? size * n : u->left;

	memcpy(dst, u->p, len);
	u->p += len;
	u->left -= len;
	return len;
}

int ts_http(const char *method, const char *url, const char *const *headers, const void *body,
	    size_t body_len, int chunked, struct ts_resp *out)
{
	struct buf rb = { 0 }, hb = { 0 };
	struct upload up = { body, body_len };
	struct curl_slist *hl = NULL;
	CURL *c = curl_easy_init();

	memset(out, 0, sizeof(*out));
	if (!c)
		return -1;
	for (size_t i = 0; headers && headers[i]; i++)
		hl = curl_slist_append(hl, headers[i]);
	if (chunked)
		hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body || chunked) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &up);
		if (!chunked)
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &rb);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	out->curl_rc = (int)curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hl);
	out->body = rb.p ? rb.p : calloc(1, 1);
	out->body_len = rb.len;
	out->headers = hb.p ? hb.p : calloc(1, 1);
	return out->status > 0 ? 0 : -1;
}

void ts_resp_free(struct ts_resp *r)
{
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

int ts_resp_header(const struct ts_resp *r, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *line = r->headers;

	while (line && *line) {
		const char *end = strstr(line, "\r\n");
		size_t len = end ? (size_t)(end - line) : strlen(line);
		if (len > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1;
			while (*v == ' ')
				v++;
			snprintf(out, cap, "%.*s", (int)(len - (size_t)(v - line)), v);
			return 0;
		}
		line = end ? end + 2 : NULL;
	}
	return -1;
}

int ts_run(const char *const *argv, int *exit_code, char **output)
{
	char dir[256], path[300];
	int status;
	pid_t pid;

	if (ts_tempdir("run", dir, sizeof(dir)) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/out", dir);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	*exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	*output = ts_read_file(path);
	ts_rmtree(dir);
	return *output ? 0 : -1;
}

int ts_run_input(const char *const *argv, const char *input, int *exit_code, char **output)
{
	char dir[256], path[300];
	int status, in[2];
	size_t len = strlen(input), sent = 0;
	pid_t pid;

	if (ts_tempdir("run", dir, sizeof(dir)) != 0 || pipe(in) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/out", dir);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(126);
		close(in[1]);
		dup2(in[0], 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	signal(SIGPIPE, SIG_IGN);
	while (sent < len) {
		ssize_t w = write(in[1], input + sent, len - sent);
		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	close(in[1]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	*exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	*output = ts_read_file(path);
	ts_rmtree(dir);
	return *output ? 0 : -1;
}

int ts_proc_start(struct ts_proc *p, const char *const *argv, const char *ready)
{
	char needle[128];
	int status;

	memset(p, 0, sizeof(*p));
	if (ts_tempdir("proc", p->dir, sizeof(p->dir)) != 0)
		return -1;
	snprintf(p->log_path, sizeof(p->log_path), "%s/proc.log", p->dir);
	snprintf(needle, sizeof(needle), "%s 127.0.0.1:", ready);
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		int fd = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 2);
		dup2(fd, 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	track_child(p->pid);
	for (int i = 0; i < 2000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		char *text = ts_read_file(p->log_path);
		const char *hit = text ? strstr(text, needle) : NULL;
		if (hit)
			p->port = (int)strtol(hit + strlen(needle), NULL, 10);
		free(text);
		if (p->port > 0) {
			snprintf(p->base_url, sizeof(p->base_url), "http://127.0.0.1:%d", p->port);
			return 0;
		}
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &status, 0);
	p->pid = 0;
	return -1;
}

int ts_proc_stop(struct ts_proc *p)
{
	int status = 0, rc = -1;

	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		for (int i = 0; i < 1000; i++) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
				rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
				p->pid = 0;
				break;
			}
			nanosleep(&ts, NULL);
		}
		if (p->pid > 0) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
			p->pid = 0;
		}
	}
	ts_rmtree(p->dir);
	return rc;
}

int ts_cli(const char *data_dir, const char *const *args, char **out)
{
	const char *argv[24] = { MMHOST_BIN };
	const char *config = config_for_all;
	size_t n = 1;
	int code = -1;

	for (size_t i = 0; args[i] && n < 20; i++) {
		if (strcmp(args[i], "--config") == 0)
			config = NULL; /* the test's own wins */
		argv[n++] = args[i];
	}
	argv[n++] = "--data-dir";
	argv[n++] = data_dir;
	if (config) {
		argv[n++] = "--config";
		argv[n++] = config;
	}
	argv[n] = NULL;
	*out = NULL;
	if (ts_run(argv, &code, out) != 0)
		return -1;
	return code;
}

int ts_create_user(const char *data_dir, const char *name, const char *pw, int admin, char *id_out)
{
	const char *args[] = { "user",
			       "create",
			       "--username",
			       name,
			       "--password",
			       pw,
			       admin ? "--system-admin" : NULL,
			       NULL };
	char *out = NULL;
	int code = ts_cli(data_dir, args, &out);

	if (code == 0 && out && id_out)
		snprintf(id_out, 32, "%.26s", out);
	free(out);
	return code;
}

struct ts_resp ts_api(const char *base_url, const char *method, const char *path, const char *token,
		      const char *body)
{
	char url[1024], auth[128];
	const char *hdrs[] = { auth, NULL };
	struct ts_resp r;

	snprintf(url, sizeof(url), "%s%s", base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
	ts_http(method, url, token ? hdrs : NULL, body, body ? strlen(body) : 0, 0, &r);
	return r;
}

long ts_login(const char *base_url, const char *user, const char *pw, char *token, size_t cap)
{
	char body[512];
	struct ts_resp r;
	long status;

	snprintf(body, sizeof(body), "{\"login_id\":\"%s\",\"password\":\"%s\"}", user, pw);
	r = ts_api(base_url, "POST", "/api/v4/users/login", NULL, body);
	status = r.status;
	if (token && ts_resp_header(&r, "Token", token, cap) != 0)
		token[0] = '\0';
	ts_resp_free(&r);
	return status;
}

int ts_browser_init(struct ts_browser *b)
{
	CURL *c = curl_easy_init();

	b->curl = c;
	if (!c)
		return -1;
	curl_easy_setopt(c, CURLOPT_COOKIEFILE, ""); /* the cookie engine, in memory */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	return 0;
}

void ts_browser_free(struct ts_browser *b)
{
	if (b->curl)
		curl_easy_cleanup(b->curl);
	b->curl = NULL;
}

int ts_browser_go(struct ts_browser *b, const char *url, const char *form, struct ts_resp *out)
{
	struct buf rb = { 0 }, hb = { 0 };
	CURL *c = b->curl;

	memset(out, 0, sizeof(*out));
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (form) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &rb);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
	out->curl_rc = (int)curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	out->body = rb.p ? rb.p : calloc(1, 1);
	out->body_len = rb.len;
	out->headers = hb.p ? hb.p : calloc(1, 1);
	return out->status > 0 ? 0 : -1;
}

/* Copies the attribute value that follows marker in text, HTML-unescaped
 * (&amp; &lt; &gt; &quot; &#39;), up to the closing quote. */
static int attr_after(const char *text, const char *marker, char *out, size_t cap)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = { { "&amp;", '&' },
		     { "&lt;", '<' },
		     { "&gt;", '>' },
		     { "&quot;", '"' },
		     { "&#39;", '\'' } };
	const char *p = text ? strstr(text, marker) : NULL;
	size_t n = 0;

	if (!p || cap == 0)
		return -1;
	for (p += strlen(marker); *p && *p != '"'; n++) {
		size_t i = 0;
		if (n + 1 >= cap)
			return -1;
		for (; *p == '&' && i < sizeof(ents) / sizeof(ents[0]); i++) {
			if (strncmp(p, ents[i].ent, strlen(ents[i].ent)) == 0)
				break;
		}
		if (*p == '&' && i < sizeof(ents) / sizeof(ents[0])) {
			out[n] = ents[i].c;
			p += strlen(ents[i].ent);
		} else {
			out[n] = *p++;
		}
	}
	out[n] = '\0';
	return *p == '"' ? 0 : -1;
}

int ts_login_form_token(const struct ts_resp *r, char *out, size_t cap)
{
	return attr_after(r->body, "name=\"csrf_token\" value=\"", out, cap);
}

int ts_page_refresh_url(const struct ts_resp *r, char *out, size_t cap)
{
	return attr_after(r->body, "<meta http-equiv=\"refresh\" content=\"0; url=", out, cap);
}

int ts_browser_login(struct ts_browser *b, const char *site, const char *user, const char *pw,
		     const char *redirect_to, struct ts_resp *out)
{
	char url[512], token[128], *form, *u, *p;
	size_t cap;
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(url, sizeof(url), "%s/login", site);
	if (ts_browser_go(b, url, NULL, out) != 0 || out->status != 200 ||
	    ts_login_form_token(out, token, sizeof(token)) != 0)
		return -1;
	ts_resp_free(out);
	u = curl_easy_escape(b->curl, user, 0);
	p = curl_easy_escape(b->curl, pw, 0);
	cap = strlen(u) + strlen(p) + strlen(token) + (redirect_to ? strlen(redirect_to) : 3) + 64;
	form = malloc(cap);
	if (!u || !p || !form) {
		curl_free(u);
		curl_free(p);
		free(form);
		return -1;
	}
	snprintf(form, cap, "login_id=%s&password=%s&redirect_to=%s&csrf_token=%s", u, p,
		 redirect_to ? redirect_to : "%2F", token);
	rc = ts_browser_go(b, url, form, out);
	curl_free(u);
	curl_free(p);
	free(form);
	return rc;
}

int ts_raw(int port, const void *data, size_t len, size_t step, int pause_ms, int read_ms,
	   char *resp, size_t cap)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	size_t got = 0, sent = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	resp[0] = '\0';
	if (fd < 0)
		return 0;
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return 0;
	}
	while (sent < len) {
		size_t n = step ? (len - sent < step ? len - sent : step) : len - sent;
		ssize_t w = send(fd, (const char *)data + sent, n, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		sent += (size_t)w;
		if (step && pause_ms)
			usleep((useconds_t)pause_ms * 1000);
	}
	for (int waited = 0; waited < read_ms && got + 1 < cap;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;
		if (poll(&p, 1, 50) == 0) {
			waited += 50;
			continue;
		}
		r = recv(fd, resp + got, cap - 1 - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	resp[got] = '\0';
	close(fd);
	if (strncmp(resp, "HTTP/1.", 7) == 0 && got >= 12)
		return (int)strtol(resp + 9, NULL, 10);
	return 0;
}

int ts_memory_holds(pid_t pid, const char *marker)
{
	char path[64], line[512];
	size_t mlen = strlen(marker), cap = 1 << 20;
	char *buf = malloc(cap + mlen);
	FILE *maps;
	int mem, found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem = open(path, O_RDONLY);
	if (!buf || !maps || mem < 0) {
		free(buf);
		if (maps)
			fclose(maps);
		if (mem >= 0)
			close(mem);
		return -1;
	}
	while (!found && fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[1] != 'w' ||
		    hi - lo > (512ul << 20))
			continue;
		for (unsigned long at = lo; at < hi && !found; at += cap) {
			size_t want = hi - at < cap + mlen ? hi - at : cap + mlen;
			ssize_t got = pread(mem, buf, want, (off_t)at);
			if (got <= 0)
				break;
			found = memmem(buf, (size_t)got, marker, mlen) != NULL;
		}
	}
	fclose(maps);
	close(mem);
	free(buf);
	return found;
}

long ts_rss_kib(pid_t pid)
{
	char path[64], *text, *p;
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	text = ts_read_file(path);
	if (text && (p = strstr(text, "VmRSS:")))
		kib = strtol(p + 6, NULL, 10);
	free(text);
	return kib;
}
