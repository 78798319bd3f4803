/*
 * http.c - the HTTP delivery engine (see http.h and docs/delivery.md).
 *
 * One curl multi handle is driven by the libevent loop in the manner of curl's
 * docs/examples/hiperfifo.c: curl tells us which sockets to watch (hl_http_on_socket) and when
 * to wake it (hl_http_on_timer); libevent calls back into curl_multi_socket_action() and
 * finished transfers are collected with curl_multi_info_read().  Owns: the multi handle and so
 * the connection pool, one hl_http_xfer_t per request (an easy handle with its options set once,
 * its header lines and its response excerpt) recycled through a free list, one hl_http_sock_t
 * per watched socket, also recycled, and the SSRF guard checked on every connect.
 */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"
#include "ssrf.h"
#include "util.h"

#if LIBCURL_VERSION_NUM < 0x075500
#error "hookline needs libcurl >= 7.85 (CURLOPT_PROTOCOLS_STR, CURLOPT_PREREQFUNCTION)"
#endif

#define HL_HTTP_MAX_HEADERS 64       /* custom header lines per request */
#define HL_HTTP_OWN_HEADERS 7        /* content-type, user-agent, webhook-*, "Accept:", "Expect:" */
#define HL_HTTP_HOST_CONNS 256       /* backstop; per-endpoint concurrency is the core's job */
#define HL_HTTP_MIN_CONNCACHE 64     /* idle connections kept at least */
#define HL_HTTP_CONNCACHE_PER_SLOT 2 /* cached connections per dispatcher.max_in_flight slot */
#define HL_HTTP_TIMEOUT_MAX_MS 30000
#define HL_HTTP_RETRY_AFTER_MAX_MS (30LL * 24 * 3600 * 1000)

typedef struct hl_http_xfer hl_http_xfer_t;
typedef struct hl_http_sock hl_http_sock_t;

struct hl_http_xfer {
  hl_http_t *http;
  CURL *easy;
  hl_http_xfer_t *prev, *next; /* active list, failed queue or free list */
  hl_http_done_cb *cb;
  void *opaque;
  int64_t start_us, ts_ms, retry_after_ms;
  size_t body_read, excerpt_len;
  bool truncated;
  int nallowed;        /* addresses the SSRF guard let through for this request */
  bool prereq_blocked; /* a reused connection's address was refused */
  char blocked[128];   /* the first refusal, "blocked_address: ..." */
  char error[CURL_ERROR_SIZE + 64];
  char errbuf[CURL_ERROR_SIZE];
  char excerpt[HL_HTTP_EXCERPT_MAX];
  char *hbuf; /* header text, kept for the next request */
  size_t hcap;
  struct curl_slist nodes[HL_HTTP_OWN_HEADERS + HL_HTTP_MAX_HEADERS];
};

struct hl_http_sock {
  hl_http_t *http;
  curl_socket_t fd;
  hl_http_sock_t *prev, *next; /* live list or free list */
  struct event ev;
};

struct hl_http {
  struct event_base *base;
  CURLM *multi;
  hl_ssrf_t *ssrf;
  struct event timer;     /* curl's own timeout */
  struct event kick;      /* delivers the failed queue from the loop */
  hl_http_xfer_t *active; /* in curl, doubly linked */
  hl_http_xfer_t *failed; /* refused before any I/O: FIFO delivered by kick */
  hl_http_xfer_t *failed_tail;
  size_t nfailed;
  hl_http_xfer_t *free_xfers;
  hl_http_sock_t *live_socks, *free_socks;
  size_t in_flight;
  hl_http_stats_t stats;
  int depth;         /* > 0 while one of our event handlers runs */
  bool closing;      /* hl_http_destroy() called */
  bool free_pending; /* free when depth returns to 0 */
  long connect_timeout_ms, timeout_ms, http_version;
  size_t response_max;
  const char *protocols;
  char *ca_file;
};

static const char *const hl_http_outcome_names[] = {
    "ok", "gone", "status", "timeout", "connect_error", "blocked_address", "error",
};

/* Names the engine sets (or removes) itself; custom headers may not repeat them. */
static const char *const hl_http_reserved[] = {
    "content-type",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "expect",
    "te",
    "upgrade",
    "keep-alive",
    "trailer",
    "proxy-authorization",
};

const char *hl_http_outcome_str(hl_http_outcome_t outcome) {
  if ((unsigned)outcome >= sizeof(hl_http_outcome_names) / sizeof(hl_http_outcome_names[0]))
    return "error";
  return hl_http_outcome_names[outcome];
}

