/*
 * secrets.h - endpoint secrets at rest: AES-256-GCM under HOOKLINE_SECRET_KEY (config key
 * `secret_key`, base64 of 32 bytes).  Stored form: "enc:v1:" + base64(nonce[12] | ct | tag[16]),
 * with the endpoint id as additional authenticated data, so a ciphertext moved to another
 * endpoint does not decrypt.  Without a key, secrets are stored in the clear.
 */
#ifndef HL_SECRETS_H
#define HL_SECRETS_H

#include <stddef.h>

typedef struct hl_secretbox hl_secretbox_t;

/* NULL with errstr when key_b64 is not base64 of 32 bytes. */
hl_secretbox_t *hl_secretbox_new(const char *key_b64, char *errstr, size_t errsize);
void hl_secretbox_destroy(hl_secretbox_t **box);

/* Seal plain (NUL-terminated) for endpoint `aad`; out gets the stored form. 0 ok.
 * box NULL: out = plain. */
int hl_secretbox_seal(const hl_secretbox_t *box, const char *aad, const char *plain, char *out,
                      size_t outsz);
/* Open a stored value. 0 ok; -1 tampered, wrong key, or encrypted but no box. Plain values
 * (no "enc:" prefix) pass through. */
int hl_secretbox_open(const hl_secretbox_t *box, const char *aad, const char *stored, char *out,
                      size_t outsz);

#endif
