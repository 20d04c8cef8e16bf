#include "key_sweep.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "key_count.h"
#include "key_lease.h"
#include "plugin.h"
#include "plugin_metrics.h"
#include "banned.h"

#define ROW_SWEEP "sweep"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the progress row ---- */

static char *progress_encode(const struct key_sweep_progress *pr, size_t *len)
{
	char hex[sizeof(pr->after) * 2 + 1];
	json_t *j;
	char *text;

	sodium_bin2hex(hex, sizeof(hex), pr->after, pr->after_len);
	j = json_pack("{s:s, s:I, s:I, s:s, s:I, s:I, s:I, s:I}", "state",
		      !pr->running      ? "idle"
		      : pr->withdrawing ? "withdrawing"
					: "running",
		      "key", (json_int_t)pr->key, "table", (json_int_t)pr->table, "after", hex,
		      "done", (json_int_t)pr->done, "total", (json_int_t)pr->total, "resealed",
		      (json_int_t)pr->resealed, "pass", (json_int_t)pr->pass);
	text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	*len = text ? strlen(text) : 0;
	return text;
}

static uint64_t field_u64(const json_t *j, const char *name)
{
	json_int_t v = json_integer_value(json_object_get(j, name));

	return v > 0 ? (uint64_t)v : 0;
}

static int progress_decode(const unsigned char *raw, size_t len, struct key_sweep_progress *pr)
{
	json_t *j = json_loadb((const char *)raw, len, 0, NULL);
	const char *hex = json_string_value(json_object_get(j, "after")), *state;
	size_t alen = 0;

	memset(pr, 0, sizeof(*pr));
	if (!json_is_object(j) || !hex ||
	    sodium_hex2bin(pr->after, sizeof(pr->after), hex, strlen(hex), NULL, &alen, NULL) !=
		    0) {
		json_decref(j);
		return STORE_ECORRUPT;
	}
	pr->after_len = alen;
	state = json_string_value(json_object_get(j, "state"));
	pr->withdrawing = state && strcmp(state, "withdrawing") == 0;
	pr->running = pr->withdrawing || (state && strcmp(state, "running") == 0);
	pr->key = (uint32_t)field_u64(j, "key");
	pr->table = (unsigned)field_u64(j, "table");
	pr->done = field_u64(j, "done");
	pr->total = field_u64(j, "total");
	pr->resealed = field_u64(j, "resealed");
	pr->pass = (unsigned)field_u64(j, "pass");
	json_decref(j);
	return STORE_OK;
}

/* The progress and the row's bytes (*raw, malloc'd; NULL when none). */
static int progress_get(struct apps_store *st, struct key_sweep_progress *pr, unsigned char **raw,
			size_t *raw_len)
{
	int rc = apps_store_get(st, KEY_TABLE_KEYS, ROW_SWEEP, strlen(ROW_SWEEP), raw, raw_len);

	memset(pr, 0, sizeof(*pr));
	if (rc == STORE_ENOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	return progress_decode(*raw, *raw_len, pr);
}

int key_sweep_progress_read(struct apps_store *st, struct key_sweep_progress *pr)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int rc = progress_get(st, pr, &raw, &len);

	free(raw);
	return rc;
}

char *key_sweep_start_row(uint32_t key, uint64_t total, size_t *len)
{
	struct key_sweep_progress pr = {
		.running = true, .withdrawing = true, .key = key, .total = total, .pass = 1
	};

	return progress_encode(&pr, len);
}

/* ---- one batch ---- */

struct batch_rec {
	unsigned char *key, *val, *fresh;
	size_t klen, vlen, flen;
};

struct batch {
	struct batch_rec *recs;
	size_t n, cap;
};

static int collect(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct batch *b = arg;
	struct batch_rec *r = &b->recs[b->n];

	if (b->n == b->cap)
		return 1;
	r->key = malloc(klen ? klen : 1);
	r->val = malloc(vlen ? vlen : 1);
	r->fresh = NULL;
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
	return 0;
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->recs[i].key);
		free(b->recs[i].val);
		free(b->recs[i].fresh);
	}
	free(b->recs);
}

/* Seals r again under the current key (which is key): false when it is
 * already under it or does not open (verify reports those). */
static bool reseal(const struct sealer *s, enum key_table t, uint32_t key, struct batch_rec *r)
{
	char *plain = NULL;
	size_t plen = 0;
	uint32_t id = 0;
	int rc;

	if (seal_key_id(r->val, r->vlen, &id) != SEAL_OK || id == key)
		return false;
	if (unseal_record(s, apps_table_name(t), r->key, r->klen, r->val, r->vlen, &plain, &plen) !=
	    SEAL_OK)
		return false;
	rc = seal_record(s, apps_table_name(t), r->key, r->klen, plain, plen, &r->fresh, &r->flen);
	unseal_free(plain);
	if (rc != SEAL_OK || seal_key_id(r->fresh, r->flen, &id) != SEAL_OK || id != key) {
		free(r->fresh);
		r->fresh = NULL;
		return false;
	}
	return true;
}

