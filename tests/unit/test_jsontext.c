/*
 * test_jsontext: the JSON validator and compactor behind the envelope. Hand-written cases for
 * every rule both ways, then a differential run against jansson over mutated documents: both
 * must accept and reject the same texts, and a compacted text must mean the same as its input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "jsontext.h"

static int compact(const char *in, char *out, char *err) {
  size_t n;

  if (hl_json_compact(in, strlen(in), out, &n, err, 256) != 0)
    return -1;
  out[n] = '\0';
  return 0;
}

static void expect_ok(const char *in, const char *want) {
  char out[1024], err[256];

  if (compact(in, out, err) != 0)
    fail_msg("rejected %s: %s", in, err);
  if (strcmp(out, want) != 0)
    fail_msg("compact(%s) = %s, want %s", in, out, want);
}

static void expect_bad(const char *in, const char *why) {
  char out[1024], err[256] = "";

  if (compact(in, out, err) == 0)
    fail_msg("accepted: %s", in);
  if (!strstr(err, why))
    fail_msg("for %s: want \"%s\" in \"%s\"", in, why, err);
}

static void test_values_kept_as_written(void **state) {
  expect_ok("0.1", "0.1");
  expect_ok("12345678901234567890123", "12345678901234567890123"); /* beyond int64 */
  expect_ok("-0", "-0");
  expect_ok("1E+400", "1E+400");
  expect_ok("-1.50e-7", "-1.50e-7");
  expect_ok(" \t\r\n true \n", "true");
  expect_ok("null", "null");
  expect_ok("\"caf\\u00e9 \\/ \\ud83d\\ude00 é 😀\"", "\"caf\\u00e9 \\/ \\ud83d\\ude00 é 😀\"");
  expect_ok("\"a b\\n\\t\"", "\"a b\\n\\t\"");
  expect_ok("\"\\u0000\"", "\"\\u0000\"");
  expect_ok("{ \"b\" : [ 1 , { } , [ ] ] , \"a\" : \"x y\" , \"b\" : 2 }",
            "{\"b\":[1,{},[]],\"a\":\"x y\",\"b\":2}"); /* order and duplicates untouched */
  expect_ok("[\"\xe2\x80\xa8\",\"\x7f\"]", "[\"\xe2\x80\xa8\",\"\x7f\"]");
}

static void test_grammar_errors(void **state) {
  expect_bad("", "unexpected end of input at column 1");
  expect_bad("   ", "unexpected end of input");
  expect_bad("[1,]", "unexpected character at column 4");
  expect_bad("{\"a\":1,}", "expected a member name");
  expect_bad("{\"a\" 1}", "expected ':'");
  expect_bad("{\"a\":1 \"b\":2}", "expected ',' or '}'");
  expect_bad("[1 2]", "expected ',' or ']'");
  expect_bad("{'a':1}", "expected a member name");
  expect_bad("[1", "unexpected end of input");
  expect_bad("{\"a\":", "unexpected end of input");
  expect_bad("1 2", "unexpected text after the value");
  expect_bad("tru", "unexpected character");
  expect_bad("nul", "unexpected character");
  expect_bad("True", "unexpected character");
  expect_bad("NaN", "unexpected character");
  expect_bad("[1]\n]", "at line 2, column 1");
}

static void test_number_errors(void **state) {
  static const char *bad[] = {"01",  "-",    "+1",   "1.",  ".5",       "1e",
                              "1e+", "0x10", "1.e3", "--1", "Infinity", "-Infinity"};

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char out[64], err[256];

    if (compact(bad[i], out, err) == 0)
      fail_msg("number accepted: %s", bad[i]);
  }
  expect_bad("1.x", "digits expected after '.'");
  expect_bad("2e-", "digits expected in the exponent");
}

