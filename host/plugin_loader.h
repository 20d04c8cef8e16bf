/*
 * Loading one plugin folder: read plugin.json, check the executable, dlopen
 * it and check its descriptor. See include/mmplugin/plugin.h ("Loading") for
 * the checks and their order. Activation and lookup live in plugin_registry.
 */
#ifndef HOST_PLUGIN_LOADER_H
#define HOST_PLUGIN_LOADER_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <mmplugin/plugin.h>

#include "request_map.h"

struct host_store;
struct audit_log;

#define PLUGIN_MANIFEST_MAX (64 * 1024)
#define PLUGIN_REASON_MAX 320

/* Why a plugin was refused; stable, one per check. */
enum plugin_refusal {
	PLUGIN_LOADED = 0,
	PLUGIN_E_MANIFEST,    /* plugin.json missing, too large, not JSON or missing fields */
	PLUGIN_E_EXECUTABLE,  /* server.executable missing or not a file name */
	PLUGIN_E_NOT_REGULAR, /* not a regular file (missing, symlink, directory) */
	PLUGIN_E_PERMISSIONS, /* file, folder or plugin_dir writable by group or others */
	PLUGIN_E_DLOPEN,      /* dlopen failed */
	PLUGIN_E_NO_ENTRY,    /* no mmplugin_entry_v1 symbol, or it returned NULL */
	PLUGIN_E_MAGIC,       /* wrong magic */
	PLUGIN_E_STRUCT_SIZE, /* descriptor smaller than ABI 1.0's */
	PLUGIN_E_ABI_MAJOR,   /* major differs from the host's */
	PLUGIN_E_ABI_MINOR,   /* minor newer than the host's */
	PLUGIN_E_ID,          /* descriptor id differs from plugin.json's, or no version */
	PLUGIN_E_HOOKS,       /* a hook is NULL */
	PLUGIN_E_OWNER, /* file, folder or plugin_dir owned by neither root nor the host's user */
};

enum plugin_status {
	PLUGIN_STATUS_REFUSED = 0, /* failed a load check; never activated */
	PLUGIN_STATUS_INACTIVE,    /* loaded; disabled or its activate failed */
	PLUGIN_STATUS_ACTIVE,
};

/* The host's record of one plugin. It is also the plugin's opaque
 * mmplugin_host handle. */
struct mmplugin_host {
	char id[PLUGIN_ID_MAX + 1];
	char *dir;        /* the plugin's folder */
	json_t *manifest; /* plugin.json */
	void *dl;         /* dlopen handle; never closed after an activation */
	/* The executable checked and loaded (as /proc/self/fd/<so_fd>); open
	 * while anything may answer to that name, so that it never names
	 * another file; -1 when none. */
	int so_fd;
	const struct mmplugin_descriptor *desc;
	void *state; /* what activate returned */
	/* Changed only by (de)activation, which the registry serialises
	 * (admin_lock); requests look at open instead. */
	enum plugin_status status;
	bool ever_activated;
	bool activate_failed; /* its last activate returned an error */
	enum plugin_refusal refusal;
	char reason[PLUGIN_REASON_MAX]; /* why refused or inactive; "" when active */
	/*
	 * Requests get in while open (activated, not being deactivated), and
	 * nobody waits for them: serve_http calls are counted (calls), and
	 * deactivation closes, then waits on idle for the count to reach 0.
	 * held counts the responses the plugin keeps (MMPLUGIN_ASYNC) and has
	 * not finished; the host answers what deactivate leaves.
	 */
	atomic_bool open;
	atomic_long calls;
	atomic_long held;
	pthread_mutex_t idle_lock;
	pthread_cond_t idle;
	/* Environment handed to the plugin; valid while active. */
	struct host_store *store; /* users and sessions, for the host API */
	char *data_dir;
	char *settings_json;
	char *site_url;
	const char *store_json;  /* the config's "store" object; borrowed from the config */
	struct audit_log *audit; /* the node's audit trail; NULL: none */
	/* Metrics (ABI 1.3): what the plugin asked to be called before each
	 * scrape; set and read under the registry's scrape lock
	 * (plugin_set_scrape_hook), forgotten at deactivate. */
	void (*scrape_fn)(void *arg);
	void *scrape_arg;
	/* Whether the admin wants it active (config or saved state): a plugin
	 * wanted but refused or failing to activate is unhealthy. */
	bool wanted;
	/* While activate runs, on activating_thread: the last error the
	 * plugin logged, which becomes its reason when activate fails. */
	atomic_bool activating;
	pthread_t activating_thread;
	char activate_error[PLUGIN_REASON_MAX];
};

/* Creates the record for folder name inside plugin_dir and runs every load
 * check (plugin_dir itself is checked too: see include/mmplugin/plugin.h). Returns NULL only when
 * out of memory; otherwise a record whose refusal and reason say how loading went (status REFUSED
 * or INACTIVE). */
struct mmplugin_host *plugin_load(const char *plugin_dir, const char *name);

/* Frees a record. A plugin that was ever activated stays mapped. */
void plugin_free(struct mmplugin_host *p);

/* Short stable name of a refusal, e.g. "abi_major". */
const char *plugin_refusal_name(enum plugin_refusal r);

#endif
