/*
 * A fixed pool of threads running handlers, fed by a bounded queue. The HTTP
 * threads only read and write sockets; a request's handler (the host's own
 * or a plugin's serve_http, which may wait seconds on an App) runs here while
 * its connection is suspended, so a slow handler never holds up other
 * connections. A full queue is refused at once (the server answers 503).
 */
#ifndef HOST_WORK_POOL_H
#define HOST_WORK_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

typedef void (*work_fn)(void *arg);

struct work_item {
	work_fn fn;
	void *arg;
};

struct work_pool {
	pthread_t *threads;
	size_t nthreads;
	struct work_item *ring;
	size_t cap, head, count;
	bool stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

/* 0, or -1 when threads or memory could not be had. */
int work_pool_start(struct work_pool *p, size_t threads, size_t queue_cap)
	__attribute__((warn_unused_result));

/* Queues fn(arg). 0, or -1 when the queue is full or the pool stopping. */
int work_pool_submit(struct work_pool *p, work_fn fn, void *arg)
	__attribute__((warn_unused_result));

/* Runs what is queued, then joins every thread. Later submits fail (-1). */
void work_pool_stop(struct work_pool *p);

/* Frees the pool, after work_pool_stop and once nobody can submit. */
void work_pool_destroy(struct work_pool *p);

#endif
