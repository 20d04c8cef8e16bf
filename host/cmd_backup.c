/*
 * mmhost backup: one file holding a consistent copy of each of the node's
 * LMDB stores (the host's and every plugin's), taken while the server serves
 * and writes, then recorded in the node's audit trail (backup_taken).
 * mmhost restore: lays such a file into an empty data folder.
 * backup_file.h is the file's format.
 *
 * Each store is copied in one read transaction of its own: every write
 * acknowledged before the backup began is in it. The plugins' stores are
 * copied before the host's, so that what a plugin's record names in the
 * host (an App's bot user) is in the host's copy too.
 *
 * The audit line is appended under the file's lock like the server's own
 * (audit_log.h), so a running server's chain goes on through it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_log.h"
#include "backup_file.h"
#include "cli.h"
#include "cmd_admin.h"
#include "fs_util.h"
#include "master_key.h"
#include "serve_lock.h"
#include "store.h"
#include "banned.h"

#define COPY_CHUNK (1024 * 1024)

static const char backup_usage[] =
	"Usage: mmhost backup --out FILE [--config FILE] [--data-dir DIR]\n"
	"\n"
	"Writes FILE (a new file): a consistent copy of the node's data, the\n"
	"host's (users, sessions, tokens) and every plugin's (Apps, OAuth2\n"
	"records, flow states), taken while the server runs and writes; then\n"
	"records backup_taken in the node's audit trail. Every write the server\n"
	"acknowledged before the backup began is in it.\n"
	"\n"
	"FILE holds sealed data only: it is useless without the master key file\n"
	"(plugins.\"com.mattermost.apps\".settings.master_key_file, default\n"
	"DIR/plugins/com.mattermost.apps/master.key), which is not in it. Keep a\n"
	"copy of that file apart from the backups.\n"
	"\n"
	"With the PostgreSQL backend, back up the database with its own tools\n"
	"(pg_dump, or base backups with WAL archiving).\n";

static const char restore_usage[] =
	"Usage: mmhost restore --in FILE --data-dir DIR\n"
	"\n"
	"Lays the backup FILE into DIR, which must be empty or not exist: checks\n"
	"every part's checksum first, then writes the stores and syncs them.\n"
	"Then put the master key file back (DIR/plugins/com.mattermost.apps/\n"
	"master.key, or where the config's master_key_file points) before\n"
	"starting mmhost serve on DIR: without it the data cannot be opened.\n";

enum { OPT_CONFIG = 1, OPT_DATA_DIR, OPT_OUT, OPT_IN, OPT_HELP };

static const struct option options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "in", required_argument, NULL, OPT_IN },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct args {
	const char *config, *data_dir, *out, *in;
	bool help;
};

static int parse(int argc, char **argv, const char *cmd, struct args *a)
{
	int opt;

	memset(a, 0, sizeof(*a));
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (opt) {
		case OPT_CONFIG: a->config = optarg; break;
		case OPT_DATA_DIR: a->data_dir = optarg; break;
		case OPT_OUT: a->out = optarg; break;
		case OPT_IN: a->in = optarg; break;
		case OPT_HELP: a->help = true; break;
		case ':':
			return cli_fail(EXIT_USAGE, "%s: option \"%s\" needs a value", cmd,
					argv[optind - 1]);
		default:
			return cli_fail(EXIT_USAGE,
					"%s: unknown option \"%s\"; see mmhost %s --help", cmd,
					argv[optind - 1], cmd);
		}
	}
	if (optind < argc)
		return cli_fail(EXIT_USAGE, "%s: unexpected argument \"%s\"", cmd, argv[optind]);
	return 0;
}

static bool is_env(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	int n = snprintf(path, sizeof(path), "%s/data.mdb", dir);

	return n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct backup_part *)a)->path, ((const struct backup_part *)b)->path);
}

/* The stores under data_dir: each plugins/<id>/store (in name order), then
 * host. 0, or the exit code. */
