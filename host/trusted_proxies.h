/*
 * Reverse proxies the host believes (config "trusted_proxies": a list of
 * CIDRs such as "10.0.0.0/8", "192.0.2.7", "2001:db8::/32"), and the
 * client address of a request that came through them.
 *
 * Only a connection from a trusted proxy has its X-Forwarded-For and
 * X-Forwarded-Proto read; from anyone else they are ignored, whatever they
 * say. X-Forwarded-For is walked from its right end (the hop nearest to
 * the host; several X-Forwarded-For headers count as one list in their
 * order): each trusted address is a proxy and the walk goes on; the first
 * address that is not trusted is the client. When every address is
 * trusted, the leftmost is the client. An entry that is not a bare IP
 * address (a port, "unknown", garbage) ends the walk: the client is then
 * the last trusted hop seen, never the unparsable text. IPv4-mapped IPv6
 * addresses are compared and written as IPv4.
 */
#ifndef HOST_TRUSTED_PROXIES_H
#define HOST_TRUSTED_PROXIES_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TRUSTED_PROXIES_MAX 64
#define PROXY_ENTRY_MAX 64 /* bytes of one CIDR as written */
#define XFF_HOPS_MAX 32    /* X-Forwarded-For entries walked at most */
#define XFF_HEADERS_MAX 8  /* X-Forwarded-For headers read at most */
#define CLIENT_ADDR_MAX INET6_ADDRSTRLEN

struct proxy_net {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix; /* bits */
	uint8_t addr[16];
};

struct trusted_proxies {
	size_t len;
	struct proxy_net nets[TRUSTED_PROXIES_MAX];
};

/* Adds one CIDR: an IPv4 or IPv6 address, optionally "/bits" (0..32,
 * 0..128); a bare address is that host alone. Strict: bits past the
 * prefix must be zero ("10.0.0.1/8" is refused: write 10.0.0.0/8), no
 * spaces, no host names. 0, or -1 with one line naming the entry in err. */
int trusted_proxies_add(struct trusted_proxies *tp, const char *cidr, char *err, size_t err_cap)
	__attribute__((warn_unused_result));

/* Whether the socket address sa is in one of the networks. */
bool trusted_proxies_match_sockaddr(const struct trusted_proxies *tp, const struct sockaddr *sa);

/* The client address of a request from a trusted proxy peer: the
 * X-Forwarded-For values xff[0..n) (header order) walked as above, written
 * in canonical form into out. With no usable entry, out gets peer. */
void trusted_proxies_client(const struct trusted_proxies *tp, const char *const *xff, size_t n,
			    const char *peer, char *out, size_t cap);

/* Whether an X-Forwarded-Proto value says https: its last comma-separated
 * entry (the nearest proxy's), trimmed, compared without regard to case. */
bool forwarded_proto_is_https(const char *value);

#endif
