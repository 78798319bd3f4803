/*
 * 0350-state: the dispatcher's Redis side (dispatcher/state.c) against a real Redis: tenant
 * lookups and their cache (hits, hl:changes invalidation, negative caching, TTL refresh), done
 * markers, the capped recent-attempts list, endpoint disable, and Redis going away and coming
 * back (a private redis-server on a random port that the test kills and restarts).
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "harness.h"
#include "secrets.h"
#include "sign.h"
#include "state.h"
#include "store.h"
#include "util.h"

/* The secret_key every state in this test uses, and the box the "admin" side seals with. */
static char g_key[64];
static hl_secretbox_t *g_box;

typedef struct lookup {
  bool called;
  int err;
  hl_subs_tenant_t *snap;
} lookup_t;

static void lookup_cb(hl_subs_tenant_t *snap, int err, void *opaque) {
  lookup_t *lk = opaque;

  lk->called = true;
  lk->err = err;
  lk->snap = snap;
}

/* Run the loop in 5 ms steps until *flag or ms elapse; true when *flag became true. */
static bool run_until(struct event_base *base, const bool *flag, int64_t ms) {
  int64_t deadline = hl_mono_ms() + hl_test_tmout_ms(ms);
  struct timeval tv = {0, 5000};

  while (!*flag && hl_mono_ms() < deadline) {
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
  }
  return *flag;
}

static void run_for(struct event_base *base, int64_t ms) {
  int64_t deadline = hl_mono_ms() + ms;
  struct timeval tv = {0, 5000};

  while (hl_mono_ms() < deadline) {
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
  }
}

static bool ready(hl_state_t *st) {
  return hl_state_ready(st);
}

static bool wait_ready(struct event_base *base, hl_state_t *st, int64_t ms) {
  int64_t deadline = hl_mono_ms() + hl_test_tmout_ms(ms);

  while (!ready(st) && hl_mono_ms() < deadline)
    run_for(base, 10);
  return ready(st);
}

/* Look a tenant up, waiting for the callback when needed.  Returns the snapshot (held). */
static hl_subs_tenant_t *lookup(struct event_base *base, hl_state_t *st, const char *tenant,
                                int *err, bool *from_cache) {
  lookup_t lk = {0};
  hl_subs_tenant_t *snap = hl_state_subs_get(st, tenant, lookup_cb, &lk);

  *err = 0;
  *from_cache = snap != NULL;
  if (snap)
    return snap;
  assert_false(lk.called); /* never called back from inside the call */
  assert_true(run_until(base, &lk.called, 5000));
  *err = lk.err;
  return lk.snap;
}

static hl_conf_t *conf_for(const char *host, int port) {
  hl_conf_t *conf = hl_conf_new();
  char err[256], p[16];

  snprintf(p, sizeof(p), "%d", port);
  assert_int_equal(hl_conf_set(conf, "redis.host", host, err, sizeof(err)), 0);
  assert_int_equal(hl_conf_set(conf, "redis.port", p, err, sizeof(err)), 0);
  assert_int_equal(hl_conf_set(conf, "redis.timeout", "1s", err, sizeof(err)), 0);
  assert_int_equal(hl_conf_set(conf, "secret_key", g_key, err, sizeof(err)), 0);
  return conf;
}

static void redis_ok(redisContext *r, redisReply *rep) {
  (void)r;
  assert_non_null(rep);
  assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
  freeReplyObject(rep);
}

/* Write endpoint `id` of `tenant` as the admin store does: hl_endpoint_to_hash (secrets sealed
 * under secret_key), HSET, SADD to the tenant set. */
static void put_ep(redisContext *r, const char *tenant, const char *id, const char *url,
                   int version) {
  hl_endpoint_t *ep = hl_endpoint_new();
  hl_ep_hash_t h = {0};
  const char *argv[2 + 2 * HL_EP_HASH_FIELDS];
  char key[80], err[256];
  int argc = 0;

  assert_non_null(ep);
  snprintf(ep->id, sizeof(ep->id), "%s", id);
  snprintf(ep->tenant, sizeof(ep->tenant), "%s", tenant);
  assert_int_equal(hl_endpoint_set_str(&ep->url, url), 0);
  assert_int_equal(hl_endpoint_set_filters(ep, "invoice.*,customer.created", err, sizeof(err)), 0);
  assert_int_equal(hl_endpoint_rotate_secret(ep, NULL, hl_now_ms(), 0, err, sizeof(err)), 0);
  ep->enabled = true;
  ep->version = version;
  ep->created_ms = ep->updated_ms = hl_now_ms();
  assert_int_equal(hl_endpoint_to_hash(ep, g_box, &h), 0);
  snprintf(key, sizeof(key), "hl:ep:%s", id);
  argv[argc++] = "HSET";
  argv[argc++] = key;
  for (size_t i = 0; i < h.n; i++) {
    argv[argc++] = h.fields[i];
    argv[argc++] = h.values[i];
  }
  redis_ok(r, redisCommandArgv(r, argc, argv, NULL));
  redis_ok(r, redisCommand(r, "SADD hl:tenant:%s:eps %s", tenant, id));
  hl_ep_hash_clear(&h);
  hl_endpoint_destroy(&ep);
}

static void del_tenant(redisContext *r, const char *tenant, const char *const *ids, size_t n) {
  for (size_t i = 0; i < n; i++)
    redis_ok(r, redisCommand(r, "DEL hl:ep:%s hl:recent:%s", ids[i], ids[i]));
  redis_ok(r, redisCommand(r, "DEL hl:tenant:%s:eps", tenant));
}

