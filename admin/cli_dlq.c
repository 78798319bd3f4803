/*
 * cli_dlq.c - `hookline-admin dlq list|replay` (docs/dlq.md).  Both read <prefix>.dlq up to the
 * end it had when they started (dlqkafka.c), parse each record with common/record.c (a delivery
 * record + reason, or an invalid event with raw_b64) and apply the filters.  `replay` puts each
 * matching delivery back into the first retry tier with a fresh attempt count, due now, unless
 * its hl:done marker says it already succeeded, its endpoint is gone or disabled, or this run
 * already replayed that event to that endpoint.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cli.h"
#include "config.h"
#include "dlqkafka.h"
#include "record.h"
#include "table.h"
#include "tiers.h"
#include "util.h"

#define HL_DLQ_IDLE_MS 30000  /* give up reading when the broker sends nothing for this long */
#define HL_DLQ_FLUSH_MS 60000 /* wait this long for the broker's acks of a replay */

enum { O_TENANT = 1, O_ENDPOINT, O_SINCE, O_UNTIL, O_REASON, O_DRYRUN, O_DISABLED, O_VERBOSE };

typedef struct hl_dlq_opts {
  const char *tenant, *endpoint, *reason;
  int64_t since_ms, until_ms; /* 0: unbounded */
  bool dry_run, include_disabled, verbose;
} hl_dlq_opts_t;

/* One DLQ record as read: a delivery (rec) or an invalid event (inv, or just a reason when the
 * record is neither). */
typedef struct hl_dlq_item {
  const hl_dlqk_msg_t *m;
  bool invalid;
  hl_record_t rec;
  hl_record_invalid_t inv;
  char reason[320]; /* of an unreadable record */
} hl_dlq_item_t;

static const char *hl_dlq_reason(const hl_dlq_item_t *it) {
  if (!it->invalid)
    return it->rec.reason ? it->rec.reason : "";
  return it->inv.reason ? it->inv.reason : it->reason;
}

static void hl_dlq_item_parse(hl_dlq_item_t *it, const hl_dlqk_msg_t *m) {
  char err[256];

  memset(it, 0, sizeof(*it));
  it->m = m;
  if (hl_record_parse(m->value, m->len, &it->rec, err, sizeof(err)) == 0)
    return;
  it->invalid = true;
  if (hl_record_invalid_parse(m->value, m->len, &it->inv, err, sizeof(err)) != 0)
    snprintf(it->reason, sizeof(it->reason), "unreadable DLQ record: %s", err);
}

static void hl_dlq_item_clear(hl_dlq_item_t *it) {
  hl_record_clear(&it->rec);
  hl_record_invalid_clear(&it->inv);
}

static bool hl_dlq_match(const hl_dlq_opts_t *o, const hl_dlq_item_t *it) {
  if (o->since_ms && it->m->ts_ms < o->since_ms)
    return false;
  if (o->until_ms && it->m->ts_ms > o->until_ms)
    return false;
  if (o->reason && !strstr(hl_dlq_reason(it), o->reason))
    return false;
  if (it->invalid) /* no tenant, no endpoint */
    return !o->tenant && !o->endpoint;
  return (!o->tenant || strcmp(o->tenant, it->rec.ev.tenant) == 0) &&
         (!o->endpoint || strcmp(o->endpoint, it->rec.endpoint_id) == 0);
}

/* ---- options ---- */

/* RFC 3339, or a duration ago ("2h", "30m", "7d"). */
static int hl_dlq_time(const char *flag, const char *s, int64_t *ms) {
  int64_t ago;

  if (hl_parse_rfc3339(s, ms) == 0)
    return 0;
  if (hl_parse_duration_ms(s, &ago) == 0 && ago >= 0) {
    *ms = hl_now_ms() - ago;
    return 0;
  }
  hl_admin_err("--%s: \"%s\" is neither RFC 3339 (2026-11-22T10:00:00Z) nor a duration ago (2h)",
               flag, s);
  return -1;
}

