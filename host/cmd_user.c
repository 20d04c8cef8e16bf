/*
 * mmhost user create|list|deactivate|activate|password: the users an admin
 * manages from the machine, as Mattermost's mmctl does. Passwords are read
 * from stdin (a prompt on a terminal), so that they stay out of `ps` and
 * shell histories; `user create --password PW` remains for scripts.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_admin.h"
#include "password_input.h"
#include "sessions.h"
#include "banned.h"

static const char user_usage[] =
	"Usage: mmhost user create --username NAME [--password PW | --password-stdin]\n"
	"                          [--email E] [--system-admin]\n"
	"       mmhost user list\n"
	"       mmhost user deactivate --username NAME\n"
	"       mmhost user activate --username NAME\n"
	"       mmhost user password --username NAME\n"
	"Each also takes [--config FILE] [--data-dir DIR].\n"
	"\n"
	"create   creates a user and prints its id. Without --email the address is\n"
	"         NAME@localhost. Usernames are lower-case letters, digits, '.', '-',\n"
	"         '_', starting with a letter.\n"
	"list     prints one line per user: id, username, email, roles, state\n"
	"         (active, deactivated; bots say bot).\n"
	"deactivate  the user can no longer log in and every session and token of\n"
	"         theirs stops working at once (a running server within a second).\n"
	"activate    lets a deactivated user log in again.\n"
	"password    sets a new password and ends every session and token of the\n"
	"         user.\n"
	"\n"
	"Passwords are %d to %d characters, read from stdin: typed at a prompt\n"
	"(twice, not shown) on a terminal, else the first line of the input\n"
	"(--password-stdin says so explicitly). create --password PW is visible to\n"
	"other users of the machine (ps) and in shell histories.\n";

/* A password from stdin into pw. 0, or the exit code after saying why. */
static int read_password(const char *what, char *pw, size_t cap)
{
	switch (password_read(STDIN_FILENO, "Password: ", true, pw, cap)) {
	case PASSWORD_INPUT_OK: return 0;
	case PASSWORD_INPUT_EMPTY:
		return cli_fail(EXIT_USAGE,
				"%s: no password on stdin; type it at the prompt or "
				"pipe it",
				what);
	case PASSWORD_INPUT_TOO_LONG:
		return cli_fail(EXIT_USAGE, "%s: the password is over %d characters", what,
				PASSWORD_MAX);
	case PASSWORD_INPUT_MISMATCH:
		return cli_fail(EXIT_USAGE, "%s: the two passwords differ", what);
	default: return cli_fail(1, "%s: cannot read the password from stdin", what);
	}
}

/* user create once the password is known. */
static int create_user(const struct admin_args *a, const char *password)
{
	struct host_config cfg;
	struct host_store store;
	struct host_user u;
	struct user_new n;
	char localhost[EMAIL_MAX + 16], msg[256];
	const char *email = a->email;
	int rc;

	if (!email) {
		snprintf(localhost, sizeof(localhost), "%s@localhost", a->username);
		email = localhost;
	}
	n = (struct user_new){ a->username, email, password, a->admin, false };
	if (users_check_new(&n, msg, sizeof(msg)) != USERS_OK)
		return cli_fail(EXIT_USAGE, "user create: %s", msg);
	if ((rc = admin_open(a, &cfg, &store)) != 0)
		return rc;
	switch (rc = users_create(&store, &n, &u)) {
	case USERS_OK:
		printf("%s\n", u.id);
		rc = 0;
		break;
	case USERS_EUSERNAME_TAKEN:
		rc = cli_fail(1, "user create: the username \"%s\" is taken", a->username);
		break;
	case USERS_EEMAIL_TAKEN:
		rc = cli_fail(1, "user create: the email \"%s\" is taken", email);
		break;
	default: rc = admin_write_failed("user create", rc); break;
	}
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	admin_close(&cfg, &store);
	return rc;
}

static int user_create(const struct admin_args *a)
{
	char pw[PASSWORD_MAX + 2];
	int rc;

	if (!a->username)
		return cli_fail(EXIT_USAGE, "user create: --username is required");
	if (a->password && a->password_stdin)
		return cli_fail(EXIT_USAGE,
				"user create: pass --password or --password-stdin, not both");
	if (a->password)
		return create_user(a, a->password);
	if ((rc = read_password("user create", pw, sizeof(pw))) != 0)
		return rc;
	rc = create_user(a, pw);
	sodium_memzero(pw, sizeof(pw));
	return rc;
}

/* ---- user list ---------------------------------------------------------- */

#define LIST_BATCH 128

/* One page of the usernames index: the ids, in username order. */
struct list_page {
	char ids[LIST_BATCH][MM_ID_LEN + 1];
	size_t n;
	char last[USERNAME_MAX + 1];
	size_t last_len;
	size_t visited;
	int rc;
};

static int collect_id(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct list_page *p = arg;

	if (klen > USERNAME_MAX || vlen != MM_ID_LEN)
		return 0;
	memcpy(p->last, key, klen);
	p->last_len = klen;
	memcpy(p->ids[p->n], val, MM_ID_LEN);
	p->ids[p->n++][MM_ID_LEN] = '\0';
	return 0;
}

