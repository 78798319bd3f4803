/*
 * epjson.h - endpoint fields from JSON: the body of POST and PATCH .../endpoints (and what the
 * CLI's flags are turned into), so both front ends share one set of rules and messages.
 */
#ifndef HL_EPJSON_H
#define HL_EPJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "endpoint.h"

/*
 * Apply obj's members to ep.  create: `url` and `types` are required and `secret` may be given;
 * otherwise (PATCH) only the members present change, null resets an optional one.  Unknown
 * members are refused.  0 ok; -1 with "field: rule" in errstr (ep may be partly changed).
 */
int hl_epjson_apply(hl_endpoint_t *ep, json_t *obj, bool create, int64_t now_ms, char *errstr,
                    size_t errsize);

#endif
