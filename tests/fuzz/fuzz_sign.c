/*
 * fuzz_sign: the webhook-signature header builder and its helpers on arbitrary input.
 * Input: line 1 = space-separated secrets (whsec_..., decoded strictly), line 2 = message id,
 * line 3 = a webhook-signature header to verify, rest = body. Checks: the header has one
 * "v1,<44 base64>" per key, never truncates (a buffer one byte short fails, exact size works),
 * every key verifies against it; arbitrary headers never crash the verifier; base64 round-trips.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sign.h"

/* The next line of *p (up to end), NUL-terminated copy in buf. */
static void hl_fz_line(const char **p, const char *end, char *buf, size_t bufsz) {
  const char *nl = memchr(*p, '\n', (size_t)(end - *p));
  size_t n = (size_t)((nl ? nl : end) - *p);

  if (n >= bufsz)
    n = bufsz - 1;
  memcpy(buf, *p, n);
  buf[n] = '\0';
  *p = nl ? nl + 1 : end;
}

static void hl_fz_b64(const uint8_t *data, size_t size) {
  size_t n = size > 300 ? 300 : size;
  char enc[404];
  unsigned char dec[300];
  int elen = hl_b64_encode(data, n, enc, sizeof(enc));

  if (elen < 0 || hl_b64_decode(enc, (size_t)elen, dec, sizeof(dec)) != (int)n ||
      memcmp(dec, data, n) != 0)
    abort();
  hl_b64_decode((const char *)data, size, NULL, 0); /* arbitrary text: must not crash */
  hl_b64_decode((const char *)data, size, dec, sizeof(dec));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *end = p + size;
  char secrets[1024], id[256], header[1024], err[256], out[4 * 49], *save = NULL;
  hl_sign_key_t keys[3];
  size_t nkeys = 0;
  int64_t ts = size ? (int64_t)data[0] * 1000003 : 0;

  hl_fz_b64(data, size);
  hl_fz_line(&p, end, secrets, sizeof(secrets));
  hl_fz_line(&p, end, id, sizeof(id));
  hl_fz_line(&p, end, header, sizeof(header));
  for (char *t = strtok_r(secrets, " ", &save); t && nkeys < 3; t = strtok_r(NULL, " ", &save))
    if (hl_sign_secret_decode(t, &keys[nkeys], err, sizeof(err)) == 0)
      nkeys++;
  for (size_t i = 0; i < nkeys; i++)
    hl_sign_verify(header, &keys[i], id, ts, p, (size_t)(end - p));
  if (nkeys == 0)
    return 0;
  size_t want = nkeys * HL_SIGN_V1_LEN + (nkeys - 1);
  if (hl_sign_header(keys, nkeys, id, ts, p, (size_t)(end - p), out, want) != -1 ||
      hl_sign_header(keys, nkeys, id, ts, p, (size_t)(end - p), out, want + 1) != 0 ||
      strlen(out) != want)
    abort(); /* one byte short must fail, exact size must fit */
  for (size_t i = 0; i < nkeys; i++) {
    const char *v1 = out + i * (HL_SIGN_V1_LEN + 1);

    if (strncmp(v1, "v1,", 3) != 0 ||
        hl_sign_verify(out, &keys[i], id, ts, p, (size_t)(end - p)) != 0)
      abort();
  }
  return 0;
}
