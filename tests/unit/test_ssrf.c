/*
 * test_ssrf: the address classifier on every range and encoding trick, the allow list, and URL
 * checks. Pure functions: nothing here connects anywhere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "ssrf.h"

typedef struct {
  const char *ip;
  const char *want; /* NULL: allowed */
} row_t;

static const row_t rows[] = {
    /* IPv4 ranges */
    {"127.0.0.1", "loopback"},
    {"127.255.255.254", "loopback"},
    {"10.0.0.1", "private"},
    {"10.255.255.255", "private"},
    {"172.16.0.1", "private"},
    {"172.31.255.255", "private"},
    {"172.32.0.1", NULL},
    {"172.15.255.255", NULL},
    {"192.168.1.1", "private"},
    {"169.254.169.254", "link_local"},
    {"169.254.0.1", "link_local"},
    {"100.64.0.1", "cgnat"},
    {"100.127.255.255", "cgnat"},
    {"100.128.0.1", NULL},
    {"0.0.0.0", "this_network"},
    {"0.1.2.3", "this_network"},
    {"192.0.0.8", "reserved"},
    {"192.0.2.1", "documentation"},
    {"198.51.100.7", "documentation"},
    {"203.0.113.9", "documentation"},
    {"198.18.0.1", "benchmarking"},
    {"198.19.255.255", "benchmarking"},
    {"192.88.99.1", "reserved"},
    {"224.0.0.1", "multicast"},
    {"239.255.255.250", "multicast"},
    {"240.0.0.1", "reserved"},
    {"255.255.255.255", "broadcast"},
    {"8.8.8.8", NULL},
    {"1.1.1.1", NULL},
    {"93.184.216.34", NULL},
    /* legacy IPv4 spellings getaddrinfo accepts */
    {"0177.0.0.1", "loopback"},
    {"0x7f000001", "loopback"},
    {"0x7F.0.0.1", "loopback"},
    {"2130706433", "loopback"},
    {"127.1", "loopback"},
    {"0x7f.1", "loopback"},
    {"017700000001", "loopback"},
    {"0xa9.0xfe.0xa9.0xfe", "link_local"},
    {"2852039166", "link_local"},
    {"012.0.0.1", "private"},
    {"0", "this_network"},
    /* IPv6 ranges */
    {"::", "unspecified"},
    {"[::]", "unspecified"},
    {"::1", "loopback"},
    {"[::1]", "loopback"},
    {"0:0:0:0:0:0:0:1", "loopback"},
    {"fe80::1", "link_local"},
    {"[fe80::1%25eth0]", "link_local"},
    {"fe80::1%eth0", "link_local"},
    {"febf::1", "link_local"},
    {"fc00::1", "unique_local"},
    {"fd12:3456::1", "unique_local"},
    {"fec0::1", "site_local"},
    {"ff02::1", "multicast"},
    {"ff0e::1", "multicast"},
    {"2001:db8::1", "documentation"},
    {"3fff::1", "documentation"},
    {"100::1", "discard"},
    {"2001:2::1", "benchmarking"},
    {"2001:10::1", "reserved"},
    {"2606:4700:4700::1111", NULL},
    {"2a00:1450:4001::200e", NULL},
    /* IPv4 embedded in IPv6 */
    {"::ffff:127.0.0.1", "loopback"},
    {"[::ffff:127.0.0.1]", "loopback"},
    {"::ffff:7f00:1", "loopback"},
    {"::ffff:169.254.169.254", "link_local"},
    {"::ffff:10.1.2.3", "private"},
    {"::ffff:8.8.8.8", NULL},
    {"::127.0.0.1", "loopback"},
    {"::10.0.0.1", "private"},
    {"::0.0.0.2", "this_network"},
    {"64:ff9b::a9fe:a9fe", "link_local"},
    {"64:ff9b::127.0.0.1", "loopback"},
    {"64:ff9b::808:808", NULL},
    {"64:ff9b:1::1", "nat64_local"},
    {"2002:7f00:0001::1", "loopback"},
    {"2002:a9fe:a9fe::", "link_local"},
    {"2002:c0a8:0101::1", "private"},
    {"2002:0808:0808::1", NULL},
    {"2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"},
    {"2001::1", "teredo"},
    {"2001:0:4136:e378:8000:63bf:f5ff:fffe", "teredo"}, /* client NOT(f5ff:fffe) = 10.0.0.1 */
    /* more IPv4 edges and spellings */
    {"172.16.0.0", "private"},
    {"192.0.0.1", "reserved"},
    {"198.51.100.255", "documentation"},
    {"9.9.9.9", NULL},
    {"127.0.0.1.", "loopback"}, /* one trailing dot, as in a URL host */
    {"0x7f.0x0.0x0.0x1", "loopback"},
    {"0300.0250.0.1", "private"}, /* 192.168.0.1 in octal */
    {"3232235521", "private"},    /* 192.168.0.1 as one number */
    {"0xc0a80001", "private"},
    {"10.1", "private"},
    {"0xA.0x1", "private"},
    /* IPv6: everything outside 2000::/3 is reserved */
    {"fd00::1", "unique_local"},
    {"fec0::", "site_local"},
    {"ff05::2", "multicast"},
    {"[fe80::1%eth0]", "link_local"},
    {"1::1", "reserved"},
    {"4000::1", "reserved"},
    {"5f00::1", "reserved"},
    {"fe00::1", "reserved"},
    {"::2:0:0:1", "reserved"},
    {"::ffff:0:7f00:1", "reserved"},  /* SIIT ::ffff:0:0:0/96, not IPv4-mapped */
    {"64:ff9b::1:0:0:1", "reserved"}, /* 64:ff9b::/32 outside the NAT64 /96 */
    {"2001:4860:4860::8888", NULL},
    /* more embedded IPv4 */
    {"[::ffff:7f00:1]", "loopback"},
    {"[0:0:0:0:0:ffff:127.0.0.1]", "loopback"},
    {"::ffff:0.0.0.0", "this_network"},
    {"::ffff:255.255.255.255", "broadcast"},
    {"::ffff:100.64.0.1", "cgnat"},
    {"::ffff:224.0.0.1", "multicast"},
    {"::ffff:198.18.0.1", "benchmarking"},
    {"::101", "this_network"}, /* ::0.0.1.1: an IPv4-compatible address, not ::1 */
    {"::0.1.0.0", "this_network"},
    {"64:ff9b::1.1.1.1", NULL},
    {"64:ff9b:1::a9fe:a9fe", "nat64_local"},
    {"2002::1", "this_network"}, /* 6to4 of 0.0.0.0 */
    {"2002:e000:1::", "multicast"},
    {"2002:6440::1", "cgnat"},
    {"2002:0101:0101::1", NULL},
    /* the brief's list, spelled as given */
    {"2606:2800:220:1::", NULL},
    {"[2606:2800:220:1:248:1893:25c8:1946]", NULL},
    {"fc00::", "unique_local"},
    {"2002:7f00:1::", "loopback"},
    {"[2002:7f00:1::]", "loopback"},
    {"2001:0::5efe:f5ff:fffe", "teredo"},
    {"2001:0000:4136:e378:8000:63bf:80ff:fffe", "teredo"}, /* client 127.0.0.1 obfuscated */
    {"[::127.0.0.1]", "loopback"},
    {"::ffff:a9fe:a9fe", "link_local"},
    {"64:ff9b::7f00:1", "loopback"},
    {"64:ff9b::a00:1", "private"},
    {"ff02::1", "multicast"},
    {"[ff02::1%25lo]", "multicast"},
    {"0.0.0.0.", "this_network"},
    {"0x0", "this_network"},
    {"00", "this_network"},
    {"0xffffffff", "broadcast"},
    {"037777777777", "broadcast"},
    {"4294967295", "broadcast"},
    {"192.0.2.0", "documentation"},
    {"169.254.169.254.", "link_local"},
    {"0251.0376.0251.0376", "link_local"},
    {"169.16689662", "link_local"}, /* 169.254.169.254 in the a.b form */
    {"100.64.0.1", "cgnat"},
    {"100.0x40.0.1", "cgnat"},
    {"93.184.216.34", NULL},
    {"0x5d.0xb8.0xd8.0x22", NULL}, /* 93.184.216.34 in hex */
    {"1572395042", NULL},          /* and as one number */
};

