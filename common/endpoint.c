/*
 * endpoint.c - the endpoint model (endpoint.h): field rules, event-type filter matching, secret
 * rotation, and the codec to and from the hl:ep:<id> hash (docs/storage.md) and the API's JSON.
 *
 * Owns the layout of the hash: one field per scalar, JSON text for lists (types, headers,
 * secrets).  Secrets are sealed with the secret box on the way in and opened on the way out.
 */
#include "endpoint.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "envelope.h"
#include "ssrf.h"
#include "util.h"

#define HL_HEADER_NAME_MAX 64
#define HL_HEADER_VALUE_MAX 2048

/* Headers hookline sets itself; an endpoint may not override them. */
static const char *const hl_reserved_headers[] = {
    "host",       "content-type", "content-length", "transfer-encoding",
    "connection", "keep-alive",   "upgrade",        "te",
    "trailer",    "expect",       "user-agent",     "proxy-connection"};

hl_endpoint_t *hl_endpoint_new(void) {
  hl_endpoint_t *ep = calloc(1, sizeof(*ep));

  if (!ep)
    return NULL;
  ep->enabled = true;
  ep->description = strdup("");
  ep->metadata = strdup("{}");
  if (!ep->description || !ep->metadata)
    hl_endpoint_destroy(&ep);
  return ep;
}

void hl_endpoint_clear_filters(hl_endpoint_t *ep) {
  for (size_t i = 0; i < ep->nfilters; i++)
    free(ep->filters[i]);
  ep->nfilters = 0;
}

void hl_endpoint_clear_headers(hl_endpoint_t *ep) {
  for (size_t i = 0; i < ep->nheaders; i++)
    free(ep->headers[i]);
  ep->nheaders = 0;
}

void hl_endpoint_destroy(hl_endpoint_t **epp) {
  hl_endpoint_t *ep = epp ? *epp : NULL;

  if (!ep)
    return;
  hl_endpoint_clear_filters(ep);
  hl_endpoint_clear_headers(ep);
  free(ep->url);
  free(ep->description);
  free(ep->disabled_reason);
  free(ep->metadata);
  OPENSSL_cleanse(ep->secrets, sizeof(ep->secrets));
  hl_endpoint_set_tls_client(ep, NULL, NULL);
  free(ep);
  *epp = NULL;
}

int hl_endpoint_set_str(char **member, const char *value) {
  char *copy = value ? strdup(value) : NULL;

  if (value && !copy)
    return -1;
  free(*member);
  *member = copy;
  return 0;
}

/* ---- filters ---- */

bool hl_endpoint_matches(const hl_endpoint_t *ep, const char *type) {
  for (size_t i = 0; i < ep->nfilters; i++) {
    const char *f = ep->filters[i];
    size_t n = strlen(f);

    if (strcmp(f, "*") == 0 || strcmp(f, type) == 0)
      return true;
    /* "invoice.*": every type below invoice ("invoice.paid", "invoice.x.y"), not "invoice" */
    if (n >= 2 && f[n - 1] == '*' && f[n - 2] == '.' && strncmp(f, type, n - 1) == 0 &&
        type[n - 1] != '\0')
      return true;
  }
  return false;
}

int hl_endpoint_check_filter(const char *filter, char *errstr, size_t errsize) {
  char prefix[HL_EVENT_TYPE_MAX + 1], ignored[128];
  size_t n = filter ? strlen(filter) : 0;

  if (n == 1 && filter[0] == '*')
    return 0;
  if (n >= 3 && n - 2 <= HL_EVENT_TYPE_MAX && strcmp(filter + n - 2, ".*") == 0) {
    memcpy(prefix, filter, n - 2);
    prefix[n - 2] = '\0';
    if (hl_event_check_type(prefix, ignored, sizeof(ignored)) == 0)
      return 0;
  } else if (n > 0 && hl_event_check_type(filter, ignored, sizeof(ignored)) == 0) {
    return 0;
  }
  snprintf(errstr, errsize,
           "types: \"%.*s\" must be an event type (invoice.paid), a prefix (invoice.*) or *",
           (int)(n > 140 ? 140 : n), filter ? filter : "");
  return -1;
}

int hl_endpoint_add_filter(hl_endpoint_t *ep, const char *filter, char *errstr, size_t errsize) {
  if (hl_endpoint_check_filter(filter, errstr, errsize) != 0)
    return -1;
  for (size_t i = 0; i < ep->nfilters; i++) {
    if (strcmp(ep->filters[i], filter) == 0)
      return 0; /* listed twice: once is enough */
  }
  if (ep->nfilters == HL_EP_MAX_FILTERS) {
    snprintf(errstr, errsize, "types: at most %d filters", HL_EP_MAX_FILTERS);
    return -1;
  }
  ep->filters[ep->nfilters] = strdup(filter);
  if (!ep->filters[ep->nfilters]) {
    snprintf(errstr, errsize, "types: out of memory");
    return -1;
  }
  ep->nfilters++;
  return 0;
}

