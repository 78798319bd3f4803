/*
 * 0101-libhookline: the C library against the real broker. Four threads publish concurrently;
 * every event is acknowledged exactly once through the callback and read back intact; an invalid
 * event sends nothing; events published by kcat in the documented formats (envelope and
 * hl-* headers) are accepted by the dispatcher's decoder (hl_event_from_message).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "envelope.h"
#include "harness.h"
#include "hookline/producer.h"
#include "util.h"

#define THREADS 4
#define PER_THREAD 250
#define N (THREADS * PER_THREAD)

static char prefix[32], topic[64];
static atomic_int acked[N];
static atomic_int failures;

static void on_delivery(const char *event_id, int err, const char *errstr, void *opaque) {
  int i = atoi(event_id + strlen("evt_lib"));

  if (err || i < 0 || i >= N || (intptr_t)opaque != i)
    atomic_fetch_add(&failures, 1);
  else
    atomic_fetch_add(&acked[i], 1);
}

static void *publisher(void *arg) {
  hookline_producer_t *p = ((void **)arg)[0];
  int t = (int)(intptr_t)((void **)arg)[1];
  char id[64], data[64], out[140], err[256];

  for (int k = 0; k < PER_THREAD; k++) {
    int i = t * PER_THREAD + k;

    snprintf(id, sizeof(id), "evt_lib%d", i);
    snprintf(data, sizeof(data), "{\"i\":%d,\"thread\":%d}", i, t);
    if (hookline_publish(p, "tenant-lib", "thread.event", data, id, on_delivery, (void *)(intptr_t)i,
                         out, sizeof(out), err, sizeof(err)) != HOOKLINE_OK ||
        strcmp(out, id) != 0)
      atomic_fetch_add(&failures, 1);
  }
  return NULL;
}

static hookline_producer_t *new_producer(void) {
  char o1[128], o2[128], err[256];
  const char *over[2] = {o1, o2};
  hookline_producer_t *p;

  snprintf(o1, sizeof(o1), "topics.prefix=%s", prefix);
  snprintf(o2, sizeof(o2), "kafka.bootstrap.servers=%s", hl_test_bootstrap());
  p = hookline_producer_new(NULL, over, 2, err, sizeof(err));
  if (!p)
    fail_msg("producer: %s", err);
  return p;
}

/* Read every record of the topic until `want` arrived; decode each with the dispatcher's decoder. */
static int consume_all(int want, hl_event_t *evs, char errs[][256]) {
  rd_kafka_t *c = hl_test_consumer(topic);
  int64_t deadline = hl_mono_ms() + hl_test_tmout_ms(30000);
  int n = 0;

  while (n < want && hl_mono_ms() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);

    if (!m)
      continue;
    if (!m->err) {
      errs[n][0] = '\0';
      if (hl_event_from_message(m, 256 * 1024, &evs[n], errs[n], 256) != 0)
        memset(&evs[n], 0, sizeof(evs[n]));
      n++;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  return n;
}

static void test_threads_publish_and_read_back(void **state) {
  hookline_producer_t *p = new_producer();
  pthread_t th[THREADS];
  void *args[THREADS][2];
  hl_event_t *evs = calloc(N + 8, sizeof(*evs));
  char(*errs)[256] = calloc(N + 8, 256), err[256];
  static int seen[N];

  assert_string_equal(hookline_producer_topic(p), topic);
  /* invalid events are refused before anything is sent */
  assert_int_equal(hookline_publish(p, "bad tenant", "x", "1", NULL, NULL, NULL, NULL, 0, err,
                                    sizeof(err)),
                   HOOKLINE_EINVAL);
  assert_non_null(strstr(err, "tenant: must match"));
  assert_int_equal(hookline_publish(p, "t", "x", "{oops", NULL, NULL, NULL, NULL, 0, err,
                                    sizeof(err)),
                   HOOKLINE_EINVAL);
  assert_int_equal(hookline_producer_outstanding(p), 0);
  for (int t = 0; t < THREADS; t++) {
    args[t][0] = p;
    args[t][1] = (void *)(intptr_t)t;
    pthread_create(&th[t], NULL, publisher, args[t]);
  }
  for (int t = 0; t < THREADS; t++)
    pthread_join(th[t], NULL);
  assert_int_equal(hookline_producer_flush(p, (int)hl_test_tmout_ms(30000)), HOOKLINE_OK);
  assert_int_equal(atomic_load(&failures), 0);
  for (int i = 0; i < N; i++)
    assert_int_equal(atomic_load(&acked[i]), 1);
  hookline_producer_destroy(&p);
  assert_null(p);

  assert_int_equal(consume_all(N, evs, errs), N);
  for (int i = 0; i < N; i++) {
    char want[64];
    int k;

    if (errs[i][0])
      fail_msg("record %d rejected: %s", i, errs[i]);
    assert_string_equal(evs[i].tenant, "tenant-lib");
    assert_string_equal(evs[i].type, "thread.event");
    k = atoi(evs[i].id + 7);
    snprintf(want, sizeof(want), "{\"i\":%d,\"thread\":%d}", k, k / PER_THREAD);
    assert_string_equal(evs[i].data, want);
    seen[k]++;
    hl_event_clear(&evs[i]);
  }
  for (int i = 0; i < N; i++)
    assert_int_equal(seen[i], 1); /* the invalid ones never reached the topic */
  free(evs);
  free(errs);
}

static void test_kcat_documented_formats(void **state) {
  char cmd[1024], errs[2][256];
  hl_event_t evs[2];
  char topic2[80];

  /* a separate topic so the counts above stay exact */
  snprintf(topic2, sizeof(topic2), "%s.kcat.events", prefix);
  const char *names[1] = {topic2};
  assert_int_equal(hl_test_create_topics(names, 1, 1), 0);
  snprintf(cmd, sizeof(cmd),
           "printf '%%s\\n' '{\"tenant\":\"acme\",\"type\":\"invoice.paid\",\"data\":{\"amount\":12}}'"
           " | kcat -b %s -P -t %s -k acme && "
           "printf '%%s' '{\"amount\":13}' | kcat -b %s -P -t %s -k acme -H hl-tenant=acme "
           "-H hl-type=invoice.paid -H hl-id=evt_hdr1",
           hl_test_bootstrap(), topic2, hl_test_bootstrap(), topic2);
  assert_int_equal(system(cmd), 0);
  strcpy(topic, topic2);
  assert_int_equal(consume_all(2, evs, errs), 2);
  for (int i = 0; i < 2; i++) {
    if (errs[i][0])
      fail_msg("kcat record %d rejected: %s", i, errs[i]);
    assert_string_equal(evs[i].tenant, "acme");
    assert_string_equal(evs[i].type, "invoice.paid");
  }
  assert_string_equal(evs[0].data, "{\"amount\":12}");
  assert_int_equal(strncmp(evs[0].id, "evt_", 4), 0); /* generated */
  assert_string_equal(evs[1].id, "evt_hdr1");
  assert_string_equal(evs[1].data, "{\"amount\":13}");
  hl_event_clear(&evs[0]);
  hl_event_clear(&evs[1]);
}

int main(void) {
  const char *names[1] = {topic};
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads_publish_and_read_back),
      cmocka_unit_test(test_kcat_documented_formats),
  };

  hl_test_prefix(prefix, sizeof(prefix));
  snprintf(topic, sizeof(topic), "%s.events", prefix);
  if (hl_test_create_topics(names, 1, 3) != 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
