/*
 * subcache.c - tenant -> endpoints snapshot cache: chained hash table + LRU list + cap.
 *
 * Owns the entries and one reference to each entry's snapshot.  Memory is bounded by `max`
 * entries (plus entries with a fetch in flight, which are bounded by concurrent lookups) and by
 * the snapshots callers still hold.
 */
#include "subcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hl_subcache {
  hl_subcache_entry_t **buckets;
  size_t nbuckets; /* power of two */
  size_t count, max;
  hl_subcache_entry_t *head, *tail; /* LRU: head most recent */
  uint64_t evictions;
};

hl_subs_tenant_t *hl_subs_tenant_new(const char *tenant, hl_endpoint_t **eps, size_t neps,
                                     int64_t fetched_ms) {
  hl_subs_tenant_t *snap = calloc(1, sizeof(*snap));

  if (!snap)
    return NULL;
  snap->refcnt = 1;
  snprintf(snap->tenant, sizeof(snap->tenant), "%s", tenant);
  snap->eps = eps;
  snap->neps = neps;
  snap->fetched_ms = fetched_ms;
  return snap;
}

hl_subs_tenant_t *hl_subs_tenant_hold(hl_subs_tenant_t *snap) {
  if (snap)
    snap->refcnt++;
  return snap;
}

void hl_subs_tenant_release(hl_subs_tenant_t **snapp) {
  hl_subs_tenant_t *snap;

  if (!snapp || !*snapp)
    return;
  snap = *snapp;
  *snapp = NULL;
  if (--snap->refcnt > 0)
    return;
  for (size_t i = 0; i < snap->neps; i++)
    hl_endpoint_destroy(&snap->eps[i]);
  free(snap->eps);
  free(snap);
}

static uint32_t hl_subcache_hash(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */

  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 16777619u;
  }
  return h;
}

hl_subcache_t *hl_subcache_new(size_t max) {
  hl_subcache_t *sc = calloc(1, sizeof(*sc));

  if (!sc)
    return NULL;
  sc->max = max ? max : 1;
  sc->nbuckets = 16;
  while (sc->nbuckets < sc->max && sc->nbuckets < (1u << 20))
    sc->nbuckets <<= 1;
  sc->buckets = calloc(sc->nbuckets, sizeof(*sc->buckets));
  if (!sc->buckets) {
    free(sc);
    return NULL;
  }
  return sc;
}

static void hl_subcache_lru_unlink(hl_subcache_t *sc, hl_subcache_entry_t *ent) {
  if (ent->prev)
    ent->prev->next = ent->next;
  else
    sc->head = ent->next;
  if (ent->next)
    ent->next->prev = ent->prev;
  else
    sc->tail = ent->prev;
  ent->prev = ent->next = NULL;
}

static void hl_subcache_lru_push(hl_subcache_t *sc, hl_subcache_entry_t *ent) {
  ent->prev = NULL;
  ent->next = sc->head;
  if (sc->head)
    sc->head->prev = ent;
  sc->head = ent;
  if (!sc->tail)
    sc->tail = ent;
}

hl_subcache_entry_t *hl_subcache_find(hl_subcache_t *sc, const char *tenant) {
  hl_subcache_entry_t *ent = sc->buckets[hl_subcache_hash(tenant) & (sc->nbuckets - 1)];

  while (ent && strcmp(ent->tenant, tenant) != 0)
    ent = ent->hnext;
  if (ent && ent != sc->head) {
    hl_subcache_lru_unlink(sc, ent);
    hl_subcache_lru_push(sc, ent);
  }
  return ent;
}

void hl_subcache_remove(hl_subcache_t *sc, hl_subcache_entry_t *ent) {
  hl_subcache_entry_t **pp = &sc->buckets[hl_subcache_hash(ent->tenant) & (sc->nbuckets - 1)];

  while (*pp && *pp != ent)
    pp = &(*pp)->hnext;
  if (*pp)
    *pp = ent->hnext;
  hl_subcache_lru_unlink(sc, ent);
  hl_subs_tenant_release(&ent->snap);
  sc->count--;
  free(ent);
}

/* Evict idle entries from the LRU tail until one more fits (entries being fetched stay). */
static void hl_subcache_evict(hl_subcache_t *sc) {
  hl_subcache_entry_t *ent = sc->tail, *prev;

  while (ent && sc->count >= sc->max) {
    prev = ent->prev;
    if (!ent->fetch) {
      hl_subcache_remove(sc, ent);
      sc->evictions++;
    }
    ent = prev;
  }
}

hl_subcache_entry_t *hl_subcache_get(hl_subcache_t *sc, const char *tenant) {
  hl_subcache_entry_t *ent = hl_subcache_find(sc, tenant);
  size_t b;

  if (ent)
    return ent;
  if (strlen(tenant) > HL_TENANT_MAX)
    return NULL;
  hl_subcache_evict(sc);
  ent = calloc(1, sizeof(*ent));
  if (!ent)
    return NULL;
  snprintf(ent->tenant, sizeof(ent->tenant), "%s", tenant);
  b = hl_subcache_hash(tenant) & (sc->nbuckets - 1);
  ent->hnext = sc->buckets[b];
  sc->buckets[b] = ent;
  hl_subcache_lru_push(sc, ent);
  sc->count++;
  return ent;
}

void hl_subcache_set(hl_subcache_entry_t *ent, hl_subs_tenant_t *snap, int64_t fresh_until) {
  hl_subs_tenant_release(&ent->snap);
  ent->snap = snap;
  ent->fresh_until = fresh_until;
}

void hl_subcache_flush(hl_subcache_t *sc) {
  hl_subcache_entry_t *ent = sc->head, *next;

  while (ent) {
    next = ent->next;
    if (ent->fetch)
      hl_subcache_set(ent, NULL, 0);
    else
      hl_subcache_remove(sc, ent);
    ent = next;
  }
}

void hl_subcache_destroy(hl_subcache_t **scp) {
  hl_subcache_t *sc;

  if (!scp || !*scp)
    return;
  sc = *scp;
  *scp = NULL;
  while (sc->head)
    hl_subcache_remove(sc, sc->head);
  free(sc->buckets);
  free(sc);
}

size_t hl_subcache_count(const hl_subcache_t *sc) {
  return sc->count;
}

uint64_t hl_subcache_evictions(const hl_subcache_t *sc) {
  return sc->evictions;
}
