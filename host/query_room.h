/*
 * Whether libmicrohttpd 0.9.75 can hold a request's query arguments in the
 * connection's memory pool (MHD_OPTION_CONNECTION_MEMORY_LIMIT).
 *
 * Right after the URI log callback, libmicrohttpd parses the query and
 * takes one struct MHD_HTTP_Header per argument from the end of the pool
 * (7 pointer-sized members, rounded to 2 pointers: 64 bytes on LP64). The
 * read buffer sits at the pool's start and holds every byte read so far:
 * the request line and whatever followed it in the same reads. When an
 * argument does not fit, 0.9.75 queues a 431 but then overwrites the
 * connection's state and waits for bytes it no longer has room to read: the
 * request is dropped without an answer or a completion, and the connection
 * stays open until its idle timeout.
 *
 * How full the read buffer is at that moment: a buffer starts at half the
 * pool (after a keep-alive request it is reset to half the pool); when a
 * request line is longer, it grows by an eighth of the free room at a time
 * (at most a sixteenth of the pool), so it holds at most the line plus one
 * such step. The host cannot see what followed the line, so it counts the
 * worst case:
 *
 *   args * QUERY_ROOM_ARG_BYTES + max(pool / 2, line + pool / 16)
 *        + QUERY_ROOM_MARGIN <= pool
 *
 * where line is the target plus QUERY_ROOM_LINE_SLACK (method, version,
 * CRLF). With the host's 32 KiB pool that is 240 short arguments, or 50
 * arguments in a target of up to about 26 KiB; libmicrohttpd itself drops
 * 50 arguments from about 29.5 KiB on. What this cannot see (a long method,
 * a pipelined request read together with the end of a large one) may still
 * be dropped: such a connection ends at its head deadline, and the drain
 * does not wait for it (a request counts from its complete head).
 */
#ifndef HOST_QUERY_ROOM_H
#define HOST_QUERY_ROOM_H

#include <stdbool.h>
#include <stddef.h>

/* One argument's record in the pool: sizeof(struct MHD_HTTP_Header) rounded
 * up to libmicrohttpd's alignment of two pointers. */
#define QUERY_ROOM_ARG_BYTES (8 * sizeof(void *))
/* The rest of a request line around its target: a method of up to 48
 * bytes, two spaces, "HTTP/1.1", CRLF. */
#define QUERY_ROOM_LINE_SLACK 64
/* Room kept free: rounding, a red zone per record in a libmicrohttpd built
 * with AddressSanitizer, a little of what may follow the line. */
#define QUERY_ROOM_MARGIN 1024

/* How many arguments libmicrohttpd parses out of target[0..len) (the raw
 * request target): one per '&'-separated piece after the first '?', an
 * empty query none. May count one too many (a trailing '&'), never fewer. */
size_t query_room_args(const char *target, size_t len);

/* True when a request line with target_len bytes of target and args query
 * arguments leaves libmicrohttpd room for its arguments in a pool of
 * pool_bytes, with the margin above. */
bool query_room_fits(size_t target_len, size_t args, size_t pool_bytes);

#endif
