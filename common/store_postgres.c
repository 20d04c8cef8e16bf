/*
 * The PostgreSQL backend (libpq): a small pool of connections per store,
 * prepared statements made on each connection at first use, READ COMMITTED
 * (set for each connection's session and said in each BEGIN, whatever the
 * database's default_transaction_isolation) write transactions retried on
 * serialization failures and deadlocks, and
 * a bound of STORE_TIMEOUT_MS on connecting and on each statement (the
 * socket is polled with a deadline), so that an unreachable database is
 * STORE_EUNAVAILABLE within that time and no thread hangs. A broken
 * connection is dropped and made again on next use.
 *
 * Reads run outside any transaction block (one round trip per statement).
 * A write is BEGIN, the callback's statements, then its notifications
 * (pg_notify) and COMMIT in one round trip. Notifications go to the channel
 * "mm_<component>" as "topic\tpayload"; a dedicated connection with its own
 * thread LISTENs, and when it breaks the listeners are told to drop
 * everything, until it is back.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_backend.h"

#include "banned.h"

#define SCHEMA_VERSION 1
#define SCHEMA_LOCK_ID 0x6d6d73746f7265LL /* "mmstore" */
#define RETRIES_MAX 8
#define DOWN_BACKOFF_MS 250
#define LISTEN_CHECK_MS 2000
/* A pooled connection the server closed fails at once and is worth one try
 * on another; one that failed later hung until its deadline: the server
 * does not answer, and another try would double the wait. */
#define STALE_FAIL_MS 1000
/* Said explicitly: the database's default_transaction_isolation may be
 * another level, and the store's semantics (store.h) are READ COMMITTED's. */
#define BEGIN_WRITE "BEGIN ISOLATION LEVEL READ COMMITTED"
#define BYTEA_OID 17
#define INT8_OID 20

enum pg_op {
	OP_GET,
	OP_GET_SHARE,
	OP_GET_UPDATE,
	OP_PUT,
	OP_PUT_NEW,
	OP_DEL,
	OP_TAKE,
	OP_SCAN,
	OP_SCAN_OPEN,
	OP_CAS_SET,
	OP_CAS_DEL,
	OP_COUNT
};

static const char *const op_sql[OP_COUNT] = {
	[OP_GET] = "SELECT v FROM %s WHERE k = $1",
	[OP_GET_SHARE] = "SELECT v FROM %s WHERE k = $1 FOR SHARE",
	[OP_GET_UPDATE] = "SELECT v FROM %s WHERE k = $1 FOR UPDATE",
	[OP_PUT] = ("INSERT INTO %s (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = "
		    "EXCLUDED.v"),
	[OP_PUT_NEW] = "INSERT INTO %s (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING",
	[OP_DEL] = "DELETE FROM %s WHERE k = $1",
	[OP_TAKE] = "DELETE FROM %s WHERE k = $1 RETURNING v",
	[OP_SCAN] = "SELECT k, v FROM %s WHERE k >= $1 AND k > $2 AND k < $3 ORDER BY k LIMIT $4",
	[OP_SCAN_OPEN] = "SELECT k, v FROM %s WHERE k >= $1 AND k > $2 ORDER BY k LIMIT $3",
	[OP_CAS_SET] = "UPDATE %s SET v = $3 WHERE k = $1 AND v = $2",
	[OP_CAS_DEL] = "DELETE FROM %s WHERE k = $1 AND v = $2",
};

static const int op_nparams[OP_COUNT] = { 1, 1, 1, 2, 2, 1, 1, 4, 3, 3, 2 };

struct pg_conn {
	PGconn *pg;
	bool busy;
	uint32_t prepared[STORE_TABLES_MAX]; /* bit per enum pg_op */
};

struct pg_store {
	struct store base;
	char url[STORE_URL_MAX];
	char table_sql[STORE_TABLES_MAX][STORE_COMPONENT_MAX + STORE_TABLE_NAME_MAX + 2];
	char channel[STORE_COMPONENT_MAX + 4];
	unsigned pool_size;
	struct pg_conn *pool;
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;
	int64_t down_until; /* after a failed connect, fail fast until then */
	/* Writers waiting for a batch (see pg_write). */
	pthread_mutex_t queue_lock;
	struct pg_req *head, *tail;
	unsigned leaders;
	/* The notification thread. */
	pthread_t listener;
	bool listener_running;
	int wake[2]; /* a byte on wake[1] stops the thread */
	PGconn *listen_pg;
};

struct result_node {
	struct result_node *next;
	PGresult *r;
};

struct pg_txn {
	struct store_txn base;
	struct pg_store *s;
	struct pg_conn *c;
	bool reused;                 /* the connection came from the pool, not a fresh connect */
	bool broken;                 /* the connection failed: the whole transaction is lost */
	bool failed;                 /* a statement failed: the transaction is aborted */
	bool retry;                  /* serialization failure or deadlock: run it again */
	struct result_node *results; /* values handed out, cleared at the end */
	struct store_note *notes;
};

/* ---- connections ------------------------------------------------------ */

static int remaining_ms(int64_t deadline)
{
	int64_t left = deadline - store_now_ms();

	return left < 0 ? 0 : (int)left;
}

/* Waits until fd has events or the deadline passes: 1 ready, 0 timeout,
 * -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { fd, events, 0 };
		int n = poll(&p, 1, remaining_ms(deadline));
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static void ignore_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static PGresult *collect(PGconn *pg, int64_t deadline, bool *broken);

/* READ COMMITTED for every statement of the connection's session (reads and
 * store_cas run outside a transaction block), whatever the database's
 * default_transaction_isolation; a statement, not a startup parameter,
 * which poolers such as pgbouncer refuse. 0 or -1 with err. */
