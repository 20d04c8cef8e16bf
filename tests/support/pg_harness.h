/*
 * PostgreSQL for the tests: the run's shared throwaway cluster (started by
 * the ctest fixture pg_start, named by the environment variable
 * MM_PG_STATE), a fresh database per test, and private clusters for tests
 * that stop the server (tests/pg/pg_tmp.sh does the work).
 */
#ifndef TESTS_PG_HARNESS_H
#define TESTS_PG_HARNESS_H

#include <stddef.h>

/* Creates an empty database on the run's cluster, named after tag and this
 * process, and writes its libpq URI into url. 0 or -1 (no cluster). */
int ts_pg_database(const char *tag, char *url, size_t cap);

/* Points every mmhost the tests start (ts_use_config) at a fresh database
 * of the run's cluster, through a config file {"store":{"backend":
 * "postgres","url":...}} written in a temporary folder. 0 or -1. */
int ts_pg_use_for_hosts(const char *tag);

/* A private cluster: state is a file path the script keeps its folder and
 * port in. Each returns 0 or -1. */
int ts_pg_private_start(const char *state);
int ts_pg_private_pause(const char *state);  /* stops the server, keeps the data */
int ts_pg_private_resume(const char *state); /* same port */
/* Stops (SIGSTOP) the server and its backends: connections stay open and
 * nothing answers. thaw lets them go on. */
int ts_pg_private_freeze(const char *state);
int ts_pg_private_thaw(const char *state);
int ts_pg_private_stop(const char *state); /* stops it and removes it */
/* The URI of database db on a private cluster (created when not "postgres"). */
int ts_pg_private_url(const char *state, const char *db, char *url, size_t cap);

/* The URL of the database ts_pg_use_for_hosts gave the hosts, into url.
 * 0, or -1 when the hosts use no PostgreSQL. */
int ts_pg_hosts_url(char *url, size_t cap);

/* Writes a config file (mode 0600) at path: the JSON object text json, with
 * the "store" of the hosts' config (ts_use_config) added when it names
 * none, so that a test's own config keeps the backend of the run. 0 or -1. */
int ts_write_config(const char *path, const char *json);

/* Runs sql (one or more statements) on the database at url, as the
 * cluster's superuser. 0, or -1 with PostgreSQL's message on stderr. */
int ts_pg_exec(const char *url, const char *sql);
/* Whether a pg_dump of the database at url holds needle in clear: as text,
 * or as the hex of bytea bytes (how a dump writes them). 1 yes, 0 no, -1
 * the dump failed. */
int ts_pg_dump_holds(const char *url, const char *needle);

#endif
