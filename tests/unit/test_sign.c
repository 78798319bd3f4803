/*
 * test_sign: Standard Webhooks signatures against the spec's vectors (shared/testdata) and
 * values computed independently (Python hmac), secret formats, rotation headers with several
 * keys, verification edge cases, base64, and buffers that are too small.
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

  snprintf(path, sizeof(path), "%s/standard-webhooks-vectors.json",
           dir && *dir ? dir : "../shared/testdata");
  v = json_load_file(path, 0, &err);
  if (!v)
    fail_msg("cannot read %s: %s", path, err.text);
  return v;
}

static void decode_ok(const char *secret, hl_sign_key_t *key) {
  char err[128] = "";

  if (hl_sign_secret_decode(secret, key, err, sizeof(err)) != 0)
    fail_msg("%s rejected: %s", secret, err);
}

static void test_vector_signs_and_verifies(void **state) {
  json_t *v = vectors(), *sym = json_array_get(json_object_get(v, "symmetric"), 0);
  const char *payload = json_string_value(json_object_get(sym, "payload"));
  const char *id = json_string_value(json_object_get(sym, "msg_id"));
  const char *want = json_string_value(json_object_get(sym, "signature"));
  int64_t ts = json_integer_value(json_object_get(sym, "timestamp"));
  hl_sign_key_t key;
  char sig[64], hdr[64];

  assert_non_null(payload);
  assert_non_null(want);
  decode_ok(json_string_value(json_object_get(sym, "secret")), &key);
  assert_int_equal(hl_sign_v1(&key, id, ts, payload, strlen(payload), sig, sizeof(sig)), 0);
  assert_string_equal(sig, want);
  assert_int_equal(strlen(sig), HL_SIGN_V1_LEN);
  /* a one-key header is exactly the one signature */
  assert_int_equal(hl_sign_header(&key, 1, id, ts, payload, strlen(payload), hdr, sizeof(hdr)), 0);
  assert_string_equal(hdr, want);
  assert_int_equal(hl_sign_verify(want, &key, id, ts, payload, strlen(payload)), 0);
  /* a different timestamp, id or body does not verify */
  assert_int_equal(hl_sign_verify(sig, &key, id, ts + 1, payload, strlen(payload)), -1);
  assert_int_equal(hl_sign_verify(sig, &key, "msg_other", ts, payload, strlen(payload)), -1);
  assert_int_equal(hl_sign_verify(sig, &key, id, ts, payload, strlen(payload) - 1), -1);
  json_decref(v);
}

static void test_vector_must_not_verify(void **state) {
  json_t *v = vectors(), *sym = json_array_get(json_object_get(v, "symmetric"), 0);
  json_t *bad = json_object_get(v, "must_not_verify");
  const char *payload = json_string_value(json_object_get(sym, "payload"));
  const char *id = json_string_value(json_object_get(sym, "msg_id"));
  int64_t ts = json_integer_value(json_object_get(sym, "timestamp"));
  hl_sign_key_t key;

  decode_ok(json_string_value(json_object_get(sym, "secret")), &key);
  assert_true(json_array_size(bad) >= 4);
  for (size_t i = 0; i < json_array_size(bad); i++) {
    const char *b = json_string_value(json_array_get(bad, i));

    assert_non_null(b);
    if (hl_sign_verify(b, &key, id, ts, payload, strlen(payload)) == 0)
      fail_msg("verified but must not: %s", b);
  }
  json_decref(v);
}

/* Expected values computed with Python's hmac/hashlib, independent of OpenSSL. */
static void test_independent_values(void **state) {
  char body[1100], sig[64];
  hl_sign_key_t key;
  int n;

  decode_ok("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4"
            "OTo7PD0+Pw==",
            &key);
  assert_int_equal(key.len, 64);
  assert_int_equal(key.key[63], 63);
  n = snprintf(body, sizeof(body), "{\"id\":\"evt_1\",\"data\":");
  memset(body + n, 'x', 1000);
  n += 1000;
  body[n++] = '}';
  assert_int_equal(hl_sign_v1(&key, "evt_1", 1700000000, body, (size_t)n, sig, sizeof(sig)), 0);
  assert_string_equal(sig, "v1,gNXFq/8hgY4PvSBoLKuYYLNnhGkmg1exW3HYNA6Oo84=");
  /* 24-byte key, an id with dots, a negative timestamp and an empty body */
  decode_ok("whsec_ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7", &key);
  assert_int_equal(key.len, 24);
  assert_int_equal(hl_sign_v1(&key, "a.b.c", -5, "", 0, sig, sizeof(sig)), 0);
  assert_string_equal(sig, "v1,xETEvm87Ajg5mrPUILFRMXJ74RH/h+F4cUiEF8DQuj0=");
  assert_int_equal(hl_sign_v1(&key, "a.b.c", -5, NULL, 0, sig, sizeof(sig)), 0);
  assert_string_equal(sig, "v1,xETEvm87Ajg5mrPUILFRMXJ74RH/h+F4cUiEF8DQuj0=");
}

