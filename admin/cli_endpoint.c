/*
 * cli_endpoint.c - `hookline-admin endpoint create|list|get|update|delete|rotate-secret|enable|
 * disable|test`: flags become the same JSON fields the REST API takes (epjson.c), the store does
 * the rest.  Output is text for people or JSON with -o json.
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "cli.h"
#include "envelope.h"
#include "epjson.h"
#include "log.h"
#include "ping.h"
#include "table.h"
#include "util.h"

/* Which flags an action takes. */
enum {
  O_TENANT = 1 << 0,
  O_URL = 1 << 1,
  O_TYPES = 1 << 2,
  O_DESC = 1 << 3,
  O_RATE = 1 << 4,
  O_BURST = 1 << 5,
  O_INFLIGHT = 1 << 6,
  O_TIMEOUT = 1 << 7,
  O_HEADER = 1 << 8,
  O_METADATA = 1 << 9,
  O_SECRET = 1 << 10,
  O_REASON = 1 << 11,
  O_LIMIT = 1 << 12,
  O_CURSOR = 1 << 13,
  O_WAIT = 1 << 14,
  O_NORATE = 1 << 15,
  O_CLEARHDR = 1 << 16,
  O_SHOWSECRET = 1 << 17,
  O_NOWAIT = 1 << 18,
  O_OUTPUT = 1 << 19,
  O_CLIENTCERT = 1 << 20,
  O_CLIENTKEY = 1 << 21,
  O_NOCLIENTCERT = 1 << 22,
};
#define O_FIELDS                                                                                   \
  (O_URL | O_TYPES | O_DESC | O_RATE | O_BURST | O_INFLIGHT | O_TIMEOUT | O_HEADER | O_METADATA |  \
   O_CLIENTCERT | O_CLIENTKEY)

static const struct option hl_cli_longopts[] = {
    {"tenant", required_argument, NULL, O_TENANT},
    {"url", required_argument, NULL, O_URL},
    {"types", required_argument, NULL, O_TYPES},
    {"description", required_argument, NULL, O_DESC},
    {"rate", required_argument, NULL, O_RATE},
    {"burst", required_argument, NULL, O_BURST},
    {"max-in-flight", required_argument, NULL, O_INFLIGHT},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"header", required_argument, NULL, O_HEADER},
    {"metadata", required_argument, NULL, O_METADATA},
    {"secret", required_argument, NULL, O_SECRET},
    {"reason", required_argument, NULL, O_REASON},
    {"limit", required_argument, NULL, O_LIMIT},
    {"cursor", required_argument, NULL, O_CURSOR},
    {"wait", required_argument, NULL, O_WAIT},
    {"no-rate-limit", no_argument, NULL, O_NORATE},
    {"clear-headers", no_argument, NULL, O_CLEARHDR},
    {"show-secret", no_argument, NULL, O_SHOWSECRET},
    {"no-wait", no_argument, NULL, O_NOWAIT},
    {"output", required_argument, NULL, O_OUTPUT},
    {"client-cert", required_argument, NULL, O_CLIENTCERT},
    {"client-key", required_argument, NULL, O_CLIENTKEY},
    {"no-client-cert", no_argument, NULL, O_NOCLIENTCERT},
    {NULL, 0, NULL, 0},
};

typedef struct hl_cli_opts {
  const char *val[24]; /* by flag bit index */
  const char *headers[HL_EP_MAX_HEADERS];
  int nheaders;
  unsigned seen;
  const char *id; /* the positional endpoint id */
} hl_cli_opts_t;

typedef int hl_cli_action_fn(hl_admin_t *adm, hl_store_t *st, hl_cli_opts_t *o);

static int hl_bit(unsigned flag) {
  return __builtin_ctz(flag);
}

static const char *hl_opt(const hl_cli_opts_t *o, unsigned flag) {
  return o->val[hl_bit(flag)];
}

/* ---- flags -> JSON fields ---- */