/* Found by fuzz_ssrf: a long spelling of an address is still the address (it was taken for a
 * host name beyond 127 characters, so the URL check let it through). */
static void test_long_spellings(void **state) {
  char host[400], url[420], err[256];
  struct sockaddr_storage ss;

  snprintf(host, sizeof(host), "127.0.%0300d.1", 0);
  assert_string_equal(hl_ssrf_check_ip(NULL, host), "loopback");
  snprintf(url, sizeof(url), "http://%s/", host);
  assert_int_equal(hl_ssrf_check_url(NULL, url, 0, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "loopback"));
  snprintf(host, sizeof(host), "0x%0200d7f000001", 0);
  assert_string_equal(hl_ssrf_check_ip(NULL, host), "loopback");
  snprintf(host, sizeof(host), "[0000:0000:0000:0000:0000:0000:0000:0001%%25%0200d]", 0);
  assert_int_equal(hl_ssrf_parse_host(host, &ss), 1);
  assert_string_equal(hl_ssrf_check_ip(NULL, host), "loopback");
}

static void test_table(void **state) {
  size_t n = sizeof(rows) / sizeof(rows[0]);
  int bad = 0;

  assert_true(n >= 140);
  for (size_t i = 0; i < n; i++) {
    const char *got = hl_ssrf_check_ip(NULL, rows[i].ip);

    if ((got == NULL) != (rows[i].want == NULL) || (got && strcmp(got, rows[i].want) != 0)) {
      print_error("%s: got %s, want %s\n", rows[i].ip, got ? got : "allow",
                  rows[i].want ? rows[i].want : "allow");
      bad++;
    }
  }
  assert_int_equal(bad, 0);
}