/* ---- Retry-After ---------------------------------------------------------------------- */

int64_t hl_http_retry_after_ms(const char *value, int64_t now_ms) {
  const char *p = value;
  int64_t ms = 0;
  size_t ndigits;

  if (!p)
    return 0;
  while (*p == ' ' || *p == '\t')
    p++;
  ndigits = strspn(p, "0123456789");
  if (ndigits > 0 && p[strspn(p + ndigits, " \t") + ndigits] == '\0') {
    int64_t sec = 0;

    for (size_t i = 0; i < ndigits && sec <= HL_HTTP_RETRY_AFTER_MAX_MS / 1000; i++)
      sec = sec * 10 + (p[i] - '0');
    ms = sec * 1000;
  } else if (*p) {
    time_t t = curl_getdate(p, NULL);

    ms = t == -1 ? 0 : (int64_t)t * 1000 - now_ms;
  }
  if (ms < 0)
    ms = 0;
  return ms > HL_HTTP_RETRY_AFTER_MAX_MS ? HL_HTTP_RETRY_AFTER_MAX_MS : ms;
}

/* ---- lists ---------------------------------------------------------------------------- */

static void hl_http_active_link(hl_http_t *http, hl_http_xfer_t *xfer) {
  xfer->prev = NULL;
  xfer->next = http->active;
  if (http->active)
    http->active->prev = xfer;
  http->active = xfer;
}

static void hl_http_active_unlink(hl_http_t *http, hl_http_xfer_t *xfer) {
  if (xfer->prev)
    xfer->prev->next = xfer->next;
  else
    http->active = xfer->next;
  if (xfer->next)
    xfer->next->prev = xfer->prev;
  xfer->prev = xfer->next = NULL;
}

static hl_http_xfer_t *hl_http_failed_pop(hl_http_t *http) {
  hl_http_xfer_t *xfer = http->failed;

  if (!xfer)
    return NULL;
  http->failed = xfer->next;
  if (!http->failed)
    http->failed_tail = NULL;
  http->nfailed--;
  xfer->next = NULL;
  return xfer;
}

/* ---- curl callbacks of one transfer ---------------------------------------------------- */

static size_t hl_http_on_body(char *ptr, size_t size, size_t nmemb, void *userp) {
  hl_http_xfer_t *xfer = userp;
  size_t n = size * nmemb;
  size_t room = xfer->http->response_max - xfer->body_read;
  size_t take = n < room ? n : room;
  size_t copy = HL_HTTP_EXCERPT_MAX - xfer->excerpt_len;

  if (copy > take)
    copy = take;
  memcpy(xfer->excerpt + xfer->excerpt_len, ptr, copy);
  xfer->excerpt_len += copy;
  xfer->body_read += take;
  if (take == n)
    return n;
  xfer->truncated = true; /* the status is known: hl_http_classify() treats this as complete */
  return CURL_WRITEFUNC_ERROR;
}

static size_t hl_http_on_header(char *buf, size_t size, size_t nitems, void *userp) {
  hl_http_xfer_t *xfer = userp;
  size_t len = size * nitems;
  char value[64];
  size_t vlen;

  if (len <= 12 || strncasecmp(buf, "retry-after:", 12) != 0)
    return len;
  vlen = len - 12;
  if (vlen >= sizeof(value))
    vlen = sizeof(value) - 1;
  memcpy(value, buf + 12, vlen);
  while (vlen > 0 && (value[vlen - 1] == '\r' || value[vlen - 1] == '\n' || value[vlen - 1] == ' '))
    vlen--;
  value[vlen] = '\0';
  xfer->retry_after_ms = hl_http_retry_after_ms(value, hl_now_ms());
  return len;
}

static void hl_http_note_blocked(hl_http_xfer_t *xfer, const char *ip, const char *why) {
  xfer->http->stats.blocked++;
  if (!xfer->blocked[0])
    snprintf(xfer->blocked, sizeof(xfer->blocked), "blocked_address: %s is %s", ip, why);
}

/* Every new connection: the resolved address must pass the SSRF guard (DNS rebinding safe). */
static curl_socket_t hl_http_on_open_socket(void *userp, curlsocktype purpose,
                                            struct curl_sockaddr *addr) {
  hl_http_xfer_t *xfer = userp;
  const struct sockaddr *sa = &addr->addr;
  const char *why = NULL;
  char ip[INET6_ADDRSTRLEN] = "?";

  if (purpose != CURLSOCKTYPE_IPCXN)
    why = "not a plain connection";
  else
    why = hl_ssrf_check_sockaddr(xfer->http->ssrf, sa);
  if (why) {
    if (sa->sa_family == AF_INET)
      inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, ip, sizeof(ip));
    else if (sa->sa_family == AF_INET6)
      inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, ip,
                sizeof(ip));
    hl_http_note_blocked(xfer, ip, why);
    return CURL_SOCKET_BAD;
  }
  xfer->nallowed++;
  return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* Before each request, also on a reused connection: check the address actually connected. */
