/*
 * mmhost token create|list|revoke: personal access tokens, and mmhost
 * session revoke: every session of a user at once. The store keeps only
 * tokens' hashes, so a token is shown once, when it is made; afterwards it
 * is named by its id.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd_admin.h"
#include "sessions.h"
#include "banned.h"

/* token list shows at most this many tokens of a user. */
#define TOKEN_LIST_MAX 10000

static const char token_usage[] =
	"Usage: mmhost token create --username NAME [--description D]\n"
	"       mmhost token list --username NAME\n"
	"       mmhost token revoke ID [ID...]\n"
	"Each also takes [--config FILE] [--data-dir DIR].\n"
	"\n"
	"create  makes a personal access token for a user and prints the token alone\n"
	"        on stdout. It is shown once: the server keeps only its hash.\n"
	"list    prints the user's personal access tokens, one a line: id, created\n"
	"        (UTC), description. Never the token itself.\n"
	"revoke  ends the tokens with these ids (as list shows them); a running\n"
	"        server refuses them within a second.\n";

static const char session_usage[] =
	"Usage: mmhost session revoke --username NAME [--config FILE] [--data-dir DIR]\n"
	"\n"
	"Ends every session of the user: browser logins, personal access tokens and\n"
	"the tokens Apps hold for them. A running server refuses them within a\n"
	"second. The user can log in again (see mmhost user deactivate to stop\n"
	"that).\n";

static int token_create(const struct admin_args *a)
{
	char token[SESSION_TOKEN_LEN + 1];
	struct session_prop prop = { "type", "UserAccessToken" };
	struct session_new sn = { 0 };
	struct host_config cfg;
	struct host_store store;
	struct host_user u;
	int rc;

	if (!a->username)
		return cli_fail(EXIT_USAGE, "token create: --username is required");
	if (a->description && strlen(a->description) > SESSION_DESCRIPTION_MAX)
		return cli_fail(EXIT_USAGE, "token create: --description is over %d characters",
				SESSION_DESCRIPTION_MAX);
	if ((rc = admin_open(a, &cfg, &store)) != 0)
		return rc;
	if ((rc = admin_find_user(&store, "token create", a->username, &u)) != 0)
		goto out;
	if (u.delete_at != 0) {
		rc = cli_fail(1, "token create: the user \"%s\" is deactivated", a->username);
		goto out;
	}
	sn.user_id = u.id;
	sn.props = &prop;
	sn.props_len = 1;
	sn.personal = true;
	sn.description = a->description ? a->description : "created by mmhost token create";
	if ((rc = sessions_create(&store, &sn, token, NULL)) != SESSIONS_OK) {
		rc = admin_write_failed("token create", rc);
		goto out;
	}
	printf("%s\n", token);
	sodium_memzero(token, sizeof(token));
out:
	admin_close(&cfg, &store);
	return rc;
}

static void print_token(const struct host_session *s, void *arg)
{
	time_t t = (time_t)(s->create_at / 1000);
	struct tm tm;
	char when[32] = "?";

	(void)arg;
	if (!s->personal)
		return;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s\t%s\t%s\n", s->id, when, s->description);
}

static int token_list(const struct admin_args *a)
{
	struct host_config cfg;
	struct host_store store;
	struct host_user u;
	int rc;

	if (!a->username)
		return cli_fail(EXIT_USAGE, "token list: --username is required");
	if ((rc = admin_open(a, &cfg, &store)) != 0)
		return rc;
	if ((rc = admin_find_user(&store, "token list", a->username, &u)) == 0 &&
	    (rc = sessions_list_user(&store, u.id, TOKEN_LIST_MAX, print_token, NULL)) != 0)
		rc = cli_fail(1, "token list: the tokens could not be read (%s)",
			      store_strerror(rc));
	admin_close(&cfg, &store);
	return rc;
}

static int token_revoke(const struct admin_args *a)
{
	struct host_config cfg;
	struct host_store store;
	int rc, failed = 0;

	if (a->npositional < 2)
		return cli_fail(EXIT_USAGE, "token revoke: name the token ids (see token list)");
	if ((rc = admin_open(a, &cfg, &store)) != 0)
		return rc;
	for (int i = 1; i < a->npositional; i++) {
		const char *id = a->positional[i];
		rc = sessions_revoke_id(&store, id, NULL);
		if (rc == SESSIONS_OK)
			printf("%s revoked\n", id);
		else if (rc == SESSIONS_ENOTFOUND)
			failed = cli_fail(1, "token revoke: no token has the id \"%s\"", id);
		else
			failed = admin_write_failed("token revoke", rc);
	}
	admin_close(&cfg, &store);
	return failed;
}

int cmd_token(int argc, char **argv)
{
	struct admin_args a;
	const char *verb;
	int rc = admin_parse(argc, argv, "token", &a);

	if (rc != 0)
		return rc;
	if (a.help) {
		fputs(token_usage, stdout);
		return 0;
	}
	verb = a.npositional ? a.positional[0] : "";
	if (strcmp(verb, "create") == 0 && a.npositional == 1)
		return token_create(&a);
	if (strcmp(verb, "list") == 0 && a.npositional == 1)
		return token_list(&a);
	if (strcmp(verb, "revoke") == 0)
		return token_revoke(&a);
	return cli_fail(EXIT_USAGE,
			"token: expected \"token create|list|revoke\"; see mmhost token --help");
}

int cmd_session(int argc, char **argv)
{
	struct host_config cfg;
	struct host_store store;
	struct admin_args a;
	struct host_user u;
	size_t ended = 0;
	int rc = admin_parse(argc, argv, "session", &a);

	if (rc != 0)
		return rc;
	if (a.help) {
		fputs(session_usage, stdout);
		return 0;
	}
	if (a.npositional != 1 || strcmp(a.positional[0], "revoke") != 0)
		return cli_fail(EXIT_USAGE,
				"session: expected \"session revoke --username NAME\"; see mmhost "
				"session --help");
	if (!a.username)
		return cli_fail(EXIT_USAGE, "session revoke: --username is required");
	if ((rc = admin_open(&a, &cfg, &store)) != 0)
		return rc;
	if ((rc = admin_find_user(&store, "session revoke", a.username, &u)) != 0)
		goto out;
	if ((rc = sessions_revoke_user(&store, u.id, &ended)) != SESSIONS_OK) {
		rc = admin_write_failed("session revoke", rc);
		goto out;
	}
	printf("%s: %zu sessions ended\n", a.username, ended);
out:
	admin_close(&cfg, &store);
	return rc;
}
