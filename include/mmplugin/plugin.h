/*
 * mmplugin: the ABI between the host server (mmhost) and a plugin loaded as a
 * shared object.
 *
 * This header is the specification. Every declaration says who owns what,
 * how long a pointer lives, which thread may call it and what it returns.
 *
 * Shape
 * -----
 * A plugin exports exactly one symbol, mmplugin_entry_v1(), which returns a
 * pointer to a constant descriptor (struct mmplugin_descriptor). Build the
 * plugin with -fvisibility=hidden so that nothing else is exported.
 *
 * The host hands its services to activate() as a table of function pointers
 * (struct mmplugin_host_api). The table only ever grows at its end: a plugin
 * built against a newer header must check api->struct_size before using a
 * member that an older host may not have (see MMPLUGIN_HAS()).
 *
 * Nothing allocated on one side is freed on the other. Strings cross the
 * boundary as borrowed views (struct mmplugin_str: pointer and length) or as
 * NUL-terminated strings whose lifetime is written next to them. Responses are
 * built through host setters that copy what they are given. No json_t, LMDB
 * handle, FILE * or other library object ever crosses the boundary.
 *
 * Shared libraries are shared: a library the plugin links dynamically that
 * the host also uses is one instance in the process. The host sets
 * jansson's allocation functions before it loads any plugin (malloc, and a
 * free that wipes each block: what jansson copies may be a secret); a
 * plugin must not call json_set_alloc_funcs. Memory jansson returns
 * (json_dumps) is still released with free(): wipe such text first when it
 * may hold a secret. Response bodies and headers are wiped by the host when
 * it frees them.
 *
 * Versioning
 * ----------
 * MMPLUGIN_ABI_MAJOR changes when an existing member changes meaning or
 * layout; the host refuses a plugin whose major differs from its own.
 * MMPLUGIN_ABI_MINOR grows when members are appended; the host refuses a
 * plugin whose minor is newer than its own (it may rely on members the host
 * does not have).
 *
 * Loading (what the host checks, in order; each failure is one log line and
 * the plugin stays inactive while the host keeps serving):
 *   1. plugin_dir and the plugin's folder (not a symbolic link) are not
 *      writable by group or others and are owned by root or by the user
 *      running the host, so nobody else can rename their entries;
 *   2. the executable named by plugin.json is a regular file inside the
 *      plugin's folder, not a symbolic link, not writable by group or
 *      others, owned by root or by the user running the host;
 *   3. dlopen(RTLD_NOW | RTLD_LOCAL) of exactly the file checked in 2 (it
 *      is opened once, checked on that descriptor and loaded through it as
 *      /proc/self/fd/N, so /proc must be mounted) succeeds; a library's
 *      constructors run inside dlopen(), so every check that keeps foreign
 *      code out comes before it. The library's name (dladdr, dl_iterate_phdr,
 *      $ORIGIN in its RPATH) is therefore /proc/self/fd/N, not its path:
 *      link a plugin's own libraries by absolute path or install them where
 *      the dynamic linker looks;
 *   4. the symbol "mmplugin_entry_v1" exists and returns non-NULL;
 *   5. magic == MMPLUGIN_MAGIC, struct_size is at least the v1.0 size;
 *   6. abi_major == MMPLUGIN_ABI_MAJOR, abi_minor <= the host's minor;
 *   7. id equals the id in plugin.json, version is non-NULL;
 *   8. activate, deactivate and serve_http are all non-NULL.
 * A plugin that passed these checks and was activated is never dlclose()d.
 *
 * History
 * -------
 * 1.0  descriptor, responses, log, settings, data dir, site URL.
 * 1.1  users and sessions in the host API.
 * 1.2  the session's user in the request (session_user).
 * 1.3  serve_http returns what it did (MMPLUGIN_DONE, MMPLUGIN_DEFER,
 *      MMPLUGIN_ASYNC): a request that cannot block is answered on the HTTP
 *      I/O thread that read it, work that may block runs on a worker, and a
 *      plugin may answer later from a thread of its own (response_finish);
 *      the request says how its session was presented (session_source) and
 *      whether it runs on a worker (on_worker); the host tells the plugin
 *      which storage backend the admin configured (store_json); security
 *      events go to the node's audit trail (audit, audit_async); the
 *      plugin adds Prometheus metrics that the host serves with its own
 *      (metric_counter, metric_gauge, metric_histogram, metric_add,
 *      metric_set, metric_observe, metrics_on_scrape).
 *      Plugins built for 1.2 keep working: the host calls their serve_http
 *      (serve_http_v12) on a worker only.
 */
