/*
 * record.c - JSON codec of delivery and attempt records (see record.h), with jansson.
 */
#include "record.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sign.h"
#include "util.h"

static char *hl_json_dump(json_t *o, size_t *len) {
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

  json_decref(o);
  if (s && len)
    *len = strlen(s);
  return s;
}

char *hl_attempt_to_json(const hl_attempt_t *at, size_t *len) {
  char ts[40];
  size_t xlen = at->excerpt_len > HL_RECORD_EXCERPT_MAX ? HL_RECORD_EXCERPT_MAX : at->excerpt_len;
  json_t *o = json_object();

  if (!o)
    return NULL;
  hl_fmt_rfc3339(at->ts_ms, ts, sizeof(ts));
  json_object_set_new(o, "event_id", json_string(at->event_id ? at->event_id : ""));
  json_object_set_new(o, "endpoint_id", json_string(at->endpoint_id ? at->endpoint_id : ""));
  json_object_set_new(o, "tenant", json_string(at->tenant ? at->tenant : ""));
  json_object_set_new(o, "attempt", json_integer(at->attempt));
  json_object_set_new(o, "ts", json_string(ts));
  json_object_set_new(o, "status", json_integer(at->status));
  json_object_set_new(o, "latency_ms", json_integer(at->latency_ms));
  json_object_set_new(o, "outcome", json_string(at->outcome ? at->outcome : "error"));
  json_object_set_new(o, "error", at->error ? json_string(at->error) : json_null());
  /* the excerpt may be any bytes: invalid UTF-8 falls back to a placeholder */
  json_t *x = at->excerpt ? json_stringn(at->excerpt, xlen) : json_null();
  json_object_set_new(o, "excerpt", x ? x : json_string("(binary)"));
  return hl_json_dump(o, len);
}

char *hl_record_to_json(const hl_record_t *rec, size_t *len) {
  json_t *o = json_object(), *hist = NULL;

  if (!o)
    return NULL;
  if (rec->history)
    hist = json_loads(rec->history, 0, NULL);
  json_object_set_new(o, "v", json_integer(1));
  json_object_set_new(o, "event_id", json_string(rec->ev.id));
  json_object_set_new(o, "tenant", json_string(rec->ev.tenant));
  json_object_set_new(o, "type", json_string(rec->ev.type));
  json_object_set_new(o, "timestamp", json_string(rec->ev.timestamp));
  json_object_set_new(o, "ts_ms", json_integer(rec->ev.ts_ms));
  json_object_set_new(o, "body", json_stringn(rec->ev.body ? rec->ev.body : "", rec->ev.body_len));
  json_object_set_new(o, "endpoint_id", json_string(rec->endpoint_id));
  json_object_set_new(o, "attempt", json_integer(rec->attempt));
  json_object_set_new(o, "due_ms", json_integer(rec->due_ms));
  json_object_set_new(o, "history", json_is_array(hist) ? json_incref(hist) : json_array());
  if (rec->reason)
    json_object_set_new(o, "reason", json_string(rec->reason));
  json_decref(hist);
  return hl_json_dump(o, len);
}

static int hl_copy_str(json_t *o, const char *key, char *out, size_t outsz) {
  const char *s = json_string_value(json_object_get(o, key));

  if (!s || strlen(s) >= outsz)
    return -1;
  memcpy(out, s, strlen(s) + 1);
  return 0;
}

int hl_record_parse(const char *buf, size_t len, hl_record_t *rec, char *errstr, size_t errsize) {
  json_error_t jerr;
  json_t *o = json_loadb(buf, len, 0, &jerr), *body, *hist;
  int rc = -1;

  memset(rec, 0, sizeof(*rec));
  if (!json_is_object(o)) {
    snprintf(errstr, errsize, "record: not a JSON object");
    goto out;
  }
  body = json_object_get(o, "body");
  if (hl_copy_str(o, "event_id", rec->ev.id, sizeof(rec->ev.id)) ||
      hl_copy_str(o, "tenant", rec->ev.tenant, sizeof(rec->ev.tenant)) ||
      hl_copy_str(o, "type", rec->ev.type, sizeof(rec->ev.type)) ||
      hl_copy_str(o, "endpoint_id", rec->endpoint_id, sizeof(rec->endpoint_id)) ||
      !json_is_string(body)) {
    snprintf(errstr, errsize, "record: missing event_id, tenant, type, endpoint_id or body");
    goto out;
  }
  hl_copy_str(o, "timestamp", rec->ev.timestamp, sizeof(rec->ev.timestamp));
  rec->ev.ts_ms = json_integer_value(json_object_get(o, "ts_ms"));
  rec->ev.body_len = json_string_length(body);
  rec->ev.body = malloc(rec->ev.body_len + 1);
  if (!rec->ev.body) {
    snprintf(errstr, errsize, "record: out of memory");
    goto out;
  }
  memcpy(rec->ev.body, json_string_value(body), rec->ev.body_len + 1);
  rec->attempt = (int)json_integer_value(json_object_get(o, "attempt"));
  rec->due_ms = json_integer_value(json_object_get(o, "due_ms"));
  hist = json_object_get(o, "history");
  if (json_is_array(hist))
    rec->history = json_dumps(hist, JSON_COMPACT);
  if (json_is_string(json_object_get(o, "reason")))
    rec->reason = strdup(json_string_value(json_object_get(o, "reason")));
  rc = 0;
out:
  json_decref(o);
  if (rc != 0)
    hl_record_clear(rec);
  return rc;
}

