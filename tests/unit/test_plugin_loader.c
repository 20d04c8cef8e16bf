/* The loader's checks, one fixture plugin per way of being wrong. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "plugin_loader.h"
#include "plugin_registry.h"
#include "testsupport.h"

static char root[256];

static int setup(void **state)
{
	(void)state;
	log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
	return ts_tempdir("loader", root, sizeof(root));
}

static int teardown(void **state)
{
	(void)state;
	ts_rmtree(root);
	return 0;
}

static struct mmplugin_host *install_and_load(const char *id, const char *fixture, mode_t mode)
{
	char so[512];

	snprintf(so, sizeof(so), "%s/%s.so", FIXTURE_DIR, fixture);
	assert_int_equal(ts_install_plugin(root, id, so, mode), 0);
	return plugin_load(root, id);
}

static void expect_refusal(const char *fixture, enum plugin_refusal want)
{
	char id[128];
	struct mmplugin_host *p;

	snprintf(id, sizeof(id), "fixture.%s", fixture);
	p = install_and_load(id, fixture, 0755);
	assert_non_null(p);
	if (p->refusal != want)
		fail_msg("%s: refusal %s (%s), wanted %s", fixture, plugin_refusal_name(p->refusal),
			 p->reason, plugin_refusal_name(want));
	assert_int_equal(p->status,
			 want == PLUGIN_LOADED ? PLUGIN_STATUS_INACTIVE : PLUGIN_STATUS_REFUSED);
	assert_true(want == PLUGIN_LOADED || p->reason[0] != '\0');
	plugin_free(p);
}

static void good_plugin_loads(void **state)
{
	(void)state;
	expect_refusal("good", PLUGIN_LOADED);
}

static void each_descriptor_fault_is_refused(void **state)
{
	(void)state;
	expect_refusal("bad_magic", PLUGIN_E_MAGIC);
	expect_refusal("abi_major", PLUGIN_E_ABI_MAJOR);
	expect_refusal("abi_minor", PLUGIN_E_ABI_MINOR);
	expect_refusal("small_struct", PLUGIN_E_STRUCT_SIZE);
	expect_refusal("no_serve", PLUGIN_E_HOOKS);
	expect_refusal("no_entry", PLUGIN_E_NO_ENTRY);
	expect_refusal("null_entry", PLUGIN_E_NO_ENTRY);
	expect_refusal("id_mismatch", PLUGIN_E_ID);
}

static void group_writable_file_is_refused(void **state)
{
	struct mmplugin_host *p;

	(void)state;
	p = install_and_load("fixture.gw", "good", 0775);
	assert_int_equal(p->refusal, PLUGIN_E_PERMISSIONS);
	assert_non_null(strstr(p->reason, "writable"));
	plugin_free(p);
	p = install_and_load("fixture.ow", "good", 0757);
	assert_int_equal(p->refusal, PLUGIN_E_PERMISSIONS);
	plugin_free(p);
}

static void group_writable_folder_is_refused(void **state)
{
	char dir[512];
	struct mmplugin_host *p;

	(void)state;
	p = install_and_load("fixture.gwdir", "good", 0755);
	plugin_free(p);
	snprintf(dir, sizeof(dir), "%s/fixture.gwdir", root);
	assert_int_equal(chmod(dir, 0775), 0);
	p = plugin_load(root, "fixture.gwdir");
	assert_int_equal(p->refusal, PLUGIN_E_PERMISSIONS);
	plugin_free(p);
}

/* Whoever owns the plugin can put code in the server. Making a file that
 * belongs to another user takes root: skipped otherwise. */
