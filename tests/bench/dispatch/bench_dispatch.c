/*
 * bench_dispatch.c - bench-dispatch: load generator and receiver of the end-to-end dispatcher
 * benchmark (tests/bench/dispatch/run.sh, `make bench`).  Not a test.
 *
 *   bench-dispatch -l PORT [-a N]                  serve only (the target of wrk) until SIGTERM
 *   bench-dispatch -l PORT [-a N] -P PREFIX -c CELL... [-d PID]... [-s SECONDS] [-L SECONDS]
 *                  [-w SECONDS] [-f FRACTION] [-b DELIVERIES] [-D DRAIN_SECONDS]
 *
 * The receiver is a libevent evhttp server in its own thread on 127.0.0.1:PORT, and with -a N on
 * 127.0.0.2 .. 127.0.0.N too (so endpoints can be distinct hosts, as in a real fan-out): every
 * request is answered `200 ok` and counted; when its body carries this tool's "timestamp" (RFC
 * 3339 with microseconds, set when the event is produced) the receipt time and the latency
 * timestamp -> receipt are kept (in memory, up to 8 M samples).  Its thread CPU is reported, so a
 * receiver that is the bottleneck shows.
 *
 * CELL is TENANT:FANOUT:BYTES[:NTENANTS]: events of type bench.event with BYTES of JSON data for
 * TENANT (or for TENANT_0..TENANT_<NTENANTS-1>, drawn at random), each delivered to FANOUT
 * endpoints (the caller created them).  Events are produced to PREFIX.events keyed by their id,
 * so they spread over the partitions.  Each cell runs
 *   1. saturation: -b deliveries (default 4000, at most 16 MiB of data) kept outstanding for
 *      -w warm-up seconds (default 2) + -s measured seconds (default 10): deliveries/s over the
 *      measured seconds, the -d dispatchers' CPU (utime + stime from /proc/PID/stat) over the
 *      same window, and the latency seen under saturation (queueing);
 *   2. drain: every produced event must reach FANOUT endpoints within -D seconds (default 120);
 *   3. latency: events at -f (default 0.5) times the saturated event rate for -w + -L seconds
 *      (default 8): p50/p90/p99/p99.9/max latency of the deliveries received in the -L seconds;
 *   4. drain again.
 * One JSON line per cell on stdout.  Exit 1 if a drain times out or producing fails, 2 on usage.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define MAX_SAMPLES (8u << 20)
#define MAX_PIDS 8
#define MAX_CELLS 64

typedef struct sample {
  int64_t recv_us;
  int64_t lat_us;
} sample_t;

typedef struct receiver {
  int port;
  struct event_base *base;
  struct evhttp *http;
  pthread_t thread;
  atomic_int stop;
  atomic_uint_fast64_t requests;
  atomic_uint_fast64_t nsamples; /* entries of samples[] written (release) */
  sample_t *samples;
} receiver_t;

typedef struct cell {
  char tenant[96];
  int fanout, bytes, ntenants;
} cell_t;

typedef struct opts {
  int addrs;
  int port, seconds, lat_seconds, warmup, backlog, drain;
  double fraction;
  const char *prefix;
  cell_t cells[MAX_CELLS];
  int ncells;
  int pids[MAX_PIDS];
  int npids;
} opts_t;

typedef struct gen {
  rd_kafka_t *rk;
  rd_kafka_topic_t *topic;
  char run[8];
  uint64_t seq;
  char *data; /* the cell's JSON data */
  char *buf;  /* one envelope */
  size_t bufsz;
  atomic_long failed;
} gen_t;

typedef struct cpu {
  double user_s, sys_s;
} cpu_t;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static int64_t wall_us(void) {
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* "2026-11-23T03:00:00.123456Z" */
static void fmt_ts(int64_t us, char *out, size_t outsz) {
  time_t t = (time_t)(us / 1000000);
  struct tm tm;
  char sec[64];

  gmtime_r(&t, &tm);
  strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, outsz, "%s.%06dZ", sec, (int)(us % 1000000));
}

