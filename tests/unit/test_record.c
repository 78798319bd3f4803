/*
 * test_record: delivery/attempt records round-trip (common/record.c), history cap, invalid-event
 * records; metrics exposition (common/metrics.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "metrics.h"
#include "record.h"

static void test_record_roundtrip(void **state) {
  hl_record_t rec, back;
  char err[256], *s, *s2;
  size_t len;
  int i;

  (void)state;
  memset(&rec, 0, sizeof(rec));
  strcpy(rec.ev.id, "evt_1");
  strcpy(rec.ev.tenant, "acme");
  strcpy(rec.ev.type, "invoice.paid");
  strcpy(rec.ev.timestamp, "2026-11-22T10:00:00Z");
  rec.ev.body = strdup("{\"id\":\"evt_1\",\"data\":{\"x\":\"\\u00e9\"}}");
  rec.ev.body_len = strlen(rec.ev.body);
  strcpy(rec.endpoint_id, "ep_abc");
  rec.attempt = 2;
  rec.due_ms = 1234;
  for (i = 1; i <= HL_RECORD_HISTORY_MAX + 3; i++) {
    hl_attempt_t at = {"evt_1", "ep_abc", "acme",     i,      1000, 500,
                       12,      "status", "HTTP 500", "oops", 4};
    char *a = hl_attempt_to_json(&at, NULL);
    assert_non_null(a);
    assert_int_equal(hl_record_history_add(&rec, a), 0);
    free(a);
  }
  s = hl_record_to_json(&rec, &len);
  assert_non_null(s);
  assert_int_equal(hl_record_parse(s, len, &back, err, sizeof(err)), 0);
  assert_string_equal(back.ev.id, "evt_1");
  assert_string_equal(back.endpoint_id, "ep_abc");
  assert_int_equal(back.attempt, 2);
  assert_int_equal(back.due_ms, 1234);
  assert_int_equal(back.ev.body_len, rec.ev.body_len);
  assert_memory_equal(back.ev.body, rec.ev.body, rec.ev.body_len); /* verbatim: still signs */
  json_t *h = json_loads(back.history, 0, NULL);
  assert_int_equal(json_array_size(h), HL_RECORD_HISTORY_MAX);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(h, 0), "attempt")), 4);
  json_decref(h);
  s2 = hl_record_to_json(&back, NULL);
  assert_string_equal(s, s2);
  free(s);
  free(s2);
  hl_record_clear(&back);
  hl_record_clear(&rec);
  assert_int_equal(hl_record_parse("nope", 4, &back, err, sizeof(err)), -1);
  assert_int_equal(hl_record_parse("{\"event_id\":\"e\"}", 16, &back, err, sizeof(err)), -1);
}

static void test_attempt_json(void **state) {
  hl_attempt_t at = {"evt_1", "ep_1", "t", 3, 0, 0, 15000, "timeout", NULL, "\xff\xfe", 2};
  char *s = hl_attempt_to_json(&at, NULL);
  json_t *o = json_loads(s, 0, NULL);

  (void)state;
  assert_non_null(o);
  assert_string_equal(json_string_value(json_object_get(o, "ts")), "1970-01-01T00:00:00.000Z");
  assert_true(json_is_null(json_object_get(o, "error")));
  assert_string_equal(json_string_value(json_object_get(o, "excerpt")), "(binary)");
  assert_int_equal(json_integer_value(json_object_get(o, "latency_ms")), 15000);
  json_decref(o);
  free(s);
}

static void test_invalid_record(void **state) {
  char *s = hl_record_invalid_json("\x00\x01", 2, "event: not JSON", "p.events", 3, 42, NULL);
  json_t *o = json_loads(s, 0, NULL);

  (void)state;
  assert_string_equal(json_string_value(json_object_get(o, "reason")), "event: not JSON");
  assert_string_equal(json_string_value(json_object_get(o, "raw_b64")), "AAE=");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "source"), "offset")), 42);
  json_decref(o);
  free(s);
}

/* hookline-admin's DLQ tooling reads both kinds back with the same module. */
static void test_invalid_record_parse(void **state) {
  char *s = hl_record_invalid_json("oops", 4, "event: not JSON", "p.events", 3, 42, NULL);
  const char *dlv;
  hl_record_invalid_t inv;
  hl_record_t rec;
  char err[128];

  (void)state;
  assert_int_equal(hl_record_invalid_parse(s, strlen(s), &inv, err, sizeof(err)), 0);
  assert_string_equal(inv.reason, "event: not JSON");
  assert_string_equal(inv.raw_b64, "b29wcw==");
  assert_string_equal(inv.topic, "p.events");
  assert_int_equal(inv.partition, 3);
  assert_int_equal(inv.offset, 42);
  hl_record_invalid_clear(&inv);
  assert_null(inv.reason);
  /* an invalid-event record is not a delivery record, and the reverse */
  assert_int_equal(hl_record_parse(s, strlen(s), &rec, err, sizeof(err)), -1);
  free(s);
  dlv = "{\"v\":1,\"event_id\":\"e\",\"tenant\":\"t\",\"type\":\"a.b\",\"body\":\"{}\","
        "\"endpoint_id\":\"ep_1\",\"reason\":\"endpoint_disabled\"}";
  assert_int_equal(hl_record_invalid_parse(dlv, strlen(dlv), &inv, err, sizeof(err)), -1);
  assert_int_equal(hl_record_parse(dlv, strlen(dlv), &rec, err, sizeof(err)), 0);
  assert_string_equal(rec.reason, "endpoint_disabled");
  hl_record_clear(&rec);
}

static void test_metrics(void **state) {
  static const double b[] = {0.1, 1};
  hl_metrics_t *m = hl_metrics_new();
  hl_metric_t *c = hl_metrics_counter(m, "x_total", "X.");
  hl_metric_t *h = hl_metrics_histogram(m, "lat_seconds", "Latency.", b, 2);
  char *out;
  size_t len;

  (void)state;
  hl_metric_add(c, "outcome=\"ok\"", 2);
  hl_metric_add(c, "outcome=\"ok\"", 1);
  hl_metric_observe(h, NULL, 0.05);
  hl_metric_observe(h, NULL, 0.5);
  hl_metric_observe(h, NULL, 5);
  assert_true(hl_metric_value(c, "outcome=\"ok\"") == 3);
  assert_int_equal(hl_metrics_render(m, &out, &len), 0);
  assert_non_null(strstr(out, "# TYPE x_total counter\nx_total{outcome=\"ok\"} 3\n"));
  assert_non_null(strstr(out, "lat_seconds_bucket{le=\"0.1\"} 1\n"));
  assert_non_null(strstr(out, "lat_seconds_bucket{le=\"1\"} 2\n"));
  assert_non_null(strstr(out, "lat_seconds_bucket{le=\"+Inf\"} 3\n"));
  assert_non_null(strstr(out, "lat_seconds_count 3\n"));
  free(out);
  hl_metrics_destroy(&m);
  assert_null(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_roundtrip), cmocka_unit_test(test_attempt_json),
      cmocka_unit_test(test_invalid_record),   cmocka_unit_test(test_invalid_record_parse),
      cmocka_unit_test(test_metrics),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
