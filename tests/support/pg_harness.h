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

#endif
