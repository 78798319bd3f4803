/*
 * state.h - the dispatcher's Redis side: every Redis read and write the dispatcher makes,
 * asynchronous (hiredis async + its libevent adapter) on the dispatcher's event_base.
 *
 * Owns two connections (commands; SUBSCRIBE hl:changes), their reconnects with backoff, and the
 * subscription cache (subcache.h): tenant lookups, done markers, the recent-attempts list and
 * endpoint auto-disable.  Nothing here blocks the loop.
 *
 * Callbacks run on the loop, never from inside the call that registered them (lookups answered
 * from the cache return the snapshot instead of calling back).  Error codes are negative errno:
 *   -ENOTCONN   Redis unreachable (not connected, connection lost, timed out): retry later
 *   -EIO        Redis answered with an error
 *   -ECANCELED  hl_state_destroy() ran while the request was pending
 *   -EINVAL     a tenant name that cannot exist (empty or longer than 64)
 * hl_state_destroy() may be called from inside a callback: the free is deferred until the
 * callback returns (hiredis REDIS_IN_CALLBACK style); pending requests then get -ECANCELED.
 */
#ifndef HL_STATE_H
#define HL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "subcache.h" /* hl_subs_tenant_t, hl_subs_tenant_hold/release */

struct event_base;

typedef struct hl_state hl_state_t;

/* Connects in the background from redis.* config; NULL with errstr on bad config. */
hl_state_t *hl_state_new(struct event_base *base, const hl_conf_t *conf, char *errstr,
                         size_t errsize);
void hl_state_destroy(hl_state_t **st);
/* Both connections up and the last command answered without error (for /readyz). */
bool hl_state_ready(const hl_state_t *st);

/*
 * Tenant lookup.  Cached and fresh (or stale, while a refresh runs or Redis is unreachable):
 * returns a snapshot held for the caller at once and cb is not called.  Otherwise returns NULL
 * and calls cb later with a snapshot held for the callee, or NULL + err when Redis is
 * unreachable (keep the event and ask again later: never drop it).  Concurrent lookups of one
 * tenant share one fetch.  A tenant without endpoints gets a snapshot with neps == 0.
 */
typedef void hl_state_subs_cb(hl_subs_tenant_t *snap, int err, void *opaque);
hl_subs_tenant_t *hl_state_subs_get(hl_state_t *st, const char *tenant, hl_state_subs_cb *cb,
                                    void *opaque);

/* hl:done:<event id>:<endpoint id> markers (DESIGN §8).  done[] is valid only during cb. */
typedef void hl_state_done_cb(const bool *done, size_t n, int err, void *opaque);
void hl_state_done_check(hl_state_t *st, const char *event_id, const char *const *ep_ids, size_t n,
                         hl_state_done_cb *cb, void *opaque);
typedef void hl_state_ack_cb(int err, void *opaque);
/* SET hl:done:<event>:<ep> PX ttl_ms; cb may be NULL. */
void hl_state_done_mark(hl_state_t *st, const char *event_id, const char *ep_id, int64_t ttl_ms,
                        hl_state_ack_cb *cb, void *opaque);

/* LPUSH hl:recent:<ep> json + LTRIM to attempts.recent_max; fire and forget (dropped while
 * Redis is unreachable). */
void hl_state_recent_push(hl_state_t *st, const char *ep_id, const char *json, size_t len);

/* Set the endpoint disabled with reason and time, bump its version and updated time, PUBLISH
 * on hl:changes, atomically (Lua).  An endpoint already disabled or gone is left alone (err 0).
 * cb may be NULL. */
void hl_state_endpoint_disable(hl_state_t *st, const char *ep_id, const char *reason,
                               hl_state_ack_cb *cb, void *opaque);

/*
 * Any command (argv strings) whose reply the caller reads: cb(reply, 0) with the hiredis reply,
 * valid only during cb, or cb(NULL, err) on failure, including an error reply (-EIO).  cb is
 * never called from inside this call.
 */
struct redisReply;
typedef void hl_state_reply_cb(const struct redisReply *reply, int err, void *opaque);
void hl_state_command(hl_state_t *st, int argc, const char **argv, hl_state_reply_cb *cb,
                      void *opaque);

/* Counters for /metrics and tests. */
typedef struct hl_state_stats {
  uint64_t lookups;        /* hl_state_subs_get calls */
  uint64_t hits;           /* answered from the cache (fresh or stale) */
  uint64_t fetches;        /* tenant fetches sent to Redis */
  uint64_t commands;       /* commands sent on the command connection */
  uint64_t errors;         /* failed requests (unreachable or error replies) */
  uint64_t invalidations;  /* hl:changes messages that dropped a cached tenant */
  uint64_t flushes;        /* whole-cache flushes after a resubscribe */
  uint64_t evictions;      /* tenants evicted by the cache cap */
  uint64_t corrupt;        /* endpoint hashes skipped as undecodable */
  uint64_t cached_tenants; /* tenants in the cache now */
} hl_state_stats_t;
void hl_state_stats(const hl_state_t *st, hl_state_stats_t *stats);

#endif
