/*
 * test_endpoint: the endpoint model without a server: event-type filters, header and URL rules,
 * number ranges, secret generation, AES-256-GCM sealing at rest (round trip, tamper, wrong key),
 * rotation with its overlap and expiry, and the hl:ep:<id> hash and JSON codecs.
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

#include "endpoint.h"
#include "secrets.h"
#include "sign.h"
#include "ssrf.h"

/* base64 of 32 bytes 0x00..0x1f and of 32 bytes 0xff */
#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "//////////////////////////////////////////8="
#define SECRET_1 "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static hl_endpoint_t *valid_endpoint(void) {
  hl_endpoint_t *ep = hl_endpoint_new();
  char err[256];

  assert_non_null(ep);
  strcpy(ep->id, "ep_0123456789abcdefABCDEF");
  strcpy(ep->tenant, "acme");
  assert_int_equal(hl_endpoint_set_str(&ep->url, "https://hooks.example.com/in"), 0);
  assert_int_equal(hl_endpoint_set_filters(ep, "invoice.*, customer.created", err, sizeof(err)), 0);
  assert_int_equal(hl_endpoint_rotate_secret(ep, NULL, 1000, 0, err, sizeof(err)), 0);
  return ep;
}

static void test_filter_matching(void **state) {
  hl_endpoint_t *ep = hl_endpoint_new();
  char err[256];

  assert_int_equal(hl_endpoint_set_filters(ep, "invoice.*,customer.created", err, sizeof(err)), 0);
  assert_true(hl_endpoint_matches(ep, "invoice.paid"));
  assert_true(hl_endpoint_matches(ep, "invoice.payment.failed"));
  assert_true(hl_endpoint_matches(ep, "customer.created"));
  assert_false(hl_endpoint_matches(ep, "invoice"));       /* the prefix itself is not below it */
  assert_false(hl_endpoint_matches(ep, "invoices.paid")); /* segment boundary */
  assert_false(hl_endpoint_matches(ep, "customer.created.x"));
  assert_false(hl_endpoint_matches(ep, "customer.deleted"));
  assert_false(hl_endpoint_matches(ep, "Invoice.paid")); /* case-sensitive */
  assert_int_equal(hl_endpoint_set_filters(ep, "*", err, sizeof(err)), 0);
  assert_true(hl_endpoint_matches(ep, "anything.at.all"));
  assert_true(hl_endpoint_matches(ep, "x"));
  hl_endpoint_clear_filters(ep);
  assert_false(hl_endpoint_matches(ep, "x"));
  hl_endpoint_destroy(&ep);
  assert_null(ep);
}

static void test_filter_syntax(void **state) {
  static const char *good[] = {"*", "a", "invoice.paid", "invoice.*", "a.b.c.*", "A_1.b_2"};
  static const char *bad[] = {"",         "**",   "invoice*", "*.paid",     "invoice.", ".paid",
                              "in voice", "a..b", "a.*.b",    "invoice.**", "a-b.c",    ".*"};
  hl_endpoint_t *ep = hl_endpoint_new();
  char err[256], longtype[200];

  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    if (hl_endpoint_check_filter(good[i], err, sizeof(err)) != 0)
      fail_msg("rejected %s: %s", good[i], err);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (hl_endpoint_check_filter(bad[i], err, sizeof(err)) == 0)
      fail_msg("accepted \"%s\"", bad[i]);
    assert_non_null(strstr(err, "types: "));
  }
  memset(longtype, 'a', 129);
  longtype[129] = '\0';
  assert_int_equal(hl_endpoint_check_filter(longtype, err, sizeof(err)), -1);
  /* a bad one in a list fails the list; an empty list is an error; duplicates collapse */
  assert_int_equal(hl_endpoint_set_filters(ep, "a.b,in voice", err, sizeof(err)), -1);
  assert_string_equal(err, "types: \"in voice\" must be an event type (invoice.paid), a prefix "
                           "(invoice.*) or *");
  assert_int_equal(hl_endpoint_set_filters(ep, " , ", err, sizeof(err)), -1);
  assert_int_equal(hl_endpoint_set_filters(ep, "a.b,a.b,c", err, sizeof(err)), 0);
  assert_int_equal(ep->nfilters, 2);
  hl_endpoint_destroy(&ep);
}

