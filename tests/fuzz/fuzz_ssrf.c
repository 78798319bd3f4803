/*
 * fuzz_ssrf: the SSRF guard's parsers and classifier on arbitrary text: a host as a URL may carry
 * it (hl_ssrf_parse_host), a whole URL (hl_ssrf_check_url), an allow list (hl_ssrf_new). Checks:
 * a literal the guard reads must classify the same as the address inet_ntop prints back, and a
 * host it takes for a name must be one the resolver does not read as a numeric address
 * (getaddrinfo with AI_NUMERICHOST, no lookup) - else the URL check could be bypassed.
 */
#include <arpa/inet.h>
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

    if (getaddrinfo(host, NULL, &hints, &res) == 0)
      abort(); /* a "name" the resolver reads as an address */
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
  hl_ssrf_check_url(NULL, s, 0, err, sizeof(err));
  hl_ssrf_check_url(NULL, url, 1, err, sizeof(err));
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
