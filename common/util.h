/*
 * util.h - small helpers every module needs: clocks and random identifiers.
 */
#ifndef HL_UTIL_H
#define HL_UTIL_H

#include <stddef.h>
#include <stdint.h>

int64_t hl_now_ms(void);  /* wall clock, Unix milliseconds */
int64_t hl_mono_ms(void); /* monotonic milliseconds, for timeouts */
int64_t hl_mono_us(void);

/* Cryptographically random bytes (OpenSSL RAND_bytes). 0 ok, -1 error. */
int hl_rand_bytes(void *buf, size_t n);
/* n random base62 characters then a NUL: out must hold n + 1 bytes. 0 ok. */
int hl_rand_base62(char *out, size_t n);

/* RFC 3339 UTC with milliseconds ("2026-11-22T10:00:00.000Z") from Unix ms; out >= 32 bytes. */
void hl_fmt_rfc3339(int64_t ms, char *out, size_t outsz);
/* Parse RFC 3339 (Z or +hh:mm offset, optional fraction) to Unix ms. 0 ok, -1 bad. */
int hl_parse_rfc3339(const char *s, int64_t *ms);

#endif
