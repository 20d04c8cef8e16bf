#include "audit_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs_util.h"
#include "log.h"
#include "mm_id.h"
#include "banned.h"

/* The file's end read to continue the chain: a whole write that never
 * reached the disk may read back as zeros after a power cut (the size made
 * it, the data did not), so enough for a full batch and two lines. */
#define TAIL_MAX ((AUDIT_BATCH_MAX + 3) * (AUDIT_LINE_MAX + 1))
/* Gathering: while events keep arriving, a leader that wrote more than one
 * event last time waits GATHER_STEP_US at a time, at most GATHER_MAX_US,
 * before it takes its batch (see gather()). */
#define GATHER_STEP_US 50
#define GATHER_MAX_US 400
/* One write: the batch's lines, a recovery line and a closing '\n'. */
#define BUF_CAP ((AUDIT_BATCH_MAX + 1) * (AUDIT_LINE_MAX + 1) + 1)

/* One event waiting for its line. */
struct entry {
	struct entry *next;
	char event[AUDIT_EVENT_MAX + 1];
	char actor[MM_ID_LEN + 1];
	char app_id[AUDIT_APP_ID_MAX + 1];
	char target_user[MM_ID_LEN + 1];
	char request_id[MM_ID_LEN + 1];
	int rc;
	bool done;
	pthread_cond_t *wake; /* audit_record: its caller's; NULL for async */
	audit_done_fn done_fn;
	void *arg;
};

