/*
 * 0300-http-rules: the delivery rules of DESIGN.md §7 as a receiver sees them, against
 * hl-test-receiver on loopback: exactly the specified headers, the body byte for byte, a
 * signature that verifies (by the receiver and by hl_sign_verify, with two keys during a
 * rotation), status classification (2xx, 500, 410, 3xx not followed, Retry-After on 429/503
 * only) and the response body cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "http_driver.h"
#include "sign.h"

static const char *const allow_lo[] = {"delivery.allow_cidrs=127.0.0.0/8", NULL};

typedef struct fixture {
  char record[128];
  pid_t pid;
  int port;
  struct event_base *base;
  hl_http_t *http;
  char secret[64], old_secret[64];
  hl_sign_key_t keys[2]; /* [0] current, [1] previous (rotation overlap) */
} fixture_t;

static fixture_t F;

static int setup(void **state) {
  char prefix[32];
  char *extra[] = {"--verify-secret",
                   F.secret,
                   "--rule",
                   "/e500=500",
                   "--rule",
                   "/gone=410",
                   "--rule",
                   "/moved=302+loc=http://127.0.0.1:1/elsewhere",
                   "--rule",
                   "/busy=429+ra=7",
                   "--rule",
                   "/unavailable=503+ra=7",
                   "--rule",
                   "/teapot=418+ra=7",
                   "--rule",
                   "/created=201",
                   NULL};
  char err[128];

  hl_test_prefix(prefix, sizeof(prefix));
  snprintf(F.record, sizeof(F.record), "/tmp/%s.ndjson", prefix);
  if (hl_sign_secret_generate(F.secret, sizeof(F.secret)) != 0 ||
      hl_sign_secret_generate(F.old_secret, sizeof(F.old_secret)) != 0 ||
      hl_sign_secret_decode(F.secret, &F.keys[0], err, sizeof(err)) != 0 ||
      hl_sign_secret_decode(F.old_secret, &F.keys[1], err, sizeof(err)) != 0)
    return -1;
  F.pid = hl_test_receiver_start(F.record, extra, &F.port);
  F.base = event_base_new();
  F.http = it_engine(F.base, allow_lo);
  return F.pid > 0 && F.http ? 0 : -1;
}

static int teardown(void **state) {
  hl_http_destroy(&F.http);
  event_base_free(F.base);
  hl_test_stop(F.pid, 2000);
  unlink(F.record);
  return 0;
}

static void post(const char *path, it_res_t *r) {
  hl_http_req_t req = {0};
  char url[128];

  it_url(url, sizeof(url), "127.0.0.1", F.port, path);
  req.url = url;
  req.msg_id = "msg_2Qh9Rk4xYbz0";
  req.body = "{\"type\":\"invoice.paid\"}";
  req.body_len = strlen(req.body);
  req.keys = F.keys;
  req.nkeys = 1;
  it_post(F.base, F.http, &req, r);
  assert_int_equal(r->done, 1);
}

/* The last record on path. */
static json_t *last_record(const char *path) {
  json_t *all = it_records(F.record), *found = NULL, *o;
  size_t i;

  json_array_foreach(all, i, o) {
    if (strcmp(json_string_value(json_object_get(o, "path")), path) == 0)
      found = o;
  }
  if (found)
    json_incref(found);
  json_decref(all);
  return found;
}

