/*
 * delivery.c - what happens to one consumed message: decode (invalid -> DLQ), route through the
 * tenant's subscriptions, skip pairs already done (hl:done), fan out one delivery per endpoint,
 * and handle each outcome: 2xx -> done marker; 410 -> disable; anything else -> the next retry
 * tier or the DLQ.  A message completes (hl_kafka_complete) when all its deliveries have.
 *
 * Owns hl_msg_t (one consumed message) and hl_dlv_t (one endpoint's delivery of it).  Writes
 * that gate completion (tier/DLQ records, done markers) are retried with backoff until they
 * succeed: nothing is completed before its outcome is durable.
 */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "dispatcher.h"
#include "health.h"
#include "log.h"
#include "ratelimit.h"
#include "record.h"
#include "util.h"

#define HL_BACKOFF_MIN_MS 100
#define HL_BACKOFF_MAX_MS 5000

typedef struct hl_msg {
  hl_disp_t *d;
  hl_part_t *part; /* held */
  int64_t offset;
  hl_record_t rec;        /* rec.ev: the event; for tier records also endpoint, attempts, history */
  bool is_record;         /* came from a retry tier */
  hl_subs_tenant_t *snap; /* held once routed */
  size_t pending;         /* deliveries not complete, +1 while routing */
  int64_t backoff_ms;
  struct event *timer; /* lookup / done-check retry */
  void (*retry_fn)(struct hl_msg *msg);
  const hl_endpoint_t **eps; /* routed endpoints (borrowed from snap) */
  size_t neps;
  LIST_ENTRY(hl_msg) live;  /* every message alive, freed at exit */
  LIST_HEAD(, hl_dlv) dlvs; /* its deliveries alive */
} hl_msg_t;

struct hl_epslot;

typedef struct hl_dlv {
  hl_msg_t *msg;
  struct hl_epslot *slot; /* held while the HTTP request runs */
  TAILQ_ENTRY(hl_dlv) link;
  struct hl_dlv_q *queue; /* the queue it waits in, or NULL */
  const hl_endpoint_t *ep;
  int attempt;   /* this attempt's number */
  char *history; /* owned JSON array text */
  int64_t backoff_ms;
  struct event *timer;
  void (*retry_fn)(struct hl_dlv *dlv);
  LIST_ENTRY(hl_dlv) live;
  bool admitted; /* health.c let it through (probe: as the half-open probe) */
  bool probe;
} hl_dlv_t;

TAILQ_HEAD(hl_dlv_q, hl_dlv);

/* Concurrency of one endpoint in this process, and the deliveries waiting for it (for its
 * max_in_flight, the process's, or a rate token). */
typedef struct hl_epslot {
  char id[HL_EP_ID_MAX + 1];
  int in_flight;
  struct hl_dlv_q queue;
  size_t nwait; /* in queue */
  struct hl_epslot *next;
  TAILQ_ENTRY(hl_epslot) ring; /* fairness: in ss->ring while it may start its head */
  bool in_ring;
} hl_epslot_t;

#define HL_SLOTS_BUCKETS 1024

/* delivery.c's private state: endpoint slots, the waiting queues, and what is alive. */
typedef struct hl_slots {
  hl_epslot_t *buckets[HL_SLOTS_BUCKETS];
  TAILQ_HEAD(, hl_epslot) ring; /* endpoints with waiting work, served round-robin */
  bool pumping;
  size_t nqueued;
  LIST_HEAD(, hl_msg) msgs;
  LIST_HEAD(, hl_write) writes;
} hl_slots_t;

static hl_slots_t *hl_slots(hl_disp_t *d);

/* A write that must succeed before a message completes: retried with backoff. */
typedef struct hl_write {
  hl_disp_t *d;
  char topic[HL_TOPIC_MAX];
  char key[64];
  char *val;
  size_t len;
  int64_t backoff_ms;
  struct event *timer;
  void (*done)(void *opaque);
  void *opaque;
  LIST_ENTRY(hl_write) live;
  bool tracked;
} hl_write_t;

static void hl_msg_route(hl_msg_t *msg);
static void hl_msg_check(hl_msg_t *msg);
static void hl_dlv_start(hl_dlv_t *dlv);
static bool hl_dlv_admit(hl_dlv_t *dlv);
static void hl_dlv_release(hl_dlv_t *dlv);

static int64_t hl_backoff_next(int64_t *b) {
  *b = *b ? *b * 2 : HL_BACKOFF_MIN_MS;
  if (*b > HL_BACKOFF_MAX_MS)
    *b = HL_BACKOFF_MAX_MS;
  return *b;
}

static void hl_timer_in(struct event *ev, int64_t ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

  evtimer_add(ev, &tv);
}

static double hl_rand01(void) {
  uint32_t r = 0;

  if (hl_rand_bytes(&r, sizeof(r)) != 0)
    return 0.5;
  return (double)r / 4294967296.0;
}

/* ---- durable writes ---- */

static void hl_write_send(hl_write_t *w);

static void hl_write_timer_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  hl_write_send(arg);
}

static void hl_write_free(hl_write_t *w) {
  if (w->tracked)
    LIST_REMOVE(w, live);
  if (w->timer)
    event_free(w->timer);
  free(w->val);
  free(w);
}

static void hl_write_dr(rd_kafka_resp_err_t err, void *opaque) {
  hl_write_t *w = opaque;

  if (w->d->stopping)
    return; /* freed by hl_delivery_destroy */
  if (err) {
    hl_warn("write to %s failed: %s; retrying", w->topic, rd_kafka_err2str(err));
    hl_timer_in(w->timer, hl_backoff_next(&w->backoff_ms));
    return;
  }
  w->done(w->opaque);
  hl_write_free(w);
}