/* The microseconds of the body's "timestamp" (this tool's format), or -1. */
static int64_t body_ts_us(const unsigned char *p, size_t n) {
  static const char key[] = "\"timestamp\":\"";
  const unsigned char *k = memmem(p, n, key, sizeof(key) - 1);
  char text[40];
  int64_t ms;
  int frac = 0;

  if (!k || (size_t)(p + n - k) < sizeof(key) - 1 + 27)
    return -1;
  k += sizeof(key) - 1;
  memcpy(text, k, 27);
  text[27] = '\0';
  if (text[19] != '.' || text[26] != 'Z' || hl_parse_rfc3339(text, &ms) != 0)
    return -1;
  for (int i = 23; i < 26; i++)
    frac = frac * 10 + (text[i] - '0');
  return ms * 1000 + frac;
}

static void on_request(struct evhttp_request *req, void *arg) {
  receiver_t *r = arg;
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  size_t len = evbuffer_get_length(in), n = len < 512 ? len : 512;
  const unsigned char *p = n ? evbuffer_pullup(in, (ev_ssize_t)n) : NULL;
  int64_t now = wall_us(), ts = p ? body_ts_us(p, n) : -1;

  if (ts >= 0) {
    uint_fast64_t i = atomic_load_explicit(&r->nsamples, memory_order_relaxed);

    if (i < MAX_SAMPLES) {
      r->samples[i].recv_us = now;
      r->samples[i].lat_us = now - ts;
      atomic_store_explicit(&r->nsamples, i + 1, memory_order_release);
    }
  }
  atomic_fetch_add(&r->requests, 1);
  evhttp_add_header(evhttp_request_get_output_headers(req), "content-type", "text/plain");
  evbuffer_add(evhttp_request_get_output_buffer(req), "ok", 2);
  evhttp_send_reply(req, 200, "OK", NULL);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  receiver_t *r = arg;

  (void)fd;
  (void)what;
  if (atomic_load(&r->stop))
    event_base_loopbreak(r->base);
}

static void *receiver_main(void *arg) {
  receiver_t *r = arg;
  struct timeval tick = {0, 50000};
  struct event *t = event_new(r->base, -1, EV_PERSIST, on_tick, r);

  event_add(t, &tick);
  event_base_dispatch(r->base);
  event_free(t);
  return NULL;
}