int hl_endpoint_set_filters(hl_endpoint_t *ep, const char *csv, char *errstr, size_t errsize) {
  char *copy = strdup(csv), *save = NULL, *tok;
  int rc = 0;

  if (!copy)
    return -1;
  hl_endpoint_clear_filters(ep);
  for (tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ')
      tok++;
    for (size_t n = strlen(tok); n > 0 && tok[n - 1] == ' '; n--)
      tok[n - 1] = '\0';
    rc = hl_endpoint_add_filter(ep, tok, errstr, errsize);
  }
  if (rc == 0 && ep->nfilters == 0) {
    snprintf(errstr, errsize, "types: at least one filter (an event type, a prefix.* or *)");
    rc = -1;
  }
  free(copy);
  return rc;
}

/* ---- custom headers ---- */

static bool hl_is_tchar(unsigned char c) {
  return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool hl_header_reserved(const char *name, size_t n) {
  if (n >= 8 && strncasecmp(name, "webhook-", 8) == 0)
    return true;
  for (size_t i = 0; i < sizeof(hl_reserved_headers) / sizeof(hl_reserved_headers[0]); i++) {
    if (strlen(hl_reserved_headers[i]) == n && strncasecmp(name, hl_reserved_headers[i], n) == 0)
      return true;
  }
  return false;
}

int hl_endpoint_check_header(const char *line, char *errstr, size_t errsize) {
  const char *colon = line ? strchr(line, ':') : NULL, *v;
  size_t n = colon ? (size_t)(colon - line) : 0;

  if (line && strpbrk(line, "\r\n")) {
    snprintf(errstr, errsize, "headers: must not contain CR or LF");
    return -1;
  }
  if (!colon || n == 0 || n > HL_HEADER_NAME_MAX) {
    snprintf(errstr, errsize, "headers: must be \"Name: value\" with a name of 1..%d characters",
             HL_HEADER_NAME_MAX);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    if (!hl_is_tchar((unsigned char)line[i])) {
      snprintf(errstr, errsize, "headers: \"%.*s\" is not a valid header name", (int)n, line);
      return -1;
    }
  }
  if (hl_header_reserved(line, n)) {
    snprintf(errstr, errsize, "headers: %.*s is set by hookline and cannot be overridden", (int)n,
             line);
    return -1;
  }
  for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
    ;
  if (!*v || strlen(v) > HL_HEADER_VALUE_MAX) {
    snprintf(errstr, errsize, "headers: %.*s needs a value of 1..%d characters", (int)n, line,
             HL_HEADER_VALUE_MAX);
    return -1;
  }
  for (; *v; v++) {
    if ((unsigned char)*v < 0x20 && *v != '\t') {
      snprintf(errstr, errsize, "headers: %.*s: value must not contain control characters", (int)n,
               line);
      return -1;
    }
  }
  return 0;
}

/* "Name:   value" -> "Name: value" */
static char *hl_header_normalise(const char *line) {
  const char *colon = strchr(line, ':'), *v = colon + 1;
  size_t n = (size_t)(colon - line), vlen;
  char *out;

  while (*v == ' ' || *v == '\t')
    v++;
  vlen = strlen(v);
  while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
    vlen--;
  out = malloc(n + vlen + 3);
  if (out)
    sprintf(out, "%.*s: %.*s", (int)n, line, (int)vlen, v);
  return out;
}

int hl_endpoint_add_header(hl_endpoint_t *ep, const char *line, char *errstr, size_t errsize) {
  if (hl_endpoint_check_header(line, errstr, errsize) != 0)
    return -1;
  if (ep->nheaders == HL_EP_MAX_HEADERS) {
    snprintf(errstr, errsize, "headers: at most %d custom headers", HL_EP_MAX_HEADERS);
    return -1;
  }
  ep->headers[ep->nheaders] = hl_header_normalise(line);
  if (!ep->headers[ep->nheaders]) {
    snprintf(errstr, errsize, "headers: out of memory");
    return -1;
  }
  ep->nheaders++;
  return 0;
}

/* ---- validation ---- */

static int hl_endpoint_check_numbers(const hl_endpoint_t *ep, char *errstr, size_t errsize) {
  if (!isfinite(ep->rate_per_sec) || ep->rate_per_sec < 0 || ep->rate_per_sec > HL_EP_RATE_MAX) {
    snprintf(errstr, errsize, "rate_limit.per_second: must be 0 (unlimited) .. %.0f",
             HL_EP_RATE_MAX);
    return -1;
  }
  if (ep->burst < 0 || ep->burst > HL_EP_BURST_MAX || (ep->burst > 0 && ep->rate_per_sec == 0)) {
    snprintf(errstr, errsize, "rate_limit.burst: must be 1..%d and needs a rate per second",
             HL_EP_BURST_MAX);
    return -1;
  }
  if (ep->max_in_flight < 0 || ep->max_in_flight > HL_EP_INFLIGHT_MAX) {
    snprintf(errstr, errsize, "max_in_flight: must be 0 (the default) .. %d", HL_EP_INFLIGHT_MAX);
    return -1;
  }
  if (ep->timeout_ms < 0 || ep->timeout_ms > HL_EP_TIMEOUT_MAX_MS ||
      (ep->timeout_ms > 0 && ep->timeout_ms < 100)) {
    snprintf(errstr, errsize, "timeout_ms: must be 100..%d (0: the default)", HL_EP_TIMEOUT_MAX_MS);
    return -1;
  }
  return 0;
}

static int hl_endpoint_check_metadata(const char *metadata, char *errstr, size_t errsize) {
  json_t *m = metadata ? json_loads(metadata, JSON_REJECT_DUPLICATES, NULL) : NULL;
  int ok = m && json_is_object(m) && strlen(metadata) <= HL_EP_METADATA_MAX;

  json_decref(m);
  if (ok)
    return 0;
  snprintf(errstr, errsize, "metadata: must be a JSON object of at most %d bytes",
           HL_EP_METADATA_MAX);
  return -1;
}

static int hl_endpoint_check_secrets(const hl_endpoint_t *ep, char *errstr, size_t errsize) {
  hl_sign_key_t key;
  int rc = 0;

  if (ep->nsecrets == 0) {
    snprintf(errstr, errsize, "secret: the endpoint has no signing secret");
    return -1;
  }
  for (size_t i = 0; i < ep->nsecrets && rc == 0; i++)
    rc = hl_sign_secret_decode(ep->secrets[i].secret, &key, errstr, errsize);
  OPENSSL_cleanse(&key, sizeof(key));
  return rc;
}

static int hl_endpoint_check_text(const hl_endpoint_t *ep, char *errstr, size_t errsize) {
  if (strlen(ep->id) < 4 || strncmp(ep->id, "ep_", 3) != 0 ||
      hl_event_check_id(ep->id, errstr, errsize) != 0) {
    snprintf(errstr, errsize, "id: must be ep_ followed by [A-Za-z0-9_.-]");
    return -1;
  }
  if (hl_event_check_tenant(ep->tenant, errstr, errsize) != 0)
    return -1;
  if (!ep->description || strlen(ep->description) > HL_EP_DESCRIPTION_MAX ||
      strpbrk(ep->description, "\r\n")) {
    snprintf(errstr, errsize, "description: at most %d characters on one line",
             HL_EP_DESCRIPTION_MAX);
    return -1;
  }
  if (!ep->enabled && ep->disabled_reason && strlen(ep->disabled_reason) > 256) {
    snprintf(errstr, errsize, "reason: at most 256 characters");
    return -1;
  }
  return 0;
}

int hl_endpoint_validate(const hl_endpoint_t *ep, const hl_ssrf_t *ssrf, bool https_only,
                         bool check_url, char *errstr, size_t errsize) {
  char msg[256];

  if (hl_endpoint_check_text(ep, errstr, errsize) != 0)
    return -1;
  if (!ep->url) {
    snprintf(errstr, errsize, "url: required");
    return -1;
  }
  if (check_url && hl_ssrf_check_url(ssrf, ep->url, https_only, errstr, errsize) != 0)
    return -1;
  if (ep->nfilters == 0) {
    snprintf(errstr, errsize, "types: at least one filter (an event type, a prefix.* or *)");
    return -1;
  }
  for (size_t i = 0; i < ep->nfilters; i++) {
    if (hl_endpoint_check_filter(ep->filters[i], errstr, errsize) != 0)
      return -1;
  }
  for (size_t i = 0; i < ep->nheaders; i++) {
    if (hl_endpoint_check_header(ep->headers[i], errstr, errsize) != 0)
      return -1;
  }
  if (hl_endpoint_check_numbers(ep, errstr, errsize) != 0 ||
      hl_endpoint_check_metadata(ep->metadata, errstr, errsize) != 0)
    return -1;
  if (hl_endpoint_check_secrets(ep, msg, sizeof(msg)) != 0) {
    snprintf(errstr, errsize, "%s", msg);
    return -1;
  }
  return hl_endpoint_check_tls_client(ep->tls_cert, ep->tls_key, errstr, errsize);
}

/* ---- mTLS client identity ---- */

static void hl_free_secret_str(char **s) {
  if (*s)
    OPENSSL_cleanse(*s, strlen(*s));
  free(*s);
  *s = NULL;
}

int hl_endpoint_set_tls_client(hl_endpoint_t *ep, const char *cert_pem, const char *key_pem) {
  char *cert = cert_pem && *cert_pem ? strdup(cert_pem) : NULL;
  char *key = key_pem && *key_pem ? strdup(key_pem) : NULL;

  if ((cert_pem && *cert_pem && !cert) || (key_pem && *key_pem && !key)) {
    free(cert);
    hl_free_secret_str(&key);
    return -1;
  }
  free(ep->tls_cert);
  hl_free_secret_str(&ep->tls_key);
  ep->tls_cert = cert;
  ep->tls_key = key;
  return 0;
}

/* The first certificate of a PEM text, or NULL. */
static X509 *hl_pem_cert(const char *pem) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

  BIO_free(bio);
  return x;
}

