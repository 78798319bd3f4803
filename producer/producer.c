/*
 * producer.c - libhookline: validate events with the shared envelope rules and produce them
 * to <topics.prefix>.events (key = tenant) with an idempotent librdkafka producer.
 *
 * Owns the producer handle and one delivery thread, the only caller of rd_kafka_poll: every
 * delivery callback runs there.  flush waits on a condition variable the delivery thread signals
 * when the last outstanding event is reported, so callbacks never run on a caller's thread.
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "producer_int.h"
#include "util.h"

#define HL_EXPORT __attribute__((visibility("default")))
#define HL_DESTROY_FLUSH_MS 10000

struct hookline_producer_s {
  rd_kafka_t *rk;
  char topic[300];
  size_t max_bytes;
  pthread_t poller;
  atomic_int stop;
  atomic_long outstanding; /* produced, not yet reported */
  pthread_mutex_t lock;    /* with idle: outstanding reached 0 */
  pthread_cond_t idle;
};

/* Per-event state between produce and its delivery report (only when there is a callback). */
typedef struct hl_pub_msg {
  hookline_delivery_cb *cb;
  void *opaque;
  char id[HL_EVENT_ID_MAX + 1];
} hl_pub_msg_t;

/* Defaults a publisher wants; kafka.* settings from the configuration override them. */
static const char *hl_producer_defaults[][2] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"linger.ms", "5"},
    {"batch.num.messages", "10000"},
    {"message.timeout.ms", "30000"},
    {"compression.codec", "lz4"},
    {"client.id", "libhookline"},
    /* a missing topic fails its events within 10 s, by name, rather than as a 30 s timeout */
    {"topic.metadata.propagation.max.ms", "10000"},
};

/* errstr may be NULL: the public API allows it. */
__attribute__((format(printf, 3, 4))) static void hl_err(char *errstr, size_t errsize,
                                                         const char *fmt, ...) {
  va_list ap;

  if (!errstr || !errsize)
    return;
  va_start(ap, fmt);
  vsnprintf(errstr, errsize, fmt, ap);
  va_end(ap);
}

static int hl_producer_on_poller(const hookline_producer_t *p) {
  return pthread_equal(pthread_self(), p->poller);
}

static void hl_producer_done(hookline_producer_t *p) {
  if (atomic_fetch_sub(&p->outstanding, 1) != 1)
    return;
  pthread_mutex_lock(&p->lock);
  pthread_cond_broadcast(&p->idle);
  pthread_mutex_unlock(&p->lock);
}

static void hl_producer_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
  hookline_producer_t *p = opaque;
  hl_pub_msg_t *m = msg->_private;
  const char *why = "";
  char buf[512];

  if (msg->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
      msg->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    snprintf(buf, sizeof(buf), "topic %s does not exist: start a dispatcher or create it",
             p->topic);
    why = buf;
  } else if (msg->err) {
    why = rd_kafka_err2str(msg->err);
  }
  if (m) {
    m->cb(m->id, msg->err ? HOOKLINE_EKAFKA : HOOKLINE_OK, why, m->opaque);
    free(m);
  }
  hl_producer_done(p);
}

/* librdkafka's own log lines go through hookline's JSON log. */
static void hl_producer_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  hl_log_level_t lvl = level <= 3   ? HL_LOG_ERROR
                       : level == 4 ? HL_LOG_WARN
                       : level <= 6 ? HL_LOG_INFO
                                    : HL_LOG_DEBUG;

  hl_log(lvl, "kafka %s: %s", fac, buf);
}

/* Client-level errors: transport failures were logged already (above); fatal ones matter. */
static void hl_producer_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  if (err == RD_KAFKA_RESP_ERR__FATAL)
    hl_error("kafka fatal error: %s", reason);
  else
    hl_debug("kafka: %s", reason);
}

static void *hl_producer_poll_thread(void *arg) {
  hookline_producer_t *p = arg;

  pthread_setname_np(pthread_self(), "hl-delivery");
  while (!atomic_load(&p->stop))
    rd_kafka_poll(p->rk, 100);
  rd_kafka_poll(p->rk, 0);
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
  rd_kafka_conf_set_dr_msg_cb(kc, hl_producer_dr);
  rd_kafka_conf_set_log_cb(kc, hl_producer_log);
  rd_kafka_conf_set_error_cb(kc, hl_producer_error);
  return 0;
}