static void rand_id(char *out, size_t outsz, const char *prefix) {
  char r[13];

  hl_rand_base62(r, 12);
  snprintf(out, outsz, "%s%s", prefix, r);
}

typedef struct fixture {
  struct event_base *base;
  hl_conf_t *conf;
  hl_state_t *st;
  redisContext *r;
  char tenant[40];
  char ids[4][HL_EP_ID_MAX + 1];
} fixture_t;

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof(*fx));
  char err[256];

  fx->base = event_base_new();
  fx->conf = conf_for(hl_test_redis_host(), hl_test_redis_port());
  assert_int_equal(hl_conf_set(fx->conf, "attempts.recent_max", "5", err, sizeof(err)), 0);
  fx->st = hl_state_new(fx->base, fx->conf, err, sizeof(err));
  assert_non_null(fx->st);
  fx->r = hl_test_redis();
  assert_non_null(fx->r);
  rand_id(fx->tenant, sizeof(fx->tenant), "t350_");
  for (int i = 0; i < 4; i++)
    rand_id(fx->ids[i], sizeof(fx->ids[i]), "ep_");
  assert_true(wait_ready(fx->base, fx->st, 5000));
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  const char *ids[4] = {fx->ids[0], fx->ids[1], fx->ids[2], fx->ids[3]};

  del_tenant(fx->r, fx->tenant, ids, 4);
  hl_state_destroy(&fx->st);
  assert_null(fx->st);
  hl_conf_destroy(&fx->conf);
  event_base_free(fx->base);
  redisFree(fx->r);
  free(fx);
  return 0;
}

static void test_lookup_cached_and_invalidated(void **state) {
  fixture_t *fx = *state;
  hl_state_stats_t s0, s1;
  hl_subs_tenant_t *snap, *snap2;
  char msg[128];
  bool cached;
  int err;
  int64_t t0;

  for (int i = 0; i < 3; i++)
    put_ep(fx->r, fx->tenant, fx->ids[i], "http://127.0.0.1:9/hook", 1);

  snap = lookup(fx->base, fx->st, fx->tenant, &err, &cached);
  assert_false(cached);
  assert_int_equal(err, 0);
  assert_non_null(snap);
  assert_string_equal(snap->tenant, fx->tenant);
  assert_int_equal(snap->neps, 3);
  for (size_t i = 0; i < snap->neps; i++) {
    assert_string_equal(snap->eps[i]->tenant, fx->tenant);
    assert_true(snap->eps[i]->enabled);
    assert_int_equal(snap->eps[i]->nfilters, 2);
    assert_int_equal(snap->eps[i]->nsecrets, 1); /* decrypted with secret_key */
    assert_memory_equal(snap->eps[i]->secrets[0].secret, "whsec_", 6);
    if (i > 0) /* sorted by id */
      assert_true(strcmp(snap->eps[i - 1]->id, snap->eps[i]->id) < 0);
  }

  /* Second lookup: served from the cache, no Redis command sent. */
  hl_state_stats(fx->st, &s0);
  snap2 = lookup(fx->base, fx->st, fx->tenant, &err, &cached);
  hl_state_stats(fx->st, &s1);
  assert_true(cached);
  assert_ptr_equal(snap2, snap);
  assert_int_equal(s1.commands, s0.commands);
  assert_int_equal(s1.hits, s0.hits + 1);
  hl_subs_tenant_release(&snap2);

  /* A 4th endpoint + PUBLISH on hl:changes: the next lookups see it within a second. */
  put_ep(fx->r, fx->tenant, fx->ids[3], "http://127.0.0.1:9/four", 1);
  snprintf(msg, sizeof(msg), "%s %s 1", fx->tenant, fx->ids[3]);
  redis_ok(fx->r, redisCommand(fx->r, "PUBLISH hl:changes %s", msg));
  t0 = hl_mono_ms();
  for (;;) {
    snap2 = lookup(fx->base, fx->st, fx->tenant, &err, &cached);
    assert_int_equal(err, 0);
    if (snap2->neps == 4)
      break;
    hl_subs_tenant_release(&snap2);
    assert_true(hl_mono_ms() - t0 < 1000);
    run_for(fx->base, 10);
  }
  printf("# change visible after %lld ms\n", (long long)(hl_mono_ms() - t0));
  hl_subs_tenant_release(&snap2);
  /* The snapshot handed out before stays valid and unchanged. */
  assert_int_equal(snap->neps, 3);
  hl_subs_tenant_release(&snap);
  hl_state_stats(fx->st, &s1);
  assert_true(s1.invalidations >= 1);
}

static void test_concurrent_lookups_share_fetch(void **state) {
  fixture_t *fx = *state;
  lookup_t lk[5] = {{0}};
  hl_state_stats_t s0, s1;

  put_ep(fx->r, fx->tenant, fx->ids[0], "http://127.0.0.1:9/hook", 1);
  hl_state_stats(fx->st, &s0);
  for (int i = 0; i < 5; i++)
    assert_null(hl_state_subs_get(fx->st, fx->tenant, lookup_cb, &lk[i]));
  assert_true(run_until(fx->base, &lk[4].called, 5000));
  for (int i = 0; i < 5; i++) {
    assert_true(lk[i].called);
    assert_int_equal(lk[i].err, 0);
    assert_int_equal(lk[i].snap->neps, 1);
    hl_subs_tenant_release(&lk[i].snap);
  }
  hl_state_stats(fx->st, &s1);
  assert_int_equal(s1.fetches, s0.fetches + 1);
  assert_int_equal(s1.commands, s0.commands + 2); /* SMEMBERS + one HGETALL */
}

