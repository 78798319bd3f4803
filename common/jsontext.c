/*
 * jsontext.c - a single-pass JSON validator that writes the compact form of its input
 * (see jsontext.h).  Containers are tracked on an explicit stack, so deep nesting cannot
 * exhaust the C stack; strings are copied in runs of plain ASCII.
 */
#include "jsontext.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct hl_jscan {
  const unsigned char *start, *p, *end;
  char *out;
  size_t n;        /* bytes written to out */
  const char *err; /* what went wrong (static text), NULL while all is well */
  const unsigned char *errp;
} hl_jscan_t;

typedef enum { HL_JS_VALUE, HL_JS_NAME, HL_JS_AFTER } hl_jstate_t;

static void hl_jscan_init(hl_jscan_t *sc, const char *in, size_t len, char *out) {
  sc->start = sc->p = (const unsigned char *)in;
  sc->end = sc->start + len;
  sc->out = out;
  sc->n = 0;
  sc->err = NULL;
  sc->errp = NULL;
}

static int hl_jscan_fail(hl_jscan_t *sc, const unsigned char *at, const char *what) {
  sc->err = what;
  sc->errp = at;
  return -1;
}

static void hl_jscan_ws(hl_jscan_t *sc) {
  while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
    sc->p++;
}

/* Copy one structural character. */
static void hl_jscan_emit(hl_jscan_t *sc) {
  sc->out[sc->n++] = (char)*sc->p++;
}

static int hl_jscan_at(const hl_jscan_t *sc, unsigned char c) {
  return sc->p < sc->end && *sc->p == c;
}

static int hl_hex4(const unsigned char *p, unsigned *cp) {
  unsigned v = 0;

  for (int i = 0; i < 4; i++) {
    unsigned c = p[i] | 0x20; /* ASCII letters to lower case; digits unchanged */

    if (p[i] >= '0' && p[i] <= '9')
      v = v << 4 | (unsigned)(p[i] - '0');
    else if (c >= 'a' && c <= 'f')
      v = v << 4 | (c - 'a' + 10);
    else
      return -1;
  }
  *cp = v;
  return 0;
}

/* Length (2..4) of the well-formed UTF-8 sequence at p, 0 if ill-formed (Unicode table 3-7). */
static size_t hl_utf8_len(const unsigned char *p, const unsigned char *end) {
  unsigned lo = 0x80, hi = 0xBF;
  size_t n;

  if (p[0] >= 0xC2 && p[0] <= 0xDF) {
    n = 2;
  } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
    n = 3;
    lo = p[0] == 0xE0 ? 0xA0 : lo; /* no overlong forms */
    hi = p[0] == 0xED ? 0x9F : hi; /* no UTF-16 surrogates */
  } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
    n = 4;
    lo = p[0] == 0xF0 ? 0x90 : lo;
    hi = p[0] == 0xF4 ? 0x8F : hi; /* nothing above U+10FFFF */
  } else {
    return 0;
  }
  if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++) {
    if (p[i] < 0x80 || p[i] > 0xBF)
      return 0;
  }
  return n;
}

/* Length of the escape at p (a backslash): 2, 6, or 12 for a surrogate pair; 0 if invalid. */
static size_t hl_escape_len(const unsigned char *p, const unsigned char *end, const char **why) {
  unsigned hi, lo;

  *why = "invalid escape in string";
  if (end - p < 2)
    return 0;
  if (strchr("\"\\/bfnrt", p[1]) && p[1] != '\0')
    return 2;
  if (p[1] != 'u')
    return 0;
  *why = "invalid \\u escape in string";
  if (end - p < 6 || hl_hex4(p + 2, &hi) != 0)
    return 0;
  if (hi < 0xD800 || hi > 0xDFFF)
    return 6;
  *why = "unpaired UTF-16 surrogate in \\u escape";
  if (hi >= 0xDC00 || end - p < 12 || p[6] != '\\' || p[7] != 'u' || hl_hex4(p + 8, &lo) != 0 ||
      lo < 0xDC00 || lo > 0xDFFF)
    return 0;
  return 12;
}