/* An unencrypted private key: an empty passphrase callback makes encrypted keys fail. */
static int hl_pem_no_pass(char *buf, int size, int rwflag, void *u) {
  (void)buf;
  (void)size;
  (void)rwflag;
  (void)u;
  return 0;
}

static EVP_PKEY *hl_pem_key(const char *pem) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, hl_pem_no_pass, NULL) : NULL;

  BIO_free(bio);
  return k;
}

int hl_endpoint_check_tls_client(const char *cert_pem, const char *key_pem, char *errstr,
                                 size_t errsize) {
  bool has_cert = cert_pem && *cert_pem, has_key = key_pem && *key_pem;
  X509 *x = NULL;
  EVP_PKEY *k = NULL;
  int rc = -1;

  if (!has_cert && !has_key)
    return 0;
  if (has_cert != has_key)
    snprintf(errstr, errsize, "%s: required with %s (a client certificate needs its key)",
             has_cert ? "tls_client_key" : "tls_client_cert",
             has_cert ? "tls_client_cert" : "tls_client_key");
  else if (strlen(cert_pem) > HL_EP_TLS_PEM_MAX || strlen(key_pem) > HL_EP_TLS_PEM_MAX)
    snprintf(errstr, errsize, "%s: at most %d bytes of PEM",
             strlen(cert_pem) > HL_EP_TLS_PEM_MAX ? "tls_client_cert" : "tls_client_key",
             HL_EP_TLS_PEM_MAX);
  else if (strstr(cert_pem, "PRIVATE KEY-----")) /* a combined file: the cert is stored clear */
    snprintf(errstr, errsize,
             "tls_client_cert: must hold certificates only (the key goes in tls_client_key)");
  else if (!(x = hl_pem_cert(cert_pem)))
    snprintf(errstr, errsize, "tls_client_cert: not a PEM X.509 certificate");
  else if (!(k = hl_pem_key(key_pem)))
    snprintf(errstr, errsize, "tls_client_key: not an unencrypted PEM private key");
  else if (X509_check_private_key(x, k) != 1)
    snprintf(errstr, errsize, "tls_client_key: does not match the certificate in tls_client_cert");
  else
    rc = 0;
  ERR_clear_error(); /* the parse errors stay out of later OpenSSL error queues */
  X509_free(x);
  EVP_PKEY_free(k);
  return rc;
}

