/*
 * http_driver.h - helpers shared by the 03xx HTTP engine tests: an engine on a fresh event
 * base with config overrides, sends that copy their result, waiting, and reading what the test
 * receiver recorded (its --record NDJSON and GET /_stats), a throw-away TLS certificate.
 * Loopback only.
 */
#ifndef HL_TEST_HTTP_DRIVER_H
#define HL_TEST_HTTP_DRIVER_H

#include <event2/event.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "harness.h"
#include "http.h"
#include "util.h"

typedef struct it_res {
  int done;
  hl_http_outcome_t outcome;
  int status;
  int64_t retry_after_ms, latency_us, ts_ms, done_ms;
  char error[256];
  char excerpt[HL_HTTP_EXCERPT_MAX + 1];
  size_t excerpt_len, body_read;
  bool truncated;
  int connects;
} it_res_t;

static inline void it_on_done(const hl_http_result_t *res, void *opaque) {
  it_res_t *r = opaque;

  r->done++;
  r->outcome = res->outcome;
  r->status = res->status;
  r->retry_after_ms = res->retry_after_ms;
  r->latency_us = res->latency_us;
  r->ts_ms = res->ts_ms;
  r->done_ms = hl_mono_ms();
  snprintf(r->error, sizeof(r->error), "%s", res->error);
  memcpy(r->excerpt, res->excerpt, res->excerpt_len);
  r->excerpt[res->excerpt_len] = '\0';
  r->excerpt_len = res->excerpt_len;
  r->body_read = res->body_read;
  r->truncated = res->truncated;
  r->connects = res->connects;
}

/* An engine with "key=value" overrides (NULL-terminated). */
static inline hl_http_t *it_engine(struct event_base *base, const char *const *kv) {
  hl_conf_t *conf = hl_conf_new();
  char err[256];
  hl_http_t *http;

  for (size_t i = 0; kv && kv[i]; i++) {
    if (hl_conf_set_kv(conf, kv[i], err, sizeof(err)) != 0) {
      fprintf(stderr, "config %s: %s\n", kv[i], err);
      return NULL;
    }
  }
  http = hl_http_new(base, conf, err, sizeof(err));
  if (!http)
    fprintf(stderr, "hl_http_new: %s\n", err);
  hl_conf_destroy(&conf);
  return http;
}

/* Run the loop until nothing is in flight (or ms pass). */
static inline void it_wait(struct event_base *base, hl_http_t *http, int64_t ms) {
  int64_t deadline = hl_mono_ms() + hl_test_tmout_ms(ms);

  while (hl_http_in_flight(http) > 0 && hl_mono_ms() < deadline)
    event_base_loop(base, EVLOOP_ONCE);
}

/* Send one request and wait for it. */
static inline void it_post(struct event_base *base, hl_http_t *http, hl_http_req_t *req,
                           it_res_t *r) {
  memset(r, 0, sizeof(*r));
  if (hl_http_send(http, req, it_on_done, r) != 0)
    return;
  it_wait(base, http, 20000);
}

static inline void it_url(char *out, size_t outsz, const char *host, int port, const char *path) {
  snprintf(out, outsz, "http://%s:%d%s", host, port, path);
}

/* The receiver's GET /_stats (any method works) as JSON; NULL on failure. */
static inline json_t *it_receiver_stats(int port) {
  static const char *const allow[] = {"delivery.allow_cidrs=127.0.0.0/8", NULL};
  struct event_base *base = event_base_new();
  hl_http_t *http = it_engine(base, allow);
  hl_sign_key_t key = {.len = 32};
  hl_http_req_t req = {0};
  json_t *stats = NULL;
  char url[128];
  it_res_t r;

  it_url(url, sizeof(url), "127.0.0.1", port, "/_stats");
  req.url = url;
  req.msg_id = "msg_stats";
  req.keys = &key;
  req.nkeys = 1;
  it_post(base, http, &req, &r);
  if (r.done && r.outcome == HL_HTTP_OK)
    stats = json_loadb(r.excerpt, r.excerpt_len, 0, NULL);
  hl_http_destroy(&http);
  event_base_free(base);
  return stats;
}

/* Requests the receiver counted on path (0 when none). */
static inline long it_receiver_count(int port, const char *path) {
  json_t *stats = it_receiver_stats(port);
  long n = -1;

  if (stats) {
    json_t *v = path ? json_object_get(json_object_get(stats, "by_path"), path)
                     : json_object_get(stats, "requests");
    n = v ? (long)json_integer_value(v) : 0;
    json_decref(stats);
  }
  return n;
}

/* The record file's lines as a JSON array (empty when the file is empty or missing). */
static inline json_t *it_records(const char *path) {
  json_t *all = json_array();
  FILE *fp = fopen(path, "r");
  char *line = NULL;
  size_t cap = 0;

  while (fp && getline(&line, &cap, fp) > 0) {
    json_t *o = json_loads(line, 0, NULL);

    if (o)
      json_array_append_new(all, o);
  }
  free(line);
  if (fp)
    fclose(fp);
  return all;
}

/*
 * A P-256 key and a self-signed certificate for IP:127.0.0.1 and DNS:localhost, valid 1 h,
 * written as PEM to crt_path / key_path when not NULL.  The caller frees *pkey and *x509.
 */
static inline int it_make_cert(const char *crt_path, const char *key_path, EVP_PKEY **pkey,
                               X509 **x509) {
  X509V3_CTX v3;
  X509_EXTENSION *ext;
  X509_NAME *name;
  X509 *x = X509_new();
  FILE *fp;

  *pkey = EVP_EC_gen("P-256");
  if (!*pkey || !x)
    return -1;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(hl_now_ms() % 1000000));
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, *pkey);
  name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"hookline test", -1,
                             -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  *x509 = x;
  if (X509_sign(x, *pkey, EVP_sha256()) == 0)
    return -1;
  fp = crt_path ? fopen(crt_path, "w") : NULL;
  if (crt_path && (!fp || PEM_write_X509(fp, x) != 1))
    return -1;
  if (fp)
    fclose(fp);
  fp = key_path ? fopen(key_path, "w") : NULL;
  if (key_path && (!fp || PEM_write_PrivateKey(fp, *pkey, NULL, NULL, 0, NULL, NULL) != 1))
    return -1;
  if (fp)
    fclose(fp);
  return 0;
}

#endif