#ifndef MMPLUGIN_PLUGIN_H
#define MMPLUGIN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MMPLUGIN_MAGIC 0x4d4d504cu /* "MMPL" */
#define MMPLUGIN_ABI_MAJOR 1
#define MMPLUGIN_ABI_MINOR 3

/* The one symbol a plugin exports. */
#define MMPLUGIN_ENTRY_SYMBOL "mmplugin_entry_v1"

#if defined(__GNUC__)
#define MMPLUGIN_EXPORT __attribute__((visibility("default")))
#define MMPLUGIN_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define MMPLUGIN_EXPORT
#define MMPLUGIN_WARN_UNUSED
#endif

/* True when the table pointed to by p (which starts with a size_t
 * struct_size) is large enough to hold member m. */
#define MMPLUGIN_HAS(p, type, m) ((p)->struct_size >= offsetof(type, m) + sizeof(((type *)0)->m))

/* Return codes of every host API function that can fail. 0 is success. */
enum mmplugin_rc {
	MMPLUGIN_OK = 0,
	MMPLUGIN_EINVAL = -1, /* an argument is malformed (NULL, bad status, CR/LF in a header) */
	MMPLUGIN_ENOMEM = -2, /* the host could not allocate */
	MMPLUGIN_ELIMIT = -3, /* a bound was reached (too many headers, body too large) */
	MMPLUGIN_ENOTFOUND = -4, /* the thing asked for does not exist */
	MMPLUGIN_EIO = -5,       /* the host's storage failed */
	MMPLUGIN_ESTATE = -6,    /* called at the wrong time (e.g. after the response was sent) */
	MMPLUGIN_EEXIST = -7,    /* the name is taken by something else (ABI 1.1) */
};

/* What serve_http did (ABI 1.3). */
enum mmplugin_serve_rc {
	/* The response is complete: the host sends it. */
	MMPLUGIN_DONE = 0,
	/* Nothing was done and the response was not touched: the work may
	 * block (a disk commit, a network call, a password hash). The host
	 * suspends the connection and calls serve_http again for the same
	 * request on a worker thread, with req->on_worker set. Returning
	 * MMPLUGIN_DEFER from a call with on_worker set is an error (500). */
	MMPLUGIN_DEFER = 1,
	/* The plugin keeps the response and will finish it later, from any
	 * thread, with response_finish(). The request's views (req) end when
	 * serve_http returns: copy what the later answer needs. resp stays
	 * valid until response_finish. The host holds the connection (without
	 * a thread) until then. */
	MMPLUGIN_ASYNC = 2,
};

/* How the request's session was presented (ABI 1.3). Browsers send cookies;
 * Apps and scripts send a header or, rarely, a query parameter. */
enum mmplugin_session_source {
	MMPLUGIN_SESSION_NONE = 0,   /* no session */
	MMPLUGIN_SESSION_HEADER = 1, /* Authorization: Bearer|Token <t> */
	MMPLUGIN_SESSION_COOKIE = 2, /* MMAUTHTOKEN cookie (CSRF already checked) */
	MMPLUGIN_SESSION_QUERY = 3,  /* ?access_token=<t> */
};

/* Log levels for mmplugin_host_api.log. */
enum mmplugin_log_level {
	MMPLUGIN_LOG_DEBUG = 0,
	MMPLUGIN_LOG_INFO = 1,
	MMPLUGIN_LOG_WARN = 2,
	MMPLUGIN_LOG_ERROR = 3,
};

/* A borrowed byte string. ptr may be NULL only when len is 0. It is NOT
 * NUL-terminated unless stated otherwise. */
struct mmplugin_str {
	const char *ptr;
	size_t len;
};

