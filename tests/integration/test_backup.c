/*
 * mmhost backup and restore against the real host and plugin: a backup
 * taken while 8 writers store OAuth2 user data through the host holds every
 * write acknowledged before it began (read back byte for byte from a host
 * started on the restored folder with the same master key file), holds no
 * secret in clear, and is recorded in the audit trail of the running server
 * without breaking its chain. Restore refuses a folder that is not empty
 * and a damaged file; the PostgreSQL backend is sent to its own tools.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "apps_world.h"

#define P TS_APPS
#define WRITERS 8
#define CLIENT_SECRET "backup-client-secret-in-clear"
#define APP "backup-app"

static struct ts_world world;
static char acting[WRITERS][64];
static char tag[33]; /* random, in every stored token: found anywhere, a secret leaked */
static char app_secret[128];

/* What writer w stores as its n-th value: byte for byte, every time. */
static void body_of(int w, int n, char *out, size_t cap)
{
	snprintf(out, cap, "{\"access_token\":\"gho_%s_%d_%d\",\"token_type\":\"bearer\",\"n\":%d}",
		 tag, w, n, n);
}

struct writer {
	pthread_t t;
	int id;
	atomic_int acked; /* values 0..acked-1 were answered 200 */
	atomic_int sent;  /* values 0..sent-1 were sent */
	atomic_bool *stop;
	long failed; /* the status of a failed write */
};

static void *write_loop(void *arg)
{
	struct writer *w = arg;
	char body[256];

	for (int n = 0; !atomic_load(w->stop) && n < 1000000; n++) {
		struct ts_resp r;
		body_of(w->id, n, body, sizeof(body));
		atomic_store(&w->sent, n + 1);
		r = ts_api(world.host.base_url, "POST", P "/api/v1/oauth2/user", acting[w->id],
			   body);
		if (r.status != 200) {
			w->failed = r.status ? r.status : -1;
			ts_resp_free(&r);
			break;
		}
		ts_resp_free(&r);
		atomic_store(&w->acked, n + 1);
	}
	return NULL;
}

static int setup(void **state)
{
	unsigned char raw[16];
	struct ts_resp r;
	char bot[64], body[1024];

	(void)state;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(tag, sizeof(tag), raw, sizeof(raw));
	if (ts_world_start(&world, NULL, 0, NULL) != 0)
		return -1;
	/* The App's JWT secret, shown once, here. */
	if (ts_world_install_secret(&world, APP, TS_ALL_PERMS, NULL, app_secret,
				    sizeof(app_secret)) != 0)
		return -1;
	if (strlen(app_secret) < 20 ||
	    ts_world_app_users(&world, APP, "writer", WRITERS, acting) != 0 ||
	    ts_app_tokens(world.host.base_url, world.admin_tok, APP, bot, NULL, NULL) != 0)
		return -1;
	snprintf(body, sizeof(body),
		 "{\"client_id\":\"backup-client\",\"client_secret\":\"" CLIENT_SECRET "\"}");
	r = ts_api(world.host.base_url, "POST", P "/api/v1/oauth2/app", bot, body);
	if (r.status != 200)
		return -1;
	ts_resp_free(&r);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return ts_world_stop(&world);
}

static bool holds(const char *data, size_t len, const void *needle, size_t nlen)
{
	return nlen > 0 && memmem(data, len, needle, nlen) != NULL;
}

static void paths(char *backup, char *restored, size_t cap)
{
	snprintf(backup, cap, "%s/node.backup", world.host.dir);
	snprintf(restored, cap, "%s/restored", world.host.dir);
}

/* The master key file of a data folder. */
static void key_path(const char *data_dir, char *out, size_t cap)
{
	snprintf(out, cap, "%s/plugins/com.mattermost.apps/master.key", data_dir);
}

