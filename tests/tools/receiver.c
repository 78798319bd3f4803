/*
 * receiver.c - hl-test-receiver: a webhook endpoint stand-in for tests and benchmarks.
 *
 * A single-threaded libevent evhttp server on loopback that answers each path by a rule
 * (a sequence of statuses with delays, Retry-After, hang or reset), records every request as
 * one NDJSON line, optionally verifies Standard Webhooks signatures, and reports counters on
 * GET /_stats.  See tests/tools/README.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#define MAX_RULES 64
#define MAX_STEPS 32
#define MAX_PATHS 256

typedef enum { ACT_STATUS, ACT_HANG, ACT_RESET } action_t;

typedef struct step {
  action_t act;
  int status;
  int delay_ms;
  int retry_after; /* -1: none */
  char location[256];
} step_t;

typedef struct rule {
  char path[256]; /* "*" = fallback */
  step_t steps[MAX_STEPS];
  int nsteps;
} rule_t;

typedef struct path_stat {
  char path[256];
  long n;
} path_stat_t;

typedef struct pending {
  struct evhttp_request *req;
  struct event *timer;
  step_t step;
} pending_t;

static struct {
  struct event_base *base;
  rule_t rules[MAX_RULES];
  int nrules;
  path_stat_t paths[MAX_PATHS];
  int npaths;
  long requests;
  long by_status[600];
  long hangs, resets;
  FILE *record;
  unsigned char key[64];
  int keylen; /* 0: no verification */
  size_t body_bytes;
  char *body;
  int fail_pct, timeout_pct, reset_pct;
  EVP_MAC *hmac;
  OSSL_PARAM hmac_params[2];
} R;

static void die(const char *msg) {
  fprintf(stderr, "hl-test-receiver: %s\n", msg);
  exit(2);
}

static int parse_step(char *s, step_t *st) {
  char *mod;

  memset(st, 0, sizeof(*st));
  st->retry_after = -1;
  st->act = ACT_STATUS;
  if (strncmp(s, "hang", 4) == 0) {
    st->act = ACT_HANG;
    s += 4;
  } else if (strncmp(s, "reset", 5) == 0) {
    st->act = ACT_RESET;
    s += 5;
  } else {
    st->status = (int)strtol(s, &s, 10);
    if (st->status < 100 || st->status > 599)
      return -1;
  }
  while (*s) {
    if (*s == '@') {
      st->delay_ms = (int)strtol(s + 1, &s, 10);
    } else if (strncmp(s, "+ra=", 4) == 0) {
      st->retry_after = (int)strtol(s + 4, &s, 10);
    } else if (strncmp(s, "+loc=", 5) == 0) {
      mod = s + 5;
      snprintf(st->location, sizeof(st->location), "%s", mod);
      s += strlen(s);
    } else {
      return -1;
    }
  }
  return 0;
}

