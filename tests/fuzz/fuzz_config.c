/*
 * fuzz_config: the configuration file parser (hl_conf_load_stream: key = value lines, durations,
 * sizes, booleans, kafka.* pass-through) on arbitrary bytes, then every key read back and the
 * masked dump written, as the programs do after loading.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hl_conf_t *conf = hl_conf_new();
  char err[1024];
  size_t n = 0;
  const hl_conf_prop_t *props = hl_conf_props(&n);
  FILE *fp = size ? fmemopen((void *)data, size, "r") : NULL;
  static FILE *sink; /* opened once: the dump's output is not looked at */

  if (!sink)
    sink = fopen("/dev/null", "w");
  if (!conf || !sink)
    abort();
  if (fp) {
    hl_conf_load_stream(conf, fp, "fuzz.conf", err, sizeof(err));
    fclose(fp);
  }
  for (size_t i = 0; i < n; i++) {
    const char *v = hl_conf_str(conf, props[i].name);

    if (!v)
      abort();
    if (props[i].type != HL_CONF_STR && props[i].type != HL_CONF_BOOL) {
      int64_t x = hl_conf_int(conf, props[i].name);

      if ((props[i].min || props[i].max) && (x < props[i].min || x > props[i].max))
        abort(); /* a loaded value outside its documented range */
    }
    if (props[i].type == HL_CONF_BOOL)
      (void)hl_conf_bool(conf, props[i].name);
  }
  for (size_t i = 0; i < hl_conf_kafka_count(conf); i++) {
    const char *k, *v;

    hl_conf_kafka_get(conf, i, &k, &v);
    if (!k || !v)
      abort();
  }
  hl_conf_dump(conf, sink);
  hl_conf_destroy(&conf);
  return 0;
}
