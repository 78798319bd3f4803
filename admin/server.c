/*
 * server.c - `hookline-admin serve`: the REST API on libevent's evhttp (docs/admin.md).
 *
 * Owns the event loop, the listener and its slow-client limits, bearer-token authentication,
 * request admission (routing, 405/404, body size and content type), the bridge that carries
 * libhookline's delivery reports from its thread to the loop, the Kafka readiness probe thread,
 * and shutdown on SIGTERM/SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "producer_int.h"
#include "server_int.h"
#include "util.h"

#define HL_HTTP_TIMEOUT_S 10
#define HL_HTTP_MAX_HEADERS 16384
#define HL_PROBE_EVERY_S 5
#define HL_PROBE_TIMEOUT_MS 2000

/* ---- authentication ---- */

static void hl_sha256(const char *s, size_t n, unsigned char out[32]) {
  unsigned int len = 32;

  EVP_Digest(s, n, out, &len, EVP_sha256(), NULL);
}

static int hl_server_tokens(hl_server_t *srv, const char *csv) {
  char *copy = strdup(csv), *save = NULL;

  if (!copy)
    return -1;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    size_t n;

    while (*t == ' ')
      t++;
    n = strlen(t);
    while (n > 0 && t[n - 1] == ' ')
      n--;
    if (n == 0 || srv->ntokens == HL_HTTP_TOKENS_MAX)
      continue;
    hl_sha256(t, n, srv->token_sha[srv->ntokens++]);
  }
  OPENSSL_cleanse(copy, strlen(csv));
  free(copy);
  return 0;
}

/* Constant time over every configured token: digests of equal length, no early exit. */
static bool hl_server_authorized(hl_server_t *srv, struct evhttp_request *req) {
  const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
  unsigned char digest[32];
  int match = 0;

  if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7])
    return false;
  hl_sha256(h + 7, strlen(h + 7), digest);
  for (int i = 0; i < srv->ntokens; i++)
    match |= CRYPTO_memcmp(digest, srv->token_sha[i], 32) == 0;
  return match != 0;
}

/* ---- slow clients ----
 * evhttp's timeout is per read, so a client sending a byte a second keeps a connection forever.
 * Every connection's bufferevent is made here and tracked (with a reference of ours, so it stays
 * valid after evhttp frees it); a request must arrive whole within admin.request_timeout of the
 * connection's accept or of the previous reply, else a sweep shuts the socket down and evhttp
 * drops the connection on the EOF. */

typedef struct hl_conn {
  struct bufferevent *bev;
  int64_t since_ms; /* start of the request being read; 0 while one is handled */
  struct hl_conn *next;
} hl_conn_t;

static struct bufferevent *hl_server_new_conn(struct event_base *base, void *arg) {
  hl_server_t *srv = arg;
  /* as evhttp makes its own (with other options its header size limit is not enforced); the
   * socket is closed when the last reference goes, ours, at the next sweep */
  struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  hl_conn_t *c = bev ? calloc(1, sizeof(*c)) : NULL;

  if (c) {
    bufferevent_incref(bev);
    c->bev = bev;
    c->since_ms = hl_mono_ms();
    c->next = srv->conns;
    srv->conns = c;
  }
  return bev;
}

static hl_conn_t *hl_server_conn_of(hl_server_t *srv, struct evhttp_request *req) {
  struct evhttp_connection *evcon = evhttp_request_get_connection(req);
  struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;

  for (hl_conn_t *c = srv->conns; c && bev; c = c->next)
    if (c->bev == bev)
      return c;
  return NULL;
}

/* The reply is out: the connection's next request starts its clock now. */
static void hl_server_replied(struct evhttp_request *req, void *arg) {
  hl_conn_t *c = hl_server_conn_of(arg, req);

  if (c)
    c->since_ms = hl_mono_ms();
}

/* A request arrived whole: no deadline while it is handled. */
static void hl_server_conn_busy(hl_server_t *srv, struct evhttp_request *req) {
  hl_conn_t *c = hl_server_conn_of(srv, req);

  if (c)
    c->since_ms = 0;
  evhttp_request_set_on_complete_cb(req, hl_server_replied, srv);
}