static int hl_cli_int(const char *flag, const char *s, long long *out) {
  char *end;

  *out = strtoll(s, &end, 10);
  if (*s && !*end)
    return 0;
  hl_admin_err("--%s: \"%s\" is not an integer", flag, s);
  return -1;
}

static json_t *hl_cli_types(const char *csv) {
  json_t *arr = json_array();
  char *copy = strdup(csv), *save = NULL;

  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    while (*t == ' ')
      t++;
    for (size_t n = strlen(t); n > 0 && t[n - 1] == ' '; n--)
      t[n - 1] = '\0';
    json_array_append_new(arr, json_string(t));
  }
  free(copy);
  return arr;
}

/* "Name: value" -> obj[Name] = value. */
static int hl_cli_header(json_t *obj, const char *line) {
  const char *colon = strchr(line, ':'), *v;
  char name[128];

  if (!colon || colon == line || (size_t)(colon - line) >= sizeof(name)) {
    hl_admin_err("headers: must be \"Name: value\", not \"%s\"", line);
    return -1;
  }
  memcpy(name, line, (size_t)(colon - line));
  name[colon - line] = '\0';
  for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
    ;
  json_object_set_new(obj, name, json_string(v));
  return 0;
}

static int hl_cli_rate(const hl_cli_opts_t *o, json_t *fields) {
  const char *rate = hl_opt(o, O_RATE), *burst = hl_opt(o, O_BURST);
  json_t *rl = json_object();
  long long b;
  char *end;

  if (rate) {
    double r = strtod(rate, &end);

    if (!*rate || *end || !isfinite(r)) {
      hl_admin_err("--rate: \"%s\" is not a number", rate);
      goto fail;
    }
    json_object_set_new(rl, "per_second", json_real(r));
  }
  if (burst) {
    if (hl_cli_int("burst", burst, &b) != 0)
      goto fail;
    json_object_set_new(rl, "burst", json_integer(b));
  }
  json_object_set_new(fields, "rate_limit", rl);
  return 0;
fail:
  json_decref(rl);
  return -1;
}

static int hl_cli_numbers(const hl_cli_opts_t *o, json_t *fields) {
  const char *inflight = hl_opt(o, O_INFLIGHT), *timeout = hl_opt(o, O_TIMEOUT);
  long long v;
  int64_t ms;

  if ((hl_opt(o, O_RATE) || hl_opt(o, O_BURST)) && hl_cli_rate(o, fields) != 0)
    return -1;
  if (o->seen & O_NORATE)
    json_object_set_new(fields, "rate_limit", json_null());
  if (inflight) {
    if (hl_cli_int("max-in-flight", inflight, &v) != 0)
      return -1;
    json_object_set_new(fields, "max_in_flight", v == 0 ? json_null() : json_integer(v));
  }
  if (timeout) {
    if (hl_parse_duration_ms(timeout, &ms) != 0) {
      hl_admin_err("--timeout: \"%s\" is not a duration like 10s or 2500ms", timeout);
      return -1;
    }
    json_object_set_new(fields, "timeout_ms", ms == 0 ? json_null() : json_integer(ms));
  }
  return 0;
}

static int hl_cli_texts(const hl_cli_opts_t *o, json_t *fields) {
  const char *meta = hl_opt(o, O_METADATA);
  json_t *m;

  if (hl_opt(o, O_URL))
    json_object_set_new(fields, "url", json_string(hl_opt(o, O_URL)));
  if (hl_opt(o, O_TYPES))
    json_object_set_new(fields, "types", hl_cli_types(hl_opt(o, O_TYPES)));
  if (hl_opt(o, O_DESC))
    json_object_set_new(fields, "description", json_string(hl_opt(o, O_DESC)));
  if (hl_opt(o, O_SECRET))
    json_object_set_new(fields, "secret", json_string(hl_opt(o, O_SECRET)));
  if (meta) {
    m = json_loads(meta, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(m)) {
      json_decref(m);
      hl_admin_err("metadata: must be a JSON object such as '{\"team\":\"billing\"}'");
      return -1;
    }
    json_object_set_new(fields, "metadata", m);
  }
  return 0;
}

