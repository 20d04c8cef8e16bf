#include "work_pool.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

static void *worker(void *arg)
{
	struct work_pool *p = arg;

	/* Named so that a profile (and the tests) tell workers from I/O
	 * threads. */
	pthread_setname_np(pthread_self(), "mmhost-worker");
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct work_item item;
		while (p->count == 0 && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->count == 0 && p->stop)
			break;
		item = p->ring[p->head];
		p->head = (p->head + 1) % p->cap;
		p->count--;
		pthread_mutex_unlock(&p->lock);
		item.fn(item.arg);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int work_pool_start(struct work_pool *p, size_t threads, size_t queue_cap)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->ring = calloc(queue_cap, sizeof(*p->ring));
	p->threads = calloc(threads, sizeof(*p->threads));
	p->cap = queue_cap;
	if (!p->ring || !p->threads)
		goto fail;
	for (; p->nthreads < threads; p->nthreads++) {
		if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) != 0)
			goto fail;
	}
	return 0;
fail:
	work_pool_stop(p);
	work_pool_destroy(p);
	return -1;
}

int work_pool_submit(struct work_pool *p, work_fn fn, void *arg)
{
	int rc = -1;

	pthread_mutex_lock(&p->lock);
	if (!p->stop && p->count < p->cap) {
		p->ring[(p->head + p->count) % p->cap] = (struct work_item){ fn, arg };
		p->count++;
		pthread_cond_signal(&p->cond);
		rc = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void work_pool_stop(struct work_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	p->nthreads = 0;
}

void work_pool_destroy(struct work_pool *p)
{
	free(p->threads);
	free(p->ring);
	p->threads = NULL;
	p->ring = NULL;
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}