static int hl_http_on_prereq(void *userp, char *primary_ip, char *local_ip, int primary_port,
                             int local_port) {
  hl_http_xfer_t *xfer = userp;
  const char *why = hl_ssrf_check_ip(xfer->http->ssrf, primary_ip);

  if (!why)
    return CURL_PREREQFUNC_OK;
  xfer->prereq_blocked = true;
  hl_http_note_blocked(xfer, primary_ip, why);
  return CURL_PREREQFUNC_ABORT;
}

/* ---- transfers ------------------------------------------------------------------------- */

/* Options that never change are set once per easy handle. */
static int hl_http_easy_setup(hl_http_t *http, hl_http_xfer_t *xfer) {
  CURL *e = xfer->easy;
  int rc = 0;

  rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, xfer);
  rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  rc |= curl_easy_setopt(e, CURLOPT_POST, 1L);
  rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, http->protocols);
  rc |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, http->protocols);
  rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  rc |= curl_easy_setopt(e, CURLOPT_PROXY, ""); /* no *_proxy env: the guard checks the peer */
  rc |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION, http->http_version);
  rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (http->ca_file)
    rc |= curl_easy_setopt(e, CURLOPT_CAINFO, http->ca_file);
  rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, http->connect_timeout_ms);
  rc |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, xfer->errbuf);
  rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, hl_http_on_body);
  rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, xfer);
  rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, hl_http_on_header);
  rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, xfer);
  rc |= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, hl_http_on_open_socket);
  rc |= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, xfer);
  rc |= curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, hl_http_on_prereq);
  rc |= curl_easy_setopt(e, CURLOPT_PREREQDATA, xfer);
  return rc == 0 ? 0 : -1;
}

static void hl_http_xfer_free(hl_http_xfer_t *xfer) {
  if (!xfer)
    return;
  if (xfer->easy)
    curl_easy_cleanup(xfer->easy);
  free(xfer->hbuf);
  free(xfer);
}

/* A transfer from the free list, or a new one. */
static hl_http_xfer_t *hl_http_xfer_get(hl_http_t *http) {
  hl_http_xfer_t *xfer = http->free_xfers;

  if (xfer) {
    http->free_xfers = xfer->next;
    xfer->next = NULL;
    return xfer;
  }
  xfer = calloc(1, sizeof(*xfer));
  if (!xfer)
    return NULL;
  xfer->http = http;
  xfer->easy = curl_easy_init();
  if (!xfer->easy || hl_http_easy_setup(http, xfer) != 0) {
    hl_http_xfer_free(xfer);
    return NULL;
  }
  return xfer;
}

static void hl_http_xfer_put(hl_http_t *http, hl_http_xfer_t *xfer) {
  xfer->cb = NULL;
  xfer->opaque = NULL;
  xfer->prev = NULL;
  xfer->next = http->free_xfers;
  http->free_xfers = xfer;
}

