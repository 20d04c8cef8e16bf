/*
 * Connections per client address group, the host's per-IP limit
 * (limits.per_ip_connections).
 *
 * A group is an IPv4 address, or an IPv6 /64: an IPv6 host is usually
 * handed a whole /64 and picks addresses from it freely, so counted per
 * exact address (as libmicrohttpd's own limit counts) one machine could
 * take every connection the server has. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, what a dual-stack listener sees of an IPv4 client)
 * counts as its IPv4 address, never as the /64 all IPv4 clients share.
 *
 * The table holds a count per group, at most max_connections + 64 groups
 * (libmicrohttpd admits at most max_connections at a time), in open
 * addressing keyed by SipHash with a key drawn at start, so that nobody can
 * choose addresses that collide. Thread-safe (one mutex: a take when a
 * connection starts, a give when it closes).
 */
#ifndef HOST_ADDR_LIMIT_H
#define HOST_ADDR_LIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define ADDR_KEY_LEN 9 /* family, then 4 (IPv4) or 8 (IPv6 /64) bytes */

struct addr_key {
	unsigned char b[ADDR_KEY_LEN];
};

struct addr_slot {
	struct addr_key key;
	unsigned count; /* 0: free */
};

struct addr_limit {
	pthread_mutex_t lock;
	struct addr_slot *slots;
	size_t mask; /* slots - 1 (a power of two) */
	size_t used;
	unsigned per_group;
	unsigned char hash_key[16];
};

/* 0, or -1 when memory could not be had. */
int addr_limit_init(struct addr_limit *l, size_t max_connections, unsigned per_group)
	__attribute__((warn_unused_result));
void addr_limit_destroy(struct addr_limit *l);

/* The group of a client address (AF_INET or AF_INET6; anything else is a
 * group of its own family). */
void addr_key_of(const struct sockaddr *sa, struct addr_key *out);

/* Counts one more connection of group k: false (nothing counted) when the
 * group has per_group already, or the table is full. */
bool addr_limit_take(struct addr_limit *l, const struct addr_key *k);

/* A connection of group k (counted by addr_limit_take) closed. */
void addr_limit_give(struct addr_limit *l, const struct addr_key *k);

#endif
