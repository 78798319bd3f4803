/*
 * endpoint.h - a tenant's webhook endpoint (subscription) as stored in Redis (DESIGN.md §6,
 * docs/storage.md): the in-memory model, its validation, event-type filter matching, and its
 * codec to and from the `hl:ep:<id>` hash.  The sync store (store.h, used by hookline-admin)
 * and the dispatcher's async subscription cache both decode with hl_endpoint_from_hash().
 */
#ifndef HL_ENDPOINT_H
#define HL_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secrets.h" /* hl_secretbox_t: AES-256-GCM at rest */
#include "sign.h"    /* hl_sign_key_t */

#define HL_EP_ID_MAX 40     /* "ep_" + 22 base62 */
#define HL_EP_MAX_SECRETS 8 /* current + previous ones still inside their overlap */
#define HL_EP_MAX_FILTERS 64
#define HL_EP_MAX_HEADERS 32
#define HL_EP_TIMEOUT_MAX_MS 30000

typedef struct hl_ep_secret {
  char secret[100]; /* whsec_... in the clear (decrypted); never logged */
  int64_t created_ms;
  int64_t expires_ms; /* 0: current (no expiry) */
} hl_ep_secret_t;

typedef struct hl_endpoint {
  char id[HL_EP_ID_MAX + 1];
  char tenant[65];
  char *url;                        /* owned */
  char *description;                /* owned, may be "" */
  char *filters[HL_EP_MAX_FILTERS]; /* owned: "invoice.paid", "invoice.*", "*" */
  size_t nfilters;
  hl_ep_secret_t secrets[HL_EP_MAX_SECRETS]; /* [0] is the current one */
  size_t nsecrets;
  double rate_per_sec;              /* 0: unlimited */
  int burst;                        /* 0: rate rounded up */
  int max_in_flight;                /* 0: config default */
  int timeout_ms;                   /* 0: config default; <= 30000 */
  char *headers[HL_EP_MAX_HEADERS]; /* owned "Name: value" lines, no CR/LF */
  size_t nheaders;
  bool enabled;
  char *disabled_reason; /* owned, NULL when enabled */
  int64_t disabled_ms;
  char *metadata; /* owned: compact JSON object text, "{}" by default */
  int64_t created_ms, updated_ms;
  int64_t version;
  char *tls_cert; /* owned client certificate PEM (may hold a chain), NULL: no mTLS */
  char *tls_key;  /* owned private key PEM in the clear (decrypted); never logged */
} hl_endpoint_t;

hl_endpoint_t *hl_endpoint_new(void);
void hl_endpoint_destroy(hl_endpoint_t **ep);

/* Does `type` match any filter (exact, "prefix.*", "*")? */
bool hl_endpoint_matches(const hl_endpoint_t *ep, const char *type);
/* Filter syntax check: "field: rule" messages. */
int hl_endpoint_check_filter(const char *filter, char *errstr, size_t errsize);
/* "Name: value" custom header check (token name, no CR/LF/NUL, not a reserved header). */
int hl_endpoint_check_header(const char *line, char *errstr, size_t errsize);

/*
 * Signing keys valid at now_ms (current + unexpired previous), decoded for sign.h.
 * Returns the count written to keys (at most max).
 */
size_t hl_endpoint_sign_keys(const hl_endpoint_t *ep, int64_t now_ms, hl_sign_key_t *keys,
                             size_t max);

/*
 * Decode the hl:ep:<id> hash (HGETALL reply as parallel field/value arrays).  Secrets are
 * decrypted with box (NULL box: stored in the clear).  Returns NULL with errstr on a corrupt hash.
 */
hl_endpoint_t *hl_endpoint_from_hash(const char *const *fields, const char *const *values,
                                     const size_t *value_lens, size_t n, const hl_secretbox_t *box,
                                     char *errstr, size_t errsize);

/* JSON for the API and CLI (-o json); with_secrets adds the current secret. Caller frees. */
char *hl_endpoint_to_json(const hl_endpoint_t *ep, bool with_secrets);

