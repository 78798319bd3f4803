/*
 * ssrf.c - deny-list classification of IPv4/IPv6 addresses and URL host checks (see ssrf.h).
 * IPv6 outside 2000::/3 (global unicast) is denied as "reserved" after the specific ranges, so
 * only public unicast passes.  Owns the parsed allow list; no global mutable state.
 */
#include "ssrf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct hl_cidr {
  int family; /* AF_INET or AF_INET6 */
  unsigned char addr[16];
  int prefix;
} hl_cidr_t;

struct hl_ssrf {
  hl_cidr_t *allow;
  size_t nallow;
};

typedef struct hl_range4 {
  uint32_t net;
  int prefix;
  const char *reason;
} hl_range4_t;

static const hl_range4_t hl_deny4[] = {
    {0x00000000, 8, "this_network"},   {0x0A000000, 8, "private"},
    {0x64400000, 10, "cgnat"},         {0x7F000000, 8, "loopback"},
    {0xA9FE0000, 16, "link_local"},    {0xAC100000, 12, "private"},
    {0xC0000000, 24, "reserved"},      {0xC0000200, 24, "documentation"},
    {0xC0586300, 24, "reserved"},      {0xC0A80000, 16, "private"},
    {0xC6120000, 15, "benchmarking"},  {0xC6336400, 24, "documentation"},
    {0xCB007100, 24, "documentation"}, {0xE0000000, 4, "multicast"},
    {0xFFFFFFFF, 32, "broadcast"},     {0xF0000000, 4, "reserved"},
};

typedef struct hl_range6 {
  unsigned char net[16];
  int prefix;
  const char *reason;
} hl_range6_t;

static const hl_range6_t hl_deny6[] = {
    {{0}, 128, "unspecified"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
    {{0xfe, 0x80}, 10, "link_local"},
    {{0xfc}, 7, "unique_local"},
    {{0xfe, 0xc0}, 10, "site_local"},
    {{0xff}, 8, "multicast"},
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "documentation"},
    {{0x3f, 0xff}, 20, "documentation"},
    {{0x01, 0x00}, 64, "discard"},
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, "nat64_local"},
    {{0x20, 0x01, 0x00, 0x00}, 32, "teredo"},
    {{0x20, 0x01, 0x00, 0x10}, 28, "reserved"},
    {{0x20, 0x01, 0x00, 0x20}, 28, "reserved"},
    {{0x20, 0x01, 0x00, 0x02, 0x00, 0x00}, 48, "benchmarking"},
    {{0x20, 0x01}, 23, "reserved"},
};

static int hl_prefix_match(const unsigned char *a, const unsigned char *net, int prefix) {
  int bytes = prefix / 8, bits = prefix % 8;

  if (memcmp(a, net, (size_t)bytes) != 0)
    return 0;
  return bits == 0 || ((a[bytes] ^ net[bytes]) & (0xff << (8 - bits))) == 0;
}

static int hl_ssrf_allowed(const hl_ssrf_t *ssrf, int family, const unsigned char *addr) {
  for (size_t i = 0; ssrf && i < ssrf->nallow; i++) {
    if (ssrf->allow[i].family == family &&
        hl_prefix_match(addr, ssrf->allow[i].addr, ssrf->allow[i].prefix))
      return 1;
  }
  return 0;
}

static const char *hl_ssrf_v4(const hl_ssrf_t *ssrf, const unsigned char *a) {
  uint32_t ip = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];

  if (hl_ssrf_allowed(ssrf, AF_INET, a))
    return NULL;
  for (size_t i = 0; i < sizeof(hl_deny4) / sizeof(hl_deny4[0]); i++) {
    uint32_t mask = hl_deny4[i].prefix ? 0xFFFFFFFFu << (32 - hl_deny4[i].prefix) : 0;

    if ((ip & mask) == hl_deny4[i].net)
      return hl_deny4[i].reason;
  }
  return NULL;
}

/* The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4); 1 when found. */
static int hl_ssrf_embedded_v4(const unsigned char *a, unsigned char v4[4]) {
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const unsigned char zero12[12] = {0};
  static const unsigned char nat64[12] = {0x00, 0x64, 0xff, 0x9b};

  if (!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12) ||
      (!memcmp(a, zero12, 12) && ((a[12] | a[13] | a[14]) || a[15] > 1))) { /* not :: or ::1 */
    memcpy(v4, a + 12, 4);
    return 1;
  }
  if (a[0] == 0x20 && a[1] == 0x02) { /* 6to4 2002:AABB:CCDD::/48 */
    memcpy(v4, a + 2, 4);
    return 1;
  }
  return 0;
}

