/*
 * kafka.c - the dispatcher's Kafka side: topic creation at start (Admin API), the consumer
 * (cooperative-sticky group, offsets stored by hand from the ack windows, auto-committed), the
 * idempotent acks=all producer for retry/DLQ/attempt records, and both librdkafka queues wired
 * into the libevent loop with rd_kafka_queue_io_event_enable().  Owns hl_part_t.
 *
 * Revoke (cooperative): the revoked partitions' stored offsets are committed and they are
 * unassigned at once; their in-flight work may finish but stores nothing (the next owner
 * re-consumes from the committed offset, hl:done markers stop re-delivery of what succeeded).
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatcher.h"
#include "log.h"
#include "util.h"

typedef struct hl_dr {
  hl_kafka_dr_cb *cb;
  void *opaque;
} hl_dr_t;

/* ---- partitions ---- */

static hl_part_t *hl_part_find(hl_disp_t *d, const char *topic, int32_t partition) {
  hl_part_t *part;

  for (part = d->parts; part; part = part->next) {
    if (part->partition == partition && strcmp(part->topic, topic) == 0)
      return part;
  }
  return NULL;
}

static int hl_part_tier(hl_disp_t *d, const char *topic) {
  size_t i;

  for (i = 0; i < hl_tiers_topic_count(d->tiers); i++) {
    if (strcmp(d->tier_topics[i], topic) == 0)
      return (int)i;
  }
  return -1;
}

static void hl_part_due_cb(evutil_socket_t fd, short what, void *arg);

static hl_part_t *hl_part_new(hl_disp_t *d, const char *topic, int32_t partition) {
  hl_part_t *part = calloc(1, sizeof(*part));

  if (!part)
    return NULL;
  snprintf(part->topic, sizeof(part->topic), "%s", topic);
  part->partition = partition;
  part->tier = hl_part_tier(d, topic);
  part->aw = hl_ackwin_new((size_t)hl_conf_int(d->conf, "dispatcher.ack_window"));
  part->due_timer = evtimer_new(d->base, hl_part_due_cb, part);
  part->d = d;
  part->refcnt = 1;
  if (!part->aw || !part->due_timer) {
    hl_ackwin_destroy(&part->aw);
    if (part->due_timer)
      event_free(part->due_timer);
    free(part);
    return NULL;
  }
  return part;
}

void hl_kafka_part_release(hl_part_t **pp) {
  hl_part_t *part = pp ? *pp : NULL;

  if (!part)
    return;
  *pp = NULL;
  if (--part->refcnt > 0)
    return;
  event_free(part->due_timer);
  hl_ackwin_destroy(&part->aw);
  free(part);
}

static void hl_part_pause(hl_part_t *part, bool pause) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);

  rd_kafka_topic_partition_list_add(l, part->topic, part->partition);
  if (pause)
    rd_kafka_pause_partitions(part->d->consumer, l);
  else
    rd_kafka_resume_partitions(part->d->consumer, l);
  rd_kafka_topic_partition_list_destroy(l);
}

static void hl_part_maybe_resume(hl_part_t *part) {
  if (part->revoked || part->d->draining || part->waiting_due || part->paused_full)
    return;
  hl_part_pause(part, false);
}

static void hl_part_due_cb(evutil_socket_t fd, short what, void *arg) {
  hl_part_t *part = arg;

  (void)fd;
  (void)what;
  part->waiting_due = false;
  hl_part_maybe_resume(part);
}

void hl_kafka_wait_due(hl_part_t *part, int64_t offset, int64_t due_ms) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_error_t *err;
  int64_t wait = due_ms - hl_now_ms();
  struct timeval tv;

  part->waiting_due = true;
  hl_part_pause(part, true);
  rd_kafka_topic_partition_list_add(l, part->topic, part->partition)->offset = offset;
  err = rd_kafka_seek_partitions(part->d->consumer, l, 0); /* 0: asynchronous */
  if (err) {
    hl_warn("seek %s[%d] to %lld: %s", part->topic, (int)part->partition, (long long)offset,
            rd_kafka_error_string(err));
    rd_kafka_error_destroy(err);
  }
  rd_kafka_topic_partition_list_destroy(l);
  if (wait < 1)
    wait = 1;
  tv.tv_sec = wait / 1000;
  tv.tv_usec = (wait % 1000) * 1000;
  evtimer_add(part->due_timer, &tv);
}

void hl_kafka_pause_all(hl_disp_t *d) {
  hl_part_t *part;

  for (part = d->parts; part; part = part->next)
    hl_part_pause(part, true);
}

