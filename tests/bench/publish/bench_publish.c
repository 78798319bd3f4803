/*
 * bench_publish.c - events/s through libhookline: THREADS threads publish N events of SIZE bytes
 * of data each, then flush; prints one JSON line. Not a test.
 *   bench-publish -p PREFIX [-t THREADS] [-n N] [-s SIZE]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookline/producer.h"
#include "util.h"

static hookline_producer_t *p;
static char *data;
static long per_thread;

static void *run(void *arg) {
  char err[256];

  for (long i = 0; i < per_thread; i++) {
    if (hookline_publish(p, "bench", "bench.event", data, NULL, NULL, NULL, NULL, 0, err,
                         sizeof(err)) != HOOKLINE_OK) {
      fprintf(stderr, "publish: %s\n", err);
      exit(1);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  int threads = 1, size = 1024, opt;
  long n = 100000;
  char prefix[256] = "", err[256];
  const char *over[1] = {prefix};
  pthread_t th[64];
  int64_t t0, t1;

  while ((opt = getopt(argc, argv, "p:t:n:s:")) != -1) {
    if (opt == 'p')
      snprintf(prefix, sizeof(prefix), "topics.prefix=%s", optarg);
    else if (opt == 't')
      threads = atoi(optarg);
    else if (opt == 'n')
      n = atol(optarg);
    else if (opt == 's')
      size = atoi(optarg);
  }
  if (!prefix[0] || threads < 1 || threads > 64 || size < 16)
    return 2;
  data = malloc((size_t)size + 1);
  memset(data, 'x', (size_t)size);
  data[0] = '"';
  data[size - 1] = '"';
  data[size] = '\0';
  p = hookline_producer_new(NULL, over, 1, err, sizeof(err));
  if (!p) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  per_thread = n / threads;
  t0 = hl_mono_us();
  for (int i = 0; i < threads; i++)
    pthread_create(&th[i], NULL, run, NULL);
  for (int i = 0; i < threads; i++)
    pthread_join(th[i], NULL);
  if (hookline_producer_flush(p, 120000) != HOOKLINE_OK)
    return 1;
  t1 = hl_mono_us();
  printf("{\"tool\":\"libhookline\",\"threads\":%d,\"events\":%ld,\"data_bytes\":%d,"
         "\"seconds\":%.3f,\"events_per_s\":%.0f}\n",
         threads, per_thread * threads, size, (double)(t1 - t0) / 1e6,
         (double)(per_thread * threads) / ((double)(t1 - t0) / 1e6));
  hookline_producer_destroy(&p);
  free(data);
  return 0;
}