static int read_committed(PGconn *pg, int64_t deadline, char *err, size_t cap)
{
	bool broken = false;
	PGresult *r = NULL;
	int rc = -1;

	if (!PQsendQuery(pg, "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL "
			     "READ COMMITTED") ||
	    !(r = collect(pg, deadline, &broken)))
		snprintf(err, cap, "no answer within %d ms", STORE_TIMEOUT_MS);
	else if (PQresultStatus(r) != PGRES_COMMAND_OK)
		snprintf(err, cap, "cannot set READ COMMITTED: %.*s",
			 (int)strcspn(PQresultErrorMessage(r), "\n"), PQresultErrorMessage(r));
	else
		rc = 0;
	PQclear(r);
	return rc;
}

static PGconn *pg_connect(struct pg_store *s, int64_t deadline, char *err, size_t cap)
{
	/* Ours first, the URI last: what the admin wrote there wins. */
	const char *const keys[] = { "application_name", "keepalives",
				     "keepalives_idle",  "keepalives_interval",
				     "keepalives_count", "tcp_user_timeout",
				     "dbname",           NULL };
	const char *const vals[] = { "mmhost", "1", "5", "1", "3", "5000", s->url, NULL };
	PGconn *pg = PQconnectStartParams(keys, vals, 1);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (!pg) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	while (PQstatus(pg) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
	       st != PGRES_POLLING_FAILED) {
		int w = wait_fd(PQsocket(pg), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
				deadline);
		if (w <= 0) {
			snprintf(err, cap, "no answer within %d ms", STORE_TIMEOUT_MS);
			PQfinish(pg);
			return NULL;
		}
		st = PQconnectPoll(pg);
	}
	if (PQstatus(pg) == CONNECTION_OK) {
		/* The server's notices (a shutdown's FATAL, ...) are not for
		 * stderr: failures are logged where they are handled. */
		PQsetNoticeProcessor(pg, ignore_notice, NULL);
	} else {
		const char *m = PQerrorMessage(pg);
		snprintf(err, cap, "%.*s", (int)strcspn(m, "\n"), m);
		PQfinish(pg);
		return NULL;
	}
	if (read_committed(pg, deadline, err, cap) != 0) {
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

/* Sends nothing; collects the results of what was sent, within the
 * deadline. Returns the first failed result, else the last one; NULL when
 * the connection broke or timed out (then *broken is set). */
static PGresult *collect(PGconn *pg, int64_t deadline, bool *broken)
{
	PGresult *keep = NULL, *r;
	int f;

	while ((f = PQflush(pg)) == 1) {
		if (wait_fd(PQsocket(pg), POLLOUT, deadline) <= 0)
			goto broke;
	}
	if (f < 0)
		goto broke;
	for (;;) {
		while (PQisBusy(pg)) {
			if (wait_fd(PQsocket(pg), POLLIN, deadline) <= 0 || !PQconsumeInput(pg))
				goto broke;
		}
		r = PQgetResult(pg);
		if (!r)
			break;
		if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
			PQclear(r);
			continue;
		}
		PQclear(keep);
		keep = r;
	}
	if (!keep || PQstatus(pg) == CONNECTION_BAD)
		goto broke;
	return keep;
broke:
	PQclear(keep);
	*broken = true;
	return NULL;
}

/* A connection failure (class 08, the server shutting down) or anything
 * else; logs what is not routine. */
static int result_rc(struct pg_store *s, PGconn *pg, PGresult *r, bool *broken, bool *retry)
{
	const char *state, *msg;

	switch (PQresultStatus(r)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK: return STORE_OK;
	default: break;
	}
	state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	if (!state)
		state = "";
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
		*retry = true;
		return STORE_ECONFLICT;
	}
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
	    PQstatus(pg) == CONNECTION_BAD) {
		*broken = true;
		store_logf(&s->base, STORE_LOG_WARN, "store %s: database connection lost: %s",
			   s->base.component, msg ? msg : state);
		return STORE_EUNAVAILABLE;
	}
	if (strcmp(state, "53100") == 0) {
		store_logf(&s->base, STORE_LOG_ERROR, "store %s: the database's disk is full: %s",
			   s->base.component, msg ? msg : state);
		return STORE_EFULL;
	}
	if (strcmp(state, "23505") == 0)
		return STORE_EEXIST;
	store_logf(&s->base, STORE_LOG_ERROR, "store %s: database error %s: %s", s->base.component,
		   state, msg ? msg : "");
	return strcmp(state, "53200") == 0 ? STORE_ENOMEM : STORE_EIO;
}

/* Runs a plain SQL text (no parameters) within the deadline. */
static int simple(struct pg_store *s, PGconn *pg, const char *sql, bool *broken, bool *retry)
{
	int64_t deadline = store_now_ms() + STORE_TIMEOUT_MS;
	PGresult *r;
	int rc;

	if (!PQsendQuery(pg, sql)) {
		*broken = true;
		return STORE_EUNAVAILABLE;
	}
	r = collect(pg, deadline, broken);
	if (!r)
		return STORE_EUNAVAILABLE;
	rc = result_rc(s, pg, r, broken, retry);
	PQclear(r);
	return rc;
}

/* A pooled connection that the server closed meanwhile (a restart) says so
 * on its socket: drop it before use. */
static void check_alive(struct pg_conn *c)
{
	struct pollfd p = { PQsocket(c->pg), POLLIN, 0 };
	PGnotify *n;

	if (poll(&p, 1, 0) <= 0)
		return;
	if (!PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK) {
		PQfinish(c->pg);
		c->pg = NULL;
		return;
	}
	while ((n = PQnotifies(c->pg)) != NULL)
		PQfreemem(n);
}

