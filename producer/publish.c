/*
 * publish.c - hookline-publish: publish events from flags, a file or stdin (NDJSON).
 *
 * Every id printed is an event the broker acknowledged: ids are printed from delivery reports,
 * in input order (a ring of outstanding events holds back a report until the ones before it
 * are in), and the program waits for every report before it exits.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "producer_int.h"
#include "util.h"

#define HL_MAX_OVERRIDES 64
#define HL_BAR_FIRST_US 500000 /* no progress line for runs shorter than this */
#define HL_BAR_EVERY_US 100000 /* at most 10 redraws a second */

enum { HL_SLOT_PENDING, HL_SLOT_OK, HL_SLOT_DONE }; /* DONE: failed, or never sent */

typedef struct hl_pub_slot {
  int state;
  char *id; /* acknowledged, waiting for earlier events before it is printed */
} hl_pub_slot_t;

typedef struct hl_pub {
  int quiet, strict, bar_on, out_tty;
  long published, failed, rejected, sent;
  pthread_mutex_t lock; /* everything below, and the output streams */
  hl_pub_slot_t *slot;  /* ring of events in input order: seq & (cap - 1) */
  uint64_t head, tail;  /* first not yet printed, next to assign */
  size_t cap;
  int64_t started_us, last_bar_us;
  off_t input_size; /* regular file: its size, for a percentage; else 0 */
  off_t input_read; /* bytes of it read so far */
  FILE *input;
  int bar_shown;
} hl_pub_t;

static hl_pub_t pub; /* one per process: the delivery callback finds it here */

static void usage(FILE *out) {
  fprintf(out,
          "usage: hookline-publish [options] --tenant T --type X --data JSON [--id ID]\n"
          "       hookline-publish [options] [-f FILE]     NDJSON, one event per line; stdin "
          "without -f\n"
          "\n"
          "  --tenant T --type X --data JSON [--id ID]   one event from flags (id generated "
          "when absent)\n"
          "  -f, --file FILE      read NDJSON events from FILE ('-': stdin)\n"
          "  -q, --quiet          do not print event ids\n"
          "      --strict         stop at the first rejected line\n"
          "      --timeout T      wait at most T for acknowledgements (default 60s; 500ms, 2m...)\n"
          "  -c, --config FILE    configuration file (default $HOOKLINE_CONFIG)\n"
          "  -o key=value         set a configuration key, repeatable; HOOKLINE_* environment\n"
          "                       variables work too (docs/configuration.md)\n"
          "  -h, --help           this help\n"
          "      --version        print the version\n"
          "\n"
          "Each NDJSON line is an envelope (docs/events.md); id and timestamp are optional:\n"
          "  {\"tenant\":\"acme\",\"type\":\"invoice.paid\",\"data\":{\"amount\":1200}}\n"
          "\n"
          "Examples:\n"
          "  hookline-publish --tenant acme --type invoice.paid --data '{\"amount\":1200}'\n"
          "  hookline-publish -o kafka.bootstrap.servers=127.0.0.1:19092 -f events.ndjson "
          ">ids.txt\n"
          "  generate-events | hookline-publish -q --strict -o topics.prefix=staging\n"
          "\n"
          "Prints the id of every event the broker acknowledged on stdout, in input order;\n"
          "rejected lines on stderr as 'line N: rejected: <field>: <rule>'; then a summary.\n"
          "Exit status: 0 all published, 1 something rejected or failed, 2 usage or\n"
          "configuration error, 3 Kafka unreachable or the events topic missing.\n");
}

/* One id line on stdout, clearing the progress line first when both share a terminal. */
static void hl_pub_print(const char *id) {
  if (pub.bar_shown && pub.out_tty) {
    fputs("\r\033[K", stderr);
    pub.bar_shown = 0;
  }
  fputs(id, stdout);
  fputc('\n', stdout);
}

/* Print acknowledged ids from the head of the ring while they are in order. Under lock. */
static void hl_pub_drain(void) {
  while (pub.head < pub.tail) {
    hl_pub_slot_t *s = &pub.slot[pub.head & (pub.cap - 1)];

    if (s->state == HL_SLOT_PENDING)
      break;
    if (s->id)
      hl_pub_print(s->id);
    free(s->id);
    s->id = NULL;
    pub.head++;
  }
}

