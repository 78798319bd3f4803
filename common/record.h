/*
 * record.h - the JSON records the dispatcher writes and hookline-admin's DLQ/attempt tooling
 * reads (DESIGN.md §4):
 *
 * Delivery record (value of <p>.retry.<delay> and <p>.dlq, key = endpoint id):
 *   {"v":1,"event_id","tenant","type","timestamp","body":"<delivered body, verbatim>",
 *    "endpoint_id","attempt":<attempts made so far>,"due_ms":<next attempt, Unix ms>,
 *    "history":[<attempt records>, at most HL_RECORD_HISTORY_MAX, the newest kept],
 *    "reason":"<final reason, DLQ only>"}
 * An invalid event in the DLQ has no endpoint: {"v":1,"reason","raw_b64","source":
 *   {"topic","partition","offset"}}.
 *
 * Attempt record (value of <p>.attempts, key = endpoint id, and items of hl:recent:<ep>):
 *   {"event_id","endpoint_id","tenant","attempt","ts","status","latency_ms","outcome","error",
 *    "excerpt"}
 */
#ifndef HL_RECORD_H
#define HL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

#define HL_RECORD_HISTORY_MAX 10
#define HL_RECORD_EXCERPT_MAX 1024 /* bytes of response body kept in an attempt record */

typedef struct hl_attempt {
  const char *event_id, *endpoint_id, *tenant; /* borrowed */
  int attempt;                                 /* 1-based; 0 for a skipped delivery */
  int64_t ts_ms;                               /* attempt start, Unix ms */
  int status;                                  /* HTTP status, 0 when none */
  int64_t latency_ms;
  const char
      *outcome; /* hl_http_outcome_str() ("ok", "gone", "status", "timeout", ...) or "skipped" */
  const char *error;   /* may be NULL */
  const char *excerpt; /* response body excerpt, may be NULL; cut to HL_RECORD_EXCERPT_MAX */
  size_t excerpt_len;
} hl_attempt_t;

/* Compact JSON of an attempt; malloc'ed, caller frees.  NULL on allocation failure. */
char *hl_attempt_to_json(const hl_attempt_t *at, size_t *len);

typedef struct hl_record {
  hl_event_t ev; /* id, tenant, type, timestamp, body (owned; data may be NULL) */
  char endpoint_id[48];
  int attempt; /* attempts made */
  int64_t due_ms;
  char *history; /* owned JSON array text, or NULL for [] */
  char *reason;  /* owned, NULL when none */
} hl_record_t;

/* Serialise; malloc'ed, caller frees.  NULL on allocation failure. */
char *hl_record_to_json(const hl_record_t *rec, size_t *len);
/* Parse a delivery record; 0 ok, -1 with errstr.  Caller hl_record_clear()s. */
int hl_record_parse(const char *buf, size_t len, hl_record_t *rec, char *errstr, size_t errsize);
/* Append an attempt (JSON object text) to rec->history, keeping the newest HL_RECORD_HISTORY_MAX.
 */
int hl_record_history_add(hl_record_t *rec, const char *attempt_json);
void hl_record_clear(hl_record_t *rec);

/* The DLQ record of an undecodable event; malloc'ed. tenant may be NULL. */
char *hl_record_invalid_json(const void *raw, size_t raw_len, const char *reason, const char *topic,
                             int32_t partition, int64_t offset, size_t *len);

/* An invalid event's DLQ record, as hl_record_invalid_json() writes it. */
typedef struct hl_record_invalid {
  char *reason;  /* owned */
  char *raw_b64; /* owned: the undecodable record's bytes, base64 */
  char topic[256];
  int32_t partition;
  int64_t offset;
} hl_record_invalid_t;

/* Parse an invalid-event record (one with "raw_b64"); 0 ok, -1 with errstr when buf is not one.
 * Caller hl_record_invalid_clear()s. */
int hl_record_invalid_parse(const char *buf, size_t len, hl_record_invalid_t *inv, char *errstr,
                            size_t errsize);
void hl_record_invalid_clear(hl_record_invalid_t *inv);

#endif
