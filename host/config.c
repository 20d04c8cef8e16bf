#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

#define DEFAULT_LISTEN "127.0.0.1:8065"

static void set_err(char *err, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (!err || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

int config_set_string(char **slot, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

int config_init(struct host_config *cfg)
{
	char err[CONFIG_ERR_MAX];

	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = LOG_INFO;
	cfg->log_format = LOG_FORMAT_TEXT;
	cfg->threads = 2;
	cfg->workers = 32;
	cfg->max_connections = 1024;
	cfg->per_ip_connections = 256;
	cfg->idle_timeout_s = 30;
	cfg->body_timeout_s = 30;
	cfg->plugins = json_object();
	store_config_init(&cfg->store);
	if (!cfg->plugins || config_set_string(&cfg->data_dir, "./data") != 0 ||
	    config_set_string(&cfg->store_json, "{\"backend\":\"lmdb\"}") != 0 ||
	    config_set_listen(cfg, DEFAULT_LISTEN, err, sizeof(err)) != 0) {
		config_free(cfg);
		return -1;
	}
	cfg->listen_set = false;
	return 0;
}

void config_free(struct host_config *cfg)
{
	free(cfg->site_url);
	free(cfg->data_dir);
	free(cfg->plugin_dir);
	free(cfg->log_file);
	if (cfg->store_json) /* may hold a password */
		explicit_bzero(cfg->store_json, strlen(cfg->store_json));
	free(cfg->store_json);
	explicit_bzero(&cfg->store, sizeof(cfg->store));
	json_decref(cfg->plugins);
	memset(cfg, 0, sizeof(*cfg));
}

/* Parses "ADDR:PORT", ADDR an IPv4 address, "[IPv6]" or "localhost", into
 * *ss and *len. 0 or -1. */
static int parse_addr(const char *value, struct sockaddr_storage *ss, socklen_t *ss_len)
{
	char host[64];
	const char *colon, *hstart, *hend;
	char *end;
	unsigned long port;
	size_t hlen;

	if (strlen(value) >= sizeof(((struct host_config *)0)->listen))
		return -1;
	colon = strrchr(value, ':');
	if (!colon || colon[1] == '\0')
		return -1;
	hstart = value;
	hend = colon;
	if (*hstart == '[') {
		if (hend == hstart || hend[-1] != ']')
			return -1;
		hstart++;
		hend--;
	}
	hlen = (size_t)(hend - hstart);
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, hstart, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end != '\0' || port > 65535 || colon[1] < '0' || colon[1] > '9')
		return -1;

	memset(ss, 0, sizeof(*ss));
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (value[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return -1;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*ss_len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -1;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*ss_len = sizeof(*a4);
	}
	return 0;
}

int config_set_listen(struct host_config *cfg, const char *value, char *err, size_t err_cap)
{
	if (parse_addr(value, &cfg->listen_addr, &cfg->listen_addr_len) != 0)
		goto bad;
	snprintf(cfg->listen, sizeof(cfg->listen), "%s", value);
	cfg->listen_set = true;
	return 0;
bad:
	set_err(err, err_cap,
		"listen: \"%.60s\" is not ADDR:PORT (e.g. 127.0.0.1:8065 or [::1]:8065)", value);
	return -1;
}

/* Accepts http(s)://host[:port][/path] without query, fragment, spaces or
 * control characters; stores it without trailing slashes. */
int config_set_site_url(struct host_config *cfg, const char *value, char *err, size_t err_cap)
{
	const char *rest;
	char *copy;
	size_t len;

	if (strncmp(value, "http://", 7) == 0)
		rest = value + 7;
	else if (strncmp(value, "https://", 8) == 0)
		rest = value + 8;
	else
		goto bad;
	if (*rest == '\0' || *rest == '/' || *rest == ':')
		goto bad;
	len = strlen(value);
	if (len > 2048)
		goto bad;
	for (const char *p = value; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '"' || c == '\\' ||
		    c == '<' || c == '>')
			goto bad;
	}
	copy = strdup(value);
	if (!copy)
		goto bad;
	while (len > 0 && copy[len - 1] == '/')
		copy[--len] = '\0';
	free(cfg->site_url);
	cfg->site_url = copy;
	return 0;
bad:
	set_err(err, err_cap,
		"site_url: \"%.60s\" is not an absolute http(s) URL without query or fragment",
		value);
	return -1;
}

static int get_uint(const json_t *v, const char *name, unsigned lo, unsigned hi, unsigned *out,
		    char *err, size_t cap)
{
	json_int_t n;

	if (!json_is_integer(v)) {
		set_err(err, cap, "%s must be an integer", name);
		return -1;
	}
	n = json_integer_value(v);
	if (n < (json_int_t)lo || n > (json_int_t)hi) {
		set_err(err, cap, "%s must be between %u and %u", name, lo, hi);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static int load_log(struct host_config *cfg, const json_t *obj, char *err, size_t cap)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj)) {
		set_err(err, cap, "log must be an object");
		return -1;
	}
	json_object_foreach((json_t *)obj, key, v)
	{
		if (strcmp(key, "level") == 0) {
			if (!json_is_string(v) ||
			    log_level_parse(json_string_value(v), &cfg->log_level) != 0) {
				set_err(err, cap,
					"log.level must be one of debug, info, warn, error");
				return -1;
			}
		} else if (strcmp(key, "file") == 0) {
			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    strlen(json_string_value(v)) != json_string_length(v) ||
			    json_string_length(v) > 4000) {
				set_err(err, cap, "log.file must be a path");
				return -1;
			}
			if (config_set_string(&cfg->log_file, json_string_value(v)) != 0) {
				set_err(err, cap, "out of memory");
				return -1;
			}
		} else if (strcmp(key, "format") == 0) {
			if (!json_is_string(v) ||
			    log_format_parse(json_string_value(v), &cfg->log_format) != 0) {
				set_err(err, cap, "log.format must be \"text\" or \"json\"");
				return -1;
			}
		} else {
			set_err(err, cap, "unknown key \"log.%.64s\"", key);
			return -1;
		}
	}
	return 0;
}