static void test_header_rules(void **state) {
  static const struct {
    const char *line, *want; /* want: substring of the error, NULL = accepted */
  } rows[] = {
      {"X-Env: prod", NULL},
      {"X-Env:prod", NULL},
      {"Authorization: Bearer abc", NULL},
      {"X-Env: a\r\nX-Injected: 1", "CR or LF"},
      {"X-Env: a\nb", "CR or LF"},
      {"X-Env: a\x01", "control characters"},
      {"X Env: prod", "not a valid header name"},
      {": prod", "\"Name: value\""},
      {"no colon", "\"Name: value\""},
      {"X-Env:   ", "needs a value"},
      {"Content-Type: text/plain", "set by hookline"},
      {"host: evil", "set by hookline"},
      {"Webhook-Signature: v1,x", "set by hookline"},
      {"webhook-anything: 1", "set by hookline"},
      {"User-Agent: me", "set by hookline"},
  };
  hl_endpoint_t *ep = hl_endpoint_new();
  char err[256];

  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    int rc = hl_endpoint_check_header(rows[i].line, err, sizeof(err));

    if (!rows[i].want && rc != 0)
      fail_msg("rejected %s: %s", rows[i].line, err);
    if (rows[i].want && (rc == 0 || !strstr(err, rows[i].want)))
      fail_msg("row %zu: rc %d, error \"%s\", want \"%s\"", i, rc, rc ? err : "", rows[i].want);
  }
  assert_int_equal(hl_endpoint_add_header(ep, "X-Env:   prod  ", err, sizeof(err)), 0);
  assert_string_equal(ep->headers[0], "X-Env: prod"); /* normalised */
  hl_endpoint_destroy(&ep);
}

static void test_validate_url_and_numbers(void **state) {
  static const struct {
    const char *url, *want;
  } urls[] = {
      {"https://hooks.example.com/in", NULL},
      {"http://hooks.example.com:8080/x?y=1", NULL},
      {"not a url", "url: not a valid absolute URL"},
      {"ftp://example.com/x", "url: scheme must be http or https"},
      {"https://user:pw@example.com/", "url: must not contain credentials"},
      {"http://10.0.0.1/hook", "private"},
      {"http://169.254.169.254/latest/meta-data", "link_local"},
      {"http://127.0.0.1:9000/", "loopback"},
      {"http://[::1]/", "loopback"},
      {"http://0x7f000001/", "loopback"},
      {"http://localhost/", "allow it with delivery.allow_cidrs"},
  };
  hl_ssrf_t *ssrf = hl_ssrf_new("", NULL, 0), *open = hl_ssrf_new("127.0.0.0/8", NULL, 0);
  hl_endpoint_t *ep = valid_endpoint();
  char err[256];

  assert_int_equal(hl_endpoint_validate(ep, ssrf, false, true, err, sizeof(err)), 0);
  for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
    int rc;

    hl_endpoint_set_str(&ep->url, urls[i].url);
    rc = hl_endpoint_validate(ep, ssrf, false, true, err, sizeof(err));
    if (!urls[i].want && rc != 0)
      fail_msg("rejected %s: %s", urls[i].url, err);
    if (urls[i].want && (rc == 0 || !strstr(err, urls[i].want)))
      fail_msg("%s: rc %d \"%s\", want \"%s\"", urls[i].url, rc, rc ? err : "", urls[i].want);
  }
  /* an update keeping an accepted URL skips the guard (check_url false) */
  hl_endpoint_set_str(&ep->url, "http://10.0.0.1/hook");
  assert_int_equal(hl_endpoint_validate(ep, ssrf, false, false, err, sizeof(err)), 0);
  /* the allow list opens loopback; https_only refuses http */
  hl_endpoint_set_str(&ep->url, "http://127.0.0.1:9000/");
  assert_int_equal(hl_endpoint_validate(ep, open, false, true, err, sizeof(err)), 0);
  assert_int_equal(hl_endpoint_validate(ep, open, true, true, err, sizeof(err)), -1);
  assert_string_equal(err, "url: scheme must be https");
  /* numbers */
  ep->timeout_ms = 30001;
  assert_int_equal(hl_endpoint_validate(ep, open, false, true, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "timeout_ms: must be 100..30000"));
  ep->timeout_ms = 30000;
  ep->rate_per_sec = -1;
  assert_int_equal(hl_endpoint_validate(ep, open, false, true, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "rate_limit.per_second"));
  ep->rate_per_sec = 0;
  ep->burst = 10; /* a burst without a rate */
  assert_int_equal(hl_endpoint_validate(ep, open, false, true, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "rate_limit.burst"));
  ep->rate_per_sec = 50;
  ep->burst = 100;
  ep->max_in_flight = 100001;
  assert_int_equal(hl_endpoint_validate(ep, open, false, true, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "max_in_flight"));
  ep->max_in_flight = 5;
  hl_endpoint_set_str(&ep->metadata, "[1,2]");
  assert_int_equal(hl_endpoint_validate(ep, open, false, true, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "metadata: must be a JSON object"));
  hl_endpoint_set_str(&ep->metadata, "{\"team\":\"billing\"}");
  strcpy(ep->tenant, "ac me");
  assert_int_equal(hl_endpoint_validate(ep, open, false, true, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "tenant: must match"));
  strcpy(ep->tenant, "acme");
  assert_int_equal(hl_endpoint_validate(ep, open, false, true, err, sizeof(err)), 0);
  hl_endpoint_destroy(&ep);
  hl_ssrf_destroy(&ssrf);
  hl_ssrf_destroy(&open);
}