/* 0 when line is "Name: value" with a token name that is not reserved and no CR/LF. */
static int hl_http_check_header(const char *line, char *errstr, size_t errsize) {
  size_t nlen = strcspn(line, ":");

  if (strpbrk(line, "\r\n")) {
    snprintf(errstr, errsize, "header: CR or LF in a custom header");
    return -1;
  }
  if (nlen == 0 || line[nlen] != ':' ||
      strspn(line, "!#$%&'*+-.^_`|~0123456789"
                   "abcdefghijklmnopqrstuvwxyz"
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != nlen) {
    snprintf(errstr, errsize, "header: \"%.40s\" is not a Name: value line", line);
    return -1;
  }
  for (size_t i = 0; i < sizeof(hl_http_reserved) / sizeof(hl_http_reserved[0]); i++) {
    if (strlen(hl_http_reserved[i]) == nlen && strncasecmp(line, hl_http_reserved[i], nlen) == 0) {
      snprintf(errstr, errsize, "header: %s is set by hookline", hl_http_reserved[i]);
      return -1;
    }
  }
  return 0;
}

/* Appends the line head+tail (NUL-terminated) to the header buffer and links its list node. */
static void hl_http_header_add(hl_http_xfer_t *xfer, size_t *used, size_t *nnodes, const char *head,
                               const char *tail) {
  char *line = xfer->hbuf + *used;
  int n = snprintf(line, xfer->hcap - *used, "%s%s", head, tail);

  *used += (size_t)n + 1;
  xfer->nodes[*nnodes].data = line;
  xfer->nodes[*nnodes].next = NULL;
  if (*nnodes > 0)
    xfer->nodes[*nnodes - 1].next = &xfer->nodes[*nnodes];
  (*nnodes)++;
}

static int hl_http_hbuf_reserve(hl_http_xfer_t *xfer, size_t need) {
  char *p;

  if (xfer->hcap >= need)
    return 0;
  p = realloc(xfer->hbuf, need);
  if (!p)
    return -1;
  xfer->hbuf = p;
  xfer->hcap = need;
  return 0;
}

/* The request's header lines (signature included) in xfer->nodes; -1 with xfer->error. */
static int hl_http_headers_build(hl_http_xfer_t *xfer, const hl_http_req_t *req) {
  size_t siglen = req->nkeys * (HL_SIGN_V1_LEN + 1) + 1;
  size_t need = 256 + strlen(req->msg_id) + siglen, used = 0, nnodes = 0;
  char ts[24], *sig;

  if (req->nheaders > HL_HTTP_MAX_HEADERS) {
    snprintf(xfer->error, sizeof(xfer->error), "header: more than %d custom headers",
             HL_HTTP_MAX_HEADERS);
    return -1;
  }
  if (strpbrk(req->msg_id, "\r\n") || !req->msg_id[0]) {
    snprintf(xfer->error, sizeof(xfer->error), "webhook-id: empty or contains CR/LF");
    return -1;
  }
  for (size_t i = 0; i < req->nheaders; i++) {
    if (hl_http_check_header(req->headers[i], xfer->error, sizeof(xfer->error)) != 0)
      return -1;
    need += strlen(req->headers[i]) + 1;
  }
  if (hl_http_hbuf_reserve(xfer, need) != 0) {
    snprintf(xfer->error, sizeof(xfer->error), "out of memory");
    return -1;
  }
  snprintf(ts, sizeof(ts), "%lld", (long long)(xfer->ts_ms / 1000));
  hl_http_header_add(xfer, &used, &nnodes, "content-type: ", "application/json");
  hl_http_header_add(xfer, &used, &nnodes, "user-agent: hookline/", HOOKLINE_VERSION);
  hl_http_header_add(xfer, &used, &nnodes, "webhook-id: ", req->msg_id);
  hl_http_header_add(xfer, &used, &nnodes, "webhook-timestamp: ", ts);
  hl_http_header_add(xfer, &used, &nnodes, "Accept:", ""); /* curl's defaults, removed */
  hl_http_header_add(xfer, &used, &nnodes, "Expect:", "");
  for (size_t i = 0; i < req->nheaders; i++)
    hl_http_header_add(xfer, &used, &nnodes, req->headers[i], "");
  hl_http_header_add(xfer, &used, &nnodes, "webhook-signature: ", "");
  sig = xfer->hbuf + used - 1; /* written in place, after "webhook-signature: " */
  if (hl_sign_header(req->keys, req->nkeys, req->msg_id, xfer->ts_ms / 1000, req->body,
                     req->body_len, sig, xfer->hcap - used + 1) != 0) {
    snprintf(xfer->error, sizeof(xfer->error), "signature: no signing key");
    return -1;
  }
  return 0;
}

/*
 * The endpoint's mTLS client identity, or none: easy handles are pooled, so a request without one
 * clears what the previous user of the handle set.  CURL_BLOB_COPY: curl keeps its own copy for
 * as long as the handle holds the option.
 *
 * Connection reuse across endpoints: libcurl (lib/vtls/vtls.c, Curl_ssl_config_matches) reuses a
 * TLS connection, and resumes a cached TLS session, only when the "primary" SSL config matches,
 * and that comparison includes the client certificate (blobcmp of cert_blob, and clientcert),
 * as well as CAfile and the verify flags.  So a connection or session that endpoint A opened with
 * its client certificate is never handed to endpoint B with another certificate or none, even
 * on the same host and port.  0 ok.
 */
static int hl_http_tls_client(CURL *e, const hl_http_req_t *req) {
  struct curl_blob cert = {0}, key = {0};
  bool on = req->tls_cert && req->tls_key;
  int rc = 0;

  if (on) {
    cert = (struct curl_blob){(void *)req->tls_cert, strlen(req->tls_cert), CURL_BLOB_COPY};
    key = (struct curl_blob){(void *)req->tls_key, strlen(req->tls_key), CURL_BLOB_COPY};
    rc |= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    rc |= curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
  }
  rc |= curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, on ? &cert : NULL);
  rc |= curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, on ? &key : NULL);
  return rc;
}