/* A change published while a fetch is in flight: the waiter gets a second, fresh read. (The
 * SMEMBERS is only buffered when subs_get returns; the message is on the subscriber's socket
 * before it leaves, so the invalidation always lands first.) */
static void test_change_during_fetch(void **state) {
  fixture_t *fx = *state;
  lookup_t lk = {0};
  hl_state_stats_t s0, s1;
  char msg[128];

  put_ep(fx->r, fx->tenant, fx->ids[0], "http://127.0.0.1:9/hook", 1);
  hl_state_stats(fx->st, &s0);
  assert_null(hl_state_subs_get(fx->st, fx->tenant, lookup_cb, &lk));
  snprintf(msg, sizeof(msg), "%s %s 2", fx->tenant, fx->ids[0]);
  redis_ok(fx->r, redisCommand(fx->r, "PUBLISH hl:changes %s", msg));
  assert_true(run_until(fx->base, &lk.called, 5000));
  assert_int_equal(lk.err, 0);
  assert_int_equal(lk.snap->neps, 1);
  hl_subs_tenant_release(&lk.snap);
  hl_state_stats(fx->st, &s1);
  assert_int_equal(s1.invalidations, s0.invalidations + 1);
  assert_int_equal(s1.fetches, s0.fetches + 2);
}

static void test_negative_cache(void **state) {
  fixture_t *fx = *state;
  hl_state_stats_t s0, s1;
  hl_subs_tenant_t *snap;
  bool cached;
  int err;

  snap = lookup(fx->base, fx->st, fx->tenant, &err, &cached);
  assert_false(cached);
  assert_int_equal(err, 0);
  assert_non_null(snap);
  assert_int_equal(snap->neps, 0);
  hl_subs_tenant_release(&snap);
  hl_state_stats(fx->st, &s0);
  for (int i = 0; i < 100; i++) {
    snap = lookup(fx->base, fx->st, fx->tenant, &err, &cached);
    assert_true(cached);
    assert_int_equal(snap->neps, 0);
    hl_subs_tenant_release(&snap);
  }
  hl_state_stats(fx->st, &s1);
  assert_int_equal(s1.commands, s0.commands);
}

static void test_corrupt_hash_skipped(void **state) {
  fixture_t *fx = *state;
  hl_subs_tenant_t *snap;
  bool cached;
  int err;

  put_ep(fx->r, fx->tenant, fx->ids[0], "http://127.0.0.1:9/hook", 1);
  /* no url: not an endpoint the decoder accepts */
  redis_ok(fx->r, redisCommand(fx->r, "HSET hl:ep:%s id %s tenant %s version x", fx->ids[1],
                               fx->ids[1], fx->tenant));
  redis_ok(fx->r, redisCommand(fx->r, "SADD hl:tenant:%s:eps %s", fx->tenant, fx->ids[1]));
  /* in the set, hash gone */
  redis_ok(fx->r, redisCommand(fx->r, "SADD hl:tenant:%s:eps %s", fx->tenant, fx->ids[2]));
  snap = lookup(fx->base, fx->st, fx->tenant, &err, &cached);
  assert_int_equal(err, 0);
  assert_int_equal(snap->neps, 1);
  assert_string_equal(snap->eps[0]->id, fx->ids[0]);
  hl_subs_tenant_release(&snap);
}

typedef struct done_res {
  bool called;
  int err;
  size_t n;
  bool done[4];
} done_res_t;

static void done_cb(const bool *done, size_t n, int err, void *opaque) {
  done_res_t *res = opaque;

  res->called = true;
  res->err = err;
  res->n = n;
  for (size_t i = 0; i < n && i < 4; i++)
    res->done[i] = done[i];
}

static void ack_cb(int err, void *opaque) {
  int *res = opaque;

  *res = err == 0 ? 1 : err;
}

static bool acked(const int *res) {
  return *res != 0;
}

static void run_until_acked(struct event_base *base, const int *res) {
  int64_t deadline = hl_mono_ms() + hl_test_tmout_ms(5000);

  while (!acked(res) && hl_mono_ms() < deadline)
    run_for(base, 5);
  assert_int_equal(*res, 1);
}

static void test_done_markers(void **state) {
  fixture_t *fx = *state;
  const char *ids[3] = {fx->ids[0], fx->ids[1], fx->ids[2]};
  char evt[40];
  done_res_t res = {0};
  int acked_res = 0;
  redisReply *rep;

  rand_id(evt, sizeof(evt), "evt_");
  hl_state_done_check(fx->st, evt, ids, 3, done_cb, &res);
  assert_false(res.called);
  assert_true(run_until(fx->base, &res.called, 5000));
  assert_int_equal(res.err, 0);
  assert_int_equal(res.n, 3);
  assert_false(res.done[0] || res.done[1] || res.done[2]);

  hl_state_done_mark(fx->st, evt, ids[1], 1500, ack_cb, &acked_res);
  run_until_acked(fx->base, &acked_res);
  rep = redisCommand(fx->r, "PTTL hl:done:%s:%s", evt, ids[1]);
  assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
  assert_true(rep->integer > 0 && rep->integer <= 1500);
  freeReplyObject(rep);

  memset(&res, 0, sizeof(res));
  hl_state_done_check(fx->st, evt, ids, 3, done_cb, &res);
  assert_true(run_until(fx->base, &res.called, 5000));
  assert_int_equal(res.err, 0);
  assert_false(res.done[0]);
  assert_true(res.done[1]);
  assert_false(res.done[2]);

  /* the TTL runs out: not done any more */
  run_for(fx->base, 1600);
  memset(&res, 0, sizeof(res));
  hl_state_done_check(fx->st, evt, ids, 3, done_cb, &res);
  assert_true(run_until(fx->base, &res.called, 5000));
  assert_false(res.done[1]);
}

