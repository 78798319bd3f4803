/*
 * http.h - the dispatcher's HTTP delivery engine: signed webhook POSTs over one libcurl multi
 * handle driven by the process's libevent loop (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION), so
 * nothing blocks the loop.  Owns the curl multi, its connection pool (keep-alive, HTTP/2
 * multiplexing over TLS), a free list of easy handles and the SSRF guard applied at connect
 * time.  The delivery rules it implements are in docs/delivery.md (DESIGN.md §7).
 * Sets CURLOPT_NOSIGNAL: the program must ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)).
 */
#ifndef HL_HTTP_H
#define HL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "sign.h"

struct event_base;

typedef struct hl_http hl_http_t;

typedef enum {
  HL_HTTP_OK = 0,  /* 2xx */
  HL_HTTP_GONE,    /* 410: the endpoint asks to be disabled */
  HL_HTTP_STATUS,  /* any other status, including 3xx (redirects are not followed) */
  HL_HTTP_TIMEOUT, /* connected, but no complete answer within the attempt's timeout */
  HL_HTTP_CONNECT, /* DNS, TCP or TLS failure (incl. connect timeout) */
  HL_HTTP_BLOCKED, /* the SSRF guard refused every address of the host: nothing was sent */
  HL_HTTP_ERROR,   /* anything else: bad request, protocol not allowed, reset, shutdown */
} hl_http_outcome_t;

/* "ok", "gone", "status", "timeout", "connect_error", "blocked_address", "error". */
const char *hl_http_outcome_str(hl_http_outcome_t outcome);

#define HL_HTTP_EXCERPT_MAX 1024

typedef struct hl_http_result {
  hl_http_outcome_t outcome;
  int status;             /* HTTP status or 0 */
  int64_t retry_after_ms; /* from Retry-After on 429/503 (seconds or HTTP-date), else 0 */
  int64_t latency_us;     /* hl_http_send() to completion */
  const char *error;      /* human reason, "" on success */
  const char *excerpt;    /* first bytes of the response body (<= HL_HTTP_EXCERPT_MAX) */
  size_t excerpt_len;
  int64_t ts_ms;    /* attempt start (the signed webhook-timestamp, in ms) */
  size_t body_read; /* response body bytes read (<= delivery.response_max) */
  bool truncated;   /* the body was longer than delivery.response_max and was cut */
  int connects;     /* new connections this attempt opened (0: a kept-alive one reused) */
} hl_http_result_t; /* valid only during the callback */

typedef void hl_http_done_cb(const hl_http_result_t *res, void *opaque);

typedef struct hl_http_req {
  const char *url;
  const char *msg_id; /* webhook-id */
  const char *body;   /* borrowed: must stay valid until the callback */
  size_t body_len;
  const hl_sign_key_t *keys; /* signing keys (sign.h), used during hl_http_send only */
  size_t nkeys;
  const char *const *headers; /* endpoint custom "Name: value" lines, copied */
  size_t nheaders;
  int timeout_ms;       /* 0: delivery.timeout; at most 30000 */
  const char *tls_cert; /* mTLS client certificate PEM (chain allowed), NULL: none; copied */
  const char *tls_key;  /* its private key PEM, with tls_cert; copied, never logged */
} hl_http_req_t;

typedef struct hl_http_stats {
  uint64_t sent;      /* hl_http_send() calls accepted */
  uint64_t completed; /* callbacks made */
  uint64_t connects;  /* new connections opened (the rest reused kept-alive ones) */
  uint64_t blocked;   /* addresses refused by the SSRF guard */
} hl_http_stats_t;

/*
 * Reads delivery.* from conf (timeouts, response_max, allow_cidrs, https_only, ca_file) and
 * dispatcher.max_in_flight (connection cache: twice that).  NULL with errstr on a bad allow list.
 */
hl_http_t *hl_http_new(struct event_base *base, const hl_conf_t *conf, char *errstr,
                       size_t errsize);

/* The most connections the engine keeps open (busy and idle) under conf. */
long hl_http_conns_max(const hl_conf_t *conf);

/*
 * Start one signed POST.  0: cb will be called exactly once, always later from the event loop
 * (never from inside this call), also for requests refused before any I/O (CR/LF in a header:
 * HL_HTTP_ERROR).  -1: refused (NULL arguments, out of memory, shutting down); cb is not called.
 * cb may call hl_http_send() again.
 */
int hl_http_send(hl_http_t *http, const hl_http_req_t *req, hl_http_done_cb *cb, void *opaque);

/* Requests sent whose callback has not run yet. */
size_t hl_http_in_flight(const hl_http_t *http);
void hl_http_stats(const hl_http_t *http, hl_http_stats_t *stats);

/*
 * Every in-flight request ends with an HL_HTTP_ERROR "shutdown" callback (made from inside this
 * call; hl_http_send() then returns -1), then everything is freed.  Called from inside a
 * callback, the teardown finishes when that callback returns.  Accepts NULL; NULLs *http.
 */
void hl_http_destroy(hl_http_t **http);

/*
 * Retry-After value (delay-seconds or an HTTP-date) as milliseconds from now_ms; 0 when absent,
 * invalid or in the past; capped at 30 days.
 */
int64_t hl_http_retry_after_ms(const char *value, int64_t now_ms);

#endif