/* One request header as the client sent it (name as sent; compare names
 * case-insensitively). */
struct mmplugin_header {
	struct mmplugin_str name;
	struct mmplugin_str value;
};

/* One property of a session (e.g. mattermost_app_id=<app>). */
struct mmplugin_session_prop {
	struct mmplugin_str key;
	struct mmplugin_str value;
};

/*
 * The authenticated session of a request. The host fills it after checking
 * the request's token (Authorization header, MMAUTHTOKEN cookie or
 * ?access_token=, in that order) and CSRF rules. Identity never travels as a
 * header: a client's Mattermost-User-Id header is ignored by the host.
 * Everything here is borrowed and lives as long as the request.
 */
struct mmplugin_session {
	struct mmplugin_str id;      /* the session's id (never its token) */
	struct mmplugin_str user_id; /* 26-character user id */
	const struct mmplugin_session_prop *props;
	size_t props_len;
	int64_t create_at_ms;
	int64_t expires_at_ms; /* 0: never expires */
};

/* A user as the host API returns it (ABI 1.1): fixed-size, NUL-terminated
 * fields, filled by the host into memory the plugin owns. */
#define MMPLUGIN_ID_LEN 26
struct mmplugin_user {
	char id[MMPLUGIN_ID_LEN + 1];
	char username[65];
	char email[129];
	char roles[64]; /* "system_user" or "system_user system_admin" */
	int is_bot;
	int deleted; /* deactivated */
	int64_t create_at_ms;
};

/*
 * A request handed to serve_http. Every member is a borrowed view into host
 * memory, valid only until serve_http returns; copy what must outlive it.
 */
struct mmplugin_request {
	size_t struct_size;         /* sizeof(struct mmplugin_request) of the host */
	struct mmplugin_str method; /* "GET", "POST", ... */
	struct mmplugin_str path;   /* URL-decoded, after /plugins/{id}; at least "/" */
	struct mmplugin_str query;  /* raw query string without '?', not decoded; may be empty */
	struct mmplugin_str request_id; /* 26 characters, also sent as X-Request-Id */
	struct mmplugin_str body;       /* the complete body, at most 1 MiB */
	const struct mmplugin_header *headers;
	size_t headers_len;
	/* NULL when the request carries no valid session. */
	const struct mmplugin_session *session;
	struct mmplugin_str remote_addr; /* the client's IP address as text */

	/* ---- ABI 1.2 (check MMPLUGIN_HAS(req, struct mmplugin_request, ...)) */
	/* The session's user as the host read it while authenticating the
	 * request (active, else there would be no session); NULL when there is
	 * no session. Saves a user_get per request. */
	const struct mmplugin_user *session_user;

	/* ---- ABI 1.3 ------------------------------------------------------ */
	/* 1 when serve_http runs on a worker thread (after MMPLUGIN_DEFER, or
	 * always for plugins built for 1.2); 0 on an HTTP I/O thread, where
	 * nothing may block. */
	int on_worker;
	/* enum mmplugin_session_source: how the session was presented;
	 * MMPLUGIN_SESSION_NONE when session is NULL. */
	int session_source;
};

/*
 * Metrics (ABI 1.3). One series is one metric name with one combination of
 * label values, registered once and then updated through its handle. Label
 * values are fixed words chosen by the plugin (an operation, an outcome),
 * never an id, a token, a user name or anything a request carries: that is
 * what keeps the number of series bounded.
 */
#define MMPLUGIN_METRIC_NAME_MAX 64    /* bytes of a metric name */
#define MMPLUGIN_METRIC_HELP_MAX 256   /* bytes of its help text */
#define MMPLUGIN_METRIC_LABELS_MAX 4   /* labels of one series */
#define MMPLUGIN_METRIC_VALUE_MAX 64   /* bytes of one label value */
#define MMPLUGIN_METRIC_BUCKETS_MAX 32 /* finite buckets of a histogram */
#define MMPLUGIN_METRIC_SERIES_MAX 64  /* series of one metric name */

/* A label of a series: both NUL-terminated, borrowed during the call. */
struct mmplugin_label {
	const char *name;
	const char *value;
};

