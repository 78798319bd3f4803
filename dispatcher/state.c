/*
 * state.c - the dispatcher's Redis side (see state.h): two hiredis async connections on the
 * dispatcher's event_base, the subscription cache fed from them, done markers, recent attempts
 * and endpoint auto-disable.
 *
 * Owns: the connections and their reconnect timers, the cache (subcache.c) and the fetches in
 * flight, the queue of failures answered on the next loop turn.  Every hiredis callback counts
 * in st->nops; the struct is freed once destroy was requested, no callback is running
 * (st->in_cb) and hiredis holds no callback that points at it (st->nops == 0).
 */
#include "state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "secrets.h"
#include "store.h" /* HL_STORE_LUA_STATUS: the status script shared with hookline-admin */
#include "util.h"

#define HL_STATE_CHANNEL HL_STORE_CHANNEL
#define HL_STATE_BACKOFF_MIN_MS 100
#define HL_STATE_BACKOFF_MAX_MS 5000
#define HL_STATE_WARN_EVERY_MS 10000
#define HL_STATE_KEY_MAX 256

typedef enum { HL_CONN_DOWN, HL_CONN_CONNECTING, HL_CONN_READY } hl_conn_status_t;

typedef struct hl_state_conn {
  hl_state_t *st;
  const char *name; /* "command" or "subscriber", for logs */
  bool sub;
  redisAsyncContext *ac;
  hl_conn_status_t status;
  struct event *retry_ev;
  int64_t backoff_ms;
  int64_t started_ms;  /* monotonic start of the current connect attempt */
  int64_t down_since;  /* monotonic start of the current outage, 0 when none */
  int npending;        /* replies awaited on this connection */
  int64_t progress_ms; /* monotonic time of the last reply (or of the first pending command) */
} hl_state_conn_t;

typedef enum { HL_CALL_SUBS, HL_CALL_DONE, HL_CALL_ACK, HL_CALL_REPLY } hl_call_kind_t;

/* A user callback to run: waiting on a fetch, queued as a failure, or one request's answer. */
typedef struct hl_state_call {
  struct hl_state_call *next;
  hl_call_kind_t kind;
  union {
    hl_state_subs_cb *subs;
    hl_state_done_cb *done;
    hl_state_ack_cb *ack;
    hl_state_reply_cb *reply;
  } cb;
  void *opaque;
  int err;
  hl_subs_tenant_t *snap; /* SUBS: handed to the callee */
  bool *done;             /* DONE: answers */
  size_t n;
  char ep_id[HL_EP_ID_MAX + 1]; /* ACK of a disable: for the log line */
} hl_state_call_t;

/* One tenant fetch: SMEMBERS, then HGETALL for each id (pipelined), shared by its waiters. */
typedef struct hl_state_fetch {
  struct hl_state_fetch *prev, *next; /* st->fetches */
  hl_state_t *st;
  char tenant[HL_TENANT_MAX + 1];
  hl_subcache_entry_t *ent; /* pinned (ent->fetch == this); NULL once detached */
  hl_state_call_t *waiters;
  bool invalidated; /* hl:changes or a flush arrived while in flight: answer, do not cache */
  int err;
  int pending; /* replies still awaited */
  char **ids;  /* from SMEMBERS, in HGETALL order */
  size_t nids, next_id;
  hl_endpoint_t **eps;
  size_t neps;
  int64_t fetched_ms;
} hl_state_fetch_t;

typedef struct hl_state_ratelog {
  int64_t last_ms;
  uint64_t suppressed;
} hl_state_ratelog_t;

struct hl_state {
  struct event_base *base;
  char *host, *username, *password;
  int port, db;
  int64_t timeout_ms, ttl_ms, recent_max;
  hl_secretbox_t *box;
  hl_state_conn_t cmd, sub;
  struct event *watchdog_ev;
  struct event *defer_ev;
  hl_state_call_t *deferred, **deferred_tail;
  hl_subcache_t *cache;
  hl_state_fetch_t *fetches;
  bool last_ok;
  bool closing;
  int in_cb;    /* user callbacks / our hiredis callbacks running */
  int64_t nops; /* hiredis callbacks registered and not yet run for the last time */
  hl_state_ratelog_t corrupt_log, error_log;
  hl_state_stats_t stats;
};

static void hl_state_conn_start(hl_state_conn_t *conn);
static int hl_state_fetch_start(hl_state_t *st, hl_subcache_entry_t *ent, hl_state_call_t *call);

/* ---- lifetime ------------------------------------------------------------------------- */

static void hl_state_free(hl_state_t *st) {
  free(st->host);
  free(st->username);
  free(st->password);
  hl_secretbox_destroy(&st->box);
  free(st);
}

static void hl_state_maybe_free(hl_state_t *st) {
  if (st->closing && st->in_cb == 0 && st->nops == 0)
    hl_state_free(st);
}

/* Warn at most once per HL_STATE_WARN_EVERY_MS per kind, counting what was left out. */
static bool hl_state_ratelog_ok(hl_state_ratelog_t *rl, uint64_t *suppressed) {
  int64_t now = hl_mono_ms();

  if (rl->last_ms && now - rl->last_ms < HL_STATE_WARN_EVERY_MS) {
    rl->suppressed++;
    return false;
  }
  rl->last_ms = now;
  *suppressed = rl->suppressed;
  rl->suppressed = 0;
  return true;
}

