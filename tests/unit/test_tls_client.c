/*
 * test_tls_client: the endpoint's mTLS client identity (endpoint.h): hl_endpoint_check_tls_client
 * refuses half pairs, garbage, encrypted and oversized PEMs and a key of another certificate,
 * never quoting the key; the hl:ep:<id> hash stores the certificate in the clear and the key
 * sealed (enc:v1:, bound to the endpoint); the API JSON shows the subject, never the PEMs.
 * Certificates and keys are generated in memory for each run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "endpoint.h"
#include "secrets.h"

#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

typedef struct pair {
  char *cert, *key;
} pair_t;

static char *bio_text(BIO *bio) {
  char *data, *out;
  long n = BIO_get_mem_data(bio, &data);

  out = strndup(data, (size_t)n);
  BIO_free(bio);
  return out;
}

/* A fresh P-256 key and a self-signed certificate for CN=cn. */
static pair_t make_pair(const char *cn) {
  EVP_PKEY *k = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
  pair_t p;

  assert_non_null(k);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, k);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  assert_true(X509_sign(x, k, EVP_sha256()) > 0);
  assert_int_equal(PEM_write_bio_X509(cb, x), 1);
  assert_int_equal(PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL), 1);
  p.cert = bio_text(cb);
  p.key = bio_text(kb);
  X509_free(x);
  EVP_PKEY_free(k);
  return p;
}

static void free_pair(pair_t *p) {
  free(p->cert);
  free(p->key);
}

/* A 16-character piece of the key's base64 body. */
static void key_piece(const char *key_pem, char *out) {
  const char *body = strchr(key_pem, '\n') + 1;

  memcpy(out, body + 8, 16);
  out[16] = '\0';
}

static void assert_refused(const char *cert, const char *key, const char *want,
                           const char *secret) {
  char err[256] = "", piece[17];

  assert_int_equal(hl_endpoint_check_tls_client(cert, key, err, sizeof(err)), -1);
  if (!strstr(err, want))
    fail_msg("error \"%s\" does not mention \"%s\"", err, want);
  assert_null(strstr(err, "PRIVATE KEY"));
  if (secret) {
    key_piece(secret, piece);
    assert_null(strstr(err, piece));
  }
}

static void test_check(void **state) {
  pair_t a = make_pair("client-a"), b = make_pair("client-b");
  char err[256], *chain, *big, *enc;
  BIO *eb = BIO_new(BIO_s_mem());
  EVP_PKEY *k;

  (void)state;
  assert_int_equal(hl_endpoint_check_tls_client(NULL, NULL, err, sizeof(err)), 0);
  assert_int_equal(hl_endpoint_check_tls_client("", "", err, sizeof(err)), 0);
  assert_int_equal(hl_endpoint_check_tls_client(a.cert, a.key, err, sizeof(err)), 0);
  /* a chain: the leaf first, then an issuer */
  chain = malloc(strlen(a.cert) + strlen(b.cert) + 1);
  strcpy(chain, a.cert);
  strcat(chain, b.cert);
  assert_int_equal(hl_endpoint_check_tls_client(chain, a.key, err, sizeof(err)), 0);
  assert_refused(a.cert, NULL, "tls_client_key: required", NULL);
  assert_refused(NULL, a.key, "tls_client_cert: required", a.key);
  assert_refused(a.cert, b.key, "tls_client_key: does not match", b.key);
  assert_refused(b.cert, a.key, "tls_client_key: does not match", a.key);
  assert_refused("-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n", a.key,
                 "tls_client_cert: not a PEM", a.key);
  assert_refused(a.cert, "garbage", "tls_client_key: not an unencrypted PEM", NULL);
  assert_refused(a.key, a.key, "tls_client_cert: must hold certificates only", a.key);
  /* a combined cert+key file as the certificate: it would be stored in the clear */
  strcpy(chain, a.cert);
  chain = realloc(chain, strlen(a.cert) + strlen(a.key) + 1);
  strcat(chain, a.key);
  assert_refused(chain, a.key, "tls_client_cert: must hold certificates only", a.key);
  /* an encrypted key is refused: the dispatcher has no passphrase */
  k = EVP_EC_gen("P-256");
  assert_int_equal(PEM_write_bio_PrivateKey(eb, k, EVP_aes_256_cbc(), NULL, 0, NULL, "pw"), 1);
  enc = bio_text(eb);
  assert_refused(a.cert, enc, "tls_client_key: not an unencrypted PEM", enc);
  big = calloc(1, HL_EP_TLS_PEM_MAX + 100);
  memset(big, 'A', HL_EP_TLS_PEM_MAX + 1);
  assert_refused(big, a.key, "tls_client_cert: at most", a.key);
  assert_refused(a.cert, big, "tls_client_key: at most", NULL);
  EVP_PKEY_free(k);
  free(enc);
  free(big);
  free(chain);
  free_pair(&a);
  free_pair(&b);
}

