/*
 * envelope.c - parse, validate and serialise event envelopes (DESIGN.md §5).
 *
 * Owns the field rules and the delivered body: {"id","type","timestamp","data"} serialised once
 * (compact, fixed key order, `data` keys in the producer's order) and signed byte for byte.
 */
#include "envelope.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define HL_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)

static int hl_is_word(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* [A-Za-z0-9_.-]{1,max} */
static int hl_is_name(const char *s, size_t max) {
  size_t n = 0;

  for (; s[n]; n++) {
    if (!hl_is_word(s[n]) && s[n] != '.' && s[n] != '-')
      return 0;
  }
  return n >= 1 && n <= max;
}

int hl_event_check_tenant(const char *tenant, char *errstr, size_t errsize) {
  if (tenant && hl_is_name(tenant, HL_EVENT_TENANT_MAX))
    return 0;
  snprintf(errstr, errsize, "tenant: must match [A-Za-z0-9_.-]{1,%d}", HL_EVENT_TENANT_MAX);
  return -1;
}

int hl_event_check_id(const char *id, char *errstr, size_t errsize) {
  if (id && hl_is_name(id, HL_EVENT_ID_MAX))
    return 0;
  snprintf(errstr, errsize, "id: must match [A-Za-z0-9_.-]{1,%d}", HL_EVENT_ID_MAX);
  return -1;
}

/* Dot-separated [A-Za-z0-9_]+ segments, at most 128 characters. */
int hl_event_check_type(const char *type, char *errstr, size_t errsize) {
  size_t n = 0, seg = 0;

  if (!type)
    goto bad;
  for (; type[n]; n++) {
    if (type[n] == '.') {
      if (seg == 0)
        goto bad;
      seg = 0;
    } else if (hl_is_word(type[n])) {
      seg++;
    } else {
      goto bad;
    }
  }
  if (seg > 0 && n <= HL_EVENT_TYPE_MAX)
    return 0;
bad:
  snprintf(errstr, errsize,
           "type: must be dot-separated [A-Za-z0-9_]+ segments, at most %d characters",
           HL_EVENT_TYPE_MAX);
  return -1;
}

int hl_event_id_generate(char *out, size_t outsz) {
  if (outsz < 27)
    return -1;
  memcpy(out, "evt_", 4);
  return hl_rand_base62(out + 4, 22);
}

void hl_event_clear(hl_event_t *ev) {
  free(ev->data);
  free(ev->body);
  memset(ev, 0, sizeof(*ev));
}

/*
 * Concatenate `{"id":..,["tenant":..,]"type":..,"timestamp":..,"data":<data>}`.  The fields were
 * validated to plain ASCII without quotes or backslashes, so they need no escaping and `data` is
 * serialised only once.
 */
static char *hl_event_join(const hl_event_t *ev, int with_tenant, size_t *outlen) {
  size_t cap = ev->data_len + strlen(ev->id) + strlen(ev->tenant) + strlen(ev->type) +
               strlen(ev->timestamp) + 80;
  char *out = malloc(cap);
  int n;

  if (!out)
    return NULL;
  n = snprintf(out, cap, "{\"id\":\"%s\"%s%s%s,\"type\":\"%s\",\"timestamp\":\"%s\",\"data\":",
               ev->id, with_tenant ? ",\"tenant\":\"" : "", with_tenant ? ev->tenant : "",
               with_tenant ? "\"" : "", ev->type, ev->timestamp);
  memcpy(out + n, ev->data, ev->data_len);
  n += (int)ev->data_len;
  out[n++] = '}';
  out[n] = '\0';
  *outlen = (size_t)n;
  return out;
}

/* Build ev->data and ev->body from the validated fields and the data value. */
static int hl_event_finish(hl_event_t *ev, json_t *data, char *errstr, size_t errsize) {
  ev->data = json_dumps(data, HL_JSON_FLAGS);
  if (ev->data) {
    ev->data_len = strlen(ev->data);
    ev->body = hl_event_join(ev, 0, &ev->body_len);
  }
  if (ev->data && ev->body)
    return 0;
  snprintf(errstr, errsize, "event: cannot serialise (out of memory)");
  return -1;
}

/* Validate and copy tenant/type/id/timestamp into ev; id generated when NULL. */
static int hl_event_fields(hl_event_t *ev, const char *tenant, const char *type, const char *id,
                           const char *timestamp, int64_t fallback_ts_ms, char *errstr,
                           size_t errsize) {
  if (hl_event_check_tenant(tenant, errstr, errsize) ||
      hl_event_check_type(type, errstr, errsize) ||
      (id && hl_event_check_id(id, errstr, errsize)))
    return -1;
  strcpy(ev->tenant, tenant);
  strcpy(ev->type, type);
  if (id)
    strcpy(ev->id, id);
  else if (hl_event_id_generate(ev->id, sizeof(ev->id)) != 0)
    return -1;
  if (timestamp) {
    if (strlen(timestamp) >= sizeof(ev->timestamp) ||
        hl_parse_rfc3339(timestamp, &ev->ts_ms) != 0) {
      snprintf(errstr, errsize, "timestamp: must be an RFC 3339 date-time (2026-11-22T10:00:00Z)");
      return -1;
    }
    strcpy(ev->timestamp, timestamp);
  } else {
    ev->ts_ms = fallback_ts_ms > 0 ? fallback_ts_ms : hl_now_ms();
    hl_fmt_rfc3339(ev->ts_ms, ev->timestamp, sizeof(ev->timestamp));
  }
  return 0;
}

static int hl_event_size_ok(size_t len, size_t max_bytes, char *errstr, size_t errsize) {
  if (len <= max_bytes)
    return 1;
  snprintf(errstr, errsize, "event: %zu bytes exceeds events.max_bytes (%zu)", len, max_bytes);
  return 0;
}

/* A string member or NULL when absent; -1 when present but not a string. */
static int hl_event_str(json_t *obj, const char *name, const char **out, char *errstr,
                        size_t errsize) {
  json_t *v = json_object_get(obj, name);

  *out = NULL;
  if (!v)
    return 0;
  if (!json_is_string(v)) {
    snprintf(errstr, errsize, "%s: must be a string", name);
    return -1;
  }
  *out = json_string_value(v);
  return 0;
}

int hl_event_parse(const char *buf, size_t len, size_t max_bytes, int64_t fallback_ts_ms,
                   hl_event_t *ev, char *errstr, size_t errsize) {
  const char *tenant, *type, *id, *ts;
  json_error_t jerr;
  json_t *root = NULL, *data;
  int rc = -1;

  memset(ev, 0, sizeof(*ev));
  if (!hl_event_size_ok(len, max_bytes, errstr, errsize))
    return -1;
  root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    snprintf(errstr, errsize, "event: not valid JSON: %s (line %d, column %d)", jerr.text,
             jerr.line, jerr.column);
    goto out;
  }
  if (!json_is_object(root)) {
    snprintf(errstr, errsize, "event: must be a JSON object");
    goto out;
  }
  if (hl_event_str(root, "tenant", &tenant, errstr, errsize) ||
      hl_event_str(root, "type", &type, errstr, errsize) ||
      hl_event_str(root, "id", &id, errstr, errsize) ||
      hl_event_str(root, "timestamp", &ts, errstr, errsize))
    goto out;
  if (!tenant || !type) {
    snprintf(errstr, errsize, "%s: required", !tenant ? "tenant" : "type");
    goto out;
  }
  data = json_object_get(root, "data");
  if (!data) {
    snprintf(errstr, errsize, "data: required");
    goto out;
  }
  if (hl_event_fields(ev, tenant, type, id, ts, fallback_ts_ms, errstr, errsize) ||
      hl_event_finish(ev, data, errstr, errsize))
    goto out;
  rc = 0;
out:
  json_decref(root);
  if (rc)
    hl_event_clear(ev);
  return rc;
}

