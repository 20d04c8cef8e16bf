#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Escaped `name="value"` pairs of a series: every value may double. */
#define LABELS_TEXT_MAX (METRICS_LABELS_MAX * (METRICS_NAME_MAX + 2 * METRICS_VALUE_MAX + 4))

struct metric_family {
	const void *owner;
	enum metric_type type;
	char name[METRICS_NAME_MAX + 1];
	char help[METRICS_HELP_MAX + 1];
	size_t n_labels;
	char label_names[METRICS_LABELS_MAX][METRICS_NAME_MAX + 1];
	double buckets[METRICS_BUCKETS_MAX];
	size_t n_buckets;
	struct metric_series *series[METRICS_SERIES_MAX];
	size_t n_series;
	metrics_render_fn custom; /* set: the family renders its own samples */
	void *custom_arg;
};

struct metric_series {
	struct metric_family *family;
	enum metric_type type;
	unsigned first_cell; /* counter: 1 cell; histogram: buckets + 1, then the sum */
	_Atomic uint64_t gauge_bits;
	char values[METRICS_LABELS_MAX][METRICS_VALUE_MAX + 1];
	char labels[LABELS_TEXT_MAX]; /* as rendered */
};

bool metrics_on_;
_Atomic uint64_t *metrics_cells_;
_Thread_local unsigned metrics_shard_off_ = UINT_MAX;

static struct {
	pthread_mutex_t lock;
	struct metric_family *families[METRICS_FAMILIES_MAX];
	size_t n_families;
	unsigned cells_used;
	atomic_uint next_shard;
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER };

unsigned metrics_shard_assign_(void)
{
	unsigned shard = atomic_fetch_add_explicit(&reg.next_shard, 1, memory_order_relaxed);

	metrics_shard_off_ = shard % METRICS_SHARDS * METRICS_CELLS;
	return metrics_shard_off_;
}

int metrics_init(bool enabled)
{
	metrics_on_ = false;
	metrics_cells_ = NULL;
	if (!enabled)
		return 0;
	/* 1 MiB of address space; pages are only made resident by the cells
	 * that are used. */
	metrics_cells_ = calloc((size_t)METRICS_SHARDS * METRICS_CELLS, sizeof(*metrics_cells_));
	if (!metrics_cells_)
		return -1;
	metrics_on_ = true;
	return 0;
}

void metrics_shutdown(void)
{
	pthread_mutex_lock(&reg.lock);
	for (size_t i = 0; i < reg.n_families; i++) {
		struct metric_family *f = reg.families[i];
		for (size_t j = 0; j < f->n_series; j++)
			free(f->series[j]);
		free(f);
	}
	reg.n_families = 0;
	reg.cells_used = 0;
	metrics_on_ = false;
	free((void *)metrics_cells_);
	metrics_cells_ = NULL;
	pthread_mutex_unlock(&reg.lock);
}

static int reserve_locked(unsigned n, unsigned *first)
{
	if (n > METRICS_CELLS - reg.cells_used)
		return METRICS_ELIMIT;
	*first = reg.cells_used;
	reg.cells_used += n;
	return METRICS_OK;
}

int metrics_cells_reserve(unsigned n, unsigned *first)
{
	int rc;

	pthread_mutex_lock(&reg.lock);
	rc = reserve_locked(n, first);
	pthread_mutex_unlock(&reg.lock);
	return rc;
}

uint64_t metrics_cell_sum(unsigned cell)
{
	uint64_t sum = 0;

	if (!metrics_cells_ || cell >= METRICS_CELLS)
		return 0;
	for (unsigned s = 0; s < METRICS_SHARDS; s++)
		sum += atomic_load_explicit(&metrics_cells_[s * METRICS_CELLS + cell],
					    memory_order_relaxed);
	return sum;
}

static double bits_double(uint64_t bits)
{
	double v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}

static uint64_t double_bits(double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	return bits;
}

/* A cell holding a double (a histogram's sum): added to by compare and
 * swap on the calling thread's shard, where it is not contended. */
static void cell_add_double(unsigned cell, double v)
{
	unsigned off = metrics_shard_off_;
	_Atomic uint64_t *c;
	uint64_t old;

	if (off == UINT_MAX)
		off = metrics_shard_assign_();
	c = &metrics_cells_[off + cell];
	old = atomic_load_explicit(c, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(c, &old, double_bits(bits_double(old) + v),
						      memory_order_relaxed, memory_order_relaxed))
		;
}