static void test_secret_generation(void **state) {
  hl_endpoint_t *a = valid_endpoint(), *b = valid_endpoint();
  hl_sign_key_t key;
  char err[256];

  assert_int_equal(strncmp(a->secrets[0].secret, "whsec_", 6), 0);
  assert_int_equal(strlen(a->secrets[0].secret), 6 + 44);
  assert_int_equal(hl_sign_secret_decode(a->secrets[0].secret, &key, err, sizeof(err)), 0);
  assert_int_equal(key.len, 32);
  assert_string_not_equal(a->secrets[0].secret, b->secrets[0].secret);
  /* a supplied secret must decode to 24..64 bytes */
  assert_int_equal(hl_endpoint_rotate_secret(a, "whsec_dG9vc2hvcnQ=", 2000, 0, err, sizeof(err)),
                   -1);
  assert_non_null(strstr(err, "secret: must decode to 24..64 bytes"));
  assert_int_equal(hl_endpoint_rotate_secret(a, "sk_nope", 2000, 0, err, sizeof(err)), -1);
  assert_int_equal(a->nsecrets, 1); /* a refused rotation changes nothing */
  assert_int_equal(hl_endpoint_rotate_secret(a, SECRET_1, 2000, 0, err, sizeof(err)), 0);
  assert_string_equal(a->secrets[0].secret, SECRET_1);
  hl_endpoint_destroy(&a);
  hl_endpoint_destroy(&b);
}

static void test_secretbox_round_trip_and_tamper(void **state) {
  hl_secretbox_t *box = hl_secretbox_new(KEY_A, NULL, 0), *other = hl_secretbox_new(KEY_B, NULL, 0);
  char sealed[512], sealed2[512], plain[128], err[128];

  assert_non_null(box);
  assert_null(hl_secretbox_new("c2hvcnQ=", err, sizeof(err)));
  assert_non_null(strstr(err, "secret_key: must be base64 of 32 bytes"));
  assert_int_equal(hl_secretbox_seal(box, "ep_1", SECRET_1, sealed, sizeof(sealed)), 0);
  assert_int_equal(strncmp(sealed, "enc:v1:", 7), 0);
  assert_null(strstr(sealed, "MfKQ9r8G"));
  assert_int_equal(hl_secretbox_open(box, "ep_1", sealed, plain, sizeof(plain)), 0);
  assert_string_equal(plain, SECRET_1);
  /* a fresh nonce each time */
  assert_int_equal(hl_secretbox_seal(box, "ep_1", SECRET_1, sealed2, sizeof(sealed2)), 0);
  assert_string_not_equal(sealed, sealed2);
  /* wrong key, other endpoint (AAD), no key, one flipped character: all refused */
  assert_int_equal(hl_secretbox_open(other, "ep_1", sealed, plain, sizeof(plain)), -1);
  assert_int_equal(hl_secretbox_open(box, "ep_2", sealed, plain, sizeof(plain)), -1);
  assert_int_equal(hl_secretbox_open(NULL, "ep_1", sealed, plain, sizeof(plain)), -1);
  for (size_t i = 7, n = strcspn(sealed, "="); i < n; i += 3) {
    char saved = sealed[i];

    sealed[i] = saved == 'A' ? 'B' : 'A';
    if (hl_secretbox_open(box, "ep_1", sealed, plain, sizeof(plain)) == 0)
      fail_msg("tampered byte %zu opened", i);
    sealed[i] = saved;
  }
  hl_secretbox_destroy(&box);
  hl_secretbox_destroy(&other);
  assert_null(box);
}