static void hl_write_send(hl_write_t *w) {
  if (hl_kafka_produce(w->d, w->topic, w->key[0] ? w->key : NULL, w->val, w->len, hl_write_dr, w) !=
      0)
    hl_timer_in(w->timer, hl_backoff_next(&w->backoff_ms));
}

/* Steals val.  done(opaque) runs once the broker acknowledged the record. */
static void hl_write_durable(hl_disp_t *d, const char *topic, const char *key, char *val,
                             size_t len, void (*done)(void *), void *opaque) {
  hl_write_t *w = calloc(1, sizeof(*w));

  if (!w) {
    hl_error("out of memory: cannot hand off to %s; the message stays incomplete", topic);
    free(val);
    return;
  }
  w->d = d;
  snprintf(w->topic, sizeof(w->topic), "%s", topic);
  snprintf(w->key, sizeof(w->key), "%s", key ? key : "");
  w->val = val;
  w->len = len;
  w->done = done;
  w->opaque = opaque;
  w->timer = evtimer_new(d->base, hl_write_timer_cb, w);
  if (hl_slots(d)) {
    LIST_INSERT_HEAD(&d->slots->writes, w, live);
    w->tracked = true;
  }
  hl_write_send(w);
}

/* ---- messages ---- */

static void hl_msg_free(hl_msg_t *msg) {
  if (msg->d->slots)
    LIST_REMOVE(msg, live);
  if (msg->timer)
    event_free(msg->timer);
  hl_subs_tenant_release(&msg->snap);
  hl_record_clear(&msg->rec);
  free(msg->eps);
  hl_kafka_part_release(&msg->part);
  free(msg);
}

static void hl_msg_unref(hl_msg_t *msg) {
  hl_disp_t *d = msg->d;

  if (--msg->pending > 0)
    return;
  hl_kafka_complete(msg->part, msg->offset);
  d->msgs_pending--;
  hl_msg_free(msg);
}

static void hl_msg_timer_cb(evutil_socket_t fd, short what, void *arg) {
  hl_msg_t *msg = arg;

  (void)fd;
  (void)what;
  if (msg->part->revoked) {
    /* still routing (no delivery started) and no longer ours: the new owner re-consumes it */
    msg->d->msgs_pending--;
    hl_msg_free(msg);
    return;
  }
  msg->retry_fn(msg);
}

static void hl_msg_retry(hl_msg_t *msg, void (*fn)(hl_msg_t *)) {
  msg->retry_fn = fn;
  hl_metric_add(msg->d->m.lookup_waits, NULL, 1);
  hl_timer_in(msg->timer, hl_backoff_next(&msg->backoff_ms));
}

static void hl_msg_invalid_done(void *opaque) {
  hl_msg_unref(opaque);
}

static void hl_msg_invalid(hl_disp_t *d, hl_msg_t *msg, const rd_kafka_message_t *rkm,
                           const char *reason) {
  size_t len = 0;
  char *val = hl_record_invalid_json(rkm->payload, rkm->len, reason, msg->part->topic,
                                     rkm->partition, rkm->offset, &len);

  hl_metric_add(d->m.invalid, NULL, 1);
  hl_info("invalid event at %s[%d]@%lld to the DLQ: %s", msg->part->topic, (int)rkm->partition,
          (long long)rkm->offset, reason);
  if (!val) {
    hl_error("out of memory building a DLQ record; the message stays incomplete");
    return;
  }
  hl_metric_add(d->m.dlq_writes, "reason=\"invalid\"", 1);
  hl_write_durable(d, d->topic_dlq, NULL, val, len, hl_msg_invalid_done, msg);
}

/* An hookline.ping whose data names an endpoint goes to that endpoint only (the test button). */
static const char *hl_msg_ping_target(const hl_msg_t *msg, char *out, size_t outsz) {
  json_t *data;
  const char *id;

  if (strcmp(msg->rec.ev.type, "hookline.ping") != 0 || !msg->rec.ev.data)
    return NULL;
  data = json_loadb(msg->rec.ev.data, msg->rec.ev.data_len, 0, NULL);
  id = json_string_value(json_object_get(data, "endpoint_id"));
  if (id)
    snprintf(out, outsz, "%s", id);
  json_decref(data);
  return id ? out : NULL;
}

static void hl_msg_select(hl_msg_t *msg) {
  const hl_subs_tenant_t *snap = msg->snap;
  char target[HL_EP_ID_MAX + 8];
  const char *only =
      msg->is_record ? msg->rec.endpoint_id : hl_msg_ping_target(msg, target, sizeof(target));
  char about_buf[HL_EP_ID_MAX + 8];
  const char *about = hl_health_event_about(&msg->rec.ev, about_buf, sizeof(about_buf));
  size_t i;

  msg->eps = calloc(snap->neps ? snap->neps : 1, sizeof(*msg->eps));
  msg->neps = 0;
  for (i = 0; msg->eps && i < snap->neps; i++) {
    const hl_endpoint_t *ep = snap->eps[i];
    if (about && strcmp(ep->id, about) == 0)
      continue; /* an operational event never goes to the endpoint it is about */
    if (only ? strcmp(ep->id, only) == 0 : hl_endpoint_matches(ep, msg->rec.ev.type))
      msg->eps[msg->neps++] = ep;
  }
}

static hl_dlv_t *hl_dlv_new(hl_msg_t *msg, const hl_endpoint_t *ep);

static void hl_msg_fan_out(hl_msg_t *msg, const bool *done) {
  size_t i;

  for (i = 0; i < msg->neps; i++) {
    hl_dlv_t *dlv;
    if (done && done[i]) {
      hl_metric_add(msg->d->m.skipped_done, NULL, 1);
      continue;
    }
    dlv = hl_dlv_new(msg, msg->eps[i]);
    if (!dlv) {
      hl_error("out of memory starting a delivery; the message stays incomplete");
      msg->pending++; /* never completes: re-consumed after a restart */
      continue;
    }
    msg->pending++;
    hl_dlv_start(dlv);
  }
  hl_msg_unref(msg); /* the routing reference */
}