static void conn_drop(struct pg_conn *c)
{
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
	memset(c->prepared, 0, sizeof(c->prepared));
}

/* Takes a connection of the pool, connecting when its slot has none. */
static int acquire(struct pg_store *s, struct pg_conn **out, bool *reused)
{
	int64_t deadline = store_now_ms() + STORE_TIMEOUT_MS;
	struct pg_conn *c = NULL;
	char err[STORE_ERR_MAX];

	pthread_mutex_lock(&s->pool_lock);
	for (;;) {
		for (unsigned i = 0; i < s->pool_size; i++) {
			if (!s->pool[i].busy && (!c || (!c->pg && s->pool[i].pg)))
				c = &s->pool[i];
		}
		if (c)
			break;
		if (remaining_ms(deadline) == 0) {
			pthread_mutex_unlock(&s->pool_lock);
			store_logf(&s->base, STORE_LOG_WARN,
				   "store %s: all %u database connections stayed busy for %d ms",
				   s->base.component, s->pool_size, STORE_TIMEOUT_MS);
			return STORE_EUNAVAILABLE;
		}
		{
			struct timespec until;
			int64_t ms = remaining_ms(deadline);
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += ms / 1000;
			until.tv_nsec += (ms % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&s->pool_cond, &s->pool_lock, &until);
		}
	}
	c->busy = true;
	pthread_mutex_unlock(&s->pool_lock);
	if (c->pg)
		check_alive(c);
	*reused = c->pg != NULL;
	if (!c->pg) {
		int64_t now = store_now_ms();
		int64_t down_until;

		pthread_mutex_lock(&s->pool_lock);
		down_until = s->down_until;
		pthread_mutex_unlock(&s->pool_lock);
		memset(c->prepared, 0, sizeof(c->prepared));
		if (now < down_until || !(c->pg = pg_connect(s, deadline, err, sizeof(err)))) {
			pthread_mutex_lock(&s->pool_lock);
			if (now >= down_until) {
				s->down_until = store_now_ms() + DOWN_BACKOFF_MS;
				store_logf(&s->base, STORE_LOG_WARN,
					   "store %s: cannot connect to the database: %s",
					   s->base.component, err);
			}
			c->busy = false;
			pthread_cond_signal(&s->pool_cond);
			pthread_mutex_unlock(&s->pool_lock);
			return STORE_EUNAVAILABLE;
		}
	}
	*out = c;
	return STORE_OK;
}

static void release(struct pg_store *s, struct pg_conn *c, bool drop)
{
	if (drop)
		conn_drop(c);
	pthread_mutex_lock(&s->pool_lock);
	c->busy = false;
	pthread_cond_signal(&s->pool_cond);
	pthread_mutex_unlock(&s->pool_lock);
}

/* ---- statements -------------------------------------------------------- */

