#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banned.h"

#define LOG_VALUE_MAX 1024
#define LOG_LINE_MAX 8192

static enum log_level log_min = LOG_INFO;
static enum log_format log_fmt = LOG_FORMAT_TEXT;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_setup(enum log_level min_level, enum log_format format)
{
	log_min = min_level;
	log_fmt = format;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int log_format_parse(const char *s, enum log_format *out)
{
	if (strcmp(s, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

static void format_time(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (ts.tv_nsec / 1000000) % 1000);
}

/* Appends s to the text line, quoted when it holds a space, '=' or a quote,
 * with control characters escaped. Stops silently at the line's end. */
static size_t append_text_value(char *line, size_t pos, size_t cap, const char *s, int may_quote)
{
	size_t n = strnlen(s, LOG_VALUE_MAX);
	int quote = may_quote && (n == 0 || strpbrk(s, " =\"") != NULL);

	if (quote && pos + 1 < cap)
		line[pos++] = '"';
	for (size_t i = 0; i < n && pos + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			line[pos++] = '\\';
			line[pos++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			pos += (size_t)snprintf(line + pos, cap - pos, "\\x%02x", c);
		} else {
			line[pos++] = (char)c;
		}
	}
	if (quote && pos + 1 < cap)
		line[pos++] = '"';
	return pos;
}

static void write_text(enum log_level level, const char *msg, va_list ap)
{
	char line[LOG_LINE_MAX];
	char ts[64];
	const char *k;
	size_t pos;
	int n;

	format_time(ts, sizeof(ts));
	n = snprintf(line, sizeof(line), "%s %-5s ", ts, level_names[level]);
	pos = n > 0 ? (size_t)n : 0;
	pos = append_text_value(line, pos, sizeof(line) - 2, msg, 0);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		if (pos + 2 >= sizeof(line) - 2)
			continue;
		n = snprintf(line + pos, sizeof(line) - 2 - pos, " %s=", k);
		if (n < 0 || (size_t)n >= sizeof(line) - 2 - pos)
			continue;
		pos += (size_t)n;
		pos = append_text_value(line, pos, sizeof(line) - 2, v ? v : "", 1);
	}
	line[pos++] = '\n';
	line[pos] = '\0';
	fputs(line, stderr);
}

/* Invalid UTF-8 is replaced by a marker rather than dropping the line. */
static json_t *json_string_or_marker(const char *s)
{
	json_t *j = json_stringn(s, strnlen(s, LOG_VALUE_MAX));

	return j ? j : json_string("(invalid utf-8)");
}

static void write_json(enum log_level level, const char *msg, va_list ap)
{
	char ts[64];
	const char *k;
	json_t *obj = json_object();
	char *out;

	if (!obj)
		return;
	format_time(ts, sizeof(ts));
	json_object_set_new(obj, "timestamp", json_string(ts));
	json_object_set_new(obj, "level", json_string(level_names[level]));
	json_object_set_new(obj, "msg", json_string_or_marker(msg));
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		json_object_set_new(obj, k, json_string_or_marker(v ? v : ""));
	}
	out = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(obj);
	if (!out)
		return;
	fprintf(stderr, "%s\n", out);
	free(out);
}

void log_kv(enum log_level level, const char *msg, ...)
{
	va_list ap;

	if (level < log_min || level > LOG_ERROR)
		return;
	va_start(ap, msg);
	flockfile(stderr);
	if (log_fmt == LOG_FORMAT_JSON)
		write_json(level, msg, ap);
	else
		write_text(level, msg, ap);
	fflush(stderr);
	funlockfile(stderr);
	va_end(ap);
}