static void test_rotation_overlap_and_expiry(void **state) {
  hl_endpoint_t *ep = valid_endpoint(); /* current secret created at t=1000 */
  hl_sign_key_t keys[HL_EP_MAX_SECRETS];
  char first[100], err[256];

  strcpy(first, ep->secrets[0].secret);
  assert_int_equal(hl_endpoint_sign_keys(ep, 5000, keys, HL_EP_MAX_SECRETS), 1);
  assert_int_equal(hl_endpoint_rotate_secret(ep, NULL, 10000, 24 * 3600 * 1000LL, err, sizeof(err)),
                   0);
  assert_int_equal(ep->nsecrets, 2);
  assert_int_equal(ep->secrets[0].expires_ms, 0);
  assert_string_equal(ep->secrets[1].secret, first);
  assert_int_equal(ep->secrets[1].expires_ms, 10000 + 24 * 3600 * 1000LL);
  /* both sign until the overlap ends, then only the new one */
  assert_int_equal(hl_endpoint_sign_keys(ep, 10000 + 24 * 3600 * 1000LL - 1, keys, 8), 2);
  assert_int_equal(hl_endpoint_sign_keys(ep, 10000 + 24 * 3600 * 1000LL, keys, 8), 1);
  hl_endpoint_prune_secrets(ep, 10000 + 24 * 3600 * 1000LL);
  assert_int_equal(ep->nsecrets, 1);
  /* overlap 0: the old one is gone at once */
  assert_int_equal(hl_endpoint_rotate_secret(ep, NULL, 20000, 0, err, sizeof(err)), 0);
  assert_int_equal(ep->nsecrets, 1);
  /* many rotations inside the overlap keep at most HL_EP_MAX_SECRETS, newest first */
  for (int i = 0; i < 12; i++)
    assert_int_equal(hl_endpoint_rotate_secret(ep, NULL, 30000 + i, 3600000, err, sizeof(err)), 0);
  assert_int_equal(ep->nsecrets, HL_EP_MAX_SECRETS);
  assert_int_equal(ep->secrets[0].created_ms, 30011);
  assert_int_equal(ep->secrets[1].created_ms, 30010);
  assert_int_equal(hl_endpoint_sign_keys(ep, 40000, keys, HL_EP_MAX_SECRETS), HL_EP_MAX_SECRETS);
  assert_int_equal(hl_endpoint_sign_keys(ep, 40000, keys, 3), 3);
  hl_endpoint_destroy(&ep);
}

/* Turn an hl_ep_hash_t into HGETALL-style arrays and decode it. */
static hl_endpoint_t *decode(const hl_ep_hash_t *h, const hl_secretbox_t *box, char *err,
                             size_t errsize) {
  const char *values[HL_EP_HASH_FIELDS];

  for (size_t i = 0; i < h->n; i++)
    values[i] = h->values[i];
  return hl_endpoint_from_hash(h->fields, values, NULL, h->n, box, err, errsize);
}

