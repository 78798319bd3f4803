/*
 * log.c - formats and writes JSON log lines (one write(2) per line, so lines
 * from several processes sharing stderr do not interleave).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int hl_log_level = HL_LOG_INFO;
static char hl_log_prog[64] = "hookline";
static const char *hl_log_names[] = {"debug", "info", "warn", "error"};

int hl_log_init(const char *prog, const char *level) {
  if (prog)
    snprintf(hl_log_prog, sizeof(hl_log_prog), "%s", prog);
  if (!level)
    return 0;
  for (int i = 0; i < 4; i++) {
    if (strcmp(level, hl_log_names[i]) == 0) {
      hl_log_level = i;
      return 0;
    }
  }
  return -1;
}

/* Append s to buf[*n..size) as JSON string contents. */
static void hl_log_escape(char *buf, size_t *n, size_t size, const char *s) {
  for (; *s && *n + 7 < size; s++) {
    unsigned char c = (unsigned char)*s;

    if (c == '"' || c == '\\') {
      buf[(*n)++] = '\\';
      buf[(*n)++] = (char)c;
    } else if (c < 0x20) {
      *n += (size_t)snprintf(buf + *n, size - *n, "\\u%04x", c);
    } else {
      buf[(*n)++] = (char)c;
    }
  }
}

void hl_log_write(hl_log_level_t level, const char *fmt, ...) {
  char msg[2048], line[4608], ts[40];
  struct timeval tv;
  struct tm tm;
  va_list ap;
  size_t n;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
  n = (size_t)snprintf(
      line, sizeof(line),
      "{\"ts\":\"%s.%03dZ\",\"level\":\"%s\",\"prog\":\"%s\",\"pid\":%d,\"msg\":\"", ts,
      (int)(tv.tv_usec / 1000), hl_log_names[level], hl_log_prog, (int)getpid());
  hl_log_escape(line, &n, sizeof(line) - 4, msg);
  memcpy(line + n, "\"}\n", 3);
  n += 3;
  if (write(STDERR_FILENO, line, n) < 0) {
    /* nowhere left to report it */
  }
}