static void hl_dlq_usage(FILE *out) {
  fprintf(out,
          "usage: hookline-admin dlq list   [FILTERS] [-o json]\n"
          "       hookline-admin dlq replay [FILTERS] [--dry-run] [--include-disabled] [-v]\n"
          "                                 [-o json]\n"
          "\n"
          "Reads <topics.prefix>.dlq from the beginning (or --since) up to its end at the start.\n"
          "\n"
          "filters:\n"
          "  --tenant T          records of tenant T\n"
          "  --endpoint ID       records of one endpoint\n"
          "  --since TIME        written to the DLQ at or after TIME: RFC 3339 or a duration\n"
          "                      ago (2h, 30m, 7d)\n"
          "  --until TIME        written at or before TIME\n"
          "  --reason TEXT       the reason contains TEXT (e.g. \"retries exhausted\",\n"
          "                      endpoint_disabled, envelope)\n"
          "\n"
          "replay puts matching deliveries back into the first retry tier, attempts from 1,\n"
          "due now; skips deliveries already done (hl:done), invalid events, deleted and\n"
          "(unless --include-disabled) disabled endpoints. --dry-run only reports. -v prints\n"
          "one line per record.\n"
          "\n"
          "exit codes: 0 ok, 1 topic not found, 2 usage, 3 Kafka or Redis unreachable or\n"
          "failing\n");
}

static int hl_dlq_flag(hl_admin_t *adm, hl_dlq_opts_t *o, int opt, bool replay) {
  switch (opt) {
  case O_TENANT:
    o->tenant = optarg;
    return 0;
  case O_ENDPOINT:
    o->endpoint = optarg;
    return 0;
  case O_REASON:
    o->reason = optarg;
    return 0;
  case O_SINCE:
    return hl_dlq_time("since", optarg, &o->since_ms);
  case O_UNTIL:
    return hl_dlq_time("until", optarg, &o->until_ms);
  case 'o':
    return hl_cli_output(adm, optarg);
  case O_DRYRUN:
    o->dry_run = true;
    return replay ? 0 : -1;
  case O_DISABLED:
    o->include_disabled = true;
    return replay ? 0 : -1;
  case O_VERBOSE:
  case 'v':
    o->verbose = true;
    return replay ? 0 : -1;
  default:
    return -1;
  }
}

/* argv[0] is the action. 0 ok, 1 --help printed, -1 usage error (reported). */
static int hl_dlq_parse(hl_admin_t *adm, int argc, char **argv, hl_dlq_opts_t *o) {
  static const struct option longopts[] = {{"tenant", required_argument, NULL, O_TENANT},
                                           {"endpoint", required_argument, NULL, O_ENDPOINT},
                                           {"since", required_argument, NULL, O_SINCE},
                                           {"until", required_argument, NULL, O_UNTIL},
                                           {"reason", required_argument, NULL, O_REASON},
                                           {"dry-run", no_argument, NULL, O_DRYRUN},
                                           {"include-disabled", no_argument, NULL, O_DISABLED},
                                           {"verbose", no_argument, NULL, O_VERBOSE},
                                           {"output", required_argument, NULL, 'o'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  bool replay = strcmp(argv[0], "replay") == 0;
  int opt;

  optind = 0; /* glibc: restart getopt on the sub-command's arguments */
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "o:vh", longopts, NULL)) != -1) {
    if (opt == 'h') {
      hl_dlq_usage(stdout);
      return 1;
    }
    if (hl_dlq_flag(adm, o, opt, replay) != 0) {
      if (opt != 'o' && opt != O_SINCE && opt != O_UNTIL)
        hl_admin_err("dlq %s: unknown option, missing value or not one of its options: %s", argv[0],
                     argv[optind - 1]);
      fprintf(stderr, "(hookline-admin dlq --help)\n");
      return -1;
    }
  }
  if (optind != argc) {
    hl_admin_err("dlq %s: unexpected argument %s", argv[0], argv[optind]);
    return -1;
  }
  if (o->since_ms && o->until_ms && o->until_ms < o->since_ms) {
    hl_admin_err("dlq %s: --until is before --since", argv[0]);
    return -1;
  }
  return 0;
}

