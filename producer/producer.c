/*
 * producer.c - libhookline: validate events with the shared envelope rules and produce them
 * to <topics.prefix>.events (key = tenant) with an idempotent librdkafka producer.  A delivery
 * thread polls librdkafka and runs the callers' delivery callbacks.
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "producer_int.h"
#include "util.h"

#define HL_EXPORT __attribute__((visibility("default")))

struct hookline_producer_s {
  rd_kafka_t *rk;
  char topic[300];
  size_t max_bytes;
  pthread_t poller;
  atomic_int stop;
  atomic_long outstanding;
};

/* Per-event state between produce and its delivery report. */
typedef struct hl_pub_msg {
  hookline_delivery_cb *cb;
  void *opaque;
  char id[HL_EVENT_ID_MAX + 1];
} hl_pub_msg_t;

/* Defaults a publisher wants; kafka.* settings from the configuration override them. */
static const char *hl_producer_defaults[][2] = {
    {"enable.idempotence", "true"}, {"acks", "all"},         {"linger.ms", "5"},
    {"batch.num.messages", "10000"}, {"message.timeout.ms", "30000"},
    {"compression.codec", "lz4"},   {"client.id", "hookline-publish"},
};

static void hl_producer_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
  hookline_producer_t *p = opaque;
  hl_pub_msg_t *m = msg->_private;
  const char *why = NULL;
  char buf[512];

  if (msg->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
      msg->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    snprintf(buf, sizeof(buf), "topic %s does not exist (start a dispatcher, which creates it)",
             p->topic);
    why = buf;
  } else if (msg->err) {
    why = rd_kafka_err2str(msg->err);
  }
  if (m && m->cb)
    m->cb(m->id, msg->err ? HOOKLINE_EKAFKA : HOOKLINE_OK, why ? why : "", m->opaque);
  free(m);
  atomic_fetch_sub(&p->outstanding, 1);
}

static void *hl_producer_poll_thread(void *arg) {
  hookline_producer_t *p = arg;

  while (!atomic_load(&p->stop))
    rd_kafka_poll(p->rk, 100);
  return NULL;
}

static int hl_producer_kconf(const hl_conf_t *conf, rd_kafka_conf_t *kc, char *errstr,
                             size_t errsize) {
  const char *k, *v;

  for (size_t i = 0; i < sizeof(hl_producer_defaults) / sizeof(hl_producer_defaults[0]); i++) {
    if (rd_kafka_conf_set(kc, hl_producer_defaults[i][0], hl_producer_defaults[i][1], errstr,
                          errsize) != RD_KAFKA_CONF_OK)
      return -1;
  }
  for (size_t i = 0; i < hl_conf_kafka_count(conf); i++) {
    hl_conf_kafka_get(conf, i, &k, &v);
    if (rd_kafka_conf_set(kc, k, v, errstr, errsize) != RD_KAFKA_CONF_OK)
      return -1;
  }
  return 0;
}

hookline_producer_t *hl_producer_new_conf(const hl_conf_t *conf, char *errstr, size_t errsize) {
  hookline_producer_t *p = calloc(1, sizeof(*p));
  rd_kafka_conf_t *kc = rd_kafka_conf_new();

  if (!p)
    goto fail;
  snprintf(p->topic, sizeof(p->topic), "%s.events", hl_conf_str(conf, "topics.prefix"));
  p->max_bytes = (size_t)hl_conf_int(conf, "events.max_bytes");
  if (hl_producer_kconf(conf, kc, errstr, errsize) != 0)
    goto fail;
  rd_kafka_conf_set_dr_msg_cb(kc, hl_producer_dr);
  rd_kafka_conf_set_opaque(kc, p);
  p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, errsize);
  if (!p->rk)
    goto fail;
  kc = NULL; /* owned by rk now */
  if (pthread_create(&p->poller, NULL, hl_producer_poll_thread, p) != 0) {
    snprintf(errstr, errsize, "cannot start the delivery thread");
    rd_kafka_destroy(p->rk);
    goto fail;
  }
  return p;
fail:
  if (kc)
    rd_kafka_conf_destroy(kc);
  free(p);
  return NULL;
}

HL_EXPORT hookline_producer_t *hookline_producer_new(const char *config_path,
                                                     const char *const *overrides, int noverrides,
                                                     char *errstr, size_t errsize) {
  hl_conf_t *conf = hl_conf_new();
  hookline_producer_t *p = NULL;

  if (!conf) {
    snprintf(errstr, errsize, "out of memory");
    return NULL;
  }
  if (hl_conf_load(conf, config_path, (char *const *)overrides, noverrides, errstr, errsize) == 0)
    p = hl_producer_new_conf(conf, errstr, errsize);
  hl_conf_destroy(&conf);
  return p;
}