/* Where the sweep goes after a batch that visited n records of pr->table. */
static int advance(struct key_sweep *w, struct key_sweep_progress *pr, const struct batch *b)
{
	struct key_counts *c;
	int rc;

	pr->done += b->n;
	if (b->n == w->batch) {
		const struct batch_rec *last = &b->recs[b->n - 1];
		if (last->klen > sizeof(pr->after))
			return STORE_EIO;
		memcpy(pr->after, last->key, last->klen);
		pr->after_len = last->klen;
		return STORE_OK;
	}
	pr->after_len = 0;
	if (++pr->table < APPS_SEALED_TABLES)
		return STORE_OK;
	/* The pass ended: records still under other keys do not open, or a
	 * node of an earlier release wrote them (key_sweep.h). */
	c = calloc(1, sizeof(*c));
	if (!c)
		return STORE_ENOMEM;
	c->ids[0] = pr->key;
	c->len = 1;
	rc = key_count_records(w->ks->st, c);
	if (rc == STORE_OK && c->total - c->n[0] > 0 && pr->pass < KEY_SWEEP_PASSES) {
		pr->pass++;
		pr->table = 0;
		pr->total = pr->done + (c->total - c->n[0]);
	} else if (rc == STORE_OK) {
		pr->running = false;
		pr->total = pr->done;
	}
	free(c);
	return rc;
}

/* The rotation's second transaction: withdraws the keys before pr->key and
 * moves the progress from raw to the first batch. 1 (go on), or < 0 a store
 * error. */
static int withdraw(struct key_sweep *w, struct key_sweep_progress *pr, const unsigned char *raw,
		    size_t raw_len)
{
	size_t row_len = 0;
	unsigned n = 0;
	char *row;
	int rc;

	pr->withdrawing = false;
	row = progress_encode(pr, &row_len);
	if (!row)
		return STORE_ENOMEM;
	rc = key_store_withdraw(w->ks, pr->key, raw, raw_len, row, row_len, &n);
	free(row);
	if (rc == STORE_ECHANGED)
		return 1; /* a rotation or another node came first: read it again */
	if (rc != STORE_OK)
		return rc;
	plugin_logf(w->plugin, MMPLUGIN_LOG_INFO,
		    "%u data key%s withdrawn (key %u is current); the key sweep starts", n,
		    n == 1 ? "" : "s", pr->key);
	return 1;
}

/* One batch: 1 when the sweep goes on, 0 when it is over (or waits), < 0 a
 * store error. */
static int sweep_batch(struct key_sweep *w)
{
	struct key_sweep_progress pr;
	struct batch b = { 0 };
	struct apps_cas *c = NULL;
	unsigned char *raw = NULL;
	size_t raw_len = 0, nc = 0, row_len = 0;
	char *row = NULL;
	struct sealer *s = w->ks->sealer;
	int rc = progress_get(w->ks->st, &pr, &raw, &raw_len);

	if (rc != STORE_OK || !pr.running || pr.table >= APPS_SEALED_TABLES)
		goto out;
	if (keyring_current_id(&s->keys->ring) != pr.key &&
	    (key_store_reload(w->ks) != STORE_OK || keyring_current_id(&s->keys->ring) != pr.key))
		goto out; /* the store's keys and the progress disagree: wait */
	if (!key_lease_take(w->ks->st, w->node, now_ms(), KEY_SWEEP_LEASE_MS))
		goto out;
	if (pr.withdrawing) {
		rc = withdraw(w, &pr, raw, raw_len);
		goto out;
	}
	b.cap = w->batch;
	b.recs = calloc(b.cap, sizeof(*b.recs));
	c = calloc(b.cap + 1, sizeof(*c));
	if (!b.recs || !c) {
		rc = STORE_ENOMEM;
		goto out;
	}
	rc = apps_store_scan(w->ks->st, (enum key_table)pr.table, NULL, 0,
			     pr.after_len ? pr.after : NULL, pr.after_len, w->batch, collect, &b,
			     NULL);
	if (rc != STORE_OK)
		goto out;
	for (size_t i = 0; i < b.n; i++) {
		struct batch_rec *r = &b.recs[i];
		if (reseal(s, (enum key_table)pr.table, pr.key, r))
			c[nc++] = (struct apps_cas){ (enum key_table)pr.table,
						     r->key,
						     r->klen,
						     r->val,
						     r->vlen,
						     r->fresh,
						     r->flen,
						     false };
	}
	rc = advance(w, &pr, &b);
	if (rc != STORE_OK)
		goto out;
	/* Counted in the progress row the batch commits: each record is under
	 * the new key after it, re-sealed here or written anew meanwhile (its
	 * compare-and-set skipped). */
	pr.resealed += nc;
	row = progress_encode(&pr, &row_len);
	if (!row) {
		rc = STORE_ENOMEM;
		goto out;
	}
	c[nc] = (struct apps_cas){ KEY_TABLE_KEYS, ROW_SWEEP, strlen(ROW_SWEEP), raw,
				   raw_len,        row,       row_len,           true };
	rc = apps_store_cas(w->ks->st, c, nc + 1, NULL);
	if (rc == STORE_ECHANGED) {
		rc = 1; /* a rotation restarted the sweep meanwhile: read it again */
		goto out;
	}
	if (rc != STORE_OK)
		goto out;
	plugin_metrics_key_sweep_done(pr.resealed);
	if (!pr.running)
		plugin_logf(w->plugin, MMPLUGIN_LOG_INFO,
			    "key sweep done: %llu records visited in %u pass%s, now sealed under "
			    "key %u",
			    (unsigned long long)pr.done, pr.pass, pr.pass == 1 ? "" : "es", pr.key);
	rc = pr.running ? 1 : 0;
out:
	free(row);
	free(c);
	batch_free(&b);
	free(raw);
	return rc;
}

