/*
 * receiver.c - hl-test-receiver: the webhook endpoint stand-in for tests and benchmarks.
 *
 * One thread, one libevent loop, one evhttp server bound to a loopback address. Each
 * request is answered by the rule for its path (a sequence of statuses with delays,
 * Retry-After, Location, hang or reset), after optional random chaos faults; it is recorded
 * as one NDJSON line streamed to the record file (bodies are never kept) and counted for
 * GET /_stats. With --verify-secret it checks Standard Webhooks signatures; SHA-256 and
 * HMAC are implemented here so the tool links only libevent and jansson.
 *
 * Owns: the rules, the per-path counters (a hash table that grows with the distinct paths
 * seen), the pool of pending answers (delayed, hung, about to be reset) and the record
 * stream. How to use it from tests: tests/tools/README.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <jansson.h>

#define RCV_NAME "hl-test-receiver"
#define RCV_MAX_SECRETS 8
#define RCV_SIG_B64_LEN 44 /* base64 of a 32-byte HMAC-SHA256 */

/* ---- types -------------------------------------------------------------------------- */

typedef enum { RCV_ANSWER, RCV_HANG, RCV_RESET } rcv_act_t;

typedef struct rcv_step {
  rcv_act_t act;
  int status;       /* RCV_ANSWER only */
  long delay_ms;    /* before answering or resetting */
  long retry_after; /* seconds; -1: no Retry-After */
  int ra_date;      /* 1: send Retry-After as the HTTP-date retry_after seconds from now */
  char *location;   /* owned; NULL: no Location */
} rcv_step_t;

typedef struct rcv_rule {
  char *path;        /* owned; "*" is the fallback */
  rcv_step_t *steps; /* owned */
  size_t nsteps;
} rcv_rule_t;

typedef struct rcv_path {
  char *path; /* owned; NULL marks an empty slot */
  size_t len;
  uint64_t hash;
  long n;                 /* requests seen on this path */
  const rcv_rule_t *rule; /* borrowed; NULL: plain 200 */
} rcv_path_t;

/* An answer not given inside the request callback: delayed, hung, or a reset. */
typedef struct rcv_pend {
  struct event *ev;           /* owned; a timer, or a read watch on a hung connection */
  struct evhttp_request *req; /* borrowed from evhttp */
  const rcv_step_t *step;     /* borrowed from a rule or the built-in steps */
  struct rcv_pend *prev, *next;
} rcv_pend_t;

typedef struct rcv_sha256 {
  uint32_t h[8];
  uint64_t len;
  unsigned char buf[64];
  size_t nbuf;
} rcv_sha256_t;

/* HMAC-SHA256 with the key already absorbed: copy and continue. */
typedef struct rcv_hmac {
  rcv_sha256_t inner, outer;
} rcv_hmac_t;

/* Where JSON goes: the record FILE or an evbuffer (for /_stats). */
typedef struct rcv_sink {
  FILE *fp;
  struct evbuffer *eb;
} rcv_sink_t;

typedef struct rcv_conf {
  const char *listen;
  const char *port_file;
  const char *record;
  const char *selftest;
  long body_bytes; /* -1: answer "ok" */
  long max_body;
  long max_seconds;
  double fail_pct, timeout_pct, reset_pct;
  unsigned long long seed;
  int seeded;
} rcv_conf_t;

static struct {
  struct event_base *base;
  struct evhttp *http;
  struct evbuffer *reply; /* reused for every answer body */
  rcv_rule_t *rules;
  size_t nrules;
  const rcv_rule_t *fallback;
  rcv_path_t *paths;
  size_t npaths, cap;
  rcv_pend_t *active, *spare;
  long requests, by_status[600], hangs, resets, sig_good, sig_bad;
  FILE *rec;      /* owned unless stdout */
  int rec_broken; /* a write failed: stop recording */
  rcv_hmac_t keys[RCV_MAX_SECRETS];
  size_t nkeys;
  char *body;
  size_t body_len;
  double fail_pct, timeout_pct, reset_pct;
  uint64_t rng;
} rcv;

static const rcv_step_t rcv_step_ok = {RCV_ANSWER, 200, 0, -1, 0, NULL};
static const rcv_step_t rcv_step_fail = {RCV_ANSWER, 500, 0, -1, 0, NULL};
static const rcv_step_t rcv_step_hang = {RCV_HANG, 0, 0, -1, 0, NULL};
static const rcv_step_t rcv_step_reset = {RCV_RESET, 0, 0, -1, 0, NULL};

/* ---- small helpers ------------------------------------------------------------------ */