static void test_recent_capped(void **state) {
  fixture_t *fx = *state;
  char json[64];
  redisReply *rep;
  int64_t deadline;
  long long len = 0;

  for (int i = 0; i < 8; i++) {
    snprintf(json, sizeof(json), "{\"attempt\":%d}", i);
    hl_state_recent_push(fx->st, fx->ids[0], json, strlen(json));
  }
  deadline = hl_mono_ms() + hl_test_tmout_ms(5000);
  while (hl_mono_ms() < deadline) {
    run_for(fx->base, 20);
    rep = redisCommand(fx->r, "LINDEX hl:recent:%s 0", fx->ids[0]);
    if (rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "{\"attempt\":7}") == 0) {
      freeReplyObject(rep);
      break;
    }
    freeReplyObject(rep);
  }
  rep = redisCommand(fx->r, "LLEN hl:recent:%s", fx->ids[0]);
  len = rep->integer;
  freeReplyObject(rep);
  assert_int_equal(len, 5); /* attempts.recent_max */
  rep = redisCommand(fx->r, "LRANGE hl:recent:%s -1 -1", fx->ids[0]);
  assert_string_equal(rep->element[0]->str, "{\"attempt\":3}"); /* oldest kept */
  freeReplyObject(rep);
}

static void test_disable(void **state) {
  fixture_t *fx = *state;
  hl_subs_tenant_t *snap;
  hl_state_stats_t s0, s1;
  redisReply *rep;
  bool cached;
  int err, res = 0;
  int64_t t0;

  put_ep(fx->r, fx->tenant, fx->ids[0], "http://127.0.0.1:9/hook", 3);
  snap = lookup(fx->base, fx->st, fx->tenant, &err, &cached);
  assert_int_equal(snap->neps, 1);
  assert_true(snap->eps[0]->enabled);
  hl_subs_tenant_release(&snap);
  hl_state_stats(fx->st, &s0);

  hl_state_endpoint_disable(fx->st, fx->ids[0], "410 Gone", ack_cb, &res);
  run_until_acked(fx->base, &res);
  rep = redisCommand(fx->r, "HMGET hl:ep:%s status disabled_reason version disabled_at updated",
                     fx->ids[0]);
  assert_string_equal(rep->element[0]->str, "disabled");
  assert_string_equal(rep->element[1]->str, "410 Gone");
  assert_string_equal(rep->element[2]->str, "4");
  assert_true(llabs(atoll(rep->element[3]->str) - hl_now_ms()) < 5000);
  assert_string_equal(rep->element[4]->str, rep->element[3]->str);
  freeReplyObject(rep);

  /* The PUBLISH reached our own subscriber: the next lookup sees the disabled endpoint. */
  t0 = hl_mono_ms();
  for (;;) {
    snap = lookup(fx->base, fx->st, fx->tenant, &err, &cached);
    if (!snap->eps[0]->enabled)
      break;
    hl_subs_tenant_release(&snap);
    assert_true(hl_mono_ms() - t0 < 1000);
    run_for(fx->base, 10);
  }
  assert_int_equal(snap->eps[0]->version, 4);
  hl_subs_tenant_release(&snap);
  hl_state_stats(fx->st, &s1);
  assert_true(s1.invalidations > s0.invalidations);

  /* Disabling again changes nothing (several dispatchers may see the same 410). */
  res = 0;
  hl_state_endpoint_disable(fx->st, fx->ids[0], "again", ack_cb, &res);
  run_until_acked(fx->base, &res);
  rep = redisCommand(fx->r, "HMGET hl:ep:%s disabled_reason version", fx->ids[0]);
  assert_string_equal(rep->element[0]->str, "410 Gone");
  assert_string_equal(rep->element[1]->str, "4");
  freeReplyObject(rep);
}

/* Without any PUBLISH, the TTL refresh picks a change up: the stale snapshot is served once
 * more while the refetch runs, then the new one. */
static void test_ttl_refresh(void **state) {
  fixture_t *fx = *state;
  struct event_base *base = event_base_new();
  hl_conf_t *conf = conf_for(hl_test_redis_host(), hl_test_redis_port());
  hl_subs_tenant_t *snap;
  hl_state_t *st;
  char err[256];
  bool cached;
  int rc;
  int64_t t0;

  assert_int_equal(hl_conf_set(conf, "dispatcher.cache_ttl", "1s", err, sizeof(err)), 0);
  st = hl_state_new(base, conf, err, sizeof(err));
  assert_true(wait_ready(base, st, 5000));
  put_ep(fx->r, fx->tenant, fx->ids[0], "http://127.0.0.1:9/hook", 1);
  snap = lookup(base, st, fx->tenant, &rc, &cached);
  assert_int_equal(snap->neps, 1);
  hl_subs_tenant_release(&snap);
  put_ep(fx->r, fx->tenant, fx->ids[1], "http://127.0.0.1:9/hook", 1); /* no PUBLISH */
  run_for(base, 500);
  snap = lookup(base, st, fx->tenant, &rc, &cached);
  assert_true(cached);
  assert_int_equal(snap->neps, 1); /* still fresh */
  hl_subs_tenant_release(&snap);
  run_for(base, 600);
  snap = lookup(base, st, fx->tenant, &rc, &cached);
  assert_true(cached);
  assert_int_equal(snap->neps, 1); /* stale, served while the refresh runs */
  hl_subs_tenant_release(&snap);
  t0 = hl_mono_ms();
  for (;;) {
    run_for(base, 10);
    snap = lookup(base, st, fx->tenant, &rc, &cached);
    assert_true(cached);
    if (snap->neps == 2)
      break;
    hl_subs_tenant_release(&snap);
    assert_true(hl_mono_ms() - t0 < 1000);
  }
  hl_subs_tenant_release(&snap);
  hl_state_destroy(&st);
  hl_conf_destroy(&conf);
  event_base_free(base);
}