/* ---- user callbacks ------------------------------------------------------------------- */

/* The caller sets call->cb for its kind. */
static hl_state_call_t *hl_state_call_new(hl_call_kind_t kind, void *opaque) {
  hl_state_call_t *call = calloc(1, sizeof(*call));

  if (!call)
    return NULL;
  call->kind = kind;
  call->opaque = opaque;
  return call;
}

/* Run and free one call.  The snapshot (if any) goes to the callee. */
static void hl_state_call_run(hl_state_t *st, hl_state_call_t *call) {
  st->in_cb++;
  if (call->err)
    st->stats.errors++;
  if (call->kind == HL_CALL_SUBS)
    call->cb.subs(call->err ? NULL : call->snap, call->err, call->opaque);
  else if (call->kind == HL_CALL_DONE)
    call->cb.done(call->done, call->err ? 0 : call->n, call->err, call->opaque);
  else if (call->kind == HL_CALL_REPLY)
    call->cb.reply(NULL, call->err, call->opaque); /* only failures are deferred */
  else if (call->cb.ack)
    call->cb.ack(call->err, call->opaque);
  st->in_cb--;
  if (call->err)
    hl_subs_tenant_release(&call->snap);
  free(call->done);
  free(call);
}

static void hl_state_defer_run(evutil_socket_t fd, short what, void *arg) {
  hl_state_t *st = arg;
  hl_state_call_t *call;

  st->in_cb++;
  while (st->deferred) {
    call = st->deferred;
    st->deferred = call->next;
    if (!st->deferred)
      st->deferred_tail = &st->deferred;
    hl_state_call_run(st, call);
  }
  st->in_cb--;
  hl_state_maybe_free(st);
}

/* Answer call with err on the next loop turn (never from inside the caller's call). */
static void hl_state_defer(hl_state_t *st, hl_state_call_t *call, int err) {
  call->err = err;
  if (st->closing) {
    call->err = -ECANCELED;
    hl_state_call_run(st, call);
    return;
  }
  call->next = NULL;
  *st->deferred_tail = call;
  st->deferred_tail = &call->next;
  event_active(st->defer_ev, EV_TIMEOUT, 0);
}

/* ---- connections ---------------------------------------------------------------------- */

static bool hl_state_conn_usable(const hl_state_conn_t *conn) {
  if (!conn->ac || conn->st->closing)
    return false;
  /* While connecting for the first time commands queue behind the handshake; during an
   * outage they fail fast until the connection is back. */
  return conn->status == HL_CONN_READY ||
         (conn->status == HL_CONN_CONNECTING && conn->down_since == 0);
}

static void hl_state_conn_retry(evutil_socket_t fd, short what, void *arg) {
  hl_state_conn_start(arg);
}

/* The connection is gone (hiredis frees or has freed ac): log once per outage, retry later. */
static void hl_state_conn_failed(hl_state_conn_t *conn, const char *reason) {
  hl_state_t *st = conn->st;
  struct timeval tv;

  conn->status = HL_CONN_DOWN;
  conn->ac = NULL;
  if (st->closing)
    return;
  if (!conn->down_since) {
    conn->down_since = hl_mono_ms();
    hl_warn("redis %s connection to %s:%d: %s; reconnecting with backoff (logged once per outage)",
            conn->name, st->host, st->port, reason);
  } else {
    hl_debug("redis %s connection to %s:%d: %s", conn->name, st->host, st->port, reason);
  }
  tv.tv_sec = conn->backoff_ms / 1000;
  tv.tv_usec = (conn->backoff_ms % 1000) * 1000;
  evtimer_add(conn->retry_ev, &tv);
  conn->backoff_ms *= 2;
  if (conn->backoff_ms > HL_STATE_BACKOFF_MAX_MS)
    conn->backoff_ms = HL_STATE_BACKOFF_MAX_MS;
}

/* Close a connection ourselves (timeout, handshake error): hiredis answers what is pending with
 * NULL replies (now, or when the running callback returns). */
static void hl_state_conn_drop(hl_state_conn_t *conn, const char *reason) {
  redisAsyncContext *ac = conn->ac;

  if (!ac)
    return;
  ac->onConnect = NULL;
  ac->onDisconnect = NULL;
  hl_state_conn_failed(conn, reason);
  redisAsyncFree(ac);
}

static void hl_state_conn_ready(hl_state_conn_t *conn) {
  hl_state_t *st = conn->st;

  conn->status = HL_CONN_READY;
  conn->backoff_ms = HL_STATE_BACKOFF_MIN_MS;
  if (conn->down_since)
    hl_info("redis %s connection to %s:%d restored after %lld ms", conn->name, st->host, st->port,
            (long long)(hl_mono_ms() - conn->down_since));
  conn->down_since = 0;
}

