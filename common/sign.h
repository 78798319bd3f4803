/*
 * sign.h - Standard Webhooks symmetric signatures (https://www.standardwebhooks.com):
 * webhook-signature = space-separated "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>", one per
 * valid secret, and the `whsec_` secret format.  Also base64 helpers used across common/.
 * Owns no state: every function is pure apart from the random bytes of secret generation.
 * docs/signing.md is the receiver-facing description.
 */
#ifndef HL_SIGN_H
#define HL_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define HL_SIGN_KEY_MAX 64
#define HL_SIGN_KEY_MIN 24
#define HL_SIGN_V1_LEN 47 /* "v1," + 44 base64 characters */

typedef struct hl_sign_key {
  unsigned char key[HL_SIGN_KEY_MAX];
  size_t len;
} hl_sign_key_t;

/* Standard base64 with padding. encode: out needs 4*ceil(n/3)+1; returns length or -1. */
int hl_b64_encode(const unsigned char *in, size_t n, char *out, size_t outsz);
/* Strict decode (length a multiple of 4, '=' only as final padding, no whitespace).  Returns the
 * decoded length, or -1 on bad input or when out (outsz) is too small.  out NULL: only returns the
 * length the input decodes to. */
int hl_b64_decode(const char *in, size_t n, unsigned char *out, size_t outsz);

/* "whsec_" + base64 of 24..64 bytes -> key. 0 ok, -1 with "secret: ..." in errstr. */
int hl_sign_secret_decode(const char *secret, hl_sign_key_t *key, char *errstr, size_t errsize);
/* A fresh "whsec_" + base64(32 random bytes); out >= 51 bytes. 0 ok. */
int hl_sign_secret_generate(char *out, size_t outsz);

/* "v1,<base64>" for one key. 0 ok, -1 when out is too small. */
int hl_sign_v1(const hl_sign_key_t *key, const char *msg_id, int64_t ts, const char *body,
               size_t bodylen, char *out, size_t outsz);
/* The webhook-signature header for every key, space separated. 0 ok, -1 when out is too small
 * or nkeys == 0 (never truncates). */
int hl_sign_header(const hl_sign_key_t *keys, size_t nkeys, const char *msg_id, int64_t ts,
                   const char *body, size_t bodylen, char *out, size_t outsz);
/* 0 when any "v1," entry of header matches key (constant-time compare), -1 otherwise. */
int hl_sign_verify(const char *header, const hl_sign_key_t *key, const char *msg_id, int64_t ts,
                   const char *body, size_t bodylen);

#endif