/* dispatcher.cache_max_tenants bounds the cache: the least recently used tenant goes. */
static void test_cache_cap(void **state) {
  fixture_t *fx = *state;
  struct event_base *base = event_base_new();
  hl_conf_t *conf = conf_for(hl_test_redis_host(), hl_test_redis_port());
  hl_subs_tenant_t *snap;
  hl_state_stats_t s;
  hl_state_t *st;
  char err[256], t[3][48];
  bool cached;
  int rc;

  assert_int_equal(hl_conf_set(conf, "dispatcher.cache_max_tenants", "2", err, sizeof(err)), 0);
  st = hl_state_new(base, conf, err, sizeof(err));
  assert_true(wait_ready(base, st, 5000));
  for (int i = 0; i < 3; i++) {
    snprintf(t[i], sizeof(t[i]), "%s_%d", fx->tenant, i);
    snap = lookup(base, st, t[i], &rc, &cached);
    assert_false(cached);
    hl_subs_tenant_release(&snap);
  }
  hl_state_stats(st, &s);
  assert_int_equal(s.cached_tenants, 2);
  assert_int_equal(s.evictions, 1);
  snap = lookup(base, st, t[2], &rc, &cached);
  assert_true(cached);
  hl_subs_tenant_release(&snap);
  snap = lookup(base, st, t[0], &rc, &cached); /* evicted: fetched again */
  assert_false(cached);
  hl_subs_tenant_release(&snap);
  hl_state_destroy(&st);
  hl_conf_destroy(&conf);
  event_base_free(base);
}

/* The admin's sync store writes (create, disable, delete) and the state reads them; the state's
 * disable shows in the store.  Both sides share the hash codec and the status script. */
static void test_admin_store_roundtrip(void **state) {
  fixture_t *fx = *state;
  hl_endpoint_t *eps[3] = {NULL}, *got = NULL;
  hl_subs_tenant_t *snap;
  hl_store_t *store = NULL;
  char err[256];
  bool cached;
  int rc, res = 0;
  int64_t t0;

  assert_int_equal(hl_conf_set(fx->conf, "delivery.allow_cidrs", "127.0.0.0/8", err, sizeof(err)),
                   0);
  assert_int_equal(hl_store_open(fx->conf, &store, err, sizeof(err)), 0);
  for (int i = 0; i < 3; i++) {
    eps[i] = hl_endpoint_new();
    snprintf(eps[i]->tenant, sizeof(eps[i]->tenant), "%s", fx->tenant);
    assert_int_equal(hl_endpoint_set_str(&eps[i]->url, "http://127.0.0.1:9/store"), 0);
    assert_int_equal(hl_endpoint_set_filters(eps[i], "invoice.*", err, sizeof(err)), 0);
    assert_int_equal(hl_store_endpoint_create(store, eps[i], err, sizeof(err)), 0);
    snprintf(fx->ids[i], sizeof(fx->ids[i]), "%s", eps[i]->id); /* teardown deletes them */
  }
  snap = lookup(fx->base, fx->st, fx->tenant, &rc, &cached);
  assert_int_equal(rc, 0);
  assert_int_equal(snap->neps, 3);
  for (size_t i = 0; i < 3; i++) {
    hl_endpoint_t *ep = NULL;

    for (int j = 0; j < 3; j++)
      if (strcmp(eps[j]->id, snap->eps[i]->id) == 0)
        ep = eps[j];
    assert_non_null(ep);
    assert_string_equal(snap->eps[i]->secrets[0].secret, ep->secrets[0].secret);
    assert_true(hl_endpoint_matches(snap->eps[i], "invoice.paid"));
    assert_false(hl_endpoint_matches(snap->eps[i], "customer.created"));
  }
  hl_subs_tenant_release(&snap);

  /* Admin disables eps[0]: the dispatcher sees it within a second. */
  assert_int_equal(hl_store_endpoint_set_status(store, fx->tenant, eps[0]->id, false, "by hand",
                                                NULL, err, sizeof(err)),
                   0);
  t0 = hl_mono_ms();
  for (bool seen = false; !seen;) {
    snap = lookup(fx->base, fx->st, fx->tenant, &rc, &cached);
    for (size_t i = 0; i < snap->neps; i++)
      if (strcmp(snap->eps[i]->id, eps[0]->id) == 0 && !snap->eps[i]->enabled)
        seen = true;
    hl_subs_tenant_release(&snap);
    assert_true(hl_mono_ms() - t0 < 1000);
    run_for(fx->base, 5);
  }

  /* The dispatcher disables eps[1] (a 410): the store reads it disabled, version 2. */
  hl_state_endpoint_disable(fx->st, eps[1]->id, "endpoint answered 410 Gone", ack_cb, &res);
  run_until_acked(fx->base, &res);
  assert_int_equal(hl_store_endpoint_get(store, fx->tenant, eps[1]->id, &got, err, sizeof(err)), 0);
  assert_false(got->enabled);
  assert_string_equal(got->disabled_reason, "endpoint answered 410 Gone");
  assert_int_equal(got->version, eps[1]->version + 1);
  assert_true(got->disabled_ms > 0);
  hl_endpoint_destroy(&got);

  /* Admin deletes eps[2]: gone from the next lookups. */
  assert_int_equal(hl_store_endpoint_delete(store, fx->tenant, eps[2]->id, err, sizeof(err)), 0);
  t0 = hl_mono_ms();
  for (;;) {
    snap = lookup(fx->base, fx->st, fx->tenant, &rc, &cached);
    if (snap->neps == 2)
      break;
    hl_subs_tenant_release(&snap);
    assert_true(hl_mono_ms() - t0 < 1000);
    run_for(fx->base, 5);
  }
  hl_subs_tenant_release(&snap);
  for (int i = 0; i < 3; i++)
    hl_endpoint_destroy(&eps[i]);
  hl_store_destroy(&store);
}

