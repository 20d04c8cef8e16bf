/*
 * Checking a node's audit trail (mmhost audit verify): every line is an
 * audit line (audit_line.h) whose MAC matches, and the lines form one chain:
 * seq 1, 2, 3, ... each naming the previous line's hash. The first line that
 * breaks this is named, with what is wrong with it: altered (its MAC does
 * not match, or it is not an audit line), removed (a seq is missing and
 * nothing later holds it), reordered (the seq it should hold comes later,
 * or it holds one that came before), or replaced (the seq is right but it
 * does not chain to the line before).
 *
 * A line cut short by a crash and recorded by the writer (the next line is
 * audit_recovered and chains past it) is not a break: it is counted and
 * reported. A cut last line not yet recorded is a break.
 *
 * What a chain cannot show: lines cut off the end of the file at a line
 * boundary (the file is then a shorter, valid log). Ship the log off the
 * node when that matters.
 */
#ifndef HOST_AUDIT_VERIFY_H
#define HOST_AUDIT_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "audit_line.h"

#define AUDIT_PROBLEM_MAX 320

struct audit_verify {
	uint64_t lines;    /* lines that verified */
	uint64_t last_seq; /* the seq of the last of them */
	size_t cut;        /* lines cut short by a crash and recorded */
	size_t first_cut;  /* the line number of the first of them; 0: none */
	size_t bad_line;   /* 0: the chain holds; else the first line that breaks it */
	char problem[AUDIT_PROBLEM_MAX]; /* what is wrong there, one sentence */
};

/* Verifies the file at path as it is when called (its size is taken under
 * a shared lock, so a write in progress is not seen half-done). key: the
 * audit key of the current master key; prev_key (may be NULL): the one of
 * the master key before a change, accepted for lines older than the first
 * line under key. 0 with *out filled (look at bad_line), or -1 with one line
 * in err (the file cannot be read). */
int audit_verify_file(const char *path, const unsigned char *key, const unsigned char *prev_key,
		      struct audit_verify *out, char *err, size_t err_cap)
	__attribute__((warn_unused_result));

#endif
