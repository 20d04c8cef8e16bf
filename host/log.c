#include "log.h"

#include <errno.h>
#include <fcntl.h>
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
static char *log_path; /* log.file; NULL: stderr as it was given */

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
		size_t klen, before = pos;
		k += *k == '#'; /* LOG_NUM */
		klen = strnlen(k, 64);
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

/* JSON text, written straight into the line (the access log in JSON costs
 * what the text one does): ASCII only, anything else as \u escapes. */
struct jline {
	char *p;
	size_t pos, cap;
	bool full;
};

static void jput(struct jline *j, const char *s, size_t n)
{
	if (j->full || j->pos + n >= j->cap) {
		j->full = true;
		return;
	}
	memcpy(j->p + j->pos, s, n);
	j->pos += n;
}

static void jput_u(struct jline *j, unsigned cp)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = { '\\',        'u', hex[cp >> 12 & 15], hex[cp >> 8 & 15], hex[cp >> 4 & 15],
		      hex[cp & 15] };

	jput(j, e, 6);
}

/* The code point of the UTF-8 sequence at s[0..n) into *cp; its length, or
 * 0 when it is not valid UTF-8 (overlong, surrogate, past U+10FFFF). */
static size_t utf8_next(const unsigned char *s, size_t n, unsigned *cp)
{
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	static const unsigned min[] = { 0, 0, 0x80, 0x800, 0x10000 };

	if (len == 0 || len > n || s[0] > 0xf4)
		return 0;
	*cp = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	if (*cp < min[len] || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return len;
}

static bool utf8_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned cp;
		size_t len;
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		len = utf8_next((const unsigned char *)s + i, n - i, &cp);
		if (!len)
			return false;
		i += len;
	}
	return true;
}

/* s (at most LOG_VALUE_MAX bytes of it) as a JSON string; invalid UTF-8
 * is replaced by a marker rather than dropping the line. */
static void jput_string(struct jline *j, const char *s)
{
	size_t n = strnlen(s, LOG_VALUE_MAX), plain;

	if (!utf8_valid(s, n)) {
		s = "(invalid utf-8)";
		n = strlen(s);
	}
	jput(j, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		unsigned cp;
		for (plain = i;
		     plain < n && (unsigned char)s[plain] >= 0x20 &&
		     (unsigned char)s[plain] < 0x7f && s[plain] != '"' && s[plain] != '\\';
		     plain++)
			;
		if (plain > i) {
			jput(j, s + i, plain - i);
			i = plain;
			continue;
		}
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			jput(j, e, 2);
			i++;
		} else if (c == '\n') {
			jput(j, "\\n", 2);
			i++;
		} else if (c < 0x80) {
			jput_u(j, c);
			i++;
		} else {
			i += utf8_next((const unsigned char *)s + i, n - i, &cp);
			if (cp >= 0x10000) {
				cp -= 0x10000;
				jput_u(j, 0xd800 | cp >> 10);
				jput_u(j, 0xdc00 | (cp & 0x3ff));
			} else {
				jput_u(j, cp);
			}
		}
	}
	jput(j, "\"", 1);
}

/* Whether s is a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *s)
{
	const char *p = s + (*s == '-');

	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	if (*p == '.') {
		if (*++p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p += p[1] == '+' || p[1] == '-';
		if (*++p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0' && p - s <= 32;
}

/* Formats one JSON line (with its newline) into line[0..cap); returns its
 * length, 0 when it could not be made. A line that does not fit is never
 * cut (that would not be JSON): it says what was lost instead. */
static size_t format_json(char *line, size_t cap, enum log_level level, const char *msg, va_list ap)
{
	struct jline j = { .p = line, .cap = cap - 1 };
	char ts[32];
	const char *k;

	format_time(ts);
	jput(&j, "{\"timestamp\":\"", 14);
	jput(&j, ts, 24);
	jput(&j, "\",\"level\":\"", 11);
	jput(&j, level_names[level], strlen(level_names[level]));
	jput(&j, "\",\"msg\":", 8);
	jput_string(&j, msg);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		bool number = *k == '#';
		jput(&j, ",", 1);
		jput_string(&j, k + number);
		jput(&j, ":", 1);
		if (!v)
			v = "";
		if (!number)
			jput_string(&j, v);
		else if (json_number(v))
			jput(&j, v, strlen(v));
		else
			jput(&j, "null", 4);
	}
	jput(&j, "}\n", 2);
	if (j.full) {
		j = (struct jline){ .p = line, .cap = cap - 1 };
		jput(&j, "{\"timestamp\":\"", 14);
		jput(&j, ts, 24);
		jput(&j, "\",\"level\":\"", 11);
		jput(&j, level_names[level], strlen(level_names[level]));
		jput(&j, "\",\"msg\":\"(log line too long)\"}\n", 31);
		if (j.full)
			return 0;
	}
	line[j.pos] = '\0';
	return j.pos;
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

static int open_log_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

int log_open_file(const char *path, char *err, size_t err_cap)
{
	int fd = open_log_file(path);
	char *copy;

	if (fd < 0) {
		snprintf(err, err_cap, "cannot open log.file %.200s: %s", path, strerror(errno));
		return -1;
	}
	copy = strdup(path);
	if (!copy || dup2(fd, STDERR_FILENO) < 0) {
		snprintf(err, err_cap, "cannot use log.file %.200s: %s", path,
			 copy ? strerror(errno) : "out of memory");
		free(copy);
		close(fd);
		return -1;
	}
	close(fd);
	free(log_path);
	log_path = copy;
	return 0;
}

int log_reopen(void)
{
	int fd, e;

	if (!log_path)
		return 1;
	fd = open_log_file(log_path);
	if (fd < 0) {
		e = errno;
		log_kv(LOG_ERROR, "cannot open the log file again; still writing to the old one",
		       "file", log_path, "error", strerror(e), NULL);
		return -1;
	}
	/* What was buffered before the signal goes to the old file. */
	log_flush();
	/* Under stderr's lock: no line is being written while the descriptor
	 * changes, so none is split between the files. */
	flockfile(stderr);
	e = dup2(fd, STDERR_FILENO) < 0 ? errno : 0;
	funlockfile(stderr);
	close(fd);
	if (e) {
		log_kv(LOG_ERROR, "cannot switch to the reopened log file", "file", log_path,
		       "error", strerror(e), NULL);
		return -1;
	}
	log_kv(LOG_INFO, "log file reopened", "file", log_path, NULL);
	return 0;
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
