#include "log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Two decimal digits of v at out. */
static void put2(char *out, unsigned v)
{
	out[0] = (char)('0' + v / 10 % 10);
	out[1] = (char)('0' + v % 10);
}

/* "2026-11-28T18:30:00.123Z" (24 characters and a NUL) into buf. The part
 * up to the seconds is made once per second per thread: a log line costs
 * no printf and no gmtime (this runs for every access-log line). */
static void format_time(char buf[32])
{
	static _Thread_local time_t cached_sec = -1;
	static _Thread_local char cached[24];
	struct timespec ts;
	unsigned ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != cached_sec) {
		struct tm tm;
		unsigned year;
		gmtime_r(&ts.tv_sec, &tm);
		year = (unsigned)tm.tm_year + 1900;
		put2(cached, year / 100);
		put2(cached + 2, year % 100);
		cached[4] = '-';
		put2(cached + 5, (unsigned)tm.tm_mon + 1);
		cached[7] = '-';
		put2(cached + 8, (unsigned)tm.tm_mday);
		cached[10] = 'T';
		put2(cached + 11, (unsigned)tm.tm_hour);
		cached[13] = ':';
		put2(cached + 14, (unsigned)tm.tm_min);
		cached[16] = ':';
		put2(cached + 17, (unsigned)tm.tm_sec);
		cached[19] = '.';
		cached_sec = ts.tv_sec;
	}
	memcpy(buf, cached, 20);
	ms = (unsigned)(ts.tv_nsec / 1000000) % 1000;
	buf[20] = (char)('0' + ms / 100);
	put2(buf + 21, ms % 100);
	buf[23] = 'Z';
	buf[24] = '\0';
}

/* Appends the n bytes of s when they fit before cap. */
static size_t append_raw(char *line, size_t pos, size_t cap, const char *s, size_t n)
{
	if (pos + n >= cap)
		return pos;
	memcpy(line + pos, s, n);
	return pos + n;
}

/* Appends s to the text line, quoted when it holds a space, '=' or a quote,
 * with control characters escaped. Stops silently at the line's end. */
static size_t append_text_value(char *line, size_t pos, size_t cap, const char *s, int may_quote)
{
	size_t n = strnlen(s, LOG_VALUE_MAX), plain = 0;
	int quote;

	/* Most values need neither quotes nor escapes: one pass, one copy. */
	while (plain < n && (unsigned char)s[plain] > ' ' && s[plain] != '=' && s[plain] != '"' &&
	       s[plain] != '\\' && s[plain] != 0x7f)
		plain++;
	if (plain == n && n && pos + n + 5 < cap) {
		memcpy(line + pos, s, n);
		return pos + n;
	}
	quote = may_quote && (n == 0 || strpbrk(s, " =\"") != NULL);

	if (quote && pos + 1 < cap)
		line[pos++] = '"';
	for (size_t i = 0; i < n && pos + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			line[pos++] = '\\';
			line[pos++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			static const char hex[] = "0123456789abcdef";
			line[pos++] = '\\';
			line[pos++] = 'x';
			line[pos++] = hex[c >> 4];
			line[pos++] = hex[c & 15];
		} else {
			line[pos++] = (char)c;
		}
	}
	if (quote && pos + 1 < cap)
		line[pos++] = '"';
	return pos;
}

/* Formats one text line (with its newline) into line[0..cap); returns its
 * length. */
static size_t format_text(char *line, size_t cap, enum log_level level, const char *msg, va_list ap)
{
	static const char padded[][7] = { "debug ", "info  ", "warn  ", "error " };
	char ts[32];
	const char *k;
	size_t pos;

	format_time(ts);
	pos = append_raw(line, 0, cap - 2, ts, 24);
	pos = append_raw(line, pos, cap - 2, " ", 1);
	pos = append_raw(line, pos, cap - 2, padded[level], 6);
	pos = append_text_value(line, pos, cap - 2, msg, 0);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		size_t klen = strnlen(k, 64), before = pos;
		pos = append_raw(line, pos, cap - 2, " ", 1);
		pos = append_raw(line, pos, cap - 2, k, klen);
		pos = append_raw(line, pos, cap - 2, "=", 1);
		if (pos != before + klen + 2) {
			pos = before; /* the key did not fit: nor will the value */
			continue;
		}
		pos = append_text_value(line, pos, cap - 2, v ? v : "", 1);
	}
	line[pos++] = '\n';
	line[pos] = '\0';
	return pos;
}

/* Invalid UTF-8 is replaced by a marker rather than dropping the line. */
static json_t *json_string_or_marker(const char *s)
{
	json_t *j = json_stringn(s, strnlen(s, LOG_VALUE_MAX));

	return j ? j : json_string("(invalid utf-8)");
}

/* Formats one JSON line (with its newline) into line[0..cap); returns its
 * length, 0 when it could not be made. */
static size_t format_json(char *line, size_t cap, enum log_level level, const char *msg, va_list ap)
{
	char ts[32];
	const char *k;
	json_t *obj = json_object();
	char *out;
	size_t n;

	if (!obj)
		return 0;
	format_time(ts);
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
		return 0;
	n = strlen(out);
	if (n + 2 > cap) {
		/* Never cut (that would not be JSON): say what was lost. */
		free(out);
		obj = json_pack("{s:s, s:s, s:s}", "timestamp", ts, "level", level_names[level],
				"msg", "(log line too long)");
		out = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(obj);
		if (!out)
			return 0;
		n = strlen(out);
	}
	memcpy(line, out, n);
	line[n] = '\n';
	line[n + 1] = '\0';
	free(out);
	return n + 1;
}