/* ---- Redis unreachable ---------------------------------------------------------------- */

static int free_port(void) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;

  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  port = ntohs(sa.sin_port);
  close(fd);
  return port;
}

/* A private redis-server on port; with_acl: user hl (password s3cret) only, default user off. */
static pid_t redis_start(int port, bool with_acl) {
  char p[16];
  char *argv[] = {"redis-server", "--port", p,        "--bind",  "127.0.0.1", "--save",  "",
                  "--appendonly", "no",     "--user", "hl",      "on",        ">s3cret", "~*",
                  "&*",           "+@all",  "--user", "default", "off",       NULL};
  int64_t deadline = hl_mono_ms() + hl_test_tmout_ms(10000);
  struct timeval tv = {1, 0};
  pid_t pid;

  snprintf(p, sizeof(p), "%d", port);
  if (!with_acl)
    argv[9] = NULL;
  pid = hl_test_spawn(argv, "/dev/null");
  assert_true(pid > 0);
  while (hl_mono_ms() < deadline) {
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    bool up = c && !c->err;

    redisFree(c);
    if (up)
      return pid;
    usleep(20000);
  }
  fail_msg("redis-server on port %d did not start", port);
  return -1;
}

static redisContext *redis_at(int port) {
  struct timeval tv = {2, 0};
  redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

  assert_non_null(c);
  assert_int_equal(c->err, 0);
  return c;
}

/* calls=N of `cmd` in INFO commandstats (0 when never called). */
static long long cmd_calls(redisContext *r, const char *cmd) {
  redisReply *rep = redisCommand(r, "INFO commandstats");
  char needle[64];
  const char *p;
  long long n = 0;

  assert_non_null(rep);
  snprintf(needle, sizeof(needle), "cmdstat_%s:calls=", cmd);
  p = strstr(rep->str, needle);
  if (p)
    n = atoll(p + strlen(needle));
  freeReplyObject(rep);
  return n;
}

/* What Redis itself counts (a private server: nobody else's commands): one fetch for a miss,
 * nothing for hits, one fetch for any number of lookups of a tenant without endpoints. */
static void test_commandstats(void **state) {
  int port = free_port();
  pid_t pid = redis_start(port, false);
  struct event_base *base = event_base_new();
  hl_conf_t *conf = conf_for("127.0.0.1", port);
  redisContext *r = redis_at(port);
  hl_subs_tenant_t *snap;
  hl_state_t *st;
  long long sm0, hg0;
  char err[256];
  bool cached;
  int rc, n = 100000;
  int64_t t0;

  for (int i = 0; i < 3; i++) {
    char id[16];

    snprintf(id, sizeof(id), "ep_c%d", i);
    put_ep(r, "acme", id, "http://127.0.0.1:9/c", 1);
  }
  st = hl_state_new(base, conf, err, sizeof(err));
  assert_true(wait_ready(base, st, 5000));
  sm0 = cmd_calls(r, "smembers");
  hg0 = cmd_calls(r, "hgetall");
  snap = lookup(base, st, "acme", &rc, &cached);
  assert_int_equal(snap->neps, 3);
  hl_subs_tenant_release(&snap);
  assert_int_equal(cmd_calls(r, "smembers") - sm0, 1);
  assert_int_equal(cmd_calls(r, "hgetall") - hg0, 3);
  t0 = hl_mono_us();
  for (int i = 0; i < n; i++) {
    snap = hl_state_subs_get(st, "acme", lookup_cb, NULL);
    assert_non_null(snap);
    hl_subs_tenant_release(&snap);
  }
  printf("# cached lookup: %.0f ns each (%d lookups)\n", (hl_mono_us() - t0) * 1000.0 / n, n);
  for (int i = 0; i < 1000; i++) {
    snap = lookup(base, st, "nobody", &rc, &cached);
    assert_int_equal(rc, 0);
    assert_int_equal(snap->neps, 0);
    hl_subs_tenant_release(&snap);
  }
  run_for(base, 50);
  assert_int_equal(cmd_calls(r, "smembers") - sm0, 2); /* acme once, nobody once */
  assert_int_equal(cmd_calls(r, "hgetall") - hg0, 3);
  redisFree(r);
  hl_state_destroy(&st);
  hl_conf_destroy(&conf);
  event_base_free(base);
  hl_test_stop(pid, 5000);
}