static int hl_pub_grow(void) {
  size_t cap = pub.cap ? pub.cap * 2 : 1024;
  hl_pub_slot_t *slot = calloc(cap, sizeof(*slot));

  if (!slot)
    return -1;
  for (uint64_t s = pub.head; s < pub.tail; s++)
    slot[s & (cap - 1)] = pub.slot[s & (pub.cap - 1)];
  free(pub.slot);
  pub.slot = slot;
  pub.cap = cap;
  return 0;
}

/* A slot for the next event, in input order; its sequence number in *seq. */
static int hl_pub_reserve(uint64_t *seq) {
  int rc = 0;

  pthread_mutex_lock(&pub.lock);
  if (pub.tail - pub.head == pub.cap)
    rc = hl_pub_grow();
  if (rc == 0) {
    *seq = pub.tail++;
    pub.slot[*seq & (pub.cap - 1)] = (hl_pub_slot_t){HL_SLOT_PENDING, NULL};
  }
  pthread_mutex_unlock(&pub.lock);
  return rc;
}

/*
 * Settle slot seq: acknowledged (id) or failed / not sent (NULL).  An id at the head of the ring
 * is printed at once; one further on is kept until the events before it are settled.
 */
static void hl_pub_settle(uint64_t seq, const char *id) {
  hl_pub_slot_t *s;

  pthread_mutex_lock(&pub.lock);
  s = &pub.slot[seq & (pub.cap - 1)];
  s->state = id ? HL_SLOT_OK : HL_SLOT_DONE;
  s->id = NULL;
  if (id && !pub.quiet) {
    if (seq == pub.head)
      hl_pub_print(id);
    else
      s->id = strdup(id);
    if (seq != pub.head && !s->id)
      hl_pub_print(id); /* out of memory: out of order rather than lost */
  }
  hl_pub_drain();
  pthread_mutex_unlock(&pub.lock);
}

/* The progress line: counts, rate, and how far through a regular file. Under lock. */
static void hl_pub_bar_draw(int64_t now) {
  double secs = (double)(now - pub.started_us) / 1e6;
  char where[64] = "";

  if (pub.input_size > 0) {
    int pct = (int)(100 * pub.input_read / pub.input_size);

    snprintf(where, sizeof(where), "[%-20.*s] %3d%%  ", pct / 5, "####################", pct);
  }
  fprintf(stderr, "\r\033[K%spublished %ld, rejected %ld, failed %ld, in flight %ld  %.0f events/s",
          where, pub.published, pub.rejected, pub.failed, pub.sent - pub.published - pub.failed,
          secs > 0 ? (double)pub.published / secs : 0.0);
  pub.bar_shown = 1;
}

/* Redraw the progress line when it is due; from the reading loop and the delivery thread. */
static void hl_pub_bar(void) {
  int64_t now;

  if (!pub.bar_on)
    return;
  now = hl_mono_us();
  pthread_mutex_lock(&pub.lock);
  if (now - pub.started_us >= HL_BAR_FIRST_US && now - pub.last_bar_us >= HL_BAR_EVERY_US) {
    pub.last_bar_us = now;
    hl_pub_bar_draw(now);
  }
  pthread_mutex_unlock(&pub.lock);
}

static void hl_pub_delivered(const char *event_id, int err, const char *errstr, void *opaque) {
  uint64_t seq = (uint64_t)(uintptr_t)opaque;

  if (err) {
    pthread_mutex_lock(&pub.lock);
    pub.failed++;
    fprintf(stderr, "%sevent %s: failed: %s\n", pub.bar_shown ? "\r\033[K" : "", event_id, errstr);
    pub.bar_shown = 0;
    pthread_mutex_unlock(&pub.lock);
    hl_pub_settle(seq, NULL);
    return;
  }
  pthread_mutex_lock(&pub.lock);
  pub.published++;
  pthread_mutex_unlock(&pub.lock);
  hl_pub_settle(seq, event_id);
  hl_pub_bar();
}

static void hl_pub_reject(long lineno, const char *why) {
  pthread_mutex_lock(&pub.lock);
  pub.rejected++;
  if (pub.bar_shown)
    fputs("\r\033[K", stderr);
  pub.bar_shown = 0;
  if (lineno > 0)
    fprintf(stderr, "line %ld: rejected: %s\n", lineno, why);
  else
    fprintf(stderr, "rejected: %s\n", why);
  pthread_mutex_unlock(&pub.lock);
}