/* Bookkeeping every reply callback starts with; returns the state. */
static hl_state_t *hl_state_reply_enter(redisAsyncContext *ac, redisReply *reply) {
  hl_state_conn_t *conn = ac->data;
  hl_state_t *st = conn->st;

  conn->npending--;
  conn->progress_ms = hl_mono_ms();
  st->nops--;
  st->in_cb++;
  if (!reply && conn->ac == ac)
    conn->status = HL_CONN_DOWN; /* hiredis is tearing the connection down */
  if (reply && !conn->sub)
    st->last_ok = reply->type != REDIS_REPLY_ERROR;
  return st;
}

static void hl_state_reply_leave(hl_state_t *st) {
  st->in_cb--;
  hl_state_maybe_free(st);
}

static int hl_state_conn_send(hl_state_conn_t *conn, redisCallbackFn *fn, void *priv, int argc,
                              const char **argv, const size_t *lens) {
  if (redisAsyncCommandArgv(conn->ac, fn, priv, argc, argv, lens) != REDIS_OK)
    return -ENOTCONN;
  if (conn->npending++ == 0)
    conn->progress_ms = hl_mono_ms();
  conn->st->nops++;
  if (!conn->sub)
    conn->st->stats.commands++;
  return 0;
}

/* A command on the command connection; -ENOTCONN when Redis is unreachable. */
static int hl_state_send(hl_state_t *st, redisCallbackFn *fn, void *priv, int argc,
                         const char **argv, const size_t *lens) {
  if (!hl_state_conn_usable(&st->cmd))
    return -ENOTCONN;
  return hl_state_conn_send(&st->cmd, fn, priv, argc, argv, lens);
}

/* AUTH / SELECT / PING replies; privdata non-NULL on the last one (PING). */
static void hl_state_handshake_cb(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  hl_state_conn_t *conn = ac->data;
  hl_state_t *st = hl_state_reply_enter(ac, reply);

  if (!reply || conn->ac != ac)
    goto out;
  if (reply->type == REDIS_REPLY_ERROR) {
    char reason[256];

    snprintf(reason, sizeof(reason), "handshake refused: %s", reply->str);
    hl_state_conn_drop(conn, reason); /* logged once per outage */
    goto out;
  }
  if (priv)
    hl_state_conn_ready(conn);
out:
  hl_state_reply_leave(st);
}

static void hl_state_invalidate(hl_state_t *st, const char *msg, size_t len) {
  char tenant[HL_TENANT_MAX + 1];
  const char *sp = memchr(msg, ' ', len);
  size_t tlen = sp ? (size_t)(sp - msg) : len;
  hl_subcache_entry_t *ent;

  if (tlen == 0 || tlen > HL_TENANT_MAX)
    return;
  memcpy(tenant, msg, tlen);
  tenant[tlen] = '\0';
  ent = hl_subcache_find(st->cache, tenant);
  if (!ent)
    return;
  st->stats.invalidations++;
  hl_debug("hl:changes: tenant %s dropped from the cache", tenant);
  if (ent->fetch) {
    ((hl_state_fetch_t *)ent->fetch)->invalidated = true;
    hl_subcache_set(ent, NULL, 0);
  } else {
    hl_subcache_remove(st->cache, ent);
  }
}

static void hl_state_flush(hl_state_t *st) {
  for (hl_state_fetch_t *fetch = st->fetches; fetch; fetch = fetch->next)
    fetch->invalidated = true;
  hl_subcache_flush(st->cache);
  st->stats.flushes++;
}

/* SUBSCRIBE hl:changes: called for the confirmation, every message, and once with NULL. */
static void hl_state_subscribe_cb(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r, **el;
  hl_state_conn_t *conn = ac->data;
  hl_state_t *st = conn->st;

  if (!reply) {
    st->nops--;
    if (conn->ac == ac)
      conn->status = HL_CONN_DOWN;
    hl_state_maybe_free(st);
    return;
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 || conn->ac != ac)
    return;
  el = reply->element;
  if (el[0]->type != REDIS_REPLY_STRING)
    return;
  if (strcmp(el[0]->str, "subscribe") == 0) {
    conn->npending--;
    conn->progress_ms = hl_mono_ms();
    hl_state_conn_ready(conn);
    /* Changes published while we were not subscribed are lost: start over. */
    hl_state_flush(st);
  } else if (strcmp(el[0]->str, "message") == 0 && el[2]->type == REDIS_REPLY_STRING) {
    hl_state_invalidate(st, el[2]->str, el[2]->len);
  }
}

static void hl_state_on_connect(const redisAsyncContext *ac, int status) {
  hl_state_conn_t *conn = ac->data;

  if (status == REDIS_OK || conn->ac != ac)
    return;
  hl_state_conn_failed(conn, ac->errstr[0] ? ac->errstr : "connect failed");
}

static void hl_state_on_disconnect(const redisAsyncContext *ac, int status) {
  hl_state_conn_t *conn = ac->data;

  if (conn->ac != ac)
    return;
  hl_state_conn_failed(conn, status == REDIS_OK ? "closed" : ac->errstr);
}