static int receiver_start(receiver_t *r, int port, int addrs) {
  r->port = port;
  r->samples = malloc(MAX_SAMPLES * sizeof(sample_t)); /* pages are touched only when used */
  r->base = event_base_new();
  r->http = r->base ? evhttp_new(r->base) : NULL;
  if (!r->samples || !r->http)
    return -1;
  for (int i = 1; i <= addrs; i++) {
    char host[32];

    snprintf(host, sizeof(host), "127.0.0.%d", i);
    if (evhttp_bind_socket(r->http, host, (ev_uint16_t)port) != 0) {
      fprintf(stderr, "bench-dispatch: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
      return -1;
    }
  }
  evhttp_set_gencb(r->http, on_request, r);
  evhttp_set_max_body_size(r->http, 16 << 20);
  return pthread_create(&r->thread, NULL, receiver_main, r) == 0 ? 0 : -1;
}

static void receiver_stop(receiver_t *r) {
  atomic_store(&r->stop, 1);
  pthread_join(r->thread, NULL);
  evhttp_free(r->http);
  event_base_free(r->base);
  free(r->samples);
}

static double thread_cpu_s(pthread_t t) {
  clockid_t cid;
  struct timespec ts;

  if (pthread_getcpuclockid(t, &cid) != 0 || clock_gettime(cid, &ts) != 0)
    return 0;
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime + stime of PID (fields 14 and 15 of /proc/PID/stat), summed over the -d pids. */
static cpu_t pids_cpu(const opts_t *o) {
  cpu_t c = {0, 0};
  double tick = (double)sysconf(_SC_CLK_TCK);

  for (int i = 0; i < o->npids; i++) {
    char path[64], line[1024], *rp;
    unsigned long ut = 0, st = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", o->pids[i]);
    f = fopen(path, "r");
    if (!f)
      continue;
    rp = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
    if (rp &&
        sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2) {
      c.user_s += (double)ut / tick;
      c.sys_s += (double)st / tick;
    }
    fclose(f);
  }
  return c;
}

/* Sum over the -d pids of /proc/PID/status field NAME (kB). */
static long pids_status_kb(const opts_t *o, const char *name) {
  long sum = 0;

  for (int i = 0; i < o->npids; i++) {
    char path[64], line[256];
    size_t nl = strlen(name);
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", o->pids[i]);
    f = fopen(path, "r");
    if (!f)
      continue;
    while (fgets(line, sizeof(line), f))
      if (strncmp(line, name, nl) == 0 && line[nl] == ':')
        sum += atol(line + nl + 1);
    fclose(f);
  }
  return sum;
}

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  gen_t *g = opaque;

  (void)rk;
  if (m->err) {
    fprintf(stderr, "bench-dispatch: produce failed: %s\n", rd_kafka_err2str(m->err));
    atomic_fetch_add(&g->failed, 1);
  }
}

/* The same producer settings as libhookline (producer/producer.c). */
static int gen_open(gen_t *g, const char *prefix) {
  static const char *kv[][2] = {
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "5"},
      {"batch.num.messages", "10000"},
      {"compression.codec", "lz4"},
      {"queue.buffering.max.kbytes", "262144"},
  };
  rd_kafka_conf_t *kc = rd_kafka_conf_new();
  const char *bs = getenv("HOOKLINE_KAFKA_BOOTSTRAP_SERVERS");
  char err[256], topic[256];

  rd_kafka_conf_set(kc, "bootstrap.servers", bs ? bs : "127.0.0.1:19092", err, sizeof(err));
  for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
    rd_kafka_conf_set(kc, kv[i][0], kv[i][1], err, sizeof(err));
  rd_kafka_conf_set_dr_msg_cb(kc, on_dr);
  rd_kafka_conf_set_opaque(kc, g);
  g->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
  if (!g->rk) {
    fprintf(stderr, "bench-dispatch: %s\n", err);
    return -1;
  }
  snprintf(topic, sizeof(topic), "%s.events", prefix);
  g->topic = rd_kafka_topic_new(g->rk, topic, NULL);
  hl_rand_base62(g->run, 6);
  return 0;
}

static void gen_close(gen_t *g) {
  rd_kafka_flush(g->rk, 30000);
  rd_kafka_topic_destroy(g->topic);
  rd_kafka_destroy(g->rk);
  free(g->data);
  free(g->buf);
}

/* JSON data of exactly `bytes` bytes (>= 16): {"pad":"<random base62>"}. */
static void gen_cell(gen_t *g, const cell_t *c) {
  int fill = c->bytes - 10;

  free(g->data);
  free(g->buf);
  g->data = malloc((size_t)c->bytes + 1);
  memcpy(g->data, "{\"pad\":\"", 8);
  hl_rand_base62(g->data + 8, (size_t)fill);
  memcpy(g->data + 8 + fill, "\"}", 3);
  g->bufsz = (size_t)c->bytes + 512;
  g->buf = malloc(g->bufsz);
}