/* Publish one event (a line, or the flags when line is NULL). 0 sent, -1 rejected. */
static int hl_pub_one(hookline_producer_t *p, const char *line, size_t len, long lineno,
                      const char **flags) {
  char err[512];
  uint64_t seq;
  void *op;
  int rc;

  if (hl_pub_reserve(&seq) != 0) {
    hl_pub_reject(lineno, "out of memory");
    return -1;
  }
  op = (void *)(uintptr_t)seq;
  if (line)
    rc = hookline_publish_envelope(p, line, len, hl_pub_delivered, op, NULL, 0, err, sizeof(err));
  else
    rc = hookline_publish(p, flags[0], flags[1], flags[2], flags[3], hl_pub_delivered, op, NULL, 0,
                          err, sizeof(err));
  if (rc != HOOKLINE_OK) {
    hl_pub_settle(seq, NULL);
    hl_pub_reject(lineno, err);
    return -1;
  }
  pthread_mutex_lock(&pub.lock);
  pub.sent++;
  pthread_mutex_unlock(&pub.lock);
  return 0;
}

static int hl_blank(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (s[i] != ' ' && s[i] != '\t')
      return 0;
  }
  return 1;
}

/* Publish every line of pub.input; stops at the first rejected one with --strict. */
static void hl_pub_stream(hookline_producer_t *p) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  long lineno = 0;

  while ((len = getline(&line, &cap, pub.input)) >= 0) {
    lineno++;
    pthread_mutex_lock(&pub.lock);
    pub.input_read += len;
    pthread_mutex_unlock(&pub.lock);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      line[--len] = '\0';
    if (hl_blank(line, (size_t)len))
      continue;
    if (hl_pub_one(p, line, (size_t)len, lineno, NULL) != 0 && pub.strict)
      break;
    hl_pub_bar();
  }
  free(line);
}

/* Wait for every report (redrawing the progress line), at most timeout_ms. */
static int hl_pub_wait(hookline_producer_t *p, int64_t timeout_ms) {
  int64_t deadline = hl_mono_ms() + timeout_ms;
  int rc;

  do {
    int64_t left = deadline - hl_mono_ms();

    rc = hookline_producer_flush(p, (int)(left < 100 ? (left > 0 ? left : 0) : 100));
    hl_pub_bar();
  } while (rc == HOOKLINE_ETIMEDOUT && hl_mono_ms() < deadline);
  return rc;
}

/* Open the input: a file, or stdin. Sets pub.input and pub.input_size. 0 ok. */
static int hl_pub_open(const char *file) {
  struct stat st;

  if (!file || strcmp(file, "-") == 0) {
    pub.input = stdin;
    if (isatty(STDIN_FILENO))
      fprintf(stderr, "hookline-publish: reading NDJSON events from the terminal; Ctrl-D ends, "
                      "--help shows usage\n");
  } else {
    pub.input = fopen(file, "r");
  }
  if (!pub.input) {
    perror(file);
    return -1;
  }
  if (fstat(fileno(pub.input), &st) == 0 && S_ISREG(st.st_mode))
    pub.input_size = st.st_size;
  return 0;
}

typedef struct hl_pub_args {
  const char *flags[4]; /* tenant, type, data, id */
  const char *file, *cpath;
  char *overrides[HL_MAX_OVERRIDES];
  int nover;
  int64_t timeout_ms;
} hl_pub_args_t;

