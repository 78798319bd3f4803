#!/usr/bin/env bash
# 0513-gone-reenable: a 410 disables the endpoint as before (that delivery is dropped and
# recorded) and publishes hookline.endpoint.disabled with reason "gone", delivered to a
# subscriber; later deliveries go to the DLQ (endpoint_disabled).  `hookline-admin endpoint
# enable` clears hl:health, so the next 410 disables it again with a second event.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

receiver_start r '/g=410' '/ops=200'
U="http://127.0.0.1:$RPORT"
ep_admin EP "$TENANT" "$U/g" t.g
ep_create "ep_ops$PREFIX" "$TENANT" "$U/ops" '["hookline.endpoint.disabled"]'
HL_EP_KEYS+=("hl:health:$EP" "hl:health:ep_ops$PREFIX")
dispatcher_start d

event evt_g1 "$TENANT" t.g | publish
count_type() { consume "$PREFIX.events" | grep -c "\"type\":\"$1\"" || true; }
one() { [ "$(count_type hookline.endpoint.disabled)" -ge 1 ]; }
wait_until 30 one || fail "no hookline.endpoint.disabled after a 410"
[ "$("${REDIS[@]}" HGET "hl:ep:$EP" status)" = disabled ] || fail "410 did not disable"
[ "$("${REDIS[@]}" HGET "hl:health:$EP" disabled_event)" != "" ] || fail "no disabled_event arbiter in hl:health"
event evt_g2 "$TENANT" t.g | publish
dlq1() { consume "$PREFIX.dlq" | has '"event_id":"evt_g2".*"reason":"endpoint_disabled"\|"reason":"endpoint_disabled".*"event_id":"evt_g2"'; }
wait_until 20 dlq1 || fail "evt_g2 not in the DLQ: $(consume "$PREFIX.dlq")"
consume "$PREFIX.dlq" | has '"evt_g1"' && fail "the 410 delivery went to the DLQ (DESIGN §7: dropped)"
[ "$(rec_count r /g)" -eq 1 ] || fail "the disabled endpoint was called"
pass "410: disabled, one event (reason gone), the 410 delivery dropped, later ones to the DLQ"

admin endpoint enable "$EP" >/dev/null || fail "enable failed: $(tail -2 "$T/admin.log")"
[ "$("${REDIS[@]}" EXISTS "hl:health:$EP")" = 0 ] || fail "enable did not clear hl:health"
enabled_seen() {
  event "evt_g3_$((++N))" "$TENANT" t.g | publish
  sleep 1
  [ "$(rec_count r /g)" -ge 2 ]
}
N=0
wait_until 30 enabled_seen || fail "re-enabled endpoint not called again"
two() { [ "$(count_type hookline.endpoint.disabled)" -ge 2 ] && [ "$(rec_count r /ops 200)" -ge 2 ]; }
wait_until 30 two || fail "want 2 disabled events delivered, have $(count_type hookline.endpoint.disabled) on the topic, $(rec_count r /ops 200) delivered"
sleep 1
consume "$PREFIX.events" >"$T/events"
python3 - "$T/events" "$T/r.ndjson" "$EP" "$U" <<'PY' || fail "see above"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
recs = [json.loads(l) for l in open(sys.argv[2])]
EP, U = sys.argv[3:5]
errs = []
ops = [e for e in evs if e.get("type") == "hookline.endpoint.disabled"]
if len(ops) != 2: errs.append("want 2 disabled events, have %d" % len(ops))
for e in ops:
    d = e["data"]
    if not (d["endpoint_id"] == EP and d["url"] == U + "/g" and d["reason"] == "gone"
            and d["message"] == "endpoint answered 410 Gone" and "disabled_at" in d):
        errs.append("data %s" % d)
got = sorted(r["headers"]["webhook-id"] for r in recs if r["path"] == "/ops")
if got != sorted(e["id"] for e in ops): errs.append("subscriber got %s" % got)
print("\n".join(errs) or "all good")
sys.exit(1 if errs else 0)
PY
pass "enable clears the health state; the next 410 disables again with a second event"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
