/*
 * mmhost store copy: moves a stopped single node's LMDB data (the host's
 * store and the Apps plugin's) into an empty PostgreSQL database, the way
 * from one machine to a cluster (DESIGN.md section 8). Keys and values are
 * copied as they are: sealed records stay sealed, and since a record's
 * associated data is its table's name and its key, which do not change,
 * they open on the nodes with the same master key file.
 *
 * The target's tables are created by store_open with the lists the host
 * (host_store.h) and the plugin (apps_store_layout.h) open, so a node
 * finds exactly its own schema.
 *
 * Bounded batches, guarded by a marker. Rows go over in transactions of at
 * most COPY_BATCH_ROWS rows or COPY_BATCH_BYTES bytes (memory and a
 * transaction's size stay bounded whatever the data's size). The first
 * transaction writes host_store_copy's HOST_COPY_UNFINISHED row, the last
 * one deletes it, after every other row is in: while it is there,
 * host_store_open refuses the database (serve and the admin commands say to
 * run the copy again), so an interrupted copy never becomes a node serving
 * half the data. A second run that finds the marker knows the rows are an
 * earlier copy's: it says so, empties the tables and starts over. Any other
 * row in any table of either component is refused: the target is someone's
 * data.
 *
 * The source is held with the serve lock for the whole copy: a running node
 * is refused, and none can start on the folder until the copy is done.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "apps_store_layout.h"
#include "cli.h"
#include "host_store.h"
#include "serve_lock.h"
#include "store.h"
#include "banned.h"

#define COPY_BATCH_ROWS 512
#define COPY_BATCH_BYTES (8u * 1024 * 1024) /* a row larger than this goes alone */
#define CLEAR_BATCH_ROWS 256

static const char store_usage[] =
	"Usage: mmhost store copy --data-dir DIR --to URL\n"
	"\n"
	"Copies a stopped node's data from its LMDB files in DIR into an empty\n"
	"PostgreSQL database: the host's (users, sessions, tokens, plugin states)\n"
	"and the Apps plugin's (Apps, OAuth2 clients and users' data, flow states),\n"
	"every record as it is, sealed secrets still sealed. Then prints how many\n"
	"rows went into each table. The way from one machine to a cluster: start\n"
	"the nodes afterwards with {\"store\":{\"backend\":\"postgres\",\"url\":URL}} and\n"
	"the same master key file (plugins.\"com.mattermost.apps\".settings.\n"
	"master_key_file, default DIR/plugins/com.mattermost.apps/master.key).\n"
	"\n"
	"URL is a libpq URI (postgresql://user@host:port/db). Give the password\n"
	"through PGPASSFILE or PGPASSWORD rather than in URL, which other users\n"
	"may see in the process list; it is never printed.\n"
	"\n"
	"Refused, with nothing written: a node serving on DIR (stop it first), and\n"
	"a database holding any row in the host's or the plugin's tables. The\n"
	"rows go over in batches; until the last one commits, nodes and admin\n"
	"commands refuse the database. If a copy is interrupted, run the same\n"
	"command again: it finds its unfinished copy, empties it and starts over.\n"
	"Do not run two copies into one database at once.\n"
	"\n"
	"Exit codes: 0 copied; 1 refused or failed (one line on stderr says why;\n"
	"after a failure mid-way, run it again); 2 usage error.\n";

enum { OPT_DATA_DIR = 1, OPT_TO, OPT_HELP };

static const struct option options[] = {
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "to", required_argument, NULL, OPT_TO },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct copy_args {
	const char *data_dir, *to;
	bool help;
};

/* One component in both backends. */
struct component {
	const char *name;          /* "host", "apps" */
	const char *const *tables; /* as the component opens them */
	size_t n_tables;
	char lmdb_dir[PATH_MAX];
	bool has_source; /* the LMDB environment exists */
	struct store *src, *dst;
	unsigned long long copied[STORE_TABLES_MAX];
};

static const char *const apps_tables[APPS_T_COUNT] = { APPS_STORE_TABLES };

