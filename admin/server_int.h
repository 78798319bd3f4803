/*
 * server_int.h - internals of `hookline-admin serve` shared by its modules: the server state
 * (server.c), one request's context and the reply helpers (http.c), the route table (api.c), the
 * handlers (api_endpoints.c, api_events.c) and the HTTP metrics (httpstats.c).
 *
 * One libevent loop runs everything.  Redis calls are synchronous (the control plane's volume
 * is small and each call is bounded by redis.timeout); publishing to Kafka is asynchronous: the
 * delivery report arrives on libhookline's thread and is handed to the loop (server.c).
 */
#ifndef HL_SERVER_INT_H
#define HL_SERVER_INT_H

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "admin.h"
#include "envelope.h"
#include "endpoint.h"
#include "hookline/producer.h"

#define HL_HTTP_TOKENS_MAX 16

typedef struct hl_server hl_server_t;
typedef struct hl_req hl_req_t;
typedef struct hl_httpstats hl_httpstats_t;

/* A handler replies (through http.c) before returning, or keeps r for a later reply. */
typedef void hl_route_fn(hl_req_t *r);

typedef struct hl_route {
  const char *method;
  const char *path; /* template: "/v1/tenants/{tenant}/endpoints/{id}" */
  hl_route_fn *fn;
  bool auth;     /* bearer token required */
  bool raw_body; /* keep the body as bytes (POST /v1/events) instead of parsing JSON */
} hl_route_t;

/* One request from routing to its reply; freed by the reply helpers. */
struct hl_req {
  struct evhttp_request *req;
  hl_server_t *srv;
  int route; /* index into the route table, -1 when none matched */
  char tenant[HL_EVENT_TENANT_MAX + 2];
  char id[HL_EP_ID_MAX + 2];
  struct evkeyvalq query;
  json_t *body; /* parsed JSON body; NULL when empty or raw */
  char *raw;    /* raw body (raw_body routes) */
  size_t rawlen;
  int64_t start_us;
};

/* A publish waiting for the broker; owned by the loop, the delivery thread only fills it. */
typedef struct hl_pub {
  hl_server_t *srv;
  hl_req_t *r;
  char event_id[HL_EVENT_ID_MAX + 1];
  char endpoint_id[HL_EP_ID_MAX + 1]; /* the test route's endpoint, "" otherwise */
  int err;
  char errstr[256];
  struct hl_pub *next;
} hl_pub_t;

struct hl_server {
  hl_admin_t *adm;
  struct event_base *base;
  struct evhttp *http;
  hl_store_t *st;
  hookline_producer_t *producer;
  size_t max_body;
  size_t max_event_bytes;
  unsigned char token_sha[HL_HTTP_TOKENS_MAX][32]; /* SHA-256 of each admin.tokens entry */
  int ntokens;
  hl_httpstats_t *stats;
  /* delivery reports, from libhookline's thread to the loop */
  pthread_mutex_t lock;
  hl_pub_t *done;
  struct event *wake;
  atomic_long pending;
  /* readiness, refreshed by the probe thread */
  atomic_int kafka_ok;
  char kafka_why[256]; /* under lock */
  pthread_t prober;
  bool prober_started;
  pthread_cond_t stop_cond;
  bool stopping; /* under lock */
  /* slow clients: every connection, each request read within request_timeout_ms */
  struct hl_conn *conns;
  struct event *sweep;
  int64_t request_timeout_ms;
  uint64_t conns_cut;
};

/* ---- routes (api.c) ---- */
const hl_route_t *hl_api_routes(size_t *n);
/* The route for method+path (params into r), or -1 with *path_known when only the method differs
 * (405) and *allow listing the methods that would work. */
int hl_api_match(hl_req_t *r, const char *method, const char *path, bool *path_known, char *allow,
                 size_t allowsz);

/*
 * Admission of a request body, the pure part (no I/O; the server and the fuzzer share it): at
 * most max_body bytes, a JSON media type when not empty, and unless raw_body the JSON itself
 * (duplicate members refused) into *body (NULL when empty or raw). 0 ok, else the HTTP status
 * (413, 415, 400) with the message for the problem answer in msg.
 */
int hl_api_body_decode(const char *content_type, const char *raw, size_t len, size_t max_body,
                       bool raw_body, json_t **body, char *msg, size_t msgsz);

/* ---- handlers ---- */
void hl_api_healthz(hl_req_t *r);
void hl_api_readyz(hl_req_t *r);
void hl_api_metrics(hl_req_t *r);
void hl_api_ep_list(hl_req_t *r);
void hl_api_ep_create(hl_req_t *r);
void hl_api_ep_get(hl_req_t *r);
void hl_api_ep_patch(hl_req_t *r);
void hl_api_ep_delete(hl_req_t *r);
void hl_api_ep_secret(hl_req_t *r);
void hl_api_ep_rotate(hl_req_t *r);
void hl_api_ep_enable(hl_req_t *r);
void hl_api_ep_disable(hl_req_t *r);
void hl_api_ep_attempts(hl_req_t *r);
void hl_api_ep_test(hl_req_t *r);
void hl_api_events(hl_req_t *r);

/* ---- replies (http.c): each sends, records metrics and frees r ---- */
void hl_http_json(hl_req_t *r, int status, json_t *body); /* steals body */
void hl_http_text(hl_req_t *r, int status, const char *ctype, const char *text, size_t len);
void hl_http_empty(hl_req_t *r, int status);
/* RFC 9457 problem details; field (may be NULL) adds {"errors":[{"field","detail"}]}. */
void hl_http_problem(hl_req_t *r, int status, const char *detail, const char *field);
/* "field: rule" -> 400 with that field. */
void hl_http_invalid(hl_req_t *r, const char *errstr);
/* A store error: 404, 400, 503 or 409. */
void hl_http_store_error(hl_req_t *r, int store_rc, const char *errstr);
void hl_req_free(hl_req_t *r);
/* The query parameter or NULL. */
const char *hl_http_query(hl_req_t *r, const char *name);
/* Refuse query parameters other than those in allowed (NULL-terminated): 0 ok, -1 replied. */
int hl_http_query_only(hl_req_t *r, const char *const *allowed);
/* Refuse body members other than those in allowed: 0 ok, -1 replied. */
int hl_http_body_only(hl_req_t *r, const char *const *allowed);

/* ---- publishing (server.c) ---- */
/* Send ev; the reply comes from reply_cb on the loop once the broker answered. 0 queued. */
int hl_server_publish(hl_server_t *srv, hl_req_t *r, const hl_event_t *ev, const char *endpoint_id,
                      char *errstr, size_t errsize);
/* Kafka reachable and the events topic there? (cached by the probe thread) */
bool hl_server_kafka_ready(hl_server_t *srv, char *why, size_t whysz);

/* ---- metrics (httpstats.c) ---- */
hl_httpstats_t *hl_httpstats_new(size_t nroutes);
void hl_httpstats_destroy(hl_httpstats_t **stats);
/* route -1: unmatched requests. */
void hl_httpstats_record(hl_httpstats_t *stats, int route, int status, int64_t micros);
void hl_httpstats_publish(hl_httpstats_t *stats, bool ok);
/* Prometheus text exposition into a malloc'ed buffer. */
char *hl_httpstats_render(const hl_httpstats_t *stats, const hl_route_t *routes, size_t nroutes,
                          size_t *len);

#endif