static double cell_sum_double(unsigned cell)
{
	double sum = 0;

	if (!metrics_cells_)
		return 0;
	for (unsigned s = 0; s < METRICS_SHARDS; s++)
		sum += bits_double(atomic_load_explicit(&metrics_cells_[s * METRICS_CELLS + cell],
							memory_order_relaxed));
	return sum;
}

bool metrics_name_valid(const char *name)
{
	size_t n = strnlen(name, METRICS_NAME_MAX + 1);

	if (n == 0 || n > METRICS_NAME_MAX || (name[0] >= '0' && name[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

static bool printable(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	}
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Name, help, labels and buckets as the ABI allows them. */
static int check_args(enum metric_type type, const char *name, const char *help,
		      const char *const *names, const char *const *values, size_t n,
		      const double *buckets, size_t nb)
{
	if (!name || !help || !metrics_name_valid(name) || !printable(help, METRICS_HELP_MAX))
		return METRICS_EINVAL;
	if (type > METRIC_HISTOGRAM || (type == METRIC_COUNTER) != ends_with(name, "_total"))
		return METRICS_EINVAL;
	/* What Prometheus makes of a histogram's samples. */
	if (type != METRIC_HISTOGRAM &&
	    (ends_with(name, "_bucket") || ends_with(name, "_count") || ends_with(name, "_sum")))
		return METRICS_EINVAL;
	if (n > METRICS_LABELS_MAX || (n && (!names || !values)))
		return METRICS_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!names[i] || !values[i] || !metrics_name_valid(names[i]) ||
		    strncmp(names[i], "__", 2) == 0 || strcmp(names[i], "le") == 0 ||
		    !printable(values[i], METRICS_VALUE_MAX))
			return METRICS_EINVAL;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(names[i], names[j]) == 0)
				return METRICS_EINVAL;
		}
	}
	if (type != METRIC_HISTOGRAM)
		return nb == 0 ? METRICS_OK : METRICS_EINVAL;
	if (nb == 0 || nb > METRICS_BUCKETS_MAX || !buckets)
		return METRICS_EINVAL;
	for (size_t i = 0; i < nb; i++) {
		if (!isfinite(buckets[i]) || (i && buckets[i] <= buckets[i - 1]))
			return METRICS_EINVAL;
	}
	return METRICS_OK;
}

static struct metric_family *find_family(const char *name)
{
	for (size_t i = 0; i < reg.n_families; i++) {
		if (strcmp(reg.families[i]->name, name) == 0)
			return reg.families[i];
	}
	return NULL;
}

/* Whether family f (found by name) takes a series of this shape. */
static bool same_shape(const struct metric_family *f, enum metric_type type, const char *help,
		       const char *const *names, size_t n, const double *buckets, size_t nb)
{
	if (f->custom || f->type != type || strcmp(f->help, help) != 0 || f->n_labels != n ||
	    f->n_buckets != nb)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(f->label_names[i], names[i]) != 0)
			return false;
	}
	for (size_t i = 0; i < nb; i++) {
		if (f->buckets[i] != buckets[i])
			return false;
	}
	return true;
}

static struct metric_family *family_new(const void *owner, enum metric_type type, const char *name,
					const char *help, const char *const *names, size_t n,
					const double *buckets, size_t nb)
{
	struct metric_family *f;

	if (reg.n_families == METRICS_FAMILIES_MAX)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->owner = owner;
	f->type = type;
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->help, sizeof(f->help), "%s", help);
	f->n_labels = n;
	for (size_t i = 0; i < n; i++)
		snprintf(f->label_names[i], sizeof(f->label_names[i]), "%s", names[i]);
	f->n_buckets = nb;
	if (nb)
		memcpy(f->buckets, buckets, nb * sizeof(*buckets));
	reg.families[reg.n_families++] = f;
	return f;
}

static struct metric_series *find_series(const struct metric_family *f, const char *const *values)
{
	for (size_t i = 0; i < f->n_series; i++) {
		struct metric_series *s = f->series[i];
		size_t j = 0;
		while (j < f->n_labels && strcmp(s->values[j], values[j]) == 0)
			j++;
		if (j == f->n_labels)
			return s;
	}
	return NULL;
}