static void test_rotation_header(void **state) {
  hl_sign_key_t keys[2], other;
  char s1[64], s2[64], s3[64], hdr[128], one[64];
  const char *body = "{\"a\":1}";

  assert_int_equal(hl_sign_secret_generate(s1, sizeof(s1)), 0);
  assert_int_equal(hl_sign_secret_generate(s2, sizeof(s2)), 0);
  assert_int_equal(hl_sign_secret_generate(s3, sizeof(s3)), 0);
  assert_string_not_equal(s1, s2);
  assert_int_equal(strncmp(s1, "whsec_", 6), 0);
  assert_int_equal(strlen(s1), 50);
  decode_ok(s1, &keys[0]);
  assert_int_equal(keys[0].len, 32);
  decode_ok(s2, &keys[1]);
  assert_int_equal(keys[1].len, 32);
  assert_memory_not_equal(keys[0].key, keys[1].key, 32);
  decode_ok(s3, &other);
  assert_int_equal(
      hl_sign_header(keys, 2, "evt_1", 1700000000, body, strlen(body), hdr, sizeof(hdr)), 0);
  assert_int_equal(strlen(hdr), 2 * HL_SIGN_V1_LEN + 1);
  assert_int_equal(hdr[HL_SIGN_V1_LEN], ' ');
  /* both entries are there, in key order */
  assert_int_equal(hl_sign_v1(&keys[0], "evt_1", 1700000000, body, strlen(body), one, sizeof(one)),
                   0);
  assert_memory_equal(hdr, one, HL_SIGN_V1_LEN);
  assert_int_equal(hl_sign_v1(&keys[1], "evt_1", 1700000000, body, strlen(body), one, sizeof(one)),
                   0);
  assert_string_equal(hdr + HL_SIGN_V1_LEN + 1, one);
  assert_int_equal(hl_sign_verify(hdr, &keys[0], "evt_1", 1700000000, body, strlen(body)), 0);
  assert_int_equal(hl_sign_verify(hdr, &keys[1], "evt_1", 1700000000, body, strlen(body)), 0);
  assert_int_equal(hl_sign_verify(hdr, &other, "evt_1", 1700000000, body, strlen(body)), -1);
}

static void test_buffers_too_small(void **state) {
  hl_sign_key_t keys[3];
  char hdr[200], sig[64], secret[64];
  const char *body = "{}";

  for (int i = 0; i < 3; i++) {
    assert_int_equal(hl_sign_secret_generate(secret, sizeof(secret)), 0);
    decode_ok(secret, &keys[i]);
  }
  /* one signature needs 47 characters + NUL */
  assert_int_equal(hl_sign_v1(&keys[0], "e", 1, body, 2, sig, HL_SIGN_V1_LEN), -1);
  assert_int_equal(hl_sign_v1(&keys[0], "e", 1, body, 2, sig, HL_SIGN_V1_LEN + 1), 0);
  /* three need 3 * 47 + 2 spaces + NUL = 144: an error, never a truncated header */
  memset(hdr, 'Z', sizeof(hdr));
  assert_int_equal(hl_sign_header(keys, 3, "e", 1, body, 2, hdr, 143), -1);
  assert_int_equal(hl_sign_header(keys, 3, "e", 1, body, 2, hdr, 144), 0);
  assert_int_equal(strlen(hdr), 143);
  assert_int_equal(hl_sign_header(keys, 2, "e", 1, body, 2, hdr, 60), -1);
  assert_int_equal(hl_sign_header(keys, 0, "e", 1, body, 2, hdr, sizeof(hdr)), -1);
  /* a generated secret is 50 characters + NUL */
  assert_int_equal(hl_sign_secret_generate(secret, 50), -1);
  assert_int_equal(hl_sign_secret_generate(secret, 51), 0);
}