static int find_parts(const char *data_dir, struct backup_header *h)
{
	char dir[PATH_MAX], plugins[PATH_MAX];
	struct dirent *e;
	DIR *d;

	h->n_parts = 0;
	snprintf(dir, sizeof(dir), "%s/host", data_dir);
	if (!is_env(dir))
		return cli_fail(1, "backup: %s holds no mmhost data (no %s/data.mdb)", data_dir,
				dir);
	snprintf(plugins, sizeof(plugins), "%s/plugins", data_dir);
	d = opendir(plugins);
	if (!d && errno != ENOENT)
		return cli_fail(1, "backup: cannot read %s: %s", plugins, strerror(errno));
	while (d && (e = readdir(d)) != NULL) {
		struct backup_part *p = &h->parts[h->n_parts];
		int n;
		if (e->d_name[0] == '.')
			continue;
		n = snprintf(p->path, sizeof(p->path), "plugins/%s/store", e->d_name);
		snprintf(dir, sizeof(dir), "%s/%s", data_dir, p->path);
		if (n < 0 || (size_t)n >= sizeof(p->path) || !backup_path_ok(p->path) ||
		    !is_env(dir))
			continue;
		if (++h->n_parts == BACKUP_PARTS_MAX - 1) {
			closedir(d);
			return cli_fail(1, "backup: more than %d plugin stores",
					BACKUP_PARTS_MAX - 1);
		}
	}
	if (d)
		closedir(d);
	qsort(h->parts, h->n_parts, sizeof(h->parts[0]), by_path);
	snprintf(h->parts[h->n_parts++].path, sizeof(h->parts[0].path), "host");
	return 0;
}

/* Copies each part into fd after the header. 0, or the exit code. */
static int copy_parts(const struct host_config *cfg, struct backup_header *h, int fd)
{
	char dir[PATH_MAX], err[STORE_ERR_MAX];

	if (lseek(fd, BACKUP_HEADER_LEN, SEEK_SET) != BACKUP_HEADER_LEN)
		return cli_fail(1, "backup: cannot write the backup file");
	for (size_t i = 0; i < h->n_parts; i++) {
		struct backup_part *p = &h->parts[i];
		off_t start = lseek(fd, 0, SEEK_CUR), end;
		snprintf(dir, sizeof(dir), "%s/%s", cfg->data_dir, p->path);
		if (store_backup(&cfg->store, dir, fd, err, sizeof(err)) != STORE_OK)
			return cli_fail(1, "backup: %s", err);
		end = lseek(fd, 0, SEEK_CUR);
		if (start < 0 || end <= start)
			return cli_fail(1, "backup: cannot write the backup file");
		p->offset = (uint64_t)start;
		p->length = (uint64_t)(end - start);
		if (backup_hash(fd, p->offset, p->length, p->blake2b) != 0)
			return cli_fail(1, "backup: cannot read back the backup file");
	}
	return 0;
}

static void sync_folder_of(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Writes the backup to a new file beside out, then links it as out (never
 * replacing a file there). 0, or the exit code. */
static int write_backup(const struct host_config *cfg, const char *out, struct backup_header *h)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (access(out, F_OK) == 0)
		return cli_fail(1, "backup: %s exists; give a new file name", out);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.partial-%ld", out, (long)getpid()) >=
	    sizeof(tmp))
		return cli_fail(EXIT_USAGE, "backup: the file name is too long");
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cli_fail(1, "backup: cannot create %s: %s", tmp, strerror(errno));
	h->created_at_ms = now_ms();
	rc = copy_parts(cfg, h, fd);
	if (rc == 0 && (backup_header_write(fd, h) != 0 || fsync(fd) != 0))
		rc = cli_fail(1, "backup: cannot write %s: %s", tmp, strerror(errno));
	close(fd);
	if (rc == 0 && link(tmp, out) != 0)
		rc = cli_fail(1, "backup: cannot create %s: %s", out, strerror(errno));
	unlink(tmp);
	if (rc == 0)
		sync_folder_of(out);
	return rc;
}

/* The node's audit trail, opened before anything is copied: a backup it
 * could not record is not taken. 0, or the exit code. */
