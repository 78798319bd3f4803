/*
 * config.c - the configuration table, its parser and its documentation.
 *
 * Owns every hookline setting: its name, type, default, bounds and doc line.
 * Adding a setting means adding one row to hl_conf_props[] below.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define S HL_CONF_STR
#define I HL_CONF_INT
#define B HL_CONF_BOOL
#define D HL_CONF_DURATION
#define Z HL_CONF_SIZE
#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static const hl_conf_prop_t hl_conf_props_tbl[] = {
    /* name, type, default, min, max, flags, doc */
    {"log.level", S, "info", 0, 0, 0, "Lowest level logged: debug, info, warn, error."},
    {"http.listen", S, "", 0, 0, 0,
     "host:port of the HTTP server (/metrics, /healthz, /readyz; admin API). `off` disables it. "
     "Default 0.0.0.0:9464 for the dispatcher, 0.0.0.0:8080 for `hookline-admin serve`."},
    {"topics.prefix", S, "hookline", 0, 0, 0,
     "Prefix of every topic: <prefix>.events, .retry.<delay>, .dlq, .attempts."},
    {"topics.partitions", I, "6", 1, 10000, 0, "Partitions of topics the dispatcher creates."},
    {"topics.replication_factor", I, "1", 1, 16, 0, "Replication factor of topics it creates."},
    {"events.max_bytes", Z, "256KiB", 64, 16 * 1024 * 1024, 0,
     "Largest accepted event envelope, in bytes."},
    {"redis.host", S, "127.0.0.1", 0, 0, 0, "Redis host."},
    {"redis.port", I, "6379", 1, 65535, 0, "Redis port."},
    {"redis.username", S, "", 0, 0, 0, "Redis ACL user name (AUTH username password)."},
    {"redis.password", S, "", 0, 0, HL_CONF_F_SECRET, "Redis password."},
    {"redis.db", I, "0", 0, 1024, 0, "Redis database number."},
    {"redis.timeout", D, "2s", 10, 60 * SEC, 0, "Redis connect and command timeout."},
    {"secret_key", S, "", 0, 0, HL_CONF_F_SECRET,
     "base64 of 32 bytes: AES-256-GCM key for endpoint secrets at rest "
     "(environment HOOKLINE_SECRET_KEY). Unset: secrets are stored in the clear."},
    {"secrets.rotation_overlap", D, "24h", 0, 30 * DAY, 0,
     "How long the previous secret keeps signing after a rotation."},
    {"dispatcher.group_id", S, "hookline-dispatcher", 0, 0, 0, "Kafka consumer group."},
    {"dispatcher.ack_window", I, "10000", 1, 10000000, 0,
     "Incomplete messages per partition before it is paused."},
    {"dispatcher.drain_timeout", D, "30s", 0, 10 * MIN, 0,
     "Time to finish or hand off in-flight work on revoke or SIGTERM."},
    {"dispatcher.max_in_flight", I, "2000", 1, 1000000, 0,
     "HTTP requests in flight per dispatcher process. It keeps up to twice as many connections "
     "(busy and idle) and raises its soft open-files limit to 2 x this + 256 at start."},
    {"dispatcher.cache_ttl", D, "60s", SEC, DAY, 0,
     "Subscription cache refresh interval (hl:changes invalidates sooner)."},
    {"dispatcher.cache_max_tenants", I, "100000", 1, 100000000, 0,
     "Tenants kept in the subscription cache; the least recently used idle ones are evicted."},
    {"dispatcher.done_markers", B, "true", 0, 0, 0,
     "Write hl:done:<event>:<endpoint> after a success so re-consumed events skip it."},
    {"retry.schedule", S, "5s,5m,30m,2h,5h,10h,10h", 0, 0, 0,
     "Delays between attempts; one retry topic per distinct delay; then the DLQ."},
    {"retry.jitter_pct", I, "20", 0, 100, 0, "Random +/- percentage applied to each delay."},
    {"delivery.connect_timeout", D, "5s", 100, 60 * SEC, 0, "TCP+TLS connect timeout."},
    {"delivery.timeout", D, "15s", 100, 30 * SEC, 0,
     "Total time of one attempt (endpoints may override up to 30s)."},
    {"delivery.response_max", Z, "64KiB", 0, 1024 * 1024, 0,
     "Response body read at most; the rest is cut."},
    {"delivery.allow_cidrs", S, "", 0, 0, 0,
     "Comma-separated CIDRs the SSRF guard lets through (e.g. 127.0.0.0/8 for local tests)."},
    {"delivery.https_only", B, "false", 0, 0, 0, "Refuse http:// endpoint URLs."},
    {"delivery.ca_file", S, "", 0, 0, 0, "CA bundle for endpoint TLS verification (private CAs)."},
    {"endpoint.max_in_flight", I, "50", 1, 100000, 0,
     "Default per-endpoint concurrency per dispatcher."},
    {"endpoint.disable_after", D, "5d", SEC, 365 * DAY, 0,
     "Disable an endpoint failing without a single success for this long."},
    {"breaker.failures", I, "10", 1, 100000, 0, "Consecutive failures that open the breaker."},
    {"breaker.cooldown", D, "30s", 100, DAY, 0, "Open time before a half-open probe."},
    {"breaker.failure_rate", I, "0", 0, 100, 0,
     "Also open at this failure percentage over breaker.window (per dispatcher); 0 = off."},
    {"breaker.window", D, "60s", SEC, DAY, 0, "Window of breaker.failure_rate."},
    {"breaker.min_requests", I, "20", 1, 1000000, 0,
     "Attempts in the window before breaker.failure_rate applies."},
    {"attempts.recent_max", I, "100", 1, 100000, 0, "Attempts kept per endpoint in hl:recent."},
    {"admin.tokens", S, "", 0, 0, HL_CONF_F_SECRET,
     "Comma-separated bearer tokens accepted by the admin API (empty: API refuses all)."},
    {"admin.max_body", Z, "1MiB", 1024, 64 * 1024 * 1024, 0, "Largest admin API request body."},
    {"admin.request_timeout", D, "10s", 100, 10 * MIN, 0,
     "Admin API: a request must arrive whole (headers and body) within this time, else the "
     "connection is closed (slow clients)."},
};