int hl_producer_send(hookline_producer_t *p, const hl_event_t *ev, hookline_delivery_cb *cb,
                     void *opaque, char *errstr, size_t errsize) {
  hl_pub_msg_t *m = malloc(sizeof(*m));
  rd_kafka_resp_err_t err;
  char *env = NULL;
  size_t envlen;

  if (!m || hl_event_envelope(ev, &env, &envlen) != 0) {
    free(m);
    snprintf(errstr, errsize, "out of memory");
    return HOOKLINE_ENOMEM;
  }
  m->cb = cb;
  m->opaque = opaque;
  strcpy(m->id, ev->id);
  atomic_fetch_add(&p->outstanding, 1);
  err = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(p->topic),
                          RD_KAFKA_V_KEY(ev->tenant, strlen(ev->tenant)),
                          RD_KAFKA_V_VALUE(env, envlen), RD_KAFKA_V_OPAQUE(m),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE | RD_KAFKA_MSG_F_BLOCK),
                          RD_KAFKA_V_END);
  if (err) {
    atomic_fetch_sub(&p->outstanding, 1);
    snprintf(errstr, errsize, "kafka: %s", rd_kafka_err2str(err));
    free(env);
    free(m);
    return HOOKLINE_EKAFKA;
  }
  return HOOKLINE_OK;
}

static void hl_copy_id(char *id_out, size_t id_out_size, const char *id) {
  if (id_out && id_out_size)
    snprintf(id_out, id_out_size, "%s", id);
}

HL_EXPORT int hookline_publish(hookline_producer_t *p, const char *tenant, const char *type,
                               const char *data_json, const char *id_or_null,
                               hookline_delivery_cb *cb, void *opaque, char *id_out,
                               size_t id_out_size, char *errstr, size_t errsize) {
  hl_event_t ev;
  int rc;

  if (!data_json) {
    snprintf(errstr, errsize, "data: required");
    return HOOKLINE_EINVAL;
  }
  if (hl_event_from_parts(tenant, type, id_or_null, data_json, strlen(data_json), p->max_bytes,
                          hl_now_ms(), &ev, errstr, errsize) != 0)
    return HOOKLINE_EINVAL;
  rc = hl_producer_send(p, &ev, cb, opaque, errstr, errsize);
  if (rc == HOOKLINE_OK)
    hl_copy_id(id_out, id_out_size, ev.id);
  hl_event_clear(&ev);
  return rc;
}

HL_EXPORT int hookline_publish_envelope(hookline_producer_t *p, const char *json, size_t len,
                                        hookline_delivery_cb *cb, void *opaque, char *id_out,
                                        size_t id_out_size, char *errstr, size_t errsize) {
  hl_event_t ev;
  int rc;

  if (hl_event_parse(json, len, p->max_bytes, hl_now_ms(), &ev, errstr, errsize) != 0)
    return HOOKLINE_EINVAL;
  rc = hl_producer_send(p, &ev, cb, opaque, errstr, errsize);
  if (rc == HOOKLINE_OK)
    hl_copy_id(id_out, id_out_size, ev.id);
  hl_event_clear(&ev);
  return rc;
}

HL_EXPORT int hookline_producer_flush(hookline_producer_t *p, int timeout_ms) {
  int64_t deadline = hl_mono_ms() + timeout_ms;

  rd_kafka_flush(p->rk, timeout_ms); /* sends what lingers; reports arrive on the poll thread */
  while (atomic_load(&p->outstanding) > 0 && hl_mono_ms() < deadline) {
    struct timespec ts = {0, 2 * 1000 * 1000};

    nanosleep(&ts, NULL);
  }
  return atomic_load(&p->outstanding) > 0 ? HOOKLINE_ETIMEDOUT : HOOKLINE_OK;
}

HL_EXPORT long hookline_producer_outstanding(const hookline_producer_t *p) {
  return atomic_load(&((hookline_producer_t *)p)->outstanding);
}

HL_EXPORT const char *hookline_producer_topic(const hookline_producer_t *p) {
  return p->topic;
}

int hl_producer_topic_exists(hookline_producer_t *p, int timeout_ms, char *errstr,
                             size_t errsize) {
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, p->topic, NULL);
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_resp_err_t err;
  int rc = -1;

  err = rd_kafka_metadata(p->rk, 0, rkt, &md, timeout_ms);
  if (err) {
    snprintf(errstr, errsize, "kafka unreachable: %s", rd_kafka_err2str(err));
  } else {
    rc = md->topic_cnt == 1 && md->topics[0].err == 0 ? 1 : 0;
    if (rc == 0)
      snprintf(errstr, errsize, "topic %s does not exist (start a dispatcher, which creates it)",
               p->topic);
  }
  if (md)
    rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  return rc;
}

HL_EXPORT void hookline_producer_destroy(hookline_producer_t **pp) {
  hookline_producer_t *p = pp ? *pp : NULL;

  if (!p)
    return;
  hookline_producer_flush(p, 10000);
  atomic_store(&p->stop, 1);
  pthread_join(p->poller, NULL);
  rd_kafka_destroy(p->rk);
  free(p);
  *pp = NULL;
}

HL_EXPORT const char *hookline_version(void) {
  return HOOKLINE_VERSION;
}
