#!/usr/bin/env bash
# 0514-breaker-shared: (1) two dispatchers share one endpoint's breaker through Redis: both keep
# getting events for it, both short-circuit them while it is open, and only one probe goes out
# per cooldown across the two; fixed, it closes once.  (2) With its Redis gone, a dispatcher's
# breaker still works from its local copy: it opens after breaker.failures, sends nothing during
# the cooldown, probes once per cooldown and closes on success (metrics count the transitions).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

# ---- 1: two dispatchers, shared Redis ----
receiver_start s '/p=500' '/p2=200'
U="http://127.0.0.1:$RPORT"
EP="ep_p$PREFIX"
ep_create "$EP" "$TENANT" "$U/p" '["t.p"]'
HL_EP_KEYS+=("hl:health:$EP")
SOPTS=(-o http.listen=127.0.0.1:0 -o breaker.failures=3 -o breaker.cooldown=2s
  -o retry.schedule=1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s)
dispatcher_start s1 "${SOPTS[@]}"
S1=$DPID
dispatcher_start s2 "${SOPTS[@]}"
S2=$DPID
mport() { sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/$1.log" | head -1; }
M1=$(mport s1)
M2=$(mport s2)
sleep 3 # let the group settle: events held up by a rebalance would arrive in one burst
# metric_of PORT NAME: one dispatcher's value (0 when absent)
metric_of() { curl -s "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }'; }
msum() { echo $(($(metric_of "$M1" "$1") + $(metric_of "$M2" "$1"))); }
for i in $(seq 1 40); do # a trickle of events, keys spread over the partitions of both
  printf 'k%s|{"id":"evt_p%s","tenant":"%s","type":"t.p","data":{}}\n' "$i" "$i" "$TENANT" |
    kcat -P -b "$KAFKA" -t "$PREFIX.events" -K '|'
  sleep 0.3
done
both() { [ "$(metric_of "$M1" hookline_deliveries_short_circuited_total)" -gt 0 ] &&
  [ "$(metric_of "$M2" hookline_deliveries_short_circuited_total)" -gt 0 ]; }
wait_until 20 both || fail "want both dispatchers short-circuiting: $(metric_of "$M1" hookline_deliveries_short_circuited_total) and $(metric_of "$M2" hookline_deliveries_short_circuited_total)"
python3 - "$T/s.ndjson" <<'PY' || fail "see above"
import json, sys
t = [json.loads(l)["t"] for l in open(sys.argv[1])]
gaps = [round(y - x, 2) for x, y in zip(t, t[1:])]
# before the breaker opens requests may overlap (3 failures open it, more may be in flight);
# from the first cooldown-long pause after 3 requests on, every request is a probe: never two
# within a cooldown (2 s)
j = next((i for i, g in enumerate(gaps) if i >= 2 and g >= 1.9), None)
probes = gaps[j:] if j is not None else []
print("requests %d, gaps %s" % (len(t), gaps))
ok = j is not None and len(probes) >= 3 and all(g >= 1.9 for g in probes)
sys.exit(0 if ok else 1)
PY
opens=$(msum 'hookline_breaker_transitions_total{to="open"}')
halfs=$(msum 'hookline_breaker_transitions_total{to="half_open"}')
[ "$opens" -eq $((halfs + 1)) ] || fail "open $opens, half_open $halfs: want one more open than half_open"
pass "two dispatchers: one probe per cooldown between them; $opens opens, $halfs probes"
"${REDIS[@]}" HSET "hl:ep:$EP" url "$U/p2" version 2 >/dev/null
"${REDIS[@]}" PUBLISH hl:changes "$TENANT $EP 2" >/dev/null
fixed() { [ "$(rec_count s /p2 200)" -ge 1 ] && [ "$("${REDIS[@]}" EXISTS "hl:health:$EP")" = 0 ]; }
wait_until 30 fixed || fail "not closed after the fix: $("${REDIS[@]}" HGETALL "hl:health:$EP")"
sleep 2
[ "$(msum 'hookline_breaker_transitions_total{to="closed"}')" -eq 1 ] || fail "closed transitions: $(msum 'hookline_breaker_transitions_total{to="closed"}')"
pass "fixed: closed once"
kill -TERM "$S1" "$S2"; rc=0; wait "$S1" || rc=$?; wait "$S2" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
for k in "${HL_EP_KEYS[@]}"; do "${REDIS[@]}" DEL "$k" >/dev/null; done
HL_EP_KEYS=()

# ---- 2: Redis down (a private redis-server, new topics) ----
PREFIX=${PREFIX}x
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
