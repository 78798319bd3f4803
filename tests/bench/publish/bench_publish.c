/*
 * bench_publish.c - bench-publish: events/s through libhookline, against plain librdkafka with
 * the same producer settings, and the CPU cost of validation alone.  Not a test.
 *
 *   bench-publish -p PREFIX [-m lib|raw|validate] [-t THREADS] [-n EVENTS] [-s DATA_BYTES]
 *   bench-publish -g N [-s DATA_BYTES]     print N NDJSON envelopes (input for hookline-publish)
 *
 * lib: THREADS threads call hookline_publish with a delivery callback; the time runs from the
 * first call to the last acknowledgement, and every event must be acknowledged.  raw: the same
 * envelopes, already built, produced with rd_kafka_producev by THREADS threads (what the library
 * adds is the difference).  validate: hl_event_from_parts + hl_event_envelope only, no Kafka.
 * The data is a realistic 1 KiB JSON object (nested members, numbers, escapes, UTF-8), 64
 * variants with random padding so compression does not flatter the result.
 * Prints one JSON line.
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "hookline/producer.h"
#include "util.h"

#define VARIANTS 64

enum { MODE_LIB, MODE_RAW, MODE_VALIDATE };

typedef struct bench {
  const char *mode;
  int m;
  int threads;
  long per_thread;
  char *data[VARIANTS];
  char *env[VARIANTS];
  size_t env_len[VARIANTS];
  hookline_producer_t *p;
  rd_kafka_t *rk;
  char topic[256];
  atomic_long acked, failed;
  atomic_int stop;
} bench_t;

static bench_t B;

/* A JSON object of exactly `size` bytes (size >= 256). */
static char *make_data(int v, int size) {
  char *buf = malloc((size_t)size + 1), pad[4096];
  int n = snprintf(buf, (size_t)size + 1,
                   "{\"invoice\":\"in_%06d\",\"amount\":%d,\"currency\":\"eur\",\"paid\":true,"
                   "\"ratio\":0.125,\"customer\":{\"id\":\"cus_%04d\",\"name\":\"Zo\\u00eb "
                   "M\xc3\xbcller\",\"email\":\"zoe@example.com\"},\"tags\":[\"a\",\"b\"],"
                   "\"note\":\"",
                   v, 1000 + v * 7, v);
  int fill = size - n - 2;

  hl_rand_base62(pad, (size_t)fill);
  memcpy(buf + n, pad, (size_t)fill);
  memcpy(buf + n + fill, "\"}", 3);
  return buf;
}

static void on_delivery(const char *event_id, int err, const char *errstr, void *opaque) {
  if (err)
    atomic_fetch_add(&B.failed, 1);
  else
    atomic_fetch_add(&B.acked, 1);
}

static void raw_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  on_delivery(NULL, m->err ? -1 : 0, NULL, NULL);
}

static void *raw_poller(void *arg) {
  while (!atomic_load(&B.stop))
    rd_kafka_poll(B.rk, 100);
  return NULL;
}

static void *run(void *arg) {
  long t = (long)(intptr_t)arg;
  char err[256];

  for (long i = 0; i < B.per_thread; i++) {
    int v = (int)((t * B.per_thread + i) % VARIANTS);
    int rc = 0;

    if (B.m == MODE_LIB) {
      rc = hookline_publish(B.p, "bench", "bench.event", B.data[v], NULL, on_delivery, NULL, NULL,
                            0, err, sizeof(err));
    } else if (B.m == MODE_RAW) {
      char *copy = malloc(B.env_len[v]); /* as the library: one allocation per event */

      memcpy(copy, B.env[v], B.env_len[v]);
      rc = rd_kafka_producev(B.rk, RD_KAFKA_V_TOPIC(B.topic), RD_KAFKA_V_KEY("bench", 5),
                             RD_KAFKA_V_VALUE(copy, B.env_len[v]),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE | RD_KAFKA_MSG_F_BLOCK),
                             RD_KAFKA_V_END);
      snprintf(err, sizeof(err), "%s", rd_kafka_err2str((rd_kafka_resp_err_t)rc));
    } else {
      hl_event_t ev;
      char *env;
      size_t len;

      rc = hl_event_from_parts("bench", "bench.event", NULL, B.data[v], strlen(B.data[v]), 1 << 20,
                               hl_now_ms(), &ev, err, sizeof(err));
      if (rc == 0 && hl_event_envelope(&ev, &env, &len) == 0)
        free(env);
      hl_event_clear(&ev);
    }
    if (rc != 0) {
      fprintf(stderr, "bench-publish: %s\n", err);
      exit(1);
    }
  }
  return NULL;
}

/* The same producer settings as libhookline (producer/producer.c). */
static rd_kafka_t *raw_producer(const char *prefix) {
  static const char *kv[][2] = {
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "5"},
      {"batch.num.messages", "10000"},
      {"compression.codec", "lz4"},
  };
  rd_kafka_conf_t *kc = rd_kafka_conf_new();
  const char *bs = getenv("HOOKLINE_KAFKA_BOOTSTRAP_SERVERS");
  char err[256];

  rd_kafka_conf_set(kc, "bootstrap.servers", bs ? bs : "127.0.0.1:19092", err, sizeof(err));
  for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
    rd_kafka_conf_set(kc, kv[i][0], kv[i][1], err, sizeof(err));
  rd_kafka_conf_set_dr_msg_cb(kc, raw_dr);
  snprintf(B.topic, sizeof(B.topic), "%s.events", prefix);
  return rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
}

