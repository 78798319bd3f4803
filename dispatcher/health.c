/*
 * health.c - endpoint health (health.h): the breaker and failure streak shared in
 * hl:health:<endpoint id>, a local copy per endpoint, auto-disable and operational events.
 *
 * Redis is the arbiter: every transition (open, half_open, closed, failing, recovered) is made
 * by one Lua script run, so exactly one dispatcher sees it and counts or publishes it.  The
 * scripts and breaker.c implement the same rules; while Redis is unreachable a dispatcher
 * applies breaker.c to its local copy alone (no events, no disabling).  Admission reads only
 * the local copy; a refresh timer re-reads the hashes of endpoints used in the last minute.
 */
#include "health.h"

#include <errno.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "dispatcher.h"
#include "log.h"
#include "util.h"

#define HL_HEALTH_BUCKETS 1024
#define HL_HEALTH_REFRESH_MS 1000       /* local copies of troubled endpoints */
#define HL_HEALTH_REFRESH_HEALTHY 5     /* healthy ones every 5th tick */
#define HL_HEALTH_ACTIVE_MS (60 * 1000) /* refreshed while used this recently */
#define HL_HEALTH_IDLE_MS (600 * 1000)  /* forgotten after this long unused */
#define HL_HEALTH_PROBE_LEASE_MS 35000  /* longest attempt (30 s) + connect margin */
#define HL_HEALTH_FAILING_AFTER 4
#define HL_HEALTH_KEY_MAX 128

/* Reply of both scripts and of the refresh HMGET, in this order. */
enum {
  R_STATE,
  R_OPEN_UNTIL,
  R_PROBE_UNTIL,
  R_FAILURES,
  R_FIRST,
  R_FAILING,
  R_FLAGS,
  R_EXTRA1,
  R_EXTRA2,
  R_N
};

#define HL_HEALTH_LUA_READ                                                                         \
  "local k = KEYS[1]\n"                                                                            \
  "local h = redis.call('HMGET', k, 'state', 'open_until', 'probe_until', 'failures',\n"           \
  "  'first_failure', 'failing_since')\n"                                                          \
  "local st = h[1] or 'closed'\n"                                                                  \
  "local ou = tonumber(h[2] or '0')\n"                                                             \
  "local pu = tonumber(h[3] or '0')\n"                                                             \
  "local n = tonumber(h[4] or '0')\n"                                                              \
  "local ff = tonumber(h[5] or '0')\n"                                                             \
  "local fs = tonumber(h[6] or '0')\n"                                                             \
  "local t = 0\n"

/* ARGV: ok now failures cooldown_ms failing_after disable_after_ms force_open probe ttl_ms */
static const char hl_health_lua_outcome[] = HL_HEALTH_LUA_READ
    "local now = tonumber(ARGV[2])\n"
    "if ARGV[1] == '1' then\n"
    "  if fs > 0 then t = t + 16 end\n"
    "  if st ~= 'closed' and ARGV[8] ~= '1' then\n"
    "    redis.call('HSET', k, 'failures', 0, 'first_failure', 0, 'failing_since', 0)\n"
    "    return {st, ou, pu, 0, 0, 0, t, n, ff}\n"
    "  end\n"
    "  if st ~= 'closed' then t = t + 4 end\n"
    "  redis.call('DEL', k)\n"
    "  return {'closed', 0, 0, 0, 0, 0, t, n, ff}\n"
    "end\n"
    "n = n + 1\n"
    "if ff == 0 then ff = now end\n"
    "if (st == 'half_open' and ARGV[8] == '1') or\n"
    "   (st == 'closed' and (n >= tonumber(ARGV[3]) or ARGV[7] == '1')) then\n"
    "  st = 'open'; ou = now + tonumber(ARGV[4]); pu = 0; t = t + 1\n"
    "end\n"
    "if fs == 0 and n >= tonumber(ARGV[5]) then fs = now; t = t + 8 end\n"
    "local da = tonumber(ARGV[6])\n"
    "if da > 0 and now - ff >= da then t = t + 32 end\n"
    "redis.call('HSET', k, 'state', st, 'open_until', ou, 'probe_until', pu, 'failures', n,\n"
    "  'first_failure', ff, 'failing_since', fs)\n"
    "redis.call('PEXPIRE', k, ARGV[9])\n"
    "return {st, ou, pu, n, ff, fs, t, n, ff}\n";