/* ---- secrets ---- */

void hl_endpoint_prune_secrets(hl_endpoint_t *ep, int64_t now_ms) {
  size_t j = 0;

  for (size_t i = 0; i < ep->nsecrets; i++) {
    if (i > 0 && ep->secrets[i].expires_ms != 0 && ep->secrets[i].expires_ms <= now_ms)
      continue;
    if (j != i)
      ep->secrets[j] = ep->secrets[i];
    j++;
  }
  OPENSSL_cleanse(&ep->secrets[j], (HL_EP_MAX_SECRETS - j) * sizeof(ep->secrets[0]));
  ep->nsecrets = j;
}

int hl_endpoint_rotate_secret(hl_endpoint_t *ep, const char *secret, int64_t now_ms,
                              int64_t overlap_ms, char *errstr, size_t errsize) {
  hl_ep_secret_t fresh = {{0}, now_ms, 0};
  hl_sign_key_t key;
  size_t keep;

  if (secret && (hl_sign_secret_decode(secret, &key, errstr, errsize) != 0 ||
                 strlen(secret) >= sizeof(fresh.secret)))
    return -1;
  OPENSSL_cleanse(&key, sizeof(key));
  if (secret)
    strcpy(fresh.secret, secret);
  else if (hl_sign_secret_generate(fresh.secret, sizeof(fresh.secret)) != 0) {
    snprintf(errstr, errsize, "secret: cannot generate (no randomness)");
    return -1;
  }
  hl_endpoint_prune_secrets(ep, now_ms);
  if (ep->nsecrets > 0)
    ep->secrets[0].expires_ms = overlap_ms > 0 ? now_ms + overlap_ms : now_ms;
  /* previous ones are ordered newest first, so the oldest (expiring first) fall off the end */
  keep = ep->nsecrets < HL_EP_MAX_SECRETS ? ep->nsecrets : HL_EP_MAX_SECRETS - 1;
  memmove(&ep->secrets[1], &ep->secrets[0], keep * sizeof(ep->secrets[0]));
  ep->secrets[0] = fresh;
  ep->nsecrets = keep + 1;
  hl_endpoint_prune_secrets(ep, now_ms); /* overlap 0: the old one goes at once */
  OPENSSL_cleanse(&fresh, sizeof(fresh));
  return 0;
}

size_t hl_endpoint_sign_keys(const hl_endpoint_t *ep, int64_t now_ms, hl_sign_key_t *keys,
                             size_t max) {
  char err[128];
  size_t n = 0;

  for (size_t i = 0; i < ep->nsecrets && n < max; i++) {
    if (i > 0 && ep->secrets[i].expires_ms != 0 && ep->secrets[i].expires_ms <= now_ms)
      continue;
    if (hl_sign_secret_decode(ep->secrets[i].secret, &keys[n], err, sizeof(err)) == 0)
      n++;
  }
  return n;
}

/* ---- the hash codec ---- */

enum {
  HL_F_ID,
  HL_F_TENANT,
  HL_F_URL,
  HL_F_DESCRIPTION,
  HL_F_TYPES,
  HL_F_SECRETS,
  HL_F_RATE,
  HL_F_BURST,
  HL_F_INFLIGHT,
  HL_F_TIMEOUT,
  HL_F_HEADERS,
  HL_F_STATUS,
  HL_F_REASON,
  HL_F_DISABLED_AT,
  HL_F_METADATA,
  HL_F_CREATED,
  HL_F_UPDATED,
  HL_F_VERSION,
  HL_F_TLS_CERT,
  HL_F_TLS_KEY,
  HL_F_COUNT
};