#undef S
#undef I
#undef B
#undef D
#undef Z

#define HL_CONF_NPROPS (sizeof(hl_conf_props_tbl) / sizeof(hl_conf_props_tbl[0]))

typedef struct hl_conf_kv {
  char *key;
  char *value;
} hl_conf_kv_t;

struct hl_conf {
  char *val[HL_CONF_NPROPS];   /* current text value (NULL: default) */
  char *def[HL_CONF_NPROPS];   /* program-specific default (NULL: table) */
  int64_t num[HL_CONF_NPROPS]; /* parsed INT/DURATION/SIZE/BOOL */
  hl_conf_kv_t *kafka;
  size_t nkafka;
};

const hl_conf_prop_t *hl_conf_props(size_t *n) {
  *n = HL_CONF_NPROPS;
  return hl_conf_props_tbl;
}

static int hl_conf_find(const char *key) {
  for (size_t i = 0; i < HL_CONF_NPROPS; i++) {
    if (strcmp(hl_conf_props_tbl[i].name, key) == 0)
      return (int)i;
  }
  return -1;
}

int hl_parse_duration_ms(const char *s, int64_t *ms) {
  static const struct {
    const char *unit;
    int64_t mult;
  } units[] = {{"ms", 1}, {"s", SEC}, {"m", MIN}, {"h", HOUR}, {"d", DAY}, {"", SEC}};
  char *end;

  if (!s || !isdigit((unsigned char)*s))
    return -1;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || v < 0)
    return -1;
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    if (strcmp(end, units[i].unit) != 0)
      continue;
    if (v > INT64_MAX / units[i].mult)
      return -1;
    *ms = v * units[i].mult;
    return 0;
  }
  return -1;
}

int hl_parse_size(const char *s, int64_t *bytes) {
  static const struct {
    const char *unit;
    int64_t mult;
  } units[] = {{"", 1},          {"b", 1},           {"k", 1024},         {"kb", 1024},
               {"kib", 1024},    {"m", 1024 * 1024}, {"mb", 1024 * 1024}, {"mib", 1024 * 1024},
               {"g", 1LL << 30}, {"gb", 1LL << 30},  {"gib", 1LL << 30}};
  char *end;

  if (!s || !isdigit((unsigned char)*s))
    return -1;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || v < 0)
    return -1;
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    if (strcasecmp(end, units[i].unit) != 0)
      continue;
    if (v > INT64_MAX / units[i].mult)
      return -1;
    *bytes = v * units[i].mult;
    return 0;
  }
  return -1;
}

