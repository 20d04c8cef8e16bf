#include "trusted_proxies.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "banned.h"

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* Parses a bare IP address s[0..n) into *family and addr (IPv4 in the
 * first 4 bytes; an IPv4-mapped IPv6 address becomes IPv4). */
static bool parse_ip(const char *s, size_t n, uint8_t *family, uint8_t addr[16])
{
	char buf[CLIENT_ADDR_MAX];

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, buf, addr) != 1)
		return false;
	if (memcmp(addr, v4_mapped, sizeof(v4_mapped)) == 0) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		*family = AF_INET;
		return true;
	}
	*family = AF_INET6;
	return true;
}

int trusted_proxies_add(struct trusted_proxies *tp, const char *cidr, char *err, size_t err_cap)
{
	struct proxy_net net = { 0 };
	size_t len = strnlen(cidr, PROXY_ENTRY_MAX + 1), alen;
	const char *slash = memchr(cidr, '/', len);
	unsigned max_bits;
	unsigned long bits;

	if (tp->len == TRUSTED_PROXIES_MAX) {
		snprintf(err, err_cap, "trusted_proxies: more than %d entries",
			 TRUSTED_PROXIES_MAX);
		return -1;
	}
	if (len == 0 || len > PROXY_ENTRY_MAX)
		goto bad;
	alen = slash ? (size_t)(slash - cidr) : len;
	/* inet_pton would take "::ffff:1.2.3.4" as IPv4 here: a mapped network
	 * is written as IPv4. */
	if (!parse_ip(cidr, alen, &net.family, net.addr))
		goto bad;
	max_bits = net.family == AF_INET ? 32 : 128;
	if (slash) {
		char *end;
		if (slash[1] < '0' || slash[1] > '9')
			goto bad;
		errno = 0;
		bits = strtoul(slash + 1, &end, 10);
		if (errno || *end != '\0' || bits > max_bits || (end - slash - 1) > 3)
			goto bad;
	} else {
		bits = max_bits;
	}
	net.prefix = (uint8_t)bits;
	for (unsigned b = net.prefix; b < max_bits; b++) {
		if (net.addr[b / 8] & (0x80u >> (b % 8))) {
			snprintf(err, err_cap,
				 "trusted_proxies: \"%.64s\" has address bits set past its prefix "
				 "length (write the network's first address)",
				 cidr);
			return -1;
		}
	}
	tp->nets[tp->len++] = net;
	return 0;
bad:
	snprintf(err, err_cap,
		 "trusted_proxies: \"%.64s\" is not an IP address or CIDR (e.g. 10.0.0.0/8, "
		 "192.0.2.7, 2001:db8::/32)",
		 cidr);
	return -1;
}

static bool in_net(const struct proxy_net *n, uint8_t family, const uint8_t addr[16])
{
	unsigned full = n->prefix / 8, rest = n->prefix % 8;

	if (n->family != family || memcmp(n->addr, addr, full) != 0)
		return false;
	return rest == 0 || ((n->addr[full] ^ addr[full]) & (uint8_t)(0xffu << (8 - rest))) == 0;
}

static bool match(const struct trusted_proxies *tp, uint8_t family, const uint8_t addr[16])
{
	for (size_t i = 0; i < tp->len; i++) {
		if (in_net(&tp->nets[i], family, addr))
			return true;
	}
	return false;
}

bool trusted_proxies_match_sockaddr(const struct trusted_proxies *tp, const struct sockaddr *sa)
{
	uint8_t addr[16] = { 0 };

	if (!tp || tp->len == 0 || !sa)
		return false;
	if (sa->sa_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return match(tp, AF_INET, addr);
	}
	if (sa->sa_family != AF_INET6)
		return false;
	memcpy(addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	if (memcmp(addr, v4_mapped, sizeof(v4_mapped)) == 0) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		return match(tp, AF_INET, addr);
	}
	return match(tp, AF_INET6, addr);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* The entries of the X-Forwarded-For list, right to left. */
struct hop_walk {
	const char *const *xff;
	size_t header;   /* the header being walked, counting down */
	const char *end; /* where the next entry to the left ends */
	bool started;
};

/* The next entry to the left, trimmed, in *s and *n; false past the start
 * of the first header. */
static bool next_hop(struct hop_walk *w, const char **s, size_t *n)
{
	const char *start, *e;

	if (!w->started) {
		if (w->header == 0)
			return false;
		w->header--;
		w->end = w->xff[w->header] + strlen(w->xff[w->header]);
		w->started = true;
	}
	start = w->xff[w->header];
	e = w->end;
	while (e > start && e[-1] != ',')
		e--;
	*s = e;
	*n = (size_t)(w->end - e);
	if (e > start)
		w->end = e - 1; /* before the comma */
	else
		w->started = false; /* this header is done: the one before it next */
	while (*n && is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_space((*s)[*n - 1]))
		(*n)--;
	return true;
}

void trusted_proxies_client(const struct trusted_proxies *tp, const char *const *xff, size_t n,
			    const char *peer, char *out, size_t cap)
{
	struct hop_walk w = { .xff = xff, .header = n > XFF_HEADERS_MAX ? XFF_HEADERS_MAX : n };
	uint8_t family = 0, addr[16], best_family = 0, best[16];
	bool have = false;
	const char *s;
	size_t len;

	for (int hops = 0; hops < XFF_HOPS_MAX && next_hop(&w, &s, &len); hops++) {
		if (len == 0 && hops == 0 && w.started)
			continue; /* a trailing comma */
		if (!parse_ip(s, len, &family, addr))
			break; /* not an address: the last trusted hop is all we know */
		memcpy(best, addr, sizeof(best));
		best_family = family;
		have = true;
		if (!match(tp, family, addr))
			break; /* the first untrusted hop from the right: the client */
	}
	if (!have || !inet_ntop(best_family, best, out, (socklen_t)cap))
		snprintf(out, cap, "%s", peer);
}

bool forwarded_proto_is_https(const char *value)
{
	const char *s;
	size_t n;

	if (!value)
		return false;
	s = strrchr(value, ',');
	s = s ? s + 1 : value;
	while (is_space(*s))
		s++;
	n = strlen(s);
	while (n && is_space(s[n - 1]))
		n--;
	return n == 5 && strncasecmp(s, "https", 5) == 0;
}