/* Parse the command line; 0 go on, 1 done (help/version), 2 usage error. */
static int hl_pub_args(int argc, char **argv, hl_pub_args_t *a) {
  static const struct option opts[] = {
      {"tenant", 1, 0, 'T'}, {"type", 1, 0, 'Y'},  {"data", 1, 0, 'D'},    {"id", 1, 0, 'I'},
      {"file", 1, 0, 'f'},   {"quiet", 0, 0, 'q'}, {"strict", 0, 0, 'S'},  {"timeout", 1, 0, 't'},
      {"config", 1, 0, 'c'}, {"help", 0, 0, 'h'},  {"version", 0, 0, 'V'}, {0, 0, 0, 0}};
  const char *f = "TYDI";
  int opt;

  a->timeout_ms = 60000;
  while ((opt = getopt_long(argc, argv, "f:qc:o:h", opts, NULL)) != -1) {
    if (opt > 0 && strchr(f, opt)) {
      a->flags[strchr(f, opt) - f] = optarg;
    } else if (opt == 'f') {
      a->file = optarg;
    } else if (opt == 'q') {
      pub.quiet = 1;
    } else if (opt == 'S') {
      pub.strict = 1;
    } else if (opt == 't') {
      if (hl_parse_duration_ms(optarg, &a->timeout_ms) != 0) {
        fprintf(stderr, "hookline-publish: --timeout %s: not a duration (60, 30s, 2m)\n", optarg);
        return 2;
      }
    } else if (opt == 'c') {
      a->cpath = optarg;
    } else if (opt == 'o' && a->nover < HL_MAX_OVERRIDES) {
      a->overrides[a->nover++] = optarg;
    } else if (opt == 'h' || opt == 'V') {
      if (opt == 'h')
        usage(stdout);
      else
        printf("hookline-publish %s\n", hookline_version());
      return 1;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (optind < argc || ((a->flags[0] || a->flags[1] || a->flags[2] || a->flags[3]) && a->file) ||
      ((a->flags[0] || a->flags[1] || a->flags[2] || a->flags[3]) &&
       !(a->flags[0] && a->flags[1] && a->flags[2]))) {
    fprintf(stderr, "hookline-publish: give --tenant, --type and --data together (and --id "
                    "optionally), or -f FILE, or events on stdin; --help for usage\n");
    return 2;
  }
  return 0;
}

static const char *hl_pub_bootstrap(const hl_conf_t *conf) {
  const char *k, *v = "";

  for (size_t i = 0; i < hl_conf_kafka_count(conf); i++) {
    hl_conf_kafka_get(conf, i, &k, &v);
    if (strcmp(k, "bootstrap.servers") == 0)
      return v;
  }
  return v;
}

/* The producer, once the broker and the events topic answer. Exit status in *rc on failure. */
static hookline_producer_t *hl_pub_producer(hl_pub_args_t *a, int *rc) {
  hl_conf_t *conf = hl_conf_new();
  hookline_producer_t *p = NULL;
  char err[512];

  *rc = 2;
  if (!conf || hl_conf_set(conf, "kafka.client.id", "hookline-publish", err, sizeof(err)) != 0 ||
      hl_conf_load(conf, a->cpath, a->overrides, a->nover, err, sizeof(err)) != 0) {
    fprintf(stderr, "hookline-publish: %s\n", conf ? err : "out of memory");
    goto out;
  }
  hl_log_init(NULL, hl_conf_str(conf, "log.level"));
  p = hl_producer_new_conf(conf, err, sizeof(err));
  if (!p) {
    fprintf(stderr, "hookline-publish: %s\n", err);
    goto out;
  }
  if (hl_producer_topic_exists(p, a->timeout_ms < 10000 ? (int)a->timeout_ms : 10000, err,
                               sizeof(err)) != 1) {
    fprintf(stderr, "hookline-publish: %s (kafka.bootstrap.servers = %s)\n", err,
            hl_pub_bootstrap(conf));
    hookline_producer_destroy(&p);
    *rc = 3;
  }
out:
  hl_conf_destroy(&conf);
  return p;
}

int main(int argc, char **argv) {
  hl_pub_args_t args;
  hookline_producer_t *p = NULL;
  int rc;

  memset(&args, 0, sizeof(args));
  pthread_mutex_init(&pub.lock, NULL);
  hl_log_init("hookline-publish", NULL);
  rc = hl_pub_args(argc, argv, &args);
  if (rc != 0)
    return rc == 1 ? 0 : 2;
  p = hl_pub_producer(&args, &rc);
  if (!p)
    return rc;
  if (!args.flags[0] && hl_pub_open(args.file) != 0) {
    hookline_producer_destroy(&p);
    return 2;
  }
  pub.out_tty = isatty(STDOUT_FILENO);
  pub.bar_on = !args.flags[0] && isatty(STDERR_FILENO);
  pub.started_us = hl_mono_us();
  if (args.flags[0])
    hl_pub_one(p, NULL, 0, 0, args.flags);
  else
    hl_pub_stream(p);
  if (hl_pub_wait(p, args.timeout_ms) != HOOKLINE_OK) {
    fprintf(stderr, "hookline-publish: %ld events not acknowledged within %.1f s\n",
            hookline_producer_outstanding(p), (double)args.timeout_ms / 1000);
    hl_producer_purge(p); /* their reports arrive now, as failures */
  }
  hookline_producer_destroy(&p);
  if (pub.bar_shown)
    fputs("\r\033[K", stderr);
  fflush(stdout);
  fprintf(stderr, "published %ld, rejected %ld, failed %ld in %.1f s\n", pub.published,
          pub.rejected, pub.failed, (double)(hl_mono_us() - pub.started_us) / 1e6);
  if (pub.input && pub.input != stdin)
    fclose(pub.input);
  free(pub.slot);
  return pub.rejected || pub.failed ? 1 : 0;
}