/* A PEM file (at most HL_EP_TLS_PEM_MAX bytes) into fields[name]; errors never show the file's
 * contents.  0 ok. */
static int hl_cli_pem_file(const char *flag, const char *path, const char *name, json_t *fields) {
  static char buf[HL_EP_TLS_PEM_MAX + 2];
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
  int rc = -1;

  if (!f || ferror(f))
    hl_admin_err("--%s: cannot read %s", flag, path);
  else if (n > HL_EP_TLS_PEM_MAX)
    hl_admin_err("--%s: %s is larger than %d bytes", flag, path, HL_EP_TLS_PEM_MAX);
  else if (memchr(buf, '\0', n))
    hl_admin_err("--%s: %s is not PEM text", flag, path);
  else {
    buf[n] = '\0';
    json_object_set_new(fields, name, json_string(buf));
    rc = 0;
  }
  if (f)
    fclose(f);
  OPENSSL_cleanse(buf, sizeof(buf));
  return rc;
}

/* --client-cert/--client-key files, or --no-client-cert (both fields null). */
static int hl_cli_tls_client(const hl_cli_opts_t *o, json_t *fields) {
  const char *cert = hl_opt(o, O_CLIENTCERT), *key = hl_opt(o, O_CLIENTKEY);

  if ((o->seen & O_NOCLIENTCERT) && (cert || key)) {
    hl_admin_err("--no-client-cert: not together with --client-cert/--client-key");
    return -1;
  }
  if (o->seen & O_NOCLIENTCERT) {
    json_object_set_new(fields, "tls_client_cert", json_null());
    json_object_set_new(fields, "tls_client_key", json_null());
  }
  if (cert && hl_cli_pem_file("client-cert", cert, "tls_client_cert", fields) != 0)
    return -1;
  return key ? hl_cli_pem_file("client-key", key, "tls_client_key", fields) : 0;
}

/* The JSON fields the flags ask for, as POST/PATCH bodies carry them. NULL on a bad flag. */
static json_t *hl_cli_fields(const hl_cli_opts_t *o) {
  json_t *fields = json_object(), *hdrs;

  if (hl_cli_texts(o, fields) != 0 || hl_cli_numbers(o, fields) != 0 ||
      hl_cli_tls_client(o, fields) != 0)
    goto fail;
  if (o->nheaders > 0) {
    hdrs = json_object();
    json_object_set_new(fields, "headers", hdrs);
    for (int i = 0; i < o->nheaders; i++) {
      if (hl_cli_header(hdrs, o->headers[i]) != 0)
        goto fail;
    }
  } else if (o->seen & O_CLEARHDR) {
    json_object_set_new(fields, "headers", json_null());
  }
  return fields;
fail:
  json_decref(fields);
  return NULL;
}

/* ---- output ---- */

static void hl_cli_time(int64_t ms, char *out, size_t outsz) {
  if (ms <= 0)
    snprintf(out, outsz, "-");
  else
    hl_fmt_rfc3339(ms, out, outsz);
}

static void hl_cli_join(char *const *items, size_t n, const char *sep, char *out, size_t outsz) {
  size_t len = 0;

  out[0] = '\0';
  for (size_t i = 0; i < n && len < outsz; i++)
    len += (size_t)snprintf(out + len, outsz - len, "%s%s", i ? sep : "", items[i]);
}

static void hl_cli_print_limits(const hl_endpoint_t *ep, FILE *out) {
  if (ep->rate_per_sec > 0)
    fprintf(out, "rate limit     %g/s, burst %d\n", ep->rate_per_sec,
            ep->burst > 0 ? ep->burst : (int)ceil(ep->rate_per_sec));
  else
    fprintf(out, "rate limit     unlimited\n");
  if (ep->max_in_flight > 0)
    fprintf(out, "max in flight  %d\n", ep->max_in_flight);
  else
    fprintf(out, "max in flight  default (endpoint.max_in_flight)\n");
  if (ep->timeout_ms > 0)
    fprintf(out, "timeout        %d ms\n", ep->timeout_ms);
  else
    fprintf(out, "timeout        default (delivery.timeout)\n");
}

