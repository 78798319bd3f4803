/*
 * tiers.h - the retry schedule (shared: the dispatcher routes by it, hookline-admin replays the DLQ
 * into its first tier) (DESIGN.md §4, §7): `retry.schedule` ("5s,5m,30m,2h") parsed into
 * per-attempt delays, one Kafka topic per distinct delay (`<p>.retry.5s`), the jitter, the
 * Retry-After clamp and the due time of the next attempt.  No I/O.
 *
 * Attempt n (1-based) that fails waits schedule[n-1] (jittered) before attempt n+1; when
 * attempt n == count + 1 fails the delivery goes to the DLQ.
 */
#ifndef HL_TIERS_H
#define HL_TIERS_H

#include <stddef.h>
#include <stdint.h>

#define HL_TIERS_MAX 32

typedef struct hl_tiers hl_tiers_t;

/* NULL with "retry.schedule: ..." in errstr on a bad schedule. */
hl_tiers_t *hl_tiers_new(const char *schedule, int jitter_pct, char *errstr, size_t errsize);
void hl_tiers_destroy(hl_tiers_t **tiers);

size_t hl_tiers_count(const hl_tiers_t *tiers); /* schedule entries */
int64_t hl_tiers_delay_ms(const hl_tiers_t *tiers, size_t i);
size_t hl_tiers_topic_count(const hl_tiers_t *tiers); /* distinct delays */
/* Suffix of distinct topic i, e.g. "retry.5s" (the topic is "<prefix>.<suffix>"). */
const char *hl_tiers_topic_suffix(const hl_tiers_t *tiers, size_t i);
/* Nominal delay of distinct topic i. */
int64_t hl_tiers_topic_delay_ms(const hl_tiers_t *tiers, size_t i);

/* "5s", "5m", "2h", "1500ms": the shortest exact text of a delay. */
void hl_tiers_fmt_delay(int64_t ms, char *out, size_t outsz);

typedef struct hl_tiers_next {
  int64_t due_ms; /* wall clock of the next attempt */
  size_t topic;   /* distinct topic index to wait in */
} hl_tiers_next_t;

/*
 * After attempt `attempt` (1-based) failed at now_ms: 0 with the next attempt's due time and
 * tier topic, or -1 when the schedule is exhausted (DLQ).  retry_after_ms (0: none) makes the
 * wait at least that long, clamped to the longest delay of the schedule.  rnd01 in [0,1) picks
 * the jitter (tests pass fixed values).
 */
int hl_tiers_next(const hl_tiers_t *tiers, int attempt, int64_t retry_after_ms, int64_t now_ms,
                  double rnd01, hl_tiers_next_t *next);
/* The wait a drain hand-off uses (first delay, no jitter, no attempt consumed): topic index. */
size_t hl_tiers_first_topic(const hl_tiers_t *tiers);

#endif
