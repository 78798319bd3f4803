/*
 * api_events.c - POST /v1/events (HTTP ingest: validate the envelope, publish through
 * libhookline, answer once the broker acknowledged) and the operational routes /healthz,
 * /readyz and /metrics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server_int.h"
#include "util.h"

void hl_api_events(hl_req_t *r) {
  hl_event_t ev;
  char err[512];

  if (!r->raw || r->rawlen == 0) {
    hl_http_problem(r, 400, "body: required (an event envelope)", "body");
    return;
  }
  if (hl_event_parse(r->raw, r->rawlen, r->srv->max_event_bytes, hl_now_ms(), &ev, err,
                     sizeof(err)) != 0) {
    hl_http_invalid(r, err);
    return;
  }
  if (hl_server_publish(r->srv, r, &ev, "", err, sizeof(err)) != 0) {
    hl_error("admin api: publish: %s", err);
    hl_http_problem(r, 503, "kafka: not published (details in the server log)", NULL);
  }
  hl_event_clear(&ev);
}

void hl_api_healthz(hl_req_t *r) {
  hl_http_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

void hl_api_readyz(hl_req_t *r) {
  char redis_why[512] = "ok", kafka_why[256] = "ok";
  bool redis_ok = hl_store_ping(r->srv->st, redis_why, sizeof(redis_why)) == 0;
  bool kafka_ok = hl_server_kafka_ready(r->srv, kafka_why, sizeof(kafka_why));

  /* unauthenticated: the causes (addresses, errno texts) go to the log, not to the prober */
  if (!redis_ok)
    hl_warn("admin api: readyz: %s", redis_why);
  if (!kafka_ok)
    hl_warn("admin api: readyz: kafka: %s", kafka_why);
  hl_http_json(r, redis_ok && kafka_ok ? 200 : 503,
               json_pack("{s:s, s:s, s:s}", "status", redis_ok && kafka_ok ? "ready" : "not ready",
                         "redis", redis_ok ? "ok" : "unavailable", "kafka",
                         kafka_ok ? "ok" : "unavailable"));
}

void hl_api_metrics(hl_req_t *r) {
  size_t nroutes, len = 0;
  const hl_route_t *routes = hl_api_routes(&nroutes);
  char *text = hl_httpstats_render(r->srv->stats, routes, nroutes, &len);
  char extra[256];
  int n = snprintf(extra, sizeof(extra),
                   "# HELP hookline_admin_slow_connections_closed_total Connections closed for "
                   "not sending a whole request within admin.request_timeout.\n"
                   "# TYPE hookline_admin_slow_connections_closed_total counter\n"
                   "hookline_admin_slow_connections_closed_total %llu\n",
                   (unsigned long long)r->srv->conns_cut);
  char *all =
      text && n > 0 && (size_t)n < sizeof(extra) ? realloc(text, len + (size_t)n + 1) : NULL;

  if (all) {
    memcpy(all + len, extra, (size_t)n + 1);
    len += (size_t)n;
    text = all;
  }
  hl_http_text(r, text ? 200 : 500, "text/plain; version=0.0.4; charset=utf-8", text ? text : "",
               text ? len : 0);
  free(text);
}
