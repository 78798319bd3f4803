/*
 * hookline/producer.h - publish events to hookline from C programs (libhookline).
 *
 *   char err[256], id[HOOKLINE_ID_SIZE];
 *   hookline_producer_t *p = hookline_producer_new(NULL, NULL, 0, err, sizeof(err));
 *   hookline_publish(p, "acme", "invoice.paid", "{\"amount\":12}", NULL, on_delivery, NULL,
 *                    id, sizeof(id), err, sizeof(err));
 *   hookline_producer_flush(p, 10000);
 *   hookline_producer_destroy(&p);
 *
 * Events are validated before anything is sent (an invalid event returns HOOKLINE_EINVAL and
 * sends nothing), then produced to `<topics.prefix>.events` with key = tenant by an idempotent
 * producer (acks=all).  Publishing is asynchronous and thread-safe: call hookline_publish from
 * any number of threads.  The wire format is docs/events.md.
 *
 * Delivery callbacks run on one thread the library owns, never on the caller's, one at a time,
 * once per accepted event: after the broker acknowledged it (err HOOKLINE_OK) or gave up on it.
 * Keep them short.  Inside a callback you may publish (it fails with HOOKLINE_EKAFKA instead of
 * waiting when the local queue is full) but not flush or destroy the producer.
 *
 * Every errstr may be NULL (errsize 0); when given it receives a one-line reason.
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
  HOOKLINE_EKAFKA = -3,    /* the Kafka client refused or failed the event (errstr says why) */
  HOOKLINE_ETIMEDOUT = -4, /* flush: events were still outstanding at the deadline */
  HOOKLINE_ENOMEM = -5,
  HOOKLINE_ESTATE = -6, /* flush called from a delivery callback */
};

/* Room for any event id plus its NUL: ids are at most 128 characters. */
#define HOOKLINE_ID_SIZE 129

/*
 * Called once per published event.  err is HOOKLINE_OK when the broker acknowledged it, else
 * HOOKLINE_EKAFKA with errstr (e.g. "topic hookline.events does not exist: start a dispatcher
 * or create it").  event_id and errstr are valid only during the call.
 */
typedef void hookline_delivery_cb(const char *event_id, int err, const char *errstr, void *opaque);

/*
 * A producer configured like every hookline program: config_path (NULL: $HOOKLINE_CONFIG or
 * none), then HOOKLINE_* environment variables, then overrides ("key=value", e.g.
 * "kafka.bootstrap.servers=127.0.0.1:19092").  Does not contact the broker.  NULL on error
 * with errstr.
 */
hookline_producer_t *hookline_producer_new(const char *config_path, const char *const *overrides,
                                           int noverrides, char *errstr, size_t errsize);

/*
 * Publish one event: data_json is the event's `data` (any JSON value, sent as written, minus
 * insignificant whitespace); id_or_null its id (generated when NULL).  The id used is written to
 * id_out when not NULL (HOOKLINE_ID_SIZE bytes always suffice; a smaller buffer that cannot hold
 * the id fails with HOOKLINE_EINVAL before anything is sent).  cb may be NULL.  Returns
 * HOOKLINE_OK once the event is queued; waits while the local queue is full.
 */
int hookline_publish(hookline_producer_t *p, const char *tenant, const char *type,
                     const char *data_json, const char *id_or_null, hookline_delivery_cb *cb,
                     void *opaque, char *id_out, size_t id_out_size, char *errstr, size_t errsize);

/* Publish a whole JSON envelope ({"tenant","type","data"[,"id"][,"timestamp"]}), as in NDJSON. */
int hookline_publish_envelope(hookline_producer_t *p, const char *json, size_t len,
                              hookline_delivery_cb *cb, void *opaque, char *id_out,
                              size_t id_out_size, char *errstr, size_t errsize);

/*
 * Wait until every event published so far has been reported through its callback, at most
 * timeout_ms (negative: no limit).  HOOKLINE_OK, HOOKLINE_ETIMEDOUT when some are still
 * outstanding, HOOKLINE_ESTATE when called from a delivery callback.
 */
int hookline_producer_flush(hookline_producer_t *p, int timeout_ms);

/* Events published but not yet reported through the callback. */
long hookline_producer_outstanding(const hookline_producer_t *p);

/* The topic events go to, e.g. "hookline.events". */
const char *hookline_producer_topic(const hookline_producer_t *p);

/*
 * Flush (at most 10 s; events still outstanding then are reported as failed), stop the delivery
 * thread and free; NULLs *p.  Accepts NULL.  Not from a delivery callback.
 */
void hookline_producer_destroy(hookline_producer_t **p);

/* The library's version, e.g. "0.1.0". */
const char *hookline_version(void);

#ifdef __cplusplus
}
#endif
#endif