/* Reads a page of ids and prints those users, in one read transaction. */
static int list_page(struct store_txn *txn, void *arg)
{
	struct list_page *p = arg;
	struct host_user u;
	int rc;

	p->n = 0;
	rc = store_scan(txn, HOST_T_USERNAMES, NULL, 0, p->last_len ? p->last : NULL, p->last_len,
			LIST_BATCH, collect_id, p, &p->visited);
	for (size_t i = 0; rc == STORE_OK && i < p->n; i++) {
		rc = users_get_txn(txn, p->ids[i], &u);
		sodium_memzero(u.password_hash, sizeof(u.password_hash));
		if (rc == USERS_ENOTFOUND) {
			rc = STORE_OK; /* an index entry ahead of its user: not a user yet */
			continue;
		}
		if (rc == USERS_OK)
			printf("%s\t%s\t%s\t%s\t%s\n", u.id, u.username, u.email, u.roles,
			       u.delete_at ? "deactivated"
			       : u.is_bot  ? "bot"
					   : "active");
	}
	return rc;
}

static int user_list(const struct admin_args *a)
{
	struct host_config cfg;
	struct host_store store;
	struct list_page *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return cli_fail(1, "out of memory");
	if ((rc = admin_open(a, &cfg, &store)) != 0) {
		free(p);
		return rc;
	}
	do
		rc = store_read(store.st, list_page, p);
	while (rc == STORE_OK && p->visited == LIST_BATCH);
	if (rc != STORE_OK)
		rc = cli_fail(1, "user list: the users could not be read (%s)", store_strerror(rc));
	admin_close(&cfg, &store);
	free(p);
	return rc;
}

/* ---- deactivate, activate, password ------------------------------------- */

static int user_set_active(const struct admin_args *a, bool active)
{
	const char *what = active ? "user activate" : "user deactivate";
	struct host_config cfg;
	struct host_store store;
	struct host_user u;
	int rc;

	if (!a->username)
		return cli_fail(EXIT_USAGE, "%s: --username is required", what);
	if ((rc = admin_open(a, &cfg, &store)) != 0)
		return rc;
	if ((rc = admin_find_user(&store, what, a->username, &u)) != 0)
		goto out;
	if (u.is_bot) {
		/* An App's bot follows its App: install and uninstall decide. */
		rc = cli_fail(1, "%s: \"%s\" is an App's bot; enable or disable the App instead",
			      what, a->username);
		goto out;
	}
	if ((rc = users_set_active(&store, u.id, active)) != USERS_OK) {
		rc = admin_write_failed(what, rc);
		goto out;
	}
	printf("%s %s\n", a->username, active ? "activated" : "deactivated");
out:
	admin_close(&cfg, &store);
	return rc;
}

static int user_password(const struct admin_args *a)
{
	char pw[PASSWORD_MAX + 2];
	struct host_config cfg;
	struct host_store store;
	struct host_user u;
	size_t ended = 0;
	int rc;

	if (!a->username)
		return cli_fail(EXIT_USAGE, "user password: --username is required");
	if (a->password)
		return cli_fail(EXIT_USAGE, "user password: the password is read from stdin, "
					    "never from the command line");
	if ((rc = read_password("user password", pw, sizeof(pw))) != 0)
		return rc;
	if (strlen(pw) < PASSWORD_MIN) {
		sodium_memzero(pw, sizeof(pw));
		return cli_fail(EXIT_USAGE, "user password: the password is under %d characters",
				PASSWORD_MIN);
	}
	if ((rc = admin_open(a, &cfg, &store)) != 0)
		goto out_pw;
	if ((rc = admin_find_user(&store, "user password", a->username, &u)) != 0)
		goto out;
	rc = users_set_password(&store, u.id, pw);
	if (rc == USERS_EINVALID) {
		rc = cli_fail(1, "user password: \"%s\" is a bot; bots have no password",
			      a->username);
		goto out;
	}
	if (rc != USERS_OK) {
		rc = admin_write_failed("user password", rc);
		goto out;
	}
	/* Whoever knew the old password may hold a session: end them all. */
	if ((rc = sessions_revoke_user(&store, u.id, &ended)) != SESSIONS_OK) {
		rc = cli_fail(1,
			      "user password: the password is set, but the sessions could not "
			      "be ended (%s); run mmhost session revoke --username %s",
			      store_strerror(rc), a->username);
		goto out;
	}
	printf("%s: password set, %zu sessions ended\n", a->username, ended);
out:
	admin_close(&cfg, &store);
out_pw:
	sodium_memzero(pw, sizeof(pw));
	return rc;
}

int cmd_user(int argc, char **argv)
{
	struct admin_args a;
	const char *verb;
	int rc = admin_parse(argc, argv, "user", &a);

	if (rc != 0)
		return rc;
	if (a.help) {
		printf(user_usage, PASSWORD_MIN, PASSWORD_MAX);
		return 0;
	}
	verb = a.npositional == 1 ? a.positional[0] : "";
	if (strcmp(verb, "create") == 0)
		return user_create(&a);
	if (strcmp(verb, "list") == 0)
		return user_list(&a);
	if (strcmp(verb, "deactivate") == 0 || strcmp(verb, "activate") == 0)
		return user_set_active(&a, verb[0] == 'a');
	if (strcmp(verb, "password") == 0)
		return user_password(&a);
	return cli_fail(EXIT_USAGE, "user: expected \"user create|list|deactivate|activate|"
				    "password\"; see mmhost user --help");
}