static const char *hl_ssrf_v6(const hl_ssrf_t *ssrf, const unsigned char *a) {
  unsigned char v4[4];

  if (hl_ssrf_allowed(ssrf, AF_INET6, a))
    return NULL;
  if (hl_ssrf_embedded_v4(a, v4))
    return hl_ssrf_v4(ssrf, v4);
  for (size_t i = 0; i < sizeof(hl_deny6) / sizeof(hl_deny6[0]); i++) {
    if (hl_prefix_match(a, hl_deny6[i].net, hl_deny6[i].prefix))
      return hl_deny6[i].reason;
  }
  if ((a[0] & 0xe0) != 0x20)
    return "reserved"; /* not global unicast 2000::/3: 1::, 4000::, 5f00::, ::ffff:0:0:0/96... */
  return NULL;
}

const char *hl_ssrf_check_sockaddr(const hl_ssrf_t *ssrf, const struct sockaddr *sa) {
  if (!sa)
    return "not_an_address";
  if (sa->sa_family == AF_INET)
    return hl_ssrf_v4(ssrf, (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
  if (sa->sa_family == AF_INET6)
    return hl_ssrf_v6(ssrf, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
  return "not_an_address";
}

/* Characters a URL host may hold outside brackets: LDH, '_' and UTF-8 (IDN) bytes. */
static int hl_host_chars_ok(const char *h) {
  for (; *h; h++) {
    unsigned char c = (unsigned char)*h;

    if (!isalnum(c) && c != '-' && c != '.' && c != '_' && c < 0x80)
      return 0;
  }
  return 1;
}

/* Does the last label look like a number (decimal or 0x-hex), as WHATWG's "ends in a number"? */
static int hl_ends_in_number(const char *h) {
  const char *label = strrchr(h, '.') ? strrchr(h, '.') + 1 : h;

  if (label[0] == '0' && (label[1] == 'x' || label[1] == 'X'))
    return strspn(label + 2, "0123456789abcdefABCDEF") == strlen(label + 2);
  return *label && strspn(label, "0123456789") == strlen(label);
}

static int hl_parse_v6(char *buf, struct sockaddr_storage *out) {
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
  char *zone = strchr(buf, '%');

  if (zone) { /* fe80::1%eth0 or, URL-encoded, %25eth0; the zone is not kept */
    *zone++ = '\0';
    if (strncmp(zone, "25", 2) == 0 && zone[2])
      zone += 2;
    if (!*zone ||
        strspn(zone, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-") !=
            strlen(zone))
      return -1;
  }
  if (inet_pton(AF_INET6, buf, &s6->sin6_addr) != 1)
    return -1;
  s6->sin6_family = AF_INET6;
  return 1;
}

static int hl_parse_v4(char *buf, struct sockaddr_storage *out) {
  size_t n = strlen(buf);
  struct in_addr a4;

  if (n > 1 && buf[n - 1] == '.')
    buf[n - 1] = '\0'; /* "127.0.0.1." */
  if (!hl_host_chars_ok(buf))
    return -1;
  if (!hl_ends_in_number(buf))
    return 0;
  /* inet_aton reads the legacy forms getaddrinfo accepts (octal, hex, fewer parts); a name
   * ending in a number that it rejects (127.0.0.1.1, 4294967296, 08.1) is no valid host */
  if (strspn(buf, "0123456789abcdefABCDEFxX.") != strlen(buf) || inet_aton(buf, &a4) == 0)
    return -1;
  ((struct sockaddr_in *)out)->sin_family = AF_INET;
  ((struct sockaddr_in *)out)->sin_addr = a4;
  return 1;
}

int hl_ssrf_parse_host(const char *host, struct sockaddr_storage *out) {
  size_t n = host ? strlen(host) : 0;
  int bracketed = n >= 2 && host[0] == '[' && host[n - 1] == ']', rc = -1;
  char *buf = n ? malloc(n + 1) : NULL; /* any length: "127.0.000(...)0.1" is still 127.0.0.1 */

  memset(out, 0, sizeof(*out));
  if (!buf)
    return -1;
  memcpy(buf, host + bracketed, n - 2 * (size_t)bracketed);
  buf[n - 2 * (size_t)bracketed] = '\0';
  if (bracketed || strchr(buf, ':'))
    rc = hl_parse_v6(buf, out);
  else if (!strpbrk(buf, "[]%"))
    rc = hl_parse_v4(buf, out);
  free(buf);
  return rc;
}

const char *hl_ssrf_check_ip(const hl_ssrf_t *ssrf, const char *ip) {
  struct sockaddr_storage ss;

  if (hl_ssrf_parse_host(ip, &ss) != 1)
    return "not_an_address";
  return hl_ssrf_check_sockaddr(ssrf, (struct sockaddr *)&ss);
}

static int hl_cidr_parse(const char *s, hl_cidr_t *c) {
  char buf[128], *slash;
  long prefix;

  if (strlen(s) >= sizeof(buf))
    return -1;
  strcpy(buf, s);
  slash = strchr(buf, '/');
  if (slash)
    *slash = '\0';
  memset(c, 0, sizeof(*c));
  if (inet_pton(AF_INET, buf, c->addr) == 1)
    c->family = AF_INET;
  else if (inet_pton(AF_INET6, buf, c->addr) == 1)
    c->family = AF_INET6;
  else
    return -1;
  prefix = c->family == AF_INET ? 32 : 128;
  if (slash) {
    char *end;

    if (!isdigit((unsigned char)slash[1]))
      return -1;
    long p = strtol(slash + 1, &end, 10);
    if (*end || p < 0 || p > prefix)
      return -1;
    prefix = p;
  }
  c->prefix = (int)prefix;
  return 0;
}

/* Strip leading and trailing whitespace in place (inner whitespace stays and fails parsing). */
static char *hl_trim(char *s) {
  size_t n;

  while (isspace((unsigned char)*s))
    s++;
  n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1]))
    s[--n] = '\0';
  return s;
}

hl_ssrf_t *hl_ssrf_new(const char *allow_cidrs, char *errstr, size_t errsize) {
  hl_ssrf_t *ssrf = calloc(1, sizeof(*ssrf));
  char *list = strdup(allow_cidrs ? allow_cidrs : ""), *tok, *save = NULL;

  if (!ssrf || !list)
    goto fail;
  for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    hl_cidr_t *grown;

    tok = hl_trim(tok);
    if (!*tok)
      continue;
    grown = realloc(ssrf->allow, (ssrf->nallow + 1) * sizeof(*grown));
    if (!grown)
      goto fail;
    ssrf->allow = grown;
    if (hl_cidr_parse(tok, &ssrf->allow[ssrf->nallow]) != 0) {
      snprintf(errstr, errsize, "delivery.allow_cidrs: \"%s\" is not a CIDR like 127.0.0.0/8", tok);
      goto fail;
    }
    ssrf->nallow++;
  }
  free(list);
  return ssrf;
fail:
  free(list);
  hl_ssrf_destroy(&ssrf);
  return NULL;
}