static int hl_state_conn_handshake(hl_state_conn_t *conn) {
  hl_state_t *st = conn->st;
  char db[16];
  const char *argv[3];
  int rc = 0;

  if (st->password[0]) {
    argv[0] = "AUTH";
    argv[1] = st->username[0] ? st->username : st->password;
    argv[2] = st->password;
    rc |=
        hl_state_conn_send(conn, hl_state_handshake_cb, NULL, st->username[0] ? 3 : 2, argv, NULL);
  }
  if (st->db) {
    snprintf(db, sizeof(db), "%d", st->db);
    argv[0] = "SELECT";
    argv[1] = db;
    rc |= hl_state_conn_send(conn, hl_state_handshake_cb, NULL, 2, argv, NULL);
  }
  if (conn->sub) {
    argv[0] = "SUBSCRIBE";
    argv[1] = HL_STATE_CHANNEL;
    rc |= redisAsyncCommandArgv(conn->ac, hl_state_subscribe_cb, NULL, 2, argv, NULL);
    if (rc == 0) {
      conn->npending++;
      st->nops++;
    }
  } else {
    argv[0] = "PING";
    rc |= hl_state_conn_send(conn, hl_state_handshake_cb, conn, 1, argv, NULL);
  }
  return rc ? -1 : 0;
}

static void hl_state_conn_start(hl_state_conn_t *conn) {
  hl_state_t *st = conn->st;
  redisAsyncContext *ac = redisAsyncConnect(st->host, st->port);
  char reason[128];

  if (!ac || ac->err) {
    snprintf(reason, sizeof(reason), "%s", ac ? ac->errstr : "out of memory");
    if (ac)
      redisAsyncFree(ac);
    hl_state_conn_failed(conn, reason);
    return;
  }
  ac->data = conn;
  conn->ac = ac;
  conn->status = HL_CONN_CONNECTING;
  conn->started_ms = hl_mono_ms();
  redisEnableKeepAlive(&ac->c); /* TCP keepalive, 15 s: notices a silent peer on the subscriber */
  redisLibeventAttach(ac, st->base);
  redisAsyncSetConnectCallback(ac, hl_state_on_connect);
  redisAsyncSetDisconnectCallback(ac, hl_state_on_disconnect);
  if (hl_state_conn_handshake(conn) != 0)
    hl_state_conn_drop(conn, "handshake could not be queued");
}

/* Connect and command timeouts (hiredis 0.14 async has none of its own). */
static void hl_state_watchdog(evutil_socket_t fd, short what, void *arg) {
  hl_state_t *st = arg;
  hl_state_conn_t *conns[2] = {&st->cmd, &st->sub};
  int64_t now = hl_mono_ms();

  for (int i = 0; i < 2; i++) {
    hl_state_conn_t *conn = conns[i];

    if (!conn->ac)
      continue;
    if (conn->status == HL_CONN_CONNECTING && now - conn->started_ms > st->timeout_ms)
      hl_state_conn_drop(conn, "connect timed out");
    else if (conn->npending > 0 && now - conn->progress_ms > st->timeout_ms)
      hl_state_conn_drop(conn, "command timed out");
  }
}

/* ---- set-up and teardown -------------------------------------------------------------- */

static int hl_state_conn_init(hl_state_t *st, hl_state_conn_t *conn, const char *name, bool sub) {
  conn->st = st;
  conn->name = name;
  conn->sub = sub;
  conn->backoff_ms = HL_STATE_BACKOFF_MIN_MS;
  conn->retry_ev = evtimer_new(st->base, hl_state_conn_retry, conn);
  return conn->retry_ev ? 0 : -1;
}

static int hl_state_config(hl_state_t *st, const hl_conf_t *conf, char *errstr, size_t errsize) {

  st->host = strdup(hl_conf_str(conf, "redis.host"));
  st->username = strdup(hl_conf_str(conf, "redis.username"));
  st->password = strdup(hl_conf_str(conf, "redis.password"));
  st->port = (int)hl_conf_int(conf, "redis.port");
  st->db = (int)hl_conf_int(conf, "redis.db");
  st->timeout_ms = hl_conf_int(conf, "redis.timeout");
  st->ttl_ms = hl_conf_int(conf, "dispatcher.cache_ttl");
  st->recent_max = hl_conf_int(conf, "attempts.recent_max");
  if (!st->host || !st->username || !st->password) {
    snprintf(errstr, errsize, "out of memory");
    return -1;
  }
  if (hl_store_secretbox_from_conf(conf, &st->box, errstr, errsize) != 0)
    return -1;
  st->cache = hl_subcache_new((size_t)hl_conf_int(conf, "dispatcher.cache_max_tenants"));
  if (!st->cache) {
    snprintf(errstr, errsize, "out of memory");
    return -1;
  }
  return 0;
}

