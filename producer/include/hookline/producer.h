/*
 * hookline/producer.h - publish events to hookline from C programs (libhookline).
 */
#ifndef HOOKLINE_PRODUCER_H
#define HOOKLINE_PRODUCER_H

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, e.g. "0.1.0". */
const char *hookline_version(void);

#ifdef __cplusplus
}
#endif
#endif
