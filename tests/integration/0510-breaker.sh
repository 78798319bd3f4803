#!/usr/bin/env bash
# 0510-breaker: an endpoint answering 500 opens its breaker after breaker.failures=3 consecutive
# failures; while open its deliveries are not sent (attempts recorded as breaker_open, moved on
# to the next tier); after breaker.cooldown one probe goes out (it fails: open again), the next
# probe succeeds and closes it.  Another endpoint of the tenant is delivered throughout.
# /metrics shows the transitions and the short-circuited deliveries.  Then the failure rate
# (breaker.failure_rate=50 over at least 4 attempts) opens another endpoint's breaker although it
# never failed 3 times in a row.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

receiver_start r '/b=500,500,500,500,200' '/ok=200' '/fr=500,500,200,200,500'
U="http://127.0.0.1:$RPORT"
ep_create "ep_b$PREFIX" "$TENANT" "$U/b" '["t.b"]'
ep_create "ep_ok$PREFIX" "$TENANT" "$U/ok" '["t.ok"]'
ep_create "ep_fr$PREFIX" "$TENANT" "$U/fr" '["t.fr"]'
HL_EP_KEYS+=("hl:health:ep_b$PREFIX" "hl:health:ep_ok$PREFIX" "hl:health:ep_fr$PREFIX")
dispatcher_start d -o http.listen=127.0.0.1:0 -o breaker.failures=3 -o breaker.cooldown=4s \
  -o breaker.failure_rate=50 -o breaker.min_requests=4 \
  -o retry.schedule=1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s
MPORT=$(sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/d.log" | head -1)
metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

{ event evt_b1 "$TENANT" t.b; event evt_ok1 "$TENANT" t.ok; } | publish
opened() { [ "$("${REDIS[@]}" HGET "hl:health:ep_b$PREFIX" state)" = open ]; }
wait_until 30 opened || fail "breaker not open after 3 failures: $("${REDIS[@]}" HGETALL "hl:health:ep_b$PREFIX")"
[ "$(rec_count r /b)" -eq 3 ] || fail "want 3 requests before the breaker opened, have $(rec_count r /b)"
# while open: the other endpoint is delivered, this one is not called
for i in 2 3 4; do event "evt_ok$i" "$TENANT" t.ok; done | publish
event evt_b2 "$TENANT" t.b | publish
ok_all() { [ "$(rec_count r /ok 200)" -ge 4 ]; }
wait_until 20 ok_all || fail "other endpoint: $(rec_count r /ok 200) of 4 delivered while the breaker was open"
pass "opens after 3 failures; another endpoint is delivered meanwhile"

closed() { [ "$(rec_count r /b 200)" -ge 2 ]; }
wait_until 60 closed || fail "breaker never closed: $(rec_count r /b) requests, health $("${REDIS[@]}" HGETALL "hl:health:ep_b$PREFIX")"
sleep 1
consume "$PREFIX.attempts" >"$T/attempts"
python3 - "$T/r.ndjson" "$T/attempts" "$PREFIX" <<'PY' || fail "see above"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
atts = [json.loads(l) for l in open(sys.argv[2])]
P = sys.argv[3]
errs = []
def check(c, m):
    if not c: errs.append(m)
b = [r for r in recs if r["path"] == "/b"]
st = [r["status"] for r in b]
# 3 failures, a failed probe, a good probe (evt_b1 or evt_b2), then evt_b2 (or evt_b1) once more
check(st[:5] == [500, 500, 500, 500, 200] and len(b) in (5, 6) and all(s == 200 for s in st[5:]),
      "b statuses %s" % st)
t = [r["t"] for r in b]
check(len(t) >= 5 and t[3] - t[2] >= 3.9 and t[4] - t[3] >= 3.9,
      "no request while open: gaps %s" % [round(y - x, 2) for x, y in zip(t, t[1:])])
sc = [a for a in atts if a["endpoint_id"] == "ep_b" + P and a.get("error") == "breaker_open"]
check(len(sc) >= 2, "short-circuited attempts recorded: %d" % len(sc))
check(all(a["status"] == 0 for a in sc), "short-circuited attempts have no status")
ok = [r for r in recs if r["path"] == "/ok"]
check(sorted(r["headers"]["webhook-id"] for r in ok) == ["evt_ok%d" % i for i in (1, 2, 3, 4)],
      "other endpoint got %s" % [r["headers"]["webhook-id"] for r in ok])
delivered = sorted(r["headers"]["webhook-id"] for r in b if r["status"] == 200)
check(delivered == ["evt_b1", "evt_b2"], "b delivered %s" % delivered)
print("\n".join(errs) or "all good")
sys.exit(1 if errs else 0)
PY
pass "no request while open, one probe per cooldown, a good probe closes it"

[ "$("${REDIS[@]}" EXISTS "hl:health:ep_b$PREFIX")" = 0 ] || fail "health state not cleared after the success"
[ "$(metric 'hookline_breaker_transitions_total{to="open"}')" = 2 ] || fail "open transitions: $(metric 'hookline_breaker_transitions_total{to="open"}')"
[ "$(metric 'hookline_breaker_transitions_total{to="half_open"}')" = 2 ] || fail "half_open transitions"
[ "$(metric 'hookline_breaker_transitions_total{to="closed"}')" = 1 ] || fail "closed transitions"
sc=$(metric hookline_deliveries_short_circuited_total)
[ "${sc:-0}" -ge 2 ] || fail "short-circuited metric: ${sc:-none}"
pass "metrics: open 2, half_open 2, closed 1, short-circuited $sc"

# failure rate: 500,500,200,200 (in any completion order), then the retries fail: 50 % of >= 4
for i in 1 2 3 4; do event "evt_fr$i" "$TENANT" t.fr; done | publish
fr_open() { [ "$("${REDIS[@]}" HGET "hl:health:ep_fr$PREFIX" state)" = open ]; }
wait_until 30 fr_open || fail "failure rate did not open: $(rec_count r /fr) requests, $("${REDIS[@]}" HGETALL "hl:health:ep_fr$PREFIX")"
streak=$("${REDIS[@]}" HGET "hl:health:ep_fr$PREFIX" failures)
[ "$streak" -lt 3 ] || fail "opened by $streak consecutive failures, not by the rate"
n=$(rec_count r /fr)
sleep 2
[ "$(rec_count r /fr)" -eq "$n" ] || fail "requests while open by rate: $n then $(rec_count r /fr)"
pass "failure rate 50 % opened it after $n requests with a streak of only $streak"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
