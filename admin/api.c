/*
 * api.c - the admin API's route table: method + path template -> handler.  The same table
 * answers `hookline-admin routes`, which a test compares with docs/openapi.yaml.
 */
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server_int.h"

#define EP "/v1/tenants/{tenant}/endpoints"

static const hl_route_t hl_routes[] = {
    {"GET", "/healthz", hl_api_healthz, false, false},
    {"GET", "/readyz", hl_api_readyz, false, false},
    {"GET", "/metrics", hl_api_metrics, false, false},
    {"GET", EP, hl_api_ep_list, true, false},
    {"POST", EP, hl_api_ep_create, true, false},
    {"GET", EP "/{id}", hl_api_ep_get, true, false},
    {"PATCH", EP "/{id}", hl_api_ep_patch, true, false},
    {"DELETE", EP "/{id}", hl_api_ep_delete, true, false},
    {"GET", EP "/{id}/secret", hl_api_ep_secret, true, false},
    {"POST", EP "/{id}/secret/rotate", hl_api_ep_rotate, true, false},
    {"POST", EP "/{id}/enable", hl_api_ep_enable, true, false},
    {"POST", EP "/{id}/disable", hl_api_ep_disable, true, false},
    {"POST", EP "/{id}/test", hl_api_ep_test, true, false},
    {"GET", EP "/{id}/attempts", hl_api_ep_attempts, true, false},
    {"POST", "/v1/events", hl_api_events, true, true},
};

#define HL_NROUTES (sizeof(hl_routes) / sizeof(hl_routes[0]))

const hl_route_t *hl_api_routes(size_t *n) {
  *n = HL_NROUTES;
  return hl_routes;
}

int hl_api_print_routes(FILE *out) {
  for (size_t i = 0; i < HL_NROUTES; i++)
    fprintf(out, "%s %s\n", hl_routes[i].method, hl_routes[i].path);
  return 0;
}

/* A percent-decoded path segment into out; -1 when it decodes to something no id contains. */
static int hl_api_param(const char *seg, size_t len, char *out, size_t outsz) {
  char raw[512], *dec;
  size_t declen = 0;
  int rc = -1;

  if (len == 0 || len >= sizeof(raw))
    return -1;
  memcpy(raw, seg, len);
  raw[len] = '\0';
  dec = evhttp_uridecode(raw, 0, &declen);
  if (dec && declen < outsz && strlen(dec) == declen && !strchr(dec, '/')) {
    memcpy(out, dec, declen + 1);
    rc = 0;
  }
  free(dec);
  return rc;
}

/* Does path match the template?  Fills r->tenant / r->id. */
static bool hl_api_path_match(hl_req_t *r, const char *tmpl, const char *path) {
  while (*tmpl && *path) {
    const char *tend = strchr(tmpl + 1, '/'), *pend = strchr(path + 1, '/');
    size_t tlen = tend ? (size_t)(tend - tmpl) : strlen(tmpl);
    size_t plen = pend ? (size_t)(pend - path) : strlen(path);

    if (tmpl[1] == '{') {
      bool is_tenant = strncmp(tmpl, "/{tenant}", tlen) == 0;
      char *out = is_tenant ? r->tenant : r->id;
      size_t outsz = is_tenant ? sizeof(r->tenant) : sizeof(r->id);

      if (path[0] != '/' || hl_api_param(path + 1, plen - 1, out, outsz) != 0)
        return false;
    } else if (tlen != plen || strncmp(tmpl, path, tlen) != 0) {
      return false;
    }
    tmpl += tlen;
    path += plen;
  }
  return !*tmpl && !*path;
}

int hl_api_match(hl_req_t *r, const char *method, const char *path, bool *path_known, char *allow,
                 size_t allowsz) {
  size_t alen = 0;

  *path_known = false;
  allow[0] = '\0';
  for (size_t i = 0; i < HL_NROUTES; i++) {
    if (!hl_api_path_match(r, hl_routes[i].path, path))
      continue;
    if (strcmp(hl_routes[i].method, method) == 0)
      return (int)i;
    *path_known = true;
    alen += (size_t)snprintf(allow + alen, alen < allowsz ? allowsz - alen : 0, "%s%s",
                             alen ? ", " : "", hl_routes[i].method);
  }
  return -1;
}

/* application/json, or any +json type (application/merge-patch+json), parameters allowed. */
static bool hl_json_media_type(const char *ct) {
  size_t n = ct ? strcspn(ct, ";") : 0;

  while (n > 0 && ct[n - 1] == ' ')
    n--;
  return ct && ((n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
                (n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
                 strncasecmp(ct + n - 5, "+json", 5) == 0));
}

int hl_api_body_decode(const char *content_type, const char *raw, size_t len, size_t max_body,
                       bool raw_body, json_t **body, char *msg, size_t msgsz) {
  json_error_t jerr;

  *body = NULL;
  if (len > max_body) {
    snprintf(msg, msgsz, "body: larger than admin.max_body (%zu bytes)", max_body);
    return 413;
  }
  if (len == 0)
    return 0;
  if (!hl_json_media_type(content_type)) {
    snprintf(msg, msgsz, "Content-Type must be application/json");
    return 415;
  }
  if (raw_body)
    return 0;
  *body = json_loadb(raw, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!*body) {
    snprintf(msg, msgsz, "body: not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
             jerr.column);
    return 400;
  }
  return 0;
}