/* One registered series. Opaque; owned by the host; valid until the host
 * process exits (also across deactivate and activate: never freed). */
typedef struct mmplugin_metric mmplugin_metric;

/* The response being built for one request. Opaque; owned by the host; valid
 * only during the serve_http call it was passed to. */
typedef struct mmplugin_response mmplugin_response;

/* The host's handle for one plugin, passed to activate() and to every host
 * API function that needs to know which plugin is calling. Opaque; owned by
 * the host; valid from activate() until deactivate() returns. */
typedef struct mmplugin_host mmplugin_host;

/*
 * The host's services. The table is constant and owned by the host; it stays
 * valid from activate() until deactivate() returns. Members are only ever
 * appended: check MMPLUGIN_HAS(api, struct mmplugin_host_api, member) before
 * using a member added after ABI 1.0. Every function is thread-safe unless
 * stated otherwise.
 */
struct mmplugin_host_api {
	size_t struct_size; /* sizeof(struct mmplugin_host_api) of the host */
	uint16_t abi_major;
	uint16_t abi_minor;

	/* ---- ABI 1.0: responses ------------------------------------------ */

	/* Sets the status code (100..599). Without a call, a response that has
	 * a body or a header is 200; a response with nothing set at all is
	 * answered 500 by the host. Returns MMPLUGIN_OK, MMPLUGIN_EINVAL. */
	int (*response_set_status)(mmplugin_response *resp, int status);

	/* Adds a header; both strings are copied. Refused with MMPLUGIN_EINVAL:
	 * an empty or non-token name, a value containing CR, LF or NUL, and the
	 * names the host owns (Content-Length, Transfer-Encoding, Connection,
	 * X-Request-Id). MMPLUGIN_ELIMIT past 32 headers or 16 KiB in total. */
	int (*response_add_header)(mmplugin_response *resp, const char *name, size_t name_len,
				   const char *value, size_t value_len);

	/* Replaces the body with a copy of body[0..len). body may be NULL when
	 * len is 0. MMPLUGIN_ELIMIT past 16 MiB, MMPLUGIN_ENOMEM. */
	int (*response_set_body)(mmplugin_response *resp, const void *body, size_t len);

	/* ---- ABI 1.0: the plugin's environment ----------------------------- */

	/* Writes one log line at level, tagged with the plugin's id. msg is a
	 * NUL-terminated string; the host escapes it, truncates it at 4 KiB and
	 * never interprets format directives in it. Never log a secret. */
	void (*log)(mmplugin_host *host, int level, const char *msg);

	/* The plugin's settings object from the host's configuration, as JSON
	 * text ("{}" when none). Borrowed, NUL-terminated, valid until
	 * deactivate() returns. */
	const char *(*settings_json)(mmplugin_host *host);

	/* A directory that belongs to this plugin alone (created 0700 by the
	 * host before activate). Borrowed, NUL-terminated, no trailing slash,
	 * valid until deactivate() returns. */
	const char *(*data_dir)(mmplugin_host *host);

	/* The public URL of the server, e.g. "http://localhost:8065", without a
	 * trailing slash. Borrowed, NUL-terminated, valid until deactivate()
	 * returns. */
	const char *(*site_url)(mmplugin_host *host);

	/* ---- ABI 1.1: users and sessions --------------------------------- */
	/* Check MMPLUGIN_HAS(api, struct mmplugin_host_api, <member>) first. */

	/* Copies user user_id (NUL-terminated) into *out. Deactivated users are
	 * returned with deleted set. MMPLUGIN_OK, MMPLUGIN_EINVAL (NULL or not
	 * an id), MMPLUGIN_ENOTFOUND, MMPLUGIN_EIO. */
	int (*user_get)(mmplugin_host *host, const char *user_id, struct mmplugin_user *out);

	/* Returns the bot named username, creating it when no user has that
	 * name and reactivating it when it was deactivated (so that installing
	 * an App twice gives the same bot). Bots cannot log in with a password.
	 * username: 1..64 of a-z, 0-9, '.', '-', '_', starting with a letter or
	 * a digit. MMPLUGIN_OK, MMPLUGIN_EINVAL, MMPLUGIN_EEXIST (a human user
	 * has the name), MMPLUGIN_EIO. */
	int (*bot_ensure)(mmplugin_host *host, const char *username, struct mmplugin_user *out);

