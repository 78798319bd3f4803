/*
 * util.c - clocks, random identifiers and RFC 3339 times.
 */
#include "util.h"

#include <ctype.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t hl_now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hl_mono_us(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t hl_mono_ms(void) {
  return hl_mono_us() / 1000;
}

int hl_rand_bytes(void *buf, size_t n) {
  return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

int hl_rand_base62(char *out, size_t n) {
  static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  unsigned char r[64];
  size_t i = 0;

  while (i < n) {
    if (hl_rand_bytes(r, sizeof(r)) != 0)
      return -1;
    for (size_t j = 0; j < sizeof(r) && i < n; j++) {
      if (r[j] >= 248) /* 248 = 4 * 62: keep the distribution uniform */
        continue;
      out[i++] = alphabet[r[j] % 62];
    }
  }
  out[n] = '\0';
  return 0;
}

void hl_fmt_rfc3339(int64_t ms, char *out, size_t outsz) {
  time_t t = (time_t)(ms / 1000);
  char sec[32];
  struct tm tm;

  gmtime_r(&t, &tm);
  strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, outsz, "%s.%03dZ", sec, (int)(ms % 1000));
}

static int hl_digits(const char **s, int n, int *out) {
  int v = 0;

  for (int i = 0; i < n; i++, (*s)++) {
    if (!isdigit((unsigned char)**s))
      return -1;
    v = v * 10 + (**s - '0');
  }
  *out = v;
  return 0;
}

int hl_parse_rfc3339(const char *s, int64_t *ms) {
  int Y, M, D, h, m, sec, frac_ms = 0, off = 0;
  struct tm tm;

  if (hl_digits(&s, 4, &Y) || *s++ != '-' || hl_digits(&s, 2, &M) || *s++ != '-' ||
      hl_digits(&s, 2, &D) || (*s != 'T' && *s != 't' && *s != ' '))
    return -1;
  s++;
  if (hl_digits(&s, 2, &h) || *s++ != ':' || hl_digits(&s, 2, &m) || *s++ != ':' ||
      hl_digits(&s, 2, &sec))
    return -1;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
    return -1;
  if (*s == '.') {
    int scale = 100;

    s++;
    if (!isdigit((unsigned char)*s))
      return -1;
    for (; isdigit((unsigned char)*s); s++, scale /= 10)
      frac_ms += (*s - '0') * scale;
  }
  if (*s == 'Z' || *s == 'z') {
    s++;
  } else if (*s == '+' || *s == '-') {
    int sign = *s++ == '-' ? -1 : 1, oh, om;

    if (hl_digits(&s, 2, &oh) || *s++ != ':' || hl_digits(&s, 2, &om) || oh > 23 || om > 59)
      return -1;
    off = sign * (oh * 60 + om);
  } else {
    return -1;
  }
  if (*s)
    return -1;
  memset(&tm, 0, sizeof(tm));
  tm.tm_year = Y - 1900;
  tm.tm_mon = M - 1;
  tm.tm_mday = D;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  *ms = ((int64_t)timegm(&tm) - (int64_t)off * 60) * 1000 + frac_ms;
  return 0;
}
