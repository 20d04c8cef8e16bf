/*
 * test-app: an App used only by the tests, a real HTTP server.
 *
 *   test-app --listen 127.0.0.1:0 [--connect-url URL]
 *
 * Prints "test-app listening on 127.0.0.1:PORT" on stderr. Every POST is
 * recorded (path, headers lower-cased, body); GET /_received returns the
 * recorded requests, newest last. POST answers by path:
 *   /fail     HTTP 500          /garbage  200, not JSON
 *   /huge     2 MiB of JSON     /slow     waits 3 s, then ok
 *   /error    {"type":"error"}  /badtype  {"type":"weird"}
 *   /oauth2/connect             {"type":"ok","data":<--connect-url>}
 *   anything else               {"type":"ok","data":<the request received>}
 */
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define BODY_MAX (2 * 1024 * 1024)
#define KEEP 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *received; /* array */
static const char *connect_url = "http://127.0.0.1:1/authorize";

struct req {
	char *body;
	size_t len;
};

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	json_t *h = cls;
	char name[128];
	size_t i = 0;

	(void)kind;
	for (; key[i] && i < sizeof(name) - 1; i++)
		name[i] = (key[i] >= 'A' && key[i] <= 'Z') ? (char)(key[i] + 32) : key[i];
	name[i] = '\0';
	json_object_set_new(h, name, json_string(value ? value : ""));
	return MHD_YES;
}

static enum MHD_Result answer(struct MHD_Connection *con, int status, const char *text)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(con, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result answer_json(struct MHD_Connection *con, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	enum MHD_Result ret = answer(con, 200, text ? text : "{}");

	free(text);
	json_decref(j);
	return ret;
}

static enum MHD_Result serve_post(struct MHD_Connection *con, const char *url, struct req *rq)
{
	json_t *rec = json_object(), *headers = json_object();
	json_t *body = json_loadb(rq->body ? rq->body : "", rq->len, JSON_DECODE_ANY, NULL);

	MHD_get_connection_values(con, MHD_HEADER_KIND, add_header, headers);
	json_object_set_new(rec, "path", json_string(url));
	json_object_set_new(rec, "headers", headers);
	json_object_set_new(rec, "body", body ? body : json_null());
	pthread_mutex_lock(&lock);
	json_array_append(received, rec);
	while (json_array_size(received) > KEEP)
		json_array_remove(received, 0);
	pthread_mutex_unlock(&lock);

	if (strcmp(url, "/fail") == 0) {
		json_decref(rec);
		return answer(con, 500, "{\"error\":\"failing on purpose\"}");
	}
	if (strcmp(url, "/garbage") == 0) {
		json_decref(rec);
		return answer(con, 200, "this is not JSON");
	}
	if (strcmp(url, "/huge") == 0) {
		char *big = malloc(BODY_MAX + 32);
		enum MHD_Result ret;
		memset(big, 'x', BODY_MAX + 30);
		memcpy(big, "{\"type\":\"ok\",\"text\":\"", 21);
		memcpy(big + BODY_MAX + 27, "\"}", 3);
		ret = answer(con, 200, big);
		free(big);
		json_decref(rec);
		return ret;
	}
	if (strcmp(url, "/slow") == 0) {
		struct timespec ts = {3, 0};
		nanosleep(&ts, NULL);
	}
	json_decref(rec);
	if (strcmp(url, "/error") == 0)
		return answer(con, 200, "{\"type\":\"error\",\"text\":\"it broke\"}");
	if (strcmp(url, "/badtype") == 0)
		return answer(con, 200, "{\"type\":\"weird\"}");
	if (strcmp(url, "/oauth2/connect") == 0)
		return answer_json(con, json_pack("{s:s, s:s}", "type", "ok", "data", connect_url));
	return answer_json(con, json_pack("{s:s, s:s, s:O}", "type", "ok", "text", "echo", "data",
					  body ? body : json_null()));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)version;
	if (!rq) {
		*con_cls = calloc(1, sizeof(struct req));
		return *con_cls ? MHD_YES : MHD_NO;
	}
	if (*data_size) {
		if (rq->len + *data_size > BODY_MAX)
			return MHD_NO;
		rq->body = realloc(rq->body, rq->len + *data_size + 1);
		memcpy(rq->body + rq->len, data, *data_size);
		rq->len += *data_size;
		*data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") == 0 && strcmp(url, "/_received") == 0) {
		char *text;
		enum MHD_Result ret;
		pthread_mutex_lock(&lock);
		text = json_dumps(received, JSON_COMPACT);
		pthread_mutex_unlock(&lock);
		ret = answer(con, 200, text);
		free(text);
		return ret;
	}
	if (strcmp(method, "POST") == 0)
		return serve_post(con, url, rq);
	return answer(con, 404, "{}");
}

static void on_done(void *cls, struct MHD_Connection *con, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)con;
	(void)toe;
	if (rq) {
		free(rq->body);
		free(rq);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	sigset_t set;
	int sig;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--connect-url") == 0)
			connect_url = argv[i + 1];
		else if (strcmp(argv[i], "--listen") != 0) {
			fprintf(stderr, "usage: test-app [--listen 127.0.0.1:0] [--connect-url URL]\n");
			return 2;
		}
	}
	received = json_array();
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
			     NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr,
			     MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
	if (!d)
		return 1;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	fprintf(stderr, "test-app listening on 127.0.0.1:%u\n", (unsigned)info->port);
	fflush(stderr);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	json_decref(received);
	return 0;
}
