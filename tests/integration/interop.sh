# interop.sh - helpers for the interoperability tests (09xx, sourced after lib.sh and
# dispatcher.sh): the pinned npm packages of tests/interop/package.json, installed once with
# `npm ci` into the build tree (build/interop, next to build/bin) and reused; exit 77 (skipped)
# only when node or npm is missing or the registry cannot be reached.
INTEROP_SRC=${HOOKLINE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tests/interop
INTEROP_DIR=$(cd "$BIN/.." && pwd)/interop

# interop_npm: makes sure $INTEROP_DIR/node_modules holds the pinned packages; sets NODE_PATH
interop_npm() {
  local want
  command -v node >/dev/null || { echo "SKIPPED: node not found (deploy/local/bootstrap.sh installs nodejs)"; exit 77; }
  command -v npm >/dev/null || { echo "SKIPPED: npm not found (deploy/local/bootstrap.sh installs npm)"; exit 77; }
  mkdir -p "$INTEROP_DIR"
  want=$(cat "$INTEROP_SRC/package.json" "$INTEROP_SRC/package-lock.json" | cksum)
  (
    flock -w 300 9 || exit 1
    [ -f "$INTEROP_DIR/.complete" ] && [ "$(cat "$INTEROP_DIR/.complete")" = "$want" ] && exit 0
    rm -f "$INTEROP_DIR/.complete"
    cp "$INTEROP_SRC/package.json" "$INTEROP_SRC/package-lock.json" "$INTEROP_DIR/"
    npm ci --prefix "$INTEROP_DIR" --no-audit --no-fund --loglevel=error >"$INTEROP_DIR/npm.log" 2>&1 || exit 2
    echo "$want" >"$INTEROP_DIR/.complete"
  ) 9>"$INTEROP_DIR/.lock" || {
    tail -n 5 "$INTEROP_DIR/npm.log" 2>/dev/null
    echo "SKIPPED: npm ci of tests/interop/package.json failed (no access to the npm registry?)"
    exit 77
  }
  export NODE_PATH=$INTEROP_DIR/node_modules
}
