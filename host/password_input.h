/*
 * Reading a password for the command line without putting it in argv
 * (where `ps` and shell histories show it): from a terminal with a prompt and
 * echo off, or the first line of a pipe.
 */
#ifndef HOST_PASSWORD_INPUT_H
#define HOST_PASSWORD_INPUT_H

#include <stdbool.h>
#include <stddef.h>

enum password_input_rc {
	PASSWORD_INPUT_OK = 0,
	PASSWORD_INPUT_EMPTY = -1,    /* nothing before the end of the line or input */
	PASSWORD_INPUT_TOO_LONG = -2, /* the line does not fit in cap - 1 bytes */
	PASSWORD_INPUT_MISMATCH = -3, /* the terminal's two entries differ */
	PASSWORD_INPUT_EIO = -4,      /* reading failed */
};

/*
 * Reads one password from fd into out (NUL-terminated, at most cap - 1
 * bytes; a trailing "\r\n" or "\n" is dropped). When fd is a terminal,
 * writes prompt to it, turns echo off while reading (restored on return and
 * on SIGINT, SIGTERM, SIGHUP, SIGQUIT, which then end the process as they
 * would have), and with confirm asks a second time and compares. Otherwise
 * reads the first line and nothing more of fd, without a prompt. Reads a
 * byte at a time, so no stdio buffer keeps a copy; out is wiped on any
 * failure. Not thread-safe (terminal state).
 */
int password_read(int fd, const char *prompt, bool confirm, char *out, size_t cap)
	__attribute__((warn_unused_result));

#endif