/* The rendered `a="x",b="y"` of a series. */
static void labels_text(const struct metric_family *f, struct metric_series *s)
{
	struct metrics_buf b = { 0 };

	for (size_t i = 0; i < f->n_labels; i++) {
		if (i)
			metrics_buf_put(&b, ",", 1);
		metrics_buf_put(&b, f->label_names[i], strlen(f->label_names[i]));
		metrics_buf_put(&b, "=\"", 2);
		metrics_put_label_value(&b, s->values[i]);
		metrics_buf_put(&b, "\"", 1);
	}
	snprintf(s->labels, sizeof(s->labels), "%.*s", (int)b.len, b.p ? b.p : "");
	free(b.p);
}

int metrics_register(const void *owner, enum metric_type type, const char *name, const char *help,
		     const char *const *names, const char *const *values, size_t n,
		     const double *buckets, size_t nb, struct metric_series **out)
{
	struct metric_family *f;
	struct metric_series *s;
	int rc = check_args(type, name, help, names, values, n, buckets, nb);

	if (!out)
		return METRICS_EINVAL;
	*out = NULL;
	if (rc != METRICS_OK)
		return rc;
	pthread_mutex_lock(&reg.lock);
	f = find_family(name);
	if (f && f->owner != owner) {
		rc = METRICS_EEXIST;
		goto out;
	}
	if (f && !same_shape(f, type, help, names, n, buckets, nb)) {
		rc = METRICS_EINVAL;
		goto out;
	}
	if (f && (s = find_series(f, values)) != NULL) {
		*out = s;
		goto out;
	}
	if (!f && !(f = family_new(owner, type, name, help, names, n, buckets, nb))) {
		rc = reg.n_families == METRICS_FAMILIES_MAX ? METRICS_ELIMIT : METRICS_ENOMEM;
		goto out;
	}
	if (f->n_series == METRICS_SERIES_MAX) {
		rc = METRICS_ELIMIT;
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = METRICS_ENOMEM;
		goto out;
	}
	s->family = f;
	s->type = type;
	for (size_t i = 0; i < n; i++)
		snprintf(s->values[i], sizeof(s->values[i]), "%s", values[i]);
	labels_text(f, s);
	if (type != METRIC_GAUGE &&
	    reserve_locked(type == METRIC_COUNTER ? 1 : (unsigned)nb + 2, &s->first_cell) != 0) {
		free(s);
		rc = METRICS_ELIMIT;
		goto out;
	}
	f->series[f->n_series++] = s;
	*out = s;
out:
	pthread_mutex_unlock(&reg.lock);
	return rc;
}

int metrics_register_custom(const char *name, const char *help, enum metric_type type,
			    metrics_render_fn fn, void *arg)
{
	struct metric_family *f;
	int rc = METRICS_OK;

	if (!fn || !metrics_name_valid(name) || !printable(help, METRICS_HELP_MAX))
		return METRICS_EINVAL;
	pthread_mutex_lock(&reg.lock);
	if (find_family(name))
		rc = METRICS_EEXIST;
	else if (!(f = family_new(NULL, type, name, help, NULL, 0, NULL, 0)))
		rc = METRICS_ELIMIT;
	else {
		f->custom = fn;
		f->custom_arg = arg;
	}
	pthread_mutex_unlock(&reg.lock);
	return rc;
}

void metric_series_add(struct metric_series *s, uint64_t n)
{
	if (!metrics_on_ || !s || s->type != METRIC_COUNTER)
		return;
	metrics_cell_add(s->first_cell, n);
}

void metric_series_set(struct metric_series *s, double v)
{
	if (!metrics_on_ || !s || s->type != METRIC_GAUGE)
		return;
	atomic_store_explicit(&s->gauge_bits, double_bits(v), memory_order_relaxed);
}

void metric_series_observe(struct metric_series *s, double v)
{
	const struct metric_family *f;
	size_t i = 0;

	if (!metrics_on_ || !s || s->type != METRIC_HISTOGRAM || isnan(v))
		return;
	f = s->family;
	while (i < f->n_buckets && v > f->buckets[i])
		i++;
	metrics_cell_add(s->first_cell + (unsigned)i, 1);
	cell_add_double(s->first_cell + (unsigned)f->n_buckets + 1, v);
}

/* ---- rendering ----------------------------------------------------------- */

void metrics_buf_put(struct metrics_buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *np;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > METRICS_TEXT_MAX || !(np = realloc(b->p, cap))) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void put_str(struct metrics_buf *b, const char *s)
{
	metrics_buf_put(b, s, strlen(s));
}