static void hl_cli_print_secrets(const hl_endpoint_t *ep, bool show, FILE *out) {
  char when[48];
  int64_t now = hl_now_ms();

  if (show && ep->nsecrets > 0)
    fprintf(out, "secret         %s\n", ep->secrets[0].secret);
  for (size_t i = 1; i < ep->nsecrets; i++) {
    if (ep->secrets[i].expires_ms != 0 && ep->secrets[i].expires_ms <= now)
      continue;
    hl_cli_time(ep->secrets[i].expires_ms, when, sizeof(when));
    fprintf(out, "previous secret valid until %s\n", when);
  }
}

/* Subject and expiry of the mTLS client certificate (from the API JSON), never the PEMs. */
static void hl_cli_print_tls_client(const hl_endpoint_t *ep, FILE *out) {
  char *text = ep->tls_cert ? hl_endpoint_to_json(ep, false) : NULL;
  json_t *j = text ? json_loads(text, 0, NULL) : NULL, *c = json_object_get(j, "tls_client_cert");

  if (json_is_object(c))
    fprintf(out, "client cert    %s, expires %s\n",
            json_string_value(json_object_get(c, "subject")),
            json_string_value(json_object_get(c, "expires_at"))
                ? json_string_value(json_object_get(c, "expires_at"))
                : "-");
  else
    fprintf(out, "client cert    -\n");
  json_decref(j);
  free(text);
}

void hl_cli_print_endpoint(const hl_endpoint_t *ep, bool show_secret, FILE *out) {
  char buf[4096], t1[48], t2[48];

  fprintf(out, "id             %s\ntenant         %s\nurl            %s\n", ep->id, ep->tenant,
          ep->url);
  hl_cli_join(ep->filters, ep->nfilters, ", ", buf, sizeof(buf));
  fprintf(out, "types          %s\n", buf);
  hl_cli_time(ep->disabled_ms, t1, sizeof(t1));
  if (ep->enabled)
    fprintf(out, "status         enabled\n");
  else
    fprintf(out, "status         disabled since %s: %s\n", t1,
            ep->disabled_reason ? ep->disabled_reason : "");
  fprintf(out, "description    %s\n", ep->description && *ep->description ? ep->description : "-");
  hl_cli_print_limits(ep, out);
  hl_cli_join(ep->headers, ep->nheaders, "\n               ", buf, sizeof(buf));
  fprintf(out, "headers        %s\n", ep->nheaders ? buf : "-");
  fprintf(out, "metadata       %s\n", ep->metadata);
  hl_cli_print_secrets(ep, show_secret, out);
  hl_cli_print_tls_client(ep, out);
  hl_cli_time(ep->created_ms, t1, sizeof(t1));
  hl_cli_time(ep->updated_ms, t2, sizeof(t2));
  fprintf(out, "created        %s\nupdated        %s (version %" PRId64 ")\n", t1, t2, ep->version);
}

static int hl_cli_emit(hl_admin_t *adm, const hl_endpoint_t *ep, bool show_secret) {
  char *json;

  if (!adm->json) {
    hl_cli_print_endpoint(ep, show_secret, stdout);
    return HL_EXIT_OK;
  }
  json = hl_endpoint_to_json(ep, show_secret);
  if (!json)
    return HL_EXIT_UNAVAIL;
  printf("%s\n", json);
  free(json);
  return HL_EXIT_OK;
}

/* ---- actions ---- */