static void test_ok_headers_body_signature(void **state) {
  static const char body[] =
      "{\"id\":\"evt_1\",\"type\":\"invoice.paid\",\"data\":{\"amount\":4200,"
      "\"note\":\"caf\xc3\xa9 \\\"quoted\\\" \\\\ tab\\t\"}}";
  const char *custom[] = {"X-Tenant: acme", "X-Trace-Id: 0af7651916cd43dd"};
  static const char *const want[] = {
      "host",       "content-length",    "content-type",      "user-agent",
      "webhook-id", "webhook-timestamp", "webhook-signature", "x-tenant",
      "x-trace-id"};
  hl_http_req_t req = {0};
  json_t *rec, *hdrs;
  char url[128], ua[64];
  const char *sig, *ts;
  it_res_t r;

  it_url(url, sizeof(url), "127.0.0.1", F.port, "/hooks/acme");
  req.url = url;
  req.msg_id = "msg_2Qh9Rk4xYbz0";
  req.body = body;
  req.body_len = sizeof(body) - 1;
  req.keys = F.keys;
  req.nkeys = 2;
  req.headers = custom;
  req.nheaders = 2;
  it_post(F.base, F.http, &req, &r);
  assert_int_equal(r.done, 1);
  assert_int_equal(r.outcome, HL_HTTP_OK);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.error, "");
  assert_string_equal(r.excerpt, "ok");
  assert_true(llabs(r.ts_ms - hl_now_ms()) < 5000);

  rec = last_record("/hooks/acme");
  assert_non_null(rec);
  hdrs = json_object_get(rec, "headers");
  assert_string_equal(json_string_value(json_object_get(rec, "method")), "POST");
  assert_int_equal(json_object_size(hdrs), sizeof(want) / sizeof(want[0]));
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    if (!json_object_get(hdrs, want[i]))
      fail_msg("header %s missing", want[i]);
  }
  snprintf(ua, sizeof(ua), "hookline/%s", HOOKLINE_VERSION);
  assert_string_equal(json_string_value(json_object_get(hdrs, "content-type")), "application/json");
  assert_string_equal(json_string_value(json_object_get(hdrs, "user-agent")), ua);
  assert_string_equal(json_string_value(json_object_get(hdrs, "webhook-id")), "msg_2Qh9Rk4xYbz0");
  assert_string_equal(json_string_value(json_object_get(hdrs, "x-tenant")), "acme");
  assert_string_equal(json_string_value(json_object_get(hdrs, "x-trace-id")), "0af7651916cd43dd");
  ts = json_string_value(json_object_get(hdrs, "webhook-timestamp"));
  assert_int_equal(strtoll(ts, NULL, 10), r.ts_ms / 1000);
  assert_int_equal(json_string_length(json_object_get(rec, "body")), sizeof(body) - 1);
  assert_memory_equal(json_string_value(json_object_get(rec, "body")), body, sizeof(body) - 1);
  assert_true(json_is_true(json_object_get(rec, "sig_ok")));

  sig = json_string_value(json_object_get(hdrs, "webhook-signature"));
  assert_int_equal(strlen(sig), 2 * HL_SIGN_V1_LEN + 1); /* both keys, space separated */
  for (int k = 0; k < 2; k++)
    assert_int_equal(
        hl_sign_verify(sig, &F.keys[k], "msg_2Qh9Rk4xYbz0", r.ts_ms / 1000, body, sizeof(body) - 1),
        0);
  /* a different timestamp or body does not verify */
  assert_int_equal(hl_sign_verify(sig, &F.keys[0], "msg_2Qh9Rk4xYbz0", r.ts_ms / 1000 + 1, body,
                                  sizeof(body) - 1),
                   -1);
  assert_int_equal(
      hl_sign_verify(sig, &F.keys[0], "msg_2Qh9Rk4xYbz0", r.ts_ms / 1000, body, sizeof(body) - 2),
      -1);
  json_decref(rec);
}