static int open_audit(const struct host_config *cfg, struct audit_log **log)
{
	struct master_key_files keys;
	unsigned char *key = NULL;
	char err[512];
	int rc = 0;

	*log = NULL;
	if (master_key_files(cfg, &keys, err, sizeof(err)) != 0 ||
	    audit_key_load(&keys, false, false, &key, err, sizeof(err)) != 0 ||
	    audit_open(cfg->data_dir, key, log, err, sizeof(err)) != AUDIT_OK)
		rc = cli_fail(1,
			      "backup: the audit trail cannot record a backup: %s (nothing was "
			      "written)",
			      err);
	audit_key_free(key);
	return rc;
}

/* backup_taken, once the file is durable. */
static int record_backup(struct audit_log *log, const char *out)
{
	const struct audit_event ev = { .event = "backup_taken" };

	if (audit_record(log, &ev, AUDIT_FROM_HOST) != AUDIT_OK)
		return cli_fail(1,
				"backup: %s was written, but the audit trail could not record it "
				"(see the line above)",
				out);
	return 0;
}

static int backup(const struct args *a)
{
	struct admin_args aa = { .config = a->config, .data_dir = a->data_dir };
	struct backup_header *h = calloc(1, sizeof(*h));
	struct audit_log *log = NULL;
	struct host_config cfg;
	char err[STORE_ERR_MAX];
	int rc;

	if (!h)
		return cli_fail(1, "out of memory");
	rc = admin_load_config(&aa, &cfg);
	if (rc != 0) {
		free(h);
		return rc;
	}
	if (sodium_init() < 0) {
		rc = cli_fail(1, "cannot initialise libsodium");
		goto out;
	}
	if (store_backup_supported(&cfg.store, err, sizeof(err)) != STORE_OK) {
		rc = cli_fail(1, "backup: %s", err);
		goto out;
	}
	rc = find_parts(cfg.data_dir, h);
	if (rc == 0)
		rc = open_audit(&cfg, &log);
	if (rc == 0)
		rc = write_backup(&cfg, a->out, h);
	if (rc == 0)
		rc = record_backup(log, a->out);
	if (rc == 0) {
		printf("backup %s:", a->out);
		for (size_t i = 0; i < h->n_parts; i++)
			printf("%s %s %llu bytes", i ? "," : "", h->parts[i].path,
			       (unsigned long long)h->parts[i].length);
		printf("\nit holds sealed data only: keep the master key file apart from it\n");
	}
out:
	audit_close(log);
	config_free(&cfg);
	free(h);
	return rc;
}

int cmd_backup(int argc, char **argv)
{
	struct args a;
	int rc = parse(argc, argv, "backup", &a);

	if (rc != 0)
		return rc;
	if (a.help) {
		fputs(backup_usage, stdout);
		return 0;
	}
	if (!a.out || !*a.out)
		return cli_fail(EXIT_USAGE, "backup: --out FILE is required");
	return backup(&a);
}

/* ---- restore ---- */

/* Whether dir is empty or missing (then it is created 0700). 0, or the exit
 * code. */
static int empty_folder(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	bool empty = true;

	if (!d && errno == ENOENT)
		return fs_mkdir_p(dir, 0700) == 0
			       ? 0
			       : cli_fail(1, "restore: cannot create %s: %s", dir, strerror(errno));
	if (!d)
		return cli_fail(1, "restore: cannot read %s: %s", dir, strerror(errno));
	while (empty && (e = readdir(d)) != NULL)
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	if (!empty)
		return cli_fail(1,
				"restore: %s is not empty; restore into an empty or new folder "
				"(nothing was written)",
				dir);
	return 0;
}

