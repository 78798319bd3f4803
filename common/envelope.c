/*
 * envelope.c - parse, validate and serialise event envelopes (DESIGN.md §5).
 *
 * Owns the field rules and the delivered body: {"id","type","timestamp","data"} joined once
 * (compact, fixed member order) and signed byte for byte.  `data` is the producer's JSON text
 * validated and compacted by jsontext.c, never re-serialised: numbers, escapes and member order
 * reach the receiver as the producer wrote them.
 */
#include "envelope.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "jsontext.h"
#include "util.h"

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

/*
 * Random base62 characters for ids, from a per-thread pool refilled by one CSPRNG call
 * (hl_rand_bytes) per ~45 ids instead of several per id.  The pool remembers the process it was
 * filled in: a forked child never reuses its parent's characters, so it cannot repeat its ids.
 */
#define HL_ID_POOL 1024

static _Thread_local struct {
  pid_t pid;
  size_t pos, len;
  char chars[HL_ID_POOL];
} hl_id_pool;

static int hl_id_refill(void) {
  static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  unsigned char r[HL_ID_POOL];

  if (hl_rand_bytes(r, sizeof(r)) != 0)
    return -1;
  hl_id_pool.len = 0;
  for (size_t i = 0; i < sizeof(r); i++) {
    if (r[i] < 248) /* 248 = 4 * 62: keeps the distribution uniform */
      hl_id_pool.chars[hl_id_pool.len++] = alphabet[r[i] % 62];
  }
  hl_id_pool.pos = 0;
  hl_id_pool.pid = getpid();
  return 0;
}

static int hl_id_chars(char *out, size_t n) {
  while (n > 0) {
    size_t k;

    if ((hl_id_pool.pos == hl_id_pool.len || hl_id_pool.pid != getpid()) && hl_id_refill() != 0)
      return -1;
    k = hl_id_pool.len - hl_id_pool.pos < n ? hl_id_pool.len - hl_id_pool.pos : n;
    memcpy(out, hl_id_pool.chars + hl_id_pool.pos, k);
    hl_id_pool.pos += k;
    out += k;
    n -= k;
  }
  return 0;
}

