#!/usr/bin/env bash
# run.sh - the chaos suite outside ctest (`make chaos`): the long form by default.
#
#   tests/chaos/run.sh [BUILD_DIR] [NNNN ...]     e.g. tests/chaos/run.sh build 0950 0953
#
# Sets the environment ctest gives the scenarios, brings the local stack up as a fixture user
# (deploy/local/stack.sh up --fixture: it starts only what is not running, and `down --fixture`
# stops only what it started), runs the scenarios one after the other (all, or those whose
# number is given), keeps each one's output in BUILD_DIR/chaos/NNNN-name.log and prints a
# summary. CHAOS_MODE=short runs the short form; CHAOS_EVENTS, CHAOS_RATE and the other
# CHAOS_* knobs of docs/chaos.md override the sizes. Exit 1 if any scenario failed.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-build}
[ $# -gt 0 ] && shift
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
[ -x "$BUILD/bin/hookline-dispatcher" ] && [ -x "$BUILD/bin/hl-test-receiver" ] ||
  { echo "run.sh: no programs in $BUILD/bin: build first (make build)" >&2; exit 2; }
export CHAOS_MODE=${CHAOS_MODE:-long}
export HOOKLINE_BIN_DIR=$BUILD/bin HOOKLINE_SOURCE_DIR=$ROOT HOOKLINE_CONFIG=
export HOOKLINE_TEST_TIMEOUT_SCALE=${HOOKLINE_TEST_TIMEOUT_SCALE:-1}
export HOOKLINE_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:${HOOKLINE_KAFKA_PORT:-19092}
export HOOKLINE_REDIS_HOST=127.0.0.1 HOOKLINE_REDIS_PORT=${HOOKLINE_REDIS_PORT:-16379}
LOGS=$BUILD/chaos
mkdir -p "$LOGS"

bash "$ROOT/deploy/local/stack.sh" up --fixture || exit 1
trap 'bash "$ROOT/deploy/local/stack.sh" down --fixture' EXIT

scenarios=()
for s in "$ROOT"/tests/chaos/[0-9][0-9][0-9][0-9]-*.sh; do
  n=$(basename "$s")
  if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -qx "${n%%-*}"; then scenarios+=("$s"); fi
done
[ ${#scenarios[@]} -gt 0 ] || { echo "run.sh: no scenario matches $*" >&2; exit 2; }

summary=() failed=0
for s in "${scenarios[@]}"; do
  name=$(basename "$s" .sh)
  echo "=== $name ($CHAOS_MODE) $(date -u +%FT%TZ)"
  t0=$SECONDS
  bash "$s" 2>&1 | tee "$LOGS/$name.log"
  rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || failed=1
  line=$(grep -h '^published=' "$LOGS/$name.log" | tr '\n' ' ')
  summary+=("$(printf '%-24s %-4s %4ss  %s' "$name" "$([ "$rc" -eq 0 ] && echo ok || echo FAIL)" $((SECONDS - t0)) "$line")")
done
echo "=== chaos summary ($CHAOS_MODE; logs in $LOGS)"
printf '%s\n' "${summary[@]}"
exit $failed
