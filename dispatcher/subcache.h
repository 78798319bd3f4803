/*
 * subcache.h - the dispatcher's in-memory subscription cache: refcounted per-tenant snapshots
 * of endpoints (hl_subs_tenant_t) in a hash table with an LRU list and a hard cap on entries.
 *
 * No I/O here: state.c fills entries from Redis and decides freshness.  The cache owns one
 * reference to each entry's snapshot; lookups hand out extra references (hl_subs_tenant_hold),
 * so evicting or invalidating an entry never frees a snapshot somebody still reads.  Entries
 * with a fetch in flight (entry->fetch != NULL) are never evicted.
 */
#ifndef HL_SUBCACHE_H
#define HL_SUBCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

#define HL_TENANT_MAX 64

/* Refcounted, immutable snapshot of one tenant's endpoints (enabled AND disabled ones). */
typedef struct hl_subs_tenant {
  int refcnt;
  char tenant[HL_TENANT_MAX + 1];
  hl_endpoint_t **eps; /* owned: sorted by id */
  size_t neps;
  int64_t fetched_ms; /* wall clock of the Redis read */
} hl_subs_tenant_t;

/* A new snapshot with refcnt 1 that steals eps (array and endpoints). */
hl_subs_tenant_t *hl_subs_tenant_new(const char *tenant, hl_endpoint_t **eps, size_t neps,
                                     int64_t fetched_ms);
hl_subs_tenant_t *hl_subs_tenant_hold(hl_subs_tenant_t *snap);
/* Drop one reference (the last frees); NULLs *snap; accepts NULL. */
void hl_subs_tenant_release(hl_subs_tenant_t **snap);

typedef struct hl_subcache_entry {
  char tenant[HL_TENANT_MAX + 1];
  hl_subs_tenant_t *snap; /* the cache's reference; NULL until the first fetch lands */
  int64_t fresh_until;    /* monotonic ms; past it the entry is stale (served, refetched) */
  void *fetch;            /* state.c's fetch in flight, or NULL: such entries are not evicted */
  struct hl_subcache_entry *hnext;       /* hash chain */
  struct hl_subcache_entry *prev, *next; /* LRU list, most recent first */
} hl_subcache_entry_t;

typedef struct hl_subcache hl_subcache_t;

/* max: entries kept before the least recently used idle ones are evicted (>= 1). */
hl_subcache_t *hl_subcache_new(size_t max);
/* Releases every snapshot reference the cache holds; entries with fetch != NULL must be gone. */
void hl_subcache_destroy(hl_subcache_t **sc);

/* Find a tenant's entry and mark it most recently used; NULL when absent. */
hl_subcache_entry_t *hl_subcache_find(hl_subcache_t *sc, const char *tenant);
/* Find or create; may evict idle LRU entries to stay within max.  NULL on allocation failure. */
hl_subcache_entry_t *hl_subcache_get(hl_subcache_t *sc, const char *tenant);
/* Unlink and free an entry (its snapshot reference is released). */
void hl_subcache_remove(hl_subcache_t *sc, hl_subcache_entry_t *ent);
/* Replace an entry's snapshot (steals snap's reference; NULL clears). */
void hl_subcache_set(hl_subcache_entry_t *ent, hl_subs_tenant_t *snap, int64_t fresh_until);
/* Drop every idle entry; entries with a fetch in flight lose their snapshot only. */
void hl_subcache_flush(hl_subcache_t *sc);

size_t hl_subcache_count(const hl_subcache_t *sc);
/* Entries evicted by the cap since creation (for metrics and tests). */
uint64_t hl_subcache_evictions(const hl_subcache_t *sc);

#endif
