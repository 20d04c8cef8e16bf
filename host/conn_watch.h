/*
 * Deadlines for slow clients, and room for new ones.
 *
 * libmicrohttpd's idle timeout restarts with every byte, so a client that
 * sends one byte a second can hold a connection for ever, and enough of them
 * take every connection the server has (slowloris). The watcher bounds the
 * whole of each phase instead:
 *   - waiting: from the moment a connection is ready for a request (accepted,
 *     or its previous answer sent) its request head must be complete within
 *     head_ms (the idle timeout: an idle keep-alive connection is closed at
 *     the same moment either way);
 *   - body: the request body must be complete within body_ms of its head;
 *   - serving: the handler runs or the answer is being sent; no deadline
 *     here (handlers have their own, libmicrohttpd's idle timeout covers a
 *     client that stops reading).
 * And when more than 7/8 of max_connections are open, connections that make
 * no use of theirs are closed, down to 7/8, to make room for new clients:
 * first those that have waited 1 s or more for a head (idle keep-alive
 * connections, half-sent heads), oldest first; then bodies that have been
 * arriving for 1 s or more slower than CONN_BODY_MIN_RATE, or too slowly
 * to be complete by their deadline, slowest first. A client that sends a
 * whole head and then its body a byte at a time is no cheaper to keep than
 * one that sends half a head.
 *
 * A connection is cut with shutdown(2) on its socket: libmicrohttpd sees the
 * end of the stream and closes it on its own thread, calling the request's
 * completion as for a client that went away. The socket is only ever shut
 * down under the watcher's lock, and libmicrohttpd only closes it after
 * conn_watch_remove (its connection-closed notification), so the descriptor
 * is never one that was reused.
 *
 * Threading: add and remove take the lock (once per connection); phase
 * changes are lock-free stores by the connection's own I/O thread.
 */
#ifndef HOST_CONN_WATCH_H
#define HOST_CONN_WATCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum conn_phase {
	CONN_WAITING = 0, /* for a complete request head */
	CONN_BODY = 1,    /* for the rest of the body */
	CONN_SERVING = 2, /* handler, held answer, or sending */
};

/* Why the watcher cut a connection (0: it did not). */
enum conn_cut {
	CONN_CUT_NONE = 0,
	CONN_CUT_HEAD = 1, /* the head took longer than head_ms */
	CONN_CUT_BODY = 2, /* the body took longer than body_ms */
	CONN_CUT_ROOM = 3, /* closed to make room for new clients */
};

/* Under pressure, a body arriving slower than this (bytes a second, over
 * the whole body so far) is closed to make room. A body is sent right after
 * its head by every client that means it; this is Apache
 * mod_reqtimeout's default MinRate for bodies (500) twice over, and it
 * applies only when connections run short. */
#define CONN_BODY_MIN_RATE 1024

/* One watched connection, embedded in the HTTP layer's connection state. */
struct conn_watched {
	struct conn_watched *prev, *next; /* under the watch's lock */
	int fd;
	atomic_int phase;        /* enum conn_phase */
	atomic_llong since_ms;   /* monotonic ms when the phase began */
	atomic_int cut;          /* enum conn_cut */
	atomic_llong body_got;   /* CONN_BODY: bytes of the body received */
	atomic_llong body_total; /* CONN_BODY: its Content-Length, -1 unknown */
};

/* A connection the room pass may close, and how much it deserves to stay. */
struct conn_room {
	struct conn_watched *c;
	int slow_body; /* 0: waits for a head (closed first); 1: a slow body */
	int64_t rank;  /* lower goes first: since_ms for heads, bytes a second for bodies */
};

struct conn_watch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started;
	bool stop;
	struct conn_watched list; /* sentinel of a circular list */
	size_t count;             /* connections in the list */
	size_t cut_count;         /* of which already cut, not yet closed */
	size_t max_connections;
	int64_t head_ms, body_ms;
	struct conn_room *scratch; /* for the room pass */
	size_t scratch_len;        /* max_connections + 64 */
};

/* Monotonic milliseconds (CLOCK_MONOTONIC_COARSE: no system call). */
int64_t conn_watch_now_ms(void);

/* Starts the watcher thread. 0, or -1 when memory or a thread could not be
 * had. */
int conn_watch_start(struct conn_watch *w, size_t max_connections, int64_t head_ms, int64_t body_ms)
	__attribute__((warn_unused_result));

/* Stops the thread and frees the watch. Every connection must have been
 * removed (the HTTP daemon is stopped first). */
void conn_watch_stop(struct conn_watch *w);

/* A connection was accepted (waiting for its first head) / is closing. */
void conn_watch_add(struct conn_watch *w, struct conn_watched *c, int fd);
void conn_watch_remove(struct conn_watch *w, struct conn_watched *c);

/* The connection's own thread moves it to phase p, starting at now_ms. */
static inline void conn_watch_phase(struct conn_watched *c, enum conn_phase p, int64_t now_ms)
{
	atomic_store_explicit(&c->since_ms, now_ms, memory_order_relaxed);
	atomic_store_explicit(&c->phase, (int)p, memory_order_release);
}

/* The connection's own thread moves it to CONN_BODY for a body of total
 * bytes (-1: not known, chunked), starting at now_ms. */
static inline void conn_watch_body_start(struct conn_watched *c, int64_t total, int64_t now_ms)
{
	atomic_store_explicit(&c->body_got, 0, memory_order_relaxed);
	atomic_store_explicit(&c->body_total, total, memory_order_relaxed);
	conn_watch_phase(c, CONN_BODY, now_ms);
}

/* The connection's own thread says how much of the body it has (a relaxed
 * store per piece read: the watcher only needs an estimate). */
static inline void conn_watch_body_got(struct conn_watched *c, int64_t got)
{
	atomic_store_explicit(&c->body_got, got, memory_order_relaxed);
}

#endif
