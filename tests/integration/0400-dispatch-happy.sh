#!/usr/bin/env bash
# 0400-dispatch-happy: events of two tenants fan out to the endpoints whose filters match, once
# each, with Standard Webhooks headers whose signatures verify (one per valid secret during a
# rotation), custom headers, the admin test-button ping routing, and a disabled endpoint skipped.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

receiver_start r
U="http://127.0.0.1:$RPORT"
TB=${TENANT}b
# endpoints through hookline-admin, secrets encrypted at rest (the dispatcher decrypts them)
HOOKLINE_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
export HOOKLINE_SECRET_KEY
ep_admin EINV "$TENANT" "$U/inv" 'invoice.*'
ep_admin ECUST "$TENANT" "$U/cust" customer.created
ep_admin EALL "$TENANT" "$U/all" '*' --header 'X-Team: blue'
# rotation: a new current secret; $SECRET stays valid for the overlap -> two signatures
admin endpoint rotate-secret "$EALL" >/dev/null || fail "rotate-secret"
ep_admin EOFF "$TENANT" "$U/off" '*'
admin endpoint disable "$EOFF" --reason "paused by test" >/dev/null || fail "disable"
ep_admin EB "$TB" "$U/b" '*'

dispatcher_start d -o http.listen=127.0.0.1:0
MPORT=$(sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/d.log" | head -1)

types=(invoice.paid invoice.created customer.created order.shipped)
: >"$T/events"
for i in $(seq 1 40); do
  if [ "$i" -le 30 ]; then ten=$TENANT; else ten=$TB; fi
  event "evt_${i}_$PREFIX" "$ten" "${types[$((i % 4))]}" "{\"n\":$i,\"s\":\"caf\\u00e9 \\\"q\\\"\"}" >>"$T/events"
done
event "evt_ping1_$PREFIX" "$TENANT" hookline.ping "{\"endpoint_id\":\"$ECUST\"}" >>"$T/events"
event "evt_ping2_$PREFIX" "$TENANT" hookline.ping '{"hello":1}' >>"$T/events"
grep "\"tenant\":\"$TENANT\"" "$T/events" | publish "$TENANT"
grep "\"tenant\":\"$TB\"" "$T/events" | publish "$TB"

# inv 15 + cust 8+1 (the targeted ping) + all 31 + b 10 (the checker recomputes them)
all_in() { [ "$(rec_count r)" -ge 65 ]; }
wait_until 30 all_in || true
sleep 1
python3 - "$T/events" "$T/r.ndjson" "$PREFIX" "$TENANT" <<'PY' || fail "deliveries differ (see above)"
import json, sys, time
events = [json.loads(l) for l in open(sys.argv[1])]
recs = [json.loads(l) for l in open(sys.argv[2])]
P, A = sys.argv[3], sys.argv[4]
want = {"/inv": [], "/cust": [], "/all": [], "/b": [], "/off": []}
for e in events:
    if e["tenant"] != A:
        want["/b"].append(e["id"]); continue
    t = e["type"]
    if t == "hookline.ping" and "endpoint_id" in e["data"]:
        want["/cust"].append(e["id"]); continue
    want["/all"].append(e["id"])
    if t.startswith("invoice."): want["/inv"].append(e["id"])
    if t == "customer.created": want["/cust"].append(e["id"])
got = {k: [] for k in want}
bad = 0
for r in recs:
    h = r["headers"]
    got.setdefault(r["path"], []).append(h.get("webhook-id"))
    body = json.loads(r["body"])
    ok = (r.get("sig_ok") is True and h.get("content-type") == "application/json"
          and h.get("user-agent", "").startswith("hookline/") and body["id"] == h.get("webhook-id")
          and abs(int(h.get("webhook-timestamp", "0")) - time.time()) < 120
          and set(body) == {"id", "type", "timestamp", "data"})
    if r["path"] == "/all":
        ok = ok and h.get("x-team") == "blue" and len(h["webhook-signature"].split(" ")) == 2
    if not ok:
        bad += 1; print("bad request:", json.dumps(r)[:400])
rc = 0
for k in want:
    if sorted(got.get(k, [])) != sorted(want[k]):
        rc = 1
        print(k, "want", len(want[k]), "got", len(got.get(k, [])), "dups/missing:",
              sorted(set(want[k]) ^ set(got.get(k, [])))[:5])
print("paths:", {k: len(v) for k, v in got.items()}, "bad:", bad)
sys.exit(rc or (1 if bad else 0))
PY
pass "every endpoint got exactly its events, signatures verify"

# the disabled endpoint: no HTTP, a skipped attempt each
skipped() { [ "$(consume "$PREFIX.attempts" | grep -c "\"endpoint_id\":\"$EOFF\".*\"outcome\":\"skipped\"")" -eq 31 ]; }
wait_until 10 skipped || fail "disabled endpoint: want 31 skipped attempts"
pass "disabled endpoint skipped and recorded"
[ "$("${REDIS[@]}" LLEN "hl:recent:$EINV")" -ge 1 ] || fail "hl:recent not written"
curl -sf "http://127.0.0.1:$MPORT/metrics" | has '^hookline_deliveries_total{outcome="ok"} 65$' ||
  { curl -s "http://127.0.0.1:$MPORT/metrics" | grep deliveries_total; fail "metrics"; }
curl -sf "http://127.0.0.1:$MPORT/readyz" >/dev/null || fail "/readyz not ready"
[ "$(curl -s "http://127.0.0.1:$MPORT/healthz")" = ok ] || fail "/healthz"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/nope")" = 404 ] || fail "404"
before_all=$(rec_count r /all)
admin endpoint test "$ECUST" --wait 15s >"$T/test.out" || { cat "$T/test.out" "$T/admin.log"; fail "endpoint test"; }
sleep 0.5
[ "$(rec_count r /cust)" -eq 10 ] && [ "$(rec_count r /all)" -eq "$before_all" ] ||
  fail "the admin test ping reached $(rec_count r /cust) /cust and $(rec_count r /all) /all"
pass "hookline-admin endpoint test: delivered to that endpoint only"
kill -TERM "$DPID"
rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "dispatcher exit $rc"
pass "metrics, readyz, healthz, SIGTERM exit 0"