/* Per-request state and options; -1 with xfer->error when the request is refused. */
static int hl_http_xfer_prepare(hl_http_t *http, hl_http_xfer_t *xfer, const hl_http_req_t *req) {
  long timeout = req->timeout_ms > 0 ? req->timeout_ms : http->timeout_ms;
  CURL *e = xfer->easy;
  int rc = 0;

  if (timeout > HL_HTTP_TIMEOUT_MAX_MS)
    timeout = HL_HTTP_TIMEOUT_MAX_MS;
  if (hl_http_headers_build(xfer, req) != 0)
    return -1;
  rc |= curl_easy_setopt(e, CURLOPT_URL, req->url);
  rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
  rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
  rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, &xfer->nodes[0]);
  rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
  rc |= hl_http_tls_client(e, req);
  /* Wait for a connection that may multiplex (HTTP/2) rather than open another.  Over TLS curl
   * knows after the handshake (ALPN); over plain http only after the first response, so a slow
   * first request would hold up the rest: never wait there. */
  rc |= curl_easy_setopt(e, CURLOPT_PIPEWAIT, strncasecmp(req->url, "https:", 6) == 0 ? 1L : 0L);
  if (rc != 0) {
    snprintf(xfer->error, sizeof(xfer->error), "curl: cannot set the request options");
    return -1;
  }
  return 0;
}

static void hl_http_xfer_reset(hl_http_xfer_t *xfer, hl_http_done_cb *cb, void *opaque) {
  xfer->cb = cb;
  xfer->opaque = opaque;
  xfer->start_us = hl_mono_us();
  xfer->ts_ms = hl_now_ms();
  xfer->retry_after_ms = 0;
  xfer->body_read = 0;
  xfer->excerpt_len = 0;
  xfer->truncated = false;
  xfer->nallowed = 0;
  xfer->prereq_blocked = false;
  xfer->blocked[0] = '\0';
  xfer->error[0] = '\0';
  xfer->errbuf[0] = '\0';
}

/* Queue a refused request: its callback runs from the loop, never from hl_http_send(). */
static void hl_http_fail_later(hl_http_t *http, hl_http_xfer_t *xfer) {
  static const struct timeval now = {0, 0};

  xfer->next = NULL;
  if (http->failed_tail)
    http->failed_tail->next = xfer;
  else
    http->failed = xfer;
  http->failed_tail = xfer;
  http->nfailed++;
  evtimer_add(&http->kick, &now);
}

int hl_http_send(hl_http_t *http, const hl_http_req_t *req, hl_http_done_cb *cb, void *opaque) {
  hl_http_xfer_t *xfer;
  CURLMcode mc;

  if (!http || !req || !req->url || !req->msg_id || !cb || http->closing)
    return -1;
  xfer = hl_http_xfer_get(http);
  if (!xfer)
    return -1;
  hl_http_xfer_reset(xfer, cb, opaque);
  http->in_flight++;
  http->stats.sent++;
  if (hl_http_xfer_prepare(http, xfer, req) != 0) {
    hl_http_fail_later(http, xfer);
    return 0;
  }
  mc = curl_multi_add_handle(http->multi, xfer->easy);
  if (mc != CURLM_OK) {
    snprintf(xfer->error, sizeof(xfer->error), "curl: %s", curl_multi_strerror(mc));
    hl_http_fail_later(http, xfer);
    return 0;
  }
  hl_http_active_link(http, xfer);
  return 0;
}

/* ---- completion ------------------------------------------------------------------------- */

static bool hl_http_is_connect_error(CURLcode code) {
  switch (code) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_ENGINE_INITFAILED:
    return true;
  default:
    return false;
  }
}

/* Under TLS 1.3 the client's side of the handshake ends before the server has checked the client
 * certificate, so a receiver refusing it (none, or not one it trusts) shows up as a TLS alert on
 * the first read, before any status line: the TLS session was refused, as in a handshake error. */
static bool hl_http_is_tls_refusal(CURLcode code, long status, const char *why) {
  return (code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR) && status == 0 &&
         strstr(why, " alert ") != NULL;
}