static void hl_msg_check_cb(const bool *done, size_t n, int err, void *opaque) {
  hl_msg_t *msg = opaque;

  if (msg->d->stopping)
    return; /* freed by hl_delivery_destroy */
  if (err || n != msg->neps) {
    /* Redis unreachable: deliver anyway (at least once); the markers only save duplicates of
     * re-consumed records, and waiting here would stop cached tenants too */
    hl_metric_add(msg->d->m.redis_errors, NULL, 1);
    hl_debug("done check for %s: error %d; delivering without it", msg->rec.ev.id, err);
    done = NULL;
  }
  msg->backoff_ms = 0;
  hl_msg_fan_out(msg, done);
}

static void hl_msg_check(hl_msg_t *msg) {
  const char **ids;
  size_t i;

  if (msg->neps == 0 || !msg->d->done_markers) {
    hl_msg_fan_out(msg, NULL);
    return;
  }
  ids = calloc(msg->neps, sizeof(*ids));
  if (!ids) {
    hl_msg_retry(msg, hl_msg_check);
    return;
  }
  for (i = 0; i < msg->neps; i++)
    ids[i] = msg->eps[i]->id;
  hl_state_done_check(msg->d->st, msg->rec.ev.id, ids, msg->neps, hl_msg_check_cb, msg);
  free(ids);
}

static void hl_msg_routed(hl_msg_t *msg, hl_subs_tenant_t *snap) {
  msg->snap = snap;
  msg->backoff_ms = 0;
  hl_msg_select(msg);
  if (msg->is_record && msg->neps == 0) {
    hl_info("endpoint %s of event %s no longer exists; retry dropped", msg->rec.endpoint_id,
            msg->rec.ev.id);
    hl_metric_add(msg->d->m.deliveries, "outcome=\"endpoint_deleted\"", 1);
  }
  hl_msg_check(msg);
}

static void hl_msg_subs_cb(hl_subs_tenant_t *snap, int err, void *opaque) {
  hl_msg_t *msg = opaque;

  if (msg->d->stopping) {
    hl_subs_tenant_release(&snap);
    return;
  }
  if (!snap) {
    hl_metric_add(msg->d->m.redis_errors, NULL, 1);
    hl_debug("tenant %s lookup failed (%d); event %s waits", msg->rec.ev.tenant, err,
             msg->rec.ev.id);
    hl_msg_retry(msg, hl_msg_route);
    return;
  }
  hl_msg_routed(msg, snap);
}

static void hl_msg_route(hl_msg_t *msg) {
  hl_subs_tenant_t *snap = hl_state_subs_get(msg->d->st, msg->rec.ev.tenant, hl_msg_subs_cb, msg);

  if (snap)
    hl_msg_routed(msg, snap);
}

void hl_delivery_on_message(hl_disp_t *d, hl_part_t *part, const rd_kafka_message_t *rkm) {
  hl_msg_t *msg = calloc(1, sizeof(*msg));
  char err[256];

  if (!msg) {
    hl_error("out of memory taking %s[%d]@%lld; it stays incomplete", part->topic,
             (int)part->partition, (long long)rkm->offset);
    return;
  }
  msg->d = d;
  LIST_INIT(&msg->dlvs);
  if (!hl_slots(d)) {
    hl_error("out of memory taking %s[%d]@%lld; it stays incomplete", part->topic,
             (int)part->partition, (long long)rkm->offset);
    free(msg);
    return;
  }
  LIST_INSERT_HEAD(&d->slots->msgs, msg, live);
  msg->part = part;
  part->refcnt++;
  msg->offset = rkm->offset;
  msg->pending = 1;
  msg->timer = evtimer_new(d->base, hl_msg_timer_cb, msg);
  msg->is_record = part->tier >= 0;
  if (msg->is_record) {
    if (hl_record_parse(rkm->payload, rkm->len, &msg->rec, err, sizeof(err)) != 0) {
      hl_msg_invalid(d, msg, rkm, err);
      return;
    }
    if (msg->rec.due_ms > hl_now_ms() + 5) {
      /* not due: forget it, rewind, wait (the window never saw it complete) */
      hl_ackwin_forget_last(part->aw, rkm->offset);
      hl_kafka_wait_due(part, rkm->offset, msg->rec.due_ms);
      d->msgs_pending--;
      hl_msg_free(msg);
      return;
    }
  } else if (hl_event_from_message(rkm, d->max_bytes, &msg->rec.ev, err, sizeof(err)) != 0) {
    hl_msg_invalid(d, msg, rkm, err);
    return;
  }
  hl_msg_route(msg);
}

/* ---- deliveries ---- */

static void hl_dlv_timer_cb(evutil_socket_t fd, short what, void *arg) {
  hl_dlv_t *dlv = arg;

  (void)fd;
  (void)what;
  dlv->retry_fn(dlv);
}

static hl_dlv_t *hl_dlv_new(hl_msg_t *msg, const hl_endpoint_t *ep) {
  hl_dlv_t *dlv = calloc(1, sizeof(*dlv));

  if (!dlv)
    return NULL;
  dlv->msg = msg;
  dlv->ep = ep;
  dlv->attempt = msg->is_record ? msg->rec.attempt + 1 : 1;
  if (msg->is_record && msg->rec.history)
    dlv->history = strdup(msg->rec.history);
  dlv->timer = evtimer_new(msg->d->base, hl_dlv_timer_cb, dlv);
  if (!dlv->timer) {
    free(dlv->history);
    free(dlv);
    return NULL;
  }
  LIST_INSERT_HEAD(&msg->dlvs, dlv, live);
  msg->d->dlv_in_flight++;
  return dlv;
}

