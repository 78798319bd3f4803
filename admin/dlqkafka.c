/*
 * dlqkafka.c - read a topic up to its high watermarks and write with broker acks (dlqkafka.h).
 */
#include "dlqkafka.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define HL_DLQK_META_MS 10000

/* librdkafka's own logs: errors as warnings, the rest (e.g. producer-only keys) as debug. */
static void hl_dlqk_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  (void)rk;
  if (level <= 3)
    hl_warn("kafka %s: %s", fac, buf);
  else
    hl_debug("kafka %s: %s", fac, buf);
}

static void hl_dlqk_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque);

/* A client with conf's kafka.* settings, then extra (key, value pairs, NULL-terminated). */
static rd_kafka_t *hl_dlqk_new(const hl_conf_t *conf, rd_kafka_type_t type, const char **extra,
                               void *opaque, char *errstr, size_t errsize) {
  rd_kafka_conf_t *kc = rd_kafka_conf_new();
  const char *k, *v;
  rd_kafka_t *rk;

  rd_kafka_conf_set_log_cb(kc, hl_dlqk_log_cb);
  rd_kafka_conf_set_opaque(kc, opaque);
  if (type == RD_KAFKA_PRODUCER)
    rd_kafka_conf_set_dr_msg_cb(kc, hl_dlqk_dr_cb);
  for (size_t i = 0; i < hl_conf_kafka_count(conf); i++) {
    hl_conf_kafka_get(conf, i, &k, &v);
    if (rd_kafka_conf_set(kc, k, v, errstr, errsize) != RD_KAFKA_CONF_OK)
      goto fail;
  }
  for (; extra && extra[0]; extra += 2) {
    if (rd_kafka_conf_set(kc, extra[0], extra[1], errstr, errsize) != RD_KAFKA_CONF_OK)
      goto fail;
  }
  rk = rd_kafka_new(type, kc, errstr, errsize); /* takes kc on success */
  if (!rk)
    goto fail;
  return rk;
fail:
  rd_kafka_conf_destroy(kc);
  return NULL;
}

/* The topic's partition count: > 0, or an hl_dlqk_err_t. */
static int hl_dlqk_partitions(rd_kafka_t *rk, const char *topic, char *errstr, size_t errsize) {
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_resp_err_t err;
  int rc = HL_DLQK_EKAFKA;

  err = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, HL_DLQK_META_MS) : rd_kafka_last_error();
  if (err) {
    snprintf(errstr, errsize, "kafka: metadata of %s: %s", topic, rd_kafka_err2str(err));
    goto out;
  }
  err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
  if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
      (!err && md->topics[0].partition_cnt == 0)) {
    snprintf(errstr, errsize, "topic %s does not exist", topic);
    rc = HL_DLQK_ENOTOPIC;
  } else if (err) {
    snprintf(errstr, errsize, "kafka: metadata of %s: %s", topic, rd_kafka_err2str(err));
  } else {
    rc = md->topics[0].partition_cnt;
  }
out:
  if (md)
    rd_kafka_metadata_destroy(md);
  if (rkt)
    rd_kafka_topic_destroy(rkt);
  return rc;
}

/* ---- scan ---- */

typedef struct hl_dlqk_scan {
  rd_kafka_t *rk;
  const char *topic;
  int nparts;
  int64_t *end;  /* high watermark at the start, per partition */
  bool *done;    /* reached end */
  int remaining; /* partitions not done */
} hl_dlqk_scan_t;

/* Start offsets into list (one entry per unfinished partition); 0 or HL_DLQK_EKAFKA. */
static int hl_dlqk_starts(hl_dlqk_scan_t *sc, int64_t since_ms, rd_kafka_topic_partition_list_t *l,
                          char *errstr, size_t errsize) {
  int64_t lo, hi;
  rd_kafka_resp_err_t err;

  for (int p = 0; p < sc->nparts; p++) {
    err = rd_kafka_query_watermark_offsets(sc->rk, sc->topic, p, &lo, &hi, HL_DLQK_META_MS);
    if (err) {
      snprintf(errstr, errsize, "kafka: watermarks of %s[%d]: %s", sc->topic, p,
               rd_kafka_err2str(err));
      return HL_DLQK_EKAFKA;
    }
    sc->end[p] = hi;
    rd_kafka_topic_partition_list_add(l, sc->topic, p)->offset = since_ms > 0 ? since_ms : lo;
  }
  if (since_ms > 0) {
    err = rd_kafka_offsets_for_times(sc->rk, l, HL_DLQK_META_MS);
    if (err) {
      snprintf(errstr, errsize, "kafka: offsets for times of %s: %s", sc->topic,
               rd_kafka_err2str(err));
      return HL_DLQK_EKAFKA;
    }
  }
  for (int i = 0; i < l->cnt; i++) {
    rd_kafka_topic_partition_t *tp = &l->elems[i];
    int p = tp->partition;

    /* OFFSET_END (-1): nothing at or after since_ms */
    sc->done[p] = tp->offset < 0 || tp->offset >= sc->end[p];
    sc->remaining += !sc->done[p];
  }
  return 0;
}

