/* libmmapps against a local HTTP server that answers what each test sets. */
#include <microhttpd.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <jansson.h>

#include <mmapps/client.h>

/* What the server answers next, and what it saw last. */
static struct {
	int status;
	const char *body;
	size_t body_len;
	const char *location;
	int delay_ms;
	char method[16];
	char url[256];
	char auth[256];
	char content_type[64];
	char got[4096];
	size_t got_len;
	unsigned client_port;
	unsigned ports_seen;
} srv;
static struct MHD_Daemon *daemon_;
static char site[64];

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	struct MHD_Response *r;
	const char *v;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	if (!*con_cls) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		unsigned port = ntohs(
			((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_port);
		if (port != srv.client_port)
			srv.ports_seen++;
		srv.client_port = port;
		srv.got_len = 0;
		*con_cls = &srv;
		return MHD_YES;
	}
	if (*size) {
		size_t n = *size < sizeof(srv.got) - srv.got_len - 1
				   ? *size
				   : sizeof(srv.got) - srv.got_len - 1;
		memcpy(srv.got + srv.got_len, data, n);
		srv.got_len += n;
		srv.got[srv.got_len] = '\0';
		*size = 0;
		return MHD_YES;
	}
	snprintf(srv.method, sizeof(srv.method), "%s", method);
	snprintf(srv.url, sizeof(srv.url), "%s", url);
	v = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
	snprintf(srv.auth, sizeof(srv.auth), "%s", v ? v : "");
	v = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type");
	snprintf(srv.content_type, sizeof(srv.content_type), "%s", v ? v : "");
	if (srv.delay_ms)
		usleep((useconds_t)srv.delay_ms * 1000);
	r = MHD_create_response_from_buffer(srv.body_len ? srv.body_len : strlen(srv.body),
					    (void *)srv.body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (srv.location)
		MHD_add_response_header(r, "Location", srv.location);
	ret = MHD_queue_response(con, (unsigned)srv.status, r);
	MHD_destroy_response(r);
	*con_cls = NULL;
	return ret;
}

static void serve(int status, const char *body)
{
	srv.status = status;
	srv.body = body;
	srv.body_len = 0;
	srv.location = NULL;
	srv.delay_ms = 0;
}

static int setup(void **state)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	const union MHD_DaemonInfo *info;

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
				   0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr,
				   MHD_OPTION_END);
	if (!daemon_)
		return -1;
	info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(site, sizeof(site), "http://127.0.0.1:%u/", (unsigned)info->port);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	MHD_stop_daemon(daemon_);
	return 0;
}

static void bad_arguments_make_no_client(void **state)
{
	(void)state;
	assert_null(mmapps_client_new(NULL, "t"));
	assert_null(mmapps_client_new(site, NULL));
	assert_null(mmapps_client_new(site, ""));
	assert_null(mmapps_client_new("ftp://x", "t"));
	assert_null(mmapps_client_new(site, "t\r\nX-Evil: 1"));
	mmapps_client_free(NULL);
}

static void store_app_sends_the_client_with_the_token(void **state)
{
	struct mmapps_oauth2_app app = { "cid", "csecret", "https://provider.example",
					 "{\"scope\":[\"repo\"]}",
					 "https://provider.example/token" };
	mmapps_client *c = mmapps_client_new(site, "bot-token");

	(void)state;
	serve(200, "{}");
	assert_int_equal(mmapps_store_oauth2_app(c, &app), MMAPPS_OK);
	assert_string_equal(srv.method, "POST");
	assert_string_equal(srv.url, "/plugins/com.mattermost.apps/api/v1/oauth2/app");
	assert_string_equal(srv.auth, "Bearer bot-token");
	assert_string_equal(srv.content_type, "application/json");
	assert_string_equal(srv.got, "{\"client_id\":\"cid\",\"client_secret\":\"csecret\","
				     "\"remote_root_url\":\"https://provider.example\","
				     "\"token_url\":\"https://provider.example/token\","
				     "\"data\":{\"scope\":[\"repo\"]}}");
	assert_string_equal(mmapps_client_error(c), "");
	assert_int_equal(mmapps_client_status(c), 200);
	serve(201, "{}");
	assert_int_equal(mmapps_store_oauth2_app(c, &app), MMAPPS_OK);
	app.data_json = "{not json";
	assert_int_equal(mmapps_store_oauth2_app(c, &app), MMAPPS_EINVAL);
	assert_non_null(strstr(mmapps_client_error(c), "data_json"));
	mmapps_client_free(c);
}