static int gen_one(gen_t *g, const cell_t *c) {
  char ts[80], tenant[128], id[40];
  int n;

  if (c->ntenants > 1)
    snprintf(tenant, sizeof(tenant), "%s_%ld", c->tenant, random() % c->ntenants);
  else
    snprintf(tenant, sizeof(tenant), "%s", c->tenant);
  snprintf(id, sizeof(id), "b%s_%llu", g->run, (unsigned long long)++g->seq);
  fmt_ts(wall_us(), ts, sizeof(ts));
  n = snprintf(g->buf, g->bufsz,
               "{\"id\":\"%s\",\"tenant\":\"%s\",\"type\":\"bench.event\",\"timestamp\":\"%s\","
               "\"data\":%s}",
               id, tenant, ts, g->data);
  if (rd_kafka_produce(g->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_BLOCK,
                       g->buf, (size_t)n, id, strlen(id), NULL) != 0) {
    fprintf(stderr, "bench-dispatch: produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
    return -1;
  }
  return 0;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

  return (x > y) - (x < y);
}

/* Latencies (ms) of the samples received in [from_us, to_us): count and percentiles. */
typedef struct lat {
  uint64_t n;
  double p50, p90, p99, p999, max;
} lat_t;

static lat_t window_latency(receiver_t *r, int64_t from_us, int64_t to_us) {
  uint64_t total = atomic_load_explicit(&r->nsamples, memory_order_acquire), n = 0;
  int64_t *v = malloc((total + 1) * sizeof(int64_t));
  lat_t l = {0};

  for (uint64_t i = 0; i < total; i++)
    if (r->samples[i].recv_us >= from_us && r->samples[i].recv_us < to_us)
      v[n++] = r->samples[i].lat_us;
  qsort(v, n, sizeof(int64_t), cmp_i64);
  l.n = n;
  if (n) {
    l.p50 = (double)v[(n - 1) * 50 / 100] / 1000;
    l.p90 = (double)v[(n - 1) * 90 / 100] / 1000;
    l.p99 = (double)v[(n - 1) * 99 / 100] / 1000;
    l.p999 = (double)v[(n - 1) * 999 / 1000] / 1000;
    l.max = (double)v[n - 1] / 1000;
  }
  free(v);
  return l;
}

/* Wait until the receiver has `want` requests; -1 after `secs` seconds. */
static int drain(receiver_t *r, gen_t *g, uint64_t want, int secs) {
  int64_t until = hl_mono_ms() + (int64_t)secs * 1000;

  while (atomic_load(&r->requests) < want) {
    rd_kafka_poll(g->rk, 10);
    if (hl_mono_ms() > until || g_stop || atomic_load(&g->failed))
      return -1;
  }
  return 0;
}

typedef struct result {
  uint64_t published, expected, received, deliveries;
  double seconds, dps, eps, rate;
  cpu_t cpu;
  double recv_cpu_s;
  lat_t sat, paced;
  long rss_kb, hwm_kb;
} result_t;

/* Phase 1: keep `backlog` deliveries outstanding for warm-up + measured seconds. */
static int phase_saturate(const opts_t *o, const cell_t *c, receiver_t *r, gen_t *g, uint64_t base,
                          result_t *res) {
  int backlog = o->backlog, cap = (16 << 20) / c->bytes;
  int64_t t0 = hl_mono_ms(), w0 = t0 + o->warmup * 1000, w1 = w0 + o->seconds * 1000;
  int64_t w0_us = 0, w1_us = 0;
  uint64_t d0 = 0, d1 = 0;
  double rc0 = 0;
  cpu_t c0 = {0, 0}, c1;
  bool in = false;

  backlog = backlog < cap * c->fanout ? backlog : cap * c->fanout;
  if (backlog < c->fanout * 2)
    backlog = c->fanout * 2;
  for (int64_t now = t0; now < w1 && !g_stop; now = hl_mono_ms()) {
    uint64_t got = atomic_load(&r->requests) - base;
    int k = 0;

    if (!in && now >= w0) {
      in = true;
      w0_us = wall_us();
      d0 = got;
      c0 = pids_cpu(o);
      rc0 = thread_cpu_s(r->thread);
    }
    while (res->published * (uint64_t)c->fanout < got + (uint64_t)backlog && k++ < 256) {
      if (gen_one(g, c) != 0)
        return -1;
      res->published++;
    }
    rd_kafka_poll(g->rk, k ? 0 : 1);
    if (atomic_load(&g->failed))
      return -1;
  }
  w1_us = wall_us();
  d1 = atomic_load(&r->requests) - base;
  c1 = pids_cpu(o);
  res->recv_cpu_s = thread_cpu_s(r->thread) - rc0;
  res->seconds = (double)(w1_us - w0_us) / 1e6;
  res->deliveries = d1 - d0;
  res->dps = (double)res->deliveries / res->seconds;
  res->eps = res->dps / c->fanout;
  res->cpu.user_s = c1.user_s - c0.user_s;
  res->cpu.sys_s = c1.sys_s - c0.sys_s;
  res->sat = window_latency(r, w0_us, w1_us);
  return g_stop ? -1 : 0;
}

/* Phase 3: events at `rate` per second for warm-up + latency seconds. */
static int phase_paced(const opts_t *o, const cell_t *c, receiver_t *r, gen_t *g, double rate,
                       result_t *res) {
  int64_t t0 = hl_mono_ms(), w0 = t0 + o->warmup * 1000, w1 = w0 + o->lat_seconds * 1000;
  int64_t w0_us = wall_us() + (int64_t)o->warmup * 1000000;
  uint64_t sent = 0;

  for (int64_t now = t0; now < w1 && !g_stop; now = hl_mono_ms()) {
    uint64_t due = (uint64_t)((double)(now - t0) / 1000.0 * rate) + 1;

    for (; sent < due; sent++) {
      if (gen_one(g, c) != 0)
        return -1;
      res->published++;
    }
    rd_kafka_poll(g->rk, 1);
    if (atomic_load(&g->failed))
      return -1;
  }
  res->paced = window_latency(r, w0_us, wall_us());
  return g_stop ? -1 : 0;
}

static void print_result(const opts_t *o, const cell_t *c, const result_t *res) {
  double cpu = res->cpu.user_s + res->cpu.sys_s;

  printf("{\"tenant\":\"%s\",\"tenants\":%d,\"fanout\":%d,\"bytes\":%d,\"dispatchers\":%d,"
         "\"throughput\":{\"seconds\":%.2f,\"deliveries\":%llu,\"deliveries_per_s\":%.0f,"
         "\"events_per_s\":%.1f,\"latency_p50_ms\":%.1f,\"latency_p99_ms\":%.1f},"
         "\"cpu\":{\"user_s\":%.2f,\"sys_s\":%.2f,\"pct\":%.1f,\"us_per_delivery\":%.1f},"
         "\"receiver_cpu_pct\":%.1f,"
         "\"latency\":{\"events_per_s\":%.1f,\"samples\":%llu,\"p50_ms\":%.2f,\"p90_ms\":%.2f,"
         "\"p99_ms\":%.2f,\"p999_ms\":%.2f,\"max_ms\":%.2f},"
         "\"rss_kb\":%ld,\"hwm_kb\":%ld,\"published\":%llu,\"expected\":%llu,\"received\":%llu}\n",
         c->tenant, c->ntenants, c->fanout, c->bytes, o->npids, res->seconds,
         (unsigned long long)res->deliveries, res->dps, res->eps, res->sat.p50, res->sat.p99,
         res->cpu.user_s, res->cpu.sys_s, res->seconds > 0 ? cpu / res->seconds * 100 : 0,
         res->deliveries ? cpu / (double)res->deliveries * 1e6 : 0,
         res->seconds > 0 ? res->recv_cpu_s / res->seconds * 100 : 0, res->rate,
         (unsigned long long)res->paced.n, res->paced.p50, res->paced.p90, res->paced.p99,
         res->paced.p999, res->paced.max, res->rss_kb, res->hwm_kb,
         (unsigned long long)res->published, (unsigned long long)res->expected,
         (unsigned long long)res->received);
  fflush(stdout);
}

static int run_cell(const opts_t *o, const cell_t *c, receiver_t *r, gen_t *g) {
  uint64_t base = atomic_load(&r->requests);
  result_t res = {0};
  int rc = -1;

  gen_cell(g, c);
  if (phase_saturate(o, c, r, g, base, &res) != 0)
    goto out;
  if (drain(r, g, base + res.published * (uint64_t)c->fanout, o->drain) != 0) {
    fprintf(stderr, "bench-dispatch: %s: saturation phase not drained within %d s (%llu of %llu)\n",
            c->tenant, o->drain, (unsigned long long)(atomic_load(&r->requests) - base),
            (unsigned long long)(res.published * (uint64_t)c->fanout));
    goto out;
  }
  res.rate = res.eps * o->fraction > 1 ? res.eps * o->fraction : 1;
  if (phase_paced(o, c, r, g, res.rate, &res) != 0)
    goto out;
  res.expected = res.published * (uint64_t)c->fanout;
  if (drain(r, g, base + res.expected, o->drain) != 0) {
    fprintf(stderr, "bench-dispatch: %s: latency phase not drained within %d s\n", c->tenant,
            o->drain);
    goto out;
  }
  usleep(300 * 1000); /* duplicates, if any, show as received > expected */
  res.received = atomic_load(&r->requests) - base;
  res.rss_kb = pids_status_kb(o, "VmRSS");
  res.hwm_kb = pids_status_kb(o, "VmHWM");
  print_result(o, c, &res);
  rc = atomic_load(&g->failed) ? -1 : 0;
out:
  return rc;
}

static int parse_cell(const char *s, cell_t *c) {
  char t[96];

  c->ntenants = 1;
  if (sscanf(s, "%95[^:]:%d:%d:%d", t, &c->fanout, &c->bytes, &c->ntenants) < 3 || c->fanout < 1 ||
      c->bytes < 16 || c->bytes > (8 << 20) || c->ntenants < 1)
    return -1;
  snprintf(c->tenant, sizeof(c->tenant), "%s", t);
  return 0;
}

static int parse_opts(int argc, char **argv, opts_t *o) {
  int opt;

  *o = (opts_t){.addrs = 1,
                .seconds = 10,
                .lat_seconds = 8,
                .warmup = 2,
                .backlog = 4000,
                .drain = 120,
                .fraction = 0.5};
  while ((opt = getopt(argc, argv, "l:a:P:c:d:s:L:w:f:b:D:")) != -1) {
    if (opt == 'l')
      o->port = atoi(optarg);
    else if (opt == 'a')
      o->addrs = atoi(optarg);
    else if (opt == 'P')
      o->prefix = optarg;
    else if (opt == 'c' && o->ncells < MAX_CELLS && parse_cell(optarg, &o->cells[o->ncells]) == 0)
      o->ncells++;
    else if (opt == 'd' && o->npids < MAX_PIDS)
      o->pids[o->npids++] = atoi(optarg);
    else if (opt == 's')
      o->seconds = atoi(optarg);
    else if (opt == 'L')
      o->lat_seconds = atoi(optarg);
    else if (opt == 'w')
      o->warmup = atoi(optarg);
    else if (opt == 'f')
      o->fraction = atof(optarg);
    else if (opt == 'b')
      o->backlog = atoi(optarg);
    else if (opt == 'D')
      o->drain = atoi(optarg);
    else
      return -1;
  }
  if (o->port <= 0 || o->addrs < 1 || o->addrs > 254 || (o->ncells && !o->prefix) ||
      o->seconds < 1 || o->lat_seconds < 1)
    return -1;
  return 0;
}

int main(int argc, char **argv) {
  static receiver_t r;
  gen_t g = {0};
  opts_t o;
  int rc = 1;

  if (parse_opts(argc, argv, &o) != 0) {
    fprintf(
        stderr,
        "usage: bench-dispatch -l PORT [-a ADDRS] [-P PREFIX -c TENANT:FANOUT:BYTES[:NTENANTS]... "
        "[-d PID]... [-s S] [-L S] [-w S] [-f FRACTION] [-b DELIVERIES] [-D S]]\n");
    return 2;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);
  srandom((unsigned)getpid());
  if (receiver_start(&r, o.port, o.addrs) != 0)
    return 1;
  fprintf(stderr, "bench-dispatch: listening on 127.0.0.1:%d\n", o.port);
  if (o.ncells == 0) {
    double c0 = thread_cpu_s(r.thread);

    while (!g_stop)
      usleep(50 * 1000);
    printf("{\"requests\":%llu,\"receiver_cpu_s\":%.2f}\n",
           (unsigned long long)atomic_load(&r.requests), thread_cpu_s(r.thread) - c0);
    rc = 0;
    goto out;
  }
  if (gen_open(&g, o.prefix) != 0)
    goto out;
  rc = 0;
  for (int i = 0; i < o.ncells && rc == 0; i++)
    rc = run_cell(&o, &o.cells[i], &r, &g) == 0 ? 0 : 1;
  gen_close(&g);
out:
  receiver_stop(&r);
  return rc;
}
