/*
 * test_config: the configuration table, its parsers and precedence (file < env < -o).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static void test_defaults(void **state) {
  hl_conf_t *conf = hl_conf_new();

  assert_string_equal(hl_conf_str(conf, "topics.prefix"), "hookline");
  assert_int_equal(hl_conf_int(conf, "events.max_bytes"), 256 * 1024);
  assert_int_equal(hl_conf_int(conf, "delivery.timeout"), 15000);
  assert_int_equal(hl_conf_int(conf, "endpoint.disable_after"), 5LL * 24 * 3600 * 1000);
  assert_string_equal(hl_conf_str(conf, "retry.schedule"), "5s,5m,30m,2h,5h,10h,10h");
  assert_true(hl_conf_bool(conf, "dispatcher.done_markers"));
  hl_conf_destroy(&conf);
  assert_null(conf);
  hl_conf_destroy(&conf); /* accepts NULL */
}

static void test_parsers(void **state) {
  int64_t v;

  assert_int_equal(hl_parse_duration_ms("250ms", &v), 0);
  assert_int_equal(v, 250);
  assert_int_equal(hl_parse_duration_ms("5m", &v), 0);
  assert_int_equal(v, 300000);
  assert_int_equal(hl_parse_duration_ms("2h", &v), 0);
  assert_int_equal(v, 7200000);
  assert_int_equal(hl_parse_duration_ms("7", &v), 0); /* bare number: seconds */
  assert_int_equal(v, 7000);
  assert_int_equal(hl_parse_duration_ms("5x", &v), -1);
  assert_int_equal(hl_parse_duration_ms("-5s", &v), -1);
  assert_int_equal(hl_parse_duration_ms("", &v), -1);
  assert_int_equal(hl_parse_size("64KiB", &v), 0);
  assert_int_equal(v, 65536);
  assert_int_equal(hl_parse_size("1mib", &v), 0);
  assert_int_equal(v, 1048576);
  assert_int_equal(hl_parse_size("12", &v), 0);
  assert_int_equal(v, 12);
  assert_int_equal(hl_parse_size("12 parsecs", &v), -1);
}

static void test_errors_name_the_key(void **state) {
  hl_conf_t *conf = hl_conf_new();
  char err[256];

  assert_int_equal(hl_conf_set(conf, "no.such.key", "1", err, sizeof(err)), -1);
  assert_non_null(strstr(err, "no.such.key"));
  assert_int_equal(hl_conf_set(conf, "delivery.timeout", "soon", err, sizeof(err)), -1);
  assert_non_null(strstr(err, "delivery.timeout"));
  assert_int_equal(hl_conf_set(conf, "delivery.timeout", "31s", err, sizeof(err)), -1);
  assert_non_null(strstr(err, "out of range"));
  assert_int_equal(hl_conf_set(conf, "redis.port", "70000", err, sizeof(err)), -1);
  assert_int_equal(hl_conf_set(conf, "dispatcher.done_markers", "maybe", err, sizeof(err)), -1);
  assert_int_equal(hl_conf_set_kv(conf, "novalue", err, sizeof(err)), -1);
  /* a failed set leaves the old value */
  assert_int_equal(hl_conf_int(conf, "delivery.timeout"), 15000);
  hl_conf_destroy(&conf);
}

static void test_precedence(void **state) {
  char path[] = "/tmp/hl_conf_XXXXXX";
  char *overrides[] = {"topics.prefix = fromflag", "kafka.linger.ms=7"};
  const char *k, *v;
  hl_conf_t *conf = hl_conf_new();
  char err[256];
  int fd = mkstemp(path);
  FILE *fp = fdopen(fd, "w");

  fprintf(fp, "# comment\n\ntopics.prefix = fromfile\nlog.level=debug\nredis.port = 1234\n"
              "kafka.bootstrap.servers = file:9092\n");
  fclose(fp);
  unsetenv("HOOKLINE_KAFKA_BOOTSTRAP_SERVERS"); /* ctest sets it; this test wants the file's */
  setenv("HOOKLINE_REDIS_PORT", "4321", 1);
  setenv("HOOKLINE_KAFKA_CLIENT_ID", "envclient", 1);
  setenv("HOOKLINE_KAFKA_PORT", "19092", 1); /* stack.sh's, not a client property */
  assert_int_equal(hl_conf_load(conf, path, overrides, 2, err, sizeof(err)), 0);
  assert_string_equal(hl_conf_str(conf, "topics.prefix"), "fromflag"); /* -o beats file */
  assert_string_equal(hl_conf_str(conf, "log.level"), "debug");        /* file only */
  assert_int_equal(hl_conf_int(conf, "redis.port"), 4321);             /* env beats file */
  for (size_t i = 0; i < hl_conf_kafka_count(conf); i++) {
    hl_conf_kafka_get(conf, i, &k, &v);
    assert_string_not_equal(k, "port");
    if (!strcmp(k, "bootstrap.servers"))
      assert_string_equal(v, "file:9092");
    else if (!strcmp(k, "client.id"))
      assert_string_equal(v, "envclient");
    else if (!strcmp(k, "linger.ms"))
      assert_string_equal(v, "7");
  }
  unsetenv("HOOKLINE_REDIS_PORT");
  unsetenv("HOOKLINE_KAFKA_CLIENT_ID");
  unsetenv("HOOKLINE_KAFKA_PORT");
  unlink(path);
  hl_conf_destroy(&conf);
}

static void test_file_error_has_line(void **state) {
  char path[] = "/tmp/hl_conf_XXXXXX";
  hl_conf_t *conf = hl_conf_new();
  char err[256];
  int fd = mkstemp(path);
  FILE *fp = fdopen(fd, "w");

  fprintf(fp, "log.level = info\nbogus.key = 1\n");
  fclose(fp);
  assert_int_equal(hl_conf_load_file(conf, path, err, sizeof(err)), -1);
  assert_non_null(strstr(err, ":2: bogus.key"));
  unlink(path);
  hl_conf_destroy(&conf);
}

static void test_program_default(void **state) {
  hl_conf_t *conf = hl_conf_new();
  char err[256];

  assert_string_equal(hl_conf_str(conf, "http.listen"), "");
  assert_int_equal(hl_conf_set_default(conf, "http.listen", "0.0.0.0:9464"), 0);
  assert_string_equal(hl_conf_str(conf, "http.listen"), "0.0.0.0:9464");
  assert_int_equal(hl_conf_set(conf, "http.listen", "off", err, sizeof(err)), 0);
  assert_string_equal(hl_conf_str(conf, "http.listen"), "off");
  hl_conf_destroy(&conf);
}

static void test_doc_is_current(void **state) {
  /* docs/configuration.md is generated from the table; it must not drift. */
  char *expect = NULL, *actual = NULL;
  size_t elen = 0, alen = 0;
  FILE *mem = open_memstream(&expect, &elen);
  FILE *fp = fopen("docs/configuration.md", "r");

  hl_conf_write_markdown(mem);
  fclose(mem);
  assert_non_null(fp);
  actual = calloc(1, elen + 2);
  alen = fread(actual, 1, elen + 1, fp);
  fclose(fp);
  if (alen != elen || memcmp(actual, expect, elen) != 0)
    fail_msg(
        "docs/configuration.md is stale: run `hookline-admin config doc > docs/configuration.md`");
  free(expect);
  free(actual);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_parsers),
      cmocka_unit_test(test_errors_name_the_key),
      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_file_error_has_line),
      cmocka_unit_test(test_program_default),
      cmocka_unit_test(test_doc_is_current),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
