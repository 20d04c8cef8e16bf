#include "password_input.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "banned.h"

static const int restore_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define NSIGNALS (sizeof(restore_signals) / sizeof(restore_signals[0]))

/* The terminal as it was, for the signal handler. */
static struct termios saved;
static volatile sig_atomic_t saved_fd = -1;

static void restore_and_reraise(int sig)
{
	if (saved_fd >= 0)
		tcsetattr(saved_fd, TCSAFLUSH, &saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One line, a byte at a time; *had_newline tells whether it ended. */
static int read_line(int fd, char *out, size_t cap, bool *had_newline)
{
	size_t n = 0;

	*had_newline = false;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return PASSWORD_INPUT_EIO;
		if (r == 0)
			break;
		if (c == '\n') {
			*had_newline = true;
			break;
		}
		if (n + 1 >= cap)
			return PASSWORD_INPUT_TOO_LONG;
		out[n++] = c;
	}
	if (n > 0 && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	return n ? PASSWORD_INPUT_OK : PASSWORD_INPUT_EMPTY;
}

static void say(int fd, const char *s)
{
	size_t len = strlen(s), done = 0;

	while (done < len) {
		ssize_t w = write(fd, s + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		done += (size_t)w;
	}
}

/* Prompts on the terminal fd and reads with echo off. */
static int read_quiet(int fd, const char *prompt, char *out, size_t cap)
{
	struct sigaction sa, old[NSIGNALS];
	struct termios quiet;
	bool nl;
	int rc;

	if (tcgetattr(fd, &saved) != 0)
		return PASSWORD_INPUT_EIO;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_and_reraise;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NSIGNALS; i++)
		sigaction(restore_signals[i], &sa, &old[i]);
	saved_fd = fd;
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ICANON;
	/* Echo off (dropping what was typed ahead) before the prompt: what is
	 * typed once the prompt shows is neither shown nor dropped. */
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
		rc = PASSWORD_INPUT_EIO;
		goto out_signals;
	}
	say(fd, prompt);
	rc = read_line(fd, out, cap, &nl);
	tcsetattr(fd, TCSAFLUSH, &saved);
	say(fd, "\n");
out_signals:
	saved_fd = -1;
	for (size_t i = 0; i < NSIGNALS; i++)
		sigaction(restore_signals[i], &old[i], NULL);
	return rc;
}

int password_read(int fd, const char *prompt, bool confirm, char *out, size_t cap)
{
	char again[1024];
	bool nl;
	int rc;

	if (cap < 2)
		return PASSWORD_INPUT_TOO_LONG;
	if (!isatty(fd)) {
		rc = read_line(fd, out, cap, &nl);
		goto out;
	}
	rc = read_quiet(fd, prompt, out, cap);
	if (rc != PASSWORD_INPUT_OK || !confirm)
		goto out;
	rc = read_quiet(fd, "Again: ", again, sizeof(again));
	if (rc == PASSWORD_INPUT_OK &&
	    (strlen(again) != strlen(out) || sodium_memcmp(again, out, strlen(out)) != 0))
		rc = PASSWORD_INPUT_MISMATCH;
	if (rc == PASSWORD_INPUT_EMPTY || rc == PASSWORD_INPUT_TOO_LONG)
		rc = PASSWORD_INPUT_MISMATCH;
	sodium_memzero(again, sizeof(again));
out:
	if (rc != PASSWORD_INPUT_OK)
		sodium_memzero(out, cap);
	return rc;
}