int hl_record_history_add(hl_record_t *rec, const char *attempt_json) {
  json_t *hist = rec->history ? json_loads(rec->history, 0, NULL) : NULL;
  json_t *at = json_loads(attempt_json, 0, NULL);
  char *s;

  if (!json_is_array(hist)) {
    json_decref(hist);
    hist = json_array();
  }
  if (!hist || !at) {
    json_decref(hist);
    json_decref(at);
    return -1;
  }
  json_array_append_new(hist, at);
  while (json_array_size(hist) > HL_RECORD_HISTORY_MAX)
    json_array_remove(hist, 0);
  s = hl_json_dump(hist, NULL);
  if (!s)
    return -1;
  free(rec->history);
  rec->history = s;
  return 0;
}

void hl_record_clear(hl_record_t *rec) {
  if (!rec)
    return;
  hl_event_clear(&rec->ev);
  free(rec->history);
  free(rec->reason);
  memset(rec, 0, sizeof(*rec));
}

char *hl_record_invalid_json(const void *raw, size_t raw_len, const char *reason, const char *topic,
                             int32_t partition, int64_t offset, size_t *len) {
  json_t *o = json_object(), *src = json_object();
  size_t b64sz = 4 * ((raw_len + 2) / 3) + 1;
  char *b64 = malloc(b64sz);
  char *s = NULL;

  if (!o || !src || !b64) {
    json_decref(o);
    json_decref(src);
    goto out;
  }
  if (hl_b64_encode(raw ? raw : (const void *)"", raw_len, b64, b64sz) < 0)
    b64[0] = '\0';
  json_object_set_new(o, "v", json_integer(1));
  json_object_set_new(o, "reason", json_string(reason));
  json_object_set_new(o, "raw_b64", json_string(b64));
  json_object_set_new(src, "topic", json_string(topic ? topic : ""));
  json_object_set_new(src, "partition", json_integer(partition));
  json_object_set_new(src, "offset", json_integer(offset));
  json_object_set_new(o, "source", src);
  s = hl_json_dump(o, len);
out:
  free(b64);
  return s;
}

int hl_record_invalid_parse(const char *buf, size_t len, hl_record_invalid_t *inv, char *errstr,
                            size_t errsize) {
  json_t *o = json_loadb(buf, len, 0, NULL), *src;
  const char *reason, *raw;
  int rc = -1;

  memset(inv, 0, sizeof(*inv));
  reason = json_string_value(json_object_get(o, "reason"));
  raw = json_string_value(json_object_get(o, "raw_b64"));
  if (!reason || !raw) {
    snprintf(errstr, errsize, "record: not an invalid-event record (reason, raw_b64)");
    goto out;
  }
  inv->reason = strdup(reason);
  inv->raw_b64 = strdup(raw);
  if (!inv->reason || !inv->raw_b64) {
    snprintf(errstr, errsize, "record: out of memory");
    goto out;
  }
  src = json_object_get(o, "source");
  hl_copy_str(src, "topic", inv->topic, sizeof(inv->topic));
  inv->partition = (int32_t)json_integer_value(json_object_get(src, "partition"));
  inv->offset = json_integer_value(json_object_get(src, "offset"));
  rc = 0;
out:
  json_decref(o);
  if (rc != 0)
    hl_record_invalid_clear(inv);
  return rc;
}

void hl_record_invalid_clear(hl_record_invalid_t *inv) {
  if (!inv)
    return;
  free(inv->reason);
  free(inv->raw_b64);
  memset(inv, 0, sizeof(*inv));
}
