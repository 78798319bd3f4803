/*
 * envelope.h - the event envelope (DESIGN.md §5): one parser and validator shared by
 * libhookline, the admin API (POST /v1/events) and the dispatcher.
 *
 * An event arrives either as a JSON envelope
 *   {"id":"evt_..","tenant":"acme","type":"invoice.paid","timestamp":"..Z","data":{..}}
 * or as a Kafka record whose headers hl-tenant, hl-type (and optional hl-id) carry the routing
 * fields and whose value is the raw `data` JSON.  Every rejection names the field and the rule,
 * e.g. "tenant: must match [A-Za-z0-9_.-]{1,64}".
 */
#ifndef HL_ENVELOPE_H
#define HL_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#define HL_EVENT_TENANT_MAX 64
#define HL_EVENT_TYPE_MAX 128
#define HL_EVENT_ID_MAX 128

typedef struct hl_event {
  char id[HL_EVENT_ID_MAX + 1];
  char tenant[HL_EVENT_TENANT_MAX + 1];
  char type[HL_EVENT_TYPE_MAX + 1];
  int64_t ts_ms;      /* event time, Unix ms */
  char timestamp[48]; /* its RFC 3339 text as delivered (the producer's when it gave one) */
  char *data;         /* owned: compact JSON text of `data` */
  size_t data_len;
  char *body; /* owned: the delivered body {"id","type","timestamp","data"}, built once */
  size_t body_len;
} hl_event_t;

/* Field validators: 0 ok, -1 with "field: rule" in errstr. */
int hl_event_check_tenant(const char *tenant, char *errstr, size_t errsize);
int hl_event_check_type(const char *type, char *errstr, size_t errsize);
int hl_event_check_id(const char *id, char *errstr, size_t errsize);

/* A fresh id: "evt_" + 22 random base62 characters. out >= 27 bytes. 0 ok. */
int hl_event_id_generate(char *out, size_t outsz);

/*
 * Parse and validate a JSON envelope of len bytes (at most max_bytes).  An absent id is
 * generated; an absent timestamp becomes fallback_ts_ms (the Kafka record's timestamp).
 * Fills *ev (which the caller must hl_event_clear) including ev->body.  0 ok, -1 invalid.
 */
int hl_event_parse(const char *buf, size_t len, size_t max_bytes, int64_t fallback_ts_ms,
                   hl_event_t *ev, char *errstr, size_t errsize);

/*
 * The Kafka-header form: tenant/type/id from headers (id may be NULL), data = the raw value.
 * Same validation and result as hl_event_parse.
 */
int hl_event_from_parts(const char *tenant, const char *type, const char *id_or_null,
                        const char *data, size_t data_len, size_t max_bytes, int64_t ts_ms,
                        hl_event_t *ev, char *errstr, size_t errsize);

/*
 * Decode a Kafka record the way the dispatcher does: the header form when the record carries
 * an hl-tenant header, else the JSON envelope in the value.  The record's timestamp is the
 * fallback event time.  msg is a `const rd_kafka_message_t *`.
 */
struct rd_kafka_message_s;
int hl_event_from_message(const struct rd_kafka_message_s *msg, size_t max_bytes, hl_event_t *ev,
                          char *errstr, size_t errsize);

/* Serialise the envelope (for publishing); *out is malloc'ed, caller frees. 0 ok. */
int hl_event_envelope(const hl_event_t *ev, char **out, size_t *outlen);

void hl_event_clear(hl_event_t *ev);

#endif
