/*
 * The host's configuration: defaults, then the JSON config file, then
 * command-line flags. Any unknown key or bad value is an error naming it.
 *
 *   { "listen": "127.0.0.1:8065", "site_url": "http://localhost:8065",
 *     "data_dir": "./data", "plugin_dir": "./build/plugins",
 *     "plugins": { "<id>": { "enabled": true, "settings": { } } },
 *     "log": { "level": "info", "format": "text", "file": "/var/log/mmhost.log" },
 *     "metrics_listen": "127.0.0.1:8067",
 *     "trusted_proxies": [ "127.0.0.1", "10.0.0.0/8" ],
 *     "limits": { "threads": 2, "workers": 32, "max_connections": 1024,
 *                 "per_ip_connections": 256, "idle_timeout_s": 30,
 *                 "body_timeout_s": 30 },
 *     "store": { "backend": "lmdb" } }
 *
 * "store" picks the storage backend of the node: {"backend":"lmdb"} (the
 * default: files under data_dir) or {"backend":"postgres", "url":
 * "postgresql://user@host:port/db", "pool_size": 8} (see common/store.h).
 *
 * "log.file": where the log goes (opened for appending, created 0640;
 * SIGHUP opens it again, for logrotate); without it, stderr.
 * "metrics_listen": the address of the Prometheus metrics listener; off
 * (nothing listens) when absent.
 * "trusted_proxies": reverse proxies whose X-Forwarded-For and
 * X-Forwarded-Proto the host believes (trusted_proxies.h).
 *
 * Relative paths are relative to the working directory, as in Mattermost.
 */
#ifndef HOST_CONFIG_H
#define HOST_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "log.h"
#include "store.h"
#include "trusted_proxies.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_ERR_MAX 512

struct host_config {
	char listen[96]; /* as written: "127.0.0.1:8065" or "[::1]:8065" */
	struct sockaddr_storage listen_addr;
	socklen_t listen_addr_len;
	bool listen_set;  /* given in the file or by a flag */
	char *site_url;   /* malloc'd, no trailing '/'; NULL: derived from listen */
	char *data_dir;   /* malloc'd */
	char *plugin_dir; /* malloc'd; NULL: <binary's folder>/../plugins */
	json_t *plugins;  /* owned object: id -> {"enabled": bool, "settings": object} */
	enum log_level log_level;
	enum log_format log_format;
	char *log_file;          /* malloc'd; NULL: stderr */
	char metrics_listen[96]; /* as written; "" when off */
	struct sockaddr_storage metrics_addr;
	socklen_t metrics_addr_len;
	struct trusted_proxies proxies;
	unsigned threads; /* libmicrohttpd's epoll threads */
	unsigned workers; /* handler threads */
	unsigned max_connections;
	unsigned per_ip_connections; /* per IPv4 address or IPv6 /64 (addr_limit.h) */
	unsigned idle_timeout_s;     /* also the deadline for a whole request head */
	unsigned body_timeout_s;     /* the deadline for a request body after its head */
	struct store_config store;   /* the backend of users, sessions and the plugins' data */
	char *store_json;            /* malloc'd: the "store" object as configured (JSON text) */
};

/* Fills the defaults. Returns 0, or -1 when out of memory. */
int config_init(struct host_config *cfg) __attribute__((warn_unused_result));
void config_free(struct host_config *cfg);

/* Reads and applies a JSON config file (at most 1 MiB). On error returns -1
 * and writes one line naming the file and the key into err. */
int config_load_file(struct host_config *cfg, const char *path, char *err, size_t err_cap)
	__attribute__((warn_unused_result));

/* Applies JSON config text; same contract as config_load_file. */
int config_load_text(struct host_config *cfg, const char *text, size_t len, char *err,
		     size_t err_cap) __attribute__((warn_unused_result));

/* Flag setters; each returns 0 or -1 with a message in err. */
int config_set_listen(struct host_config *cfg, const char *value, char *err, size_t err_cap)
	__attribute__((warn_unused_result));
int config_set_site_url(struct host_config *cfg, const char *value, char *err, size_t err_cap)
	__attribute__((warn_unused_result));
int config_set_string(char **slot, const char *value) __attribute__((warn_unused_result));

/* Site URL for a server bound to port: the configured one, or derived from
 * the listen address exactly as written ("http://127.0.0.1:PORT" for
 * 127.0.0.1, "http://[::1]:PORT", "http://localhost:PORT" for localhost
 * and for a wildcard address, which no browser can open). The browser's
 * cookies belong to the host it was given: a site URL on another name than
 * the one people browse splits them. Returns a malloc'd string or NULL. */
char *config_site_url(const struct host_config *cfg, uint16_t bound_port);

/* False when site_url names another host than the listen address (compared
 * as text, without regard to case: localhost and 127.0.0.1 differ for a
 * browser); true for a wildcard listen address. For a warning at start. */
bool config_site_url_matches_listen(const struct host_config *cfg, const char *site_url);

/* Whether plugin id is enabled (true when the config does not mention it),
 * and its settings object (borrowed from cfg; NULL when none). */
bool config_plugin_enabled(const struct host_config *cfg, const char *id);
const json_t *config_plugin_settings(const struct host_config *cfg, const char *id);

#endif
