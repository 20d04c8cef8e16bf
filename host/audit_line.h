/*
 * One line of a node's audit trail (<data_dir>/audit/audit.log): the events
 * it may record, how a line is written and read back, its hash and its MAC.
 * This header is the specification of the file:
 *
 *   {"seq":12,"time":"2026-12-02T10:00:00.123Z","event":"login_succeeded",
 *    "actor":"<user id>","app_id":null,"target_user":null,
 *    "request_id":"<request id>","prev":"<64 hex>","mac":"<64 hex>"}
 *
 * on one line ending in '\n', the fields in this order, no spaces. seq
 * counts from 1 and grows by one per line, also across restarts. actor,
 * target_user and request_id are 26-character ids, app_id an App id, each
 * null when it does not apply. prev is the BLAKE2b-256 (hex) of the previous
 * line's bytes without their '\n' (AUDIT_GENESIS before the first line).
 * mac is the BLAKE2b-256 (hex), keyed with the audit key, of the line's
 * bytes before ,"mac": (so of every field, prev included). The audit key is
 * derived from the node's master key (master_key.h); nobody without it can
 * write a line that verifies.
 *
 * No line holds free text: the event is a name from a fixed list and every
 * other field an id checked for its shape, so no secret can reach the file.
 */
#ifndef HOST_AUDIT_LINE_H
#define HOST_AUDIT_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_KEY_LEN 32
#define AUDIT_HASH_LEN 32
#define AUDIT_HEX_LEN (AUDIT_HASH_LEN * 2)
#define AUDIT_LINE_MAX 512 /* bytes of a line, without its '\n' */
#define AUDIT_APP_ID_MAX 32
#define AUDIT_EVENT_MAX 32
#define AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
/* The event the writer records when it finds the file's last line cut by a
 * crash: that line stays, and this one chains to the line before it. */
#define AUDIT_EVENT_RECOVERED "audit_recovered"

enum audit_rc {
	AUDIT_OK = 0,
	AUDIT_EINVAL = -1,    /* an unknown event, or a field that is not an id */
	AUDIT_EIO = -2,       /* the line could not be written or made durable */
	AUDIT_ENOMEM = -3,    /* out of memory */
	AUDIT_EBUSY = -4,     /* too many events wait to be written (audit_record_async) */
	AUDIT_EMALFORMED = -5 /* audit_line_parse: not a line of this format */
};

/* Who may record an event. */
enum audit_from {
	AUDIT_FROM_HOST = 1,   /* logins, backups */
	AUDIT_FROM_PLUGIN = 2, /* through the host API: Apps, OAuth2 data, the flow, keys */
	AUDIT_FROM_WRITER = 4, /* the writer itself (AUDIT_EVENT_RECOVERED) */
	AUDIT_FROM_ANY = 7,
};

/* What a caller records. NULL (or "") for a field that does not apply. */
struct audit_event {
	const char *event;
	const char *actor;       /* the user who acted */
	const char *app_id;      /* the App concerned */
	const char *target_user; /* the user acted upon */
	const char *request_id;  /* the request that reported it (X-Request-Id) */
};

/* 0 when from may record ev: a known event of its side, and ids of the
 * right shape (user and request ids: 26 of Mattermost's id alphabet; App
 * ids: 1..32 of [A-Za-z0-9._-]). AUDIT_EINVAL otherwise. */
int audit_event_check(const struct audit_event *ev, unsigned from)
	__attribute__((warn_unused_result));

/* Writes the line (without '\n') for ev, already checked, as line seq
 * written at time_ms (ms since the epoch), after the line whose hash is
 * prev, MAC'd with key. Returns its length (at most AUDIT_LINE_MAX), or 0
 * when cap is too small. */
size_t audit_line_format(char *out, size_t cap, uint64_t seq, int64_t time_ms,
			 const struct audit_event *ev, const unsigned char prev[AUDIT_HASH_LEN],
			 const unsigned char key[AUDIT_KEY_LEN]);

/* The hash a following line's prev names: BLAKE2b-256 of line[0..len). */
void audit_line_hash(const char *line, size_t len, unsigned char out[AUDIT_HASH_LEN]);

/* A line read back. */
struct audit_line {
	uint64_t seq;
	unsigned char prev[AUDIT_HASH_LEN];
	char event[AUDIT_EVENT_MAX + 1];
};

/* Reads line[0..len) (without '\n'): AUDIT_OK with *out filled, or
 * AUDIT_EMALFORMED when it is not a line of this format (fields, order,
 * types). *mac_ok (may be NULL) says whether its MAC matches under key (not
 * checked when key is NULL). */
int audit_line_parse(const char *line, size_t len, const unsigned char *key, struct audit_line *out,
		     bool *mac_ok) __attribute__((warn_unused_result));

#endif
