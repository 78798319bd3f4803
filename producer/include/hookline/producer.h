/*
 * hookline/producer.h - publish events to hookline from C programs (libhookline).
 *
 *   char err[256], id[130];
 *   hookline_producer_t *p = hookline_producer_new(NULL, NULL, 0, err, sizeof(err));
 *   hookline_publish(p, "acme", "invoice.paid", "{\"amount\":12}", NULL, on_delivery, NULL,
 *                    id, sizeof(id), err, sizeof(err));
 *   hookline_producer_flush(p, 10000);
 *   hookline_producer_destroy(&p);
 *
 * Events are validated before anything is sent (an invalid event returns HOOKLINE_EINVAL and
 * sends nothing), then produced to `<topics.prefix>.events` with key = tenant by an idempotent
 * producer (acks=all).  Publishing is asynchronous and thread-safe: call hookline_publish from
 * any number of threads.  The delivery callback runs on the library's own delivery thread once
 * the broker acknowledged the event (err 0) or gave up on it; it must not block for long.
 */
#ifndef HOOKLINE_PRODUCER_H
#define HOOKLINE_PRODUCER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hookline_producer_s hookline_producer_t;

enum {
  HOOKLINE_OK = 0,
  HOOKLINE_EINVAL = -1,    /* the event is invalid; errstr names the field and the rule */
  HOOKLINE_ECONFIG = -2,   /* bad configuration */
  HOOKLINE_EKAFKA = -3,    /* the Kafka client refused the event (errstr says why) */
  HOOKLINE_ETIMEDOUT = -4, /* flush: events were still outstanding at the deadline */
  HOOKLINE_ENOMEM = -5,
};

/*
 * Called once per published event: err is HOOKLINE_OK when the broker acknowledged it, else
 * HOOKLINE_EKAFKA with errstr.  event_id and errstr are valid only during the call.
 */
typedef void hookline_delivery_cb(const char *event_id, int err, const char *errstr, void *opaque);

/*
 * A producer configured like every hookline program: config_path (NULL: $HOOKLINE_CONFIG or
 * none), then HOOKLINE_* environment variables, then overrides ("key=value", e.g.
 * "kafka.bootstrap.servers=127.0.0.1:19092").  NULL on error with errstr.
 */
hookline_producer_t *hookline_producer_new(const char *config_path, const char *const *overrides,
                                           int noverrides, char *errstr, size_t errsize);

/*
 * Publish one event. data_json is the event's `data` (any JSON value); id_or_null its id
 * (generated when NULL).  The id used is written to id_out (at least 130 bytes) when not NULL.
 * cb may be NULL.  Returns HOOKLINE_OK once the event is queued.
 */
int hookline_publish(hookline_producer_t *p, const char *tenant, const char *type,
                     const char *data_json, const char *id_or_null, hookline_delivery_cb *cb,
                     void *opaque, char *id_out, size_t id_out_size, char *errstr, size_t errsize);

/* Publish a whole JSON envelope ({"tenant","type","data"[,"id"][,"timestamp"]}), as in NDJSON. */
int hookline_publish_envelope(hookline_producer_t *p, const char *json, size_t len,
                              hookline_delivery_cb *cb, void *opaque, char *id_out,
                              size_t id_out_size, char *errstr, size_t errsize);

/* Wait until every published event has been acknowledged or failed, at most timeout_ms.
 * HOOKLINE_OK, or HOOKLINE_ETIMEDOUT when some are still outstanding. */
int hookline_producer_flush(hookline_producer_t *p, int timeout_ms);

/* Events published but not yet reported through the callback. */
long hookline_producer_outstanding(const hookline_producer_t *p);

/* The topic events go to, e.g. "hookline.events". */
const char *hookline_producer_topic(const hookline_producer_t *p);

/* Flush (at most 10 s), stop the delivery thread and free; NULLs *p. Accepts NULL. */
void hookline_producer_destroy(hookline_producer_t **p);

/* The library's version, e.g. "0.1.0". */
const char *hookline_version(void);

#ifdef __cplusplus
}
#endif
#endif