static void test_not_addresses(void **state) {
  static const char *names[] = {"example.com",
                                "localhost",
                                "1.2.3.4.example",
                                "1e100.net",
                                "0x7f.example",
                                "deadbeef",
                                "xn--bcher-kva.example",
                                "b\xc3\xbc"
                                "cher.example",
                                "under_score.example",
                                "example.com."};
  static const char *garbage[] = {
      "",        "127.0.0.1.1", "4294967296", "08.0.0.1", "1.2.3.4 junk", "[127.0.0.1]",
      "[::1",    "::1]",        "[]",         "fe80::1%", "exa mple.com", "a/b",
      "foo.123", "0x",          "[::1]:80",   "::1::2"};
  struct sockaddr_storage ss;
  char longname[300];

  assert_string_equal(hl_ssrf_check_ip(NULL, "example.com"), "not_an_address");
  assert_string_equal(hl_ssrf_check_ip(NULL, "127.0.0.1.1"), "not_an_address");
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (hl_ssrf_parse_host(names[i], &ss) != 0)
      fail_msg("%s: not read as a host name", names[i]);
  for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
    if (hl_ssrf_parse_host(garbage[i], &ss) != -1)
      fail_msg("%s: not rejected", garbage[i]);
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  assert_int_equal(hl_ssrf_parse_host(longname, &ss), 0);
  longname[100] = ' ';
  assert_int_equal(hl_ssrf_parse_host(longname, &ss), -1);
}

/* The literal is read into the sockaddr the dispatcher and curl would see. */
static void test_parse_fills_sockaddr(void **state) {
  struct sockaddr_storage ss;
  struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
  char txt[INET6_ADDRSTRLEN];

  assert_int_equal(hl_ssrf_parse_host("0x7f.1", &ss), 1);
  assert_int_equal(ss.ss_family, AF_INET);
  assert_int_equal(ntohl(s4->sin_addr.s_addr), 0x7f000001);
  assert_int_equal(s4->sin_port, 0);
  assert_int_equal(hl_ssrf_parse_host("2130706433", &ss), 1);
  assert_int_equal(ntohl(s4->sin_addr.s_addr), 0x7f000001);
  assert_int_equal(hl_ssrf_parse_host("[fe80::1%25eth0]", &ss), 1);
  assert_int_equal(ss.ss_family, AF_INET6);
  assert_string_equal(inet_ntop(AF_INET6, &s6->sin6_addr, txt, sizeof(txt)), "fe80::1");
  assert_int_equal(hl_ssrf_parse_host("::ffff:127.0.0.1", &ss), 1);
  assert_string_equal(inet_ntop(AF_INET6, &s6->sin6_addr, txt, sizeof(txt)), "::ffff:127.0.0.1");
}

