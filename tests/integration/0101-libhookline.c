/*
 * 0101-libhookline: the C library against the real broker.
 * - Four threads publish concurrently; every event is acknowledged exactly once, on the
 *   library's one delivery thread; the records read back are the envelopes byte for byte,
 *   keyed by tenant, and the dispatcher's decoder accepts them.
 * - Invalid events and ids that do not fit the caller's buffer send nothing.
 * - Inside a callback: publish works, flush refuses (HOOKLINE_ESTATE).
 * - A missing topic fails the event with a message that says what to do.
 * - Records published by kcat in both documented formats (envelope; hl-* headers) are accepted
 *   by the dispatcher's decoder, and bad header records are rejected naming the field.
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
static pthread_t cb_thread;
static atomic_int cb_threads_seen; /* distinct delivery threads observed (want 1) */
static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;

static void note_thread(void) {
  pthread_mutex_lock(&cb_lock);
  if (atomic_load(&cb_threads_seen) == 0 || !pthread_equal(cb_thread, pthread_self())) {
    cb_thread = pthread_self();
    atomic_fetch_add(&cb_threads_seen, 1);
  }
  pthread_mutex_unlock(&cb_lock);
}

static void on_delivery(const char *event_id, int err, const char *errstr, void *opaque) {
  int i = atoi(event_id + strlen("evt_lib"));

  note_thread();
  if (err || i < 0 || i >= N || (intptr_t)opaque != i)
    atomic_fetch_add(&failures, 1);
  else
    atomic_fetch_add(&acked[i], 1);
}

typedef struct publisher_arg {
  hookline_producer_t *p;
  int t;
  pthread_t self;
} publisher_arg_t;

static void *publisher(void *arg) {
  publisher_arg_t *a = arg;
  char id[64], data[64], out[HOOKLINE_ID_SIZE], err[256];

  a->self = pthread_self();
  for (int k = 0; k < PER_THREAD; k++) {
    int i = a->t * PER_THREAD + k;

    snprintf(id, sizeof(id), "evt_lib%d", i);
    snprintf(data, sizeof(data), "{ \"i\": %d, \"thread\": %d, \"f\": 0.1 }", i, a->t);
    if (hookline_publish(a->p, "tenant-lib", "thread.event", data, id, on_delivery,
                         (void *)(intptr_t)i, out, sizeof(out), err, sizeof(err)) != HOOKLINE_OK ||
        strcmp(out, id) != 0)
      atomic_fetch_add(&failures, 1);
  }
  return NULL;
}

static hookline_producer_t *new_producer(const char *pfx, const char *extra) {
  char o1[128], o2[128], err[256];
  const char *over[3] = {o1, o2, extra};
  hookline_producer_t *p;

  snprintf(o1, sizeof(o1), "topics.prefix=%s", pfx);
  snprintf(o2, sizeof(o2), "kafka.bootstrap.servers=%s", hl_test_bootstrap());
  p = hookline_producer_new(NULL, over, extra ? 3 : 2, err, sizeof(err));
  if (!p)
    fail_msg("producer: %s", err);
  return p;
}

typedef struct record {
  char *value, *key;
  hl_event_t ev;
  char err[256];
} record_t;