/* A byte a string may hold as it is: printable ASCII but '"' and '\\'. */
static int hl_json_plain(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

#define HL_ONES 0x0101010101010101ULL
#define HL_HIGHS 0x8080808080808080ULL

/*
 * Non-zero when one of the 8 bytes of w is not plain: below 0x20, '"', '\\', or 0x80 and above
 * (the classic "has a zero byte" / "has a byte less than n" bit tricks; exact for "any").
 */
static uint64_t hl_json_special8(uint64_t w) {
  uint64_t q = w ^ (HL_ONES * '"'), b = w ^ (HL_ONES * '\\');

  return (((w - HL_ONES * 0x20) & ~w) | ((q - HL_ONES) & ~q) | ((b - HL_ONES) & ~b) | w) & HL_HIGHS;
}

/* Past the run of plain bytes at p, 8 at a time while possible. */
static const unsigned char *hl_json_skip_plain(const unsigned char *p, const unsigned char *end) {
  uint64_t w;

  while (end - p >= 8) {
    memcpy(&w, p, 8);
    if (hl_json_special8(w))
      break;
    p += 8;
  }
  while (p < end && hl_json_plain(*p))
    p++;
  return p;
}

static int hl_jscan_string(hl_jscan_t *sc) {
  const unsigned char *p = sc->p + 1, *end = sc->end, *run;
  char *o = sc->out + sc->n;
  const char *why;
  size_t k;

  *o++ = '"';
  for (;;) {
    run = p;
    p = hl_json_skip_plain(p, end);
    memcpy(o, run, (size_t)(p - run));
    o += p - run;
    if (p == end)
      return hl_jscan_fail(sc, p, "unterminated string");
    if (*p == '"')
      break;
    if (*p == '\\') {
      k = hl_escape_len(p, end, &why);
    } else if (*p < 0x20) {
      why = "control character in string (escape it)";
      k = 0;
    } else {
      why = "invalid UTF-8 in string";
      k = hl_utf8_len(p, end);
    }
    if (k == 0)
      return hl_jscan_fail(sc, p, why);
    memcpy(o, p, k);
    o += k;
    p += k;
  }
  *o++ = '"';
  sc->p = p + 1;
  sc->n = (size_t)(o - sc->out);
  return 0;
}

static int hl_skip_digits(const unsigned char **p, const unsigned char *end) {
  const unsigned char *s = *p;

  while (*p < end && **p >= '0' && **p <= '9')
    (*p)++;
  return *p > s;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, copied as written whatever its magnitude. */
static int hl_jscan_number(hl_jscan_t *sc) {
  const unsigned char *p = sc->p, *end = sc->end;

  if (*p == '-')
    p++;
  if (p < end && *p == '0')
    p++;
  else if (!(p < end && *p >= '1' && *p <= '9') || !hl_skip_digits(&p, end))
    return hl_jscan_fail(sc, p, "invalid number");
  if (p < end && *p == '.') {
    p++;
    if (!hl_skip_digits(&p, end))
      return hl_jscan_fail(sc, p, "invalid number: digits expected after '.'");
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    if (!hl_skip_digits(&p, end))
      return hl_jscan_fail(sc, p, "invalid number: digits expected in the exponent");
  }
  memcpy(sc->out + sc->n, sc->p, (size_t)(p - sc->p));
  sc->n += (size_t)(p - sc->p);
  sc->p = p;
  return 0;
}

static int hl_jscan_literal(hl_jscan_t *sc, const char *word) {
  size_t n = strlen(word);

  if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, word, n) != 0)
    return hl_jscan_fail(sc, sc->p, "unexpected character");
  memcpy(sc->out + sc->n, word, n);
  sc->n += n;
  sc->p += n;
  return 0;
}

static int hl_jscan_scalar(hl_jscan_t *sc) {
  unsigned char c = *sc->p;

  if (c == '"')
    return hl_jscan_string(sc);
  if (c == 't')
    return hl_jscan_literal(sc, "true");
  if (c == 'f')
    return hl_jscan_literal(sc, "false");
  if (c == 'n')
    return hl_jscan_literal(sc, "null");
  if (c == '-' || (c >= '0' && c <= '9'))
    return hl_jscan_number(sc);
  return hl_jscan_fail(sc, sc->p, "unexpected character");
}