/* Forget connections evhttp has freed (their callbacks are cleared); cut the overdue ones. */
static void hl_server_sweep(evutil_socket_t fd, short what, void *arg) {
  hl_server_t *srv = arg;
  int64_t now = hl_mono_ms();

  for (hl_conn_t **pp = &srv->conns, *c; (c = *pp);) {
    bufferevent_event_cb eventcb = NULL;

    bufferevent_getcb(c->bev, NULL, NULL, &eventcb, NULL);
    if (!eventcb) { /* freed by evhttp: ours is the last reference */
      *pp = c->next;
      bufferevent_decref(c->bev);
      free(c);
      continue;
    }
    if (c->since_ms > 0 && now - c->since_ms > srv->request_timeout_ms) {
      srv->conns_cut++;
      hl_warn("admin api: closing a connection that sent no whole request in %lld ms "
              "(admin.request_timeout)",
              (long long)srv->request_timeout_ms);
      shutdown(bufferevent_getfd(c->bev), SHUT_RDWR);
      c->since_ms = 0;
    }
    pp = &c->next;
  }
}

static void hl_server_conns_free(hl_server_t *srv) {
  while (srv->conns) {
    hl_conn_t *c = srv->conns;

    srv->conns = c->next;
    bufferevent_decref(c->bev);
    free(c);
  }
}

/* ---- admission ---- */

static const char *hl_method_name(enum evhttp_cmd_type cmd) {
  switch (cmd) {
  case EVHTTP_REQ_GET:
    return "GET";
  case EVHTTP_REQ_POST:
    return "POST";
  case EVHTTP_REQ_PATCH:
    return "PATCH";
  case EVHTTP_REQ_DELETE:
    return "DELETE";
  case EVHTTP_REQ_PUT:
    return "PUT";
  case EVHTTP_REQ_HEAD:
    return "HEAD";
  case EVHTTP_REQ_OPTIONS:
    return "OPTIONS";
  default:
    return "OTHER";
  }
}

/* Read the body into r: 0 ok, -1 replied (413, 415, 400, 500). */
static int hl_server_body(hl_req_t *r, const hl_route_t *route) {
  struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
  size_t len = evbuffer_get_length(in);
  const char *ct = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
  char msg[256];
  int status;

  if (len > 0 && len <= r->srv->max_body) {
    r->raw = malloc(len + 1);
    if (!r->raw || evbuffer_copyout(in, r->raw, len) != (ev_ssize_t)len) {
      hl_http_problem(r, 500, "out of memory", NULL);
      return -1;
    }
    r->raw[len] = '\0';
    r->rawlen = len;
  }
  status = hl_api_body_decode(ct, r->raw, len, r->srv->max_body, route->raw_body, &r->body, msg,
                              sizeof(msg));
  if (status != 0) {
    hl_http_problem(r, status, msg, status == 400 ? "body" : NULL);
    return -1;
  }
  return 0;
}

static void hl_server_unauthorized(hl_req_t *r) {
  evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate",
                    "Bearer realm=\"hookline\"");
  hl_http_problem(r, 401, "missing or invalid bearer token (admin.tokens)", NULL);
}

/* Route r: 0 with r->route set, -1 replied (401, 404, 405). */
static int hl_server_route(hl_req_t *r, const char *path) {
  const char *method = hl_method_name(evhttp_request_get_command(r->req));
  char allow[128];
  bool known;

  /* authentication first, so nothing about /v1 (not even whether a path exists) leaks */
  if ((strncmp(path, "/v1/", 4) == 0 || strcmp(path, "/v1") == 0) &&
      !hl_server_authorized(r->srv, r->req)) {
    hl_server_unauthorized(r);
    return -1;
  }
  r->route = hl_api_match(r, method, path, &known, allow, sizeof(allow));
  if (r->route >= 0)
    return 0;
  if (known) {
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Allow", allow);
    hl_http_problem(r, 405, "method not allowed on this resource", NULL);
  } else {
    hl_http_problem(r, 404, "no such resource", NULL);
  }
  return -1;
}

static void hl_server_request(struct evhttp_request *req, void *arg) {
  hl_server_t *srv = arg;
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  const char *path = uri ? evhttp_uri_get_path(uri) : NULL,
             *query = uri ? evhttp_uri_get_query(uri) : NULL;
  hl_req_t *r = calloc(1, sizeof(*r));
  size_t nroutes;

  hl_server_conn_busy(srv, req);
  if (!r) {
    evhttp_send_error(req, 500, NULL);
    return;
  }
  r->req = req;
  r->srv = srv;
  r->route = -1;
  r->start_us = hl_mono_us();
  TAILQ_INIT(&r->query);
  if (!path || (query && evhttp_parse_query_str(query, &r->query) != 0)) {
    hl_http_problem(r, 400, "malformed request target", NULL);
    return;
  }
  if (hl_server_route(r, path) != 0 || hl_server_body(r, &hl_api_routes(&nroutes)[r->route]) != 0)
    return;
  hl_api_routes(&nroutes)[r->route].fn(r);
}