static const char *const hl_ep_field_names[HL_F_COUNT] = {"id",
                                                          "tenant",
                                                          "url",
                                                          "description",
                                                          "types",
                                                          "secrets",
                                                          "rate",
                                                          "burst",
                                                          "max_in_flight",
                                                          "timeout_ms",
                                                          "headers",
                                                          "status",
                                                          "disabled_reason",
                                                          "disabled_at",
                                                          "metadata",
                                                          "created",
                                                          "updated",
                                                          "version",
                                                          "tls_client_cert",
                                                          "tls_client_key"};

static char *hl_fmt_i64(int64_t v) {
  char buf[32];

  snprintf(buf, sizeof(buf), "%" PRId64, v);
  return strdup(buf);
}

static char *hl_fmt_rate(double v) {
  char buf[32];

  snprintf(buf, sizeof(buf), "%.10g", v);
  return strdup(buf);
}

static char *hl_json_strings(char *const *items, size_t n) {
  json_t *arr = json_array();
  char *out;

  for (size_t i = 0; i < n; i++)
    json_array_append_new(arr, json_string(items[i]));
  out = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  return out;
}

static char *hl_secrets_sealed(const hl_endpoint_t *ep, const hl_secretbox_t *box) {
  json_t *arr = json_array();
  char sealed[512], *out = NULL;

  for (size_t i = 0; i < ep->nsecrets; i++) {
    if (hl_secretbox_seal(box, ep->id, ep->secrets[i].secret, sealed, sizeof(sealed)) != 0)
      goto out;
    json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "secret", sealed, "created",
                                         (json_int_t)ep->secrets[i].created_ms, "expires",
                                         (json_int_t)ep->secrets[i].expires_ms));
  }
  out = json_dumps(arr, JSON_COMPACT);
out:
  OPENSSL_cleanse(sealed, sizeof(sealed));
  json_decref(arr);
  return out;
}

/* The key's additional authenticated data: "<id>/tls_client_key", so neither a signing secret's
 * ciphertext nor another endpoint's key opens here. */
static void hl_tls_key_aad(const hl_endpoint_t *ep, char *aad, size_t aadsz) {
  snprintf(aad, aadsz, "%s/tls_client_key", ep->id);
}

static char *hl_tls_key_sealed(const hl_endpoint_t *ep, const hl_secretbox_t *box) {
  size_t outsz = 64 + 4 * (strlen(ep->tls_key) + 64) / 3;
  char aad[HL_EP_ID_MAX + 32], *out = malloc(outsz);

  hl_tls_key_aad(ep, aad, sizeof(aad));
  if (out && hl_secretbox_seal(box, aad, ep->tls_key, out, outsz) != 0) {
    OPENSSL_cleanse(out, outsz);
    free(out);
    out = NULL;
  }
  return out;
}

static void hl_ep_hash_put(hl_ep_hash_t *h, int field, char *value) {
  h->fields[h->n] = hl_ep_field_names[field];
  h->values[h->n] = value;
  h->n++;
}

int hl_endpoint_to_hash(const hl_endpoint_t *ep, const hl_secretbox_t *box, hl_ep_hash_t *h) {
  memset(h, 0, sizeof(*h));
  hl_ep_hash_put(h, HL_F_ID, strdup(ep->id));
  hl_ep_hash_put(h, HL_F_TENANT, strdup(ep->tenant));
  hl_ep_hash_put(h, HL_F_URL, strdup(ep->url ? ep->url : ""));
  hl_ep_hash_put(h, HL_F_DESCRIPTION, strdup(ep->description ? ep->description : ""));
  hl_ep_hash_put(h, HL_F_TYPES, hl_json_strings(ep->filters, ep->nfilters));
  hl_ep_hash_put(h, HL_F_SECRETS, hl_secrets_sealed(ep, box));
  hl_ep_hash_put(h, HL_F_RATE, hl_fmt_rate(ep->rate_per_sec));
  hl_ep_hash_put(h, HL_F_BURST, hl_fmt_i64(ep->burst));
  hl_ep_hash_put(h, HL_F_INFLIGHT, hl_fmt_i64(ep->max_in_flight));
  hl_ep_hash_put(h, HL_F_TIMEOUT, hl_fmt_i64(ep->timeout_ms));
  hl_ep_hash_put(h, HL_F_HEADERS, hl_json_strings(ep->headers, ep->nheaders));
  hl_ep_hash_put(h, HL_F_STATUS, strdup(ep->enabled ? "enabled" : "disabled"));
  if (!ep->enabled) {
    hl_ep_hash_put(h, HL_F_REASON, strdup(ep->disabled_reason ? ep->disabled_reason : ""));
    hl_ep_hash_put(h, HL_F_DISABLED_AT, hl_fmt_i64(ep->disabled_ms));
  }
  hl_ep_hash_put(h, HL_F_METADATA, strdup(ep->metadata ? ep->metadata : "{}"));
  hl_ep_hash_put(h, HL_F_CREATED, hl_fmt_i64(ep->created_ms));
  hl_ep_hash_put(h, HL_F_UPDATED, hl_fmt_i64(ep->updated_ms));
  hl_ep_hash_put(h, HL_F_VERSION, hl_fmt_i64(ep->version));
  if (ep->tls_cert && ep->tls_key) {
    hl_ep_hash_put(h, HL_F_TLS_CERT, strdup(ep->tls_cert));
    hl_ep_hash_put(h, HL_F_TLS_KEY, hl_tls_key_sealed(ep, box));
  }
  for (size_t i = 0; i < h->n; i++) {
    if (!h->values[i]) {
      hl_ep_hash_clear(h);
      return -1;
    }
  }
  return 0;
}