static void hl_dlv_finish(hl_dlv_t *dlv) {
  hl_msg_t *msg = dlv->msg;

  msg->d->dlv_in_flight--;
  LIST_REMOVE(dlv, live);
  event_free(dlv->timer);
  free(dlv->history);
  free(dlv);
  hl_msg_unref(msg);
}

static void hl_dlv_finish_cb(void *opaque) {
  hl_dlv_finish(opaque);
}

/* Log the attempt: <p>.attempts (key endpoint id) and hl:recent:<ep>; returns the JSON (owned). */
static char *hl_dlv_log_attempt(hl_dlv_t *dlv, const hl_attempt_t *at) {
  hl_disp_t *d = dlv->msg->d;
  size_t len = 0;
  char *json = hl_attempt_to_json(at, &len);

  if (!json)
    return NULL;
  hl_kafka_produce(d, d->topic_attempts, dlv->ep->id, json, len, NULL, NULL);
  hl_state_recent_push(d->st, dlv->ep->id, json, len);
  return json;
}

static void hl_dlv_handoff(hl_dlv_t *dlv, const char *topic, int attempts_made, int64_t due_ms,
                           const char *reason);

/* The endpoint is disabled: record the skip, keep the delivery in the DLQ for a replay. */
static void hl_dlv_disabled(hl_dlv_t *dlv) {
  hl_disp_t *d = dlv->msg->d;
  const hl_event_t *ev = &dlv->msg->rec.ev;
  char why[256];
  hl_attempt_t at = {ev->id, dlv->ep->id, ev->tenant, dlv->attempt, hl_now_ms(), 0, 0, "skipped",
                     why,    NULL,        0};

  snprintf(why, sizeof(why), "endpoint_disabled: %s",
           dlv->ep->disabled_reason ? dlv->ep->disabled_reason : "disabled");
  free(hl_dlv_log_attempt(dlv, &at));
  hl_metric_add(d->m.deliveries, "outcome=\"skipped\"", 1);
  hl_health_skipped(d->health, "endpoint_disabled");
  hl_metric_add(d->m.dlq_writes, "reason=\"endpoint_disabled\"", 1);
  hl_dlv_handoff(dlv, d->topic_dlq, dlv->attempt - 1, 0, "endpoint_disabled");
}

/* Hand the delivery to a tier topic (or the DLQ when reason != NULL). */
static void hl_dlv_handoff(hl_dlv_t *dlv, const char *topic, int attempts_made, int64_t due_ms,
                           const char *reason) {
  hl_msg_t *msg = dlv->msg;
  hl_record_t rec;
  size_t len = 0;
  char *val;

  memset(&rec, 0, sizeof(rec));
  rec.ev = msg->rec.ev; /* borrowed: not cleared below */
  snprintf(rec.endpoint_id, sizeof(rec.endpoint_id), "%s", dlv->ep->id);
  rec.attempt = attempts_made;
  rec.due_ms = due_ms;
  rec.history = dlv->history;
  rec.reason = (char *)reason;
  val = hl_record_to_json(&rec, &len);
  if (!val) {
    hl_error("out of memory building a retry record; event %s stays incomplete", msg->rec.ev.id);
    return;
  }
  hl_write_durable(msg->d, topic, dlv->ep->id, val, len, hl_dlv_finish_cb, dlv);
}

static void hl_dlv_handoff_first(hl_dlv_t *dlv) {
  hl_disp_t *d = dlv->msg->d;
  size_t t = hl_tiers_first_topic(d->tiers);
  char lbl[64];

  snprintf(lbl, sizeof(lbl), "tier=\"%s\"", hl_tiers_topic_suffix(d->tiers, t));
  hl_metric_add(d->m.retry_writes, lbl, 1);
  hl_dlv_handoff(dlv, d->tier_topics[t], dlv->attempt - 1,
                 hl_now_ms() + hl_tiers_delay_ms(d->tiers, 0), NULL);
}

static void hl_dlv_mark(hl_dlv_t *dlv);

static void hl_dlv_mark_cb(int err, void *opaque) {
  hl_dlv_t *dlv = opaque;

  if (dlv->msg->d->stopping)
    return;
  if (err) {
    hl_metric_add(dlv->msg->d->m.redis_errors, NULL, 1);
    hl_debug("done marker for %s/%s: error %d; retrying", dlv->msg->rec.ev.id, dlv->ep->id, err);
    dlv->retry_fn = hl_dlv_mark;
    hl_timer_in(dlv->timer, hl_backoff_next(&dlv->backoff_ms));
    return;
  }
  hl_dlv_finish(dlv);
}

static void hl_dlv_mark(hl_dlv_t *dlv) {
  hl_disp_t *d = dlv->msg->d;

  if (!d->done_markers) {
    hl_dlv_finish(dlv);
    return;
  }
  hl_state_done_mark(d->st, dlv->msg->rec.ev.id, dlv->ep->id, d->done_ttl_ms, hl_dlv_mark_cb, dlv);
}

static void hl_dlv_disabled_cb(int err, void *opaque) {
  hl_dlv_t *dlv = opaque;

  if (dlv->msg->d->stopping)
    return;
  if (err)
    hl_warn("disabling endpoint %s after 410: error %d", dlv->ep->id, err);
  hl_dlv_finish(dlv);
}