hl_state_t *hl_state_new(struct event_base *base, const hl_conf_t *conf, char *errstr,
                         size_t errsize) {
  hl_state_t *st = calloc(1, sizeof(*st));
  struct timeval tv;
  int64_t tick;

  if (!st) {
    snprintf(errstr, errsize, "out of memory");
    return NULL;
  }
  st->base = base;
  st->deferred_tail = &st->deferred;
  st->last_ok = true;
  if (hl_state_config(st, conf, errstr, errsize) != 0)
    goto fail;
  st->defer_ev = event_new(base, -1, 0, hl_state_defer_run, st);
  st->watchdog_ev = event_new(base, -1, EV_PERSIST, hl_state_watchdog, st);
  if (!st->defer_ev || !st->watchdog_ev || hl_state_conn_init(st, &st->cmd, "command", false) ||
      hl_state_conn_init(st, &st->sub, "subscriber", true)) {
    snprintf(errstr, errsize, "out of memory");
    goto fail;
  }
  tick = st->timeout_ms / 4;
  tick = tick < 10 ? 10 : tick > 250 ? 250 : tick;
  tv.tv_sec = tick / 1000;
  tv.tv_usec = (tick % 1000) * 1000;
  evtimer_add(st->watchdog_ev, &tv);
  hl_state_conn_start(&st->cmd);
  hl_state_conn_start(&st->sub);
  return st;
fail:
  st->closing = true;
  hl_state_destroy(&st);
  return NULL;
}

void hl_state_destroy(hl_state_t **stp) {
  hl_state_t *st;
  hl_state_conn_t *conns[2];

  if (!stp || !*stp)
    return;
  st = *stp;
  *stp = NULL;
  conns[0] = &st->cmd;
  conns[1] = &st->sub;
  st->closing = true;
  st->in_cb++;
  for (int i = 0; i < 2; i++) {
    if (conns[i]->retry_ev)
      event_free(conns[i]->retry_ev);
    conns[i]->retry_ev = NULL;
    hl_state_conn_drop(conns[i], "closing"); /* pending requests: -ECANCELED */
  }
  if (st->watchdog_ev)
    event_free(st->watchdog_ev);
  st->watchdog_ev = NULL;
  while (st->deferred) {
    hl_state_call_t *call = st->deferred;

    st->deferred = call->next;
    call->err = -ECANCELED;
    hl_state_call_run(st, call);
  }
  if (st->defer_ev)
    event_free(st->defer_ev);
  st->defer_ev = NULL;
  for (hl_state_fetch_t *fetch = st->fetches; fetch; fetch = fetch->next) {
    if (fetch->ent)
      fetch->ent->fetch = NULL;
    fetch->ent = NULL;
  }
  hl_subcache_destroy(&st->cache);
  st->in_cb--;
  hl_state_maybe_free(st);
}

bool hl_state_ready(const hl_state_t *st) {
  return st && st->cmd.status == HL_CONN_READY && st->sub.status == HL_CONN_READY && st->last_ok;
}

void hl_state_stats(const hl_state_t *st, hl_state_stats_t *stats) {
  *stats = st->stats;
  stats->evictions = st->cache ? hl_subcache_evictions(st->cache) : 0;
  stats->cached_tenants = st->cache ? hl_subcache_count(st->cache) : 0;
}

/* ---- tenant fetches ------------------------------------------------------------------- */

static int hl_state_ep_cmp(const void *a, const void *b) {
  const hl_endpoint_t *x = *(hl_endpoint_t *const *)a, *y = *(hl_endpoint_t *const *)b;

  return strcmp(x->id, y->id);
}

static void hl_state_fetch_free(hl_state_fetch_t *fetch) {
  hl_state_t *st = fetch->st;

  if (fetch->prev)
    fetch->prev->next = fetch->next;
  else
    st->fetches = fetch->next;
  if (fetch->next)
    fetch->next->prev = fetch->prev;
  for (size_t i = 0; i < fetch->nids; i++)
    free(fetch->ids[i]);
  free(fetch->ids);
  for (size_t i = 0; i < fetch->neps; i++)
    hl_endpoint_destroy(&fetch->eps[i]);
  free(fetch->eps);
  free(fetch);
}

/* All replies are in: update the cache, then answer the waiters (who may call us again). */
static void hl_state_fetch_finish(hl_state_fetch_t *fetch) {
  hl_state_t *st = fetch->st;
  hl_subcache_entry_t *ent = fetch->ent;
  hl_subs_tenant_t *snap = NULL;
  hl_state_call_t *call, *waiters = fetch->waiters;
  int err = st->closing ? -ECANCELED : fetch->err;

  if (ent)
    ent->fetch = NULL;
  /* A change was published while we read: the waiters get a fresh read, not this one. */
  if (fetch->invalidated && ent && !st->closing && waiters &&
      hl_state_fetch_start(st, ent, waiters) == 0) {
    fetch->waiters = NULL;
    hl_state_fetch_free(fetch);
    return;
  }
  if (!err) {
    if (fetch->neps > 1)
      qsort(fetch->eps, fetch->neps, sizeof(*fetch->eps), hl_state_ep_cmp);
    snap = hl_subs_tenant_new(fetch->tenant, fetch->eps, fetch->neps, fetch->fetched_ms);
    if (snap) {
      fetch->eps = NULL; /* stolen */
      fetch->neps = 0;
    } else {
      err = -ENOMEM;
    }
  }
  if (ent && snap && !fetch->invalidated)
    hl_subcache_set(ent, hl_subs_tenant_hold(snap), hl_mono_ms() + st->ttl_ms);
  else if (ent && !ent->snap)
    hl_subcache_remove(st->cache, ent); /* nothing to serve: do not keep an empty entry */
  fetch->waiters = NULL;
  while (waiters) {
    call = waiters;
    waiters = call->next;
    call->err = err;
    call->snap = err ? NULL : hl_subs_tenant_hold(snap);
    hl_state_call_run(st, call);
  }
  hl_subs_tenant_release(&snap);
  hl_state_fetch_free(fetch);
}

