/*
 * epjson.c - apply a JSON object of endpoint fields (epjson.h).  One row per member in
 * hl_epjson_fields[]; range rules live in hl_endpoint_validate(), which the store runs on the
 * result.
 */
#include "epjson.h"

#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

typedef int hl_epjson_fn(hl_endpoint_t *ep, json_t *v, int64_t now_ms, char *errstr,
                         size_t errsize);

/* A JSON integer as an int; out-of-range values saturate so validation names the rule. */
static int hl_epjson_int(const char *name, json_t *v, int *out, char *errstr, size_t errsize) {
  json_int_t i;

  if (json_is_null(v)) {
    *out = 0;
    return 0;
  }
  if (!json_is_integer(v)) {
    snprintf(errstr, errsize, "%s: must be an integer or null", name);
    return -1;
  }
  i = json_integer_value(v);
  *out = i > INT_MAX ? INT_MAX : i < INT_MIN ? INT_MIN : (int)i;
  return 0;
}

static int hl_epjson_url(hl_endpoint_t *ep, json_t *v, int64_t now_ms, char *errstr,
                         size_t errsize) {
  if (!json_is_string(v)) {
    snprintf(errstr, errsize, "url: must be a string");
    return -1;
  }
  return hl_endpoint_set_str(&ep->url, json_string_value(v));
}

static int hl_epjson_description(hl_endpoint_t *ep, json_t *v, int64_t now_ms, char *errstr,
                                 size_t errsize) {
  if (!json_is_string(v) && !json_is_null(v)) {
    snprintf(errstr, errsize, "description: must be a string");
    return -1;
  }
  return hl_endpoint_set_str(&ep->description, json_is_null(v) ? "" : json_string_value(v));
}

static int hl_epjson_types(hl_endpoint_t *ep, json_t *v, int64_t now_ms, char *errstr,
                           size_t errsize) {
  size_t i;
  json_t *t;

  if (!json_is_array(v) || json_array_size(v) == 0) {
    snprintf(errstr, errsize, "types: must be a non-empty array such as [\"invoice.*\"]");
    return -1;
  }
  hl_endpoint_clear_filters(ep);
  json_array_foreach(v, i, t) {
    if (!json_is_string(t)) {
      snprintf(errstr, errsize, "types: must be an array of strings");
      return -1;
    }
    if (hl_endpoint_add_filter(ep, json_string_value(t), errstr, errsize) != 0)
      return -1;
  }
  return 0;
}

static int hl_epjson_rate(hl_endpoint_t *ep, json_t *v, int64_t now_ms, char *errstr,
                          size_t errsize) {
  json_t *ps = json_object_get(v, "per_second"), *burst = json_object_get(v, "burst");
  const char *key;
  json_t *m;

  ep->rate_per_sec = 0;
  ep->burst = 0;
  if (json_is_null(v))
    return 0;
  if (json_is_object(v) && !ps && burst) {
    snprintf(errstr, errsize, "rate_limit.burst: needs rate_limit.per_second (--rate)");
    return -1;
  }
  if (!json_is_object(v) || !json_is_number(ps)) {
    snprintf(errstr, errsize, "rate_limit: must be null or {\"per_second\": n, \"burst\": n}");
    return -1;
  }
  json_object_foreach(v, key, m) {
    if (strcmp(key, "per_second") != 0 && strcmp(key, "burst") != 0) {
      snprintf(errstr, errsize, "rate_limit.%s: unknown field", key);
      return -1;
    }
  }
  ep->rate_per_sec = json_number_value(ps);
  if (ep->rate_per_sec <= 0) {
    snprintf(errstr, errsize, "rate_limit.per_second: must be above 0 (null: unlimited)");
    return -1;
  }
  return burst ? hl_epjson_int("rate_limit.burst", burst, &ep->burst, errstr, errsize) : 0;
}

static int hl_epjson_inflight(hl_endpoint_t *ep, json_t *v, int64_t now_ms, char *errstr,
                              size_t errsize) {
  return hl_epjson_int("max_in_flight", v, &ep->max_in_flight, errstr, errsize);
}

static int hl_epjson_timeout(hl_endpoint_t *ep, json_t *v, int64_t now_ms, char *errstr,
                             size_t errsize) {
  return hl_epjson_int("timeout_ms", v, &ep->timeout_ms, errstr, errsize);
}

static int hl_epjson_headers(hl_endpoint_t *ep, json_t *v, int64_t now_ms, char *errstr,
                             size_t errsize) {
  char line[4096];
  const char *name;
  json_t *val;

  hl_endpoint_clear_headers(ep);
  if (json_is_null(v))
    return 0;
  if (!json_is_object(v)) {
    snprintf(errstr, errsize, "headers: must be an object such as {\"X-Env\": \"prod\"}");
    return -1;
  }
  json_object_foreach(v, name, val) {
    if (!json_is_string(val)) {
      snprintf(errstr, errsize, "headers: %s: value must be a string", name);
      return -1;
    }
    if (strchr(name, ':')) {
      snprintf(errstr, errsize, "headers: \"%s\" is not a valid header name", name);
      return -1;
    }
    snprintf(line, sizeof(line), "%s: %s", name, json_string_value(val));
    if (hl_endpoint_add_header(ep, line, errstr, errsize) != 0)
      return -1;
  }
  return 0;
}