hookline_producer_t *hl_producer_new_conf(const hl_conf_t *conf, char *errstr, size_t errsize) {
  hookline_producer_t *p = calloc(1, sizeof(*p));
  rd_kafka_conf_t *kc = rd_kafka_conf_new();
  char msg[512] = "out of memory";

  if (!p || !kc || hl_producer_kconf(conf, kc, msg, sizeof(msg)) != 0)
    goto fail;
  snprintf(p->topic, sizeof(p->topic), "%s.events", hl_conf_str(conf, "topics.prefix"));
  p->max_bytes = (size_t)hl_conf_int(conf, "events.max_bytes");
  rd_kafka_conf_set_opaque(kc, p);
  p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, msg, sizeof(msg));
  if (!p->rk)
    goto fail;
  kc = NULL; /* owned by rk now */
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->idle, NULL);
  if (pthread_create(&p->poller, NULL, hl_producer_poll_thread, p) != 0) {
    snprintf(msg, sizeof(msg), "cannot start the delivery thread");
    rd_kafka_destroy(p->rk);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->lock);
    goto fail;
  }
  return p;
fail:
  hl_err(errstr, errsize, "%s", msg);
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
  char msg[512] = "out of memory";

  if (conf &&
      hl_conf_load(conf, config_path, (char *const *)overrides, noverrides, msg, sizeof(msg)) == 0)
    p = hl_producer_new_conf(conf, msg, sizeof(msg));
  if (!p)
    hl_err(errstr, errsize, "%s", msg);
  hl_conf_destroy(&conf);
  return p;
}

int hl_producer_send(hookline_producer_t *p, const hl_event_t *ev, hookline_delivery_cb *cb,
                     void *opaque, char *errstr, size_t errsize) {
  int flags = RD_KAFKA_MSG_F_FREE | (hl_producer_on_poller(p) ? 0 : RD_KAFKA_MSG_F_BLOCK);
  hl_pub_msg_t *m = cb ? malloc(sizeof(*m)) : NULL;
  rd_kafka_resp_err_t err;
  char *env = NULL;
  size_t envlen;

  if ((cb && !m) || hl_event_envelope(ev, &env, &envlen) != 0) {
    free(m);
    hl_err(errstr, errsize, "%s", "out of memory");
    return HOOKLINE_ENOMEM;
  }
  if (m) {
    m->cb = cb;
    m->opaque = opaque;
    strcpy(m->id, ev->id);
  }
  atomic_fetch_add(&p->outstanding, 1);
  err = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(p->topic),
                          RD_KAFKA_V_KEY(ev->tenant, strlen(ev->tenant)),
                          RD_KAFKA_V_VALUE(env, envlen), RD_KAFKA_V_OPAQUE(m),
                          RD_KAFKA_V_MSGFLAGS(flags), RD_KAFKA_V_END);
  if (err) {
    hl_producer_done(p);
    hl_err(errstr, errsize, "kafka: %s", rd_kafka_err2str(err));
    free(env);
    free(m);
    return HOOKLINE_EKAFKA;
  }
  return HOOKLINE_OK;
}

/* The id fits the caller's buffer (checked before anything is sent). */
static int hl_producer_id_fits(const hl_event_t *ev, const char *id_out, size_t id_out_size,
                               char *errstr, size_t errsize) {
  if (!id_out || strlen(ev->id) < id_out_size)
    return 1;
  hl_err(errstr, errsize, "%s", "id_out: buffer too small for the event id");
  return 0;
}

/* Send a validated event; on success its id goes to id_out.  Clears ev. */
static int hl_producer_publish(hookline_producer_t *p, hl_event_t *ev, hookline_delivery_cb *cb,
                               void *opaque, char *id_out, size_t id_out_size, char *errstr,
                               size_t errsize) {
  int rc = HOOKLINE_EINVAL;

  if (hl_producer_id_fits(ev, id_out, id_out_size, errstr, errsize))
    rc = hl_producer_send(p, ev, cb, opaque, errstr, errsize);
  if (rc == HOOKLINE_OK && id_out)
    strcpy(id_out, ev->id);
  hl_event_clear(ev);
  return rc;
}