struct audit_log {
	int fd;
	char path[PATH_MAX];
	unsigned char *key; /* sodium_malloc'd, read-only */
	pthread_mutex_t lock;
	struct entry *head, *tail;
	size_t async_queued;
	size_t queued;     /* every entry waiting */
	size_t last_batch; /* events in the previous write */
	bool leading;
	/* Writes queued by audit_record_async when no caller leads. */
	pthread_t flusher;
	bool flusher_running;
	bool stopping;
	pthread_cond_t kick;
	/* The chain, touched by the leader only. known: the fields below
	 * describe the file up to end (else the leader reads the tail). */
	bool known;
	off_t end;
	uint64_t next_seq;
	unsigned char prev[AUDIT_HASH_LEN];
	char *buf;      /* BUF_CAP bytes, the leader's */
	char *tail_buf; /* TAIL_MAX bytes, the leader's */
	atomic_uint_fast64_t lines, syncs;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void copy_field(char *out, size_t cap, const char *in)
{
	snprintf(out, cap, "%s", in ? in : "");
}

static void entry_fill(struct entry *e, const struct audit_event *ev)
{
	copy_field(e->event, sizeof(e->event), ev->event);
	copy_field(e->actor, sizeof(e->actor), ev->actor);
	copy_field(e->app_id, sizeof(e->app_id), ev->app_id);
	copy_field(e->target_user, sizeof(e->target_user), ev->target_user);
	copy_field(e->request_id, sizeof(e->request_id), ev->request_id);
}

static struct audit_event entry_event(const struct entry *e)
{
	return (struct audit_event){ e->event, e->actor, e->app_id, e->target_user, e->request_id };
}

/* ---- the file's end ---- */

/* Index of the last '\n' in buf[0..end), or -1. */
static long last_newline(const char *buf, size_t end)
{
	for (size_t i = end; i > 0; i--) {
		if (buf[i - 1] == '\n')
			return (long)(i - 1);
	}
	return -1;
}

/* The chain goes on after line[0..len), whatever it holds: its hash is what
 * the next line names; its seq, when it is a line of ours, is counted on
 * (else the log is already broken there, which verify reports, and the
 * sequence starts again). */
static void continue_after(struct audit_log *a, const char *line, size_t len)
{
	struct audit_line l;

	audit_line_hash(line, len, a->prev);
	if (audit_line_parse(line, len, NULL, &l, NULL) == AUDIT_OK) {
		a->next_seq = l.seq + 1;
		return;
	}
	a->next_seq = 1;
	log_kv(LOG_ERROR, "the audit log's last line is not an audit line; run mmhost audit verify",
	       "path", a->path, NULL);
}

/*
 * Reads the end of the file (size bytes, under the lock) to continue the
 * chain. *close_cut: the last line lacks its '\n'; *recover: that line is cut
 * (not a whole line): it stays, and a recovery line chains past it to the
 * line before.
 */
static int read_tail(struct audit_log *a, off_t size, bool *close_cut, bool *recover)
{
	char *tail = a->tail_buf;
	size_t w = size < TAIL_MAX ? (size_t)size : TAIL_MAX, end, start;
	bool whole = (off_t)w == size;
	struct audit_line l;
	long nl;

	*close_cut = *recover = false;
	a->next_seq = 1;
	memset(a->prev, 0, sizeof(a->prev)); /* AUDIT_GENESIS */
	if (size == 0)
		return AUDIT_OK;
	if (pread(a->fd, tail, w, size - (off_t)w) != (ssize_t)w)
		return AUDIT_EIO;
	end = w;
	if (tail[w - 1] == '\n') {
		end = w - 1;
	} else {
		*close_cut = true;
		nl = last_newline(tail, w);
		start = nl < 0 ? 0 : (size_t)nl + 1;
		if (!(nl < 0 && !whole) &&
		    audit_line_parse(tail + start, w - start, NULL, &l, NULL) == AUDIT_OK) {
			continue_after(a, tail + start, w - start);
			return AUDIT_OK;
		}
		*recover = true;
		if (nl < 0) {
			/* Nothing whole before the cut line (or it is longer
			 * than any line): the chain starts afresh. */
			if (!whole)
				log_kv(LOG_ERROR,
				       "the audit log ends with bytes that are not audit lines; "
				       "run "
				       "mmhost audit verify",
				       "path", a->path, NULL);
			return AUDIT_OK;
		}
		end = (size_t)nl;
	}
	nl = last_newline(tail, end);
	if (nl < 0 && !whole) {
		continue_after(a, tail, 0); /* a line longer than any of ours */
		return AUDIT_OK;
	}
	start = nl < 0 ? 0 : (size_t)nl + 1;
	continue_after(a, tail + start, end - start);
	return AUDIT_OK;
}

/* ---- writing ---- */

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static size_t add_line(struct audit_log *a, size_t pos, const struct audit_event *ev, uint64_t *seq,
		       unsigned char prev[AUDIT_HASH_LEN])
{
	size_t n = audit_line_format(a->buf + pos, BUF_CAP - pos - 1, *seq, now_ms(), ev, prev,
				     a->key);

	if (n == 0)
		return 0;
	audit_line_hash(a->buf + pos, n, prev);
	a->buf[pos + n] = '\n';
	(*seq)++;
	return n + 1;
}

/* Writes the lines of batch[0..n) (n may be 0: only a recovery) in one
 * write and one fdatasync, under the file's lock. */
static int write_batch(struct audit_log *a, struct entry *const *batch, size_t n)
{
	static const struct audit_event recovered = { .event = AUDIT_EVENT_RECOVERED };
	unsigned char prev[AUDIT_HASH_LEN];
	bool close_cut = false, recover = false;
	struct stat st;
	uint64_t seq;
	size_t pos = 0, lines = 0;
	int rc = AUDIT_EIO;

	while (flock(a->fd, LOCK_EX) != 0) {
		if (errno != EINTR)
			return AUDIT_EIO;
	}
	if (fstat(a->fd, &st) != 0)
		goto fail;
	/* Another process (mmhost backup) appended, or our last write
	 * failed: the file says where the chain is. */
	if (!a->known || st.st_size != a->end) {
		if (read_tail(a, st.st_size, &close_cut, &recover) != AUDIT_OK)
			goto fail;
		a->known = true;
		a->end = st.st_size;
	}
	seq = a->next_seq;
	memcpy(prev, a->prev, sizeof(prev));
	if (close_cut)
		a->buf[pos++] = '\n';
	if (recover) {
		size_t m = add_line(a, pos, &recovered, &seq, prev);
		if (m == 0)
			goto fail;
		pos += m;
		lines++;
		log_kv(LOG_WARN, "the audit log's last line was cut short (a crash?); recorded",
		       "path", a->path, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		struct audit_event ev = entry_event(batch[i]);
		size_t m = add_line(a, pos, &ev, &seq, prev);
		if (m == 0)
			goto fail;
		pos += m;
		lines++;
	}
	if (pos > 0 && (write_all(a->fd, a->buf, pos) != 0 || fdatasync(a->fd) != 0)) {
		log_kv(LOG_ERROR, "the audit log could not be written", "path", a->path, "reason",
		       strerror(errno), NULL);
		goto fail; /* what reached the file is read back next time */
	}
	if (pos > 0) {
		atomic_fetch_add(&a->lines, lines);
		atomic_fetch_add(&a->syncs, 1);
	}
	a->end += (off_t)pos;
	a->next_seq = seq;
	memcpy(a->prev, prev, sizeof(prev));
	rc = AUDIT_OK;
	goto out;
fail:
	a->known = false;
out:
	flock(a->fd, LOCK_UN);
	return rc;
}

/* ---- group commit ---- */

/*
 * Writers come in waves: the store's group commit wakes its 64 writers one
 * after another, and the first to reach the trail would otherwise write
 * alone while the other 63 wait a whole fdatasync for the next write. So
 * when the last write held more than one event (writers are concurrent), the
 * leader lets the wave arrive: it waits while the queue keeps growing, a
 * short step at a time, never longer than a fraction of one sync. A lone
 * writer never waits.
 */
static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void gather(struct audit_log *a)
{
	const struct timespec step = { 0, GATHER_STEP_US * 1000 };
	int64_t until = mono_us() + GATHER_MAX_US;
	size_t seen = a->queued;

	if (a->last_batch < 2)
		return;
	while (a->queued < AUDIT_BATCH_MAX && mono_us() < until) {
		pthread_mutex_unlock(&a->lock);
		nanosleep(&step, NULL);
		pthread_mutex_lock(&a->lock);
		if (a->queued == seen)
			break;
		seen = a->queued;
	}
}

/* With the lock held and nobody leading: writes the events at the head of
 * the queue, completes them, and hands the lead to the next waiter. */
static void lead(struct audit_log *a)
{
	struct entry *batch[AUDIT_BATCH_MAX], *async_done = NULL, *e;
	size_t n = 0;
	int rc;

	a->leading = true;
	gather(a);
	while (a->head && n < AUDIT_BATCH_MAX) {
		batch[n++] = a->head;
		a->head = a->head->next;
	}
	a->queued -= n;
	a->last_batch = n;
	if (!a->head)
		a->tail = NULL;
	pthread_mutex_unlock(&a->lock);
	rc = write_batch(a, batch, n);
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < n; i++) {
		e = batch[i];
		e->rc = rc;
		e->done = true;
		if (e->wake) {
			pthread_cond_signal(e->wake); /* its caller runs once we unlock */
		} else {
			a->async_queued--;
			e->next = async_done;
			async_done = e;
		}
	}
	a->leading = false;
	if (a->head && a->head->wake)
		pthread_cond_signal(a->head->wake);
	else
		pthread_cond_signal(&a->kick); /* async events next, or close waits */
	if (!async_done)
		return;
	pthread_mutex_unlock(&a->lock);
	while ((e = async_done) != NULL) {
		async_done = e->next;
		e->done_fn(e->arg, e->rc);
		free(e);
	}
	pthread_mutex_lock(&a->lock);
}

static void enqueue(struct audit_log *a, struct entry *e)
{
	a->queued++;
	e->next = NULL;
	if (a->tail)
		a->tail->next = e;
	else
		a->head = e;
	a->tail = e;
}

int audit_record(struct audit_log *a, const struct audit_event *ev, unsigned from)
{
	pthread_cond_t wake;
	struct entry e = { .wake = &wake };

	if (!a || audit_event_check(ev, from) != AUDIT_OK)
		return AUDIT_EINVAL;
	entry_fill(&e, ev);
	pthread_cond_init(&wake, NULL);
	pthread_mutex_lock(&a->lock);
	enqueue(a, &e);
	while (!e.done) {
		if (!a->leading)
			lead(a);
		else
			pthread_cond_wait(&wake, &a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	pthread_cond_destroy(&wake);
	return e.rc;
}

static void *flusher_run(void *arg)
{
	struct audit_log *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		if (a->head && !a->leading) {
			lead(a);
			continue;
		}
		if (a->stopping && !a->head && !a->leading)
			break;
		pthread_cond_wait(&a->kick, &a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int audit_record_async(struct audit_log *a, const struct audit_event *ev, unsigned from,
		       audit_done_fn done, void *arg)
{
	struct entry *e;
	int rc = AUDIT_OK;

	if (!a || !done || audit_event_check(ev, from) != AUDIT_OK)
		return AUDIT_EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return AUDIT_ENOMEM;
	entry_fill(e, ev);
	e->done_fn = done;
	e->arg = arg;
	pthread_mutex_lock(&a->lock);
	if (a->async_queued >= AUDIT_ASYNC_MAX || a->stopping) {
		rc = AUDIT_EBUSY;
	} else if (!a->flusher_running) {
		if (pthread_create(&a->flusher, NULL, flusher_run, a) == 0)
			a->flusher_running = true;
		else
			rc = AUDIT_ENOMEM;
	}
	if (rc == AUDIT_OK) {
		enqueue(a, e);
		a->async_queued++;
		if (!a->leading)
			pthread_cond_signal(&a->kick);
	}
	pthread_mutex_unlock(&a->lock);
	if (rc != AUDIT_OK)
		free(e);
	return rc;
}

/* ---- open, close ---- */

static int open_file(struct audit_log *a, const char *data_dir, char *err, size_t cap)
{
	char dir[PATH_MAX];
	int n = snprintf(dir, sizeof(dir), "%s/" AUDIT_DIR, data_dir), dfd;

	if (n < 0 || (size_t)n >= sizeof(dir) ||
	    (size_t)snprintf(a->path, sizeof(a->path), "%s/" AUDIT_FILE, dir) >= sizeof(a->path)) {
		snprintf(err, cap, "the data folder path is too long");
		return AUDIT_EIO;
	}
	if (fs_mkdir_p(dir, 0700) != 0) {
		snprintf(err, cap, "cannot create the audit folder %s: %s", dir, strerror(errno));
		return AUDIT_EIO;
	}
	a->fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0) {
		snprintf(err, cap, "cannot open the audit log %s: %s", a->path, strerror(errno));
		return AUDIT_EIO;
	}
	/* The file's name is durable before its first line is. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return AUDIT_OK;
}

int audit_open(const char *data_dir, const unsigned char *key, struct audit_log **out, char *err,
	       size_t err_cap)
{
	struct audit_log *a = calloc(1, sizeof(*a));
	int rc = AUDIT_ENOMEM;

	*out = NULL;
	if (!a) {
		snprintf(err, err_cap, "out of memory");
		return AUDIT_ENOMEM;
	}
	a->fd = -1;
	a->key = sodium_malloc(AUDIT_KEY_LEN);
	a->buf = malloc(BUF_CAP);
	a->tail_buf = malloc(TAIL_MAX);
	if (!a->key || !a->buf || !a->tail_buf) {
		snprintf(err, err_cap, "out of memory");
		goto fail;
	}
	memcpy(a->key, key, AUDIT_KEY_LEN);
	sodium_mprotect_readonly(a->key);
	rc = open_file(a, data_dir, err, err_cap);
	if (rc != AUDIT_OK)
		goto fail;
	/* Reads the tail, and records a cut last line now rather than at
	 * the first event. */
	if (write_batch(a, NULL, 0) != AUDIT_OK) {
		snprintf(err, err_cap, "cannot read or write the audit log %s", a->path);
		rc = AUDIT_EIO;
		goto fail;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->kick, NULL);
	*out = a;
	return AUDIT_OK;
fail:
	if (a->fd >= 0)
		close(a->fd);
	if (a->key)
		sodium_free(a->key);
	free(a->buf);
	free(a->tail_buf);
	free(a);
	return rc;
}

void audit_close(struct audit_log *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	pthread_cond_signal(&a->kick);
	pthread_mutex_unlock(&a->lock);
	if (a->flusher_running)
		pthread_join(a->flusher, NULL);
	pthread_cond_destroy(&a->kick);
	pthread_mutex_destroy(&a->lock);
	close(a->fd);
	sodium_free(a->key);
	free(a->buf);
	free(a->tail_buf);
	free(a);
}

void audit_get_stats(const struct audit_log *a, struct audit_stats *out)
{
	out->lines = atomic_load(&a->lines);
	out->syncs = atomic_load(&a->syncs);
}

const char *audit_path(const struct audit_log *a)
{
	return a->path;
}
