/*
 * ackwin.c - ring buffer of {offset, done} in consumption order; the head is always the lowest
 * incomplete entry (complete ones at the head are popped at once).  Lookups binary-search the
 * ring since offsets ascend.  The ring grows past cap when a few more messages arrive after the
 * pause (librdkafka may already have them queued).
 */
#include "ackwin.h"

#include <stdlib.h>

typedef struct hl_ackent {
  int64_t offset;
  bool done;
} hl_ackent_t;

struct hl_ackwin {
  hl_ackent_t *ring;
  size_t size;  /* ring slots */
  size_t head;  /* index of the oldest entry */
  size_t count; /* entries in the ring */
  size_t cap;   /* window limit */
  int64_t last; /* last added offset, -1 none */
};

hl_ackwin_t *hl_ackwin_new(size_t cap) {
  hl_ackwin_t *aw = calloc(1, sizeof(*aw));

  if (!aw)
    return NULL;
  aw->cap = cap ? cap : 1;
  aw->size = 64;
  aw->ring = calloc(aw->size, sizeof(*aw->ring));
  aw->last = -1;
  if (!aw->ring) {
    free(aw);
    return NULL;
  }
  return aw;
}

void hl_ackwin_destroy(hl_ackwin_t **aw) {
  if (!aw || !*aw)
    return;
  free((*aw)->ring);
  free(*aw);
  *aw = NULL;
}

static hl_ackent_t *hl_ackwin_at(const hl_ackwin_t *aw, size_t i) {
  return &aw->ring[(aw->head + i) % aw->size];
}

static int hl_ackwin_grow(hl_ackwin_t *aw) {
  size_t nsize = aw->size * 2, i;
  hl_ackent_t *nring = calloc(nsize, sizeof(*nring));

  if (!nring)
    return -1;
  for (i = 0; i < aw->count; i++)
    nring[i] = *hl_ackwin_at(aw, i);
  free(aw->ring);
  aw->ring = nring;
  aw->size = nsize;
  aw->head = 0;
  return 0;
}

int hl_ackwin_add(hl_ackwin_t *aw, int64_t offset) {
  hl_ackent_t *e;

  if (offset <= aw->last)
    return -1;
  if (aw->count == aw->size && hl_ackwin_grow(aw) != 0)
    return -1;
  e = &aw->ring[(aw->head + aw->count) % aw->size];
  e->offset = offset;
  e->done = false;
  aw->count++;
  aw->last = offset;
  return 0;
}

int hl_ackwin_forget_last(hl_ackwin_t *aw, int64_t offset) {
  if (aw->count == 0 || hl_ackwin_at(aw, aw->count - 1)->offset != offset)
    return -1;
  aw->count--;
  aw->last = aw->count > 0 ? hl_ackwin_at(aw, aw->count - 1)->offset : offset - 1;
  return 0;
}

int hl_ackwin_complete(hl_ackwin_t *aw, int64_t offset) {
  size_t lo = 0, hi = aw->count, mid;
  hl_ackent_t *e;
  int advanced = 0;

  while (lo < hi) {
    mid = lo + (hi - lo) / 2;
    if (hl_ackwin_at(aw, mid)->offset < offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == aw->count || hl_ackwin_at(aw, lo)->offset != offset)
    return -1;
  e = hl_ackwin_at(aw, lo);
  if (e->done)
    return -1;
  e->done = true;
  while (aw->count > 0 && hl_ackwin_at(aw, 0)->done) {
    aw->head = (aw->head + 1) % aw->size;
    aw->count--;
    advanced = 1;
  }
  return advanced;
}

int64_t hl_ackwin_store_offset(const hl_ackwin_t *aw) {
  if (aw->count > 0)
    return hl_ackwin_at(aw, 0)->offset;
  return aw->last < 0 ? -1 : aw->last + 1;
}

size_t hl_ackwin_depth(const hl_ackwin_t *aw) {
  return aw->count;
}
bool hl_ackwin_full(const hl_ackwin_t *aw) {
  return aw->count >= aw->cap;
}
size_t hl_ackwin_cap(const hl_ackwin_t *aw) {
  return aw->cap;
}