/* ARGV: now lease_ms.  Element 8 is 1 when this caller got the probe lease. */
static const char hl_health_lua_probe[] =
    HL_HEALTH_LUA_READ "local now = tonumber(ARGV[1])\n"
                       "local granted = 0\n"
                       "if (st == 'open' and now >= ou) or (st == 'half_open' and now >= pu) then\n"
                       "  if st == 'open' then t = 2 end\n"
                       "  st = 'half_open'; pu = now + tonumber(ARGV[2]); granted = 1\n"
                       "  redis.call('HSET', k, 'state', st, 'probe_until', pu)\n"
                       "end\n"
                       "return {st, ou, pu, n, ff, fs, t, granted, 0}\n";

/* KEYS: hl:ep:<id> hl:health:<id>; ARGV: now.  1 for the one caller that publishes. */
static const char hl_health_lua_disabled_event[] =
    "if redis.call('HGET', KEYS[1], 'status') ~= 'disabled' then return 0 end\n"
    "return redis.call('HSETNX', KEYS[2], 'disabled_event', ARGV[1])\n";

/* One probe lease request, for the delivery waiting on it. */
typedef struct hl_health_ask {
  struct hl_health_ask *next; /* an entry's waiters */
  hl_health_t *h;
  struct hl_health_ep *ent;
  hl_health_admit_cb *cb;
  void *opaque;
} hl_health_ask_t;

typedef struct hl_health_ep {
  char id[HL_EP_ID_MAX + 1];
  char tenant[HL_EVENT_TENANT_MAX + 1];
  char *url;
  hl_brk_t brk;
  int64_t last_used_ms; /* monotonic */
  uint64_t gen;         /* bumped per script run: older refresh answers are dropped */
  uint64_t refresh_gen;
  int pending; /* Redis calls holding this entry */
  bool known;  /* the shared state was read once: until then deliveries wait for it */
  bool refreshing, probe_asking, disable_sent;
  hl_health_ask_t *waiters; /* deliveries waiting for the first read */
  hl_health_t *h;
  struct hl_health_ep *next;
} hl_health_ep_t;

struct hl_health {
  hl_disp_t *d;
  hl_brk_params_t p;
  hl_health_ep_t *buckets[HL_HEALTH_BUCKETS];
  struct event *tick;
  uint64_t ticks;
  hl_metric_t *transitions, *short_circuited, *skipped, *events;
};

static void hl_health_fetch(hl_health_t *h, struct hl_health_ep *ent);

/* One outcome script run. */
typedef struct hl_health_run {
  hl_health_t *h;
  hl_health_ep_t *ent;
  int local_t; /* what breaker.c decided locally: used when Redis does not answer */
} hl_health_run_t;

/* One disable: the status script, then the event arbiter. */
typedef struct hl_health_dis {
  hl_health_t *h;
  char id[HL_EP_ID_MAX + 1];
  char tenant[HL_EVENT_TENANT_MAX + 1];
  char *url, *code, *reason;
  int64_t failures, first_failure_ms;
  hl_state_ack_cb *cb;
  void *opaque;
} hl_health_dis_t;

/* ---- the table -------------------------------------------------------------------------- */

static unsigned hl_health_hash(const char *id) {
  unsigned x = 5381;

  while (*id)
    x = x * 33 + (unsigned char)*id++;
  return x % HL_HEALTH_BUCKETS;
}

static hl_health_ep_t *hl_health_find(hl_health_t *h, const char *id) {
  hl_health_ep_t *ent;

  for (ent = h->buckets[hl_health_hash(id)]; ent; ent = ent->next) {
    if (strcmp(ent->id, id) == 0)
      return ent;
  }
  return NULL;
}

/* The entry of ep (created), its tenant and url brought up to date; NULL out of memory. */
static hl_health_ep_t *hl_health_get(hl_health_t *h, const hl_endpoint_t *ep) {
  hl_health_ep_t *ent = hl_health_find(h, ep->id);
  unsigned b;

  if (!ent) {
    ent = calloc(1, sizeof(*ent));
    if (!ent)
      return NULL;
    snprintf(ent->id, sizeof(ent->id), "%s", ep->id);
    ent->h = h;
    b = hl_health_hash(ep->id);
    ent->next = h->buckets[b];
    h->buckets[b] = ent;
  }
  snprintf(ent->tenant, sizeof(ent->tenant), "%s", ep->tenant);
  if (ep->url && (!ent->url || strcmp(ent->url, ep->url) != 0)) {
    free(ent->url);
    ent->url = strdup(ep->url);
  }
  ent->last_used_ms = hl_mono_ms();
  return ent;
}

