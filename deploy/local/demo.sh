#!/usr/bin/env bash
# demo.sh - `make demo`: start the local stack, register an endpoint, run a dispatcher and show
# real deliveries to a local receiver; then stop what it started.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-build}
BIN=$ROOT/$BUILD/bin
STACK=$ROOT/deploy/local/stack.sh

say() { printf '\n== %s\n' "$*"; }
cleanup() {
  say "stopping the local stack (what this demo started)"
  bash "$STACK" down --fixture || true
}
trap cleanup EXIT

say "starting the local stack"
bash "$STACK" up --fixture
eval "$(bash "$STACK" env)"

if ! "$BIN/hookline-dispatcher" --help >/dev/null 2>&1; then
  say "hookline-dispatcher is not built yet: the stack came up; nothing to deliver"
  exit 0
fi