static int hl_parse_bool(const char *s, int64_t *out) {
  if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes") || !strcasecmp(s, "on")) {
    *out = 1;
    return 0;
  }
  if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no") || !strcasecmp(s, "off")) {
    *out = 0;
    return 0;
  }
  return -1;
}

static int hl_parse_int(const char *s, int64_t *out) {
  char *end;

  if (!*s)
    return -1;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end)
    return -1;
  *out = v;
  return 0;
}

/* Parse `value` for property i into *num; message names the key and the rule. */
static int hl_conf_parse(size_t i, const char *value, int64_t *num, char *errstr, size_t errsize) {
  const hl_conf_prop_t *p = &hl_conf_props_tbl[i];
  static const char *what[] = {"a string", "an integer", "true or false",
                               "a duration like 500ms, 5s, 5m, 2h, 5d",
                               "a size like 512, 64KiB, 1MiB"};
  int rc = 0;

  *num = 0;
  switch (p->type) {
  case HL_CONF_STR:
    return 0;
  case HL_CONF_INT:
    rc = hl_parse_int(value, num);
    break;
  case HL_CONF_BOOL:
    rc = hl_parse_bool(value, num);
    break;
  case HL_CONF_DURATION:
    rc = hl_parse_duration_ms(value, num);
    break;
  case HL_CONF_SIZE:
    rc = hl_parse_size(value, num);
    break;
  }
  if (rc) {
    snprintf(errstr, errsize, "%s: \"%s\" is not %s", p->name, value, what[p->type]);
    return -1;
  }
  if ((p->min || p->max) && (*num < p->min || *num > p->max)) {
    snprintf(errstr, errsize, "%s: %s is out of range [%" PRId64 ", %" PRId64 "]%s", p->name, value,
             p->min, p->max, p->type == HL_CONF_DURATION ? " ms" : "");
    return -1;
  }
  return 0;
}

static int hl_conf_kafka_set(hl_conf_t *conf, const char *key, const char *value) {
  for (size_t i = 0; i < conf->nkafka; i++) {
    if (strcmp(conf->kafka[i].key, key) == 0) {
      free(conf->kafka[i].value);
      conf->kafka[i].value = strdup(value);
      return conf->kafka[i].value ? 0 : -1;
    }
  }
  hl_conf_kv_t *kv = realloc(conf->kafka, (conf->nkafka + 1) * sizeof(*kv));
  if (!kv)
    return -1;
  conf->kafka = kv;
  kv[conf->nkafka].key = strdup(key);
  kv[conf->nkafka].value = strdup(value);
  conf->nkafka++;
  return 0;
}

hl_conf_t *hl_conf_new(void) {
  hl_conf_t *conf = calloc(1, sizeof(*conf));
  char err[256];

  if (!conf)
    return NULL;
  for (size_t i = 0; i < HL_CONF_NPROPS; i++) {
    if (hl_conf_parse(i, hl_conf_props_tbl[i].def, &conf->num[i], err, sizeof(err)) != 0)
      abort(); /* a bad default in the table is a programming error */
  }
  hl_conf_kafka_set(conf, "bootstrap.servers", "127.0.0.1:9092");
  return conf;
}

void hl_conf_destroy(hl_conf_t **confp) {
  hl_conf_t *conf = confp ? *confp : NULL;

  if (!conf)
    return;
  for (size_t i = 0; i < HL_CONF_NPROPS; i++) {
    free(conf->val[i]);
    free(conf->def[i]);
  }
  for (size_t i = 0; i < conf->nkafka; i++) {
    free(conf->kafka[i].key);
    free(conf->kafka[i].value);
  }
  free(conf->kafka);
  free(conf);
  *confp = NULL;
}

int hl_conf_set(hl_conf_t *conf, const char *key, const char *value, char *errstr, size_t errsize) {
  int64_t num;
  int i;

  if (strncmp(key, "kafka.", 6) == 0 && key[6]) {
    return hl_conf_kafka_set(conf, key + 6, value);
  }
  i = hl_conf_find(key);
  if (i < 0) {
    snprintf(errstr, errsize, "%s: unknown configuration key", key);
    return -1;
  }
  if (hl_conf_parse((size_t)i, value, &num, errstr, errsize) != 0)
    return -1;
  free(conf->val[i]);
  conf->val[i] = strdup(value);
  conf->num[i] = num;
  return conf->val[i] ? 0 : -1;
}

