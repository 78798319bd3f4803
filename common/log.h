/*
 * log.h - JSON-lines logging on stderr.
 *
 * One object per line: {"ts":"2026-11-22T10:00:00.123Z","level":"info","prog":"...","msg":"..."}.
 * The macros test the level before formatting anything (Redis serverLog).  Never log secrets
 * or signatures.
 */
#ifndef HL_LOG_H
#define HL_LOG_H

typedef enum { HL_LOG_DEBUG = 0, HL_LOG_INFO, HL_LOG_WARN, HL_LOG_ERROR } hl_log_level_t;

extern int hl_log_level;

/* prog: program name in every line; level: "debug".."error" (NULL: keep). -1 on a bad level. */
int hl_log_init(const char *prog, const char *level);
void hl_log_write(hl_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define hl_log(lvl, ...)                                                                           \
  do {                                                                                             \
    if ((int)(lvl) >= hl_log_level)                                                                \
      hl_log_write((lvl), __VA_ARGS__);                                                            \
  } while (0)
#define hl_debug(...) hl_log(HL_LOG_DEBUG, __VA_ARGS__)
#define hl_info(...) hl_log(HL_LOG_INFO, __VA_ARGS__)
#define hl_warn(...) hl_log(HL_LOG_WARN, __VA_ARGS__)
#define hl_error(...) hl_log(HL_LOG_ERROR, __VA_ARGS__)

#endif