static void test_verify_header_forms(void **state) {
  hl_sign_key_t key;
  char sig[64], hdr[256];
  const char *body = "{\"x\":true}";

  decode_ok("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &key);
  assert_int_equal(hl_sign_v1(&key, "evt_9", 42, body, strlen(body), sig, sizeof(sig)), 0);
  /* other schemes, garbage and extra spaces around the matching entry are ignored */
  snprintf(hdr, sizeof(hdr), "v1a,AAAA  v1,bogus %s  ", sig);
  assert_int_equal(hl_sign_verify(hdr, &key, "evt_9", 42, body, strlen(body)), 0);
  /* the right base64 under another version tag does not count */
  snprintf(hdr, sizeof(hdr), "v2,%s", sig + 3);
  assert_int_equal(hl_sign_verify(hdr, &key, "evt_9", 42, body, strlen(body)), -1);
  /* a prefix or an extension of the signature does not count */
  snprintf(hdr, sizeof(hdr), "%.*s", HL_SIGN_V1_LEN - 1, sig);
  assert_int_equal(hl_sign_verify(hdr, &key, "evt_9", 42, body, strlen(body)), -1);
  snprintf(hdr, sizeof(hdr), "%sA", sig);
  assert_int_equal(hl_sign_verify(hdr, &key, "evt_9", 42, body, strlen(body)), -1);
  assert_int_equal(hl_sign_verify("", &key, "evt_9", 42, body, strlen(body)), -1);
  assert_int_equal(hl_sign_verify(NULL, &key, "evt_9", 42, body, strlen(body)), -1);
}

static void test_secret_rules(void **state) {
  unsigned char raw[101];
  char b64[160], secret[180], err[128];
  hl_sign_key_t key;

  assert_int_equal(
      hl_sign_secret_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &key, err, sizeof(err)), -1);
  assert_string_equal(err, "secret: must start with whsec_");
  assert_int_equal(hl_sign_secret_decode(NULL, &key, err, sizeof(err)), -1);
  assert_int_equal(hl_sign_secret_decode("whsec_not*base64!", &key, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "base64"));
  assert_int_equal(
      hl_sign_secret_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", &key, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "base64"));
  assert_int_equal(
      hl_sign_secret_decode("whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw", &key, err, sizeof(err)), -1);
  assert_int_equal(hl_sign_secret_decode("whsec_", &key, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "24..64 bytes"));
  for (size_t i = 0; i < sizeof(raw); i++)
    raw[i] = (unsigned char)(i * 7 + 1);
  for (size_t n = 20; n <= 100; n++) {
    assert_true(hl_b64_encode(raw, n, b64, sizeof(b64)) > 0);
    snprintf(secret, sizeof(secret), "whsec_%s", b64);
    int rc = hl_sign_secret_decode(secret, &key, err, sizeof(err));
    if (n >= 24 && n <= 64) {
      assert_int_equal(rc, 0);
      assert_int_equal(key.len, n);
      assert_memory_equal(key.key, raw, n);
    } else {
      assert_int_equal(rc, -1);
      assert_non_null(strstr(err, "24..64 bytes")); /* 23, 65 and 100 bytes name the length rule */
    }
  }
}

static void test_b64(void **state) {
  unsigned char in[70], out[70];
  char enc[100];

  assert_int_equal(hl_b64_decode("aGk=", 4, out, sizeof(out)), 2);
  assert_memory_equal(out, "hi", 2);
  assert_int_equal(hl_b64_decode("aGk=", 4, NULL, 0), 2);
  assert_int_equal(hl_b64_decode("aGk=", 4, out, 1), -1);
  assert_int_equal(hl_b64_decode("", 0, out, sizeof(out)), 0);
  assert_int_equal(hl_b64_decode("aGk", 3, out, sizeof(out)), -1);
  assert_int_equal(hl_b64_decode("a=Gk", 4, out, sizeof(out)), -1);
  assert_int_equal(hl_b64_decode("aG=k", 4, out, sizeof(out)), -1);
  assert_int_equal(hl_b64_decode("a===", 4, out, sizeof(out)), -1);
  assert_int_equal(hl_b64_decode("aG k", 4, out, sizeof(out)), -1);
  assert_int_equal(hl_b64_decode("aG-_", 4, out, sizeof(out)), -1); /* not the URL alphabet */
  assert_int_equal(hl_b64_encode((const unsigned char *)"hi", 2, enc, 4), -1);
  for (size_t i = 0; i < sizeof(in); i++)
    in[i] = (unsigned char)(255 - i * 3);
  for (size_t n = 0; n <= sizeof(in); n++) {
    int len = hl_b64_encode(in, n, enc, sizeof(enc));

    assert_int_equal(len, 4 * ((n + 2) / 3));
    assert_int_equal(hl_b64_decode(enc, (size_t)len, out, sizeof(out)), (int)n);
    assert_memory_equal(out, in, n);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vector_signs_and_verifies),
      cmocka_unit_test(test_vector_must_not_verify),
      cmocka_unit_test(test_independent_values),
      cmocka_unit_test(test_rotation_header),
      cmocka_unit_test(test_buffers_too_small),
      cmocka_unit_test(test_verify_header_forms),
      cmocka_unit_test(test_secret_rules),
      cmocka_unit_test(test_b64),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
