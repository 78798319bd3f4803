/*
 * main.c - hookline-dispatcher: command line, configuration, the event loop and the drain.
 *
 * Owns hl_disp_t and the order of start-up (config, tiers, metrics, Redis state, HTTP engine,
 * Kafka, server) and shutdown.  SIGTERM/SIGINT start a drain: stop fetching, let in-flight
 * deliveries finish, hand what still runs to the first retry tier shortly before
 * dispatcher.drain_timeout, wait for the broker's acks, commit, close, exit 0.
 */
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "dispatcher.h"
#include "health.h"
#include "log.h"
#include "ratelimit.h"
#include "util.h"

#define HL_MAX_OVERRIDES 256

static void hl_usage(FILE *out) {
  fprintf(out,
          "usage: hookline-dispatcher [-c FILE] [-o key=value]...\n"
          "\n"
          "Consume <prefix>.events and the retry tiers, deliver signed webhooks, route failures\n"
          "through the retry tiers to the DLQ (docs/dispatcher.md).\n"
          "\n"
          "  -c, --config FILE   configuration file (default $HOOKLINE_CONFIG, else none)\n"
          "  -o key=value        set a configuration key (repeatable), e.g.\n"
          "                      -o kafka.bootstrap.servers=127.0.0.1:19092 -o http.listen=off\n"
          "  -h, --help          this help\n"
          "  -V, --version       print the version\n"
          "\n"
          "SIGTERM or SIGINT drains within dispatcher.drain_timeout and exits 0.\n"
          "Exit status: 0 after a drain, 2 usage or configuration error, 1 start-up failure.\n");
}

typedef struct hl_opts {
  const char *config;
  char *overrides[HL_MAX_OVERRIDES];
  int noverrides;
} hl_opts_t;

/* 0 go on, 1 done (help/version printed), 2 usage error. */
static int hl_parse_args(int argc, char **argv, hl_opts_t *o) {
  static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                           {"help", no_argument, NULL, 'h'},
                                           {"version", no_argument, NULL, 'V'},
                                           {NULL, 0, NULL, 0}};
  int c;

  while ((c = getopt_long(argc, argv, "c:o:hV", longopts, NULL)) != -1) {
    switch (c) {
    case 'c':
      o->config = optarg;
      break;
    case 'o':
      if (o->noverrides == HL_MAX_OVERRIDES) {
        fprintf(stderr, "hookline-dispatcher: too many -o options\n");
        return 2;
      }
      o->overrides[o->noverrides++] = optarg;
      break;
    case 'h':
      hl_usage(stdout);
      return 1;
    case 'V':
      printf("hookline-dispatcher %s\n", HOOKLINE_VERSION);
      return 1;
    default:
      hl_usage(stderr);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "hookline-dispatcher: unexpected argument \"%s\"\n", argv[optind]);
    return 2;
  }
  return 0;
}

/* ---- drain ---- */

static struct event *hl_drain_timer;

static void hl_drain_tick(evutil_socket_t fd, short what, void *arg) {
  hl_disp_t *d = arg;
  int64_t now = hl_mono_ms();
  int64_t total = d->drain_deadline_ms - d->drain_start_ms;
  int64_t reserve = total / 5 < 3000 ? total / 5 : 3000; /* commit + close after the loop */
  int64_t handoff_at = d->drain_deadline_ms - reserve - (total / 5 < 2000 ? total / 5 : 2000);

  (void)fd;
  (void)what;
  if (d->msgs_pending == 0) {
    hl_info("drained: every consumed record is complete");
    event_base_loopbreak(d->base);
    return;
  }
  if (!d->handed_off && now >= handoff_at) {
    hl_info("drain: handing %zu in-flight deliveries to the first retry tier", d->dlv_in_flight);
    d->handed_off = true;
    hl_delivery_spill(d, NULL);
    hl_http_destroy(&d->http);
  }
  if (now >= d->drain_deadline_ms - reserve) {
    hl_warn("drain timeout: %zu records incomplete (re-consumed by the next owner)",
            d->msgs_pending);
    event_base_loopbreak(d->base);
  }
}

