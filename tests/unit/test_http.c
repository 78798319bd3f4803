/*
 * test_http: the delivery engine without a server.  Retry-After parsing, requests refused before
 * any I/O (CR/LF in a header, no signing key, a scheme outside the allowed protocols), the SSRF
 * guard at connect time (loopback denied when not allowed: nothing is connected), the connect
 * timeout (a listener whose accept queue is full), re-entrant
 * sends from a callback, and teardown with requests in flight (a local socket that listens but
 * never answers; the kernel completes the TCP handshake).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "sign.h"
#include "util.h"

typedef struct done {
  int calls;
  hl_http_outcome_t outcome;
  int status;
  char error[256];
  hl_http_t *http;    /* for callbacks that send again or destroy */
  int resend;         /* sends left to make from the callback */
  int resend_rc;      /* hl_http_send's answer inside the callback */
  bool in_send;       /* set around hl_http_send: the callback must not run inside it */
  bool called_inside; /* it did */
  struct event_base *base;
} done_t;

static hl_sign_key_t key;
static hl_http_req_t base_req;

static void on_done(const hl_http_result_t *res, void *opaque) {
  done_t *d = opaque;

  d->calls++;
  d->outcome = res->outcome;
  d->status = res->status;
  snprintf(d->error, sizeof(d->error), "%s", res->error);
  if (d->in_send)
    d->called_inside = true;
  if (d->resend > 0 && d->http) {
    d->resend--;
    d->resend_rc = hl_http_send(d->http, &base_req, on_done, d);
  }
}

static hl_http_t *engine(struct event_base *base, const char *allow, bool https_only) {
  hl_conf_t *conf = hl_conf_new();
  char err[256];
  hl_http_t *http;

  assert_int_equal(hl_conf_set(conf, "delivery.allow_cidrs", allow, err, sizeof(err)), 0);
  assert_int_equal(
      hl_conf_set(conf, "delivery.https_only", https_only ? "true" : "false", err, sizeof(err)), 0);
  http = hl_http_new(base, conf, err, sizeof(err));
  assert_non_null(http);
  hl_conf_destroy(&conf);
  return http;
}

static void run_until(struct event_base *base, hl_http_t *http, int64_t ms) {
  int64_t deadline = hl_mono_ms() + ms;

  while (hl_http_in_flight(http) > 0 && hl_mono_ms() < deadline)
    event_base_loop(base, EVLOOP_ONCE);
}

static int setup(void **state) {
  memset(key.key, 7, 32);
  key.len = 32;
  memset(&base_req, 0, sizeof(base_req));
  base_req.msg_id = "msg_unit";
  base_req.body = "{\"a\":1}";
  base_req.body_len = 7;
  base_req.keys = &key;
  base_req.nkeys = 1;
  return 0;
}

static void send_one(hl_http_t *http, hl_http_req_t *req, done_t *d) {
  d->in_send = true;
  assert_int_equal(hl_http_send(http, req, on_done, d), 0);
  d->in_send = false;
}

static void test_outcome_names(void **state) {
  assert_string_equal(hl_http_outcome_str(HL_HTTP_OK), "ok");
  assert_string_equal(hl_http_outcome_str(HL_HTTP_GONE), "gone");
  assert_string_equal(hl_http_outcome_str(HL_HTTP_STATUS), "status");
  assert_string_equal(hl_http_outcome_str(HL_HTTP_TIMEOUT), "timeout");
  assert_string_equal(hl_http_outcome_str(HL_HTTP_CONNECT), "connect_error");
  assert_string_equal(hl_http_outcome_str(HL_HTTP_BLOCKED), "blocked_address");
  assert_string_equal(hl_http_outcome_str(HL_HTTP_ERROR), "error");
}

static void test_retry_after(void **state) {
  int64_t now = hl_now_ms();
  time_t later = (time_t)(now / 1000) + 90, earlier = (time_t)(now / 1000) - 90;
  char date[64];
  struct tm tm;
  int64_t ms;

  assert_int_equal(hl_http_retry_after_ms("7", now), 7000);
  assert_int_equal(hl_http_retry_after_ms(" 120 ", now), 120000);
  assert_int_equal(hl_http_retry_after_ms("0", now), 0);
  assert_int_equal(hl_http_retry_after_ms("", now), 0);
  assert_int_equal(hl_http_retry_after_ms("soon", now), 0);
  assert_int_equal(hl_http_retry_after_ms("-5", now), 0);
  assert_int_equal(hl_http_retry_after_ms(NULL, now), 0);
  assert_int_equal(hl_http_retry_after_ms("99999999999999999999", now), 30LL * 86400 * 1000);
  gmtime_r(&later, &tm);
  strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  ms = hl_http_retry_after_ms(date, now);
  assert_true(ms > 88000 && ms <= 90000);
  gmtime_r(&earlier, &tm);
  strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  assert_int_equal(hl_http_retry_after_ms(date, now), 0);
}