static void test_unreachable_then_back(void **state) {
  int port = free_port();
  pid_t pid = redis_start(port, false);
  struct event_base *base = event_base_new();
  hl_conf_t *conf = conf_for("127.0.0.1", port);
  redisContext *r = redis_at(port);
  hl_subs_tenant_t *snap;
  hl_state_stats_t s0, s1;
  hl_state_t *st;
  char err[256];
  bool cached;
  int rc;
  int64_t t0;

  assert_int_equal(hl_conf_set(conf, "dispatcher.cache_ttl", "1s", err, sizeof(err)), 0);
  put_ep(r, "acme", "ep_a1", "http://127.0.0.1:9/a1", 1);
  put_ep(r, "acme", "ep_a2", "http://127.0.0.1:9/a2", 1);
  put_ep(r, "other", "ep_o1", "http://127.0.0.1:9/o1", 1);
  redisFree(r);
  st = hl_state_new(base, conf, err, sizeof(err));
  assert_non_null(st);
  assert_true(wait_ready(base, st, 5000));
  snap = lookup(base, st, "acme", &rc, &cached);
  assert_int_equal(rc, 0);
  assert_int_equal(snap->neps, 2);
  hl_subs_tenant_release(&snap);

  /* Redis dies. */
  assert_int_equal(hl_test_stop(pid, 5000) >= 0, 1);
  kill(pid, SIGKILL);
  t0 = hl_mono_ms();
  while (hl_state_ready(st) && hl_mono_ms() - t0 < hl_test_tmout_ms(3000))
    run_for(base, 10);
  assert_false(hl_state_ready(st));
  run_for(base, 1200); /* past the 1 s TTL */

  /* Cached tenant: still served (stale while unreachable). */
  snap = lookup(base, st, "acme", &rc, &cached);
  assert_true(cached);
  assert_int_equal(snap->neps, 2);
  hl_subs_tenant_release(&snap);
  /* Uncached tenant: fails fast with an error, asked again later. */
  t0 = hl_mono_ms();
  snap = lookup(base, st, "other", &rc, &cached);
  assert_null(snap);
  assert_int_equal(rc, -ENOTCONN);
  assert_true(hl_mono_ms() - t0 < 100);
  printf("# uncached lookup failed in %lld ms while Redis was down\n",
         (long long)(hl_mono_ms() - t0));

  /* Redis comes back on the same port (empty: a new instance); the state reconnects alone. */
  hl_state_stats(st, &s0);
  pid = redis_start(port, false);
  r = redis_at(port);
  put_ep(r, "other", "ep_o1", "http://127.0.0.1:9/o1", 1);
  redisFree(r);
  t0 = hl_mono_ms();
  assert_true(wait_ready(base, st, 10000));
  printf("# reconnected %lld ms after the restart\n", (long long)(hl_mono_ms() - t0));
  snap = lookup(base, st, "other", &rc, &cached);
  assert_int_equal(rc, 0);
  assert_int_equal(snap->neps, 1);
  hl_subs_tenant_release(&snap);
  /* The cache was flushed on resubscribe: acme is refetched (and is empty on the new server). */
  hl_state_stats(st, &s1);
  assert_true(s1.flushes > s0.flushes);
  snap = lookup(base, st, "acme", &rc, &cached);
  assert_false(cached);
  assert_int_equal(snap->neps, 0);
  hl_subs_tenant_release(&snap);

  hl_state_destroy(&st);
  hl_conf_destroy(&conf);
  event_base_free(base);
  hl_test_stop(pid, 5000);
}

/* AUTH username password + SELECT db; a wrong password; a server that hangs (SIGSTOP): the
 * command timeout drops the connection, lookups fail instead of waiting, and it recovers. */
static void test_auth_db_and_hang(void **state) {
  int port = free_port();
  pid_t pid = redis_start(port, true);
  struct event_base *base = event_base_new();
  hl_conf_t *conf = conf_for("127.0.0.1", port), *bad = conf_for("127.0.0.1", port);
  redisContext *r = redis_at(port);
  hl_subs_tenant_t *snap;
  hl_state_t *st, *st_bad;
  char err[256];
  bool cached;
  int rc;
  int64_t t0;

  redis_ok(r, redisCommand(r, "AUTH hl s3cret"));
  redis_ok(r, redisCommand(r, "SELECT 3"));
  put_ep(r, "acme", "ep_a1", "http://127.0.0.1:9/a1", 1);
  put_ep(r, "other", "ep_o1", "http://127.0.0.1:9/o1", 1);
  redisFree(r);
  assert_int_equal(hl_conf_set(conf, "redis.username", "hl", err, sizeof(err)), 0);
  assert_int_equal(hl_conf_set(conf, "redis.password", "s3cret", err, sizeof(err)), 0);
  assert_int_equal(hl_conf_set(conf, "redis.db", "3", err, sizeof(err)), 0);
  assert_int_equal(hl_conf_set(bad, "redis.username", "hl", err, sizeof(err)), 0);
  assert_int_equal(hl_conf_set(bad, "redis.password", "wrong", err, sizeof(err)), 0);
  st = hl_state_new(base, conf, err, sizeof(err));
  st_bad = hl_state_new(base, bad, err, sizeof(err));
  assert_true(wait_ready(base, st, 5000));
  snap = lookup(base, st, "acme", &rc, &cached);
  assert_int_equal(rc, 0);
  assert_int_equal(snap->neps, 1); /* read from db 3 as user hl */
  assert_string_equal(snap->eps[0]->url, "http://127.0.0.1:9/a1");
  hl_subs_tenant_release(&snap);
  assert_false(hl_state_ready(st_bad));
  snap = lookup(base, st_bad, "acme", &rc, &cached);
  assert_null(snap);
  assert_true(rc == -ENOTCONN || rc == -EIO);
  hl_state_destroy(&st_bad);

  /* The server hangs: a queued lookup fails after redis.timeout (1 s) instead of waiting. */
  assert_int_equal(kill(pid, SIGSTOP), 0);
  t0 = hl_mono_ms();
  snap = lookup(base, st, "other", &rc, &cached);
  assert_null(snap);
  assert_int_equal(rc, -ENOTCONN);
  printf("# lookup on a hung server failed after %lld ms (redis.timeout 1s)\n",
         (long long)(hl_mono_ms() - t0));
  assert_true(hl_mono_ms() - t0 >= 900);
  assert_false(hl_state_ready(st));
  snap = lookup(base, st, "acme", &rc, &cached); /* cached: still served */
  assert_true(cached);
  hl_subs_tenant_release(&snap);
  assert_int_equal(kill(pid, SIGCONT), 0);
  assert_true(wait_ready(base, st, 10000));
  snap = lookup(base, st, "other", &rc, &cached);
  assert_int_equal(rc, 0);
  assert_int_equal(snap->neps, 1);
  hl_subs_tenant_release(&snap);

  hl_state_destroy(&st);
  hl_conf_destroy(&conf);
  hl_conf_destroy(&bad);
  event_base_free(base);
  hl_test_stop(pid, 5000);
}

