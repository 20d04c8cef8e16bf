/*
 * The host's log: one line per event on stderr, as readable text
 * ("2026-11-28T18:30:00.123Z info  listening addr=127.0.0.1:8065") or as one
 * JSON object per line. Thread-safe: lines from different threads never mix.
 *
 * Never pass a secret (token, password, client secret) as a field: log the
 * last 4 characters at most.
 */
#ifndef HOST_LOG_H
#define HOST_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

/* Sets the minimum level written and the format. Not thread-safe: call before
 * starting threads. Defaults: LOG_INFO, LOG_FORMAT_TEXT. */
void log_setup(enum log_level min_level, enum log_format format);

/* Parses "debug", "info", "warn", "error" / "text", "json". 0 or -1. */
int log_level_parse(const char *s, enum log_level *out);
int log_format_parse(const char *s, enum log_format *out);

/*
 * Writes one line: msg, then key/value pairs of NUL-terminated strings ending
 * with a NULL key, e.g. log_kv(LOG_INFO, "listening", "addr", a, NULL).
 * Values are escaped (quotes, control characters) and each is cut at 1 KiB.
 */
void log_kv(enum log_level level, const char *msg, ...) __attribute__((sentinel));

#endif