static void refused(const char *url, const char *header, size_t nkeys, bool https_only,
                    hl_http_outcome_t want, const char *want_error) {
  struct event_base *base = event_base_new();
  hl_http_t *http = engine(base, "127.0.0.0/8", https_only);
  const char *headers[1] = {header};
  hl_http_req_t req = base_req;
  done_t d = {0};

  req.url = url;
  req.headers = headers;
  req.nheaders = header ? 1 : 0;
  req.nkeys = nkeys;
  send_one(http, &req, &d);
  assert_int_equal(d.calls, 0); /* never from inside hl_http_send */
  assert_int_equal(hl_http_in_flight(http), 1);
  run_until(base, http, 5000);
  assert_int_equal(d.calls, 1);
  assert_false(d.called_inside);
  assert_int_equal(d.outcome, want);
  assert_non_null(strstr(d.error, want_error));
  assert_int_equal(hl_http_in_flight(http), 0);
  hl_http_destroy(&http);
  assert_null(http);
  event_base_free(base);
}

static void test_refused_before_io(void **state) {
  refused("http://127.0.0.1:1/", "X-Evil: a\r\nX-Injected: b", 1, false, HL_HTTP_ERROR, "CR or LF");
  refused("http://127.0.0.1:1/", "X-Bare-LF: a\nb", 1, false, HL_HTTP_ERROR, "CR or LF");
  refused("http://127.0.0.1:1/", "no colon here", 1, false, HL_HTTP_ERROR, "Name: value");
  refused("http://127.0.0.1:1/", "Webhook-Signature: v1,forged", 1, false, HL_HTTP_ERROR,
          "set by hookline");
  refused("http://127.0.0.1:1/", NULL, 0, false, HL_HTTP_ERROR, "signing key");
  refused("http://127.0.0.1:1/", NULL, 1, true, HL_HTTP_ERROR, "http");
  refused("ftp://127.0.0.1:1/", NULL, 1, false, HL_HTTP_ERROR, "ftp");
  refused("file:///etc/passwd", NULL, 1, false, HL_HTTP_ERROR, "file");
}

static void test_blocked_at_connect(void **state) {
  static const struct {
    const char *url, *error;
  } cases[] = {
      {"http://127.0.0.1:9/", "blocked_address: 127.0.0.1 is loopback"},
      {"http://[::1]:9/", "blocked_address: ::1 is loopback"},
      {"http://localhost:9/", "is loopback"},
      {"http://0x7f000001:9/", "blocked_address: 127.0.0.1 is loopback"},
      {"http://169.254.169.254:9/latest/meta-data/", "169.254.169.254 is link_local"},
  };
  struct event_base *base = event_base_new();
  hl_http_t *http = engine(base, "", false);
  hl_http_stats_t st;

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    hl_http_req_t req = base_req;
    done_t d = {0};

    req.url = cases[i].url;
    send_one(http, &req, &d);
    run_until(base, http, 5000);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.outcome, HL_HTTP_BLOCKED);
    assert_int_equal(d.status, 0);
    if (!strstr(d.error, cases[i].error))
      fail_msg("%s: error \"%s\", want \"%s\"", cases[i].url, d.error, cases[i].error);
  }
  hl_http_stats(http, &st);
  assert_int_equal(st.connects, 0);
  assert_true(st.blocked >= 5);
  hl_http_destroy(&http);
  event_base_free(base);
}

static void test_resend_from_callback(void **state) {
  struct event_base *base = event_base_new();
  hl_http_t *http = engine(base, "", false);
  hl_http_req_t req = base_req;
  done_t d = {0};

  base_req.url = "http://127.0.0.1:9/";
  req.url = base_req.url;
  d.http = http;
  d.resend = 3;
  send_one(http, &req, &d);
  run_until(base, http, 5000);
  assert_int_equal(d.calls, 4);
  assert_int_equal(d.resend_rc, 0);
  assert_int_equal(d.outcome, HL_HTTP_BLOCKED);
  assert_int_equal(hl_http_in_flight(http), 0);
  hl_http_destroy(&http);
  event_base_free(base);
}

