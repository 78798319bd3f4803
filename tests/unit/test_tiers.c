/*
 * test_tiers: retry schedule parsing, tier topic names, jitter bounds, Retry-After clamp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tiers.h"

static void test_default_schedule(void **state) {
  char err[256];
  hl_tiers_t *t = hl_tiers_new("5s,5m,30m,2h,5h,10h,10h", 20, err, sizeof(err));
  hl_tiers_next_t nx;

  (void)state;
  assert_non_null(t);
  assert_int_equal(hl_tiers_count(t), 7);
  assert_int_equal(hl_tiers_topic_count(t), 6); /* 10h twice: one topic */
  assert_string_equal(hl_tiers_topic_suffix(t, 0), "retry.5s");
  assert_string_equal(hl_tiers_topic_suffix(t, 1), "retry.5m");
  assert_string_equal(hl_tiers_topic_suffix(t, 2), "retry.30m");
  assert_string_equal(hl_tiers_topic_suffix(t, 3), "retry.2h");
  assert_string_equal(hl_tiers_topic_suffix(t, 5), "retry.10h");
  /* attempt 1 failed: 5 s +- 20 % */
  assert_int_equal(hl_tiers_next(t, 1, 0, 1000000, 0.0, &nx), 0);
  assert_int_equal(nx.due_ms, 1000000 + 4000);
  assert_int_equal(hl_tiers_next(t, 1, 0, 1000000, 0.999999, &nx), 0);
  assert_true(nx.due_ms >= 1000000 + 5999 && nx.due_ms <= 1000000 + 6000);
  assert_int_equal(nx.topic, 0);
  assert_int_equal(hl_tiers_next(t, 7, 0, 0, 0.5, &nx), 0);
  assert_int_equal(nx.due_ms, 36000000);
  assert_int_equal(nx.topic, 5);
  assert_int_equal(hl_tiers_next(t, 8, 0, 0, 0.5, &nx), -1); /* 8 attempts made: DLQ */
  hl_tiers_destroy(&t);
  assert_null(t);
}

static void test_retry_after(void **state) {
  char err[256];
  hl_tiers_t *t = hl_tiers_new("1s,1s,2s", 0, err, sizeof(err));
  hl_tiers_next_t nx;

  (void)state;
  assert_int_equal(hl_tiers_count(t), 3);
  assert_int_equal(hl_tiers_topic_count(t), 2);
  assert_int_equal(hl_tiers_first_topic(t), 0);
  assert_int_equal(hl_tiers_next(t, 1, 1500, 0, 0.5, &nx), 0); /* waits at least Retry-After */
  assert_int_equal(nx.due_ms, 1500);
  assert_int_equal(nx.topic, 0); /* 1s is the largest delay <= 1.5 s */
  assert_int_equal(hl_tiers_next(t, 1, 3600000, 0, 0.5, &nx), 0); /* clamped to the longest */
  assert_int_equal(nx.due_ms, 2000);
  assert_int_equal(nx.topic, 1);
  assert_int_equal(hl_tiers_next(t, 1, 200, 0, 0.5, &nx), 0); /* shorter: the schedule wins */
  assert_int_equal(nx.due_ms, 1000);
  assert_int_equal(hl_tiers_next(t, 4, 0, 0, 0.5, &nx), -1);
  hl_tiers_destroy(&t);
}

static void test_bad(void **state) {
  char err[256];

  (void)state;
  assert_null(hl_tiers_new("", 20, err, sizeof(err)));
  assert_non_null(strstr(err, "retry.schedule"));
  assert_null(hl_tiers_new("5s,soon", 20, err, sizeof(err)));
  assert_non_null(strstr(err, "soon"));
  assert_null(hl_tiers_new("0s", 20, err, sizeof(err)));
}

static void test_fmt(void **state) {
  char b[32];

  (void)state;
  hl_tiers_fmt_delay(1500, b, sizeof(b));
  assert_string_equal(b, "1500ms");
  hl_tiers_fmt_delay(90000, b, sizeof(b));
  assert_string_equal(b, "90s");
  hl_tiers_fmt_delay(86400000, b, sizeof(b));
  assert_string_equal(b, "1d");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_schedule),
      cmocka_unit_test(test_retry_after),
      cmocka_unit_test(test_bad),
      cmocka_unit_test(test_fmt),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