static void rcv_die(const char *what, const char *detail) {
  fprintf(stderr, RCV_NAME ": %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(2);
}

static void *rcv_xalloc(size_t size) {
  void *p = calloc(1, size ? size : 1);

  if (!p)
    rcv_die("out of memory", NULL);
  return p;
}

static char *rcv_xstrndup(const char *s, size_t len) {
  char *p = rcv_xalloc(len + 1);

  memcpy(p, s, len);
  return p;
}

/* Parses a whole decimal number in [min, max]; 0 ok, -1 otherwise. */
static int rcv_parse_long(const char *s, long min, long max, long *out) {
  char *end;
  long v;

  errno = 0;
  v = strtol(s, &end, 10);
  if (end == s || *end || errno || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

static double rcv_parse_pct(const char *s) {
  char *end;
  double v = strtod(s, &end);

  if (end == s || *end || !(v >= 0 && v <= 100))
    rcv_die("a percentage must be a number from 0 to 100", s);
  return v;
}

/* Digits at *s (no sign) up to max; advances *s. */
static int rcv_take_num(const char **s, long max, long *out) {
  long v = 0;

  if (**s < '0' || **s > '9')
    return -1;
  for (; **s >= '0' && **s <= '9'; (*s)++) {
    v = v * 10 + (**s - '0');
    if (v > max)
      return -1;
  }
  *out = v;
  return 0;
}

/* xorshift64*: reproducible chaos for a given --seed. */
static double rcv_rand_pct(void) {
  rcv.rng ^= rcv.rng >> 12;
  rcv.rng ^= rcv.rng << 25;
  rcv.rng ^= rcv.rng >> 27;
  return (double)((rcv.rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0 * 100.0;
}

static uint64_t rcv_hash(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ULL;

  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ULL;
  }
  return h;
}

/* ---- SHA-256, HMAC, base64 (FIPS 180-4, RFC 2104, RFC 4648) --------------------------- */

static const uint32_t rcv_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define RCV_ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void rcv_sha256_block(uint32_t h[8], const unsigned char *p) {
  uint32_t w[64], v[8], t1, t2;

  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
           p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = RCV_ROR(w[i - 15], 7) ^ RCV_ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = RCV_ROR(w[i - 2], 17) ^ RCV_ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);

    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  memcpy(v, h, sizeof(v));
  for (int i = 0; i < 64; i++) {
    t1 = v[7] + (RCV_ROR(v[4], 6) ^ RCV_ROR(v[4], 11) ^ RCV_ROR(v[4], 25)) +
         ((v[4] & v[5]) ^ (~v[4] & v[6])) + rcv_sha256_k[i] + w[i];
    t2 = (RCV_ROR(v[0], 2) ^ RCV_ROR(v[0], 13) ^ RCV_ROR(v[0], 22)) +
         ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
    memmove(v + 1, v, 7 * sizeof(v[0]));
    v[4] += t1;
    v[0] = t1 + t2;
  }
  for (int i = 0; i < 8; i++)
    h[i] += v[i];
}

static void rcv_sha256_init(rcv_sha256_t *sha) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

  memcpy(sha->h, iv, sizeof(iv));
  sha->len = 0;
  sha->nbuf = 0;
}

static void rcv_sha256_update(rcv_sha256_t *sha, const void *data, size_t len) {
  const unsigned char *p = data;

  sha->len += len;
  if (sha->nbuf) {
    size_t take = 64 - sha->nbuf < len ? 64 - sha->nbuf : len;

    memcpy(sha->buf + sha->nbuf, p, take);
    sha->nbuf += take;
    p += take;
    len -= take;
    if (sha->nbuf < 64)
      return;
    rcv_sha256_block(sha->h, sha->buf);
    sha->nbuf = 0;
  }
  for (; len >= 64; p += 64, len -= 64)
    rcv_sha256_block(sha->h, p);
  memcpy(sha->buf, p, len);
  sha->nbuf = len;
}

static void rcv_sha256_final(rcv_sha256_t *sha, unsigned char out[32]) {
  uint64_t bits = sha->len * 8;
  unsigned char pad[72] = {0x80};
  size_t padlen = (sha->nbuf < 56 ? 56 : 120) - sha->nbuf;

  for (int i = 0; i < 8; i++)
    pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
  rcv_sha256_update(sha, pad, padlen + 8);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (unsigned char)(sha->h[i] >> 24);
    out[4 * i + 1] = (unsigned char)(sha->h[i] >> 16);
    out[4 * i + 2] = (unsigned char)(sha->h[i] >> 8);
    out[4 * i + 3] = (unsigned char)sha->h[i];
  }
}

static void rcv_hmac_init(rcv_hmac_t *hmac, const unsigned char *key, size_t keylen) {
  unsigned char k0[64] = {0}, pad[64];

  if (keylen > 64) {
    rcv_sha256_t sha;

    rcv_sha256_init(&sha);
    rcv_sha256_update(&sha, key, keylen);
    rcv_sha256_final(&sha, k0);
  } else {
    memcpy(k0, key, keylen);
  }
  for (int i = 0; i < 64; i++)
    pad[i] = k0[i] ^ 0x36;
  rcv_sha256_init(&hmac->inner);
  rcv_sha256_update(&hmac->inner, pad, 64);
  for (int i = 0; i < 64; i++)
    pad[i] = k0[i] ^ 0x5c;
  rcv_sha256_init(&hmac->outer);
  rcv_sha256_update(&hmac->outer, pad, 64);
}

static const char rcv_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void rcv_b64_encode(const unsigned char *in, size_t len, char *out) {
  size_t o = 0;

  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16;

    v |= i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0;
    v |= i + 2 < len ? in[i + 2] : 0;
    out[o++] = rcv_b64[v >> 18 & 63];
    out[o++] = rcv_b64[v >> 12 & 63];
    out[o++] = i + 1 < len ? rcv_b64[v >> 6 & 63] : '=';
    out[o++] = i + 2 < len ? rcv_b64[v & 63] : '=';
  }
  out[o] = '\0';
}

/* Standard alphabet, padding optional; returns the decoded length or -1. */
static long rcv_b64_decode(const char *in, unsigned char *out, size_t outsize) {
  size_t len = strlen(in), o = 0;
  uint32_t acc = 0;
  int bits = 0;

  for (int pad = 0; pad < 2 && len > 0 && in[len - 1] == '='; pad++)
    len--;
  for (size_t i = 0; i < len; i++) {
    const char *at = in[i] ? strchr(rcv_b64, in[i]) : NULL;

    if (!at)
      return -1;
    acc = acc << 6 | (uint32_t)(at - rcv_b64);
    bits += 6;
    if (bits < 8)
      continue;
    bits -= 8;
    if (o >= outsize)
      return -1;
    out[o++] = (unsigned char)(acc >> bits);
  }
  return (long)o;
}

/* ---- Standard Webhooks signatures ------------------------------------------------------ */

static int rcv_secret_add(const char *secret) {
  unsigned char key[256];
  long keylen;

  if (rcv.nkeys >= RCV_MAX_SECRETS || strncmp(secret, "whsec_", 6) != 0)
    return -1;
  keylen = rcv_b64_decode(secret + 6, key, sizeof(key));
  if (keylen <= 0)
    return -1;
  rcv_hmac_init(&rcv.keys[rcv.nkeys++], key, (size_t)keylen);
  return 0;
}

static int rcv_ct_equal(const char *a, const char *b, size_t len) {
  unsigned char diff = 0;

  for (size_t i = 0; i < len; i++)
    diff |= (unsigned char)(a[i] ^ b[i]);
  return diff == 0;
}

/* 1 if any "v1,<base64>" entry of sigs matches HMAC(key, id.ts.body) for any key. */
static int rcv_sig_verify(const char *id, const char *ts, const char *sigs,
                          const unsigned char *body, size_t len) {
  unsigned char inner[32], mac[32];
  char want[RCV_SIG_B64_LEN + 4];

  if (!id || !ts || !sigs)
    return 0;
  for (size_t k = 0; k < rcv.nkeys; k++) {
    rcv_sha256_t sha = rcv.keys[k].inner;

    rcv_sha256_update(&sha, id, strlen(id));
    rcv_sha256_update(&sha, ".", 1);
    rcv_sha256_update(&sha, ts, strlen(ts));
    rcv_sha256_update(&sha, ".", 1);
    rcv_sha256_update(&sha, body, len);
    rcv_sha256_final(&sha, inner);
    sha = rcv.keys[k].outer;
    rcv_sha256_update(&sha, inner, sizeof(inner));
    rcv_sha256_final(&sha, mac);
    rcv_b64_encode(mac, sizeof(mac), want);
    for (const char *tok = sigs; *tok;) {
      size_t toklen = strcspn(tok, " ");

      if (toklen == 3 + RCV_SIG_B64_LEN && strncmp(tok, "v1,", 3) == 0 &&
          rcv_ct_equal(tok + 3, want, RCV_SIG_B64_LEN))
        return 1;
      tok += toklen;
      tok += strspn(tok, " ");
    }
  }
  return 0;
}

