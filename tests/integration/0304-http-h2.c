/*
 * 0304-http-h2: HTTP/2 when the endpoint offers it.  Against nghttpd (Debian nghttp2-server, a
 * reference HTTP/2 server) over TLS on loopback, 300 signed POSTs with 32 in flight all succeed
 * over ONE connection: they are multiplexed as HTTP/2 streams (HTTP/1.1 would need one
 * connection per request in flight).  Skipped when nghttpd is not installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "http_driver.h"
#include "sign.h"

#define TOTAL 300
#define WINDOW 32

typedef struct load {
  hl_http_t *http;
  hl_http_req_t req;
  int sent, ok, other;
  char last_error[256], excerpt[16];
} load_t;

static void on_done(const hl_http_result_t *res, void *opaque) {
  load_t *ld = opaque;

  if (res->outcome == HL_HTTP_OK)
    ld->ok++;
  else {
    ld->other++;
    snprintf(ld->last_error, sizeof(ld->last_error), "%s", res->error);
  }
  snprintf(ld->excerpt, sizeof(ld->excerpt), "%.*s", (int)res->excerpt_len, res->excerpt);
  if (ld->sent < TOTAL && hl_http_send(ld->http, &ld->req, on_done, ld) == 0)
    ld->sent++;
}

static const char *find_nghttpd(void) {
  static const char *const paths[] = {"/usr/sbin/nghttpd", "/usr/bin/nghttpd",
                                      "/usr/local/bin/nghttpd"};

  for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
    if (access(paths[i], X_OK) == 0)
      return paths[i];
  }
  return NULL;
}

/* A loopback port free right now (nghttpd cannot listen on port 0 and report it). */
static int free_port(void) {
  struct sockaddr_in sin = {0};
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, SOCK_STREAM, 0), p;

  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *)&sin, sizeof(sin));
  getsockname(fd, (struct sockaddr *)&sin, &len);
  p = ntohs(sin.sin_port);
  close(fd);
  return p;
}

static bool port_open(int port) {
  struct sockaddr_in sin = {0};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  bool ok;

  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons((uint16_t)port);
  ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
  close(fd);
  return ok;
}

static struct {
  const char *nghttpd;
  char dir[64], docs[96], doc[128], crt[96], key[96];
  int port;
  pid_t pid;
} N;

/* nghttpd over TLS with a fresh certificate, serving "h2 ok" at /hook (stopped in teardown). */
static int setup(void **state) {
  char prefix[32], portstr[16], htdocs_arg[128];
  char *argv[] = {NULL, "-a", "127.0.0.1", htdocs_arg, portstr, N.key, N.crt, NULL};
  EVP_PKEY *pkey = NULL;
  X509 *x509 = NULL;
  FILE *fp;

  N.nghttpd = find_nghttpd();
  if (!N.nghttpd)
    return 0;
  hl_test_prefix(prefix, sizeof(prefix));
  snprintf(N.dir, sizeof(N.dir), "/tmp/%s", prefix);
  snprintf(N.docs, sizeof(N.docs), "%s/htdocs", N.dir);
  snprintf(N.doc, sizeof(N.doc), "%s/hook", N.docs);
  snprintf(N.crt, sizeof(N.crt), "%s/cert.pem", N.dir);
  snprintf(N.key, sizeof(N.key), "%s/key.pem", N.dir);
  if (mkdir(N.dir, 0700) != 0 || mkdir(N.docs, 0700) != 0)
    return -1;
  fp = fopen(N.doc, "w");
  if (!fp)
    return -1;
  fputs("h2 ok", fp);
  fclose(fp);
  if (it_make_cert(N.crt, N.key, &pkey, &x509) != 0)
    return -1;
  X509_free(x509);
  EVP_PKEY_free(pkey);
  N.port = free_port();
  snprintf(portstr, sizeof(portstr), "%d", N.port);
  snprintf(htdocs_arg, sizeof(htdocs_arg), "--htdocs=%s", N.docs);
  argv[0] = (char *)N.nghttpd;
  N.pid = hl_test_spawn(argv, NULL);
  for (int64_t deadline = hl_mono_ms() + hl_test_tmout_ms(5000);
       N.pid > 0 && !port_open(N.port) && hl_mono_ms() < deadline;)
    usleep(20000);
  return N.pid > 0 && port_open(N.port) ? 0 : -1;
}

static int teardown(void **state) {
  if (N.pid > 0)
    hl_test_stop(N.pid, 2000);
  if (N.nghttpd) {
    unlink(N.doc);
    unlink(N.crt);
    unlink(N.key);
    rmdir(N.docs);
    rmdir(N.dir);
  }
  return 0;
}

static void test_h2_multiplexed(void **state) {
  char url[128], cakv[128];
  const char *kv[] = {"delivery.allow_cidrs=127.0.0.0/8", cakv, NULL};
  struct event_base *base;
  static char body[1024];
  hl_sign_key_t key = {.len = 32};
  hl_http_stats_t st;
  load_t ld = {0};

  if (!N.nghttpd) {
    print_message("nghttpd not installed (apt-get install nghttp2-server): skipped\n");
    skip();
  }
  base = event_base_new();
  memset(body, 'x', sizeof(body));
  memset(key.key, 4, key.len);
  snprintf(url, sizeof(url), "https://127.0.0.1:%d/hook", N.port);
  snprintf(cakv, sizeof(cakv), "delivery.ca_file=%s", N.crt);
  ld.http = it_engine(base, kv);
  assert_non_null(ld.http);
  ld.req.url = url;
  ld.req.msg_id = "msg_h2";
  ld.req.body = body;
  ld.req.body_len = sizeof(body);
  ld.req.keys = &key;
  ld.req.nkeys = 1;
  for (int i = 0; i < WINDOW; i++) {
    assert_int_equal(hl_http_send(ld.http, &ld.req, on_done, &ld), 0);
    ld.sent++;
  }
  it_wait(base, ld.http, 30000);
  hl_http_stats(ld.http, &st);
  hl_http_destroy(&ld.http);
  event_base_free(base);
  if (ld.other)
    fail_msg("%d requests failed, last: %s", ld.other, ld.last_error);
  assert_int_equal(ld.ok, TOTAL);
  assert_string_equal(ld.excerpt, "h2 ok");
  assert_int_equal(st.connects, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_h2_multiplexed),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
