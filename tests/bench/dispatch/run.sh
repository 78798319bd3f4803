#!/usr/bin/env bash
# tests/bench/dispatch/run.sh [BUILD_DIR] - the dispatcher benchmark report (`make bench`).
# Not a test: it loads the machine for ~10 minutes (BENCH_QUICK=1: ~2 minutes).  Needs the local
# stack (deploy/local/stack.sh up), wrk and gnuplot (plots are skipped without it).
#
# On one Kafka topic (6 partitions) and Redis db BENCH_REDIS_DB (default 13):
#   - the matrix: fan-out 1, 10 and 100 (endpoints of one tenant, all subscribed to "*") x
#     1 KiB and 64 KiB of event data x 1 and 2 dispatchers x hl:done markers on and off.  Each
#     cell is one bench-dispatch cell (see bench_dispatch.c): deliveries/s under saturation,
#     dispatcher CPU, then p50/p90/p99 latency (event timestamp -> receipt) at half that rate.
#   - the ceiling, just before each configuration's cells: wrk POSTing the same 1 KiB body to the
#     same receiver with the same connection count (endpoint.max_in_flight x dispatchers), and
#     the ratio dispatcher / ceiling.
#   - scale: 100 000 endpoints across 10 000 tenants (10 each); events spread over all 10 000
#     tenants vs over 10, one dispatcher: deliveries/s, latency and RSS with the cache warm.
# Writes tests/bench/results/<date>.json, <date>.md and <date>-*.png.  Every key it writes
# contains a random tag and is deleted at the end, and so are its topics and processes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
HERE=$ROOT/tests/bench/dispatch
BUILD=${1:-build}
case $BUILD in /*) BIN=$BUILD/bin ;; *) BIN=$ROOT/$BUILD/bin ;; esac
QUICK=${BENCH_QUICK:-0}
DB=${BENCH_REDIS_DB:-13}
OUT_DIR=${BENCH_OUT_DIR:-$ROOT/tests/bench/results}
PARTITIONS=6
EP_INFLIGHT=50 # endpoint.max_in_flight: the dispatcher's connections per endpoint
HOSTS=16       # endpoints spread over 127.0.0.1..127.0.0.16 (curl caps connections per host)

die() { echo "bench: $*" >&2; exit 2; }
say() { echo "bench: $*" >&2; }

for b in hookline-dispatcher bench-dispatch hl-test-topics; do
  [ -x "$BIN/$b" ] || die "$BIN/$b missing: build first (make build)"
done
for c in redis-cli kcat python3 wrk; do
  command -v "$c" >/dev/null || die "$c not found: run deploy/local/bootstrap.sh (make deps)"
done
eval "$(bash "$ROOT/deploy/local/stack.sh" env)"
KAFKA=$HOOKLINE_KAFKA_BOOTSTRAP_SERVERS
REDIS=(redis-cli -h "$HOOKLINE_REDIS_HOST" -p "$HOOKLINE_REDIS_PORT" -n "$DB")
[ "$("${REDIS[@]}" PING 2>/dev/null)" = PONG ] ||
  die "Redis does not answer on $HOOKLINE_REDIS_HOST:$HOOKLINE_REDIS_PORT db $DB: is the stack up? (bash deploy/local/stack.sh up)"
kcat -b "$KAFKA" -L -m 5 >/dev/null 2>&1 ||
  die "Kafka does not answer on $KAFKA: is the stack up? (bash deploy/local/stack.sh up)"

if [ "$QUICK" = 1 ]; then
  SAT=3 LAT=3 WARM=1 WRK_S=3
  MATRIX="1:on 2:on 1:off"
  CELLS="1:1024 10:1024 1:65536"
  SCALE_TENANTS=1000
else
  SAT=${BENCH_SECONDS:-6} LAT=${BENCH_LAT_SECONDS:-4} WARM=2 WRK_S=5
  MATRIX="1:on 2:on 1:off 2:off"
  CELLS="1:1024 10:1024 100:1024 1:65536 10:65536 100:65536"
  SCALE_TENANTS=10000
fi
SCALE_PER=10

TAG=$(head -c 5 /dev/urandom | od -An -tx1 | tr -d ' \n')
PREFIX=hlbench_$TAG
T=$(mktemp -d "/tmp/$PREFIX.XXXX")
PIDS=()
STARTED=$(date -u +%FT%TZ)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

stop_pid() { # stop_pid PID: SIGTERM, then SIGKILL after 30 s
  local p=$1 i
  kill -TERM "$p" 2>/dev/null || return 0
  for ((i = 0; i < 300; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
cleanup() {
  local rc=$? p topics
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && stop_pid "$p"; done
  topics=$(kcat -b "$KAFKA" -L 2>/dev/null | sed -n "s/^ *topic \"\($PREFIX\.[^\"]*\)\".*/\1/p" | sort -u)
  # shellcheck disable=SC2086 # one word per topic
  [ -z "$topics" ] || "$BIN/hl-test-topics" -d $topics >/dev/null 2>&1 || say "could not delete topics: $topics"
  "${REDIS[@]}" --scan --pattern "*$TAG*" | xargs -r -n 500 "${REDIS[@]}" UNLINK >/dev/null || true
  if [ "$rc" -ne 0 ]; then
    say "failed (exit $rc): logs kept in $T"
  else
    rm -rf "$T"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SECRET=whsec_$(head -c 32 /dev/urandom | base64)