/* ---- publishing: libhookline's delivery thread -> the loop ---- */

static void hl_server_dr(const char *event_id, int err, const char *errstr, void *opaque) {
  hl_pub_t *pub = opaque;
  hl_server_t *srv = pub->srv;

  pub->err = err;
  snprintf(pub->errstr, sizeof(pub->errstr), "%s", errstr ? errstr : "");
  pthread_mutex_lock(&srv->lock);
  pub->next = srv->done;
  srv->done = pub;
  pthread_mutex_unlock(&srv->lock);
  event_active(srv->wake, EV_READ, 0);
}

static void hl_server_pub_reply(hl_pub_t *pub) {
  hl_req_t *r = pub->r;
  char msg[320];

  hl_httpstats_publish(pub->srv->stats, pub->err == HOOKLINE_OK);
  if (pub->err != HOOKLINE_OK) {
    snprintf(msg, sizeof(msg), "kafka: %s", pub->errstr);
    hl_warn("admin api: publishing %s failed: %s", pub->event_id, pub->errstr);
    hl_http_problem(r, 503, msg, NULL);
  } else if (pub->endpoint_id[0]) {
    hl_http_json(r, 202,
                 json_pack("{s:s, s:s, s:s}", "event_id", pub->event_id, "endpoint_id",
                           pub->endpoint_id, "type", "hookline.ping"));
  } else {
    hl_http_json(r, 202, json_pack("{s:s}", "id", pub->event_id));
  }
}

static void hl_server_wake(evutil_socket_t fd, short what, void *arg) {
  hl_server_t *srv = arg;
  hl_pub_t *list;

  pthread_mutex_lock(&srv->lock);
  list = srv->done;
  srv->done = NULL;
  pthread_mutex_unlock(&srv->lock);
  while (list) {
    hl_pub_t *pub = list;

    list = pub->next;
    hl_server_pub_reply(pub);
    atomic_fetch_sub(&srv->pending, 1);
    free(pub);
  }
}

int hl_server_publish(hl_server_t *srv, hl_req_t *r, const hl_event_t *ev, const char *endpoint_id,
                      char *errstr, size_t errsize) {
  hl_pub_t *pub = calloc(1, sizeof(*pub));

  if (!pub) {
    snprintf(errstr, errsize, "out of memory");
    return -1;
  }
  pub->srv = srv;
  pub->r = r;
  snprintf(pub->event_id, sizeof(pub->event_id), "%s", ev->id);
  snprintf(pub->endpoint_id, sizeof(pub->endpoint_id), "%s", endpoint_id);
  atomic_fetch_add(&srv->pending, 1);
  if (hl_producer_send(srv->producer, ev, hl_server_dr, pub, errstr, errsize) != HOOKLINE_OK) {
    atomic_fetch_sub(&srv->pending, 1);
    free(pub);
    return -1;
  }
  return 0;
}

/* ---- readiness probe ---- */

static void *hl_server_probe(void *arg) {
  hl_server_t *srv = arg;
  char why[256];
  struct timespec until;

  pthread_mutex_lock(&srv->lock);
  while (!srv->stopping) {
    int rc;

    pthread_mutex_unlock(&srv->lock);
    rc = hl_producer_topic_exists(srv->producer, HL_PROBE_TIMEOUT_MS, why, sizeof(why));
    pthread_mutex_lock(&srv->lock);
    atomic_store(&srv->kafka_ok, rc == 1);
    snprintf(srv->kafka_why, sizeof(srv->kafka_why), "%s", rc == 1 ? "ok" : why);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += HL_PROBE_EVERY_S;
    while (!srv->stopping && pthread_cond_timedwait(&srv->stop_cond, &srv->lock, &until) == 0)
      ;
  }
  pthread_mutex_unlock(&srv->lock);
  return NULL;
}

bool hl_server_kafka_ready(hl_server_t *srv, char *why, size_t whysz) {
  pthread_mutex_lock(&srv->lock);
  snprintf(why, whysz, "%s", srv->kafka_why);
  pthread_mutex_unlock(&srv->lock);
  return atomic_load(&srv->kafka_ok) != 0;
}

/* ---- setup and teardown ---- */

