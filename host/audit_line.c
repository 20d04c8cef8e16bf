#include "audit_line.h"

#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mm_id.h"
#include "banned.h"

#define TIME_LEN 24 /* 2026-12-02T10:00:00.123Z */
#define MAC_FIELD ",\"mac\":\""
/* ,"mac":"<64 hex>"} */
#define MAC_SUFFIX_LEN (sizeof(MAC_FIELD) - 1 + AUDIT_HEX_LEN + 2)

static const struct {
	const char *name;
	unsigned from;
} events[] = {
	{ "app_listed", AUDIT_FROM_PLUGIN },
	{ "app_installed", AUDIT_FROM_PLUGIN },
	{ "app_enabled", AUDIT_FROM_PLUGIN },
	{ "app_disabled", AUDIT_FROM_PLUGIN },
	{ "app_uninstalled", AUDIT_FROM_PLUGIN },
	{ "oauth2_client_stored", AUDIT_FROM_PLUGIN },
	{ "oauth2_user_stored", AUDIT_FROM_PLUGIN },
	{ "oauth2_user_deleted", AUDIT_FROM_PLUGIN },
	{ "oauth2_token_refreshed", AUDIT_FROM_PLUGIN },
	{ "oauth2_token_revoked", AUDIT_FROM_PLUGIN },
	{ "flow_connected", AUDIT_FROM_PLUGIN },
	{ "flow_failed", AUDIT_FROM_PLUGIN },
	{ "key_rotated", AUDIT_FROM_PLUGIN },
	{ "key_retired", AUDIT_FROM_PLUGIN },
	{ "master_key_changed", AUDIT_FROM_PLUGIN },
	{ "backup_taken", AUDIT_FROM_HOST },
	{ "login_failed", AUDIT_FROM_HOST },
	{ "login_succeeded", AUDIT_FROM_HOST },
	/* Written by the writer alone (audit_log.c). */
	{ AUDIT_EVENT_RECOVERED, AUDIT_FROM_WRITER },
};

static bool present(const char *s)
{
	return s && *s;
}

static bool user_id_ok(const char *s)
{
	return !present(s) || mm_id_valid(s, strnlen(s, MM_ID_LEN + 1));
}

