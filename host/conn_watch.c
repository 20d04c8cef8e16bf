#include "conn_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "banned.h"

#define WATCH_TICK_MS 250
/* Under pressure, a waiting connection younger than this is left alone: it
 * may be a client that just connected and is sending its head. */
#define ROOM_MIN_WAIT_MS 1000

int64_t conn_watch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cut(struct conn_watch *w, struct conn_watched *c, enum conn_cut why)
{
	int expected = CONN_CUT_NONE;

	if (!atomic_compare_exchange_strong(&c->cut, &expected, (int)why))
		return;
	w->cut_count++;
	/* Both directions: the client reads the end of the stream at once,
	 * and libmicrohttpd's next read sees it too. */
	shutdown(c->fd, SHUT_RDWR);
}

static int older_first(const void *a, const void *b)
{
	const struct conn_watched *x = *(struct conn_watched *const *)a;
	const struct conn_watched *y = *(struct conn_watched *const *)b;
	long long sx = atomic_load_explicit(&x->since_ms, memory_order_relaxed);
	long long sy = atomic_load_explicit(&y->since_ms, memory_order_relaxed);

	return sx < sy ? -1 : sx > sy;
}

/* Caller holds the lock. */
static void scan(struct conn_watch *w, int64_t now)
{
	size_t keep = w->max_connections - w->max_connections / 8, candidates = 0;
	size_t room = 0;

	for (struct conn_watched *c = w->list.next; c != &w->list; c = c->next) {
		int phase = atomic_load_explicit(&c->phase, memory_order_acquire);
		int64_t age = now - atomic_load_explicit(&c->since_ms, memory_order_relaxed);

		if (atomic_load_explicit(&c->cut, memory_order_relaxed) != CONN_CUT_NONE)
			continue;
		if (phase == CONN_WAITING && age > w->head_ms)
			cut(w, c, CONN_CUT_HEAD);
		else if (phase == CONN_BODY && age > w->body_ms)
			cut(w, c, CONN_CUT_BODY);
		else if (phase == CONN_WAITING && age >= ROOM_MIN_WAIT_MS) {
			w->scratch[candidates++] = c;
		}
	}
	if (w->count - w->cut_count > keep && candidates) {
		size_t need = w->count - w->cut_count - keep;
		qsort(w->scratch, candidates, sizeof(w->scratch[0]), older_first);
		for (size_t i = 0; i < candidates && i < need; i++, room++)
			cut(w, w->scratch[i], CONN_CUT_ROOM);
	}
	if (room) {
		char n[24];
		snprintf(n, sizeof(n), "%zu", room);
		log_kv(LOG_WARN, "connections nearly exhausted; closed waiting ones", "closed", n,
		       NULL);
	}
}

static void *watch_run(void *arg)
{
	struct conn_watch *w = arg;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += WATCH_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &until);
		if (!w->stop)
			scan(w, conn_watch_now_ms());
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int conn_watch_start(struct conn_watch *w, size_t max_connections, int64_t head_ms, int64_t body_ms)
{
	pthread_condattr_t ca;

	memset(w, 0, sizeof(*w));
	w->list.next = w->list.prev = &w->list;
	w->max_connections = max_connections ? max_connections : 1;
	w->head_ms = head_ms;
	w->body_ms = body_ms;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* The list may briefly hold a few more than max_connections (a
	 * connection is removed after libmicrohttpd stops counting it). */
	w->scratch = calloc(w->max_connections + 64, sizeof(*w->scratch));
	if (!w->scratch)
		goto fail;
	if (pthread_create(&w->thread, NULL, watch_run, w) != 0)
		goto fail;
	w->started = true;
	return 0;
fail:
	free(w->scratch);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	return -1;
}

void conn_watch_stop(struct conn_watch *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	free(w->scratch);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	w->started = false;
}

void conn_watch_add(struct conn_watch *w, struct conn_watched *c, int fd)
{
	c->fd = fd;
	atomic_store(&c->cut, CONN_CUT_NONE);
	conn_watch_phase(c, CONN_WAITING, conn_watch_now_ms());
	pthread_mutex_lock(&w->lock);
	if (w->count >= w->max_connections + 64) {
		/* Not watched (cannot happen while libmicrohttpd enforces
		 * max_connections); it still has libmicrohttpd's timeout. */
		c->prev = c->next = c;
		pthread_mutex_unlock(&w->lock);
		return;
	}
	c->next = &w->list;
	c->prev = w->list.prev;
	w->list.prev->next = c;
	w->list.prev = c;
	w->count++;
	pthread_mutex_unlock(&w->lock);
}

void conn_watch_remove(struct conn_watch *w, struct conn_watched *c)
{
	pthread_mutex_lock(&w->lock);
	if (c->next != c) {
		c->prev->next = c->next;
		c->next->prev = c->prev;
		w->count--;
		if (atomic_load(&c->cut) != CONN_CUT_NONE)
			w->cut_count--;
	}
	c->prev = c->next = c;
	pthread_mutex_unlock(&w->lock);
}
