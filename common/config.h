/*
 * config.h - one configuration format for every hookline program.
 *
 * `hookline.conf` holds `key = value` lines and `#` comments; every key can
 * also come from the environment (HOOKLINE_ + upper-case key, '.' -> '_') and
 * from `-o key=value`; later wins (file, then environment, then -o).  The keys
 * live in one declarative table (config.c) that validates values and prints
 * docs/configuration.md.  `kafka.*` keys pass through to librdkafka verbatim.
 */
#ifndef HL_CONFIG_H
#define HL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct hl_conf hl_conf_t;

typedef enum {
  HL_CONF_STR,
  HL_CONF_INT,
  HL_CONF_BOOL,
  HL_CONF_DURATION, /* "250ms", "5s", "5m", "2h", "5d"; stored as milliseconds */
  HL_CONF_SIZE,     /* "512", "64KiB", "1MiB", "2k"; stored as bytes */
} hl_conf_type_t;

#define HL_CONF_F_SECRET 0x1 /* never printed, masked in `config show` */

typedef struct hl_conf_prop {
  const char *name;
  hl_conf_type_t type;
  const char *def;  /* default as text ("" = unset) */
  int64_t min, max; /* for INT/DURATION/SIZE; min == max == 0: unbounded */
  int flags;
  const char *doc;
} hl_conf_prop_t;

hl_conf_t *hl_conf_new(void);
void hl_conf_destroy(hl_conf_t **conf);

/* Set one key (table key or kafka.*).  0 ok; -1 with a message naming the key. */
int hl_conf_set(hl_conf_t *conf, const char *key, const char *value, char *errstr, size_t errsize);
/* Replace a key's default (programs differ, e.g. http.listen) before loading. */
int hl_conf_set_default(hl_conf_t *conf, const char *key, const char *value);
int hl_conf_load_file(hl_conf_t *conf, const char *path, char *errstr, size_t errsize);
/* The same from an open stream; name prefixes error messages ("name:line: ..."). */
int hl_conf_load_stream(hl_conf_t *conf, FILE *fp, const char *name, char *errstr, size_t errsize);
int hl_conf_load_env(hl_conf_t *conf, char *errstr, size_t errsize);
/* `key=value` as given to -o. */
int hl_conf_set_kv(hl_conf_t *conf, const char *kv, char *errstr, size_t errsize);
/* The usual order: file (path, or $HOOKLINE_CONFIG, or none), env, then -o overrides. */
int hl_conf_load(hl_conf_t *conf, const char *path, char *const *overrides, int noverrides,
                 char *errstr, size_t errsize);

/* Getters: the key must be in the table (abort otherwise: a programming error). */
const char *hl_conf_str(const hl_conf_t *conf, const char *key);
int64_t hl_conf_int(const hl_conf_t *conf, const char *key); /* INT, DURATION (ms), SIZE */
bool hl_conf_bool(const hl_conf_t *conf, const char *key);

/* kafka.* passthrough entries, in the order set (key without the "kafka." prefix). */
size_t hl_conf_kafka_count(const hl_conf_t *conf);
void hl_conf_kafka_get(const hl_conf_t *conf, size_t i, const char **key, const char **value);

/* Parsers shared with other modules. 0 ok, -1 bad. */
int hl_parse_duration_ms(const char *s, int64_t *ms);
int hl_parse_size(const char *s, int64_t *bytes);

const hl_conf_prop_t *hl_conf_props(size_t *n);
void hl_conf_write_markdown(FILE *out);
/* Effective configuration as `key = value` lines, secrets masked. */
void hl_conf_dump(const hl_conf_t *conf, FILE *out);

#endif
