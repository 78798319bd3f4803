/*
 * http.c - replies of the admin API: JSON, text, and RFC 9457 problem details
 * (application/problem+json).  Every reply goes through hl_http_send, which records the metrics
 * and frees the request context.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <string.h>

#include "log.h"
#include "server_int.h"
#include "util.h"

void hl_req_free(hl_req_t *r) {
  if (!r)
    return;
  evhttp_clear_headers(&r->query);
  json_decref(r->body);
  free(r->raw);
  free(r);
}

static void hl_http_send(hl_req_t *r, int status, const char *ctype, const char *body, size_t len) {
  struct evbuffer *buf = evbuffer_new();
  struct evkeyvalq *hdrs = evhttp_request_get_output_headers(r->req);

  if (ctype)
    evhttp_add_header(hdrs, "Content-Type", ctype);
  evhttp_add_header(hdrs, "Cache-Control", "no-store");
  if (buf && body && len)
    evbuffer_add(buf, body, len);
  evhttp_send_reply(r->req, status, NULL, buf);
  if (buf)
    evbuffer_free(buf);
  hl_httpstats_record(r->srv->stats, r->route, status, hl_mono_us() - r->start_us);
  hl_req_free(r);
}

void hl_http_text(hl_req_t *r, int status, const char *ctype, const char *text, size_t len) {
  hl_http_send(r, status, ctype, text, len);
}

void hl_http_empty(hl_req_t *r, int status) {
  hl_http_send(r, status, NULL, NULL, 0);
}

void hl_http_json(hl_req_t *r, int status, json_t *body) {
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

  json_decref(body);
  if (!text) {
    hl_http_problem(r, 500, "cannot serialise the reply", NULL);
    return;
  }
  hl_http_send(r, status, "application/json", text, strlen(text));
  free(text);
}

static const char *hl_http_title(int status) {
  switch (status) {
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 409:
    return "Conflict";
  case 413:
    return "Content Too Large";
  case 415:
    return "Unsupported Media Type";
  case 503:
    return "Service Unavailable";
  default:
    return "Internal Server Error";
  }
}

void hl_http_problem(hl_req_t *r, int status, const char *detail, const char *field) {
  const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(r->req));
  json_t *p =
      json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", "about:blank", "title", hl_http_title(status),
                "status", status, "detail", detail ? detail : "", "instance", path ? path : "/");
  char *text;

  if (field)
    json_object_set_new(p, "errors",
                        json_pack("[{s:s, s:s}]", "field", field, "detail", detail ? detail : ""));
  text = p ? json_dumps(p, JSON_COMPACT) : NULL;
  json_decref(p);
  hl_http_send(r, status, "application/problem+json", text ? text : "{}", text ? strlen(text) : 2);
  free(text);
}

void hl_http_invalid(hl_req_t *r, const char *errstr) {
  const char *colon = strstr(errstr, ": ");
  char field[128];

  if (!colon || (size_t)(colon - errstr) >= sizeof(field) || strchr(errstr, ' ') < colon) {
    hl_http_problem(r, 400, errstr, NULL);
    return;
  }
  memcpy(field, errstr, (size_t)(colon - errstr));
  field[colon - errstr] = '\0';
  hl_http_problem(r, 400, errstr, field);
}

void hl_http_store_error(hl_req_t *r, int store_rc, const char *errstr) {
  switch (store_rc) {
  case HL_STORE_ENOTFOUND:
    hl_http_problem(r, 404, errstr, NULL);
    break;
  case HL_STORE_EINVAL:
    hl_http_invalid(r, errstr);
    break;
  case HL_STORE_ECONFLICT:
    hl_http_problem(r, 409, errstr, NULL);
    break;
  default:
    hl_error("admin api: %s", errstr); /* e.g. "redis 10.0.0.5:6379: Connection refused" */
    hl_http_problem(r, 503, "redis: unavailable (details in the server log)", NULL);
  }
}

const char *hl_http_query(hl_req_t *r, const char *name) {
  return evhttp_find_header(&r->query, name);
}

int hl_http_query_only(hl_req_t *r, const char *const *allowed) {
  char msg[160];

  for (struct evkeyval *kv = r->query.tqh_first; kv; kv = kv->next.tqe_next) {
    size_t i = 0;

    while (allowed[i] && strcmp(allowed[i], kv->key) != 0)
      i++;
    if (!allowed[i]) {
      snprintf(msg, sizeof(msg), "%.64s: unknown query parameter", kv->key);
      hl_http_problem(r, 400, msg, kv->key);
      return -1;
    }
  }
  return 0;
}

int hl_http_body_only(hl_req_t *r, const char *const *allowed) {
  const char *key;
  json_t *v;
  char msg[160];

  if (r->body && !json_is_object(r->body)) {
    hl_http_problem(r, 400, "body: must be a JSON object", "body");
    return -1;
  }
  json_object_foreach(r->body, key, v) {
    size_t i = 0;

    while (allowed[i] && strcmp(allowed[i], key) != 0)
      i++;
    if (!allowed[i]) {
      snprintf(msg, sizeof(msg), "%.64s: unknown field", key);
      hl_http_problem(r, 400, msg, key);
      return -1;
    }
  }
  return 0;
}