int hl_conf_set_default(hl_conf_t *conf, const char *key, const char *value) {
  char err[256];
  int i = hl_conf_find(key);

  if (i < 0 || hl_conf_parse((size_t)i, value, &conf->num[i], err, sizeof(err)) != 0)
    return -1;
  free(conf->def[i]);
  conf->def[i] = strdup(value);
  if (conf->val[i]) /* an explicit value stays in force */
    return hl_conf_parse((size_t)i, conf->val[i], &conf->num[i], err, sizeof(err));
  return 0;
}

static char *hl_trim(char *s) {
  char *e;

  while (isspace((unsigned char)*s))
    s++;
  e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = '\0';
  return s;
}

int hl_conf_set_kv(hl_conf_t *conf, const char *kv, char *errstr, size_t errsize) {
  char buf[4096];
  char *eq;

  if (strlen(kv) >= sizeof(buf)) {
    snprintf(errstr, errsize, "setting too long");
    return -1;
  }
  strcpy(buf, kv);
  eq = strchr(buf, '=');
  if (!eq) {
    snprintf(errstr, errsize, "%s: expected key=value", buf);
    return -1;
  }
  *eq = '\0';
  return hl_conf_set(conf, hl_trim(buf), hl_trim(eq + 1), errstr, errsize);
}

int hl_conf_load_stream(hl_conf_t *conf, FILE *fp, const char *name, char *errstr, size_t errsize) {
  char line[4096];
  char msg[512];
  int lineno = 0;

  while (fgets(line, sizeof(line), fp)) {
    char *s;

    lineno++;
    s = hl_trim(line);
    if (!*s || *s == '#')
      continue;
    if (hl_conf_set_kv(conf, s, msg, sizeof(msg)) != 0) {
      snprintf(errstr, errsize, "%s:%d: %s", name, lineno, msg);
      return -1;
    }
  }
  return 0;
}

int hl_conf_load_file(hl_conf_t *conf, const char *path, char *errstr, size_t errsize) {
  FILE *fp = fopen(path, "r");
  int rc;

  if (!fp) {
    snprintf(errstr, errsize, "%s: %s", path, strerror(errno));
    return -1;
  }
  rc = hl_conf_load_stream(conf, fp, path, errstr, errsize);
  fclose(fp);
  return rc;
}

/* HOOKLINE_ + upper-case key with '.' -> '_'. */
static void hl_conf_env_name(const char *key, char *out, size_t outsz) {
  size_t n = (size_t)snprintf(out, outsz, "HOOKLINE_");

  for (; *key && n + 1 < outsz; key++, n++)
    out[n] = *key == '.' ? '_' : (char)toupper((unsigned char)*key);
  out[n] = '\0';
}

extern char **environ;

int hl_conf_load_env(hl_conf_t *conf, char *errstr, size_t errsize) {
  char name[256];

  for (size_t i = 0; i < HL_CONF_NPROPS; i++) {
    const char *v;

    hl_conf_env_name(hl_conf_props_tbl[i].name, name, sizeof(name));
    v = getenv(name);
    if (v && hl_conf_set(conf, hl_conf_props_tbl[i].name, v, errstr, errsize) != 0)
      return -1;
  }
  /* HOOKLINE_KAFKA_BOOTSTRAP_SERVERS -> kafka bootstrap.servers */
  for (char **e = environ; *e; e++) {
    char key[256];
    const char *eq = strchr(*e, '=');
    size_t n = 0;

    if (strncmp(*e, "HOOKLINE_KAFKA_", 15) != 0 || !eq || eq - *e - 15 >= (long)sizeof(key))
      continue;
    /* deploy/local/stack.sh's port setting, not a client property (librdkafka has no "port") */
    if (strncmp(*e, "HOOKLINE_KAFKA_PORT=", 20) == 0)
      continue;
    for (const char *p = *e + 15; p < eq; p++)
      key[n++] = *p == '_' ? '.' : (char)tolower((unsigned char)*p);
    key[n] = '\0';
    if (n && hl_conf_kafka_set(conf, key, eq + 1) != 0)
      return -1;
  }
  return 0;
}

