/*
 * The host's log: one line per event on stderr (or the config's log.file),
 * as readable text ("2026-11-28T18:30:00.123Z info  listening
 * addr=127.0.0.1:8065") or as one JSON object per line, numbers as numbers.
 * Thread-safe: lines from different threads never mix.
 *
 * Never pass a secret (token, password, client secret) as a field: log the
 * last 4 characters at most.
 */
#ifndef HOST_LOG_H
#define HOST_LOG_H

#include <stddef.h>

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
 * A key wrapped in LOG_NUM() says its value is a number (a status, a count,
 * milliseconds): JSON lines write it unquoted (null when it is not a JSON
 * number, such as "-" for no status); text lines show it like any value.
 * The key's mark costs nothing at run time (it is part of the literal).
 */
#define LOG_NUM(key) "#" key

void log_kv(enum log_level level, const char *msg, ...) __attribute__((sentinel));

/*
 * The same line, for the access log: formatted into a buffer of the calling
 * thread and written with many others in one write(2), when the buffer is
 * full or at the latest LOG_FLUSH_MS (100 ms) later by the flusher thread,
 * instead of one write per line. Lines of one thread keep their order; a
 * buffered line may appear after a later log_kv line of another thread (each
 * carries its time). Lost on SIGKILL or a crash: at most the last 100 ms of
 * access lines, never an event written with log_kv. Without the flusher
 * (log_flusher_start) the line is written at once.
 */
void log_buffered(enum log_level level, const char *msg, ...) __attribute__((sentinel));

/* Writes every thread's buffered lines now. Thread-safe. */
void log_flush(void);

/* Sends the log to the file path from now on instead of stderr: opened for
 * appending (created 0640), it takes stderr's place (descriptor 2), so that
 * anything else written to stderr lands there too. Not thread-safe: call
 * before starting threads. 0, or -1 with one line in err. */
int log_open_file(const char *path, char *err, size_t err_cap) __attribute__((warn_unused_result));

/* Opens the log file again by its path (logrotate moved it away): lines
 * being written finish in the old file, the next ones go to the new one
 * (one dup2: no line is lost or split), which starts with a line saying so.
 * For SIGHUP; thread-safe. 0; 1 when there is no log file (nothing done);
 * -1 when the file cannot be opened (then logged, and the old file kept). */
int log_reopen(void);

/* Starts / stops the flusher thread (stop writes what is left). 0 or -1. */
int log_flusher_start(void) __attribute__((warn_unused_result));
void log_flusher_stop(void);

#endif