int hl_event_id_generate(char *out, size_t outsz) {
  if (outsz < 27 || hl_id_chars(out + 4, 22) != 0)
    return -1;
  memcpy(out, "evt_", 4);
  out[26] = '\0';
  return 0;
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
static char *hl_event_put(char *o, const char *s, size_t n) {
  memcpy(o, s, n);
  return o + n;
}

static char *hl_event_join(const hl_event_t *ev, int with_tenant, size_t *outlen) {
  size_t id = strlen(ev->id), tenant = strlen(ev->tenant), type = strlen(ev->type),
         ts = strlen(ev->timestamp);
  char *out = malloc(ev->data_len + id + tenant + type + ts + 64), *o = out;

  if (!out)
    return NULL;
  o = hl_event_put(o, "{\"id\":\"", 7);
  o = hl_event_put(o, ev->id, id);
  if (with_tenant) {
    o = hl_event_put(o, "\",\"tenant\":\"", 12);
    o = hl_event_put(o, ev->tenant, tenant);
  }
  o = hl_event_put(o, "\",\"type\":\"", 10);
  o = hl_event_put(o, ev->type, type);
  o = hl_event_put(o, "\",\"timestamp\":\"", 15);
  o = hl_event_put(o, ev->timestamp, ts);
  o = hl_event_put(o, "\",\"data\":", 9);
  o = hl_event_put(o, ev->data, ev->data_len);
  o = hl_event_put(o, "}", 2); /* with the NUL */
  *outlen = (size_t)(o - out) - 1;
  return out;
}

/* Validate and copy tenant/type/id/timestamp into ev; id generated when NULL. */
static int hl_event_fields(hl_event_t *ev, const char *tenant, const char *type, const char *id,
                           const char *timestamp, int64_t fallback_ts_ms, char *errstr,
                           size_t errsize) {
  if (hl_event_check_tenant(tenant, errstr, errsize) ||
      hl_event_check_type(type, errstr, errsize) || (id && hl_event_check_id(id, errstr, errsize)))
    return -1;
  strcpy(ev->tenant, tenant);
  strcpy(ev->type, type);
  if (id) {
    strcpy(ev->id, id);
  } else if (hl_event_id_generate(ev->id, sizeof(ev->id)) != 0) {
    snprintf(errstr, errsize, "id: cannot generate (no randomness)");
    return -1;
  }
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

/* ev->data is set: join the body. */
static int hl_event_finish(hl_event_t *ev, char *errstr, size_t errsize) {
  ev->body = hl_event_join(ev, 0, &ev->body_len);
  if (ev->body)
    return 0;
  snprintf(errstr, errsize, "event: out of memory");
  return -1;
}

static int hl_event_size_ok(size_t len, size_t max_bytes, char *errstr, size_t errsize) {
  if (len <= max_bytes)
    return 1;
  snprintf(errstr, errsize, "event: %zu bytes exceeds events.max_bytes (%zu)", len, max_bytes);
  return 0;
}

/* The members of an envelope hookline reads; others are ignored. */
enum { HL_F_TENANT, HL_F_TYPE, HL_F_ID, HL_F_TIMESTAMP, HL_F_DATA, HL_F_COUNT };
static const char *const hl_event_members[HL_F_COUNT] = {"tenant", "type", "id", "timestamp",
                                                         "data"};

typedef struct hl_event_scan {
  const char *tok[HL_F_COUNT]; /* compact value tokens, NULL when absent */
  size_t len[HL_F_COUNT];
  const char *dup; /* a member given twice */
} hl_event_scan_t;

/* Which known member a name token (quotes included) names; -1 for none. */
static int hl_event_member(const char *name, size_t len) {
  char buf[16];
  size_t n;

  if (memchr(name, '\\', len)) { /* escapes in a name: decode first */
    if (hl_json_string_decode(name, len, buf, sizeof(buf), &n) != 0)
      return -1;
  } else if (len - 2 < sizeof(buf)) {
    n = len - 2;
    memcpy(buf, name + 1, n);
  } else {
    return -1;
  }
  for (int f = 0; f < HL_F_COUNT; f++) {
    if (strlen(hl_event_members[f]) == n && memcmp(hl_event_members[f], buf, n) == 0)
      return f;
  }
  return -1;
}

static void hl_event_member_cb(const char *name, size_t name_len, const char *value,
                               size_t value_len, void *opaque) {
  hl_event_scan_t *scan = opaque;
  int f = hl_event_member(name, name_len);

  if (f < 0)
    return;
  if (scan->tok[f] && !scan->dup)
    scan->dup = hl_event_members[f];
  scan->tok[f] = value;
  scan->len[f] = value_len;
}

/*
 * The string member f as a C string in buf, NULL when absent.  -1 when it is not a string;
 * a string that does not fit buf or holds \u0000 becomes "" so the field's rule rejects it.
 */
static int hl_event_scan_str(const hl_event_scan_t *scan, int f, char *buf, size_t bufsz,
                             const char **out, char *errstr, size_t errsize) {
  size_t n;

  *out = NULL;
  if (!scan->tok[f])
    return 0;
  if (scan->tok[f][0] != '"') {
    snprintf(errstr, errsize, "%s: must be a string", hl_event_members[f]);
    return -1;
  }
  if (hl_json_string_decode(scan->tok[f], scan->len[f], buf, bufsz, &n) != 0 || strlen(buf) != n)
    buf[0] = '\0';
  *out = buf;
  return 0;
}

/* Validate the members found; the fields go to ev (data still inside the scan buffer). */
static int hl_event_scan_fields(hl_event_t *ev, const hl_event_scan_t *scan, int64_t fallback_ts_ms,
                                char *errstr, size_t errsize) {
  char tenant[HL_EVENT_TENANT_MAX + 2], type[HL_EVENT_TYPE_MAX + 2], id[HL_EVENT_ID_MAX + 2];
  char ts[sizeof(ev->timestamp) + 1];
  const char *t, *y, *i, *s;

  if (scan->dup) {
    snprintf(errstr, errsize, "%s: given more than once", scan->dup);
    return -1;
  }
  if (hl_event_scan_str(scan, HL_F_TENANT, tenant, sizeof(tenant), &t, errstr, errsize) ||
      hl_event_scan_str(scan, HL_F_TYPE, type, sizeof(type), &y, errstr, errsize) ||
      hl_event_scan_str(scan, HL_F_ID, id, sizeof(id), &i, errstr, errsize) ||
      hl_event_scan_str(scan, HL_F_TIMESTAMP, ts, sizeof(ts), &s, errstr, errsize))
    return -1;
  if (!t || !y || !scan->tok[HL_F_DATA]) {
    snprintf(errstr, errsize, "%s: required", !t ? "tenant" : !y ? "type" : "data");
    return -1;
  }
  return hl_event_fields(ev, t, y, i, s, fallback_ts_ms, errstr, errsize);
}

int hl_event_parse(const char *buf, size_t len, size_t max_bytes, int64_t fallback_ts_ms,
                   hl_event_t *ev, char *errstr, size_t errsize) {
  hl_event_scan_t scan;
  char *compact = NULL, msg[256];
  size_t clen;
  int rc = -1;

  memset(ev, 0, sizeof(*ev));
  memset(&scan, 0, sizeof(scan));
  if (!hl_event_size_ok(len, max_bytes, errstr, errsize))
    return -1;
  compact = malloc(len + 1);
  if (!compact) {
    snprintf(errstr, errsize, "event: out of memory");
    return -1;
  }
  if (hl_json_compact_object(buf, len, compact, &clen, hl_event_member_cb, &scan, msg,
                             sizeof(msg)) != 0) {
    snprintf(errstr, errsize, "event: %s", msg);
    goto out;
  }
  if (hl_event_scan_fields(ev, &scan, fallback_ts_ms, errstr, errsize) != 0)
    goto out;
  /* the data token moves to the start of the buffer, which becomes ev->data */
  ev->data_len = scan.len[HL_F_DATA];
  memmove(compact, scan.tok[HL_F_DATA], ev->data_len);
  compact[ev->data_len] = '\0';
  ev->data = compact;
  compact = NULL;
  rc = hl_event_finish(ev, errstr, errsize);
out:
  free(compact);
  if (rc)
    hl_event_clear(ev);
  return rc;
}

int hl_event_from_parts(const char *tenant, const char *type, const char *id_or_null,
                        const char *data, size_t data_len, size_t max_bytes, int64_t ts_ms,
                        hl_event_t *ev, char *errstr, size_t errsize) {
  char msg[256];
  int rc = -1;

  memset(ev, 0, sizeof(*ev));
  if (!hl_event_size_ok(data_len, max_bytes, errstr, errsize))
    return -1;
  if (hl_event_fields(ev, tenant, type, id_or_null, NULL, ts_ms, errstr, errsize))
    goto out;
  ev->data = malloc(data_len + 1);
  if (!ev->data) {
    snprintf(errstr, errsize, "event: out of memory");
    goto out;
  }
  if (hl_json_compact(data, data_len, ev->data, &ev->data_len, msg, sizeof(msg)) != 0) {
    snprintf(errstr, errsize, "data: %s", msg);
    goto out;
  }
  ev->data[ev->data_len] = '\0';
  rc = hl_event_finish(ev, errstr, errsize);
out:
  if (rc)
    hl_event_clear(ev);
  return rc;
}

int hl_event_envelope(const hl_event_t *ev, char **out, size_t *outlen) {
  *out = hl_event_join(ev, 1, outlen);
  return *out ? 0 : -1;
}

/*
 * Header `name` as a C string in buf: 1 present, 0 absent, -1 present but unusable (too long
 * for buf, or holding a NUL byte), which the field's rule then rejects.
 */
static int hl_event_header(rd_kafka_headers_t *hdrs, const char *name, char *buf, size_t bufsz) {
  const void *val;
  size_t len;

  buf[0] = '\0';
  if (!hdrs || rd_kafka_header_get_last(hdrs, name, &val, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return 0;
  if (!val || len >= bufsz || memchr(val, '\0', len))
    return -1;
  memcpy(buf, val, len);
  buf[len] = '\0';
  return 1;
}

/* The header form: tenant, type and id from hl-* headers, the value is `data`. */
static int hl_event_from_headers(const rd_kafka_message_t *msg, rd_kafka_headers_t *hdrs,
                                 size_t max_bytes, int64_t ts, hl_event_t *ev, char *errstr,
                                 size_t errsize) {
  char tenant[HL_EVENT_TENANT_MAX + 2], type[HL_EVENT_TYPE_MAX + 2], id[HL_EVENT_ID_MAX + 2];
  int has_type = hl_event_header(hdrs, "hl-type", type, sizeof(type));
  int has_id = hl_event_header(hdrs, "hl-id", id, sizeof(id));

  hl_event_header(hdrs, "hl-tenant", tenant, sizeof(tenant));
  if (has_type == 0) {
    snprintf(errstr, errsize, "type: required (header hl-type)");
    return -1;
  }
  return hl_event_from_parts(tenant, type, has_id ? id : NULL, msg->payload ? msg->payload : "",
                             msg->len, max_bytes, ts, ev, errstr, errsize);
}

int hl_event_from_message(const struct rd_kafka_message_s *msg, size_t max_bytes, hl_event_t *ev,
                          char *errstr, size_t errsize) {
  rd_kafka_headers_t *hdrs = NULL;
  int64_t ts = rd_kafka_message_timestamp(msg, NULL);
  const void *val;
  size_t len;

  memset(ev, 0, sizeof(*ev));
  if (ts <= 0)
    ts = hl_now_ms();
  if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      rd_kafka_header_get_last(hdrs, "hl-tenant", &val, &len) == RD_KAFKA_RESP_ERR_NO_ERROR)
    return hl_event_from_headers(msg, hdrs, max_bytes, ts, ev, errstr, errsize);
  if (!msg->payload || msg->len == 0) {
    snprintf(errstr, errsize, "event: empty record");
    return -1;
  }
  return hl_event_parse(msg->payload, msg->len, max_bytes, ts, ev, errstr, errsize);
}