void hl_ep_hash_clear(hl_ep_hash_t *h) {
  for (size_t i = 0; i < h->n; i++) {
    if (h->values[i])
      OPENSSL_cleanse(h->values[i], strlen(h->values[i])); /* sealed or clear secrets */
    free(h->values[i]);
  }
  memset(h, 0, sizeof(*h));
}

/* Decoding: every value NUL-terminated, indexed by field. */
typedef struct hl_ep_raw {
  char *v[HL_F_COUNT];
} hl_ep_raw_t;

static int hl_raw_collect(hl_ep_raw_t *raw, const char *const *fields, const char *const *values,
                          const size_t *value_lens, size_t n) {
  memset(raw, 0, sizeof(*raw));
  for (size_t i = 0; i < n; i++) {
    for (int f = 0; f < HL_F_COUNT; f++) {
      if (strcmp(fields[i], hl_ep_field_names[f]) != 0)
        continue;
      free(raw->v[f]);
      raw->v[f] = strndup(values[i], value_lens ? value_lens[i] : strlen(values[i]));
      if (!raw->v[f])
        return -1;
    }
  }
  return 0;
}

static void hl_raw_clear(hl_ep_raw_t *raw) {
  for (int f = 0; f < HL_F_COUNT; f++) {
    if (raw->v[f])
      OPENSSL_cleanse(raw->v[f], strlen(raw->v[f]));
    free(raw->v[f]);
  }
}

static int hl_parse_i64(const char *s, int64_t *out) {
  char *end;

  if (!s)
    return 0; /* absent: keep the default */
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end)
    return -1;
  *out = v;
  return 0;
}

static int hl_parse_int_field(const char *s, int *out) {
  int64_t v = *out;

  if (hl_parse_i64(s, &v) != 0 || v < INT32_MIN || v > INT32_MAX)
    return -1;
  *out = (int)v;
  return 0;
}

/* A JSON array of strings into items (owned copies). */
static int hl_parse_string_list(const char *s, char **items, size_t max, size_t *n) {
  json_t *arr = s ? json_loads(s, 0, NULL) : NULL;
  size_t i;
  json_t *v;
  int rc = json_is_array(arr) && json_array_size(arr) <= max ? 0 : -1;

  if (!s) {
    json_decref(arr);
    return 0;
  }
  json_array_foreach(arr, i, v) {
    if (rc || !json_is_string(v)) {
      rc = -1;
      break;
    }
    items[*n] = strdup(json_string_value(v));
    if (!items[*n]) {
      rc = -1;
      break;
    }
    (*n)++;
  }
  json_decref(arr);
  return rc;
}

static int hl_parse_secrets(hl_endpoint_t *ep, const char *s, const hl_secretbox_t *box,
                            char *errstr, size_t errsize) {
  json_t *arr = s ? json_loads(s, 0, NULL) : NULL, *v;
  size_t i;
  int rc = json_is_array(arr) && json_array_size(arr) <= HL_EP_MAX_SECRETS ? 0 : -1;

  if (rc)
    snprintf(errstr, errsize, "secrets: not a JSON array of at most %d", HL_EP_MAX_SECRETS);
  json_array_foreach(arr, i, v) {
    const char *sealed = json_string_value(json_object_get(v, "secret"));
    hl_ep_secret_t *sec = &ep->secrets[ep->nsecrets];

    if (rc)
      break;
    if (!sealed || hl_secretbox_open(box, ep->id, sealed, sec->secret, sizeof(sec->secret))) {
      snprintf(errstr, errsize,
               "secrets: cannot decrypt secret %zu (wrong secret_key or "
               "tampered)",
               i);
      rc = -1;
      break;
    }
    sec->created_ms = json_integer_value(json_object_get(v, "created"));
    sec->expires_ms = json_integer_value(json_object_get(v, "expires"));
    ep->nsecrets++;
  }
  json_decref(arr);
  return rc;
}

