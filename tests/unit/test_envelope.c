/*
 * test_envelope: every envelope rule both ways, id generation, and a stable delivered body.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "envelope.h"

#define MAXB (256 * 1024)

static int parse(const char *json, hl_event_t *ev, char *err) {
  return hl_event_parse(json, strlen(json), MAXB, 1795000000000LL, ev, err, 256);
}

static void expect_reject(const char *json, const char *msg) {
  hl_event_t ev;
  char err[256] = "";

  if (parse(json, &ev, err) == 0)
    fail_msg("accepted: %s", json);
  if (!strstr(err, msg))
    fail_msg("for %s: want \"%s\" in \"%s\"", json, msg, err);
}

static void test_valid_full(void **state) {
  hl_event_t ev;
  char err[256];

  assert_int_equal(parse("{\"id\":\"evt_1\",\"tenant\":\"acme\",\"type\":\"invoice.paid\","
                         "\"timestamp\":\"2026-11-22T10:00:00Z\",\"data\":{\"b\":1,\"a\":[true]}}",
                         &ev, err),
                   0);
  assert_string_equal(ev.id, "evt_1");
  assert_string_equal(ev.tenant, "acme");
  assert_string_equal(ev.type, "invoice.paid");
  assert_int_equal(ev.ts_ms, 1795341600000LL);
  assert_string_equal(ev.data, "{\"b\":1,\"a\":[true]}");
  assert_string_equal(ev.body, "{\"id\":\"evt_1\",\"type\":\"invoice.paid\",\"timestamp\":"
                               "\"2026-11-22T10:00:00Z\",\"data\":{\"b\":1,\"a\":[true]}}");
  assert_int_equal(ev.body_len, strlen(ev.body));
  hl_event_clear(&ev);
}

static void test_defaults(void **state) {
  hl_event_t ev;
  char err[256];

  assert_int_equal(parse("{\"tenant\":\"t\",\"type\":\"x\",\"data\":null}", &ev, err), 0);
  assert_int_equal(strncmp(ev.id, "evt_", 4), 0);
  assert_int_equal(strlen(ev.id), 26);
  assert_int_equal(ev.ts_ms, 1795000000000LL); /* the record's timestamp */
  assert_string_equal(ev.timestamp, "2026-11-18T11:06:40.000Z");
  assert_string_equal(ev.data, "null");
  hl_event_clear(&ev);
}

static void test_data_any_json(void **state) {
  static const char *ok[] = {"1", "\"s\"", "[1,2]", "{}", "false", "1.5"};
  char buf[128], err[256];
  hl_event_t ev;

  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    snprintf(buf, sizeof(buf), "{\"tenant\":\"t\",\"type\":\"x\",\"data\":%s}", ok[i]);
    assert_int_equal(parse(buf, &ev, err), 0);
    assert_string_equal(ev.data, ok[i]);
    hl_event_clear(&ev);
  }
}

static void test_tenant_rules(void **state) {
  char err[256], t65[66];

  assert_int_equal(hl_event_check_tenant("acme-corp_1.eu", err, sizeof(err)), 0);
  memset(t65, 'a', 64);
  t65[64] = '\0';
  assert_int_equal(hl_event_check_tenant(t65, err, sizeof(err)), 0);
  t65[64] = 'a';
  t65[65] = '\0';
  assert_int_equal(hl_event_check_tenant(t65, err, sizeof(err)), -1);
  assert_string_equal(err, "tenant: must match [A-Za-z0-9_.-]{1,64}");
  assert_int_equal(hl_event_check_tenant("", err, sizeof(err)), -1);
  assert_int_equal(hl_event_check_tenant("a b", err, sizeof(err)), -1);
  assert_int_equal(hl_event_check_tenant("a/b", err, sizeof(err)), -1);
  assert_int_equal(hl_event_check_tenant("é", err, sizeof(err)), -1);
  expect_reject("{\"type\":\"x\",\"data\":1}", "tenant: required");
  expect_reject("{\"tenant\":7,\"type\":\"x\",\"data\":1}", "tenant: must be a string");
  expect_reject("{\"tenant\":\"a:b\",\"type\":\"x\",\"data\":1}", "tenant: must match");
}

