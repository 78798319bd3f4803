/*
 * api_endpoints.c - /v1/tenants/{tenant}/endpoints...: the endpoint resource of the admin API
 * over the store (docs/admin.md).  Bodies are the JSON fields of epjson.c; answers are the
 * endpoint JSON of hl_endpoint_to_json, errors problem details.
 */
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epjson.h"
#include "ping.h"
#include "log.h"
#include "server_int.h"
#include "util.h"

#define HL_API_LIST_DEFAULT 100

/* The tenant in the path must be a valid name: 0 ok, -1 replied. */
static int hl_api_tenant(hl_req_t *r) {
  char err[128];

  if (hl_event_check_tenant(r->tenant, err, sizeof(err)) == 0)
    return 0;
  hl_http_invalid(r, err);
  return -1;
}

/* Reply with the endpoint's JSON (status 200/201) and free it. */
static void hl_api_reply_ep(hl_req_t *r, int status, hl_endpoint_t *ep, bool with_secret) {
  char *text = hl_endpoint_to_json(ep, with_secret);
  json_t *j = text ? json_loads(text, 0, NULL) : NULL;

  free(text);
  hl_endpoint_destroy(&ep);
  hl_http_json(r, status, j);
}

/* ?limit=1..1000: 0 ok with *limit, -1 replied. */
static int hl_api_limit(hl_req_t *r, long dflt, long *limit) {
  const char *s = hl_http_query(r, "limit");
  char *end;

  *limit = dflt;
  if (!s)
    return 0;
  *limit = strtol(s, &end, 10);
  if (*s && !*end && *limit >= 1 && *limit <= 1000)
    return 0;
  hl_http_problem(r, 400, "limit: must be an integer 1..1000", "limit");
  return -1;
}

void hl_api_ep_list(hl_req_t *r) {
  static const char *const params[] = {"limit", "cursor", NULL};
  const char *cursor = hl_http_query(r, "cursor");
  hl_endpoint_t **eps = NULL;
  char err[512], next[64];
  json_t *items;
  long limit;
  size_t n = 0;
  int rc;

  if (hl_api_tenant(r) || hl_http_query_only(r, params) ||
      hl_api_limit(r, HL_API_LIST_DEFAULT, &limit))
    return;
  rc = hl_store_endpoint_list(r->srv->st, r->tenant, cursor ? cursor : "", (size_t)limit, &eps, &n,
                              next, sizeof(next), err, sizeof(err));
  if (rc != HL_STORE_OK && rc != HL_STORE_ENOTFOUND) {
    hl_http_store_error(r, rc, err);
    return;
  }
  items = json_array();
  for (size_t i = 0; i < n; i++) {
    char *one = hl_endpoint_to_json(eps[i], false);

    json_array_append_new(items, json_loads(one, 0, NULL));
    free(one);
  }
  hl_store_list_free(&eps, n);
  hl_http_json(r, 200,
               json_pack("{s:o, s:o}", "items", items, "next_cursor",
                         *next ? json_string(next) : json_null()));
}

void hl_api_ep_create(hl_req_t *r) {
  hl_endpoint_t *ep;
  char err[512];
  int rc;

  if (hl_api_tenant(r))
    return;
  if (!r->body) {
    hl_http_problem(r, 400, "body: required ({\"url\": ..., \"types\": [...]})", "body");
    return;
  }
  ep = hl_endpoint_new();
  strcpy(ep->tenant, r->tenant);
  if (hl_epjson_apply(ep, r->body, true, hl_now_ms(), err, sizeof(err)) != 0) {
    hl_endpoint_destroy(&ep);
    hl_http_invalid(r, err);
    return;
  }
  rc = hl_store_endpoint_create(r->srv->st, ep, err, sizeof(err));
  if (rc != HL_STORE_OK) {
    hl_endpoint_destroy(&ep);
    hl_http_store_error(r, rc, err);
    return;
  }
  snprintf(err, sizeof(err), "/v1/tenants/%s/endpoints/%s", ep->tenant, ep->id);
  evhttp_add_header(evhttp_request_get_output_headers(r->req), "Location", err);
  hl_api_reply_ep(r, 201, ep, true);
}

void hl_api_ep_get(hl_req_t *r) {
  hl_endpoint_t *ep = NULL;
  char err[512];
  int rc = hl_store_endpoint_get(r->srv->st, r->tenant, r->id, &ep, err, sizeof(err));

  if (rc != HL_STORE_OK)
    hl_http_store_error(r, rc, err);
  else
    hl_api_reply_ep(r, 200, ep, false);
}

static int hl_api_patch_cb(hl_endpoint_t *ep, void *opaque, char *errstr, size_t errsize) {
  return hl_epjson_apply(ep, opaque, false, hl_now_ms(), errstr, errsize);
}

void hl_api_ep_patch(hl_req_t *r) {
  hl_endpoint_t *ep = NULL;
  char err[512];
  int rc;

  if (!r->body || !json_is_object(r->body) || json_object_size(r->body) == 0) {
    hl_http_problem(r, 400, "body: a JSON object with the fields to change", "body");
    return;
  }
  rc = hl_store_endpoint_update(r->srv->st, r->tenant, r->id, hl_api_patch_cb, r->body, &ep, err,
                                sizeof(err));
  if (rc != HL_STORE_OK)
    hl_http_store_error(r, rc, err);
  else
    hl_api_reply_ep(r, 200, ep, false);
}

