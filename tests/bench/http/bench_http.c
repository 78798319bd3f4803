/*
 * bench_http: requests/s of the HTTP delivery engine alone (dispatcher/http.c) against a local
 * receiver: signed POSTs of -s bytes with -c requests kept in flight for -d seconds, one thread,
 * one event loop.  -o key=value sets configuration (e.g. delivery.ca_file for an https URL).
 * Prints one JSON line.  Loopback only.  Not a test: run by run.sh.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "sign.h"
#include "util.h"

typedef struct bench {
  hl_http_t *http;
  hl_http_req_t req;
  int64_t until_ms;
  uint64_t ok, failed;
  int64_t lat_sum_us;
  char last_error[128];
} bench_t;

static void on_done(const hl_http_result_t *res, void *opaque) {
  bench_t *b = opaque;

  if (res->outcome == HL_HTTP_OK) {
    b->ok++;
    b->lat_sum_us += res->latency_us;
  } else {
    b->failed++;
    snprintf(b->last_error, sizeof(b->last_error), "%s", res->error);
  }
  if (hl_mono_ms() < b->until_ms)
    hl_http_send(b->http, &b->req, on_done, b);
}

int main(int argc, char **argv) {
  const char *url = "http://127.0.0.1:8080/bench";
  int conc = 64, seconds = 5, size = 1024, opt;
  struct event_base *base = event_base_new();
  hl_conf_t *conf = hl_conf_new();
  hl_sign_key_t key = {.len = 32};
  hl_http_stats_t st;
  bench_t b = {0};
  char err[256], *body;
  int64_t t0, t1;

  if (hl_conf_set(conf, "delivery.allow_cidrs", "127.0.0.0/8,::1/128", err, sizeof(err)) != 0)
    return 1;
  while ((opt = getopt(argc, argv, "u:c:d:s:o:")) != -1) {
    if (opt == 'o' && hl_conf_set_kv(conf, optarg, err, sizeof(err)) != 0) {
      fprintf(stderr, "bench-http: %s\n", err);
      return 2;
    } else if (opt == 'o')
      continue;
    else if (opt == 'u')
      url = optarg;
    else if (opt == 'c')
      conc = atoi(optarg);
    else if (opt == 'd')
      seconds = atoi(optarg);
    else if (opt == 's')
      size = atoi(optarg);
    else {
      fprintf(stderr, "usage: bench-http [-u URL] [-c IN_FLIGHT] [-d SECONDS] [-s BODY_BYTES] [-o "
                      "key=value]\n");
      return 2;
    }
  }
  body = malloc((size_t)size);
  memset(body, 'x', (size_t)size);
  memset(key.key, 3, key.len);
  b.http = hl_http_new(base, conf, err, sizeof(err));
  if (!b.http) {
    fprintf(stderr, "bench-http: %s\n", err);
    return 1;
  }
  b.req.url = url;
  b.req.msg_id = "msg_2Qh9Rk4xYbz0benchmark";
  b.req.body = body;
  b.req.body_len = (size_t)size;
  b.req.keys = &key;
  b.req.nkeys = 1;
  t0 = hl_mono_ms();
  b.until_ms = t0 + seconds * 1000LL;
  for (int i = 0; i < conc; i++)
    hl_http_send(b.http, &b.req, on_done, &b);
  while (hl_http_in_flight(b.http) > 0)
    event_base_loop(base, EVLOOP_ONCE);
  t1 = hl_mono_ms();
  hl_http_stats(b.http, &st);
  printf("{\"tool\":\"hl_http\",\"in_flight\":%d,\"body_bytes\":%d,\"seconds\":%.3f,"
         "\"requests\":%llu,\"failed\":%llu,\"requests_per_s\":%.0f,\"mean_latency_ms\":%.3f,"
         "\"connections\":%llu}\n",
         conc, size, (t1 - t0) / 1000.0, (unsigned long long)b.ok, (unsigned long long)b.failed,
         b.ok * 1000.0 / (double)(t1 - t0), b.ok ? b.lat_sum_us / 1000.0 / (double)b.ok : 0.0,
         (unsigned long long)st.connects);
  if (b.failed)
    fprintf(stderr, "bench-http: %llu failed, last: %s\n", (unsigned long long)b.failed,
            b.last_error);
  hl_http_destroy(&b.http);
  hl_conf_destroy(&conf);
  event_base_free(base);
  free(body);
  return b.failed ? 1 : 0;
}
