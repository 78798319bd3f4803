/*
 * sign.c - Standard Webhooks v1 signing and verification, whsec_ secrets, base64.
 * The only process-wide state is the HMAC implementation fetched once from OpenSSL (read-only
 * after pthread_once); keys and outputs live in caller buffers.
 */
#include "sign.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

int hl_b64_encode(const unsigned char *in, size_t n, char *out, size_t outsz) {
  size_t need = 4 * ((n + 2) / 3) + 1;

  if (n > (size_t)INT_MAX / 4 * 3 || outsz < need)
    return -1;
  return EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* The 6-bit value of a standard-alphabet character, -1 for anything else (incl. '='). */
static int hl_b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

/* Decoded length of in[0..n), or -1 when it is not padded standard base64. */
static int hl_b64_decoded_len(const char *in, size_t n) {
  size_t pad = 0;

  if (n % 4 != 0 || n > (size_t)INT_MAX / 3 * 4)
    return -1;
  if (n == 0)
    return 0;
  if (in[n - 1] == '=')
    pad = in[n - 2] == '=' ? 2 : 1;
  for (size_t i = 0; i < n - pad; i++)
    if (hl_b64_value((unsigned char)in[i]) < 0)
      return -1;
  return (int)(n / 4 * 3 - pad);
}

int hl_b64_decode(const char *in, size_t n, unsigned char *out, size_t outsz) {
  int len = hl_b64_decoded_len(in, n);
  size_t o = 0;

  if (len < 0 || !out)
    return len;
  if ((size_t)len > outsz)
    return -1;
  for (size_t i = 0; i < n; i += 4) {
    uint32_t acc = 0;

    for (size_t j = 0; j < 4; j++)
      acc = acc << 6 | (uint32_t)(in[i + j] == '=' ? 0 : hl_b64_value((unsigned char)in[i + j]));
    for (int j = 0; j < 3 && o < (size_t)len; j++)
      out[o++] = (unsigned char)(acc >> (16 - 8 * j));
  }
  return len;
}

int hl_sign_secret_decode(const char *secret, hl_sign_key_t *key, char *errstr, size_t errsize) {
  const char *b64 = secret ? secret + 6 : NULL;
  int len;

  if (!secret || strncmp(secret, "whsec_", 6) != 0) {
    snprintf(errstr, errsize, "secret: must start with whsec_");
    return -1;
  }
  len = hl_b64_decode(b64, strlen(b64), NULL, 0);
  if (len < 0) {
    snprintf(errstr, errsize, "secret: the part after whsec_ must be padded standard base64");
    return -1;
  }
  if (len < HL_SIGN_KEY_MIN || len > HL_SIGN_KEY_MAX) {
    snprintf(errstr, errsize, "secret: must decode to %d..%d bytes, not %d", HL_SIGN_KEY_MIN,
             HL_SIGN_KEY_MAX, len);
    return -1;
  }
  key->len = (size_t)hl_b64_decode(b64, strlen(b64), key->key, sizeof(key->key));
  return 0;
}

int hl_sign_secret_generate(char *out, size_t outsz) {
  unsigned char raw[32];
  int rc = -1;

  if (outsz < 51 || hl_rand_bytes(raw, sizeof(raw)) != 0)
    goto out;
  memcpy(out, "whsec_", 6);
  rc = hl_b64_encode(raw, sizeof(raw), out + 6, outsz - 6) < 0 ? -1 : 0;
out:
  OPENSSL_cleanse(raw, sizeof(raw));
  return rc;
}

static EVP_MAC *hl_sign_hmac;
static pthread_once_t hl_sign_once = PTHREAD_ONCE_INIT;

static void hl_sign_init(void) {
  hl_sign_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL); /* fetched once, shared by all threads */
}

/* HMAC-SHA256(key, msg_id "." ts "." body) into mac (32 bytes). */
static int hl_sign_mac(const hl_sign_key_t *key, const char *msg_id, int64_t ts, const char *body,
                       size_t bodylen, unsigned char mac[32]) {
  char tsbuf[32];
  int tslen = snprintf(tsbuf, sizeof(tsbuf), ".%lld.", (long long)ts);
  EVP_MAC_CTX *ctx = NULL;
  OSSL_PARAM params[2];
  size_t maclen = 0;
  int rc = -1;

  if (!key || !msg_id || (!body && bodylen) || key->len > HL_SIGN_KEY_MAX)
    return -1;
  pthread_once(&hl_sign_once, hl_sign_init);
  if (!hl_sign_hmac)
    return -1;
  params[0] = OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0);
  params[1] = OSSL_PARAM_construct_end();
  ctx = EVP_MAC_CTX_new(hl_sign_hmac);
  if (ctx && EVP_MAC_init(ctx, key->key, key->len, params) &&
      EVP_MAC_update(ctx, (const unsigned char *)msg_id, strlen(msg_id)) &&
      EVP_MAC_update(ctx, (const unsigned char *)tsbuf, (size_t)tslen) &&
      EVP_MAC_update(ctx, (const unsigned char *)(body ? body : ""), bodylen) &&
      EVP_MAC_final(ctx, mac, &maclen, 32) && maclen == 32)
    rc = 0;
  EVP_MAC_CTX_free(ctx);
  return rc;
}

int hl_sign_v1(const hl_sign_key_t *key, const char *msg_id, int64_t ts, const char *body,
               size_t bodylen, char *out, size_t outsz) {
  unsigned char mac[32];

  if (outsz < HL_SIGN_V1_LEN + 1 || hl_sign_mac(key, msg_id, ts, body, bodylen, mac) != 0)
    return -1;
  memcpy(out, "v1,", 3);
  return hl_b64_encode(mac, sizeof(mac), out + 3, outsz - 3) < 0 ? -1 : 0;
}

int hl_sign_header(const hl_sign_key_t *keys, size_t nkeys, const char *msg_id, int64_t ts,
                   const char *body, size_t bodylen, char *out, size_t outsz) {
  size_t n = 0;

  if (!keys || nkeys == 0 || nkeys > outsz / (HL_SIGN_V1_LEN + 1))
    return -1;
  for (size_t i = 0; i < nkeys; i++) {
    if (i)
      out[n++] = ' ';
    if (hl_sign_v1(&keys[i], msg_id, ts, body, bodylen, out + n, outsz - n) != 0) {
      out[0] = '\0'; /* never hand back a partial header */
      return -1;
    }
    n += HL_SIGN_V1_LEN;
  }
  out[n] = '\0';
  return 0;
}

int hl_sign_verify(const char *header, const hl_sign_key_t *key, const char *msg_id, int64_t ts,
                   const char *body, size_t bodylen) {
  char want[HL_SIGN_V1_LEN + 1];
  const char *p = header;
  int ok = 0;

  if (!header || hl_sign_v1(key, msg_id, ts, body, bodylen, want, sizeof(want)) != 0)
    return -1;
  while (*p) {
    size_t len = strcspn(p, " ");

    if (len == HL_SIGN_V1_LEN && CRYPTO_memcmp(p, want, HL_SIGN_V1_LEN) == 0)
      ok = 1;
    p += len;
    while (*p == ' ')
      p++;
  }
  return ok ? 0 : -1;
}
