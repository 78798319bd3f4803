/*
 * dlqkafka.h - the Kafka side of `hookline-admin dlq` (cli_dlq.c): read a topic's partitions from
 * the beginning (or from a time, by offsetsForTimes) up to the high watermarks taken at the start,
 * then stop; and an idempotent acks=all producer that waits for the broker's acks (replay).
 * Blocking calls: a CLI, not the dispatcher's loop.
 */
#ifndef HL_DLQKAFKA_H
#define HL_DLQKAFKA_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef enum {
  HL_DLQK_OK = 0,
  HL_DLQK_ENOTOPIC = -1, /* the topic does not exist */
  HL_DLQK_EKAFKA = -2,   /* broker unreachable, timed out, or a write failed */
  HL_DLQK_STOPPED = -3,  /* the visitor asked to stop */
} hl_dlqk_err_t;

/* One record, valid during the visit only. */
typedef struct hl_dlqk_msg {
  int32_t partition;
  int64_t offset;
  int64_t ts_ms; /* the record's Kafka timestamp (when it was written to the DLQ) */
  const char *value;
  size_t len;
} hl_dlqk_msg_t;

/* Return non-zero to stop the scan (HL_DLQK_STOPPED). */
typedef int hl_dlqk_visit_fn(const hl_dlqk_msg_t *m, void *opaque);

/*
 * Visit every record of topic from since_ms (0: the beginning) up to the high watermarks read at
 * the start, partition by partition in offset order (partitions interleave).  kafka.* settings
 * of conf pass through.  Gives up with HL_DLQK_EKAFKA when nothing arrives for idle_ms while
 * partitions are unfinished.
 */
int hl_dlqk_scan(const hl_conf_t *conf, const char *topic, int64_t since_ms, int64_t idle_ms,
                 hl_dlqk_visit_fn *visit, void *opaque, char *errstr, size_t errsize);

typedef struct hl_dlqk_producer hl_dlqk_producer_t;

/* An idempotent, acks=all producer writing to topic, which must exist (HL_DLQK_ENOTOPIC). */
int hl_dlqk_producer_new(const hl_conf_t *conf, const char *topic, hl_dlqk_producer_t **out,
                         char *errstr, size_t errsize);
/* Queue one record (value copied). 0, or HL_DLQK_EKAFKA with errstr. */
int hl_dlqk_send(hl_dlqk_producer_t *pr, const char *key, const char *value, size_t len,
                 char *errstr, size_t errsize);
/* Wait up to timeout_ms for every ack: the number acknowledged in *acked, 0 when all were,
 * HL_DLQK_EKAFKA with the first error otherwise. */
int hl_dlqk_flush(hl_dlqk_producer_t *pr, int timeout_ms, size_t *acked, char *errstr,
                  size_t errsize);
void hl_dlqk_producer_destroy(hl_dlqk_producer_t **pr);

#endif