static int prepare(struct pg_txn *t, enum pg_op op, unsigned table, const char *name)
{
	static const Oid types[4] = { BYTEA_OID, BYTEA_OID, BYTEA_OID, INT8_OID };
	static const Oid types_open[3] = { BYTEA_OID, BYTEA_OID, INT8_OID };
	char sql[256];
	PGresult *r;
	int rc;

	/* op_sql holds only literals of this file, each with one %s. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(sql, sizeof(sql), op_sql[op], t->s->table_sql[table]);
#pragma GCC diagnostic pop
	if (!PQsendPrepare(t->c->pg, name, sql, op_nparams[op],
			   op == OP_SCAN_OPEN ? types_open : types)) {
		t->broken = true;
		return STORE_EUNAVAILABLE;
	}
	r = collect(t->c->pg, store_now_ms() + STORE_TIMEOUT_MS, &t->broken);
	if (!r)
		return STORE_EUNAVAILABLE;
	rc = result_rc(t->s, t->c->pg, r, &t->broken, &t->retry);
	PQclear(r);
	if (rc == STORE_OK)
		t->c->prepared[table] |= 1u << op;
	return rc;
}

/* Runs prepared statement op on table with binary parameters (the LIMIT
 * of the scans in text) and binary results. *out gets the result (the
 * caller clears it) on success. */
static int run(struct pg_txn *t, enum pg_op op, unsigned table, const char *const *vals,
	       const int *lens, PGresult **out)
{
	static const int fmt_scan[4] = { 1, 1, 1, 0 };
	static const int fmt_scan_open[3] = { 1, 1, 0 };
	static const int fmt_bin[3] = { 1, 1, 1 };
	const int *fmts = op == OP_SCAN ? fmt_scan : op == OP_SCAN_OPEN ? fmt_scan_open : fmt_bin;
	char name[16];
	PGresult *r;
	int rc;

	if (t->broken)
		return STORE_EUNAVAILABLE;
	snprintf(name, sizeof(name), "s%u_%d", table, (int)op);
	if (!(t->c->prepared[table] & (1u << op)) && (rc = prepare(t, op, table, name)) != 0)
		return rc;
	if (!PQsendQueryPrepared(t->c->pg, name, op_nparams[op], vals, lens, fmts, 1)) {
		t->broken = true;
		return STORE_EUNAVAILABLE;
	}
	r = collect(t->c->pg, store_now_ms() + STORE_TIMEOUT_MS, &t->broken);
	if (!r)
		return STORE_EUNAVAILABLE;
	rc = result_rc(t->s, t->c->pg, r, &t->broken, &t->retry);
	if (rc != STORE_OK) {
		t->failed = true;
		PQclear(r);
		return rc;
	}
	*out = r;
	return STORE_OK;
}

static int keep_result(struct pg_txn *t, PGresult *r)
{
	struct result_node *n = malloc(sizeof(*n));

	if (!n) {
		PQclear(r);
		return STORE_ENOMEM;
	}
	n->r = r;
	n->next = t->results;
	t->results = n;
	return STORE_OK;
}

static void txn_clear(struct pg_txn *t)
{
	while (t->results) {
		struct result_node *next = t->results->next;
		PQclear(t->results->r);
		free(t->results);
		t->results = next;
	}
	store_notes_free(t->notes);
	t->notes = NULL;
}

static int value_of(struct pg_txn *t, PGresult *r, struct store_val *val)
{
	if (PQntuples(r) == 0) {
		PQclear(r);
		return STORE_ENOTFOUND;
	}
	val->data = PQgetvalue(r, 0, 0);
	val->len = (size_t)PQgetlength(r, 0, 0);
	return keep_result(t, r);
}

static int pg_get(struct store_txn *txn, unsigned table, const void *key, size_t klen,
		  unsigned flags, struct store_val *val)
{
	struct pg_txn *t = (struct pg_txn *)txn;
	const char *vals[1] = { key };
	int lens[1] = { (int)klen };
	enum pg_op op = !txn->write ? OP_GET : (flags & STORE_LOCK) ? OP_GET_UPDATE : OP_GET_SHARE;
	PGresult *r;
	int rc = run(t, op, table, vals, lens, &r);

	return rc != STORE_OK ? rc : value_of(t, r, val);
}

static int affected(PGresult *r)
{
	const char *n = PQcmdTuples(r);
	int rows = n && *n ? (int)strtol(n, NULL, 10) : 0;

	PQclear(r);
	return rows;
}

static int pg_put(struct store_txn *txn, unsigned table, const void *key, size_t klen,
		  const void *val, size_t vlen, unsigned flags)
{
	struct pg_txn *t = (struct pg_txn *)txn;
	const char *vals[2] = { key, val };
	int lens[2] = { (int)klen, (int)vlen };
	PGresult *r;
	int rc = run(t, (flags & STORE_NOOVERWRITE) ? OP_PUT_NEW : OP_PUT, table, vals, lens, &r);

	if (rc != STORE_OK)
		return rc;
	return affected(r) == 0 ? STORE_EEXIST : STORE_OK;
}

static int pg_del(struct store_txn *txn, unsigned table, const void *key, size_t klen)
{
	struct pg_txn *t = (struct pg_txn *)txn;
	const char *vals[1] = { key };
	int lens[1] = { (int)klen };
	PGresult *r;
	int rc = run(t, OP_DEL, table, vals, lens, &r);

	if (rc != STORE_OK)
		return rc;
	return affected(r) == 0 ? STORE_ENOTFOUND : STORE_OK;
}

static int pg_take(struct store_txn *txn, unsigned table, const void *key, size_t klen,
		   struct store_val *val)
{
	struct pg_txn *t = (struct pg_txn *)txn;
	const char *vals[1] = { key };
	int lens[1] = { (int)klen };
	PGresult *r;
	int rc = run(t, OP_TAKE, table, vals, lens, &r);

	return rc != STORE_OK ? rc : value_of(t, r, val);
}

/* The smallest key above every key that starts with prefix: prefix with
 * its trailing 0xff bytes dropped and its last byte raised. 0 when there is
 * none (the prefix is all 0xff). */
static size_t prefix_end(const unsigned char *prefix, size_t plen, unsigned char *out)
{
	while (plen > 0 && prefix[plen - 1] == 0xff)
		plen--;
	if (plen == 0)
		return 0;
	memcpy(out, prefix, plen);
	out[plen - 1]++;
	return plen;
}

static int pg_scan(struct store_txn *txn, unsigned table, const void *prefix, size_t plen,
		   const void *after, size_t alen, size_t limit, store_scan_fn fn, void *arg,
		   size_t *visited)
{
	struct pg_txn *t = (struct pg_txn *)txn;
	unsigned char end[STORE_KEY_MAX];
	size_t elen = plen ? prefix_end(prefix, plen, end) : 0;
	char lim[24];
	const char *vals[4];
	int lens[4];
	PGresult *r;
	int rc, rows;

	snprintf(lim, sizeof(lim), "%zu", limit);
	vals[0] = plen ? prefix : "";
	lens[0] = (int)plen;
	vals[1] = after ? after : "";
	lens[1] = (int)alen;
	if (elen) {
		vals[2] = (const char *)end;
		lens[2] = (int)elen;
		vals[3] = lim;
		lens[3] = 0;
		rc = run(t, OP_SCAN, table, vals, lens, &r);
	} else {
		vals[2] = lim;
		lens[2] = 0;
		rc = run(t, OP_SCAN_OPEN, table, vals, lens, &r);
	}
	if (rc != STORE_OK)
		return rc;
	rows = PQntuples(r);
	for (int i = 0; i < rows && rc == STORE_OK; i++) {
		const char *k = PQgetvalue(r, i, 0);
		size_t kl = (size_t)PQgetlength(r, i, 0);
		int f;

		if (plen && (kl < plen || memcmp(k, prefix, plen) != 0))
			break;
		(*visited)++;
		f = fn(arg, k, kl, PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1));
		if (f != 0) {
			rc = f > 0 ? STORE_OK : f;
			break;
		}
	}
	PQclear(r);
	return rc;
}