static size_t format_line(char *line, size_t cap, enum log_level level, const char *msg, va_list ap)
{
	return log_fmt == LOG_FORMAT_JSON ? format_json(line, cap, level, msg, ap)
					  : format_text(line, cap, level, msg, ap);
}

/* Writes bytes to stderr whole, holding stdio's lock so that lines written
 * by log_kv and by buffer flushes never mix. stderr is unbuffered. */
static void write_out(const char *p, size_t len)
{
	flockfile(stderr);
	while (len) {
		ssize_t n = write(STDERR_FILENO, p, len);
		if (n <= 0)
			break; /* stderr closed or full: the line is lost, the server goes on */
		p += n;
		len -= (size_t)n;
	}
	funlockfile(stderr);
}

void log_kv(enum log_level level, const char *msg, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	size_t n;

	if (level < log_min || level > LOG_ERROR)
		return;
	va_start(ap, msg);
	n = format_line(line, sizeof(line), level, msg, ap);
	va_end(ap);
	if (n)
		write_out(line, n);
}

/*
 * Buffered lines (the access log). Each thread that logs gets a buffer,
 * registered once in a list; a line is formatted straight into it under the
 * buffer's own lock (uncontended: only the flusher ever takes it too). A
 * buffer is written out with one write(2) when the next line might not
 * fit, and by the flusher every LOG_FLUSH_MS; log_flush writes them all.
 */
#define LOG_BUF_SIZE (64 * 1024)
#define LOG_FLUSH_MS 100

struct line_buf {
	pthread_mutex_t lock;
	struct line_buf *next; /* the list of every buffer, under bufs_lock */
	size_t len;
	char data[LOG_BUF_SIZE];
};

static pthread_mutex_t bufs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct line_buf *bufs;
static _Thread_local struct line_buf *my_buf;

static struct {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_bool running;
	bool stop;
} flusher = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static struct line_buf *thread_buf(void)
{
	struct line_buf *b = my_buf;

	if (b)
		return b;
	b = malloc(sizeof(*b));
	if (!b)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	b->len = 0;
	pthread_mutex_lock(&bufs_lock);
	b->next = bufs;
	bufs = b;
	pthread_mutex_unlock(&bufs_lock);
	my_buf = b;
	return b;
}

/* Caller holds b->lock. */
static void buf_flush(struct line_buf *b)
{
	if (b->len)
		write_out(b->data, b->len);
	b->len = 0;
}

void log_buffered(enum log_level level, const char *msg, ...)
{
	struct line_buf *b;
	char line[LOG_LINE_MAX];
	va_list ap;
	size_t n;

	if (level < log_min || level > LOG_ERROR)
		return;
	b = thread_buf();
	va_start(ap, msg);
	if (!b) {
		n = format_line(line, sizeof(line), level, msg, ap);
		if (n)
			write_out(line, n);
		va_end(ap);
		return;
	}
	pthread_mutex_lock(&b->lock);
	if (b->len + LOG_LINE_MAX > sizeof(b->data))
		buf_flush(b);
	b->len += format_line(b->data + b->len, LOG_LINE_MAX, level, msg, ap);
	if (!atomic_load_explicit(&flusher.running, memory_order_relaxed))
		buf_flush(b); /* nobody would write it later */
	pthread_mutex_unlock(&b->lock);
	va_end(ap);
}

void log_flush(void)
{
	pthread_mutex_lock(&bufs_lock);
	for (struct line_buf *b = bufs; b; b = b->next) {
		pthread_mutex_lock(&b->lock);
		buf_flush(b);
		pthread_mutex_unlock(&b->lock);
	}
	pthread_mutex_unlock(&bufs_lock);
}

static void *flusher_run(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&flusher.lock);
	while (!flusher.stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += LOG_FLUSH_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&flusher.cond, &flusher.lock, &until);
		pthread_mutex_unlock(&flusher.lock);
		log_flush();
		pthread_mutex_lock(&flusher.lock);
	}
	pthread_mutex_unlock(&flusher.lock);
	return NULL;
}

int log_flusher_start(void)
{
	pthread_mutex_lock(&flusher.lock);
	flusher.stop = false;
	atomic_store(&flusher.running,
		     pthread_create(&flusher.thread, NULL, flusher_run, NULL) == 0);
	pthread_mutex_unlock(&flusher.lock);
	return atomic_load(&flusher.running) ? 0 : -1;
}

void log_flusher_stop(void)
{
	pthread_mutex_lock(&flusher.lock);
	if (!atomic_load(&flusher.running)) {
		pthread_mutex_unlock(&flusher.lock);
		log_flush();
		return;
	}
	flusher.stop = true;
	pthread_cond_signal(&flusher.cond);
	pthread_mutex_unlock(&flusher.lock);
	pthread_join(flusher.thread, NULL);
	atomic_store(&flusher.running, false);
	log_flush();
}