/* What the dispatcher's CURLOPT_OPENSOCKETFUNCTION hands over: a struct sockaddr. */
static void test_sockaddr(void **state) {
  struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(443)};
  struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
  struct sockaddr_un su = {.sun_family = AF_UNIX};
  char err[128];
  hl_ssrf_t *lo = hl_ssrf_new("127.0.0.0/8", err, sizeof(err));

  assert_non_null(lo);
  assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr), 1);
  assert_string_equal(hl_ssrf_check_sockaddr(NULL, (struct sockaddr *)&s4), "loopback");
  assert_null(hl_ssrf_check_sockaddr(lo, (struct sockaddr *)&s4));
  assert_int_equal(inet_pton(AF_INET, "8.8.4.4", &s4.sin_addr), 1);
  assert_null(hl_ssrf_check_sockaddr(NULL, (struct sockaddr *)&s4));
  assert_int_equal(inet_pton(AF_INET6, "::ffff:169.254.169.254", &s6.sin6_addr), 1);
  assert_string_equal(hl_ssrf_check_sockaddr(lo, (struct sockaddr *)&s6), "link_local");
  assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.2", &s6.sin6_addr), 1);
  assert_null(hl_ssrf_check_sockaddr(lo, (struct sockaddr *)&s6));
  s6.sin6_scope_id = 2;
  assert_int_equal(inet_pton(AF_INET6, "fe80::1", &s6.sin6_addr), 1);
  assert_string_equal(hl_ssrf_check_sockaddr(lo, (struct sockaddr *)&s6), "link_local");
  assert_string_equal(hl_ssrf_check_sockaddr(NULL, (struct sockaddr *)&su), "not_an_address");
  assert_string_equal(hl_ssrf_check_sockaddr(NULL, NULL), "not_an_address");
  hl_ssrf_destroy(&lo);
}

static void test_allow_list(void **state) {
  char err[256];
  hl_ssrf_t *s = hl_ssrf_new(" 127.0.0.0/8 , ::1/128,10.1.0.0/16", err, sizeof(err));

  assert_non_null(s);
  assert_null(hl_ssrf_check_ip(s, "127.0.0.1"));
  assert_null(hl_ssrf_check_ip(s, "127.9.9.9"));
  assert_null(hl_ssrf_check_ip(s, "::ffff:127.0.0.1")); /* embedded form follows the v4 entry */
  assert_null(hl_ssrf_check_ip(s, "0x7f000001"));
  assert_null(hl_ssrf_check_ip(s, "::1"));
  assert_null(hl_ssrf_check_ip(s, "10.1.200.3"));
  assert_string_equal(hl_ssrf_check_ip(s, "10.2.0.1"), "private");
  assert_string_equal(hl_ssrf_check_ip(s, "169.254.169.254"), "link_local");
  assert_string_equal(hl_ssrf_check_ip(s, "fe80::1"), "link_local");
  hl_ssrf_destroy(&s);
  assert_null(s);
  static const char *bad[] = {"10.0.0.0/33", "abc",        "1.2.3.4/",     "::/129",
                              "1.2.3.4/-1",  "1.2.3/8",    "10.0.0.0 /8",  "1.2.3.4 5.6.7.8",
                              "/8",          "1.2.3.4/8x", "0x7f000001/8", "fe80::1%eth0/64",
                              "127.1/8",     "1.2.3.4/+8"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    s = hl_ssrf_new(bad[i], err, sizeof(err));
    if (s)
      fail_msg("accepted CIDR %s", bad[i]);
    assert_non_null(strstr(err, "delivery.allow_cidrs"));
  }
  s = hl_ssrf_new("10.0.0.0/8, 1.2.3.4/", err, sizeof(err));
  assert_null(s);
  assert_non_null(strstr(err, "\"1.2.3.4/\"")); /* the offending item, not the whole list */
  s = hl_ssrf_new("", err, sizeof(err));
  assert_non_null(s);
  assert_string_equal(hl_ssrf_check_ip(s, "127.0.0.1"), "loopback");
  hl_ssrf_destroy(&s);
  s = hl_ssrf_new(NULL, err, sizeof(err));
  assert_non_null(s);
  assert_string_equal(hl_ssrf_check_ip(s, "10.0.0.1"), "private");
  hl_ssrf_destroy(&s);
  hl_ssrf_destroy(&s); /* accepts NULL */
  hl_ssrf_destroy(NULL);
}