static void server_errors_carry_status_message_and_id(void **state)
{
	mmapps_client *c = mmapps_client_new(site, "user-token");

	(void)state;
	serve(403, "{\"id\":\"apps.oauth2.forbidden.app_error\",\"message\":\"A bot token carries "
		   "no user.\",\"status_code\":403}");
	assert_int_equal(mmapps_store_oauth2_user(c, "{}", 2), MMAPPS_EHTTP);
	assert_int_equal(mmapps_client_status(c), 403);
	assert_string_equal(
		mmapps_client_error(c),
		"HTTP 403: A bot token carries no user. (apps.oauth2.forbidden.app_error)");
	assert_null(strstr(mmapps_client_error(c), "user-token"));
	serve(502, "<html>bad gateway</html>");
	assert_int_equal(mmapps_delete_oauth2_user(c), MMAPPS_EHTTP);
	assert_string_equal(mmapps_client_error(c), "HTTP 502 from the server");
	/* Redirects are not followed. */
	serve(302, "");
	srv.location = "http://127.0.0.1:1/elsewhere";
	assert_int_equal(mmapps_store_oauth2_user(c, "1", 1), MMAPPS_EHTTP);
	assert_int_equal(mmapps_client_status(c), 302);
	mmapps_client_free(c);
}

static void user_data_is_byte_exact_and_null_is_nothing(void **state)
{
	static const char stored[] = " {\"access_token\" : \"t\", \"n\": 1.50} ";
	mmapps_client *c = mmapps_client_new(site, "user-token");
	char *out = (char *)1;
	size_t len = 99;

	(void)state;
	serve(200, "{}");
	assert_int_equal(mmapps_store_oauth2_user(c, stored, strlen(stored)), MMAPPS_OK);
	assert_string_equal(srv.got, stored);
	assert_string_equal(srv.url, "/plugins/com.mattermost.apps/api/v1/oauth2/user");
	assert_int_equal(mmapps_store_oauth2_user(c, "{oops", 5), MMAPPS_EINVAL);
	serve(200, stored);
	assert_int_equal(mmapps_get_oauth2_user(c, &out, &len), MMAPPS_OK);
	assert_int_equal(len, strlen(stored));
	assert_string_equal(out, stored);
	assert_string_equal(srv.method, "GET");
	mmapps_free(out);
	serve(200, "null");
	assert_int_equal(mmapps_get_oauth2_user(c, &out, &len), MMAPPS_OK);
	assert_null(out);
	assert_int_equal(len, 0);
	serve(200, "not json");
	assert_int_equal(mmapps_get_oauth2_user(c, &out, &len), MMAPPS_EPROTOCOL);
	assert_null(out);
	serve(200, "{}");
	assert_int_equal(mmapps_delete_oauth2_user(c), MMAPPS_OK);
	assert_string_equal(srv.method, "DELETE");
	mmapps_client_free(c);
}

static void answers_over_1mib_are_refused(void **state)
{
	size_t n = MMAPPS_RESPONSE_MAX + 10;
	char *big = malloc(n);
	mmapps_client *c = mmapps_client_new(site, "t");
	char *out = NULL;

	(void)state;
	memset(big, ' ', n);
	big[0] = '"';
	big[n - 1] = '"';
	serve(200, big);
	srv.body_len = n;
	assert_int_equal(mmapps_get_oauth2_user(c, &out, NULL), MMAPPS_EPROTOCOL);
	assert_non_null(strstr(mmapps_client_error(c), "1 MiB"));
	assert_null(out);
	mmapps_client_free(c);
	free(big);
}

static void no_answer_is_a_network_error(void **state)
{
	mmapps_client *c = mmapps_client_new("http://127.0.0.1:1", "t");
	mmapps_client *slow = mmapps_client_new(site, "t");

	(void)state;
	assert_int_equal(mmapps_delete_oauth2_user(c), MMAPPS_ENETWORK);
	assert_int_equal(mmapps_client_status(c), 0);
	assert_non_null(strstr(mmapps_client_error(c), "DELETE user"));
	assert_int_equal(mmapps_client_set_timeout(slow, 0), MMAPPS_EINVAL);
	assert_int_equal(mmapps_client_set_timeout(slow, 200), MMAPPS_OK);
	serve(200, "{}");
	srv.delay_ms = 1500;
	assert_int_equal(mmapps_delete_oauth2_user(slow), MMAPPS_ENETWORK);
	assert_non_null(strstr(mmapps_client_error(slow), "Timeout"));
	mmapps_client_free(c);
	mmapps_client_free(slow);
	usleep(1500 * 1000); /* let the server's slow answer finish */
}