static void hl_health_ep_free(hl_health_ep_t *ent) {
  hl_health_ask_t *ask;

  while ((ask = ent->waiters) != NULL) {
    ent->waiters = ask->next;
    free(ask);
  }
  free(ent->url);
  free(ent);
}

/* ---- metrics and events ----------------------------------------------------------------- */

static void hl_health_count(hl_health_t *h, const hl_health_ep_t *ent, int t) {
  if (t & HL_BRK_T_OPEN) {
    hl_metric_add(h->transitions, "to=\"open\"", 1);
    hl_info("endpoint %s: breaker open after %lld consecutive failures", ent->id,
            (long long)ent->brk.failures);
  }
  if (t & HL_BRK_T_HALF_OPEN) {
    hl_metric_add(h->transitions, "to=\"half_open\"", 1);
    hl_info("endpoint %s: breaker half-open: one probe delivery", ent->id);
  }
  if (t & HL_BRK_T_CLOSED) {
    hl_metric_add(h->transitions, "to=\"closed\"", 1);
    hl_info("endpoint %s: breaker closed", ent->id);
  }
}

static void hl_health_publish_dr(rd_kafka_resp_err_t err, void *opaque) {
  (void)opaque;
  if (err)
    hl_warn("operational event not published: %s", rd_kafka_err2str(err));
}

static void hl_time_field(json_t *data, const char *key, int64_t ms) {
  char buf[48];

  if (ms <= 0)
    return;
  hl_fmt_rfc3339(ms, buf, sizeof(buf));
  json_object_set_new(data, key, json_string(buf));
}

/* Publish an operational event for tenant to <p>.events; steals data. */
static void hl_health_publish(hl_health_t *h, const char *tenant, const char *type, json_t *data) {
  hl_disp_t *d = h->d;
  char *txt = data ? json_dumps(data, JSON_COMPACT) : NULL, *out = NULL, lbl[96], err[256];
  size_t len = 0;
  hl_event_t ev;

  memset(&ev, 0, sizeof(ev));
  if (!txt || hl_event_from_parts(tenant, type, NULL, txt, strlen(txt), d->max_bytes, hl_now_ms(),
                                  &ev, err, sizeof(err)) != 0) {
    hl_error("cannot build %s for tenant %s: %s", type, tenant, txt ? err : "out of memory");
    goto out;
  }
  if (hl_event_envelope(&ev, &out, &len) != 0 ||
      hl_kafka_produce(d, d->topic_events, tenant, out, len, hl_health_publish_dr, NULL) != 0) {
    hl_warn("operational event %s for tenant %s not published", type, tenant);
    goto out;
  }
  snprintf(lbl, sizeof(lbl), "type=\"%s\"", type);
  hl_metric_add(h->events, lbl, 1);
  hl_info("published %s %s for tenant %s", type, ev.id, tenant);
out:
  free(out);
  free(txt);
  hl_event_clear(&ev);
  json_decref(data);
}

static json_t *hl_health_data(const char *id, const char *url) {
  json_t *data = json_object();

  json_object_set_new(data, "endpoint_id", json_string(id));
  json_object_set_new(data, "url", json_string(url ? url : ""));
  return data;
}

static void hl_health_publish_failing(hl_health_t *h, const hl_health_ep_t *ent) {
  json_t *data = hl_health_data(ent->id, ent->url);

  json_object_set_new(data, "reason", json_string("consecutive_failures"));
  json_object_set_new(data, "consecutive_failures", json_integer(ent->brk.failures));
  hl_time_field(data, "first_failure_at", ent->brk.first_failure_ms);
  hl_time_field(data, "failing_since", ent->brk.failing_since_ms);
  json_object_set_new(data, "breaker", json_string(hl_brk_state_str(ent->brk.state)));
  hl_health_publish(h, ent->tenant, "hookline.endpoint.failing", data);
}