static void test_statuses(void **state) {
  static const struct {
    const char *path;
    hl_http_outcome_t outcome;
    int status;
    int64_t retry_after_ms;
    const char *error;
  } cases[] = {
      {"/created", HL_HTTP_OK, 201, 0, ""},
      {"/e500", HL_HTTP_STATUS, 500, 0, "HTTP 500"},
      {"/gone", HL_HTTP_GONE, 410, 0, "HTTP 410"},
      {"/moved", HL_HTTP_STATUS, 302, 0, "redirect not followed"},
      {"/busy", HL_HTTP_STATUS, 429, 7000, "HTTP 429"},
      {"/unavailable", HL_HTTP_STATUS, 503, 7000, "HTTP 503"},
      {"/teapot", HL_HTTP_STATUS, 418, 0, "HTTP 418"}, /* Retry-After only counts on 429/503 */
  };

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    it_res_t r;

    post(cases[i].path, &r);
    if (r.outcome != cases[i].outcome || r.status != cases[i].status)
      fail_msg("%s: %s %d (%s)", cases[i].path, hl_http_outcome_str(r.outcome), r.status, r.error);
    assert_int_equal(r.retry_after_ms, cases[i].retry_after_ms);
    assert_non_null(strstr(r.error, cases[i].error));
    if (cases[i].error[0] == '\0')
      assert_string_equal(r.error, "");
  }
  /* the redirect was not followed: one request on /moved, none on its Location */
  assert_int_equal(it_receiver_count(F.port, "/moved"), 1);
  assert_int_equal(it_receiver_count(F.port, "/elsewhere"), 0);
}

/* A receiver answering body_bytes-byte bodies, and an engine with response_max = cap. */
static void cap_case(const char *path, const char *rule, long body_bytes, const char *cap,
                     it_res_t *r) {
  char bytes[32], capkv[64], url[128];
  char *extra[] = {"--body-bytes", bytes, "--rule", (char *)rule, "--max-seconds", "120", NULL};
  const char *kv[] = {"delivery.allow_cidrs=127.0.0.0/8", capkv, NULL};
  struct event_base *base = event_base_new();
  hl_http_req_t req = {0};
  hl_http_t *http;
  int port;
  pid_t pid;

  snprintf(bytes, sizeof(bytes), "%ld", body_bytes);
  snprintf(capkv, sizeof(capkv), "delivery.response_max=%s", cap);
  pid = hl_test_receiver_start(NULL, extra, &port);
  assert_true(pid > 0);
  http = it_engine(base, kv);
  assert_non_null(http);
  it_url(url, sizeof(url), "127.0.0.1", port, path);
  req.url = url;
  req.msg_id = "msg_cap";
  req.body = "{}";
  req.body_len = 2;
  req.keys = F.keys;
  req.nkeys = 1;
  it_post(base, http, &req, r);
  assert_int_equal(r->done, 1);
  hl_http_destroy(&http);
  event_base_free(base);
  hl_test_stop(pid, 2000);
}

static void test_response_cap(void **state) {
  it_res_t r;

  /* 1 MB answer, 4 KiB cap: cut, still a completed 200 */
  cap_case("/big", "/big=200", 1000000, "4KiB", &r);
  assert_int_equal(r.outcome, HL_HTTP_OK);
  assert_int_equal(r.status, 200);
  assert_true(r.truncated);
  assert_int_equal(r.body_read, 4096);
  assert_int_equal(r.excerpt_len, HL_HTTP_EXCERPT_MAX);
  assert_string_equal(r.error, "");

  /* the same cut on an error status keeps the status */
  cap_case("/bigerr", "/bigerr=500", 1000000, "4KiB", &r);
  assert_int_equal(r.outcome, HL_HTTP_STATUS);
  assert_int_equal(r.status, 500);
  assert_true(r.truncated);
  assert_int_equal(r.body_read, 4096);

  /* the default cap (64 KiB) reads a 50 000-byte body whole */
  cap_case("/mid", "/mid=200", 50000, "64KiB", &r);
  assert_int_equal(r.outcome, HL_HTTP_OK);
  assert_false(r.truncated);
  assert_int_equal(r.body_read, 50000);
  assert_int_equal(r.excerpt_len, HL_HTTP_EXCERPT_MAX);

  /* 100 000 bytes against the default cap: cut at 65 536 */
  cap_case("/over", "/over=200", 100000, "64KiB", &r);
  assert_int_equal(r.outcome, HL_HTTP_OK);
  assert_true(r.truncated);
  assert_int_equal(r.body_read, 65536);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ok_headers_body_signature),
      cmocka_unit_test(test_statuses),
      cmocka_unit_test(test_response_cap),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
