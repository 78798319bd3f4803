#!/usr/bin/env bash
# 0501-ratelimit-redis-down: with Redis gone, rate limits fall back to a local GCRA at
# rate / live dispatchers (group members from DescribeConsumerGroups), logged once: deliveries go
# on and two dispatchers together stay under the endpoint's rate.  Before that, SCRIPT FLUSH: the
# EVALSHA that meets NOSCRIPT reloads the script without falling back.  Private redis-server.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

N=200
RATE=20
RP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$RP" --bind 127.0.0.1 --dir "$T" --appendonly no --save "" >"$T/redis.log" 2>&1 &
RPID=$!
HL_PIDS+=($RPID)
wait_until 10 redis-cli -p "$RP" PING >/dev/null 2>&1 || fail "private redis did not start"
REDIS=(redis-cli -h 127.0.0.1 -p "$RP")
HOOKLINE_REDIS_PORT=$RP
receiver_start r
ep_admin EP "$TENANT" "http://127.0.0.1:$RPORT/rl" 'r.*' --rate $RATE --burst 4
DOPTS=(-o redis.port="$RP" -o redis.timeout=500ms -o dispatcher.done_markers=false)
dispatcher_start d1 "${DOPTS[@]}" -o http.listen=127.0.0.1:0
M1=$(sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/d1.log" | head -1)
dispatcher_start d2 "${DOPTS[@]}" -o http.listen=127.0.0.1:0
M2=$(sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/d2.log" | head -1)
members() { grep -q '"rate limits: 2 live dispatcher' "$T/d1.log" && grep -q '"rate limits: 2 live dispatcher' "$T/d2.log"; }
wait_until 30 members || fail "group members not learned: $(grep -h 'live dispatcher' "$T"/d*.log)"
# the script cache is emptied (as after a Redis restart): the dispatchers' EVALSHA gets NOSCRIPT
# and they load the script again, without falling back
"${REDIS[@]}" SCRIPT FLUSH >/dev/null
# warm-up with Redis up: enough events that some are deferred to a retry tier, so every owner
# of an events partition and the tier's owner cache the tenant (routing without Redis needs it)
for i in $(seq 1 60); do printf 'k%s|{"id":"warm_%s","tenant":"%s","type":"r.x","data":{}}\n' "$i" "$i" "$TENANT"; done |
  kcat -P -b "$KAFKA" -t "$PREFIX.events" -K '|'
warm() { [ "$(rec_count r /rl 200)" -ge 60 ]; }
wait_until 30 warm || fail "warm-up events not delivered: $(rec_count r /rl 200)/60"
grep -q NOSCRIPT "$T/d1.log" "$T/d2.log" || fail "the flushed script was never missed (NOSCRIPT path not exercised)"
! grep -q 'limiting locally' "$T/d1.log" "$T/d2.log" || fail "fell back while Redis was up (NOSCRIPT not handled)"
kill -9 "$RPID"; wait "$RPID" 2>/dev/null || true
sleep 1
t0=$(date +%s.%N)
publish_many $N r.x
all() { [ "$(python3 -c "import sys; print(sum(1 for l in open('$T/r.ndjson') if '\"evt_' in l and '\"status\":200' in l))")" -ge $N ]; }
wait_until $((N * 2 / RATE + 60)) all || fail "deliveries stopped without Redis: $(grep -c '"evt_' "$T/r.ndjson")/$N"
python3 - "$T/r.ndjson" "$RATE" <<'PY' || fail "local fallback did not hold the limit"
import json, math, sys, collections
rate = float(sys.argv[2])
t = sorted(json.loads(l)["t"] for l in open(sys.argv[1]) if l.endswith("\n") and '"evt_' in l)
w = collections.Counter(math.floor(x / 5) for x in t)
rates = [w[k] / 5 for k in sorted(w)[1:-1]]
print("without Redis, per-window rate:", rates, "overall %.1f/s" % ((len(t) - 1) / (t[-1] - t[0])))
# the two dispatchers together never exceed the rate (+10 %); at least one of them goes on
sys.exit(0 if rates and max(rates) <= rate * 1.1 and min(rates) >= rate / 2 * 0.8 else 1)
PY
read -r distinct dups missing < <(delivery_stats r $N)
[ "$missing" -eq 0 ] || fail "missing $missing"
for m in "$M1" "$M2"; do
  curl -s "http://127.0.0.1:$m/metrics" | has '^hookline_rate_limit_fallback 1' || fail "fallback gauge not 1 on :$m"
done
n=$(grep -h -c 'limiting locally at rate / 2 dispatcher' "$T/d1.log" "$T/d2.log" | paste -sd+ | bc)
[ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "fallback logged $n times (once per dispatcher expected)"
pass "Redis down: local limits at rate / 2 per dispatcher, all $N delivered, logged once"