static void hl_health_publish_recovered(hl_health_t *h, const hl_health_ep_t *ent, int64_t failures,
                                        int64_t first_ms) {
  json_t *data = hl_health_data(ent->id, ent->url);
  int64_t now = hl_now_ms();

  json_object_set_new(data, "reason", json_string("delivered"));
  json_object_set_new(data, "failed_attempts", json_integer(failures));
  hl_time_field(data, "first_failure_at", first_ms);
  hl_time_field(data, "recovered_at", now);
  if (first_ms > 0)
    json_object_set_new(data, "failing_seconds", json_integer((now - first_ms) / 1000));
  hl_health_publish(h, ent->tenant, "hookline.endpoint.recovered", data);
}

/* ---- disable ---------------------------------------------------------------------------- */

static void hl_health_dis_free(hl_health_dis_t *dis) {
  free(dis->url);
  free(dis->code);
  free(dis->reason);
  free(dis);
}

static void hl_health_arbiter_cb(const redisReply *reply, int err, void *opaque) {
  hl_health_dis_t *dis = opaque;
  json_t *data;

  if (dis->h->d->stopping || err || !reply || reply->type != REDIS_REPLY_INTEGER ||
      reply->integer != 1)
    goto out; /* another dispatcher publishes it, or the endpoint is gone or enabled again */
  data = hl_health_data(dis->id, dis->url);
  json_object_set_new(data, "reason", json_string(dis->code));
  json_object_set_new(data, "message", json_string(dis->reason));
  if (dis->failures > 0)
    json_object_set_new(data, "consecutive_failures", json_integer(dis->failures));
  hl_time_field(data, "first_failure_at", dis->first_failure_ms);
  hl_time_field(data, "disabled_at", hl_now_ms());
  hl_health_publish(dis->h, dis->tenant, "hookline.endpoint.disabled", data);
out:
  hl_health_dis_free(dis);
}

static void hl_health_disabled_cb(int err, void *opaque) {
  hl_health_dis_t *dis = opaque;
  char ep_key[HL_HEALTH_KEY_MAX], key[HL_HEALTH_KEY_MAX], now[24];
  const char *argv[6] = {"EVAL", hl_health_lua_disabled_event, "2", ep_key, key, now};

  if (dis->h->d->stopping) {
    hl_health_dis_free(dis);
    return;
  }
  if (dis->cb)
    dis->cb(err, dis->opaque);
  if (err) {
    hl_warn("disabling endpoint %s (%s): error %d", dis->id, dis->code, err);
    hl_health_dis_free(dis);
    return;
  }
  snprintf(ep_key, sizeof(ep_key), "hl:ep:%s", dis->id);
  snprintf(key, sizeof(key), "hl:health:%s", dis->id);
  snprintf(now, sizeof(now), "%lld", (long long)hl_now_ms());
  hl_state_command(dis->h->d->st, 6, argv, hl_health_arbiter_cb, dis);
}

static void hl_health_disable_ent(hl_health_t *h, const char *id, const char *tenant,
                                  const char *url, const hl_brk_t *brk, const char *code,
                                  const char *reason, hl_state_ack_cb *cb, void *opaque) {
  hl_health_dis_t *dis = calloc(1, sizeof(*dis));

  if (dis) {
    dis->url = strdup(url ? url : "");
    dis->code = strdup(code);
    dis->reason = strdup(reason);
  }
  if (!dis || !dis->url || !dis->code || !dis->reason) {
    if (dis)
      hl_health_dis_free(dis);
    hl_state_endpoint_disable(h->d->st, id, reason, cb, opaque); /* at least disable it */
    return;
  }
  dis->h = h;
  snprintf(dis->id, sizeof(dis->id), "%s", id);
  snprintf(dis->tenant, sizeof(dis->tenant), "%s", tenant);
  dis->failures = brk ? brk->failures : 0;
  dis->first_failure_ms = brk ? brk->first_failure_ms : 0;
  dis->cb = cb;
  dis->opaque = opaque;
  hl_state_endpoint_disable(h->d->st, id, reason, hl_health_disabled_cb, dis);
}

void hl_health_disable(hl_health_t *h, const hl_endpoint_t *ep, const char *code,
                       const char *reason, hl_state_ack_cb *cb, void *opaque) {
  hl_health_ep_t *ent = hl_health_find(h, ep->id);

  hl_health_disable_ent(h, ep->id, ep->tenant, ep->url, ent ? &ent->brk : NULL, code, reason, cb,
                        opaque);
}

