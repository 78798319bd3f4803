/*
 * metrics.c - the Prometheus registry of metrics.h: a list of metrics, each a list of series
 * found by their label text (few series per metric: no per-endpoint labels by design).
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { HL_M_COUNTER, HL_M_GAUGE, HL_M_HISTOGRAM } hl_mtype_t;

typedef struct hl_series {
  char *labels; /* "" for none */
  double value; /* counter/gauge; histogram: sum */
  unsigned long long count;
  unsigned long long *bucket_counts; /* histogram: per bucket (not cumulative) */
  struct hl_series *next;
} hl_series_t;

struct hl_metric {
  char *name, *help;
  hl_mtype_t type;
  double *buckets;
  size_t nbuckets;
  hl_series_t *series;
  struct hl_metric *next;
};

struct hl_metrics {
  hl_metric_t *head, *tail;
  hl_metrics_collect_cb *collect;
  void *collect_opaque;
};

typedef struct hl_buf {
  char *p;
  size_t len, cap;
  int failed;
} hl_buf_t;

hl_metrics_t *hl_metrics_new(void) {
  return calloc(1, sizeof(hl_metrics_t));
}

static void hl_series_free_all(hl_series_t *s) {
  while (s) {
    hl_series_t *next = s->next;
    free(s->labels);
    free(s->bucket_counts);
    free(s);
    s = next;
  }
}

void hl_metrics_destroy(hl_metrics_t **m) {
  hl_metric_t *mt, *next;

  if (!m || !*m)
    return;
  for (mt = (*m)->head; mt; mt = next) {
    next = mt->next;
    hl_series_free_all(mt->series);
    free(mt->name);
    free(mt->help);
    free(mt->buckets);
    free(mt);
  }
  free(*m);
  *m = NULL;
}

void hl_metrics_set_collect(hl_metrics_t *m, hl_metrics_collect_cb *cb, void *opaque) {
  m->collect = cb;
  m->collect_opaque = opaque;
}

static hl_metric_t *hl_metrics_add(hl_metrics_t *m, const char *name, const char *help,
                                   hl_mtype_t type) {
  hl_metric_t *mt = calloc(1, sizeof(*mt));

  if (!mt)
    return NULL;
  mt->name = strdup(name);
  mt->help = strdup(help);
  mt->type = type;
  if (!mt->name || !mt->help) {
    free(mt->name);
    free(mt->help);
    free(mt);
    return NULL;
  }
  if (m->tail)
    m->tail->next = mt;
  else
    m->head = mt;
  m->tail = mt;
  return mt;
}

hl_metric_t *hl_metrics_counter(hl_metrics_t *m, const char *name, const char *help) {
  return hl_metrics_add(m, name, help, HL_M_COUNTER);
}

hl_metric_t *hl_metrics_gauge(hl_metrics_t *m, const char *name, const char *help) {
  return hl_metrics_add(m, name, help, HL_M_GAUGE);
}

hl_metric_t *hl_metrics_histogram(hl_metrics_t *m, const char *name, const char *help,
                                  const double *buckets, size_t nbuckets) {
  hl_metric_t *mt = hl_metrics_add(m, name, help, HL_M_HISTOGRAM);

  if (!mt)
    return NULL;
  mt->buckets = malloc(sizeof(double) * (nbuckets ? nbuckets : 1));
  if (!mt->buckets)
    return NULL; /* stays registered with no buckets: renders +Inf only */
  memcpy(mt->buckets, buckets, sizeof(double) * nbuckets);
  mt->nbuckets = nbuckets;
  return mt;
}

static hl_series_t *hl_series_get(hl_metric_t *mt, const char *labels) {
  hl_series_t *s, **pp;

  if (!labels)
    labels = "";
  for (pp = &mt->series; *pp; pp = &(*pp)->next) {
    if (strcmp((*pp)->labels, labels) == 0)
      return *pp;
  }
  s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->labels = strdup(labels);
  if (mt->type == HL_M_HISTOGRAM)
    s->bucket_counts = calloc(mt->nbuckets + 1, sizeof(*s->bucket_counts));
  if (!s->labels || (mt->type == HL_M_HISTOGRAM && !s->bucket_counts)) {
    hl_series_free_all(s);
    return NULL;
  }
  *pp = s; /* appended: render order = first use order */
  return s;
}

