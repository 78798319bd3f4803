/*
 * secrets.c - AES-256-GCM sealing of endpoint secrets (see secrets.h).
 */
#include "secrets.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sign.h"
#include "util.h"

#define HL_BOX_PREFIX "enc:v1:"
#define HL_BOX_NONCE 12
#define HL_BOX_TAG 16
#define HL_BOX_MAX 16384 /* signing secrets (~100 bytes) and mTLS key PEMs (16 KiB) */

struct hl_secretbox {
  unsigned char key[32];
};

hl_secretbox_t *hl_secretbox_new(const char *key_b64, char *errstr, size_t errsize) {
  hl_secretbox_t *box = calloc(1, sizeof(*box));
  unsigned char raw[48];

  if (!box)
    return NULL;
  if (!key_b64 || hl_b64_decode(key_b64, strlen(key_b64), raw, sizeof(raw)) != 32) {
    snprintf(errstr, errsize, "secret_key: must be base64 of 32 bytes (openssl rand -base64 32)");
    free(box);
    return NULL;
  }
  memcpy(box->key, raw, 32);
  OPENSSL_cleanse(raw, sizeof(raw));
  return box;
}

void hl_secretbox_destroy(hl_secretbox_t **boxp) {
  if (!boxp || !*boxp)
    return;
  OPENSSL_cleanse((*boxp)->key, sizeof((*boxp)->key));
  free(*boxp);
  *boxp = NULL;
}

/* One AES-256-GCM pass; enc 1 seals (writes tag), 0 opens (checks tag). Returns length or -1. */
static int hl_box_gcm(const hl_secretbox_t *box, int enc, const unsigned char *nonce,
                      const char *aad, const unsigned char *in, int inlen, unsigned char *out,
                      unsigned char *tag) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int len = 0, fin = 0, rc = -1;

  if (!ctx || !EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) ||
      !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, HL_BOX_NONCE, NULL) ||
      !EVP_CipherInit_ex(ctx, NULL, NULL, box->key, nonce, enc) ||
      !EVP_CipherUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) ||
      !EVP_CipherUpdate(ctx, out, &len, in, inlen))
    goto out;
  if (!enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, HL_BOX_TAG, tag))
    goto out;
  if (!EVP_CipherFinal_ex(ctx, out + len, &fin))
    goto out; /* tag mismatch: tampered or wrong key */
  if (enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, HL_BOX_TAG, tag))
    goto out;
  rc = len + fin;
out:
  EVP_CIPHER_CTX_free(ctx);
  return rc;
}

int hl_secretbox_seal(const hl_secretbox_t *box, const char *aad, const char *plain, char *out,
                      size_t outsz) {
  static _Thread_local unsigned char buf[HL_BOX_NONCE + HL_BOX_MAX + HL_BOX_TAG];
  size_t n = strlen(plain);
  int len;

  if (!box) {
    if (n >= outsz)
      return -1;
    memcpy(out, plain, n + 1);
    return 0;
  }
  if (n > HL_BOX_MAX ||
      outsz < sizeof(HL_BOX_PREFIX) + 4 * (HL_BOX_NONCE + n + HL_BOX_TAG + 2) / 3 + 1 ||
      hl_rand_bytes(buf, HL_BOX_NONCE) != 0)
    return -1;
  len = hl_box_gcm(box, 1, buf, aad, (const unsigned char *)plain, (int)n, buf + HL_BOX_NONCE,
                   buf + HL_BOX_NONCE + n);
  if (len != (int)n)
    return -1;
  strcpy(out, HL_BOX_PREFIX);
  len = hl_b64_encode(buf, HL_BOX_NONCE + n + HL_BOX_TAG, out + strlen(HL_BOX_PREFIX),
                      outsz - strlen(HL_BOX_PREFIX));
  OPENSSL_cleanse(buf, sizeof(buf));
  return len < 0 ? -1 : 0;
}

int hl_secretbox_open(const hl_secretbox_t *box, const char *aad, const char *stored, char *out,
                      size_t outsz) {
  static _Thread_local unsigned char buf[HL_BOX_NONCE + HL_BOX_MAX + HL_BOX_TAG + 4];
  const char *b64 = stored + strlen(HL_BOX_PREFIX);
  int n, len;

  if (strncmp(stored, "enc:", 4) != 0) {
    if (strlen(stored) >= outsz)
      return -1;
    strcpy(out, stored);
    return 0;
  }
  if (!box || strncmp(stored, HL_BOX_PREFIX, strlen(HL_BOX_PREFIX)) != 0)
    return -1;
  n = hl_b64_decode(b64, strlen(b64), buf, sizeof(buf));
  if (n < HL_BOX_NONCE + HL_BOX_TAG + 1 || (size_t)(n - HL_BOX_NONCE - HL_BOX_TAG) >= outsz)
    return -1;
  len = hl_box_gcm(box, 0, buf, aad, buf + HL_BOX_NONCE, n - HL_BOX_NONCE - HL_BOX_TAG,
                   (unsigned char *)out, buf + n - HL_BOX_TAG);
  OPENSSL_cleanse(buf, sizeof(buf));
  if (len < 0) {
    OPENSSL_cleanse(out, outsz);
    return -1;
  }
  out[len] = '\0';
  return 0;
}
