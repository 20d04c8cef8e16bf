#include "group_commit.h"

#include <string.h>

#include "plugin_metrics.h"
#include "banned.h"

void group_commit_init(struct group_commit *g, struct kv_env *kv)
{
	memset(g, 0, sizeof(*g));
	g->kv = kv;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
}

void group_commit_destroy(struct group_commit *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

static int apply_batch(MDB_txn *txn, void *arg)
{
	for (struct group_change *c = arg; c; c = c->next) {
		MDB_val k = { c->key_len, (void *)c->key }, v = { c->value_len, (void *)c->value };
		int rc;

		c->refused = c->check ? c->check(txn, c->check_arg) : 0;
		if (c->refused == MDB_MAP_FULL)
			return MDB_MAP_FULL;
		if (c->refused != 0)
			continue;
		rc = c->del ? mdb_del(txn, c->dbi, &k, NULL) : mdb_put(txn, c->dbi, &k, &v, 0);
		if (rc == MDB_NOTFOUND && c->del)
			continue;
		if (rc != 0)
			return rc == MDB_MAP_FULL ? MDB_MAP_FULL : KV_EIO;
	}
	return 0;
}

/* Takes at most GROUP_MAX queued changes off the queue. */
static struct group_change *take_batch(struct group_commit *g, size_t *n)
{
	struct group_change *first = g->head, *last = g->head;

	*n = 1;
	while (last->next && *n < GROUP_MAX) {
		last = last->next;
		(*n)++;
	}
	g->head = last->next;
	if (!g->head)
		g->tail = NULL;
	last->next = NULL;
	return first;
}

int group_commit_write(struct group_commit *g, struct group_change *c)
{
	c->next = NULL;
	c->done = false;
	c->refused = 0;
	pthread_mutex_lock(&g->lock);
	if (g->tail)
		g->tail->next = c;
	else
		g->head = c;
	g->tail = c;
	while (!c->done) {
		struct group_change *batch, *next;
		size_t n;
		int rc;

		if (g->leader) {
			pthread_cond_wait(&g->cond, &g->lock);
			continue;
		}
		g->leader = true;
		batch = take_batch(g, &n);
		pthread_mutex_unlock(&g->lock);
		rc = kv_write(g->kv, apply_batch, batch);
		pthread_mutex_lock(&g->lock);
		for (struct group_change *b = batch; b; b = next) {
			next = b->next; /* b may be gone once done is seen */
			b->rc = rc != 0 ? rc : b->refused;
			b->done = true;
		}
		g->commits++;
		g->changes += n;
		plugin_metrics_group_commit_batch(n);
		g->leader = false;
		pthread_cond_broadcast(&g->cond);
	}
	pthread_mutex_unlock(&g->lock);
	return c->rc;
}