static void test_type_rules(void **state) {
  static const char *good[] = {"invoice.paid", "a", "A_1.b_2.c", "x.y.z.w"};
  static const char *bad[] = {"", ".a", "a.", "a..b", "a-b", "a b", "a.*", "*"};
  char err[256], t[140];

  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    assert_int_equal(hl_event_check_type(good[i], err, sizeof(err)), 0);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (hl_event_check_type(bad[i], err, sizeof(err)) == 0)
      fail_msg("type accepted: \"%s\"", bad[i]);
    assert_non_null(strstr(err, "type: must be dot-separated"));
  }
  memset(t, 'a', 128);
  t[128] = '\0';
  assert_int_equal(hl_event_check_type(t, err, sizeof(err)), 0);
  t[128] = 'a';
  t[129] = '\0';
  assert_int_equal(hl_event_check_type(t, err, sizeof(err)), -1);
  expect_reject("{\"tenant\":\"t\",\"data\":1}", "type: required");
  expect_reject("{\"tenant\":\"t\",\"type\":[],\"data\":1}", "type: must be a string");
}

static void test_id_rules(void **state) {
  char err[256], id[131];

  assert_int_equal(hl_event_check_id("evt_2KWPBgLl", err, sizeof(err)), 0);
  assert_int_equal(hl_event_check_id("a.b-c_d", err, sizeof(err)), 0);
  memset(id, 'i', 128);
  id[128] = '\0';
  assert_int_equal(hl_event_check_id(id, err, sizeof(err)), 0);
  id[128] = 'i';
  id[129] = '\0';
  assert_int_equal(hl_event_check_id(id, err, sizeof(err)), -1);
  assert_int_equal(hl_event_check_id("", err, sizeof(err)), -1);
  assert_int_equal(hl_event_check_id("a b", err, sizeof(err)), -1);
  expect_reject("{\"id\":\"x y\",\"tenant\":\"t\",\"type\":\"x\",\"data\":1}", "id: must match");
  expect_reject("{\"id\":5,\"tenant\":\"t\",\"type\":\"x\",\"data\":1}", "id: must be a string");
}

static void test_timestamp_rules(void **state) {
  hl_event_t ev;
  char err[256];

  assert_int_equal(
      parse("{\"tenant\":\"t\",\"type\":\"x\",\"timestamp\":\"2026-11-22T11:00:00.250+01:00\","
            "\"data\":1}",
            &ev, err),
      0);
  assert_int_equal(ev.ts_ms, 1795341600250LL);
  assert_string_equal(ev.timestamp, "2026-11-22T11:00:00.250+01:00");
  hl_event_clear(&ev);
  expect_reject("{\"tenant\":\"t\",\"type\":\"x\",\"timestamp\":\"yesterday\",\"data\":1}",
                "timestamp: must be an RFC 3339");
  expect_reject(
      "{\"tenant\":\"t\",\"type\":\"x\",\"timestamp\":\"2026-13-01T00:00:00Z\",\"data\":1}",
      "timestamp:");
  expect_reject(
      "{\"tenant\":\"t\",\"type\":\"x\",\"timestamp\":\"2026-11-22T10:00:00\",\"data\":1}",
      "timestamp:");
  expect_reject("{\"tenant\":\"t\",\"type\":\"x\",\"timestamp\":1,\"data\":1}",
                "timestamp: must be a string");
}