static void backup_while_8_writers_write_holds_every_acknowledged_write(void **state)
{
	struct writer w[WRITERS];
	atomic_bool stop = false;
	int before[WRITERS], code;
	char backup[512], restored[512], key[600], key2[600], *out = NULL, *data, *master;
	size_t len, klen;
	struct ts_host second;

	(void)state;
	paths(backup, restored, sizeof(backup));
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){ .id = i, .stop = &stop };
		assert_int_equal(pthread_create(&w[i].t, NULL, write_loop, &w[i]), 0);
	}
	/* Every writer under way, then the backup, while they go on. */
	for (int i = 0; i < WRITERS; i++)
		while (atomic_load(&w[i].acked) < 5 && !w[i].failed)
			usleep(2000);
	for (int i = 0; i < WRITERS; i++)
		before[i] = atomic_load(&w[i].acked);
	{
		const char *args[] = { "backup", "--out", backup, NULL };
		int sum = 0;
		for (int i = 0; i < WRITERS; i++)
			sum -= before[i];
		code = ts_cli(world.data_dir, args, &out);
		for (int i = 0; i < WRITERS; i++)
			sum += atomic_load(&w[i].acked);
		/* For whoever reads the log: how much writing the copy overlapped. */
		fprintf(stderr, "writes acknowledged while the backup ran: %d\n", sum);
	}
	/* Some writes after it too, then stop. */
	for (int i = 0; i < WRITERS; i++) {
		int mark = atomic_load(&w[i].acked);
		while (atomic_load(&w[i].acked) < mark + 2 && !w[i].failed)
			usleep(2000);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(w[i].t, NULL);
		assert_int_equal(w[i].failed, 0);
	}
	if (code != 0)
		fail_msg("backup: %s", out);
	assert_non_null(strstr(out, "plugins/com.mattermost.apps/store"));
	assert_non_null(strstr(out, "host"));
	free(out);

	/* No secret in clear: tokens stored, the App's client secret and JWT
	 * secret, passwords, session tokens, the master key. */
	data = ts_read_file_n(backup, &len);
	assert_non_null(data);
	assert_false(holds(data, len, tag, strlen(tag)));
	assert_false(holds(data, len, CLIENT_SECRET, strlen(CLIENT_SECRET)));
	assert_false(holds(data, len, app_secret, strlen(app_secret)));
	assert_false(holds(data, len, "admin-password", 14));
	assert_false(holds(data, len, "writer0-password", 16));
	assert_false(holds(data, len, world.admin_tok, strlen(world.admin_tok)));
	for (int i = 0; i < WRITERS; i++)
		assert_false(holds(data, len, acting[i], strlen(acting[i])));
	key_path(world.data_dir, key, sizeof(key));
	master = ts_read_file_n(key, &klen);
	assert_non_null(master);
	assert_int_equal(klen, 32);
	assert_false(holds(data, len, master, klen));
	/* ...while the data is there: the host's users, by name. */
	assert_true(holds(data, len, "writer0", 7));
	free(data);

	/* Restore into a new folder, give it the master key file, serve. */
	{
		const char *args[] = { "restore", "--in", backup, NULL };
		code = ts_cli(restored, args, &out);
		if (code != 0)
			fail_msg("restore: %s", out);
		free(out);
	}
	key_path(restored, key2, sizeof(key2));
	assert_int_equal(ts_write_file(key2, "", 0600), 0);
	{
		FILE *f = fopen(key2, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(master, 1, klen, f), klen);
		fclose(f);
	}
	free(master);
	{
		const char *extra[] = { "--data-dir", restored, NULL };
		assert_int_equal(ts_host_start(&second, world.plugins, extra), 0);
	}
	/* Every write acknowledged before the backup began is there: the
	 * writer's value is that one or a later one of its own, byte for byte
	 * (each writer writes only its user's record). */
	for (int i = 0; i < WRITERS; i++) {
		struct ts_resp r =
			ts_api(second.base_url, "GET", P "/api/v1/oauth2/user", acting[i], NULL);
		json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
		int n = (int)json_integer_value(json_object_get(j, "n"));
		char want[256];
		assert_int_equal(r.status, 200);
		assert_true(n >= before[i] - 1);
		assert_true(n < atomic_load(&w[i].sent));
		body_of(i, n, want, sizeof(want));
		assert_int_equal(r.body_len, strlen(want));
		assert_memory_equal(r.body, want, r.body_len);
		json_decref(j);
		ts_resp_free(&r);
	}
	/* The host's data: the admin logs in; the plugin's: the App is there
	 * with its client. */
	{
		char tok[64];
		struct ts_resp r;
		assert_int_equal(
			ts_login(second.base_url, "admin", "admin-password", tok, sizeof(tok)),
			200);
		r = ts_api(second.base_url, "GET", P "/api/v1/apps/" APP, tok, NULL);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "\"client_id\":\"backup-client\""));
		ts_resp_free(&r);
	}
	assert_int_equal(ts_host_stop(&second), 0);

	/* The running server's audit trail holds the backup and still
	 * verifies: both processes appended to one chain. */
	{
		char log[512], *text;
		const char *args[] = { "audit", "verify", log, NULL };
		snprintf(log, sizeof(log), "%s/audit/audit.log", world.data_dir);
		text = ts_read_file(log);
		assert_non_null(strstr(text, "\"event\":\"backup_taken\""));
		assert_non_null(strstr(text, "\"event\":\"oauth2_user_stored\""));
		free(text);
		code = ts_cli(world.data_dir, args, &out);
		if (code != 0)
			fail_msg("audit verify: %s", out);
		assert_non_null(strstr(out, "lines verified"));
		free(out);
	}
}

