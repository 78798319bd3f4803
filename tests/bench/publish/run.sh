#!/usr/bin/env bash
# tests/bench/publish/run.sh [BUILD_DIR]: events/s of 1 KiB events through libhookline with 1, 2
# and 4 threads, and through hookline-publish from a file. Needs the local stack (stack.sh up).
# Prints a table and writes tests/bench/results/publish-<date>.json. Not a test.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BIN=$ROOT/${1:-build}/bin
N=${N:-200000}
eval "$(bash "$ROOT/deploy/local/stack.sh" env)"
PREFIX=bench_$(date +%s)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$BIN/hl-test-topics" -p 6 "$PREFIX.events"
out=$ROOT/tests/bench/results/publish-$(date +%Y-%m-%d).json
: >"$T/results"
for threads in 1 2 4; do
  "$BIN/bench-publish" -p "$PREFIX" -t "$threads" -n "$N" -s 1024 | tee -a "$T/results"
done
python3 - "$T/events.ndjson" "$N" <<'PY'
import sys
data = '"' + "x" * 1022 + '"'
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write('{"tenant":"bench","type":"bench.event","data":%s}\n' % data)
PY
start=$(date +%s.%N)
"$BIN/hookline-publish" -q -o "topics.prefix=$PREFIX" -f "$T/events.ndjson" 2>"$T/cli.err"
end=$(date +%s.%N)
awk -v n="$N" -v s="$start" -v e="$end" 'BEGIN { printf "{\"tool\":\"hookline-publish\",\"threads\":1,\"events\":%d,\"data_bytes\":1024,\"seconds\":%.3f,\"events_per_s\":%.0f}\n", n, e - s, n / (e - s) }' | tee -a "$T/results"
{
  echo "{\"date\":\"$(date -u +%FT%TZ)\",\"machine\":\"$(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB\",\"runs\":["
  paste -sd, "$T/results"
  echo "]}"
} >"$out"
echo "wrote $out"