static void hl_signal_cb(evutil_socket_t sig, short what, void *arg) {
  hl_disp_t *d = arg;
  struct timeval tv = {0, 20 * 1000};

  (void)what;
  if (d->draining)
    return;
  hl_info("signal %d: draining (timeout %lld ms)", (int)sig,
          (long long)hl_conf_int(d->conf, "dispatcher.drain_timeout"));
  d->draining = true;
  d->drain_start_ms = hl_mono_ms();
  d->drain_deadline_ms = d->drain_start_ms + hl_conf_int(d->conf, "dispatcher.drain_timeout");
  hl_kafka_pause_all(d);
  hl_drain_timer = event_new(d->base, -1, EV_PERSIST, hl_drain_tick, d);
  if (hl_drain_timer)
    event_add(hl_drain_timer, &tv);
  else
    event_base_loopbreak(d->base);
}

/* ---- start-up ---- */

static int hl_disp_topics(hl_disp_t *d, char *errstr, size_t errsize) {
  const char *p = hl_conf_str(d->conf, "topics.prefix");
  int64_t window = 0;
  size_t i;

  d->tiers = hl_tiers_new(hl_conf_str(d->conf, "retry.schedule"),
                          (int)hl_conf_int(d->conf, "retry.jitter_pct"), errstr, errsize);
  if (!d->tiers)
    return -1;
  snprintf(d->topic_events, sizeof(d->topic_events), "%s.events", p);
  snprintf(d->topic_dlq, sizeof(d->topic_dlq), "%s.dlq", p);
  snprintf(d->topic_attempts, sizeof(d->topic_attempts), "%s.attempts", p);
  for (i = 0; i < hl_tiers_topic_count(d->tiers); i++)
    snprintf(d->tier_topics[i], sizeof(d->tier_topics[i]), "%s.%s", p,
             hl_tiers_topic_suffix(d->tiers, i));
  /* hl:done lives as long as a retry could still come back: the whole schedule plus jitter */
  for (i = 0; i < hl_tiers_count(d->tiers); i++)
    window += hl_tiers_delay_ms(d->tiers, i);
  d->done_ttl_ms = window + window * hl_conf_int(d->conf, "retry.jitter_pct") / 100 + 3600 * 1000;
  return 0;
}

/* Rate limits (dispatcher/ratelimit.c): shared GCRA in Redis, local fallback. */
static int hl_disp_limits_start(hl_disp_t *d, char *errstr, size_t errsize) {
  hl_delivery_rate_metrics_init(d);
  d->rl = hl_rl_new(d->base, d->st, hl_delivery_rate_ready, d);
  if (!d->rl) {
    snprintf(errstr, errsize, "out of memory");
    return -1;
  }
  return 0;
}

/*
 * Open files: the HTTP engine's connections (busy and cached: 2 x max_in_flight) plus Kafka,
 * Redis and the HTTP server.  Raise the soft limit towards the hard one when it is lower
 * (systemd's default soft limit is 1024) and say so when even the hard limit is short.
 */
static void hl_disp_raise_nofile(const hl_disp_t *d) {
  rlim_t need = (rlim_t)hl_http_conns_max(d->conf) + 256;
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
    return;
  rlim_t was = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
  if (rl.rlim_cur > was && setrlimit(RLIMIT_NOFILE, &rl) != 0)
    rl.rlim_cur = was;
  if (rl.rlim_cur < need)
    hl_warn("open files limit %llu is below the %llu that dispatcher.max_in_flight=%zu needs; "
            "connections beyond it fail (raise the hard limit: ulimit -Hn, LimitNOFILE=)",
            (unsigned long long)rl.rlim_cur, (unsigned long long)need, d->max_in_flight);
  else
    hl_info("open files limit raised from %llu to %llu", (unsigned long long)was,
            (unsigned long long)rl.rlim_cur);
}