static void file_or_folder_of_another_user_is_refused(void **state)
{
	char other[300], dir[512], so[600];
	struct mmplugin_host *p;

	(void)state;
	if (geteuid() != 0)
		skip();
	/* The good fixture's id is fixture.good: a root of its own. */
	assert_int_equal(ts_tempdir("loader-owner", other, sizeof(other)), 0);
	snprintf(so, sizeof(so), "%s/good.so", FIXTURE_DIR);
	assert_int_equal(ts_install_plugin(other, "fixture.good", so, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/fixture.good", other);
	snprintf(so, sizeof(so), "%s/plugin.so", dir);
	assert_int_equal(chown(so, 65534, 65534), 0);
	p = plugin_load(other, "fixture.good");
	assert_int_equal(p->refusal, PLUGIN_E_OWNER);
	assert_string_equal(plugin_refusal_name(p->refusal), "owner");
	assert_non_null(strstr(p->reason, "owned by uid 65534"));
	plugin_free(p);
	assert_int_equal(chown(so, 0, 0), 0);
	p = plugin_load(other, "fixture.good");
	assert_int_equal(p->refusal, PLUGIN_LOADED);
	plugin_free(p);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	p = plugin_load(other, "fixture.good");
	assert_int_equal(p->refusal, PLUGIN_E_OWNER);
	assert_non_null(strstr(p->reason, "folder is owned by uid 65534"));
	plugin_free(p);
	ts_rmtree(other);
}

/* Whoever may rename the entries of plugin_dir may swap a plugin's folder
 * for one of theirs: plugin_dir is held to the plugin's folder's rules. */
static void plugin_dir_others_may_change_is_refused(void **state)
{
	char dir[300], so[512];
	struct mmplugin_host *p;
	const mode_t modes[] = { 0775, 0757, 01777 };

	(void)state;
	assert_int_equal(ts_tempdir("loader-top", dir, sizeof(dir)), 0);
	snprintf(so, sizeof(so), "%s/good.so", FIXTURE_DIR);
	assert_int_equal(ts_install_plugin(dir, "fixture.good", so, 0755), 0);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(chmod(dir, modes[i]), 0);
		p = plugin_load(dir, "fixture.good");
		assert_int_equal(p->refusal, PLUGIN_E_PERMISSIONS);
		assert_non_null(strstr(p->reason, "plugin_dir is writable by group or others"));
		plugin_free(p);
	}
	assert_int_equal(chmod(dir, 0755), 0);
	p = plugin_load(dir, "fixture.good");
	assert_int_equal(p->refusal, PLUGIN_LOADED);
	plugin_free(p);
	if (geteuid() == 0) {
		assert_int_equal(chown(dir, 65534, 65534), 0);
		p = plugin_load(dir, "fixture.good");
		assert_int_equal(p->refusal, PLUGIN_E_OWNER);
		assert_non_null(strstr(p->reason, "plugin_dir is owned by uid 65534"));
		plugin_free(p);
	}
	ts_rmtree(dir);
}

/* Libraries are loaded by the name /proc/self/fd/N, and glibc hands out a
 * loaded library for an equal name: a plugin loaded after another one,
 * which stays loaded, must get its own library, not the first one's. */
static void each_plugin_loaded_is_its_own_library(void **state)
{
	struct mmplugin_host *a, *b;

	(void)state;
	a = install_and_load("fixture.good", "good", 0755);
	assert_int_equal(a->refusal, PLUGIN_LOADED);
	b = install_and_load("fixture.activate_fails", "activate_fails", 0755);
	if (b->refusal != PLUGIN_LOADED)
		fail_msg("the second plugin was refused: %s (%s)", plugin_refusal_name(b->refusal),
			 b->reason);
	assert_string_equal(b->desc->id, "fixture.activate_fails");
	assert_ptr_not_equal(a->dl, b->dl);
	plugin_free(b);
	plugin_free(a);
}

static int open_descriptors(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A plugin unloaded before any activation gives its descriptor back; so
 * does one refused after it was mapped. */
static void an_unloaded_plugin_keeps_no_descriptor(void **state)
{
	int before = open_descriptors();

	(void)state;
	plugin_free(install_and_load("fixture.fd_good", "good", 0755));
	expect_refusal("abi_major", PLUGIN_E_ABI_MAJOR);
	assert_int_equal(open_descriptors(), before);
}

static void symlinked_executable_is_refused(void **state)
{
	char path[512], target[512];
	struct mmplugin_host *p;

	(void)state;
	p = install_and_load("fixture.link", "good", 0755);
	plugin_free(p);
	snprintf(path, sizeof(path), "%s/fixture.link/plugin.so", root);
	snprintf(target, sizeof(target), "%s/good.so", FIXTURE_DIR);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(target, path), 0);
	p = plugin_load(root, "fixture.link");
	assert_int_equal(p->refusal, PLUGIN_E_NOT_REGULAR);
	assert_non_null(strstr(p->reason, "symbolic link"));
	plugin_free(p);
}

static void manifest_faults_are_refused(void **state)
{
	char dir[512], path[600];
	struct mmplugin_host *p;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/fixture.man", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	p = plugin_load(root, "fixture.man");
	assert_int_equal(p->refusal, PLUGIN_E_MANIFEST); /* no plugin.json */
	plugin_free(p);

	snprintf(path, sizeof(path), "%s/plugin.json", dir);
	assert_int_equal(ts_write_file(path, "{not json", 0644), 0);
	p = plugin_load(root, "fixture.man");
	assert_int_equal(p->refusal, PLUGIN_E_MANIFEST);
	plugin_free(p);

	assert_int_equal(ts_write_file(path, "{\"id\":\"other\",\"version\":\"1\"}", 0644), 0);
	p = plugin_load(root, "fixture.man");
	assert_int_equal(p->refusal, PLUGIN_E_MANIFEST);
	plugin_free(p);

	assert_int_equal(ts_write_file(path,
				       "{\"id\":\"fixture.man\",\"version\":\"1\","
				       "\"server\":{\"executable\":\"../good.so\"}}",
				       0644),
			 0);
	p = plugin_load(root, "fixture.man");
	assert_int_equal(p->refusal, PLUGIN_E_EXECUTABLE);
	plugin_free(p);

	assert_int_equal(ts_write_file(path,
				       "{\"id\":\"fixture.man\",\"version\":\"1\","
				       "\"server\":{\"executable\":\"missing.so\"}}",
				       0644),
			 0);
	p = plugin_load(root, "fixture.man");
	assert_int_equal(p->refusal, PLUGIN_E_NOT_REGULAR);
	plugin_free(p);
}

static void failing_activate_leaves_plugin_inactive(void **state)
{
	char so[512], dir[300];
	struct plugin_registry reg;
	struct host_config cfg;

	(void)state;
	assert_int_equal(ts_tempdir("loader-act", dir, sizeof(dir)), 0);
	snprintf(so, sizeof(so), "%s/activate_fails.so", FIXTURE_DIR);
	assert_int_equal(ts_install_plugin(dir, "fixture.activate_fails", so, 0755), 0);
	snprintf(so, sizeof(so), "%s/good.so", FIXTURE_DIR);
	assert_int_equal(ts_install_plugin(dir, "fixture.good", so, 0755), 0);
	assert_int_equal(config_init(&cfg), 0);
	assert_int_equal(config_set_string(&cfg.data_dir, dir), 0);
	assert_int_equal(plugin_registry_load(&reg, &cfg, NULL, NULL, dir, "http://localhost:1"),
			 0);
	assert_int_equal(reg.len, 2);
	assert_string_equal(reg.items[0]->id, "fixture.activate_fails");
	assert_int_equal(reg.items[0]->status, PLUGIN_STATUS_INACTIVE);
	assert_non_null(strstr(reg.items[0]->reason, "activate returned 7"));
	assert_int_equal(reg.items[1]->status, PLUGIN_STATUS_ACTIVE);
	plugin_registry_close(&reg);
	config_free(&cfg);
	ts_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_plugin_loads),
		cmocka_unit_test(each_descriptor_fault_is_refused),
		cmocka_unit_test(group_writable_file_is_refused),
		cmocka_unit_test(group_writable_folder_is_refused),
		cmocka_unit_test(file_or_folder_of_another_user_is_refused),
		cmocka_unit_test(plugin_dir_others_may_change_is_refused),
		cmocka_unit_test(each_plugin_loaded_is_its_own_library),
		cmocka_unit_test(an_unloaded_plugin_keeps_no_descriptor),
		cmocka_unit_test(symlinked_executable_is_refused),
		cmocka_unit_test(manifest_faults_are_refused),
		cmocka_unit_test(failing_activate_leaves_plugin_inactive),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
