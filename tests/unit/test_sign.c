/*
 * test_sign: Standard Webhooks signatures against the spec's vectors (shared/testdata), secret
 * formats, rotation headers with several keys, and buffers that are too small.
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

#include "sign.h"

static json_t *vectors(void) {
  const char *dir = getenv("HOOKLINE_TESTDATA");
  char path[1024];
  json_error_t err;
  json_t *v;

  snprintf(path, sizeof(path), "%s/standard-webhooks-vectors.json", dir ? dir : "../shared/testdata");
  v = json_load_file(path, 0, &err);
  if (!v)
    fail_msg("cannot read %s: %s", path, err.text);
  return v;
}

static void test_vector_signs_and_verifies(void **state) {
  json_t *v = vectors(), *sym = json_array_get(json_object_get(v, "symmetric"), 0);
  const char *payload = json_string_value(json_object_get(sym, "payload"));
  const char *id = json_string_value(json_object_get(sym, "msg_id"));
  int64_t ts = json_integer_value(json_object_get(sym, "timestamp"));
  hl_sign_key_t key;
  char sig[64], err[128];

  assert_int_equal(hl_sign_secret_decode(json_string_value(json_object_get(sym, "secret")), &key,
                                         err, sizeof(err)),
                   0);
  assert_int_equal(hl_sign_v1(&key, id, ts, payload, strlen(payload), sig, sizeof(sig)), 0);
  assert_string_equal(sig, json_string_value(json_object_get(sym, "signature")));
  assert_int_equal(hl_sign_verify(sig, &key, id, ts, payload, strlen(payload)), 0);
  /* a different timestamp, id or body does not verify */
  assert_int_equal(hl_sign_verify(sig, &key, id, ts + 1, payload, strlen(payload)), -1);
  assert_int_equal(hl_sign_verify(sig, &key, "msg_other", ts, payload, strlen(payload)), -1);
  assert_int_equal(hl_sign_verify(sig, &key, id, ts, payload, strlen(payload) - 1), -1);
  json_t *bad = json_object_get(v, "must_not_verify");
  for (size_t i = 0; i < json_array_size(bad); i++) {
    const char *b = json_string_value(json_array_get(bad, i));
    if (hl_sign_verify(b, &key, id, ts, payload, strlen(payload)) == 0)
      fail_msg("verified but must not: %s", b);
  }
  json_decref(v);
}

static void test_rotation_header(void **state) {
  hl_sign_key_t keys[2];
  char s1[64], s2[64], hdr[128], err[128];
  const char *body = "{\"a\":1}";

  assert_int_equal(hl_sign_secret_generate(s1, sizeof(s1)), 0);
  assert_int_equal(hl_sign_secret_generate(s2, sizeof(s2)), 0);
  assert_string_not_equal(s1, s2);
  assert_int_equal(strncmp(s1, "whsec_", 6), 0);
  assert_int_equal(hl_sign_secret_decode(s1, &keys[0], err, sizeof(err)), 0);
  assert_int_equal(keys[0].len, 32);
  assert_int_equal(hl_sign_secret_decode(s2, &keys[1], err, sizeof(err)), 0);
  assert_int_equal(hl_sign_header(keys, 2, "evt_1", 1700000000, body, strlen(body), hdr, sizeof(hdr)), 0);
  assert_int_equal(strlen(hdr), 2 * HL_SIGN_V1_LEN + 1);
  assert_non_null(strchr(hdr, ' '));
  assert_int_equal(hl_sign_verify(hdr, &keys[0], "evt_1", 1700000000, body, strlen(body)), 0);
  assert_int_equal(hl_sign_verify(hdr, &keys[1], "evt_1", 1700000000, body, strlen(body)), 0);
  /* too small a buffer is an error, never a truncated header */
  assert_int_equal(hl_sign_header(keys, 2, "evt_1", 1, body, strlen(body), hdr, 60), -1);
  assert_int_equal(hl_sign_header(keys, 0, "evt_1", 1, body, strlen(body), hdr, sizeof(hdr)), -1);
}

static void test_secret_rules(void **state) {
  unsigned char raw[65];
  char b64[128], secret[140], err[128];
  hl_sign_key_t key;

  assert_int_equal(hl_sign_secret_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &key, err, sizeof(err)), -1);
  assert_string_equal(err, "secret: must start with whsec_");
  assert_int_equal(hl_sign_secret_decode("whsec_not*base64!", &key, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "base64"));
  memset(raw, 7, sizeof(raw));
  for (size_t n = 20; n <= 65; n++) {
    hl_b64_encode(raw, n, b64, sizeof(b64));
    snprintf(secret, sizeof(secret), "whsec_%s", b64);
    int rc = hl_sign_secret_decode(secret, &key, err, sizeof(err));
    if (n >= 24 && n <= 64) {
      assert_int_equal(rc, 0);
      assert_int_equal(key.len, n);
    } else {
      assert_int_equal(rc, -1);
      assert_non_null(strstr(err, "24..64 bytes"));
    }
  }
}

static void test_b64(void **state) {
  unsigned char out[16];

  assert_int_equal(hl_b64_decode("aGk=", 4, out, sizeof(out)), 2);
  assert_memory_equal(out, "hi", 2);
  assert_int_equal(hl_b64_decode("aGk", 3, out, sizeof(out)), -1);
  assert_int_equal(hl_b64_decode("a=Gk", 4, out, sizeof(out)), -1);
  assert_int_equal(hl_b64_decode("aG=k", 4, out, sizeof(out)), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vector_signs_and_verifies),
      cmocka_unit_test(test_rotation_header),
      cmocka_unit_test(test_secret_rules),
      cmocka_unit_test(test_b64),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