static void hl_state_fetch_reply_done(hl_state_fetch_t *fetch) {
  if (--fetch->pending == 0)
    hl_state_fetch_finish(fetch);
}

static void hl_state_fetch_fail(hl_state_fetch_t *fetch, redisReply *reply) {
  hl_state_t *st = fetch->st;
  uint64_t sup;

  if (fetch->err)
    return;
  fetch->err = reply ? -EIO : -ENOTCONN;
  if (reply && hl_state_ratelog_ok(&st->error_log, &sup))
    hl_warn("redis: tenant %s lookup failed: %s (%llu similar not logged)", fetch->tenant,
            reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply type",
            (unsigned long long)sup);
}

static void hl_state_ep_decode(hl_state_fetch_t *fetch, const char *id, redisReply *reply) {
  hl_state_t *st = fetch->st;
  size_t n = reply->elements / 2;
  const char **fields = calloc(n + 1, sizeof(*fields));
  const char **values = calloc(n + 1, sizeof(*values));
  size_t *lens = calloc(n + 1, sizeof(*lens));
  hl_endpoint_t *ep = NULL;
  char err[256] = "out of memory";
  uint64_t sup;

  if (!fields || !values || !lens)
    goto out;
  for (size_t i = 0; i < n; i++) {
    fields[i] = reply->element[2 * i]->str;
    values[i] = reply->element[2 * i + 1]->str;
    lens[i] = reply->element[2 * i + 1]->len;
  }
  ep = hl_endpoint_from_hash(fields, values, lens, n, st->box, err, sizeof(err));
  if (ep && strcmp(ep->tenant, fetch->tenant) != 0) {
    snprintf(err, sizeof(err), "belongs to tenant %s", ep->tenant);
    hl_endpoint_destroy(&ep);
  }
out:
  if (ep) {
    fetch->eps[fetch->neps++] = ep;
  } else {
    st->stats.corrupt++;
    if (hl_state_ratelog_ok(&st->corrupt_log, &sup))
      hl_warn("endpoint %s of tenant %s skipped: %s (%llu similar not logged)", id, fetch->tenant,
              err, (unsigned long long)sup);
  }
  free(fields);
  free(values);
  free(lens);
}

static void hl_state_hgetall_cb(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  hl_state_fetch_t *fetch = priv;
  hl_state_t *st = hl_state_reply_enter(ac, reply);
  const char *id = fetch->ids[fetch->next_id++];

  if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements % 2)
    hl_state_fetch_fail(fetch, reply);
  else if (reply->elements == 0)
    hl_debug("endpoint %s of tenant %s: hash gone (deleted meanwhile)", id, fetch->tenant);
  else if (!fetch->err)
    hl_state_ep_decode(fetch, id, reply);
  hl_state_fetch_reply_done(fetch);
  hl_state_reply_leave(st);
}

/* Queue HGETALL hl:ep:<id> for every member, pipelined. */
static void hl_state_fetch_endpoints(hl_state_fetch_t *fetch, redisReply *reply) {
  char key[HL_STATE_KEY_MAX];
  const char *argv[2] = {"HGETALL", key};

  fetch->ids = calloc(reply->elements, sizeof(*fetch->ids));
  fetch->eps = calloc(reply->elements, sizeof(*fetch->eps));
  if (!fetch->ids || !fetch->eps) {
    fetch->err = -ENOMEM;
    return;
  }
  for (size_t i = 0; i < reply->elements; i++) {
    redisReply *el = reply->element[i];

    if (el->type != REDIS_REPLY_STRING || el->len == 0 || el->len > HL_EP_ID_MAX)
      continue;
    snprintf(key, sizeof(key), "hl:ep:%s", el->str);
    fetch->ids[fetch->nids] = strdup(el->str);
    if (!fetch->ids[fetch->nids] ||
        hl_state_send(fetch->st, hl_state_hgetall_cb, fetch, 2, argv, NULL) != 0) {
      free(fetch->ids[fetch->nids]);
      fetch->err = fetch->err ? fetch->err : -ENOTCONN;
      return;
    }
    fetch->nids++;
    fetch->pending++;
  }
}

static void hl_state_members_cb(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  hl_state_fetch_t *fetch = priv;
  hl_state_t *st = hl_state_reply_enter(ac, reply);

  fetch->fetched_ms = hl_now_ms();
  if (!reply || reply->type != REDIS_REPLY_ARRAY)
    hl_state_fetch_fail(fetch, reply);
  else if (reply->elements > 0)
    hl_state_fetch_endpoints(fetch, reply);
  hl_state_fetch_reply_done(fetch);
  hl_state_reply_leave(st);
}

