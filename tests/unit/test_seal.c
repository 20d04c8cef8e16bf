/* Sealed records: what opens and everything that must not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "seal.h"
#include "testsupport.h"

static const unsigned char key_a[32] = { 1, 2, 3 };
static const unsigned char key_b[32] = { 9, 9, 9 };
static const char plain[] = "{\"access_token\":\"gho_secret\",\"n\":1}";
static const char rec_key[] = "app1\0user1";
#define REC_KEY_LEN 10

static void seal_one(const struct sealer *s, unsigned char **out, size_t *len)
{
	assert_int_equal(
		seal_record(s, "oauth2_user", rec_key, REC_KEY_LEN, plain, strlen(plain), out, len),
		SEAL_OK);
}

static int open_one(const struct sealer *s, const char *db, const void *key, size_t klen,
		    const unsigned char *in, size_t len)
{
	char *p = NULL;
	size_t plen = 0;
	int rc = unseal_record(s, db, key, klen, in, len, &p, &plen);

	if (rc == SEAL_OK) {
		assert_int_equal(plen, strlen(plain));
		assert_memory_equal(p, plain, plen);
		assert_int_equal(p[plen], '\0');
	}
	unseal_free(p);
	return rc;
}

static void round_trip_and_format(void **state)
{
	struct sealer s;
	unsigned char *out;
	size_t len;

	(void)state;
	assert_int_equal(sealer_open_key(&s, key_a), SEAL_OK);
	seal_one(&s, &out, &len);
	assert_int_equal(len, strlen(plain) + SEAL_OVERHEAD);
	assert_int_equal(out[0], SEAL_VERSION);
	assert_int_equal(out[1] << 24 | out[2] << 16 | out[3] << 8 | out[4], SEAL_KEY_ID_CURRENT);
	assert_null(memmem(out, len, "gho_secret", 10));
	assert_int_equal(open_one(&s, "oauth2_user", rec_key, REC_KEY_LEN, out, len), SEAL_OK);
	free(out);
	sealer_close(&s);
}

static void each_tampering_fails_to_open(void **state)
{
	struct sealer s, other;
	unsigned char *out;
	size_t len;

	(void)state;
	assert_int_equal(sealer_open_key(&s, key_a), SEAL_OK);
	assert_int_equal(sealer_open_key(&other, key_b), SEAL_OK);
	seal_one(&s, &out, &len);
	/* Every single flipped bit, anywhere. */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			out[i] ^= (unsigned char)(1 << bit);
			if (open_one(&s, "oauth2_user", rec_key, REC_KEY_LEN, out, len) == SEAL_OK)
				fail_msg("flipped bit %d of byte %zu opened", bit, i);
			out[i] ^= (unsigned char)(1 << bit);
		}
	}
	/* Moved under another user, another App, another database. */
	assert_int_equal(open_one(&s, "oauth2_user", "app1\0user2", 10, out, len), SEAL_EOPEN);
	assert_int_equal(open_one(&s, "oauth2_user", "app2\0user1", 10, out, len), SEAL_EOPEN);
	assert_int_equal(open_one(&s, "apps", rec_key, REC_KEY_LEN, out, len), SEAL_EOPEN);
	/* Truncated, at every length. */
	for (size_t n = 0; n < len; n++)
		assert_int_equal(open_one(&s, "oauth2_user", rec_key, REC_KEY_LEN, out, n),
				 SEAL_EOPEN);
	/* Another master key. */
	assert_int_equal(open_one(&other, "oauth2_user", rec_key, REC_KEY_LEN, out, len),
			 SEAL_EOPEN);
	/* Another key id (the header says 2; key 2 is not what sealed it). */
	out[4] = 2;
	assert_int_equal(open_one(&s, "oauth2_user", rec_key, REC_KEY_LEN, out, len), SEAL_EOPEN);
	out[4] = 0; /* key id 0 is never valid */
	assert_int_equal(open_one(&s, "oauth2_user", rec_key, REC_KEY_LEN, out, len), SEAL_EOPEN);
	out[4] = 1;
	out[0] = 2; /* unknown version */
	assert_int_equal(open_one(&s, "oauth2_user", rec_key, REC_KEY_LEN, out, len), SEAL_EOPEN);
	free(out);
	sealer_close(&s);
	sealer_close(&other);
}

static void nonces_differ(void **state)
{
	struct sealer s;
	unsigned char *a, *b;
	size_t la, lb;

	(void)state;
	assert_int_equal(sealer_open_key(&s, key_a), SEAL_OK);
	seal_one(&s, &a, &la);
	seal_one(&s, &b, &lb);
	assert_int_equal(la, lb);
	assert_memory_not_equal(a + 5, b + 5, 24);
	free(a);
	free(b);
	sealer_close(&s);
}

static void key_file_is_made_0600_and_unsafe_ones_refused(void **state)
{
	char dir[256], path[300], err[512];
	struct sealer s, again;
	unsigned char *out;
	struct stat st;
	size_t len;

	(void)state;
	assert_int_equal(ts_tempdir("seal", dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/master.key", dir);
	assert_int_equal(sealer_open(&s, path, err, sizeof(err)), SEAL_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 32);
	seal_one(&s, &out, &len);
	/* The same file opens what the first sealed. */
	assert_int_equal(sealer_open(&again, path, err, sizeof(err)), SEAL_OK);
	assert_int_equal(open_one(&again, "oauth2_user", rec_key, REC_KEY_LEN, out, len), SEAL_OK);
	sealer_close(&again);
	sealer_close(&s);
	free(out);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(sealer_open(&s, path, err, sizeof(err)), SEAL_EKEYFILE);
	assert_non_null(strstr(err, "group or others"));
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(sealer_open(&s, path, err, sizeof(err)), SEAL_EKEYFILE);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(ts_write_file(path, "short", 0600), 0);
	assert_int_equal(sealer_open(&s, path, err, sizeof(err)), SEAL_EKEYFILE);
	assert_non_null(strstr(err, "32 bytes"));
	ts_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_and_format),
		cmocka_unit_test(each_tampering_fails_to_open),
		cmocka_unit_test(nonces_differ),
		cmocka_unit_test(key_file_is_made_0600_and_unsafe_ones_refused),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