static void test_shape_rules(void **state) {
  expect_reject("", "event: not valid JSON");
  expect_reject("not json", "event: not valid JSON");
  expect_reject("{\"tenant\":\"t\"", "event: not valid JSON");
  expect_reject("[1,2]", "event: must be a JSON object");
  expect_reject("\"str\"", "event: must be a JSON object");
  expect_reject("null", "event: must be a JSON object");
  expect_reject("{\"tenant\":\"t\",\"type\":\"x\"}", "data: required");
  expect_reject("{\"tenant\":\"t\",\"tenant\":\"u\",\"type\":\"x\",\"data\":1}",
                "tenant: given more than once");
  expect_reject("{\"tenant\":\"t\",\"type\":\"x\",\"data\":1,\"d\\u0061ta\":2}",
                "data: given more than once");
  expect_reject("{\"tenant\":\"t\",\"type\":\"x\",\"data\":\"\xff\"}",
                "event: not valid JSON: invalid UTF-8 in string at column 34");
  expect_reject("{\"tenant\":\"t\",\"type\":\"x\",\"data\":{\"a\":1,}}",
                "event: not valid JSON: expected a member name in double quotes at column 40");
  expect_reject("{\"tenant\":\"t\",\"type\":\"x\",\"data\":1} {}",
                "event: not valid JSON: unexpected text after the value");
  expect_reject("{\"tenant\":\"t\",\n \"type\":\"x\",\n \"data\":tru}",
                "event: not valid JSON: unexpected character at line 3, column 9");
}

static void test_size_limit(void **state) {
  size_t n = 300 * 1024;
  char *big = malloc(n + 64), err[256];
  hl_event_t ev;
  int len = sprintf(big, "{\"tenant\":\"t\",\"type\":\"x\",\"data\":\"");

  memset(big + len, 'a', n);
  strcpy(big + len + n, "\"}");
  assert_int_equal(hl_event_parse(big, strlen(big), MAXB, 0, &ev, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "exceeds events.max_bytes (262144)"));
  assert_int_equal(hl_event_parse(big, strlen(big), 1 << 20, 0, &ev, err, sizeof(err)), 0);
  hl_event_clear(&ev);
  free(big);
}

static void test_header_form(void **state) {
  hl_event_t ev;
  char err[256];
  const char *data = "{ \"amount\" : 12 }";

  assert_int_equal(hl_event_from_parts("acme", "invoice.paid", "evt_h", data, strlen(data), MAXB,
                                       1795341600000LL, &ev, err, sizeof(err)),
                   0);
  assert_string_equal(ev.body, "{\"id\":\"evt_h\",\"type\":\"invoice.paid\",\"timestamp\":"
                               "\"2026-11-22T10:00:00.000Z\",\"data\":{\"amount\":12}}");
  hl_event_clear(&ev);
  assert_int_equal(
      hl_event_from_parts("acme", "x", NULL, "{bad", 4, MAXB, 1, &ev, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "data: not valid JSON"));
  assert_int_equal(hl_event_from_parts(NULL, "x", NULL, "1", 1, MAXB, 1, &ev, err, sizeof(err)),
                   -1);
  assert_non_null(strstr(err, "tenant:"));
  assert_int_equal(hl_event_from_parts("t", "x..y", NULL, "1", 1, MAXB, 1, &ev, err, sizeof(err)),
                   -1);
  assert_non_null(strstr(err, "type:"));
  assert_int_equal(hl_event_from_parts("t", "x", NULL, "12345", 5, 4, 1, &ev, err, sizeof(err)),
                   -1);
  assert_non_null(strstr(err, "exceeds"));
}

/* data is the producer's text, compacted: numbers, escapes and member order as written. */
static void test_data_kept_as_written(void **state) {
  hl_event_t ev;
  char err[256];

  assert_int_equal(
      parse("{\"tenant\":\"t\",\"type\":\"x\",\"id\":\"e\",\"timestamp\":\"2026-01-01T00:00:00Z\","
            "\"data\": { \"amount\" : 0.1, \"big\": 12345678901234567890, \"e\": 1E3,"
            " \"s\": \"caf\\u00e9 \\/ é\", \"dup\": 1, \"dup\": 2 } }",
            &ev, err),
      0);
  assert_string_equal(ev.data, "{\"amount\":0.1,\"big\":12345678901234567890,\"e\":1E3,"
                               "\"s\":\"caf\\u00e9 \\/ é\",\"dup\":1,\"dup\":2}");
  assert_int_equal(ev.data_len, strlen(ev.data));
  assert_string_equal(ev.body,
                      "{\"id\":\"e\",\"type\":\"x\",\"timestamp\":\"2026-01-01T00:00:00Z\","
                      "\"data\":{\"amount\":0.1,\"big\":12345678901234567890,\"e\":1E3,"
                      "\"s\":\"caf\\u00e9 \\/ é\",\"dup\":1,\"dup\":2}}");
  hl_event_clear(&ev);
}

