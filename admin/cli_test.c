/*
 * cli_test.c - `hookline-admin endpoint test ID`: publish a hookline.ping for the endpoint through
 * the normal pipeline (libhookline -> <prefix>.events) and wait for a dispatcher's attempt to
 * appear in hl:recent:<id>.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "ping.h"
#include "producer_int.h"
#include "util.h"

#define HL_TEST_POLL_MS 250

/* Written by the producer's delivery thread, read after the flush. */
typedef struct hl_cli_dr {
  atomic_int done;
  int err;
  char errstr[256];
} hl_cli_dr_t;

static void hl_cli_test_dr(const char *event_id, int err, const char *errstr, void *opaque) {
  hl_cli_dr_t *dr = opaque;

  dr->err = err;
  snprintf(dr->errstr, sizeof(dr->errstr), "%s", errstr);
  atomic_store(&dr->done, 1);
}

/* Publish ev and wait for the broker's acknowledgement. 0 ok. */
static int hl_cli_test_publish(hl_admin_t *adm, const hl_event_t *ev) {
  hl_cli_dr_t dr = {0};
  char err[512];
  hookline_producer_t *p = hl_producer_new_conf(adm->conf, err, sizeof(err));
  int rc = -1;

  if (!p) {
    hl_admin_err("kafka: %s", err);
    return -1;
  }
  if (hl_producer_send(p, ev, hl_cli_test_dr, &dr, err, sizeof(err)) != HOOKLINE_OK) {
    hl_admin_err("%s", err);
    goto out;
  }
  hookline_producer_flush(p, 60000);
  if (!atomic_load(&dr.done))
    hl_admin_err("kafka: no acknowledgement from the broker");
  else if (dr.err != HOOKLINE_OK)
    hl_admin_err("kafka: %s", dr.errstr);
  else
    rc = 0;
out:
  hookline_producer_destroy(&p);
  return rc;
}

static const char *hl_cli_str(json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));

  return s ? s : "";
}

/* The newest attempt of event_id in hl:recent:<id>, or NULL (new reference). */
static json_t *hl_cli_test_find(hl_store_t *st, const char *id, const char *event_id) {
  char **items = NULL, err[256];
  json_t *found = NULL;
  size_t n = 0;

  if (hl_store_attempts(st, NULL, id, 100, &items, &n, err, sizeof(err)) != HL_STORE_OK)
    return NULL;
  for (size_t i = 0; i < n && !found; i++) {
    json_t *a = json_loads(items[i], 0, NULL);

    if (a && strcmp(hl_cli_str(a, "event_id"), event_id) == 0)
      found = a;
    else
      json_decref(a);
  }
  hl_store_strings_free(&items, n);
  return found;
}

static json_t *hl_cli_test_wait(hl_store_t *st, const char *id, const char *event_id,
                                int64_t wait_ms) {
  int64_t deadline = hl_mono_ms() + wait_ms;
  struct timespec pause = {0, HL_TEST_POLL_MS * 1000000L};
  json_t *a = NULL;

  while (wait_ms > 0 && !a && hl_mono_ms() < deadline) {
    nanosleep(&pause, NULL);
    a = hl_cli_test_find(st, id, event_id);
  }
  return a;
}

static int hl_cli_test_report(hl_admin_t *adm, const hl_event_t *ev, const char *id, json_t *a,
                              int64_t wait_ms) {
  static const char none[] = "no dispatcher delivered it yet (is hookline-dispatcher running?)";

  if (adm->json) {
    json_t *out =
        json_pack("{s:s, s:s, s:s}", "event_id", ev->id, "endpoint_id", id, "type", ev->type);

    json_object_set(out, "attempt", a ? a : json_null());
    if (!a && wait_ms > 0)
      json_object_set_new(out, "error", json_string(none));
    hl_cli_print_json_new(out);
  } else {
    printf("sent %s %s to %s\n", HL_PING_TYPE, ev->id, id);
    if (a)
      hl_cli_print_attempt(a, stdout);
    else if (wait_ms > 0)
      printf("%s\n", none);
  }
  if (wait_ms == 0)
    return HL_EXIT_OK;
  return a && hl_cli_attempt_ok(a) ? HL_EXIT_OK : HL_EXIT_UNAVAIL;
}

int hl_cli_test_run(hl_admin_t *adm, hl_store_t *st, const char *tenant, const char *id,
                    int64_t wait_ms) {
  hl_endpoint_t *ep = NULL;
  hl_event_t ev = {0};
  json_t *a = NULL;
  char err[512];
  int rc = hl_store_endpoint_get(st, tenant, id, &ep, err, sizeof(err));

  if (rc != HL_STORE_OK) {
    hl_admin_err("%s", err);
    return hl_admin_exit_code(rc);
  }
  rc = HL_EXIT_UNAVAIL;
  if (hl_ping_event(ep, (size_t)hl_conf_int(adm->conf, "events.max_bytes"), &ev, err,
                    sizeof(err)) != 0) {
    hl_admin_err("%s", err);
    goto out;
  }
  if (hl_cli_test_publish(adm, &ev) != 0)
    goto out;
  a = hl_cli_test_wait(st, ep->id, ev.id, wait_ms);
  rc = hl_cli_test_report(adm, &ev, ep->id, a, wait_ms);
out:
  json_decref(a);
  hl_event_clear(&ev);
  hl_endpoint_destroy(&ep);
  return rc;
}