static int hl_parse_tls_client(hl_endpoint_t *ep, hl_ep_raw_t *raw, const hl_secretbox_t *box,
                               char *errstr, size_t errsize) {
  const char *cert = raw->v[HL_F_TLS_CERT], *sealed = raw->v[HL_F_TLS_KEY];
  size_t keysz = sealed ? strlen(sealed) + 1 : 0;
  char aad[HL_EP_ID_MAX + 32], *key;
  int rc = -1;

  if (!cert && !sealed)
    return 0;
  if (!cert || !sealed) {
    snprintf(errstr, errsize, "tls_client_cert/tls_client_key: one without the other");
    return -1;
  }
  key = malloc(keysz);
  hl_tls_key_aad(ep, aad, sizeof(aad));
  if (!key || hl_secretbox_open(box, aad, sealed, key, keysz) != 0)
    snprintf(errstr, errsize, "tls_client_key: cannot decrypt (wrong secret_key or tampered)");
  else if (hl_endpoint_set_tls_client(ep, cert, key) != 0)
    snprintf(errstr, errsize, "out of memory");
  else
    rc = 0;
  if (key)
    OPENSSL_cleanse(key, keysz);
  free(key);
  return rc;
}

static int hl_raw_scalars(hl_endpoint_t *ep, hl_ep_raw_t *raw, char *errstr, size_t errsize) {
  const char *bad = NULL;

  if (hl_parse_i64(raw->v[HL_F_VERSION], &ep->version) || ep->version < 1)
    bad = "version";
  else if (hl_parse_i64(raw->v[HL_F_CREATED], &ep->created_ms))
    bad = "created";
  else if (hl_parse_i64(raw->v[HL_F_UPDATED], &ep->updated_ms))
    bad = "updated";
  else if (hl_parse_i64(raw->v[HL_F_DISABLED_AT], &ep->disabled_ms))
    bad = "disabled_at";
  else if (hl_parse_int_field(raw->v[HL_F_BURST], &ep->burst))
    bad = "burst";
  else if (hl_parse_int_field(raw->v[HL_F_INFLIGHT], &ep->max_in_flight))
    bad = "max_in_flight";
  else if (hl_parse_int_field(raw->v[HL_F_TIMEOUT], &ep->timeout_ms))
    bad = "timeout_ms";
  if (!bad && raw->v[HL_F_RATE]) {
    char *end;

    ep->rate_per_sec = strtod(raw->v[HL_F_RATE], &end);
    if (*end || !isfinite(ep->rate_per_sec))
      bad = "rate";
  }
  if (bad)
    snprintf(errstr, errsize, "%s: not a number", bad);
  return bad ? -1 : 0;
}

static int hl_raw_strings(hl_endpoint_t *ep, hl_ep_raw_t *raw, char *errstr, size_t errsize) {
  const char *missing = !raw->v[HL_F_ID]        ? "id"
                        : !raw->v[HL_F_TENANT]  ? "tenant"
                        : !raw->v[HL_F_URL]     ? "url"
                        : !raw->v[HL_F_VERSION] ? "version"
                                                : NULL;

  if (missing) {
    snprintf(errstr, errsize, "%s: missing", missing);
    return -1;
  }
  if (strlen(raw->v[HL_F_ID]) > HL_EP_ID_MAX || strlen(raw->v[HL_F_TENANT]) >= sizeof(ep->tenant)) {
    snprintf(errstr, errsize, "id/tenant: too long");
    return -1;
  }
  strcpy(ep->id, raw->v[HL_F_ID]);
  strcpy(ep->tenant, raw->v[HL_F_TENANT]);
  ep->enabled = !raw->v[HL_F_STATUS] || strcmp(raw->v[HL_F_STATUS], "disabled") != 0;
  if (hl_endpoint_set_str(&ep->url, raw->v[HL_F_URL]) ||
      (raw->v[HL_F_DESCRIPTION] &&
       hl_endpoint_set_str(&ep->description, raw->v[HL_F_DESCRIPTION])) ||
      (raw->v[HL_F_METADATA] && hl_endpoint_set_str(&ep->metadata, raw->v[HL_F_METADATA])) ||
      (!ep->enabled &&
       hl_endpoint_set_str(&ep->disabled_reason, raw->v[HL_F_REASON] ? raw->v[HL_F_REASON] : ""))) {
    snprintf(errstr, errsize, "out of memory");
    return -1;
  }
  return 0;
}

hl_endpoint_t *hl_endpoint_from_hash(const char *const *fields, const char *const *values,
                                     const size_t *value_lens, size_t n, const hl_secretbox_t *box,
                                     char *errstr, size_t errsize) {
  hl_endpoint_t *ep = hl_endpoint_new();
  hl_ep_raw_t raw;
  int rc = -1;

  if (!ep || hl_raw_collect(&raw, fields, values, value_lens, n) != 0) {
    snprintf(errstr, errsize, "out of memory");
    goto out;
  }
  if (hl_raw_strings(ep, &raw, errstr, errsize) || hl_raw_scalars(ep, &raw, errstr, errsize))
    goto out;
  if (hl_parse_string_list(raw.v[HL_F_TYPES], ep->filters, HL_EP_MAX_FILTERS, &ep->nfilters)) {
    snprintf(errstr, errsize, "types: not a JSON array of strings");
    goto out;
  }
  if (hl_parse_string_list(raw.v[HL_F_HEADERS], ep->headers, HL_EP_MAX_HEADERS, &ep->nheaders)) {
    snprintf(errstr, errsize, "headers: not a JSON array of strings");
    goto out;
  }
  rc = hl_parse_secrets(ep, raw.v[HL_F_SECRETS], box, errstr, errsize) ||
       hl_parse_tls_client(ep, &raw, box, errstr, errsize);
out:
  hl_raw_clear(&raw);
  if (rc)
    hl_endpoint_destroy(&ep);
  return ep;
}