	/* Deactivates (active 0) or reactivates (active 1) a user. Deactivating
	 * revokes every session of the user. MMPLUGIN_OK, MMPLUGIN_EINVAL,
	 * MMPLUGIN_ENOTFOUND, MMPLUGIN_EIO. */
	int (*user_set_active)(mmplugin_host *host, const char *user_id, int active);

	/* Creates a session for an active user with props (at most 16; keys 1..64
	 * bytes, values at most 256 bytes, no NUL) living lifetime_ms (1 ms to
	 * 24 hours). Writes its token, NUL-terminated, into token_out (token_cap
	 * at least MMPLUGIN_ID_LEN + 1) and its expiry into *expires_at_ms (may
	 * be NULL). The token authenticates requests like a login's; it is a
	 * secret: never log it. MMPLUGIN_OK, MMPLUGIN_EINVAL, MMPLUGIN_ENOTFOUND
	 * (no such active user), MMPLUGIN_EIO. */
	int (*session_create)(mmplugin_host *host, const char *user_id,
			      const struct mmplugin_session_prop *props, size_t props_len,
			      int64_t lifetime_ms, char *token_out, size_t token_cap,
			      int64_t *expires_at_ms);

	/* Revokes every session whose prop key equals value (both
	 * NUL-terminated); *revoked gets how many (may be NULL). Requests
	 * carrying a revoked token get 401 from then on. MMPLUGIN_OK,
	 * MMPLUGIN_EINVAL, MMPLUGIN_EIO. */
	int (*sessions_revoke_prop)(mmplugin_host *host, const char *key, const char *value,
				    size_t *revoked);

	/* ---- ABI 1.3: answering later, the store ---------------------------- */

	/* Hands a response whose serve_http returned (or is about to return)
	 * MMPLUGIN_ASYNC back to the host, which sends it. Call it exactly once
	 * per such response, from any thread, also before serve_http has
	 * returned; resp must not be used afterwards. Between serve_http's
	 * return and this call the response_* setters may be used from any one
	 * thread at a time. If the client went away meanwhile, the host
	 * discards the answer. While the host drains at shutdown it waits for
	 * held responses like any other request in flight. */
	void (*response_finish)(mmplugin_response *resp);

	/* The storage backend the admin configured for this node, as the JSON
	 * text of the host config's "store" object: {"backend":"lmdb"} or
	 * {"backend":"postgres","url":"postgresql://...", ...}. The plugin
	 * opens its own connections or environment with it (no handle crosses
	 * the ABI); with "lmdb" its files live under data_dir(). The URL may
	 * hold a password: never log it. Borrowed, NUL-terminated, valid until
	 * deactivate() returns. */
	const char *(*store_json)(mmplugin_host *host);

	/* ---- ABI 1.3: the audit trail -------------------------------------- */

	/* Records one security event in the node's audit trail (a hash-chained,
	 * MAC'd file of JSON lines, <data_dir>/audit/audit.log; see the README)
	 * and returns once its line is on disk. Call it after the change it
	 * records committed and before answering the request that reports it.
	 * Concurrent calls share one write and one fdatasync. It blocks on the
	 * disk: call it on a worker (req->on_worker) or a thread of the
	 * plugin's own, never on an HTTP I/O thread nor from a thread that must
	 * not block (use audit_async there).
	 *
	 * event: one of
	 *   app_listed, app_installed, app_enabled, app_disabled, app_uninstalled,
	 *   oauth2_client_stored, oauth2_user_stored, oauth2_user_deleted,
	 *   oauth2_token_refreshed, oauth2_token_revoked,
	 *   flow_connected, flow_failed, key_rotated, key_retired,
	 *   master_key_changed
	 * actor (the user who acted), target_user (the user acted upon),
	 * request_id (the request's, as in struct mmplugin_request): a
	 * 26-character id or NULL; app_id: an App id (1..32 of [A-Za-z0-9._-])
	 * or NULL. There is no free text: nothing else reaches the file, so no
	 * secret can. All NUL-terminated, borrowed for the call.
	 *
	 * MMPLUGIN_OK; MMPLUGIN_EINVAL (an unknown event, or a field that is not
	 * an id: nothing written); MMPLUGIN_EIO (the line could not be written
	 * or synced; the host logged why; the change it records stands, so
	 * answer the request with an error: the node's policy is that what is
	 * not audited is not acknowledged); MMPLUGIN_ESTATE (the host keeps no
	 * audit trail). */
	int (*audit)(mmplugin_host *host, const char *event, const char *actor, const char *app_id,
		     const char *target_user, const char *request_id);

