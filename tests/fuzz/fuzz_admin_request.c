/*
 * fuzz_admin_request: the admin API's request decoding, step by step as `hookline-admin serve`
 * does it before any storage is touched (admin/server.c hl_server_request): the request target
 * parsed like evhttp's request line (path, query string), the route table match with its
 * percent-decoded {tenant}/{id} parameters, the body's admission (hl_api_body_decode: size,
 * media type, JSON with duplicates refused), then for endpoint create/update the body applied to
 * an endpoint (admin/epjson.c), the endpoint's rules (hl_endpoint_validate, SSRF URL check
 * included) and its JSON form.
 * Input: line 1 = "METHOD TARGET", line 2 = Content-Type, rest = body.
 */
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "endpoint.h"
#include "epjson.h"
#include "server_int.h"

static void hl_fz_body(hl_req_t *r, const char *ct, const char *body, size_t len) {
  const hl_route_t *routes;
  size_t nroutes;
  json_t *obj = NULL;
  hl_endpoint_t *ep;
  char err[512];
  bool create, patch;

  routes = hl_api_routes(&nroutes);
  create = strcmp(routes[r->route].method, "POST") == 0 &&
           strcmp(routes[r->route].path, "/v1/tenants/{tenant}/endpoints") == 0;
  patch = strcmp(routes[r->route].method, "PATCH") == 0;
  if (hl_api_body_decode(ct, body, len, 4096, routes[r->route].raw_body, &obj, err, sizeof(err)) !=
          0 ||
      !obj || !(create || patch))
    goto out;
  ep = hl_endpoint_new();
  if (!ep)
    abort();
  strcpy(ep->tenant, r->tenant);
  if (hl_epjson_apply(ep, obj, create, 1700000000000, err, sizeof(err)) == 0 &&
      hl_endpoint_validate(ep, NULL, false, true, err, sizeof(err)) == 0) {
    char *text = hl_endpoint_to_json(ep, true);

    if (!text)
      abort();
    free(text);
  }
  hl_endpoint_destroy(&ep);
out:
  json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *nl = memchr(data, '\n', size);
  size_t linelen = nl ? (size_t)(nl - (const char *)data) : size;
  char *line = malloc(linelen + 1), *target, allow[128];
  struct evhttp_uri *uri = NULL;
  hl_req_t r;
  bool known;

  if (!line)
    abort();
  memcpy(line, data, linelen);
  line[linelen] = '\0';
  memset(&r, 0, sizeof(r));
  r.route = -1;
  TAILQ_INIT(&r.query);
  target = strchr(line, ' ');
  if (!target || strlen(line) != linelen)
    goto out;
  *target++ = '\0';
  uri = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT);
  if (!uri || !evhttp_uri_get_path(uri))
    goto out;
  if (evhttp_uri_get_query(uri) && evhttp_parse_query_str(evhttp_uri_get_query(uri), &r.query) != 0)
    goto out;
  r.route = hl_api_match(&r, line, evhttp_uri_get_path(uri), &known, allow, sizeof(allow));
  if (r.route >= 0 && nl) {
    const char *ct = nl + 1, *end = (const char *)data + size;
    const char *nl2 = memchr(ct, '\n', (size_t)(end - ct));
    char ctbuf[256];
    size_t ctlen = (size_t)((nl2 ? nl2 : end) - ct);

    if (ctlen < sizeof(ctbuf)) {
      memcpy(ctbuf, ct, ctlen);
      ctbuf[ctlen] = '\0';
      hl_fz_body(&r, ctbuf, nl2 ? nl2 + 1 : end, nl2 ? (size_t)(end - nl2 - 1) : 0);
    }
  }
out:
  evhttp_clear_headers(&r.query);
  if (uri)
    evhttp_uri_free(uri);
  free(line);
  return 0;
}