/* Read `want` records of t; decode each with the dispatcher's decoder. Returns the count. */
static int consume(const char *t, int want, record_t *recs) {
  rd_kafka_t *c = hl_test_consumer(t);
  int64_t deadline = hl_mono_ms() + hl_test_tmout_ms(30000);
  int n = 0;

  while (n < want && hl_mono_ms() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);

    if (!m)
      continue;
    if (!m->err) {
      record_t *r = &recs[n++];

      r->value = strndup(m->payload ? m->payload : "", m->len);
      r->key = strndup(m->key ? m->key : "", m->key_len);
      r->err[0] = '\0';
      if (hl_event_from_message(m, 256 * 1024, &r->ev, r->err, sizeof(r->err)) != 0)
        memset(&r->ev, 0, sizeof(r->ev));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  return n;
}

static void free_records(record_t *recs, int n) {
  for (int i = 0; i < n; i++) {
    free(recs[i].value);
    free(recs[i].key);
    hl_event_clear(&recs[i].ev);
  }
}

/* Refused before sending: nothing may be outstanding afterwards. */
static void check_refusals(hookline_producer_t *p) {
  char err[256], small[8];

  assert_int_equal(
      hookline_publish(p, "bad tenant", "x", "1", NULL, NULL, NULL, NULL, 0, err, sizeof(err)),
      HOOKLINE_EINVAL);
  assert_string_equal(err, "tenant: must match [A-Za-z0-9_.-]{1,64}");
  assert_int_equal(
      hookline_publish(p, "t", "x", "{oops", NULL, NULL, NULL, NULL, 0, err, sizeof(err)),
      HOOKLINE_EINVAL);
  assert_non_null(strstr(err, "data: not valid JSON"));
  assert_int_equal(
      hookline_publish(p, "t", "x", "1", NULL, NULL, NULL, small, sizeof(small), err, sizeof(err)),
      HOOKLINE_EINVAL);
  assert_non_null(strstr(err, "id_out: buffer too small"));
  assert_int_equal(hookline_publish_envelope(p, "[1]", 3, NULL, NULL, NULL, 0, NULL, 0),
                   HOOKLINE_EINVAL); /* errstr may be NULL */
  assert_int_equal(hookline_producer_outstanding(p), 0);
}

static void test_threads_publish_and_read_back(void **state) {
  hookline_producer_t *p = new_producer(prefix, NULL);
  publisher_arg_t args[THREADS];
  pthread_t th[THREADS];
  record_t *recs = calloc(N + 8, sizeof(*recs));
  static int seen[N];

  assert_string_equal(hookline_producer_topic(p), topic);
  check_refusals(p);
  for (int t = 0; t < THREADS; t++) {
    args[t] = (publisher_arg_t){p, t, 0};
    pthread_create(&th[t], NULL, publisher, &args[t]);
  }
  for (int t = 0; t < THREADS; t++)
    pthread_join(th[t], NULL);
  assert_int_equal(hookline_producer_flush(p, (int)hl_test_tmout_ms(30000)), HOOKLINE_OK);
  assert_int_equal(hookline_producer_outstanding(p), 0);
  assert_int_equal(atomic_load(&failures), 0);
  for (int i = 0; i < N; i++)
    assert_int_equal(atomic_load(&acked[i]), 1);
  /* one delivery thread, which is neither this one nor a publisher */
  assert_int_equal(atomic_load(&cb_threads_seen), 1);
  assert_false(pthread_equal(cb_thread, pthread_self()));
  for (int t = 0; t < THREADS; t++)
    assert_false(pthread_equal(cb_thread, args[t].self));
  hookline_producer_destroy(&p);
  assert_null(p);

  assert_int_equal(consume(topic, N, recs), N);
  for (int i = 0; i < N; i++) {
    char want[256];
    int64_t ts;
    int k;

    if (recs[i].err[0])
      fail_msg("record %d rejected by the dispatcher's decoder: %s", i, recs[i].err);
    assert_string_equal(recs[i].key, "tenant-lib");
    k = atoi(recs[i].ev.id + 7);
    assert_true(k >= 0 && k < N);
    /* the envelope byte for byte: fixed member order, data compacted as written */
    snprintf(want, sizeof(want),
             "{\"id\":\"evt_lib%d\",\"tenant\":\"tenant-lib\",\"type\":\"thread.event\","
             "\"timestamp\":\"%s\",\"data\":{\"i\":%d,\"thread\":%d,\"f\":0.1}}",
             k, recs[i].ev.timestamp, k, k / PER_THREAD);
    assert_string_equal(recs[i].value, want);
    assert_int_equal(strlen(recs[i].ev.timestamp), strlen("2026-11-22T10:00:00.000Z"));
    assert_int_equal(hl_parse_rfc3339(recs[i].ev.timestamp, &ts), 0);
    assert_true(llabs(ts - hl_now_ms()) < 600000);
    seen[k]++;
  }
  for (int i = 0; i < N; i++)
    assert_int_equal(seen[i], 1); /* the refused ones never reached the topic */
  free_records(recs, N);
  free(recs);
}

/* An envelope with id and timestamp goes out exactly as given (compacted). */
static void test_envelope_byte_for_byte(void **state) {
  static const char in[] = "{ \"data\" : {\"big\": 12345678901234567890, \"s\": \"caf\\u00e9 é\"},"
                           " \"type\": \"order.created\", \"tenant\": \"acme\", \"extra\": true,"
                           " \"id\": \"evt_env1\", \"timestamp\": \"2026-11-22T11:00:00+01:00\" }";
  static const char want[] = "{\"id\":\"evt_env1\",\"tenant\":\"acme\",\"type\":\"order.created\","
                             "\"timestamp\":\"2026-11-22T11:00:00+01:00\",\"data\":{\"big\":"
                             "12345678901234567890,\"s\":\"caf\\u00e9 é\"}}";
  char t[80], pfx[48], id[HOOKLINE_ID_SIZE], err[256];
  const char *names[1] = {t};
  hookline_producer_t *p;
  record_t rec;

  snprintf(pfx, sizeof(pfx), "%s_env", prefix);
  snprintf(t, sizeof(t), "%s.events", pfx);
  assert_int_equal(hl_test_create_topics(names, 1, 1), 0);
  p = new_producer(pfx, NULL);
  assert_int_equal(
      hookline_publish_envelope(p, in, strlen(in), NULL, NULL, id, sizeof(id), err, sizeof(err)),
      HOOKLINE_OK);
  assert_string_equal(id, "evt_env1");
  assert_int_equal(hookline_producer_flush(p, (int)hl_test_tmout_ms(30000)), HOOKLINE_OK);
  hookline_producer_destroy(&p);
  memset(&rec, 0, sizeof(rec));
  assert_int_equal(consume(t, 1, &rec), 1);
  assert_string_equal(rec.value, want);
  assert_string_equal(rec.key, "acme");
  assert_string_equal(rec.err, "");
  assert_string_equal(rec.ev.body, "{\"id\":\"evt_env1\",\"type\":\"order.created\",\"timestamp\":"
                                   "\"2026-11-22T11:00:00+01:00\",\"data\":{\"big\":"
                                   "12345678901234567890,\"s\":\"caf\\u00e9 é\"}}");
  free_records(&rec, 1);
}

static hookline_producer_t *chain_p;
static atomic_int chain_flush_rc = 1, chain_publish_rc = 1, chain_done;

static void on_chained(const char *event_id, int err, const char *errstr, void *opaque) {
  atomic_store(&chain_done, err ? -1 : 1);
}

static void on_first(const char *event_id, int err, const char *errstr, void *opaque) {
  char e[256];

  atomic_store(&chain_flush_rc, hookline_producer_flush(chain_p, 1000));
  atomic_store(&chain_publish_rc,
               hookline_publish(chain_p, "acme", "chained.event", "2", "evt_chained", on_chained,
                                NULL, NULL, 0, e, sizeof(e)));
}

/* From a callback: publish works, flush says HOOKLINE_ESTATE instead of waiting forever. */
static void test_callback_reentry(void **state) {
  char err[256];

  chain_p = new_producer(prefix, NULL);
  assert_int_equal(hookline_publish(chain_p, "acme", "first.event", "1", NULL, on_first, NULL, NULL,
                                    0, err, sizeof(err)),
                   HOOKLINE_OK);
  assert_int_equal(hookline_producer_flush(chain_p, (int)hl_test_tmout_ms(30000)), HOOKLINE_OK);
  assert_int_equal(atomic_load(&chain_flush_rc), HOOKLINE_ESTATE);
  assert_int_equal(atomic_load(&chain_publish_rc), HOOKLINE_OK);
  /* the chained event was published before the flush above could see zero outstanding */
  assert_int_equal(atomic_load(&chain_done), 1);
  hookline_producer_destroy(&chain_p);
}

static char missing_err[256];
static atomic_int missing_rc = 1;

static void on_missing(const char *event_id, int err, const char *errstr, void *opaque) {
  snprintf(missing_err, sizeof(missing_err), "%s", errstr);
  atomic_store(&missing_rc, err);
}

static void test_missing_topic(void **state) {
  char pfx[48], want[160], err[256];
  hookline_producer_t *p;
  int64_t t0 = hl_mono_ms();

  snprintf(pfx, sizeof(pfx), "%s_missing", prefix);
  p = new_producer(pfx, "kafka.topic.metadata.propagation.max.ms=1000");
  assert_int_equal(
      hookline_publish(p, "acme", "x", "1", NULL, on_missing, NULL, NULL, 0, err, sizeof(err)),
      HOOKLINE_OK);
  assert_int_equal(hookline_producer_flush(p, (int)hl_test_tmout_ms(20000)), HOOKLINE_OK);
  assert_int_equal(atomic_load(&missing_rc), HOOKLINE_EKAFKA);
  snprintf(want, sizeof(want), "topic %s.events does not exist: start a dispatcher or create it",
           pfx);
  assert_string_equal(missing_err, want);
  assert_true(hl_mono_ms() - t0 < hl_test_tmout_ms(15000));
  hookline_producer_destroy(&p);
}

static void test_kcat_documented_formats(void **state) {
  char cmd[2048], t[80];
  const char *names[1] = {t};
  record_t recs[5];
  const char *b = hl_test_bootstrap();

  memset(recs, 0, sizeof(recs));
  snprintf(t, sizeof(t), "%s.kcat.events", prefix); /* its own topic: counts stay exact */
  assert_int_equal(hl_test_create_topics(names, 1, 1), 0);
  snprintf(
      cmd, sizeof(cmd),
      "printf '%%s\\n' '{\"tenant\":\"acme\",\"type\":\"invoice.paid\",\"data\":{\"amount\":12}}'"
      " | kcat -b %s -P -t %s -k acme && "
      "printf '%%s' '{\"amount\":13}' | kcat -b %s -P -t %s -k acme -H hl-tenant=acme "
      "-H hl-type=invoice.paid -H hl-id=evt_hdr1 && "
      "printf '%%s' '[1]' | kcat -b %s -P -t %s -k acme -H hl-tenant=acme && "
      "printf '%%s' '1' | kcat -b %s -P -t %s -k acme -H hl-tenant=acme -H hl-type=a.b "
      "-H 'hl-id=bad id' && "
      "printf '%%s' '{\"amount\":' | kcat -b %s -P -t %s -k acme -H hl-tenant=acme "
      "-H hl-type=a.b",
      b, t, b, t, b, t, b, t, b, t);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(consume(t, 5, recs), 5);
  for (int i = 0; i < 2; i++) {
    if (recs[i].err[0])
      fail_msg("kcat record %d rejected: %s", i, recs[i].err);
    assert_string_equal(recs[i].ev.tenant, "acme");
    assert_string_equal(recs[i].ev.type, "invoice.paid");
  }
  assert_string_equal(recs[0].ev.data, "{\"amount\":12}");
  assert_int_equal(strncmp(recs[0].ev.id, "evt_", 4), 0); /* generated */
  assert_int_equal(strlen(recs[0].ev.id), 26);
  assert_string_equal(recs[1].ev.id, "evt_hdr1");
  assert_string_equal(recs[1].ev.data, "{\"amount\":13}");
  assert_non_null(strstr(recs[1].ev.body, "\"data\":{\"amount\":13}}"));
  assert_string_equal(recs[2].err, "type: required (header hl-type)");
  assert_string_equal(recs[3].err, "id: must match [A-Za-z0-9_.-]{1,128}");
  assert_string_equal(recs[4].err, "data: not valid JSON: unexpected end of input at column 11");
  free_records(recs, 5);
}

int main(void) {
  const char *names[1] = {topic};
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads_publish_and_read_back),
      cmocka_unit_test(test_envelope_byte_for_byte),
      cmocka_unit_test(test_callback_reentry),
      cmocka_unit_test(test_missing_topic),
      cmocka_unit_test(test_kcat_documented_formats),
  };

  hl_test_prefix(prefix, sizeof(prefix));
  snprintf(topic, sizeof(topic), "%s.events", prefix);
  if (hl_test_create_topics(names, 1, 3) != 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