/* Envelopes of every variant, built by the library's own code. */
static void build_envelopes(void) {
  char err[256];

  for (int v = 0; v < VARIANTS; v++) {
    hl_event_t ev;

    if (hl_event_from_parts("bench", "bench.event", NULL, B.data[v], strlen(B.data[v]), 1 << 20,
                            hl_now_ms(), &ev, err, sizeof(err)) != 0 ||
        hl_event_envelope(&ev, &B.env[v], &B.env_len[v]) != 0) {
      fprintf(stderr, "bench-publish: %s\n", err);
      exit(1);
    }
    hl_event_clear(&ev);
  }
}

static int setup(const char *prefix) {
  char over[300], err[256];
  const char *o[1] = {over};

  if (strcmp(B.mode, "lib") == 0) {
    snprintf(over, sizeof(over), "topics.prefix=%s", prefix);
    B.p = hookline_producer_new(NULL, o, 1, err, sizeof(err));
    if (!B.p)
      fprintf(stderr, "bench-publish: %s\n", err);
    return B.p ? 0 : -1;
  }
  if (strcmp(B.mode, "raw") == 0) {
    pthread_t th;

    B.rk = raw_producer(prefix);
    return B.rk && pthread_create(&th, NULL, raw_poller, NULL) == 0 ? 0 : -1;
  }
  return strcmp(B.mode, "validate") == 0 ? 0 : -1;
}

/* Wait for every acknowledgement (lib, raw), at most two minutes. */
static int drain(long want) {
  int64_t deadline = hl_mono_ms() + 120000;

  while (atomic_load(&B.acked) + atomic_load(&B.failed) < want && hl_mono_ms() < deadline)
    usleep(1000);
  return atomic_load(&B.acked) == want ? 0 : -1;
}

int main(int argc, char **argv) {
  const char *prefix = NULL;
  int size = 1024, opt;
  long n = 100000, gen = 0, total;
  pthread_t th[64];
  int64_t t0, t1;

  B.mode = "lib";
  B.threads = 1;
  while ((opt = getopt(argc, argv, "p:m:t:n:s:g:")) != -1) {
    if (opt == 'p')
      prefix = optarg;
    else if (opt == 'm')
      B.mode = optarg;
    else if (opt == 't')
      B.threads = atoi(optarg);
    else if (opt == 'n')
      n = atol(optarg);
    else if (opt == 's')
      size = atoi(optarg);
    else if (opt == 'g')
      gen = atol(optarg);
    else
      return 2;
  }
  if (B.threads < 1 || B.threads > 64 || size < 256 || size > 4096 ||
      (!prefix && !gen && strcmp(B.mode, "validate") != 0))
    return 2;
  for (int v = 0; v < VARIANTS; v++)
    B.data[v] = make_data(v, size);
  if (gen) {
    for (long i = 0; i < gen; i++)
      printf("{\"tenant\":\"bench\",\"type\":\"bench.event\",\"data\":%s}\n", B.data[i % VARIANTS]);
    return 0;
  }
  build_envelopes();
  B.m = strcmp(B.mode, "lib") == 0   ? MODE_LIB
        : strcmp(B.mode, "raw") == 0 ? MODE_RAW
                                     : MODE_VALIDATE;
  if (setup(prefix) != 0)
    return 1;
  B.per_thread = n / B.threads;
  total = B.per_thread * B.threads;
  t0 = hl_mono_us();
  for (long i = 0; i < B.threads; i++)
    pthread_create(&th[i], NULL, run, (void *)(intptr_t)i);
  for (int i = 0; i < B.threads; i++)
    pthread_join(th[i], NULL);
  if (strcmp(B.mode, "validate") != 0 && drain(total) != 0) {
    fprintf(stderr, "bench-publish: %ld of %ld acknowledged, %ld failed\n", atomic_load(&B.acked),
            total, atomic_load(&B.failed));
    return 1;
  }
  t1 = hl_mono_us();
  printf("{\"tool\":\"%s\",\"threads\":%d,\"events\":%ld,\"data_bytes\":%d,\"envelope_bytes\":%zu,"
         "\"seconds\":%.3f,\"events_per_s\":%.0f}\n",
         strcmp(B.mode, "lib") == 0   ? "libhookline"
         : strcmp(B.mode, "raw") == 0 ? "librdkafka"
                                      : "validate",
         B.threads, total, size, B.env_len[0], (double)(t1 - t0) / 1e6,
         (double)total / ((double)(t1 - t0) / 1e6));
  hookline_producer_destroy(&B.p);
  atomic_store(&B.stop, 1); /* raw: everything was acknowledged; exit ends the poller */
  return 0;
}