/* "host:port", "[v6]:port". 0 ok. */
static int hl_parse_listen(const char *listen, char *host, size_t hostsz, int *port) {
  const char *colon = strrchr(listen, ':');
  const char *h = listen;
  size_t hlen;
  char *end;

  if (!colon)
    return -1;
  hlen = (size_t)(colon - listen);
  if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
    h++;
    hlen -= 2;
  }
  *port = (int)strtol(colon + 1, &end, 10);
  if (hlen == 0 || hlen >= hostsz || *end || *port < 0 || *port > 65535 || !colon[1])
    return -1;
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  return 0;
}

static int hl_server_bind(hl_server_t *srv, struct evhttp_bound_socket **bound) {
  const char *listen = hl_conf_str(srv->adm->conf, "http.listen");
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  char host[256], addr[INET6_ADDRSTRLEN] = "?";
  int port;

  if (strcmp(listen, "off") == 0 || hl_parse_listen(listen, host, sizeof(host), &port) != 0) {
    hl_admin_err("http.listen: \"%s\" must be host:port to serve", listen);
    return HL_EXIT_USAGE;
  }
  *bound = evhttp_bind_socket_with_handle(srv->http, host, (ev_uint16_t)port);
  if (!*bound) {
    hl_admin_err("http.listen: cannot listen on %s: %s", listen, strerror(errno));
    return HL_EXIT_UNAVAIL;
  }
  getsockname(evhttp_bound_socket_get_fd(*bound), (struct sockaddr *)&ss, &sl);
  if (ss.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
    port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  } else {
    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  }
  hl_info("admin api listening on http://%s%s%s:%d", ss.ss_family == AF_INET6 ? "[" : "", addr,
          ss.ss_family == AF_INET6 ? "]" : "", port);
  return HL_EXIT_OK;
}

static void hl_server_signal(evutil_socket_t sig, short what, void *arg) {
  hl_server_t *srv = arg;

  hl_info("admin api: signal %d, shutting down", (int)sig);
  event_base_loopexit(srv->base, NULL);
}

static int hl_server_open(hl_server_t *srv) {
  size_t nroutes;
  char err[512];
  int rc = hl_store_open(srv->adm->conf, &srv->st, err, sizeof(err));

  if (rc == HL_STORE_EINVAL) {
    hl_admin_err("%s", err);
    return HL_EXIT_USAGE;
  }
  if (rc != HL_STORE_OK)
    hl_warn("admin api: %s (serving anyway; /readyz says so until Redis answers)", err);
  srv->producer = hl_producer_new_conf(srv->adm->conf, err, sizeof(err));
  if (!srv->producer) {
    hl_admin_err("kafka: %s", err);
    return HL_EXIT_USAGE;
  }
  srv->max_body = (size_t)hl_conf_int(srv->adm->conf, "admin.max_body");
  srv->max_event_bytes = (size_t)hl_conf_int(srv->adm->conf, "events.max_bytes");
  srv->stats = hl_httpstats_new((hl_api_routes(&nroutes), nroutes));
  if (hl_server_tokens(srv, hl_conf_str(srv->adm->conf, "admin.tokens")) != 0 || !srv->stats)
    return HL_EXIT_UNAVAIL;
  if (srv->ntokens == 0)
    hl_warn("admin.tokens is empty: every /v1 request is refused with 401");
  snprintf(srv->kafka_why, sizeof(srv->kafka_why), "not probed yet");
  return HL_EXIT_OK;
}

static int hl_server_http(hl_server_t *srv) {
  /* 4 sweeps a second at most: deadlines within 250 ms (or a quarter of the timeout), and the
   * list of connections evhttp has let go stays short */
  struct timeval sweep_every = {0, 250000};

  srv->request_timeout_ms = hl_conf_int(srv->adm->conf, "admin.request_timeout");
  if (srv->request_timeout_ms < 1000)
    sweep_every.tv_usec = (suseconds_t)(srv->request_timeout_ms * 250);
  srv->base = event_base_new();
  srv->http = srv->base ? evhttp_new(srv->base) : NULL;
  srv->wake = srv->base ? event_new(srv->base, -1, 0, hl_server_wake, srv) : NULL;
  if (!srv->http || !srv->wake)
    return HL_EXIT_UNAVAIL;
  evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
  evhttp_set_timeout(srv->http, HL_HTTP_TIMEOUT_S);
  evhttp_set_bevcb(srv->http, hl_server_new_conn, srv);
  srv->sweep = event_new(srv->base, -1, EV_PERSIST, hl_server_sweep, srv);
  if (!srv->sweep || event_add(srv->sweep, &sweep_every) != 0)
    return HL_EXIT_UNAVAIL;
  evhttp_set_max_headers_size(srv->http, HL_HTTP_MAX_HEADERS);
  /* evhttp answers bodies beyond twice the limit itself (413, text/html); up to that we answer
   * 413 as problem details */
  evhttp_set_max_body_size(srv->http, (ev_ssize_t)(2 * srv->max_body + 4096));
  evhttp_set_flags(srv->http, EVHTTP_SERVER_LINGERING_CLOSE);
  evhttp_set_gencb(srv->http, hl_server_request, srv);
  return HL_EXIT_OK;
}

