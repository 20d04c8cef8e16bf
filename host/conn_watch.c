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

static int room_order(const void *a, const void *b)
{
	const struct conn_room *x = a, *y = b;

	if (x->slow_body != y->slow_body)
		return x->slow_body - y->slow_body;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/*
 * Whether a body that has been arriving for age ms (at least
 * ROOM_MIN_WAIT_MS) gives up its connection under pressure: slower than
 * CONN_BODY_MIN_RATE, or, at its pace so far, not complete before its
 * deadline (it would be cut then anyway). *rate gets its bytes a second.
 */
static bool body_is_slow(const struct conn_watch *w, const struct conn_watched *c, int64_t age,
			 int64_t *rate)
{
	int64_t got = atomic_load_explicit(&c->body_got, memory_order_relaxed);
	int64_t total = atomic_load_explicit(&c->body_total, memory_order_relaxed);

	*rate = got * 1000 / age;
	if (*rate < CONN_BODY_MIN_RATE)
		return true;
	/* The rest at this pace takes (total - got) * age / got ms; bodies are
	 * at most a few MiB and ages a few hours, so the products fit. */
	return total > got && age < w->body_ms && (total - got) * age > got * (w->body_ms - age);
}

/* Caller holds the lock. */
static void scan(struct conn_watch *w, int64_t now)
{
	size_t keep = w->max_connections - w->max_connections / 8, candidates = 0;
	size_t room = 0;

	for (struct conn_watched *c = w->list.next; c != &w->list; c = c->next) {
		int phase = atomic_load_explicit(&c->phase, memory_order_acquire);
		int64_t since = atomic_load_explicit(&c->since_ms, memory_order_relaxed);
		int64_t age = now - since, rate;

		if (atomic_load_explicit(&c->cut, memory_order_relaxed) != CONN_CUT_NONE)
			continue;
		if (phase == CONN_WAITING && age > w->head_ms)
			cut(w, c, CONN_CUT_HEAD);
		else if (phase == CONN_BODY && age > w->body_ms)
			cut(w, c, CONN_CUT_BODY);
		else if (age < ROOM_MIN_WAIT_MS || candidates == w->scratch_len)
			continue;
		else if (phase == CONN_WAITING)
			w->scratch[candidates++] = (struct conn_room){ c, 0, since };
		else if (phase == CONN_BODY && body_is_slow(w, c, age, &rate))
			w->scratch[candidates++] = (struct conn_room){ c, 1, rate };
	}
	if (w->count - w->cut_count > keep && candidates) {
		size_t need = w->count - w->cut_count - keep;
		qsort(w->scratch, candidates, sizeof(w->scratch[0]), room_order);
		for (size_t i = 0; i < candidates && i < need; i++, room++)
			cut(w, w->scratch[i].c, CONN_CUT_ROOM);
	}
	if (room) {
		char n[24];
		snprintf(n, sizeof(n), "%zu", room);
		log_kv(LOG_WARN, "connections nearly exhausted; closed idle and slow ones",
		       "closed", n, NULL);
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
	w->scratch_len = w->max_connections + 64;
	w->scratch = calloc(w->scratch_len, sizeof(*w->scratch));
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
	atomic_store(&c->body_got, 0);
	atomic_store(&c->body_total, -1);
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