static int parse(int argc, char **argv, struct copy_args *a)
{
	int opt;

	memset(a, 0, sizeof(*a));
	opterr = 0;
	optind = 1; /* argv[0] is "copy" */
	while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (opt) {
		case OPT_DATA_DIR: a->data_dir = optarg; break;
		case OPT_TO: a->to = optarg; break;
		case OPT_HELP: a->help = true; break;
		case ':':
			return cli_fail(EXIT_USAGE, "store copy: option \"%s\" needs a value",
					argv[optind - 1]);
		default:
			return cli_fail(EXIT_USAGE,
					"store copy: unknown option \"%s\"; see mmhost store "
					"copy --help",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_fail(EXIT_USAGE, "store copy: unexpected argument \"%s\"", argv[optind]);
	return 0;
}

static bool is_env(const char *dir)
{
	char path[PATH_MAX + 16];
	struct stat st;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- batches ---- */

struct row {
	unsigned char *key, *val;
	size_t klen, vlen;
};

struct batch {
	unsigned table;
	struct row rows[COPY_BATCH_ROWS];
	size_t n, bytes;
	unsigned char last[STORE_KEY_MAX]; /* the last key read, to go on after */
	size_t last_len;
	bool started; /* last holds a key */
};

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->rows[i].key);
		free(b->rows[i].val);
	}
	b->n = 0;
	b->bytes = 0;
}

static int take_row(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct batch *b = arg;
	struct row *r = &b->rows[b->n];

	if (b->n > 0 && b->bytes + vlen > COPY_BATCH_BYTES)
		return 1; /* the next batch starts with it */
	if (klen > STORE_KEY_MAX)
		return STORE_EINVAL;
	r->key = malloc(klen);
	r->val = malloc(vlen ? vlen : 1);
	if (!r->key || !r->val) {
		free(r->key);
		free(r->val);
		return STORE_ENOMEM;
	}
	memcpy(r->key, key, klen);
	memcpy(r->val, val, vlen);
	r->klen = klen;
	r->vlen = vlen;
	b->n++;
	b->bytes += vlen;
	memcpy(b->last, key, klen);
	b->last_len = klen;
	return 0;
}

/* The next rows of b->table after b->last. */
static int read_rows(struct store_txn *txn, void *arg)
{
	struct batch *b = arg;

	batch_clear(b); /* a read runs once, but stay exact if it did not */
	return store_scan(txn, b->table, NULL, 0, b->started ? b->last : NULL, b->last_len,
			  COPY_BATCH_ROWS, take_row, b, NULL);
}

