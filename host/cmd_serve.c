/* mmhost serve: load the configuration, bind, load plugins, serve until
 * SIGTERM or SIGINT, then drain and exit 0. SIGHUP opens the log file
 * again (logrotate) and never stops the server. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_log.h"
#include "cli.h"
#include "config.h"
#include "fs_util.h"
#include "host_request.h"
#include "auth_metrics.h"
#include "http_metrics.h"
#include "http_server.h"
#include "metrics.h"
#include "metrics_server.h"
#include "process_metrics.h"
#include "session_cache.h"
#include "sessions.h"
#include "host_store.h"
#include "log.h"
#include "master_key.h"
#include "plugin_registry.h"
#include "serve_lock.h"
#include "banned.h"

static const char serve_usage[] =
	"Usage: mmhost serve [--config FILE] [--listen ADDR:PORT] [--data-dir DIR]\n"
	"                    [--plugin-dir DIR] [--site-url URL]\n"
	"\n"
	"Runs the server until SIGTERM or SIGINT, then finishes in-flight requests,\n"
	"deactivates plugins and exits 0. SIGHUP opens the config's log.file again\n"
	"(after logrotate moved it) and does nothing else.\n"
	"\n"
	"  --config FILE      JSON config file (see README.md, \"Configuration\")\n"
	"  --listen ADDR:PORT address to listen on (default 127.0.0.1:8065; port 0\n"
	"                     picks a free port, reported in the \"listening\" log line)\n"
	"  --data-dir DIR     where data lives (default ./data)\n"
	"  --plugin-dir DIR   where plugin folders are (default: ../plugins next to\n"
	"                     the mmhost binary)\n"
	"  --site-url URL     the server's public URL (default: the listen address,\n"
	"                     http://127.0.0.1:8065 for the default one)\n"
	"  --help             show this help\n"
	"\n"
	"Flags override the config file.\n";

enum { OPT_CONFIG = 1, OPT_LISTEN, OPT_DATA_DIR, OPT_PLUGIN_DIR, OPT_SITE_URL, OPT_HELP };

static const struct option serve_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR },
	{ "site-url", required_argument, NULL, OPT_SITE_URL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Config file first, then flags, whatever their order on the line. */
static int parse_args(int argc, char **argv, struct host_config *cfg)
{
	char err[CONFIG_ERR_MAX];
	const char *config_path = NULL;
	int opt;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", serve_options, NULL)) != -1) {
		if (opt == OPT_HELP) {
			fputs(serve_usage, stdout);
			return 1;
		}
		if (opt == OPT_CONFIG)
			config_path = optarg;
		else if (opt == '?')
			return cli_fail(EXIT_USAGE,
					"serve: unknown option \"%s\"; see mmhost serve --help",
					argv[optind - 1]);
		else if (opt == ':')
			return cli_fail(EXIT_USAGE, "serve: option \"%s\" needs a value",
					argv[optind - 1]);
	}
	if (optind < argc)
		return cli_fail(EXIT_USAGE, "serve: unexpected argument \"%s\"", argv[optind]);
	if (config_path && config_load_file(cfg, config_path, err, sizeof(err)) != 0)
		return cli_fail(EXIT_USAGE, "%s", err);
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", serve_options, NULL)) != -1) {
		int rc = 0;
		if (opt == OPT_LISTEN)
			rc = config_set_listen(cfg, optarg, err, sizeof(err));
		else if (opt == OPT_SITE_URL)
			rc = config_set_site_url(cfg, optarg, err, sizeof(err));
		else if (opt == OPT_DATA_DIR || opt == OPT_PLUGIN_DIR) {
			rc = config_set_string(
				opt == OPT_DATA_DIR ? &cfg->data_dir : &cfg->plugin_dir, optarg);
			if (rc != 0)
				snprintf(err, sizeof(err), "out of memory");
		}
		if (rc != 0)
			return cli_fail(EXIT_USAGE, "serve: %s", err);
	}
	return 0;
}

