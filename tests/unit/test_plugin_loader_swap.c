/*
 * The loader against someone who may rename entries of the plugin folder
 * (plugin_dir writable by others), but owns no plugin: the owner and mode
 * checks refuse their own plugin folder. They check the plugin's folder and
 * file through descriptors, yet the library is mapped by its path: a
 * folder swapped in between the checks and dlopen() is the one mapped, and
 * its constructors run inside dlopen(), before any check after it can
 * refuse anything.
 *
 * A real attacker wins that race by exchanging their folder with the
 * plugin's in a loop (renameat2 RENAME_EXCHANGE) while the server starts.
 * Here it is won deterministically at its worst moment: this program's
 * dlopen() exchanges the two folders for the time of the real dlopen() and
 * puts them back before the loader looks again.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "plugin_loader.h"
#include "testsupport.h"

static char root[256], plugin_dir[300], checked[400], swapped[400], mark[400];
static bool armed;
/* Swap around the next dlopen() whatever it is asked to open: the moment a
 * racing attacker aims at, however the loader names the library. */
static bool armed_any;

static int exchange(void)
{
	return renameat2(AT_FDCWD, checked, AT_FDCWD, swapped, RENAME_EXCHANGE);
}

/* The loader's dlopen(): the attacker's move, once, for a library under
 * plugin_dir; then libc's. */
void *dlopen(const char *file, int flags)
{
	static void *(*real)(const char *, int);
	bool swap =
		(armed && file && strncmp(file, plugin_dir, strlen(plugin_dir)) == 0) || armed_any;
	void *h;

	if (!real) {
		void *sym = dlsym(RTLD_NEXT, "dlopen");
		memcpy(&real, &sym, sizeof(real));
	}
	if (!swap)
		return real(file, flags);
	armed = true;
	armed_any = false;
	assert_int_equal(exchange(), 0);
	h = real(file, flags);
	assert_int_equal(exchange(), 0);
	return h;
}

static int setup(void **state)
{
	(void)state;
	log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
	if (ts_tempdir("loader-swap", root, sizeof(root)) != 0)
		return -1;
	snprintf(plugin_dir, sizeof(plugin_dir), "%s/plugins", root);
	snprintf(checked, sizeof(checked), "%s/fixture.good", plugin_dir);
	snprintf(swapped, sizeof(swapped), "%s/.theirs", plugin_dir);
	snprintf(mark, sizeof(mark), "%s/constructor-ran", root);
	return setenv("MMHOST_TEST_CONSTRUCTOR_MARK", mark, 1);
}

static int teardown(void **state)
{
	(void)state;
	ts_rmtree(root);
	return 0;
}

static void a_folder_swapped_in_before_dlopen_runs_no_code(void **state)
{
	char so[512];
	char said[640];
	struct stat st;
	struct mmplugin_host *p;
	bool ran;

	(void)state;
	/* The plugin folder: others may rename what is in it. */
	assert_int_equal(mkdir(plugin_dir, 0755), 0);
	assert_int_equal(chmod(plugin_dir, 0777), 0);
	snprintf(so, sizeof(so), "%s/good.so", FIXTURE_DIR);
	assert_int_equal(ts_install_plugin(plugin_dir, "fixture.good", so, 0755), 0);
	/* Theirs: the same id, and code that runs when it is mapped. */
	snprintf(so, sizeof(so), "%s/swapped.so", FIXTURE_DIR);
	assert_int_equal(ts_install_plugin(plugin_dir, ".theirs", so, 0755), 0);
	if (geteuid() == 0)
		assert_int_equal(chown(swapped, 65534, 65534), 0);
	armed = true;
	p = plugin_load(plugin_dir, "fixture.good");
	assert_non_null(p);
	/* Whatever the loader decided, their code must not have run. */
	ran = stat(mark, &st) == 0;
	snprintf(said, sizeof(said), "%s, %.300s", plugin_refusal_name(p->refusal),
		 p->reason[0] ? p->reason : "loaded");
	plugin_free(p);
	if (ran)
		fail_msg("a library swapped in before dlopen() ran its code in the server "
			 "(the loader said: %s)",
			 said);
}

/* plugin_dir as it should be (only its owner may rename entries), and the
 * swap still won at dlopen(): as by a process of the host's own user. The
 * loader maps the file it checked, whatever the path names by then. */
static void the_library_mapped_is_the_file_checked(void **state)
{
	char so[512], said[640];
	struct stat st;
	struct mmplugin_host *p;
	bool ran;

	(void)state;
	armed = false;
	snprintf(plugin_dir, sizeof(plugin_dir), "%s/trusted", root);
	snprintf(checked, sizeof(checked), "%s/fixture.good", plugin_dir);
	snprintf(swapped, sizeof(swapped), "%s/.theirs", plugin_dir);
	(void)unlink(mark);
	assert_int_equal(mkdir(plugin_dir, 0755), 0);
	assert_int_equal(chmod(plugin_dir, 0755), 0);
	snprintf(so, sizeof(so), "%s/good.so", FIXTURE_DIR);
	assert_int_equal(ts_install_plugin(plugin_dir, "fixture.good", so, 0755), 0);
	snprintf(so, sizeof(so), "%s/swapped.so", FIXTURE_DIR);
	assert_int_equal(ts_install_plugin(plugin_dir, ".theirs", so, 0755), 0);
	armed_any = true;
	p = plugin_load(plugin_dir, "fixture.good");
	armed_any = false;
	assert_non_null(p);
	ran = stat(mark, &st) == 0;
	snprintf(said, sizeof(said), "%s, %.300s", plugin_refusal_name(p->refusal),
		 p->reason[0] ? p->reason : "loaded");
	plugin_free(p);
	if (ran)
		fail_msg("the loader mapped a library other than the one it checked (it said: "
			 "%s)",
			 said);
	assert_string_equal(said, "loaded, not activated");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_folder_swapped_in_before_dlopen_runs_no_code),
		cmocka_unit_test(the_library_mapped_is_the_file_checked),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
