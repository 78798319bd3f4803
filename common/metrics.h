/*
 * metrics.h - a small Prometheus registry: counters, gauges and histograms with a fixed label
 * text per series, rendered in the text exposition format.  Single-threaded (one event loop).
 * Labels are given as the inside of the braces, e.g. `outcome="ok"`, or NULL for none.
 */
#ifndef HL_METRICS_H
#define HL_METRICS_H

#include <stddef.h>

typedef struct hl_metrics hl_metrics_t;
typedef struct hl_metric hl_metric_t;

/* Called before every render so gauges computed on demand can be set. */
typedef void(hl_metrics_collect_cb)(hl_metrics_t *m, void *opaque);

hl_metrics_t *hl_metrics_new(void);
void hl_metrics_destroy(hl_metrics_t **m);
void hl_metrics_set_collect(hl_metrics_t *m, hl_metrics_collect_cb *cb, void *opaque);

/* The registry owns the metric; names are copied.  NULL on allocation failure. */
hl_metric_t *hl_metrics_counter(hl_metrics_t *m, const char *name, const char *help);
hl_metric_t *hl_metrics_gauge(hl_metrics_t *m, const char *name, const char *help);
/* buckets: ascending upper bounds (+Inf is implicit), copied. */
hl_metric_t *hl_metrics_histogram(hl_metrics_t *m, const char *name, const char *help,
                                  const double *buckets, size_t nbuckets);

void hl_metric_add(hl_metric_t *mt, const char *labels, double v);     /* counters, gauges */
void hl_metric_set(hl_metric_t *mt, const char *labels, double v);     /* gauges */
void hl_metric_observe(hl_metric_t *mt, const char *labels, double v); /* histograms */
/* Drop every series of a gauge (before re-setting per-partition values). */
void hl_metric_reset(hl_metric_t *mt);
/* Current value of a counter/gauge series (0 when absent): for tests. */
double hl_metric_value(const hl_metric_t *mt, const char *labels);

/* Text exposition; *out is malloc'ed (caller frees).  0 ok, -1 on allocation failure. */
int hl_metrics_render(hl_metrics_t *m, char **out, size_t *outlen);

#endif