static hl_endpoint_t *endpoint_with(const pair_t *p, const char *id) {
  hl_endpoint_t *ep = hl_endpoint_new();
  char err[256];

  strcpy(ep->id, id);
  strcpy(ep->tenant, "acme");
  ep->version = 1;
  assert_int_equal(hl_endpoint_set_str(&ep->url, "https://127.0.0.1/in"), 0);
  assert_int_equal(hl_endpoint_set_filters(ep, "*", err, sizeof(err)), 0);
  assert_int_equal(hl_endpoint_rotate_secret(ep, NULL, 1000, 0, err, sizeof(err)), 0);
  assert_int_equal(hl_endpoint_set_tls_client(ep, p->cert, p->key), 0);
  return ep;
}

static const char *hash_get(const hl_ep_hash_t *h, const char *field) {
  for (size_t i = 0; i < h->n; i++) {
    if (strcmp(h->fields[i], field) == 0)
      return h->values[i];
  }
  return NULL;
}

static void test_validate_and_hash(void **state) {
  pair_t a = make_pair("client-a"), b = make_pair("client-b");
  hl_secretbox_t *box = hl_secretbox_new(KEY_A, NULL, 0);
  hl_endpoint_t *ep = endpoint_with(&a, "ep_tlsA"), *back;
  const char *values[HL_EP_HASH_FIELDS];
  char err[256], piece[17], *json;
  hl_ep_hash_t h;

  (void)state;
  assert_int_equal(hl_endpoint_validate(ep, NULL, false, false, err, sizeof(err)), 0);
  /* sealed key, clear certificate */
  assert_int_equal(hl_endpoint_to_hash(ep, box, &h), 0);
  assert_string_equal(hash_get(&h, "tls_client_cert"), a.cert);
  assert_int_equal(strncmp(hash_get(&h, "tls_client_key"), "enc:v1:", 7), 0);
  key_piece(a.key, piece);
  for (size_t i = 0; i < h.n; i++) {
    assert_null(strstr(h.values[i], piece));
    values[i] = h.values[i];
  }
  back = hl_endpoint_from_hash(h.fields, values, NULL, h.n, box, err, sizeof(err));
  assert_non_null(back);
  assert_string_equal(back->tls_cert, a.cert);
  assert_string_equal(back->tls_key, a.key);
  hl_endpoint_destroy(&back);
  /* without the key, or moved to another endpoint id, the key does not open */
  assert_null(hl_endpoint_from_hash(h.fields, values, NULL, h.n, NULL, err, sizeof(err)));
  assert_non_null(strstr(err, "cannot decrypt"));
  values[0] = "ep_other";
  assert_null(hl_endpoint_from_hash(h.fields, values, NULL, h.n, box, err, sizeof(err)));
  hl_ep_hash_clear(&h);
  /* the API JSON: subject and expiry, no PEM */
  json = hl_endpoint_to_json(ep, true);
  assert_non_null(strstr(json, "\"tls_client_cert\":{\"subject\":\"CN=client-a\",\"expires_at\":"));
  assert_null(strstr(json, "BEGIN"));
  free(json);
  /* validation refuses a mismatched pair; removing both is fine and drops the hash fields */
  assert_int_equal(hl_endpoint_set_tls_client(ep, a.cert, b.key), 0);
  assert_int_equal(hl_endpoint_validate(ep, NULL, false, false, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "does not match"));
  assert_int_equal(hl_endpoint_set_tls_client(ep, NULL, NULL), 0);
  assert_int_equal(hl_endpoint_validate(ep, NULL, false, false, err, sizeof(err)), 0);
  assert_int_equal(hl_endpoint_to_hash(ep, box, &h), 0);
  assert_null(hash_get(&h, "tls_client_cert"));
  assert_null(hash_get(&h, "tls_client_key"));
  hl_ep_hash_clear(&h);
  json = hl_endpoint_to_json(ep, false);
  assert_non_null(strstr(json, "\"tls_client_cert\":null"));
  free(json);
  hl_endpoint_destroy(&ep);
  hl_secretbox_destroy(&box);
  free_pair(&a);
  free_pair(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check),
      cmocka_unit_test(test_validate_and_hash),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