/* Stop accepting, let the broker answer what is pending, reply, flush the replies out. */
static void hl_server_drain(hl_server_t *srv, struct evhttp_bound_socket *bound) {
  struct timeval tick = {0, 200000};

  if (bound)
    evhttp_del_accept_socket(srv->http, bound);
  if (srv->producer)
    hookline_producer_flush(srv->producer, 10000);
  hl_server_wake(-1, 0, srv);
  event_base_loopexit(srv->base, &tick);
  event_base_dispatch(srv->base);
}

static void hl_server_close(hl_server_t *srv) {
  pthread_mutex_lock(&srv->lock);
  srv->stopping = true;
  pthread_cond_broadcast(&srv->stop_cond);
  pthread_mutex_unlock(&srv->lock);
  if (srv->prober_started)
    pthread_join(srv->prober, NULL);
  hookline_producer_destroy(&srv->producer); /* what is left is purged: reported as failed */
  if (srv->base)
    hl_server_wake(-1, 0, srv); /* answer those (503) so every request is freed */
  if (atomic_load(&srv->pending) > 0)
    hl_warn("admin api: %ld publishes unanswered at exit", atomic_load(&srv->pending));
  if (srv->http)
    evhttp_free(srv->http); /* frees the evhttp requests still waiting for a reply */
  hl_server_conns_free(srv);
  if (srv->sweep)
    event_free(srv->sweep);
  for (hl_pub_t *pub = srv->done, *next; pub; pub = next) {
    next = pub->next;
    hl_req_free(pub->r); /* reported after the loop ended: nobody to answer */
    free(pub);
  }
  if (srv->wake)
    event_free(srv->wake);
  if (srv->base)
    event_base_free(srv->base);
  hl_store_destroy(&srv->st);
  hl_httpstats_destroy(&srv->stats);
  pthread_mutex_destroy(&srv->lock);
  pthread_cond_destroy(&srv->stop_cond);
}

int hl_server_serve(hl_admin_t *adm, int argc, char **argv) {
  hl_server_t srv = {.adm = adm};
  struct evhttp_bound_socket *bound = NULL;
  struct event *sigs[2] = {NULL, NULL};
  int rc;

  if (argc != 1) {
    hl_admin_err("serve takes no arguments (configure with -c FILE and -o key=value)");
    return HL_EXIT_USAGE;
  }
  signal(SIGPIPE, SIG_IGN);
  evthread_use_pthreads(); /* delivery reports wake the loop from libhookline's thread */
  pthread_mutex_init(&srv.lock, NULL);
  pthread_cond_init(&srv.stop_cond, NULL);
  rc = hl_server_open(&srv);
  if (rc == HL_EXIT_OK)
    rc = hl_server_http(&srv);
  if (rc == HL_EXIT_OK)
    rc = hl_server_bind(&srv, &bound);
  if (rc == HL_EXIT_OK) {
    srv.prober_started = pthread_create(&srv.prober, NULL, hl_server_probe, &srv) == 0;
    rc = srv.prober_started ? HL_EXIT_OK : HL_EXIT_UNAVAIL;
  }
  if (rc == HL_EXIT_OK) {
    sigs[0] = evsignal_new(srv.base, SIGTERM, hl_server_signal, &srv);
    sigs[1] = evsignal_new(srv.base, SIGINT, hl_server_signal, &srv);
    evsignal_add(sigs[0], NULL);
    evsignal_add(sigs[1], NULL);
    event_base_dispatch(srv.base);
    hl_server_drain(&srv, bound);
  }
  for (int i = 0; i < 2; i++) {
    if (sigs[i])
      event_free(sigs[i]);
  }
  hl_server_close(&srv);
  return rc;
}
