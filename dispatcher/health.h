/*
 * health.h - endpoint health in the dispatcher: the circuit breaker shared by all dispatchers
 * through hl:health:<endpoint id> (Lua scripts, async), a local copy per endpoint so admission
 * never waits on Redis (refreshed every second), automatic disabling after
 * endpoint.disable_after without a success, and the operational events
 * hookline.endpoint.failing / .recovered / .disabled published once per transition
 * (docs/breaker.md).
 *
 * Owns the per-endpoint table, its refresh timer, and the breaker metrics.  delivery.c calls
 * hl_health_admit() before a request, hl_health_outcome() after it, hl_health_disable() on 410.
 */
#ifndef HL_HEALTH_H
#define HL_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "endpoint.h"
#include "envelope.h"
#include "state.h"

struct hl_disp;
typedef struct hl_health hl_health_t;

/* Reads breaker.*, endpoint.disable_after; registers the metrics; starts the refresh timer. */
hl_health_t *hl_health_new(struct hl_disp *d, char *errstr, size_t errsize);
/* After hl_state_destroy (whose cancelled callbacks are ignored while d->stopping). */
void hl_health_destroy(hl_health_t **h);

typedef enum {
  HL_HEALTH_GO,    /* closed: send */
  HL_HEALTH_PROBE, /* send as the half-open probe (report it with probe = true) */
  HL_HEALTH_OPEN,  /* open: do not send (counted as short-circuited) */
  HL_HEALTH_WAIT   /* asking Redis for the probe lease: cb(GO|PROBE|OPEN) follows */
} hl_health_admit_t;
typedef void hl_health_admit_cb(hl_health_admit_t res, void *opaque);

/* Whether a delivery to ep may go now.  cb runs later only after HL_HEALTH_WAIT, and never
 * while the dispatcher is stopping. */
hl_health_admit_t hl_health_admit(hl_health_t *h, const hl_endpoint_t *ep, hl_health_admit_cb *cb,
                                  void *opaque);
/* An attempt's result (ok = 2xx): updates the streak and the breaker, may disable the endpoint
 * and publish operational events.  Fire and forget. */
void hl_health_outcome(hl_health_t *h, const hl_endpoint_t *ep, bool ok, bool probe);
/* hookline_deliveries_skipped_total{reason} */
void hl_health_skipped(hl_health_t *h, const char *reason);
/*
 * Disable ep with the shared status script (common/store.h), then publish
 * hookline.endpoint.disabled once (hl:health's disabled_event field is the arbiter).  code is
 * the machine reason in the event ("gone", "failing"), reason the text stored on the endpoint.
 * cb(err) runs once the endpoint is disabled (or that failed); cb may be NULL.
 */
void hl_health_disable(hl_health_t *h, const hl_endpoint_t *ep, const char *code,
                       const char *reason, hl_state_ack_cb *cb, void *opaque);
/* The endpoint an operational event (hookline.endpoint.*) is about, copied to out; NULL for any
 * other event.  Such an event is never delivered to the endpoint it is about. */
const char *hl_health_event_about(const hl_event_t *ev, char *out, size_t outsz);

#endif
