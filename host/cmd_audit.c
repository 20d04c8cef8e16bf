/*
 * mmhost audit verify FILE: checks a node's audit trail with the key derived
 * from the master key the config names (audit_verify.h says what is
 * checked). Exit 0 with the count of lines, 1 naming the first line that was
 * altered, removed or reordered (or when the file or the key cannot be
 * read), 2 for a usage error.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "audit_verify.h"
#include "cli.h"
#include "cmd_admin.h"
#include "master_key.h"
#include "banned.h"

static const char audit_usage[] =
	"Usage: mmhost audit verify FILE [--config FILE] [--data-dir DIR]\n"
	"\n"
	"Checks the audit trail FILE (a node's DIR/audit/audit.log): every line's\n"
	"MAC, with the key derived from the master key file the config names\n"
	"(plugins.\"com.mattermost.apps\".settings.master_key_file, default\n"
	"DIR/plugins/com.mattermost.apps/master.key; and previous_master_key_file\n"
	"for lines written before a master key change), and the chain: seq 1, 2,\n"
	"3, ... each line naming the hash of the one before.\n"
	"\n"
	"Exit 0 printing how many lines verified; 1 naming the first line that was\n"
	"altered, removed or reordered.\n";

static int verify(const struct admin_args *a, const char *file)
{
	unsigned char *key = NULL, *prev_key = NULL;
	struct master_key_files keys;
	struct host_config cfg;
	struct audit_verify v;
	char err[512];
	int rc = admin_load_config(a, &cfg);

	if (rc != 0)
		return rc;
	if (sodium_init() < 0) {
		rc = cli_fail(1, "cannot initialise libsodium");
		goto out;
	}
	if (master_key_files(&cfg, &keys, err, sizeof(err)) != 0) {
		rc = cli_fail(EXIT_USAGE, "audit verify: %s", err);
		goto out;
	}
	if (audit_key_load(&keys, false, false, &key, err, sizeof(err)) != 0 ||
	    (keys.previous[0] &&
	     audit_key_load(&keys, true, false, &prev_key, err, sizeof(err)) != 0)) {
		rc = cli_fail(1, "audit verify: %s", err);
		goto out;
	}
	if (audit_verify_file(file, key, prev_key, &v, err, sizeof(err)) != 0) {
		rc = cli_fail(1, "audit verify: %s", err);
		goto out;
	}
	if (v.bad_line) {
		rc = cli_fail(1, "audit verify: %s: %s (%llu lines before it verified)", file,
			      v.problem, (unsigned long long)v.lines);
		goto out;
	}
	printf("%s: %llu line%s verified", file, (unsigned long long)v.lines,
	       v.lines == 1 ? "" : "s");
	if (v.lines)
		printf(" (seq 1 to %llu)", (unsigned long long)v.last_seq);
	if (v.cut)
		printf("; %zu line%s cut short by a crash and recorded, the first at line %zu",
		       v.cut, v.cut == 1 ? "" : "s", v.first_cut);
	printf("\n");
	rc = 0;
out:
	audit_key_free(key);
	audit_key_free(prev_key);
	config_free(&cfg);
	return rc;
}

int cmd_audit(int argc, char **argv)
{
	struct admin_args a;
	int rc = admin_parse(argc, argv, "audit", &a);

	if (rc != 0)
		return rc;
	if (a.help) {
		fputs(audit_usage, stdout);
		return 0;
	}
	if (a.npositional != 2 || strcmp(a.positional[0], "verify") != 0)
		return cli_fail(EXIT_USAGE, "usage: mmhost audit verify FILE [--config FILE]; see "
					    "mmhost audit --help");
	return verify(&a, a.positional[1]);
}