/* ---- Added for the store and hookline-admin (the functions above are the fixed contract). ---- */

#define HL_EP_DESCRIPTION_MAX 1024
#define HL_EP_METADATA_MAX 4096 /* compact JSON bytes */
#define HL_EP_RATE_MAX 100000.0 /* requests per second */
#define HL_EP_BURST_MAX 1000000
#define HL_EP_INFLIGHT_MAX 100000
#define HL_EP_HASH_FIELDS 22    /* fields of hl:ep:<id> (docs/storage.md) */
#define HL_EP_TLS_PEM_MAX 16384 /* bytes of the client certificate PEM, and of its key PEM */

/* The hl:ep:<id> hash as field/value pairs: names are static, values owned. */
typedef struct hl_ep_hash {
  const char *fields[HL_EP_HASH_FIELDS];
  char *values[HL_EP_HASH_FIELDS];
  size_t n;
} hl_ep_hash_t;

struct hl_ssrf;

/* Replace a string member (url, description, disabled_reason, metadata) with a copy. 0 ok. */
int hl_endpoint_set_str(char **member, const char *value);
/* Replace the filters with a comma-separated list ("invoice.*,customer.created"). */
int hl_endpoint_set_filters(hl_endpoint_t *ep, const char *csv, char *errstr, size_t errsize);
int hl_endpoint_add_filter(hl_endpoint_t *ep, const char *filter, char *errstr, size_t errsize);
int hl_endpoint_add_header(hl_endpoint_t *ep, const char *line, char *errstr, size_t errsize);
void hl_endpoint_clear_filters(hl_endpoint_t *ep);
void hl_endpoint_clear_headers(hl_endpoint_t *ep);

/*
 * Every field against its rule; with check_url also the URL with the SSRF guard (https_only:
 * refuse http) -- updates that keep an accepted URL skip it, so a narrower delivery.allow_cidrs
 * does not block disabling an old endpoint.  The first problem is reported as "field: rule".
 * 0 ok, -1 invalid.
 */
int hl_endpoint_validate(const hl_endpoint_t *ep, const struct hl_ssrf *ssrf, bool https_only,
                         bool check_url, char *errstr, size_t errsize);

/*
 * Make `secret` (or a fresh whsec_ one when NULL) the current secret.  The old current one stays
 * valid until now_ms + overlap_ms; expired ones are dropped, and when more than
 * HL_EP_MAX_SECRETS remain the ones expiring first go.  0 ok, -1 a bad supplied secret.
 */
int hl_endpoint_rotate_secret(hl_endpoint_t *ep, const char *secret, int64_t now_ms,
                              int64_t overlap_ms, char *errstr, size_t errsize);
/* Drop secrets that expired at now_ms (never the current one). */
void hl_endpoint_prune_secrets(hl_endpoint_t *ep, int64_t now_ms);

/*
 * The mTLS client identity: both PEMs or neither (NULL or ""), each at most HL_EP_TLS_PEM_MAX
 * bytes; the certificate (first PEM block, any further ones are the chain, no private key: it
 * is stored clear) and the unencrypted key must parse and the key must belong to the
 * certificate.  Messages never quote the PEMs.  0 ok, -1 invalid with "tls_client_cert: ..."
 * or "tls_client_key: ..." in errstr.
 */
int hl_endpoint_check_tls_client(const char *cert_pem, const char *key_pem, char *errstr,
                                 size_t errsize);
/* Replace the client certificate and key PEMs with copies (NULL or "": none), unchecked. 0 ok. */
int hl_endpoint_set_tls_client(hl_endpoint_t *ep, const char *cert_pem, const char *key_pem);

/* Encode for HSET: secrets sealed with box (NULL: clear).  0 ok; hl_ep_hash_clear afterwards. */
int hl_endpoint_to_hash(const hl_endpoint_t *ep, const hl_secretbox_t *box, hl_ep_hash_t *h);
void hl_ep_hash_clear(hl_ep_hash_t *h);

#endif