/* Start a fetch for ent; call (may be NULL: background refresh) waits on it. */
static int hl_state_fetch_start(hl_state_t *st, hl_subcache_entry_t *ent, hl_state_call_t *call) {
  hl_state_fetch_t *fetch = calloc(1, sizeof(*fetch));
  char key[HL_STATE_KEY_MAX];
  const char *argv[2] = {"SMEMBERS", key};
  int rc = -ENOMEM;

  if (!fetch)
    return rc;
  fetch->st = st;
  snprintf(fetch->tenant, sizeof(fetch->tenant), "%s", ent->tenant);
  snprintf(key, sizeof(key), "hl:tenant:%s:eps", ent->tenant);
  rc = hl_state_send(st, hl_state_members_cb, fetch, 2, argv, NULL);
  if (rc != 0) {
    free(fetch);
    return rc;
  }
  fetch->pending = 1;
  fetch->ent = ent;
  fetch->waiters = call;
  fetch->next = st->fetches;
  if (st->fetches)
    st->fetches->prev = fetch;
  st->fetches = fetch;
  ent->fetch = fetch;
  st->stats.fetches++;
  return 0;
}

static bool hl_state_tenant_ok(const char *tenant) {
  size_t len = tenant ? strlen(tenant) : 0;

  return len > 0 && len <= HL_TENANT_MAX;
}

hl_subs_tenant_t *hl_state_subs_get(hl_state_t *st, const char *tenant, hl_state_subs_cb *cb,
                                    void *opaque) {
  hl_state_call_t *call;
  hl_subcache_entry_t *ent = NULL;
  int rc = -EINVAL;

  st->stats.lookups++;
  if (hl_state_tenant_ok(tenant) && !st->closing)
    ent = hl_subcache_find(st->cache, tenant);
  if (ent && ent->snap) {
    if (hl_mono_ms() >= ent->fresh_until && !ent->fetch && hl_state_conn_usable(&st->cmd))
      hl_state_fetch_start(st, ent, NULL); /* stale: refresh in the background */
    st->stats.hits++;
    return hl_subs_tenant_hold(ent->snap);
  }
  call = hl_state_call_new(HL_CALL_SUBS, opaque);
  if (!call) {
    cb(NULL, -ENOMEM, opaque);
    return NULL;
  }
  call->cb.subs = cb;
  if (ent && ent->fetch) {
    hl_state_fetch_t *fetch = ent->fetch;

    call->next = fetch->waiters;
    fetch->waiters = call;
    return NULL;
  }
  if (hl_state_tenant_ok(tenant)) {
    rc = -ENOTCONN;
    if (hl_state_conn_usable(&st->cmd))
      ent = hl_subcache_get(st->cache, tenant);
  }
  if (ent)
    rc = hl_state_fetch_start(st, ent, call);
  if (rc != 0) {
    if (ent && !ent->snap && !ent->fetch)
      hl_subcache_remove(st->cache, ent);
    hl_state_defer(st, call, rc);
  }
  return NULL;
}

/* ---- done markers, recent attempts, disable ------------------------------------------ */

static int hl_state_reply_err(redisReply *reply) {
  if (!reply)
    return -ENOTCONN;
  return reply->type == REDIS_REPLY_ERROR ? -EIO : 0;
}

static void hl_state_done_check_cb(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  hl_state_call_t *call = priv;
  hl_state_t *st = hl_state_reply_enter(ac, reply);

  call->err = hl_state_reply_err(reply);
  if (!call->err && (reply->type != REDIS_REPLY_ARRAY || reply->elements != call->n))
    call->err = -EIO;
  for (size_t i = 0; !call->err && i < call->n; i++)
    call->done[i] = reply->element[i]->type != REDIS_REPLY_NIL;
  if (st->closing)
    call->err = -ECANCELED;
  hl_state_call_run(st, call);
  hl_state_reply_leave(st);
}