static void hl_dlv_failed(hl_dlv_t *dlv, const hl_http_result_t *res) {
  hl_disp_t *d = dlv->msg->d;
  hl_tiers_next_t next;
  char reason[512], lbl[64];

  if (hl_tiers_next(d->tiers, dlv->attempt, res->retry_after_ms, hl_now_ms(), hl_rand01(), &next) !=
      0) {
    if (res->status)
      snprintf(reason, sizeof(reason), "retries exhausted after %d attempts: last HTTP %d",
               dlv->attempt, res->status);
    else
      snprintf(reason, sizeof(reason), "retries exhausted after %d attempts: last %s: %s",
               dlv->attempt, hl_http_outcome_str(res->outcome), res->error ? res->error : "");
    hl_info("event %s to endpoint %s: %s; to the DLQ", dlv->msg->rec.ev.id, dlv->ep->id, reason);
    hl_metric_add(d->m.dlq_writes, "reason=\"exhausted\"", 1);
    hl_dlv_handoff(dlv, d->topic_dlq, dlv->attempt, 0, reason);
    return;
  }
  snprintf(lbl, sizeof(lbl), "tier=\"%s\"", hl_tiers_topic_suffix(d->tiers, next.topic));
  hl_metric_add(d->m.retry_writes, lbl, 1);
  hl_dlv_handoff(dlv, d->tier_topics[next.topic], dlv->attempt, next.due_ms, NULL);
}

static void hl_dlv_metrics(hl_dlv_t *dlv, const hl_http_result_t *res) {
  hl_disp_t *d = dlv->msg->d;
  char lbl[64];

  snprintf(lbl, sizeof(lbl), "outcome=\"%s\"", hl_http_outcome_str(res->outcome));
  hl_metric_add(d->m.deliveries, lbl, 1);
  hl_metric_observe(d->m.attempt_latency, NULL, (double)res->latency_us / 1e6);
  if (res->outcome == HL_HTTP_OK && dlv->msg->rec.ev.ts_ms > 0)
    hl_metric_observe(d->m.e2e_latency, NULL,
                      (double)(hl_now_ms() - dlv->msg->rec.ev.ts_ms) / 1000.0);
}

static void hl_dlv_http_cb(const hl_http_result_t *res, void *opaque) {
  hl_dlv_t *dlv = opaque;
  const hl_event_t *ev = &dlv->msg->rec.ev;
  hl_attempt_t at = {ev->id,
                     dlv->ep->id,
                     ev->tenant,
                     dlv->attempt,
                     res->ts_ms,
                     res->status,
                     res->latency_us / 1000,
                     hl_http_outcome_str(res->outcome),
                     res->error && *res->error ? res->error : NULL,
                     res->excerpt,
                     res->excerpt_len};
  char *json;

  if (dlv->msg->d->stopping)
    return;
  hl_dlv_release(dlv);
  if (dlv->msg->d->handed_off && res->outcome == HL_HTTP_ERROR) {
    hl_dlv_handoff_first(dlv); /* cut by the drain: no attempt used */
    return;
  }
  hl_dlv_metrics(dlv, res);
  if (res->outcome != HL_HTTP_GONE)
    hl_health_outcome(dlv->msg->d->health, dlv->ep, res->outcome == HL_HTTP_OK, dlv->probe);
  json = hl_dlv_log_attempt(dlv, &at);
  if (json && res->outcome != HL_HTTP_OK) {
    hl_record_t tmp = {.history = dlv->history};
    if (hl_record_history_add(&tmp, json) == 0)
      dlv->history = tmp.history;
  }
  free(json);
  if (res->outcome == HL_HTTP_OK) {
    hl_dlv_mark(dlv);
  } else if (res->outcome == HL_HTTP_GONE) {
    hl_info("endpoint %s answered 410: disabling it", dlv->ep->id);
    hl_health_disable(dlv->msg->d->health, dlv->ep, "gone", "endpoint answered 410 Gone",
                      hl_dlv_disabled_cb, dlv);
  } else {
    hl_dlv_failed(dlv, res);
  }
}

/* ---- concurrency: per endpoint and per process ---- */

static unsigned hl_slots_hash(const char *id) {
  unsigned h = 5381;

  while (*id)
    h = h * 33 + (unsigned char)*id++;
  return h % HL_SLOTS_BUCKETS;
}

static hl_slots_t *hl_slots(hl_disp_t *d) {
  if (!d->slots) {
    d->slots = calloc(1, sizeof(*d->slots));
    if (d->slots)
      TAILQ_INIT(&d->slots->ring);
  }
  return d->slots;
}

static hl_epslot_t *hl_slot_get(hl_slots_t *ss, const char *id) {
  hl_epslot_t **pp = &ss->buckets[hl_slots_hash(id)], *slot;

  for (slot = *pp; slot; slot = slot->next) {
    if (strcmp(slot->id, id) == 0)
      return slot;
  }
  slot = calloc(1, sizeof(*slot));
  if (!slot)
    return NULL;
  snprintf(slot->id, sizeof(slot->id), "%s", id);
  TAILQ_INIT(&slot->queue);
  slot->next = *pp;
  *pp = slot;
  return slot;
}

static hl_epslot_t *hl_slot_find(hl_slots_t *ss, const char *id) {
  hl_epslot_t *slot;

  for (slot = ss->buckets[hl_slots_hash(id)]; slot; slot = slot->next) {
    if (strcmp(slot->id, id) == 0)
      return slot;
  }
  return NULL;
}

/* ---- fairness: endpoints with waiting work take turns (fair.c would be its own module once
 * delivery.c's queues move out; kept here so the hooks stay small) ---- */

static void hl_ring_add(hl_slots_t *ss, hl_epslot_t *slot) {
  if (slot->in_ring || TAILQ_EMPTY(&slot->queue))
    return;
  TAILQ_INSERT_TAIL(&ss->ring, slot, ring);
  slot->in_ring = true;
}

static void hl_ring_del(hl_slots_t *ss, hl_epslot_t *slot) {
  if (!slot->in_ring)
    return;
  TAILQ_REMOVE(&ss->ring, slot, ring);
  slot->in_ring = false;
}