void hl_api_ep_delete(hl_req_t *r) {
  char err[512];
  int rc = hl_store_endpoint_delete(r->srv->st, r->tenant, r->id, err, sizeof(err));

  if (rc != HL_STORE_OK)
    hl_http_store_error(r, rc, err);
  else
    hl_http_empty(r, 204);
}

void hl_api_ep_secret(hl_req_t *r) {
  hl_endpoint_t *ep = NULL;
  char err[512], created[48];
  int rc = hl_store_endpoint_get(r->srv->st, r->tenant, r->id, &ep, err, sizeof(err));

  if (rc != HL_STORE_OK) {
    hl_http_store_error(r, rc, err);
    return;
  }
  if (ep->nsecrets == 0) {
    hl_endpoint_destroy(&ep);
    hl_http_problem(r, 404, "the endpoint has no signing secret", NULL);
    return;
  }
  hl_fmt_rfc3339(ep->secrets[0].created_ms, created, sizeof(created));
  hl_http_json(r, 200,
               json_pack("{s:s, s:s}", "secret", ep->secrets[0].secret, "created_at", created));
  hl_endpoint_destroy(&ep);
}

void hl_api_ep_rotate(hl_req_t *r) {
  static const char *const fields[] = {"secret", NULL};
  json_t *s = json_object_get(r->body, "secret");
  hl_endpoint_t *ep = NULL;
  char err[512];
  int rc;

  if (hl_http_body_only(r, fields))
    return;
  if (s && !json_is_string(s)) {
    hl_http_problem(r, 400, "secret: must be a string (whsec_ + base64 of 24..64 bytes)", "secret");
    return;
  }
  rc = hl_store_endpoint_rotate(r->srv->st, r->tenant, r->id, json_string_value(s), &ep, err,
                                sizeof(err));
  if (rc != HL_STORE_OK)
    hl_http_store_error(r, rc, err);
  else
    hl_api_reply_ep(r, 200, ep, true);
}

static void hl_api_status(hl_req_t *r, bool enabled) {
  static const char *const fields[] = {"reason", NULL};
  json_t *reason = json_object_get(r->body, "reason");
  hl_endpoint_t *ep = NULL;
  char err[512];
  int rc;

  if (hl_http_body_only(r, enabled ? fields + 1 : fields))
    return;
  if (reason && !json_is_string(reason)) {
    hl_http_problem(r, 400, "reason: must be a string", "reason");
    return;
  }
  rc = hl_store_endpoint_set_status(r->srv->st, r->tenant, r->id, enabled,
                                    reason ? json_string_value(reason) : "disabled by an operator",
                                    &ep, err, sizeof(err));
  if (rc != HL_STORE_OK)
    hl_http_store_error(r, rc, err);
  else
    hl_api_reply_ep(r, 200, ep, false);
}

void hl_api_ep_enable(hl_req_t *r) {
  hl_api_status(r, true);
}

void hl_api_ep_disable(hl_req_t *r) {
  hl_api_status(r, false);
}

void hl_api_ep_attempts(hl_req_t *r) {
  static const char *const params[] = {"limit", NULL};
  char **items = NULL, err[512];
  json_t *arr;
  size_t n = 0;
  long limit;
  int rc;

  if (hl_http_query_only(r, params) || hl_api_limit(r, 20, &limit))
    return;
  rc = hl_store_attempts(r->srv->st, r->tenant, r->id, (size_t)limit, &items, &n, err, sizeof(err));
  if (rc != HL_STORE_OK) {
    hl_http_store_error(r, rc, err);
    return;
  }
  arr = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *a = json_loads(items[i], 0, NULL);

    if (json_is_object(a))
      json_array_append_new(arr, a);
    else
      json_decref(a);
  }
  hl_store_strings_free(&items, n);
  hl_http_json(r, 200, json_pack("{s:o}", "items", arr));
}

void hl_api_ep_test(hl_req_t *r) {
  static const char *const none[] = {NULL};
  hl_endpoint_t *ep = NULL;
  hl_event_t ev = {0};
  char err[512];
  int rc;

  if (hl_http_body_only(r, none))
    return;
  rc = hl_store_endpoint_get(r->srv->st, r->tenant, r->id, &ep, err, sizeof(err));
  if (rc != HL_STORE_OK) {
    hl_http_store_error(r, rc, err);
    return;
  }
  if (hl_ping_event(ep, r->srv->max_event_bytes, &ev, err, sizeof(err)) != 0 ||
      hl_server_publish(r->srv, r, &ev, ep->id, err, sizeof(err)) != 0) {
    hl_error("admin api: test webhook: %s", err);
    hl_http_problem(r, 503, "kafka: not published (details in the server log)", NULL);
  }
  hl_event_clear(&ev);
  hl_endpoint_destroy(&ep);
}