/* Member names and values may use JSON escapes; unknown members are ignored. */
static void test_escapes_and_unknown_members(void **state) {
  hl_event_t ev;
  char err[256];

  assert_int_equal(parse("{\"t\\u0065nant\":\"\\u0061cme\",\"type\":\"a\\u002eb\",\"extra\":[1,"
                         "{\"tenant\":\"nested-is-not-top-level\"}],\"data\":[],\"x\":null}",
                         &ev, err),
                   0);
  assert_string_equal(ev.tenant, "acme");
  assert_string_equal(ev.type, "a.b");
  assert_string_equal(ev.data, "[]");
  hl_event_clear(&ev);
  expect_reject("{\"tenant\":\"ac\\u0000me\",\"type\":\"x\",\"data\":1}", "tenant: must match");
  expect_reject("{\"tenant\":\"acm\\u00e9\",\"type\":\"x\",\"data\":1}", "tenant: must match");
  expect_reject("{\"tenant\":\"t\",\"type\":\"x\",\"id\":\"a\\nb\",\"data\":1}", "id: must match");
  expect_reject("{\"tenant\":\"t\",\"type\":\"x\",\"timestamp\":\"2026-01-01T00:00:00Z\\u0000\","
                "\"data\":1}",
                "timestamp: must be an RFC 3339");
}

/* Values one longer than a field allows are refused whatever their escapes expand to. */
static void test_long_values(void **state) {
  char buf[2048], t[1200];

  memset(t, 'a', sizeof(t) - 1);
  t[sizeof(t) - 1] = '\0';
  snprintf(buf, sizeof(buf), "{\"tenant\":\"%s\",\"type\":\"x\",\"data\":1}", t);
  expect_reject(buf, "tenant: must match [A-Za-z0-9_.-]{1,64}");
  snprintf(buf, sizeof(buf), "{\"tenant\":\"t\",\"type\":\"%s\",\"data\":1}", t);
  expect_reject(buf, "type: must be dot-separated");
  snprintf(buf, sizeof(buf), "{\"tenant\":\"t\",\"type\":\"x\",\"id\":\"%.129s\",\"data\":1}", t);
  expect_reject(buf, "id: must match [A-Za-z0-9_.-]{1,128}");
  snprintf(buf, sizeof(buf), "{\"tenant\":\"t\",\"type\":\"x\",\"timestamp\":\"%s\",\"data\":1}",
           t);
  expect_reject(buf, "timestamp: must be an RFC 3339");
}

static void test_header_form_data_as_written(void **state) {
  const char *data = " [0.1, 1e400, \"\\u00e9\"] ";
  hl_event_t ev;
  char err[256];

  assert_int_equal(hl_event_from_parts("t", "x", "e", data, strlen(data), MAXB, 1795341600000LL,
                                       &ev, err, sizeof(err)),
                   0);
  assert_string_equal(ev.data, "[0.1,1e400,\"\\u00e9\"]");
  hl_event_clear(&ev);
  assert_int_equal(hl_event_from_parts("t", "x", NULL, "", 0, MAXB, 1, &ev, err, sizeof(err)), -1);
  assert_string_equal(err, "data: not valid JSON: unexpected end of input at column 1");
  assert_int_equal(hl_event_from_parts("t", "x", "", "1", 1, MAXB, 1, &ev, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "id: must match"));
}

#define ID_THREADS 4
#define ID_PER_THREAD 25000

static char (*gen_ids)[32];

static void *gen_thread(void *arg) {
  long t = (long)(intptr_t)arg;

  for (int i = 0; i < ID_PER_THREAD; i++) {
    if (hl_event_id_generate(gen_ids[t * ID_PER_THREAD + i], 32) != 0)
      gen_ids[t * ID_PER_THREAD + i][0] = '\0';
  }
  return NULL;
}