/* Open a container at sc->p; an empty one is closed at once. Returns the next state. */
static int hl_jscan_open(hl_jscan_t *sc, char *stack, int *depth, hl_jstate_t *state) {
  char close = *sc->p == '{' ? '}' : ']';

  if (*depth == HL_JSON_MAX_DEPTH)
    return hl_jscan_fail(sc, sc->p, "nesting deeper than 512 levels");
  stack[(*depth)++] = close;
  hl_jscan_emit(sc);
  hl_jscan_ws(sc);
  if (hl_jscan_at(sc, (unsigned char)close)) {
    hl_jscan_emit(sc);
    (*depth)--;
    *state = HL_JS_AFTER;
  } else {
    *state = close == '}' ? HL_JS_NAME : HL_JS_VALUE;
  }
  return 0;
}

/* After a value inside a container: ',' or the closing bracket. */
static int hl_jscan_next(hl_jscan_t *sc, const char *stack, int *depth, hl_jstate_t *state) {
  char close = stack[*depth - 1];

  if (*sc->p == ',') {
    hl_jscan_emit(sc);
    *state = close == '}' ? HL_JS_NAME : HL_JS_VALUE;
    return 0;
  }
  if (*sc->p == (unsigned char)close) {
    hl_jscan_emit(sc);
    (*depth)--;
    return 0;
  }
  return hl_jscan_fail(sc, sc->p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

/* A member name and its ':'. */
static int hl_jscan_name(hl_jscan_t *sc) {
  if (*sc->p != '"')
    return hl_jscan_fail(sc, sc->p, "expected a member name in double quotes");
  if (hl_jscan_string(sc) != 0)
    return -1;
  hl_jscan_ws(sc);
  if (!hl_jscan_at(sc, ':'))
    return hl_jscan_fail(sc, sc->p, "expected ':' after the member name");
  hl_jscan_emit(sc);
  return 0;
}

/* Exactly one value of any type, starting at sc->p. */
static int hl_jscan_value(hl_jscan_t *sc) {
  char stack[HL_JSON_MAX_DEPTH];
  hl_jstate_t state = HL_JS_VALUE;
  int depth = 0, rc = 0;

  while (rc == 0) {
    if (state == HL_JS_AFTER && depth == 0)
      return 0;
    hl_jscan_ws(sc);
    if (sc->p == sc->end)
      return hl_jscan_fail(sc, sc->p, "unexpected end of input");
    if (state == HL_JS_NAME) {
      rc = hl_jscan_name(sc);
      state = HL_JS_VALUE;
    } else if (state == HL_JS_AFTER) {
      rc = hl_jscan_next(sc, stack, &depth, &state);
    } else if (*sc->p == '{' || *sc->p == '[') {
      rc = hl_jscan_open(sc, stack, &depth, &state);
    } else {
      rc = hl_jscan_scalar(sc);
      state = HL_JS_AFTER;
    }
  }
  return rc;
}

/* The result: 0 with *outlen, or -1 with the reason and where ("at column 7" on one line). */
static int hl_jscan_done(const hl_jscan_t *sc, size_t *outlen, char *errstr, size_t errsize) {
  const unsigned char *bol = sc->start;
  int line = 1;

  if (!sc->err) {
    *outlen = sc->n;
    return 0;
  }
  for (const unsigned char *q = sc->start; q < sc->errp; q++) {
    if (*q == '\n') {
      line++;
      bol = q + 1;
    }
  }
  if (line == 1 && !memchr(sc->errp, '\n', (size_t)(sc->end - sc->errp)))
    snprintf(errstr, errsize, "not valid JSON: %s at column %zu", sc->err,
             (size_t)(sc->errp - bol) + 1);
  else
    snprintf(errstr, errsize, "not valid JSON: %s at line %d, column %zu", sc->err, line,
             (size_t)(sc->errp - bol) + 1);
  return -1;
}

/* Only whitespace may follow the value. */
static void hl_jscan_tail(hl_jscan_t *sc) {
  hl_jscan_ws(sc);
  if (sc->p != sc->end)
    hl_jscan_fail(sc, sc->p, "unexpected text after the value");
}

int hl_json_compact(const char *in, size_t len, char *out, size_t *outlen, char *errstr,
                    size_t errsize) {
  hl_jscan_t sc;

  hl_jscan_init(&sc, in, len, out);
  if (hl_jscan_value(&sc) == 0)
    hl_jscan_tail(&sc);
  return hl_jscan_done(&sc, outlen, errstr, errsize);
}

/* The members of the top-level object at sc->p ('{'), each reported to cb. */
static int hl_jscan_members(hl_jscan_t *sc, hl_json_member_cb *cb, void *opaque) {
  size_t name, value;

  hl_jscan_emit(sc);
  hl_jscan_ws(sc);
  if (hl_jscan_at(sc, '}')) {
    hl_jscan_emit(sc);
    return 0;
  }
  for (;;) {
    hl_jscan_ws(sc);
    if (sc->p == sc->end)
      return hl_jscan_fail(sc, sc->p, "unexpected end of input");
    name = sc->n;
    if (hl_jscan_name(sc) != 0)
      return -1;
    value = sc->n;
    if (hl_jscan_value(sc) != 0)
      return -1;
    cb(sc->out + name, value - 1 - name, sc->out + value, sc->n - value, opaque);
    hl_jscan_ws(sc);
    if (hl_jscan_at(sc, '}')) {
      hl_jscan_emit(sc);
      return 0;
    }
    if (!hl_jscan_at(sc, ','))
      return hl_jscan_fail(sc, sc->p,
                           sc->p == sc->end ? "unexpected end of input" : "expected ',' or '}'");
    hl_jscan_emit(sc);
  }
}

int hl_json_compact_object(const char *in, size_t len, char *out, size_t *outlen,
                           hl_json_member_cb *cb, void *opaque, char *errstr, size_t errsize) {
  hl_jscan_t sc;

  hl_jscan_init(&sc, in, len, out);
  hl_jscan_ws(&sc);
  if (!hl_jscan_at(&sc, '{')) {
    if (hl_json_compact(in, len, out, outlen, errstr, errsize) == 0)
      snprintf(errstr, errsize, "must be a JSON object");
    return -1;
  }
  if (hl_jscan_members(&sc, cb, opaque) == 0)
    hl_jscan_tail(&sc);
  return hl_jscan_done(&sc, outlen, errstr, errsize);
}

static size_t hl_utf8_put(unsigned cp, char *buf) {
  if (cp < 0x80) {
    buf[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    buf[0] = (char)(0xC0 | cp >> 6);
    buf[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    buf[0] = (char)(0xE0 | cp >> 12);
    buf[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    buf[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  buf[0] = (char)(0xF0 | cp >> 18);
  buf[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  buf[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  buf[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decode the escape at p into buf; returns its length in the input, *k the bytes written. */
static size_t hl_unescape(const unsigned char *p, char *buf, size_t *k) {
  static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
  const char *f;
  unsigned cp, lo;

  *k = 1;
  if (p[1] != 'u') {
    f = strchr(from, p[1]);
    buf[0] = f ? to[f - from] : (char)p[1];
    return 2;
  }
  hl_hex4(p + 2, &cp);
  if (cp < 0xD800 || cp > 0xDBFF) {
    *k = hl_utf8_put(cp, buf);
    return 6;
  }
  hl_hex4(p + 8, &lo);
  *k = hl_utf8_put(0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00), buf);
  return 12;
}

int hl_json_string_decode(const char *tok, size_t len, char *out, size_t outsz, size_t *outlen) {
  const unsigned char *p = (const unsigned char *)tok + 1, *end = (const unsigned char *)tok + len;
  size_t n = 0, k;
  char buf[4];

  end--; /* the closing quote */
  while (p < end) {
    if (*p == '\\') {
      p += hl_unescape(p, buf, &k);
    } else {
      buf[0] = (char)*p++;
      k = 1;
    }
    if (n + k >= outsz)
      return -1;
    memcpy(out + n, buf, k);
    n += k;
  }
  out[n] = '\0';
  *outlen = n;
  return 0;
}
