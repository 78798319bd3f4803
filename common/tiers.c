/*
 * tiers.c - retry schedule arithmetic (see tiers.h).
 */
#include "tiers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

struct hl_tiers {
  int64_t delays[HL_TIERS_MAX];
  size_t n;
  int64_t topic_delays[HL_TIERS_MAX]; /* ascending, distinct */
  char topic_suffix[HL_TIERS_MAX][32];
  size_t ntopics;
  int jitter_pct;
};

void hl_tiers_fmt_delay(int64_t ms, char *out, size_t outsz) {
  if (ms > 0 && ms % 86400000 == 0)
    snprintf(out, outsz, "%lldd", (long long)(ms / 86400000));
  else if (ms > 0 && ms % 3600000 == 0)
    snprintf(out, outsz, "%lldh", (long long)(ms / 3600000));
  else if (ms > 0 && ms % 60000 == 0)
    snprintf(out, outsz, "%lldm", (long long)(ms / 60000));
  else if (ms > 0 && ms % 1000 == 0)
    snprintf(out, outsz, "%llds", (long long)(ms / 1000));
  else
    snprintf(out, outsz, "%lldms", (long long)ms);
}

static void hl_tiers_add_topic(hl_tiers_t *t, int64_t ms) {
  size_t i, j;
  char txt[24];

  for (i = 0; i < t->ntopics && t->topic_delays[i] < ms; i++)
    ;
  if (i < t->ntopics && t->topic_delays[i] == ms)
    return;
  for (j = t->ntopics; j > i; j--) {
    t->topic_delays[j] = t->topic_delays[j - 1];
    memcpy(t->topic_suffix[j], t->topic_suffix[j - 1], sizeof(t->topic_suffix[j]));
  }
  t->topic_delays[i] = ms;
  hl_tiers_fmt_delay(ms, txt, sizeof(txt));
  snprintf(t->topic_suffix[i], sizeof(t->topic_suffix[i]), "retry.%s", txt);
  t->ntopics++;
}

hl_tiers_t *hl_tiers_new(const char *schedule, int jitter_pct, char *errstr, size_t errsize) {
  hl_tiers_t *t = calloc(1, sizeof(*t));
  char *copy = schedule ? strdup(schedule) : NULL;
  char *tok, *save = NULL;
  int64_t ms;

  if (!t || !copy) {
    snprintf(errstr, errsize, "retry.schedule: out of memory");
    goto fail;
  }
  t->jitter_pct = jitter_pct;
  for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
    if (hl_parse_duration_ms(tok, &ms) != 0 || ms <= 0) {
      snprintf(errstr, errsize, "retry.schedule: \"%s\" is not a positive duration", tok);
      goto fail;
    }
    if (t->n == HL_TIERS_MAX) {
      snprintf(errstr, errsize, "retry.schedule: at most %d delays", HL_TIERS_MAX);
      goto fail;
    }
    t->delays[t->n++] = ms;
    hl_tiers_add_topic(t, ms);
  }
  if (t->n == 0) {
    snprintf(errstr, errsize, "retry.schedule: needs at least one delay");
    goto fail;
  }
  free(copy);
  return t;
fail:
  free(copy);
  free(t);
  return NULL;
}

void hl_tiers_destroy(hl_tiers_t **tiers) {
  if (!tiers)
    return;
  free(*tiers);
  *tiers = NULL;
}

size_t hl_tiers_count(const hl_tiers_t *t) {
  return t->n;
}
int64_t hl_tiers_delay_ms(const hl_tiers_t *t, size_t i) {
  return i < t->n ? t->delays[i] : 0;
}
size_t hl_tiers_topic_count(const hl_tiers_t *t) {
  return t->ntopics;
}
const char *hl_tiers_topic_suffix(const hl_tiers_t *t, size_t i) {
  return i < t->ntopics ? t->topic_suffix[i] : NULL;
}
int64_t hl_tiers_topic_delay_ms(const hl_tiers_t *t, size_t i) {
  return i < t->ntopics ? t->topic_delays[i] : 0;
}

/* The largest distinct delay <= wait (the smallest when none): due times stay nearly sorted. */
static size_t hl_tiers_topic_for(const hl_tiers_t *t, int64_t wait) {
  size_t i, best = 0;

  for (i = 0; i < t->ntopics; i++) {
    if (t->topic_delays[i] <= wait)
      best = i;
  }
  return best;
}

int hl_tiers_next(const hl_tiers_t *t, int attempt, int64_t retry_after_ms, int64_t now_ms,
                  double rnd01, hl_tiers_next_t *next) {
  int64_t base, wait, longest;
  double f;

  if (attempt < 1 || (size_t)attempt > t->n)
    return -1;
  base = t->delays[attempt - 1];
  f = 1.0 + (double)t->jitter_pct / 100.0 * (2.0 * rnd01 - 1.0);
  wait = (int64_t)((double)base * f);
  if (wait < 1)
    wait = 1;
  longest = t->topic_delays[t->ntopics - 1];
  if (retry_after_ms > wait)
    wait = retry_after_ms < longest ? retry_after_ms : longest;
  next->due_ms = now_ms + wait;
  next->topic = hl_tiers_topic_for(t, wait);
  return 0;
}

size_t hl_tiers_first_topic(const hl_tiers_t *t) {
  return hl_tiers_topic_for(t, t->delays[0]);
}