static void restore_refuses_a_folder_that_is_not_empty_and_a_damaged_file(void **state)
{
	char backup[512], restored[512], damaged[600], other[600], *out = NULL, *data;
	size_t len;
	int code;

	(void)state;
	paths(backup, restored, sizeof(backup));
	/* The first test made both. */
	{
		const char *args[] = { "restore", "--in", backup, NULL };
		code = ts_cli(restored, args, &out);
		assert_int_equal(code, 1);
		assert_non_null(strstr(out, "is not empty"));
		free(out);
	}
	/* One byte changed in a part: refused, nothing written. */
	data = ts_read_file_n(backup, &len);
	assert_non_null(data);
	assert_true(len > 70000);
	data[70000] ^= 1;
	snprintf(damaged, sizeof(damaged), "%s/damaged.backup", world.host.dir);
	{
		int fd = open(damaged, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, data, len), (ssize_t)len);
		close(fd);
	}
	free(data);
	snprintf(other, sizeof(other), "%s/other", world.host.dir);
	{
		const char *args[] = { "restore", "--in", damaged, NULL };
		code = ts_cli(other, args, &out);
		assert_int_equal(code, 1);
		assert_non_null(strstr(out, "does not match its checksum"));
		free(out);
	}
	assert_int_not_equal(access(other, F_OK), 0);
	/* An existing backup file is never replaced. */
	{
		const char *args[] = { "backup", "--out", backup, NULL };
		code = ts_cli(world.data_dir, args, &out);
		assert_int_equal(code, 1);
		assert_non_null(strstr(out, "exists"));
		free(out);
	}
}

/* PostgreSQL's data is the database's: its own tools back it up. */
static void backup_with_postgres_names_its_own_tools(void **state)
{
	char config[600], out_file[600], *out = NULL;
	int code;

	(void)state;
	snprintf(config, sizeof(config), "%s/pg.json", world.host.dir);
	assert_int_equal(ts_write_file(config,
				       "{\"store\":{\"backend\":\"postgres\",\"url\":"
				       "\"postgresql://nobody@127.0.0.1:1/none\"}}",
				       0600),
			 0);
	snprintf(out_file, sizeof(out_file), "%s/pg.backup", world.host.dir);
	{
		const char *args[] = { "backup", "--config", config, "--out", out_file, NULL };
		code = ts_cli(world.data_dir, args, &out);
	}
	assert_int_equal(code, 1);
	assert_non_null(strstr(out, "pg_dump"));
	assert_null(strchr(strchr(out, '\n') + 1, '\n')); /* one line */
	free(out);
	assert_int_not_equal(access(out_file, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backup_while_8_writers_write_holds_every_acknowledged_write),
		cmocka_unit_test(restore_refuses_a_folder_that_is_not_empty_and_a_damaged_file),
		cmocka_unit_test(backup_with_postgres_names_its_own_tools),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