void hl_metric_add(hl_metric_t *mt, const char *labels, double v) {
  hl_series_t *s = mt ? hl_series_get(mt, labels) : NULL;

  if (s)
    s->value += v;
}

void hl_metric_set(hl_metric_t *mt, const char *labels, double v) {
  hl_series_t *s = mt ? hl_series_get(mt, labels) : NULL;

  if (s)
    s->value = v;
}

void hl_metric_observe(hl_metric_t *mt, const char *labels, double v) {
  hl_series_t *s = mt ? hl_series_get(mt, labels) : NULL;
  size_t i;

  if (!s || !s->bucket_counts)
    return;
  for (i = 0; i < mt->nbuckets && v > mt->buckets[i]; i++)
    ;
  s->bucket_counts[i]++;
  s->count++;
  s->value += v;
}

void hl_metric_reset(hl_metric_t *mt) {
  if (!mt)
    return;
  hl_series_free_all(mt->series);
  mt->series = NULL;
}

double hl_metric_value(const hl_metric_t *mt, const char *labels) {
  const hl_series_t *s;

  if (!labels)
    labels = "";
  for (s = mt ? mt->series : NULL; s; s = s->next) {
    if (strcmp(s->labels, labels) == 0)
      return mt->type == HL_M_HISTOGRAM ? (double)s->count : s->value;
  }
  return 0;
}

static void hl_buf_printf(hl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hl_buf_printf(hl_buf_t *b, const char *fmt, ...) {
  va_list ap;
  int n;

  if (b->failed)
    return;
  for (;;) {
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->failed = 1;
      return;
    }
    if ((size_t)n < b->cap - b->len) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap * 2 + (size_t)n + 256;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->failed = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
}

/* `{labels}` or `{labels,extra}` or `{extra}` or nothing. */
static void hl_buf_labels(hl_buf_t *b, const char *labels, const char *extra) {
  int has_l = labels && *labels, has_e = extra && *extra;

  if (!has_l && !has_e)
    return;
  hl_buf_printf(b, "{%s%s%s}", has_l ? labels : "", has_l && has_e ? "," : "", has_e ? extra : "");
}

static void hl_render_histogram(hl_buf_t *b, const hl_metric_t *mt, const hl_series_t *s) {
  unsigned long long cum = 0;
  char le[64];
  size_t i;

  for (i = 0; i <= mt->nbuckets; i++) {
    cum += s->bucket_counts[i];
    if (i < mt->nbuckets)
      snprintf(le, sizeof(le), "le=\"%g\"", mt->buckets[i]);
    else
      snprintf(le, sizeof(le), "le=\"+Inf\"");
    hl_buf_printf(b, "%s_bucket", mt->name);
    hl_buf_labels(b, s->labels, le);
    hl_buf_printf(b, " %llu\n", cum);
  }
  hl_buf_printf(b, "%s_sum", mt->name);
  hl_buf_labels(b, s->labels, NULL);
  hl_buf_printf(b, " %.17g\n%s_count", s->value, mt->name);
  hl_buf_labels(b, s->labels, NULL);
  hl_buf_printf(b, " %llu\n", s->count);
}

int hl_metrics_render(hl_metrics_t *m, char **out, size_t *outlen) {
  static const char *types[] = {"counter", "gauge", "histogram"};
  hl_buf_t b = {NULL, 0, 0, 0};
  const hl_metric_t *mt;
  const hl_series_t *s;

  if (m->collect)
    m->collect(m, m->collect_opaque);
  hl_buf_printf(&b, "%s", "");
  for (mt = m->head; mt; mt = mt->next) {
    hl_buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", mt->name, mt->help, mt->name,
                  types[mt->type]);
    if (!mt->series && mt->type != HL_M_HISTOGRAM)
      hl_buf_printf(&b, "%s 0\n", mt->name);
    for (s = mt->series; s; s = s->next) {
      if (mt->type == HL_M_HISTOGRAM) {
        hl_render_histogram(&b, mt, s);
        continue;
      }
      hl_buf_printf(&b, "%s", mt->name);
      hl_buf_labels(&b, s->labels, NULL);
      hl_buf_printf(&b, " %.17g\n", s->value);
    }
  }
  if (b.failed) {
    free(b.p);
    return -1;
  }
  *out = b.p;
  *outlen = b.len;
  return 0;
}
