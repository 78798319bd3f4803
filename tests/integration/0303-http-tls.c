/*
 * 0303-http-tls: HTTPS delivery with verification always on.  The test serves HTTPS itself on
 * loopback (evhttp over bufferevent_openssl, on the engine's own event base) with a fresh
 * self-signed certificate for 127.0.0.1/localhost.  Without delivery.ca_file the certificate is
 * refused (connect_error, nothing sent); with it the delivery succeeds and keeps one connection
 * alive across requests; a host name the certificate does not cover is refused; https_only
 * refuses http:// URLs.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <openssl/ssl.h>

#include "http_driver.h"
#include "sign.h"

static struct {
  struct event_base *base;
  struct evhttp *srv;
  SSL_CTX *ctx;
  char cert_path[128];
  int port, port2; /* 127.0.0.1 and 127.0.0.2 */
  int requests, signed_requests;
} S;

static hl_sign_key_t key = {.len = 32};

static void on_request(struct evhttp_request *req, void *arg) {
  struct evbuffer *out = evbuffer_new();

  S.requests++;
  if (evhttp_find_header(evhttp_request_get_input_headers(req), "webhook-signature"))
    S.signed_requests++;
  evbuffer_add(out, "tls ok", 6);
  evhttp_send_reply(req, 200, "OK", out);
  evbuffer_free(out);
}

static struct bufferevent *on_bev(struct event_base *base, void *arg) {
  return bufferevent_openssl_socket_new(base, -1, SSL_new(S.ctx), BUFFEREVENT_SSL_ACCEPTING,
                                        BEV_OPT_CLOSE_ON_FREE);
}

static int bound_port(struct evhttp_bound_socket *bs) {
  struct sockaddr_in sin;
  socklen_t len = sizeof(sin);

  if (!bs || getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len) != 0)
    return -1;
  return ntohs(sin.sin_port);
}

static int setup(void **state) {
  char prefix[32];
  EVP_PKEY *pkey = NULL;
  X509 *x509 = NULL;

  signal(SIGPIPE, SIG_IGN); /* the server writes to connections curl gave up on */
  memset(key.key, 9, key.len);
  hl_test_prefix(prefix, sizeof(prefix));
  snprintf(S.cert_path, sizeof(S.cert_path), "/tmp/%s.crt", prefix);
  if (it_make_cert(S.cert_path, NULL, &pkey, &x509) != 0)
    return -1;
  S.ctx = SSL_CTX_new(TLS_server_method());
  if (SSL_CTX_use_certificate(S.ctx, x509) != 1 || SSL_CTX_use_PrivateKey(S.ctx, pkey) != 1)
    return -1;
  X509_free(x509);
  EVP_PKEY_free(pkey);
  S.base = event_base_new();
  S.srv = evhttp_new(S.base);
  evhttp_set_bevcb(S.srv, on_bev, NULL);
  evhttp_set_gencb(S.srv, on_request, NULL);
  S.port = bound_port(evhttp_bind_socket_with_handle(S.srv, "127.0.0.1", 0));
  S.port2 = bound_port(evhttp_bind_socket_with_handle(S.srv, "127.0.0.2", 0));
  return S.port > 0 && S.port2 > 0 ? 0 : -1;
}

static int teardown(void **state) {
  evhttp_free(S.srv);
  event_base_free(S.base);
  SSL_CTX_free(S.ctx);
  unlink(S.cert_path);
  return 0;
}

static hl_http_t *engine(bool with_ca, bool https_only) {
  char ca[192];
  const char *kv[4] = {"delivery.allow_cidrs=127.0.0.0/8", NULL, NULL, NULL};
  int n = 1;

  snprintf(ca, sizeof(ca), "delivery.ca_file=%s", S.cert_path);
  if (with_ca)
    kv[n++] = ca;
  if (https_only)
    kv[n++] = "delivery.https_only=true";
  return it_engine(S.base, kv);
}

static void post(hl_http_t *http, const char *scheme, const char *host, int port, it_res_t *r) {
  hl_http_req_t req = {0};
  char url[128];

  snprintf(url, sizeof(url), "%s://%s:%d/hook", scheme, host, port);
  req.url = url;
  req.msg_id = "msg_tls";
  req.body = "{\"tls\":true}";
  req.body_len = strlen(req.body);
  req.keys = &key;
  req.nkeys = 1;
  it_post(S.base, http, &req, r);
  assert_int_equal(r->done, 1);
}

static void test_untrusted_certificate_refused(void **state) {
  hl_http_t *http = engine(false, false);
  int before = S.requests;
  it_res_t r;

  post(http, "https", "127.0.0.1", S.port, &r);
  if (r.outcome != HL_HTTP_CONNECT)
    fail_msg("untrusted: %s (%s)", hl_http_outcome_str(r.outcome), r.error);
  assert_non_null(strstr(r.error, "certificate"));
  assert_int_equal(S.requests, before);
  hl_http_destroy(&http);
}

static void test_ca_file_trusted_and_kept_alive(void **state) {
  hl_http_t *http = engine(true, false);
  int before = S.requests, signed_before = S.signed_requests;
  hl_http_stats_t st;
  it_res_t r;

  for (int i = 0; i < 10; i++) {
    post(http, "https", i % 2 ? "localhost" : "127.0.0.1", S.port, &r);
    if (r.outcome != HL_HTTP_OK)
      fail_msg("trusted: %s (%s)", hl_http_outcome_str(r.outcome), r.error);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.excerpt, "tls ok");
  }
  assert_int_equal(S.requests - before, 10);
  assert_int_equal(S.signed_requests - signed_before, 10);
  hl_http_stats(http, &st);
  assert_int_equal(st.connects, 2); /* one per host name, each reused */
  hl_http_destroy(&http);
}

static void test_name_not_in_certificate_refused(void **state) {
  hl_http_t *http = engine(true, false);
  int before = S.requests;
  it_res_t r;

  post(http, "https", "127.0.0.2", S.port2, &r);
  if (r.outcome != HL_HTTP_CONNECT)
    fail_msg("127.0.0.2: %s (%s)", hl_http_outcome_str(r.outcome), r.error);
  assert_non_null(strstr(r.error, "subject name"));
  assert_int_equal(S.requests, before);
  hl_http_destroy(&http);
}

static void test_https_only(void **state) {
  hl_http_t *http = engine(true, true);
  it_res_t r;

  post(http, "https", "127.0.0.1", S.port, &r);
  assert_int_equal(r.outcome, HL_HTTP_OK);
  post(http, "http", "127.0.0.1", S.port, &r);
  assert_int_equal(r.outcome, HL_HTTP_ERROR);
  assert_non_null(strstr(r.error, "http"));
  hl_http_destroy(&http);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_untrusted_certificate_refused),
      cmocka_unit_test(test_ca_file_trusted_and_kept_alive),
      cmocka_unit_test(test_name_not_in_certificate_refused),
      cmocka_unit_test(test_https_only),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
