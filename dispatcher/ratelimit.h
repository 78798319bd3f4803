/*
 * ratelimit.h - per-endpoint rate limits (DESIGN.md §6, docs/limits.md): GCRA state shared by
 * every dispatcher in Redis (`hl:rl:<endpoint id>`, one Lua script loaded once and called with
 * EVALSHA), taken in small batches that are spent locally and expire quickly, and a local GCRA
 * at rate / (live dispatchers) while Redis is unreachable.
 *
 * Owns one hl_rl_ep_t per rate-limited endpoint seen, kept until exit (tokens in hand, the Redis
 * call in flight, the wake-up timer).  Nothing blocks: a take that cannot be answered at once
 * returns 0 and the ready callback runs on the loop when it is worth asking again.
 *
 * The pure GCRA arithmetic (hl_rl_gcra_take, hl_rl_batch) is what the Lua script computes; the
 * unit test (tests/unit/test_ratelimit.c) pins it.
 */
#ifndef HL_RATELIMIT_H
#define HL_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "state.h"

struct event_base;

/* Local tokens expire after max(HL_RL_TOKEN_TTL_MIN_MS, batch x emission interval). */
#define HL_RL_TOKEN_TTL_MIN_MS 100
/* While falling back to local limits, Redis is asked again after this long. */
#define HL_RL_PROBE_MS 1000
/* A throttled delivery whose turn is this far off goes to a retry tier instead of waiting. */
#define HL_RL_LOCAL_WAIT_MAX_MS 1000

/* ---- pure arithmetic ---- */

/* Emission interval (µs between tokens) and tolerance (µs: burst tokens) of rate and burst
 * (burst 0: the rate rounded up, at least 1). */
int64_t hl_rl_interval_us(double rate_per_sec);
int64_t hl_rl_tau_us(double rate_per_sec, int burst);
int hl_rl_burst(double rate_per_sec, int burst);

/*
 * GCRA, all or nothing: take n tokens at now_us.  *tat_us is the theoretical arrival time
 * (0 for a fresh key).  Granted: returns n, *tat_us advanced, *wait_us 0.  Refused: returns 0,
 * *tat_us unchanged, *wait_us = time until n tokens are available.
 */
int hl_rl_gcra_take(int64_t *tat_us, int64_t now_us, int64_t interval_us, int64_t tau_us, int n,
                    int64_t *wait_us);

/* Tokens to ask for at once: want (deliveries waiting, at least 1) capped by max(1, rate/10)
 * and by half the burst (at least 1), so lateness of the caller does not waste tokens. */
int hl_rl_batch(double rate_per_sec, int burst, size_t want);

/* How long local tokens of a batch of n stay spendable (ms). */
int64_t hl_rl_token_ttl_ms(double rate_per_sec, int n);

/*
 * Due time (ms) of one more deferred delivery whose turn is turn_ms after now_ms: deferred
 * deliveries of one endpoint are spread out behind *horizon_ms (advanced by step_ms each) so
 * they come back about as fast as tokens arrive instead of all at once.
 */
int64_t hl_rl_spread(int64_t *horizon_ms, int64_t now_ms, int64_t turn_ms, double step_ms);

/* ---- the limiter ---- */

typedef struct hl_rl hl_rl_t;

/* ep_id may be able to take a token now (tokens arrived, or its wait is over). */
typedef void hl_rl_ready_cb(const char *ep_id, void *opaque);

typedef struct hl_rl_stats {
  uint64_t redis_calls;  /* EVALSHA/EVAL sent */
  uint64_t tokens_redis; /* tokens granted by Redis */
  uint64_t tokens_local; /* tokens granted by the local fallback */
  uint64_t tokens_expired;
  int fallback; /* 1 while Redis is unreachable and the local limiter rules */
  int members;  /* live dispatchers the fallback divides by */
} hl_rl_stats_t;

/* st is borrowed (NULL: always local).  NULL on allocation failure. */
hl_rl_t *hl_rl_new(struct event_base *base, hl_state_t *st, hl_rl_ready_cb *cb, void *opaque);
/* Cancels timers; callbacks of Redis calls still pending are ignored afterwards. */
void hl_rl_destroy(hl_rl_t **rl);

/*
 * Take one token for ep (rate_per_sec > 0).  want = deliveries waiting for it (sizes the next
 * batch).  1: taken.  0: not now; *wait_ms estimates when (0: unknown, a Redis call is in
 * flight) and the ready callback runs once it is worth asking again.
 */
int hl_rl_take(hl_rl_t *rl, const hl_endpoint_t *ep, size_t want, int64_t *wait_ms);

/* Wall-clock due time for a delivery of ep deferred with its turn turn_ms away: hl_rl_spread
 * from half a local wait before that turn, at 0.8 x the emission interval, so deferred ones come
 * back a little early and a little faster than the rate and the local queue never runs dry. */
int64_t hl_rl_defer_due(hl_rl_t *rl, const hl_endpoint_t *ep, int64_t turn_ms);

/* Live dispatchers in the consumer group (from the group description), at least 1. */
void hl_rl_set_members(hl_rl_t *rl, int members);
void hl_rl_stats(const hl_rl_t *rl, hl_rl_stats_t *stats);

#endif