static hl_http_outcome_t hl_http_classify_status(hl_http_xfer_t *xfer, long status) {
  if (status >= 200 && status <= 299)
    return HL_HTTP_OK;
  if (status >= 300 && status <= 399)
    snprintf(xfer->error, sizeof(xfer->error), "redirect not followed (HTTP %ld)", status);
  else
    snprintf(xfer->error, sizeof(xfer->error), "HTTP %ld", status);
  return status == 410 ? HL_HTTP_GONE : HL_HTTP_STATUS;
}

static hl_http_outcome_t hl_http_classify(hl_http_xfer_t *xfer, CURLcode code, long status) {
  const char *why = xfer->errbuf[0] ? xfer->errbuf : curl_easy_strerror(code);
  curl_off_t pretransfer = 0;

  if (code == CURLE_WRITE_ERROR && xfer->truncated)
    code = CURLE_OK; /* we cut the body ourselves after the status line */
  if (code == CURLE_OK)
    return hl_http_classify_status(xfer, status);
  if (xfer->blocked[0] && (xfer->prereq_blocked || xfer->nallowed == 0) &&
      (code == CURLE_COULDNT_CONNECT || code == CURLE_ABORTED_BY_CALLBACK)) {
    snprintf(xfer->error, sizeof(xfer->error), "%s", xfer->blocked);
    return HL_HTTP_BLOCKED;
  }
  curl_easy_getinfo(xfer->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
  if (code == CURLE_OPERATION_TIMEDOUT && (status > 0 || pretransfer > 0)) {
    snprintf(xfer->error, sizeof(xfer->error), "timeout: %s", why);
    return HL_HTTP_TIMEOUT;
  }
  if (code == CURLE_OPERATION_TIMEDOUT || hl_http_is_connect_error(code) ||
      hl_http_is_tls_refusal(code, status, why)) {
    snprintf(xfer->error, sizeof(xfer->error), "connect: %s", why);
    return HL_HTTP_CONNECT;
  }
  snprintf(xfer->error, sizeof(xfer->error), "%s", why);
  return HL_HTTP_ERROR;
}

/* Run the callback, then recycle the transfer (the result points into it until then). */
static void hl_http_deliver(hl_http_t *http, hl_http_xfer_t *xfer, hl_http_result_t *res) {
  res->latency_us = hl_mono_us() - xfer->start_us;
  res->ts_ms = xfer->ts_ms;
  res->error = xfer->error;
  res->excerpt = xfer->excerpt;
  res->excerpt_len = xfer->excerpt_len;
  res->body_read = xfer->body_read;
  res->truncated = xfer->truncated;
  http->in_flight--;
  http->stats.completed++;
  xfer->cb(res, xfer->opaque);
  hl_http_xfer_put(http, xfer);
}

static void hl_http_finish(hl_http_t *http, hl_http_xfer_t *xfer, CURLcode code) {
  hl_http_result_t res = {0};
  long status = 0, nconn = 0;

  curl_easy_getinfo(xfer->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(xfer->easy, CURLINFO_NUM_CONNECTS, &nconn);
  curl_multi_remove_handle(http->multi, xfer->easy);
  hl_http_active_unlink(http, xfer);
  res.status = (int)status;
  res.outcome = hl_http_classify(xfer, code, status);
  if (status == 429 || status == 503)
    res.retry_after_ms = xfer->retry_after_ms;
  res.connects = (int)nconn;
  http->stats.connects += (uint64_t)nconn;
  hl_debug("http: %s %ld %s", hl_http_outcome_str(res.outcome), status, xfer->error);
  hl_http_deliver(http, xfer, &res);
}

/* A request refused before any I/O, or cancelled (error already in xfer->error). */
static void hl_http_finish_error(hl_http_t *http, hl_http_xfer_t *xfer) {
  hl_http_result_t res = {0};

  res.outcome = HL_HTTP_ERROR;
  hl_http_deliver(http, xfer, &res);
}

/* Collect finished transfers; callbacks may add new ones (re-entrancy is fine here). */
static void hl_http_drain(hl_http_t *http) {
  int left;

  for (;;) {
    CURLMsg *msg = curl_multi_info_read(http->multi, &left);
    char *priv = NULL;

    if (!msg)
      break;
    if (msg->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    hl_http_finish(http, (hl_http_xfer_t *)(void *)priv, msg->data.result);
  }
}

/* ---- the event loop side --------------------------------------------------------------- */

static void hl_http_free(hl_http_t *http);

static void hl_http_enter(hl_http_t *http) {
  http->depth++;
}

static void hl_http_leave(hl_http_t *http) {
  http->depth--;
  if (http->depth == 0 && http->free_pending)
    hl_http_free(http);
}

static void hl_http_on_socket_event(evutil_socket_t fd, short what, void *arg) {
  hl_http_sock_t *sk = arg;
  hl_http_t *http = sk->http;
  int action =
      ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
  int running = 0;

  hl_http_enter(http);
  curl_multi_socket_action(http->multi, fd, action, &running);
  hl_http_drain(http);
  hl_http_leave(http);
}

static void hl_http_on_timer_event(evutil_socket_t fd, short what, void *arg) {
  hl_http_t *http = arg;
  int running = 0;

  hl_http_enter(http);
  curl_multi_socket_action(http->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  hl_http_drain(http);
  hl_http_leave(http);
}

/* Delivers the refusals queued so far (later ones wait for the next kick). */
static void hl_http_on_kick(evutil_socket_t fd, short what, void *arg) {
  hl_http_t *http = arg;
  size_t n = http->nfailed;

  hl_http_enter(http);
  for (; n > 0 && http->failed; n--)
    hl_http_finish_error(http, hl_http_failed_pop(http));
  hl_http_leave(http);
}

/* CURLMOPT_TIMERFUNCTION: never call curl back from here, only arm the timer. */
static int hl_http_on_timer(CURLM *multi, long timeout_ms, void *userp) {
  hl_http_t *http = userp;
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

  if (timeout_ms < 0)
    return evtimer_del(&http->timer);
  return evtimer_add(&http->timer, &tv);
}

static hl_http_sock_t *hl_http_sock_get(hl_http_t *http, curl_socket_t fd) {
  hl_http_sock_t *sk = http->free_socks;

  if (sk)
    http->free_socks = sk->next;
  else
    sk = calloc(1, sizeof(*sk));
  if (!sk)
    return NULL;
  sk->http = http;
  sk->fd = fd;
  sk->prev = NULL;
  sk->next = http->live_socks;
  if (http->live_socks)
    http->live_socks->prev = sk;
  http->live_socks = sk;
  return sk;
}

static void hl_http_sock_put(hl_http_t *http, hl_http_sock_t *sk) {
  event_del(&sk->ev);
  if (sk->prev)
    sk->prev->next = sk->next;
  else
    http->live_socks = sk->next;
  if (sk->next)
    sk->next->prev = sk->prev;
  sk->prev = NULL;
  sk->next = http->free_socks;
  http->free_socks = sk;
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl asks (one persistent event per socket). */
static int hl_http_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp) {
  hl_http_t *http = userp;
  hl_http_sock_t *sk = sockp;
  short kind = EV_PERSIST;

  if (what == CURL_POLL_REMOVE) {
    if (sk) {
      curl_multi_assign(http->multi, fd, NULL);
      hl_http_sock_put(http, sk);
    }
    return 0;
  }
  if (!sk) {
    sk = hl_http_sock_get(http, fd);
    if (!sk)
      return -1;
    curl_multi_assign(http->multi, fd, sk);
  } else {
    event_del(&sk->ev);
  }
  kind |= (what & CURL_POLL_IN) ? EV_READ : 0;
  kind |= (what & CURL_POLL_OUT) ? EV_WRITE : 0;
  event_assign(&sk->ev, http->base, fd, kind, hl_http_on_socket_event, sk);
  return event_add(&sk->ev, NULL);
}

/* ---- life cycle ------------------------------------------------------------------------ */

/*
 * The connection cache counts connections in use too.  Sized at exactly max_in_flight, a full
 * process thrashes: every finished transfer hands its connection back to a full cache, curl
 * closes the oldest idle one (a scan over every connection), and the next transfer connects
 * anew.  At fan-out 100 that cost 2-3x the CPU per delivery (docs/benchmarks.md), so keep
 * room for as many idle connections as there can be busy ones.
 */
long hl_http_conns_max(const hl_conf_t *conf) {
  long maxconn = HL_HTTP_CONNCACHE_PER_SLOT * (long)hl_conf_int(conf, "dispatcher.max_in_flight");

  return maxconn < HL_HTTP_MIN_CONNCACHE ? HL_HTTP_MIN_CONNCACHE : maxconn;
}

static int hl_http_multi_setup(hl_http_t *http, const hl_conf_t *conf) {
  long maxconn = hl_http_conns_max(conf);
  int mc = 0;

  mc |= curl_multi_setopt(http->multi, CURLMOPT_SOCKETFUNCTION, hl_http_on_socket);
  mc |= curl_multi_setopt(http->multi, CURLMOPT_SOCKETDATA, http);
  mc |= curl_multi_setopt(http->multi, CURLMOPT_TIMERFUNCTION, hl_http_on_timer);
  mc |= curl_multi_setopt(http->multi, CURLMOPT_TIMERDATA, http);
  mc |= curl_multi_setopt(http->multi, CURLMOPT_MAXCONNECTS, maxconn);
  mc |= curl_multi_setopt(http->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)HL_HTTP_HOST_CONNS);
  mc |= curl_multi_setopt(http->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  return mc == 0 ? 0 : -1;
}

static void hl_http_conf(hl_http_t *http, const hl_conf_t *conf) {
  const char *ca = hl_conf_str(conf, "delivery.ca_file");
  const curl_version_info_data *ver = curl_version_info(CURLVERSION_NOW);

  http->connect_timeout_ms = (long)hl_conf_int(conf, "delivery.connect_timeout");
  http->timeout_ms = (long)hl_conf_int(conf, "delivery.timeout");
  http->response_max = (size_t)hl_conf_int(conf, "delivery.response_max");
  http->protocols = hl_conf_bool(conf, "delivery.https_only") ? "https" : "http,https";
  http->ca_file = ca && ca[0] ? strdup(ca) : NULL;
  http->http_version =
      (ver->features & CURL_VERSION_HTTP2) ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1;
}

hl_http_t *hl_http_new(struct event_base *base, const hl_conf_t *conf, char *errstr,
                       size_t errsize) {
  static bool curl_ready;
  hl_http_t *http = NULL;

  if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(errstr, errsize, "http: curl_global_init failed");
    goto fail;
  }
  curl_ready = true;
  http = calloc(1, sizeof(*http));
  if (!http) {
    snprintf(errstr, errsize, "http: out of memory");
    goto fail;
  }
  http->base = base;
  hl_http_conf(http, conf);
  evtimer_assign(&http->timer, base, hl_http_on_timer_event, http);
  evtimer_assign(&http->kick, base, hl_http_on_kick, http);
  http->ssrf = hl_ssrf_new(hl_conf_str(conf, "delivery.allow_cidrs"), errstr, errsize);
  if (!http->ssrf)
    goto fail;
  http->multi = curl_multi_init();
  if (!http->multi || hl_http_multi_setup(http, conf) != 0) {
    snprintf(errstr, errsize, "http: cannot set up the curl multi handle");
    goto fail;
  }
  return http;
fail:
  if (http)
    hl_http_free(http);
  return NULL;
}

size_t hl_http_in_flight(const hl_http_t *http) {
  return http ? http->in_flight : 0;
}

void hl_http_stats(const hl_http_t *http, hl_http_stats_t *stats) {
  if (http)
    *stats = http->stats;
  else
    memset(stats, 0, sizeof(*stats));
}

/* Ends every request with a "shutdown" error (or its own queued refusal). */
static void hl_http_cancel_all(hl_http_t *http) {
  while (http->active) {
    hl_http_xfer_t *xfer = http->active;

    curl_multi_remove_handle(http->multi, xfer->easy);
    hl_http_active_unlink(http, xfer);
    snprintf(xfer->error, sizeof(xfer->error), "shutdown");
    hl_http_finish_error(http, xfer);
  }
  while (http->failed)
    hl_http_finish_error(http, hl_http_failed_pop(http));
}

static void hl_http_free(hl_http_t *http) {
  if (event_initialized(&http->timer))
    evtimer_del(&http->timer);
  if (event_initialized(&http->kick))
    evtimer_del(&http->kick);
  while (http->free_xfers) {
    hl_http_xfer_t *xfer = http->free_xfers;

    http->free_xfers = xfer->next;
    hl_http_xfer_free(xfer);
  }
  if (http->multi)
    curl_multi_cleanup(http->multi);
  while (http->live_socks)
    hl_http_sock_put(http, http->live_socks);
  while (http->free_socks) {
    hl_http_sock_t *sk = http->free_socks;

    http->free_socks = sk->next;
    free(sk);
  }
  hl_ssrf_destroy(&http->ssrf);
  free(http->ca_file);
  free(http);
}

void hl_http_destroy(hl_http_t **httpp) {
  hl_http_t *http = httpp ? *httpp : NULL;

  if (!http)
    return;
  *httpp = NULL;
  if (http->closing)
    return;
  http->closing = true;
  hl_http_enter(http);
  hl_http_cancel_all(http);
  http->free_pending = true;
  hl_http_leave(http);
}
