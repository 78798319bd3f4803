/*
 * ping.c - build the hookline.ping test event for an endpoint (ping.h).
 */
#include "ping.h"

#include <stdio.h>

#include "util.h"

int hl_ping_event(const hl_endpoint_t *ep, size_t max_bytes, hl_event_t *ev, char *errstr,
                  size_t errsize) {
  char data[256];
  int n = snprintf(data, sizeof(data), "{\"endpoint_id\":\"%s\",\"message\":\"%s\"}", ep->id,
                   HL_PING_MESSAGE);

  /* ep->id is [A-Za-z0-9_]: no escaping needed */
  return hl_event_from_parts(ep->tenant, HL_PING_TYPE, NULL, data, (size_t)n, max_bytes,
                             hl_now_ms(), ev, errstr, errsize);
}