static void hl_health_auto_disable(hl_health_t *h, hl_health_ep_t *ent) {
  char reason[160];
  long long days = h->p.disable_after_ms / (24LL * 3600 * 1000);
  long long secs = h->p.disable_after_ms / 1000;

  if (ent->disable_sent)
    return;
  ent->disable_sent = true;
  if (days > 0 && h->p.disable_after_ms % (24LL * 3600 * 1000) == 0)
    snprintf(reason, sizeof(reason), "no successful delivery for %lld days (%lld failures)", days,
             (long long)ent->brk.failures);
  else
    snprintf(reason, sizeof(reason), "no successful delivery for %lld s (%lld failures)", secs,
             (long long)ent->brk.failures);
  hl_info("endpoint %s: %s; disabling it", ent->id, reason);
  hl_health_disable_ent(h, ent->id, ent->tenant, ent->url, &ent->brk, "failing", reason, NULL,
                        NULL);
}

/* ---- replies ---------------------------------------------------------------------------- */

static int64_t hl_reply_int(const redisReply *reply, size_t i) {
  const redisReply *el;

  if (!reply || reply->type != REDIS_REPLY_ARRAY || i >= reply->elements)
    return 0;
  el = reply->element[i];
  if (el->type == REDIS_REPLY_INTEGER)
    return el->integer;
  if (el->type == REDIS_REPLY_STRING)
    return strtoll(el->str, NULL, 10);
  return 0;
}

/* Copy the shared fields of a script or HMGET reply into the local copy; -1 if malformed. */
static int hl_health_apply(hl_health_ep_t *ent, const redisReply *reply) {
  const redisReply *st;

  if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < R_FLAGS)
    return -1;
  st = reply->element[R_STATE];
  ent->brk.state = hl_brk_state_parse(st->type == REDIS_REPLY_STRING ? st->str : NULL);
  ent->brk.open_until_ms = hl_reply_int(reply, R_OPEN_UNTIL);
  ent->brk.probe_until_ms = hl_reply_int(reply, R_PROBE_UNTIL);
  ent->brk.failures = hl_reply_int(reply, R_FAILURES);
  ent->brk.first_failure_ms = hl_reply_int(reply, R_FIRST);
  ent->brk.failing_since_ms = hl_reply_int(reply, R_FAILING);
  ent->known = true;
  return 0;
}

/* Act on what one script run decided: metrics, events, disable. */
static void hl_health_act(hl_health_t *h, hl_health_ep_t *ent, int t, const redisReply *reply) {
  hl_health_count(h, ent, t);
  if (t & HL_BRK_T_FAILING)
    hl_health_publish_failing(h, ent);
  if (t & HL_BRK_T_RECOVERED)
    hl_health_publish_recovered(h, ent, hl_reply_int(reply, R_EXTRA1),
                                hl_reply_int(reply, R_EXTRA2));
  if (t & HL_BRK_T_DISABLE)
    hl_health_auto_disable(h, ent);
  else
    ent->disable_sent = false; /* a new streak (re-enabled endpoint) may disable again */
}

static void hl_health_outcome_cb(const redisReply *reply, int err, void *opaque) {
  hl_health_run_t *run = opaque;
  hl_health_t *h = run->h;
  hl_health_ep_t *ent = run->ent;

  ent->pending--;
  if (h->d->stopping)
    goto out;
  if (err || hl_health_apply(ent, reply) != 0) {
    /* Redis unreachable: the local decision stands (transitions counted, no events) */
    hl_debug("endpoint %s health: redis error %d; breaker decided locally", ent->id, err);
    hl_health_count(h, ent, run->local_t);
    goto out;
  }
  hl_health_act(h, ent, (int)hl_reply_int(reply, R_FLAGS), reply);
out:
  free(run);
}

