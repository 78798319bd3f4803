/*
 * 0301-http-failures: failures end promptly and are classified, and one bad endpoint does not
 * hold up others.  A hanging endpoint times out at its timeout_ms while requests to another
 * path complete meanwhile; a closed loopback port is a connect error; with no allow list the
 * SSRF guard refuses 127.0.0.1 and `localhost` at connect time and the receiver gets nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "http_driver.h"
#include "sign.h"

static const char *const allow_lo[] = {"delivery.allow_cidrs=127.0.0.0/8", NULL};
static const char *const allow_none[] = {"delivery.allow_cidrs=", NULL};

static char record[128];
static pid_t pid;
static int port;
static hl_sign_key_t key = {.len = 32};

static int setup(void **state) {
  char prefix[32];
  char *extra[] = {"--rule", "/never=hang", "--rule", "/fast=200", NULL};

  hl_test_prefix(prefix, sizeof(prefix));
  snprintf(record, sizeof(record), "/tmp/%s.ndjson", prefix);
  memset(key.key, 0x5a, key.len);
  pid = hl_test_receiver_start(record, extra, &port);
  return pid > 0 ? 0 : -1;
}

static int teardown(void **state) {
  hl_test_stop(pid, 2000);
  unlink(record);
  return 0;
}

static void fill(hl_http_req_t *req, const char *url, int timeout_ms) {
  memset(req, 0, sizeof(*req));
  req->url = url;
  req->msg_id = "msg_failures";
  req->body = "{\"n\":1}";
  req->body_len = 7;
  req->keys = &key;
  req->nkeys = 1;
  req->timeout_ms = timeout_ms;
}

static void test_slow_endpoint_does_not_block_others(void **state) {
  struct event_base *base = event_base_new();
  hl_http_t *http = it_engine(base, allow_lo);
  char slow_url[128], fast_url[128];
  hl_http_req_t slow, fast;
  it_res_t hang = {0}, quick[20] = {{0}};
  int64_t t0 = hl_mono_ms();

  it_url(slow_url, sizeof(slow_url), "127.0.0.1", port, "/never");
  it_url(fast_url, sizeof(fast_url), "127.0.0.1", port, "/fast");
  fill(&slow, slow_url, 500);
  fill(&fast, fast_url, 0);
  assert_int_equal(hl_http_send(http, &slow, it_on_done, &hang), 0);
  for (int i = 0; i < 20; i++)
    assert_int_equal(hl_http_send(http, &fast, it_on_done, &quick[i]), 0);
  it_wait(base, http, 10000);

  assert_int_equal(hang.done, 1);
  assert_int_equal(hang.outcome, HL_HTTP_TIMEOUT);
  assert_int_equal(hang.status, 0);
  assert_non_null(strstr(hang.error, "timeout"));
  assert_true(hang.latency_us >= 480000);
  assert_true(hang.latency_us < hl_test_tmout_ms(1500) * 1000);
  for (int i = 0; i < 20; i++) {
    assert_int_equal(quick[i].done, 1);
    assert_int_equal(quick[i].outcome, HL_HTTP_OK);
    /* all of them were answered while the slow one was still waiting */
    assert_true(quick[i].done_ms < hang.done_ms);
    assert_true(quick[i].done_ms - t0 < 450);
  }
  hl_http_destroy(&http);
  event_base_free(base);
}

/* A loopback port nobody listens on: bind, read the port, close. */
static int closed_port(void) {
  struct sockaddr_in sin = {0};
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, SOCK_STREAM, 0), p;

  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
  p = ntohs(sin.sin_port);
  close(fd);
  return p;
}

static void test_connection_refused(void **state) {
  struct event_base *base = event_base_new();
  hl_http_t *http = it_engine(base, allow_lo);
  hl_http_req_t req;
  char url[128];
  it_res_t r;

  it_url(url, sizeof(url), "127.0.0.1", closed_port(), "/");
  fill(&req, url, 0);
  it_post(base, http, &req, &r);
  assert_int_equal(r.done, 1);
  assert_int_equal(r.outcome, HL_HTTP_CONNECT);
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.error, "connect"));
  assert_true(r.latency_us < 2000000);
  hl_http_destroy(&http);
  event_base_free(base);
}

static void test_blocked_sends_nothing(void **state) {
  struct event_base *base = event_base_new();
  hl_http_t *http = it_engine(base, allow_none);
  const char *hosts[] = {"127.0.0.1", "localhost", "127.0.0.2"};
  json_t *recs;

  for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
    hl_http_req_t req;
    char url[128];
    it_res_t r;

    it_url(url, sizeof(url), hosts[i], port, "/fast");
    fill(&req, url, 0);
    it_post(base, http, &req, &r);
    assert_int_equal(r.done, 1);
    if (r.outcome != HL_HTTP_BLOCKED)
      fail_msg("%s: %s (%s)", hosts[i], hl_http_outcome_str(r.outcome), r.error);
    assert_non_null(strstr(r.error, "blocked_address: "));
    assert_non_null(strstr(r.error, " is loopback"));
  }
  hl_http_destroy(&http);
  event_base_free(base);
  /* runs first: the receiver got no request at all and recorded nothing */
  assert_int_equal(it_receiver_count(port, NULL), 0);
  recs = it_records(record);
  assert_int_equal(json_array_size(recs), 0);
  json_decref(recs);
}

/* The other side of the guard: with 127.0.0.0/8 allowed, a host name resolving to loopback
 * (as local demos use) is delivered to, over one connection, and nothing counts as blocked. */
static void test_allowed_address_of_mixed_host(void **state) {
  struct event_base *base = event_base_new();
  hl_http_t *http = it_engine(base, allow_lo);
  hl_http_stats_t st;
  hl_http_req_t req;
  char url[128];
  it_res_t r;

  it_url(url, sizeof(url), "localhost", port, "/fast");
  fill(&req, url, 0);
  it_post(base, http, &req, &r);
  assert_int_equal(r.done, 1);
  if (r.outcome != HL_HTTP_OK)
    fail_msg("localhost: %s (%s)", hl_http_outcome_str(r.outcome), r.error);
  assert_int_equal(r.status, 200);
  hl_http_stats(http, &st);
  assert_int_equal(st.blocked, 0);
  assert_int_equal(st.connects, 1);
  hl_http_destroy(&http);
  event_base_free(base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_blocked_sends_nothing),
      cmocka_unit_test(test_slow_endpoint_does_not_block_others),
      cmocka_unit_test(test_connection_refused),
      cmocka_unit_test(test_allowed_address_of_mixed_host),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