static int hl_cli_create(hl_admin_t *adm, hl_store_t *st, hl_cli_opts_t *o) {
  hl_endpoint_t *ep = hl_endpoint_new();
  json_t *fields = NULL;
  char err[512];
  int rc = HL_EXIT_USAGE;

  if (!hl_opt(o, O_TENANT) || hl_event_check_tenant(hl_opt(o, O_TENANT), err, sizeof(err))) {
    hl_admin_err("%s", hl_opt(o, O_TENANT) ? err : "--tenant is required");
    goto out;
  }
  strcpy(ep->tenant, hl_opt(o, O_TENANT));
  fields = hl_cli_fields(o);
  if (!fields)
    goto out;
  if (hl_epjson_apply(ep, fields, true, hl_now_ms(), err, sizeof(err)) != 0) {
    hl_admin_err("%s", err);
    goto out;
  }
  rc = hl_store_endpoint_create(st, ep, err, sizeof(err));
  if (rc != HL_STORE_OK) {
    hl_admin_err("%s", err);
    rc = hl_admin_exit_code(rc);
    goto out;
  }
  if (!adm->json)
    printf("created %s (store the secret now; `endpoint get %s --show-secret` shows it again)\n",
           ep->id, ep->id);
  rc = hl_cli_emit(adm, ep, true);
out:
  json_decref(fields);
  hl_endpoint_destroy(&ep);
  return rc;
}

static void hl_cli_list_row(hl_table_t *tbl, const hl_endpoint_t *ep) {
  char types[1024], desc[64];
  const char *cells[5];

  hl_cli_join(ep->filters, ep->nfilters, ",", types, sizeof(types));
  snprintf(desc, sizeof(desc), "%s", ep->description);
  if (strlen(ep->description) >= sizeof(desc))
    memcpy(desc + sizeof(desc) - 4, "...", 4);
  cells[0] = ep->id;
  cells[1] = ep->enabled ? "enabled" : "disabled";
  cells[2] = types;
  cells[3] = ep->url;
  cells[4] = desc;
  hl_table_add(tbl, cells);
}

static void hl_cli_list_print(hl_admin_t *adm, hl_endpoint_t **eps, size_t n, const char *next) {
  static const char *const headers[] = {"ID", "STATUS", "TYPES", "URL", "DESCRIPTION"};
  hl_table_t *tbl;
  json_t *items;

  if (adm->json) {
    items = json_array();
    for (size_t i = 0; i < n; i++) {
      char *one = hl_endpoint_to_json(eps[i], false);

      json_array_append_new(items, json_loads(one, 0, NULL));
      free(one);
    }
    hl_cli_print_json_new(json_pack("{s:o, s:o}", "items", items, "next_cursor",
                                    *next ? json_string(next) : json_null()));
    return;
  }
  tbl = hl_table_new(5, headers);
  for (size_t i = 0; tbl && i < n; i++)
    hl_cli_list_row(tbl, eps[i]);
  if (tbl)
    hl_table_print(tbl, stdout);
  hl_table_destroy(&tbl);
  if (*next)
    fprintf(stderr, "more endpoints follow: --cursor %s\n", next);
}

static int hl_cli_list(hl_admin_t *adm, hl_store_t *st, hl_cli_opts_t *o) {
  const char *cursor = hl_opt(o, O_CURSOR);
  hl_endpoint_t **eps = NULL;
  char err[512], next[64];
  long long limit = 100;
  size_t n = 0;
  int rc;

  if (!hl_opt(o, O_TENANT) || hl_event_check_tenant(hl_opt(o, O_TENANT), err, sizeof(err))) {
    hl_admin_err("%s", hl_opt(o, O_TENANT) ? err : "--tenant is required");
    return HL_EXIT_USAGE;
  }
  if (hl_opt(o, O_LIMIT) &&
      (hl_cli_int("limit", hl_opt(o, O_LIMIT), &limit) || limit < 1 || limit > 1000)) {
    hl_admin_err("--limit: must be 1..1000");
    return HL_EXIT_USAGE;
  }
  rc = hl_store_endpoint_list(st, hl_opt(o, O_TENANT), cursor ? cursor : "", (size_t)limit, &eps,
                              &n, next, sizeof(next), err, sizeof(err));
  if (rc != HL_STORE_OK) {
    hl_admin_err("%s", err);
    return hl_admin_exit_code(rc);
  }
  hl_cli_list_print(adm, eps, n, next);
  hl_store_list_free(&eps, n);
  return HL_EXIT_OK;
}

