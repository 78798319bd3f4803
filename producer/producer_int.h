/*
 * producer_int.h - libhookline internals shared with hookline-admin (which already holds an
 * hl_conf_t) and hookline-publish.
 */
#ifndef HL_PRODUCER_INT_H
#define HL_PRODUCER_INT_H

#include "config.h"
#include "envelope.h"
#include "hookline/producer.h"

/* A producer from an already loaded configuration (the caller keeps conf). */
hookline_producer_t *hl_producer_new_conf(const hl_conf_t *conf, char *errstr, size_t errsize);
/* Publish an already validated event. */
int hl_producer_send(hookline_producer_t *p, const hl_event_t *ev, hookline_delivery_cb *cb,
                     void *opaque, char *errstr, size_t errsize);
/* Give up on everything queued or in flight: each is reported to its callback as failed. */
void hl_producer_purge(hookline_producer_t *p);
/* Does the events topic exist? 1 yes, 0 no, -1 broker unreachable within timeout_ms. */
int hl_producer_topic_exists(hookline_producer_t *p, int timeout_ms, char *errstr, size_t errsize);

#endif
