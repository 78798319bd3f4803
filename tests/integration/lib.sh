# lib.sh - helpers for shell integration tests (sourced). Programs in $HOOKLINE_BIN_DIR, the
# stack from the ctest fixture, a random topic prefix per test in $PREFIX, scratch dir in $T.
set -euo pipefail
BIN=${HOOKLINE_BIN_DIR:-build/bin}
SCALE=${HOOKLINE_TEST_TIMEOUT_SCALE:-1}
export HOOKLINE_KAFKA_BOOTSTRAP_SERVERS=${HOOKLINE_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:19092}
export HOOKLINE_REDIS_HOST=${HOOKLINE_REDIS_HOST:-127.0.0.1}
export HOOKLINE_REDIS_PORT=${HOOKLINE_REDIS_PORT:-16379}
PREFIX=hltest_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
T=$(mktemp -d "/tmp/$PREFIX.XXXX")
export PREFIX T BIN
HL_PIDS=()
hl_cleanup() {
  local rc=$? p
  for p in "${HL_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    echo "test failed: its logs and records are kept in $T" >&2
  else
    rm -rf "$T"
  fi
}
trap hl_cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
# seconds scaled by HOOKLINE_TEST_TIMEOUT_SCALE
scaled() { awk -v s="$1" -v k="$SCALE" 'BEGIN { printf "%d", s * (k > 0 ? k : 1) }'; }
# wait_until SECONDS CMD...: poll CMD every 0.2 s
wait_until() {
  local secs i
  secs=$(scaled "$1"); shift
  for ((i = 0; i < secs * 5; i++)); do
    if "$@"; then return 0; fi
    sleep 0.2
  done
  return 1
}
# has GREP-ARGS: grep quietly, but read the whole input. "cmd | grep -q" under pipefail fails
# now and then: grep exits at the first match and cmd dies of SIGPIPE on its next write.
has() { grep "$@" >/dev/null; }
# consume TOPIC: every record's value, one per line, from the beginning to the current end
consume() { kcat -b "$HOOKLINE_KAFKA_BOOTSTRAP_SERVERS" -C -t "$1" -o beginning -e -q -f '%s\n' 2>/dev/null; }
