/*
 * 0302-http-concurrency: 2000 signed 1 KiB POSTs with 64 in flight (each callback sends the
 * next one, re-entrantly) all complete OK, the receiver counts exactly 2000, and keep-alive
 * works: the engine opens about one connection per in-flight slot, not one per request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "http_driver.h"
#include "sign.h"

#define TOTAL 2000
#define WINDOW 64

typedef struct load {
  hl_http_t *http;
  hl_http_req_t req;
  int sent, ok, other;
  size_t max_in_flight;
  char last_error[256];
} load_t;

static void on_done(const hl_http_result_t *res, void *opaque) {
  load_t *ld = opaque;

  if (res->outcome == HL_HTTP_OK)
    ld->ok++;
  else {
    ld->other++;
    snprintf(ld->last_error, sizeof(ld->last_error), "%s", res->error);
  }
  if (ld->sent < TOTAL && hl_http_send(ld->http, &ld->req, on_done, ld) == 0)
    ld->sent++;
}

static void test_many_requests_keep_alive(void **state) {
  static const char *const allow[] = {"delivery.allow_cidrs=127.0.0.0/8", NULL};
  char *extra[] = {"--rule", "/load=200", "--max-seconds", "120", NULL};
  struct event_base *base = event_base_new();
  static char body[1024];
  load_t ld = {0};
  hl_sign_key_t key = {.len = 32};
  hl_http_stats_t st;
  char url[128];
  int port;
  pid_t pid = hl_test_receiver_start(NULL, extra, &port);
  int64_t deadline;

  assert_true(pid > 0);
  memset(body, 'x', sizeof(body));
  body[0] = '"';
  body[sizeof(body) - 1] = '"';
  memset(key.key, 1, key.len);
  it_url(url, sizeof(url), "127.0.0.1", port, "/load");
  ld.http = it_engine(base, allow);
  assert_non_null(ld.http);
  ld.req.url = url;
  ld.req.msg_id = "msg_load";
  ld.req.body = body;
  ld.req.body_len = sizeof(body);
  ld.req.keys = &key;
  ld.req.nkeys = 1;
  for (int i = 0; i < WINDOW; i++) {
    assert_int_equal(hl_http_send(ld.http, &ld.req, on_done, &ld), 0);
    ld.sent++;
  }
  deadline = hl_mono_ms() + hl_test_tmout_ms(60000);
  while (hl_http_in_flight(ld.http) > 0 && hl_mono_ms() < deadline) {
    if (hl_http_in_flight(ld.http) > ld.max_in_flight)
      ld.max_in_flight = hl_http_in_flight(ld.http);
    event_base_loop(base, EVLOOP_ONCE);
  }
  if (ld.other)
    fail_msg("%d requests failed, last: %s", ld.other, ld.last_error);
  assert_int_equal(ld.sent, TOTAL);
  assert_int_equal(ld.ok, TOTAL);
  assert_true(ld.max_in_flight <= WINDOW);
  hl_http_stats(ld.http, &st);
  assert_int_equal(st.sent, TOTAL);
  assert_int_equal(st.completed, TOTAL);
  print_message("connections opened for %d requests: %llu\n", TOTAL,
                (unsigned long long)st.connects);
  assert_true(st.connects >= 1);
  assert_true(st.connects <= 2 * WINDOW); /* reused, not one per request */
  assert_int_equal(it_receiver_count(port, "/load"), TOTAL);
  hl_http_destroy(&ld.http);
  event_base_free(base);
  hl_test_stop(pid, 2000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_many_requests_keep_alive),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