static void test_hash_round_trip(void **state) {
  hl_secretbox_t *box = hl_secretbox_new(KEY_A, NULL, 0);
  hl_endpoint_t *ep = valid_endpoint(), *back;
  hl_ep_hash_t h;
  char err[256], *secrets = NULL;

  ep->rate_per_sec = 12.5;
  ep->burst = 40;
  ep->max_in_flight = 7;
  ep->timeout_ms = 20000;
  ep->enabled = false;
  hl_endpoint_set_str(&ep->disabled_reason, "HTTP 410 Gone");
  ep->disabled_ms = 1700000000000;
  hl_endpoint_set_str(&ep->description, "billing, \"prod\"");
  hl_endpoint_set_str(&ep->metadata, "{\"team\":\"billing\"}");
  assert_int_equal(hl_endpoint_add_header(ep, "X-Env: a, b", err, sizeof(err)), 0);
  assert_int_equal(hl_endpoint_rotate_secret(ep, SECRET_1, 5000, 3600000, err, sizeof(err)), 0);
  ep->created_ms = 1000;
  ep->updated_ms = 5000;
  ep->version = 3;
  assert_int_equal(hl_endpoint_to_hash(ep, box, &h), 0);
  for (size_t i = 0; i < h.n; i++) {
    if (strcmp(h.fields[i], "secrets") == 0)
      secrets = h.values[i];
  }
  assert_non_null(secrets);
  assert_null(strstr(secrets, "whsec_")); /* sealed at rest */
  back = decode(&h, box, err, sizeof(err));
  if (!back)
    fail_msg("decode: %s", err);
  assert_string_equal(back->id, ep->id);
  assert_string_equal(back->tenant, "acme");
  assert_string_equal(back->url, ep->url);
  assert_string_equal(back->description, "billing, \"prod\"");
  assert_int_equal(back->nfilters, 2);
  assert_string_equal(back->filters[1], "customer.created");
  assert_true(back->rate_per_sec == 12.5);
  assert_int_equal(back->burst, 40);
  assert_int_equal(back->max_in_flight, 7);
  assert_int_equal(back->timeout_ms, 20000);
  assert_false(back->enabled);
  assert_string_equal(back->disabled_reason, "HTTP 410 Gone");
  assert_int_equal(back->disabled_ms, 1700000000000);
  assert_int_equal(back->nheaders, 1);
  assert_string_equal(back->headers[0], "X-Env: a, b");
  assert_int_equal(back->nsecrets, 2);
  assert_string_equal(back->secrets[0].secret, SECRET_1);
  assert_string_equal(back->secrets[1].secret, ep->secrets[1].secret);
  assert_int_equal(back->secrets[1].expires_ms, 5000 + 3600000);
  assert_string_equal(back->metadata, "{\"team\":\"billing\"}");
  assert_int_equal(back->version, 3);
  assert_int_equal(back->updated_ms, 5000);
  hl_endpoint_destroy(&back);
  /* without the key, or with another key, the hash does not decode */
  assert_null(decode(&h, NULL, err, sizeof(err)));
  assert_non_null(strstr(err, "cannot decrypt"));
  hl_ep_hash_clear(&h);
  /* without a box the secrets are in the clear and decode without one */
  assert_int_equal(hl_endpoint_to_hash(ep, NULL, &h), 0);
  back = decode(&h, NULL, err, sizeof(err));
  assert_non_null(back);
  assert_string_equal(back->secrets[0].secret, SECRET_1);
  hl_endpoint_destroy(&back);
  hl_ep_hash_clear(&h);
  hl_endpoint_destroy(&ep);
  hl_secretbox_destroy(&box);
}

static void test_hash_corrupt(void **state) {
  const char *f[] = {"id", "tenant", "url", "version", "secrets"};
  const char *v[] = {"ep_x", "acme", "https://a.example/", "zz", "[]"};
  char err[256];

  assert_null(hl_endpoint_from_hash(f, v, NULL, 5, NULL, err, sizeof(err)));
  assert_string_equal(err, "version: not a number");
  v[3] = "2";
  v[4] = "{not json";
  assert_null(hl_endpoint_from_hash(f, v, NULL, 5, NULL, err, sizeof(err)));
  assert_non_null(strstr(err, "secrets:"));
  assert_null(hl_endpoint_from_hash(f, v, NULL, 2, NULL, err, sizeof(err)));
  assert_string_equal(err, "url: missing");
}

static void test_json(void **state) {
  hl_endpoint_t *ep = valid_endpoint();
  char *with, *without, err[256];
  json_t *j;

  ep->rate_per_sec = 50;
  ep->burst = 100;
  assert_int_equal(hl_endpoint_add_header(ep, "X-Env: prod", err, sizeof(err)), 0);
  assert_int_equal(hl_endpoint_rotate_secret(ep, NULL, 2000, 1000, err, sizeof(err)), 0);
  without = hl_endpoint_to_json(ep, false);
  with = hl_endpoint_to_json(ep, true);
  assert_null(strstr(without, "whsec_"));
  j = json_loads(with, 0, NULL);
  assert_string_equal(json_string_value(json_object_get(j, "secret")), ep->secrets[0].secret);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "rate_limit"), "burst")),
                   100);
  assert_string_equal(json_string_value(json_object_get(json_object_get(j, "headers"), "X-Env")),
                      "prod");
  assert_string_equal(json_string_value(json_object_get(j, "status")), "enabled");
  /* the previous secret expired long ago (t=3000): only the current one is listed */
  assert_int_equal(json_array_size(json_object_get(j, "secrets")), 1);
  json_decref(j);
  free(with);
  free(without);
  hl_endpoint_destroy(&ep);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_filter_matching),
      cmocka_unit_test(test_filter_syntax),
      cmocka_unit_test(test_header_rules),
      cmocka_unit_test(test_validate_url_and_numbers),
      cmocka_unit_test(test_secret_generation),
      cmocka_unit_test(test_secretbox_round_trip_and_tamper),
      cmocka_unit_test(test_rotation_overlap_and_expiry),
      cmocka_unit_test(test_hash_round_trip),
      cmocka_unit_test(test_hash_corrupt),
      cmocka_unit_test(test_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