void metrics_put_label_value(struct metrics_buf *b, const char *s)
{
	for (const char *p = s; *p; p++) {
		if (*p == '\\')
			metrics_buf_put(b, "\\\\", 2);
		else if (*p == '"')
			metrics_buf_put(b, "\\\"", 2);
		else if (*p == '\n')
			metrics_buf_put(b, "\\n", 2);
		else
			metrics_buf_put(b, p, 1);
	}
}

/* The shortest text that reads back as v; +Inf, -Inf and NaN as
 * Prometheus writes them. */
static void format_double(double v, char out[40])
{
	if (isnan(v)) {
		snprintf(out, 40, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, 40, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, 40, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static void put_line_start(struct metrics_buf *b, const char *name, const char *suffix,
			   const char *labels)
{
	put_str(b, name);
	if (suffix)
		put_str(b, suffix);
	if (labels && *labels) {
		metrics_buf_put(b, "{", 1);
		put_str(b, labels);
		metrics_buf_put(b, "}", 1);
	}
	metrics_buf_put(b, " ", 1);
}

void metrics_put_sample(struct metrics_buf *b, const char *name, const char *suffix,
			const char *labels, double v)
{
	char num[40];

	format_double(v, num);
	put_line_start(b, name, suffix, labels);
	put_str(b, num);
	metrics_buf_put(b, "\n", 1);
}

void metrics_put_sample_u64(struct metrics_buf *b, const char *name, const char *suffix,
			    const char *labels, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	put_line_start(b, name, suffix, labels);
	put_str(b, num);
	metrics_buf_put(b, "\n", 1);
}

void metrics_put_histogram(struct metrics_buf *b, const char *name, const char *labels,
			   const double *bounds, size_t n_bounds, unsigned first, double sum)
{
	char le[LABELS_TEXT_MAX + 64], num[40];
	uint64_t cumulative = 0;

	for (size_t i = 0; i <= n_bounds; i++) {
		cumulative += metrics_cell_sum(first + (unsigned)i);
		if (i < n_bounds)
			format_double(bounds[i], num);
		else
			snprintf(num, sizeof(num), "+Inf");
		snprintf(le, sizeof(le), "%s%sle=\"%s\"", labels, *labels ? "," : "", num);
		metrics_put_sample_u64(b, name, "_bucket", le, cumulative);
	}
	metrics_put_sample(b, name, "_sum", labels, sum);
	metrics_put_sample_u64(b, name, "_count", labels, cumulative);
}

static const char *type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER: return "counter";
	case METRIC_GAUGE: return "gauge";
	default: return "histogram";
	}
}

static void render_family(struct metrics_buf *b, const struct metric_family *f)
{
	put_str(b, "# HELP ");
	put_str(b, f->name);
	metrics_buf_put(b, " ", 1);
	for (const char *p = f->help; *p; p++)
		metrics_buf_put(b, *p == '\\' ? "\\\\" : p, *p == '\\' ? 2 : 1);
	put_str(b, "\n# TYPE ");
	put_str(b, f->name);
	metrics_buf_put(b, " ", 1);
	put_str(b, type_name(f->type));
	metrics_buf_put(b, "\n", 1);
	if (f->custom) {
		f->custom(b, f->custom_arg);
		return;
	}
	for (size_t i = 0; i < f->n_series; i++) {
		const struct metric_series *s = f->series[i];
		switch (f->type) {
		case METRIC_COUNTER:
			metrics_put_sample_u64(b, f->name, NULL, s->labels,
					       metrics_cell_sum(s->first_cell));
			break;
		case METRIC_GAUGE:
			metrics_put_sample(b, f->name, NULL, s->labels,
					   bits_double(atomic_load_explicit(&s->gauge_bits,
									    memory_order_relaxed)));
			break;
		case METRIC_HISTOGRAM:
			metrics_put_histogram(
				b, f->name, s->labels, f->buckets, f->n_buckets, s->first_cell,
				cell_sum_double(s->first_cell + (unsigned)f->n_buckets + 1));
			break;
		}
	}
}

int metrics_render(struct metrics_buf *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&reg.lock);
	for (size_t i = 0; i < reg.n_families; i++) {
		const struct metric_family *f = reg.families[i];
		/* A family of registered series with none yet has nothing to
		 * show (and Prometheus wants no empty family). */
		if (!f->custom && f->n_series == 0)
			continue;
		render_family(out, f);
	}
	pthread_mutex_unlock(&reg.lock);
	if (out->failed) {
		free(out->p);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	if (!out->p)
		metrics_buf_put(out, "", 0);
	return out->failed ? -1 : 0;
}