/* ---- the thread ---- */

/* Waits ms, or until kicked or stopped; with w->lock held. */
static void wait_ms(struct key_sweep *w, long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!w->stopping && !w->kick)
		if (pthread_cond_timedwait(&w->cond, &w->lock, &until) != 0)
			break;
}

/* A rotation made on another node: the store's current key is not ours. */
static void follow_rotation(struct key_sweep *w)
{
	uint32_t id = 0;

	if (key_store_current_id(w->ks, &id) == STORE_OK && id &&
	    id != keyring_current_id(&w->ks->sealer->keys->ring) &&
	    key_store_reload(w->ks) != STORE_OK)
		plugin_log(w->plugin, MMPLUGIN_LOG_WARN,
			   "cannot reload the data keys after a rotation elsewhere");
}

/* Older keys not withdrawn while no withdrawal is pending (a store rotated
 * by an earlier release): a sweep that withdraws them first starts over. 0
 * (nothing to do, or done) or a store error. */
static int withdraw_leftovers(struct key_sweep *w)
{
	struct key_sweep_progress pr;
	unsigned char *raw = NULL;
	size_t raw_len = 0, row_len = 0;
	uint32_t current = 0;
	unsigned n = 0;
	char *row = NULL;
	int rc = key_store_current_id(w->ks, &current);

	if (rc == STORE_OK && current)
		rc = key_store_unwithdrawn(w->ks, current, &n);
	if (rc == STORE_OK && n)
		rc = progress_get(w->ks->st, &pr, &raw, &raw_len);
	if (rc == STORE_OK && n && !pr.withdrawing) {
		pr = (struct key_sweep_progress){ .running = true,
						  .withdrawing = true,
						  .key = current,
						  .total = pr.total,
						  .pass = 1 };
		row = progress_encode(&pr, &row_len);
		rc = row ? STORE_OK : STORE_ENOMEM;
		if (rc == STORE_OK) {
			struct apps_cas c = { KEY_TABLE_KEYS, ROW_SWEEP, strlen(ROW_SWEEP), raw,
					      raw_len,        row,       row_len,           true };
			rc = apps_store_cas(w->ks->st, &c, 1, NULL);
			if (rc == STORE_ECHANGED)
				rc = STORE_OK; /* a rotation or another node did */
		}
	}
	free(row);
	free(raw);
	return rc;
}

static void *sweep_main(void *arg)
{
	struct key_sweep *w = arg;
	unsigned failures = 0;
	int rc = withdraw_leftovers(w);

	if (rc != STORE_OK)
		plugin_logf(w->plugin, MMPLUGIN_LOG_ERROR,
			    "key sweep: cannot check for data keys left to withdraw (%s)",
			    store_reason(rc));
	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		long backoff;
		w->kick = false;
		pthread_mutex_unlock(&w->lock);
		follow_rotation(w);
		rc = sweep_batch(w);
		failures = rc < 0 ? failures + 1 : 0;
		backoff = failures ? (long)KEY_SWEEP_POLL_MS << (failures < 6 ? failures - 1 : 5)
				   : KEY_SWEEP_POLL_MS;
		if (rc < 0)
			plugin_logf(w->plugin, MMPLUGIN_LOG_ERROR,
				    "key sweep: a step failed (%s); retrying in %ld s",
				    store_reason(rc), backoff / 1000);
		pthread_mutex_lock(&w->lock);
		if (!w->stopping)
			wait_ms(w, rc == 1 ? w->pause_ms : rc < 0 ? backoff : KEY_SWEEP_POLL_MS);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int key_sweep_start(struct key_sweep *w, struct apps_plugin *p, struct key_store *ks, size_t batch,
		    long pause_ms)
{
	unsigned char id[16];

	memset(w, 0, sizeof(*w));
	w->plugin = p;
	w->ks = ks;
	w->batch = batch;
	w->pause_ms = pause_ms;
	randombytes_buf(id, sizeof(id));
	sodium_bin2hex(w->node, sizeof(w->node), id, sizeof(id));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, sweep_main, w) != 0) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		return -1;
	}
	w->started = true;
	return 0;
}

void key_sweep_kick(struct key_sweep *w)
{
	pthread_mutex_lock(&w->lock);
	w->kick = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void key_sweep_stop(struct key_sweep *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	if (key_lease_release(w->ks->st, w->node) != STORE_OK)
		plugin_log(w->plugin, MMPLUGIN_LOG_WARN,
			   "key sweep: the lease could not be released; another node takes it "
			   "over when it expires");
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	w->started = false;
}
