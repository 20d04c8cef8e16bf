/*
 * The test provider (tests/apps/test_provider.c) as a test drives it:
 * switch how its token endpoint answers, read what it counted, and get a
 * real token for a fresh code (authorize with PKCE, then the code exchange
 * with the client's credentials in the form).
 */
#ifndef TESTS_PROVIDER_CLIENT_H
#define TESTS_PROVIDER_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "testsupport.h"

/* POST /_mode with form ("token=slow&delay_ms=2000", ...). 0 on 200. */
int ts_provider_mode(const struct ts_proc *p, const char *form);

/* One member of GET /_counts ("refresh_token", "basic", "form", ...), or -1. */
long ts_provider_count(const struct ts_proc *p, const char *what);

/* A code from GET /authorize for client_id, redirect and the S256
 * challenge, into code. 0 or -1. */
int ts_provider_code(const struct ts_proc *p, const char *client_id, const char *redirect,
		     const char *challenge, char *code, size_t cap);

/* ts_provider_code, then POST /token (authorization_code, verifier, the
 * credentials in the form): the token object, or NULL unless 200. */
json_t *ts_provider_token(const struct ts_proc *p, const char *client_id, const char *secret,
			  const char *redirect, const char *challenge, const char *verifier);

#endif
