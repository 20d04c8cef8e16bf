/*
 * The key sweep: after a rotation, a background thread opens every sealed
 * record named by an older key and seals it again under the current one, a
 * batch at a time (setting key_sweep_batch, default 256 records), each batch
 * with its progress in one commit, pausing key_sweep_pause_ms between
 * batches. Requests go on meanwhile: a batch holds the store's writer for
 * its own commit only, and a record is re-sealed only when it still holds
 * the bytes the sweep read (compare-and-set in the batch's transaction), so
 * a newer write is never overwritten; it already carries the new key.
 *
 * Progress is the row "sweep" of the table "keys" (JSON: state "withdrawing",
 * "running" or "idle", key, table, after, done, total, resealed, pass): a restarted node resumes
 * where the last batch ended. On a cluster one node sweeps at a time: it holds the row
 * "sweep_lease" ({node, until}), taken and renewed by compare-and-set before each batch, released
 * at deactivate, and taken over by another node once it expired (KEY_SWEEP_LEASE_MS after the last
 * batch of a node that died).
 *
 * A rotation leaves the progress "withdrawing": the thread's first step
 * withdraws the older keys (key_store_withdraw, the rotation's second
 * transaction; it may wait for writers still sealing under them, and is
 * retried after a failure with a backoff from 1 s doubling up to 32 s),
 * then the first batch starts: no record commits under a withdrawn key
 * after that (key_current.h), so one pass finds them all. At start the
 * thread also withdraws older keys a store of an earlier release left
 * unwithdrawn (starting the sweep over). A pass ends at the end of the last sealed table; when
 * records named by other keys remain (ones that do not open, which verify reports, or written by a
 * node of an earlier release during a rolling upgrade), another pass runs, at most KEY_SWEEP_PASSES
 * in all. The same thread polls the store's current key id every second, so that a node learns of a
 * rotation made elsewhere before its next write has to.
 */
#ifndef PLUGIN_KEY_SWEEP_H
#define PLUGIN_KEY_SWEEP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "key_store.h"

#define KEY_SWEEP_BATCH_DEFAULT 256
#define KEY_SWEEP_BATCH_MAX APPS_SCAN_MAX
#define KEY_SWEEP_PAUSE_MAX_MS 60000
#define KEY_SWEEP_LEASE_MS 15000
#define KEY_SWEEP_PASSES 3
#define KEY_SWEEP_POLL_MS 1000

struct apps_plugin;

struct key_sweep {
	struct apps_plugin *plugin;
	struct key_store *ks;
	size_t batch;
	long pause_ms;
	char node[33]; /* this node's lease holder id: 16 random bytes, hex */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	bool kick;
	bool started;
};

/* The sweep's progress, as GET admin/keys shows it. */
struct key_sweep_progress {
	bool running;
	bool withdrawing; /* running, and the older keys are not withdrawn yet */
	uint32_t key;     /* the key records are sealed again under */
	unsigned table, pass;
	uint64_t done, total, resealed;
	unsigned char after[512]; /* the last key of the last batch in table */
	size_t after_len;
};

/* Reads the progress row: a store that never rotated is idle, 0 of 0. 0 or
 * a store error. */
int key_sweep_progress_read(struct apps_store *st, struct key_sweep_progress *pr)
	__attribute__((warn_unused_result));

/* The progress row of a sweep starting now towards key with total records
 * to visit (malloc'd JSON text, *len bytes; NULL when out of memory), for
 * key_store_rotate to write with the new key. */
char *key_sweep_start_row(uint32_t key, uint64_t total, size_t *len);

/* Starts the thread (it resumes a sweep left running). 0 or -1. */
int key_sweep_start(struct key_sweep *w, struct apps_plugin *p, struct key_store *ks, size_t batch,
		    long pause_ms) __attribute__((warn_unused_result));
/* Wakes the thread now (after a rotation). */
void key_sweep_kick(struct key_sweep *w);
/* Stops the thread after its batch and releases the lease. */
void key_sweep_stop(struct key_sweep *w);

#endif