static int hl_cli_get(hl_admin_t *adm, hl_store_t *st, hl_cli_opts_t *o) {
  hl_endpoint_t *ep = NULL;
  char err[512];
  int rc = hl_store_endpoint_get(st, hl_opt(o, O_TENANT), o->id, &ep, err, sizeof(err));

  if (rc != HL_STORE_OK) {
    hl_admin_err("%s", err);
    return hl_admin_exit_code(rc);
  }
  rc = hl_cli_emit(adm, ep, (o->seen & O_SHOWSECRET) != 0);
  hl_endpoint_destroy(&ep);
  return rc;
}

typedef struct hl_cli_patch {
  json_t *fields;
  bool burst_only; /* --burst without --rate: keep the stored rate */
} hl_cli_patch_t;

static int hl_cli_patch_cb(hl_endpoint_t *ep, void *opaque, char *errstr, size_t errsize) {
  hl_cli_patch_t *patch = opaque;
  json_t *rl = json_object_get(patch->fields, "rate_limit");

  if (patch->burst_only) {
    if (ep->rate_per_sec <= 0) {
      snprintf(errstr, errsize, "rate_limit.burst: needs a rate per second (--rate)");
      return -1;
    }
    json_object_set_new(rl, "per_second", json_real(ep->rate_per_sec));
  }
  return hl_epjson_apply(ep, patch->fields, false, hl_now_ms(), errstr, errsize);
}

static int hl_cli_update(hl_admin_t *adm, hl_store_t *st, hl_cli_opts_t *o) {
  hl_cli_patch_t patch = {NULL, hl_opt(o, O_BURST) && !hl_opt(o, O_RATE)};
  hl_endpoint_t *ep = NULL;
  char err[512];
  int rc = HL_EXIT_USAGE;

  patch.fields = hl_cli_fields(o);
  if (!patch.fields)
    goto out;
  if (json_object_size(patch.fields) == 0) {
    hl_admin_err("endpoint update: nothing to change (see --help)");
    goto out;
  }
  rc = hl_store_endpoint_update(st, hl_opt(o, O_TENANT), o->id, hl_cli_patch_cb, &patch, &ep, err,
                                sizeof(err));
  if (rc != HL_STORE_OK) {
    hl_admin_err("%s", err);
    rc = hl_admin_exit_code(rc);
    goto out;
  }
  rc = hl_cli_emit(adm, ep, false);
out:
  json_decref(patch.fields);
  hl_endpoint_destroy(&ep);
  return rc;
}

static int hl_cli_delete(hl_admin_t *adm, hl_store_t *st, hl_cli_opts_t *o) {
  char err[512];
  int rc = hl_store_endpoint_delete(st, hl_opt(o, O_TENANT), o->id, err, sizeof(err));

  if (rc != HL_STORE_OK) {
    hl_admin_err("%s", err);
    return hl_admin_exit_code(rc);
  }
  if (adm->json)
    printf("{\"id\":\"%s\",\"deleted\":true}\n", o->id);
  else
    printf("deleted %s\n", o->id);
  return HL_EXIT_OK;
}

static int hl_cli_rotate(hl_admin_t *adm, hl_store_t *st, hl_cli_opts_t *o) {
  hl_endpoint_t *ep = NULL;
  char err[512];
  int rc = hl_store_endpoint_rotate(st, hl_opt(o, O_TENANT), o->id, hl_opt(o, O_SECRET), &ep, err,
                                    sizeof(err));

  if (rc != HL_STORE_OK) {
    hl_admin_err("%s", err);
    return hl_admin_exit_code(rc);
  }
  if (!adm->json)
    printf("rotated the secret of %s\n", ep->id);
  rc = hl_cli_emit(adm, ep, true);
  hl_endpoint_destroy(&ep);
  return rc;
}