static int pg_notify_note(struct store_txn *txn, struct store_note *n)
{
	struct pg_txn *t = (struct pg_txn *)txn;

	store_notes_append(&t->notes, n);
	return STORE_OK;
}

/* ---- transactions ------------------------------------------------------ */

static int pg_read(struct store *st, store_txn_fn fn, void *arg)
{
	struct pg_store *s = (struct pg_store *)st;

	for (int attempt = 0;; attempt++) {
		struct pg_txn t = { .base = { st, false }, .s = s };
		int rc = acquire(s, &t.c, &t.reused);
		int64_t started = store_now_ms();

		if (rc != STORE_OK)
			return rc;
		rc = fn(&t.base, arg);
		txn_clear(&t);
		release(s, t.c, t.broken);
		if (!t.broken)
			return rc;
		/* A pooled connection the server dropped: once more on another. */
		if (!t.reused || attempt == 1 || store_now_ms() - started >= STALE_FAIL_MS)
			return STORE_EUNAVAILABLE;
	}
}

/* The notifications and COMMIT, in one round trip. NULL: no memory. */
static char *commit_sql(struct pg_store *s, PGconn *pg, const struct store_note *notes)
{
	size_t cap = 16, len = 0;
	char *sql;

	for (const struct store_note *n = notes; n; n = n->next)
		cap += 64 + 2 * (strlen(n->topic) + strlen(n->payload) + 4) + sizeof(s->channel);
	sql = malloc(cap);
	if (!sql)
		return NULL;
	for (const struct store_note *n = notes; n; n = n->next) {
		char text[STORE_TOPIC_MAX + STORE_PAYLOAD_MAX + 2];
		char *lit;
		int w;

		snprintf(text, sizeof(text), "%s\t%s", n->topic, n->payload);
		lit = PQescapeLiteral(pg, text, strlen(text));
		if (!lit) {
			free(sql);
			return NULL;
		}
		w = snprintf(sql + len, cap - len, "SELECT pg_notify('%s', %s);", s->channel, lit);
		PQfreemem(lit);
		if (w < 0 || (size_t)w >= cap - len) {
			free(sql);
			return NULL;
		}
		len += (size_t)w;
	}
	snprintf(sql + len, cap - len, "COMMIT");
	return sql;
}

/* COMMIT, checked: in a transaction that failed, PostgreSQL answers a
 * COMMIT with success and the tag ROLLBACK. */
static int commit(struct pg_store *s, PGconn *pg, const struct store_note *notes, bool *broken,
		  bool *retry)
{
	int64_t deadline = store_now_ms() + STORE_TIMEOUT_MS;
	char *sql = commit_sql(s, pg, notes);
	PGresult *r;
	int rc;

	if (!sql)
		return STORE_ENOMEM;
	if (!PQsendQuery(pg, sql)) {
		free(sql);
		*broken = true;
		return STORE_EUNAVAILABLE;
	}
	free(sql);
	r = collect(pg, deadline, broken);
	if (!r)
		return STORE_EUNAVAILABLE;
	rc = result_rc(s, pg, r, broken, retry);
	if (rc == STORE_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
		store_logf(&s->base, STORE_LOG_ERROR, "store %s: a transaction was rolled back",
			   s->base.component);
		rc = STORE_EIO;
	}
	PQclear(r);
	return rc;
}

/*
 * Writes go through a group commit too: a writer that finds fewer than
 * pool_size transactions in flight leads one, taking the writers queued so
 * far (up to BATCH_MAX), runs their callbacks in one transaction and
 * commits once. So 64 writers on 8 connections share commits (WAL flushes)
 * instead of queueing for them. A callback that fails settles its writer
 * with its result; the transaction is rolled back and the others run again
 * without it (failures are rare; savepoints would cost a round trip for
 * every writer).
 */
#define BATCH_MAX 32

struct pg_req {
	store_txn_fn fn;
	void *arg;
	int rc;
	bool done;
	bool settled; /* failed: rc is final, its callback does not run again */
	pthread_cond_t wake;
	struct store_note *notes;
	struct pg_req *next;
};

static void batch_set(struct pg_req *batch, int rc)
{
	for (struct pg_req *r = batch; r; r = r->next) {
		store_notes_free(r->notes);
		r->notes = NULL;
		if (!r->settled)
			r->rc = rc;
	}
}

enum batch_outcome {
	BATCH_COMMITTED, /* every writer not settled committed */
	BATCH_RERUN,     /* one writer failed and is settled: run the rest again */
	BATCH_RETRY,     /* serialization failure, deadlock, stale connection */
	BATCH_FAILED,    /* rc for everyone not settled */
};

/* One attempt at a batch on connection c. */
static enum batch_outcome batch_once(struct pg_store *s, struct pg_conn *c, bool reused,
				     struct pg_req *batch, bool *dropped, int *rc_out)
{
	bool broken = false, retry = false, ignored = false;
	struct store_note *notes = NULL;
	struct pg_req *keeper = NULL;
	int64_t started = store_now_ms();
	int rc = simple(s, c->pg, BEGIN_WRITE, &broken, &retry);