static int cmp_id(const void *a, const void *b) {
  return strcmp(a, b);
}

/* 100 000 ids from 4 threads at once: well-formed and all different. */
static void test_id_unique(void **state) {
  enum { N = ID_THREADS * ID_PER_THREAD };
  pthread_t th[ID_THREADS];
  char small[26];

  gen_ids = calloc(N, 32);
  for (long t = 0; t < ID_THREADS; t++)
    pthread_create(&th[t], NULL, gen_thread, (void *)(intptr_t)t);
  for (int t = 0; t < ID_THREADS; t++)
    pthread_join(th[t], NULL);
  for (int i = 0; i < N; i++) {
    assert_int_equal(strlen(gen_ids[i]), 26);
    assert_int_equal(strncmp(gen_ids[i], "evt_", 4), 0);
    assert_int_equal(strspn(gen_ids[i] + 4,
                            "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
                            "wxyz"),
                     22);
  }
  qsort(gen_ids, N, 32, cmp_id);
  for (int i = 1; i < N; i++) {
    if (strcmp(gen_ids[i - 1], gen_ids[i]) == 0)
      fail_msg("duplicate id %s", gen_ids[i]);
  }
  free(gen_ids);
  assert_int_equal(hl_event_id_generate(small, sizeof(small)), -1); /* 26 + NUL needed */
}

/* A forked child does not repeat the ids its parent generates next. */
static void test_id_fork(void **state) {
  char parent[32], child[32] = "";
  int fds[2];
  pid_t pid;

  assert_int_equal(hl_event_id_generate(parent, sizeof(parent)), 0); /* the pool is filled */
  assert_int_equal(pipe(fds), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    hl_event_id_generate(child, sizeof(child));
    _exit(write(fds[1], child, 27) == 27 ? 0 : 1);
  }
  close(fds[1]);
  assert_int_equal(read(fds[0], child, 27), 27);
  close(fds[0]);
  waitpid(pid, NULL, 0);
  assert_int_equal(hl_event_id_generate(parent, sizeof(parent)), 0);
  assert_int_equal(strlen(child), 26);
  assert_string_not_equal(parent, child);
}

static void test_body_stable_and_envelope_roundtrip(void **state) {
  const char *in = "{\"data\":{\"z\":1,\"a\":{\"y\":[1,2,{\"k\":\"v\"}]}},\"type\":\"a.b\","
                   "\"tenant\":\"t\",\"id\":\"e1\",\"timestamp\":\"2026-01-01T00:00:00Z\"}";
  hl_event_t a, b;
  char err[256], *env;
  size_t envlen;

  assert_int_equal(parse(in, &a, err), 0);
  assert_int_equal(hl_event_envelope(&a, &env, &envlen), 0);
  assert_int_equal(hl_event_parse(env, envlen, MAXB, 0, &b, err, sizeof(err)), 0);
  assert_string_equal(a.body, b.body); /* same body after a round trip through the envelope */
  assert_string_equal(b.tenant, "t");
  assert_string_equal(a.body,
                      "{\"id\":\"e1\",\"type\":\"a.b\",\"timestamp\":\"2026-01-01T00:00:00Z\","
                      "\"data\":{\"z\":1,\"a\":{\"y\":[1,2,{\"k\":\"v\"}]}}}");
  free(env);
  hl_event_clear(&a);
  hl_event_clear(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_full),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_data_any_json),
      cmocka_unit_test(test_tenant_rules),
      cmocka_unit_test(test_type_rules),
      cmocka_unit_test(test_id_rules),
      cmocka_unit_test(test_timestamp_rules),
      cmocka_unit_test(test_shape_rules),
      cmocka_unit_test(test_size_limit),
      cmocka_unit_test(test_header_form),
      cmocka_unit_test(test_data_kept_as_written),
      cmocka_unit_test(test_escapes_and_unknown_members),
      cmocka_unit_test(test_long_values),
      cmocka_unit_test(test_header_form_data_as_written),
      cmocka_unit_test(test_id_unique),
      cmocka_unit_test(test_id_fork),
      cmocka_unit_test(test_body_stable_and_envelope_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
