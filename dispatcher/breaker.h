/*
 * breaker.h - one endpoint's circuit breaker and failure streak as a pure state machine (no
 * I/O): the rules the Redis scripts in health.c apply to the shared hl:health:<id> hash, kept
 * here in C too so a dispatcher goes on deciding alone while Redis is unreachable, plus the
 * failure-rate window each dispatcher measures over its own traffic (docs/breaker.md).
 *
 *   closed --(breaker.failures consecutive failures, or the rate over breaker.window)--> open
 *   open --(breaker.cooldown elapsed, one probe leased)--> half_open
 *   half_open --(the probe fails)--> open       the probe succeeds --> closed
 *   any success resets the failure streak (a late success while open does not close it)
 */
#ifndef HL_BREAKER_H
#define HL_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { HL_BRK_CLOSED = 0, HL_BRK_OPEN, HL_BRK_HALF_OPEN } hl_brk_state_t;

/* What one step changed (several may be set). */
#define HL_BRK_T_OPEN 0x01      /* -> open */
#define HL_BRK_T_HALF_OPEN 0x02 /* -> half_open (a probe was leased) */
#define HL_BRK_T_CLOSED 0x04    /* -> closed */
#define HL_BRK_T_FAILING 0x08   /* the streak reached failing_after: hookline.endpoint.failing */
#define HL_BRK_T_RECOVERED 0x10 /* first success after a failing streak */
#define HL_BRK_T_DISABLE 0x20   /* no success for disable_after since the first failure */
#define HL_BRK_T_RATE 0x40      /* the failure rate opened it (tell Redis: force open) */

typedef struct hl_brk_params {
  int failures;             /* breaker.failures */
  int64_t cooldown_ms;      /* breaker.cooldown */
  int failure_rate;         /* breaker.failure_rate, percent; 0 = off */
  int min_requests;         /* breaker.min_requests in the window before the rate counts */
  int64_t window_ms;        /* breaker.window */
  int failing_after;        /* consecutive failures before hookline.endpoint.failing (4) */
  int64_t disable_after_ms; /* endpoint.disable_after; 0 = never */
} hl_brk_params_t;

typedef struct hl_brk {
  /* shared (mirrors hl:health:<id>) */
  hl_brk_state_t state;
  int64_t open_until_ms;
  int64_t probe_until_ms; /* half_open: the probe's lease */
  int64_t failures;       /* consecutive */
  int64_t first_failure_ms;
  int64_t failing_since_ms; /* 0 until the failing event of this streak */
  /* this dispatcher's window */
  int64_t win_start_ms;
  int win_total, win_failed;
} hl_brk_t;

typedef enum { HL_BRK_ALLOW, HL_BRK_PROBE, HL_BRK_REJECT } hl_brk_admit_t;

const char *hl_brk_state_str(hl_brk_state_t state);
/* "closed", "open", "half_open"; anything else (absent) reads as closed. */
hl_brk_state_t hl_brk_state_parse(const char *s);

/* The window only (every outcome); returns HL_BRK_T_RATE when a failure makes the rate trip
 * while closed. */
int hl_brk_window(hl_brk_t *b, const hl_brk_params_t *p, bool ok, int64_t now_ms);
/* One attempt's outcome on the shared part (probe: it was the half-open probe). */
int hl_brk_record(hl_brk_t *b, const hl_brk_params_t *p, bool ok, bool probe, bool force_open,
                  int64_t now_ms);
/* Is a probe due (open past its cooldown, or half_open with an expired lease)? */
bool hl_brk_probe_due(const hl_brk_t *b, int64_t now_ms);
/* Admission decided locally: a due probe is leased for lease_ms (*t gets HL_BRK_T_HALF_OPEN). */
hl_brk_admit_t hl_brk_admit(hl_brk_t *b, int64_t now_ms, int64_t lease_ms, int *t);

#endif
