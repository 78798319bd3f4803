/*
 * limits.c - the dispatcher's side of rate limits (the limiter itself is ratelimit.c): how many
 * dispatchers are alive in the consumer group, for the Redis-down fallback (each dispatcher then
 * allows rate / members), and the limiter's metrics.  Off the hot path: every
 * HL_MEMBERS_EVERY_MS the Admin API's DescribeConsumerGroups is sent on the producer handle;
 * its result queue is polled (timeout 0) on a loop timer, never waited for.  The same timer
 * copies the limiter's counters into /metrics.
 *
 * Owns the result queue and the timer (d->members_q, d->members_ev).
 */
#include <event2/event.h>

#include "dispatcher.h"
#include "log.h"
#include "ratelimit.h"
#include "util.h"

#define HL_MEMBERS_EVERY_MS 10000
#define HL_MEMBERS_POLL_MS 500

static void hl_members_result(hl_disp_t *d, rd_kafka_event_t *ev) {
  const rd_kafka_DescribeConsumerGroups_result_t *res =
      rd_kafka_event_DescribeConsumerGroups_result(ev);
  const rd_kafka_ConsumerGroupDescription_t **groups;
  size_t n = 0;

  if (!res || rd_kafka_event_error(ev)) {
    hl_debug("describe group: %s", rd_kafka_event_error_string(ev));
    return;
  }
  groups = rd_kafka_DescribeConsumerGroups_result_groups(res, &n);
  if (n != 1 || rd_kafka_ConsumerGroupDescription_error(groups[0]))
    return;
  hl_rl_set_members(d->rl, (int)rd_kafka_ConsumerGroupDescription_member_count(groups[0]));
}

/* The limiter's counters into the registry (counters grow by what changed since last time). */
static void hl_members_metrics(hl_disp_t *d) {
  static hl_rl_stats_t last;
  hl_rl_stats_t now;

  hl_rl_stats(d->rl, &now);
  hl_metric_add(d->m.rate_tokens, "source=\"redis\"",
                (double)(now.tokens_redis - last.tokens_redis));
  hl_metric_add(d->m.rate_tokens, "source=\"local\"",
                (double)(now.tokens_local - last.tokens_local));
  hl_metric_add(d->m.rate_tokens, "source=\"expired\"",
                (double)(now.tokens_expired - last.tokens_expired));
  hl_metric_add(d->m.rate_redis_calls, NULL, (double)(now.redis_calls - last.redis_calls));
  hl_metric_set(d->m.rate_fallback, NULL, now.fallback);
  hl_metric_set(d->m.rate_members, NULL, now.members);
  last = now;
}

static void hl_members_tick(evutil_socket_t fd, short what, void *arg) {
  hl_disp_t *d = arg;
  const char *group = hl_conf_str(d->conf, "dispatcher.group_id");
  rd_kafka_event_t *ev;
  int64_t now = hl_mono_ms();

  (void)fd;
  (void)what;
  hl_members_metrics(d);
  while ((ev = rd_kafka_queue_poll(d->members_q, 0)) != NULL) {
    hl_members_result(d, ev);
    rd_kafka_event_destroy(ev);
    d->members_asked_ms = 0;
  }
  if (d->members_asked_ms && now - d->members_asked_ms < 4 * HL_MEMBERS_EVERY_MS)
    return; /* one request at a time (a lost one is given up after a while) */
  if (d->members_next_ms > now || !d->producer)
    return;
  rd_kafka_DescribeConsumerGroups(d->producer, &group, 1, NULL, d->members_q);
  d->members_asked_ms = now;
  d->members_next_ms = now + HL_MEMBERS_EVERY_MS;
}

int hl_members_start(hl_disp_t *d) {
  struct timeval tv = {0, HL_MEMBERS_POLL_MS * 1000};

  d->members_q = rd_kafka_queue_new(d->producer);
  d->members_ev = event_new(d->base, -1, EV_PERSIST, hl_members_tick, d);
  if (!d->members_q || !d->members_ev || event_add(d->members_ev, &tv) != 0)
    return -1;
  d->members_next_ms = hl_mono_ms() + 2000; /* after the first join */
  return 0;
}

void hl_members_stop(hl_disp_t *d) {
  if (d->members_ev)
    event_free(d->members_ev);
  d->members_ev = NULL;
  if (d->members_q)
    rd_kafka_queue_destroy(d->members_q);
  d->members_q = NULL;
}

void hl_delivery_rate_metrics_init(hl_disp_t *d) {
  hl_metrics_t *m = d->metrics;

  d->m.rate_limited = hl_metrics_counter(
      m, "hookline_deliveries_rate_limited_total",
      "Deliveries that could not start at once because of their endpoint's rate limit.");
  d->m.rate_deferred = hl_metrics_counter(
      m, "hookline_deliveries_rate_deferred_total",
      "Rate-limited deliveries whose turn was 1 s or more away: handed to a retry tier, no "
      "attempt used.");
  d->m.rate_tokens = hl_metrics_counter(
      m, "hookline_rate_limit_tokens_total",
      "Rate tokens by source: redis (shared GCRA), local (fallback), expired (unspent).");
  d->m.rate_redis_calls =
      hl_metrics_counter(m, "hookline_rate_limit_redis_calls_total", "GCRA script calls to Redis.");
  d->m.rate_fallback = hl_metrics_gauge(
      m, "hookline_rate_limit_fallback",
      "1 while Redis is unreachable and rate limits are enforced locally (rate / members).");
  d->m.rate_members =
      hl_metrics_gauge(m, "hookline_rate_limit_group_members",
                       "Live dispatchers in the consumer group (the fallback's divisor).");
}
