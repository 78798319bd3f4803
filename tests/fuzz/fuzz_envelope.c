/*
 * fuzz_envelope: the event envelope parser (hl_event_parse) on arbitrary bytes, and, when it
 * accepts, the serialiser, whose output must parse again to the same event. The same bytes as
 * the Kafka-header form too (hl_event_from_parts): line 1 tenant, line 2 type, rest data.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

static void hl_fz_parts(const uint8_t *data, size_t size) {
  char *copy = malloc(size + 1), *type, *rest;
  hl_event_t ev;
  char err[512];

  if (!copy)
    abort();
  memcpy(copy, data, size);
  copy[size] = '\0';
  memset(&ev, 0, sizeof(ev));
  type = strchr(copy, '\n');
  rest = type ? strchr(type + 1, '\n') : NULL;
  if (rest) {
    *type++ = '\0';
    *rest++ = '\0';
    if (hl_event_from_parts(copy, type, NULL, rest, size - (size_t)(rest - copy), 4096,
                            1700000000000, &ev, err, sizeof(err)) == 0 &&
        (strcmp(ev.tenant, copy) != 0 || strcmp(ev.type, type) != 0 || !ev.body))
      abort();
  }
  hl_event_clear(&ev);
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hl_event_t ev, again;
  char err[512];
  char *out = NULL;
  size_t outlen = 0;

  hl_fz_parts(data, size);
  memset(&ev, 0, sizeof(ev));
  memset(&again, 0, sizeof(again));
  if (hl_event_parse((const char *)data, size, 4096, 1700000000000, &ev, err, sizeof(err)) == 0 &&
      hl_event_envelope(&ev, &out, &outlen) == 0) {
    if (hl_event_parse(out, outlen, 1 << 20, 0, &again, err, sizeof(err)) != 0 ||
        strcmp(ev.id, again.id) != 0 || strcmp(ev.tenant, again.tenant) != 0 ||
        strcmp(ev.type, again.type) != 0 || ev.ts_ms != again.ts_ms)
      abort(); /* what we publish must read back as the same event */
  }
  free(out);
  hl_event_clear(&ev);
  hl_event_clear(&again);
  return 0;
}