static int hl_disp_start(hl_disp_t *d, char *errstr, size_t errsize) {
  d->max_bytes = (size_t)hl_conf_int(d->conf, "events.max_bytes");
  d->done_markers = hl_conf_bool(d->conf, "dispatcher.done_markers");
  d->max_in_flight = (size_t)hl_conf_int(d->conf, "dispatcher.max_in_flight");
  d->ep_max_in_flight = (int)hl_conf_int(d->conf, "endpoint.max_in_flight");
  hl_disp_raise_nofile(d);
  if (hl_disp_topics(d, errstr, errsize) != 0)
    return -1;
  d->metrics = hl_metrics_new();
  if (!d->metrics) {
    snprintf(errstr, errsize, "out of memory");
    return -1;
  }
  hl_delivery_metrics_init(d);
  d->st = hl_state_new(d->base, d->conf, errstr, errsize);
  if (!d->st)
    return -1;
  d->health = hl_health_new(d, errstr, errsize);
  if (!d->health)
    return -1;
  d->http = hl_http_new(d->base, d->conf, errstr, errsize);
  if (!d->http)
    return -1;
  if (hl_server_start(d, errstr, errsize) != 0)
    return -1;
  if (hl_disp_limits_start(d, errstr, errsize) != 0)
    return -1;
  if (hl_kafka_start(d, errstr, errsize) != 0)
    return -1;
  if (hl_members_start(d) != 0) {
    snprintf(errstr, errsize, "out of memory");
    return -1;
  }
  return 0;
}

static void hl_disp_stop(hl_disp_t *d) {
  hl_server_stop(d);
  hl_members_stop(d);
  hl_kafka_stop(d); /* flush: the broker's acks still complete records and store offsets */
  d->stopping = true;
  hl_http_destroy(&d->http);
  hl_state_destroy(&d->st);
  hl_health_destroy(&d->health);
  hl_rl_destroy(&d->rl); /* after the state: its cancelled Redis calls call back into it */
  hl_delivery_destroy(d);
  hl_metrics_destroy(&d->metrics);
  hl_tiers_destroy(&d->tiers);
}

int main(int argc, char **argv) {
  hl_opts_t o;
  hl_disp_t d;
  struct event *sigterm = NULL, *sigint = NULL;
  char err[512];
  int rc;

  memset(&o, 0, sizeof(o));
  memset(&d, 0, sizeof(d));
  rc = hl_parse_args(argc, argv, &o);
  if (rc != 0)
    return rc == 1 ? 0 : 2;
  signal(SIGPIPE, SIG_IGN);
  d.conf = hl_conf_new();
  hl_conf_set_default(d.conf, "http.listen", "0.0.0.0:9464");
  if (!d.conf || hl_conf_load(d.conf, o.config, o.overrides, o.noverrides, err, sizeof(err))) {
    fprintf(stderr, "hookline-dispatcher: %s\n", d.conf ? err : "out of memory");
    hl_conf_destroy(&d.conf);
    return 2;
  }
  if (hl_log_init("hookline-dispatcher", hl_conf_str(d.conf, "log.level")) != 0) {
    fprintf(stderr, "hookline-dispatcher: log.level: must be debug, info, warn or error\n");
    hl_conf_destroy(&d.conf);
    return 2;
  }
  /* secret_key unset: the secret box loader (common/store) warns once, on hl_state_new */
  d.base = event_base_new();
  rc = 1;
  if (!d.base || hl_disp_start(&d, err, sizeof(err)) != 0) {
    hl_error("start-up failed: %s", d.base ? err : "event_base_new");
    goto out;
  }
  sigterm = evsignal_new(d.base, SIGTERM, hl_signal_cb, &d);
  sigint = evsignal_new(d.base, SIGINT, hl_signal_cb, &d);
  if (!sigterm || !sigint || evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL)) {
    hl_error("start-up failed: cannot install signal handlers");
    goto out;
  }
  hl_info("hookline-dispatcher %s consuming %s and %zu retry tier(s) as group %s", HOOKLINE_VERSION,
          d.topic_events, hl_tiers_topic_count(d.tiers),
          hl_conf_str(d.conf, "dispatcher.group_id"));
  event_base_dispatch(d.base);
  rc = 0;
out:
  if (hl_drain_timer)
    event_free(hl_drain_timer);
  if (sigterm)
    event_free(sigterm);
  if (sigint)
    event_free(sigint);
  hl_disp_stop(&d);
  if (d.base)
    event_base_free(d.base);
  hl_conf_destroy(&d.conf);
  hl_info("exit %d", rc);
  return rc;
}