	for (struct pg_req *r = batch; rc == STORE_OK && r; r = r->next) {
		struct pg_txn t = { .base = { &s->base, true }, .s = s, .c = c, .reused = reused };

		if (r->settled)
			continue;
		r->rc = r->fn(&t.base, r->arg);
		broken = broken || t.broken;
		retry = retry || t.retry;
		if (broken || retry) {
			txn_clear(&t);
			rc = STORE_EUNAVAILABLE;
			break;
		}
		if (r->rc != STORE_OK || t.failed) {
			if (r->rc == STORE_OK)
				r->rc = STORE_EIO; /* it went on after a database error */
			r->settled = true;
			txn_clear(&t);
			simple(s, c->pg, "ROLLBACK", &broken, &ignored);
			*dropped = broken;
			return BATCH_RERUN;
		}
		store_notes_append(&notes, t.notes);
		t.notes = NULL;
		txn_clear(&t);
		if (!keeper)
			keeper = r;
	}
	if (rc == STORE_OK) {
		rc = commit(s, c->pg, notes, &broken, &retry);
		if (rc == STORE_OK && keeper) {
			keeper->notes = notes; /* delivered after the commit */
			return BATCH_COMMITTED;
		}
		store_notes_free(notes);
		if (rc == STORE_OK)
			return BATCH_COMMITTED;
		if (broken) {
			/* The COMMIT was sent: its outcome is unknown, and it is
			 * not acknowledged. */
			*dropped = true;
			*rc_out = STORE_EUNAVAILABLE;
			return BATCH_FAILED;
		}
	} else {
		store_notes_free(notes);
	}
	if (broken) {
		/* Nothing was committed: a stale pooled connection is worth
		 * another try on a fresh one (not a server that hung). */
		*dropped = true;
		*rc_out = STORE_EUNAVAILABLE;
		return reused && store_now_ms() - started < STALE_FAIL_MS ? BATCH_RETRY
									  : BATCH_FAILED;
	}
	simple(s, c->pg, "ROLLBACK", &broken, &ignored);
	*dropped = broken;
	*rc_out = rc == STORE_OK ? STORE_EIO : rc;
	return retry ? BATCH_RETRY : BATCH_FAILED;
}

static void run_pg_batch(struct pg_store *s, struct pg_req *batch)
{
	int retries = 0;

	for (;;) {
		struct pg_conn *c;
		bool reused = false, dropped = false;
		enum batch_outcome out;
		int rc = acquire(s, &c, &reused);

		if (rc != STORE_OK) {
			batch_set(batch, rc);
			return;
		}
		out = batch_once(s, c, reused, batch, &dropped, &rc);
		release(s, c, dropped);
		if (out == BATCH_COMMITTED) {
			size_t ok = 0;
			for (struct pg_req *r = batch; r; r = r->next)
				ok += !r->settled;
			if (ok) {
				atomic_fetch_add(&s->base.commits, 1);
				atomic_fetch_add(&s->base.writes, ok);
			}
			for (struct pg_req *r = batch; r; r = r->next) {
				store_deliver_notes(&s->base, r->notes);
				store_notes_free(r->notes);
				r->notes = NULL;
			}
			return;
		}
		batch_set(batch, rc);
		if (out == BATCH_RERUN)
			continue; /* bounded: each settles one writer */
		if (out == BATCH_FAILED)
			return;
		if (++retries == RETRIES_MAX)
			break;
		usleep((useconds_t)(1000 * retries));
	}
	store_logf(&s->base, STORE_LOG_WARN, "store %s: a write kept conflicting; gave up",
		   s->base.component);
	batch_set(batch, STORE_ECONFLICT);
}

static struct pg_req *take_pg_batch(struct pg_store *s)
{
	struct pg_req *first = s->head, *last = s->head;
	size_t n = 1;

	while (last->next && n < BATCH_MAX) {
		last = last->next;
		n++;
	}
	s->head = last->next;
	if (!s->head)
		s->tail = NULL;
	last->next = NULL;
	return first;
}

static int pg_write(struct store *st, store_txn_fn fn, void *arg)
{
	struct pg_store *s = (struct pg_store *)st;
	struct pg_req req = { .fn = fn, .arg = arg };

	pthread_cond_init(&req.wake, NULL);
	pthread_mutex_lock(&s->queue_lock);
	if (s->tail)
		s->tail->next = &req;
	else
		s->head = &req;
	s->tail = &req;
	while (!req.done) {
		struct pg_req *batch, *next;

		if (s->leaders >= s->pool_size || s->head != &req) {
			pthread_cond_wait(&req.wake, &s->queue_lock);
			continue;
		}
		s->leaders++;
		batch = take_pg_batch(s);
		if (s->head && s->leaders < s->pool_size)
			pthread_cond_signal(&s->head->wake);
		pthread_mutex_unlock(&s->queue_lock);
		run_pg_batch(s, batch);
		pthread_mutex_lock(&s->queue_lock);
		for (struct pg_req *r = batch; r; r = next) {
			next = r->next; /* r may be gone once done is seen */
			r->done = true;
			if (r != &req)
				pthread_cond_signal(&r->wake);
		}
		s->leaders--;
		if (s->head)
			pthread_cond_signal(&s->head->wake);
	}
	pthread_mutex_unlock(&s->queue_lock);
	pthread_cond_destroy(&req.wake);
	return req.rc;
}

static int pg_cas(struct store *st, unsigned table, const void *key, size_t klen,
		  const void *expected, size_t elen, const void *new_val, size_t nlen)
{
	struct pg_store *s = (struct pg_store *)st;
	struct pg_txn t = { .base = { st, true }, .s = s };
	const char *vals[3] = { key, expected, new_val };
	int lens[3] = { (int)klen, (int)elen, (int)nlen };
	enum pg_op op = !expected ? OP_PUT_NEW : !new_val ? OP_CAS_DEL : OP_CAS_SET;
	PGresult *r;
	int rc = acquire(s, &t.c, &t.reused);

	if (rc != STORE_OK)
		return rc;
	if (!expected) {
		vals[1] = new_val;
		lens[1] = (int)nlen;
	}
	rc = run(&t, op, table, vals, lens, &r);
	release(s, t.c, t.broken);
	if (rc != STORE_OK)
		return t.broken ? STORE_EUNAVAILABLE : rc;
	if (affected(r) == 0)
		return STORE_ECONFLICT;
	atomic_fetch_add(&s->base.commits, 1);
	atomic_fetch_add(&s->base.writes, 1);
	return STORE_OK;
}