void hl_kafka_complete(hl_part_t *part, int64_t offset) {
  rd_kafka_topic_partition_list_t *l;
  rd_kafka_resp_err_t err;
  int adv = hl_ackwin_complete(part->aw, offset);

  if (adv < 0)
    hl_warn("complete %s[%d]@%lld: not in the ack window", part->topic, (int)part->partition,
            (long long)offset);
  if (part->paused_full && !hl_ackwin_full(part->aw)) {
    part->paused_full = false;
    hl_part_maybe_resume(part);
  }
  if (adv <= 0 || part->revoked)
    return;
  l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, part->topic, part->partition)->offset =
      hl_ackwin_store_offset(part->aw);
  err = rd_kafka_offsets_store(part->d->consumer, l);
  if (err)
    hl_debug("offsets_store %s[%d]: %s", part->topic, (int)part->partition, rd_kafka_err2str(err));
  rd_kafka_topic_partition_list_destroy(l);
}

/* ---- consumer ---- */

static void hl_kafka_assign(hl_disp_t *d, rd_kafka_topic_partition_list_t *l) {
  rd_kafka_error_t *err;
  int i;

  for (i = 0; i < l->cnt; i++) {
    hl_part_t *part = hl_part_new(d, l->elems[i].topic, l->elems[i].partition);
    if (!part) {
      hl_error("out of memory assigning %s[%d]", l->elems[i].topic, (int)l->elems[i].partition);
      continue;
    }
    part->next = d->parts;
    d->parts = part;
    d->nassigned++;
  }
  err = rd_kafka_incremental_assign(d->consumer, l);
  if (err) {
    hl_error("incremental_assign: %s", rd_kafka_error_string(err));
    rd_kafka_error_destroy(err);
  }
  if (d->draining)
    hl_kafka_pause_all(d);
  else
    rd_kafka_resume_partitions(d->consumer, l); /* a pause from an earlier ownership */
  hl_info("assigned %d partition(s), %zu in total", l->cnt, d->nassigned);
}

static void hl_kafka_revoke(hl_disp_t *d, rd_kafka_topic_partition_list_t *l) {
  rd_kafka_error_t *err;
  rd_kafka_resp_err_t cerr;
  hl_part_t **pp, *part;
  int i;

  cerr = rd_kafka_commit(d->consumer, l, 1);
  if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
    hl_warn("commit on revoke: %s", rd_kafka_err2str(cerr));
  for (i = 0; i < l->cnt; i++) {
    for (pp = &d->parts; *pp; pp = &(*pp)->next) {
      if ((*pp)->partition == l->elems[i].partition && strcmp((*pp)->topic, l->elems[i].topic) == 0)
        break;
    }
    part = *pp;
    if (!part)
      continue;
    *pp = part->next;
    part->next = NULL;
    part->revoked = true;
    evtimer_del(part->due_timer);
    d->nassigned--;
    hl_kafka_part_release(&part);
  }
  err = rd_kafka_incremental_unassign(d->consumer, l);
  if (err) {
    hl_error("incremental_unassign: %s", rd_kafka_error_string(err));
    rd_kafka_error_destroy(err);
  }
  hl_info("revoked %d partition(s), %zu left", l->cnt, d->nassigned);
}

static void hl_kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t *l, void *opaque) {
  hl_disp_t *d = opaque;

  (void)rk;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
    hl_kafka_assign(d, l);
  else
    hl_kafka_revoke(d, l);
}

static void hl_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  hl_disp_t *d = opaque;

  (void)rk;
  hl_metric_add(d->m.kafka_errors, NULL, 1);
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
    d->kafka_up = false;
  hl_warn("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Statistics (every 5 s, on the loop): Kafka counts as reachable while a broker is UP. */
static int hl_kafka_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
  hl_disp_t *d = opaque;
  json_t *st = json_loadb(json, len, 0, NULL), *b;
  const char *name, *state;
  bool up = false;

  (void)rk;
  json_object_foreach(json_object_get(st, "brokers"), name, b) {
    state = json_string_value(json_object_get(b, "state"));
    if (json_integer_value(json_object_get(b, "nodeid")) >= 0 && state && strcmp(state, "UP") == 0)
      up = true;
  }
  if (st)
    d->kafka_up = up;
  json_decref(st);
  return 0; /* librdkafka frees json */
}

static void hl_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  (void)rk;
  if (level <= 3)
    hl_error("librdkafka %s: %s", fac, buf);
  else if (level <= 4)
    hl_warn("librdkafka %s: %s", fac, buf);
  else
    hl_debug("librdkafka %s: %s", fac, buf);
}