static int write_rows(struct store_txn *txn, void *arg)
{
	const struct batch *b = arg;

	for (size_t i = 0; i < b->n; i++) {
		const struct row *r = &b->rows[i];
		int rc = store_put(txn, b->table, r->key, r->klen, r->val, r->vlen,
				   STORE_NOOVERWRITE);
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

/* Copies every row of every table of c (but the copy marker). 0, or the
 * exit code. */
static int copy_component(struct component *c, struct batch *b)
{
	for (unsigned t = 0; t < c->n_tables && c->has_source; t++) {
		if (c->tables == host_store_tables && t == HOST_T_STORE_COPY)
			continue;
		b->table = t;
		b->started = false;
		b->last_len = 0;
		for (;;) {
			int rc = store_read(c->src, read_rows, b);
			if (rc == STORE_OK && b->n > 0)
				rc = store_write(c->dst, write_rows, b);
			if (rc != STORE_OK) {
				batch_clear(b);
				return cli_fail(1,
						"store copy: %s_%s: %s (the copy is unfinished: "
						"run it again)",
						c->name, c->tables[t], store_strerror(rc));
			}
			if (b->n == 0)
				break;
			c->copied[t] += b->n;
			b->started = true;
			batch_clear(b);
		}
	}
	return 0;
}

/* ---- the target: empty, or an earlier copy's ---- */

struct probe {
	unsigned table;
	bool any;
};

static int saw_row(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct probe *p = arg;

	(void)key;
	(void)klen;
	(void)val;
	(void)vlen;
	p->any = true;
	return 1;
}

static int probe_table(struct store_txn *txn, void *arg)
{
	struct probe *p = arg;

	p->any = false;
	return store_scan(txn, p->table, NULL, 0, NULL, 0, 1, saw_row, p, NULL);
}

/* The first table of c holding a row (*found false: none). 0 or a store
 * error. */
static int first_full_table(struct component *c, bool *found, unsigned *table)
{
	*found = false;
	for (unsigned t = 0; t < c->n_tables; t++) {
		struct probe p = { .table = t };
		int rc = store_read(c->dst, probe_table, &p);
		if (rc != STORE_OK)
			return rc;
		if (p.any) {
			*found = true;
			*table = t;
			return 0;
		}
	}
	return 0;
}

struct clear {
	unsigned table;
	unsigned char keys[CLEAR_BATCH_ROWS][STORE_KEY_MAX];
	size_t lens[CLEAR_BATCH_ROWS];
	size_t n;
};

static int note_key(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct clear *c = arg;

	(void)val;
	(void)vlen;
	if (klen > STORE_KEY_MAX)
		return STORE_EINVAL;
	memcpy(c->keys[c->n], key, klen);
	c->lens[c->n++] = klen;
	return 0;
}

/* Deletes up to CLEAR_BATCH_ROWS rows of the table; c->n says how many. */
static int clear_some(struct store_txn *txn, void *arg)
{
	struct clear *c = arg;
	int rc;

	c->n = 0;
	rc = store_scan(txn, c->table, NULL, 0, NULL, 0, CLEAR_BATCH_ROWS, note_key, c, NULL);
	for (size_t i = 0; rc == STORE_OK && i < c->n; i++)
		rc = store_del(txn, c->table, c->keys[i], c->lens[i]);
	return rc;
}

/* Empties every table of c but the marker, which goes last (by the
 * caller): an interrupted clearing is still an unfinished copy. */
static int clear_component(struct component *c, struct clear *cl)
{
	for (unsigned t = 0; t < c->n_tables; t++) {
		if (c->tables == host_store_tables && t == HOST_T_STORE_COPY)
			continue;
		cl->table = t;
		do {
			int rc = store_write(c->dst, clear_some, cl);
			if (rc != STORE_OK)
				return rc;
		} while (cl->n > 0);
	}
	return 0;
}

static int has_marker(struct store_txn *txn, void *arg)
{
	struct store_val v;

	(void)arg;
	return store_get(txn, HOST_T_STORE_COPY, HOST_COPY_UNFINISHED, strlen(HOST_COPY_UNFINISHED),
			 0, &v);
}

static int put_marker(struct store_txn *txn, void *arg)
{
	(void)arg;
	return store_put(txn, HOST_T_STORE_COPY, HOST_COPY_UNFINISHED, strlen(HOST_COPY_UNFINISHED),
			 "", 0, STORE_NOOVERWRITE);
}

static int del_marker(struct store_txn *txn, void *arg)
{
	(void)arg;
	return store_del(txn, HOST_T_STORE_COPY, HOST_COPY_UNFINISHED,
			 strlen(HOST_COPY_UNFINISHED));
}

/* Refuses a target with data; empties an earlier unfinished copy. 0, or
 * the exit code. */
static int prepare_target(struct component *host, struct component *apps)
{
	struct component *both[2] = { host, apps };
	struct clear *cl;
	int rc = store_read(host->dst, has_marker, NULL);

	if (rc == STORE_ENOTFOUND) {
		for (size_t i = 0; i < 2; i++) {
			bool found;
			unsigned t = 0;
			rc = first_full_table(both[i], &found, &t);
			if (rc != STORE_OK)
				return cli_fail(1, "store copy: cannot read the target: %s",
						store_strerror(rc));
			if (found)
				return cli_fail(1,
						"store copy: the target database is not empty "
						"(table %s_%s has rows); copy into a new, empty "
						"database (nothing was written)",
						both[i]->name, both[i]->tables[t]);
		}
		rc = store_write(host->dst, put_marker, NULL);
		if (rc != STORE_OK)
			return cli_fail(1, "store copy: cannot write to the target: %s",
					store_strerror(rc));
		return 0;
	}
	if (rc != STORE_OK)
		return cli_fail(1, "store copy: cannot read the target: %s", store_strerror(rc));
	fprintf(stderr, "mmhost: store copy: the target holds an unfinished copy (an earlier "
			"mmhost store copy was interrupted): emptying it and starting over\n");
	cl = malloc(sizeof(*cl));
	if (!cl)
		return cli_fail(1, "out of memory");
	rc = clear_component(apps, cl);
	if (rc == STORE_OK)
		rc = clear_component(host, cl);
	free(cl);
	if (rc != STORE_OK)
		return cli_fail(1, "store copy: cannot empty the unfinished copy: %s",
				store_strerror(rc));
	return 0;
}

/* ---- opening ---- */

static int open_component(struct component *c, const struct store_config *to, char *err, size_t cap)
{
	struct store_config lmdb;
	struct store_options opt = {
		.component = c->name,
		.tables = c->tables,
		.n_tables = c->n_tables,
	};
	int rc;

	c->has_source = is_env(c->lmdb_dir);
	store_config_init(&lmdb);
	if (c->has_source) {
		opt.lmdb_dir = c->lmdb_dir;
		rc = store_open(&lmdb, &opt, &c->src, err, cap);
		if (rc != STORE_OK)
			return rc;
	}
	opt.lmdb_dir = NULL;
	return store_open(to, &opt, &c->dst, err, cap);
}

static void print_counts(const struct component *c)
{
	for (size_t t = 0; t < c->n_tables; t++) {
		if (c->tables == host_store_tables && t == HOST_T_STORE_COPY)
			continue;
		printf("%s_%s %llu\n", c->name, c->tables[t], c->copied[t]);
	}
}

static int copy(const struct copy_args *a)
{
	struct serve_lock lock = { .fd = -1 };
	struct component host = { .name = "host",
				  .tables = host_store_tables,
				  .n_tables = HOST_T_COUNT };
	struct component apps = { .name = APPS_STORE_COMPONENT,
				  .tables = apps_tables,
				  .n_tables = APPS_T_COUNT };
	struct store_config to;
	struct batch *b = NULL;
	char err[STORE_ERR_MAX], json[STORE_URL_MAX + 64];
	int rc, n;
	unsigned long long total = 0;

	store_config_init(&to);
	/* The URL is checked as the config's store.url would be. */
	n = snprintf(json, sizeof(json), "{\"backend\":\"postgres\",\"url\":\"%s\"}", a->to);
	if (n < 0 || (size_t)n >= sizeof(json) || strchr(a->to, '"') || strchr(a->to, '\\') ||
	    store_config_parse(&to, json, (size_t)n, err, sizeof(err)) != STORE_OK) {
		explicit_bzero(json, sizeof(json));
		return cli_fail(EXIT_USAGE, "store copy: --to must be a PostgreSQL URI "
					    "(postgresql://user@host:port/db)");
	}
	explicit_bzero(json, sizeof(json));
	to.pool_size = 1;
	snprintf(host.lmdb_dir, sizeof(host.lmdb_dir), "%s/host", a->data_dir);
	n = snprintf(apps.lmdb_dir, sizeof(apps.lmdb_dir), "%s/plugins/%s/%s", a->data_dir,
		     APPS_PLUGIN_ID, APPS_STORE_DIR);
	if (n < 0 || (size_t)n >= sizeof(apps.lmdb_dir)) {
		rc = cli_fail(EXIT_USAGE, "store copy: the data folder's path is too long");
		goto out;
	}
	if (!is_env(host.lmdb_dir)) {
		rc = cli_fail(1, "store copy: %s holds no mmhost data (no %s/data.mdb)",
			      a->data_dir, host.lmdb_dir);
		goto out;
	}
	if (serve_lock_take(&lock, a->data_dir, err, sizeof(err)) != 0) {
		rc = cli_fail(1, "store copy: %s; stop it first (nothing was written)", err);
		goto out;
	}
	if (open_component(&host, &to, err, sizeof(err)) != STORE_OK ||
	    open_component(&apps, &to, err, sizeof(err)) != STORE_OK) {
		rc = cli_fail(1, "store copy: %s", err);
		goto out;
	}
	rc = prepare_target(&host, &apps);
	if (rc != 0)
		goto out;
	b = calloc(1, sizeof(*b));
	if (!b) {
		rc = cli_fail(1, "out of memory");
		goto out;
	}
	/* The plugin's rows, then the host's, then the marker goes. */
	rc = copy_component(&apps, b);
	if (rc == 0)
		rc = copy_component(&host, b);
	if (rc == 0 && (rc = store_write(host.dst, del_marker, NULL)) != STORE_OK)
		rc = cli_fail(1, "store copy: cannot finish the copy: %s (run it again)",
			      store_strerror(rc));
	if (rc != 0)
		goto out;
	print_counts(&host);
	print_counts(&apps);
	for (size_t t = 0; t < STORE_TABLES_MAX; t++)
		total += host.copied[t] + apps.copied[t];
	printf("copied %llu rows; start the nodes on the database with the same master key "
	       "file\n",
	       total);
out:
	free(b);
	store_close(apps.dst);
	store_close(apps.src);
	store_close(host.dst);
	store_close(host.src);
	serve_lock_release(&lock);
	explicit_bzero(&to, sizeof(to));
	return rc;
}

int cmd_store(int argc, char **argv)
{
	struct copy_args a;
	int rc;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(store_usage, stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "copy") != 0)
		return cli_fail(EXIT_USAGE, "store: the command is \"store copy\"; see mmhost "
					    "store --help");
	rc = parse(argc - 1, argv + 1, &a);
	if (rc != 0)
		return rc;
	if (a.help) {
		fputs(store_usage, stdout);
		return 0;
	}
	if (!a.data_dir || !*a.data_dir || !a.to || !*a.to)
		return cli_fail(EXIT_USAGE, "store copy: --data-dir DIR and --to URL are required");
	return copy(&a);
}