/* ---- notifications ----------------------------------------------------- */

static void deliver_pending(struct pg_store *s, PGconn *pg)
{
	PGnotify *n;

	while ((n = PQnotifies(pg)) != NULL) {
		char *tab = strchr(n->extra, '\t');
		if (tab && strcmp(n->relname, s->channel) == 0) {
			*tab = '\0';
			store_deliver(&s->base, n->extra, tab + 1);
		}
		PQfreemem(n);
	}
}

static int listen_connect(struct pg_store *s)
{
	char err[STORE_ERR_MAX], sql[64];
	bool broken = false, retry = false;
	PGconn *pg = pg_connect(s, store_now_ms() + STORE_TIMEOUT_MS, err, sizeof(err));

	if (!pg)
		return STORE_EUNAVAILABLE;
	snprintf(sql, sizeof(sql), "LISTEN %s", s->channel);
	if (simple(s, pg, sql, &broken, &retry) != STORE_OK) {
		PQfinish(pg);
		return STORE_EUNAVAILABLE;
	}
	s->listen_pg = pg;
	atomic_store(&s->base.cache_ok, true);
	/* Whatever happened while nobody listened is unknown. */
	store_deliver(&s->base, NULL, NULL);
	return STORE_OK;
}

static void listen_lost(struct pg_store *s)
{
	PQfinish(s->listen_pg);
	s->listen_pg = NULL;
	atomic_store(&s->base.cache_ok, false);
	store_deliver(&s->base, NULL, NULL);
	store_logf(&s->base, STORE_LOG_WARN,
		   "store %s: lost the notification connection; caches off until it is back",
		   s->base.component);
}

/* Sleeps ms or until woken; true when told to stop. */
static bool nap(struct pg_store *s, int ms)
{
	struct pollfd p = { s->wake[0], POLLIN, 0 };

	return poll(&p, 1, ms) > 0;
}

