#!/usr/bin/env bash
# 0102-install: `cmake --install` puts the programs, libhookline, its header and hookline.pc in
# place, and a C program builds against them with pkg-config alone.
. "$(dirname "$0")/lib.sh"
BUILD_DIR=$(cd "$BIN/.." && pwd)
cmake --install "$BUILD_DIR" --prefix "$T/inst" >/dev/null
for f in bin/hookline-dispatcher bin/hookline-admin bin/hookline-publish include/hookline/producer.h; do
  [ -e "$T/inst/$f" ] || fail "$f not installed"
done
libdir=$(dirname "$(find "$T/inst" -name hookline.pc | head -1)")/..
ls "$libdir"/libhookline.so* "$libdir"/libhookline.a >/dev/null || fail "library not installed"
cat >"$T/use.c" <<'C'
#include <hookline/producer.h>
#include <stdio.h>
int main(void) {
  char err[256];
  const char *over[] = {"topics.prefix=x"};
  hookline_producer_t *p = hookline_producer_new(NULL, over, 1, err, sizeof(err));
  if (!p) { fprintf(stderr, "%s\n", err); return 1; }
  int rc = hookline_publish(p, "bad tenant", "x", "1", NULL, NULL, NULL, NULL, 0, err, sizeof(err));
  printf("%s %d %s\n", hookline_version(), rc, err);
  hookline_producer_destroy(&p);
  return 0;
}
C
export PKG_CONFIG_PATH=$libdir/pkgconfig
# a sanitizer build of libhookline needs its runtime first in the program that loads it
san=()
ldd "$libdir"/libhookline.so | has libasan && san+=(-fsanitize=address)
ldd "$libdir"/libhookline.so | has libubsan && san+=(-fsanitize=undefined)
# shellcheck disable=SC2046
cc "${san[@]}" -o "$T/use" "$T/use.c" $(pkg-config --cflags --libs hookline) ||
  fail "does not build with pkg-config"
out=$(LD_LIBRARY_PATH=$libdir "$T/use")
case $out in
  "0.1.0 -1 tenant: must match"*) pass "installed library works: $out" ;;
  *) fail "unexpected output: $out" ;;
esac
# only the public API is exported from the shared library
if nm -D --defined-only "$libdir"/libhookline.so | awk '{print $3}' | grep -v '^hookline_' | has .; then
  fail "non-hookline_ symbols exported: $(nm -D --defined-only "$libdir"/libhookline.so | awk '{print $3}' | grep -v '^hookline_' | head -5)"
fi
pass "only hookline_* symbols exported"