void hl_health_outcome(hl_health_t *h, const hl_endpoint_t *ep, bool ok, bool probe) {
  hl_health_ep_t *ent = hl_health_get(h, ep);
  int64_t now = hl_now_ms();
  hl_health_run_t *run;
  char key[HL_HEALTH_KEY_MAX], a_now[24], a_fail[24], a_cool[24], a_after[24], a_dis[24], a_ttl[24];
  const char *argv[13] = {"EVAL",
                          hl_health_lua_outcome,
                          "1",
                          key,
                          ok ? "1" : "0",
                          a_now,
                          a_fail,
                          a_cool,
                          a_after,
                          a_dis,
                          NULL,
                          probe ? "1" : "0",
                          a_ttl};
  bool shared;
  int rate;

  if (!ent)
    return;
  shared = !ok || probe || ent->brk.state != HL_BRK_CLOSED || ent->brk.failures > 0 ||
           ent->brk.failing_since_ms > 0;
  rate = hl_brk_window(&ent->brk, &h->p, ok, now);
  run = calloc(1, sizeof(*run));
  if (!run)
    return;
  run->h = h;
  run->ent = ent;
  run->local_t = hl_brk_record(&ent->brk, &h->p, ok, probe, rate != 0, now);
  if (!shared) {
    free(run); /* healthy and still healthy: nothing to share */
    return;
  }
  snprintf(key, sizeof(key), "hl:health:%s", ent->id);
  snprintf(a_now, sizeof(a_now), "%lld", (long long)now);
  snprintf(a_fail, sizeof(a_fail), "%d", h->p.failures);
  snprintf(a_cool, sizeof(a_cool), "%lld", (long long)h->p.cooldown_ms);
  snprintf(a_after, sizeof(a_after), "%d", h->p.failing_after);
  snprintf(a_dis, sizeof(a_dis), "%lld", (long long)h->p.disable_after_ms);
  /* the streak outlives the longest gap between attempts; enable/delete remove it anyway */
  snprintf(a_ttl, sizeof(a_ttl), "%lld", (long long)(2 * h->p.disable_after_ms + 86400000LL));
  argv[10] = rate ? "1" : "0";
  ent->gen++;
  ent->pending++;
  hl_state_command(h->d->st, 13, argv, hl_health_outcome_cb, run);
}

/* ---- admission -------------------------------------------------------------------------- */

static hl_health_admit_t hl_health_local_admit(hl_health_t *h, hl_health_ep_t *ent) {
  int t = 0;
  hl_brk_admit_t a = hl_brk_admit(&ent->brk, hl_now_ms(), HL_HEALTH_PROBE_LEASE_MS, &t);

  hl_health_count(h, ent, t);
  if (a == HL_BRK_ALLOW)
    return HL_HEALTH_GO;
  if (a == HL_BRK_PROBE)
    return HL_HEALTH_PROBE;
  hl_metric_add(h->short_circuited, NULL, 1);
  return HL_HEALTH_OPEN;
}

static void hl_health_probe_cb(const redisReply *reply, int err, void *opaque) {
  hl_health_ask_t *ask = opaque;
  hl_health_t *h = ask->h;
  hl_health_ep_t *ent = ask->ent;
  hl_health_admit_t res;

  ent->pending--;
  ent->probe_asking = false;
  if (h->d->stopping)
    goto out;
  ent->gen++;
  if (err || hl_health_apply(ent, reply) != 0) {
    hl_debug("endpoint %s probe lease: redis error %d; deciding locally", ent->id, err);
    res = hl_health_local_admit(h, ent);
  } else if (hl_reply_int(reply, R_EXTRA1) == 1) {
    hl_health_count(h, ent, (int)hl_reply_int(reply, R_FLAGS));
    res = HL_HEALTH_PROBE;
  } else if (ent->brk.state == HL_BRK_CLOSED) {
    res = HL_HEALTH_GO; /* closed meanwhile by another dispatcher */
  } else {
    hl_metric_add(h->short_circuited, NULL, 1);
    res = HL_HEALTH_OPEN; /* another dispatcher holds the probe */
  }
  ask->cb(res, ask->opaque);
out:
  free(ask);
}