void hl_ssrf_destroy(hl_ssrf_t **ssrfp) {
  if (!ssrfp || !*ssrfp)
    return;
  free((*ssrfp)->allow);
  free(*ssrfp);
  *ssrfp = NULL;
}

static int hl_is_localhost(const char *host) {
  size_t n = strlen(host);

  if (n && host[n - 1] == '.')
    n--; /* "localhost." */
  return (n == 9 && !strncasecmp(host, "localhost", 9)) ||
         (n > 10 && !strncasecmp(host + n - 10, ".localhost", 10));
}

/* Host part checks; 0 ok. */
static int hl_ssrf_check_host(const hl_ssrf_t *ssrf, const char *host, char *errstr,
                              size_t errsize) {
  struct sockaddr_storage ss;
  const char *why;
  int lit = hl_ssrf_parse_host(host, &ss);

  if (lit < 0) {
    snprintf(errstr, errsize, "url: host %s is neither a host name nor an IP address", host);
    return -1;
  }
  if (hl_is_localhost(host)) {
    static const unsigned char lo[4] = {127, 0, 0, 1};

    why = hl_ssrf_v4(ssrf, lo);
  } else if (lit == 1) {
    why = hl_ssrf_check_sockaddr(ssrf, (struct sockaddr *)&ss);
  } else {
    return 0;
  }
  if (!why)
    return 0;
  snprintf(errstr, errsize, "url: host %s is a %s address; allow it with delivery.allow_cidrs",
           host, why);
  return -1;
}

int hl_ssrf_check_url(const hl_ssrf_t *ssrf, const char *url, int https_only, char *errstr,
                      size_t errsize) {
  CURLU *u = curl_url();
  char *scheme = NULL, *user = NULL, *pass = NULL, *host = NULL;
  int rc = -1;

  if (!u || strlen(url) > 2048 || strpbrk(url, " \r\n\t") ||
      curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    snprintf(errstr, errsize, "url: not a valid absolute URL");
    goto out;
  }
  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
  if (!scheme || (strcmp(scheme, "https") != 0 && (https_only || strcmp(scheme, "http") != 0))) {
    snprintf(errstr, errsize, "url: scheme must be %s", https_only ? "https" : "http or https");
    goto out;
  }
  curl_url_get(u, CURLUPART_USER, &user, 0);
  curl_url_get(u, CURLUPART_PASSWORD, &pass, 0);
  if (user || pass) {
    snprintf(errstr, errsize, "url: must not contain credentials (user:password@)");
    goto out;
  }
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
    snprintf(errstr, errsize, "url: host required");
    goto out;
  }
  rc = hl_ssrf_check_host(ssrf, host, errstr, errsize);
out:
  curl_free(scheme);
  curl_free(user);
  curl_free(pass);
  curl_free(host);
  curl_url_cleanup(u);
  return rc;
}