static void hl_kafka_on_message(hl_disp_t *d, rd_kafka_message_t *msg) {
  const char *topic = rd_kafka_topic_name(msg->rkt);
  hl_part_t *part;

  if (msg->err) {
    if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      hl_metric_add(d->m.kafka_errors, NULL, 1);
      hl_warn("consume %s[%d]: %s", topic, (int)msg->partition, rd_kafka_message_errstr(msg));
    }
    return;
  }
  d->kafka_up = true;
  part = hl_part_find(d, topic, msg->partition);
  /* not ours any more, paused for a drain, or waiting for a seek: it will be fetched again */
  if (!part || d->draining || part->waiting_due)
    return;
  if (hl_ackwin_add(part->aw, msg->offset) != 0)
    return; /* not above the last one taken: a stale copy from before a seek */
  hl_metric_add(d->m.consumed, part->tier < 0 ? "topic=\"events\"" : "topic=\"retry\"", 1);
  d->msgs_pending++;
  hl_delivery_on_message(d, part, msg);
  if (hl_ackwin_full(part->aw) && !part->paused_full) {
    part->paused_full = true;
    hl_part_pause(part, true);
    hl_delivery_spill(d, part);
  }
}

static void hl_kafka_consumer_ready(evutil_socket_t fd, short what, void *arg) {
  hl_disp_t *d = arg;
  rd_kafka_message_t *msg;
  char drain[128];
  int i;

  (void)what;
  while (fd >= 0 && read(fd, drain, sizeof(drain)) > 0)
    ;
  /* bounded so the loop stays responsive; the tick timer picks up the rest */
  for (i = 0; i < 1000; i++) {
    msg = rd_kafka_consumer_poll(d->consumer, 0);
    if (!msg)
      break;
    hl_kafka_on_message(d, msg);
    rd_kafka_message_destroy(msg);
  }
  if (i == 1000)
    event_active(d->ev_cq, EV_READ, 0);
}

/* ---- producer ---- */

static void hl_kafka_dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
  hl_dr_t *dr = msg->_private;

  (void)rk;
  (void)opaque;
  if (!dr)
    return;
  if (dr->cb)
    dr->cb(msg->err, dr->opaque);
  free(dr);
}

static void hl_kafka_producer_ready(evutil_socket_t fd, short what, void *arg) {
  hl_disp_t *d = arg;
  char drain[128];

  (void)what;
  while (fd >= 0 && read(fd, drain, sizeof(drain)) > 0)
    ;
  rd_kafka_poll(d->producer, 0);
}

int hl_kafka_produce(hl_disp_t *d, const char *topic, const char *key, const void *val, size_t len,
                     hl_kafka_dr_cb *cb, void *opaque) {
  hl_dr_t *dr;
  rd_kafka_resp_err_t err;

  if (!d->producer)
    return -1; /* shut down */
  dr = calloc(1, sizeof(*dr));
  if (!dr)
    return -1;
  dr->cb = cb;
  dr->opaque = opaque;
  err = rd_kafka_producev(
      d->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
      RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_OPAQUE(dr), RD_KAFKA_V_END);
  if (err) {
    hl_metric_add(d->m.kafka_errors, NULL, 1);
    hl_warn("produce to %s: %s", topic, rd_kafka_err2str(err));
    free(dr);
    return -1;
  }
  return 0;
}

static void hl_kafka_tick(evutil_socket_t fd, short what, void *arg) {
  hl_disp_t *d = arg;

  (void)fd;
  (void)what;
  rd_kafka_poll(d->producer, 0);
  hl_kafka_consumer_ready(-1, EV_READ, d);
}

/* ---- setup ---- */

static rd_kafka_conf_t *hl_kafka_conf(hl_disp_t *d, char *errstr, size_t errsize) {
  rd_kafka_conf_t *kc = rd_kafka_conf_new();
  const char *k, *v;
  size_t i;

  rd_kafka_conf_set_opaque(kc, d);
  rd_kafka_conf_set_log_cb(kc, hl_kafka_log_cb);
  rd_kafka_conf_set_error_cb(kc, hl_kafka_error_cb);
  /* librdkafka's logs are served on the loop (rd_kafka_set_log_queue), not from its threads */
  if (rd_kafka_conf_set(kc, "log.queue", "true", errstr, errsize) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(kc);
    return NULL;
  }
  /* /readyz: broker states from the statistics (a passthrough value wins) */
  rd_kafka_conf_set(kc, "statistics.interval.ms", "5000", errstr, errsize);
  for (i = 0; i < hl_conf_kafka_count(d->conf); i++) {
    hl_conf_kafka_get(d->conf, i, &k, &v);
    if (rd_kafka_conf_set(kc, k, v, errstr, errsize) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(kc);
      return NULL;
    }
  }
  return kc;
}

