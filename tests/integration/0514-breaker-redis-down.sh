#!/usr/bin/env bash
# 0514-breaker-redis-down: with its Redis gone, a dispatcher's breaker still works from its local
# copy: it opens after breaker.failures, sends nothing during the cooldown, probes once per
# cooldown and closes on success (metrics count the transitions).  Private redis-server.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

RP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$RP" --bind 127.0.0.1 --dir "$T" --appendonly no --save "" >"$T/redis.log" 2>&1 &
RPID=$!
HL_PIDS+=($RPID)
wait_until 10 redis-cli -p "$RP" PING >/dev/null 2>&1 || fail "private redis did not start"
REDIS=(redis-cli -h 127.0.0.1 -p "$RP")
receiver_start r '/lb=500,500,500,500,200' '/ok=200'
U="http://127.0.0.1:$RPORT"
ep_create "ep_lb$PREFIX" "$TENANT" "$U/lb" '["t.b"]'
ep_create "ep_ok$PREFIX" "$TENANT" "$U/ok" '["t.ok"]'
dispatcher_start d -o redis.port="$RP" -o redis.timeout=500ms -o dispatcher.done_markers=false \
  -o http.listen=127.0.0.1:0 -o breaker.failures=3 -o breaker.cooldown=3s \
  -o retry.schedule=1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s
MPORT=$(sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/d.log" | head -1)
metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

event evt_ok1 "$TENANT" t.ok | publish # caches the tenant while Redis is up
first() { [ "$(rec_count r /ok)" -eq 1 ]; }
wait_until 20 first || fail "no delivery with Redis up"
kill -9 "$RPID"; wait "$RPID" 2>/dev/null || true
event evt_b1 "$TENANT" t.b | publish
closed() { [ "$(rec_count r /lb 200)" -ge 1 ]; }
wait_until 60 closed || fail "never closed: $(rec_count r /lb) requests; $(grep -c breaker "$T/d.log") breaker log lines"
python3 - "$T/r.ndjson" <<'PY' || fail "see above"
import json, sys
b = [json.loads(l) for l in open(sys.argv[1])]
b = [r for r in b if r["path"] == "/lb"]
st = [r["status"] for r in b]
t = [r["t"] for r in b]
gaps = [round(y - x, 2) for x, y in zip(t, t[1:])]
ok = st == [500, 500, 500, 500, 200] and gaps[2] >= 2.9 and gaps[3] >= 2.9
print("statuses %s gaps %s" % (st, gaps))
sys.exit(0 if ok else 1)
PY
[ "$(metric 'hookline_breaker_transitions_total{to="open"}')" = 2 ] || fail "open transitions: $(metric 'hookline_breaker_transitions_total{to="open"}')"
[ "$(metric 'hookline_breaker_transitions_total{to="half_open"}')" = 2 ] || fail "half_open transitions"
[ "$(metric 'hookline_breaker_transitions_total{to="closed"}')" = 1 ] || fail "closed transitions"
pass "Redis down: the local breaker opened, probed once per cooldown and closed"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