static void test_allow_list_forms(void **state) {
  char err[256];
  hl_ssrf_t *s = hl_ssrf_new("\t127.0.0.0/8\n,,169.254.0.0/16 , fc00::/7,10.1.2.3/8, 192.0.2.7",
                             err, sizeof(err));

  assert_non_null(s);
  assert_null(hl_ssrf_check_ip(s, "127.0.0.1"));
  assert_null(hl_ssrf_check_ip(s, "::ffff:127.0.0.1"));
  assert_null(hl_ssrf_check_ip(s, "64:ff9b::a9fe:a9fe")); /* NAT64 follows the IPv4 entry */
  assert_null(hl_ssrf_check_ip(s, "2002:a9fe:a9fe::1"));  /* 6to4 too */
  assert_null(hl_ssrf_check_ip(s, "::169.254.1.1"));      /* and IPv4-compatible */
  assert_null(hl_ssrf_check_ip(s, "fd00::1"));
  assert_string_equal(hl_ssrf_check_ip(s, "fe80::1"), "link_local");
  assert_null(hl_ssrf_check_ip(s, "10.200.0.1")); /* host bits under the prefix are ignored */
  assert_null(hl_ssrf_check_ip(s, "192.0.2.7"));  /* a bare address is one host */
  assert_string_equal(hl_ssrf_check_ip(s, "192.0.2.8"), "documentation");
  assert_string_equal(hl_ssrf_check_ip(s, "192.168.0.1"), "private");
  assert_string_equal(hl_ssrf_check_ip(s, "::1"), "loopback"); /* 127/8 says nothing about ::1 */
  hl_ssrf_destroy(&s);
  s = hl_ssrf_new("::1/128", err, sizeof(err));
  assert_non_null(s);
  assert_null(hl_ssrf_check_ip(s, "::1"));
  assert_null(hl_ssrf_check_ip(s, "[::1]"));
  assert_string_equal(hl_ssrf_check_ip(s, "127.0.0.1"), "loopback");
  assert_string_equal(hl_ssrf_check_ip(s, "::2"), "this_network");
  hl_ssrf_destroy(&s);
}

static void test_urls(void **state) {
  char err[256];
  hl_ssrf_t *lo = hl_ssrf_new("127.0.0.0/8", err, sizeof(err));

  assert_int_equal(hl_ssrf_check_url(NULL, "https://example.com/hooks?a=1", 0, err, sizeof(err)),
                   0);
  assert_int_equal(hl_ssrf_check_url(NULL, "http://example.com:8080/x", 0, err, sizeof(err)), 0);
  assert_int_equal(hl_ssrf_check_url(NULL, "http://example.com/x", 1, err, sizeof(err)), -1);
  assert_string_equal(err, "url: scheme must be https");
  assert_int_equal(hl_ssrf_check_url(NULL, "ftp://example.com/x", 0, err, sizeof(err)), -1);
  assert_string_equal(err, "url: scheme must be http or https");
  assert_int_equal(hl_ssrf_check_url(NULL, "gopher://example.com/", 0, err, sizeof(err)), -1);
  assert_int_equal(hl_ssrf_check_url(NULL, "http://user:pw@example.com/", 0, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "credentials"));
  assert_int_equal(hl_ssrf_check_url(NULL, "not a url", 0, err, sizeof(err)), -1);
  assert_int_equal(hl_ssrf_check_url(NULL, "/relative/path", 0, err, sizeof(err)), -1);
  assert_int_equal(hl_ssrf_check_url(NULL, "http://localhost:8080/", 0, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "loopback"));
  assert_int_equal(hl_ssrf_check_url(NULL, "http://api.localhost/", 0, err, sizeof(err)), -1);
  assert_int_equal(hl_ssrf_check_url(NULL, "http://0x7f.1/", 0, err, sizeof(err)), -1);
  assert_int_equal(hl_ssrf_check_url(NULL, "http://[::ffff:169.254.169.254]/", 0, err, sizeof(err)),
                   -1);
  assert_non_null(strstr(err, "link_local"));
  assert_int_equal(
      hl_ssrf_check_url(NULL, "http://169.254.169.254/latest/meta-data", 0, err, sizeof(err)), -1);
  assert_int_equal(hl_ssrf_check_url(NULL, "http://[fd00::1]:80/", 0, err, sizeof(err)), -1);
  assert_int_equal(hl_ssrf_check_url(lo, "http://127.0.0.1:9999/hook", 0, err, sizeof(err)), 0);
  assert_int_equal(hl_ssrf_check_url(lo, "http://localhost:9999/hook", 0, err, sizeof(err)), 0);
  assert_int_equal(hl_ssrf_check_url(lo, "http://10.0.0.1/hook", 0, err, sizeof(err)), -1);
  hl_ssrf_destroy(&lo);
}