/* Admission from a known local copy. */
static hl_health_admit_t hl_health_admit_ent(hl_health_t *h, hl_health_ep_t *ent,
                                             hl_health_admit_cb *cb, void *opaque) {
  char key[HL_HEALTH_KEY_MAX], a_now[24], a_lease[24];
  const char *argv[6] = {"EVAL", hl_health_lua_probe, "1", key, a_now, a_lease};
  int64_t now = hl_now_ms();
  hl_health_ask_t *ask;

  if (ent->brk.state == HL_BRK_CLOSED)
    return HL_HEALTH_GO;
  if (!hl_brk_probe_due(&ent->brk, now) || ent->probe_asking) {
    hl_metric_add(h->short_circuited, NULL, 1);
    return HL_HEALTH_OPEN;
  }
  ask = calloc(1, sizeof(*ask));
  if (!ask)
    return hl_health_local_admit(h, ent);
  ask->h = h;
  ask->ent = ent;
  ask->cb = cb;
  ask->opaque = opaque;
  snprintf(key, sizeof(key), "hl:health:%s", ent->id);
  snprintf(a_now, sizeof(a_now), "%lld", (long long)now);
  snprintf(a_lease, sizeof(a_lease), "%d", HL_HEALTH_PROBE_LEASE_MS);
  ent->probe_asking = true;
  ent->pending++;
  hl_state_command(h->d->st, 6, argv, hl_health_probe_cb, ask);
  return HL_HEALTH_WAIT;
}

hl_health_admit_t hl_health_admit(hl_health_t *h, const hl_endpoint_t *ep, hl_health_admit_cb *cb,
                                  void *opaque) {
  hl_health_ep_t *ent = hl_health_get(h, ep);
  hl_health_ask_t *ask;

  if (!ent)
    return HL_HEALTH_GO;
  if (ent->known)
    return hl_health_admit_ent(h, ent, cb, opaque);
  ask = calloc(1, sizeof(*ask));
  if (!ask)
    return hl_health_admit_ent(h, ent, cb, opaque);
  ask->h = h;
  ask->ent = ent;
  ask->cb = cb;
  ask->opaque = opaque;
  ask->next = ent->waiters;
  ent->waiters = ask;
  hl_health_fetch(h, ent);
  return HL_HEALTH_WAIT;
}

void hl_health_skipped(hl_health_t *h, const char *reason) {
  char lbl[96];

  snprintf(lbl, sizeof(lbl), "reason=\"%s\"", reason);
  hl_metric_add(h->skipped, lbl, 1);
}

const char *hl_health_event_about(const hl_event_t *ev, char *out, size_t outsz) {
  static const char pfx[] = "hookline.endpoint.";
  json_t *data;
  const char *id;

  if (strncmp(ev->type, pfx, sizeof(pfx) - 1) != 0 || !ev->data)
    return NULL;
  data = json_loadb(ev->data, ev->data_len, 0, NULL);
  id = json_string_value(json_object_get(data, "endpoint_id"));
  if (id)
    snprintf(out, outsz, "%s", id);
  json_decref(data);
  return id ? out : NULL;
}

/* ---- refresh ---------------------------------------------------------------------------- */

/* Deliveries that waited for the first read: admit them now, in arrival order. */
static void hl_health_run_waiters(hl_health_t *h, hl_health_ep_t *ent) {
  hl_health_ask_t *list = NULL, *ask;
  hl_health_admit_t res;

  while ((ask = ent->waiters) != NULL) { /* reverse: waiters is newest first */
    ent->waiters = ask->next;
    ask->next = list;
    list = ask;
  }
  while ((ask = list) != NULL) {
    list = ask->next;
    res = hl_health_admit_ent(h, ent, ask->cb, ask->opaque);
    if (res != HL_HEALTH_WAIT)
      ask->cb(res, ask->opaque);
    free(ask);
  }
}

static void hl_health_fetch_cb(const redisReply *reply, int err, void *opaque) {
  hl_health_ep_t *ent = opaque;
  hl_health_t *h = ent->h;
  hl_brk_state_t before = ent->brk.state;

  ent->pending--;
  ent->refreshing = false;
  if (h->d->stopping)
    return; /* waiters are freed with the entry */
  if (!err && ent->gen == ent->refresh_gen && hl_health_apply(ent, reply) == 0 &&
      before != ent->brk.state)
    hl_debug("endpoint %s: breaker %s (shared state)", ent->id, hl_brk_state_str(ent->brk.state));
  if (err)
    hl_debug("endpoint %s health read: redis error %d; using the local copy", ent->id, err);
  if (ent->brk.failures == 0)
    ent->disable_sent = false;
  ent->known = true; /* also after an error: Redis down must not hold deliveries */
  hl_health_run_waiters(h, ent);
}

