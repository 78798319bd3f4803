#!/usr/bin/env bash
# tests/bench/http/run.sh [BUILD_DIR]: requests/s of the HTTP delivery engine alone against
# hl-test-receiver on loopback (1 KiB signed POSTs, N in flight), then wrk against the same
# receiver with the same body and headers as the ceiling, and the ratio.  ~20 s in all.  Writes
# tests/bench/results/http-<date>.json.  Needs wrk (apt-get install -y wrk).  Not a test: the
# machine is shared, run it by hand.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BIN=$ROOT/${1:-build}/bin
SECONDS_EACH=${SECONDS_EACH:-4}
INFLIGHT=${INFLIGHT:-"16 64"}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 2; }
T=$(mktemp -d)
"$BIN/hl-test-receiver" --port-file "$T/port" --rule '/bench=200' --max-seconds 120 >"$T/recv.log" 2>&1 &
RECV=$!
trap 'kill $RECV 2>/dev/null || true; rm -rf "$T"' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
PORT=$(cat "$T/port")
URL=http://127.0.0.1:$PORT/bench
cat >"$T/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = string.rep("x", 1024)
wrk.headers["content-type"] = "application/json"
wrk.headers["user-agent"] = "hookline/bench"
wrk.headers["webhook-id"] = "msg_2Qh9Rk4xYbz0benchmark"
wrk.headers["webhook-timestamp"] = "1795000000"
wrk.headers["webhook-signature"] = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
LUA
printf '%-10s %14s %14s %8s\n' in_flight engine_req_s wrk_req_s ratio
for n in $INFLIGHT; do
  eng=$("$BIN/bench-http" -u "$URL" -c "$n" -d "$SECONDS_EACH" -s 1024)
  eng_rps=$(echo "$eng" | sed -E 's/.*"requests_per_s":([0-9.]+).*/\1/')
  wrk_rps=$(wrk -t1 -c "$n" -d "${SECONDS_EACH}s" -s "$T/post.lua" "$URL" | awk '/Requests\/sec/ {print $2}')
  echo "$eng" >>"$T/engine.json"
  echo "{\"tool\":\"wrk\",\"threads\":1,\"in_flight\":$n,\"body_bytes\":1024,\"requests_per_s\":$wrk_rps}" >>"$T/engine.json"
  printf '%-10s %14.0f %14.0f %8.2f\n' "$n" "$eng_rps" "$wrk_rps" "$(echo "$eng_rps / $wrk_rps" | bc -l)"
done
out=$ROOT/tests/bench/results/http-$(date +%Y-%m-%d).json
{
  echo "{\"date\":\"$(date -u +%FT%TZ)\",\"machine\":\"$(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)\",\"runs\":["
  paste -sd, "$T/engine.json"
  echo "]}"
} >"$out"
cat "$T/engine.json"
echo "wrote $out"