static int hl_cli_status(hl_admin_t *adm, hl_store_t *st, hl_cli_opts_t *o, bool enabled) {
  const char *reason = hl_opt(o, O_REASON) ? hl_opt(o, O_REASON) : "disabled by an operator";
  hl_endpoint_t *ep = NULL;
  char err[512];
  int rc = hl_store_endpoint_set_status(st, hl_opt(o, O_TENANT), o->id, enabled, reason, &ep, err,
                                        sizeof(err));

  if (rc != HL_STORE_OK) {
    hl_admin_err("%s", err);
    return hl_admin_exit_code(rc);
  }
  rc = hl_cli_emit(adm, ep, false);
  hl_endpoint_destroy(&ep);
  return rc;
}

static int hl_cli_enable(hl_admin_t *adm, hl_store_t *st, hl_cli_opts_t *o) {
  return hl_cli_status(adm, st, o, true);
}

static int hl_cli_disable(hl_admin_t *adm, hl_store_t *st, hl_cli_opts_t *o) {
  return hl_cli_status(adm, st, o, false);
}

static int hl_cli_test(hl_admin_t *adm, hl_store_t *st, hl_cli_opts_t *o) {
  int64_t wait_ms = 15000;

  if (hl_opt(o, O_WAIT) && hl_parse_duration_ms(hl_opt(o, O_WAIT), &wait_ms) != 0) {
    hl_admin_err("--wait: \"%s\" is not a duration like 15s", hl_opt(o, O_WAIT));
    return HL_EXIT_USAGE;
  }
  if (o->seen & O_NOWAIT)
    wait_ms = 0;
  return hl_cli_test_run(adm, st, hl_opt(o, O_TENANT), o->id, wait_ms);
}

static const struct {
  const char *name;
  hl_cli_action_fn *fn;
  unsigned allowed;
  bool needs_id;
  const char *usage;
} hl_cli_actions[] = {
    {"create", hl_cli_create, O_TENANT | O_FIELDS | O_SECRET, false,
     "create --tenant T --url URL --types 'invoice.*,customer.created' [--description D]\n"
     "         [--rate N [--burst N]] [--max-in-flight N] [--timeout 10s] [--header 'X-Env: "
     "prod']...\n"
     "         [--metadata JSON] [--secret whsec_...]\n"
     "         [--client-cert CERT.pem --client-key KEY.pem]"},
    {"list", hl_cli_list, O_TENANT | O_LIMIT | O_CURSOR, false,
     "list --tenant T [--limit N] [--cursor ID]"},
    {"get", hl_cli_get, O_TENANT | O_SHOWSECRET, true, "get ID [--tenant T] [--show-secret]"},
    {"update", hl_cli_update, O_TENANT | O_FIELDS | O_NORATE | O_CLEARHDR | O_NOCLIENTCERT, true,
     "update ID [--tenant T] [--url URL] [--types LIST] [--description D] [--rate N] [--burst N]\n"
     "         [--no-rate-limit] [--max-in-flight N] [--timeout D] [--header 'N: v']...\n"
     "         [--clear-headers] [--metadata JSON]\n"
     "         [--client-cert CERT.pem --client-key KEY.pem | --no-client-cert]"},
    {"delete", hl_cli_delete, O_TENANT, true, "delete ID [--tenant T]"},
    {"rotate-secret", hl_cli_rotate, O_TENANT | O_SECRET, true,
     "rotate-secret ID [--tenant T] [--secret whsec_...]"},
    {"enable", hl_cli_enable, O_TENANT, true, "enable ID [--tenant T]"},
    {"disable", hl_cli_disable, O_TENANT | O_REASON, true,
     "disable ID [--tenant T] [--reason TEXT]"},
    {"test", hl_cli_test, O_TENANT | O_WAIT | O_NOWAIT, true,
     "test ID [--tenant T] [--wait 15s | --no-wait]"},
};

