/*
 * ratelimit.c - per-endpoint GCRA rate limits (see ratelimit.h and docs/limits.md).
 *
 * Redis holds one key per endpoint, hl:rl:<id> = the theoretical arrival time (TAT, µs on the
 * Redis clock), written by HL_RL_LUA only.  A dispatcher asks for a small batch of tokens at a
 * time (all or nothing), spends them locally and drops what it has not spent after a short TTL,
 * so at most one batch per dispatcher is ever "in hand".  While Redis is unreachable the same
 * arithmetic runs locally at rate / live dispatchers.
 */
#include "ratelimit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "log.h"
#include "util.h"

#define HL_RL_BUCKETS 1024
#define HL_RL_KEY_MAX 64

/*
 * KEYS[1] hl:rl:<id>; ARGV interval_us, tau_us, n.  Returns {granted, wait_us}: n tokens or
 * none (all or nothing), on the Redis clock so every dispatcher shares one time line.  The key
 * expires when its TAT is in the past (a fresh key is the full burst).  Numbers are written with
 * %.0f: tostring() would print 16-digit µs in exponent form and lose precision.
 */
#define HL_RL_LUA                                                                                  \
  "local t = redis.call('TIME')\n"                                                                 \
  "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"                                        \
  "local iv, tau, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"                   \
  "local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"                                 \
  "if tat < now then tat = now end\n"                                                              \
  "local new = tat + n * iv\n"                                                                     \
  "if new - now > tau then return {0, new - tau - now} end\n"                                      \
  "redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', "                                  \
  "math.floor((new - now) / 1000) + 1)\n"                                                          \
  "return {n, 0}\n"

typedef struct hl_rl_ep {
  struct hl_rl *rl;
  char id[HL_EP_ID_MAX + 1];
  double rate;
  int burst;
  int tokens;            /* in hand, spendable until tokens_exp_ms */
  int64_t tokens_exp_ms; /* monotonic */
  bool pending;          /* a Redis call in flight */
  bool reloaded;         /* this call already followed a SCRIPT LOAD */
  int64_t wait_until_ms; /* monotonic: refused until then (timer armed) */
  int64_t local_tat_us;  /* fallback GCRA state (monotonic µs) */
  int64_t horizon_ms;    /* wall clock: where the next deferred delivery goes */
  struct event *timer;
  struct hl_rl_ep *next;
} hl_rl_ep_t;

struct hl_rl {
  struct event_base *base;
  hl_state_t *st;
  hl_rl_ready_cb *cb;
  void *opaque;
  char sha[41];
  bool closing;
  int64_t probe_ms; /* monotonic: while falling back, ask Redis again from then on */
  int members;
  hl_rl_stats_t stats;
  hl_rl_ep_t *buckets[HL_RL_BUCKETS];
};

/* ---- pure arithmetic ---- */

int64_t hl_rl_interval_us(double rate) {
  int64_t iv = rate > 0 ? (int64_t)llround(1e6 / rate) : 0;

  return iv > 0 ? iv : 1;
}

int hl_rl_burst(double rate, int burst) {
  if (burst > 0)
    return burst;
  return rate >= 1 ? (int)ceil(rate) : 1;
}

int64_t hl_rl_tau_us(double rate, int burst) {
  return hl_rl_interval_us(rate) * hl_rl_burst(rate, burst);
}

int hl_rl_gcra_take(int64_t *tat_us, int64_t now_us, int64_t interval_us, int64_t tau_us, int n,
                    int64_t *wait_us) {
  int64_t tat = *tat_us > now_us ? *tat_us : now_us;
  int64_t next = tat + (int64_t)n * interval_us;

  if (next - now_us > tau_us) {
    *wait_us = next - tau_us - now_us;
    return 0;
  }
  *tat_us = next;
  *wait_us = 0;
  return n;
}

int hl_rl_batch(double rate, int burst, size_t want) {
  int cap = rate >= 10 ? (int)(rate / 10) : 1;
  int half = hl_rl_burst(rate, burst) / 2; /* the other half absorbs timer and network lateness */

  if (cap > half)
    cap = half > 0 ? half : 1;
  if (want < 1)
    want = 1;
  return want < (size_t)cap ? (int)want : cap;
}

int64_t hl_rl_token_ttl_ms(double rate, int n) {
  int64_t span = hl_rl_interval_us(rate) * n / 1000;

  return span > HL_RL_TOKEN_TTL_MIN_MS ? span : HL_RL_TOKEN_TTL_MIN_MS;
}

int64_t hl_rl_spread(int64_t *horizon_ms, int64_t now_ms, int64_t turn_ms, double step_ms) {
  int64_t due = now_ms + turn_ms;

  if (*horizon_ms > due)
    due = *horizon_ms;
  *horizon_ms = due + (int64_t)(step_ms > 1 ? step_ms : 1);
  return due;
}