int hl_event_from_parts(const char *tenant, const char *type, const char *id_or_null,
                        const char *data, size_t data_len, size_t max_bytes, int64_t ts_ms,
                        hl_event_t *ev, char *errstr, size_t errsize) {
  json_error_t jerr;
  json_t *value = NULL;
  int rc = -1;

  memset(ev, 0, sizeof(*ev));
  if (!hl_event_size_ok(data_len, max_bytes, errstr, errsize))
    return -1;
  if (hl_event_fields(ev, tenant, type, id_or_null, NULL, ts_ms, errstr, errsize))
    goto out;
  value = json_loadb(data, data_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
  if (!value) {
    snprintf(errstr, errsize, "data: not valid JSON: %s (line %d, column %d)", jerr.text,
             jerr.line, jerr.column);
    goto out;
  }
  rc = hl_event_finish(ev, value, errstr, errsize);
out:
  json_decref(value);
  if (rc)
    hl_event_clear(ev);
  return rc;
}

int hl_event_envelope(const hl_event_t *ev, char **out, size_t *outlen) {
  *out = hl_event_join(ev, 1, outlen);
  return *out ? 0 : -1;
}

/* Header value as a NUL-terminated string in buf; NULL when absent or too long. */
static const char *hl_event_header(rd_kafka_headers_t *hdrs, const char *name, char *buf,
                                   size_t bufsz) {
  const void *val;
  size_t len;

  if (!hdrs || rd_kafka_header_get_last(hdrs, name, &val, &len) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      !val || len >= bufsz)
    return NULL;
  memcpy(buf, val, len);
  buf[len] = '\0';
  return buf;
}

int hl_event_from_message(const struct rd_kafka_message_s *msg, size_t max_bytes, hl_event_t *ev,
                          char *errstr, size_t errsize) {
  char tenant[HL_EVENT_TENANT_MAX + 2], type[HL_EVENT_TYPE_MAX + 2], id[HL_EVENT_ID_MAX + 2];
  rd_kafka_headers_t *hdrs = NULL;
  int64_t ts = rd_kafka_message_timestamp(msg, NULL);
  const char *t, *i;

  memset(ev, 0, sizeof(*ev));
  if (ts <= 0)
    ts = hl_now_ms();
  if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
    hdrs = NULL;
  if (hdrs && rd_kafka_header_get_last(hdrs, "hl-tenant", &(const void *){NULL}, &(size_t){0}) ==
                  RD_KAFKA_RESP_ERR_NO_ERROR) {
    t = hl_event_header(hdrs, "hl-tenant", tenant, sizeof(tenant));
    i = hl_event_header(hdrs, "hl-id", id, sizeof(id));
    if (!i && rd_kafka_header_get_last(hdrs, "hl-id", &(const void *){NULL}, &(size_t){0}) ==
                  RD_KAFKA_RESP_ERR_NO_ERROR)
      return hl_event_check_id(NULL, errstr, errsize);
    return hl_event_from_parts(t ? t : "", hl_event_header(hdrs, "hl-type", type, sizeof(type)), i,
                               msg->payload ? msg->payload : "", msg->len, max_bytes, ts, ev,
                               errstr, errsize);
  }
  if (!msg->payload || msg->len == 0) {
    snprintf(errstr, errsize, "event: empty record");
    return -1;
  }
  return hl_event_parse(msg->payload, msg->len, max_bytes, ts, ev, errstr, errsize);
}