/* URLs that reach an internal address through a spelling of its host: all refused. */
static void test_url_tricks(void **state) {
  static const char *denied[] = {"http://127.0.0.1./",
                                 "http://2130706433/",
                                 "http://0177.0.0.1/",
                                 "http://0x7f000001:8080/",
                                 "http://%31%32%37.0.0.1/",
                                 "http://[::1]:8080/",
                                 "http://[::]/",
                                 "http://0/",
                                 "http://[::ffff:7f00:1]/",
                                 "http://[fe80::1%25eth0]/",
                                 "http://LOCALHOST./",
                                 "http://a.b.localhost:1/",
                                 "http://[64:ff9b::a9fe:a9fe]/",
                                 "http://[2002:a9fe:a9fe::1]/",
                                 "http://100.64.0.1/",
                                 "https://0xa9.0xfe.0xa9.0xfe/latest/meta-data/"};
  static const char *refused[] = {"http://127.0.0.1.1/",
                                  "http://4294967296/",
                                  "http://user@example.com/",
                                  "http://@example.com/",
                                  "http://:pw@example.com/",
                                  "javascript:alert(1)",
                                  "http://example.com:99999/",
                                  "http://",
                                  "example.com",
                                  "file:///etc/passwd",
                                  "http://exa mple.com/",
                                  "http://example.com/\r\nX-Injected: 1"};
  char err[256];

  for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
    err[0] = '\0';
    if (hl_ssrf_check_url(NULL, denied[i], 0, err, sizeof(err)) != -1)
      fail_msg("%s: allowed", denied[i]);
    if (!strstr(err, "delivery.allow_cidrs"))
      fail_msg("%s: message \"%s\" does not say how to allow it", denied[i], err);
  }
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    err[0] = '\0';
    if (hl_ssrf_check_url(NULL, refused[i], 0, err, sizeof(err)) != -1 || !err[0])
      fail_msg("%s: accepted or no message", refused[i]);
  }
  assert_int_equal(hl_ssrf_check_url(NULL, "http://127.0.0.1/", 0, err, sizeof(err)), -1);
  assert_string_equal(
      err, "url: host 127.0.0.1 is a loopback address; allow it with delivery.allow_cidrs");
  assert_int_equal(hl_ssrf_check_url(NULL, "http://127.0.0.1.1/", 0, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "127.0.0.1.1"));
  /* ordinary names pass here (their addresses are checked at connect time) */
  assert_int_equal(hl_ssrf_check_url(NULL, "HTTPS://EXAMPLE.COM/x", 1, err, sizeof(err)), 0);
  assert_int_equal(hl_ssrf_check_url(NULL, "https://localhost.example.com/", 1, err, sizeof(err)),
                   0);
  assert_int_equal(hl_ssrf_check_url(NULL, "https://1e100.net/", 1, err, sizeof(err)), 0);
  assert_int_equal(hl_ssrf_check_url(NULL, "https://[2606:4700:4700::1111]/", 1, err, sizeof(err)),
                   0);
  assert_int_equal(hl_ssrf_check_url(NULL, "http://8.8.8.8:8080/hook", 0, err, sizeof(err)), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_long_spellings),
      cmocka_unit_test(test_not_addresses),
      cmocka_unit_test(test_parse_fills_sockaddr),
      cmocka_unit_test(test_sockaddr),
      cmocka_unit_test(test_allow_list),
      cmocka_unit_test(test_allow_list_forms),
      cmocka_unit_test(test_urls),
      cmocka_unit_test(test_url_tricks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
