#!/usr/bin/env bash
# 0511-auto-disable: an endpoint without a success for endpoint.disable_after (3 s here) since
# its first failure is disabled through the store's status script (version bumped, reason set);
# hookline.endpoint.disabled is published once to <prefix>.events as a valid envelope; later
# deliveries to it are not sent but recorded as skipped and kept in the DLQ with reason
# endpoint_disabled (for a replay after re-enabling).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

receiver_start r '/dead=500'
U="http://127.0.0.1:$RPORT"
EP="ep_dead$PREFIX"
ep_create "$EP" "$TENANT" "$U/dead" '["t.d"]'
HL_EP_KEYS+=("hl:health:$EP")
dispatcher_start d -o http.listen=127.0.0.1:0 -o endpoint.disable_after=3s \
  -o retry.schedule=1s,1s,1s,1s,1s,1s,1s,1s,1s,1s
MPORT=$(sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/d.log" | head -1)
metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

event evt_d1 "$TENANT" t.d | publish
disabled() { [ "$("${REDIS[@]}" HGET "hl:ep:$EP" status)" = disabled ]; }
wait_until 40 disabled || fail "endpoint not disabled: $("${REDIS[@]}" HGETALL "hl:health:$EP")"
reason=$("${REDIS[@]}" HGET "hl:ep:$EP" disabled_reason)
case "$reason" in "no successful delivery for 3 s"*) ;; *) fail "disabled_reason: $reason" ;; esac
[ "$("${REDIS[@]}" HGET "hl:ep:$EP" version)" = 2 ] || fail "version not bumped once"
n=$(rec_count r /dead)
[ "$n" -ge 4 ] || fail "disabled after $n requests: want at least 4 (1 s apart over 3 s)"
pass "disabled after $n failures over 3 s: $reason"

has_event() { consume "$PREFIX.events" | has '"hookline.endpoint.disabled"'; }
wait_until 20 has_event || fail "no hookline.endpoint.disabled on $PREFIX.events"
for i in 2 3; do event "evt_d$i" "$TENANT" t.d; done | publish
dlq3() { [ "$(consume "$PREFIX.dlq" | grep -c '"endpoint_disabled"')" -ge 3 ]; }
wait_until 30 dlq3 || fail "want 3 DLQ records with endpoint_disabled, have: $(consume "$PREFIX.dlq")"
sleep 1
consume "$PREFIX.events" >"$T/events"
consume "$PREFIX.dlq" >"$T/dlq"
consume "$PREFIX.attempts" >"$T/attempts"
python3 - "$T/events" "$T/dlq" "$T/attempts" "$EP" "$TENANT" "$U/dead" <<'PY' || fail "see above"
import json, re, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
dlq = [json.loads(l) for l in open(sys.argv[2])]
atts = [json.loads(l) for l in open(sys.argv[3])]
EP, TENANT, URL = sys.argv[4:7]
errs = []
def check(c, m):
    if not c: errs.append(m)
ops = [e for e in evs if e.get("type") == "hookline.endpoint.disabled"]
check(len(ops) == 1, "want 1 disabled event, have %d" % len(ops))
if ops:
    e = ops[0]
    check(set(e) == {"id", "tenant", "type", "timestamp", "data"}, "envelope keys %s" % sorted(e))
    check(re.fullmatch(r"evt_[A-Za-z0-9]{22}", e["id"]) is not None, "id %s" % e["id"])
    check(e["tenant"] == TENANT, "tenant %s" % e["tenant"])
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", e["timestamp"]) is not None, "timestamp %s" % e["timestamp"])
    d = e["data"]
    check(d.get("endpoint_id") == EP and d.get("url") == URL and d.get("reason") == "failing", "data %s" % d)
    check(d.get("consecutive_failures", 0) >= 4 and "first_failure_at" in d and "disabled_at" in d
          and d.get("message", "").startswith("no successful delivery"), "data %s" % d)
mine = [x for x in dlq if x.get("endpoint_id") == EP]
check(sorted(x["event_id"] for x in mine) == ["evt_d1", "evt_d2", "evt_d3"], "DLQ %s" % [x["event_id"] for x in mine])
check(all(x["reason"] == "endpoint_disabled" for x in mine), "DLQ reasons %s" % [x["reason"] for x in mine])
for x in mine:
    check(json.loads(x["body"])["id"] == x["event_id"], "DLQ body of %s" % x["event_id"])
sk = [a for a in atts if a["endpoint_id"] == EP and a["outcome"] == "skipped"]
check(sorted(a["event_id"] for a in sk) == ["evt_d1", "evt_d2", "evt_d3"], "skipped attempts %s" % [a["event_id"] for a in sk])
check(all(a["error"].startswith("endpoint_disabled") for a in sk), "skipped errors %s" % [a["error"] for a in sk])
print("\n".join(errs) or "all good")
sys.exit(1 if errs else 0)
PY
[ "$(rec_count r /dead)" -eq "$n" ] || fail "a disabled endpoint was called"
[ "$(metric 'hookline_deliveries_skipped_total{reason="endpoint_disabled"}')" = 3 ] ||
  fail "skipped metric: $(metric 'hookline_deliveries_skipped_total{reason="endpoint_disabled"}')"
pass "one hookline.endpoint.disabled envelope; later deliveries skipped, recorded and in the DLQ"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
