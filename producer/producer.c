/*
 * producer.c - libhookline: the C API for publishing events.
 */
#include "hookline/producer.h"

#define HL_EXPORT __attribute__((visibility("default")))

HL_EXPORT const char *hookline_version(void) {
  return HOOKLINE_VERSION;
}