/* A loopback socket that listens and never accepts: connects succeed, no answer ever comes. */
static int silent_listener(int *port) {
  struct sockaddr_in sin = {0};
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(listen(fd, 64), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
  *port = ntohs(sin.sin_port);
  return fd;
}

static void test_timeout_no_answer(void **state) {
  struct event_base *base = event_base_new();
  hl_http_t *http = engine(base, "127.0.0.0/8", false);
  hl_http_req_t req = base_req;
  done_t d = {0};
  char url[64];
  int port, fd = silent_listener(&port);
  int64_t t0;

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
  req.url = url;
  req.timeout_ms = 300;
  t0 = hl_mono_ms();
  send_one(http, &req, &d);
  run_until(base, http, 5000);
  assert_int_equal(d.calls, 1);
  assert_int_equal(d.outcome, HL_HTTP_TIMEOUT);
  assert_true(hl_mono_ms() - t0 >= 290 && hl_mono_ms() - t0 < 2000);
  hl_http_destroy(&http);
  event_base_free(base);
  close(fd);
}

/* A listener whose accept queue is full: further SYNs are dropped, connects never complete. */
static void test_connect_timeout(void **state) {
  struct event_base *base = event_base_new();
  hl_conf_t *conf = hl_conf_new();
  hl_http_req_t req = base_req;
  struct sockaddr_in sin = {0};
  done_t d = {0};
  char url[64], err[128];
  int port, fd = silent_listener(&port), fill[4];
  hl_http_t *http;
  int64_t t0;

  assert_int_equal(listen(fd, 0), 0);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons((uint16_t)port);
  for (int i = 0; i < 4; i++) {
    fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
  }
  assert_int_equal(hl_conf_set(conf, "delivery.allow_cidrs", "127.0.0.0/8", err, sizeof(err)), 0);
  assert_int_equal(hl_conf_set(conf, "delivery.connect_timeout", "300ms", err, sizeof(err)), 0);
  http = hl_http_new(base, conf, err, sizeof(err));
  assert_non_null(http);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
  req.url = url;
  t0 = hl_mono_ms();
  send_one(http, &req, &d);
  run_until(base, http, 5000);
  assert_int_equal(d.calls, 1);
  if (d.outcome != HL_HTTP_CONNECT)
    fail_msg("full backlog: %s (%s)", hl_http_outcome_str(d.outcome), d.error);
  assert_non_null(strstr(d.error, "connect: "));
  assert_true(hl_mono_ms() - t0 >= 290 && hl_mono_ms() - t0 < 3000);
  hl_http_destroy(&http);
  hl_conf_destroy(&conf);
  event_base_free(base);
  for (int i = 0; i < 4; i++)
    close(fill[i]);
  close(fd);
}

static void test_destroy_in_flight(void **state) {
  struct event_base *base = event_base_new();
  hl_http_t *http = engine(base, "127.0.0.0/8", false);
  hl_http_req_t req = base_req;
  done_t d[3] = {{0}};
  char url[64];
  int port, fd = silent_listener(&port);
  int64_t deadline = hl_mono_ms() + 300;

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
  req.url = url;
  for (int i = 0; i < 3; i++) {
    d[i].http = http;
    d[i].resend = 1; /* the callback tries to send again: refused while shutting down */
    send_one(http, &req, &d[i]);
  }
  while (hl_mono_ms() < deadline) /* let them connect and send */
    event_base_loop(base, EVLOOP_NONBLOCK);
  assert_int_equal(hl_http_in_flight(http), 3);
  hl_http_destroy(&http);
  assert_null(http);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(d[i].calls, 1);
    assert_int_equal(d[i].outcome, HL_HTTP_ERROR);
    assert_string_equal(d[i].error, "shutdown");
    assert_int_equal(d[i].resend_rc, -1);
  }
  event_base_free(base);
  close(fd);
}

static void on_done_destroy(const hl_http_result_t *res, void *opaque) {
  done_t *d = opaque;

  d->calls++;
  d->outcome = res->outcome;
  hl_http_destroy(&d->http); /* teardown finishes when this callback returns */
}

static void test_destroy_from_callback(void **state) {
  struct event_base *base = event_base_new();
  hl_http_t *http = engine(base, "", false);
  hl_http_req_t req = base_req;
  done_t first = {0}, second = {0};

  req.url = "http://127.0.0.1:9/";
  first.http = http;
  assert_int_equal(hl_http_send(http, &req, on_done_destroy, &first), 0);
  assert_int_equal(hl_http_send(http, &req, on_done, &second), 0);
  for (int i = 0; i < 200 && first.calls == 0; i++)
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  assert_int_equal(first.calls, 1);
  assert_null(first.http);
  /* the other request ended with the teardown, if it had not finished before */
  assert_int_equal(second.calls, 1);
  assert_true(second.outcome == HL_HTTP_BLOCKED ||
              (second.outcome == HL_HTTP_ERROR && strcmp(second.error, "shutdown") == 0));
  event_base_free(base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_outcome_names),
      cmocka_unit_test(test_retry_after),
      cmocka_unit_test_setup(test_refused_before_io, setup),
      cmocka_unit_test_setup(test_blocked_at_connect, setup),
      cmocka_unit_test_setup(test_resend_from_callback, setup),
      cmocka_unit_test_setup(test_timeout_no_answer, setup),
      cmocka_unit_test_setup(test_connect_timeout, setup),
      cmocka_unit_test_setup(test_destroy_in_flight, setup),
      cmocka_unit_test_setup(test_destroy_from_callback, setup),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
