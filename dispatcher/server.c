/*
 * server.c - the dispatcher's own HTTP server (evhttp on the loop, `http.listen`, `off`
 * disables it): /metrics (Prometheus text), /healthz (the process is alive), /readyz (Kafka
 * reachable, Redis ready and partitions assigned).
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatcher.h"
#include "log.h"

bool hl_server_ready(const hl_disp_t *d) {
  return d->kafka_up && d->st && hl_state_ready(d->st) && d->nassigned > 0 && !d->draining;
}

static void hl_server_collect(hl_metrics_t *m, void *opaque) {
  hl_disp_t *d = opaque;
  hl_part_t *part;
  char lbl[HL_TOPIC_MAX + 64];

  (void)m;
  hl_metric_set(d->m.in_flight, NULL, (double)d->dlv_in_flight);
  hl_metric_set(d->m.pending, NULL, (double)d->msgs_pending);
  hl_metric_set(d->m.assigned, NULL, (double)d->nassigned);
  if (d->http) {
    hl_http_stats_t hs;

    hl_http_stats(d->http, &hs);
    hl_metric_set(d->m.conns_opened, NULL, (double)hs.connects); /* the engine counts */
  }
  hl_metric_reset(d->m.window_depth);
  for (part = d->parts; part; part = part->next) {
    snprintf(lbl, sizeof(lbl), "topic=\"%s\",partition=\"%d\"", part->topic, (int)part->partition);
    hl_metric_set(d->m.window_depth, lbl, (double)hl_ackwin_depth(part->aw));
  }
}

static void hl_server_reply(struct evhttp_request *req, int code, const char *reason,
                            const char *ctype, const char *body, size_t len) {
  struct evbuffer *buf = evbuffer_new();

  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
  if (buf)
    evbuffer_add(buf, body, len);
  evhttp_send_reply(req, code, reason, buf);
  if (buf)
    evbuffer_free(buf);
}

static void hl_server_cb(struct evhttp_request *req, void *arg) {
  hl_disp_t *d = arg;
  const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
  char *text = NULL;
  size_t len = 0;

  if (!path)
    path = "/";
  if (strcmp(path, "/metrics") == 0 && hl_metrics_render(d->metrics, &text, &len) == 0) {
    hl_server_reply(req, 200, "OK", "text/plain; version=0.0.4", text, len);
  } else if (strcmp(path, "/healthz") == 0) {
    hl_server_reply(req, 200, "OK", "text/plain", "ok\n", 3);
  } else if (strcmp(path, "/readyz") == 0) {
    if (hl_server_ready(d))
      hl_server_reply(req, 200, "OK", "text/plain", "ready\n", 6);
    else
      hl_server_reply(req, 503, "Service Unavailable", "text/plain", "not ready\n", 10);
  } else {
    hl_server_reply(req, 404, "Not Found", "text/plain", "not found\n", 10);
  }
  free(text);
}

int hl_server_start(hl_disp_t *d, char *errstr, size_t errsize) {
  const char *listen = hl_conf_str(d->conf, "http.listen");
  struct evhttp_bound_socket *bs;
  struct sockaddr_storage ss;
  ev_socklen_t sl = sizeof(ss);
  char host[256], addr[128];
  const char *colon = strrchr(listen, ':');
  int port;

  hl_metrics_set_collect(d->metrics, hl_server_collect, d);
  if (strcmp(listen, "off") == 0 || !*listen)
    return 0;
  if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host)) {
    snprintf(errstr, errsize, "http.listen: \"%s\" is not host:port or off", listen);
    return -1;
  }
  snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
  if (host[0] == '[' && host[strlen(host) - 1] == ']') {
    memmove(host, host + 1, strlen(host));
    host[strlen(host) - 1] = '\0';
  }
  port = atoi(colon + 1);
  d->httpd = evhttp_new(d->base);
  bs = d->httpd ? evhttp_bind_socket_with_handle(d->httpd, host, (uint16_t)port) : NULL;
  if (!bs) {
    snprintf(errstr, errsize, "http.listen: cannot listen on %s", listen);
    return -1;
  }
  evhttp_set_gencb(d->httpd, hl_server_cb, d);
  if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0 &&
      evutil_inet_ntop(ss.ss_family,
                       ss.ss_family == AF_INET6 ? (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                                                : (void *)&((struct sockaddr_in *)&ss)->sin_addr,
                       addr, sizeof(addr)))
    hl_info("http listening on %s:%d", addr,
            ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port));
  return 0;
}

void hl_server_stop(hl_disp_t *d) {
  if (d->httpd)
    evhttp_free(d->httpd);
  d->httpd = NULL;
}