	/* The same for a thread that must not block (a response finished from
	 * the plugin's own thread after MMPLUGIN_ASYNC): the event is copied and
	 * queued, and done(arg, rc) is called exactly once, from a host thread,
	 * when its line is on disk (rc MMPLUGIN_OK) or could not be written
	 * (MMPLUGIN_EIO); only then answer what reports it. done must not block
	 * and may run before audit_async returns. Returns MMPLUGIN_OK (done will
	 * be called), or without calling done: MMPLUGIN_EINVAL,
	 * MMPLUGIN_ELIMIT (4096 events already wait), MMPLUGIN_ENOMEM,
	 * MMPLUGIN_ESTATE. While the host drains at shutdown it waits for
	 * held responses, so a response held until done is answered. */
	int (*audit_async)(mmplugin_host *host, const char *event, const char *actor,
			   const char *app_id, const char *target_user, const char *request_id,
			   void (*done)(void *arg, int rc), void *arg);

	/* ---- ABI 1.3: metrics ---------------------------------------------- */
	/*
	 * The host serves the plugin's metrics with its own, in Prometheus'
	 * text format, on its metrics listener (config "metrics_listen"; off
	 * when absent: then registering still works and updates do nothing).
	 *
	 * Registering makes one series and returns its handle in *out:
	 * - name: [a-zA-Z_][a-zA-Z0-9_]*, at most MMPLUGIN_METRIC_NAME_MAX
	 *   bytes, not starting with "mmhost_" or "process_" (the host's); a
	 *   counter's name ends in "_total", no other's does; only a
	 *   histogram's may end in "_bucket", "_count" or "_sum".
	 * - help: 1..MMPLUGIN_METRIC_HELP_MAX bytes of printable ASCII.
	 * - labels: 0..MMPLUGIN_METRIC_LABELS_MAX pairs (labels may be NULL
	 *   when labels_len is 0); names [a-zA-Z_][a-zA-Z0-9_]*, not "le",
	 *   not starting with "__", each once; values 1..MMPLUGIN_METRIC_VALUE_MAX
	 *   bytes of printable ASCII (see above: fixed words only).
	 * - buckets (histograms): 1..MMPLUGIN_METRIC_BUCKETS_MAX finite upper
	 *   bounds, strictly increasing; +Inf is implied.
	 * Every series of one name has the same type, help, label names in the
	 * same order and the same buckets. Registering a series that exists
	 * (same name and label values) returns its handle again: after a
	 * deactivate and an activate the plugin gets its old series back and
	 * its counts go on. At most MMPLUGIN_METRIC_SERIES_MAX series per name;
	 * the host holds 160 names in all, its own (about 20) included.
	 * Thread-safe; meant for activate (it takes a lock and allocates).
	 * Returns MMPLUGIN_OK, MMPLUGIN_EINVAL (a malformed argument, or one
	 * that disagrees with the name's earlier series), MMPLUGIN_EEXIST (the
	 * host or another plugin has the name), MMPLUGIN_ELIMIT (a bound),
	 * MMPLUGIN_ENOMEM. */
	int (*metric_counter)(mmplugin_host *host, const char *name, const char *help,
			      const struct mmplugin_label *labels, size_t labels_len,
			      mmplugin_metric **out);
	int (*metric_gauge)(mmplugin_host *host, const char *name, const char *help,
			    const struct mmplugin_label *labels, size_t labels_len,
			    mmplugin_metric **out);
	int (*metric_histogram)(mmplugin_host *host, const char *name, const char *help,
				const double *buckets, size_t buckets_len,
				const struct mmplugin_label *labels, size_t labels_len,
				mmplugin_metric **out);