/* One consumed message: 1 visited, 0 skipped, HL_DLQK_STOPPED. */
static int hl_dlqk_take(hl_dlqk_scan_t *sc, rd_kafka_message_t *rkm, hl_dlqk_visit_fn *visit,
                        void *opaque) {
  int p = rkm->partition;
  hl_dlqk_msg_t m;

  if (p < 0 || p >= sc->nparts || sc->done[p])
    return 0;
  if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || rkm->offset >= sc->end[p]) {
    sc->done[p] = true;
    sc->remaining--;
    return 0;
  }
  if (rkm->offset == sc->end[p] - 1) {
    sc->done[p] = true;
    sc->remaining--;
  }
  m.partition = p;
  m.offset = rkm->offset;
  m.ts_ms = rd_kafka_message_timestamp(rkm, NULL);
  m.value = rkm->payload ? rkm->payload : "";
  m.len = rkm->len;
  return visit(&m, opaque) ? HL_DLQK_STOPPED : 1;
}

static int hl_dlqk_consume(hl_dlqk_scan_t *sc, int64_t idle_ms, hl_dlqk_visit_fn *visit,
                           void *opaque, char *errstr, size_t errsize) {
  int64_t last = hl_mono_ms();
  rd_kafka_message_t *rkm;
  int rc = 0;

  while (sc->remaining > 0 && rc == 0) {
    if (hl_mono_ms() - last > idle_ms) {
      snprintf(errstr, errsize, "kafka: reading %s: nothing for %lld ms, %d partition(s) unread",
               sc->topic, (long long)idle_ms, sc->remaining);
      return HL_DLQK_EKAFKA;
    }
    rkm = rd_kafka_consumer_poll(sc->rk, 200);
    if (!rkm)
      continue;
    if (rkm->err && rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      hl_warn("kafka: reading %s: %s", sc->topic, rd_kafka_message_errstr(rkm));
    } else {
      last = hl_mono_ms();
      rc = hl_dlqk_take(sc, rkm, visit, opaque) == HL_DLQK_STOPPED ? HL_DLQK_STOPPED : 0;
    }
    rd_kafka_message_destroy(rkm);
  }
  return rc;
}

int hl_dlqk_scan(const hl_conf_t *conf, const char *topic, int64_t since_ms, int64_t idle_ms,
                 hl_dlqk_visit_fn *visit, void *opaque, char *errstr, size_t errsize) {
  /* assign(), never subscribe: the group id is needed by librdkafka but no group is joined, and
   * nothing is committed */
  static const char *extra[] = {"group.id",
                                "hookline-admin-dlq",
                                "enable.partition.eof",
                                "true",
                                "enable.auto.commit",
                                "false",
                                "enable.auto.offset.store",
                                "false",
                                NULL};
  hl_dlqk_scan_t sc = {.topic = topic};
  rd_kafka_topic_partition_list_t *l = NULL;
  rd_kafka_resp_err_t err;
  int rc = HL_DLQK_EKAFKA;

  sc.rk = hl_dlqk_new(conf, RD_KAFKA_CONSUMER, extra, NULL, errstr, errsize);
  if (!sc.rk)
    goto out;
  sc.nparts = hl_dlqk_partitions(sc.rk, topic, errstr, errsize);
  if (sc.nparts < 0) {
    rc = sc.nparts;
    goto out;
  }
  sc.end = calloc((size_t)sc.nparts, sizeof(*sc.end));
  sc.done = calloc((size_t)sc.nparts, sizeof(*sc.done));
  l = rd_kafka_topic_partition_list_new(sc.nparts);
  if (!sc.end || !sc.done || !l) {
    snprintf(errstr, errsize, "out of memory");
    goto out;
  }
  rc = hl_dlqk_starts(&sc, since_ms, l, errstr, errsize);
  if (rc != 0 || sc.remaining == 0)
    goto out;
  err = rd_kafka_assign(sc.rk, l);
  if (err) {
    snprintf(errstr, errsize, "kafka: assign %s: %s", topic, rd_kafka_err2str(err));
    rc = HL_DLQK_EKAFKA;
    goto out;
  }
  rc = hl_dlqk_consume(&sc, idle_ms, visit, opaque, errstr, errsize);
out:
  if (l)
    rd_kafka_topic_partition_list_destroy(l);
  if (sc.rk) {
    rd_kafka_consumer_close(sc.rk);
    rd_kafka_destroy(sc.rk);
  }
  free(sc.end);
  free(sc.done);
  return rc;
}