static void one_connection_serves_many_requests(void **state)
{
	mmapps_client *c = mmapps_client_new(site, "t");
	unsigned before;

	(void)state;
	serve(200, "{}");
	assert_int_equal(mmapps_delete_oauth2_user(c), MMAPPS_OK);
	before = srv.ports_seen;
	for (int i = 0; i < 5; i++)
		assert_int_equal(mmapps_store_oauth2_user(c, "1", 1), MMAPPS_OK);
	assert_int_equal(srv.ports_seen, before);
	mmapps_client_free(c);
}

/* Token endpoints that answer in their own ways (the test provider covers
 * the usual ones). */
static void oauth2_odd_provider_answers(void **state)
{
	char url[128], *out = NULL;
	struct mmapps_oauth2_config cfg = { .client_id = "cid",
					    .client_secret = "s3cret-value",
					    .token_url = url,
					    .auth_style = MMAPPS_AUTH_STYLE_IN_HEADER };
	struct mmapps_oauth2_error e;
	json_t *t;

	(void)state;
	snprintf(url, sizeof(url), "%stoken", site);
	/* GitHub refuses a code with 200 and an error. */
	serve(200, "{\"error\":\"bad_verification_code\",\"error_description\":\"The code "
		   "passed is incorrect or expired.\"}");
	assert_int_equal(mmapps_oauth2_exchange(&cfg, "the-code", NULL, &out, NULL, &e),
			 MMAPPS_EHTTP);
	assert_string_equal(e.error, "bad_verification_code");
	assert_string_equal(srv.method, "POST");
	assert_string_equal(srv.url, "/token");
	assert_string_equal(srv.content_type, "application/x-www-form-urlencoded");
	/* Basic carries the form-encoded id and secret; the form only the grant. */
	assert_string_equal(srv.auth, "Basic Y2lkOnMzY3JldC12YWx1ZQ==");
	assert_string_equal(srv.got, "grant_type=authorization_code&code=the-code");
	/* A description that repeats a secret is withheld. */
	serve(401, "{\"error\":\"invalid_client\",\"error_description\":\"secret "
		   "s3cret-value is wrong\"}");
	assert_int_equal(mmapps_oauth2_exchange(&cfg, "the-code", NULL, &out, NULL, &e),
			 MMAPPS_EHTTP);
	assert_null(strstr(e.message, "s3cret"));
	assert_non_null(strstr(e.message, "withheld"));
	serve(400, "{\"error\":\"invalid_grant\",\"error_description\":\"code the-code "
		   "is used\"}");
	assert_int_equal(mmapps_oauth2_exchange(&cfg, "the-code", NULL, &out, NULL, &e),
			 MMAPPS_EHTTP);
	assert_null(strstr(e.message, "the-code"));
	/* A form-encoded answer (GitHub without Accept) is not JSON. */
	serve(200, "access_token=gho_x&token_type=bearer");
	assert_int_equal(mmapps_oauth2_exchange(&cfg, "c", NULL, &out, NULL, &e), MMAPPS_EPROTOCOL);
	serve(200, "{\"token_type\":\"bearer\"}");
	assert_int_equal(mmapps_oauth2_exchange(&cfg, "c", NULL, &out, NULL, &e), MMAPPS_EPROTOCOL);
	assert_non_null(strstr(e.message, "no access_token"));
	/* expires_in as a string of digits; the form style sends the client. */
	cfg.auth_style = MMAPPS_AUTH_STYLE_IN_PARAMS;
	serve(200, "{\"access_token\":\"a b\",\"expires_in\":\"60\",\"scope\":\"repo\"}");
	assert_int_equal(mmapps_oauth2_refresh(&cfg, "r&t", &out, NULL, &e), MMAPPS_OK);
	assert_string_equal(srv.auth, "");
	assert_string_equal(srv.got, "grant_type=refresh_token&refresh_token=r%26t&client_id=cid"
				     "&client_secret=s3cret-value");
	t = json_loads(out, 0, NULL);
	mmapps_free(out);
	assert_string_equal(json_string_value(json_object_get(t, "access_token")), "a b");
	assert_string_equal(json_string_value(json_object_get(t, "refresh_token")), "r&t");
	assert_non_null(json_object_get(t, "expiry"));
	assert_string_equal(json_string_value(json_object_get(t, "scope")), "repo");
	assert_null(json_object_get(t, "token_type"));
	json_decref(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_arguments_make_no_client),
		cmocka_unit_test(store_app_sends_the_client_with_the_token),
		cmocka_unit_test(server_errors_carry_status_message_and_id),
		cmocka_unit_test(user_data_is_byte_exact_and_null_is_nothing),
		cmocka_unit_test(answers_over_1mib_are_refused),
		cmocka_unit_test(no_answer_is_a_network_error),
		cmocka_unit_test(one_connection_serves_many_requests),
		cmocka_unit_test(oauth2_odd_provider_answers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
