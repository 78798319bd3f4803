#!/usr/bin/env bash
# demo.sh - `make demo`: start the local stack, register an endpoint, run a dispatcher, publish
# events and show the signed deliveries a local receiver got; then stop what it started.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/${1:-build}/bin
STACK=$ROOT/deploy/local/stack.sh
RUN=$(mktemp -d /tmp/hookline-demo.XXXX)
PIDS=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  say "stopping the local stack (what this demo started)"
  bash "$STACK" down --fixture || true
  rm -rf "$RUN"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

say "starting the local stack (Kafka 127.0.0.1:19092, Redis 127.0.0.1:16379)"
bash "$STACK" up --fixture
eval "$(bash "$STACK" env)"
export HOOKLINE_TOPICS_PREFIX=demo_$(date +%s)
export HOOKLINE_DELIVERY_ALLOW_CIDRS=127.0.0.0/8 # the receiver is on loopback
TENANT=acme_$(date +%s)
PORT=$(free_port)
MPORT=$(free_port)

say "registering an endpoint for tenant $TENANT (invoice.* events)"
"$BIN/hookline-admin" -o json endpoint create --tenant "$TENANT" \
  --url "http://127.0.0.1:$PORT/webhooks" --types 'invoice.*' --description "demo receiver" \
  >"$RUN/ep.json" 2>"$RUN/admin.log"
EP=$(json id <"$RUN/ep.json")
SECRET=$(json secret <"$RUN/ep.json")
echo "endpoint $EP  ->  http://127.0.0.1:$PORT/webhooks  (secret whsec_…, shown once)"

say "starting a webhook receiver that verifies signatures, and a dispatcher"
"$BIN/hl-test-receiver" --listen "127.0.0.1:$PORT" --record "$RUN/received.ndjson" \
  --verify-secret "$SECRET" >/dev/null &
PIDS+=($!)
"$BIN/hookline-dispatcher" -o "http.listen=127.0.0.1:$MPORT" -o retry.schedule=2s,5s \
  2>"$RUN/dispatcher.log" &
DISPATCHER=$!
PIDS+=("$DISPATCHER")
for _ in $(seq 1 150); do
  curl -sf "http://127.0.0.1:$MPORT/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$MPORT/readyz" >/dev/null || { tail -20 "$RUN/dispatcher.log"; exit 1; }
echo "dispatcher ready (metrics on http://127.0.0.1:$MPORT/metrics)"

say "publishing 5 invoice events, 1 customer event (not subscribed) and 1 invalid line"
{
  for i in 1 2 3 4 5; do
    echo "{\"tenant\":\"$TENANT\",\"type\":\"invoice.paid\",\"data\":{\"invoice\":\"in_$i\",\"amount\":$((i * 1000))}}"
  done
  echo "{\"tenant\":\"$TENANT\",\"type\":\"customer.created\",\"data\":{\"customer\":\"cus_1\"}}"
  echo "{\"tenant\":\"$TENANT\",\"type\":\"invoice..bad\",\"data\":1}"
} | "$BIN/hookline-publish" || true

say "waiting for the deliveries"
for _ in $(seq 1 100); do
  n=$(cat "$RUN/received.ndjson" 2>/dev/null | grep -c . || true)
  [ "${n:-0}" -ge 5 ] && break
  sleep 0.2
done
python3 - "$RUN/received.ndjson" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows:
    h = r["headers"]
    print(f'{r["path"]}  webhook-id={h["webhook-id"]}  signature verified={r.get("sig_ok")}')
    print(f'    body={r["body"]}')
print(f"{len(rows)} deliveries received, {sum(1 for r in rows if r.get('sig_ok'))} with a valid signature")
PY

say "the endpoint's recent attempts (hookline-admin attempts list)"
"$BIN/hookline-admin" attempts list --endpoint "$EP" 2>/dev/null || true

say "a few dispatcher metrics"
curl -s "http://127.0.0.1:$MPORT/metrics" | grep -E '^hookline_(events_consumed|deliveries|events_invalid)' | head -12 || true

say "stopping the dispatcher (SIGTERM drains, then exit 0)"
kill -TERM "$DISPATCHER"
rc=0
wait "$DISPATCHER" || rc=$?
echo "hookline-dispatcher exited with $rc"