/* HMGET the shared state into the local copy (a script answer arriving meanwhile wins). */
static void hl_health_fetch(hl_health_t *h, hl_health_ep_t *ent) {
  char key[HL_HEALTH_KEY_MAX];
  const char *argv[8] = {"HMGET",       key,        "state",         "open_until",
                         "probe_until", "failures", "first_failure", "failing_since"};

  if (ent->refreshing)
    return;
  snprintf(key, sizeof(key), "hl:health:%s", ent->id);
  ent->refreshing = true;
  ent->refresh_gen = ent->gen;
  ent->pending++;
  hl_state_command(h->d->st, 8, argv, hl_health_fetch_cb, ent);
}

static void hl_health_refresh(hl_health_t *h, hl_health_ep_t *ent) {
  bool troubled = ent->brk.state != HL_BRK_CLOSED || ent->brk.failures > 0;

  if (troubled || h->ticks % HL_HEALTH_REFRESH_HEALTHY == 0)
    hl_health_fetch(h, ent);
}

static void hl_health_tick(evutil_socket_t fd, short what, void *arg) {
  hl_health_t *h = arg;
  int64_t mono = hl_mono_ms();
  hl_health_ep_t **pp, *ent;
  size_t i;

  (void)fd;
  (void)what;
  h->ticks++;
  for (i = 0; i < HL_HEALTH_BUCKETS; i++) {
    for (pp = &h->buckets[i]; (ent = *pp) != NULL;) {
      if (ent->pending == 0 && mono - ent->last_used_ms > HL_HEALTH_IDLE_MS) {
        *pp = ent->next;
        hl_health_ep_free(ent);
        continue;
      }
      if (mono - ent->last_used_ms <= HL_HEALTH_ACTIVE_MS)
        hl_health_refresh(h, ent);
      pp = &ent->next;
    }
  }
}

/* ---- lifetime --------------------------------------------------------------------------- */

static void hl_health_metrics(hl_health_t *h) {
  hl_metrics_t *m = h->d->metrics;

  h->transitions =
      hl_metrics_counter(m, "hookline_breaker_transitions_total",
                         "Circuit breaker transitions made by this dispatcher, by target state.");
  h->short_circuited = hl_metrics_counter(
      m, "hookline_deliveries_short_circuited_total",
      "Deliveries not sent because the endpoint's breaker was open (moved to the next tier).");
  h->skipped =
      hl_metrics_counter(m, "hookline_deliveries_skipped_total",
                         "Deliveries not sent, by reason (endpoint_disabled: to the DLQ).");
  h->events = hl_metrics_counter(m, "hookline_operational_events_total",
                                 "Operational events published (hookline.endpoint.*), by type.");
}

hl_health_t *hl_health_new(hl_disp_t *d, char *errstr, size_t errsize) {
  hl_health_t *h = calloc(1, sizeof(*h));
  struct timeval tv = {HL_HEALTH_REFRESH_MS / 1000, (HL_HEALTH_REFRESH_MS % 1000) * 1000};

  if (!h)
    goto fail;
  h->d = d;
  h->p.failures = (int)hl_conf_int(d->conf, "breaker.failures");
  h->p.cooldown_ms = hl_conf_int(d->conf, "breaker.cooldown");
  h->p.failure_rate = (int)hl_conf_int(d->conf, "breaker.failure_rate");
  h->p.min_requests = (int)hl_conf_int(d->conf, "breaker.min_requests");
  h->p.window_ms = hl_conf_int(d->conf, "breaker.window");
  h->p.failing_after = HL_HEALTH_FAILING_AFTER;
  h->p.disable_after_ms = hl_conf_int(d->conf, "endpoint.disable_after");
  h->tick = event_new(d->base, -1, EV_PERSIST, hl_health_tick, h);
  if (!h->tick || event_add(h->tick, &tv) != 0)
    goto fail;
  hl_health_metrics(h);
  return h;
fail:
  snprintf(errstr, errsize, "health: out of memory");
  hl_health_destroy(&h);
  return NULL;
}

void hl_health_destroy(hl_health_t **hp) {
  hl_health_t *h = hp ? *hp : NULL;
  hl_health_ep_t *ent, *next;
  size_t i;

  if (!h)
    return;
  for (i = 0; i < HL_HEALTH_BUCKETS; i++) {
    for (ent = h->buckets[i]; ent; ent = next) {
      next = ent->next;
      hl_health_ep_free(ent);
    }
  }
  if (h->tick)
    event_free(h->tick);
  free(h);
  *hp = NULL;
}