/* ---- producer ---- */

struct hl_dlqk_producer {
  rd_kafka_t *rk;
  rd_kafka_topic_t *rkt;
  size_t sent, acked, failed;
  char first_err[256];
};

static void hl_dlqk_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque) {
  hl_dlqk_producer_t *pr = opaque;

  (void)rk;
  if (!rkm->err) {
    pr->acked++;
    return;
  }
  if (pr->failed++ == 0)
    snprintf(pr->first_err, sizeof(pr->first_err), "%s", rd_kafka_err2str(rkm->err));
}

int hl_dlqk_producer_new(const hl_conf_t *conf, const char *topic, hl_dlqk_producer_t **out,
                         char *errstr, size_t errsize) {
  /* never create the tier topic by writing to it: a topic no dispatcher reads loses replays */
  static const char *extra[] = {"enable.idempotence",       "true",  "acks", "all",
                                "allow.auto.create.topics", "false", NULL};
  hl_dlqk_producer_t *pr = calloc(1, sizeof(*pr));
  int rc = HL_DLQK_EKAFKA;

  *out = NULL;
  if (!pr) {
    snprintf(errstr, errsize, "out of memory");
    return rc;
  }
  pr->rk = hl_dlqk_new(conf, RD_KAFKA_PRODUCER, extra, pr, errstr, errsize);
  if (!pr->rk)
    goto out;
  rc = hl_dlqk_partitions(pr->rk, topic, errstr, errsize);
  if (rc < 0)
    goto out;
  pr->rkt = rd_kafka_topic_new(pr->rk, topic, NULL);
  rc = pr->rkt ? HL_DLQK_OK : HL_DLQK_EKAFKA;
out:
  if (rc == HL_DLQK_OK)
    *out = pr;
  else
    hl_dlqk_producer_destroy(&pr);
  return rc;
}

int hl_dlqk_send(hl_dlqk_producer_t *pr, const char *key, const char *value, size_t len,
                 char *errstr, size_t errsize) {
  for (int tries = 0; tries < 600; tries++) {
    if (rd_kafka_produce(pr->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)value, len,
                         key, strlen(key), NULL) == 0) {
      pr->sent++;
      return 0;
    }
    if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
      break;
    rd_kafka_poll(pr->rk, 100); /* the local queue is full: serve acks, then try again */
  }
  snprintf(errstr, errsize, "kafka: produce to %s: %s", rd_kafka_topic_name(pr->rkt),
           rd_kafka_err2str(rd_kafka_last_error()));
  return HL_DLQK_EKAFKA;
}

int hl_dlqk_flush(hl_dlqk_producer_t *pr, int timeout_ms, size_t *acked, char *errstr,
                  size_t errsize) {
  rd_kafka_flush(pr->rk, timeout_ms);
  *acked = pr->acked;
  if (pr->acked == pr->sent)
    return 0;
  if (pr->failed)
    snprintf(errstr, errsize, "kafka: %zu of %zu writes failed: %s", pr->failed, pr->sent,
             pr->first_err);
  else
    snprintf(errstr, errsize, "kafka: %zu of %zu writes not acknowledged within %d ms",
             pr->sent - pr->acked, pr->sent, timeout_ms);
  return HL_DLQK_EKAFKA;
}

void hl_dlqk_producer_destroy(hl_dlqk_producer_t **prp) {
  hl_dlqk_producer_t *pr = prp ? *prp : NULL;

  if (!pr)
    return;
  if (pr->rkt)
    rd_kafka_topic_destroy(pr->rkt);
  if (pr->rk) {
    rd_kafka_purge(pr->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(pr->rk, 0);
    rd_kafka_destroy(pr->rk);
  }
  free(pr);
  *prp = NULL;
}