#define HL_CLI_NACTIONS (sizeof(hl_cli_actions) / sizeof(hl_cli_actions[0]))

static void hl_cli_usage(FILE *out) {
  fprintf(out, "usage: hookline-admin endpoint ACTION ... [-o json]\n\nactions:\n");
  for (size_t i = 0; i < HL_CLI_NACTIONS; i++)
    fprintf(out, "  %s\n", hl_cli_actions[i].usage);
  fprintf(out, "\nexit codes: 0 ok, 1 not found, 2 usage or invalid value, 3 Redis/Kafka/"
               "dispatcher unreachable or failing\n");
}

/* One flag into o; -1 on a usage error. */
static int hl_cli_flag(hl_admin_t *adm, hl_cli_opts_t *o, int opt, unsigned allowed,
                       const char *action) {
  if (opt == 'o' || opt == O_OUTPUT)
    return hl_cli_output(adm, optarg);
  if (opt <= 0 || !(allowed & (unsigned)opt)) {
    if (opt > 0)
      hl_admin_err("endpoint %s: --%s is not one of its options", action,
                   hl_cli_longopts[hl_bit((unsigned)opt)].name);
    return -1;
  }
  o->seen |= (unsigned)opt;
  if (opt == O_HEADER) {
    if (o->nheaders == HL_EP_MAX_HEADERS) {
      hl_admin_err("headers: at most %d", HL_EP_MAX_HEADERS);
      return -1;
    }
    o->headers[o->nheaders++] = optarg;
  } else {
    o->val[hl_bit((unsigned)opt)] = optarg;
  }
  return 0;
}

static int hl_cli_parse(hl_admin_t *adm, int argc, char **argv, size_t a, hl_cli_opts_t *o) {
  int opt;

  optind = 0; /* glibc: restart getopt on the sub-command's arguments */
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "o:h", hl_cli_longopts, NULL)) != -1) {
    if (opt == 'h' || opt == '?' || opt == ':' ||
        hl_cli_flag(adm, o, opt, hl_cli_actions[a].allowed | O_OUTPUT, argv[0]) != 0) {
      if (opt == '?')
        hl_admin_err("endpoint %s: unknown option or missing value: %s", argv[0], argv[optind - 1]);
      fprintf(stderr, "usage: hookline-admin endpoint %s\n", hl_cli_actions[a].usage);
      return -1;
    }
  }
  if (hl_cli_actions[a].needs_id && optind + 1 != argc) {
    hl_admin_err("endpoint %s: give exactly one endpoint id", argv[0]);
    fprintf(stderr, "usage: hookline-admin endpoint %s\n", hl_cli_actions[a].usage);
    return -1;
  }
  if (!hl_cli_actions[a].needs_id && optind != argc) {
    hl_admin_err("endpoint %s: unexpected argument %s", argv[0], argv[optind]);
    return -1;
  }
  o->id = hl_cli_actions[a].needs_id ? argv[optind] : NULL;
  return 0;
}

int hl_cli_endpoint(hl_admin_t *adm, int argc, char **argv) {
  hl_cli_opts_t o = {0};
  hl_store_t *st = NULL;
  size_t a;
  int rc;

  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    hl_cli_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? HL_EXIT_USAGE : HL_EXIT_OK;
  }
  for (a = 0; a < HL_CLI_NACTIONS && strcmp(argv[1], hl_cli_actions[a].name) != 0; a++)
    ;
  if (a == HL_CLI_NACTIONS) {
    hl_admin_err("endpoint: unknown action \"%s\"", argv[1]);
    hl_cli_usage(stderr);
    return HL_EXIT_USAGE;
  }
  if (hl_cli_parse(adm, argc - 1, argv + 1, a, &o) != 0)
    return HL_EXIT_USAGE;
  rc = hl_admin_store_open(adm, &st);
  if (rc == HL_EXIT_OK)
    rc = hl_cli_actions[a].fn(adm, st, &o);
  hl_store_destroy(&st);
  return rc;
}