/* ---- endpoints ---- */

static unsigned hl_rl_hash(const char *id) {
  unsigned h = 5381;

  while (*id)
    h = h * 33 + (unsigned char)*id++;
  return h % HL_RL_BUCKETS;
}

static void hl_rl_timer_cb(evutil_socket_t fd, short what, void *arg) {
  hl_rl_ep_t *e = arg;

  (void)fd;
  (void)what;
  e->wait_until_ms = 0;
  e->rl->cb(e->id, e->rl->opaque);
}

static hl_rl_ep_t *hl_rl_ep_get(hl_rl_t *rl, const hl_endpoint_t *ep) {
  hl_rl_ep_t **pp = &rl->buckets[hl_rl_hash(ep->id)], *e;

  for (e = *pp; e; e = e->next) {
    if (strcmp(e->id, ep->id) == 0)
      goto out;
  }
  e = calloc(1, sizeof(*e));
  if (!e)
    return NULL;
  e->timer = evtimer_new(rl->base, hl_rl_timer_cb, e);
  if (!e->timer) {
    free(e);
    return NULL;
  }
  e->rl = rl;
  snprintf(e->id, sizeof(e->id), "%s", ep->id);
  e->next = *pp;
  *pp = e;
out:
  e->rate = ep->rate_per_sec; /* follow updates of the endpoint */
  e->burst = ep->burst;
  return e;
}

static void hl_rl_wait(hl_rl_ep_t *e, int64_t wait_ms) {
  struct timeval tv;

  if (wait_ms < 1)
    wait_ms = 1;
  e->wait_until_ms = hl_mono_ms() + wait_ms;
  tv.tv_sec = wait_ms / 1000;
  tv.tv_usec = (wait_ms % 1000) * 1000;
  evtimer_add(e->timer, &tv);
}

/* ---- fallback ---- */

static void hl_rl_fallback(hl_rl_t *rl, bool on, const char *why) {
  if (on == (rl->stats.fallback != 0))
    return;
  rl->stats.fallback = on;
  if (on)
    hl_warn("rate limits: Redis unreachable (%s); limiting locally at rate / %d dispatcher(s) "
            "(logged once per outage)",
            why, rl->members);
  else
    hl_info("rate limits: Redis reachable again; shared limits restored");
}

static int hl_rl_take_local(hl_rl_ep_t *e, int64_t *wait_ms) {
  hl_rl_t *rl = e->rl;
  int64_t iv = hl_rl_interval_us(e->rate) * rl->members;
  int64_t tau = hl_rl_tau_us(e->rate, e->burst) / rl->members;
  int64_t wait_us = 0;

  if (tau < iv)
    tau = iv;
  if (hl_rl_gcra_take(&e->local_tat_us, hl_mono_ms() * 1000, iv, tau, 1, &wait_us) == 1) {
    rl->stats.tokens_local++;
    return 1;
  }
  *wait_ms = (wait_us + 999) / 1000;
  hl_rl_wait(e, *wait_ms);
  return 0;
}

/* ---- Redis ---- */

static void hl_rl_send(hl_rl_ep_t *e, int n, bool reload);

/* Redis unreachable or refusing: local limits until the next probe; the waiters ask again. */
static void hl_rl_failed(hl_rl_ep_t *e, const char *why) {
  hl_rl_t *rl = e->rl;

  hl_rl_fallback(rl, true, why);
  rl->probe_ms = hl_mono_ms() + HL_RL_PROBE_MS;
  rl->cb(e->id, rl->opaque);
}

static void hl_rl_reply_cb(const struct redisReply *reply, int err, void *opaque) {
  hl_rl_ep_t *e = opaque;
  hl_rl_t *rl = e->rl;
  int n;

  e->pending = false;
  if (err == -ECANCELED || rl->closing)
    return;
  if (err == -EIO && !e->reloaded) {
    hl_rl_send(e, hl_rl_batch(e->rate, e->burst, 1), true); /* NOSCRIPT (a restart, a flush) */
    return;
  }
  if (err || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
    hl_rl_failed(e, err == -EIO ? "script error" : "not reachable");
    return;
  }
  hl_rl_fallback(rl, false, NULL);
  n = (int)reply->element[0]->integer;
  if (n <= 0) {
    hl_rl_wait(e, (reply->element[1]->integer + 999) / 1000);
    return; /* the timer calls back */
  }
  e->tokens = n;
  e->tokens_exp_ms = hl_mono_ms() + hl_rl_token_ttl_ms(e->rate, n);
  rl->stats.tokens_redis += (uint64_t)n;
  rl->cb(e->id, rl->opaque);
}

static void hl_rl_load_cb(const struct redisReply *reply, int err, void *opaque) {
  (void)reply;
  (void)err;
  (void)opaque; /* an error shows in the EVALSHA behind it */
}