static int hl_kafka_set(rd_kafka_conf_t *kc, const char *k, const char *v, char *errstr,
                        size_t errsize) {
  return rd_kafka_conf_set(kc, k, v, errstr, errsize) == RD_KAFKA_CONF_OK ? 0 : -1;
}

static int hl_kafka_create_topics(hl_disp_t *d, char *errstr, size_t errsize) {
  const char *names[HL_TIERS_MAX + 3];
  rd_kafka_NewTopic_t *nt[HL_TIERS_MAX + 3];
  rd_kafka_queue_t *q = rd_kafka_queue_new(d->producer);
  rd_kafka_event_t *ev = NULL;
  const rd_kafka_CreateTopics_result_t *res;
  const rd_kafka_topic_result_t **tr;
  size_t n = 0, i, ntr;
  int parts = (int)hl_conf_int(d->conf, "topics.partitions");
  int rf = (int)hl_conf_int(d->conf, "topics.replication_factor");
  int rc = -1;

  names[n++] = d->topic_events;
  names[n++] = d->topic_dlq;
  names[n++] = d->topic_attempts;
  for (i = 0; i < hl_tiers_topic_count(d->tiers); i++)
    names[n++] = d->tier_topics[i];
  for (i = 0; i < n; i++)
    nt[i] = rd_kafka_NewTopic_new(names[i], parts, rf, NULL, 0);
  rd_kafka_CreateTopics(d->producer, nt, n, NULL, q);
  ev = rd_kafka_queue_poll(q, 30000); /* start-up, before the loop runs */
  res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
  if (!res) {
    snprintf(errstr, errsize, "create topics: %s",
             ev ? rd_kafka_event_error_string(ev) : "timed out");
    goto out;
  }
  tr = rd_kafka_CreateTopics_result_topics(res, &ntr);
  for (i = 0; i < ntr; i++) {
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
      hl_info("created topic %s", rd_kafka_topic_result_name(tr[i]));
    else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      snprintf(errstr, errsize, "create topic %s: %s", rd_kafka_topic_result_name(tr[i]),
               rd_kafka_topic_result_error_string(tr[i]));
      goto out;
    }
  }
  rc = 0;
out:
  if (ev)
    rd_kafka_event_destroy(ev);
  for (i = 0; i < n; i++)
    rd_kafka_NewTopic_destroy(nt[i]);
  rd_kafka_queue_destroy(q);
  return rc;
}

static int hl_kafka_pipe(hl_disp_t *d, rd_kafka_queue_t *q, int fds[2], event_callback_fn fn,
                         struct event **ev) {
  if (pipe(fds) != 0)
    return -1;
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  fcntl(fds[1], F_SETFL, O_NONBLOCK);
  rd_kafka_queue_io_event_enable(q, fds[1], "1", 1);
  *ev = event_new(d->base, fds[0], EV_READ | EV_PERSIST, fn, d);
  return *ev && event_add(*ev, NULL) == 0 ? 0 : -1;
}

static int hl_kafka_producer_new(hl_disp_t *d, char *errstr, size_t errsize) {
  rd_kafka_conf_t *kc = hl_kafka_conf(d, errstr, errsize);

  if (!kc || hl_kafka_set(kc, "enable.idempotence", "true", errstr, errsize) ||
      hl_kafka_set(kc, "acks", "all", errstr, errsize) ||
      hl_kafka_set(kc, "linger.ms", "5", errstr, errsize)) {
    if (kc)
      rd_kafka_conf_destroy(kc);
    return -1;
  }
  rd_kafka_conf_set_dr_msg_cb(kc, hl_kafka_dr_msg_cb);
  d->producer = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, errsize);
  if (!d->producer) {
    rd_kafka_conf_destroy(kc);
    return -1;
  }
  rd_kafka_set_log_queue(d->producer, NULL);
  d->pq = rd_kafka_queue_get_main(d->producer);
  return hl_kafka_pipe(d, d->pq, d->ppipe, hl_kafka_producer_ready, &d->ev_pq);
}