static int hl_dlq_exit(int dlqk_rc) {
  switch (dlqk_rc) {
  case HL_DLQK_OK:
    return HL_EXIT_OK;
  case HL_DLQK_ENOTOPIC:
    return HL_EXIT_NOTFOUND;
  default:
    return HL_EXIT_UNAVAIL;
  }
}

static int hl_dlq_scan(hl_admin_t *adm, const hl_dlq_opts_t *o, hl_dlqk_visit_fn *visit,
                       void *opaque) {
  char topic[256], err[512];
  int rc;

  snprintf(topic, sizeof(topic), "%s.dlq", hl_conf_str(adm->conf, "topics.prefix"));
  rc = hl_dlqk_scan(adm->conf, topic, o->since_ms, HL_DLQ_IDLE_MS, visit, opaque, err, sizeof(err));
  if (rc != HL_DLQK_OK && rc != HL_DLQK_STOPPED)
    hl_admin_err("%s", err);
  return rc;
}

/* ---- list ---- */

typedef struct hl_dlq_list {
  hl_admin_t *adm;
  const hl_dlq_opts_t *o;
  hl_table_t *tbl;
  size_t n, ninvalid;
} hl_dlq_list_t;

static json_t *hl_dlq_item_json(const hl_dlq_item_t *it) {
  char when[40];
  json_t *j;

  hl_fmt_rfc3339(it->m->ts_ms, when, sizeof(when));
  j = json_pack("{s:s, s:i, s:I, s:b, s:s}", "time", when, "partition", (int)it->m->partition,
                "offset", (json_int_t)it->m->offset, "invalid", it->invalid, "reason",
                hl_dlq_reason(it));
  if (it->invalid) {
    json_object_set_new(j, "raw_b64", json_string(it->inv.raw_b64 ? it->inv.raw_b64 : ""));
    json_object_set_new(j, "source",
                        json_pack("{s:s, s:i, s:I}", "topic", it->inv.topic, "partition",
                                  (int)it->inv.partition, "offset", (json_int_t)it->inv.offset));
    return j;
  }
  json_object_set_new(j, "event_id", json_string(it->rec.ev.id));
  json_object_set_new(j, "tenant", json_string(it->rec.ev.tenant));
  json_object_set_new(j, "endpoint_id", json_string(it->rec.endpoint_id));
  json_object_set_new(j, "type", json_string(it->rec.ev.type));
  json_object_set_new(j, "timestamp", json_string(it->rec.ev.timestamp));
  json_object_set_new(j, "attempts", json_integer(it->rec.attempt));
  json_object_set_new(j, "history",
                      it->rec.history ? json_loads(it->rec.history, 0, NULL) : json_array());
  return j;
}

static void hl_dlq_item_row(hl_table_t *tbl, const hl_dlq_item_t *it) {
  char when[40], attempts[16];
  const char *cells[7];

  hl_fmt_rfc3339(it->m->ts_ms, when, sizeof(when));
  snprintf(attempts, sizeof(attempts), "%d", it->rec.attempt);
  cells[0] = when;
  cells[1] = it->invalid ? "(invalid event)" : it->rec.ev.id;
  cells[2] = it->invalid ? NULL : it->rec.ev.tenant;
  cells[3] = it->invalid ? NULL : it->rec.endpoint_id;
  cells[4] = it->invalid ? NULL : it->rec.ev.type;
  cells[5] = it->invalid ? NULL : attempts;
  cells[6] = hl_dlq_reason(it);
  hl_table_add(tbl, cells);
}

