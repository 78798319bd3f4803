/*
 * httpstats.c - the admin API's Prometheus metrics: requests by route and status code, a latency
 * histogram per route, and publish outcomes.  Updated and rendered on the loop thread only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define HL_STATS_CODES 16

static const double hl_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                    0.1,   0.25,   0.5,   1,    2.5,   5};
#define HL_NBUCKETS (sizeof(hl_buckets) / sizeof(hl_buckets[0]))

typedef struct hl_route_stats {
  struct {
    int code;
    unsigned long long n;
  } codes[HL_STATS_CODES];
  unsigned long long bucket[HL_NBUCKETS]; /* not cumulative; summed when rendered */
  unsigned long long count;
  double sum;
} hl_route_stats_t;

struct hl_httpstats {
  size_t nroutes;
  hl_route_stats_t *rs; /* nroutes + 1: the last is "unmatched" */
  unsigned long long published[2];
};

hl_httpstats_t *hl_httpstats_new(size_t nroutes) {
  hl_httpstats_t *stats = calloc(1, sizeof(*stats));

  if (!stats)
    return NULL;
  stats->nroutes = nroutes;
  stats->rs = calloc(nroutes + 1, sizeof(*stats->rs));
  if (!stats->rs)
    hl_httpstats_destroy(&stats);
  return stats;
}

void hl_httpstats_destroy(hl_httpstats_t **statsp) {
  if (!statsp || !*statsp)
    return;
  free((*statsp)->rs);
  free(*statsp);
  *statsp = NULL;
}

void hl_httpstats_record(hl_httpstats_t *stats, int route, int status, int64_t micros) {
  hl_route_stats_t *rs;
  double secs = (double)micros / 1e6;
  size_t b = 0;

  if (!stats)
    return;
  rs = &stats->rs[route < 0 || (size_t)route >= stats->nroutes ? stats->nroutes : (size_t)route];
  for (int i = 0; i < HL_STATS_CODES; i++) {
    if (rs->codes[i].code == status || rs->codes[i].code == 0) {
      rs->codes[i].code = status;
      rs->codes[i].n++;
      break;
    }
  }
  while (b < HL_NBUCKETS && secs > hl_buckets[b])
    b++;
  if (b < HL_NBUCKETS)
    rs->bucket[b]++;
  rs->count++;
  rs->sum += secs;
}

void hl_httpstats_publish(hl_httpstats_t *stats, bool ok) {
  if (stats)
    stats->published[ok ? 0 : 1]++;
}

/* A growing text buffer. */
typedef struct hl_out {
  char *buf;
  size_t len, cap;
} hl_out_t;

__attribute__((format(printf, 2, 3))) static void hl_out(hl_out_t *o, const char *fmt, ...) {
  va_list ap;
  int n;

  for (;;) {
    va_start(ap, fmt);
    n = o->buf ? vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap) : -1;
    va_end(ap);
    if (n >= 0 && (size_t)n < o->cap - o->len) {
      o->len += (size_t)n;
      return;
    }
    char *grown = realloc(o->buf, o->cap * 2 + 4096);
    if (!grown)
      return;
    o->buf = grown;
    o->cap = o->cap * 2 + 4096;
  }
}

static void hl_render_route(hl_out_t *o, const hl_route_stats_t *rs, const char *method,
                            const char *path, bool counters) {
  unsigned long long cum = 0;

  if (counters) {
    for (int i = 0; i < HL_STATS_CODES && rs->codes[i].code; i++)
      hl_out(o, "hookline_admin_http_requests_total{method=\"%s\",route=\"%s\",code=\"%d\"} %llu\n",
             method, path, rs->codes[i].code, rs->codes[i].n);
    return;
  }
  for (size_t b = 0; b < HL_NBUCKETS; b++) {
    cum += rs->bucket[b];
    hl_out(o,
           "hookline_admin_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
           "le=\"%g\"} %llu\n",
           method, path, hl_buckets[b], cum);
  }
  hl_out(o,
         "hookline_admin_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
         "le=\"+Inf\"} %llu\n"
         "hookline_admin_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n"
         "hookline_admin_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
         method, path, rs->count, method, path, rs->sum, method, path, rs->count);
}

static void hl_render_all(hl_out_t *o, const hl_httpstats_t *stats, const hl_route_t *routes,
                          bool counters) {
  for (size_t i = 0; i <= stats->nroutes; i++)
    hl_render_route(o, &stats->rs[i], i < stats->nroutes ? routes[i].method : "",
                    i < stats->nroutes ? routes[i].path : "unmatched", counters);
}

char *hl_httpstats_render(const hl_httpstats_t *stats, const hl_route_t *routes, size_t nroutes,
                          size_t *len) {
  hl_out_t o = {malloc(8192), 0, 8192};

  if (!o.buf || nroutes != stats->nroutes) {
    free(o.buf);
    return NULL;
  }
  hl_out(&o, "# HELP hookline_admin_http_requests_total Admin API requests by route and status.\n"
             "# TYPE hookline_admin_http_requests_total counter\n");
  hl_render_all(&o, stats, routes, true);
  hl_out(&o, "# HELP hookline_admin_http_request_duration_seconds Admin API request latency.\n"
             "# TYPE hookline_admin_http_request_duration_seconds histogram\n");
  hl_render_all(&o, stats, routes, false);
  hl_out(&o,
         "# HELP hookline_admin_events_published_total Events published through the API "
         "(POST /v1/events, endpoint tests) by broker outcome.\n"
         "# TYPE hookline_admin_events_published_total counter\n"
         "hookline_admin_events_published_total{result=\"acked\"} %llu\n"
         "hookline_admin_events_published_total{result=\"failed\"} %llu\n",
         stats->published[0], stats->published[1]);
  *len = o.len;
  return o.buf;
}