static void *listen_run(void *arg)
{
	struct pg_store *s = arg;
	int64_t last_check = store_now_ms();

	for (;;) {
		struct pollfd p[2] = { { s->wake[0], POLLIN, 0 }, { -1, POLLIN, 0 } };
		int n;

		if (!s->listen_pg) {
			if (listen_connect(s) != STORE_OK) {
				if (nap(s, DOWN_BACKOFF_MS))
					break;
				continue;
			}
			store_logf(&s->base, STORE_LOG_INFO, "store %s: notifications flow again",
				   s->base.component);
			last_check = store_now_ms();
		}
		p[1].fd = PQsocket(s->listen_pg);
		n = poll(p, 2, 500);
		if (n < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (p[1].revents) {
			if (!PQconsumeInput(s->listen_pg) ||
			    PQstatus(s->listen_pg) != CONNECTION_OK) {
				listen_lost(s);
				continue;
			}
			deliver_pending(s, s->listen_pg);
		}
		if (store_now_ms() - last_check >= LISTEN_CHECK_MS) {
			bool broken = false, retry = false;
			/* A quiet connection may be a dead one. */
			if (simple(s, s->listen_pg, "SELECT 1", &broken, &retry) != STORE_OK) {
				listen_lost(s);
				continue;
			}
			deliver_pending(s, s->listen_pg);
			last_check = store_now_ms();
		}
	}
	return NULL;
}

static int pg_listen_start(struct store *st)
{
	struct pg_store *s = (struct pg_store *)st;

	if (pipe(s->wake) != 0)
		return STORE_ENOMEM;
	if (listen_connect(s) != STORE_OK)
		atomic_store(&s->base.cache_ok, false);
	if (pthread_create(&s->listener, NULL, listen_run, s) != 0) {
		close(s->wake[0]);
		close(s->wake[1]);
		return STORE_ENOMEM;
	}
	s->listener_running = true;
	return STORE_OK;
}

/* ---- opening ------------------------------------------------------------ */

static void pg_close(struct store *st)
{
	struct pg_store *s = (struct pg_store *)st;

	if (s->listener_running) {
		ssize_t w = write(s->wake[1], "x", 1);
		(void)w;
		pthread_join(s->listener, NULL);
		close(s->wake[0]);
		close(s->wake[1]);
		if (s->listen_pg)
			PQfinish(s->listen_pg);
	}
	for (unsigned i = 0; i < s->pool_size; i++)
		conn_drop(&s->pool[i]);
	free(s->pool);
	pthread_mutex_destroy(&s->pool_lock);
	pthread_cond_destroy(&s->pool_cond);
	pthread_mutex_destroy(&s->queue_lock);
	store_base_destroy(&s->base);
	explicit_bzero(s->url, sizeof(s->url));
	free(s);
}

static const struct store_ops pg_ops = {
	.close = pg_close,
	.read = pg_read,
	.write = pg_write,
	.get = pg_get,
	.put = pg_put,
	.del = pg_del,
	.take = pg_take,
	.scan = pg_scan,
	.cas = pg_cas,
	.notify = pg_notify_note,
	.listen_start = pg_listen_start,
};

/* Creates or upgrades this component's tables, one node at a time. */
static int schema(struct pg_store *s, PGconn *pg, char *err, size_t cap)
{
	char sql[4096], comp[STORE_COMPONENT_MAX + 3];
	bool broken = false, retry = false;
	PGresult *r;
	size_t len = 0;
	int rc, version = 0;

	snprintf(comp, sizeof(comp), "'%s'", s->base.component); /* [a-z0-9_] only */
	len += (size_t)snprintf(sql + len, sizeof(sql) - len,
				BEGIN_WRITE
				"; SELECT pg_advisory_xact_lock(%lld); "
				"CREATE TABLE IF NOT EXISTS store_schema (component text PRIMARY "
				"KEY, version integer NOT NULL); "
				"SELECT version FROM store_schema WHERE component = %s",
				(long long)SCHEMA_LOCK_ID, comp);
	if (!PQsendQuery(pg, sql) ||
	    !(r = collect(pg, store_now_ms() + STORE_TIMEOUT_MS, &broken))) {
		snprintf(err, cap, "the database did not answer");
		return STORE_EUNAVAILABLE;
	}
	rc = result_rc(s, pg, r, &broken, &retry);
	if (rc == STORE_OK && PQntuples(r) == 1)
		version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if (rc != STORE_OK) {
		snprintf(err, cap, "cannot create the store's tables: %s", store_strerror(rc));
		return rc;
	}
	if (version > SCHEMA_VERSION) {
		simple(s, pg, "ROLLBACK", &broken, &retry);
		snprintf(err, cap,
			 "the database's %s tables are at schema version %d, newer than this "
			 "mmhost knows (%d)",
			 s->base.component, version, SCHEMA_VERSION);
		return STORE_EINVAL;
	}
	len = 0;
	for (size_t i = 0; i < s->base.n_tables; i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					"CREATE TABLE IF NOT EXISTS %s (k bytea PRIMARY KEY, v "
					"bytea NOT NULL); ",
					s->table_sql[i]);
	snprintf(sql + len, sizeof(sql) - len,
		 "INSERT INTO store_schema VALUES (%s, %d) ON CONFLICT (component) DO UPDATE SET "
		 "version = EXCLUDED.version; COMMIT",
		 comp, SCHEMA_VERSION);
	rc = simple(s, pg, sql, &broken, &retry);
	if (rc != STORE_OK) {
		if (!broken)
			simple(s, pg, "ROLLBACK", &broken, &retry);
		snprintf(err, cap, "cannot create the store's tables: %s", store_strerror(rc));
	}
	return rc;
}

/* PostgreSQL is backed up with its own tools: they see every node's
 * writes, which no copy taken through one node's connections would. */
int store_postgres_backup(char *err, size_t cap)
{
	snprintf(err, cap,
		 "the PostgreSQL backend is backed up with PostgreSQL's own tools: pg_dump, or "
		 "base backups (pg_basebackup) with WAL archiving");
	return STORE_EINVAL;
}

/* Whether libpq can parse url. Its own message is not repeated: it quotes
 * the part it could not parse, which may be the password (a '%' not
 * followed by two hex digits). */
static bool url_parses(const char *url)
{
	char *msg = NULL;
	PQconninfoOption *o = PQconninfoParse(url, &msg);

	if (msg) {
		explicit_bzero(msg, strlen(msg));
		PQfreemem(msg);
	}
	if (!o)
		return false;
	PQconninfoFree(o);
	return true;
}

int store_postgres_open(const struct store_config *cfg, const struct store_options *opt,
			struct store **out, char *err, size_t cap)
{
	struct pg_store *s;
	char why[STORE_ERR_MAX];
	PGconn *pg;
	int rc;

	if (!url_parses(cfg->url)) {
		snprintf(err, cap,
			 "the database URL is not a valid libpq URI (a '%%' in it, in the "
			 "password too, must start a percent-encoded byte such as %%25)");
		return STORE_EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return STORE_ENOMEM;
	rc = store_base_init(&s->base, opt, err, cap);
	if (rc != STORE_OK) {
		free(s);
		return rc;
	}
	s->base.ops = &pg_ops;
	s->base.reads_block = true;
	snprintf(s->url, sizeof(s->url), "%s", cfg->url);
	snprintf(s->channel, sizeof(s->channel), "mm_%s", s->base.component);
	for (size_t i = 0; i < s->base.n_tables; i++)
		snprintf(s->table_sql[i], sizeof(s->table_sql[i]), "%s_%s", s->base.component,
			 s->base.tables[i]);
	s->pool_size = cfg->pool_size ? cfg->pool_size : STORE_POOL_DEFAULT;
	pthread_mutex_init(&s->pool_lock, NULL);
	pthread_cond_init(&s->pool_cond, NULL);
	pthread_mutex_init(&s->queue_lock, NULL);
	s->pool = calloc(s->pool_size, sizeof(*s->pool));
	if (!s->pool) {
		rc = STORE_ENOMEM;
		goto fail;
	}
	pg = pg_connect(s, store_now_ms() + STORE_TIMEOUT_MS, why, sizeof(why));
	if (!pg) {
		snprintf(err, cap, "cannot connect to the database: %s", why);
		rc = STORE_EUNAVAILABLE;
		goto fail;
	}
	s->pool[0].pg = pg;
	rc = schema(s, pg, err, cap);
	if (rc != STORE_OK)
		goto fail;
	*out = &s->base;
	return STORE_OK;
fail:
	for (unsigned i = 0; s->pool && i < s->pool_size; i++)
		conn_drop(&s->pool[i]);
	free(s->pool);
	pthread_mutex_destroy(&s->queue_lock);
	pthread_mutex_destroy(&s->pool_lock);
	pthread_cond_destroy(&s->pool_cond);
	store_base_destroy(&s->base);
	explicit_bzero(s->url, sizeof(s->url));
	free(s);
	return rc;
}
