#!/usr/bin/env bash
# tests/bench/publish/run.sh [BUILD_DIR]: events/s of 1 KiB events (a realistic JSON object;
# about 1.1 KiB as an envelope) through
#   - plain librdkafka with libhookline's producer settings, 1 thread (the ceiling),
#   - libhookline with 1, 2 and 4 publishing threads,
#   - hookline-publish from an NDJSON file of 3 N events (the whole process, start-up and broker
#     checks included, hence the longer file),
#   - validation + serialisation alone (no Kafka), 1 thread.
# Every configuration runs RUNS times (default 3) with N events (default 30000); the median is
# reported. Each run ends when the broker acknowledged the last event. Needs the local stack
# (deploy/local/stack.sh up); the topic it creates is deleted at the end. About 15 s on 2 cores.
# Prints a table and writes tests/bench/results/publish-<date>.json. Not a test.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BIN=$ROOT/${1:-build}/bin
N=${N:-30000}
RUNS=${RUNS:-3}
eval "$(bash "$ROOT/deploy/local/stack.sh" env)"
for b in bench-publish hookline-publish hl-test-topics; do
  [ -x "$BIN/$b" ] || { echo "run.sh: $BIN/$b missing: build first (cmake --build build)" >&2; exit 2; }
done
PREFIX=hlbench_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
T=$(mktemp -d)
cleanup() { "$BIN/hl-test-topics" -d "$PREFIX.events" || true; rm -rf "$T"; }
trap cleanup EXIT
"$BIN/hl-test-topics" -p 6 "$PREFIX.events"
N_CLI=$((N * 3))
"$BIN/bench-publish" -g "$N_CLI" >"$T/events.ndjson"

# median VALUES...: the middle one (the lower middle for an even count)
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# lib_run ARGS...: one bench-publish run, print events/s; cli_run: the same for hookline-publish
lib_run() { "$BIN/bench-publish" -p "$PREFIX" -n "$N" "$@" | tee -a "$T/raw.jsonl" |
  sed 's/.*"events_per_s":\([0-9]*\).*/\1/'; }
cli_run() {
  local start end
  start=$(date +%s%N)
  "$BIN/hookline-publish" -q -o "topics.prefix=$PREFIX" -f "$T/events.ndjson" 2>>"$T/cli.err"
  end=$(date +%s%N)
  awk -v n="$N_CLI" -v ns=$((end - start)) 'BEGIN { printf "%.0f\n", n / (ns / 1e9) }'
}

: >"$T/rows"
row() { # row TOOL THREADS EVENTS RATES...
  local tool=$1 threads=$2 events=$3 med
  shift 3
  med=$(median "$@")
  printf '%-34s %7s %12s   (%s)\n' "$tool" "$threads" "$med" "$*"
  printf '{"tool":"%s","threads":%s,"events":%s,"events_per_s_median":%s,"runs":[%s]}\n' \
    "$tool" "$threads" "$events" "$med" "$(echo "$*" | tr ' ' ',')" >>"$T/rows"
}
printf '%-34s %7s %12s   %s\n' "what" "threads" "events/s" "(each run)"
for cfg in "librdkafka (no validation):raw:1" "libhookline:lib:1" "libhookline:lib:2" \
           "libhookline:lib:4"; do
  IFS=: read -r tool mode threads <<<"$cfg"
  rates=()
  for ((r = 0; r < RUNS; r++)); do rates+=("$(lib_run -m "$mode" -t "$threads")"); done
  row "$tool" "$threads" "$N" "${rates[@]}"
done
rates=()
for ((r = 0; r < RUNS; r++)); do rates+=("$(cli_run)"); done
row "hookline-publish -f (1 KiB lines)" 1 "$N_CLI" "${rates[@]}"
rates=()
for ((r = 0; r < RUNS; r++)); do rates+=("$("$BIN/bench-publish" -m validate -n $((N * 4)) |
  sed 's/.*"events_per_s":\([0-9]*\).*/\1/')"); done
row "validate+serialise only (CPU)" 1 $((N * 4)) "${rates[@]}"
grep -q "published $N_CLI, rejected 0, failed 0" "$T/cli.err" || { cat "$T/cli.err" >&2; exit 1; }

out=$ROOT/tests/bench/results/publish-$(date +%Y-%m-%d).json
mkdir -p "$(dirname "$out")"
{
  printf '{"date":"%s","commit":"%s","machine":"%s cores (%s), load %s","event":"%s",\n"results":[\n' \
    "$(date -u +%FT%TZ)" "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "1 KiB JSON data, $(sed -n 's/.*"envelope_bytes":\([0-9]*\).*/\1/p' "$T/raw.jsonl" | head -1) byte envelope, broker on the same machine"
  paste -sd, "$T/rows" | sed 's/},{/},\n{/g'
  printf ']}\n'
} >"$out"
echo "wrote $out"