static int hl_epjson_metadata(hl_endpoint_t *ep, json_t *v, int64_t now_ms, char *errstr,
                              size_t errsize) {
  char *text;
  int rc;

  if (!json_is_object(v) && !json_is_null(v)) {
    snprintf(errstr, errsize, "metadata: must be a JSON object");
    return -1;
  }
  text = json_is_null(v) ? NULL : json_dumps(v, JSON_COMPACT);
  rc = hl_endpoint_set_str(&ep->metadata, text ? text : "{}");
  free(text);
  return rc;
}

static int hl_epjson_secret(hl_endpoint_t *ep, json_t *v, int64_t now_ms, char *errstr,
                            size_t errsize) {
  if (!json_is_string(v)) {
    snprintf(errstr, errsize, "secret: must be a string (whsec_ + base64 of 24..64 bytes)");
    return -1;
  }
  return hl_endpoint_rotate_secret(ep, json_string_value(v), now_ms, 0, errstr, errsize);
}

/* tls_client_cert / tls_client_key: PEM text or null (remove); the pair is checked together by
 * hl_endpoint_validate() once every member is applied. */
static int hl_epjson_tls(const char *name, json_t *v, char *errstr, size_t errsize) {
  if (json_is_string(v) || json_is_null(v))
    return 0;
  snprintf(errstr, errsize, "%s: must be a PEM string or null", name);
  return -1;
}

static int hl_epjson_tls_cert(hl_endpoint_t *ep, json_t *v, int64_t now_ms, char *errstr,
                              size_t errsize) {
  if (hl_epjson_tls("tls_client_cert", v, errstr, errsize) != 0)
    return -1;
  return hl_endpoint_set_tls_client(ep, json_string_value(v), ep->tls_key);
}

static int hl_epjson_tls_key(hl_endpoint_t *ep, json_t *v, int64_t now_ms, char *errstr,
                             size_t errsize) {
  if (hl_epjson_tls("tls_client_key", v, errstr, errsize) != 0)
    return -1;
  return hl_endpoint_set_tls_client(ep, ep->tls_cert, json_string_value(v));
}

static const struct {
  const char *name;
  hl_epjson_fn *apply;
  bool create_only;
} hl_epjson_fields[] = {
    {"url", hl_epjson_url, false},
    {"types", hl_epjson_types, false},
    {"description", hl_epjson_description, false},
    {"rate_limit", hl_epjson_rate, false},
    {"max_in_flight", hl_epjson_inflight, false},
    {"timeout_ms", hl_epjson_timeout, false},
    {"headers", hl_epjson_headers, false},
    {"metadata", hl_epjson_metadata, false},
    {"secret", hl_epjson_secret, true},
    {"tls_client_cert", hl_epjson_tls_cert, false},
    {"tls_client_key", hl_epjson_tls_key, false},
};

#define HL_EPJSON_NFIELDS (sizeof(hl_epjson_fields) / sizeof(hl_epjson_fields[0]))

static int hl_epjson_member(hl_endpoint_t *ep, const char *key, json_t *v, bool create,
                            int64_t now_ms, char *errstr, size_t errsize) {
  for (size_t i = 0; i < HL_EPJSON_NFIELDS; i++) {
    if (strcmp(key, hl_epjson_fields[i].name) != 0)
      continue;
    if (hl_epjson_fields[i].create_only && !create) {
      snprintf(errstr, errsize, "%s: cannot be changed here (POST .../secret/rotate)", key);
      return -1;
    }
    if (hl_epjson_fields[i].apply(ep, v, now_ms, errstr, errsize) != 0) {
      if (!*errstr)
        snprintf(errstr, errsize, "%s: out of memory", key);
      return -1;
    }
    return 0;
  }
  snprintf(errstr, errsize, "%s: unknown field", key);
  return -1;
}

int hl_epjson_apply(hl_endpoint_t *ep, json_t *obj, bool create, int64_t now_ms, char *errstr,
                    size_t errsize) {
  const char *key;
  json_t *v;

  *errstr = '\0';
  if (!json_is_object(obj)) {
    snprintf(errstr, errsize, "body: must be a JSON object");
    return -1;
  }
  json_object_foreach(obj, key, v) {
    if (hl_epjson_member(ep, key, v, create, now_ms, errstr, errsize) != 0)
      return -1;
  }
  if (create && (!json_object_get(obj, "url") || !json_object_get(obj, "types"))) {
    snprintf(errstr, errsize, "%s: required", !json_object_get(obj, "url") ? "url" : "types");
    return -1;
  }
  return 0;
}
