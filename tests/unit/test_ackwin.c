/*
 * test_ackwin: the per-partition ack window (dispatcher/ackwin.c): store offset = lowest
 * incomplete, out-of-order completion, full/resume, growth past cap, forgetting a tier head.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ackwin.h"

static void test_lowest_incomplete(void **state) {
  hl_ackwin_t *aw = hl_ackwin_new(3);

  (void)state;
  assert_int_equal(hl_ackwin_store_offset(aw), -1);
  assert_int_equal(hl_ackwin_add(aw, 10), 0);
  assert_int_equal(hl_ackwin_add(aw, 11), 0);
  assert_int_equal(hl_ackwin_add(aw, 13), 0); /* gaps (compaction, markers) are fine */
  assert_true(hl_ackwin_full(aw));
  assert_int_equal(hl_ackwin_store_offset(aw), 10);
  assert_int_equal(hl_ackwin_complete(aw, 11), 0); /* out of order: 10 still pins */
  assert_int_equal(hl_ackwin_store_offset(aw), 10);
  assert_int_equal(hl_ackwin_complete(aw, 10), 1);
  assert_int_equal(hl_ackwin_store_offset(aw), 13);
  assert_false(hl_ackwin_full(aw));
  assert_int_equal(hl_ackwin_depth(aw), 1);
  assert_int_equal(hl_ackwin_complete(aw, 13), 1);
  assert_int_equal(hl_ackwin_store_offset(aw), 14);
  assert_int_equal(hl_ackwin_depth(aw), 0);
  hl_ackwin_destroy(&aw);
  assert_null(aw);
}

static void test_errors(void **state) {
  hl_ackwin_t *aw = hl_ackwin_new(2);

  (void)state;
  assert_int_equal(hl_ackwin_add(aw, 5), 0);
  assert_int_equal(hl_ackwin_add(aw, 5), -1); /* not ascending */
  assert_int_equal(hl_ackwin_add(aw, 4), -1);
  assert_int_equal(hl_ackwin_complete(aw, 6), -1); /* unknown */
  assert_int_equal(hl_ackwin_complete(aw, 5), 1);
  assert_int_equal(hl_ackwin_complete(aw, 5), -1); /* twice */
  hl_ackwin_destroy(&aw);
  hl_ackwin_destroy(&aw);
}

static void test_grow_and_wrap(void **state) {
  hl_ackwin_t *aw = hl_ackwin_new(10);
  int64_t i;

  (void)state;
  for (i = 0; i < 50; i++) { /* wrap the 64-slot ring a few times */
    assert_int_equal(hl_ackwin_add(aw, i), 0);
    if (i >= 5)
      assert_true(hl_ackwin_complete(aw, i - 5) >= 0);
  }
  for (i = 50; i < 500; i++) /* more than the ring: it grows */
    assert_int_equal(hl_ackwin_add(aw, i), 0);
  assert_int_equal(hl_ackwin_store_offset(aw), 45);
  for (i = 499; i >= 46; i--)
    assert_int_equal(hl_ackwin_complete(aw, i), 0);
  assert_int_equal(hl_ackwin_complete(aw, 45), 1);
  assert_int_equal(hl_ackwin_store_offset(aw), 500);
  hl_ackwin_destroy(&aw);
}

static void test_forget_last(void **state) {
  hl_ackwin_t *aw = hl_ackwin_new(10);

  (void)state;
  assert_int_equal(hl_ackwin_add(aw, 7), 0);
  assert_int_equal(hl_ackwin_add(aw, 8), 0);
  assert_int_equal(hl_ackwin_forget_last(aw, 7), -1); /* only the last one */
  assert_int_equal(hl_ackwin_forget_last(aw, 8), 0);
  assert_int_equal(hl_ackwin_complete(aw, 7), 1);
  assert_int_equal(hl_ackwin_store_offset(aw), 8); /* 8 was not processed: stays to consume */
  assert_int_equal(hl_ackwin_add(aw, 8), 0);       /* consumed again after the seek */
  assert_int_equal(hl_ackwin_complete(aw, 8), 1);
  assert_int_equal(hl_ackwin_store_offset(aw), 9);
  hl_ackwin_destroy(&aw);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lowest_incomplete),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_grow_and_wrap),
      cmocka_unit_test(test_forget_last),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