static int hl_kafka_consumer_new(hl_disp_t *d, char *errstr, size_t errsize) {
  rd_kafka_conf_t *kc = hl_kafka_conf(d, errstr, errsize);

  if (kc)
    rd_kafka_conf_set_stats_cb(kc, hl_kafka_stats_cb);
  if (!kc ||
      hl_kafka_set(kc, "group.id", hl_conf_str(d->conf, "dispatcher.group_id"), errstr, errsize) ||
      hl_kafka_set(kc, "partition.assignment.strategy", "cooperative-sticky", errstr, errsize) ||
      hl_kafka_set(kc, "enable.auto.offset.store", "false", errstr, errsize) ||
      hl_kafka_set(kc, "enable.auto.commit", "true", errstr, errsize) ||
      hl_kafka_set(kc, "auto.commit.interval.ms", "1000", errstr, errsize) ||
      hl_kafka_set(kc, "auto.offset.reset", "earliest", errstr, errsize)) {
    if (kc)
      rd_kafka_conf_destroy(kc);
    return -1;
  }
  rd_kafka_conf_set_rebalance_cb(kc, hl_kafka_rebalance_cb);
  d->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errsize);
  if (!d->consumer) {
    rd_kafka_conf_destroy(kc);
    return -1;
  }
  rd_kafka_set_log_queue(d->consumer, NULL); /* main queue, forwarded to the consumer queue */
  rd_kafka_poll_set_consumer(d->consumer);
  d->cq = rd_kafka_queue_get_consumer(d->consumer);
  return hl_kafka_pipe(d, d->cq, d->cpipe, hl_kafka_consumer_ready, &d->ev_cq);
}

static int hl_kafka_subscribe(hl_disp_t *d, char *errstr, size_t errsize) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(HL_TIERS_MAX + 1);
  rd_kafka_resp_err_t err;
  size_t i;

  rd_kafka_topic_partition_list_add(l, d->topic_events, RD_KAFKA_PARTITION_UA);
  for (i = 0; i < hl_tiers_topic_count(d->tiers); i++)
    rd_kafka_topic_partition_list_add(l, d->tier_topics[i], RD_KAFKA_PARTITION_UA);
  err = rd_kafka_subscribe(d->consumer, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (err) {
    snprintf(errstr, errsize, "subscribe: %s", rd_kafka_err2str(err));
    return -1;
  }
  return 0;
}

int hl_kafka_start(hl_disp_t *d, char *errstr, size_t errsize) {
  struct timeval tv = {0, 100 * 1000};

  if (hl_kafka_producer_new(d, errstr, errsize) != 0)
    return -1;
  if (hl_kafka_create_topics(d, errstr, errsize) != 0)
    return -1;
  if (hl_kafka_consumer_new(d, errstr, errsize) != 0)
    return -1;
  if (hl_kafka_subscribe(d, errstr, errsize) != 0)
    return -1;
  d->ev_tick = event_new(d->base, -1, EV_PERSIST, hl_kafka_tick, d);
  if (!d->ev_tick || event_add(d->ev_tick, &tv) != 0) {
    snprintf(errstr, errsize, "event_new: out of memory");
    return -1;
  }
  d->kafka_up = true;
  return 0;
}

void hl_kafka_stop(hl_disp_t *d) {
  rd_kafka_resp_err_t err;
  hl_part_t *part;

  if (d->producer) {
    err = rd_kafka_flush(d->producer, 10000); /* delivery reports may still store offsets */
    if (err)
      hl_warn("producer flush: %s (%d left)", rd_kafka_err2str(err),
              rd_kafka_outq_len(d->producer));
  }
  if (d->consumer) {
    err = rd_kafka_commit(d->consumer, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
      hl_warn("final commit: %s", rd_kafka_err2str(err));
    err = rd_kafka_consumer_close(d->consumer);
    if (err)
      hl_warn("consumer close: %s", rd_kafka_err2str(err));
  }
  while ((part = d->parts)) {
    d->parts = part->next;
    part->revoked = true;
    hl_kafka_part_release(&part);
  }
  if (d->ev_cq)
    event_free(d->ev_cq);
  if (d->ev_pq)
    event_free(d->ev_pq);
  if (d->ev_tick)
    event_free(d->ev_tick);
  d->ev_cq = d->ev_pq = d->ev_tick = NULL;
  if (d->cq)
    rd_kafka_queue_destroy(d->cq);
  if (d->pq)
    rd_kafka_queue_destroy(d->pq);
  d->cq = d->pq = NULL;
  if (d->consumer)
    rd_kafka_destroy(d->consumer);
  if (d->producer)
    rd_kafka_destroy(d->producer);
  d->consumer = d->producer = NULL;
  for (int i = 0; i < 2; i++) { /* only now: librdkafka wrote to them until destroyed */
    if (d->cpipe[i] > 0)
      close(d->cpipe[i]);
    if (d->ppipe[i] > 0)
      close(d->ppipe[i]);
    d->cpipe[i] = d->ppipe[i] = -1;
  }
}
