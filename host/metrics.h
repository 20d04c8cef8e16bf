/*
 * Prometheus metrics: a process-wide registry of metric families and a
 * renderer of Prometheus' text format (version 0.0.4).
 *
 * Counts live in cells: 64-bit counters, one copy per shard. A thread
 * takes a shard the first time it counts (round robin over
 * METRICS_SHARDS) and only ever adds to its own copy, with a relaxed atomic
 * add: no lock, no allocation, no shared cache line between the HTTP I/O
 * threads on the hot path. A scrape sums the shards. Nothing is allocated
 * for cells while metrics are off (metrics_init(false)): registering still
 * works, updating does nothing.
 *
 * Families are counters, gauges or histograms made of registered series
 * (metrics_register: the plugins' through the host API, some of the
 * host's), or families whose series the host renders itself
 * (metrics_register_custom: the request table, the process). Every bound is
 * fixed: METRICS_FAMILIES_MAX families, METRICS_SERIES_MAX series each,
 * METRICS_CELLS cells.
 *
 * Thread-safety: registering and rendering take the registry's lock;
 * updates take none. metrics_init and metrics_shutdown are not thread-safe:
 * call them before the threads that count start and after they stopped.
 */
#ifndef HOST_METRICS_H
#define HOST_METRICS_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_SHARDS 16
#define METRICS_CELLS 8192 /* per shard */
#define METRICS_FAMILIES_MAX 160
#define METRICS_SERIES_MAX 64 /* registered series of one family */
#define METRICS_LABELS_MAX 4
#define METRICS_BUCKETS_MAX 32
#define METRICS_NAME_MAX 64
#define METRICS_HELP_MAX 256
#define METRICS_VALUE_MAX 64
#define METRICS_TEXT_MAX (8u * 1024 * 1024) /* a scrape's text at most */

enum metrics_rc {
	METRICS_OK = 0,
	METRICS_EINVAL = -1, /* a malformed name, help, label or bucket; or it disagrees */
	METRICS_EEXIST = -2, /* another owner has the name */
	METRICS_ELIMIT = -3, /* a bound was reached */
	METRICS_ENOMEM = -4,
};

enum metric_type { METRIC_COUNTER = 0, METRIC_GAUGE, METRIC_HISTOGRAM };

/* Allocates the cells when enabled (a listener will serve them). 0, or -1
 * when out of memory. */
int metrics_init(bool enabled) __attribute__((warn_unused_result));
/* Frees everything; every handle dies. */
void metrics_shutdown(void);

/* The hot path's view; use the functions below. */
extern bool metrics_on_;
extern _Atomic uint64_t *metrics_cells_;
extern _Thread_local unsigned metrics_shard_off_;
unsigned metrics_shard_assign_(void);

/* Whether counting is on (metrics_init(true)). */
static inline bool metrics_enabled(void)
{
	return metrics_on_;
}

/* Adds n to cell in the calling thread's shard. Only when metrics_enabled(). */
static inline void metrics_cell_add(unsigned cell, uint64_t n)
{
	unsigned off = metrics_shard_off_;

	if (off == UINT_MAX)
		off = metrics_shard_assign_();
	atomic_fetch_add_explicit(&metrics_cells_[off + cell], n, memory_order_relaxed);
}

/* Reserves n consecutive cells (for the host's own tables); *first gets
 * the first one. METRICS_OK or METRICS_ELIMIT. Cells are never given back. */
int metrics_cells_reserve(unsigned n, unsigned *first) __attribute__((warn_unused_result));
/* The sum of cell over every shard (0 while metrics are off). */
uint64_t metrics_cell_sum(unsigned cell);

/* A registered series. */
struct metric_series;

/* Registers one series of family name (created by its first series):
 * labels are names[i]=values[i], n of them; buckets for histograms only.
 * owner tells families apart (NULL: the host; a plugin's handle); a family
 * belongs to the owner that made it. Names and labels as the ABI says
 * (include/mmplugin/plugin.h, metric_counter), except that the host may use
 * its own prefixes. Returns the existing series for the same name and
 * label values. */
int metrics_register(const void *owner, enum metric_type type, const char *name, const char *help,
		     const char *const *label_names, const char *const *label_values, size_t n,
		     const double *buckets, size_t n_buckets, struct metric_series **out)
	__attribute__((warn_unused_result));

/* Updates (no-ops while metrics are off, for NULL, or on another type). */
void metric_series_add(struct metric_series *s, uint64_t n);   /* counter */
void metric_series_set(struct metric_series *s, double v);     /* gauge */
void metric_series_observe(struct metric_series *s, double v); /* histogram */

/* Text being made for a scrape. */
struct metrics_buf {
	char *p;
	size_t len, cap;
	bool failed; /* out of memory or past METRICS_TEXT_MAX: the text is cut */
};

/* A family whose lines (samples only: the renderer writes HELP and TYPE)
 * fn writes itself at each scrape, under the registry's lock: it must not
 * register. */
typedef void (*metrics_render_fn)(struct metrics_buf *out, void *arg);
int metrics_register_custom(const char *name, const char *help, enum metric_type type,
			    metrics_render_fn fn, void *arg) __attribute__((warn_unused_result));

/* For custom families. labels is the inside of {...} already escaped ("",
 * or `route="/x",code="200"`). */
void metrics_put_sample(struct metrics_buf *out, const char *name, const char *suffix,
			const char *labels, double v);
void metrics_put_sample_u64(struct metrics_buf *out, const char *name, const char *suffix,
			    const char *labels, uint64_t v);
/* A histogram's _bucket, _sum and _count lines from n_bounds + 1 cells of
 * per-bucket counts (the last one +Inf) starting at first, bounds as
 * written in le, and its sum. */
void metrics_put_histogram(struct metrics_buf *out, const char *name, const char *labels,
			   const double *bounds, size_t n_bounds, unsigned first, double sum);
/* Appends s escaped as a label value (backslash, quote, newline). */
void metrics_put_label_value(struct metrics_buf *out, const char *s);
void metrics_buf_put(struct metrics_buf *out, const char *s, size_t n);

/* The whole text of a scrape into out (malloc'd; the caller frees out->p).
 * 0, or -1 when it could not be made whole (out of memory). */
int metrics_render(struct metrics_buf *out) __attribute__((warn_unused_result));

/* True for a name the ABI lets a family have: [a-zA-Z_][a-zA-Z0-9_]*, at
 * most METRICS_NAME_MAX bytes. */
bool metrics_name_valid(const char *name);

#endif
