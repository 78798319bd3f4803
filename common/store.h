/*
 * store.h - the synchronous Redis store of endpoints (DESIGN.md §6, docs/storage.md), used by
 * hookline-admin's CLI and REST server.  The dispatcher reads the same keys asynchronously and
 * decodes them with hl_endpoint_from_hash().
 *
 * Every write is one Lua script: it checks the version the caller read (optimistic concurrency,
 * so concurrent updates never lose a write), replaces the hash, keeps hl:tenant:<tenant>:eps,
 * bumps the version and PUBLISHes "<tenant> <endpoint id> <version>" on hl:changes.
 */
#ifndef HL_STORE_H
#define HL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "endpoint.h"

#define HL_STORE_CHANNEL "hl:changes"
/* hl:done:<event id>:<endpoint id>: the dispatcher's success marker (DESIGN.md §8). */
#define HL_STORE_DONE_KEY_FMT "hl:done:%s:%s"

typedef struct hl_store hl_store_t;

typedef enum {
  HL_STORE_OK = 0,
  HL_STORE_ENOTFOUND = -1, /* no such endpoint (or not the given tenant's) */
  HL_STORE_EINVAL = -2,    /* a field breaks its rule: errstr is "field: rule" */
  HL_STORE_EIO = -3,       /* Redis unreachable or failing */
  HL_STORE_ECONFLICT = -4, /* concurrent writers kept winning; try again */
} hl_store_err_t;

/*
 * Open the store from the configuration: redis.* (AUTH with username+password when set),
 * secret_key (the box sealing secrets; unset: clear text and one warning), delivery.allow_cidrs
 * and delivery.https_only (the URL guard), secrets.rotation_overlap.  Connects at once.
 * HL_STORE_EINVAL for bad configuration, HL_STORE_EIO when Redis is unreachable (*out is still
 * set then: later calls reconnect).
 */
int hl_store_open(const hl_conf_t *conf, hl_store_t **out, char *errstr, size_t errsize);
void hl_store_destroy(hl_store_t **st);

/* The secret box from `secret_key` (NULL when unset, with a warning logged once per process).
 * -1 when the key is malformed. */
int hl_store_secretbox_from_conf(const hl_conf_t *conf, hl_secretbox_t **box, char *errstr,
                                 size_t errsize);

/* PING. 0 ok, HL_STORE_EIO with errstr. */
int hl_store_ping(hl_store_t *st, char *errstr, size_t errsize);

/*
 * Create ep (tenant, url, filters and options filled by the caller).  Assigns the id, generates
 * the secret unless the caller rotated one in, sets created/updated and version 1, validates,
 * writes.  0 ok (ep updated in place), HL_STORE_EINVAL, HL_STORE_EIO.
 */
int hl_store_endpoint_create(hl_store_t *st, hl_endpoint_t *ep, char *errstr, size_t errsize);

/* Read one endpoint; tenant NULL: any tenant.  *out owned by the caller. */
int hl_store_endpoint_get(hl_store_t *st, const char *tenant, const char *id, hl_endpoint_t **out,
                          char *errstr, size_t errsize);

/*
 * A page of a tenant's endpoints ordered by id: those after `after` ("" from the start), at most
 * limit.  *eps (free with hl_store_list_free) and *n; next gets the cursor of the following page
 * or "" at the end.  HL_STORE_ENOTFOUND when the tenant has no endpoints at all.
 */
int hl_store_endpoint_list(hl_store_t *st, const char *tenant, const char *after, size_t limit,
                           hl_endpoint_t ***eps, size_t *n, char *next, size_t nextsz, char *errstr,
                           size_t errsize);
void hl_store_list_free(hl_endpoint_t ***eps, size_t n);

/*
 * Read-modify-write: mutate gets the current endpoint, changes it (0) or refuses (-1 with "field:
 * rule"); the result is validated (the URL only when it changed) and written if nobody wrote in
 * between, else it is read again and mutate runs again.  *out (optional) gets the stored result.
 */
typedef int hl_store_mutate_cb(hl_endpoint_t *ep, void *opaque, char *errstr, size_t errsize);
int hl_store_endpoint_update(hl_store_t *st, const char *tenant, const char *id,
                             hl_store_mutate_cb *mutate, void *opaque, hl_endpoint_t **out,
                             char *errstr, size_t errsize);

/* New current secret (secret NULL: generated); the old one signs for secrets.rotation_overlap. */
int hl_store_endpoint_rotate(hl_store_t *st, const char *tenant, const char *id, const char *secret,
                             hl_endpoint_t **out, char *errstr, size_t errsize);

/* Enable, or disable with a reason (HL_STORE_LUA_STATUS: the dispatcher uses the same script). */
int hl_store_endpoint_set_status(hl_store_t *st, const char *tenant, const char *id, bool enabled,
                                 const char *reason, hl_endpoint_t **out, char *errstr,
                                 size_t errsize);

/* Delete the endpoint and its hl:rl, hl:health and hl:recent keys. */
int hl_store_endpoint_delete(hl_store_t *st, const char *tenant, const char *id, char *errstr,
                             size_t errsize);

/*
 * The endpoint's most recent attempts, newest first (hl:recent:<id>, written by dispatchers): at
 * most limit JSON texts in *items (free with hl_store_strings_free).  ENOTFOUND when the
 * endpoint does not exist (for that tenant).
 */
int hl_store_attempts(hl_store_t *st, const char *tenant, const char *id, size_t limit,
                      char ***items, size_t *n, char *errstr, size_t errsize);
void hl_store_strings_free(char ***items, size_t n);

/* Has the delivery of event_id to endpoint_id succeeded (its hl:done marker exists)? 0 with
 * *done set, HL_STORE_EIO. */
int hl_store_done_exists(hl_store_t *st, const char *event_id, const char *endpoint_id, bool *done,
                         char *errstr, size_t errsize);

/*
 * Status change script, shared with the dispatcher (which disables endpoints on 410 and after
 * endpoint.disable_after):  EVAL HL_STORE_LUA_STATUS 1 hl:ep:<id> <enabled|disabled> <reason>
 * <now ms>.  Idempotent: an endpoint already in that status is left alone.  Replies the version
 * (bumped and published on hl:changes when it changed), or 0 when the endpoint does not exist.
 */
extern const char HL_STORE_LUA_STATUS[];

#endif
