/* Room for new clients: when connections run short, the watcher closes
 * those that make no use of theirs (waiting for a head, then slow bodies,
 * slowest first) and leaves bodies that arrive at a fair pace alone.
 * Connections are socket pairs; a closed one reads the end of the stream
 * on its other side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "conn_watch.h"

#define MAX 16 /* room is made down to 14 */

static struct conn_watch w;
static struct conn_watched conns[MAX + 2];
static int peers[MAX + 2];

static int setup(void **state)
{
	(void)state;
	if (conn_watch_start(&w, MAX, 60000, 60000) != 0)
		return -1;
	for (int i = 0; i < MAX + 2; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
			return -1;
		memset(&conns[i], 0, sizeof(conns[i]));
		conns[i].fd = sv[0];
		peers[i] = sv[1];
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < MAX + 2; i++) {
		conn_watch_remove(&w, &conns[i]);
		close(conns[i].fd);
		close(peers[i]);
	}
	conn_watch_stop(&w);
	return 0;
}

static int is_closed(int i)
{
	char b;

	return recv(peers[i], &b, 1, MSG_DONTWAIT) == 0;
}

/* Waits (at most 5 s: the watcher looks every 250 ms) until n of the
 * connections were closed. */
static void wait_closed(int n)
{
	for (int waited = 0; waited < 5000; waited += 50) {
		int closed = 0;
		for (int i = 0; i < MAX + 2; i++)
			closed += atomic_load(&conns[i].cut) != CONN_CUT_NONE;
		if (closed >= n)
			return;
		usleep(50 * 1000);
	}
}

static void body(int i, int64_t age_ms, int64_t total, int64_t got)
{
	int64_t now = conn_watch_now_ms();

	conn_watch_body_start(&conns[i], total, now - age_ms);
	conn_watch_body_got(&conns[i], got);
}

static void idle_heads_then_slow_bodies_make_room(void **state)
{
	int64_t now;

	(void)state;
	for (int i = 0; i < MAX; i++) {
		conn_watch_add(&w, &conns[i], conns[i].fd);
		conn_watch_phase(&conns[i], CONN_SERVING, conn_watch_now_ms());
	}
	now = conn_watch_now_ms();
	/* 0: has waited 5 s for a head. */
	conn_watch_phase(&conns[0], CONN_WAITING, now - 5000);
	/* 1: 100 bytes of 100,000 in 5 s (20 B/s). */
	body(1, 5000, 100000, 100);
	/* 2: half of 1 MB in 5 s: done well before its deadline. */
	body(2, 5000, 1000000, 500000);
	/* 3: a chunked body at 400 B/s. */
	body(3, 5000, -1, 2000);
	/* 4: 15 kB/s, but 700 kB to go would take 47 s of the 40 s left. */
	body(4, 20000, 1000000, 300000);
	/* 16 of 16: two must go, the idle one first. */
	wait_closed(2);
	assert_true(is_closed(0));
	assert_int_equal(atomic_load(&conns[0].cut), CONN_CUT_ROOM);
	assert_true(is_closed(1));
	for (int i = 2; i < MAX; i++)
		assert_false(is_closed(i));
	/* libmicrohttpd closes them; two new clients are being served. */
	conn_watch_remove(&w, &conns[0]);
	conn_watch_remove(&w, &conns[1]);
	for (int i = MAX; i < MAX + 2; i++) {
		conn_watch_add(&w, &conns[i], conns[i].fd);
		conn_watch_phase(&conns[i], CONN_SERVING, conn_watch_now_ms());
	}
	/* Then the slowest bodies: 3 and 4, never the fair one (2). */
	wait_closed(4);
	assert_true(is_closed(3));
	assert_true(is_closed(4));
	assert_false(is_closed(2));
	usleep(600 * 1000);
	assert_false(is_closed(2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(idle_heads_then_slow_bodies_make_room),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