static void hl_slot_maybe_free(hl_slots_t *ss, hl_epslot_t *slot) {
  hl_epslot_t **pp = &ss->buckets[hl_slots_hash(slot->id)];

  if (slot->in_flight > 0 || !TAILQ_EMPTY(&slot->queue))
    return;
  hl_ring_del(ss, slot);
  for (; *pp; pp = &(*pp)->next) {
    if (*pp == slot) {
      *pp = slot->next;
      free(slot);
      return;
    }
  }
}

static void hl_dlv_enqueue(hl_slots_t *ss, hl_dlv_t *dlv, hl_epslot_t *slot) {
  TAILQ_INSERT_TAIL(&slot->queue, dlv, link);
  dlv->queue = &slot->queue;
  slot->nwait++;
  ss->nqueued++;
}

static void hl_dlv_dequeue(hl_slots_t *ss, hl_epslot_t *slot, hl_dlv_t *dlv) {
  TAILQ_REMOVE(dlv->queue, dlv, link);
  dlv->queue = NULL;
  slot->nwait--;
  ss->nqueued--;
}

static void hl_dlv_send(hl_dlv_t *dlv);
static bool hl_slot_admit(hl_disp_t *d, hl_epslot_t *slot);

/* Start what waits, one delivery per endpoint in turn, while the process has slots. */
static void hl_slots_pump(hl_disp_t *d) {
  hl_slots_t *ss = d->slots;
  hl_epslot_t *slot;

  if (!ss || ss->pumping)
    return; /* a send that failed at once re-entered: the outer loop goes on */
  ss->pumping = true;
  while (d->http_in_flight < d->max_in_flight && (slot = TAILQ_FIRST(&ss->ring)) != NULL) {
    hl_ring_del(ss, slot);
    if (hl_slot_admit(d, slot))
      hl_ring_add(ss, slot); /* to the back: the others go first */
    hl_slot_maybe_free(ss, slot);
  }
  ss->pumping = false;
}

/* The HTTP request ended: give its slots back. */
static void hl_dlv_release(hl_dlv_t *dlv) {
  hl_disp_t *d = dlv->msg->d;
  hl_epslot_t *slot = dlv->slot;

  if (!slot)
    return;
  dlv->slot = NULL;
  slot->in_flight--;
  d->http_in_flight--;
  hl_ring_add(d->slots, slot);
  if (!d->slots->pumping)
    hl_slot_maybe_free(d->slots, slot);
  hl_slots_pump(d);
}

void hl_delivery_spill(hl_disp_t *d, const hl_part_t *part) {
  hl_slots_t *ss = d->slots;
  hl_epslot_t *slot, *next;
  hl_dlv_t *dlv, *tmp;
  size_t i, n = 0;

  if (!ss)
    return;
  for (i = 0; i < HL_SLOTS_BUCKETS; i++) {
    for (slot = ss->buckets[i]; slot; slot = next) {
      next = slot->next;
      for (dlv = TAILQ_FIRST(&slot->queue); dlv; dlv = tmp) {
        tmp = TAILQ_NEXT(dlv, link);
        if (part && dlv->msg->part != part)
          continue;
        hl_dlv_dequeue(ss, slot, dlv);
        hl_dlv_handoff_first(dlv);
        n++;
      }
      hl_slot_maybe_free(ss, slot);
    }
  }
  if (n) {
    hl_metric_add(d->m.spilled, NULL, (double)n);
    hl_info("spilled %zu waiting deliveries to the first retry tier%s", n,
            part ? " (an endpoint backlog filled an ack window)" : "");
  }
}

/* After the loop and after Redis/HTTP callbacks were cancelled (d->stopping): free what is left
 * (records that stay uncommitted and are consumed again by the next owner). */
void hl_delivery_destroy(hl_disp_t *d) {
  hl_slots_t *ss = d->slots;
  hl_epslot_t *slot, *next;
  hl_msg_t *msg;
  hl_dlv_t *dlv;
  size_t i;

  if (!ss)
    return;
  while (!LIST_EMPTY(&ss->writes))
    hl_write_free(LIST_FIRST(&ss->writes));
  while ((msg = LIST_FIRST(&ss->msgs)) != NULL) {
    while ((dlv = LIST_FIRST(&msg->dlvs)) != NULL) {
      LIST_REMOVE(dlv, live);
      event_free(dlv->timer);
      free(dlv->history);
      free(dlv);
    }
    hl_msg_free(msg);
  }
  for (i = 0; i < HL_SLOTS_BUCKETS; i++) {
    for (slot = ss->buckets[i]; slot; slot = next) {
      next = slot->next;
      free(slot);
    }
  }
  free(ss);
  d->slots = NULL;
}

/* ---- circuit breaker (health.c) ---- */

/* Open breaker: no HTTP; the attempt is recorded (error breaker_open) and the delivery moves to
 * the next retry tier (or the DLQ after the last). */
static void hl_dlv_short_circuit(hl_dlv_t *dlv) {
  const hl_event_t *ev = &dlv->msg->rec.ev;
  hl_attempt_t at = {ev->id,         dlv->ep->id, ev->tenant, dlv->attempt,
                     hl_now_ms(),    0,           0,          "short_circuited",
                     "breaker_open", NULL,        0};
  hl_http_result_t res;
  char *json = hl_dlv_log_attempt(dlv, &at);

  if (json) {
    hl_record_t tmp = {.history = dlv->history};
    if (hl_record_history_add(&tmp, json) == 0)
      dlv->history = tmp.history;
  }
  free(json);
  memset(&res, 0, sizeof(res));
  res.outcome = HL_HTTP_ERROR;
  res.error = "breaker_open";
  res.ts_ms = at.ts_ms;
  hl_dlv_failed(dlv, &res);
}