int hl_conf_load(hl_conf_t *conf, const char *path, char *const *overrides, int noverrides,
                 char *errstr, size_t errsize) {
  if (!path)
    path = getenv("HOOKLINE_CONFIG");
  if (path && *path && hl_conf_load_file(conf, path, errstr, errsize) != 0)
    return -1;
  if (hl_conf_load_env(conf, errstr, errsize) != 0)
    return -1;
  for (int i = 0; i < noverrides; i++) {
    if (hl_conf_set_kv(conf, overrides[i], errstr, errsize) != 0)
      return -1;
  }
  return 0;
}

static int hl_conf_index(const char *key) {
  int i = hl_conf_find(key);

  if (i < 0) {
    fprintf(stderr, "hookline: BUG: unknown configuration key %s\n", key);
    abort();
  }
  return i;
}

const char *hl_conf_str(const hl_conf_t *conf, const char *key) {
  int i = hl_conf_index(key);

  if (conf->val[i])
    return conf->val[i];
  return conf->def[i] ? conf->def[i] : hl_conf_props_tbl[i].def;
}

int64_t hl_conf_int(const hl_conf_t *conf, const char *key) {
  return conf->num[hl_conf_index(key)];
}

bool hl_conf_bool(const hl_conf_t *conf, const char *key) {
  return conf->num[hl_conf_index(key)] != 0;
}

size_t hl_conf_kafka_count(const hl_conf_t *conf) {
  return conf->nkafka;
}

void hl_conf_kafka_get(const hl_conf_t *conf, size_t i, const char **key, const char **value) {
  *key = conf->kafka[i].key;
  *value = conf->kafka[i].value;
}

void hl_conf_write_markdown(FILE *out) {
  static const char *types[] = {"string", "integer", "bool", "duration", "size"};
  char env[256];

  fprintf(out,
          "# Configuration\n\n"
          "Generated by `hookline-admin config doc` from the table in `common/config.c`; "
          "do not edit by hand.\n\n"
          "Every program reads `hookline.conf` (`-c FILE` or `$HOOKLINE_CONFIG`: `key = value` "
          "lines, `#` comments), then the environment (`HOOKLINE_` + upper-case key with `.` "
          "-> `_`), then `-o key=value` flags; later wins. Unknown keys and bad values are "
          "errors naming the key. Durations take `ms`, `s`, `m`, `h`, `d`; sizes take "
          "`KiB`, `MiB`, `GiB`.\n\n"
          "`kafka.*` keys pass through to librdkafka verbatim (`kafka.bootstrap.servers`, "
          "`kafka.security.protocol`, `kafka.sasl.*`, `kafka.ssl.*`...); in the environment "
          "`HOOKLINE_KAFKA_BOOTSTRAP_SERVERS` sets `kafka.bootstrap.servers` (`_` -> `.`; "
          "`HOOKLINE_KAFKA_PORT`, the local stack's port, is not passed). "
          "Default `kafka.bootstrap.servers = 127.0.0.1:9092`.\n\n"
          "| key | type | default | environment | description |\n"
          "|---|---|---|---|---|\n");
  for (size_t i = 0; i < HL_CONF_NPROPS; i++) {
    const hl_conf_prop_t *p = &hl_conf_props_tbl[i];

    hl_conf_env_name(p->name, env, sizeof(env));
    fprintf(out, "| `%s` | %s | %s%s%s | `%s` | %s |\n", p->name, types[p->type],
            *p->def ? "`" : "", *p->def ? p->def : "(unset)", *p->def ? "`" : "", env, p->doc);
  }
}

void hl_conf_dump(const hl_conf_t *conf, FILE *out) {
  for (size_t i = 0; i < HL_CONF_NPROPS; i++) {
    const hl_conf_prop_t *p = &hl_conf_props_tbl[i];
    const char *v = hl_conf_str(conf, p->name);

    if ((p->flags & HL_CONF_F_SECRET) && *v)
      v = "********";
    fprintf(out, "%s = %s\n", p->name, v);
  }
  for (size_t i = 0; i < conf->nkafka; i++) {
    const char *k = conf->kafka[i].key;
    int secret = strstr(k, "password") || strstr(k, "secret") || strstr(k, "key");

    fprintf(out, "kafka.%s = %s\n", k, secret ? "********" : conf->kafka[i].value);
  }
}