static int copy_range(int in, uint64_t off, uint64_t len, int out)
{
	char *buf = malloc(COPY_CHUNK);
	int rc = -1;

	if (!buf)
		return -1;
	while (len > 0) {
		size_t want = len < COPY_CHUNK ? (size_t)len : COPY_CHUNK, done = 0;
		ssize_t n = pread(in, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		while (done < (size_t)n) {
			ssize_t w = write(out, buf + done, (size_t)n - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				goto out;
			done += (size_t)w;
		}
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/* dir/<path>/data.mdb from the part's bytes, synced with its folders. */
static int lay_part(int in, const struct backup_part *p, const char *dir)
{
	char folder[PATH_MAX], file[PATH_MAX + 16];
	int fd, n = snprintf(folder, sizeof(folder), "%s/%s", dir, p->path);

	if (n < 0 || (size_t)n >= sizeof(folder))
		return cli_fail(1, "restore: the folder path is too long");
	if (fs_mkdir_p(folder, 0700) != 0)
		return cli_fail(1, "restore: cannot create %s: %s", folder, strerror(errno));
	snprintf(file, sizeof(file), "%s/data.mdb", folder);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cli_fail(1, "restore: cannot create %s: %s", file, strerror(errno));
	if (copy_range(in, p->offset, p->length, fd) != 0 || fsync(fd) != 0) {
		close(fd);
		return cli_fail(1, "restore: cannot write %s: %s", file, strerror(errno));
	}
	close(fd);
	/* The new names: each folder from the part's up to dir. */
	for (size_t top = strlen(dir); strlen(folder) > top;) {
		char *slash = strrchr(folder, '/');
		int dfd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
		if (!slash)
			break;
		*slash = '\0';
	}
	return 0;
}

static int restore(const struct args *a)
{
	struct backup_header *h = calloc(1, sizeof(*h));
	struct serve_lock lock = { .fd = -1 };
	struct stat st;
	char err[512];
	int in = -1, rc = 1;

	if (!h)
		return cli_fail(1, "out of memory");
	in = open(a->in, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) != 0) {
		rc = cli_fail(1, "restore: cannot read %s: %s", a->in, strerror(errno));
		goto out;
	}
	if (backup_header_read(in, (uint64_t)st.st_size, h, err, sizeof(err)) != 0) {
		rc = cli_fail(1, "restore: %s: %s", a->in, err);
		goto out;
	}
	/* Every part checked before anything is written. */
	for (size_t i = 0; i < h->n_parts; i++) {
		unsigned char sum[BACKUP_HASH_LEN];
		if (backup_hash(in, h->parts[i].offset, h->parts[i].length, sum) != 0 ||
		    sodium_memcmp(sum, h->parts[i].blake2b, sizeof(sum)) != 0) {
			rc = cli_fail(1,
				      "restore: %s is damaged: part %s does not match its checksum "
				      "(nothing was written)",
				      a->in, h->parts[i].path);
			goto out;
		}
	}
	rc = empty_folder(a->data_dir);
	if (rc != 0)
		goto out;
	/* No server starts on the folder while it is being laid. */
	if (serve_lock_take(&lock, a->data_dir, err, sizeof(err)) != 0) {
		rc = cli_fail(1, "restore: %s", err);
		goto out;
	}
	for (size_t i = 0; i < h->n_parts && rc == 0; i++)
		rc = lay_part(in, &h->parts[i], a->data_dir);
	if (rc == 0) {
		sync_folder_of(a->data_dir);
		printf("restored into %s:", a->data_dir);
		for (size_t i = 0; i < h->n_parts; i++)
			printf("%s %s %llu bytes", i ? "," : "", h->parts[i].path,
			       (unsigned long long)h->parts[i].length);
		printf("\nput the master key file back before starting mmhost serve on it "
		       "(default %s/plugins/%s/master.key)\n",
		       a->data_dir, MASTER_KEY_PLUGIN);
	}
out:
	serve_lock_release(&lock);
	if (in >= 0)
		close(in);
	free(h);
	return rc;
}

int cmd_restore(int argc, char **argv)
{
	struct args a;
	int rc = parse(argc, argv, "restore", &a);

	if (rc != 0)
		return rc;
	if (a.help) {
		fputs(restore_usage, stdout);
		return 0;
	}
	if (!a.in || !*a.in || !a.data_dir || !*a.data_dir)
		return cli_fail(EXIT_USAGE, "restore: --in FILE and --data-dir DIR are required");
	if (sodium_init() < 0)
		return cli_fail(1, "cannot initialise libsodium");
	return restore(&a);
}
