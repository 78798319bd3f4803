/*
 * publish.c - hookline-publish: publish events from flags, a file or stdin (NDJSON).
 *
 * Every id printed is an event the broker acknowledged: ids are printed from the delivery
 * callback, and the program waits for every report before it exits.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "producer_int.h"
#include "util.h"

#define HL_MAX_OVERRIDES 64

typedef struct hl_pub {
  int quiet, strict, tty;
  atomic_long published, failed;
  long rejected, sent;
  pthread_mutex_t out_lock;
  int64_t started_us, last_bar_us;
} hl_pub_t;

static void usage(FILE *out) {
  fprintf(out,
          "usage: hookline-publish [options] --tenant T --type X --data JSON [--id ID]\n"
          "       hookline-publish [options] [-f FILE]      (NDJSON: one event per line; stdin "
          "without -f)\n"
          "\n"
          "  --tenant T, --type X, --data JSON, --id ID   one event from flags\n"
          "  -f, --file FILE     read NDJSON events from FILE ('-' = stdin)\n"
          "  -q, --quiet         do not print event ids\n"
          "  --strict            stop at the first rejected line\n"
          "  --timeout SECONDS   wait this long for the broker's acknowledgements (default 60)\n"
          "  -c FILE             configuration file (hookline.conf)\n"
          "  -o key=value        set a configuration key (repeatable), e.g.\n"
          "                      -o kafka.bootstrap.servers=127.0.0.1:19092 -o topics.prefix=hookline\n"
          "  -h, --help          this help;  --version\n"
          "\n"
          "Each line of NDJSON input is an envelope (docs/events.md):\n"
          "  {\"tenant\":\"acme\",\"type\":\"invoice.paid\",\"data\":{\"amount\":12}}\n"
          "\n"
          "Examples:\n"
          "  hookline-publish --tenant acme --type invoice.paid --data '{\"amount\":12}'\n"
          "  hookline-publish -f events.ndjson -q\n"
          "  generate-events | hookline-publish --strict\n"
          "\n"
          "Prints each acknowledged event id on stdout, then a summary on stderr. Exit status: 0 "
          "all published,\n1 some rejected or failed, 2 usage or configuration error, 3 Kafka "
          "unreachable.\n");
}

static void hl_pub_delivered(const char *event_id, int err, const char *errstr, void *opaque) {
  hl_pub_t *pub = opaque;

  if (err) {
    atomic_fetch_add(&pub->failed, 1);
    pthread_mutex_lock(&pub->out_lock);
    fprintf(stderr, "event %s: failed: %s\n", event_id, errstr);
    pthread_mutex_unlock(&pub->out_lock);
    return;
  }
  atomic_fetch_add(&pub->published, 1);
  if (pub->quiet)
    return;
  pthread_mutex_lock(&pub->out_lock);
  fputs(event_id, stdout);
  fputc('\n', stdout);
  pthread_mutex_unlock(&pub->out_lock);
}

static void hl_pub_bar(hl_pub_t *pub, int final) {
  int64_t now = hl_mono_us();
  double secs;

  if (!pub->tty || (!final && now - pub->last_bar_us < 100000))
    return;
  pub->last_bar_us = now;
  secs = (double)(now - pub->started_us) / 1e6;
  pthread_mutex_lock(&pub->out_lock);
  fprintf(stderr, "\r\033[Kpublished %ld, rejected %ld, pending %ld  %.0f events/s",
          atomic_load(&pub->published), pub->rejected,
          pub->sent - atomic_load(&pub->published) - atomic_load(&pub->failed),
          secs > 0 ? (double)atomic_load(&pub->published) / secs : 0.0);
  if (final)
    fputc('\n', stderr);
  pthread_mutex_unlock(&pub->out_lock);
}

static void hl_pub_reject(hl_pub_t *pub, long lineno, const char *why) {
  pub->rejected++;
  pthread_mutex_lock(&pub->out_lock);
  if (pub->tty)
    fputs("\r\033[K", stderr);
  if (lineno > 0)
    fprintf(stderr, "line %ld: rejected: %s\n", lineno, why);
  else
    fprintf(stderr, "rejected: %s\n", why);
  pthread_mutex_unlock(&pub->out_lock);
}

/* Publish every line of fp; returns 0, or -1 when --strict stopped it. */
static int hl_pub_stream(hookline_producer_t *p, hl_pub_t *pub, FILE *fp) {
  char *line = NULL, err[512];
  size_t cap = 0;
  ssize_t len;
  long lineno = 0;
  int rc = 0;

  while ((len = getline(&line, &cap, fp)) >= 0) {
    lineno++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      line[--len] = '\0';
    if (len == 0)
      continue;
    if (hookline_publish_envelope(p, line, (size_t)len, hl_pub_delivered, pub, NULL, 0, err,
                                  sizeof(err)) != HOOKLINE_OK) {
      hl_pub_reject(pub, lineno, err);
      if (pub->strict) {
        rc = -1;
        break;
      }
      continue;
    }
    pub->sent++;
    hl_pub_bar(pub, 0);
  }
  free(line);
  return rc;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"tenant", 1, 0, 'T'}, {"type", 1, 0, 'Y'},   {"data", 1, 0, 'D'},  {"id", 1, 0, 'I'},
      {"file", 1, 0, 'f'},   {"quiet", 0, 0, 'q'},  {"strict", 0, 0, 'S'}, {"timeout", 1, 0, 't'},
      {"help", 0, 0, 'h'},   {"version", 0, 0, 'V'}, {0, 0, 0, 0}};
  const char *tenant = NULL, *type = NULL, *data = NULL, *id = NULL, *file = NULL, *cpath = NULL;
  char *overrides[HL_MAX_OVERRIDES], err[512];
  int nover = 0, opt, timeout_s = 60, rc = 2;
  hl_conf_t *conf = hl_conf_new();
  hookline_producer_t *p = NULL;
  hl_pub_t pub;
  FILE *fp = NULL;

  memset(&pub, 0, sizeof(pub));
  pthread_mutex_init(&pub.out_lock, NULL);
  while ((opt = getopt_long(argc, argv, "f:qc:o:h", opts, NULL)) != -1) {
    switch (opt) {
    case 'T': tenant = optarg; break;
    case 'Y': type = optarg; break;
    case 'D': data = optarg; break;
    case 'I': id = optarg; break;
    case 'f': file = optarg; break;
    case 'q': pub.quiet = 1; break;
    case 'S': pub.strict = 1; break;
    case 't': timeout_s = atoi(optarg); break;
    case 'c': cpath = optarg; break;
    case 'o':
      if (nover == HL_MAX_OVERRIDES)
        goto usage;
      overrides[nover++] = optarg;
      break;
    case 'h': usage(stdout); rc = 0; goto out;
    case 'V': printf("hookline-publish %s\n", hookline_version()); rc = 0; goto out;
    default: goto usage;
    }
  }
  if (optind < argc || ((tenant || type || data || id) && file) ||
      ((tenant || type || data) && !(tenant && type && data)))
    goto usage;
  hl_log_init("hookline-publish", NULL);
  if (hl_conf_load(conf, cpath, overrides, nover, err, sizeof(err)) != 0) {
    fprintf(stderr, "hookline-publish: %s\n", err);
    goto out;
  }
  hl_log_init(NULL, hl_conf_str(conf, "log.level"));
  p = hl_producer_new_conf(conf, err, sizeof(err));
  if (!p) {
    fprintf(stderr, "hookline-publish: %s\n", err);
    goto out;
  }
  if (hl_producer_topic_exists(p, 10000, err, sizeof(err)) != 1) {
    fprintf(stderr, "hookline-publish: %s\n", err);
    rc = 3;
    goto out;
  }
  pub.tty = isatty(STDERR_FILENO);
  pub.started_us = hl_mono_us();
  if (tenant) {
    if (hookline_publish(p, tenant, type, data, id, hl_pub_delivered, &pub, NULL, 0, err,
                         sizeof(err)) != HOOKLINE_OK)
      hl_pub_reject(&pub, 0, err);
    else
      pub.sent++;
  } else {
    fp = !file || strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (!fp) {
      fprintf(stderr, "hookline-publish: %s: cannot open\n", file);
      goto out;
    }
    hl_pub_stream(p, &pub, fp);
  }
  if (hookline_producer_flush(p, timeout_s * 1000) != HOOKLINE_OK)
    fprintf(stderr, "hookline-publish: %ld events not acknowledged after %d s\n",
            hookline_producer_outstanding(p), timeout_s);
  hl_pub_bar(&pub, 1);
  fprintf(stderr, "published %ld, rejected %ld, failed %ld in %.1f s\n",
          atomic_load(&pub.published), pub.rejected,
          pub.sent - atomic_load(&pub.published),
          (double)(hl_mono_us() - pub.started_us) / 1e6);
  rc = pub.rejected || atomic_load(&pub.published) != pub.sent ? 1 : 0;
  goto out;
usage:
  usage(stderr);
out:
  if (fp && fp != stdin)
    fclose(fp);
  hookline_producer_destroy(&p);
  hl_conf_destroy(&conf);
  return rc;
}