/* EVALSHA for n tokens (behind a SCRIPT LOAD when reload); the reply calls back. */
static void hl_rl_send(hl_rl_ep_t *e, int n, bool reload) {
  hl_rl_t *rl = e->rl;
  char key[HL_RL_KEY_MAX], iv[24], tau[24], cnt[16];
  const char *load[3] = {"SCRIPT", "LOAD", HL_RL_LUA};
  const char *argv[7] = {"EVALSHA", rl->sha, "1", key, iv, tau, cnt};

  if (reload)
    hl_state_command(rl->st, 3, load, hl_rl_load_cb, NULL);
  snprintf(key, sizeof(key), "hl:rl:%s", e->id);
  snprintf(iv, sizeof(iv), "%lld", (long long)hl_rl_interval_us(e->rate));
  snprintf(tau, sizeof(tau), "%lld", (long long)hl_rl_tau_us(e->rate, e->burst));
  snprintf(cnt, sizeof(cnt), "%d", n);
  e->pending = true;
  e->reloaded = reload;
  rl->stats.redis_calls++;
  hl_state_command(rl->st, 7, argv, hl_rl_reply_cb, e);
}

int hl_rl_take(hl_rl_t *rl, const hl_endpoint_t *ep, size_t want, int64_t *wait_ms) {
  hl_rl_ep_t *e = ep->rate_per_sec > 0 ? hl_rl_ep_get(rl, ep) : NULL;
  int64_t now = hl_mono_ms();

  *wait_ms = 0;
  if (!e)
    return 1; /* unlimited, or no memory to keep count: never stall on bookkeeping */
  if (e->tokens > 0 && now >= e->tokens_exp_ms) {
    rl->stats.tokens_expired += (uint64_t)e->tokens;
    e->tokens = 0;
  }
  if (e->tokens > 0) {
    e->tokens--;
    return 1;
  }
  if (e->pending)
    return 0;
  if (e->wait_until_ms > now) {
    *wait_ms = e->wait_until_ms - now;
    return 0;
  }
  if (!rl->st || (rl->stats.fallback && now < rl->probe_ms))
    return hl_rl_take_local(e, wait_ms);
  hl_rl_send(e, hl_rl_batch(e->rate, e->burst, want), false);
  return 0;
}

int64_t hl_rl_defer_due(hl_rl_t *rl, const hl_endpoint_t *ep, int64_t turn_ms) {
  hl_rl_ep_t *e = hl_rl_ep_get(rl, ep);
  int64_t now = hl_now_ms();
  int64_t zero = 0;

  /* back half a local wait early: fetching a paused tier partition again takes a while, and
   * the deliveries already waiting here cover that time */
  return hl_rl_spread(e ? &e->horizon_ms : &zero, now, turn_ms - HL_RL_LOCAL_WAIT_MAX_MS / 2,
                      0.8 * (double)hl_rl_interval_us(ep->rate_per_sec) / 1000.0);
}

/* ---- lifetime ---- */

static void hl_rl_sha1(const char *text, char out[41]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;

  out[0] = '\0';
  if (!EVP_Digest(text, strlen(text), md, &len, EVP_sha1(), NULL))
    return;
  for (unsigned int i = 0; i < len && i < 20; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
}

hl_rl_t *hl_rl_new(struct event_base *base, hl_state_t *st, hl_rl_ready_cb *cb, void *opaque) {
  hl_rl_t *rl = calloc(1, sizeof(*rl));
  const char *load[3] = {"SCRIPT", "LOAD", HL_RL_LUA};

  if (!rl)
    return NULL;
  rl->base = base;
  rl->st = st;
  rl->cb = cb;
  rl->opaque = opaque;
  rl->members = 1;
  rl->stats.members = 1;
  hl_rl_sha1(HL_RL_LUA, rl->sha);
  if (st)
    hl_state_command(st, 3, load, hl_rl_load_cb, NULL); /* and again on NOSCRIPT */
  return rl;
}

void hl_rl_destroy(hl_rl_t **rlp) {
  hl_rl_t *rl = rlp ? *rlp : NULL;

  if (!rl)
    return;
  *rlp = NULL;
  for (size_t i = 0; i < HL_RL_BUCKETS; i++) {
    hl_rl_ep_t *e = rl->buckets[i], *next;

    for (; e; e = next) {
      next = e->next;
      event_free(e->timer);
      free(e);
    }
  }
  free(rl);
}

void hl_rl_set_members(hl_rl_t *rl, int members) {
  if (members < 1)
    members = 1;
  if (members != rl->members)
    hl_info("rate limits: %d live dispatcher(s) in the group (the fallback divides by it)",
            members);
  rl->members = members;
  rl->stats.members = members;
}

void hl_rl_stats(const hl_rl_t *rl, hl_rl_stats_t *stats) {
  *stats = rl->stats;
}
