/*
 * breaker.c - the circuit breaker's rules without I/O (breaker.h).  health.c's Lua scripts
 * apply the same rules to hl:health:<id>; keep the two in step.
 */
#include "breaker.h"

#include <string.h>

const char *hl_brk_state_str(hl_brk_state_t state) {
  switch (state) {
  case HL_BRK_OPEN:
    return "open";
  case HL_BRK_HALF_OPEN:
    return "half_open";
  default:
    return "closed";
  }
}

hl_brk_state_t hl_brk_state_parse(const char *s) {
  if (s && strcmp(s, "open") == 0)
    return HL_BRK_OPEN;
  if (s && strcmp(s, "half_open") == 0)
    return HL_BRK_HALF_OPEN;
  return HL_BRK_CLOSED;
}

int hl_brk_window(hl_brk_t *b, const hl_brk_params_t *p, bool ok, int64_t now_ms) {
  if (p->window_ms <= 0 || now_ms - b->win_start_ms >= p->window_ms) {
    b->win_start_ms = now_ms;
    b->win_total = 0;
    b->win_failed = 0;
  }
  b->win_total++;
  if (!ok)
    b->win_failed++;
  if (ok || p->failure_rate <= 0 || b->state != HL_BRK_CLOSED || b->win_total < p->min_requests)
    return 0;
  return (int64_t)b->win_failed * 100 >= (int64_t)p->failure_rate * b->win_total ? HL_BRK_T_RATE
                                                                                 : 0;
}

/* A success resets the streak; it closes the breaker when it is the probe's (or the breaker is
 * closed anyway).  A request sent before the breaker opened that succeeds later leaves it open
 * or half-open: the probe decides (so a failure-rate opening holds under concurrency). */
static int hl_brk_success(hl_brk_t *b, bool probe) {
  int t = 0;

  if (b->failing_since_ms)
    t |= HL_BRK_T_RECOVERED;
  b->failures = 0;
  b->first_failure_ms = 0;
  b->failing_since_ms = 0;
  if (b->state != HL_BRK_CLOSED && !probe)
    return t;
  if (b->state != HL_BRK_CLOSED)
    t |= HL_BRK_T_CLOSED;
  b->state = HL_BRK_CLOSED;
  b->open_until_ms = 0;
  b->probe_until_ms = 0;
  return t;
}

int hl_brk_record(hl_brk_t *b, const hl_brk_params_t *p, bool ok, bool probe, bool force_open,
                  int64_t now_ms) {
  int t = 0;

  if (ok)
    return hl_brk_success(b, probe);
  b->failures++;
  if (!b->first_failure_ms)
    b->first_failure_ms = now_ms;
  if ((b->state == HL_BRK_HALF_OPEN && probe) ||
      (b->state == HL_BRK_CLOSED && (b->failures >= p->failures || force_open))) {
    b->state = HL_BRK_OPEN;
    b->open_until_ms = now_ms + p->cooldown_ms;
    b->probe_until_ms = 0;
    t |= HL_BRK_T_OPEN;
  }
  if (!b->failing_since_ms && b->failures >= p->failing_after) {
    b->failing_since_ms = now_ms;
    t |= HL_BRK_T_FAILING;
  }
  if (p->disable_after_ms > 0 && now_ms - b->first_failure_ms >= p->disable_after_ms)
    t |= HL_BRK_T_DISABLE;
  return t;
}

bool hl_brk_probe_due(const hl_brk_t *b, int64_t now_ms) {
  if (b->state == HL_BRK_OPEN)
    return now_ms >= b->open_until_ms;
  if (b->state == HL_BRK_HALF_OPEN)
    return now_ms >= b->probe_until_ms;
  return false;
}

hl_brk_admit_t hl_brk_admit(hl_brk_t *b, int64_t now_ms, int64_t lease_ms, int *t) {
  *t = 0;
  if (b->state == HL_BRK_CLOSED)
    return HL_BRK_ALLOW;
  if (!hl_brk_probe_due(b, now_ms))
    return HL_BRK_REJECT;
  if (b->state == HL_BRK_OPEN)
    *t = HL_BRK_T_HALF_OPEN;
  b->state = HL_BRK_HALF_OPEN;
  b->probe_until_ms = now_ms + lease_ms;
  return HL_BRK_PROBE;
}