/* --selftest: the shared Standard Webhooks vectors; 0 when all behave, 1 otherwise. */
static int rcv_selftest(const char *file) {
  json_error_t jerr;
  json_t *root = json_load_file(file, 0, &jerr), *sym, *bad, *v;
  char ts[32];
  size_t i;
  int failures = 0;

  if (!root) {
    fprintf(stderr, "selftest: cannot load %s: %s\n", file, jerr.text);
    return 1;
  }
  sym = json_object_get(root, "symmetric");
  bad = json_object_get(root, "must_not_verify");
  if (json_array_size(sym) == 0 || json_array_size(bad) == 0) {
    fprintf(stderr, "selftest: %s lacks symmetric or must_not_verify entries\n", file);
    failures++;
    goto out;
  }
  json_array_foreach(sym, i, v) {
    const char *id = json_string_value(json_object_get(v, "msg_id"));
    const char *payload = json_string_value(json_object_get(v, "payload"));
    const char *sig = json_string_value(json_object_get(v, "signature"));

    rcv.nkeys = 0;
    snprintf(ts, sizeof(ts), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(v, "timestamp")));
    if (!payload || rcv_secret_add(json_string_value(json_object_get(v, "secret"))) != 0 ||
        !rcv_sig_verify(id, ts, sig, (const unsigned char *)payload, strlen(payload))) {
      fprintf(stderr, "selftest: FAIL symmetric[%zu] does not verify\n", i);
      failures++;
      continue;
    }
    printf("selftest: ok   symmetric[%zu] verifies\n", i);
  }
  v = json_array_get(sym, 0);
  rcv.nkeys = 0;
  if (rcv_secret_add(json_string_value(json_object_get(v, "secret"))) != 0)
    goto out;
  snprintf(ts, sizeof(ts), "%" JSON_INTEGER_FORMAT,
           json_integer_value(json_object_get(v, "timestamp")));
  for (i = 0; i < json_array_size(bad); i++) {
    const char *sig = json_string_value(json_array_get(bad, i));
    const char *payload = json_string_value(json_object_get(v, "payload"));

    if (!sig || !payload ||
        rcv_sig_verify(json_string_value(json_object_get(v, "msg_id")), ts, sig,
                       (const unsigned char *)payload, strlen(payload))) {
      fprintf(stderr, "selftest: FAIL must_not_verify[%zu] %s verifies\n", i, sig ? sig : "?");
      failures++;
      continue;
    }
    printf("selftest: ok   must_not_verify[%zu] is refused\n", i);
  }
out:
  json_decref(root);
  rcv.nkeys = 0;
  printf("selftest: %s\n", failures ? "FAILED" : "passed");
  return failures ? 1 : 0;
}

/* ---- rules -------------------------------------------------------------------------- */

/* One element of a SPEC: STATUS[@MS][+ra=S|+rad=S][+loc=URL] | reset[@MS] | hang. */
static int rcv_step_parse(const char *s, rcv_step_t *step) {
  memset(step, 0, sizeof(*step));
  step->retry_after = -1;
  if (strcmp(s, "hang") == 0) {
    step->act = RCV_HANG;
    return 0;
  }
  if (strncmp(s, "reset", 5) == 0) {
    step->act = RCV_RESET;
    s += 5;
  } else {
    long status;

    if (rcv_take_num(&s, 599, &status) != 0 || status < 200)
      return -1;
    step->status = (int)status;
  }
  while (*s) {
    if (*s == '@') {
      s++;
      if (rcv_take_num(&s, 86400000L, &step->delay_ms) != 0)
        return -1;
    } else if (step->act == RCV_ANSWER && strncmp(s, "+ra=", 4) == 0) {
      s += 4;
      if (rcv_take_num(&s, 999999999L, &step->retry_after) != 0)
        return -1;
    } else if (step->act == RCV_ANSWER && strncmp(s, "+rad=", 5) == 0) {
      s += 5;
      step->ra_date = 1;
      if (rcv_take_num(&s, 999999999L, &step->retry_after) != 0)
        return -1;
    } else if (step->act == RCV_ANSWER && strncmp(s, "+loc=", 5) == 0 && s[5]) {
      step->location = rcv_xstrndup(s + 5, strlen(s + 5)); /* the rest of the element */
      return 0;
    } else {
      return -1;
    }
  }
  return 0;
}

static void rcv_rule_add(const char *arg) {
  const char *eq = strchr(arg, '='), *el;
  rcv_rule_t *rule;

  if (!eq || eq == arg || !eq[1] || (arg[0] != '/' && !(eq - arg == 1 && arg[0] == '*')))
    rcv_die("--rule wants '/PATH=SPEC' or '*=SPEC'", arg);
  for (size_t i = 0; i < rcv.nrules; i++) {
    if (strlen(rcv.rules[i].path) == (size_t)(eq - arg) &&
        strncmp(rcv.rules[i].path, arg, (size_t)(eq - arg)) == 0)
      rcv_die("two rules for the same path", arg);
  }
  rcv.rules = realloc(rcv.rules, (rcv.nrules + 1) * sizeof(*rcv.rules));
  if (!rcv.rules)
    rcv_die("out of memory", NULL);
  rule = &rcv.rules[rcv.nrules++];
  rule->path = rcv_xstrndup(arg, (size_t)(eq - arg));
  rule->nsteps = 1;
  for (el = eq + 1; *el; el++)
    rule->nsteps += *el == ',';
  rule->steps = rcv_xalloc(rule->nsteps * sizeof(*rule->steps));
  el = eq + 1;
  for (size_t i = 0; i < rule->nsteps; i++) {
    size_t len = strcspn(el, ",");
    char *one = rcv_xstrndup(el, len);
    int rc = rcv_step_parse(one, &rule->steps[i]);

    free(one);
    if (rc != 0)
      rcv_die("bad --rule element (STATUS[@MS][+ra=S][+rad=S][+loc=URL] | reset[@MS] | hang)", arg);
    el += len + (el[len] == ',');
  }
}

