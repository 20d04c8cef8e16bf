#include "pg_harness.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testsupport.h"

static int script(const char *cmd, const char *state, const char *db, char *out, size_t cap)
{
	const char *argv[] = { PG_TMP_SH, cmd, state, db, NULL };
	char *text = NULL;
	int code = -1;

	if (ts_run(argv, &code, &text) != 0)
		return -1;
	if (code != 0)
		fprintf(stderr, "pg_tmp.sh %s: %s\n", cmd, text);
	else if (out)
		snprintf(out, cap, "%.*s", (int)strcspn(text, "\n"), text);
	free(text);
	return code == 0 ? 0 : -1;
}

static int create_db(const char *admin_url, const char *name)
{
	char sql[128];
	PGconn *pg = PQconnectdb(admin_url);
	PGresult *r;
	int rc;

	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "pg: %s", PQerrorMessage(pg));
		PQfinish(pg);
		return -1;
	}
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	r = PQexec(pg, sql);
	rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	if (rc != 0)
		fprintf(stderr, "pg: %s", PQerrorMessage(pg));
	PQclear(r);
	PQfinish(pg);
	return rc;
}

static int url_for(const char *state, const char *db, char *url, size_t cap)
{
	char admin[512];

	if (script("url", state, "postgres", admin, sizeof(admin)) != 0)
		return -1;
	if (strcmp(db, "postgres") != 0 && create_db(admin, db) != 0)
		return -1;
	return script("url", state, db, url, cap);
}

int ts_pg_database(const char *tag, char *url, size_t cap)
{
	static int counter;
	const char *state = getenv("MM_PG_STATE");
	char name[64];

	if (!state || access(state, R_OK) != 0) {
		fprintf(stderr, "pg: no test cluster (MM_PG_STATE is not set or not there)\n");
		return -1;
	}
	snprintf(name, sizeof(name), "mm_%.20s_%ld_%d", tag, (long)getpid(), counter++);
	return url_for(state, name, url, cap);
}

/* Private clusters still running at exit (a failed assertion) are
 * stopped and removed then. */
#define PRIVATE_MAX 4
static struct {
	char state[256];
	char *content; /* the state file as started: a teardown may remove it */
} privates[PRIVATE_MAX];

static void stop_privates(void)
{
	for (int i = 0; i < PRIVATE_MAX; i++) {
		if (!privates[i].content)
			continue;
		if (access(privates[i].state, F_OK) == 0 ||
		    ts_write_file(privates[i].state, privates[i].content, 0600) == 0)
			script("stop", privates[i].state, NULL, NULL, 0);
		free(privates[i].content);
		privates[i].content = NULL;
	}
}

int ts_pg_private_start(const char *state)
{
	static int registered;

	if (!registered) {
		atexit(stop_privates);
		registered = 1;
	}
	if (script("start", state, NULL, NULL, 0) != 0)
		return -1;
	for (int i = 0; i < PRIVATE_MAX; i++) {
		if (!privates[i].content) {
			snprintf(privates[i].state, sizeof(privates[i].state), "%s", state);
			privates[i].content = ts_read_file(state);
			break;
		}
	}
	return 0;
}

int ts_pg_private_pause(const char *state)
{
	return script("pause", state, NULL, NULL, 0);
}

int ts_pg_private_resume(const char *state)
{
	return script("resume", state, NULL, NULL, 0);
}

int ts_pg_private_freeze(const char *state)
{
	return script("freeze", state, NULL, NULL, 0);
}

int ts_pg_private_thaw(const char *state)
{
	return script("thaw", state, NULL, NULL, 0);
}

int ts_pg_private_stop(const char *state)
{
	for (int i = 0; i < PRIVATE_MAX; i++) {
		if (privates[i].content && strcmp(privates[i].state, state) == 0) {
			free(privates[i].content);
			privates[i].content = NULL;
		}
	}
	return script("stop", state, NULL, NULL, 0);
}

int ts_pg_private_url(const char *state, const char *db, char *url, size_t cap)
{
	return url_for(state, db, url, cap);
}

int ts_pg_use_for_hosts(const char *tag)
{
	static char path[2][320];
	static int which;
	char url[512], dir[256], text[700];
	char *p = path[which];

	/* Two buffers: the previous path stays valid while a test switches. */
	which = !which;
	if (ts_pg_database(tag, url, sizeof(url)) != 0 ||
	    ts_tempdir("pgcfg", dir, sizeof(dir)) != 0)
		return -1;
	snprintf(p, sizeof(path[0]), "%s/mmhost.json", dir);
	snprintf(text, sizeof(text), "{\"store\":{\"backend\":\"postgres\",\"url\":\"%s\"}}\n",
		 url);
	if (ts_write_file(p, text, 0600) != 0)
		return -1;
	ts_use_config(p);
	return 0;
}

int ts_pg_hosts_url(char *url, size_t cap)
{
	const char *path = ts_used_config();
	json_t *cfg = path ? json_load_file(path, 0, NULL) : NULL;
	const char *u = json_string_value(json_object_get(json_object_get(cfg, "store"), "url"));
	int rc = u && strlen(u) < cap ? 0 : -1;

	if (rc == 0)
		snprintf(url, cap, "%s", u);
	json_decref(cfg);
	return rc;
}

int ts_pg_exec(const char *url, const char *sql)
{
	PGconn *pg = PQconnectdb(url);
	PGresult *r;
	int rc;

	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "pg: %s", PQerrorMessage(pg));
		PQfinish(pg);
		return -1;
	}
	r = PQexec(pg, sql);
	rc = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
	if (rc != 0)
		fprintf(stderr, "pg: %s", PQerrorMessage(pg));
	PQclear(r);
	PQfinish(pg);
	return rc;
}

int ts_pg_dump_holds(const char *url, const char *needle)
{
	const char *argv[] = { "/usr/bin/env", "pg_dump", "--no-owner", "--dbname", url, NULL };
	char *dump = NULL, hex[512];
	size_t n = strlen(needle);
	int code = -1, holds;

	if (n == 0 || n * 2 >= sizeof(hex))
		return -1;
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)needle[i]);
	if (ts_run(argv, &code, &dump) != 0 || code != 0 || !dump || !strstr(dump, "COPY")) {
		fprintf(stderr, "pg_dump failed (%d): %.300s\n", code, dump ? dump : "");
		free(dump);
		return -1;
	}
	holds = strstr(dump, needle) || strstr(dump, hex);
	free(dump);
	return holds;
}

int ts_write_config(const char *path, const char *json)
{
	const char *used = ts_used_config();
	json_t *cfg = json_loads(json, 0, NULL);
	json_t *hosts = used ? json_load_file(used, 0, NULL) : NULL;
	json_t *store = json_object_get(hosts, "store");
	char *text;
	int rc = -1;

	if (!json_is_object(cfg))
		goto out;
	if (store && !json_object_get(cfg, "store"))
		json_object_set(cfg, "store", store);
	text = json_dumps(cfg, JSON_COMPACT);
	if (text) {
		rc = ts_write_file(path, text, 0600);
		free(text);
	}
out:
	json_decref(cfg);
	json_decref(hosts);
	return rc;
}
