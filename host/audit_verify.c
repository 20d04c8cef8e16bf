#include "audit_verify.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

struct reader {
	FILE *f;
	off_t pos, limit;
	size_t line_no; /* of the line read last */
};

struct raw_line {
	char buf[AUDIT_LINE_MAX];
	size_t len;
	bool too_long; /* longer than any audit line */
	bool newline;  /* ended by '\n' (else by the end of the file) */
};

enum kind { LINE_OK, LINE_BAD_MAC, LINE_MALFORMED };

/* Which keys a line may be under: the previous master key's until the first
 * line under the current one. */
struct keys {
	const unsigned char *key, *prev_key;
	bool current_seen;
};

static bool read_line(struct reader *r, struct raw_line *l)
{
	int c;

	if (r->pos >= r->limit)
		return false;
	l->len = 0;
	l->too_long = l->newline = false;
	while (r->pos < r->limit && (c = getc(r->f)) != EOF) {
		r->pos++;
		if (c == '\n') {
			l->newline = true;
			break;
		}
		if (l->len < sizeof(l->buf))
			l->buf[l->len++] = (char)c;
		else
			l->too_long = true;
	}
	r->line_no++;
	return true;
}

struct mark {
	off_t pos;
	size_t line_no;
};

static struct mark mark(const struct reader *r)
{
	return (struct mark){ r->pos, r->line_no };
}

static void back_to(struct reader *r, struct mark m)
{
	fseeko(r->f, m.pos, SEEK_SET);
	r->pos = m.pos;
	r->line_no = m.line_no;
}

static enum kind check(const struct raw_line *l, struct keys *k, struct audit_line *out)
{
	bool ok = false;

	if (l->too_long || audit_line_parse(l->buf, l->len, k->key, out, &ok) != AUDIT_OK)
		return LINE_MALFORMED;
	if (ok) {
		k->current_seen = true;
		return LINE_OK;
	}
	if (k->prev_key && !k->current_seen &&
	    audit_line_parse(l->buf, l->len, k->prev_key, out, &ok) == AUDIT_OK && ok)
		return LINE_OK;
	return LINE_BAD_MAC;
}

/* Whether the line after a malformed one records it as cut by a crash: an
 * audit_recovered line that chains to the line before it. */
static bool recorded_cut(struct reader *r, struct keys k, uint64_t expected,
			 const unsigned char prev[AUDIT_HASH_LEN])
{
	struct raw_line next;
	struct audit_line l;
	struct mark m = mark(r);
	bool yes = read_line(r, &next) && check(&next, &k, &l) == LINE_OK &&
		   strcmp(l.event, AUDIT_EVENT_RECOVERED) == 0 && l.seq == expected &&
		   memcmp(l.prev, prev, AUDIT_HASH_LEN) == 0;

	back_to(r, m);
	return yes;
}

/* The number of a later line holding seq, or 0. */
static size_t find_seq(struct reader *r, uint64_t seq)
{
	struct mark m = mark(r);
	struct raw_line raw;
	struct audit_line l;
	size_t found = 0;

	while (!found && read_line(r, &raw)) {
		if (!raw.too_long &&
		    audit_line_parse(raw.buf, raw.len, NULL, &l, NULL) == AUDIT_OK && l.seq == seq)
			found = r->line_no;
	}
	back_to(r, m);
	return found;
}

static void seq_problem(struct reader *r, struct audit_verify *v, uint64_t seq, uint64_t expected)
{
	size_t n = r->line_no, later;

	if (seq < expected) {
		snprintf(v->problem, sizeof(v->problem),
			 "line %zu is out of order: it holds seq %" PRIu64
			 ", which came before (seq %" PRIu64 " was expected)",
			 n, seq, expected);
		return;
	}
	later = find_seq(r, expected);
	if (later)
		snprintf(v->problem, sizeof(v->problem),
			 "line %zu is out of order: it holds seq %" PRIu64 ", and seq %" PRIu64
			 " comes later, at line %zu",
			 n, seq, expected, later);
	else if (seq == expected + 1)
		snprintf(v->problem, sizeof(v->problem),
			 "a line was removed before line %zu: seq %" PRIu64 " is missing", n,
			 expected);
	else
		snprintf(v->problem, sizeof(v->problem),
			 "lines were removed before line %zu: seq %" PRIu64 " to %" PRIu64
			 " are missing",
			 n, expected, seq - 1);
}

static void verify(struct reader *r, struct keys *k, struct audit_verify *v)
{
	unsigned char prev[AUDIT_HASH_LEN] = { 0 }; /* AUDIT_GENESIS */
	uint64_t expected = 1;
	struct raw_line raw;
	struct audit_line l;

	while (read_line(r, &raw)) {
		enum kind kind = check(&raw, k, &l);
		if (kind == LINE_MALFORMED && recorded_cut(r, *k, expected, prev)) {
			if (!v->cut++)
				v->first_cut = r->line_no;
			continue;
		}
		v->bad_line = r->line_no;
		if (kind == LINE_MALFORMED && !raw.newline)
			snprintf(
				v->problem, sizeof(v->problem),
				"line %zu is cut short: the file ends in the middle of it (a crash "
				"that mmhost serve records when it starts again, or the file was "
				"cut)",
				r->line_no);
		else if (kind == LINE_MALFORMED)
			snprintf(v->problem, sizeof(v->problem),
				 "line %zu was altered: it is not an audit line", r->line_no);
		else if (kind == LINE_BAD_MAC)
			snprintf(v->problem, sizeof(v->problem),
				 "line %zu was altered: its MAC does not match", r->line_no);
		else if (l.seq != expected)
			seq_problem(r, v, l.seq, expected);
		else if (memcmp(l.prev, prev, sizeof(prev)) != 0)
			snprintf(v->problem, sizeof(v->problem),
				 r->line_no == 1
					 ? "line %zu does not start a log: its prev is not "
					   "the genesis value"
					 : "line %zu was replaced: it does not chain to the "
					   "line before it",
				 r->line_no);
		else
			v->bad_line = 0;
		if (v->bad_line)
			return;
		audit_line_hash(raw.buf, raw.len, prev);
		expected = l.seq + 1;
		v->last_seq = l.seq;
		v->lines++;
	}
}

int audit_verify_file(const char *path, const unsigned char *key, const unsigned char *prev_key,
		      struct audit_verify *out, char *err, size_t err_cap)
{
	struct keys k = { key, prev_key, false };
	struct reader r = { 0 };
	struct stat st;
	int fd;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_cap, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	/* The size under the writers' lock: a boundary between whole writes.
	 * What follows it is appended later and not checked. */
	while (flock(fd, LOCK_SH) != 0 && errno == EINTR)
		;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_cap, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	flock(fd, LOCK_UN);
	r.f = fdopen(fd, "r");
	if (!r.f) {
		snprintf(err, err_cap, "cannot read %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	r.limit = st.st_size;
	verify(&r, &k, out);
	fclose(r.f);
	return 0;
}