static int hl_dlq_list_visit(const hl_dlqk_msg_t *m, void *opaque) {
  hl_dlq_list_t *ls = opaque;
  hl_dlq_item_t it;

  hl_dlq_item_parse(&it, m);
  if (hl_dlq_match(ls->o, &it)) {
    ls->n++;
    ls->ninvalid += it.invalid;
    if (ls->tbl)
      hl_dlq_item_row(ls->tbl, &it);
    else
      hl_cli_print_json_new(hl_dlq_item_json(&it)); /* NDJSON: one record per line, streamed */
  }
  hl_dlq_item_clear(&it);
  return 0;
}

static int hl_dlq_list(hl_admin_t *adm, const hl_dlq_opts_t *o) {
  static const char *const headers[] = {"TIME", "EVENT",    "TENANT", "ENDPOINT",
                                        "TYPE", "ATTEMPTS", "REASON"};
  hl_dlq_list_t ls = {adm, o, NULL, 0, 0};
  int rc;

  if (!adm->json) {
    ls.tbl = hl_table_new(7, headers);
    if (!ls.tbl)
      return HL_EXIT_UNAVAIL;
  }
  rc = hl_dlq_scan(adm, o, hl_dlq_list_visit, &ls);
  if (rc == HL_DLQK_OK && ls.tbl) {
    hl_table_print(ls.tbl, stdout);
    fflush(stdout); /* the table, then the count on stderr */
    fprintf(stderr, "%zu record(s), %zu of them invalid events\n", ls.n, ls.ninvalid);
  }
  hl_table_destroy(&ls.tbl);
  return hl_dlq_exit(rc);
}

/* ---- replay ---- */

typedef struct hl_dlq_replay {
  hl_admin_t *adm;
  const hl_dlq_opts_t *o;
  hl_store_t *st;
  hl_dlqk_producer_t *pr; /* NULL on a dry run */
  json_t *eps;            /* endpoint id -> skip reason ("" to replay), a cache */
  json_t *replayed;       /* "<event id> <endpoint id>" -> true: replayed by this run */
  json_t *skipped;        /* reason -> count, in order of first appearance */
  size_t nreplayed, nskipped;
  int rc; /* HL_EXIT_* of a failure that stopped the run */
} hl_dlq_replay_t;

/* Why the endpoint's deliveries are not replayed ("" when they are); NULL on a Redis error. */
static const char *hl_dlq_ep_verdict(hl_dlq_replay_t *rp, const hl_record_t *rec) {
  const char *cached = json_string_value(json_object_get(rp->eps, rec->endpoint_id));
  hl_endpoint_t *ep = NULL;
  const char *verdict = "";
  char err[512];
  int rc;

  if (cached)
    return cached;
  rc = hl_store_endpoint_get(rp->st, rec->ev.tenant, rec->endpoint_id, &ep, err, sizeof(err));
  if (rc == HL_STORE_ENOTFOUND)
    verdict = "endpoint no longer exists";
  else if (rc != HL_STORE_OK) {
    hl_admin_err("%s", err);
    rp->rc = hl_admin_exit_code(rc);
    return NULL;
  } else if (!ep->enabled && !rp->o->include_disabled)
    verdict = "endpoint disabled";
  hl_endpoint_destroy(&ep);
  json_object_set_new(rp->eps, rec->endpoint_id, json_string(verdict));
  return json_string_value(json_object_get(rp->eps, rec->endpoint_id));
}

/* Why this delivery is not replayed ("" when it is); NULL on a failure (rp->rc set). */
static const char *hl_dlq_verdict(hl_dlq_replay_t *rp, const hl_dlq_item_t *it, const char *pair) {
  const char *verdict;
  char err[512];
  bool done = false;
  int rc;

  if (it->invalid)
    return "invalid event (nothing to deliver)";
  if (json_object_get(rp->replayed, pair))
    return "already replayed by this run";
  verdict = hl_dlq_ep_verdict(rp, &it->rec);
  if (!verdict || *verdict)
    return verdict;
  rc = hl_store_done_exists(rp->st, it->rec.ev.id, it->rec.endpoint_id, &done, err, sizeof(err));
  if (rc != HL_STORE_OK) {
    hl_admin_err("%s", err);
    rp->rc = hl_admin_exit_code(rc);
    return NULL;
  }
  return done ? "already delivered" : "";
}