# endpoints TENANT NTENANTS PER_TENANT FIRST_INDEX: write them with redis-cli --pipe
endpoints() {
  python3 "$HERE/endpoints.py" "$TAG" "$1" "$2" "$3" "$PORT" "$HOSTS" "$SECRET" "$4" |
    "${REDIS[@]}" --pipe >"$T/pipe.log" 2>&1 || { cat "$T/pipe.log" >&2; die "writing endpoints failed"; }
  grep -q 'errors: 0' "$T/pipe.log" || { cat "$T/pipe.log" >&2; die "writing endpoints failed"; }
}
# partitions_now LOG: the partitions the dispatcher of LOG holds now
partitions_now() {
  sed -n 's/.*\(assigned [0-9]* partition(s), \|revoked [0-9]* partition(s), \)\([0-9]*\) \(in total\|left\).*/\2/p' "$1" | tail -1
}
# dispatchers_start N MARKERS: N dispatchers in the run's group; DPIDS; waits for the assignment
dispatchers_start() {
  local n=$1 markers=$2 i total j held tiers want
  DPIDS=()
  for ((i = 0; i < n; i++)); do
    "$BIN/hookline-dispatcher" -o "topics.prefix=$PREFIX" -o "dispatcher.group_id=$PREFIX" \
      -o "topics.partitions=$PARTITIONS" -o "http.listen=off" -o "delivery.allow_cidrs=127.0.0.0/8" \
      -o "redis.db=$DB" -o "dispatcher.done_markers=$markers" -o "endpoint.max_in_flight=$EP_INFLIGHT" \
      -o "log.level=info" >"$T/d$i.log" 2>&1 &
    DPIDS+=($!)
    PIDS+=($!)
  done
  for ((j = 0; j < 600; j++)); do
    # every dispatcher holds events and retry-tier partitions: PARTITIONS x (1 + tiers) in all
    tiers=$(sed -n 's/.* and \([0-9]*\) retry tier(s).*/\1/p' "$T/d0.log" | head -1)
    want=$((PARTITIONS * (1 + ${tiers:-0})))
    total=0
    for ((i = 0; i < n; i++)); do
      kill -0 "${DPIDS[$i]}" 2>/dev/null || { cat "$T/d$i.log" >&2; die "dispatcher $i exited"; }
      held=$(partitions_now "$T/d$i.log")
      total=$((total + ${held:-0}))
    done
    [ -n "$tiers" ] && [ "$total" -eq "$want" ] && break
    sleep 0.1
  done
  [ "$total" -eq "$want" ] || { cat "$T"/d*.log >&2; die "dispatchers hold $total of $want partitions after 60 s"; }
  sleep 1 # let a cooperative rebalance settle
}
dispatchers_stop() {
  local p
  for p in "${DPIDS[@]}"; do stop_pid "$p"; done
}
# bench ARGS...: bench-dispatch against the dispatchers DPIDS; JSON lines to stdout
bench() {
  local a=() p
  for p in "${DPIDS[@]}"; do a+=(-d "$p"); done
  "$BIN/bench-dispatch" -l "$PORT" -a "$HOSTS" -P "$PREFIX" -s "$SAT" -L "$LAT" -w "$WARM" "${a[@]}" "$@" \
    2>>"$T/bench.log" || { tail -5 "$T/bench.log" >&2; die "bench-dispatch failed (see above)"; }
}

