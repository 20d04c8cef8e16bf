/*
 * A node's audit trail: the writer of <data_dir>/audit/audit.log, an
 * append-only file of hash-chained, MAC'd JSON lines (audit_line.h says what
 * a line holds). One per process that records events: `mmhost serve` (its
 * logins and its plugins' events) and `mmhost backup` (backup_taken).
 *
 * Durability: audit_record returns once the line is on disk (fdatasync), so
 * a caller records an event after the change it reports committed and before
 * answering the request that reports it. Concurrent events share one write
 * and one fdatasync (group commit: the first caller that finds no write in
 * progress leads, takes up to AUDIT_BATCH_MAX queued events, writes and
 * syncs them, and wakes exactly their callers plus the next leader).
 *
 * Two processes: every write happens under flock(LOCK_EX) on the file; the
 * leader first checks the file's size against where its own last write
 * ended and, when another process appended meanwhile, reads the last line
 * again to continue its sequence and chain. So `mmhost backup` appends to a
 * running server's log without breaking the chain. Readers (audit verify)
 * take LOCK_SH to see whole writes only.
 *
 * A crash can leave the last line cut short. At open (and whenever the
 * leader finds the tail so) the cut line is kept as it is, closed with a
 * '\n', and followed by an audit_recovered line that chains to the line
 * before it: the file never loses evidence, and `mmhost audit verify`
 * reports the cut line as recorded. A last line that is whole but lacks its
 * '\n' (cut right before it) just gets its '\n'.
 *
 * Thread-safe. Bounds: AUDIT_BATCH_MAX events per write; AUDIT_ASYNC_MAX
 * events queued by audit_record_async at once (past it AUDIT_EBUSY).
 */
#ifndef HOST_AUDIT_LOG_H
#define HOST_AUDIT_LOG_H

#include <stdint.h>

#include "audit_line.h"

#define AUDIT_BATCH_MAX 256
#define AUDIT_ASYNC_MAX 4096
#define AUDIT_DIR "audit"
#define AUDIT_FILE "audit.log"

struct audit_log;

/* Opens <data_dir>/audit/audit.log for appending (the folder is created 0700,
 * the file 0600), continuing the sequence of its last line; a cut last line
 * is recorded at once (see above). key (AUDIT_KEY_LEN bytes) is copied into
 * guarded memory. 0, AUDIT_EIO or AUDIT_ENOMEM with one line in err. */
int audit_open(const char *data_dir, const unsigned char *key, struct audit_log **out, char *err,
	       size_t err_cap) __attribute__((warn_unused_result));

/* Writes what audit_record_async queued, then closes. No other call may be
 * running or start. NULL is a no-op. */
void audit_close(struct audit_log *a);

/* Records ev, which from may record (audit_event_check), and returns once
 * its line is on disk. AUDIT_OK, AUDIT_EINVAL (nothing written), AUDIT_EIO
 * (the write or the sync failed: the line may or may not be in the file; the
 * error is logged). Blocks on the disk: not for a thread that must not
 * block. */
int audit_record(struct audit_log *a, const struct audit_event *ev, unsigned from)
	__attribute__((warn_unused_result));

/* Called once per audit_record_async that returned AUDIT_OK, with what
 * audit_record would have returned, from the thread that wrote the line
 * (another caller's, or the log's own). Must not block nor call into the
 * log. */
typedef void (*audit_done_fn)(void *arg, int rc);

/* Records ev without blocking: copies it, queues it and returns AUDIT_OK;
 * done(arg, rc) follows once the line is on disk (or failed). AUDIT_EINVAL,
 * AUDIT_EBUSY (AUDIT_ASYNC_MAX already queued), AUDIT_ENOMEM: done is never
 * called. */
int audit_record_async(struct audit_log *a, const struct audit_event *ev, unsigned from,
		       audit_done_fn done, void *arg) __attribute__((warn_unused_result));

/* Counters, for tests and benchmarks: lines written (recovery lines
 * included) and fdatasync calls made. */
struct audit_stats {
	uint64_t lines;
	uint64_t syncs;
};
void audit_get_stats(const struct audit_log *a, struct audit_stats *out);

/* The file's path; valid until audit_close. */
const char *audit_path(const struct audit_log *a);

#endif