static void hl_state_ack_reply_cb(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  hl_state_call_t *call = priv;
  hl_state_t *st = hl_state_reply_enter(ac, reply);
  uint64_t sup;

  call->err = st->closing ? -ECANCELED : hl_state_reply_err(reply);
  if (reply && reply->type == REDIS_REPLY_ERROR && hl_state_ratelog_ok(&st->error_log, &sup))
    hl_warn("redis: %s (%llu similar not logged)", reply->str, (unsigned long long)sup);
  if (call->ep_id[0] && reply && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
    hl_info("endpoint %s disabled (version %lld)", call->ep_id, reply->integer);
  hl_state_call_run(st, call);
  hl_state_reply_leave(st);
}

void hl_state_done_check(hl_state_t *st, const char *event_id, const char *const *ep_ids, size_t n,
                         hl_state_done_cb *cb, void *opaque) {
  hl_state_call_t *call = hl_state_call_new(HL_CALL_DONE, opaque);
  const char **argv = calloc(n + 1, sizeof(*argv));
  char **keys = calloc(n + 1, sizeof(*keys));
  int rc = -ENOMEM;

  if (!call) {
    cb(NULL, 0, -ENOMEM, opaque);
    goto out;
  }
  call->cb.done = cb;
  call->n = n;
  call->done = calloc(n + 1, sizeof(*call->done));
  if (!argv || !keys || !call->done)
    goto out;
  argv[0] = "MGET";
  for (size_t i = 0; i < n; i++) {
    if (asprintf(&keys[i], "hl:done:%s:%s", event_id, ep_ids[i]) < 0) {
      keys[i] = NULL; /* undefined after a failure */
      goto out;
    }
    argv[i + 1] = keys[i];
  }
  rc = n ? hl_state_send(st, hl_state_done_check_cb, call, (int)n + 1, argv, NULL) : 0;
out:
  if (call && (rc != 0 || n == 0))
    hl_state_defer(st, call, rc);
  for (size_t i = 0; keys && i < n; i++)
    free(keys[i]);
  free(keys);
  free(argv);
}

static void hl_state_ack_send(hl_state_t *st, hl_state_call_t *call, int argc, const char **argv) {
  int rc = hl_state_send(st, hl_state_ack_reply_cb, call, argc, argv, NULL);

  if (rc != 0)
    hl_state_defer(st, call, rc);
}

void hl_state_done_mark(hl_state_t *st, const char *event_id, const char *ep_id, int64_t ttl_ms,
                        hl_state_ack_cb *cb, void *opaque) {
  hl_state_call_t *call = hl_state_call_new(HL_CALL_ACK, opaque);
  char key[HL_STATE_KEY_MAX], ttl[24];
  const char *argv[5] = {"SET", key, "1", "PX", ttl};

  if (!call) {
    if (cb)
      cb(-ENOMEM, opaque);
    return;
  }
  call->cb.ack = cb;
  snprintf(key, sizeof(key), "hl:done:%s:%s", event_id, ep_id);
  snprintf(ttl, sizeof(ttl), "%lld", (long long)(ttl_ms > 0 ? ttl_ms : 1));
  hl_state_ack_send(st, call, 5, argv);
}

void hl_state_endpoint_disable(hl_state_t *st, const char *ep_id, const char *reason,
                               hl_state_ack_cb *cb, void *opaque) {
  hl_state_call_t *call = hl_state_call_new(HL_CALL_ACK, opaque);
  char key[HL_STATE_KEY_MAX], health[HL_STATE_KEY_MAX], now[24];
  const char *argv[8] = {"EVAL", HL_STORE_LUA_STATUS, "2", key, health, "disabled", reason, now};

  if (!call) {
    if (cb)
      cb(-ENOMEM, opaque);
    return;
  }
  call->cb.ack = cb;
  snprintf(call->ep_id, sizeof(call->ep_id), "%s", ep_id);
  snprintf(key, sizeof(key), "hl:ep:%s", ep_id);
  snprintf(health, sizeof(health), "hl:health:%s", ep_id);
  snprintf(now, sizeof(now), "%lld", (long long)hl_now_ms());
  hl_state_ack_send(st, call, 8, argv);
}

void hl_state_recent_push(hl_state_t *st, const char *ep_id, const char *json, size_t len) {
  char key[HL_STATE_KEY_MAX], stop[24];
  const char *push[3] = {"LPUSH", key, json};
  size_t push_lens[3];
  const char *trim[4] = {"LTRIM", key, "0", stop};
  hl_state_call_t *c1 = hl_state_call_new(HL_CALL_ACK, NULL);
  hl_state_call_t *c2 = hl_state_call_new(HL_CALL_ACK, NULL);

  snprintf(key, sizeof(key), "hl:recent:%s", ep_id);
  snprintf(stop, sizeof(stop), "%lld", (long long)(st->recent_max - 1));
  push_lens[0] = 5;
  push_lens[1] = strlen(key);
  push_lens[2] = len;
  if (!c1 || !c2 || hl_state_send(st, hl_state_ack_reply_cb, c1, 3, push, push_lens) != 0) {
    free(c1);
    free(c2);
    return; /* fire and forget: dropped while Redis is unreachable */
  }
  if (hl_state_send(st, hl_state_ack_reply_cb, c2, 4, trim, NULL) != 0)
    free(c2);
}

/* ---- any command whose reply the caller reads (health.c's breaker scripts) ---------------- */

static void hl_state_reply_any_cb(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  hl_state_call_t *call = priv;
  hl_state_t *st = hl_state_reply_enter(ac, reply);
  uint64_t sup;

  call->err = st->closing ? -ECANCELED : hl_state_reply_err(reply);
  if (reply && reply->type == REDIS_REPLY_ERROR && hl_state_ratelog_ok(&st->error_log, &sup))
    hl_warn("redis: %s (%llu similar not logged)", reply->str, (unsigned long long)sup);
  if (call->err) {
    hl_state_call_run(st, call);
  } else {
    st->in_cb++;
    call->cb.reply(reply, 0, call->opaque);
    st->in_cb--;
    free(call);
  }
  hl_state_reply_leave(st);
}

void hl_state_command(hl_state_t *st, int argc, const char **argv, hl_state_reply_cb *cb,
                      void *opaque) {
  hl_state_call_t *call = hl_state_call_new(HL_CALL_REPLY, opaque);
  int rc;

  if (!call) {
    cb(NULL, -ENOMEM, opaque);
    return;
  }
  call->cb.reply = cb;
  rc = hl_state_send(st, hl_state_reply_any_cb, call, argc, argv, NULL);
  if (rc != 0)
    hl_state_defer(st, call, rc);
}
