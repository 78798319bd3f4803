/*
 * fuzz_envelope: the event envelope parser (hl_event_parse) on arbitrary bytes, and, when it
 * accepts, the serialiser, whose output must parse again to the same event.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hl_event_t ev, again;
  char err[512];
  char *out = NULL;
  size_t outlen = 0;

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
