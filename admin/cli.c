/*
 * cli.c - CLI helpers shared by the commands (cli.h) and the `attempts list` command.
 */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "table.h"
#include "util.h"

void hl_admin_err(const char *fmt, ...) {
  va_list ap;

  fputs("hookline-admin: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int hl_admin_exit_code(int store_rc) {
  switch (store_rc) {
  case HL_STORE_OK:
    return HL_EXIT_OK;
  case HL_STORE_ENOTFOUND:
    return HL_EXIT_NOTFOUND;
  case HL_STORE_EINVAL:
    return HL_EXIT_USAGE;
  default:
    return HL_EXIT_UNAVAIL;
  }
}

int hl_admin_store_open(hl_admin_t *adm, hl_store_t **st) {
  char err[512];
  int rc = hl_store_open(adm->conf, st, err, sizeof(err));

  if (rc != HL_STORE_OK) {
    hl_admin_err("%s", err);
    hl_store_destroy(st);
  }
  return hl_admin_exit_code(rc);
}

int hl_cli_output(hl_admin_t *adm, const char *value) {
  if (strcmp(value, "json") == 0 || strcmp(value, "table") == 0 || strcmp(value, "text") == 0) {
    adm->json = strcmp(value, "json") == 0;
    return 0;
  }
  hl_admin_err("-o: \"%s\": the output is json or table", value);
  return -1;
}

void hl_cli_print_json_new(json_t *j) {
  char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

  if (text)
    printf("%s\n", text);
  free(text);
  json_decref(j);
}

bool hl_cli_attempt_ok(json_t *a) {
  json_int_t status = json_integer_value(json_object_get(a, "status"));

  return status >= 200 && status < 300;
}

static const char *hl_str(json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));

  return s ? s : "";
}

/* "ts" is Unix ms or an RFC 3339 string; either prints as RFC 3339. */
static void hl_cli_attempt_time(json_t *a, char *out, size_t outsz) {
  json_t *ts = json_object_get(a, "ts");

  if (json_is_integer(ts))
    hl_fmt_rfc3339(json_integer_value(ts), out, outsz);
  else
    snprintf(out, outsz, "%s", json_is_string(ts) ? json_string_value(ts) : "-");
}

void hl_cli_print_attempt(json_t *a, FILE *out) {
  json_int_t status = json_integer_value(json_object_get(a, "status"));
  char when[64];

  hl_cli_attempt_time(a, when, sizeof(when));
  fprintf(out, "attempt %lld at %s: ", (long long)json_integer_value(json_object_get(a, "attempt")),
          when);
  if (status > 0)
    fprintf(out, "HTTP %lld", (long long)status);
  else
    fprintf(out, "no HTTP response");
  fprintf(out, " in %lld ms (%s)\n",
          (long long)json_integer_value(json_object_get(a, "latency_ms")),
          *hl_str(a, "outcome")  ? hl_str(a, "outcome")
          : hl_cli_attempt_ok(a) ? "ok"
                                 : "failed");
  if (*hl_str(a, "error"))
    fprintf(out, "  error: %s\n", hl_str(a, "error"));
  if (*hl_str(a, "excerpt"))
    fprintf(out, "  response: %.200s\n", hl_str(a, "excerpt"));
}

/* ---- attempts list ---- */

static void hl_cli_attempt_row(hl_table_t *tbl, json_t *a) {
  char when[64], num[24], status[24], latency[24];
  const char *cells[7];

  hl_cli_attempt_time(a, when, sizeof(when));
  snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(json_object_get(a, "attempt")));
  snprintf(status, sizeof(status), "%lld",
           (long long)json_integer_value(json_object_get(a, "status")));
  snprintf(latency, sizeof(latency), "%lld",
           (long long)json_integer_value(json_object_get(a, "latency_ms")));
  cells[0] = when;
  cells[1] = hl_str(a, "event_id");
  cells[2] = num;
  cells[3] = strcmp(status, "0") ? status : "-";
  cells[4] = latency;
  cells[5] = hl_str(a, "outcome");
  cells[6] = hl_str(a, "error");
  hl_table_add(tbl, cells);
}

static void hl_cli_attempts_print(hl_admin_t *adm, char **items, size_t n) {
  static const char *const headers[] = {"TIME",       "EVENT",   "ATTEMPT", "STATUS",
                                        "LATENCY_MS", "OUTCOME", "ERROR"};
  json_t *arr = json_array();
  hl_table_t *tbl = adm->json ? NULL : hl_table_new(7, headers);

  for (size_t i = 0; i < n; i++) {
    json_t *a = json_loads(items[i], 0, NULL);

    if (!json_is_object(a)) {
      json_decref(a);
      continue; /* not ours to judge: skip what does not parse */
    }
    if (tbl)
      hl_cli_attempt_row(tbl, a);
    json_array_append_new(arr, a);
  }
  if (tbl)
    hl_table_print(tbl, stdout);
  else
    hl_cli_print_json_new(json_pack("{s:O}", "items", arr));
  hl_table_destroy(&tbl);
  json_decref(arr);
}

int hl_cli_attempts(hl_admin_t *adm, int argc, char **argv) {
  static const struct option longopts[] = {{"endpoint", required_argument, NULL, 'e'},
                                           {"tenant", required_argument, NULL, 't'},
                                           {"limit", required_argument, NULL, 'l'},
                                           {NULL, 0, NULL, 0}};
  const char *id = NULL, *tenant = NULL;
  hl_store_t *st = NULL;
  char **items = NULL, err[512], *end;
  long limit = 20;
  size_t n = 0;
  int opt, rc;

  if (argc < 2 || strcmp(argv[1], "list") != 0) {
    fprintf(stderr, "usage: hookline-admin attempts list --endpoint ID [--tenant T] [--limit N] "
                    "[-o json]\n");
    return HL_EXIT_USAGE;
  }
  optind = 0;
  opterr = 0;
  while ((opt = getopt_long(argc - 1, argv + 1, "o:", longopts, NULL)) != -1) {
    if (opt == 'e')
      id = optarg;
    else if (opt == 't')
      tenant = optarg;
    else if (opt == 'l' && (limit = strtol(optarg, &end, 10)) >= 1 && limit <= 1000 && !*end)
      continue;
    else if (opt == 'o' && hl_cli_output(adm, optarg) == 0)
      continue;
    else {
      hl_admin_err("attempts list: --endpoint ID [--tenant T] [--limit 1..1000] [-o json]");
      return HL_EXIT_USAGE;
    }
  }
  if (!id || optind != argc - 1) {
    hl_admin_err("attempts list: --endpoint ID is required");
    return HL_EXIT_USAGE;
  }
  rc = hl_admin_store_open(adm, &st);
  if (rc != HL_EXIT_OK)
    return rc;
  rc = hl_store_attempts(st, tenant, id, (size_t)limit, &items, &n, err, sizeof(err));
  if (rc == HL_STORE_OK)
    hl_cli_attempts_print(adm, items, n);
  else
    hl_admin_err("%s", err);
  hl_store_strings_free(&items, n);
  hl_store_destroy(&st);
  return hl_admin_exit_code(rc);
}
