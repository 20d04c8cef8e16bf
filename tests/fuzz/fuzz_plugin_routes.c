/*
 * libFuzzer: the plugin's serve_http on every route, in process, with a fake
 * host API. An input is
 *   flags byte (1 session, 2 an App's session, 4 admin, 8 bot)
 *   METHOD \n PATH[?QUERY] \n (Name: value \n)* \n BODY
 * Calls to Apps go through a closed proxy on 127.0.0.1:1: whatever URL a
 * fuzzed manifest names, nothing leaves this machine.
 *
 * As the host does: a request is served first as on an I/O thread
 * (on_worker 0); MMPLUGIN_DEFER serves it again with on_worker 1; a held
 * response (MMPLUGIN_ASYNC) is waited for until response_finish.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mmplugin/plugin.h>

#include "response.h"

#define ID "aaaaaaaaaaaaaaaaaaaaaaaaaa"
#define BOT "bbbbbbbbbbbbbbbbbbbbbbbbbb"

const struct mmplugin_descriptor *mmplugin_entry_v1(void);

static char data_dir[256];
static unsigned flags;
static void *state;

static void f_log(mmplugin_host *h, int level, const char *msg)
{
	(void)h;
	(void)level;
	(void)msg;
}
static const char *f_settings(mmplugin_host *h)
{
	(void)h;
	return "{\"call_timeout_s\":1}";
}
static const char *f_data_dir(mmplugin_host *h)
{
	(void)h;
	return data_dir;
}
static const char *f_site_url(mmplugin_host *h)
{
	(void)h;
	return "http://localhost:8065";
}
static void fill(struct mmplugin_user *u, const char *id, int bot)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->id, sizeof(u->id), "%s", id);
	snprintf(u->username, sizeof(u->username), "u%.20s", id);
	snprintf(u->roles, sizeof(u->roles), "%s",
		 flags & 4 ? "system_user system_admin" : "system_user");
	u->is_bot = bot;
}
static int f_user_get(mmplugin_host *h, const char *id, struct mmplugin_user *u)
{
	(void)h;
	if (!id || strlen(id) != 26)
		return MMPLUGIN_EINVAL;
	fill(u, id, (flags & 8) != 0);
	return MMPLUGIN_OK;
}
static int f_bot_ensure(mmplugin_host *h, const char *name, struct mmplugin_user *u)
{
	(void)h;
	(void)name;
	fill(u, BOT, 1);
	return MMPLUGIN_OK;
}
static int f_set_active(mmplugin_host *h, const char *id, int active)
{
	(void)h;
	(void)id;
	(void)active;
	return MMPLUGIN_OK;
}
static int f_session_create(mmplugin_host *h, const char *uid,
			    const struct mmplugin_session_prop *p, size_t n, int64_t ms, char *out,
			    size_t cap, int64_t *exp)
{
	(void)h;
	(void)uid;
	(void)p;
	(void)n;
	if (cap < 27 || ms <= 0)
		return MMPLUGIN_EINVAL;
	snprintf(out, cap, "tttttttttttttttttttttttttt");
	if (exp)
		*exp = 1000 + ms;
	return MMPLUGIN_OK;
}
static int f_revoke(mmplugin_host *h, const char *k, const char *v, size_t *n)
{
	(void)h;
	(void)k;
	(void)v;
	if (n)
		*n = 0;
	return MMPLUGIN_OK;
}

static atomic_int finished;

static void f_finish(mmplugin_response *resp)
{
	(void)resp;
	atomic_fetch_add(&finished, 1);
}

static const char *f_store(mmplugin_host *h)
{
	(void)h;
	return "{\"backend\":\"lmdb\"}";
}

static const struct mmplugin_host_api api = {
	.struct_size = sizeof(struct mmplugin_host_api),
	.abi_major = MMPLUGIN_ABI_MAJOR,
	.abi_minor = MMPLUGIN_ABI_MINOR,
	.response_set_status = response_set_status,
	.response_add_header = response_add_header,
	.response_set_body = response_set_body,
	.log = f_log,
	.settings_json = f_settings,
	.data_dir = f_data_dir,
	.site_url = f_site_url,
	.user_get = f_user_get,
	.bot_ensure = f_bot_ensure,
	.user_set_active = f_set_active,
	.session_create = f_session_create,
	.sessions_revoke_prop = f_revoke,
	.response_finish = f_finish,
	.store_json = f_store,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	(void)argc;
	(void)argv;
	setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	setenv("https_proxy", "http://127.0.0.1:1", 1);
	unsetenv("NO_PROXY");
	unsetenv("no_proxy");
	snprintf(data_dir, sizeof(data_dir), "%s/fuzz-plugin-XXXXXX", base);
	if (!mkdtemp(data_dir) || mmplugin_entry_v1()->activate(NULL, &api, &state) != 0)
		abort();
	return 0;
}

/* Splits the next line off [*p, end). */
static int next_line(const char **p, const char *end, const char **line, size_t *len)
{
	const char *nl;

	if (*p >= end)
		return 0;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	*line = *p;
	*len = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	*p = nl ? nl + 1 : end;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1, *end = (const char *)data + size, *line, *q;
	struct mmplugin_header headers[16];
	struct mmplugin_session_prop prop = { { "mattermost_app_id", 17 }, { "fuzz-app", 8 } };
	struct mmplugin_session session = {
		{ "sssssssssssssssssssssssss", 26 }, { ID, 26 }, &prop, 0, 0, 0
	};
	struct mmplugin_request req;
	struct mmplugin_response resp;
	size_t len, nh = 0;
	int rc;

	if (size < 1)
		return 0;
	flags = data[0];
	memset(&req, 0, sizeof(req));
	req.struct_size = sizeof(req);
	if (!next_line(&p, end, &line, &len))
		return 0;
	req.method = (struct mmplugin_str){ line, len };
	if (!next_line(&p, end, &line, &len) || len == 0 || line[0] != '/')
		return 0;
	q = memchr(line, '?', len);
	req.path = (struct mmplugin_str){ line, q ? (size_t)(q - line) : len };
	if (q)
		req.query = (struct mmplugin_str){ q + 1, len - (size_t)(q + 1 - line) };
	while (nh < 16 && next_line(&p, end, &line, &len) && len > 0) {
		const char *colon = memchr(line, ':', len);
		if (!colon)
			continue;
		headers[nh].name = (struct mmplugin_str){ line, (size_t)(colon - line) };
		headers[nh].value =
			(struct mmplugin_str){ colon + 1, len - (size_t)(colon + 1 - line) };
		nh++;
	}
	req.headers = headers;
	req.headers_len = nh;
	req.body = (struct mmplugin_str){ p, (size_t)(end - p) };
	req.request_id = (struct mmplugin_str){ "rrrrrrrrrrrrrrrrrrrrrrrrrr", 26 };
	session.props_len = flags & 2 ? 1 : 0;
	req.session = flags & 1 ? &session : NULL;
	response_init(&resp);
	atomic_store(&finished, 0);
	rc = mmplugin_entry_v1()->serve_http(state, &req, &resp);
	if (rc == MMPLUGIN_DEFER) {
		if (resp.touched)
			abort(); /* deferred after touching the response */
		req.on_worker = 1;
		rc = mmplugin_entry_v1()->serve_http(state, &req, &resp);
	}
	if (rc == MMPLUGIN_ASYNC) {
		/* The call loop finishes it: the App cannot be reached. */
		struct timespec pause = { 0, 1000 * 1000 };
		for (int waited = 0; !atomic_load(&finished) && waited < 20000; waited++)
			nanosleep(&pause, NULL);
		if (atomic_load(&finished) != 1) {
			fprintf(stderr, "held response finished %d times\n",
				atomic_load(&finished));
			abort(); /* exactly once */
		}
	} else if (rc != MMPLUGIN_DONE || atomic_load(&finished) != 0) {
		fprintf(stderr, "serve_http returned %d, %d responses finished\n", rc,
			atomic_load(&finished));
		abort();
	}
	if (!resp.touched || resp.status < 100 || resp.status > 599)
		abort(); /* every request gets an answer */
	response_free(&resp);
	return 0;
}