static void rcv_rules_free(void) {
  for (size_t i = 0; i < rcv.nrules; i++) {
    for (size_t j = 0; j < rcv.rules[i].nsteps; j++)
      free(rcv.rules[i].steps[j].location);
    free(rcv.rules[i].steps);
    free(rcv.rules[i].path);
  }
  free(rcv.rules);
  rcv.rules = NULL;
  rcv.nrules = 0;
}

static const rcv_rule_t *rcv_rule_find(const char *path, size_t len) {
  for (size_t i = 0; i < rcv.nrules; i++) {
    if (strlen(rcv.rules[i].path) == len && memcmp(rcv.rules[i].path, path, len) == 0)
      return &rcv.rules[i];
  }
  return rcv.fallback;
}

/* ---- per-path counters (open addressing, grows at half load) ------------------------ */

static void rcv_paths_grow(void) {
  size_t cap = rcv.cap ? rcv.cap * 2 : 64;
  rcv_path_t *paths = rcv_xalloc(cap * sizeof(*paths));

  for (size_t i = 0; i < rcv.cap; i++) {
    size_t at;

    if (!rcv.paths[i].path)
      continue;
    for (at = rcv.paths[i].hash & (cap - 1); paths[at].path; at = (at + 1) & (cap - 1))
      ;
    paths[at] = rcv.paths[i];
  }
  free(rcv.paths);
  rcv.paths = paths;
  rcv.cap = cap;
}

static rcv_path_t *rcv_path_get(const char *path, size_t len) {
  uint64_t hash = rcv_hash(path, len);
  rcv_path_t *rp;

  if ((rcv.npaths + 1) * 2 > rcv.cap)
    rcv_paths_grow();
  for (size_t at = hash & (rcv.cap - 1);; at = (at + 1) & (rcv.cap - 1)) {
    rp = &rcv.paths[at];
    if (!rp->path)
      break;
    if (rp->hash == hash && rp->len == len && memcmp(rp->path, path, len) == 0)
      return rp;
  }
  rp->path = rcv_xstrndup(path, len);
  rp->len = len;
  rp->hash = hash;
  rp->rule = rcv_rule_find(path, len);
  rcv.npaths++;
  return rp;
}

static void rcv_paths_free(void) {
  for (size_t i = 0; i < rcv.cap; i++)
    free(rcv.paths[i].path);
  free(rcv.paths);
  rcv.paths = NULL;
  rcv.cap = rcv.npaths = 0;
}

/* Chaos first, then the path's rule: its nth element, the last one repeating. */
static const rcv_step_t *rcv_step_pick(const rcv_path_t *rp) {
  if (rcv.fail_pct > 0 || rcv.timeout_pct > 0 || rcv.reset_pct > 0) {
    double roll = rcv_rand_pct();

    if (roll < rcv.fail_pct)
      return &rcv_step_fail;
    if (roll < rcv.fail_pct + rcv.timeout_pct)
      return &rcv_step_hang;
    if (roll < rcv.fail_pct + rcv.timeout_pct + rcv.reset_pct)
      return &rcv_step_reset;
  }
  if (!rp->rule)
    return &rcv_step_ok;
  if ((size_t)rp->n >= rp->rule->nsteps)
    return &rp->rule->steps[rp->rule->nsteps - 1];
  return &rp->rule->steps[rp->n - 1];
}

/* ---- JSON output -------------------------------------------------------------------- */

static void rcv_put(rcv_sink_t *sink, const void *p, size_t len) {
  if (sink->fp)
    fwrite_unlocked(p, 1, len, sink->fp);
  else
    evbuffer_add(sink->eb, p, len);
}