static bool app_id_ok(const char *s)
{
	size_t n;

	if (!present(s))
		return true;
	n = strnlen(s, AUDIT_APP_ID_MAX + 1);
	if (n > AUDIT_APP_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int audit_event_check(const struct audit_event *ev, unsigned from)
{
	bool known = false;

	if (!ev || !present(ev->event))
		return AUDIT_EINVAL;
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		if (strcmp(events[i].name, ev->event) == 0) {
			known = (events[i].from & from) != 0;
			break;
		}
	}
	if (!known || !user_id_ok(ev->actor) || !user_id_ok(ev->target_user) ||
	    !user_id_ok(ev->request_id) || !app_id_ok(ev->app_id))
		return AUDIT_EINVAL;
	return AUDIT_OK;
}

/* "value" or null: the checks above let no quote or backslash through. */
static void field(char *out, size_t cap, const char *s)
{
	if (present(s))
		snprintf(out, cap, "\"%s\"", s);
	else
		snprintf(out, cap, "null");
}

/* The line before ,"mac": its length, or 0 when it does not fit. */
static size_t format_prefix(char *out, size_t cap, uint64_t seq, const char *time,
			    const struct audit_event *ev, const char *prev_hex)
{
	char actor[MM_ID_LEN + 3], app[AUDIT_APP_ID_MAX + 3], target[MM_ID_LEN + 3],
		request[MM_ID_LEN + 3];
	int n;

	field(actor, sizeof(actor), ev->actor);
	field(app, sizeof(app), ev->app_id);
	field(target, sizeof(target), ev->target_user);
	field(request, sizeof(request), ev->request_id);
	n = snprintf(out, cap,
		     "{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"event\":\"%s\",\"actor\":%s,"
		     "\"app_id\":%s,\"target_user\":%s,\"request_id\":%s,\"prev\":\"%s\"",
		     seq, time, ev->event, actor, app, target, request, prev_hex);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void mac_of(const char *prefix, size_t len, const unsigned char key[AUDIT_KEY_LEN],
		   unsigned char out[AUDIT_HASH_LEN])
{
	crypto_generichash(out, AUDIT_HASH_LEN, (const unsigned char *)prefix, len, key,
			   AUDIT_KEY_LEN);
}

#define TIME_CAP 64 /* room for any int the compiler imagines in struct tm */

static void time_text(int64_t ms, char out[TIME_CAP])
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, TIME_CAP, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

size_t audit_line_format(char *out, size_t cap, uint64_t seq, int64_t time_ms,
			 const struct audit_event *ev, const unsigned char prev[AUDIT_HASH_LEN],
			 const unsigned char key[AUDIT_KEY_LEN])
{
	char time[TIME_CAP], prev_hex[AUDIT_HEX_LEN + 1], mac_hex[AUDIT_HEX_LEN + 1];
	unsigned char mac[AUDIT_HASH_LEN];
	size_t n;
	int m;

	time_text(time_ms, time);
	sodium_bin2hex(prev_hex, sizeof(prev_hex), prev, AUDIT_HASH_LEN);
	n = format_prefix(out, cap < AUDIT_LINE_MAX + 1 ? cap : AUDIT_LINE_MAX + 1, seq, time, ev,
			  prev_hex);
	if (n == 0)
		return 0;
	mac_of(out, n, key, mac);
	sodium_bin2hex(mac_hex, sizeof(mac_hex), mac, sizeof(mac));
	m = snprintf(out + n, cap - n, MAC_FIELD "%s\"}", mac_hex);
	if (m < 0 || (size_t)m >= cap - n || n + (size_t)m > AUDIT_LINE_MAX)
		return 0;
	return n + (size_t)m;
}

void audit_line_hash(const char *line, size_t len, unsigned char out[AUDIT_HASH_LEN])
{
	crypto_generichash(out, AUDIT_HASH_LEN, (const unsigned char *)line, len, NULL, 0);
}

/* A string or null member; false for anything else. */
static bool optional_string(const json_t *obj, const char *name, const char **out)
{
	const json_t *v = json_object_get(obj, name);

	*out = NULL;
	if (json_is_null(v))
		return true;
	if (!json_is_string(v))
		return false;
	*out = json_string_value(v);
	return true;
}

static bool hex_hash(const char *hex, unsigned char out[AUDIT_HASH_LEN])
{
	size_t got = 0;

	return hex && strlen(hex) == AUDIT_HEX_LEN &&
	       sodium_hex2bin(out, AUDIT_HASH_LEN, hex, AUDIT_HEX_LEN, NULL, &got, NULL) == 0 &&
	       got == AUDIT_HASH_LEN;
}

int audit_line_parse(const char *line, size_t len, const unsigned char *key, struct audit_line *out,
		     bool *mac_ok)
{
	char prefix[AUDIT_LINE_MAX + 1];
	unsigned char mac[AUDIT_HASH_LEN], want[AUDIT_HASH_LEN];
	struct audit_event ev = { 0 };
	const char *time, *prev, *mac_hex;
	json_t *obj;
	json_int_t seq;
	size_t n, plen;
	int rc = AUDIT_EMALFORMED;

	if (mac_ok)
		*mac_ok = false;
	if (len > AUDIT_LINE_MAX || len < MAC_SUFFIX_LEN)
		return AUDIT_EMALFORMED;
	plen = len - MAC_SUFFIX_LEN;
	if (memcmp(line + plen, MAC_FIELD, sizeof(MAC_FIELD) - 1) != 0)
		return AUDIT_EMALFORMED;
	obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(obj) || json_object_size(obj) != 9)
		goto out;
	seq = json_integer_value(json_object_get(obj, "seq"));
	time = json_string_value(json_object_get(obj, "time"));
	ev.event = json_string_value(json_object_get(obj, "event"));
	prev = json_string_value(json_object_get(obj, "prev"));
	mac_hex = json_string_value(json_object_get(obj, "mac"));
	if (!json_is_integer(json_object_get(obj, "seq")) || seq < 1 || !time ||
	    strlen(time) != TIME_LEN || !ev.event || strlen(ev.event) > AUDIT_EVENT_MAX ||
	    !optional_string(obj, "actor", &ev.actor) ||
	    !optional_string(obj, "app_id", &ev.app_id) ||
	    !optional_string(obj, "target_user", &ev.target_user) ||
	    !optional_string(obj, "request_id", &ev.request_id) || !hex_hash(prev, out->prev) ||
	    !hex_hash(mac_hex, mac))
		goto out;
	/* Exactly the bytes the writer makes of these fields: one spelling
	 * per line, so the MAC below covers what a reader sees. */
	if (audit_event_check(&ev, AUDIT_FROM_ANY) != AUDIT_OK)
		goto out;
	n = format_prefix(prefix, sizeof(prefix), (uint64_t)seq, time, &ev, prev);
	if (n != plen || memcmp(prefix, line, plen) != 0)
		goto out;
	out->seq = (uint64_t)seq;
	snprintf(out->event, sizeof(out->event), "%s", ev.event);
	if (key && mac_ok) {
		mac_of(line, plen, key, want);
		*mac_ok = sodium_memcmp(want, mac, sizeof(mac)) == 0;
	}
	rc = AUDIT_OK;
out:
	json_decref(obj);
	return rc;
}