# ceiling N MARKERS: wrk against the receiver (bench-dispatch serving only) on the same port with
# the delivered body of a 1 KiB event and endpoint.max_in_flight x N connections; run just before
# the matrix cells of that configuration, the dispatchers idle, so both see the same machine.
ceiling() {
  local n=$1 markers=$2 conns=$(($1 * EP_INFLIGHT)) serve
  "$BIN/bench-dispatch" -l "$PORT" >>"$T/serve.json" 2>>"$T/bench.log" &
  serve=$!
  PIDS+=($serve)
  sleep 0.5
  kill -0 "$serve" 2>/dev/null || die "bench-dispatch could not serve on $PORT"
  wrk -t1 -c "$conns" -d "${WRK_S}s" --latency -s "$T/post.lua" "http://127.0.0.1:$PORT/wrk" >"$T/wrk.txt"
  stop_pid "$serve"
  python3 - "$T/wrk.txt" "$conns" "$n" "$markers" >>"$T/ceiling.jsonl" <<'PY'
import json, re, sys
t = open(sys.argv[1]).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
lat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", t, re.M))
print(json.dumps({"tool": "wrk", "threads": 1, "connections": int(sys.argv[2]),
                  "dispatchers": int(sys.argv[3]), "done_markers": sys.argv[4] == "true",
                  "body_bytes": 1024,
                  "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)),
                  "p50_ms": ms(lat["50"]), "p99_ms": ms(lat["99"])}))
PY
  tail -1 "$T/ceiling.jsonl" >&2
}
python3 - "$T/post.lua" <<'PY'
import random, string, sys, time
pad = "".join(random.choice(string.ascii_letters + string.digits) for _ in range(1024 - 10))
ts = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
body = '{"id":"bwrk_1","type":"bench.event","timestamp":"%s","data":{"pad":"%s"}}' % (ts, pad)
open(sys.argv[1], "w").write("""wrk.method = "POST"
wrk.body = '%s'
wrk.headers["content-type"] = "application/json"
wrk.headers["user-agent"] = "hookline/bench"
wrk.headers["webhook-id"] = "bwrk_1"
wrk.headers["webhook-timestamp"] = "1795000000"
wrk.headers["webhook-signature"] = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
""" % body)
PY

say "run $TAG: $(nproc) cores, load $LOAD0, quick=$QUICK, db $DB, receiver port $PORT"
# The matrix' tenants: TAGf<F> with F endpoints.
first=0
for c in $CELLS; do
  f=${c%%:*}
  "${REDIS[@]}" EXISTS "hl:tenant:${TAG}f$f:eps" | grep -q '^1' && continue
  endpoints "${TAG}f$f" 1 "$f" "$first"
  first=$((first + f))
done
: >"$T/cells.jsonl"
: >"$T/ceiling.jsonl"
for m in $MATRIX; do
  n=${m%%:*} markers=${m#*:}
  [ "$markers" = on ] && mb=true || mb=false
  say "matrix: $n dispatcher(s), done markers $markers"
  dispatchers_start "$n" "$mb"
  ceiling "$n" "$mb"
  args=()
  for c in $CELLS; do args+=(-c "${TAG}f${c%%:*}:${c%%:*}:${c#*:}"); done
  bench "${args[@]}" | sed "s/^{/{\"section\":\"matrix\",\"done_markers\":$mb,/" | tee -a "$T/cells.jsonl" >&2
  dispatchers_stop
done

# Scale: SCALE_TENANTS tenants x SCALE_PER endpoints, one dispatcher.
say "scale: writing $((SCALE_TENANTS * SCALE_PER)) endpoints across $SCALE_TENANTS tenants"
t0=$(date +%s.%N)
endpoints "${TAG}s" "$SCALE_TENANTS" "$SCALE_PER" 100000000
write_s=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
dispatchers_start 1 true
rss_idle=$(awk '/^VmRSS/ {print $2}' "/proc/${DPIDS[0]}/status")
# 10 tenants again last: the first cell after a dispatcher start pays its warm-up
bench -c "${TAG}s:$SCALE_PER:1024:10" -c "${TAG}s:$SCALE_PER:1024:$SCALE_TENANTS" -c "${TAG}s:$SCALE_PER:1024:10" |
  sed "s/^{/{\"section\":\"scale\",\"done_markers\":true,\"endpoints\":$((SCALE_TENANTS * SCALE_PER)),\"rss_idle_kb\":$rss_idle,\"write_s\":$write_s,/" |
  tee -a "$T/cells.jsonl" >&2
dispatchers_stop

mkdir -p "$OUT_DIR"
python3 "$HERE/report.py" "$T" "$OUT_DIR" "$STARTED" "$LOAD0" "$QUICK" \
  "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "sat=${SAT}s lat=${LAT}s warmup=${WARM}s wrk=${WRK_S}s partitions=$PARTITIONS endpoint.max_in_flight=$EP_INFLIGHT"