static void add_rule(const char *arg) {
  char buf[2048], *eq, *tok, *save = NULL;
  rule_t *r;

  if (R.nrules >= MAX_RULES || strlen(arg) >= sizeof(buf))
    die("too many or too long rules");
  snprintf(buf, sizeof(buf), "%s", arg);
  eq = strchr(buf, '=');
  if (!eq || eq - buf >= (long)sizeof(R.rules[0].path))
    die("--rule wants PATH=SPEC");
  *eq = '\0';
  r = &R.rules[R.nrules++];
  memcpy(r->path, buf, (size_t)(eq - buf) + 1);
  for (tok = strtok_r(eq + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (r->nsteps >= MAX_STEPS || parse_step(tok, &r->steps[r->nsteps++]) != 0)
      die("bad rule step (STATUS[@MS][+ra=S][+loc=URL] | hang | reset)");
  }
  if (r->nsteps == 0)
    die("empty rule");
}

static path_stat_t *path_stat(const char *path) {
  for (int i = 0; i < R.npaths; i++) {
    if (strcmp(R.paths[i].path, path) == 0)
      return &R.paths[i];
  }
  if (R.npaths >= MAX_PATHS)
    return &R.paths[MAX_PATHS - 1]; /* shared overflow bucket */
  snprintf(R.paths[R.npaths].path, sizeof(R.paths[0].path), "%s", path);
  return &R.paths[R.npaths++];
}

static step_t pick_step(const char *path, long n) {
  static const step_t ok = {ACT_STATUS, 200, 0, -1, ""};
  const rule_t *fallback = NULL;
  step_t st;
  int roll;

  if (R.fail_pct || R.timeout_pct || R.reset_pct) {
    roll = rand() % 100;
    st = ok;
    if (roll < R.fail_pct) {
      st.status = 500;
      return st;
    }
    if (roll < R.fail_pct + R.timeout_pct) {
      st.act = ACT_HANG;
      return st;
    }
    if (roll < R.fail_pct + R.timeout_pct + R.reset_pct) {
      st.act = ACT_RESET;
      return st;
    }
  }
  for (int i = 0; i < R.nrules; i++) {
    if (strcmp(R.rules[i].path, path) == 0)
      return R.rules[i].steps[n - 1 < R.rules[i].nsteps ? n - 1 : R.rules[i].nsteps - 1];
    if (strcmp(R.rules[i].path, "*") == 0)
      fallback = &R.rules[i];
  }
  if (fallback)
    return fallback->steps[n - 1 < fallback->nsteps ? n - 1 : fallback->nsteps - 1];
  return ok;
}

static int b64_decode(const char *in, unsigned char *out, int outsz) {
  size_t len = strlen(in);
  unsigned char tmp[512];
  int n;

  if (len == 0 || len % 4 || len > 680 || (int)(len / 4 * 3) > outsz + 2)
    return -1;
  n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
  if (n < 0)
    return -1;
  if (in[len - 1] == '=')
    n--;
  if (in[len - 2] == '=')
    n--;
  if (n > outsz)
    return -1;
  memcpy(out, tmp, (size_t)n);
  return n;
}

/* Standard Webhooks: HMAC-SHA256(key, id "." ts "." body) against every "v1,<b64>" entry. */
static int verify(const char *id, const char *ts, const char *sigs, const char *body, size_t len) {
  unsigned char mac[EVP_MAX_MD_SIZE], want[64];
  size_t maclen = 0;
  EVP_MAC_CTX *ctx;
  char buf[2048], *tok, *save = NULL;
  int ok = 0;

  if (!id || !ts || !sigs || strlen(sigs) >= sizeof(buf))
    return 0;
  ctx = EVP_MAC_CTX_new(R.hmac);
  EVP_MAC_init(ctx, R.key, (size_t)R.keylen, R.hmac_params);
  EVP_MAC_update(ctx, (const unsigned char *)id, strlen(id));
  EVP_MAC_update(ctx, (const unsigned char *)".", 1);
  EVP_MAC_update(ctx, (const unsigned char *)ts, strlen(ts));
  EVP_MAC_update(ctx, (const unsigned char *)".", 1);
  EVP_MAC_update(ctx, (const unsigned char *)body, len);
  EVP_MAC_final(ctx, mac, &maclen, sizeof(mac));
  EVP_MAC_CTX_free(ctx);
  snprintf(buf, sizeof(buf), "%s", sigs);
  for (tok = strtok_r(buf, " ", &save); tok && !ok; tok = strtok_r(NULL, " ", &save)) {
    if (strncmp(tok, "v1,", 3) != 0)
      continue;
    if (b64_decode(tok + 3, want, sizeof(want)) == (int)maclen &&
        CRYPTO_memcmp(want, mac, maclen) == 0)
      ok = 1;
  }
  return ok;
}

static int set_key(const char *secret) {
  R.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  R.hmac_params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
  R.hmac_params[1] = OSSL_PARAM_construct_end();
  if (strncmp(secret, "whsec_", 6) != 0)
    return -1;
  R.keylen = b64_decode(secret + 6, R.key, sizeof(R.key));
  return R.keylen > 0 ? 0 : -1;
}

static void record(struct evhttp_request *req, const char *path, long n, const char *outcome,
                   int status, const char *body, size_t len) {
  struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
  json_t *o = json_object(), *h = json_object();
  struct timeval tv;
  char *line;

  gettimeofday(&tv, NULL);
  for (struct evkeyval *kv = hdrs->tqh_first; kv; kv = kv->next.tqe_next) {
    char name[256];
    size_t i;

    for (i = 0; kv->key[i] && i < sizeof(name) - 1; i++)
      name[i] = (char)(kv->key[i] >= 'A' && kv->key[i] <= 'Z' ? kv->key[i] + 32 : kv->key[i]);
    name[i] = '\0';
    json_object_set_new(h, name, json_string(kv->value));
  }
  json_object_set_new(o, "t", json_real((double)tv.tv_sec + tv.tv_usec / 1e6));
  json_object_set_new(o, "path", json_string(path));
  json_object_set_new(o, "method",
                      json_string(evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST"
                                                                                      : "OTHER"));
  json_object_set_new(o, "headers", h);
  json_object_set_new(o, "body", json_stringn_nocheck(body, len));
  json_object_set_new(o, "status", outcome ? json_string(outcome) : json_integer(status));
  json_object_set_new(o, "n", json_integer(n));
  if (R.keylen) {
    json_object_set_new(o, "sig_ok",
                        json_boolean(verify(evhttp_find_header(hdrs, "webhook-id"),
                                            evhttp_find_header(hdrs, "webhook-timestamp"),
                                            evhttp_find_header(hdrs, "webhook-signature"), body,
                                            len)));
  }
  line = json_dumps(o, JSON_COMPACT);
  fprintf(R.record, "%s\n", line);
  fflush(R.record);
  free(line);
  json_decref(o);
}

static void answer(struct evhttp_request *req, const step_t *st) {
  struct evkeyvalq *out = evhttp_request_get_output_headers(req);
  struct evbuffer *buf = evbuffer_new();
  char ra[32];

  R.by_status[st->status]++;
  evhttp_add_header(out, "Content-Type", "text/plain");
  if (st->retry_after >= 0) {
    snprintf(ra, sizeof(ra), "%d", st->retry_after);
    evhttp_add_header(out, "Retry-After", ra);
  }
  if (st->location[0])
    evhttp_add_header(out, "Location", st->location);
  if (R.body)
    evbuffer_add_reference(buf, R.body, R.body_bytes, NULL, NULL);
  else
    evbuffer_add(buf, "ok", 2);
  evhttp_send_reply(req, st->status, "hl", buf);
  evbuffer_free(buf);
}

static void reset_conn(struct evhttp_request *req) {
  struct evhttp_connection *conn = evhttp_request_get_connection(req);
  struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
  struct linger lg = {1, 0};

  R.resets++;
  setsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  evhttp_connection_free(conn);
}

static void delayed_cb(evutil_socket_t fd, short what, void *arg) {
  pending_t *p = arg;

  answer(p->req, &p->step);
  event_free(p->timer);
  free(p);
}

static void stats_cb(struct evhttp_request *req) {
  json_t *o = json_object(), *bp = json_object(), *bs = json_object();
  struct evbuffer *buf = evbuffer_new();
  char *s, code[8];

  for (int i = 0; i < R.npaths; i++)
    json_object_set_new(bp, R.paths[i].path, json_integer(R.paths[i].n));
  for (int i = 100; i < 600; i++) {
    if (R.by_status[i]) {
      snprintf(code, sizeof(code), "%d", i);
      json_object_set_new(bs, code, json_integer(R.by_status[i]));
    }
  }
  json_object_set_new(o, "requests", json_integer(R.requests));
  json_object_set_new(o, "by_path", bp);
  json_object_set_new(o, "by_status", bs);
  json_object_set_new(o, "hangs", json_integer(R.hangs));
  json_object_set_new(o, "resets", json_integer(R.resets));
  s = json_dumps(o, JSON_COMPACT);
  evbuffer_add(buf, s, strlen(s));
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
  evhttp_send_reply(req, 200, "OK", buf);
  evbuffer_free(buf);
  free(s);
  json_decref(o);
}

static void request_cb(struct evhttp_request *req, void *arg) {
  const char *uri = evhttp_request_get_uri(req);
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  size_t len = evbuffer_get_length(in);
  char path[256];
  const char *q, *body;
  path_stat_t *ps;
  step_t st;

  q = strchr(uri, '?');
  snprintf(path, sizeof(path), "%.*s", (int)(q ? q - uri : (long)strlen(uri)), uri);
  if (strcmp(path, "/_stats") == 0) {
    stats_cb(req);
    return;
  }
  R.requests++;
  ps = path_stat(path);
  ps->n++;
  st = pick_step(path, ps->n);
  body = (const char *)evbuffer_pullup(in, -1);
  if (R.record) {
    record(req, path, ps->n, st.act == ACT_HANG ? "hang" : st.act == ACT_RESET ? "reset" : NULL,
           st.status, body ? body : "", len);
  }
  if (st.act == ACT_HANG) {
    R.hangs++;
    return; /* never answered; freed when the client goes away */
  }
  if (st.act == ACT_RESET) {
    reset_conn(req);
    return;
  }
  if (st.delay_ms <= 0) {
    answer(req, &st);
    return;
  }
  pending_t *p = calloc(1, sizeof(*p));
  struct timeval tv = {st.delay_ms / 1000, (st.delay_ms % 1000) * 1000};

  p->req = req;
  p->step = st;
  p->timer = evtimer_new(R.base, delayed_cb, p);
  evtimer_add(p->timer, &tv);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg) {
  event_base_loopexit(R.base, NULL);
}

static int selftest(const char *path) {
  json_error_t jerr;
  json_t *v = json_load_file(path, 0, &jerr), *sym, *bad;
  size_t i;
  int failures = 0;

  if (!v)
    die("cannot read the vectors file");
  sym = json_array_get(json_object_get(v, "symmetric"), 0);
  if (set_key(json_string_value(json_object_get(sym, "secret"))) != 0)
    die("bad secret in vectors");
  char ts[32];
  const char *id = json_string_value(json_object_get(sym, "msg_id"));
  const char *payload = json_string_value(json_object_get(sym, "payload"));

  snprintf(ts, sizeof(ts), "%lld", (long long)json_integer_value(json_object_get(sym, "timestamp")));
  if (!verify(id, ts, json_string_value(json_object_get(sym, "signature")), payload,
              strlen(payload))) {
    fprintf(stderr, "selftest: the valid signature did not verify\n");
    failures++;
  }
  bad = json_object_get(v, "must_not_verify");
  for (i = 0; i < json_array_size(bad); i++) {
    if (verify(id, ts, json_string_value(json_array_get(bad, i)), payload, strlen(payload))) {
      fprintf(stderr, "selftest: %s verified but must not\n",
              json_string_value(json_array_get(bad, i)));
      failures++;
    }
  }
  json_decref(v);
  printf("selftest: %s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: hl-test-receiver [options]\n"
          "  --listen HOST:PORT     loopback address (default 127.0.0.1:0 = random port)\n"
          "  --port-file F          write the bound port to F (atomically)\n"
          "  --rule 'PATH=SPEC'     SPEC: comma-separated steps for the 1st, 2nd.. request on PATH,\n"
          "                         the last repeating; step: STATUS[@MS][+ra=SECONDS][+loc=URL]\n"
          "                         | hang | reset. PATH '*' is the fallback (default 200)\n"
          "  --fail-pct N --timeout-pct N --reset-pct N --seed S   random faults (chaos)\n"
          "  --record F             NDJSON line per request ('-' = stdout)\n"
          "  --verify-secret whsec_..  check webhook-signature, record sig_ok\n"
          "  --body-bytes N         answer an N-byte body instead of 'ok'\n"
          "  --max-body N           largest request body accepted (default 16 MiB)\n"
          "  --max-seconds N        exit after N seconds\n"
          "  --selftest VECTORS     verify the Standard Webhooks vectors and exit\n"
          "GET /_stats answers counters as JSON.\n");
}

static int bind_listen(struct evhttp *http, const char *listen_at) {
  char host[128];
  const char *colon = strrchr(listen_at, ':');
  struct evhttp_bound_socket *bs;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  int port;

  if (!colon || colon - listen_at >= (long)sizeof(host))
    die("--listen wants HOST:PORT");
  snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_at), listen_at);
  if (strcmp(host, "127.0.0.1") != 0 && strcmp(host, "::1") != 0 && strcmp(host, "localhost") != 0 &&
      strncmp(host, "127.", 4) != 0)
    die("only loopback addresses are allowed");
  bs = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)atoi(colon + 1));
  if (!bs)
    die("cannot bind");
  getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl);
  port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                        : ((struct sockaddr_in *)&ss)->sin_port);
  return port;
}