/* Background upkeep while serving: plugin states saved by `mmhost plugin
 * enable|disable` are applied within a second, expired sessions are swept
 * every minute. */
struct upkeep {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct plugin_registry *plugins;
	struct host_store *store;
};

static void *upkeep_run(void *arg)
{
	struct upkeep *u = arg;
	unsigned ticks = 0;

	pthread_mutex_lock(&u->lock);
	while (!u->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&u->cond, &u->lock, &until);
		if (u->stop)
			break;
		pthread_mutex_unlock(&u->lock);
		plugin_registry_sync(u->plugins);
		if (++ticks % 60 == 0) {
			size_t swept = 0;
			if (sessions_sweep(u->store, 10000, &swept) == 0 && swept) {
				char n[24];
				snprintf(n, sizeof(n), "%zu", swept);
				log_kv(LOG_INFO, "expired sessions swept", LOG_NUM("count"), n,
				       NULL);
			}
		}
		pthread_mutex_lock(&u->lock);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

static void upkeep_stop(struct upkeep *u)
{
	pthread_mutex_lock(&u->lock);
	u->stop = true;
	pthread_cond_signal(&u->cond);
	pthread_mutex_unlock(&u->lock);
	pthread_join(u->thread, NULL);
}

/* Whether serve may make the missing master key file f->current: not
 * during a master key change (the new file is the admin's: a wrong path
 * would get every data key sealed under a key nobody keeps), nor once this
 * node's audit trail exists (it was keyed from a master key that is then
 * missing: a wrong path, or a restore without the file). 0, or -1 with why
 * in err. */
static int may_make_master_key(const struct host_config *cfg, const struct master_key_files *f,
			       char *err, size_t err_cap)
{
	char trail[PATH_MAX];

	if (access(f->current, F_OK) == 0)
		return 0;
	if (f->previous[0]) {
		snprintf(err, err_cap,
			 "master_key_file %.300s does not exist: with previous_master_key_file "
			 "set, make the new master key file first; nothing was changed",
			 f->current);
		return -1;
	}
	snprintf(trail, sizeof(trail), "%s/" AUDIT_DIR "/" AUDIT_FILE, cfg->data_dir);
	if (access(trail, F_OK) == 0) {
		snprintf(err, err_cap,
			 "master_key_file %.150s does not exist, but this node ran with a master "
			 "key (its audit trail %.150s is keyed from it): put that file back or "
			 "correct the path; no new master key was made",
			 f->current, trail);
		return -1;
	}
	return 0;
}

/* The node's audit trail, keyed from the master key (created here when
 * missing at a node's first start, before any plugin activates: plugins
 * record from activate on). */
static int open_audit(const struct host_config *cfg, struct audit_log **out, char *err,
		      size_t err_cap)
{
	struct master_key_files keys;
	unsigned char *key = NULL;
	char why[512];
	int rc = -1;

	if (master_key_files(cfg, &keys, why, sizeof(why)) != 0) {
		snprintf(err, err_cap, "the audit trail cannot be opened: %.400s", why);
		return -1;
	}
	if (may_make_master_key(cfg, &keys, err, err_cap) != 0)
		return -1;
	if (audit_key_load(&keys, false, true, &key, why, sizeof(why)) != 0 ||
	    audit_open(cfg->data_dir, key, out, why, sizeof(why)) != AUDIT_OK)
		snprintf(err, err_cap, "the audit trail cannot be opened: %.400s", why);
	else
		rc = 0;
	audit_key_free(key);
	if (rc == 0)
		log_kv(LOG_INFO, "audit trail", "path", audit_path(*out), NULL);
	return rc;
}

/* The signals serve handles, blocked in every thread and taken by
 * sigwait. */
static void serve_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

/* Waits for SIGTERM or SIGINT; each SIGHUP on the way reopens the log. */
static int wait_for_signal(void)
{
	sigset_t set;
	int sig = 0;

	serve_signals(&set);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			return sig;
		if (log_reopen() == 1)
			log_kv(LOG_INFO, "SIGHUP: no log.file to reopen; nothing to do", NULL);
	}
}

