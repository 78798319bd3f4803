/* test_breaker.c - the breaker's rules (dispatcher/breaker.c), which health.c's Lua mirrors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "breaker.h"

static const hl_brk_params_t P = {.failures = 3,
                                  .cooldown_ms = 1000,
                                  .failure_rate = 0,
                                  .min_requests = 4,
                                  .window_ms = 10000,
                                  .failing_after = 4,
                                  .disable_after_ms = 5000};

static void test_opens_after_threshold_then_probe_closes(void **state) {
  hl_brk_t b;
  int t;

  (void)state;
  memset(&b, 0, sizeof(b));
  assert_int_equal(hl_brk_record(&b, &P, false, false, false, 100), 0);
  assert_int_equal(hl_brk_record(&b, &P, false, false, false, 200), 0);
  assert_int_equal(hl_brk_admit(&b, 250, 500, &t), HL_BRK_ALLOW);
  assert_int_equal(hl_brk_record(&b, &P, false, false, false, 300), HL_BRK_T_OPEN);
  assert_int_equal(b.state, HL_BRK_OPEN);
  assert_int_equal(b.open_until_ms, 1300);
  assert_int_equal(b.first_failure_ms, 100);
  /* open: rejected until the cooldown, then exactly one probe */
  assert_int_equal(hl_brk_admit(&b, 1299, 500, &t), HL_BRK_REJECT);
  assert_int_equal(hl_brk_admit(&b, 1300, 500, &t), HL_BRK_PROBE);
  assert_int_equal(t, HL_BRK_T_HALF_OPEN);
  assert_int_equal(hl_brk_admit(&b, 1301, 500, &t), HL_BRK_REJECT);
  /* the probe fails: open again for a cooldown; the 4th failure makes it failing */
  t = hl_brk_record(&b, &P, false, true, false, 1400);
  assert_int_equal(t, HL_BRK_T_OPEN | HL_BRK_T_FAILING);
  assert_int_equal(b.open_until_ms, 2400);
  /* a late failure of a request sent before it opened does not reopen */
  assert_int_equal(hl_brk_record(&b, &P, false, false, false, 1500) & HL_BRK_T_OPEN, 0);
  /* a late success of a request sent before it opened resets the streak, keeps it open */
  t = hl_brk_record(&b, &P, true, false, false, 1600);
  assert_int_equal(t, HL_BRK_T_RECOVERED);
  assert_int_equal(b.state, HL_BRK_OPEN);
  assert_int_equal(b.failures, 0);
  assert_int_equal(hl_brk_record(&b, &P, false, false, false, 1700), 0);
  assert_int_equal(hl_brk_admit(&b, 2400, 500, &t), HL_BRK_PROBE);
  t = hl_brk_record(&b, &P, true, true, false, 2450);
  assert_int_equal(t, HL_BRK_T_CLOSED);
  assert_int_equal(b.state, HL_BRK_CLOSED);
  assert_int_equal(b.failures, 0);
  assert_int_equal(b.first_failure_ms, 0);
}

static void test_expired_probe_lease_allows_another(void **state) {
  hl_brk_t b;
  int t;

  (void)state;
  memset(&b, 0, sizeof(b));
  b.state = HL_BRK_OPEN;
  b.open_until_ms = 10;
  assert_int_equal(hl_brk_admit(&b, 10, 100, &t), HL_BRK_PROBE);
  assert_int_equal(hl_brk_admit(&b, 109, 100, &t), HL_BRK_REJECT);
  assert_int_equal(hl_brk_admit(&b, 110, 100, &t), HL_BRK_PROBE);
  assert_int_equal(t, 0); /* already half-open: no new transition */
}

static void test_disable_after_first_failure(void **state) {
  hl_brk_t b;

  (void)state;
  memset(&b, 0, sizeof(b));
  assert_int_equal(hl_brk_record(&b, &P, false, false, false, 1000) & HL_BRK_T_DISABLE, 0);
  assert_int_equal(hl_brk_record(&b, &P, false, false, false, 5999) & HL_BRK_T_DISABLE, 0);
  assert_int_not_equal(hl_brk_record(&b, &P, false, false, false, 6000) & HL_BRK_T_DISABLE, 0);
  /* a success starts over */
  hl_brk_record(&b, &P, true, false, false, 6100);
  assert_int_equal(hl_brk_record(&b, &P, false, false, false, 7000) & HL_BRK_T_DISABLE, 0);
}

static void test_failure_rate_window(void **state) {
  hl_brk_params_t p = P;
  hl_brk_t b;
  int i, t = 0;

  (void)state;
  p.failures = 100;
  p.failure_rate = 50;
  memset(&b, 0, sizeof(b));
  /* alternate ok/fail: never 3 in a row, but 50 % once 4 attempts are in the window */
  for (i = 0; i < 3; i++)
    assert_int_equal(hl_brk_window(&b, &p, i % 2 == 0, 100 + i), 0);
  t = hl_brk_window(&b, &p, false, 104);
  assert_int_equal(t, HL_BRK_T_RATE);
  assert_int_equal(hl_brk_record(&b, &p, false, false, true, 104), HL_BRK_T_OPEN);
  /* a new window starts the count again */
  memset(&b, 0, sizeof(b));
  for (i = 0; i < 3; i++)
    hl_brk_window(&b, &p, false, 100 + i);
  assert_int_equal(hl_brk_window(&b, &p, false, 100 + 10000), 0);
  /* off by default */
  memset(&b, 0, sizeof(b));
  for (i = 0; i < 10; i++)
    assert_int_equal(hl_brk_window(&b, &P, false, 100 + i), 0);
}

static void test_state_names(void **state) {
  (void)state;
  assert_string_equal(hl_brk_state_str(HL_BRK_HALF_OPEN), "half_open");
  assert_int_equal(hl_brk_state_parse("open"), HL_BRK_OPEN);
  assert_int_equal(hl_brk_state_parse(NULL), HL_BRK_CLOSED);
  assert_int_equal(hl_brk_state_parse("bogus"), HL_BRK_CLOSED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_opens_after_threshold_then_probe_closes),
      cmocka_unit_test(test_expired_probe_lease_allows_another),
      cmocka_unit_test(test_disable_after_first_failure),
      cmocka_unit_test(test_failure_rate_window),
      cmocka_unit_test(test_state_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
