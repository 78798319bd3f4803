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

#include <cmocka.h>

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
};

static void test_table(void **state) {
  size_t n = sizeof(rows) / sizeof(rows[0]);
  int bad = 0;

  assert_true(n >= 60);
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
  struct sockaddr_storage ss;

  assert_string_equal(hl_ssrf_check_ip(NULL, "example.com"), "not_an_address");
  assert_int_equal(hl_ssrf_parse_host("example.com", &ss), 0);
  assert_int_equal(hl_ssrf_parse_host("localhost", &ss), 0);
  assert_int_equal(hl_ssrf_parse_host("1.2.3.4.example", &ss), 0);
  assert_int_equal(hl_ssrf_parse_host("", &ss), 0);
  assert_int_equal(hl_ssrf_parse_host("[::1]", &ss), 1);
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
  static const char *bad[] = {"10.0.0.0/33", "abc", "1.2.3.4/", "::/129", "1.2.3.4/-1", "1.2.3/8"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    s = hl_ssrf_new(bad[i], err, sizeof(err));
    if (s)
      fail_msg("accepted CIDR %s", bad[i]);
    assert_non_null(strstr(err, "delivery.allow_cidrs"));
  }
  s = hl_ssrf_new("", err, sizeof(err));
  assert_non_null(s);
  assert_string_equal(hl_ssrf_check_ip(s, "127.0.0.1"), "loopback");
  hl_ssrf_destroy(&s);
}

static void test_urls(void **state) {
  char err[256];
  hl_ssrf_t *lo = hl_ssrf_new("127.0.0.0/8", err, sizeof(err));

  assert_int_equal(hl_ssrf_check_url(NULL, "https://example.com/hooks?a=1", 0, err, sizeof(err)), 0);
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
  assert_int_equal(hl_ssrf_check_url(NULL, "http://[::ffff:169.254.169.254]/", 0, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "link_local"));
  assert_int_equal(hl_ssrf_check_url(NULL, "http://169.254.169.254/latest/meta-data", 0, err, sizeof(err)), -1);
  assert_int_equal(hl_ssrf_check_url(NULL, "http://[fd00::1]:80/", 0, err, sizeof(err)), -1);
  assert_int_equal(hl_ssrf_check_url(lo, "http://127.0.0.1:9999/hook", 0, err, sizeof(err)), 0);
  assert_int_equal(hl_ssrf_check_url(lo, "http://localhost:9999/hook", 0, err, sizeof(err)), 0);
  assert_int_equal(hl_ssrf_check_url(lo, "http://10.0.0.1/hook", 0, err, sizeof(err)), -1);
  hl_ssrf_destroy(&lo);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_not_addresses),
      cmocka_unit_test(test_allow_list),
      cmocka_unit_test(test_urls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