	/* Updates, from any thread, including an HTTP I/O thread: no lock, no
	 * allocation, no system call (a relaxed atomic add into the calling
	 * thread's shard). m may be NULL (nothing happens); a handle of
	 * another type is ignored. */
	void (*metric_add)(mmplugin_metric *m, uint64_t n);   /* counter: += n */
	void (*metric_set)(mmplugin_metric *m, double v);     /* gauge: = v */
	void (*metric_observe)(mmplugin_metric *m, double v); /* histogram; NaN is ignored */

	/* Sets the function the host calls before each scrape, for gauges
	 * worth computing only when they are read (counting records): fn sets
	 * them with metric_set. NULL removes it; a later call replaces it.
	 * The host calls fn from its metrics thread, one scrape at a time, only
	 * while the plugin is active: never during activate or deactivate,
	 * never once deactivate has begun (it forgets fn then). fn must return
	 * quickly: the scrape waits for it, and so does deactivate.
	 * MMPLUGIN_OK or MMPLUGIN_EINVAL (host NULL). */
	int (*metrics_on_scrape)(mmplugin_host *host, void (*fn)(void *arg), void *arg);
};

/*
 * Hooks. The host calls them as follows:
 * - activate: once per activation, from one thread, before any serve_http.
 *   Returns 0 and sets *state_out (may be NULL) on success; any other value
 *   leaves the plugin inactive (the host logs it). host and api stay valid
 *   until deactivate returns.
 * - deactivate: once after a successful activate, from one thread, after
 *   every serve_http call has returned and before the host exits or the
 *   plugin is disabled. The plugin releases everything it holds: a response
 *   it still holds (MMPLUGIN_ASYNC) is finished with response_finish before
 *   deactivate returns (the host answers 503 to any it is left with). At
 *   shutdown the host first waits for held responses like any request in
 *   flight (up to its drain timeout), then deactivates.
 * - serve_http: from many threads at once; must be thread-safe. req and resp
 *   are valid only during the call (resp longer after MMPLUGIN_ASYNC). The
 *   plugin answers through the response_* functions of the host API and
 *   returns an enum mmplugin_serve_rc. A call with req->on_worker == 0 runs
 *   on an HTTP I/O thread: it must not block (no disk commit, no network,
 *   no lock held for long); it returns MMPLUGIN_DEFER to be called again on
 *   a worker. Plugins built for ABI 1.2 and before fill serve_http_v12 (no
 *   return value); the host calls them on a worker only.
 */
struct mmplugin_descriptor {
	uint32_t magic;       /* MMPLUGIN_MAGIC */
	uint32_t struct_size; /* sizeof(struct mmplugin_descriptor) */
	uint16_t abi_major;   /* MMPLUGIN_ABI_MAJOR the plugin was built with */
	uint16_t abi_minor;   /* MMPLUGIN_ABI_MINOR the plugin was built with */
	const char *id;       /* e.g. "com.mattermost.apps"; equals plugin.json's id */
	const char *version;  /* e.g. "0.1.0" */

	int (*activate)(mmplugin_host *host, const struct mmplugin_host_api *api, void **state_out);
	void (*deactivate)(void *state);
	union {
		/* abi_minor >= 3: returns enum mmplugin_serve_rc. */
		int (*serve_http)(void *state, const struct mmplugin_request *req,
				  mmplugin_response *resp);
		/* abi_minor <= 2: no return value (as MMPLUGIN_DONE). */
		void (*serve_http_v12)(void *state, const struct mmplugin_request *req,
				       mmplugin_response *resp);
	};
};

/* The entry point every plugin exports. Returns a pointer to a descriptor
 * with static storage duration (never NULL for a usable plugin). Called once,
 * from one thread, right after dlopen. */
typedef const struct mmplugin_descriptor *(*mmplugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* MMPLUGIN_PLUGIN_H */