static void hl_dlv_admit_cb(hl_health_admit_t res, void *opaque) {
  hl_dlv_t *dlv = opaque;

  if (res == HL_HEALTH_OPEN) {
    hl_dlv_short_circuit(dlv);
    return;
  }
  dlv->admitted = true;
  dlv->probe = res == HL_HEALTH_PROBE;
  hl_dlv_start(dlv);
}

/* true: go on; false: short-circuited, or hl_dlv_admit_cb follows. */
static bool hl_dlv_admit(hl_dlv_t *dlv) {
  hl_health_admit_t res = hl_health_admit(dlv->msg->d->health, dlv->ep, hl_dlv_admit_cb, dlv);

  if (res == HL_HEALTH_WAIT)
    return false;
  if (res == HL_HEALTH_OPEN) {
    hl_dlv_short_circuit(dlv);
    return false;
  }
  dlv->admitted = true;
  dlv->probe = res == HL_HEALTH_PROBE;
  return true;
}

static int hl_dlv_cap(const hl_disp_t *d, const hl_endpoint_t *ep) {
  return ep->max_in_flight > 0 ? ep->max_in_flight : d->ep_max_in_flight;
}

/* Take the endpoint's and the process's slot and send. */
static void hl_dlv_go(hl_disp_t *d, hl_epslot_t *slot, hl_dlv_t *dlv) {
  slot->in_flight++;
  d->http_in_flight++;
  dlv->slot = slot;
  hl_dlv_send(dlv);
}

/* ---- rate limits (ratelimit.c): a delivery whose turn is 1 s or more away waits in the retry
 * tier of that delay instead of the ack window, without using up an attempt ---- */

static void hl_dlv_defer(hl_dlv_t *dlv, int64_t wait_ms) {
  hl_disp_t *d = dlv->msg->d;
  int64_t due = hl_rl_defer_due(d->rl, dlv->ep, wait_ms);
  size_t t = 0, i;
  char lbl[64];

  for (i = 0; i < hl_tiers_topic_count(d->tiers); i++) {
    if (hl_tiers_topic_delay_ms(d->tiers, i) <= due - hl_now_ms())
      t = i;
  }
  snprintf(lbl, sizeof(lbl), "tier=\"%s\"", hl_tiers_topic_suffix(d->tiers, t));
  hl_metric_add(d->m.retry_writes, lbl, 1);
  hl_metric_add(d->m.rate_deferred, NULL, 1);
  hl_dlv_handoff(dlv, d->tier_topics[t], dlv->attempt - 1, due, NULL);
}

/* The endpoint's next token is wait_ms away (>= 1 s): defer everything waiting for it. */
static void hl_slot_defer(hl_disp_t *d, hl_epslot_t *slot, int64_t wait_ms) {
  hl_dlv_t *dlv;

  while ((dlv = TAILQ_FIRST(&slot->queue)) != NULL) {
    hl_dlv_dequeue(d->slots, slot, dlv);
    hl_dlv_defer(dlv, wait_ms); /* spread out behind each other by hl_rl_defer_due */
  }
}

/* Start slot's head if its endpoint cap and a rate token allow (the caller checked the process
 * cap).  A refused token: the limiter calls hl_delivery_rate_ready later. */
static bool hl_slot_admit(hl_disp_t *d, hl_epslot_t *slot) {
  hl_dlv_t *dlv = TAILQ_FIRST(&slot->queue);
  int64_t wait_ms = 0;

  if (!dlv || slot->in_flight >= hl_dlv_cap(d, dlv->ep))
    return false;
  if (dlv->ep->rate_per_sec > 0 && !hl_rl_take(d->rl, dlv->ep, slot->nwait, &wait_ms)) {
    if (wait_ms >= HL_RL_LOCAL_WAIT_MAX_MS)
      hl_slot_defer(d, slot, wait_ms);
    return false;
  }
  hl_dlv_dequeue(d->slots, slot, dlv);
  hl_dlv_go(d, slot, dlv);
  return true;
}

void hl_delivery_rate_ready(const char *ep_id, void *opaque) {
  hl_disp_t *d = opaque;
  hl_epslot_t *slot;

  if (d->stopping || !d->slots)
    return;
  slot = hl_slot_find(d->slots, ep_id);
  if (!slot)
    return;
  hl_ring_add(d->slots, slot);
  hl_slots_pump(d);
}

/* A delivery that cannot start now: count why, and wait in its endpoint's queue (or in the
 * retry tier when its rate-limited turn is 1 s or more away, or its window is full). */
static void hl_dlv_wait(hl_disp_t *d, hl_epslot_t *slot, hl_dlv_t *dlv, bool rate_refused,
                        int64_t wait_ms) {
  const hl_endpoint_t *ep = dlv->ep;
  bool at_cap = slot->in_flight >= hl_dlv_cap(d, ep);
  bool rate_wait = rate_refused || (ep->rate_per_sec > 0 && !at_cap && slot->nwait > 0);
  int64_t turn_ms = wait_ms;

  if (ep->rate_per_sec > 0)
    turn_ms += (int64_t)((double)slot->nwait * 1000.0 / ep->rate_per_sec);

  if (dlv->msg->part->paused_full) {
    hl_metric_add(d->m.spilled, NULL, 1); /* its window is already full: do not wait in it */
    hl_dlv_handoff_first(dlv);
    hl_slot_maybe_free(d->slots, slot);
    return;
  }
  if (rate_wait)
    hl_metric_add(d->m.rate_limited, NULL, 1);
  else
    hl_metric_add(d->m.queued, at_cap ? "cap=\"endpoint\"" : "cap=\"process\"", 1);
  if (rate_wait && turn_ms >= HL_RL_LOCAL_WAIT_MAX_MS) {
    hl_dlv_defer(dlv, turn_ms);
    hl_slot_maybe_free(d->slots, slot);
    return;
  }
  hl_dlv_enqueue(d->slots, dlv, slot);
  if (!rate_refused)
    hl_ring_add(d->slots, slot);
}