/* The record as the first tier takes it: attempts from 1, no history, due now, no reason. */
static int hl_dlq_send(hl_dlq_replay_t *rp, hl_record_t *rec) {
  char err[512], *val;
  size_t len = 0;
  int rc;

  rec->attempt = 0;
  rec->due_ms = hl_now_ms();
  free(rec->history);
  rec->history = NULL;
  free(rec->reason);
  rec->reason = NULL;
  val = hl_record_to_json(rec, &len);
  if (!val) {
    hl_admin_err("out of memory");
    return -1;
  }
  rc = hl_dlqk_send(rp->pr, rec->endpoint_id, val, len, err, sizeof(err));
  free(val);
  if (rc != 0)
    hl_admin_err("%s", err);
  return rc;
}

static void hl_dlq_skip(hl_dlq_replay_t *rp, const char *why) {
  json_int_t n = json_integer_value(json_object_get(rp->skipped, why));

  json_object_set_new(rp->skipped, why, json_integer(n + 1));
  rp->nskipped++;
}

static int hl_dlq_replay_visit(const hl_dlqk_msg_t *m, void *opaque) {
  hl_dlq_replay_t *rp = opaque;
  const char *verdict;
  hl_dlq_item_t it;
  char pair[256];

  hl_dlq_item_parse(&it, m);
  if (!hl_dlq_match(rp->o, &it))
    goto out;
  snprintf(pair, sizeof(pair), "%s %s", it.rec.ev.id, it.rec.endpoint_id);
  verdict = hl_dlq_verdict(rp, &it, pair);
  if (!verdict)
    goto out;
  if (rp->o->verbose && !rp->adm->json)
    printf("%s %s %s%s%s\n",
           *verdict ? "skip"
           : rp->pr ? "replay"
                    : "would replay",
           it.invalid ? "(invalid event)" : it.rec.ev.id, it.invalid ? "-" : it.rec.endpoint_id,
           *verdict ? ": " : "", verdict);
  if (*verdict) {
    hl_dlq_skip(rp, verdict);
    goto out;
  }
  if (rp->pr && hl_dlq_send(rp, &it.rec) != 0) {
    rp->rc = HL_EXIT_UNAVAIL;
    goto out;
  }
  json_object_set_new(rp->replayed, pair, json_true());
  rp->nreplayed++;
out:
  hl_dlq_item_clear(&it);
  return rp->rc != HL_EXIT_OK;
}

typedef struct hl_dlq_count {
  const char *why;
  json_int_t n;
} hl_dlq_count_t;

/* Most frequent first, then by name: the summary reads the same every run. */
static int hl_dlq_count_cmp(const void *a, const void *b) {
  const hl_dlq_count_t *x = a, *y = b;

  if (x->n != y->n)
    return x->n > y->n ? -1 : 1;
  return strcmp(x->why, y->why);
}

static void hl_dlq_report(hl_dlq_replay_t *rp, size_t acked) {
  size_t n = json_object_size(rp->skipped), i = 0;
  hl_dlq_count_t *counts = calloc(n ? n : 1, sizeof(*counts));
  const char *why;
  json_t *v;

  if (rp->adm->json || !counts) {
    hl_cli_print_json_new(json_pack(
        "{s:b, s:b, s:I, s:I, s:O}", "dry_run", rp->o->dry_run, "stopped_by_error",
        rp->rc != HL_EXIT_OK, rp->o->dry_run ? "would_replay" : "replayed", (json_int_t)acked,
        "skipped", (json_int_t)rp->nskipped, "skipped_by_reason", rp->skipped));
    free(counts);
    return;
  }
  json_object_foreach(rp->skipped, why, v) {
    counts[i].why = why;
    counts[i++].n = json_integer_value(v);
  }
  qsort(counts, n, sizeof(*counts), hl_dlq_count_cmp);
  printf("%s%s %zu, skipped %zu", rp->rc != HL_EXIT_OK ? "stopped by an error: " : "",
         rp->o->dry_run ? "would replay" : "replayed", acked, rp->nskipped);
  for (i = 0; i < n; i++)
    printf("%s%lld %s", i ? ", " : " (", (long long)counts[i].n, counts[i].why);
  printf("%s\n", n ? ")" : "");
  free(counts);
}