HL_EXPORT int hookline_publish(hookline_producer_t *p, const char *tenant, const char *type,
                               const char *data_json, const char *id_or_null,
                               hookline_delivery_cb *cb, void *opaque, char *id_out,
                               size_t id_out_size, char *errstr, size_t errsize) {
  char msg[512];
  hl_event_t ev;

  if (!data_json) {
    hl_err(errstr, errsize, "%s", "data: required");
    return HOOKLINE_EINVAL;
  }
  if (hl_event_from_parts(tenant, type, id_or_null, data_json, strlen(data_json), p->max_bytes,
                          hl_now_ms(), &ev, msg, sizeof(msg)) != 0) {
    hl_err(errstr, errsize, "%s", msg);
    return HOOKLINE_EINVAL;
  }
  return hl_producer_publish(p, &ev, cb, opaque, id_out, id_out_size, errstr, errsize);
}

HL_EXPORT int hookline_publish_envelope(hookline_producer_t *p, const char *json, size_t len,
                                        hookline_delivery_cb *cb, void *opaque, char *id_out,
                                        size_t id_out_size, char *errstr, size_t errsize) {
  char msg[512];
  hl_event_t ev;

  if (!json || hl_event_parse(json, len, p->max_bytes, hl_now_ms(), &ev, msg, sizeof(msg)) != 0) {
    hl_err(errstr, errsize, "%s", json ? msg : "event: required");
    return HOOKLINE_EINVAL;
  }
  return hl_producer_publish(p, &ev, cb, opaque, id_out, id_out_size, errstr, errsize);
}

/* Wait until nothing is outstanding or the deadline (monotonic ms; < 0: none) passed. */
static int hl_producer_wait_idle(hookline_producer_t *p, int64_t deadline_ms) {
  struct timespec ts;

  pthread_mutex_lock(&p->lock);
  while (atomic_load(&p->outstanding) > 0) {
    int64_t wait_ms = deadline_ms < 0 ? 1000 : deadline_ms - hl_mono_ms();

    if (wait_ms <= 0)
      break;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(wait_ms / 1000);
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&p->idle, &p->lock, &ts);
  }
  pthread_mutex_unlock(&p->lock);
  return atomic_load(&p->outstanding) > 0 ? HOOKLINE_ETIMEDOUT : HOOKLINE_OK;
}

HL_EXPORT int hookline_producer_flush(hookline_producer_t *p, int timeout_ms) {
  if (hl_producer_on_poller(p))
    return HOOKLINE_ESTATE;
  return hl_producer_wait_idle(p, timeout_ms < 0 ? -1 : hl_mono_ms() + timeout_ms);
}

HL_EXPORT long hookline_producer_outstanding(const hookline_producer_t *p) {
  return atomic_load(&((hookline_producer_t *)p)->outstanding);
}

HL_EXPORT const char *hookline_producer_topic(const hookline_producer_t *p) {
  return p->topic;
}

int hl_producer_topic_exists(hookline_producer_t *p, int timeout_ms, char *errstr, size_t errsize) {
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, p->topic, NULL);
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_resp_err_t err;
  int rc = -1;

  err = rd_kafka_metadata(p->rk, 0, rkt, &md, timeout_ms);
  if (err) {
    hl_err(errstr, errsize, "Kafka unreachable: %s", rd_kafka_err2str(err));
  } else {
    rc = md->topic_cnt == 1 && md->topics[0].err == 0 ? 1 : 0;
    if (rc == 0)
      hl_err(errstr, errsize, "topic %s does not exist: start a dispatcher or create it", p->topic);
  }
  if (md)
    rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  return rc;
}

void hl_producer_purge(hookline_producer_t *p) {
  rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
}

HL_EXPORT void hookline_producer_destroy(hookline_producer_t **pp) {
  hookline_producer_t *p = pp ? *pp : NULL;

  if (!p)
    return;
  if (hl_producer_on_poller(p)) {
    hl_error("hookline_producer_destroy called from a delivery callback: ignored");
    return;
  }
  if (hookline_producer_flush(p, HL_DESTROY_FLUSH_MS) != HOOKLINE_OK) {
    /* what is still queued or in flight is reported as failed (purged), then we wait for it */
    hl_producer_purge(p);
    hl_producer_wait_idle(p, hl_mono_ms() + HL_DESTROY_FLUSH_MS);
  }
  atomic_store(&p->stop, 1);
  pthread_join(p->poller, NULL);
  rd_kafka_destroy(p->rk);
  pthread_cond_destroy(&p->idle);
  pthread_mutex_destroy(&p->lock);
  free(p);
  *pp = NULL;
}

HL_EXPORT const char *hookline_version(void) {
  return HOOKLINE_VERSION;
}