static void write_port_file(const char *path, int port) {
  char tmp[1024];
  FILE *fp;

  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  fp = fopen(tmp, "w");
  if (!fp)
    die("cannot write the port file");
  fprintf(fp, "%d\n", port);
  fclose(fp);
  rename(tmp, path);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"listen", 1, 0, 'l'},      {"port-file", 1, 0, 'p'},   {"rule", 1, 0, 'r'},
      {"record", 1, 0, 'R'},      {"verify-secret", 1, 0, 'v'}, {"body-bytes", 1, 0, 'b'},
      {"max-body", 1, 0, 'm'},    {"max-seconds", 1, 0, 'x'}, {"selftest", 1, 0, 's'},
      {"fail-pct", 1, 0, 'F'},    {"timeout-pct", 1, 0, 'T'}, {"reset-pct", 1, 0, 'X'},
      {"seed", 1, 0, 'S'},        {"help", 0, 0, 'h'},        {0, 0, 0, 0}};
  const char *listen_at = "127.0.0.1:0", *port_file = NULL;
  long max_body = 16 << 20, max_seconds = 0;
  struct event *sigterm, *sigint, *deadline = NULL;
  struct evhttp *http;
  int opt, port;

  signal(SIGPIPE, SIG_IGN);
  while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (opt) {
    case 'l': listen_at = optarg; break;
    case 'p': port_file = optarg; break;
    case 'r': add_rule(optarg); break;
    case 'R': R.record = strcmp(optarg, "-") ? fopen(optarg, "a") : stdout;
      if (!R.record) die("cannot open the record file");
      break;
    case 'v': if (set_key(optarg)) die("bad --verify-secret"); break;
    case 'b': R.body_bytes = (size_t)atol(optarg); break;
    case 'm': max_body = atol(optarg); break;
    case 'x': max_seconds = atol(optarg); break;
    case 's': return selftest(optarg);
    case 'F': R.fail_pct = atoi(optarg); break;
    case 'T': R.timeout_pct = atoi(optarg); break;
    case 'X': R.reset_pct = atoi(optarg); break;
    case 'S': srand((unsigned)atoi(optarg)); break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (R.body_bytes) {
    R.body = malloc(R.body_bytes);
    memset(R.body, 'x', R.body_bytes);
  }
  R.base = event_base_new();
  http = evhttp_new(R.base);
  evhttp_set_max_body_size(http, max_body);
  evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT);
  evhttp_set_gencb(http, request_cb, NULL);
  port = bind_listen(http, listen_at);
  printf("port=%d\n", port);
  fflush(stdout);
  if (port_file)
    write_port_file(port_file, port);
  sigterm = evsignal_new(R.base, SIGTERM, stop_cb, NULL);
  sigint = evsignal_new(R.base, SIGINT, stop_cb, NULL);
  evsignal_add(sigterm, NULL);
  evsignal_add(sigint, NULL);
  if (max_seconds > 0) {
    struct timeval tv = {max_seconds, 0};

    deadline = evtimer_new(R.base, stop_cb, NULL);
    evtimer_add(deadline, &tv);
  }
  event_base_dispatch(R.base);
  if (R.record && R.record != stdout)
    fclose(R.record);
  if (deadline)
    event_free(deadline);
  event_free(sigterm);
  event_free(sigint);
  evhttp_free(http);
  event_base_free(R.base);
  free(R.body);
  return 0;
}