/* ---- JSON for the API and the CLI ---- */

static json_t *hl_json_time(int64_t ms) {
  char buf[48];

  if (ms <= 0)
    return json_null();
  hl_fmt_rfc3339(ms, buf, sizeof(buf));
  return json_string(buf);
}

static json_t *hl_json_headers(const hl_endpoint_t *ep) {
  json_t *obj = json_object();

  for (size_t i = 0; i < ep->nheaders; i++) {
    const char *colon = strchr(ep->headers[i], ':'), *v = colon ? colon + 1 : "";
    char name[HL_HEADER_NAME_MAX + 1];
    size_t n = colon ? (size_t)(colon - ep->headers[i]) : 0;

    if (n == 0 || n > HL_HEADER_NAME_MAX)
      continue;
    memcpy(name, ep->headers[i], n);
    name[n] = '\0';
    while (*v == ' ')
      v++;
    json_object_set_new(obj, name, json_string(v));
  }
  return obj;
}

static json_t *hl_json_secrets(const hl_endpoint_t *ep, int64_t now_ms) {
  json_t *arr = json_array();

  for (size_t i = 0; i < ep->nsecrets; i++) {
    if (i > 0 && ep->secrets[i].expires_ms != 0 && ep->secrets[i].expires_ms <= now_ms)
      continue;
    json_array_append_new(arr, json_pack("{s:o, s:o}", "created_at",
                                         hl_json_time(ep->secrets[i].created_ms), "expires_at",
                                         hl_json_time(ep->secrets[i].expires_ms)));
  }
  return arr;
}

static json_t *hl_json_rate(const hl_endpoint_t *ep) {
  if (ep->rate_per_sec <= 0)
    return json_null();
  /* whole rates print as integers (50, not 50.0) */
  return json_pack("{s:o, s:i}", "per_second",
                   ep->rate_per_sec == floor(ep->rate_per_sec) && ep->rate_per_sec < 1e9
                       ? json_integer((json_int_t)ep->rate_per_sec)
                       : json_real(ep->rate_per_sec),
                   "burst", ep->burst > 0 ? ep->burst : (int)ceil(ep->rate_per_sec));
}

/* {"subject": "CN=...", "expires_at": RFC 3339} of the client certificate, or null: never the
 * PEMs. */
static json_t *hl_json_tls_client(const hl_endpoint_t *ep) {
  X509 *x = ep->tls_cert ? hl_pem_cert(ep->tls_cert) : NULL;
  char subject[512] = "";
  json_t *out = json_null();
  struct tm tm;
  BIO *bio;

  if (!x)
    return out;
  bio = BIO_new(BIO_s_mem());
  if (bio && X509_NAME_print_ex(bio, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
    int n = BIO_read(bio, subject, (int)sizeof(subject) - 1);

    subject[n > 0 ? n : 0] = '\0';
  }
  BIO_free(bio);
  json_decref(out);
  out = json_pack("{s:s, s:o}", "subject", subject, "expires_at",
                  ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1
                      ? hl_json_time((int64_t)timegm(&tm) * 1000)
                      : json_null());
  X509_free(x);
  return out;
}

char *hl_endpoint_to_json(const hl_endpoint_t *ep, bool with_secrets) {
  json_t *types = json_array(), *obj,
         *meta = json_loads(ep->metadata ? ep->metadata : "{}", 0, NULL);
  char *out;

  for (size_t i = 0; i < ep->nfilters; i++)
    json_array_append_new(types, json_string(ep->filters[i]));
  obj = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s}", "id", ep->id, "tenant",
                  ep->tenant, "url", ep->url ? ep->url : "", "description",
                  ep->description ? ep->description : "", "types", types, "rate_limit",
                  hl_json_rate(ep), "max_in_flight",
                  ep->max_in_flight > 0 ? json_integer(ep->max_in_flight) : json_null(),
                  "timeout_ms", ep->timeout_ms > 0 ? json_integer(ep->timeout_ms) : json_null(),
                  "headers", hl_json_headers(ep), "status", ep->enabled ? "enabled" : "disabled");
  if (!ep->enabled) {
    json_object_set_new(obj, "disabled_reason",
                        json_string(ep->disabled_reason ? ep->disabled_reason : ""));
    json_object_set_new(obj, "disabled_at", hl_json_time(ep->disabled_ms));
  }
  json_object_set_new(obj, "metadata", meta ? meta : json_object());
  json_object_set_new(obj, "secrets", hl_json_secrets(ep, hl_now_ms()));
  if (with_secrets && ep->nsecrets > 0)
    json_object_set_new(obj, "secret", json_string(ep->secrets[0].secret));
  json_object_set_new(obj, "tls_client_cert", hl_json_tls_client(ep));
  json_object_set_new(obj, "created_at", hl_json_time(ep->created_ms));
  json_object_set_new(obj, "updated_at", hl_json_time(ep->updated_ms));
  json_object_set_new(obj, "version", json_integer(ep->version));
  out = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(obj);
  return out;
}
