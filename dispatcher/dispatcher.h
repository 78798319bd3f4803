/*
 * dispatcher.h - internals shared by the dispatcher's modules (librdkafka's rdkafka_int.h
 * role): the process state hl_disp_t that main.c owns, the per-partition state hl_part_t that
 * kafka.c owns, and the calls between kafka.c (consume, produce, offsets), delivery.c (what
 * happens to one message) and server.c (/metrics, /healthz, /readyz).
 *
 * Everything runs on one libevent loop (DESIGN.md §3).
 */
#ifndef HL_DISPATCHER_H
#define HL_DISPATCHER_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "ackwin.h"
#include "config.h"
#include "http.h"
#include "metrics.h"
#include "state.h"
#include "tiers.h"

struct event_base;
struct event;
struct evhttp;

#define HL_TOPIC_MAX 256

/* One assigned partition.  Messages hold a reference so a revoked partition outlives its work. */
typedef struct hl_part {
  char topic[HL_TOPIC_MAX];
  int32_t partition;
  int tier; /* distinct tier topic index, -1 for <p>.events */
  hl_ackwin_t *aw;
  bool revoked;     /* no longer ours: completions store nothing */
  bool paused_full; /* paused because the ack window is full */
  bool waiting_due; /* tier partition paused until its head is due */
  struct event *due_timer;
  struct hl_disp *d;
  int refcnt;
  struct hl_part *next;
} hl_part_t;

typedef struct hl_disp {
  struct event_base *base;
  hl_conf_t *conf;
  hl_tiers_t *tiers;
  char topic_events[HL_TOPIC_MAX], topic_dlq[HL_TOPIC_MAX], topic_attempts[HL_TOPIC_MAX];
  char tier_topics[HL_TIERS_MAX][HL_TOPIC_MAX];

  rd_kafka_t *consumer, *producer;
  rd_kafka_queue_t *cq, *pq;
  int cpipe[2], ppipe[2];
  struct event *ev_cq, *ev_pq, *ev_tick;
  hl_part_t *parts; /* assigned partitions */
  size_t nassigned;
  bool kafka_up;

  hl_http_t *http;
  hl_state_t *st;
  struct evhttp *httpd;
  hl_metrics_t *metrics;

  size_t msgs_pending;      /* consumed messages not yet complete */
  size_t dlv_in_flight;     /* deliveries started, not complete */
  size_t http_in_flight;    /* of which HTTP requests running (<= max_in_flight) */
  size_t max_in_flight;     /* dispatcher.max_in_flight */
  int ep_max_in_flight;     /* endpoint.max_in_flight: default per-endpoint cap */
  struct hl_slots *slots;   /* delivery.c: per-endpoint concurrency and the waiting queues */
  struct hl_health *health; /* health.c: breaker, auto-disable, operational events */
  size_t max_bytes;
  int64_t done_ttl_ms;
  bool done_markers;

  bool stopping; /* after the loop: callbacks from Redis/HTTP teardown are ignored */
  bool draining;
  bool handed_off; /* in-flight HTTP was cut and handed to the first tier */
  int64_t drain_start_ms, drain_deadline_ms;

  /* rate limits and fairness (ratelimit.c, members.c) */
  struct hl_rl *rl;
  rd_kafka_queue_t *members_q;
  struct event *members_ev;
  int64_t members_asked_ms, members_next_ms;

  struct {
    hl_metric_t *consumed, *invalid, *deliveries, *attempt_latency, *e2e_latency, *in_flight,
        *window_depth, *retry_writes, *dlq_writes, *redis_errors, *kafka_errors, *assigned,
        *pending, *skipped_done, *lookup_waits, *queued, *spilled, *conns_opened;
    hl_metric_t *rate_limited, *rate_deferred, *rate_tokens, *rate_redis_calls, *rate_fallback,
        *rate_members;
  } m;
} hl_disp_t;

/* kafka.c */
int hl_kafka_start(hl_disp_t *d, char *errstr, size_t errsize);
/* Produce a copy of the value; cb(err, opaque) runs on the loop when the broker acked (err 0)
 * or the write failed for good.  cb may be NULL (fire and forget).  0 queued, -1 refused. */
typedef void hl_kafka_dr_cb(rd_kafka_resp_err_t err, void *opaque);
int hl_kafka_produce(hl_disp_t *d, const char *topic, const char *key, const void *val, size_t len,
                     hl_kafka_dr_cb *cb, void *opaque);
/* The message at offset completed: advance the window, store, resume a full partition. */
void hl_kafka_complete(hl_part_t *part, int64_t offset);
void hl_kafka_part_release(hl_part_t **part);
/* Tier partition whose head (offset) is due at due_ms: pause, seek back, resume by timer. */
void hl_kafka_wait_due(hl_part_t *part, int64_t offset, int64_t due_ms);
void hl_kafka_pause_all(hl_disp_t *d);
/* After the loop: flush the producer, commit stored offsets, close the consumer. */
void hl_kafka_stop(hl_disp_t *d);

/* delivery.c: take one consumed message (the window already tracks its offset). */
void hl_delivery_on_message(hl_disp_t *d, hl_part_t *part, const rd_kafka_message_t *msg);
void hl_delivery_metrics_init(hl_disp_t *d);
/*
 * Hand deliveries waiting for an endpoint slot to the first retry tier (no attempt used): those
 * of part's messages (its window is full: an endpoint's backlog pins it), or all of them
 * (part NULL, the drain's hand-off).
 */
void hl_delivery_spill(hl_disp_t *d, const hl_part_t *part);
void hl_delivery_destroy(hl_disp_t *d);

/* limits.c: live dispatchers in the group (DescribeConsumerGroups, polled on the loop) for
 * the rate limiter's fallback */
int hl_members_start(hl_disp_t *d);
void hl_members_stop(hl_disp_t *d);

/* delivery.c: the rate limiter's ready callback (opaque: hl_disp_t) */
void hl_delivery_rate_ready(const char *ep_id, void *opaque);
/* limits.c: the rate limit metrics */
void hl_delivery_rate_metrics_init(hl_disp_t *d);

/* server.c */
int hl_server_start(hl_disp_t *d, char *errstr, size_t errsize);
void hl_server_stop(hl_disp_t *d);
bool hl_server_ready(const hl_disp_t *d);

#endif