static void hl_dlv_start(hl_dlv_t *dlv) {
  hl_disp_t *d = dlv->msg->d;
  const hl_endpoint_t *ep = dlv->ep;
  hl_slots_t *ss = hl_slots(d);
  hl_epslot_t *slot;
  int64_t wait_ms = 0;

  if (!ep->enabled) {
    hl_dlv_disabled(dlv);
    return;
  }
  if (d->handed_off || !d->http) {
    hl_dlv_handoff_first(dlv);
    return;
  }
  if (!dlv->admitted && !hl_dlv_admit(dlv))
    return; /* breaker open (moved on), or waiting for the probe lease */
  slot = ss ? hl_slot_get(ss, ep->id) : NULL;
  if (!slot) {
    hl_dlv_send(dlv); /* out of memory for bookkeeping: send uncapped rather than stall */
    return;
  }
  if (slot->nwait > 0 || slot->in_flight >= hl_dlv_cap(d, ep) ||
      d->http_in_flight >= d->max_in_flight) {
    hl_dlv_wait(d, slot, dlv, false, 0);
    return;
  }
  if (ep->rate_per_sec > 0 && !hl_rl_take(d->rl, ep, 1, &wait_ms)) {
    hl_dlv_wait(d, slot, dlv, true, wait_ms);
    return;
  }
  hl_dlv_go(d, slot, dlv);
}

static void hl_dlv_send(hl_dlv_t *dlv) {
  hl_disp_t *d = dlv->msg->d;
  const hl_endpoint_t *ep = dlv->ep;
  hl_sign_key_t keys[HL_EP_MAX_SECRETS];
  hl_http_req_t req;

  memset(&req, 0, sizeof(req));
  req.url = ep->url;
  req.msg_id = dlv->msg->rec.ev.id;
  req.body = dlv->msg->rec.ev.body;
  req.body_len = dlv->msg->rec.ev.body_len;
  req.nkeys = hl_endpoint_sign_keys(ep, hl_now_ms(), keys, HL_EP_MAX_SECRETS);
  req.keys = keys;
  req.headers = (const char *const *)ep->headers;
  req.nheaders = ep->nheaders;
  req.timeout_ms = ep->timeout_ms;
  req.tls_cert = ep->tls_cert;
  req.tls_key = ep->tls_key;
  if (hl_http_send(d->http, &req, hl_dlv_http_cb, dlv) != 0) {
    hl_warn("delivery of %s to %s refused by the HTTP engine; handing off", req.msg_id, ep->id);
    hl_dlv_release(dlv);
    hl_dlv_handoff_first(dlv);
  }
}

void hl_delivery_metrics_init(hl_disp_t *d) {
  static const double lat[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30};
  static const double e2e[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600};
  hl_metrics_t *m = d->metrics;

  d->m.consumed = hl_metrics_counter(m, "hookline_events_consumed_total",
                                     "Records consumed, by topic kind (events, retry).");
  d->m.invalid = hl_metrics_counter(m, "hookline_events_invalid_total",
                                    "Events that failed to decode or validate (sent to the DLQ).");
  d->m.deliveries =
      hl_metrics_counter(m, "hookline_deliveries_total", "Delivery attempts by outcome.");
  d->m.attempt_latency = hl_metrics_histogram(m, "hookline_attempt_duration_seconds",
                                              "HTTP attempt latency.", lat, 13);
  d->m.e2e_latency = hl_metrics_histogram(m, "hookline_end_to_end_seconds",
                                          "Event timestamp to a 2xx answer.", e2e, 13);
  d->m.in_flight =
      hl_metrics_gauge(m, "hookline_deliveries_in_flight", "Deliveries started and not complete.");
  d->m.pending = hl_metrics_gauge(m, "hookline_messages_pending",
                                  "Consumed records not yet complete (all ack windows).");
  d->m.window_depth =
      hl_metrics_gauge(m, "hookline_ack_window_depth", "Ack window depth per assigned partition.");
  d->m.assigned = hl_metrics_gauge(m, "hookline_partitions_assigned", "Partitions assigned.");
  d->m.retry_writes = hl_metrics_counter(m, "hookline_retry_writes_total",
                                         "Deliveries handed to a retry tier, by tier.");
  d->m.dlq_writes =
      hl_metrics_counter(m, "hookline_dlq_writes_total", "Records written to the DLQ, by reason.");
  d->m.skipped_done = hl_metrics_counter(
      m, "hookline_deliveries_already_done_total",
      "Deliveries of re-consumed records skipped because hl:done says they succeeded.");
  d->m.lookup_waits = hl_metrics_counter(m, "hookline_redis_waits_total",
                                         "Lookups/checks retried later because Redis failed.");
  d->m.queued = hl_metrics_counter(m, "hookline_deliveries_queued_total",
                                   "Deliveries that waited for a concurrency slot, by cap.");
  d->m.spilled = hl_metrics_counter(
      m, "hookline_deliveries_spilled_total",
      "Waiting deliveries handed to the first retry tier early (full window, drain).");
  d->m.conns_opened = hl_metrics_counter(
      m, "hookline_http_connections_opened_total",
      "New connections to endpoints (the rest of the attempts reused kept-alive ones).");
  d->m.redis_errors = hl_metrics_counter(m, "hookline_redis_errors_total", "Redis errors.");
  d->m.kafka_errors = hl_metrics_counter(m, "hookline_kafka_errors_total", "Kafka errors.");
}