static void test_string_errors(void **state) {
  expect_bad("\"abc", "unterminated string");
  expect_bad("\"a\\", "invalid escape");
  expect_bad("\"\\x\"", "invalid escape in string");
  expect_bad("\"\\u12G4\"", "invalid \\u escape");
  expect_bad("\"\\u12\"", "invalid \\u escape");
  expect_bad("\"\\ud800\"", "unpaired UTF-16 surrogate");
  expect_bad("\"\\ud800\\u0041\"", "unpaired UTF-16 surrogate");
  expect_bad("\"\\udc00\\udc00\"", "unpaired UTF-16 surrogate");
  expect_bad("\"a\tb\"", "control character in string");
  expect_bad("\"a\nb\"", "control character in string");
  expect_bad("\"\xff\"", "invalid UTF-8");
  expect_bad("\"\xc0\xaf\"", "invalid UTF-8");     /* overlong '/' */
  expect_bad("\"\xe0\x80\xaf\"", "invalid UTF-8"); /* overlong, 3 bytes */
  expect_bad("\"\xed\xa0\x80\"", "invalid UTF-8"); /* encoded surrogate U+D800 */

  expect_bad("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* above U+10FFFF */
  expect_bad("\"\xe2\x82\"", "invalid UTF-8");         /* truncated */
  expect_bad("\"\x80\"", "invalid UTF-8");             /* lone continuation byte */
  expect_bad("[\"ok\",\xc3\xa9]", "unexpected character");
  expect_ok("\"\xf4\x8f\xbf\xbf\"", "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF itself is fine */
}

/* Every byte value at every offset of a word-at-a-time scan: only plain ones pass as they are. */
static void test_every_byte_everywhere(void **state) {
  char in[40], out[40], err[256];
  size_t n;

  for (int c = 0; c < 256; c++) {
    int plain = c >= 0x20 && c < 0x80 && c != '"' && c != '\\';

    for (int k = 1; k < 34; k++) {
      memset(in, 'a', sizeof(in));
      in[0] = '"';
      in[k] = (char)c;
      in[35] = '"';
      if ((hl_json_compact(in, 36, out, &n, err, sizeof(err)) == 0) != plain)
        fail_msg("byte 0x%02x at %d: %s", c, k, plain ? err : "accepted");
      if (plain && (n != 36 || memcmp(in, out, 36) != 0))
        fail_msg("byte 0x%02x at %d not copied as it is", c, k);
    }
  }
}

static void test_depth_limit(void **state) {
  char in[2 * (HL_JSON_MAX_DEPTH + 1) + 1], out[sizeof(in)], err[256];
  size_t n;

  memset(in, '[', HL_JSON_MAX_DEPTH);
  memset(in + HL_JSON_MAX_DEPTH, ']', HL_JSON_MAX_DEPTH);
  assert_int_equal(hl_json_compact(in, 2 * HL_JSON_MAX_DEPTH, out, &n, err, sizeof(err)), 0);
  memset(in, '[', HL_JSON_MAX_DEPTH + 1);
  memset(in + HL_JSON_MAX_DEPTH + 1, ']', HL_JSON_MAX_DEPTH + 1);
  assert_int_equal(hl_json_compact(in, 2 * HL_JSON_MAX_DEPTH + 2, out, &n, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "nesting deeper than 512 levels"));
}

typedef struct members {
  int n;
  char names[8][32], values[8][64];
} members_t;

static void on_member(const char *name, size_t name_len, const char *value, size_t value_len,
                      void *opaque) {
  members_t *m = opaque;

  snprintf(m->names[m->n], 32, "%.*s", (int)name_len, name);
  snprintf(m->values[m->n], 64, "%.*s", (int)value_len, value);
  m->n++;
}

static void test_object_members(void **state) {
  const char *in = " { \"a\" : [ 1, 2 ] ,\"b\\u0041\":{\"x\": null} ,\"c\":\"s t\"} ";
  char out[128], err[256];
  members_t m = {0};
  size_t n;

  assert_int_equal(hl_json_compact_object(in, strlen(in), out, &n, on_member, &m, err, sizeof(err)),
                   0);
  assert_int_equal(m.n, 3);
  assert_string_equal(m.names[0], "\"a\"");
  assert_string_equal(m.values[0], "[1,2]");
  assert_string_equal(m.names[1], "\"b\\u0041\"");
  assert_string_equal(m.values[1], "{\"x\":null}");
  assert_string_equal(m.values[2], "\"s t\"");
  assert_int_equal(n, strlen("{\"a\":[1,2],\"b\\u0041\":{\"x\":null},\"c\":\"s t\"}"));
  memset(&m, 0, sizeof(m));
  assert_int_equal(hl_json_compact_object("{}", 2, out, &n, on_member, &m, err, sizeof(err)), 0);
  assert_int_equal(m.n, 0);
  assert_int_equal(hl_json_compact_object("[1]", 3, out, &n, on_member, &m, err, sizeof(err)), -1);
  assert_string_equal(err, "must be a JSON object");
  assert_int_equal(hl_json_compact_object("\"x\"", 3, out, &n, on_member, &m, err, sizeof(err)),
                   -1);
  assert_string_equal(err, "must be a JSON object");
  assert_int_equal(hl_json_compact_object("[1", 2, out, &n, on_member, &m, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "not valid JSON"));
  assert_int_equal(
      hl_json_compact_object("{\"a\":1} x", 9, out, &n, on_member, &m, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "unexpected text after the value"));
  assert_int_equal(hl_json_compact_object("{\"a\":1", 6, out, &n, on_member, &m, err, sizeof(err)),
                   -1);
  assert_non_null(strstr(err, "unexpected end of input"));
}

static void test_string_decode(void **state) {
  char out[16];
  size_t n;

  assert_int_equal(hl_json_string_decode("\"a\\u0062\\n\\\"\"", 13, out, sizeof(out), &n), 0);
  assert_string_equal(out, "ab\n\"");
  assert_int_equal(hl_json_string_decode("\"\\u00e9\\ud83d\\ude00\"", 20, out, sizeof(out), &n), 0);
  assert_string_equal(out, "\xc3\xa9\xf0\x9f\x98\x80");
  assert_int_equal(n, 6);
  assert_int_equal(hl_json_string_decode("\"a\\u0000b\"", 10, out, sizeof(out), &n), 0);
  assert_int_equal(n, 3); /* the NUL is counted */
  assert_int_equal(hl_json_string_decode("\"0123456789abcdef\"", 18, out, sizeof(out), &n), -1);
}

/* Small deterministic PRNG (xorshift) so a failure reproduces. */
static uint32_t rnd_state = 2463534242u;
static uint32_t rnd(void) {
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 17;
  rnd_state ^= rnd_state << 5;
  return rnd_state;
}

/* Byte sequences worth inserting whole: near-misses of UTF-8 and escape rules. */
static const char *const chunks[] = {"\xed\xa0\x80",
                                     "\xed\x9f\xbf",
                                     "\xc0\xaf",
                                     "\xc2\x80",
                                     "\xe0\x9f\xbf",
                                     "\xe0\xa0\x80",
                                     "\xf0\x8f\xbf\xbf",
                                     "\xf0\x90\x80\x80",
                                     "\xf4\x8f\xbf\xbf",
                                     "\xf4\x90\x80\x80",
                                     "\xe2\x82",
                                     "\\ud800",
                                     "\\udbff\\udfff",
                                     "\\udc00",
                                     "\\u00",
                                     "\\u0000",
                                     "1e",
                                     "-0.",
                                     "true",
                                     "null",
                                     "\"\":"};

static void insert(char *buf, size_t *len, size_t cap, size_t pos, const char *s, size_t n) {
  if (*len + n >= cap)
    return;
  memmove(buf + pos + n, buf + pos, *len - pos);
  memcpy(buf + pos, s, n);
  *len += n;
}

static void mutate(char *buf, size_t *len, size_t cap) {
  static const char pieces[] = "{}[]\",:\\/0123456789eE.+-tfnul \t\n\r\x01\x7f\x80\xbf\xc3\xa9\xe2"
                               "\xed\xa0\xf0\xf4\x90\xffux";
  size_t pos = *len ? rnd() % *len : 0;
  char c = pieces[rnd() % (sizeof(pieces) - 1)];
  const char *chunk = chunks[rnd() % (sizeof(chunks) / sizeof(chunks[0]))];

  switch (rnd() % 5) {
  case 0: /* replace */
    if (*len)
      buf[pos] = c;
    break;
  case 1:
    insert(buf, len, cap, pos, &c, 1);
    break;
  case 2:
    insert(buf, len, cap, pos, chunk, strlen(chunk));
    break;
  case 3: /* delete */
    if (*len) {
      memmove(buf + pos, buf + pos + 1, *len - pos - 1);
      (*len)--;
    }
    break;
  default: /* truncate */
    *len = pos;
  }
}

/*
 * jansson decides, except where it has limits JSON has not: number range (we keep numbers as
 * text) and \u0000 in member names.  Those cases return -1 and are skipped.
 */
static int jansson_says(const char *buf, size_t len, json_t **root) {
  json_error_t jerr;

  *root = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
  if (*root)
    return 1;
  return strstr(jerr.text, "overflow") || strstr(jerr.text, "too big") ||
                 strstr(jerr.text, "NUL byte in object key")
             ? -1
             : 0;
}

static void test_differential_against_jansson(void **state) {
  static const char *seeds[] = {
      "{\"id\":\"evt_1\",\"tenant\":\"acme\",\"type\":\"a.b\",\"data\":{\"n\":[1,-2.5e3,true]}}",
      "[\"caf\\u00e9\",\"\\ud83d\\ude00\",\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",null,{}]",
      " { \"a\" : { \"b\" : [ [ ] , { \"c\" : \"\\\\\\\"\" } ] } } ",
      "-0.125e-2",
      "\"\\b\\f\\n\\r\\t\\/\"",
  };
  char buf[256], out[256], err[256];
  int agreed = 0;

  for (int iter = 0; iter < 60000; iter++) {
    const char *seed = seeds[iter % (sizeof(seeds) / sizeof(seeds[0]))];
    size_t len = strlen(seed), n;
    json_t *a = NULL, *b = NULL;
    int ours, theirs;

    memcpy(buf, seed, len);
    for (uint32_t k = rnd() % 3 + 1; k > 0; k--)
      mutate(buf, &len, sizeof(buf));
    ours = hl_json_compact(buf, len, out, &n, err, sizeof(err)) == 0;
    theirs = jansson_says(buf, len, &a);
    if (theirs < 0)
      continue;
    if (ours != theirs)
      fail_msg("disagree on [%.*s]: ours %d (%s), jansson %d", (int)len, buf, ours, ours ? "" : err,
               theirs);
    if (ours) { /* the compact text means the same and is a fixed point */
      char again[256];
      size_t n2;

      assert_true(jansson_says(out, n, &b) == 1);
      assert_true(json_equal(a, b));
      assert_int_equal(hl_json_compact(out, n, again, &n2, err, sizeof(err)), 0);
      assert_int_equal(n2, n);
      assert_memory_equal(again, out, n);
    }
    json_decref(a);
    json_decref(b);
    agreed++;
  }
  assert_true(agreed > 50000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_values_kept_as_written),
      cmocka_unit_test(test_grammar_errors),
      cmocka_unit_test(test_number_errors),
      cmocka_unit_test(test_string_errors),
      cmocka_unit_test(test_every_byte_everywhere),
      cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_object_members),
      cmocka_unit_test(test_string_decode),
      cmocka_unit_test(test_differential_against_jansson),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