static int hl_dlq_replay_open(hl_dlq_replay_t *rp) {
  const hl_conf_t *conf = rp->adm->conf;
  char err[512], topic[256];
  hl_tiers_t *tiers;
  int rc;

  rc = hl_admin_store_open(rp->adm, &rp->st);
  if (rc != HL_EXIT_OK || rp->o->dry_run)
    return rc;
  tiers = hl_tiers_new(hl_conf_str(conf, "retry.schedule"), 0, err, sizeof(err));
  if (!tiers) {
    hl_admin_err("%s", err);
    return HL_EXIT_USAGE;
  }
  snprintf(topic, sizeof(topic), "%s.%s", hl_conf_str(conf, "topics.prefix"),
           hl_tiers_topic_suffix(tiers, hl_tiers_first_topic(tiers)));
  hl_tiers_destroy(&tiers);
  rc = hl_dlqk_producer_new(conf, topic, &rp->pr, err, sizeof(err));
  if (rc == HL_DLQK_ENOTOPIC)
    hl_admin_err("%s: the first retry tier of retry.schedule \"%s\"; is that the dispatchers' "
                 "schedule, and have they started?",
                 err, hl_conf_str(conf, "retry.schedule"));
  else if (rc != HL_DLQK_OK)
    hl_admin_err("%s", err);
  return hl_dlq_exit(rc);
}

static int hl_dlq_replay(hl_admin_t *adm, const hl_dlq_opts_t *o) {
  hl_dlq_replay_t rp = {.adm = adm, .o = o};
  size_t acked = 0;
  char err[512];
  int rc;

  rp.eps = json_object();
  rp.replayed = json_object();
  rp.skipped = json_object();
  rc = hl_dlq_replay_open(&rp);
  if (rc != HL_EXIT_OK)
    goto out;
  rc = hl_dlq_exit(hl_dlq_scan(adm, o, hl_dlq_replay_visit, &rp));
  if (rp.rc != HL_EXIT_OK)
    rc = rp.rc;
  acked = rp.nreplayed;
  if (rp.pr && hl_dlqk_flush(rp.pr, HL_DLQ_FLUSH_MS, &acked, err, sizeof(err)) != 0) {
    hl_admin_err("%s", err);
    rc = HL_EXIT_UNAVAIL;
  }
  rp.rc = rc; /* the report says whether the run went through */
  hl_dlq_report(&rp, acked);
out:
  hl_dlqk_producer_destroy(&rp.pr);
  hl_store_destroy(&rp.st);
  json_decref(rp.eps);
  json_decref(rp.replayed);
  json_decref(rp.skipped);
  return rc;
}

int hl_cli_dlq(hl_admin_t *adm, int argc, char **argv) {
  hl_dlq_opts_t o = {0};
  int rc;

  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    hl_dlq_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? HL_EXIT_USAGE : HL_EXIT_OK;
  }
  if (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "replay") != 0) {
    hl_admin_err("dlq: unknown action \"%s\" (list or replay)", argv[1]);
    return HL_EXIT_USAGE;
  }
  rc = hl_dlq_parse(adm, argc - 1, argv + 1, &o);
  if (rc != 0)
    return rc > 0 ? HL_EXIT_OK : HL_EXIT_USAGE;
  if (strcmp(argv[1], "list") == 0)
    return hl_dlq_list(adm, &o);
  return hl_dlq_replay(adm, &o);
}