static void test_closed_port(void **state) {
  struct event_base *base = event_base_new();
  hl_conf_t *conf = conf_for("127.0.0.1", free_port());
  hl_subs_tenant_t *snap;
  done_res_t res = {0};
  const char *ids[1] = {"ep_x"};
  hl_state_t *st;
  char err[256];
  bool cached;
  int rc, ack = 0;

  st = hl_state_new(base, conf, err, sizeof(err));
  assert_non_null(st);
  run_for(base, 300);
  assert_false(hl_state_ready(st));
  snap = lookup(base, st, "acme", &rc, &cached);
  assert_null(snap);
  assert_int_equal(rc, -ENOTCONN);
  hl_state_done_check(st, "evt_1", ids, 1, done_cb, &res);
  assert_true(run_until(base, &res.called, 1000));
  assert_int_equal(res.err, -ENOTCONN);
  hl_state_endpoint_disable(st, "ep_x", "410", ack_cb, &ack);
  run_for(base, 50);
  assert_int_equal(ack, -ENOTCONN);
  hl_state_recent_push(st, "ep_x", "{}", 2); /* dropped, no crash */
  hl_state_destroy(&st);
  hl_conf_destroy(&conf);
  event_base_free(base);
}

/* ---- destroy from inside a callback --------------------------------------------------- */

typedef struct destroy_ctx {
  hl_state_t *st;
  int calls;
  int errs[3];
  bool called;
} destroy_ctx_t;

static void destroy_cb(hl_subs_tenant_t *snap, int err, void *opaque) {
  destroy_ctx_t *ctx = opaque;

  ctx->errs[ctx->calls++] = err;
  hl_subs_tenant_release(&snap);
  hl_state_destroy(&ctx->st); /* deferred until we return; the second call is a no-op */
  ctx->called = true;
}

static void test_destroy_in_callback(void **state) {
  fixture_t *fx = *state;
  destroy_ctx_t ctx = {.st = fx->st};
  done_res_t res = {0};
  const char *ids[1] = {fx->ids[0]};

  put_ep(fx->r, fx->tenant, fx->ids[0], "http://127.0.0.1:9/hook", 1);
  assert_null(hl_state_subs_get(fx->st, fx->tenant, destroy_cb, &ctx));
  hl_state_done_check(fx->st, "evt_x", ids, 1, done_cb, &res); /* pending behind it */
  fx->st = NULL;                                               /* the callback owns the destroy */
  assert_true(run_until(fx->base, &ctx.called, 5000));
  assert_int_equal(ctx.calls, 1);
  assert_int_equal(ctx.errs[0], 0);
  assert_null(ctx.st);
  /* the request still pending at destroy got -ECANCELED (or its answer, if it was in) */
  run_for(fx->base, 50);
  assert_true(res.called);
  assert_true(res.err == -ECANCELED || res.err == 0);
}

int main(void) {
  unsigned char raw[32];
  char err[256];
  int rc;

  assert_int_equal(hl_rand_bytes(raw, sizeof(raw)), 0);
  assert_true(hl_b64_encode(raw, sizeof(raw), g_key, sizeof(g_key)) > 0);
  g_box = hl_secretbox_new(g_key, err, sizeof(err));
  if (!g_box) {
    fprintf(stderr, "secret box: %s\n", err);
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_lookup_cached_and_invalidated, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_lookups_share_fetch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_change_during_fetch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_negative_cache, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_hash_skipped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_done_markers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recent_capped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_disable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_destroy_in_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ttl_refresh, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cache_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_admin_store_roundtrip, setup, teardown),
      cmocka_unit_test(test_commandstats),
      cmocka_unit_test(test_unreachable_then_back),
      cmocka_unit_test(test_auth_db_and_hang),
      cmocka_unit_test(test_closed_port),
  };
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  hl_secretbox_destroy(&g_box);
  return rc;
}