static int load_metrics_listen(struct host_config *cfg, const json_t *v, char *err, size_t cap)
{
	const char *value = json_string_value(v);

	if (!value || parse_addr(value, &cfg->metrics_addr, &cfg->metrics_addr_len) != 0) {
		set_err(err, cap,
			"metrics_listen: \"%.60s\" is not ADDR:PORT (e.g. 127.0.0.1:8067 or "
			"[::1]:8067)",
			value ? value : "(not a string)");
		return -1;
	}
	snprintf(cfg->metrics_listen, sizeof(cfg->metrics_listen), "%s", value);
	return 0;
}

static int load_trusted_proxies(struct host_config *cfg, const json_t *v, char *err, size_t cap)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v)) {
		set_err(err, cap, "trusted_proxies must be a list of CIDRs, e.g. [\"10.0.0.0/8\"]");
		return -1;
	}
	memset(&cfg->proxies, 0, sizeof(cfg->proxies));
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e)) {
			set_err(err, cap, "trusted_proxies[%zu] must be a string", i);
			return -1;
		}
		if (trusted_proxies_add(&cfg->proxies, json_string_value(e), err, cap) != 0)
			return -1;
	}
	return 0;
}

static int load_limits(struct host_config *cfg, const json_t *obj, char *err, size_t cap)
{
	const char *key;
	json_t *v;
	int rc;

	if (!json_is_object(obj)) {
		set_err(err, cap, "limits must be an object");
		return -1;
	}
	json_object_foreach((json_t *)obj, key, v)
	{
		if (strcmp(key, "threads") == 0)
			rc = get_uint(v, "limits.threads", 1, 64, &cfg->threads, err, cap);
		else if (strcmp(key, "workers") == 0)
			rc = get_uint(v, "limits.workers", 1, 1024, &cfg->workers, err, cap);
		else if (strcmp(key, "max_connections") == 0)
			rc = get_uint(v, "limits.max_connections", 1, 65536, &cfg->max_connections,
				      err, cap);
		else if (strcmp(key, "per_ip_connections") == 0)
			rc = get_uint(v, "limits.per_ip_connections", 1, 65536,
				      &cfg->per_ip_connections, err, cap);
		else if (strcmp(key, "idle_timeout_s") == 0)
			rc = get_uint(v, "limits.idle_timeout_s", 1, 3600, &cfg->idle_timeout_s,
				      err, cap);
		else if (strcmp(key, "body_timeout_s") == 0)
			rc = get_uint(v, "limits.body_timeout_s", 1, 3600, &cfg->body_timeout_s,
				      err, cap);
		else {
			set_err(err, cap, "unknown key \"limits.%.64s\"", key);
			rc = -1;
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int load_plugins(struct host_config *cfg, const json_t *obj, char *err, size_t cap)
{
	const char *id, *key;
	json_t *entry, *v;

	if (!json_is_object(obj)) {
		set_err(err, cap, "plugins must be an object");
		return -1;
	}
	json_object_foreach((json_t *)obj, id, entry)
	{
		if (!json_is_object(entry)) {
			set_err(err, cap, "plugins.%.64s must be an object", id);
			return -1;
		}
		json_object_foreach(entry, key, v)
		{
			if (strcmp(key, "enabled") == 0) {
				if (!json_is_boolean(v)) {
					set_err(err, cap,
						"plugins.%.64s.enabled must be true or false", id);
					return -1;
				}
			} else if (strcmp(key, "settings") == 0) {
				if (!json_is_object(v)) {
					set_err(err, cap,
						"plugins.%.64s.settings must be an object", id);
					return -1;
				}
			} else {
				set_err(err, cap, "unknown key \"plugins.%.64s.%.64s\"", id, key);
				return -1;
			}
		}
	}
	if (json_object_update(cfg->plugins, (json_t *)obj) != 0) {
		set_err(err, cap, "out of memory");
		return -1;
	}
	return 0;
}

static int load_store(struct host_config *cfg, const json_t *obj, char *err, size_t cap)
{
	struct store_config sc;
	char *text;
	int rc;

	if (!json_is_object(obj)) {
		set_err(err, cap, "store must be an object");
		return -1;
	}
	text = json_dumps(obj, JSON_COMPACT);
	if (!text) {
		set_err(err, cap, "out of memory");
		return -1;
	}
	rc = store_config_parse(&sc, text, strlen(text), err, cap);
	if (rc != STORE_OK) {
		explicit_bzero(text, strlen(text));
		free(text);
		return -1;
	}
	if (cfg->store_json)
		explicit_bzero(cfg->store_json, strlen(cfg->store_json));
	free(cfg->store_json);
	cfg->store_json = text;
	cfg->store = sc;
	explicit_bzero(&sc, sizeof(sc));
	return 0;
}

static int load_path(char **slot, const json_t *v, const char *name, char *err, size_t cap)
{
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		set_err(err, cap, "%s must be a non-empty string", name);
		return -1;
	}
	if (config_set_string(slot, json_string_value(v)) != 0) {
		set_err(err, cap, "out of memory");
		return -1;
	}
	return 0;
}

int config_load_text(struct host_config *cfg, const char *text, size_t len, char *err,
		     size_t err_cap)
{
	json_error_t jerr;
	json_t *root, *v;
	const char *key;
	int rc = -1;

	if (len > CONFIG_FILE_MAX) {
		set_err(err, err_cap, "larger than %d bytes", CONFIG_FILE_MAX);
		return -1;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		set_err(err, err_cap, "not valid JSON at line %d column %d: %.120s", jerr.line,
			jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		set_err(err, err_cap, "the top level must be an object");
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		char sub[CONFIG_ERR_MAX];
		int r;

		if (strcmp(key, "listen") == 0) {
			r = json_is_string(v)
				    ? config_set_listen(cfg, json_string_value(v), err, err_cap)
				    : (set_err(err, err_cap, "listen must be a string"), -1);
		} else if (strcmp(key, "site_url") == 0) {
			r = json_is_string(v)
				    ? config_set_site_url(cfg, json_string_value(v), err, err_cap)
				    : (set_err(err, err_cap, "site_url must be a string"), -1);
		} else if (strcmp(key, "data_dir") == 0) {
			r = load_path(&cfg->data_dir, v, "data_dir", err, err_cap);
		} else if (strcmp(key, "plugin_dir") == 0) {
			r = load_path(&cfg->plugin_dir, v, "plugin_dir", err, err_cap);
		} else if (strcmp(key, "plugins") == 0) {
			r = load_plugins(cfg, v, err, err_cap);
		} else if (strcmp(key, "log") == 0) {
			r = load_log(cfg, v, err, err_cap);
		} else if (strcmp(key, "limits") == 0) {
			r = load_limits(cfg, v, err, err_cap);
		} else if (strcmp(key, "store") == 0) {
			r = load_store(cfg, v, err, err_cap);
		} else if (strcmp(key, "metrics_listen") == 0) {
			r = load_metrics_listen(cfg, v, err, err_cap);
		} else if (strcmp(key, "trusted_proxies") == 0) {
			r = load_trusted_proxies(cfg, v, err, err_cap);
		} else {
			snprintf(sub, sizeof(sub), "unknown key \"%.64s\"", key);
			set_err(err, err_cap, "%s", sub);
			r = -1;
		}
		if (r != 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int config_load_file(struct host_config *cfg, const char *path, char *err, size_t err_cap)
{
	char sub[CONFIG_ERR_MAX];
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_err(err, err_cap, "config %.200s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		set_err(err, err_cap, "config %.200s: not a regular file", path);
		goto out_close;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		set_err(err, err_cap, "config %.200s: larger than %d bytes", path, CONFIG_FILE_MAX);
		goto out_close;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		set_err(err, err_cap, "config %.200s: out of memory", path);
		goto out_close;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			set_err(err, err_cap, "config %.200s: read failed", path);
			goto out_free;
		}
		got += (size_t)n;
	}
	if (config_load_text(cfg, buf, got, sub, sizeof(sub)) != 0) {
		set_err(err, err_cap, "config %.200s: %s", path, sub);
		goto out_free;
	}
	rc = 0;
out_free:
	free(buf);
out_close:
	close(fd);
	return rc;
}

/* The host part of cfg->listen as written ("127.0.0.1", "[::1]",
 * "localhost") into out; false when it does not fit. */
static bool listen_host(const struct host_config *cfg, char *out, size_t cap)
{
	const char *colon = strrchr(cfg->listen, ':');
	size_t n = colon ? (size_t)(colon - cfg->listen) : 0;

	if (n == 0 || n >= cap)
		return false;
	memcpy(out, cfg->listen, n);
	out[n] = '\0';
	return true;
}

static bool listen_is_wildcard(const struct host_config *cfg)
{
	if (cfg->listen_addr.ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
			&((const struct sockaddr_in6 *)&cfg->listen_addr)->sin6_addr);
	return ((const struct sockaddr_in *)&cfg->listen_addr)->sin_addr.s_addr == INADDR_ANY;
}

char *config_site_url(const struct host_config *cfg, uint16_t bound_port)
{
	char host[sizeof(cfg->listen)];
	char url[sizeof(cfg->listen) + 32];
	int n;

	if (cfg->site_url)
		return strdup(cfg->site_url);
	if (listen_is_wildcard(cfg))
		snprintf(host, sizeof(host), "localhost");
	else if (!listen_host(cfg, host, sizeof(host)))
		return NULL;
	n = snprintf(url, sizeof(url), "http://%s:%u", host, (unsigned)bound_port);
	if (n < 0 || (size_t)n >= sizeof(url))
		return NULL;
	return strdup(url);
}

bool config_site_url_matches_listen(const struct host_config *cfg, const char *site_url)
{
	char host[sizeof(cfg->listen)];
	const char *h = strstr(site_url, "://");
	size_t n;

	if (!h || listen_is_wildcard(cfg) || !listen_host(cfg, host, sizeof(host)))
		return true;
	h += 3;
	n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/");
	return strlen(host) == n && strncasecmp(host, h, n) == 0;
}

bool config_plugin_enabled(const struct host_config *cfg, const char *id)
{
	const json_t *entry = json_object_get(cfg->plugins, id);
	const json_t *enabled = entry ? json_object_get(entry, "enabled") : NULL;

	return enabled ? json_is_true(enabled) : true;
}

const json_t *config_plugin_settings(const struct host_config *cfg, const char *id)
{
	const json_t *entry = json_object_get(cfg->plugins, id);

	return entry ? json_object_get(entry, "settings") : NULL;
}