/* The metrics registry and the host's families; counting only when a
 * metrics listener is configured. 0 or -1. */
static int metrics_setup(const struct host_config *cfg, struct http_server *srv)
{
	if (metrics_init(cfg->metrics_listen[0] != '\0') != 0 ||
	    http_metrics_init(&srv->in_flight) != 0 || auth_metrics_init() != 0 ||
	    process_metrics_init() != 0)
		return -1;
	return 0;
}

/* "ADDR:PORT" of a listen address as written, with the port bound. */
static const char *addr_text(const char *written, int family, uint16_t port, char *out, size_t cap)
{
	if (family == AF_INET6)
		snprintf(out, cap, "[%.*s]:%u", (int)(strrchr(written, ']') - written - 1),
			 written + 1, (unsigned)port);
	else
		snprintf(out, cap, "%.*s:%u", (int)(strrchr(written, ':') - written), written,
			 (unsigned)port);
	return out;
}

static const char *metrics_addr_text(const struct host_config *cfg, uint16_t port, char *out,
				     size_t cap)
{
	return addr_text(cfg->metrics_listen, cfg->metrics_addr.ss_family, port, out, cap);
}

int cmd_serve(int argc, char **argv)
{
	static struct host_ctx host; /* large (the login limiter's table) */
	static struct session_cache cache;
	struct upkeep upkeep = { .lock = PTHREAD_MUTEX_INITIALIZER,
				 .cond = PTHREAD_COND_INITIALIZER };
	struct serve_lock lock = { .fd = -1 };
	struct metrics_server metrics = { 0 };
	struct plugin_registry plugins;
	struct host_store store;
	struct audit_log *audit = NULL;
	struct http_server srv;
	struct host_config cfg;
	char err[CONFIG_ERR_MAX];
	char listen_addr[128];
	char *site_url = NULL;
	sigset_t set;
	int rc, sig;

	/* From the start: a SIGHUP (logrotate) never stops the server. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (config_init(&cfg) != 0)
		return cli_fail(1, "out of memory");
	rc = parse_args(argc, argv, &cfg);
	if (rc != 0) {
		config_free(&cfg);
		return rc == 1 ? 0 : rc;
	}
	if (!cfg.plugin_dir && !(cfg.plugin_dir = cli_default_plugin_dir())) {
		config_free(&cfg);
		return cli_fail(1, "cannot find the default plugin folder; pass --plugin-dir");
	}
	log_setup(cfg.log_level, cfg.log_format);
	if (cfg.log_file && log_open_file(cfg.log_file, err, sizeof(err)) != 0) {
		config_free(&cfg);
		return cli_fail(1, "%s", err);
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		config_free(&cfg);
		return cli_fail(1, "cannot initialise libsodium or libcurl");
	}
	if (fs_mkdir_p(cfg.data_dir, 0700) != 0) {
		rc = cli_fail(1, "cannot create the data folder %s: %s", cfg.data_dir,
			      strerror(errno));
		goto out_cfg;
	}
	if (serve_lock_take(&lock, cfg.data_dir, err, sizeof(err)) != 0) {
		rc = cli_fail(1, "%s", err);
		goto out_cfg;
	}

	/* Threads started from here on inherit the mask: signals reach only
	 * the sigwait below. */
	signal(SIGPIPE, SIG_IGN);
	serve_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (http_server_bind(&srv, &cfg, err, sizeof(err)) != 0) {
		rc = cli_fail(1, "%s", err);
		goto out_cfg;
	}
	site_url = config_site_url(&cfg, srv.port);
	if (!site_url) {
		rc = cli_fail(1, "cannot derive the site URL; pass --site-url");
		goto out_cfg;
	}
	if (metrics_setup(&cfg, &srv) != 0) {
		rc = cli_fail(1, "cannot set up the metrics: out of memory");
		goto out_metrics;
	}
	if (host_store_open(&store, &cfg.store, cfg.data_dir, err, sizeof(err)) != 0) {
		rc = cli_fail(1, "%s", err);
		goto out_metrics;
	}
	if (open_audit(&cfg, &audit, err, sizeof(err)) != 0) {
		rc = cli_fail(1, "%s", err);
		host_store_close(&store);
		goto out_metrics;
	}
	/* The cache hears of every session ended anywhere (this process, the
	 * admin commands, other nodes) through the store's notifications. */
	if (session_cache_init(&cache) == 0 && host_store_cache_sessions(&store, &cache) != 0)
		log_kv(LOG_WARN, "sessions are not cached: the store cannot notify", NULL);
	log_kv(LOG_INFO, "starting", "version", MMHOST_VERSION, "data_dir", cfg.data_dir,
	       "plugin_dir", cfg.plugin_dir, "site_url", site_url, NULL);
	if (!config_site_url_matches_listen(&cfg, site_url))
		log_kv(LOG_WARN,
		       "site_url names another host than listen: browse site_url, or the "
		       "browser's cookies split between the two",
		       "listen", cfg.listen, "site_url", site_url, NULL);
	(void)plugin_registry_load(&plugins, &cfg, &store, audit, cfg.plugin_dir, site_url);
	host.cfg = &cfg;
	host.store = &store;
	host.audit = audit;
	host.plugins = &plugins;
	host.site_url = site_url;
	host.secure_cookies = strncmp(site_url, "https://", 8) == 0;
	login_limiter_init(&host.limiter);
	if (cfg.metrics_listen[0]) {
		if (metrics_server_start(&metrics, (const struct sockaddr *)&cfg.metrics_addr,
					 cfg.metrics_addr_len, plugin_registry_scrape, &plugins,
					 err, sizeof(err)) != 0) {
			rc = cli_fail(1, "%s (%s)", err, cfg.metrics_listen);
			goto out_plugins;
		}
		/* Not "listening addr=": scripts take the first such line for
		 * the server's port. */
		log_kv(LOG_INFO, "serving metrics", "metrics_addr",
		       metrics_addr_text(&cfg, metrics.port, listen_addr, sizeof(listen_addr)),
		       NULL);
	}
	if (log_flusher_start() != 0)
		log_kv(LOG_WARN, "no log flusher thread; access lines are written one by one",
		       NULL);
	upkeep.plugins = &plugins;
	upkeep.store = &store;
	if (http_server_start(&srv, &host) != 0 ||
	    pthread_create(&upkeep.thread, NULL, upkeep_run, &upkeep) != 0) {
		rc = 1;
		goto out_plugins;
	}
	log_kv(LOG_INFO, "listening", "addr",
	       addr_text(cfg.listen, cfg.listen_addr.ss_family, srv.port, listen_addr,
			 sizeof(listen_addr)),
	       "site_url", site_url, NULL);

	sig = wait_for_signal();
	log_kv(LOG_INFO, "shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
	/* Upkeep first: it would activate again the plugins the drain
	 * deactivates. */
	upkeep_stop(&upkeep);
	http_server_shutdown(&srv);
	rc = 0;
out_plugins:
	/* Scrapes walk the plugins: stopped before the registry goes. */
	metrics_server_stop(&metrics);
	plugin_registry_close(&plugins);
	login_limiter_destroy(&host.limiter);
	audit_close(audit); /* after the plugins: they record until deactivated */
	host_store_close(&store);
	session_cache_destroy(&cache);
	log_flusher_stop();
	if (rc == 0)
		log_kv(LOG_INFO, "stopped", NULL);
out_metrics:
	metrics_shutdown();
out_cfg:
	serve_lock_release(&lock);
	free(site_url);
	config_free(&cfg);
	curl_global_cleanup();
	return rc;
}
