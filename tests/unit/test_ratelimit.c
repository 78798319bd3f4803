/*
 * test_ratelimit: the GCRA arithmetic the Lua script mirrors (dispatcher/ratelimit.c), batch
 * sizing, token lifetimes, the spreading of deferred deliveries, and a simulation of two
 * dispatchers taking batches from one shared state: every 5 s window stays within 10 %.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit.h"

static void test_params(void **state) {
  (void)state;
  assert_int_equal(hl_rl_interval_us(50), 20000);
  assert_int_equal(hl_rl_interval_us(0.5), 2000000);
  assert_int_equal(hl_rl_burst(50, 0), 50); /* burst 0: the rate rounded up */
  assert_int_equal(hl_rl_burst(2.5, 0), 3);
  assert_int_equal(hl_rl_burst(0.5, 0), 1);
  assert_int_equal(hl_rl_burst(50, 7), 7);
  assert_int_equal(hl_rl_tau_us(50, 10), 200000);
}

static void test_gcra_take(void **state) {
  int64_t tat = 0, wait = -1, iv = 20000, tau = 5 * 20000, now = 1000000;

  (void)state;
  /* a fresh key holds the whole burst, all or nothing */
  assert_int_equal(hl_rl_gcra_take(&tat, now, iv, tau, 6, &wait), 0);
  assert_int_equal(wait, 20000); /* one more interval for 6 */
  assert_int_equal(tat, 0);      /* a refusal changes nothing */
  assert_int_equal(hl_rl_gcra_take(&tat, now, iv, tau, 5, &wait), 5);
  assert_int_equal(wait, 0);
  assert_int_equal(tat, now + 100000);
  /* empty: the next token in one interval, two in two */
  assert_int_equal(hl_rl_gcra_take(&tat, now, iv, tau, 1, &wait), 0);
  assert_int_equal(wait, 20000);
  assert_int_equal(hl_rl_gcra_take(&tat, now, iv, tau, 2, &wait), 0);
  assert_int_equal(wait, 40000);
  assert_int_equal(hl_rl_gcra_take(&tat, now + 39999, iv, tau, 2, &wait), 0);
  assert_int_equal(wait, 1);
  assert_int_equal(hl_rl_gcra_take(&tat, now + 40000, iv, tau, 2, &wait), 2);
  /* idle for long: back to the full burst, never more */
  assert_int_equal(hl_rl_gcra_take(&tat, now + 10000000, iv, tau, 5, &wait), 5);
  assert_int_equal(hl_rl_gcra_take(&tat, now + 10000000, iv, tau, 1, &wait), 0);
}

static void test_batch(void **state) {
  (void)state;
  assert_int_equal(hl_rl_batch(50, 10, 100), 5); /* rate / 10 */
  assert_int_equal(hl_rl_batch(50, 4, 100), 2);  /* half the burst */
  assert_int_equal(hl_rl_batch(50, 1, 100), 1);  /* at least 1 */
  assert_int_equal(hl_rl_batch(1000, 0, 5000), 100);
  assert_int_equal(hl_rl_batch(5, 0, 100), 1);
  assert_int_equal(hl_rl_batch(1000, 0, 3), 3); /* no more than is waiting */
  assert_int_equal(hl_rl_batch(1000, 0, 0), 1);
  assert_int_equal(hl_rl_token_ttl_ms(50, 5), 100);
  assert_int_equal(hl_rl_token_ttl_ms(1000, 1), HL_RL_TOKEN_TTL_MIN_MS);
  assert_int_equal(hl_rl_token_ttl_ms(1, 1), 1000);
}

static void test_spread(void **state) {
  int64_t horizon = 0;

  (void)state;
  assert_int_equal(hl_rl_spread(&horizon, 1000, 1500, 16), 2500);
  assert_int_equal(hl_rl_spread(&horizon, 1000, 1500, 16), 2516); /* behind the previous one */
  assert_int_equal(hl_rl_spread(&horizon, 1010, 1500, 16), 2532);
  assert_int_equal(hl_rl_spread(&horizon, 9000, 1000, 16), 10000); /* horizon in the past */
}

/*
 * Two dispatchers share one GCRA state (the Redis key) for 50/s, burst 10.  Each asks for a
 * batch whenever it has no tokens, 0-30 ms late (timers, round trips), and spends its batch
 * evenly over the next 100 ms (the token TTL) or drops what is left.  Sends in every whole 5 s
 * window: 250 +- 10 %.
 */
static void test_two_dispatchers(void **state) {
  const double rate = 50;
  const int burst = 10;
  int64_t iv = hl_rl_interval_us(rate), tau = hl_rl_tau_us(rate, burst);
  int64_t tat = 0, next_ask[2] = {0, 7000}, wait = 0;
  int64_t sends[20] = {0};
  uint32_t seed = 12345;

  (void)state;
  for (int64_t now = 0; now < 20 * 5000000LL; now += 1000) {
    for (int i = 0; i < 2; i++) {
      int n = hl_rl_batch(rate, burst, 1000), got;

      if (now < next_ask[i])
        continue;
      got = hl_rl_gcra_take(&tat, now, iv, tau, n, &wait);
      seed = seed * 1103515245u + 12345u;
      if (got) {
        for (int k = 0; k < got; k++) /* spent within the batch's TTL */
          sends[(now + k * 1000 * hl_rl_token_ttl_ms(rate, got) / got) / 5000000]++;
        next_ask[i] = now + (int64_t)(seed % 30000);
      } else {
        next_ask[i] = now + wait + (int64_t)(seed % 30000);
      }
    }
  }
  for (int w = 1; w < 19; w++) {
    assert_true(sends[w] >= 225);
    assert_true(sends[w] <= 275);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_params),          cmocka_unit_test(test_gcra_take),
      cmocka_unit_test(test_batch),           cmocka_unit_test(test_spread),
      cmocka_unit_test(test_two_dispatchers),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
