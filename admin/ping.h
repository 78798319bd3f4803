/*
 * ping.h - the test webhook ("send test webhook"): a `hookline.ping` event for one endpoint,
 * published through the normal pipeline by `endpoint test` and POST .../{id}/test.
 *
 * The envelope stays standard: data is {"endpoint_id":"ep_..","message":"test webhook from
 * hookline"}.  Dispatchers deliver a hookline.ping to the endpoints whose filters match it AND to
 * the endpoint named in data.endpoint_id (docs/admin.md, "Test webhooks").
 */
#ifndef HL_PING_H
#define HL_PING_H

#include <stddef.h>

#include "endpoint.h"
#include "envelope.h"

#define HL_PING_TYPE "hookline.ping"
#define HL_PING_MESSAGE "test webhook from hookline"

/* Fill *ev (hl_event_clear afterwards) with a fresh ping for ep. 0 ok, -1 with errstr. */
int hl_ping_event(const hl_endpoint_t *ep, size_t max_bytes, hl_event_t *ev, char *errstr,
                  size_t errsize);

#endif
