/*
 * fuzz_ssrf: the SSRF guard's parsers and classifier on arbitrary text: a host as a URL may carry
 * it (hl_ssrf_parse_host), a whole URL (hl_ssrf_check_url), an allow list (hl_ssrf_new). Checks:
 * a literal the guard reads must classify the same as the address inet_ntop prints back, and a
 * host it takes for a name must be one the resolver does not read as a numeric address
 * (getaddrinfo with AI_NUMERICHOST, no lookup) - else the URL check could be bypassed. And a URL
 * the check accepts must not have a host that curl will connect to as a denied address literal.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssrf.h"

static void hl_fz_host(const char *host) {
  struct sockaddr_storage ss;
  char txt[INET6_ADDRSTRLEN];
  const char *why, *again;

  int kind = hl_ssrf_parse_host(host, &ss);

  if (kind == 0) {
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST}, *res = NULL;

    if (getaddrinfo(host, NULL, &hints, &res) == 0) {
      freeaddrinfo(res);
      abort(); /* a "name" the resolver reads as an address */
    }
    return;
  }
  if (kind != 1)
    return;
  why = hl_ssrf_check_sockaddr(NULL, (struct sockaddr *)&ss);
  if (ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, txt, sizeof(txt));
  else
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, txt, sizeof(txt));
  again = hl_ssrf_check_ip(NULL, txt);
  if ((why == NULL) != (again == NULL) || (why && strcmp(why, again) != 0))
    abort(); /* the same address, two verdicts */
}

/* url passed hl_ssrf_check_url with no allow list: the host curl takes from it, when numeric to
 * the resolver, must be an address the guard allows. */
static void hl_fz_url_agrees(const char *url) {
  CURLU *u = curl_url();
  char *host = NULL, buf[256];
  struct addrinfo hints = {.ai_flags = AI_NUMERICHOST}, *res = NULL;

  if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && strlen(host) < sizeof(buf)) {
    size_t n = strlen(host);
    int br = n >= 2 && host[0] == '[' && host[n - 1] == ']';

    memcpy(buf, host + br, n - 2 * (size_t)br);
    buf[n - 2 * (size_t)br] = '\0';
    if (getaddrinfo(buf, NULL, &hints, &res) == 0) {
      if (hl_ssrf_check_sockaddr(NULL, res->ai_addr) != NULL)
        abort(); /* accepted URL, denied address */
      freeaddrinfo(res);
    }
  }
  curl_free(host);
  curl_url_cleanup(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1), *url = malloc(size + 16), err[512];
  hl_ssrf_t *allow;

  if (!s || !url)
    abort();
  memcpy(s, data, size);
  s[size] = '\0';
  hl_fz_host(s);
  hl_ssrf_check_ip(NULL, s);
  memcpy(url, "http://", 7);
  memcpy(url + 7, s, size + 1);
  if (hl_ssrf_check_url(NULL, s, 0, err, sizeof(err)) == 0)
    hl_fz_url_agrees(s);
  if (hl_ssrf_check_url(NULL, url, 0, err, sizeof(err)) == 0)
    hl_fz_url_agrees(url);
  hl_ssrf_check_url(NULL, s, 1, err, sizeof(err)); /* https_only */
  allow = hl_ssrf_new(s, err, sizeof(err));
  if (allow) {
    hl_ssrf_check_ip(allow, "127.0.0.1");
    hl_ssrf_check_ip(allow, "::ffff:10.0.0.1");
    hl_ssrf_check_url(allow, url, 0, err, sizeof(err));
  }
  hl_ssrf_destroy(&allow);
  free(s);
  free(url);
  return 0;
}