static void rcv_puts(rcv_sink_t *sink, const char *s) {
  rcv_put(sink, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 if it is not one. */
static size_t rcv_utf8_len(const unsigned char *p, size_t avail) {
  unsigned char lo = 0x80, hi = 0xbf;
  size_t need;

  if (p[0] >= 0xc2 && p[0] <= 0xdf)
    need = 2;
  else if (p[0] >= 0xe0 && p[0] <= 0xef)
    need = 3;
  else if (p[0] >= 0xf0 && p[0] <= 0xf4)
    need = 4;
  else
    return 0;
  if (p[0] == 0xe0)
    lo = 0xa0;
  else if (p[0] == 0xed)
    hi = 0x9f;
  else if (p[0] == 0xf0)
    lo = 0x90;
  else if (p[0] == 0xf4)
    hi = 0x8f;
  if (avail < need || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < need; i++) {
    if (p[i] < 0x80 || p[i] > 0xbf)
      return 0;
  }
  return need;
}

/* The inside of a JSON string. Bytes that are not UTF-8 become \u00XX (their Latin-1 value). */
static void rcv_json_chars(rcv_sink_t *sink, const void *data, size_t len) {
  const unsigned char *p = data;
  size_t run = 0, i = 0;
  char esc[8];

  while (i < len) {
    unsigned char c = p[i];
    size_t seq = 0;

    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      i++;
      continue;
    }
    if (c >= 0x80)
      seq = rcv_utf8_len(p + i, len - i);
    if (seq) {
      i += seq;
      continue;
    }
    rcv_put(sink, p + run, i - run);
    if (c == '"' || c == '\\')
      snprintf(esc, sizeof(esc), "\\%c", c);
    else if (c == '\n')
      snprintf(esc, sizeof(esc), "\\n");
    else if (c == '\r')
      snprintf(esc, sizeof(esc), "\\r");
    else if (c == '\t')
      snprintf(esc, sizeof(esc), "\\t");
    else
      snprintf(esc, sizeof(esc), "\\u%04x", c);
    rcv_puts(sink, esc);
    run = ++i;
  }
  rcv_put(sink, p + run, i - run);
}

static void rcv_json_str(rcv_sink_t *sink, const void *data, size_t len) {
  rcv_put(sink, "\"", 1);
  rcv_json_chars(sink, data, len);
  rcv_put(sink, "\"", 1);
}

static void rcv_json_long(rcv_sink_t *sink, long v) {
  char num[32];
  int len = snprintf(num, sizeof(num), "%ld", v);

  rcv_put(sink, num, (size_t)len);
}

static const char *rcv_method(enum evhttp_cmd_type cmd) {
  switch (cmd) {
  case EVHTTP_REQ_GET:
    return "GET";
  case EVHTTP_REQ_POST:
    return "POST";
  case EVHTTP_REQ_HEAD:
    return "HEAD";
  case EVHTTP_REQ_PUT:
    return "PUT";
  case EVHTTP_REQ_DELETE:
    return "DELETE";
  case EVHTTP_REQ_OPTIONS:
    return "OPTIONS";
  case EVHTTP_REQ_TRACE:
    return "TRACE";
  case EVHTTP_REQ_CONNECT:
    return "CONNECT";
  case EVHTTP_REQ_PATCH:
    return "PATCH";
  }
  return "UNKNOWN";
}

/* One "name":"value" pair; name lower-cased, later repeats of the header joined with ", ". */
static void rcv_record_header(rcv_sink_t *sink, const struct evkeyval *kv) {
  size_t namelen = strlen(kv->key);
  char small[128], *name = namelen < sizeof(small) ? small : rcv_xalloc(namelen + 1);

  for (size_t i = 0; i <= namelen; i++)
    name[i] = (char)(kv->key[i] >= 'A' && kv->key[i] <= 'Z' ? kv->key[i] + 32 : kv->key[i]);
  rcv_json_str(sink, name, namelen);
  rcv_puts(sink, ":\"");
  rcv_json_chars(sink, kv->value, strlen(kv->value));
  for (const struct evkeyval *dup = kv->next.tqe_next; dup; dup = dup->next.tqe_next) {
    if (strcasecmp(dup->key, kv->key) != 0)
      continue;
    rcv_puts(sink, ", ");
    rcv_json_chars(sink, dup->value, strlen(dup->value));
  }
  rcv_puts(sink, "\"");
  if (name != small)
    free(name);
}

static void rcv_record_headers(rcv_sink_t *sink, const struct evkeyvalq *hdrs) {
  int first = 1;

  rcv_puts(sink, "\"headers\":{");
  for (const struct evkeyval *kv = hdrs->tqh_first; kv; kv = kv->next.tqe_next) {
    const struct evkeyval *prior = hdrs->tqh_first;

    while (prior != kv && strcasecmp(prior->key, kv->key) != 0)
      prior = prior->next.tqe_next;
    if (prior != kv)
      continue; /* written with its first occurrence */
    rcv_puts(sink, first ? "" : ",");
    first = 0;
    rcv_record_header(sink, kv);
  }
  rcv_puts(sink, "},");
}

typedef struct rcv_seen {
  struct timespec at;
  const char *path, *query;
  long n;
  const unsigned char *body;
  size_t body_len;
  int sig_ok; /* -1: not checked */
} rcv_seen_t;

static void rcv_record(struct evhttp_request *req, const rcv_seen_t *seen, const rcv_step_t *step) {
  rcv_sink_t sink = {rcv.rec, NULL};
  char num[64];
  int len;

  len = snprintf(num, sizeof(num), "{\"t\":%lld.%06ld,\"path\":", (long long)seen->at.tv_sec,
                 seen->at.tv_nsec / 1000);
  rcv_put(&sink, num, (size_t)len);
  rcv_json_str(&sink, seen->path, strlen(seen->path));
  if (seen->query) {
    rcv_puts(&sink, ",\"query\":");
    rcv_json_str(&sink, seen->query, strlen(seen->query));
  }
  rcv_puts(&sink, ",\"method\":\"");
  rcv_puts(&sink, rcv_method(evhttp_request_get_command(req)));
  rcv_puts(&sink, "\",");
  rcv_record_headers(&sink, evhttp_request_get_input_headers(req));
  rcv_puts(&sink, "\"body\":");
  rcv_json_str(&sink, seen->body, seen->body_len);
  rcv_puts(&sink, ",\"status\":");
  if (step->act == RCV_ANSWER)
    rcv_json_long(&sink, step->status);
  else
    rcv_puts(&sink, step->act == RCV_HANG ? "\"hang\"" : "\"reset\"");
  rcv_puts(&sink, ",\"n\":");
  rcv_json_long(&sink, seen->n);
  if (seen->sig_ok >= 0)
    rcv_puts(&sink, seen->sig_ok ? ",\"sig_ok\":true" : ",\"sig_ok\":false");
  rcv_puts(&sink, "}\n");
  if (fflush(rcv.rec) != 0) {
    fprintf(stderr, RCV_NAME ": writing the record failed: %s; recording stops\n", strerror(errno));
    rcv.rec_broken = 1;
  }
}

/* ---- answering ---------------------------------------------------------------------- */

static void rcv_answer(struct evhttp_request *req, const rcv_step_t *step) {
  struct evkeyvalq *out = evhttp_request_get_output_headers(req);
  char value[64];

  evhttp_add_header(out, "Content-Type", "text/plain");
  if (step->retry_after >= 0 && step->ra_date) {
    time_t when = time(NULL) + step->retry_after;
    struct tm tm;

    gmtime_r(&when, &tm);
    strftime(value, sizeof(value), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    evhttp_add_header(out, "Retry-After", value);
  } else if (step->retry_after >= 0) {
    snprintf(value, sizeof(value), "%ld", step->retry_after);
    evhttp_add_header(out, "Retry-After", value);
  }
  if (step->location)
    evhttp_add_header(out, "Location", step->location);
  if (rcv.body_len)
    evbuffer_add_reference(rcv.reply, rcv.body, rcv.body_len, NULL, NULL);
  evhttp_send_reply(req, step->status, NULL, rcv.reply);
}

static rcv_pend_t *rcv_pend_get(struct evhttp_request *req, const rcv_step_t *step) {
  rcv_pend_t *pend = rcv.spare;

  if (pend) {
    rcv.spare = pend->next;
  } else {
    pend = rcv_xalloc(sizeof(*pend));
    pend->ev = event_new(rcv.base, -1, 0, NULL, NULL);
    if (!pend->ev)
      rcv_die("event_new failed", NULL);
  }
  pend->req = req;
  pend->step = step;
  pend->prev = NULL;
  pend->next = rcv.active;
  if (rcv.active)
    rcv.active->prev = pend;
  rcv.active = pend;
  return pend;
}

static void rcv_pend_put(rcv_pend_t *pend) {
  event_del(pend->ev);
  if (pend->prev)
    pend->prev->next = pend->next;
  else
    rcv.active = pend->next;
  if (pend->next)
    pend->next->prev = pend->prev;
  pend->req = NULL;
  pend->next = rcv.spare;
  rcv.spare = pend;
}

static void rcv_pend_free_all(void) {
  rcv_pend_t *lists[2] = {rcv.active, rcv.spare};

  for (int l = 0; l < 2; l++) {
    while (lists[l]) {
      rcv_pend_t *pend = lists[l];

      lists[l] = pend->next;
      event_free(pend->ev);
      free(pend);
    }
  }
  rcv.active = rcv.spare = NULL;
}

static evutil_socket_t rcv_req_fd(struct evhttp_request *req, struct evhttp_connection **evcon) {
  *evcon = evhttp_request_get_connection(req);
  return bufferevent_getfd(evhttp_connection_get_bufferevent(*evcon));
}

static void rcv_delay_cb(evutil_socket_t fd, short what, void *arg) {
  rcv_pend_t *pend = arg;

  (void)fd;
  (void)what;
  rcv_answer(pend->req, pend->step);
  rcv_pend_put(pend);
}

/* Close with RST: connect(AF_UNSPEC) aborts the TCP connection at once (Linux), and
 * SO_LINGER 0 covers the close evhttp does next, so the client never sees a clean FIN. */
static void rcv_reset_cb(evutil_socket_t unused, short what, void *arg) {
  rcv_pend_t *pend = arg;
  struct evhttp_connection *evcon;
  evutil_socket_t fd = rcv_req_fd(pend->req, &evcon);
  struct linger lg = {1, 0};
  struct sockaddr unspec = {.sa_family = AF_UNSPEC};

  (void)unused;
  (void)what;
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  connect(fd, &unspec, sizeof(unspec));
  rcv_pend_put(pend);
  evhttp_connection_free(evcon); /* frees the request too: it is still queued on evcon */
}

/* A hung request: evhttp does not read while a request is open, so watch the socket here
 * and free the connection once the client gives up; bytes it sends meanwhile are dropped. */
static void rcv_hang_cb(evutil_socket_t fd, short what, void *arg) {
  rcv_pend_t *pend = arg;
  struct evhttp_connection *evcon;
  char scratch[4096];
  ssize_t got = recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT);

  (void)what;
  if (got > 0 || (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
    return;
  rcv_req_fd(pend->req, &evcon);
  rcv_pend_put(pend);
  evhttp_connection_free(evcon);
}

static void rcv_act(struct evhttp_request *req, const rcv_step_t *step) {
  struct evhttp_connection *evcon;
  struct timeval tv = {step->delay_ms / 1000, (step->delay_ms % 1000) * 1000};
  rcv_pend_t *pend;

  if (step->act == RCV_ANSWER && step->delay_ms == 0) {
    rcv_answer(req, step);
    return;
  }
  pend = rcv_pend_get(req, step);
  if (step->act == RCV_HANG) {
    event_assign(pend->ev, rcv.base, rcv_req_fd(req, &evcon), EV_READ | EV_PERSIST, rcv_hang_cb,
                 pend);
    event_add(pend->ev, NULL);
    return;
  }
  /* resets are deferred even without a delay: never free the connection under evhttp */
  event_assign(pend->ev, rcv.base, -1, 0, step->act == RCV_RESET ? rcv_reset_cb : rcv_delay_cb,
               pend);
  event_add(pend->ev, &tv);
}

static void rcv_stats_answer(struct evhttp_request *req) {
  rcv_sink_t sink = {NULL, rcv.reply};
  int first = 1;
  char code[16];

  rcv_puts(&sink, "{\"requests\":");
  rcv_json_long(&sink, rcv.requests);
  rcv_puts(&sink, ",\"by_path\":{");
  for (size_t i = 0; i < rcv.cap; i++) {
    if (!rcv.paths[i].path)
      continue;
    rcv_puts(&sink, first ? "" : ",");
    first = 0;
    rcv_json_str(&sink, rcv.paths[i].path, rcv.paths[i].len);
    rcv_puts(&sink, ":");
    rcv_json_long(&sink, rcv.paths[i].n);
  }
  rcv_puts(&sink, "},\"by_status\":{");
  first = 1;
  for (int status = 200; status < 600; status++) {
    if (!rcv.by_status[status])
      continue;
    snprintf(code, sizeof(code), "%s\"%d\":", first ? "" : ",", status);
    rcv_puts(&sink, code);
    rcv_json_long(&sink, rcv.by_status[status]);
    first = 0;
  }
  if (rcv.hangs) {
    rcv_puts(&sink, first ? "\"hang\":" : ",\"hang\":");
    rcv_json_long(&sink, rcv.hangs);
    first = 0;
  }
  if (rcv.resets) {
    rcv_puts(&sink, first ? "\"reset\":" : ",\"reset\":");
    rcv_json_long(&sink, rcv.resets);
  }
  rcv_puts(&sink, "}");
  if (rcv.nkeys) {
    rcv_puts(&sink, ",\"sig_ok\":");
    rcv_json_long(&sink, rcv.sig_good);
    rcv_puts(&sink, ",\"sig_bad\":");
    rcv_json_long(&sink, rcv.sig_bad);
  }
  rcv_puts(&sink, "}\n");
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
  evhttp_send_reply(req, 200, NULL, rcv.reply);
}

static void rcv_request_cb(struct evhttp_request *req, void *arg) {
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
  rcv_seen_t seen = {.sig_ok = -1};
  const rcv_step_t *step;
  rcv_path_t *rp;

  (void)arg;
  clock_gettime(CLOCK_REALTIME, &seen.at);
  seen.path = uri ? evhttp_uri_get_path(uri) : NULL;
  if (!seen.path || !seen.path[0])
    seen.path = "/";
  if (strcmp(seen.path, "/_stats") == 0) {
    rcv_stats_answer(req);
    return;
  }
  seen.query = uri ? evhttp_uri_get_query(uri) : NULL;
  seen.body_len = evbuffer_get_length(in);
  seen.body = seen.body_len ? evbuffer_pullup(in, -1) : NULL;
  if (!seen.body) {
    seen.body = (const unsigned char *)"";
    seen.body_len = 0;
  }
  rp = rcv_path_get(seen.path, strlen(seen.path));
  seen.n = ++rp->n;
  step = rcv_step_pick(rp);
  rcv.requests++;
  if (step->act == RCV_ANSWER)
    rcv.by_status[step->status]++;
  else if (step->act == RCV_HANG)
    rcv.hangs++;
  else
    rcv.resets++;
  if (rcv.nkeys) {
    seen.sig_ok = rcv_sig_verify(
        evhttp_find_header(hdrs, "webhook-id"), evhttp_find_header(hdrs, "webhook-timestamp"),
        evhttp_find_header(hdrs, "webhook-signature"), seen.body, seen.body_len);
    if (seen.sig_ok)
      rcv.sig_good++;
    else
      rcv.sig_bad++;
  }
  if (rcv.rec && !rcv.rec_broken)
    rcv_record(req, &seen, step);
  rcv_act(req, step);
}

/* ---- options (one table drives getopt and --help) ------------------------------------ */

typedef struct rcv_opt {
  const char *name;
  const char *arg; /* NULL: a flag */
  int key;
  const char *help;
} rcv_opt_t;

static const rcv_opt_t rcv_opts[] = {
    {"listen", "HOST:PORT", 'l',
     "loopback address: 127.x.x.x, localhost or [::1]\n(default 127.0.0.1:0, a random free port)"},
    {"port-file", "FILE", 'p', "also write the bound port to FILE (tmp + rename)"},
    {"rule", "PATH=SPEC", 'r',
     "how PATH (exact, no query; '*' = fallback) answers:\nsee SPEC below; repeatable"},
    {"fail-pct", "N", 'F', "answer 500 to N% of requests at random"},
    {"timeout-pct", "N", 'T', "hang on N% of requests at random"},
    {"reset-pct", "N", 'X', "reset N% of requests at random"},
    {"seed", "N", 'S', "seed of those draws (default: from time and pid,\nprinted on stderr)"},
    {"record", "FILE", 'R', "append one NDJSON line per request ('-' = stdout)"},
    {"verify-secret", "SECRET", 'v',
     "whsec_<base64>: check webhook-signature (Standard\nWebhooks v1), record sig_ok; repeatable "
     "(rotation)"},
    {"body-bytes", "N", 'b', "answer an N-byte body instead of \"ok\""},
    {"max-body", "BYTES", 'm', "larger request bodies get 413 (default 16 MiB)"},
    {"max-seconds", "N", 'x', "exit 0 by itself after N seconds"},
    {"selftest", "VECTORS.json", 's',
     "check the signature verifier against the Standard\nWebhooks vectors file; exit 0 or 1"},
    {"help", NULL, 'h', "this text"},
};

#define RCV_NOPTS (sizeof(rcv_opts) / sizeof(rcv_opts[0]))

static void rcv_usage(FILE *out) {
  fprintf(out, "usage: " RCV_NAME " [options]\n"
               "A test webhook endpoint on loopback. Prints port=N once listening.\n\n");
  for (size_t i = 0; i < RCV_NOPTS; i++) {
    const char *h = rcv_opts[i].help;
    char left[48];

    snprintf(left, sizeof(left), "--%s%s%s", rcv_opts[i].name, rcv_opts[i].arg ? " " : "",
             rcv_opts[i].arg ? rcv_opts[i].arg : "");
    fprintf(out, "  %-24s ", left);
    for (size_t len = strcspn(h, "\n");; len = strcspn(h, "\n")) {
      fprintf(out, "%.*s\n", (int)len, h);
      if (!h[len])
        break;
      h += len + 1;
      fprintf(out, "  %-24s ", "");
    }
  }
  fprintf(out, "\nSPEC: comma-separated elements for the 1st, 2nd, ... request on PATH, the last\n"
               "repeating (no rule: 200). Chaos percentages are drawn before the rules.\n"
               "  STATUS[@MS][+ra=S|+rad=S][+loc=URL]  STATUS 200-599 after MS milliseconds;\n"
               "       +ra Retry-After: S, +rad Retry-After: HTTP-date S seconds ahead,\n"
               "       +loc Location: URL (takes the rest of the element)\n"
               "  reset[@MS]   close the connection with a TCP RST instead of answering\n"
               "  hang         never answer, keep the connection until the client leaves\n"
               "e.g. --rule '/ep1=500,500,200' --rule '/slow=200@3000' --rule '*=503+ra=5'\n"
               "\nGET /_stats answers {\"requests\":N,\"by_path\":{..},\"by_status\":{..}}.\n"
               "SIGTERM/SIGINT: flush and exit 0. Bad usage exits 2.\n");
}

static long rcv_opt_long(const char *name, const char *s, long min, long max) {
  long v;

  if (rcv_parse_long(s, min, max, &v) != 0)
    rcv_die(name, "not a number in range");
  return v;
}

static int rcv_conf_parse(int argc, char **argv, rcv_conf_t *conf) {
  struct option longs[RCV_NOPTS + 1];
  int key;

  memset(longs, 0, sizeof(longs));
  for (size_t i = 0; i < RCV_NOPTS; i++) {
    longs[i].name = rcv_opts[i].name;
    longs[i].has_arg = rcv_opts[i].arg ? required_argument : no_argument;
    longs[i].val = rcv_opts[i].key;
  }
  while ((key = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
    switch (key) {
    case 'l':
      conf->listen = optarg;
      break;
    case 'p':
      conf->port_file = optarg;
      break;
    case 'r':
      rcv_rule_add(optarg);
      break;
    case 'F':
      conf->fail_pct = rcv_parse_pct(optarg);
      break;
    case 'T':
      conf->timeout_pct = rcv_parse_pct(optarg);
      break;
    case 'X':
      conf->reset_pct = rcv_parse_pct(optarg);
      break;
    case 'S':
      conf->seed = (unsigned long long)rcv_opt_long("--seed", optarg, 0, LONG_MAX);
      conf->seeded = 1;
      break;
    case 'R':
      conf->record = optarg;
      break;
    case 'v':
      if (rcv_secret_add(optarg) != 0)
        rcv_die("--verify-secret wants whsec_<base64> (at most 8)", NULL);
      break;
    case 'b':
      conf->body_bytes = rcv_opt_long("--body-bytes", optarg, 0, 1L << 30);
      break;
    case 'm':
      conf->max_body = rcv_opt_long("--max-body", optarg, 1, 1L << 40);
      break;
    case 'x':
      conf->max_seconds = rcv_opt_long("--max-seconds", optarg, 1, 1L << 30);
      break;
    case 's':
      conf->selftest = optarg;
      break;
    case 'h':
      rcv_usage(stdout);
      exit(0);
    default:
      rcv_usage(stderr);
      return -1;
    }
  }
  if (optind < argc)
    rcv_die("unexpected argument", argv[optind]);
  if (conf->fail_pct + conf->timeout_pct + conf->reset_pct > 100)
    rcv_die("--fail-pct + --timeout-pct + --reset-pct exceed 100", NULL);
  return 0;
}

/* ---- setup and main loop ------------------------------------------------------------ */

static int rcv_is_loopback(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

    return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
  }
  if (ss->ss_family == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
  return 0;
}

/* HOST:PORT or [V6]:PORT, numeric or "localhost"; 0 ok. */
static int rcv_parse_hostport(const char *hostport, struct sockaddr_storage *ss, socklen_t *sslen) {
  const char *colon, *host = hostport;
  size_t hostlen;
  char name[64];
  long port;

  memset(ss, 0, sizeof(*ss));
  if (hostport[0] == '[') {
    const char *close = strchr(hostport, ']');

    if (!close || close[1] != ':')
      return -1;
    host = hostport + 1;
    hostlen = (size_t)(close - host);
    colon = close + 1;
  } else {
    colon = strrchr(hostport, ':');
    if (!colon || memchr(hostport, ':', (size_t)(colon - hostport)))
      return -1;
    hostlen = (size_t)(colon - hostport);
  }
  if (hostlen == 0 || hostlen >= sizeof(name) || rcv_parse_long(colon + 1, 0, 65535, &port) != 0)
    return -1;
  memcpy(name, host, hostlen);
  name[hostlen] = '\0';
  if (strcmp(name, "localhost") == 0)
    snprintf(name, sizeof(name), "127.0.0.1");
  if (inet_pton(AF_INET, name, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
    ((struct sockaddr_in *)ss)->sin_family = AF_INET;
    ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    *sslen = sizeof(struct sockaddr_in);
    return 0;
  }
  if (inet_pton(AF_INET6, name, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
    ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
    ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    *sslen = sizeof(struct sockaddr_in6);
    return 0;
  }
  return -1;
}

/* Binds evhttp to a loopback HOST:PORT; returns the bound port. */
static int rcv_listen(const char *hostport) {
  struct sockaddr_storage ss;
  socklen_t sslen;
  struct evconnlistener *lev;

  if (rcv_parse_hostport(hostport, &ss, &sslen) != 0)
    rcv_die("--listen wants HOST:PORT with a numeric host or localhost (IPv6: [::1]:PORT)",
            hostport);
  if (!rcv_is_loopback(&ss))
    rcv_die("refusing a non-loopback --listen address", hostport);
  lev = evconnlistener_new_bind(rcv.base, NULL, NULL,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                1024, (struct sockaddr *)&ss, (int)sslen);
  if (!lev)
    rcv_die("cannot listen", strerror(errno));
  if (!evhttp_bind_listener(rcv.http, lev))
    rcv_die("evhttp_bind_listener failed", NULL);
  sslen = sizeof(ss);
  if (getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&ss, &sslen) != 0)
    rcv_die("getsockname", strerror(errno));
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void rcv_port_file_write(const char *path, int port) {
  char tmp[4096], num[16];
  int fd, len = snprintf(num, sizeof(num), "%d\n", port);

  if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
    rcv_die("--port-file path too long", path);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    rcv_die("cannot write the port file", strerror(errno));
  if (write(fd, num, (size_t)len) != len || close(fd) != 0 || rename(tmp, path) != 0) {
    unlink(tmp);
    rcv_die("cannot write the port file", strerror(errno));
  }
}

static void rcv_signal_cb(evutil_socket_t sig, short what, void *arg) {
  (void)sig;
  (void)what;
  (void)arg;
  event_base_loopbreak(rcv.base);
}

static void rcv_deadline_cb(evutil_socket_t unused, short what, void *arg) {
  (void)unused;
  (void)what;
  (void)arg;
  fprintf(stderr, RCV_NAME ": --max-seconds reached, exiting\n");
  event_base_loopbreak(rcv.base);
}

static void rcv_setup(const rcv_conf_t *conf) {
  struct rlimit rl;

  signal(SIGPIPE, SIG_IGN);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  rcv.fail_pct = conf->fail_pct;
  rcv.timeout_pct = conf->timeout_pct;
  rcv.reset_pct = conf->reset_pct;
  rcv.rng = conf->seeded ? conf->seed
                         : ((uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid()) & INT64_MAX;
  if (!conf->seeded && rcv.fail_pct + rcv.timeout_pct + rcv.reset_pct > 0)
    fprintf(stderr, RCV_NAME ": chaos seed=%llu\n", (unsigned long long)rcv.rng);
  rcv.rng = rcv.rng * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL; /* never 0 in practice */
  if (!rcv.rng)
    rcv.rng = 1;
  rcv.fallback = rcv_rule_find("*", 1);
  if (conf->body_bytes < 0) {
    rcv.body = rcv_xstrndup("ok", 2);
    rcv.body_len = 2;
  } else {
    rcv.body_len = (size_t)conf->body_bytes;
    rcv.body = rcv_xalloc(rcv.body_len + 1);
    memset(rcv.body, 'x', rcv.body_len);
  }
  if (conf->record) {
    rcv.rec = strcmp(conf->record, "-") == 0 ? stdout : fopen(conf->record, "ae");
    if (!rcv.rec)
      rcv_die("cannot open the record file", strerror(errno));
    setvbuf(rcv.rec, NULL, _IOFBF, 1 << 16);
  }
  rcv.base = event_base_new();
  rcv.http = rcv.base ? evhttp_new(rcv.base) : NULL;
  rcv.reply = evbuffer_new();
  if (!rcv.http || !rcv.reply)
    rcv_die("libevent setup failed", NULL);
  evhttp_set_max_body_size(rcv.http, conf->max_body);
  evhttp_set_allowed_methods(rcv.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                           EVHTTP_REQ_PATCH);
  evhttp_set_gencb(rcv.http, rcv_request_cb, NULL);
}

int main(int argc, char **argv) {
  rcv_conf_t conf = {.listen = "127.0.0.1:0", .body_bytes = -1, .max_body = 16L << 20};
  struct event *sigterm, *sigint, *deadline = NULL;
  int port;

  if (rcv_conf_parse(argc, argv, &conf) != 0)
    return 2;
  if (conf.selftest)
    return rcv_selftest(conf.selftest);
  rcv_setup(&conf);
  port = rcv_listen(conf.listen);
  sigterm = evsignal_new(rcv.base, SIGTERM, rcv_signal_cb, NULL);
  sigint = evsignal_new(rcv.base, SIGINT, rcv_signal_cb, NULL);
  if (!sigterm || !sigint || evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL))
    rcv_die("cannot watch signals", NULL);
  if (conf.max_seconds > 0) {
    struct timeval tv = {conf.max_seconds, 0};

    deadline = evtimer_new(rcv.base, rcv_deadline_cb, NULL);
    if (!deadline || evtimer_add(deadline, &tv) != 0)
      rcv_die("cannot arm --max-seconds", NULL);
  }
  printf("port=%d\n", port);
  fflush(stdout);
  if (conf.port_file)
    rcv_port_file_write(conf.port_file, port);
  event_base_dispatch(rcv.base);

  rcv_pend_free_all(); /* before evhttp_free, which frees the connections and requests */
  evhttp_free(rcv.http);
  evbuffer_free(rcv.reply);
  event_free(sigterm);
  event_free(sigint);
  if (deadline)
    event_free(deadline);
  event_base_free(rcv.base);
  if (rcv.rec)
    fflush(rcv.rec);
  if (rcv.rec && rcv.rec != stdout)
    fclose(rcv.rec);
  rcv_paths_free();
  rcv_rules_free();
  free(rcv.body);
  return 0;
}
