/*
 * ackwin.h - the per-partition ack window (DESIGN.md §8): offsets consumed but not yet complete.
 * Messages complete in any order; the offset to store is the lowest incomplete one (or one past
 * the last consumed when all are complete).  `cap` is dispatcher.ack_window: the caller pauses
 * the partition when hl_ackwin_full() and resumes when it drains.  No I/O.
 */
#ifndef HL_ACKWIN_H
#define HL_ACKWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hl_ackwin hl_ackwin_t;

hl_ackwin_t *hl_ackwin_new(size_t cap);
void hl_ackwin_destroy(hl_ackwin_t **aw);

/* Track a consumed offset (ascending).  0 ok, -1 on allocation failure or a non-ascending offset.
 */
int hl_ackwin_add(hl_ackwin_t *aw, int64_t offset);
/* Untake the offset just added (a tier record that is not due yet: it will be consumed again). */
int hl_ackwin_forget_last(hl_ackwin_t *aw, int64_t offset);
/*
 * Complete an offset.  Returns 1 when the store offset advanced, 0 when not, -1 when the
 * offset is not in the window.
 */
int hl_ackwin_complete(hl_ackwin_t *aw, int64_t offset);
/* Offset to store: the lowest incomplete, else last consumed + 1; -1 before anything was added. */
int64_t hl_ackwin_store_offset(const hl_ackwin_t *aw);
size_t hl_ackwin_depth(const hl_ackwin_t *aw); /* entries from the lowest incomplete on */
bool hl_ackwin_full(const hl_ackwin_t *aw);
size_t hl_ackwin_cap(const hl_ackwin_t *aw);

#endif
